// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * The BPF tap (lib/tap-bpf.c loads it): the same kernel functions the
 * kprobe-event tap probes (lib/tap.c says what each does), each read and
 * write whole, into a BPF ring buffer.
 *
 * Built twice by clang -target bpf (Makefile):
 *  - TAP_CORE=1: struct offsets by CO-RE relocations against the running
 *    kernel's BTF (vmlinux or module).  fentry/fexit programs, and the
 *    same as kprobes for kernels whose BPF trampolines are missing.
 *  - TAP_CORE=0: for kernels without BTF.  kprobes and kretprobes only,
 *    and no CO-RE relocation at all (libbpf would refuse to load an
 *    object with one where there is no BTF): every offset is a read-only
 *    global the loader sets from a known layout, read with
 *    bpf_probe_read_kernel().
 *
 * The kernel functions (Linux 6.12 drivers/iommu/iommufd/fault.c, 7.3
 * drivers/iommu/iommufd/eventq.c, drivers/iommu/io-pgfault.c):
 *  - iommufd_fault_fops_read(filep, buf, count, ppos): returns the bytes
 *    of whole groups of struct iommu_hwpt_pgfault copied into buf, or
 *    -errno when none.  Its return copies min(ret, TB_MAX_DATA) bytes
 *    of buf back (user memory the kernel has just written).
 *  - iommufd_fault_fops_write(filep, buf, count, ppos): takes responses
 *    in order, stops at the first it refuses (bad code, unknown cookie:
 *    -EINVAL; unreadable: -EFAULT) and returns the bytes accepted, or
 *    that errno when it accepted none.  Its return copies the responses
 *    it was given (min(count, TB_MAX_DATA) bytes).
 *  - filep->private_data is the fault object (struct iommufd_fault in
 *    6.12, struct iommufd_eventq in 7.3); either starts with struct
 *    iommufd_object (BUILD_BUG_ON in iommufd_object_alloc), whose id is
 *    the queue's id.
 *  - iommufd_auto_response_faults(hwpt, handle), iommufd_fault_destroy(obj)
 *    and iopf_group_response(group, code): the kernel's own answers.
 *  - iommu_report_device_fault(dev, evt): a fault as the device reported it.
 */
#include <stdbool.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/ptrace.h>	/* the UAPI struct pt_regs: plain offsets, no relocation */
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#if TAP_CORE
#include <bpf/bpf_core_read.h>
#endif

#include "tap-bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);	/* the loader may change it */
} events SEC(".maps");

/* One scratch event per CPU (key: the CPU) for reads and one for writes: the loader sets max_entries. */
struct big_ev {
	struct tb_ev h;
	__u8 data[TB_MAX_DATA];
};
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct big_ev);
} scratch_rd SEC(".maps"), scratch_wr SEC(".maps");

/* The arguments of a read or write in progress, from its kprobe to its kretprobe. */
struct call {
	__u64 file, buf, count;
};
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);	/* pid_tgid */
	__type(value, struct call);
} calls SEC(".maps");

const volatile __u32 filter_tgid;	/* 0: every process */
const volatile __u32 self_tgid;		/* ours: its zero-length writes calibrate */

struct tb_stats stats;

#if TAP_CORE
/* Local views of the kernel structs: CO-RE finds each field by name. */
struct file {
	void *private_data;
} __attribute__((preserve_access_index));
struct iommufd_object {
	unsigned int id;
} __attribute__((preserve_access_index));
struct iommufd_hw_pagetable {
	struct iommufd_object *fault;	/* a struct iommufd_fault: starts with its object */
} __attribute__((preserve_access_index));
struct iommufd_device {
	struct iommufd_object obj;
} __attribute__((preserve_access_index));
struct iommufd_attach_handle {
	struct iommufd_device *idev;
} __attribute__((preserve_access_index));
struct iommu_fault_page_request {
	__u32 flags, pasid, grpid, perm;
	__u64 addr;
} __attribute__((preserve_access_index));
struct iommu_fault {
	struct iommu_fault_page_request prm;
} __attribute__((preserve_access_index));
struct iopf_fault {
	struct iommu_fault fault;
} __attribute__((preserve_access_index));
struct iopf_group {
	struct iopf_fault last_fault;
	__u32 cookie;
} __attribute__((preserve_access_index));

