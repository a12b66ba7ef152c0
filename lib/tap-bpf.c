// SPDX-License-Identifier: MIT
/*
 * The tap's BPF back-end: loads lib/bpf/tap.bpf.c (built by clang
 * -target bpf into two objects, embedded here by bpftool gen skeleton),
 * attaches it and turns its ring buffer events into struct tap_raw for
 * lib/tap.c.
 *
 *  - With BTF (/sys/kernel/btf/vmlinux): the CO-RE object, kprobes and
 *    kretprobes (fentry/fexit when asked: --tap-backend bpf-fentry; they
 *    need the function tracer too).
 *  - Without BTF: the object without CO-RE relocations, kprobes and
 *    kretprobes, the struct offsets of a layout lib/tap.c knows for this
 *    kernel passed in as read-only globals.  The offset of private_data
 *    in struct file is calibrated as the kprobe-event tap does it (zero-
 *    length writes, TB_CAL events) and then written to the programs'
 *    .data, so later events carry their queue id.
 *
 * libbpf's own messages go to the tap's log at debug level (a library
 * never prints).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tap-int.h"
#include "bpf/tap-bpf.h"
#include "tap_core.skel.h"
#include "tap_nobtf.skel.h"

struct tap_bpf {
	struct iopf_tap *tap;
	struct tap_core *core;
	struct tap_nobtf *nobtf;
	struct bpf_link *links[16];
	struct bpf_program *progs[16];	/* of each link */
	int nlinks;
	struct ring_buffer *rb;
	struct tb_stats seen;	/* the programs' counters already reported */
	struct iopf_log log;
	const char *how;
};

static _Thread_local const struct iopf_log *bpf_log;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	if (!bpf_log || level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	iopf_log_printf(bpf_log, IOPF_LOG_DEBUG, "tap: libbpf: %s", msg);
	return 0;
}

/* One ring buffer event to the decoder: checked, never trusted (the fuzz target feeds any bytes). */
void tap_bpf_decode(struct iopf_tap *t, const void *data, size_t size)
{
	struct tb_ev ev, *e = &ev;
	const uint8_t *payload = (const uint8_t *)data + sizeof(ev);
	struct tap_raw r;

	if (size < sizeof(ev))
		return;
	memcpy(&ev, data, sizeof(ev));
	if (e->len > size - sizeof(*e))
		return;	/* the programs write whole events */
	memset(&r, 0, sizeof(r));
	switch (e->kind) {
	case TB_READ: r.kind = RAW_READ; break;
	case TB_WRITE: r.kind = RAW_WRITE; break;
	case TB_CAL: r.kind = RAW_CAL; break;
	case TB_REPORTED: r.kind = RAW_REPORTED; break;
	case TB_AR: r.kind = RAW_AR; break;
	case TB_ARR: r.kind = RAW_ARR; break;
	case TB_FD: r.kind = RAW_FD; break;
	case TB_FDR: r.kind = RAW_FDR; break;
	case TB_GR: r.kind = RAW_GR; break;
	default: return;
	}
	r.tid = e->tid;
	r.tgid = e->tgid;
	r.t_ns = e->t_ns;
	r.file = e->file;
	r.ret = e->ret;
	r.count = e->count;
	r.queue = e->queue;
	r.has_queue = e->flags & TB_F_QUEUE;
	r.aux = e->aux;
	r.cookie = e->cookie;
	r.has_cookie = e->flags & TB_F_COOKIE;
	r.fault = e->flags & TB_F_FAULT;
	memcpy(r.comm, e->comm, sizeof(r.comm));
	r.comm[sizeof(r.comm) - 1] = '\0';
	if (e->kind == TB_REPORTED || e->kind == TB_GR) {
		struct tb_prm p;

		if (e->len < sizeof(p))
			return;
		memcpy(&p, payload, sizeof(p));
		r.prm = (struct tap_prm){ p.flags, p.pasid, p.grpid, p.perm, p.addr };
	} else if (e->kind == TB_CAL) {
		/* with BTF the queue is in the event; the slots are for calibration */
		if (!r.has_queue && e->len >= TAP_CAL_SLOTS * 8)
			r.data = payload;
		r.len = r.data ? TAP_CAL_SLOTS * 8 : 0;
	} else {
		r.data = payload;
		r.len = e->len;
	}
	tap_submit(t, &r);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct tap_bpf *b = ctx;

	tap_bpf_decode(b->tap, data, size);
	return 0;
}

