// SPDX-License-Identifier: MIT
/*
 * The tap: watch every iommufd fault queue of the machine without taking
 * a single fault.  Reading a fault fd consumes the faults, so instead the
 * tap asks the kernel, through kprobe events in tracefs, to show each
 * step as it happens, and turns the trace into capture records.
 * iopftool-monitor(8) and iopftool-capture(5) describe what the user sees.
 *
 * The kernel facts this file relies on (Linux 6.12; file: function):
 *
 *  - Documentation/trace/kprobetrace.rst: "p:GRP/EVENT SYM FETCHARGS" and
 *    "r:GRP/EVENT SYM FETCHARGS" appended to <tracefs>/kprobe_events create
 *    an entry and a return probe; "-:GRP/EVENT" deletes one.  $argN is the
 *    Nth argument (also in a return probe, since 6.10: saved at entry),
 *    $retval the return value, +OFF(X) a kernel memory fetch and +uOFF(X)
 *    a user memory fetch; each probe takes at most 128 arguments and its
 *    definition at most 3072 bytes.  Scalar user fetches work in 6.12,
 *    array fetches (:u32[10]) of user memory do not, so every field is its
 *    own argument.  A fetch that faults leaves a zero or stale value: every
 *    value read through a guessed offset is checked before it is used.
 *  - An instance (mkdir <tracefs>/instances/NAME) has its own ring buffer,
 *    trace_clock and event enables, so two taps do not disturb each other
 *    or the system's own tracing; the probes themselves are global, named
 *    by their group.  The group and the instance are "iopftool_<pid>": a
 *    later tap removes those whose pid is gone (a SIGKILLed tap).
 *  - trace_clock "mono" is CLOCK_MONOTONIC; trace_pipe shows it with
 *    microsecond resolution ("SECS.USECS:"), so latencies measured by the
 *    tap are multiples of 1 us.
 *
 *  - drivers/iommu/io-pgfault.c: iommu_report_device_fault(dev, evt): a
 *    page request as the device reported it.  evt is a struct iopf_fault
 *    (include/linux/iommu.h) whose fault.prm is at offset 8: flags +8,
 *    pasid +12, grpid +16, perm +20, addr +24.  These offsets follow from
 *    the struct definitions alone (no config-dependent member).
 *  - drivers/iommu/iommufd/fault.c: iommufd_fault_fops_read(filep, buf,
 *    count, ppos) copies whole groups of struct iommu_hwpt_pgfault into
 *    buf and returns the bytes copied; the cookie of each group is
 *    allocated there (xa_alloc into fault->response).  At its return the
 *    tap reads the records back from buf (user memory, +uOFF($arg2)),
 *    each record as five u64 fetches (a 40-byte struct, read in host byte
 *    order as memory holds it): TAP_RD_PER records per probe, and
 *    TAP_RD_PROBES return probes on the function, each fetching the next
 *    slice, so the first TAP_READ_RECS records of each read.  The probes
 *    of one return run back to back on one thread, in no promised order:
 *    the tap joins them by thread.
 *  - iommufd_fault_fops_write(filep, buf, count, ppos) takes responses
 *    (struct iommu_hwpt_page_response, 8 bytes) in order; it stops at the
 *    first refused one and returns the bytes accepted, or the errno when
 *    the first was refused.  The tap reads the first TAP_WRITE_RESPS
 *    (one u64 fetch each)
 *    responses at entry and the result at return.
 *  - iommufd_auto_response_faults(hwpt, handle): on detach or replace,
 *    the kernel answers INVALID every group of that device still queued or
 *    delivered (iopf_group_response(group, IOMMU_PAGE_RESP_INVALID)); no
 *    fd ever sees these.  iommufd_fault_destroy(obj) does the same for
 *    every group when the queue is destroyed.  struct iommufd_object
 *    (iommufd_private.h) starts every object (BUILD_BUG_ON in
 *    iommufd_object_alloc): type at +8, id at +12.  struct
 *    iommufd_hw_pagetable is {obj, domain, fault}: fault at +24.  struct
 *    iommufd_attach_handle is {handle (one pointer), idev}: idev at +8.
 *    So the queue is +12(+24($arg1)) and the device +12(+8($arg2)).
 *  - iopf_group_response(group, code): group->last_fault is at offset 0
 *    of struct iopf_group, so its prm fields are at the offsets above.
 *    The cookie's own offset depends on the build (struct work_struct
 *    grows with lockdep), so the tap matches an auto-responded group to
 *    the delivered groups of its queue by device, grpid, PASID and
 *    address instead.
 *  - The queue of a read or a write: filep->private_data is the struct
 *    iommufd_fault, whose obj.id is the fault object id (out_fault_id).
 *    The offset of private_data in struct file depends on the build, so
 *    the "cal" probe on iommufd_fault_fops_write fetches, for every
 *    candidate offset P in 0..248, the type and id at +8 and +12 of
 *    *(filep + P); the right P is the one where the type is
 *    IOMMUFD_OBJ_FAULT (6 in 6.12) on every write seen.  To calibrate at
 *    once and to learn which process and fd each file belongs to, the tap
 *    takes a copy of every fault fd it finds in /proc/PID/fd
 *    (lib/procfd.c) with pidfd_getfd(2) and writes zero bytes to it:
 *    the kernel's write returns 0 and answers nothing, and the cal event
 *    names the file.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "tap-int.h"

#define TAP_REC_WORDS	5	/* u64 fetches of one struct iommu_hwpt_pgfault */
#define TAP_RD_PER	25	/* records a read probe fetches: 125 words + f + r = 127 arguments */
#define TAP_RD_PROBES	4	/* return probes on iommufd_fault_fops_read */
#define TAP_READ_RECS	(TAP_RD_PER * TAP_RD_PROBES)	/* records fetched from each read's buffer */
_Static_assert(TAP_READ_RECS == IOPF_TAP_READ_RECORDS, "iopf.h says how many records a read shows");
#define TAP_WRITE_RESPS 120	/* responses fetched from each write's buffer (a u64 each) */
#define TAP_OBJ_FAULT	6	/* enum iommufd_object_type: IOMMUFD_OBJ_FAULT in 6.12 */
#define TAP_MAX_ARGS	128
#define TAP_HOLD_NS	1000000000ull	/* wait this long for a file's queue id */
#define TAP_RESP_PARTIAL 1u	/* RESPONSE payload flag: refused inside a partial write */

enum ev_kind { EV_REP, EV_RD, EV_RD1, EV_RD2, EV_RD3, EV_WR, EV_WRR, EV_CAL, EV_AR, EV_ARR, EV_FD, EV_FDR, EV_GR,
	       EV_COUNT };

/* Probe definitions; %s is the group.  Arguments are appended by build_probe(). */
static const struct probe_def {
	const char *event;
	char kind;		/* 'p' entry, 'r' return */
	const char *func;
	const char *args;	/* fixed arguments, more are added for rd, wr and cal */
} probe_defs[EV_COUNT] = {
	[EV_REP] = { "iopftap_rep", 'p', "iommu_report_device_fault", "" },
	[EV_RD] = { "iopftap_rd", 'r', "iommufd_fault_fops_read", "f=$arg1:x64 r=$retval:s64" },
	[EV_RD1] = { "iopftap_rd1", 'r', "iommufd_fault_fops_read", "f=$arg1:x64 r=$retval:s64" },
	[EV_RD2] = { "iopftap_rd2", 'r', "iommufd_fault_fops_read", "f=$arg1:x64 r=$retval:s64" },
	[EV_RD3] = { "iopftap_rd3", 'r', "iommufd_fault_fops_read", "f=$arg1:x64 r=$retval:s64" },
	[EV_WR] = { "iopftap_wr", 'p', "iommufd_fault_fops_write", "f=$arg1:x64 n=$arg3:u64" },
	[EV_WRR] = { "iopftap_wrr", 'r', "iommufd_fault_fops_write", "f=$arg1:x64 r=$retval:s64" },
	[EV_CAL] = { "iopftap_cal", 'p', "iommufd_fault_fops_write", "f=$arg1:x64" },
	[EV_AR] = { "iopftap_ar", 'p', "iommufd_auto_response_faults", "" },
	[EV_ARR] = { "iopftap_arr", 'r', "iommufd_auto_response_faults", "" },
	[EV_FD] = { "iopftap_fd", 'p', "iommufd_fault_destroy", "" },
	[EV_FDR] = { "iopftap_fdr", 'r', "iommufd_fault_destroy", "" },
	[EV_GR] = { "iopftap_gr", 'p', "iopf_group_response", "c=$arg2:u32" },
};

/*
 * Where the probes find things: the defaults follow from the 6.12 struct
 * definitions (see the top of this file); with BTF each is read from the
 * running kernel instead (lib/btf.c).  -1: unknown (found by
 * calibration, or unused).
 */
struct tap_layout {
	int prm;		/* struct iopf_fault: fault.prm */
	int pr_flags, pr_pasid, pr_grpid, pr_perm, pr_addr;	/* in iommu_fault_page_request */
	int obj_type, obj_id;	/* struct iommufd_object */
	int hwpt_fault;		/* struct iommufd_hw_pagetable: fault */
	int handle_idev;	/* struct iommufd_attach_handle: idev */
	int group_last;		/* struct iopf_group: last_fault */
	int group_cookie;	/* struct iopf_group: cookie */
	int file_private;	/* struct file: private_data */
	int64_t obj_fault;	/* IOMMUFD_OBJ_FAULT */
	bool btf;
};

static const struct tap_layout layout_612 = {
	.prm = 8, .pr_flags = 0, .pr_pasid = 4, .pr_grpid = 8, .pr_perm = 12, .pr_addr = 16,
	.obj_type = 8, .obj_id = 12, .hwpt_fault = 24, .handle_idev = 8, .group_last = 0,
	.group_cookie = -1, .file_private = -1, .obj_fault = TAP_OBJ_FAULT,
};

struct ev {
	enum ev_kind kind;
	uint32_t tid;
	uint64_t t_ns;		/* trace clock: CLOCK_MONOTONIC */
	uint64_t seen_ns;	/* when the tap parsed it (for the hold timeout) */
	unsigned nargs;
	struct {
		char k[6];
		uint64_t v;
	} a[TAP_MAX_ARGS];
};

struct file_info {
	uint64_t f;		/* struct file * */
	uint32_t q;		/* fault object id, 0 until known */
	int pid, fd;		/* -1: unknown */
	char comm[16];
	bool announced;		/* META record written */
	bool asked;		/* zero-length write attribution tried */
	bool warned;		/* queue id unknown: said once */
	struct iopf_write_memo memo;	/* its last write's refused response (lib/check.c) */
};