static __always_inline __u32 obj_id(const void *obj)
{
	return obj ? BPF_CORE_READ((const struct iommufd_object *)obj, id) : 0;
}

static __always_inline __u32 file_queue(__u64 file, __u16 *flags)
{
	void *pd = BPF_CORE_READ((struct file *)file, private_data);
	__u32 id = obj_id(pd);

	if (id)
		*flags |= TB_F_QUEUE;
	return id;
}

static __always_inline void read_prm(const struct iopf_fault *f, struct tb_prm *p)
{
	/* One read where the five fields lie as they always have (one helper call, not five). */
	if (bpf_core_field_offset(struct iommu_fault_page_request, flags) == 0 &&
	    bpf_core_field_offset(struct iommu_fault_page_request, pasid) == 4 &&
	    bpf_core_field_offset(struct iommu_fault_page_request, grpid) == 8 &&
	    bpf_core_field_offset(struct iommu_fault_page_request, perm) == 12 &&
	    bpf_core_field_offset(struct iommu_fault_page_request, addr) == 16) {
		if (bpf_core_read(p, sizeof(*p), &f->fault.prm))
			__builtin_memset(p, 0, sizeof(*p));
		return;
	}
	p->flags = BPF_CORE_READ(f, fault.prm.flags);
	p->pasid = BPF_CORE_READ(f, fault.prm.pasid);
	p->grpid = BPF_CORE_READ(f, fault.prm.grpid);
	p->perm = BPF_CORE_READ(f, fault.prm.perm);
	p->addr = BPF_CORE_READ(f, fault.prm.addr);
}

static __always_inline __u32 hwpt_queue(const void *hwpt)
{
	return obj_id(BPF_CORE_READ((const struct iommufd_hw_pagetable *)hwpt, fault));
}

static __always_inline __u32 handle_dev(const void *handle)
{
	const struct iommufd_device *idev = BPF_CORE_READ((const struct iommufd_attach_handle *)handle, idev);

	return idev ? BPF_CORE_READ(idev, obj.id) : 0;
}

static __always_inline const void *group_last(const void *group)
{
	return &((const struct iopf_group *)group)->last_fault;
}

static __always_inline int group_cookie(const void *group, __u32 *cookie)
{
	if (!bpf_core_field_exists(struct iopf_group, cookie))
		return -1;
	*cookie = BPF_CORE_READ((const struct iopf_group *)group, cookie);
	return 0;
}
#else
/* The layout the loader knows for this kernel (lib/tap.c: 6.12's). */
const volatile int off_prm = 8;			/* struct iopf_fault: fault.prm */
const volatile int off_pr_flags = 0, off_pr_pasid = 4, off_pr_grpid = 8, off_pr_perm = 12,
	off_pr_addr = 16;			/* struct iommu_fault_page_request */
const volatile int off_obj_id = 12;		/* struct iommufd_object: id */
const volatile int off_obj_type = 8;		/* struct iommufd_object: type */
const volatile int off_hwpt_fault = 24;		/* struct iommufd_hw_pagetable: fault */
const volatile int off_handle_idev = 8;		/* struct iommufd_attach_handle: idev */
const volatile int off_group_last = 0;		/* struct iopf_group: last_fault */
const volatile int off_group_cookie = -1;	/* struct iopf_group: cookie (-1 unknown) */
/* struct file: private_data: found by calibration (TB_CAL events), then set by the loader. */
volatile int off_file_private = -1;

static __always_inline __u64 rd64(const void *p, int off)
{
	__u64 v = 0;

	if (p && off >= 0)
		bpf_probe_read_kernel(&v, sizeof(v), (const char *)p + off);
	return v;
}

static __always_inline __u32 rd32(const void *p, int off)
{
	__u32 v = 0;

	if (p && off >= 0)
		bpf_probe_read_kernel(&v, sizeof(v), (const char *)p + off);
	return v;
}

static __always_inline __u32 obj_id(const void *obj)
{
	return rd32(obj, off_obj_id);
}

static __always_inline __u32 file_queue(__u64 file, __u16 *flags)
{
	int off = off_file_private;
	__u32 id;

	if (off < 0)
		return 0;
	id = obj_id((const void *)rd64((const void *)file, off));
	if (id)
		*flags |= TB_F_QUEUE;
	return id;
}

