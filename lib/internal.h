/* SPDX-License-Identifier: MIT */
/* libiopf private declarations: not installed, not for the tool. */
#ifndef IOPF_INTERNAL_H
#define IOPF_INTERNAL_H

#include <string.h>

#include "iopf.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A live queue back-end (lib/target-*.c). */
struct iopf_target_ops {
	int (*device)(struct iopf_target *t, uint32_t capture_dev_id, uint32_t *live_dev_id);
	int (*inject)(struct iopf_target *t, const struct iommu_hwpt_pgfault *f);
	ssize_t (*read)(struct iopf_target *t, void *buf, size_t count);
	ssize_t (*write)(struct iopf_target *t, const void *buf, size_t count);
	int (*detach)(struct iopf_target *t, uint32_t live_dev_id);
	void (*close)(struct iopf_target *t);
};

struct iopf_target {
	const struct iopf_target_ops *ops;
	char name[128];		/* as given: "sim", "mock", "fd:3", ... */
	uint32_t queue_id;	/* fault object id, 0 if unknown */
	int fd;			/* pollable for POLLIN */
	size_t max_group;	/* 0: cannot inject; 1: single-record groups only */
	enum iopf_kernel_model model;	/* whose semantics the queue has */
	struct iopf_log log;
	void *priv;
	bool said;		/* the op that failed logged its error (iopf_target_err()) */
};