struct outstanding {
	uint32_t q, cookie, dev;
	uint64_t t_ns;
	struct iommu_hwpt_pgfault last;
};

/* A read's probes, joined by thread until all TAP_RD_PROBES have fired. */
struct pending_read {
	uint32_t tid;
	unsigned parts;		/* bit p: probe EV_RD + p seen */
	uint64_t f, t_ns;
	int64_t ret;
	struct iommu_hwpt_pgfault recs[TAP_READ_RECS];
};

struct pending_write {
	uint32_t tid;
	uint64_t f, n, t_ns;
	struct iommu_hwpt_page_response r[TAP_WRITE_RESPS];
};

struct bracket {		/* an auto response in progress on a thread */
	uint32_t tid, q, dev, reason;
};

struct tid_cache {
	uint32_t tid, tgid;
};

struct out_rec {
	struct iopf_rec r;
	uint8_t payload[512];
};

struct ev_slot {
	struct iopf_tap_event ev;
	size_t off, len;	/* its records or responses in the arena */
};

struct own_write {		/* a zero-length write of ours, waiting for its cal event */
	int pid, fd;
};

struct iopf_tap {
	struct iopf_log log;
	char tracefs[PATH_MAX];
	char group[48];
	int pipe_fd;
	int filter_pid, filter_fd;
	pid_t self;
	struct tap_layout lay;
	bool created[EV_COUNT];
	bool instance;
	int64_t rt_offset_ns;	/* CLOCK_REALTIME - CLOCK_MONOTONIC */
	/* calibration of private_data in struct file */
	uint32_t cal_mask;
	uint64_t cal_events;
	int cal_slot;		/* -1 until known */
	/* line assembly */
	char *lbuf;
	size_t llen, lcap;
	/* state */
	struct file_info *files;
	size_t nfiles, cfiles;
	struct outstanding *outs;
	size_t nouts, couts;
	struct pending_write *pw;
	size_t npw, cpw;
	struct pending_read *pr;
	size_t npr, cpr;
	struct bracket *br;
	size_t nbr, cbr;
	struct tid_cache *tids;
	size_t ntids, ctids;
	struct own_write *own;
	size_t own_head, nown, cown;
	/* events held while a file's queue is unknown */
	struct tap_raw *hold;
	size_t hold_head, nhold, chold;
	struct ev line_ev;	/* the trace line being parsed */
	struct tap_bpf *bpf;	/* the BPF back-end, or NULL: kprobe events */
	enum iopf_tap_backend backend;
	bool offline;		/* fed by a test: no /proc, no zero-length writes */
	bool events_mode;	/* cfg.events: typed events, no records */
	struct iommu_hwpt_pgfault *rdbuf;	/* one read's records, aligned */
	size_t crdbuf;
	struct ev_slot *evq;	/* events ready for the caller */
	size_t ev_head, nev, cev;
	uint8_t *arena;		/* their records and responses */
	size_t narena, carena;
	bool bpf_events;	/* events come from BPF: a write's responses after their group responses */
	char how[96];
	/* records ready for the caller */
	struct out_rec *outq;
	size_t out_head, nout, cout;
	struct iopf_tap_counts counts;
	char meta[1024];
};

/* ---- small helpers ------------------------------------------------------ */

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : 16;
	void *n;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	n = realloc(*p, c * size);
	if (!n)
		return -ENOMEM;
	*p = n;
	*cap = c;
	return 0;
}

/* Write s to tracefs file name (relative to the tracefs root); -errno. */
static int tfs_write(const struct iopf_tap *t, const char *name, const char *s, bool append)
{
	char path[PATH_MAX + 64];
	int fd, rc = 0;
	size_t len = strlen(s);

	snprintf(path, sizeof(path), "%s/%s", t->tracefs, name);
	fd = open(path, O_WRONLY | O_CLOEXEC | (append ? O_APPEND : O_TRUNC));
	if (fd < 0)
		return -errno;
	if (write(fd, s, len) != (ssize_t)len)
		rc = -errno ? -errno : -EIO;
	close(fd);
	return rc;
}

/* Read a whole small file into a malloc'd string; NULL on failure (errno set). */
static char *slurp(const char *path, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), e;
	char *buf;

	if (fd < 0)
		return NULL;
	buf = iopf_read_fd(fd, max, NULL, NULL);
	e = errno;
	close(fd);
	errno = e;
	return buf;
}

/* The kernel's explanation of the last failed probe definition, if any. */
static void last_error_log(const struct iopf_tap *t, char *buf, size_t len)
{
	char path[PATH_MAX + 32], *s, *line, *last = NULL, *save = NULL;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "%s/error_log", t->tracefs);
	s = slurp(path, 1 << 16);
	if (!s)
		return;
	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strstr(line, "trace_kprobe"))
			last = line;
	if (last) {
		while (isspace((unsigned char)*last))
			last++;
		snprintf(buf, len, " (kernel: %s)", last);
	}
	free(s);
}

bool iopf_tap_spec(const char *spec, int *pid, int *fd)
{
	uint64_t v;
	char buf[64], *colon;

	*pid = 0;
	*fd = -1;
	if (strncmp(spec, "tap", 3) || (spec[3] && spec[3] != ':'))
		return false;
	if (!spec[3])
		return true;
	snprintf(buf, sizeof(buf), "%s", spec + 4);
	colon = strchr(buf, ':');
	if (colon)
		*colon++ = '\0';
	if (iopf_u64_parse(buf, INT_MAX, &v) || !v) {
		*pid = -1;
		return true;
	}
	*pid = (int)v;
	if (colon) {
		if (iopf_u64_parse(colon, INT_MAX, &v)) {
			*pid = -1;
			return true;
		}
		*fd = (int)v;
	}
	return true;
}

/* ---- probe setup and teardown -------------------------------------------- */

/* Is sym a function in /proc/kallsyms?  1 yes, 0 no, -errno when unreadable. */
static int kallsyms_has(const char *kallsyms, const char *sym)
{
	size_t l = strlen(sym);

	for (const char *p = kallsyms; (p = strstr(p, sym)); p += l) {
		if (p > kallsyms && p[-1] == ' ' && (p[l] == '\n' || p[l] == '\0' || p[l] == '\t'))
			return 1;
	}
	return 0;
}

static int build_probe(const struct iopf_tap *t, enum ev_kind k, char *buf, size_t len)
{
	const struct probe_def *d = &probe_defs[k];
	size_t n = (size_t)snprintf(buf, len, "%c:%s/%s %s %s", d->kind, t->group, d->event, d->func,
				    d->args);

	const struct tap_layout *L = &t->lay;

	if (k == EV_REP || k == EV_GR) {
		int base = (k == EV_GR ? L->group_last : 0) + L->prm, a = k == EV_GR ? 1 : 2;

		n += (size_t)snprintf(buf + n, len - n,
				      " F=+%d($arg%d):u32 P=+%d($arg%d):u32 G=+%d($arg%d):u32"
				      " M=+%d($arg%d):u32 A=+%d($arg%d):x64",
				      base + L->pr_flags, a, base + L->pr_pasid, a, base + L->pr_grpid, a,
				      base + L->pr_perm, a, base + L->pr_addr, a);
		if (k == EV_GR && L->group_cookie >= 0 && n < len)
			n += (size_t)snprintf(buf + n, len - n, " k=+%d($arg1):u32", L->group_cookie);
	} else if (k == EV_AR) {
		n += (size_t)snprintf(buf + n, len - n, " q=+%d(+%d($arg1)):u32 d=+%d(+%d($arg2)):u32",
				      L->obj_id, L->hwpt_fault, L->obj_id, L->handle_idev);
	} else if (k == EV_FD) {
		n += (size_t)snprintf(buf + n, len - n, " q=+%d($arg1):u32", L->obj_id);
	} else if (k >= EV_RD && k <= EV_RD3) {
		/* slice k - EV_RD: records from (k - EV_RD) * TAP_RD_PER, five words each */
		int first = (k - EV_RD) * TAP_RD_PER * (int)IOPF_FAULT_SIZE;

		for (int w = 0; w < TAP_RD_PER * TAP_REC_WORDS && n < len; w++)
			n += (size_t)snprintf(buf + n, len - n, " w%d=+u%d($arg2):x64", w, first + w * 8);
	} else if (k == EV_WR) {
		for (int i = 0; i < TAP_WRITE_RESPS && n < len; i++)
			n += (size_t)snprintf(buf + n, len - n, " w%d=+u%d($arg2):x64", i, i * 8);
	} else if (k == EV_CAL) {
		for (int i = 0; i < TAP_CAL_SLOTS && n < len; i++)
			n += (size_t)snprintf(buf + n, len - n, " T%d=+%d(+%d($arg1)):u32 I%d=+%d(+%d($arg1)):u32",
					      i, L->obj_type, i * 8, i, L->obj_id, i * 8);
	}
	if (n >= len)
		return -E2BIG;
	return 0;
}

static void remove_group(const char *tracefs, const char *group, const struct iopf_log *log)
{
	char path[PATH_MAX + 64], *defs, *line, *save = NULL;

	/* Disable first: an event enabled in an instance cannot be deleted. */
	snprintf(path, sizeof(path), "%s/instances/%s", tracefs, group);
	if (rmdir(path) && errno != ENOENT)
		iopf_log_printf(log, IOPF_LOG_WARN, "tap: cannot remove %s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "%s/kprobe_events", tracefs);
	defs = slurp(path, 1 << 22);
	if (!defs)
		return;
	for (line = strtok_r(defs, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':'), *slash, *sp, cmd[256];
		int fd;

		if (!colon)
			continue;
		slash = strchr(colon, '/');
		sp = strchr(colon, ' ');
		if (!slash || !sp || slash > sp || (size_t)(slash - colon - 1) != strlen(group) ||
		    strncmp(colon + 1, group, strlen(group)))
			continue;
		*sp = '\0';
		snprintf(cmd, sizeof(cmd), "-:%s", colon + 1);
		fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd < 0 || write(fd, cmd, strlen(cmd)) < 0)
			iopf_log_printf(log, IOPF_LOG_WARN, "tap: cannot remove probe %s: %s", colon + 1,
					strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	free(defs);
}

/* Remove the probes and instances of taps whose process is gone. */
static void remove_stale(const char *tracefs, const struct iopf_log *log)
{
	char path[PATH_MAX + 300], *defs, *p;	/* tracefs + "/instances/" + a d_name */
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof(path), "%s/kprobe_events", tracefs);
	defs = slurp(path, 1 << 22);
	for (p = defs; p && (p = strstr(p, ":iopftool_")); p++) {
		char *end;
		long pid = strtol(p + 10, &end, 10);
		char group[48];

		if (*end != '/' || pid <= 0 || pid > INT_MAX || !(kill((pid_t)pid, 0) && errno == ESRCH))
			continue;
		snprintf(group, sizeof(group), "iopftool_%ld", pid);
		iopf_log_printf(log, IOPF_LOG_INFO, "tap: removing the stale probes of %s (pid %ld is gone)",
				group, pid);
		remove_group(tracefs, group, log);
		free(defs);
		defs = slurp(path, 1 << 22);	/* start over on the shorter list */
		p = defs ? defs - 1 : NULL;
	}
	free(defs);
	snprintf(path, sizeof(path), "%s/instances", tracefs);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		char *end;
		long pid;

		if (strncmp(de->d_name, "iopftool_", 9))
			continue;
		pid = strtol(de->d_name + 9, &end, 10);
		if (*end || pid <= 0 || !(kill((pid_t)pid, 0) && errno == ESRCH))
			continue;
		snprintf(path, sizeof(path), "%s/instances/%s", tracefs, de->d_name);
		if (rmdir(path) == 0)
			iopf_log_printf(log, IOPF_LOG_INFO, "tap: removed the stale instance %s", de->d_name);
	}
	if (d)
		closedir(d);
}