static __always_inline void read_prm(const void *f, struct tb_prm *p)
{
	const char *b = (const char *)f + off_prm;

	/* One read where the five fields lie as in 6.12 (one helper call, not five). */
	if (off_pr_flags == 0 && off_pr_pasid == 4 && off_pr_grpid == 8 && off_pr_perm == 12 &&
	    off_pr_addr == 16) {
		if (bpf_probe_read_kernel(p, sizeof(*p), b))
			__builtin_memset(p, 0, sizeof(*p));
		return;
	}
	p->flags = rd32(b, off_pr_flags);
	p->pasid = rd32(b, off_pr_pasid);
	p->grpid = rd32(b, off_pr_grpid);
	p->perm = rd32(b, off_pr_perm);
	p->addr = rd64(b, off_pr_addr);
}

static __always_inline __u32 hwpt_queue(const void *hwpt)
{
	return obj_id((const void *)rd64(hwpt, off_hwpt_fault));
}

static __always_inline __u32 handle_dev(const void *handle)
{
	return obj_id((const void *)rd64(handle, off_handle_idev));
}

static __always_inline const void *group_last(const void *group)
{
	return (const char *)group + off_group_last;
}

static __always_inline int group_cookie(const void *group, __u32 *cookie)
{
	if (off_group_cookie < 0)
		return -1;
	*cookie = rd32(group, off_group_cookie);
	return 0;
}
#endif

/*
 * Wake the reader only when the ring holds WAKE_BYTES: it polls on a timer
 * anyway (lib/tap.c), and a wake-up per event costs the traced thread an
 * irq_work and the reader a context switch per event.
 */
#define WAKE_BYTES (1 << 20)
static __always_inline __u64 wake_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= WAKE_BYTES ? BPF_RB_FORCE_WAKEUP
									  : BPF_RB_NO_WAKEUP;
}

/* Threads inside iommufd_auto_response_faults() or iommufd_fault_destroy(). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);	/* pid_tgid */
	__type(value, __u32);
} in_auto SEC(".maps");

static __always_inline bool wanted(__u32 tgid)
{
	return !filter_tgid || tgid == filter_tgid || tgid == self_tgid;
}

static __always_inline void fill(struct tb_ev *e, __u16 kind, __u64 pid_tgid)
{
	e->kind = kind;
	e->flags = 0;
	e->len = 0;
	e->tgid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->t_ns = bpf_ktime_get_ns();
	e->file = 0;
	e->ret = 0;
	e->count = 0;
	e->queue = 0;
	e->aux = 0;
	e->cookie = 0;
	e->pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
}

/* A small event (no data, or a fixed struct): reserved in the ring directly. */
static __always_inline struct tb_ev *small(__u16 kind, __u32 extra)
{
	struct tb_ev *e;

	if (extra == sizeof(struct tb_prm))
		e = bpf_ringbuf_reserve(&events, sizeof(*e) + sizeof(struct tb_prm), 0);
	else
		e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&stats.lost_events, 1);
		return NULL;
	}
	fill(e, kind, bpf_get_current_pid_tgid());
	e->len = extra;
	return e;
}

/*
 * A read or a write returned: copy its buffer (bytes of it) into the
 * CPU's scratch event and put header + data into the ring.
 */
static __always_inline int rw_done(int write, __u64 file, __u64 buf, __u64 count, __s64 ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, cpu = bpf_get_smp_processor_id();
	struct big_ev *b;
	__u64 bytes;

	if (!wanted(tgid))
		return 0;
	b = bpf_map_lookup_elem(write ? (void *)&scratch_wr : (void *)&scratch_rd, &cpu);
	if (!b)
		return 0;
	fill(&b->h, write ? TB_WRITE : TB_READ, pid_tgid);
	b->h.file = file;
	b->h.ret = ret;
	b->h.count = count;
	b->h.queue = file_queue(file, &b->h.flags);
	bytes = write ? count : (ret > 0 ? (__u64)ret : 0);
	if (bytes > TB_MAX_DATA) {
		__sync_fetch_and_add(&stats.trunc_bytes, bytes - TB_MAX_DATA);
		b->h.flags |= TB_F_TRUNC;
		bytes = TB_MAX_DATA;
	}
	if (bytes && bpf_probe_read_user(b->data, (__u32)bytes, (const void *)buf))
		b->h.flags |= TB_F_FAULT;
	b->h.len = (__u32)bytes;
	if (bpf_ringbuf_output(&events, b, sizeof(b->h) + bytes, wake_flags())) {
		__sync_fetch_and_add(&stats.lost_events, 1);
		if (write)
			__sync_fetch_and_add(&stats.lost_responses, count / 8);
		else if (ret > 0)
			__sync_fetch_and_add(&stats.lost_records, (__u64)ret / 40);
	}
	return 0;
}

