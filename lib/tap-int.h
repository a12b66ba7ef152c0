/* SPDX-License-Identifier: MIT */
/*
 * The tap's two back-ends and its one decoder (lib/tap.c): each back-end
 * turns what the kernel shows into struct tap_raw events; lib/tap.c
 * joins them to queues, processes and groups and makes the public events
 * and records.  Not installed.
 */
#ifndef IOPF_TAP_INT_H
#define IOPF_TAP_INT_H

#include "internal.h"

enum tap_raw_kind {
	RAW_READ = 1, RAW_WRITE, RAW_CAL, RAW_REPORTED, RAW_AR, RAW_ARR, RAW_FD, RAW_FDR, RAW_GR,
};

#define TAP_CAL_SLOTS	32	/* candidate offsets (x8) of private_data in struct file */

struct tap_prm {		/* struct iommu_fault_page_request, the fields the tap reads */
	uint32_t flags, pasid, grpid, perm;
	uint64_t addr;
};

struct tap_raw {
	enum tap_raw_kind kind;
	uint32_t tid, tgid;	/* tgid 0: unknown (looked up in /proc) */
	uint64_t t_ns;		/* CLOCK_MONOTONIC */
	uint64_t file;		/* struct file * of a read, a write or a cal */
	int64_t ret;		/* the kernel's return */
	uint64_t count;		/* bytes asked */
	uint32_t queue;		/* valid when has_queue */
	uint32_t aux;		/* AR: device id; GR: code */
	uint32_t cookie;	/* GR: valid when has_cookie */
	bool has_queue, has_cookie;
	bool fault;		/* the buffer could not be read */
	char comm[16];		/* "" unknown */
	struct tap_prm prm;	/* REPORTED, GR */
	/*
	 * READ: the records copied (len / 40 of them); WRITE: the responses
	 * given (len / 8); CAL: TAP_CAL_SLOTS {type, id} u32 pairs, or NULL.
	 */
	const uint8_t *data;
	size_t len;
	uint64_t seen_ns;	/* when it was held (lib/tap.c) */
};

struct iopf_tap;
/* Hand one event to the decoder (it copies what it keeps). */
void tap_submit(struct iopf_tap *t, const struct tap_raw *r);
/* Events the back-end lost: records and responses in them. */
void tap_lost(struct iopf_tap *t, uint64_t events, uint64_t records, uint64_t responses);

/* The BPF back-end (lib/tap-bpf.c). */
struct tap_bpf;
struct tap_bpf_cfg {
	int filter_tgid, self_tgid;
	bool btf;			/* the kernel has BTF: the CO-RE object */
	bool fentry;			/* fentry/fexit (BTF only), not kprobes */
	const int *layout;		/* no BTF: offsets (enum tap_off order), else NULL */
	const struct iopf_log *log;
};
enum tap_off {
	OFF_PRM, OFF_PR_FLAGS, OFF_PR_PASID, OFF_PR_GRPID, OFF_PR_PERM, OFF_PR_ADDR, OFF_OBJ_ID,
	OFF_OBJ_TYPE, OFF_HWPT_FAULT, OFF_HANDLE_IDEV, OFF_GROUP_LAST, OFF_GROUP_COOKIE, OFF_COUNT
};
int tap_bpf_open(struct tap_bpf **b, struct iopf_tap *t, const struct tap_bpf_cfg *cfg, char *err,
		 size_t errlen);
int tap_bpf_fd(const struct tap_bpf *b);
/* One ring buffer event (struct tb_ev + data) to tap_submit(); hostile bytes are dropped. */
void tap_bpf_decode(struct iopf_tap *t, const void *data, size_t size);
/* Consume what the ring holds: events handed to tap_submit(), or -errno. */
int tap_bpf_pump(struct tap_bpf *b);
/* Calibrated: the programs read each file's queue id from now on. */
void tap_bpf_set_file_offset(struct tap_bpf *b, int off);
/* "fentry/fexit, CO-RE" or "kprobes, known 6.12 layout" */
const char *tap_bpf_how(const struct tap_bpf *b);
/* "kr_read 1200 runs 850 ns each, ..." (kernel.bpf_stats_enabled=1), or "". */
void tap_bpf_prog_stats(const struct tap_bpf *b, char *buf, size_t len);
void tap_bpf_close(struct tap_bpf *b);
/* Can this kernel run the BPF back-end?  0, or -errno and why in err. */
int tap_bpf_check(char *err, size_t errlen);

#endif