static int find_tracefs(struct iopf_tap *t, const char *given, char *err, size_t errlen)
{
	static const char *const dirs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	char path[PATH_MAX + 32];

	if (given) {
		snprintf(t->tracefs, sizeof(t->tracefs), "%s", given);
	} else {
		for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
			snprintf(path, sizeof(path), "%s/trace", dirs[i]);
			if (!access(path, F_OK)) {
				snprintf(t->tracefs, sizeof(t->tracefs), "%s", dirs[i]);
				break;
			}
		}
		if (!t->tracefs[0])
			return iopf_fail(err, errlen, -ENOENT,
					 "tap: no tracefs: mount it (mount -t tracefs nodev /sys/kernel/tracing); "
					 "the kernel needs CONFIG_FTRACE and CONFIG_KPROBE_EVENTS");
	}
	snprintf(path, sizeof(path), "%s/trace", t->tracefs);
	if (access(path, F_OK))
		return iopf_fail(err, errlen, -ENOENT,
				 "tap: %s is not a tracefs mount (no %s): mount -t tracefs nodev %s",
				 t->tracefs, path, t->tracefs);
	snprintf(path, sizeof(path), "%s/kprobe_events", t->tracefs);
	if (access(path, F_OK))
		return iopf_fail(err, errlen, -ENOENT,
				 "tap: %s missing: the kernel needs CONFIG_KPROBES and CONFIG_KPROBE_EVENTS",
				 path);
	if (access(path, W_OK))
		return iopf_fail(err, errlen, -EACCES,
				 "tap: cannot write %s: %s; the tap needs root (CAP_SYS_ADMIN and "
				 "CAP_PERFMON)", path, strerror(errno));
	return 0;
}

static int create_probes(struct iopf_tap *t, char *err, size_t errlen)
{
	char *kallsyms = slurp("/proc/kallsyms", 1 << 28), def[3072], klog[512], path[PATH_MAX + 96];
	bool have_kallsyms = kallsyms && kallsyms[0];
	int rc = 0;

	for (int k = 0; !rc && k < EV_COUNT; k++) {
		const char *fn = probe_defs[k].func;

		if (have_kallsyms && !kallsyms_has(kallsyms, fn)) {
			rc = iopf_fail(err, errlen, -ENOENT,
				       "tap: kernel function %s is not in /proc/kallsyms: the kernel needs "
				       "CONFIG_IOMMUFD (with CONFIG_IOMMU_IOPF) and CONFIG_KALLSYMS, and the "
				       "function must not be inlined in this build", fn);
			break;
		}
		rc = build_probe(t, (enum ev_kind)k, def, sizeof(def));
		if (rc) {
			rc = iopf_fail(err, errlen, rc, "tap: probe %s is too long", probe_defs[k].event);
			break;
		}
		rc = tfs_write(t, "kprobe_events", def, true);
		if (rc) {
			last_error_log(t, klog, sizeof(klog));
			if (rc == -EPERM || rc == -EACCES)
				rc = iopf_fail(err, errlen, rc,
					       "tap: the kernel refused a kprobe on %s: %s%s; kernel lockdown "
					       "(/sys/kernel/security/lockdown) forbids kprobes, and the tap "
					       "needs root", fn, strerror(-rc), klog);
			else
				rc = iopf_fail(err, errlen, rc,
					       "tap: cannot probe %s: %s%s; the kernel needs CONFIG_KPROBE_EVENTS "
					       "(6.10 or later for arguments at return) and %s not inlined",
					       fn, strerror(-rc), klog, fn);
			break;
		}
		t->created[k] = true;
	}
	free(kallsyms);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "%s/instances/%s", t->tracefs, t->group);
	if (mkdir(path, 0700) && errno != EEXIST)
		return iopf_fail(err, errlen, -errno, "tap: cannot create the trace instance %s: %s",
				 path, strerror(errno));
	t->instance = true;
	snprintf(path, sizeof(path), "instances/%s/trace_clock", t->group);
	rc = tfs_write(t, path, "mono", false);
	if (rc)
		return iopf_fail(err, errlen, rc, "tap: cannot set %s/%s to mono: %s", t->tracefs, path,
				 strerror(-rc));
	snprintf(path, sizeof(path), "instances/%s/buffer_size_kb", t->group);
	if (tfs_write(t, path, "4096", false))
		iopf_log_printf(&t->log, IOPF_LOG_WARN, "tap: cannot grow the trace buffer; keeping its size");
	snprintf(path, sizeof(path), "instances/%s/events/%s/enable", t->group, t->group);
	rc = tfs_write(t, path, "1", false);
	if (rc)
		return iopf_fail(err, errlen, rc, "tap: cannot enable %s/%s: %s", t->tracefs, path,
				 strerror(-rc));
	snprintf(path, sizeof(path), "%s/instances/%s/trace_pipe", t->tracefs, t->group);
	t->pipe_fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (t->pipe_fd < 0)
		return iopf_fail(err, errlen, -errno, "tap: cannot open %s: %s", path, strerror(errno));
	return 0;
}

/* The layout of this kernel: BTF when it has it, else the 6.12 defaults. */
static void load_layout(struct iopf_tap *t)
{
	static const char btf[] = "/sys/kernel/btf/vmlinux";
	struct tap_layout *L = &t->lay;
	const struct {
		const char *type, *member;
		int *dst;
	} m[] = {
		{ "iopf_fault", "fault", NULL }, { "iommu_fault", "prm", NULL },
		{ "iommu_fault_page_request", "flags", &L->pr_flags },
		{ "iommu_fault_page_request", "pasid", &L->pr_pasid },
		{ "iommu_fault_page_request", "grpid", &L->pr_grpid },
		{ "iommu_fault_page_request", "perm", &L->pr_perm },
		{ "iommu_fault_page_request", "addr", &L->pr_addr },
		{ "iommufd_object", "type", &L->obj_type }, { "iommufd_object", "id", &L->obj_id },
		{ "iommufd_hw_pagetable", "fault", &L->hwpt_fault },
		{ "iommufd_attach_handle", "idev", &L->handle_idev },
		{ "iopf_group", "last_fault", &L->group_last },
		{ "iopf_group", "cookie", &L->group_cookie },
		{ "file", "private_data", &L->file_private },
	};
	uint32_t off, prm[2] = { 0, 8 };
	int found = 0, rc;

	*L = layout_612;
	if (access(btf, R_OK))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(m); i++) {
		rc = iopf_btf_member_offset(btf, m[i].type, m[i].member, &off);
		if (rc) {
			iopf_log_printf(&t->log, IOPF_LOG_DEBUG, "tap: BTF: no %s.%s (%s): using the 6.12 layout",
					m[i].type, m[i].member, strerror(-rc));
			continue;
		}
		found++;
		if (m[i].dst)
			*m[i].dst = (int)off;
		else
			prm[i] = off;
	}
	L->prm = (int)(prm[0] + prm[1]);
	int64_t v;

	if (!iopf_btf_enum_value(btf, "IOMMUFD_OBJ_FAULT", &v))
		L->obj_fault = v;
	L->btf = found > 0;
	if (L->file_private >= 0 && (L->file_private % 8 || L->file_private / 8 >= TAP_CAL_SLOTS))
		L->file_private = -1;	/* out of the calibration window: calibrate */
}

/* ---- attribution: which process and fd holds each file ----------------------- */

static struct file_info *file_find(struct iopf_tap *t, uint64_t f)
{
	for (size_t i = 0; i < t->nfiles; i++)
		if (t->files[i].f == f)
			return &t->files[i];
	return NULL;
}

static struct file_info *file_get(struct iopf_tap *t, uint64_t f)
{
	struct file_info *fi = file_find(t, f);

	if (fi || grow((void **)&t->files, &t->cfiles, t->nfiles + 1, sizeof(*t->files)))
		return fi;
	fi = &t->files[t->nfiles++];
	*fi = (struct file_info){ .f = f, .pid = -1, .fd = -1 };
	return fi;
}

/*
 * Write zero bytes to a copy of every fault fd of pid (0: of every
 * process): the cal event of each write names its struct file.
 */
static int ask_files(struct iopf_tap *t, int pid, int only_fd)
{
	struct iopf_proc_fd *list;
	size_t n;
	int rc = iopf_proc_scan(&list, &n, pid), asked = 0;

	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		int pfd, fd;

		if (list[i].kind != IOPF_PROC_FAULT_FD || list[i].pid == t->self ||
		    (only_fd >= 0 && list[i].fd != only_fd))
			continue;
		pfd = (int)syscall(__NR_pidfd_open, list[i].pid, 0);
		fd = pfd < 0 ? -1 : (int)syscall(__NR_pidfd_getfd, pfd, list[i].fd, 0);
		if (fd < 0) {
			iopf_log_printf(&t->log, IOPF_LOG_DEBUG, "tap: cannot copy fd %d of pid %d: %s",
					list[i].fd, list[i].pid, strerror(errno));
		} else if (!grow((void **)&t->own, &t->cown, t->nown + 1, sizeof(*t->own))) {
			/* The kernel takes fault->mutex, finds no response and returns 0. */
			if (write(fd, "", 0) == 0) {
				t->own[t->nown++] = (struct own_write){ list[i].pid, list[i].fd };
				asked++;
			}
		}
		if (fd >= 0)
			close(fd);
		if (pfd >= 0)
			close(pfd);
	}
	free(list);
	return asked;
}