/*
 * A zero-length write names its struct file (ours calibrate, and say
 * which process and fd a file is).  Without BTF the candidates for
 * private_data go with it: {type, id} of the object at each of
 * TB_CAL_SLOTS offsets.
 */
static __always_inline int cal(__u64 file)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct tb_ev *e;

	if (!wanted(pid_tgid >> 32))
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e) + TB_CAL_SLOTS * 8, 0);
	if (!e) {
		__sync_fetch_and_add(&stats.lost_events, 1);
		return 0;
	}
	fill(e, TB_CAL, pid_tgid);
	e->file = file;
	e->queue = file_queue(file, &e->flags);
	e->len = TB_CAL_SLOTS * 8;
	{
		__u32 *slot = (__u32 *)(e + 1);

		for (int i = 0; i < TB_CAL_SLOTS; i++) {
#if TAP_CORE
			slot[2 * i] = 0;
			slot[2 * i + 1] = 0;
#else
			const void *obj = (const void *)rd64((const void *)file, i * 8);

			slot[2 * i] = rd32(obj, off_obj_type);
			slot[2 * i + 1] = rd32(obj, off_obj_id);
#endif
		}
	}
	bpf_ringbuf_submit(e, wake_flags());
	return 0;
}

static __always_inline int reported(const void *evt)
{
	struct tb_ev *e;

	if (filter_tgid)
		return 0;	/* not attributable to a process */
	e = small(TB_REPORTED, sizeof(struct tb_prm));
	if (!e)
		return 0;
	read_prm(evt, (struct tb_prm *)(e + 1));
	bpf_ringbuf_submit(e, wake_flags());
	return 0;
}

static __always_inline int bracket(__u16 kind, __u32 queue, __u32 dev)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 one = 1;
	struct tb_ev *e;

	if (kind == TB_AR || kind == TB_FD)
		bpf_map_update_elem(&in_auto, &pid_tgid, &one, BPF_ANY);
	else
		bpf_map_delete_elem(&in_auto, &pid_tgid);
	e = small(kind, 0);

	if (!e)
		return 0;
	e->queue = queue;
	e->aux = dev;
	e->flags = queue ? TB_F_QUEUE : 0;
	bpf_ringbuf_submit(e, wake_flags());
	return 0;
}

/*
 * Only the kernel's own answers: a handler's responses are in its write
 * event.  The probes on iommufd_auto_response_faults() and
 * iommufd_fault_destroy() say when the kernel answers, and why (lib/tap.c
 * gives the answer its reason from that bracket).  Without BTF only an
 * answer inside such a bracket is sent; with BTF every answer given
 * outside a write of a fault fd (a build may inline those two functions:
 * lib/tap.c then matches the answer to a group it saw delivered, reason
 * 0, unknown).
 */
static __always_inline int group_response(const void *group, __u32 code)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct tb_ev *e;

#if TAP_CORE
	if (bpf_map_lookup_elem(&calls, &pid_tgid))
		return 0;
#else
	if (!bpf_map_lookup_elem(&in_auto, &pid_tgid))
		return 0;
#endif
	e = small(TB_GR, sizeof(struct tb_prm));

	if (!e)
		return 0;
	e->aux = code;
	if (!group_cookie(group, &e->cookie))
		e->flags |= TB_F_COOKIE;
	read_prm(group_last(group), (struct tb_prm *)(e + 1));
	bpf_ringbuf_submit(e, wake_flags());
	return 0;
}

/* ---- kprobes (both builds) ---------------------------------------------- */

static __always_inline int call_enter(__u64 file, __u64 buf, __u64 count)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct call c = { file, buf, count };

	if (!wanted(pid_tgid >> 32))
		return 0;
	bpf_map_update_elem(&calls, &pid_tgid, &c, BPF_ANY);
	return 0;
}