/* A back-end op's error: log it to the target's log (once) and return rc. */
int iopf_target_err(struct iopf_target *t, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Write a message to err and return rc: the back-ends' error path. */
int iopf_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* ioctl(2) as 0 or a negative errno. */
int iopf_ioctl(int fd, unsigned long req, void *arg);

/* read(2)/write(2) on t->fd as a count or a negative errno: the kernel fd back-ends' ops. */
ssize_t iopf_target_fd_read(struct iopf_target *t, void *buf, size_t count);
ssize_t iopf_target_fd_write(struct iopf_target *t, const void *buf, size_t count);

/* The queue model (sim), not a kernel queue. */
bool iopf_target_is_sim(const struct iopf_target *t);

/* A record's time stamp in nanoseconds. */
/* Do two fault records carry the same PASID, or both none? */
static inline bool iopf_same_pasid(const struct iommu_hwpt_pgfault *a, const struct iommu_hwpt_pgfault *b)
{
	bool pa = a->flags & IOMMU_PGFAULT_FLAGS_PASID_VALID, pb = b->flags & IOMMU_PGFAULT_FLAGS_PASID_VALID;

	return pa == pb && (!pa || a->pasid == b->pasid);
}

static inline uint64_t iopf_rec_ns(const struct iopf_rec *r)
{
	return (uint64_t)r->ts.tv_sec * 1000000000ull + (uint64_t)r->ts.tv_nsec;
}

/*
 * The kernel's verdict on the responses of one write(2) of a fault fd
 * (iommufd_fault_fops_write(), doc/kernel-notes.md §3): it takes them in
 * order and stops at the first it refuses, returning the bytes accepted,
 * or the errno when it accepted none.  So the first @accepted were
 * accepted; if the write fell short, the next one was refused
 * (@refused_errno: the errno returned, or inside a partial write EINVAL,
 * the only refusal of a readable response, @partial) and the rest never
 * looked at.  A handler that resubmits the rest sends the refused one
 * again first: that response is judged once, at the partial write;
 * @retry says this refusal repeats it (the memo, one per fd, remembers).
 * lib/tap.c (kernel fd) and lib/replay-fuse.c (sim's handler file) judge
 * by it, so the verdict does not depend on the fd.
 */
struct iopf_write_memo {
	bool pending;
	struct iommu_hwpt_page_response refused;
};
struct iopf_write_verdict {
	uint64_t accepted;
	uint32_t refused_errno;	/* 0: none refused */
	bool partial, retry;
};
void iopf_write_judge(struct iopf_write_memo *m, const void *resps, uint64_t given, uint64_t have,
		      int64_t ret, struct iopf_write_verdict *v);

/* A SOCK_SEQPACKET pair for a handler process, its end able to send a large write (lib/peer.c). */
int iopf_peer_socketpair(int *ours, int *theirs);

/* Back-end constructors: fill t (name and log are already set). */
int iopf_target_open_sim(struct iopf_target *t, const char *arg, char *err, size_t errlen);
int iopf_target_open_mock(struct iopf_target *t, const char *arg, char *err, size_t errlen);
int iopf_target_open_fd(struct iopf_target *t, const char *arg, char *err, size_t errlen);
int iopf_target_open_pid(struct iopf_target *t, const char *arg, char *err, size_t errlen);
int iopf_target_open_device(struct iopf_target *t, const char *arg, char *err, size_t errlen);

/*
 * The contents of fd from where it is, NUL-terminated, at most max bytes
 * (malloc'd; *lenp its length, if given).  *trunc, if given: more was
 * there.  NULL with errno set (a non-blocking fd with nothing to read:
 * EIO).  The file readers of the tap (/proc, tracefs) and of doctor.
 */
char *iopf_read_fd(int fd, size_t max, size_t *lenp, bool *trunc);

/* ------------------------------------------------------------------ */
/* Formatting helpers shared by lib/out.c, lib/fmt.c, lib/print.c, lib/util.c */
/* ------------------------------------------------------------------ */

/* Decimal digits of v written backwards ending at end; returns the first. */
static const char iopf_dec_pairs[201] =
	"00010203040506070809101112131415161718192021222324"
	"25262728293031323334353637383940414243444546474849"
	"50515253545556575859606162636465666768697071727374"
	"75767778798081828384858687888990919293949596979899";

static inline char *iopf_u64_dec(char *end, uint64_t v)
{
	const char *pairs = iopf_dec_pairs;

	while (v >= 100) {
		unsigned int i = (unsigned int)(v % 100) * 2;

		v /= 100;
		*--end = pairs[i + 1];
		*--end = pairs[i];
	}
	if (v >= 10) {
		*--end = pairs[v * 2 + 1];
		*--end = pairs[v * 2];
	} else {
		*--end = (char)('0' + v);
	}
	return end;
}

/* Exactly n decimal digits of v (v < 10^n), zero-padded, at p. */
static inline void iopf_dec_fixed(char *p, uint64_t v, unsigned int n)
{
	while (n >= 2) {
		n -= 2;
		memcpy(p + n, iopf_dec_pairs + 2 * (v % 100), 2);
		v /= 100;
	}
	if (n)
		p[0] = (char)('0' + v % 10);
}

/*
 * The UTF-8 character at s (n > 0 bytes left): its length and code
 * point, or 0 when the bytes there are not valid UTF-8 (overlong,
 * surrogate, past U+10FFFF, cut short).
 */
size_t iopf_utf8_char(const unsigned char *s, size_t n, uint32_t *cp);

/*
 * Code points that must not reach a terminal raw: C0 controls and DEL,
 * the C1 controls U+0080..U+009F (U+009B is CSI) and the bidirectional
 * overrides and isolates U+202A..U+202E, U+2066..U+2069.
 */
static inline bool iopf_cp_unsafe(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/*
 * Text mode: n bytes libiopf made itself (bit letters and names), known
 * to be free of terminal controls, printed as they are; JSON: nothing.
 */
void iopf_out_text_bytes(struct iopf_out *o, const char *s, size_t n);
/* The same for n <= 32 bytes at s, which has 32 bytes (copied whole, a fixed-size move). */
void iopf_out_text32(struct iopf_out *o, const char s[32], size_t n);

/* RFC 3339 time stamps, the date and clock part cached per second. */
#define IOPF_TIME_LEN 48
struct iopf_time_cache {
	int64_t sec;
	bool valid;
	char head[24];		/* "2026-11-24T02:21:00." */
};
/* Format ts into out (NUL-terminated); returns the length. */
size_t iopf_time_fmt(struct iopf_time_cache *c, const struct timespec *ts, char out[IOPF_TIME_LEN]);

/* The record type table (lib/record.c): NULL for an unknown type. */
struct iopf_rec_type_info {
	uint8_t type;
	const char *name;
	size_t min_payload;	/* shorter payloads are IOPF_BAD_PAYLOAD */
	void (*decode)(struct iopf_rec *r);	/* payload -> r->u, after the length check */
	void (*print)(struct iopf_out *o, const struct iopf_rec *r);	/* text and JSON */
};
const struct iopf_rec_type_info *iopf_rec_type_info(unsigned int type);

/* The per-type printers of lib/print.c, for the table. */
void iopf_print_fault(struct iopf_out *o, const struct iopf_rec *r);
void iopf_print_response(struct iopf_out *o, const struct iopf_rec *r);
void iopf_print_lost(struct iopf_out *o, const struct iopf_rec *r);
void iopf_print_meta(struct iopf_out *o, const struct iopf_rec *r);
void iopf_print_delivery(struct iopf_out *o, const struct iopf_rec *r);
void iopf_print_auto_response(struct iopf_out *o, const struct iopf_rec *r);
void iopf_print_reported(struct iopf_out *o, const struct iopf_rec *r);

/* pidfd_open(2) and pidfd_getfd(2) (Linux 5.3, 5.6) by number: the C library may predate them. */
#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_pidfd_getfd
#define __NR_pidfd_getfd 438
#endif

/* The file the grouper's warnings name (the caller's string, kept): replay learns it late. */
void iopf_grouper_set_name(struct iopf_grouper *gr, const char *name);

/*
 * path escaped for a message (iopf_str_escape()), its middle elided with
 * "..." when it does not fit in len: a long name never pushes the
 * reason out of a fixed-size message.
 */
void iopf_path_shown(const char *path, char *buf, size_t len);
/* EINVAL for 22...; NULL when the C library has no name for it. */
const char *iopf_errno_name(uint32_t err);

/* ------------------------------------------------------------------ */
/* Moved from lib/iopf.h: used only inside libiopf and by its tests    */
/* ------------------------------------------------------------------ */
/* Little-endian field access on a bounds-checked cursor. */
struct iopf_cur {
	const uint8_t *p, *end;
};
bool iopf_get_le16(struct iopf_cur *c, uint16_t *v);
bool iopf_get_le32(struct iopf_cur *c, uint32_t *v);
bool iopf_get_le64(struct iopf_cur *c, uint64_t *v);
void iopf_put_le32(uint8_t *p, uint32_t v);
void iopf_put_le64(uint8_t *p, uint64_t v);

/* Decode/encode one struct iommu_hwpt_pgfault (40 LE bytes) and response (8). */
bool iopf_fault_decode(const uint8_t *p, size_t len, struct iommu_hwpt_pgfault *f);
void iopf_fault_encode(const struct iommu_hwpt_pgfault *f, uint8_t out[40]);
bool iopf_resp_decode(const uint8_t *p, size_t len, struct iommu_hwpt_page_response *r);
void iopf_resp_encode(const struct iommu_hwpt_page_response *r, uint8_t out[8]);

/* For tests: a tap without tracefs, fed trace_pipe text by iopf_tap_feed(). */
int iopf_tap_open_offline(struct iopf_tap **t, const struct iopf_tap_cfg *cfg);
void iopf_tap_feed(struct iopf_tap *t, const char *text);
/* For tests: one BPF ring buffer event (lib/bpf/tap-bpf.h: struct tb_ev + data). */
void iopf_tap_feed_bpf(struct iopf_tap *t, const void *ev, size_t len);

/*
 * From a BTF blob (/sys/kernel/btf/vmlinux; lib/btf.c): the byte offset
 * of member in struct type, or the value of an enumerator.  0, -ENOENT
 * when absent, -EBADMSG when the blob is malformed, -EFBIG past 256 MiB,
 * or -errno reading it.
 */
int iopf_btf_member_offset(const char *path, const char *type, const char *member, uint32_t *bytes);
int iopf_btf_enum_value(const char *path, const char *name, int64_t *value);

/* The command name of pid in /proc ("?" when it cannot be read; lib/procfd.c). */
void iopf_proc_comm(int pid, char *comm, size_t len);
/* iopf_proc_scan() with proc as the /proc root (for tests: a fake tree). */
int iopf_proc_scan_at(const char *proc, struct iopf_proc_fd **list, size_t *n, int only_pid);

/* ------------------------------------------------------------------ */
/* Handler file: a real file with the kernel fault fd's semantics       */
/* ------------------------------------------------------------------ */
/*
 * A file (a one-file FUSE mount over /dev/fuse, served by this process)
 * whose read(2), write(2) and poll(2) are those of the kernel's fault fd,
 * answered from a queue: give it to a handler under test as its fd 3.
 * Needs /dev/fuse and CAP_SYS_ADMIN (root); otherwise open fails with a
 * message in err saying what is missing.  How it differs from the
 * kernel's fd: iopftool-replay(8), THE HANDLER FD.
 */
struct iopf_handler_file;

/* What the file serves: the kernel's read(), write() and poll() (lib/queue.c). */
struct iopf_handler_ops {
	ssize_t (*read)(void *ctx, void *buf, size_t count);	/* bytes or -errno */
	ssize_t (*write)(void *ctx, const void *buf, size_t count);
	short (*poll)(void *ctx);	/* POLLOUT, | POLLIN|POLLRDNORM while groups wait */
};

struct iopf_handler_file_stats {
	uint64_t opens, reads, writes, polls, notifies, read_bytes, write_bytes;
	unsigned open_files;	/* open file descriptions now (the caller's and the handler's) */
};

/*
 * Create the file and open it O_RDWR | O_CLOEXEC into *fd (the caller
 * dup2()s it to 3 in the child, and closes its own copy).  The file is
 * served from q (iopf_queue_read/_write/_poll), or from ops/ctx.
 */
int iopf_handler_file_open(struct iopf_handler_file **hf, struct iopf_queue *q,
			   const struct iopf_log *log, int *fd, char *err, size_t errlen);
int iopf_handler_file_open_ops(struct iopf_handler_file **hf, const struct iopf_handler_ops *ops,
			       void *ctx, const struct iopf_log *log, int *fd,
			       char *err, size_t errlen);
/* Poll this fd for POLLIN, then serve: every operation on the file waits for it. */
int iopf_handler_file_fd(const struct iopf_handler_file *hf);
/*
 * Answer the requests waiting, without blocking, at most 64 a call (a
 * handler that never stops asking must not hold the caller: the fd stays
 * readable for the rest): the number answered, or -ENOTCONN once every
 * descriptor of the file is closed (the handler exited), or another -errno.
 */
int iopf_handler_file_serve(struct iopf_handler_file *hf);
/* A group was delivered: wake the file's pollers (wake_up_interruptible() in the kernel). */
int iopf_handler_file_notify(struct iopf_handler_file *hf);
/* Or serve from a thread; lock/unlock then guard the queue (inject) against it. */
int iopf_handler_file_start(struct iopf_handler_file *hf);
void iopf_handler_file_stop(struct iopf_handler_file *hf);
void iopf_handler_file_lock(struct iopf_handler_file *hf);
void iopf_handler_file_unlock(struct iopf_handler_file *hf);
/* Reads and writes up to this many bytes reach the queue whole (1044480 on x86-64). */
size_t iopf_handler_file_max_io(const struct iopf_handler_file *hf);
bool iopf_handler_file_gone(const struct iopf_handler_file *hf);
void iopf_handler_file_stats(const struct iopf_handler_file *hf, struct iopf_handler_file_stats *st);
/* Stop serving: a handler still holding the file then gets ENOTCONN. */
void iopf_handler_file_close(struct iopf_handler_file *hf);

/* ------------------------------------------------------------------ */
/* The handler-fd peer: iopftool-replay(8) "THE HANDLER FD" (lib/peer.c) */
/* ------------------------------------------------------------------ */
struct iopf_peer;

struct iopf_peer_counts {
	uint64_t sent;		/* groups sent */
	uint64_t queued_max;	/* most bytes waiting for the socket at once */
};

/**
 * iopf_peer_new() - our end of a handler's SOCK_SEQPACKET socket
 * @p: set to the peer
 * @sock: the socket (made non-blocking; the peer owns it from here on and
 *	closes it in iopf_peer_free(), unless this fails)
 * @log: warnings about what the handler writes (NULL: none)
 *
 * Return: 0 or a negative errno.
 */
int iopf_peer_new(struct iopf_peer **p, int sock, const struct iopf_log *log);
void iopf_peer_free(struct iopf_peer *p);
int iopf_peer_fd(const struct iopf_peer *p);	/* poll it: POLLIN responses, POLLOUT room */

/**
 * iopf_peer_send() - send one group as one message
 * @p: the peer
 * @recs: its records, LAST_PAGE last
 * @n: how many
 *
 * Never blocks: while the socket is full the group is queued, in order,
 * for iopf_peer_flush().  A group larger than the socket can carry (even
 * after growing its send buffer) is not sent, with a warning; after the
 * handler went away groups are dropped.
 *
 * Return: 0 or -ENOMEM.
 */
int iopf_peer_send(struct iopf_peer *p, const struct iommu_hwpt_pgfault *recs, size_t n);
/* Send queued groups: 1 while some are still queued, 0 when none are. */
int iopf_peer_flush(struct iopf_peer *p);
bool iopf_peer_pending(const struct iopf_peer *p);

/**
 * iopf_peer_recv() - take one message of responses
 * @p: the peer
 * @r: set to the responses (valid until the next call)
 *
 * A tail that is not a whole 8-byte response is dropped with a warning.
 *
 * Return: the number of responses, 0 when none are waiting, -EPIPE once
 * the handler closed its end or went away.
 */
ssize_t iopf_peer_recv(struct iopf_peer *p, const struct iommu_hwpt_page_response **r);
/* Close our sending side: the handler reads end of stream. */
void iopf_peer_shutdown(struct iopf_peer *p);
bool iopf_peer_eof(const struct iopf_peer *p);
void iopf_peer_counts(const struct iopf_peer *p, struct iopf_peer_counts *c);

/* ------------------------------------------------------------------ */
/* Activity over time and SVG pictures (stats --svg)                   */
/* ------------------------------------------------------------------ */
#define IOPF_TL_BINS 256	/* intervals kept; they widen as a capture grows */
#define IOPF_TL_DEVS 8		/* devices with a series of their own; the rest are "other" */

/** struct iopf_tl_bin - one interval of a timeline */
struct iopf_tl_bin {
	uint64_t faults[IOPF_TL_DEVS + 1];	/* per device slot; [IOPF_TL_DEVS]: other devices */
	uint64_t responses;			/* accepted responses with a latency */
	uint64_t latency_sum, latency_max;	/* ns */
};

/** struct iopf_timeline_view - a timeline's bins, read only, valid until it changes */
struct iopf_timeline_view {
	uint64_t t0_ns, width_ns;	/* start (the first event's time stamp) and interval */
	uint32_t nbins;
	const struct iopf_tl_bin *bins;
	uint32_t ndevs;			/* device slots in use */
	const uint32_t *devs;		/* their dev_ids */
	bool other;			/* some faults came from devices past IOPF_TL_DEVS */
};

struct iopf_timeline;

/**
 * iopf_timeline_new() - an empty timeline, a few KiB whatever it is fed
 * @tl: set to the new timeline
 *
 * Return: 0, or -ENOMEM.
 */
int iopf_timeline_new(struct iopf_timeline **tl);
/** iopf_timeline_free() - free a timeline (NULL is fine) */
void iopf_timeline_free(struct iopf_timeline *tl);
/**
 * iopf_timeline_fault() - count one fault
 * @tl: the timeline
 * @t_ns: its time stamp (ns since the epoch: the capture's CLOCK_REALTIME)
 * @dev_id: its device
 */
void iopf_timeline_fault(struct iopf_timeline *tl, uint64_t t_ns, uint32_t dev_id);
/**
 * iopf_timeline_response() - count one accepted response and its latency
 * @tl: the timeline
 * @t_ns: the response's time stamp
 * @latency_ns: from the read that delivered its group
 */
void iopf_timeline_response(struct iopf_timeline *tl, uint64_t t_ns, uint64_t latency_ns);
/** iopf_timeline_get() - the bins as they stand */
void iopf_timeline_get(const struct iopf_timeline *tl, struct iopf_timeline_view *v);

/**
 * iopf_svg_write() - a standalone SVG picture for a ticket
 * @f: where to write it
 * @title: shown at the top (a capture's name)
 * @latency: the response latency histogram, drawn on log2 buckets
 * @tl: faults per interval per device, and latency over time
 * @deadline_ns: drawn as a line on the latency-over-time panel; 0: none
 *
 * Return: 0, or a negative errno when writing failed.
 */
int iopf_svg_write(FILE *f, const char *title, const struct iopf_hist *latency,
		   const struct iopf_timeline *tl, uint64_t deadline_ns);

/* Append a META record of key=value lines (text need not end with '\n'). */
int iopf_writer_meta(struct iopf_writer *w, const struct timespec *ts, const char *text);

uint64_t iopf_writer_files(const struct iopf_writer *w);
uint64_t iopf_writer_count(const struct iopf_writer *w);

/* Named bits of the fault's perm and flags fields. */
struct iopf_bit_name {
	uint32_t bit;
	const char *name;	/* JSON, and text in the NAMES style */
	char letter;		/* text in the LETTERS style; 0 if none */
};
struct iopf_bits {
	const struct iopf_bit_name *bit;
	size_t n;
};
const struct iopf_bits *iopf_perm_bits(void);	/* read write exec priv */
const struct iopf_bits *iopf_flag_bits(void);	/* pasid_valid last */

/* The bits of v no entry of t names. */
uint32_t iopf_bits_unknown(const struct iopf_bits *t, uint32_t v);

/*
 * Print v as the JSON array key of bit names, unknown bits as "0x10"
 * strings (one per bit), and in text in the given style after fmt
 * (printed as it is, e.g. " perm ").  Unknown bits are never dropped.
 */
void iopf_print_bits(struct iopf_out *o, const char *key, const char *fmt,
		     const struct iopf_bits *t, uint32_t v, enum iopf_bits_style style);

/*
 * A `uname -r` release ("7.3.4+deb13-amd64"): the newest model not newer
 * than it (the oldest model for older kernels).  -EINVAL if it does not
 * start with MAJOR.MINOR.
 */
int iopf_kernel_model_from_release(const char *release, enum iopf_kernel_model *m);

/* A queue that behaves like the given kernel version's fault object. */
int iopf_queue_new_version(struct iopf_queue **q, uint32_t fault_id, enum iopf_kernel_model m);

enum iopf_kernel_model iopf_queue_kernel_model(const struct iopf_queue *q);

int iopf_queue_detach(struct iopf_queue *q, uint32_t dev_id);

short iopf_queue_poll(const struct iopf_queue *q);
/* An eventfd that is readable exactly while groups wait, for epoll. */
int iopf_queue_fd(const struct iopf_queue *q);

/**
 * iopf_group_split() - split a read() buffer into its groups, without copying
 * @queue: queue id to put in each group
 * @recs: the records a read returned
 * @nrec: how many
 * @t_ns: the read's time
 * @fn: called per group, in buffer order (may be NULL)
 * @ctx: for @fn
 *
 * A group runs to its LAST_PAGE record; a cookie change before it, or
 * the end of the buffer, also ends it, with @terminated false (the
 * kernel only returns whole groups).
 *
 * Return: the number of groups, or @fn's non-zero return.
 */
ssize_t iopf_group_split(uint32_t queue, const struct iommu_hwpt_pgfault *recs, size_t nrec,
			 uint64_t t_ns, iopf_group_fn fn, void *ctx);

void iopf_grouper_counts(const struct iopf_grouper *gr, struct iopf_grouper_counts *c);

/* Records held for open groups now (with keep_records). */
size_t iopf_grouper_open_records(const struct iopf_grouper *gr);

/* Fill rep->latency_ns (count, min, mean, percentiles, max) from h. */
void iopf_report_latency(struct iopf_report *rep, const struct iopf_hist *h);

/* The last error a session function returned and logged (0: none): a
 * caller that passes errors up can tell it was said (lib/replay.c). */
int iopf_session_said(const struct iopf_session *s);

/**
 * iopf_session_note_read() - records another reader got from the queue
 * @s: the session
 * @buf: what one read() returned: whole groups
 * @bytes: its length (a multiple of 40)
 * @t_ns: when, on CLOCK_MONOTONIC (latencies are measured from it)
 * @fn: as for iopf_session_drain(), or NULL
 * @ctx: for @fn
 *
 * For a queue the session does not read itself (a handler process reads
 * it, and we see what it got): the records are printed, recorded and
 * checked as iopf_session_drain() does with its own reads.  Answers the
 * reader wrote go to iopf_session_note_response().
 *
 * Return: the number of groups, or @fn's first non-zero return.
 */
ssize_t iopf_session_note_read(struct iopf_session *s, const void *buf, size_t bytes, uint64_t t_ns,
			       iopf_group_fn fn, void *ctx);

/* Print, record and classify a response whose verdict is already known (a peer's). */
void iopf_session_note_response(struct iopf_session *s, const struct iommu_hwpt_page_response *r,
				uint32_t status, uint64_t t_ns);

/*
 * iopf_session_in_flight() - groups injected into the session's queue and
 * not answered yet: still waiting to be read, or read and without an
 * accepted response.  @injected: the groups the caller injected so far.
 */
uint64_t iopf_session_in_flight(const struct iopf_session *s, uint64_t injected);

#endif