/* ---- output records -------------------------------------------------------- */

static struct out_rec *emit(struct iopf_tap *t, uint8_t type, uint32_t q, uint64_t t_ns)
{
	struct out_rec *o;
	int64_t rt;

	if (t->events_mode)
		return NULL;	/* typed events instead */
	if (t->out_head && t->out_head == t->nout)
		t->out_head = t->nout = 0;
	if (grow((void **)&t->outq, &t->cout, t->nout + 1, sizeof(*t->outq)))
		return NULL;
	o = &t->outq[t->nout++];
	memset(&o->r, 0, sizeof(o->r));
	o->r.version = IOPF_REC_VERSION;
	o->r.hdr_len = IOPF_REC_HDR_LEN;
	o->r.type = type;
	o->r.queue_id = q;
	rt = (int64_t)t_ns + t->rt_offset_ns;
	o->r.ts.tv_sec = (time_t)(rt / 1000000000);
	o->r.ts.tv_nsec = (long)(rt % 1000000000);
	return o;
}

static void emit_meta(struct iopf_tap *t, uint64_t t_ns, const char *text)
{
	struct out_rec *o = emit(t, IOPF_REC_META, 0, t_ns);
	size_t len = strlen(text);

	if (!o)
		return;
	if (len > sizeof(o->payload))
		len = sizeof(o->payload);
	memcpy(o->payload, text, len);
	o->r.payload = o->payload;
	o->r.payload_len = len;
}

/* Queue a typed event (cfg.events), with a copy of len bytes of records or responses. */
static void push_event(struct iopf_tap *t, const struct iopf_tap_event *ev, const void *data, size_t len)
{
	struct ev_slot *e;

	if (!t->events_mode)
		return;
	if (t->ev_head && t->ev_head == t->nev)
		t->ev_head = t->nev = t->narena = 0;
	if (grow((void **)&t->evq, &t->cev, t->nev + 1, sizeof(*t->evq)) ||
	    grow((void **)&t->arena, &t->carena, t->narena + len + 8, 1))
		return;
	e = &t->evq[t->nev++];
	e->ev = *ev;
	e->off = t->narena;
	e->len = len;
	if (len)
		memcpy(t->arena + t->narena, data, len);
	t->narena += (len + 7) & ~(size_t)7;
}

static void event_who(struct iopf_tap_event *ev, const struct tap_raw *r, const struct file_info *fi,
		      uint32_t tgid)
{
	ev->pid = (int)tgid;
	ev->tid = (int)r->tid;
	ev->fd = fi && fi->pid == (int)tgid ? fi->fd : -1;
	if (r->comm[0])
		snprintf(ev->comm, sizeof(ev->comm), "%s", r->comm);
	else if (fi && fi->comm[0])
		snprintf(ev->comm, sizeof(ev->comm), "%s", fi->comm);
}

static void announce(struct iopf_tap *t, struct file_info *fi, uint64_t t_ns)
{
	char text[256];

	if (fi->announced || !fi->q)
		return;
	fi->announced = true;
	if (fi->pid > 0 && fi->fd >= 0)
		snprintf(text, sizeof(text), "tap.queue.%u=pid %d fd %d comm %s\n", fi->q, fi->pid,
			 fi->fd, fi->comm);
	else if (fi->pid > 0)
		snprintf(text, sizeof(text), "tap.queue.%u=pid %d comm %s\n", fi->q, fi->pid, fi->comm);
	else
		return;
	emit_meta(t, t_ns, text);
}

/* ---- event decoding ---------------------------------------------------------- */

static bool arg(const struct ev *e, const char *k, uint64_t *v)
{
	for (unsigned i = 0; i < e->nargs; i++)
		if (!strcmp(e->a[i].k, k)) {
			*v = e->a[i].v;
			return true;
		}
	return false;
}

static uint32_t arg32(const struct ev *e, const char *k)
{
	uint64_t v = 0;

	arg(e, k, &v);
	return (uint32_t)v;
}

static uint64_t arg64(const struct ev *e, const char *k)
{
	uint64_t v = 0;

	arg(e, k, &v);
	return v;
}

static uint32_t tgid_of(struct iopf_tap *t, uint32_t tid)
{
	char path[64], *s, *p;
	uint32_t tgid = tid;

	for (size_t i = 0; i < t->ntids; i++)
		if (t->tids[i].tid == tid)
			return t->tids[i].tgid;
	snprintf(path, sizeof(path), "/proc/%u/status", tid);
	s = slurp(path, 1 << 16);
	if (s && (p = strstr(s, "\nTgid:")))
		tgid = (uint32_t)strtoul(p + 6, NULL, 10);
	free(s);
	if (s && !grow((void **)&t->tids, &t->ctids, t->ntids + 1, sizeof(*t->tids)))
		t->tids[t->ntids++] = (struct tid_cache){ tid, tgid };
	return tgid;
}

/*
 * One trace_pipe line:
 *   COMM-TID [CPU] FLAGS SECS.USECS: EVENT: (LOCATION) k=v k=v ...
 * COMM may hold spaces and dashes, so the line is parsed from the event
 * name outwards.  Returns false for a line that is not one of ours.
 */
static bool parse_line(char *line, struct ev *e)
{
	char *p = strstr(line, ": iopftap_"), *q, *name, *end;
	unsigned long long sec, usec;

	if (!p)
		return false;
	name = p + 2;
	end = strchr(name, ':');
	if (!end)
		return false;
	*end = '\0';
	e->kind = EV_COUNT;
	for (int k = 0; k < EV_COUNT; k++)
		if (!strcmp(name, probe_defs[k].event))
			e->kind = (enum ev_kind)k;
	if (e->kind == EV_COUNT)
		return false;
	/* timestamp: the token ending at p */
	*p = '\0';
	q = strrchr(line, ' ');
	if (!q || sscanf(q + 1, "%llu.%llu", &sec, &usec) != 2)
		return false;
	e->t_ns = sec * 1000000000ull + usec * 1000ull;
	/* tid: the number before " [CPU]" */
	q = strstr(line, " [");
	if (!q)
		return false;
	while (q > line && q[-1] == ' ')
		q--;
	char *d = q;
	while (d > line && isdigit((unsigned char)d[-1]))
		d--;
	if (d == q || d == line || d[-1] != '-')
		return false;
	e->tid = (uint32_t)strtoul(d, NULL, 10);
	/* arguments after the location's ')' */
	p = strchr(end + 1, ')');
	if (!p)
		return false;
	e->nargs = 0;
	char *save = NULL;

	for (char *tok = strtok_r(p + 1, " \n", &save); tok && e->nargs < TAP_MAX_ARGS;
	     tok = strtok_r(NULL, " \n", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq || eq - tok >= (long)sizeof(e->a[0].k))
			continue;
		memcpy(e->a[e->nargs].k, tok, (size_t)(eq - tok));
		e->a[e->nargs].k[eq - tok] = '\0';
		if (eq[1] == '-')
			e->a[e->nargs].v = (uint64_t)strtoll(eq + 1, NULL, 0);
		else
			e->a[e->nargs].v = strtoull(eq + 1, NULL, 0);
		e->nargs++;
	}
	return true;
}

/* ---- event handling: one decoder for both back-ends ------------------------------ */

static bool wanted_pid(const struct iopf_tap *t, uint32_t tgid)
{
	return t->filter_pid <= 0 || (uint32_t)t->filter_pid == tgid;
}

static bool wanted_file(const struct iopf_tap *t, const struct file_info *fi, uint32_t tgid)
{
	if (!wanted_pid(t, tgid))
		return false;
	return t->filter_fd < 0 || (fi && fi->pid == t->filter_pid && fi->fd == t->filter_fd);
}

static void set_file_offset(struct iopf_tap *t)
{
	if (t->bpf)
		tap_bpf_set_file_offset(t->bpf, t->cal_slot >= 0 ? t->cal_slot * 8 : -1);
}

/*
 * A zero-length write: calibrates the offset of private_data in struct
 * file (when the back-end could not read the queue id itself) and names
 * the file's process (and fd, when the write is ours).
 */
static void on_cal(struct iopf_tap *t, const struct tap_raw *r, uint32_t tgid)
{
	struct file_info *fi;

	if (r->data && r->len >= TAP_CAL_SLOTS * 8) {
		uint32_t mask = 0;

		for (int i = 0; i < TAP_CAL_SLOTS; i++) {
			uint32_t type, id;

			memcpy(&type, r->data + 8 * i, 4);
			memcpy(&id, r->data + 8 * i + 4, 4);
			if (type == (uint64_t)t->lay.obj_fault && id && id < (1u << 31))
				mask |= 1u << i;
		}
		t->cal_mask = t->cal_events++ ? t->cal_mask & mask : mask;
		if (t->cal_slot < 0 && t->cal_mask) {
			t->cal_slot = __builtin_ctz(t->cal_mask);
			iopf_log_printf(&t->log, IOPF_LOG_DEBUG,
					"tap: struct file private_data at offset %d (from %llu writes%s)",
					t->cal_slot * 8, (unsigned long long)t->cal_events,
					t->cal_mask & (t->cal_mask - 1) ? ", more than one candidate left" : "");
			set_file_offset(t);
		} else if (t->cal_slot >= 0 && !(t->cal_mask & (1u << t->cal_slot))) {
			/* The offset we used is contradicted: take the next candidate, if any. */
			t->cal_slot = t->cal_mask ? __builtin_ctz(t->cal_mask) : -1;
			iopf_log_printf(&t->log, IOPF_LOG_WARN, "tap: struct file offset recalibrated (%d)",
					t->cal_slot * 8);
			set_file_offset(t);
		}
	}
	fi = file_get(t, r->file);
	if (!fi)
		return;
	if (r->has_queue) {
		if (fi->q != r->queue)
			fi->announced = false;
		fi->q = r->queue;
	} else if (t->cal_slot >= 0 && r->data) {
		uint32_t id;

		memcpy(&id, r->data + 8 * t->cal_slot + 4, 4);
		if (fi->q != id)
			fi->announced = false;
		fi->q = id;
	}
	if (tgid == (uint32_t)t->self && t->own_head < t->nown) {
		/* our own zero-length write: names the file of (pid, fd) */
		struct own_write *w = &t->own[t->own_head++];

		if (fi->fd != w->fd)
			fi->announced = false;	/* say it again, with the fd */
		fi->pid = w->pid;
		fi->fd = w->fd;
		iopf_proc_comm(w->pid, fi->comm, sizeof(fi->comm));
	} else if (tgid != (uint32_t)t->self && fi->pid < 0) {
		fi->pid = (int)tgid;
		if (r->comm[0])
			snprintf(fi->comm, sizeof(fi->comm), "%s", r->comm);
		else
			iopf_proc_comm((int)tgid, fi->comm, sizeof(fi->comm));
	}
	if (t->own_head == t->nown)
		t->own_head = t->nown = 0;
	announce(t, fi, r->t_ns);
}