static __always_inline int call_exit(int write, __s64 ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct call *c = bpf_map_lookup_elem(&calls, &pid_tgid);
	struct call copy;

	if (!c)
		return 0;
	copy = *c;
	bpf_map_delete_elem(&calls, &pid_tgid);
	if (write && !copy.count)
		return cal(copy.file);
#if !TAP_CORE
	/* Not calibrated yet: every write of a handler calibrates too (as the kprobe-event tap's). */
	if (write && off_file_private < 0)
		cal(copy.file);
#endif
	return rw_done(write, copy.file, copy.buf, copy.count, ret);
}

SEC("kprobe/iommufd_fault_fops_read")
int BPF_KPROBE(kp_read, void *file, void *buf, __u64 count)
{
	return call_enter((__u64)file, (__u64)buf, count);
}

SEC("kretprobe/iommufd_fault_fops_read")
int BPF_KRETPROBE(kr_read, long ret)
{
	return call_exit(0, ret);
}

SEC("kprobe/iommufd_fault_fops_write")
int BPF_KPROBE(kp_write, void *file, void *buf, __u64 count)
{
	return call_enter((__u64)file, (__u64)buf, count);
}

SEC("kretprobe/iommufd_fault_fops_write")
int BPF_KRETPROBE(kr_write, long ret)
{
	return call_exit(1, ret);
}

SEC("kprobe/iommu_report_device_fault")
int BPF_KPROBE(kp_report, void *dev, void *evt)
{
	return reported(evt);
}

SEC("kprobe/iommufd_auto_response_faults")
int BPF_KPROBE(kp_ar, void *hwpt, void *handle)
{
	return bracket(TB_AR, hwpt_queue(hwpt), handle_dev(handle));
}

SEC("kretprobe/iommufd_auto_response_faults")
int BPF_KRETPROBE(kr_ar)
{
	return bracket(TB_ARR, 0, 0);
}

SEC("kprobe/iommufd_fault_destroy")
int BPF_KPROBE(kp_fd, void *obj)
{
	return bracket(TB_FD, obj_id(obj), 0);
}

SEC("kretprobe/iommufd_fault_destroy")
int BPF_KRETPROBE(kr_fd)
{
	return bracket(TB_FDR, 0, 0);
}

SEC("kprobe/iopf_group_response")
int BPF_KPROBE(kp_gr, void *group, __u32 code)
{
	return group_response(group, code);
}

#if TAP_CORE
/* ---- fentry/fexit (BTF): one program per call, arguments and result together ---- */

SEC("fexit/iommufd_fault_fops_read")
int BPF_PROG(fx_read, void *file, void *buf, __u64 count, void *ppos, long ret)
{
	return rw_done(0, (__u64)file, (__u64)buf, count, ret);
}

SEC("fentry/iommufd_fault_fops_write")
int BPF_PROG(fe_write, void *file, void *buf, __u64 count)
{
	return call_enter((__u64)file, (__u64)buf, count);	/* marks the thread as writing */
}

SEC("fexit/iommufd_fault_fops_write")
int BPF_PROG(fx_write, void *file, void *buf, __u64 count, void *ppos, long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	bpf_map_delete_elem(&calls, &pid_tgid);
	if (!count)
		return cal((__u64)file);
	return rw_done(1, (__u64)file, (__u64)buf, count, ret);
}

SEC("fentry/iommu_report_device_fault")
int BPF_PROG(fe_report, void *dev, void *evt)
{
	return reported(evt);
}

SEC("fentry/iommufd_auto_response_faults")
int BPF_PROG(fe_ar, void *hwpt, void *handle)
{
	return bracket(TB_AR, hwpt_queue(hwpt), handle_dev(handle));
}

SEC("fexit/iommufd_auto_response_faults")
int BPF_PROG(fx_ar, void *hwpt, void *handle)
{
	return bracket(TB_ARR, 0, 0);
}

SEC("fentry/iommufd_fault_destroy")
int BPF_PROG(fe_fd, void *obj)
{
	return bracket(TB_FD, obj_id(obj), 0);
}

SEC("fexit/iommufd_fault_destroy")
int BPF_PROG(fx_fd, void *obj)
{
	return bracket(TB_FDR, 0, 0);
}

SEC("fentry/iopf_group_response")
int BPF_PROG(fe_gr, void *group, __u32 code)
{
	return group_response(group, code);
}
#endif
