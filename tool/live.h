/* SPDX-License-Identifier: MIT */
/* A live session on a fault queue: shared by monitor, record and replay. */
#ifndef IOPFTOOL_LIVE_H
#define IOPFTOOL_LIVE_H

#include "tool.h"

/* Read buffer: 64 KiB rounded down to whole records (KERNEL-FACTS 3.3). */
#define LIVE_READ_BYTES (65536 / IOPF_FAULT_SIZE * IOPF_FAULT_SIZE)
/* Largest read we grow to for a group that does not fit (2048 records: Intel's PRI cap, x16). */
#define LIVE_READ_MAX (32768 * IOPF_FAULT_SIZE)

struct live;

/* Called for each whole group a read delivered (records share a cookie, LAST_PAGE last). */
typedef void (*live_group_fn)(struct live *l, const struct iommu_hwpt_pgfault *recs, size_t n,
			      uint64_t t_ns, void *ctx);

struct live {
	struct iopf_target *target;
	struct iopf_check *check;	/* always: every response is classified */
	struct iopf_writer *writer;	/* -w FILE, or NULL */
	struct iopf_out *out;		/* print records, or NULL */
	uint32_t queue_id;
	uint64_t seq;			/* printed record number when not writing */
	uint64_t limit;			/* stop reading after this many groups (0: no limit) */
	uint8_t *buf;
	size_t cap;
	/* totals */
	uint64_t reads, groups, faults, responses, accepted, outstanding;
	int write_err;			/* first capture write error (-errno) */
};

int live_init(struct live *l, struct iopf_target *t, const struct iopf_check_cfg *cfg);
void live_fini(struct live *l);

/*
 * Read every group waiting on the queue with as few reads as possible,
 * growing the buffer for a group that does not fit.  Calls fn per group
 * after it has been printed, recorded and given to the checker.
 * Returns the number of groups, or a negative errno.
 */
ssize_t live_drain(struct live *l, live_group_fn fn, void *ctx);

/* The same for bytes of whole groups someone else read from the queue (the handler file). */
size_t live_account(struct live *l, const void *buf, size_t bytes, live_group_fn fn, void *ctx);

/*
 * Write responses to the queue in one batch, resubmitting after a
 * refused entry (KERNEL-FACTS 1.6 partial writes), and print, record and
 * classify each with the queue's verdict.  Returns 0 or a negative errno
 * for a failure other than a refused response.
 */
int live_respond(struct live *l, const struct iommu_hwpt_page_response *r, size_t n);

/* Responses collected to be written in one batch. */
struct resp_batch {
	struct iommu_hwpt_page_response *r;
	size_t n, cap;
};

/* Append {cookie, code}: 0 or -ENOMEM. */
int resp_batch_push(struct resp_batch *b, uint32_t cookie, uint32_t code);
/* live_respond() the batch, if any, and empty it. */
int live_respond_batch(struct live *l, struct resp_batch *b);
void resp_batch_free(struct resp_batch *b);

/* Record and classify one response whose verdict is already known (proxy). */
void live_note_response(struct live *l, const struct iommu_hwpt_page_response *r,
			uint32_t status, uint64_t t_ns);

/* META records: the header record (extra: more key=value lines, or NULL), and the end=1 record. */
int live_write_meta_start(struct live *l, const char *source, const char *extra);
int live_write_meta_end(struct live *l, uint64_t lost);
int live_close_writer(struct live *l, const char *path);

/* --policy CODE (monitor, record, handle): success or invalid, else a usage error. */
uint32_t live_arg_policy(struct argp_state *state, const char *arg);

/* Realtime clock for capture timestamps. */
void live_realtime(struct timespec *ts);

#endif
