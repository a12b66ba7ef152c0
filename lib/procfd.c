// SPDX-License-Identifier: MIT
/*
 * Which processes hold an iommufd fault fd, /dev/iommu or a VFIO device:
 * a scan of /proc/PID/fd, for iopftool-ps(8), doctor, and the tap's
 * attribution of fault files to processes (lib/tap.c: ask_files()).
 *
 * A fault fd's link in /proc/PID/fd reads "anon_inode:[iommufd-pgfault]"
 * (IOPF_FAULT_FD_LINK), the name given to anon_inode_getfile() in
 * drivers/iommu/iommufd/fault.c: iommufd_fault_alloc().
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* The command name of pid under the proc root ("?" when it cannot be read). */
static void comm_at(const char *proc, int pid, char *comm, size_t len)
{
	char path[PATH_MAX];
	int fd = -1;
	ssize_t n = -1;

	if ((size_t)snprintf(path, sizeof(path), "%s/%d/comm", proc, pid) < sizeof(path))
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, comm, len - 1);
		close(fd);
	}
	if (n <= 0) {
		snprintf(comm, len, "?");
		return;
	}
	comm[n] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
}

void iopf_proc_comm(int pid, char *comm, size_t len)
{
	comm_at("/proc", pid, comm, len);
}

/* One more entry at the end of *list (of *cap); NULL when out of memory. */
static struct iopf_proc_fd *append(struct iopf_proc_fd **list, size_t *n, size_t *cap)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		struct iopf_proc_fd *l = realloc(*list, c * sizeof(**list));

		if (!l)
			return NULL;
		*list = l;
		*cap = c;
	}
	return memset(&(*list)[(*n)++], 0, sizeof(**list));
}

int iopf_proc_scan_at(const char *proc, struct iopf_proc_fd **list, size_t *n, int only_pid)
{
	DIR *dir = opendir(proc);
	struct dirent *de;
	size_t cap = 0;
	int rc = 0;

	*list = NULL;
	*n = 0;
	if (!dir)
		return -errno;
	while (!rc && (de = readdir(dir))) {
		char path[PATH_MAX], link[PATH_MAX];
		int pid = atoi(de->d_name);
		struct dirent *fe;
		DIR *fds;

		if (pid <= 0 || (only_pid > 0 && pid != only_pid))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%d/fd", proc, pid) >= sizeof(path))
			continue;
		fds = opendir(path);
		if (!fds && (errno == EMFILE || errno == ENFILE || errno == ENOMEM)) {
			rc = -errno;	/* could not look: "nothing holds one" would be false */
			break;
		}
		if (!fds)
			continue;	/* gone, or not ours to see */
		while (!rc && (fe = readdir(fds))) {
			enum iopf_proc_fd_kind kind;
			struct iopf_proc_fd *e;
			ssize_t ln;
			char fpath[PATH_MAX + 300];

			if (fe->d_name[0] == '.')
				continue;
			snprintf(fpath, sizeof(fpath), "%s/%s", path, fe->d_name);
			ln = readlink(fpath, link, sizeof(link) - 1);
			if (ln < 0)
				continue;
			link[ln] = '\0';
			if (!strcmp(link, IOPF_FAULT_FD_LINK))
				kind = IOPF_PROC_FAULT_FD;
			else if (!strcmp(link, "/dev/iommu"))
				kind = IOPF_PROC_IOMMUFD;
			else if (!strncmp(link, "/dev/vfio/", 10))
				kind = IOPF_PROC_VFIO;
			else
				continue;
			e = append(list, n, &cap);
			if (!e) {
				rc = -ENOMEM;
				break;
			}
			e->pid = pid;
			e->fd = atoi(fe->d_name);
			e->kind = kind;
			snprintf(e->target, sizeof(e->target), "%.127s", link);
			comm_at(proc, pid, e->comm, sizeof(e->comm));
		}
		closedir(fds);
	}
	closedir(dir);
	if (rc) {
		free(*list);
		*list = NULL;
		*n = 0;
	}
	return rc;
}

int iopf_proc_scan(struct iopf_proc_fd **list, size_t *n, int only_pid)
{
	return iopf_proc_scan_at("/proc", list, n, only_pid);
}