static const struct tb_stats *stats_of(const struct tap_bpf *b)
{
	return b->core ? &b->core->bss->stats : &b->nobtf->bss->stats;
}

int tap_bpf_pump(struct tap_bpf *b)
{
	const volatile struct tb_stats *s = stats_of(b);
	struct tb_stats now = { s->lost_events, s->lost_records, s->lost_responses, s->trunc_bytes };
	int n = ring_buffer__consume(b->rb);

	if (now.lost_events != b->seen.lost_events)
		tap_lost(b->tap, now.lost_events - b->seen.lost_events,
			 now.lost_records - b->seen.lost_records,
			 now.lost_responses - b->seen.lost_responses);
	b->seen = now;
	return n;
}

int tap_bpf_fd(const struct tap_bpf *b)
{
	return ring_buffer__epoll_fd(b->rb);
}

/*
 * Where the time goes: each attached program's runs and mean run time,
 * from the kernel's BPF statistics (sysctl kernel.bpf_stats_enabled=1;
 * without it the counts stay 0 and nothing is written).
 */
void tap_bpf_prog_stats(const struct tap_bpf *b, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < b->nlinks && n < len; i++) {
		struct bpf_prog_info info;
		uint32_t ilen = sizeof(info);
		const struct bpf_program *p = b->progs[i];

		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &ilen) || !info.run_cnt)
			continue;
		n += (size_t)snprintf(buf + n, len - n, "%s%s %llu runs %llu ns each", n ? ", " : "",
				      bpf_program__name(p), (unsigned long long)info.run_cnt,
				      (unsigned long long)(info.run_time_ns / info.run_cnt));
	}
}

const char *tap_bpf_how(const struct tap_bpf *b)
{
	return b->how;
}

void tap_bpf_set_file_offset(struct tap_bpf *b, int off)
{
	if (b->nobtf)
		b->nobtf->data->off_file_private = off;
}

void tap_bpf_close(struct tap_bpf *b)
{
	if (!b)
		return;
	for (int i = 0; i < b->nlinks; i++)
		bpf_link__destroy(b->links[i]);
	ring_buffer__free(b->rb);
	tap_core__destroy(b->core);
	tap_nobtf__destroy(b->nobtf);
	free(b);
}

/* What the running kernel would refuse, in words; 0 when BPF can run. */
int tap_bpf_check(char *err, size_t errlen)
{
	char lock[256] = "";
	int fd = open("/sys/kernel/security/lockdown", O_RDONLY | O_CLOEXEC), rc;

	if (fd >= 0) {
		ssize_t n = read(fd, lock, sizeof(lock) - 1);

		lock[n > 0 ? n : 0] = '\0';
		close(fd);
		if (strstr(lock, "[confidentiality]"))
			return iopf_fail(err, errlen, -EPERM,
					 "tap: BPF: kernel lockdown is confidentiality "
					 "(/sys/kernel/security/lockdown): it forbids kprobes and BPF "
					 "reads of kernel memory");
	}
	rc = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_KPROBE, NULL);
	if (rc == 1)
		return 0;
	if (rc == 0 || rc == -EINVAL || rc == -ENOSYS || rc == -EOPNOTSUPP)
		return iopf_fail(err, errlen, -ENOSYS,
				 "tap: BPF: the kernel has no bpf(2) with kprobe programs: it needs "
				 "CONFIG_BPF_SYSCALL and CONFIG_BPF_EVENTS");
	return iopf_fail(err, errlen, rc,
			 "tap: BPF: the kernel refused a kprobe program: %s; the tap needs root "
			 "(CAP_BPF and CAP_PERFMON)", strerror(-rc));
}