static struct outstanding *out_find(struct iopf_tap *t, uint32_t q, uint32_t cookie)
{
	for (size_t i = t->nouts; i-- > 0;)
		if (t->outs[i].q == q && t->outs[i].cookie == cookie)
			return &t->outs[i];
	return NULL;
}

static void out_drop(struct iopf_tap *t, struct outstanding *o)
{
	*o = t->outs[--t->nouts];
}

struct read_ctx {
	struct iopf_tap *t;
	const struct tap_raw *r;
	const struct file_info *fi;
	uint32_t tgid, q;
};

/* One group of a read (lib/group.c's rule): DELIVERY, its FAULT records, and outstanding. */
static int read_group(void *ctx, struct iopf_group *g)
{
	struct read_ctx *c = ctx;
	struct iopf_tap *t = c->t;
	const struct file_info *fi = c->fi;
	struct out_rec *o = emit(t, IOPF_REC_DELIVERY, c->q, c->r->t_ns);

	if (o) {
		uint8_t *p = o->payload;

		memset(p, 0, 40);
		iopf_put_le32(p + 0, g->cookie);
		iopf_put_le32(p + 4, (uint32_t)g->n);
		iopf_put_le32(p + 8, c->tgid);
		iopf_put_le32(p + 12, c->r->tid);
		iopf_put_le32(p + 16, fi && fi->fd >= 0 ? (uint32_t)fi->fd : UINT32_MAX);
		iopf_put_le32(p + 20, g->last.dev_id);
		if (fi && fi->comm[0])
			memcpy(p + 24, fi->comm, strnlen(fi->comm, 16));
		o->r.payload = p;
		o->r.payload_len = 40;
	}
	for (size_t j = 0; j < g->n; j++) {
		o = emit(t, IOPF_REC_FAULT, c->q, c->r->t_ns);
		if (o)
			o->r.u.fault = g->recs[j];
	}
	if (!grow((void **)&t->outs, &t->couts, t->nouts + 1, sizeof(*t->outs)))
		t->outs[t->nouts++] = (struct outstanding){ c->q, g->cookie, g->last.dev_id, c->r->t_ns,
							    g->last };
	t->counts.groups++;
	return 0;
}

/* A read returned: its groups (DELIVERY + FAULT records), and LOST for records not copied. */
static void on_read(struct iopf_tap *t, const struct tap_raw *r, struct file_info *fi, uint32_t tgid)
{
	size_t nrec, fetched;
	struct read_ctx c = { t, r, fi, tgid, fi ? fi->q : 0 };
	struct iopf_tap_event ev = { .kind = IOPF_TAP_EV_READ, .queue = c.q, .t_ns = r->t_ns,
				     .ret = r->ret, .count = r->count };

	event_who(&ev, r, fi, tgid);
	nrec = r->ret > 0 ? (size_t)((uint64_t)r->ret / IOPF_FAULT_SIZE) : 0;
	fetched = r->fault ? 0 : r->len / IOPF_FAULT_SIZE;
	if (fetched > nrec)
		fetched = nrec;
	if (fetched && !grow((void **)&t->rdbuf, &t->crdbuf, fetched, sizeof(*t->rdbuf))) {
		memcpy(t->rdbuf, r->data, fetched * IOPF_FAULT_SIZE);
		iopf_group_split(c.q, t->rdbuf, fetched, r->t_ns, read_group, &c);
	} else {
		fetched = 0;
	}
	ev.n = fetched;
	ev.total = nrec;
	push_event(t, &ev, t->rdbuf, fetched * IOPF_FAULT_SIZE);
	if (r->ret <= 0)
		return;
	t->counts.faults += fetched;
	t->counts.reads++;
	if (nrec > fetched) {
		struct out_rec *o = emit(t, IOPF_REC_LOST, c.q, r->t_ns);

		if (o)
			o->r.u.lost = nrec - fetched;
		t->counts.lost += nrec - fetched;
	}
}

/*
 * One response of a write, with the kernel's verdict: status 0 accepted,
 * else the errno; flags TAP_RESP_* (iopftool-capture(5): the RESPONSE
 * payload's tap fields).
 */
static void response(struct iopf_tap *t, uint32_t q, const struct iommu_hwpt_page_response *r,
		     uint32_t status, uint32_t index, uint32_t flags, uint64_t t_ns)
{
	struct out_rec *o = emit(t, IOPF_REC_RESPONSE, q, t_ns);
	struct outstanding *g = status ? NULL : out_find(t, q, r->cookie);

	t->counts.responses++;
	t->counts.refused += status != 0;
	if (o) {
		o->r.u.resp = *r;
		o->r.status = status;
		iopf_resp_encode(r, o->payload);
		iopf_put_le32(o->payload + 8, index);
		iopf_put_le32(o->payload + 12, flags);
		o->r.payload = o->payload;
		o->r.payload_len = 16;
		if (g)
			o->r.latency_ns = t_ns > g->t_ns ? t_ns - g->t_ns : 0;
	}
	if (g)
		out_drop(t, g);
}

/*
 * A write returned.  The kernel takes responses in order and stops at the
 * first it refuses: a count ret > 0 short of what was given accepted
 * ret / 8 and refused the next one (with -EINVAL: a bad code or an
 * unknown cookie, the only refusals after a readable one), and never
 * looked at the rest; ret < 0 refused the first.
 */
static void on_write(struct iopf_tap *t, const struct tap_raw *r, struct file_info *fi,
		     uint32_t tgid)
{
	uint32_t q = fi ? fi->q : 0;
	uint64_t given = r->count / IOPF_RESP_SIZE, have = r->fault ? 0 : r->len / IOPF_RESP_SIZE;
	uint64_t accepted = r->ret > 0 ? (uint64_t)r->ret / IOPF_RESP_SIZE : 0;
	struct iommu_hwpt_page_response resp;
	struct iopf_tap_event ev = { .kind = IOPF_TAP_EV_WRITE, .queue = q, .t_ns = r->t_ns,
				     .ret = r->ret, .count = r->count, .total = given,
				     .accepted = accepted };

	struct iopf_write_memo none = { 0 };
	struct iopf_write_verdict v;

	if (have > given)
		have = given;
	iopf_write_judge(fi ? &fi->memo : &none, r->data, given, have, r->ret, &v);
	accepted = ev.accepted = v.accepted;
	ev.refused_errno = v.refused_errno;
	ev.refused_partial = v.partial;
	ev.retry = v.retry;
	ev.n = have;
	event_who(&ev, r, fi, tgid);
	push_event(t, &ev, r->data, have * IOPF_RESP_SIZE);
	for (uint64_t i = 0; i < accepted && i < have; i++) {
		memcpy(&resp, r->data + i * IOPF_RESP_SIZE, IOPF_RESP_SIZE);
		response(t, q, &resp, 0, (uint32_t)i, 0, r->t_ns);
	}
	if (accepted > have) {
		struct out_rec *o = emit(t, IOPF_REC_LOST, q, r->t_ns);

		if (o)
			o->r.u.lost = accepted - have;
		t->counts.lost += accepted - have;
	}
	if (ev.refused_errno && accepted < have) {
		memcpy(&resp, r->data + accepted * IOPF_RESP_SIZE, IOPF_RESP_SIZE);
		if (ev.retry)
			t->counts.retried++;
		else
			response(t, q, &resp, ev.refused_errno, (uint32_t)accepted,
				 ev.refused_partial ? TAP_RESP_PARTIAL : 0, r->t_ns);
		t->counts.unexamined += given - accepted - 1;
	}
}

static struct bracket *bracket_of(struct iopf_tap *t, uint32_t tid)
{
	for (size_t i = 0; i < t->nbr; i++)
		if (t->br[i].tid == tid)
			return &t->br[i];
	return NULL;
}

static bool queue_wanted(const struct iopf_tap *t, uint32_t q)
{
	if (t->filter_pid <= 0)
		return true;
	for (size_t i = 0; i < t->nfiles; i++)
		if (t->files[i].q == q && t->files[i].pid == t->filter_pid &&
		    (t->filter_fd < 0 || t->files[i].fd == t->filter_fd))
			return true;
	return false;
}

static bool write_in_progress(const struct iopf_tap *t, uint32_t tid)
{
	for (size_t i = 0; i < t->npw; i++)
		if (t->pw[i].tid == tid)
			return true;
	return false;
}

