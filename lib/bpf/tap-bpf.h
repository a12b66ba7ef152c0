/* SPDX-License-Identifier: MIT */
/*
 * The BPF tap's ring buffer events: shared by the BPF programs
 * (lib/bpf/tap.bpf.c, built with clang -target bpf) and the loader
 * (lib/tap-bpf.c).  Plain fixed-size types only: both sides see the same
 * bytes.  Each event is a struct tb_ev followed by len bytes of data.
 */
#ifndef IOPF_TAP_BPF_H
#define IOPF_TAP_BPF_H

enum tb_kind {
	TB_READ = 1,		/* iommufd_fault_fops_read returned: data = the records it copied */
	TB_WRITE = 2,		/* iommufd_fault_fops_write returned: data = the responses it was given */
	TB_CAL = 3,		/* a zero-length write: data = TB_CAL_SLOTS {type, id} candidates */
	TB_REPORTED = 4,	/* iommu_report_device_fault: data = struct tb_prm */
	TB_AR = 5,		/* iommufd_auto_response_faults entered: queue, aux = device */
	TB_ARR = 6,		/* ... returned */
	TB_FD = 7,		/* iommufd_fault_destroy entered: queue */
	TB_FDR = 8,		/* ... returned */
	TB_GR = 9,		/* iopf_group_response: aux = code, data = struct tb_prm (last fault) */
};

#define TB_F_QUEUE	1u	/* queue is the fault object id */
#define TB_F_COOKIE	2u	/* cookie is the group's cookie */
#define TB_F_TRUNC	4u	/* data holds the first TB_MAX_DATA bytes only */
#define TB_F_FAULT	8u	/* data could not be read (zeroed) */

#define TB_MAX_DATA	65536	/* bytes of a read's or a write's buffer copied */
#define TB_CAL_SLOTS	32	/* candidate offsets (x8) of private_data in struct file */

struct tb_prm {
	__u32 flags, pasid, grpid, perm;
	__u64 addr;
};

struct tb_ev {
	__u16 kind;		/* enum tb_kind */
	__u16 flags;		/* TB_F_* */
	__u32 len;		/* data bytes after this header */
	__u32 tgid, tid;
	__u64 t_ns;		/* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 file;		/* struct file * of a read, write or cal */
	__s64 ret;		/* the kernel's return value */
	__u64 count;		/* the byte count asked for */
	__u32 queue, aux;
	__u32 cookie, pad;
	char comm[16];
};

/* Counters the programs keep in .bss (the loader reads them). */
struct tb_stats {
	__u64 lost_events;	/* ring buffer full: events dropped */
	__u64 lost_records;	/* records of dropped reads */
	__u64 lost_responses;	/* responses of dropped writes */
	__u64 trunc_bytes;	/* bytes past TB_MAX_DATA not copied */
};

#endif
