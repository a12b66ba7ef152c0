// SPDX-License-Identifier: MIT
/*
 * iopftool ps: every process holding an iommufd fault fd (its link in
 * /proc/PID/fd reads "anon_inode:[iommufd-pgfault]", the name given to
 * anon_inode_getfile() in drivers/iommu/iommufd/fault.c:
 * iommufd_fault_alloc()), /dev/iommu, or a VFIO device, with what /proc
 * and sysfs tell about each.  Read-only: it opens nothing but /proc and
 * /sys.  See iopftool-ps(8).
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

struct ps_opts {
	int pid;
	bool all;		/* also processes with /dev/iommu or VFIO fds but no fault fd */
};

static const struct argp_option options[] = {
	{ "pid", 'p', "PID", 0, "only this process", 0 },
	{ "all", 'a', NULL, 0, "also processes holding /dev/iommu or a VFIO device but no fault fd", 0 },
	{ 0 }
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct ps_opts *o = state->input;

	switch (key) {
	case 'p': o->pid = (int)arg_u64(state, "--pid", arg, INT_MAX); return 0;
	case 'a': o->all = true; return 0;
	case ARGP_KEY_ARG: argp_error(state, "unexpected argument '%s'", arg); return 0;
	default: return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp_child children[] = { GLOBAL_CHILD, { 0 } };

static const struct argp ps_argp = {
	.options = options,
	.parser = parse_opt,
	.doc = "List the processes holding an iommufd fault fd (and their /dev/iommu and VFIO "
	       "device fds): pid, command, fd, what /proc and sysfs tell about each.\v"
	       "Read-only: it opens nothing but /proc and /sys.  Other users' processes need root.  "
	       "Use the pid and fd with --source pid:PID:FD or tap:PID:FD (iopftool-monitor(8)).",
	.children = children,
};

static const char *kind_name(enum iopf_proc_fd_kind k)
{
	switch (k) {
	case IOPF_PROC_FAULT_FD: return "fault";
	case IOPF_PROC_IOMMUFD: return "iommufd";
	default: return "vfio";
	}
}

/* The "flags:" of /proc/PID/fdinfo/FD (octal open flags), or "". */
static void fd_flags(int pid, int fd, char *buf, size_t len)
{
	char path[64], text[512], *p;
	int f;
	ssize_t n;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return;
	n = read(f, text, sizeof(text) - 1);
	close(f);
	if (n <= 0)
		return;
	text[n] = '\0';
	p = strstr(text, "flags:");
	if (p && sscanf(p + 6, " %31s", buf) != 1)
		buf[0] = '\0';
	(void)len;
}

/* A VFIO cdev /dev/vfio/devices/vfioN: its device in sysfs (a PCI address). */
static void vfio_device(const char *target, char *buf, size_t len)
{
	char path[300], link[PATH_MAX];
	const char *base = strrchr(target, '/');
	ssize_t n;

	buf[0] = '\0';
	if (!base || strncmp(target, "/dev/vfio/devices/", 18))
		return;
	snprintf(path, sizeof(path), "/sys/class/vfio-dev/%s/device", base + 1);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return;
	link[n] = '\0';
	base = strrchr(link, '/');
	snprintf(buf, len, "%.127s", base ? base + 1 : link);
}

static bool has_fault_fd(const struct iopf_proc_fd *l, size_t n, int pid)
{
	for (size_t i = 0; i < n; i++)
		if (l[i].pid == pid && l[i].kind == IOPF_PROC_FAULT_FD)
			return true;
	return false;
}

int cmd_ps(int argc, char **argv)
{
	struct ps_opts o = { 0 };
	struct iopf_proc_fd *l;
	struct iopf_out *out;
	size_t n, shown = 0;
	int rc;

	parse_verb(&ps_argp, argc, argv, &o);
	/* an empty or missing /proc hides every process: that is "could not look", not "none" */
	if (access("/proc/self/fd", R_OK)) {
		p_err("cannot look at the processes: /proc/self/fd: %s (is /proc mounted?)",
		      strerror(errno));
		return EXIT_ERROR;
	}
	if (o.pid) {
		char dir[32];

		snprintf(dir, sizeof(dir), "/proc/%d", o.pid);
		if (access(dir, F_OK)) {	/* as monitor --source pid:PID:FD says it: exit 2 */
			p_err("--pid %d: no such process", o.pid);
			return EXIT_ERROR;
		}
	}
	rc = iopf_proc_scan(&l, &n, o.pid);
	if (rc) {
		p_err("cannot list /proc: %s", strerror(-rc));
		return EXIT_ERROR;
	}
	for (size_t i = 0; i < n; i++)
		shown += o.all || has_fault_fd(l, n, l[i].pid);
	out = out_stdout();
	if (!shown && !iopf_out_is_json(out))
		goto none;
	shown = 0;
	iopf_out_begin(out);
	iopf_out_open_array(out, "fds", "PID     COMMAND          FD    KIND     TARGET\n");
	for (size_t i = 0; i < n; i++) {
		char flags[32], dev[128];

		if (!o.all && !has_fault_fd(l, n, l[i].pid))
			continue;
		shown++;
		fd_flags(l[i].pid, l[i].fd, flags, sizeof(flags));
		vfio_device(l[i].target, dev, sizeof(dev));
		iopf_out_open_object(out, NULL, NULL);
		iopf_out_int(out, "pid", "%-7" PRId64, l[i].pid);
		iopf_out_str(out, "comm", " %-16s", l[i].comm);
		iopf_out_int(out, "fd", " %-5" PRId64, l[i].fd);
		iopf_out_str(out, "kind", " %-8s", kind_name(l[i].kind));
		iopf_out_str(out, "target", " %s", l[i].target);
		iopf_out_str(out, "flags", flags[0] ? " flags %s" : NULL, flags);
		iopf_out_str(out, dev[0] ? "device" : NULL, dev[0] ? " device %s" : NULL, dev);
		iopf_out_printf(out, "\n");
		iopf_out_close_object(out, NULL);
	}
	iopf_out_close_array(out, NULL);
	iopf_out_end(out);
none:
	if (!shown)
		p_info("no process holds an iommufd fault fd%s", geteuid() ? " (that this user can see; "
		       "other users' processes need root)" : "");
	free(l);
	return out_finish(EXIT_OK);
}
