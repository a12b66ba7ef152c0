/* SPDX-License-Identifier: MIT */
/*
 * libiopf private: the replay's handler transports (iopftool-replay(8)
 * "THE HANDLER FD"), one file each, behind one ops table, as the live
 * queues' back-ends are (lib/target-*.c):
 *  - lib/replay-socket.c: the socket; we read the queue and forward each
 *    group to the handler (lib/peer.c), and take its answers;
 *  - lib/replay-fuse.c: on sim, the handler file (lib/fusefd.c): the
 *    handler's read(2), write(2) and poll(2) reach the queue model
 *    through us, and we note what they returned;
 *  - lib/replay-kfd.c: on mock, the queue's own fd: the kernel answers
 *    the handler, and the tap (lib/tap.c) shows us its reads and writes.
 * The scheduler, the injector and the window stay in lib/replay.c.
 */
#ifndef IOPF_REPLAY_HFD_H
#define IOPF_REPLAY_HFD_H

#include "internal.h"

/* What a transport sees of the replay that runs it. */
struct iopf_hfd_host {
	struct iopf_target *t;		/* the live queue */
	struct iopf_session *sess;	/* what the handler read and wrote is noted here */
	const struct iopf_log *log;
	int epfd;			/* the replay's epoll: add fds with .data.fd = the fd */
	int *err;			/* the replay's first runtime error: set it when 0 */
	int *said;			/* set to an error that was logged where it happened */
	void (*refresh)(void *ctx);	/* the session's counts may have changed */
	void *ctx;
};

struct iopf_hfd;

/* A transport; NULL members do nothing. */
struct iopf_hfd_ops {
	const char *name;		/* iopf_replay_handler_fd_name() */
	int wait_ms;			/* the event loop's longest sleep: -1 until an event */
	/* an event on fd: false when fd is not this transport's */
	bool (*event)(struct iopf_hfd *h, int fd, uint32_t events);
	/* after each pass of the event loop; idle: it found no event */
	void (*pass)(struct iopf_hfd *h, bool idle);
	/* a group we read from the queue, for the handler */
	int (*deliver)(struct iopf_hfd *h, const struct iopf_group *g);
	/* groups wait for the handler's side (a full socket) */
	bool (*busy)(const struct iopf_hfd *h);
	/* while busy, leave the queue unwatched (on) or watch it again */
	void (*hold)(struct iopf_hfd *h, bool on);
	/* the handler has gone (end of stream, its file closed) */
	bool (*gone)(const struct iopf_hfd *h);
	/* a capture group is about to be injected (capture: its file, for messages) */
	void (*group)(struct iopf_hfd *h, const struct iopf_group *g, const char *capture);
	/* a live group was injected (its last record) */
	void (*injected)(struct iopf_hfd *h);
	/* the window: can the transport see everything with unread records unread? */
	bool (*sees)(const struct iopf_hfd *h, uint64_t unread, uint64_t max_group);
	/* the end: tell the handler (its end of stream); NULL: the caller must end it */
	void (*shutdown)(struct iopf_hfd *h);
	/* after the end: what is left to see, counts logged; an error */
	int (*finish)(struct iopf_hfd *h);
	void (*free)(struct iopf_hfd *h);
};

struct iopf_hfd {
	const struct iopf_hfd_ops *ops;
	struct iopf_hfd_host host;
};

/* Note a runtime error (the first one counts) and refresh the host's counts. */
static inline void iopf_hfd_error(struct iopf_hfd *h, int rc)
{
	if (rc && !*h->host.err)
		*h->host.err = rc;
}

/* The same for an error already logged (the error contract, lib/iopf.h). */
static inline void iopf_hfd_error_said(struct iopf_hfd *h, int rc)
{
	iopf_hfd_error(h, rc);
	if (rc && h->host.said)
		*h->host.said = rc;
}

static inline void iopf_hfd_refresh(struct iopf_hfd *h)
{
	if (h->host.refresh)
		h->host.refresh(h->host.ctx);
}

int iopf_hfd_epoll_add(const struct iopf_hfd_host *host, int fd, uint32_t events);

/*
 * The constructors: 0 with *h set, or a negative errno with nothing left
 * behind (why says what is missing, when there is a reason to give).
 */
/* lib/replay-socket.c: our end of the handler's socket (ours from here on, even on failure) */
int iopf_hfd_socket_new(struct iopf_hfd **h, const struct iopf_hfd_host *host, int sock);
/* a new socket pair: *fd is the handler's end */
int iopf_hfd_socket_open(struct iopf_hfd **h, const struct iopf_hfd_host *host, int *fd);
/* lib/replay-fuse.c: sim: the handler file, *fd its open file */
int iopf_hfd_fuse_open(struct iopf_hfd **h, const struct iopf_hfd_host *host, int *fd,
		       char *why, size_t whylen);
/* lib/replay-kfd.c: mock: a dup of the queue's fd in *fd, and the tap */
int iopf_hfd_kfd_open(struct iopf_hfd **h, const struct iopf_hfd_host *host, int *fd,
		      char *why, size_t whylen);
/* the same over a tap already open with cfg.events (tests: NULL, events given by iopf_hfd_kfd_event()) */
int iopf_hfd_kfd_new(struct iopf_hfd **h, const struct iopf_hfd_host *host, struct iopf_tap *tap);
/* one event the tap saw (lib/tap.c); then iopf_hfd_kfd_flush() when no more come for now */
void iopf_hfd_kfd_event(struct iopf_hfd *h, const struct iopf_tap_event *ev);
void iopf_hfd_kfd_flush(struct iopf_hfd *h);

#endif
