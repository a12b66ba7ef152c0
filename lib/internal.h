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
};

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

/* ------------------------------------------------------------------ */
/* Formatting helpers shared by lib/out.c, lib/print.c and lib/util.c */
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
 * path escaped for a message (iopf_escape()), its middle elided with
 * "..." when it does not fit in len: a long name never pushes the
 * reason out of a fixed-size message.
 */
void iopf_path_shown(const char *path, char *buf, size_t len);
/* EINVAL for 22...; NULL when the C library has no name for it. */
const char *iopf_errno_name(uint32_t err);

#endif