static int attach_all(struct tap_bpf *b, struct bpf_program **progs, size_t n, char *err,
		      size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		struct bpf_link *l = bpf_program__attach(progs[i]);

		if (!l) {
			int rc = -errno;

			return iopf_fail(err, errlen, rc ? rc : -EINVAL,
					 "tap: BPF: cannot attach %s to %s: %s", bpf_program__name(progs[i]),
					 bpf_program__section_name(progs[i]), strerror(rc ? -rc : EINVAL));
		}
		b->progs[b->nlinks] = progs[i];
		b->links[b->nlinks++] = l;
	}
	return 0;
}

static void set_autoload(struct bpf_program **all, size_t n, struct bpf_program **on, size_t non)
{
	for (size_t i = 0; i < n; i++) {
		bool want = false;

		for (size_t j = 0; j < non; j++)
			want |= all[i] == on[j];
		bpf_program__set_autoload(all[i], want);
	}
}

static int open_core(struct tap_bpf *b, const struct tap_bpf_cfg *cfg, bool fentry, char *err,
		     size_t errlen)
{
	struct tap_core *s = tap_core__open();
	int rc, ncpu = libbpf_num_possible_cpus();

	if (!s)
		return iopf_fail(err, errlen, errno ? -errno : -EINVAL,
				 "tap: BPF: cannot open the CO-RE object: %s", strerror(errno));
	b->core = s;
	/*
	 * Every function, iommufd_auto_response_faults() and
	 * iommufd_fault_destroy() included: their brackets give the kernel's
	 * own answers their reason (lib/tap.c on_group_response()).
	 */
	struct bpf_program *all[] = { s->progs.kp_read, s->progs.kr_read, s->progs.kp_write,
				      s->progs.kr_write, s->progs.kp_report, s->progs.kp_gr,
				      s->progs.kp_ar, s->progs.kr_ar, s->progs.kp_fd, s->progs.kr_fd,
				      s->progs.fx_read, s->progs.fe_write, s->progs.fx_write,
				      s->progs.fe_report, s->progs.fe_gr,
				      s->progs.fe_ar, s->progs.fx_ar, s->progs.fe_fd, s->progs.fx_fd };
	struct bpf_program **on = fentry ? all + 10 : all;
	size_t non = fentry ? 9 : 10;

	set_autoload(all, ARRAY_SIZE(all), on, non);
	s->rodata->filter_tgid = (uint32_t)(cfg->filter_tgid > 0 ? cfg->filter_tgid : 0);
	s->rodata->self_tgid = (uint32_t)cfg->self_tgid;
	if (ncpu > 0) {
		bpf_map__set_max_entries(s->maps.scratch_rd, (uint32_t)ncpu);
		bpf_map__set_max_entries(s->maps.scratch_wr, (uint32_t)ncpu);
	}
	rc = tap_core__load(s);
	if (rc)
		return iopf_fail(err, errlen, rc, "tap: BPF: cannot load the %s programs (CO-RE): %s",
				 fentry ? "fentry/fexit" : "kprobe", strerror(-rc));
	rc = attach_all(b, on, non, err, errlen);
	if (rc)
		return rc;
	b->rb = ring_buffer__new(bpf_map__fd(s->maps.events), on_event, b, NULL);
	if (!b->rb)
		return iopf_fail(err, errlen, -errno, "tap: BPF: no ring buffer: %s", strerror(errno));
	b->how = fentry ? "BPF fentry/fexit, CO-RE offsets from BTF"
			: "BPF kprobes, CO-RE offsets from BTF";
	return 0;
}