static void on_group_response(struct iopf_tap *t, const struct tap_raw *r)
{
	struct bracket *b = bracket_of(t, r->tid);
	struct outstanding *g = NULL;
	const struct tap_prm *P = &r->prm;
	struct out_rec *o;
	struct bracket none = { r->tid, 0, 0, 0 };

	if (!b) {
		/*
		 * Not inside iommufd_auto_response_faults() or
		 * iommufd_fault_destroy() (a build may inline them into their
		 * callers): a response outside every handler write on this
		 * thread is still the kernel's own, if it answers a group we saw
		 * delivered.  (The kprobe-event back-end knows the writes in
		 * progress; the BPF programs send no response given inside a
		 * write of a fault fd.)  Reason 0, unknown.
		 */
		if (write_in_progress(t, r->tid))
			return;	/* a handler's own response, seen at its write */
		b = &none;
	}
	if (b != &none && !queue_wanted(t, b->q))
		return;
	/* The delivered group of this queue and device with the same last fault, oldest first. */
	for (size_t i = 0; i < t->nouts; i++) {
		struct outstanding *c = &t->outs[i];

		if (r->has_cookie && c->cookie != r->cookie)
			continue;
		if ((b == &none || c->q == b->q) && (b->reason != 1 || c->dev == b->dev) &&
		    c->last.grpid == P->grpid && c->last.addr == P->addr &&
		    ((c->last.flags ^ P->flags) & IOMMU_PGFAULT_FLAGS_PASID_VALID) == 0 &&
		    (!(P->flags & IOMMU_PGFAULT_FLAGS_PASID_VALID) || c->last.pasid == P->pasid) &&
		    (!g || c->t_ns < g->t_ns))
			g = c;
	}
	if (b == &none) {
		if (!g || !queue_wanted(t, g->q))
			return;	/* not a group of a queue we watch */
		none.q = g->q;
		none.dev = g->dev;
	}
	o = emit(t, IOPF_REC_AUTO_RESPONSE, b->q, r->t_ns);
	if (o) {
		uint8_t *p = o->payload;

		iopf_put_le32(p + 0, g ? g->cookie : 0);
		iopf_put_le32(p + 4, r->aux);
		iopf_put_le32(p + 8, g ? g->dev : b->dev);
		iopf_put_le32(p + 12, b->reason);
		iopf_put_le32(p + 16, P->grpid);
		iopf_put_le32(p + 20, P->pasid);
		iopf_put_le32(p + 24, P->flags);
		iopf_put_le32(p + 28, P->perm);
		iopf_put_le64(p + 32, P->addr);
		o->r.payload = p;
		o->r.payload_len = 40;
		o->r.latency_ns = g && r->t_ns > g->t_ns ? r->t_ns - g->t_ns : 0;
	}
	t->counts.auto_responses++;
	struct iopf_tap_event ev = {
		.kind = IOPF_TAP_EV_AUTO, .queue = b->q, .t_ns = r->t_ns, .fd = -1,
		.cookie = g ? g->cookie : 0, .code = r->aux, .dev = g ? g->dev : b->dev,
		.reason = b->reason,
		.latency_ns = g && r->t_ns > g->t_ns ? r->t_ns - g->t_ns : 0,
		.fault = { .flags = P->flags, .pasid = P->pasid, .grpid = P->grpid, .perm = P->perm,
			   .addr = P->addr, .cookie = g ? g->cookie : 0,
			   .dev_id = g ? g->dev : b->dev },
	};
	push_event(t, &ev, NULL, 0);
	if (g)
		out_drop(t, g);
}

static void on_reported(struct iopf_tap *t, const struct tap_raw *r)
{
	struct out_rec *o;

	t->counts.reported++;
	if (t->filter_pid > 0)
		return;		/* not attributable to a process */
	struct iopf_tap_event ev = {
		.kind = IOPF_TAP_EV_REPORTED, .t_ns = r->t_ns, .fd = -1,
		.fault = { .flags = r->prm.flags, .pasid = r->prm.pasid, .grpid = r->prm.grpid,
			   .perm = r->prm.perm, .addr = r->prm.addr },
	};
	push_event(t, &ev, NULL, 0);
	o = emit(t, IOPF_REC_REPORTED, 0, r->t_ns);
	if (!o)
		return;
	struct iommu_hwpt_pgfault f = {
		.flags = r->prm.flags, .pasid = r->prm.pasid, .grpid = r->prm.grpid,
		.perm = r->prm.perm, .addr = r->prm.addr,
	};
	iopf_fault_encode(&f, o->payload);
	o->r.payload = o->payload;
	o->r.payload_len = IOPF_FAULT_SIZE;
}

/*
 * Handle one event; false when it must wait because its file's queue id
 * is not known yet (the caller holds it and everything after it).
 */
static bool handle(struct iopf_tap *t, const struct tap_raw *r, bool may_hold)
{
	uint32_t tgid = r->tgid ? r->tgid : t->offline ? r->tid : tgid_of(t, r->tid);
	struct file_info *fi = NULL;

	switch (r->kind) {
	case RAW_CAL:
		on_cal(t, r, tgid);
		return true;
	case RAW_REPORTED:
		on_reported(t, r);
		return true;
	case RAW_AR:
	case RAW_FD: {
		struct bracket *b = bracket_of(t, r->tid);

		if (!b && !grow((void **)&t->br, &t->cbr, t->nbr + 1, sizeof(*t->br)))
			b = &t->br[t->nbr++];
		if (b)
			*b = (struct bracket){ r->tid, r->queue, r->kind == RAW_AR ? r->aux : 0,
					       r->kind == RAW_AR ? 1 : 2 };
		return true;
	}
	case RAW_ARR:
	case RAW_FDR: {
		struct bracket *b = bracket_of(t, r->tid);

		if (b)
			*b = t->br[--t->nbr];
		return true;
	}
	case RAW_GR:
		on_group_response(t, r);
		return true;
	default:
		break;
	}
	/* reads and writes: skip our own zero-length writes */
	if (tgid == (uint32_t)t->self)
		return true;
	fi = file_get(t, r->file);
	if (fi && r->has_queue && fi->q != r->queue) {
		fi->q = r->queue;
		fi->announced = false;
	}
	if (fi && fi->pid < 0 && r->comm[0] && tgid) {
		fi->pid = (int)tgid;
		snprintf(fi->comm, sizeof(fi->comm), "%s", r->comm);
	}
	if (!wanted_file(t, fi, tgid))
		return true;
	if (fi && !fi->q) {
		if (may_hold) {
			if (!fi->asked) {
				fi->asked = true;
				if (!t->offline)
					ask_files(t, (int)tgid, -1);
			}
			return false;
		}
		if (!fi->warned) {
			fi->warned = true;
			iopf_log_printf(&t->log, IOPF_LOG_WARN,
					"tap: the queue id of a fault fd of pid %u is unknown (recorded as queue 0)",
					tgid);
		}
	}
	if (fi)
		announce(t, fi, r->t_ns);
	if (r->kind == RAW_READ)
		on_read(t, r, fi, tgid);
	else
		on_write(t, r, fi, tgid);
	return true;
}

static void hold_free(struct tap_raw *h)
{
	free((void *)h->data);
	h->data = NULL;
}

/* Run the held events that can run now (all of them when force). */
static void release(struct iopf_tap *t, bool force)
{
	uint64_t now = iopf_time_now();

	while (t->hold_head < t->nhold) {
		struct tap_raw *h = &t->hold[t->hold_head];
		bool late = force || now - h->seen_ns > TAP_HOLD_NS;

		if (!handle(t, h, !late))
			break;
		hold_free(h);
		t->hold_head++;
	}
	if (t->hold_head == t->nhold)
		t->hold_head = t->nhold = 0;
}

/* Keep a copy of r (and its data) until its file's queue is known. */
static void hold(struct iopf_tap *t, const struct tap_raw *r)
{
	struct tap_raw *h;

	if (grow((void **)&t->hold, &t->chold, t->nhold + 1, sizeof(*t->hold)))
		return;
	h = &t->hold[t->nhold];
	*h = *r;
	h->seen_ns = iopf_time_now();
	if (r->len) {
		void *d = malloc(r->len);

		if (!d)
			return;
		memcpy(d, r->data, r->len);
		h->data = d;
	} else {
		h->data = NULL;
	}
	t->nhold++;
}

void tap_submit(struct iopf_tap *t, const struct tap_raw *r)
{
	t->counts.events++;
	if (r->kind == RAW_CAL) {
		/* Calibration runs at once: it is what releases the held events. */
		handle(t, r, false);
	} else if (t->nhold == t->hold_head) {
		if (!handle(t, r, true))
			hold(t, r);
		return;
	} else {
		hold(t, r);
	}
	release(t, false);
}

void tap_lost(struct iopf_tap *t, uint64_t events, uint64_t records, uint64_t responses)
{
	uint64_t m = records + responses ? records + responses : events;
	struct out_rec *o = emit(t, IOPF_REC_LOST, 0, iopf_time_now());
	struct iopf_tap_event ev = { .kind = IOPF_TAP_EV_LOST, .t_ns = iopf_time_now(), .fd = -1, .lost = m };

	push_event(t, &ev, NULL, 0);
	if (o)
		o->r.u.lost = m;
	t->counts.lost += m;
	iopf_log_printf(&t->log, IOPF_LOG_WARN,
			"tap: the %s buffer overflowed: %llu events (%llu records, %llu responses) lost",
			t->bpf ? "BPF ring" : "trace", (unsigned long long)events,
			(unsigned long long)records, (unsigned long long)responses);
}

/* ---- the kprobe-event back-end: trace lines to events ----------------------------- */

/* Copy the u64 words w0.. of e into dst (host byte order, as the kernel fetched them). */
static void words(const struct ev *e, void *dst, size_t nwords)
{
	for (unsigned i = 0; i < e->nargs; i++) {
		char *end;
		unsigned long w;

		if (e->a[i].k[0] != 'w')
			continue;
		w = strtoul(e->a[i].k + 1, &end, 10);
		if (!*end && w < nwords)
			memcpy((uint8_t *)dst + w * 8, &e->a[i].v, 8);
	}
}

static void submit_read(struct iopf_tap *t, const struct pending_read *pr)
{
	size_t nrec = pr->ret > 0 ? (size_t)pr->ret / IOPF_FAULT_SIZE : 0;
	struct tap_raw r = {
		.kind = RAW_READ, .tid = pr->tid, .t_ns = pr->t_ns, .file = pr->f, .ret = pr->ret,
		.data = (const uint8_t *)pr->recs,
		.len = (nrec < TAP_READ_RECS ? nrec : TAP_READ_RECS) * IOPF_FAULT_SIZE,
	};

	tap_submit(t, &r);
}

/*
 * One slice of a read: join it to the others of its thread, and decode the
 * read once every probe has fired (or when a slice of a newer read comes
 * first: a lost event must not hold a read back).
 */
static void on_read_part(struct iopf_tap *t, const struct ev *e)
{
	unsigned part = 1u << (e->kind - EV_RD), all = (1u << TAP_RD_PROBES) - 1;
	struct pending_read *pr = NULL;

	for (size_t i = 0; i < t->npr; i++)
		if (t->pr[i].tid == e->tid)
			pr = &t->pr[i];
	if (pr && ((pr->parts & part) || pr->f != arg64(e, "f"))) {
		submit_read(t, pr);	/* the rest of that one was lost */
		pr->parts = 0;
	}
	if (!pr) {
		if (grow((void **)&t->pr, &t->cpr, t->npr + 1, sizeof(*t->pr)))
			return;
		pr = &t->pr[t->npr++];
		pr->parts = 0;
	}
	if (!pr->parts) {
		pr->tid = e->tid;
		pr->f = arg64(e, "f");
		pr->ret = (int64_t)arg64(e, "r");
		pr->t_ns = e->t_ns;
		memset(pr->recs, 0, sizeof(pr->recs));
	}
	words(e, &pr->recs[(e->kind - EV_RD) * TAP_RD_PER], TAP_RD_PER * TAP_REC_WORDS);
	pr->parts |= part;
	if (pr->parts == all) {
		submit_read(t, pr);
		*pr = t->pr[--t->npr];
	}
}

