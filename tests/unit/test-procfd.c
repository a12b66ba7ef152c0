// SPDX-License-Identifier: MIT
/*
 * The /proc scan (lib/procfd.c): a fake /proc tree (fd links are plain
 * symlinks, so a fault fd's "anon_inode:[iommufd-pgfault]" can be made
 * without the kernel), then this process in the real /proc.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iopf.h"
#include "internal.h"	/* what only libiopf and its tests use */
#include "tap.h"

static char root[] = "/tmp/iopf-proc-XXXXXX";

static void mk(const char *rel)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	if (mkdir(p, 0755))
		perror(p);
}

static void lnk(const char *target, const char *rel)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	if (symlink(target, p))
		perror(p);
}

static void put(const char *rel, const char *text)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	f = fopen(p, "w");
	if (!f || fputs(text, f) < 0)
		perror(p);
	if (f)
		fclose(f);
}

static const struct iopf_proc_fd *find(const struct iopf_proc_fd *l, size_t n, int pid, int fd)
{
	for (size_t i = 0; i < n; i++)
		if (l[i].pid == pid && l[i].fd == fd)
			return &l[i];
	return NULL;
}

static void fake_tree(void)
{
	struct iopf_proc_fd *l;
	const struct iopf_proc_fd *e;
	size_t n = 99;
	char cmd[512];

	if (!mkdtemp(root)) {
		perror("mkdtemp");
		exit(2);
	}
	/* pid 100: a fault fd, /dev/iommu, a VFIO cdev, and fds that are none of these */
	mk("100");
	mk("100/fd");
	put("100/comm", "fake-holder\n");
	lnk(IOPF_FAULT_FD_LINK, "100/fd/3");
	lnk("/dev/iommu", "100/fd/4");
	lnk("/dev/vfio/devices/vfio0", "100/fd/5");
	lnk("/dev/null", "100/fd/6");
	lnk("anon_inode:[eventfd]", "100/fd/7");
	lnk("anon_inode:[iommufd-pgfault]x", "100/fd/8");
	/* pid 300: a fault fd, no comm; a command name longer than comm[] holds */
	mk("300");
	mk("300/fd");
	lnk(IOPF_FAULT_FD_LINK, "300/fd/12");
	mk("301");
	mk("301/fd");
	put("301/comm", "a-very-long-command-name\n");
	lnk("/dev/vfio/7", "301/fd/0");
	/* no fd directory; not processes */
	mk("200");
	mk("sys");
	mk("0");
	mk("0/fd");
	lnk(IOPF_FAULT_FD_LINK, "0/fd/1");

	is(iopf_proc_scan_at(root, &l, &n, 0), 0, "fake /proc: scanned");
	is(n, 5, "fake /proc: the five fds of the three kinds, nothing else");
	e = find(l, n, 100, 3);
	ok(e && e->kind == IOPF_PROC_FAULT_FD && !strcmp(e->target, IOPF_FAULT_FD_LINK) &&
	   !strcmp(e->comm, "fake-holder"), "pid 100 fd 3: a fault fd of fake-holder");
	e = find(l, n, 100, 4);
	ok(e && e->kind == IOPF_PROC_IOMMUFD && !strcmp(e->target, "/dev/iommu"), "pid 100 fd 4: /dev/iommu");
	e = find(l, n, 100, 5);
	ok(e && e->kind == IOPF_PROC_VFIO && !strcmp(e->target, "/dev/vfio/devices/vfio0"),
	   "pid 100 fd 5: a VFIO cdev");
	ok(!find(l, n, 100, 6) && !find(l, n, 100, 7) && !find(l, n, 100, 8),
	   "pid 100: /dev/null, an eventfd and a look-alike link are left out");
	e = find(l, n, 300, 12);
	ok(e && e->kind == IOPF_PROC_FAULT_FD && !strcmp(e->comm, "?"), "pid 300 fd 12: comm unknown: \"?\"");
	e = find(l, n, 301, 0);
	ok(e && e->kind == IOPF_PROC_VFIO && !strcmp(e->comm, "a-very-long-com"),
	   "pid 301: its command name cut to 15 bytes (%s)", e ? e->comm : "none");
	ok(!find(l, n, 0, 1), "pid 0 is no process");
	free(l);

	is(iopf_proc_scan_at(root, &l, &n, 300), 0, "fake /proc, pid 300 only: scanned");
	ok(n == 1 && l[0].pid == 300 && l[0].fd == 12, "pid 300 only: its one fd");
	free(l);
	is(iopf_proc_scan_at(root, &l, &n, 999), 0, "fake /proc, pid 999: scanned");
	ok(n == 0 && !l, "pid 999: nothing");

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd))
		perror(cmd);
	n = 99;
	is(iopf_proc_scan_at(root, &l, &n, 0), -ENOENT, "a missing /proc: -ENOENT");
	ok(n == 0 && !l, "a missing /proc: an empty list");
}

/* This process in the real /proc: its comm, and its /dev/iommu fd when the machine has one. */
static void real_proc(void)
{
	struct iopf_proc_fd *l;
	const struct iopf_proc_fd *e;
	char comm[16], want[16] = "";
	size_t n;
	int fd = open("/dev/iommu", O_RDONLY | O_CLOEXEC), err = errno;
	FILE *f = fopen("/proc/self/comm", "r");

	if (f) {
		if (fgets(want, sizeof(want), f))
			want[strcspn(want, "\n")] = '\0';
		fclose(f);
	}
	iopf_proc_comm(getpid(), comm, sizeof(comm));
	ok(want[0] && !strcmp(comm, want), "this process's comm: %s", comm);
	iopf_proc_comm(-1, comm, sizeof(comm));
	ok(!strcmp(comm, "?"), "no such process: \"?\"");

	is(iopf_proc_scan(&l, &n, getpid()), 0, "/proc, this process only: scanned");
	if (fd >= 0) {
		e = find(l, n, getpid(), fd);
		ok(e && e->kind == IOPF_PROC_IOMMUFD && !strcmp(e->comm, want),
		   "our /dev/iommu fd %d is listed", fd);
		close(fd);
	} else {
		printf("ok %d # skip no /dev/iommu to open (%s)\n", ++tap_n, strerror(err));
	}
	for (size_t i = 0; i < n; i++)
		ok(l[i].pid == getpid() && l[i].kind == IOPF_PROC_IOMMUFD,
		   "only our own fds, and no fault fd (fd %d: %s)", l[i].fd, l[i].target);
	free(l);
}

int main(void)
{
	fake_tree();
	real_proc();
	return tap_done();
}