static int open_nobtf(struct tap_bpf *b, const struct tap_bpf_cfg *cfg, char *err, size_t errlen)
{
	struct tap_nobtf *s = tap_nobtf__open();
	const int *L = cfg->layout;
	int rc, ncpu = libbpf_num_possible_cpus();

	if (!s)
		return iopf_fail(err, errlen, errno ? -errno : -EINVAL,
				 "tap: BPF: cannot open the kprobe object: %s", strerror(errno));
	b->nobtf = s;
	s->rodata->filter_tgid = (uint32_t)(cfg->filter_tgid > 0 ? cfg->filter_tgid : 0);
	s->rodata->self_tgid = (uint32_t)cfg->self_tgid;
	s->rodata->off_prm = L[OFF_PRM];
	s->rodata->off_pr_flags = L[OFF_PR_FLAGS];
	s->rodata->off_pr_pasid = L[OFF_PR_PASID];
	s->rodata->off_pr_grpid = L[OFF_PR_GRPID];
	s->rodata->off_pr_perm = L[OFF_PR_PERM];
	s->rodata->off_pr_addr = L[OFF_PR_ADDR];
	s->rodata->off_obj_id = L[OFF_OBJ_ID];
	s->rodata->off_obj_type = L[OFF_OBJ_TYPE];
	s->rodata->off_hwpt_fault = L[OFF_HWPT_FAULT];
	s->rodata->off_handle_idev = L[OFF_HANDLE_IDEV];
	s->rodata->off_group_last = L[OFF_GROUP_LAST];
	s->rodata->off_group_cookie = L[OFF_GROUP_COOKIE];
	if (ncpu > 0) {
		bpf_map__set_max_entries(s->maps.scratch_rd, (uint32_t)ncpu);
		bpf_map__set_max_entries(s->maps.scratch_wr, (uint32_t)ncpu);
	}
	rc = tap_nobtf__load(s);
	if (rc)
		return iopf_fail(err, errlen, rc, "tap: BPF: cannot load the kprobe programs: %s",
				 strerror(-rc));
	struct bpf_program *on[] = { s->progs.kp_read, s->progs.kr_read, s->progs.kp_write,
				     s->progs.kr_write, s->progs.kp_report, s->progs.kp_ar, s->progs.kr_ar,
				     s->progs.kp_fd, s->progs.kr_fd, s->progs.kp_gr };

	rc = attach_all(b, on, ARRAY_SIZE(on), err, errlen);
	if (rc)
		return rc;
	b->rb = ring_buffer__new(bpf_map__fd(s->maps.events), on_event, b, NULL);
	if (!b->rb)
		return iopf_fail(err, errlen, -errno, "tap: BPF: no ring buffer: %s", strerror(errno));
	b->how = "BPF kprobes, the known 6.12 layout (no BTF)";
	return 0;
}

int tap_bpf_open(struct tap_bpf **bp, struct iopf_tap *t, const struct tap_bpf_cfg *cfg, char *err,
		 size_t errlen)
{
	struct tap_bpf *b = calloc(1, sizeof(*b));
	libbpf_print_fn_t old;
	int rc;

	*bp = NULL;
	if (!b)
		return iopf_fail(err, errlen, -ENOMEM, "tap: out of memory");
	b->tap = t;
	if (cfg->log)
		b->log = *cfg->log;
	bpf_log = &b->log;
	old = libbpf_set_print(libbpf_print);
	rc = tap_bpf_check(err, errlen);
	if (!rc && !cfg->btf && !cfg->layout)
		rc = iopf_fail(err, errlen, -ENOENT, "tap: BPF: no BTF (/sys/kernel/btf/vmlinux) and "
			       "no known layout of this kernel's structs");
	if (!rc && cfg->fentry && !cfg->btf)
		rc = iopf_fail(err, errlen, -ENOENT, "tap: BPF: fentry/fexit need the kernel's BTF "
			       "(/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF)");
	if (!rc && cfg->btf) {
		rc = open_core(b, cfg, cfg->fentry, err, errlen);
	} else if (!rc) {
		rc = open_nobtf(b, cfg, err, errlen);
	}
	libbpf_set_print(old);
	bpf_log = NULL;
	if (rc) {
		tap_bpf_close(b);
		return rc;
	}
	*bp = b;
	return 0;
}