static void on_write_entry(struct iopf_tap *t, const struct ev *e)
{
	struct pending_write *w = NULL;

	for (size_t i = 0; i < t->npw; i++)
		if (t->pw[i].tid == e->tid)
			w = &t->pw[i];
	if (!w) {
		if (grow((void **)&t->pw, &t->cpw, t->npw + 1, sizeof(*t->pw)))
			return;
		w = &t->pw[t->npw++];
	}
	w->tid = e->tid;
	w->f = arg64(e, "f");
	w->n = arg64(e, "n") / IOPF_RESP_SIZE;
	w->t_ns = e->t_ns;
	memset(w->r, 0, sizeof(w->r));
	words(e, w->r, TAP_WRITE_RESPS);
}

static void on_write_return(struct iopf_tap *t, const struct ev *e)
{
	struct pending_write *w = NULL;

	for (size_t i = 0; i < t->npw; i++)
		if (t->pw[i].tid == e->tid && t->pw[i].f == arg64(e, "f"))
			w = &t->pw[i];
	if (!w)
		return;
	struct pending_write copy = *w;
	struct tap_raw r = {
		.kind = RAW_WRITE, .tid = e->tid, .t_ns = e->t_ns, .file = copy.f,
		.ret = (int64_t)arg64(e, "r"), .count = copy.n * IOPF_RESP_SIZE,
		.data = (const uint8_t *)copy.r,
		.len = (copy.n < TAP_WRITE_RESPS ? copy.n : TAP_WRITE_RESPS) * IOPF_RESP_SIZE,
	};

	*w = t->pw[--t->npw];
	tap_submit(t, &r);
}

static void prm_of(const struct ev *e, struct tap_prm *p)
{
	*p = (struct tap_prm){ arg32(e, "F"), arg32(e, "P"), arg32(e, "G"), arg32(e, "M"), arg64(e, "A") };
}

/* One parsed trace event to the decoder. */
static void kp_event(struct iopf_tap *t, const struct ev *e)
{
	struct tap_raw r = { .tid = e->tid, .t_ns = e->t_ns };
	uint32_t slots[TAP_CAL_SLOTS * 2];
	uint64_t v = 0;

	switch (e->kind) {
	case EV_RD:
	case EV_RD1:
	case EV_RD2:
	case EV_RD3:
		on_read_part(t, e);
		return;
	case EV_WR:
		on_write_entry(t, e);
		return;
	case EV_WRR:
		on_write_return(t, e);
		return;
	case EV_CAL: {
		char k[16];

		for (int i = 0; i < TAP_CAL_SLOTS; i++) {
			snprintf(k, sizeof(k), "T%d", i);
			slots[2 * i] = arg32(e, k);
			snprintf(k, sizeof(k), "I%d", i);
			slots[2 * i + 1] = arg32(e, k);
		}
		r.kind = RAW_CAL;
		r.file = arg64(e, "f");
		r.data = (const uint8_t *)slots;
		r.len = sizeof(slots);
		break;
	}
	case EV_REP:
		r.kind = RAW_REPORTED;
		prm_of(e, &r.prm);
		break;
	case EV_AR:
	case EV_FD:
		r.kind = e->kind == EV_AR ? RAW_AR : RAW_FD;
		r.queue = arg32(e, "q");
		r.aux = arg32(e, "d");
		break;
	case EV_ARR:
		r.kind = RAW_ARR;
		break;
	case EV_FDR:
		r.kind = RAW_FDR;
		break;
	case EV_GR:
		r.kind = RAW_GR;
		prm_of(e, &r.prm);
		r.aux = arg32(e, "c");
		r.has_cookie = arg(e, "k", &v);	/* BTF gave the offset of iopf_group.cookie */
		r.cookie = (uint32_t)v;
		break;
	default:
		return;
	}
	tap_submit(t, &r);
}

static void on_line(struct iopf_tap *t, char *line)
{
	char *lost = strstr(line, "[LOST ");

	if (lost && !strstr(line, "iopftap_")) {
		/* "CPU:N [LOST M EVENTS]": the trace buffer overflowed */
		tap_lost(t, strtoull(lost + 6, NULL, 10), 0, 0);
		return;
	}
	if (!parse_line(line, &t->line_ev))
		return;
	kp_event(t, &t->line_ev);
}

/* ---- public API ------------------------------------------------------------------ */

/* A kernel without BTF whose struct layouts the BPF back-end knows: 6.11 and 6.12 (the top of this file). */
static bool known_layout(void)
{
	struct utsname u;
	unsigned maj = 0, min = 0;

	if (uname(&u) || sscanf(u.release, "%u.%u", &maj, &min) != 2)
		return false;
	return maj == 6 && (min == 11 || min == 12);
}

static int open_bpf(struct iopf_tap *t, const struct iopf_tap_cfg *cfg, char *err, size_t errlen)
{
	const struct tap_layout *L = &layout_612;
	int layout[OFF_COUNT] = {
		[OFF_PRM] = L->prm, [OFF_PR_FLAGS] = L->pr_flags, [OFF_PR_PASID] = L->pr_pasid,
		[OFF_PR_GRPID] = L->pr_grpid, [OFF_PR_PERM] = L->pr_perm, [OFF_PR_ADDR] = L->pr_addr,
		[OFF_OBJ_ID] = L->obj_id, [OFF_OBJ_TYPE] = L->obj_type, [OFF_HWPT_FAULT] = L->hwpt_fault,
		[OFF_HANDLE_IDEV] = L->handle_idev, [OFF_GROUP_LAST] = L->group_last,
		[OFF_GROUP_COOKIE] = L->group_cookie,
	};
	struct tap_bpf_cfg bc = {
		.filter_tgid = cfg->pid, .self_tgid = (int)t->self,
		.btf = !access("/sys/kernel/btf/vmlinux", R_OK),
		.fentry = cfg->backend == IOPF_TAP_BPF_FENTRY, .log = &t->log,
	};
	int rc;

	static const char *const funcs[] = {
		"iommufd_fault_fops_read", "iommufd_fault_fops_write", "iommu_report_device_fault",
		"iommufd_auto_response_faults", "iommufd_fault_destroy", "iopf_group_response",
	};
	char *kallsyms = slurp("/proc/kallsyms", 1 << 28);

	for (size_t i = 0; kallsyms && kallsyms[0] && i < ARRAY_SIZE(funcs); i++)
		if (!kallsyms_has(kallsyms, funcs[i])) {
			free(kallsyms);
			return iopf_fail(err, errlen, -ENOENT,
					 "tap: BPF: kernel function %s is not in /proc/kallsyms: the kernel "
					 "needs CONFIG_IOMMUFD (with CONFIG_IOMMU_IOPF) and CONFIG_KALLSYMS, and "
					 "the function must not be inlined in this build", funcs[i]);
		}
	/*
	 * fentry/fexit programs attach through a BPF trampoline at the call
	 * to __fentry__ that the function tracer (CONFIG_FUNCTION_TRACER)
	 * compiles into every function, and their arguments are typed by BTF:
	 * say which is missing rather than let the attach fail without a word.
	 */
	if (bc.fentry && kallsyms && kallsyms[0]) {
		bool ft = kallsyms_has(kallsyms, "__fentry__") > 0;

		if (!ft || !bc.btf) {
			free(kallsyms);
			return iopf_fail(err, errlen, -ENOSYS,
					 "tap: BPF: fentry/fexit need the kernel's function tracer "
					 "(CONFIG_FUNCTION_TRACER) and BTF (CONFIG_DEBUG_INFO_BTF); this "
					 "kernel has %s%s%s; --tap-backend bpf uses kprobes",
					 ft ? "" : "no __fentry__ in /proc/kallsyms",
					 !ft && !bc.btf ? " and " : "",
					 bc.btf ? "" : "no /sys/kernel/btf/vmlinux");
		}
	}
	free(kallsyms);
	t->lay = layout_612;
	if (!bc.btf && known_layout())
		bc.layout = layout;
	rc = tap_bpf_open(&t->bpf, t, &bc, err, errlen);
	if (!rc)
		snprintf(t->how, sizeof(t->how), "%s", tap_bpf_how(t->bpf));
	return rc;
}

static int open_kprobe(struct iopf_tap *t, const struct iopf_tap_cfg *cfg, char *err, size_t errlen)
{
	int rc = find_tracefs(t, cfg->tracefs, err, errlen);

	if (rc)
		return rc;
	remove_stale(t->tracefs, &t->log);
	load_layout(t);
	if (t->lay.file_private >= 0)
		t->cal_slot = t->lay.file_private / 8;	/* calibration checks it */
	rc = create_probes(t, err, errlen);
	if (!rc)
		snprintf(t->how, sizeof(t->how), "kprobe events in %.60s, %s", t->tracefs,
			 t->lay.btf ? "offsets from BTF" : "6.12 layout");
	return rc;
}

