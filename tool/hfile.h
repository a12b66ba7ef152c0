/* SPDX-License-Identifier: MIT */
/*
 * A handler under test with the handler file as fd 3 (lib/fusefd.c): a
 * file with the kernel fault fd's read/write/poll, served from the live
 * session's queue.  The handler reads the queue itself, through the file;
 * every read and write it makes is printed, recorded and checked by the
 * live session on the way.  See iopftool-replay(8), THE HANDLER FD.
 */
#ifndef IOPFTOOL_HFILE_H
#define IOPFTOOL_HFILE_H

#include <sys/types.h>

#include "live.h"

struct hfile {
	struct iopf_handler_file *hf;
	struct live *live;
	int fd;			/* our copy of the file until the handler has it */
	pid_t pid;		/* the shell running the command, until reaped */
	pid_t pgid;		/* its process group: the handler and its children */
	int status;		/* wait status once reaped */
	bool gone;		/* every descriptor of the file closed: the handler is gone */
	bool terminated;	/* we sent SIGTERM */
};

/* Create the file over l's queue: 0, or -errno and what is missing in err. */
int hfile_open(struct hfile *h, struct live *l, char *err, size_t errlen);
/* Run cmd through /bin/sh -c with the file as fd 3 and IOPF_FAULT_FD=3. */
int hfile_start(struct hfile *h, const char *cmd);
/* Poll for POLLIN, then serve. */
int hfile_fd(const struct hfile *h);
/* Answer the handler's waiting reads, writes and polls: 0 or -errno. */
int hfile_serve(struct hfile *h);
/* The handler has polled, read or written the file (or is gone). */
bool hfile_ready(const struct hfile *h);
/* How long replay waits after --settle for that before the first injection. */
#define HFILE_READY_NS 2000000000ull
/* A group was injected: wake the handler's poll. */
void hfile_notify(struct hfile *h);
/*
 * The kernel's fd has no end of stream: SIGTERM the handler's process
 * group, serve the file while it finishes, SIGKILL the group after
 * grace_ns.
 */
void hfile_stop(struct hfile *h, uint64_t grace_ns);
void hfile_free(struct hfile *h);

#endif