int iopf_tap_open(struct iopf_tap **tp, const struct iopf_tap_cfg *cfg, const struct iopf_log *log,
		  char *err, size_t errlen)
{
	struct iopf_tap *t = calloc(1, sizeof(*t));
	struct timespec rt, mono;
	char bpf_err[512] = "";
	int rc = 0;

	*tp = NULL;
	if (!t)
		return iopf_fail(err, errlen, -ENOMEM, "tap: out of memory");
	t->pipe_fd = -1;
	t->cal_slot = -1;
	t->self = getpid();
	t->filter_pid = cfg->pid;
	t->filter_fd = cfg->fd;
	t->events_mode = cfg->events;
	if (log)
		t->log = *log;
	snprintf(t->group, sizeof(t->group), "iopftool_%d", (int)t->self);
	if (cfg->pid > 0 && kill(cfg->pid, 0) && errno == ESRCH) {
		rc = iopf_fail(err, errlen, -ESRCH, "tap:%d: no such process", cfg->pid);
		goto fail;
	}
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	t->rt_offset_ns = ((int64_t)rt.tv_sec - mono.tv_sec) * 1000000000 + (rt.tv_nsec - mono.tv_nsec);
	if (cfg->backend != IOPF_TAP_KPROBE) {
		rc = open_bpf(t, cfg, bpf_err, sizeof(bpf_err));
		if (rc && cfg->backend != IOPF_TAP_AUTO) {
			snprintf(err, errlen, "%s", bpf_err);
			goto fail;
		}
		if (rc)
			iopf_log_printf(&t->log, IOPF_LOG_DEBUG, "%s; trying kprobe events", bpf_err);
	}
	if (!t->bpf) {
		t->backend = IOPF_TAP_KPROBE;
		rc = open_kprobe(t, cfg, err, errlen);
		if (rc && bpf_err[0]) {
			char kp[512];

			snprintf(kp, sizeof(kp), "%s", err);
			snprintf(err, errlen, "%s; and %s", bpf_err, kp);
		}
		if (rc)
			goto fail;
	} else {
		t->backend = IOPF_TAP_BPF;
		t->bpf_events = true;
		snprintf(t->group, sizeof(t->group), "bpf");
	}
	/* Name the files of the fault fds that exist now, and calibrate on them. */
	rc = ask_files(t, cfg->pid > 0 ? cfg->pid : 0, cfg->fd);
	if (rc < 0)
		iopf_log_printf(&t->log, IOPF_LOG_WARN, "tap: cannot scan /proc: %s", strerror(-rc));
	if (cfg->fd >= 0 && rc <= 0) {
		rc = iopf_fail(err, errlen, -ENOENT,
			       "tap:%d:%d: fd %d of pid %d is not a fault fd (%s) that the tap can name "
			       "(it needs pidfd_getfd(2): Linux 5.6 and ptrace permission)",
			       cfg->pid, cfg->fd, cfg->fd, cfg->pid, IOPF_FAULT_FD_LINK);
		goto fail;
	}
	if (t->bpf)
		snprintf(t->meta, sizeof(t->meta),
			 "tap=read-only: consumes no fault and answers none\ntap.backend=bpf\n"
			 "tap.how=%s\ntap.clock=mono (nanoseconds)\ntap.read_bytes=%d\n"
			 "tap.write_bytes=%d\n",
			 t->how, IOPF_TAP_BPF_MAX_BYTES, IOPF_TAP_BPF_MAX_BYTES);
	else
		snprintf(t->meta, sizeof(t->meta),
			 "tap=read-only: consumes no fault and answers none\ntap.backend=kprobe\n"
			 "tap.tracefs=%.200s\ntap.group=%s\n"
			 "tap.clock=mono (microseconds)\ntap.read_records=%d\ntap.write_responses=%d\n"
			 "tap.layout=%s\n",
			 t->tracefs, t->group, TAP_READ_RECS, TAP_WRITE_RESPS,
			 t->lay.btf ? "btf" : "6.12 defaults, struct file calibrated");
	*tp = t;
	return 0;
fail:
	iopf_tap_close(t);
	return rc;
}

enum iopf_tap_backend iopf_tap_backend(const struct iopf_tap *t)
{
	return t->backend;
}

const char *iopf_tap_how(const struct iopf_tap *t)
{
	return t->how;
}

void iopf_tap_cost(const struct iopf_tap *t, char *buf, size_t len)
{
	if (t->bpf)
		tap_bpf_prog_stats(t->bpf, buf, len);
	else if (len)
		buf[0] = '\0';
}

int iopf_tap_backend_parse(const char *name)
{
	static const char *const names[] = { [IOPF_TAP_AUTO] = "auto", [IOPF_TAP_BPF] = "bpf",
					     [IOPF_TAP_KPROBE] = "kprobe",
					     [IOPF_TAP_BPF_FENTRY] = "bpf-fentry" };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(name, names[i]))
			return (int)i;
	return -1;
}

void iopf_tap_probe(struct iopf_tap_probe *p)
{
	struct iopf_tap tmp;
	char err[256];

	memset(p, 0, sizeof(*p));
	memset(&tmp, 0, sizeof(tmp));
	if (!find_tracefs(&tmp, NULL, err, sizeof(err))) {
		p->tracefs = p->kprobe_events = true;
	} else {
		p->tracefs = tmp.tracefs[0] != '\0';
		snprintf(p->kprobe_why, sizeof(p->kprobe_why), "%s", err);
	}
	snprintf(p->tracefs_path, sizeof(p->tracefs_path), "%.63s", tmp.tracefs);
	p->btf = !access("/sys/kernel/btf/vmlinux", R_OK);
	p->known_layout = !p->btf && known_layout();
	if (tap_bpf_check(err, sizeof(err))) {
		p->lockdown = strstr(err, "lockdown") != NULL;
		snprintf(p->bpf_why, sizeof(p->bpf_why), "%s", err);
	} else {
		p->bpf = true;
		if (!p->btf && !p->known_layout)
			snprintf(p->bpf_why, sizeof(p->bpf_why),
				 "tap: BPF: no BTF (/sys/kernel/btf/vmlinux) and no known layout of this "
				 "kernel's structs (known: 6.11, 6.12)");
	}
	if (p->lockdown && !p->kprobe_why[0])
		snprintf(p->kprobe_why, sizeof(p->kprobe_why),
			 "tap: kernel lockdown (confidentiality) forbids kprobes");
}

static void split_lines(struct iopf_tap *t);

int iopf_tap_open_offline(struct iopf_tap **tp, const struct iopf_tap_cfg *cfg)
{
	struct iopf_tap *t = calloc(1, sizeof(*t));

	*tp = t;
	if (!t)
		return -ENOMEM;
	t->pipe_fd = -1;
	t->cal_slot = -1;
	t->self = getpid();
	t->filter_pid = cfg->pid;
	t->filter_fd = cfg->fd;
	t->events_mode = cfg->events;
	t->lay = layout_612;
	t->offline = true;
	snprintf(t->group, sizeof(t->group), "offline");
	return 0;
}

void iopf_tap_feed_bpf(struct iopf_tap *t, const void *ev, size_t len)
{
	t->bpf_events = true;
	tap_bpf_decode(t, ev, len);
}

void iopf_tap_feed(struct iopf_tap *t, const char *text)
{
	size_t n = strlen(text);

	if (grow((void **)&t->lbuf, &t->lcap, t->llen + n + 1, 1))
		return;
	memcpy(t->lbuf + t->llen, text, n);
	t->llen += n;
	split_lines(t);
}

int iopf_tap_fd(const struct iopf_tap *t)
{
	if (t->bpf)
		return tap_bpf_fd(t->bpf);
	return t->pipe_fd;
}

const char *iopf_tap_meta(const struct iopf_tap *t)
{
	return t->meta;
}

const char *iopf_tap_group(const struct iopf_tap *t)
{
	return t->group;
}

/* Parse every whole line in the line buffer; keep the rest. */
static void split_lines(struct iopf_tap *t)
{
	size_t start = 0;

	for (size_t i = 0; i < t->llen; i++) {
		if (t->lbuf[i] != '\n')
			continue;
		t->lbuf[i] = '\0';
		on_line(t, t->lbuf + start);
		start = i + 1;
	}
	memmove(t->lbuf, t->lbuf + start, t->llen - start);
	t->llen -= start;
}

/* Read what trace_pipe has now; parse every whole line. */
static int pump_raw(struct iopf_tap *t)
{
	char buf[65536];
	ssize_t n;

	if (t->bpf)
		return tap_bpf_pump(t->bpf);
	if (t->pipe_fd < 0)
		return 0;	/* offline: fed by iopf_tap_feed() */
	n = read(t->pipe_fd, buf, sizeof(buf));

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (grow((void **)&t->lbuf, &t->lcap, t->llen + (size_t)n + 1, 1))
		return -ENOMEM;
	memcpy(t->lbuf + t->llen, buf, (size_t)n);
	t->llen += (size_t)n;
	split_lines(t);
	return (int)n;
}

/*
 * Make the queue *head..*tail (records or events) non-empty if the trace
 * has more: release what is due, else read once more.  1: something is
 * queued, 0: nothing yet, or -errno.
 */
/* pump_raw(), its error logged (the error contract, iopf.h): the callers pass it on. */
static int pump(struct iopf_tap *t)
{
	int rc = pump_raw(t);

	if (rc < 0)
		iopf_log_printf(&t->log, IOPF_LOG_ERR, "tap: reading the %s: %s",
				t->bpf ? "BPF ring buffer" : "trace pipe", strerror(-rc));
	return rc;
}

static int refill(struct iopf_tap *t, const size_t *head, const size_t *tail)
{
	for (int round = 0; *head == *tail && round < 2; round++) {
		int rc;

		release(t, false);
		if (*head < *tail)
			break;
		rc = pump(t);
		if (rc < 0)
			return rc;
		if (rc == 0)
			break;
	}
	return *head < *tail;
}

int iopf_tap_next(struct iopf_tap *t, struct iopf_rec *r)
{
	int rc = refill(t, &t->out_head, &t->nout);

	if (rc <= 0)
		return rc;
	*r = t->outq[t->out_head].r;
	if (r->payload)
		r->payload = t->outq[t->out_head].payload;
	t->out_head++;
	return 1;
}

int iopf_tap_next_event(struct iopf_tap *t, struct iopf_tap_event *ev)
{
	int rc;

	if (!t->events_mode) {
		iopf_log_printf(&t->log, IOPF_LOG_ERR, "tap: iopf_tap_next_event() without cfg.events");
		return -EINVAL;
	}
	rc = refill(t, &t->ev_head, &t->nev);
	if (rc <= 0)
		return rc;
	struct ev_slot *e = &t->evq[t->ev_head++];

	*ev = e->ev;
	ev->recs = ev->kind == IOPF_TAP_EV_READ && e->len ? (const void *)(t->arena + e->off) : NULL;
	ev->resps = ev->kind == IOPF_TAP_EV_WRITE && e->len ? (const void *)(t->arena + e->off) : NULL;
	return 1;
}

int iopf_tap_drain(struct iopf_tap *t)
{
	int rc;

	while ((rc = pump(t)) > 0)
		;
	release(t, true);
	return rc < 0 ? rc : 0;
}

void iopf_tap_counts(const struct iopf_tap *t, struct iopf_tap_counts *c)
{
	*c = t->counts;
	c->outstanding = t->nouts;
	c->file_offset = t->cal_slot >= 0 ? t->cal_slot * 8 : -1;
}

void iopf_tap_close(struct iopf_tap *t)
{
	bool any = false;

	if (!t)
		return;
	if (t->pipe_fd >= 0)
		close(t->pipe_fd);
	tap_bpf_close(t->bpf);
	for (size_t i = t->hold_head; i < t->nhold; i++)
		free((void *)t->hold[i].data);
	for (int k = 0; k < EV_COUNT; k++)
		any |= t->created[k];
	if (any || t->instance)
		remove_group(t->tracefs, t->group, &t->log);
	free(t->lbuf);
	free(t->files);
	free(t->outs);
	free(t->pw);
	free(t->pr);
	free(t->br);
	free(t->tids);
	free(t->own);
	free(t->hold);
	free(t->outq);
	free(t->evq);
	free(t->arena);
	free(t->rdbuf);
	free(t);
}
