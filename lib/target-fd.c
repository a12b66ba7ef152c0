// SPDX-License-Identifier: MIT
/*
 * Targets around a fault fd that iopftool did not allocate itself:
 *   fd:N          a fault fd the tool was started with (or a socket obeying
 *                 the handler-fd contract of iopftool-replay(8), THE HANDLER FD)
 *   pid:PID:FD    another process's fault fd, taken with pidfd_getfd(2)
 *   device:PATH[,pasid=N[:N...]][,map=IOVA+LEN]
 *                 a VFIO cdev: bind it to a new iommufd context, allocate
 *                 the fault queue and a HWPT carrying it, attach at the
 *                 RID or at each PASID N (doc/kernel-notes.md §7); map=: LEN
 *                 bytes of anonymous memory mapped at IOVA in the IOAS, so
 *                 a device retrying after SUCCESS finds its pages
 * None of them can inject faults: max_group is 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "internal.h"

#define FUSE_SUPER_MAGIC 0x65735546	/* <linux/magic.h>: the handler file (lib/fusefd.c) is on FUSE */
#define ANON_INODE_FS_MAGIC 0x09041934	/* <linux/magic.h>: the fault queue is an anonymous inode */

/* VFIO cdev uAPI (<linux/vfio.h>, Linux >= 6.6): VFIO_TYPE ';', VFIO_BASE 100. */
#define VFIO_BIND_IOMMUFD	_IO(';', 100 + 18)	/* 0x3b76 */
#define VFIO_ATTACH_IOMMUFD_PT	_IO(';', 100 + 19)	/* 0x3b77 */
#define VFIO_DETACH_IOMMUFD_PT	_IO(';', 100 + 20)	/* 0x3b78 */

struct vfio_bind {
	__u32 argsz;
	__u32 flags;
	__s32 iommufd;
	__u32 out_devid;
};

struct vfio_attach {
	__u32 argsz;
	__u32 flags;
	__u32 pt_id;
};

struct vfio_detach {
	__u32 argsz;
	__u32 flags;
};

/* Linux >= 6.14: the same two ioctls at a PASID (include/uapi/linux/vfio.h) */
#define VFIO_ATTACH_PASID	(1u << 0)	/* VFIO_DEVICE_ATTACH_PASID / _DETACH_PASID */
struct vfio_attach_pasid {
	__u32 argsz;
	__u32 flags;
	__u32 pt_id;
	__u32 pasid;
};

struct vfio_detach_pasid {
	__u32 argsz;
	__u32 flags;
	__u32 pasid;
};

/* IOMMU_IOAS_MAP (<linux/iommufd.h>): not in libiopf's fault-queue copy of the header */
#define IOPF_IOMMU_IOAS_MAP	_IO(';', 0x85)
#define IOPF_IOAS_MAP_FIXED_IOVA (1u << 0)
#define IOPF_IOAS_MAP_WRITEABLE	(1u << 1)
#define IOPF_IOAS_MAP_READABLE	(1u << 2)
#define IOPF_HWPT_ALLOC_PASID	(1u << 3)	/* IOMMU_HWPT_ALLOC_PASID, Linux >= 6.14 */
struct iopf_ioas_map {
	__u32 size;
	__u32 flags;
	__u32 ioas_id;
	__u32 reserved;
	__aligned_u64 user_va;
	__aligned_u64 length;
	__aligned_u64 iova;
};

_Static_assert(sizeof(struct vfio_bind) == 16, "vfio_device_bind_iommufd is 16 bytes");
_Static_assert(sizeof(struct vfio_attach) == 12, "vfio_device_attach_iommufd_pt is 12 bytes (6.12)");
_Static_assert(sizeof(struct vfio_detach) == 8, "vfio_device_detach_iommufd_pt is 8 bytes");
_Static_assert(sizeof(struct vfio_attach_pasid) == 16, "vfio_device_attach_iommufd_pt is 16 bytes (7.x)");
_Static_assert(sizeof(struct vfio_detach_pasid) == 12, "vfio_device_detach_iommufd_pt is 12 bytes (7.x)");
_Static_assert(sizeof(struct iopf_ioas_map) == 40, "iommu_ioas_map is 40 bytes");

/* readlink of /proc/PID/fd/FD (pid 0: self); -errno or 0. */
static int fd_link(pid_t pid, int fd, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
	else
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int parse_fd(const char *s, int *fd)
{
	uint64_t v;
	int rc = iopf_u64_parse(s, INT_MAX, &v);

	*fd = (int)v;
	return rc;
}

/* ------------------------------------------------------------------ */
/* fd:N                                                                 */
/* ------------------------------------------------------------------ */

/* The caller owns fd N: close leaves it open. */
static const struct iopf_target_ops fd_ops = {
	.read = iopf_target_fd_read,
	.write = iopf_target_fd_write,
};

/*
 * A socket with the handler-fd contract (iopftool-replay(8) "THE HANDLER
 * FD"): one group per message.  Read as the fault fd reads: never
 * blocking (-EAGAIN when nothing waits), a message larger than count left
 * for a larger read (-EINVAL, as iommufd_fault_fops_read() does with a
 * group); at the end of the stream -ESHUTDOWN, which a fault fd never
 * gives.  A write is one message of responses, without SIGPIPE.
 */
static ssize_t sock_read(struct iopf_target *t, void *buf, size_t count)
{
	ssize_t len = recv(t->fd, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT), n;

	if (len < 0)
		return -errno;
	if (len == 0)
		return -ESHUTDOWN;
	if ((size_t)len > count)
		return -EINVAL;
	n = recv(t->fd, buf, count, MSG_DONTWAIT);
	return n < 0 ? -errno : n;
}

static ssize_t sock_write(struct iopf_target *t, const void *buf, size_t count)
{
	ssize_t n = send(t->fd, buf, count, MSG_NOSIGNAL);

	return n < 0 ? -errno : n;
}

static const struct iopf_target_ops sock_ops = {
	.read = sock_read,
	.write = sock_write,
};

/* What fd is, in words, for a message ("a regular file", ...). */
static const char *fd_kind(int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		return "a file that cannot be examined";
	switch (st.st_mode & S_IFMT) {
	case S_IFREG: return "a regular file";
	case S_IFDIR: return "a directory";
	case S_IFCHR: return "a character device";
	case S_IFBLK: return "a block device";
	case S_IFIFO: return "a pipe or FIFO";
	case S_IFSOCK: return "a socket";
	case S_IFLNK: return "a symbolic link";
	default: return "an anonymous inode";	/* anon_inode files have no type bits */
	}
}

/*
 * What fd N may be: the kernel's fault queue, the handler file
 * (lib/fusefd.c, on FUSE), or a socket with the handler-fd contract.
 * Anything else (a regular file, /dev/null, /dev/zero, a directory, a
 * pipe, a terminal, another anonymous inode) is refused, saying what it
 * is: read(2) on it means nothing (EOF for ever, zeros for ever, or a
 * wait), and poll(2) on a regular file or /dev/null is always ready.
 * Without /proc the link cannot be read: an anonymous inode is taken for
 * the queue, with a warning.
 */
static int check_fd_kind(struct iopf_target *t, int fd, char *err, size_t errlen)
{
	char link[PATH_MAX], shown[256];
	struct statfs fs;
	struct stat st;
	bool have_link = fd_link(0, fd, link, sizeof(link)) == 0;

	if (have_link && !strcmp(link, IOPF_FAULT_FD_LINK))
		return 0;
	if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)) {
		int type = 0;
		socklen_t len = sizeof(type);

		/* a stream has no messages: its recv(MSG_PEEK | MSG_TRUNC) says 0, the end */
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type != SOCK_SEQPACKET)
			return iopf_fail(err, errlen, -EINVAL, "fd %d is a %s socket, not an iommufd fault "
					 "queue or a handler-fd socket (SOCK_SEQPACKET, iopftool-replay(8))",
					 fd, type == SOCK_STREAM ? "stream" : type == SOCK_DGRAM ? "datagram" :
					 "non-SEQPACKET");
		iopf_log_printf(&t->log, IOPF_LOG_INFO,
				"fd %d is a socket: assuming a handler-fd peer (iopftool-replay(8))", fd);
		return 0;
	}
	/* lib/fusefd.c answers FUSE_STATFS with ENOSYS, which no kernel file system gives */
	if (fstatfs(fd, &fs) == 0 ? fs.f_type == FUSE_SUPER_MAGIC : errno == ENOSYS) {
		iopf_log_printf(&t->log, IOPF_LOG_INFO, "fd %d is a file on FUSE: assuming a handler "
				"file with the fault fd's read, write and poll (iopftool-replay(8))", fd);
		return 0;
	}
	if (!have_link) {
		if (fstatfs(fd, &fs) == 0 && fs.f_type == ANON_INODE_FS_MAGIC) {
			iopf_log_printf(&t->log, IOPF_LOG_WARN, "cannot tell which anonymous inode fd %d "
					"is (is /proc mounted?): assuming a fault queue", fd);
			return 0;
		}
		return iopf_fail(err, errlen, -EINVAL, "fd %d is %s, not an iommufd fault queue, a handler "
				 "file or a handler socket", fd, fd_kind(fd));
	}
	iopf_path_shown(link, shown, sizeof(shown));	/* a file's name: escaped */
	return iopf_fail(err, errlen, -EINVAL, "fd %d is %s (%s), not an iommufd fault queue (%s), a "
			 "handler file or a handler socket", fd, shown, fd_kind(fd), IOPF_FAULT_FD_LINK);
}

int iopf_target_open_fd(struct iopf_target *t, const char *arg, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if (parse_fd(arg, &fd))
		return iopf_fail(err, errlen, -EINVAL, "bad fd '%s' in fd:N (expected a number)", arg);
	if (fcntl(fd, F_GETFD) < 0)
		return iopf_fail(err, errlen, -EBADF,
			    "fd %d is not open: start iopftool with the fault fd as fd %d (e.g. %d<&N)",
			    fd, fd, fd);
	if (check_fd_kind(t, fd, err, errlen))
		return -EINVAL;
	t->ops = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) ? &sock_ops : &fd_ops;
	t->fd = fd;
	t->max_group = 0;
	return 0;
}

/* ------------------------------------------------------------------ */
/* pid:PID:FD                                                           */
/* ------------------------------------------------------------------ */

static void fd_close(struct iopf_target *t)
{
	close(t->fd);
}

static const struct iopf_target_ops owned_fd_ops = {
	.read = iopf_target_fd_read,
	.write = iopf_target_fd_write,
	.close = fd_close,
};

static int parse_pid_fd(const char *arg, pid_t *pid, int *fd)
{
	char buf[64];
	char *colon;
	uint64_t v;

	if (strlen(arg) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, arg);
	colon = strchr(buf, ':');
	if (!colon)
		return -EINVAL;
	*colon = '\0';
	if (iopf_u64_parse(buf, INT_MAX, &v) || v == 0)
		return -EINVAL;
	*pid = (pid_t)v;
	return parse_fd(colon + 1, fd);
}

static int check_remote_link(pid_t pid, int fd, char *err, size_t errlen)
{
	char link[PATH_MAX];
	int rc = fd_link(pid, fd, link, sizeof(link));

	switch (rc) {
	case 0:
		break;
	case -ENOENT:
		return iopf_fail(err, errlen, -ENOENT, "process %d has no fd %d (or no longer exists)",
			    (int)pid, fd);
	case -EACCES:
	case -EPERM:
		if (geteuid() == 0)	/* root and still refused: ptrace access, not file modes */
			return iopf_fail(err, errlen, rc,
				    "no permission to inspect fd %d of process %d, even as root: /proc/%d/fd "
				    "needs ptrace access to it (CAP_SYS_PTRACE in its user namespace; a "
				    "container, Yama or an LSM may refuse it)", fd, (int)pid, (int)pid);
		return iopf_fail(err, errlen, rc,
			    "no permission to inspect fd %d of process %d: run as its user or as root",
			    fd, (int)pid);
	default:
		return iopf_fail(err, errlen, rc, "cannot inspect /proc/%d/fd/%d: %s", (int)pid, fd,
			    strerror(-rc));
	}
	if (strcmp(link, IOPF_FAULT_FD_LINK))
		return iopf_fail(err, errlen, -EINVAL,
			    "fd %d of process %d is %s, not an iommufd fault queue (%s)", fd, (int)pid,
			    link, IOPF_FAULT_FD_LINK);
	return 0;
}

static int take_fd(pid_t pid, int fd, char *err, size_t errlen)
{
	int pidfd = (int)syscall(__NR_pidfd_open, pid, 0);
	int rc;

	if (pidfd < 0) {
		rc = -errno;
		if (rc == -ENOSYS)
			return iopf_fail(err, errlen, rc, "pidfd_open(2) needs Linux >= 5.3");
		return iopf_fail(err, errlen, rc, "cannot open process %d: %s", (int)pid, strerror(-rc));
	}
	rc = (int)syscall(__NR_pidfd_getfd, pidfd, fd, 0);
	if (rc < 0) {
		rc = -errno;
		close(pidfd);
		switch (rc) {
		case -EPERM:
			return iopf_fail(err, errlen, rc,
				    "not allowed to take fd %d of process %d: pidfd_getfd needs ptrace "
				    "permission (same user and kernel.yama.ptrace_scope=0, or root/CAP_SYS_PTRACE)",
				    fd, (int)pid);
		case -EBADF:
			return iopf_fail(err, errlen, rc, "process %d has no fd %d", (int)pid, fd);
		case -ESRCH:
			return iopf_fail(err, errlen, rc, "process %d has exited", (int)pid);
		case -ENOSYS:
			return iopf_fail(err, errlen, rc, "pidfd_getfd(2) needs Linux >= 5.6");
		default:
			return iopf_fail(err, errlen, rc, "pidfd_getfd of fd %d of process %d: %s", fd,
				    (int)pid, strerror(-rc));
		}
	}
	close(pidfd);
	return rc;
}

int iopf_target_open_pid(struct iopf_target *t, const char *arg, char *err, size_t errlen)
{
	pid_t pid;
	int fd, rc;

	if (parse_pid_fd(arg, &pid, &fd))
		return iopf_fail(err, errlen, -EINVAL, "bad 'pid:%s' (expected pid:PID:FD)", arg);
	rc = check_remote_link(pid, fd, err, errlen);
	if (rc)
		return rc;
	rc = take_fd(pid, fd, err, errlen);
	if (rc < 0)
		return rc;
	iopf_log_printf(&t->log, IOPF_LOG_WARN,
			"took fd %d of process %d: iopftool now receives that process's page faults and must "
			"answer them; the process no longer sees the faults iopftool reads", fd, (int)pid);
	t->ops = &owned_fd_ops;
	t->fd = rc;
	t->max_group = 0;
	return 0;
}

/* ------------------------------------------------------------------ */
/* device:PATH                                                          */
/* ------------------------------------------------------------------ */

struct vdev {
	int iommufd;
	int devfd;
	uint32_t dev_id;	/* bind out_devid: the dev_id in fault records */
	uint32_t ioas_id;
	uint32_t hwpt_id;
	uint32_t rid_hwpt_id;	/* pasid=: the RID's own PASID-compatible paging HWPT */
	bool attached;		/* to hwpt_id */
	bool use_pasid;
	unsigned npasid, nattached;
	uint32_t pasid[8];
	uint64_t map_iova, map_len;
	void *map;
	char path[PATH_MAX];
};

/* "PATH[,pasid=N[:N...]][,map=IOVA+LEN]" */
static int parse_device_arg(struct vdev *v, const char *arg, char *err, size_t errlen)
{
	const char *c = strchr(arg, ',');
	size_t n = c ? (size_t)(c - arg) : strlen(arg);

	if (n >= sizeof(v->path))
		return iopf_fail(err, errlen, -ENAMETOOLONG, "device: path too long");
	memcpy(v->path, arg, n);
	v->path[n] = '\0';
	while (c) {
		const char *o = c + 1, *next = strchr(o, ',');
		char opt[64];
		size_t len = next ? (size_t)(next - o) : strlen(o);
		char *plus;
		uint64_t x;

		if (len >= sizeof(opt))
			return iopf_fail(err, errlen, -EINVAL, "device: option too long");
		memcpy(opt, o, len);
		opt[len] = '\0';
		if (!strncmp(opt, "pasid=", 6)) {
			char *p = opt + 6, *colon;

			v->use_pasid = true;
			do {
				colon = strchr(p, ':');
				if (colon)
					*colon = '\0';
				if (iopf_u64_parse(p, 0xfffff, &x) || v->npasid == 8)
					return iopf_fail(err, errlen, -EINVAL,
						    "device: pasid= takes 1 to 8 numbers 0..1048575 separated by ':'");
				v->pasid[v->npasid++] = (uint32_t)x;
				p = colon + 1;
			} while (colon);
		} else if (!strncmp(opt, "map=", 4) && (plus = strchr(opt + 4, '+'))) {
			*plus = '\0';
			if (iopf_u64_parse(opt + 4, UINT64_MAX, &v->map_iova) ||
			    iopf_u64_parse(plus + 1, 1ull << 30, &v->map_len) || !v->map_len ||
			    (v->map_iova | v->map_len) & 4095)
				return iopf_fail(err, errlen, -EINVAL,
					    "device: map= takes IOVA+LEN, both multiples of 4096, LEN at most 1 GiB");
		} else {
			return iopf_fail(err, errlen, -EINVAL,
				    "device: unknown option '%s' (pasid=N, map=IOVA+LEN)", opt);
		}
		c = next;
	}
	return 0;
}

/* The page-request state of the PCI device behind a VFIO cdev, for the
 * message when a fault HWPT cannot be attached. */
static const char *pri_state(const char *path, char *buf, size_t len)
{
	char sys[PATH_MAX + 32], dev[PATH_MAX];
	struct stat st;
	unsigned off = 0x100;
	uint32_t h;
	uint16_t ctl;
	int fd;

	if (stat(path, &st))
		return "";
	snprintf(sys, sizeof(sys), "/sys/dev/char/%u:%u/device", major(st.st_rdev), minor(st.st_rdev));
	if (!realpath(sys, dev))
		return "";
	snprintf(sys, sizeof(sys), "%s/config", dev);
	fd = open(sys, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return "";
	while (off >= 0x100 && off < 4096) {
		if (pread(fd, &h, 4, off) != 4 || h == 0 || h == 0xffffffff) {
			close(fd);
			snprintf(buf, len, "; %s has no PCIe PRI capability (or its extended "
				 "config space is not readable: run as root)", dev);
			return buf;
		}
		if ((h & 0xffff) == 0x13)
			break;
		off = h >> 20;
	}
	if (off < 0x100 || off >= 4096 || pread(fd, &ctl, 2, off + 4) != 2) {
		close(fd);
		snprintf(buf, len, "; %s has no PCIe PRI capability", dev);
		return buf;
	}
	close(fd);
	if (!(ctl & 1))
		snprintf(buf, len, "; PRI is disabled on %s: the IOMMU driver enables it at probe "
			 "only when the IOMMU supports page requests (VT-d ecap PRS, dmesg \"dmar\"/"
			 "\"prq\") and the device has ATS and PRI; something may have disabled it since",
			 dev);
	else
		snprintf(buf, len, "; PRI is enabled on %s", dev);
	return buf;
}

/* Is PATH a VFIO device cdev (class vfio-dev), judged from sysfs? */
static int check_vfio_cdev(const char *path, char *err, size_t errlen)
{
	char sys[64], link[PATH_MAX];
	struct stat st;
	ssize_t n;

	if (stat(path, &st)) {
		if (errno == ENOENT)
			return iopf_fail(err, errlen, -ENOENT,
				    "no %s: is the device bound to vfio-pci, and was the kernel built with "
				    "CONFIG_VFIO_DEVICE_CDEV=y? (see /sys/bus/pci/devices/BDF/vfio-dev/)", path);
		return iopf_fail(err, errlen, -errno, "cannot stat %s: %s", path, strerror(errno));
	}
	if (!S_ISCHR(st.st_mode))
		return iopf_fail(err, errlen, -ENODEV,
			    "%s is not a character device: expected a VFIO cdev such as /dev/vfio/devices/vfio0",
			    path);
	snprintf(sys, sizeof(sys), "/sys/dev/char/%u:%u", major(st.st_rdev), minor(st.st_rdev));
	n = readlink(sys, link, sizeof(link) - 1);
	if (n < 0)
		return 0;	/* no sysfs: let VFIO_DEVICE_BIND_IOMMUFD decide */
	link[n] = '\0';
	if (strstr(link, "/vfio-dev/"))
		return 0;
	if (strstr(link, "/vfio/"))
		return iopf_fail(err, errlen, -ENODEV,
			    "%s is a VFIO group (legacy container interface): use the device's cdev "
			    "/dev/vfio/devices/vfioN", path);
	return iopf_fail(err, errlen, -ENODEV,
		    "%s is not a VFIO device cdev: expected /dev/vfio/devices/vfioN", path);
}

static int open_dev_files(struct vdev *v, const char *path, char *err, size_t errlen)
{
	v->devfd = open(path, O_RDWR | O_CLOEXEC);
	if (v->devfd < 0)
		return iopf_fail(err, errlen, -errno, "cannot open %s: %s%s", path, strerror(errno),
			    errno == EACCES ? " (run as root)" : "");
	v->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (v->iommufd < 0) {
		if (errno == ENOENT)
			return iopf_fail(err, errlen, -ENOENT,
				    "no /dev/iommu: this kernel has no iommufd (CONFIG_IOMMUFD)");
		return iopf_fail(err, errlen, -errno, "cannot open /dev/iommu: %s%s", strerror(errno),
			    errno == EACCES ? " (run as root, or chmod /dev/iommu)" : "");
	}
	return 0;
}

static int bind_device(struct vdev *v, const char *path, char *err, size_t errlen)
{
	struct vfio_bind bind = { .argsz = sizeof(bind), .iommufd = v->iommufd };
	struct iommu_ioas_alloc ioas = { .size = sizeof(ioas) };
	struct vfio_attach at = { .argsz = sizeof(at) };
	int rc = iopf_ioctl(v->devfd, VFIO_BIND_IOMMUFD, &bind);

	if (rc == -ENOTTY)
		return iopf_fail(err, errlen, rc, "%s does not take VFIO_DEVICE_BIND_IOMMUFD: not a VFIO cdev",
			    path);
	if (rc)
		return iopf_fail(err, errlen, rc, "cannot bind %s to iommufd: %s%s", path, strerror(-rc),
			    rc == -EBUSY ? " (already in use, e.g. by a VFIO group user)" :
			    rc == -EPERM ? " (no MSI isolation: interrupt remapping is off; iommufd refuses "
					   "such devices unless iommufd.allow_unsafe_interrupts=1)" : "");
	v->dev_id = bind.out_devid;
	rc = iopf_ioctl(v->iommufd, IOMMU_IOAS_ALLOC, &ioas);
	if (rc)
		return iopf_fail(err, errlen, rc, "IOMMU_IOAS_ALLOC failed: %s", strerror(-rc));
	v->ioas_id = ioas.out_ioas_id;
	if (v->map_len) {
		struct iopf_ioas_map m = {
			.size = sizeof(m), .ioas_id = v->ioas_id, .length = v->map_len, .iova = v->map_iova,
			.flags = IOPF_IOAS_MAP_FIXED_IOVA | IOPF_IOAS_MAP_WRITEABLE | IOPF_IOAS_MAP_READABLE,
		};

		v->map = mmap(NULL, v->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (v->map == MAP_FAILED) {
			v->map = NULL;
			return iopf_fail(err, errlen, -errno, "device: map=: mmap of %llu bytes failed: %s",
				    (unsigned long long)v->map_len, strerror(errno));
		}
		m.user_va = (uintptr_t)v->map;
		rc = iopf_ioctl(v->iommufd, IOPF_IOMMU_IOAS_MAP, &m);
		if (rc)
			return iopf_fail(err, errlen, rc, "device: map=: IOMMU_IOAS_MAP at %#llx failed: %s",
				    (unsigned long long)v->map_iova, strerror(-rc));
	}
	at.pt_id = v->ioas_id;
	if (v->use_pasid) {
		/* A PASID attach needs the RID's domain PASID-compatible too (iommufd
		 * iommufd_hwpt_pasid_compat()): allocate it rather than the IOAS's auto one. */
		struct iommu_hwpt_alloc ha = { .size = sizeof(ha), .flags = IOPF_HWPT_ALLOC_PASID,
					       .dev_id = v->dev_id, .pt_id = v->ioas_id };

		rc = iopf_ioctl(v->iommufd, IOMMU_HWPT_ALLOC, &ha);
		if (rc)
			return iopf_fail(err, errlen, rc,
				    "device: pasid=: cannot allocate a PASID-compatible HWPT for the RID: %s%s",
				    strerror(-rc), rc == -EOPNOTSUPP || rc == -EINVAL ?
				    " (IOMMU_HWPT_ALLOC_PASID needs Linux >= 6.14 and an IOMMU with PASID support)" : "");
		v->rid_hwpt_id = ha.out_hwpt_id;
		at.pt_id = v->rid_hwpt_id;
	}
	/* Intel <= 6.15 enables ATS only with a paging domain attached first. */
	rc = iopf_ioctl(v->devfd, VFIO_ATTACH_IOMMUFD_PT, &at);
	if (rc)
		return iopf_fail(err, errlen, rc, "cannot attach %s to an IOAS: %s", path, strerror(-rc));
	return 0;
}

static int attach_fault_queue(struct iopf_target *t, struct vdev *v, const char *path,
			      char *err, size_t errlen)
{
	struct iommu_fault_alloc fa = { .size = sizeof(fa) };
	struct iommu_hwpt_alloc ha = { .size = sizeof(ha), .flags = IOMMU_HWPT_FAULT_ID_VALID };
	struct vfio_attach at = { .argsz = sizeof(at) };
	struct vfio_attach_pasid atp = { .argsz = sizeof(atp), .flags = VFIO_ATTACH_PASID };
	char why[PATH_MAX + 300];
	int rc = iopf_ioctl(v->iommufd, IOMMU_FAULT_QUEUE_ALLOC, &fa);

	if (rc == -ENOTTY)
		return iopf_fail(err, errlen, rc,
			    "kernel has no IOMMU_FAULT_QUEUE_ALLOC: iommufd fault queues need Linux >= 6.11");
	if (rc)
		return iopf_fail(err, errlen, rc, "IOMMU_FAULT_QUEUE_ALLOC failed: %s", strerror(-rc));
	t->fd = (int)fa.out_fault_fd;
	t->queue_id = fa.out_fault_id;
	ha.dev_id = v->dev_id;
	ha.pt_id = v->ioas_id;
	ha.fault_id = fa.out_fault_id;
	if (v->use_pasid)
		ha.flags |= IOPF_HWPT_ALLOC_PASID;
	rc = iopf_ioctl(v->iommufd, IOMMU_HWPT_ALLOC, &ha);
	if (rc == -EOPNOTSUPP)
		return iopf_fail(err, errlen, rc,
			    "kernel 6.12 cannot attach a fault queue to a paging HWPT (needs >= 6.13)");
	if (rc)
		return iopf_fail(err, errlen, rc, "cannot allocate a HWPT with the fault queue: %s",
			    strerror(-rc));
	v->hwpt_id = ha.out_hwpt_id;
	at.pt_id = v->hwpt_id;
	if (v->use_pasid) {
		atp.pt_id = v->hwpt_id;
		for (rc = 0; !rc && v->nattached < v->npasid; ) {
			atp.pasid = v->pasid[v->nattached];
			rc = iopf_ioctl(v->devfd, VFIO_ATTACH_IOMMUFD_PT, &atp);
			if (!rc)
				v->nattached++;
		}
		if (v->nattached)
			v->attached = true;
	} else {
		rc = iopf_ioctl(v->devfd, VFIO_ATTACH_IOMMUFD_PT, &at);
	}
	if (rc == -ENODEV || rc == -EINVAL)
		return iopf_fail(err, errlen, rc,
			    "cannot enable page faults on %s%s: %s (the device needs PRI and ATS enabled, "
			    "or stall support; it must not be a VF; the kernel needs CONFIG_IOMMU_IOPF%s)%s",
			    path, v->use_pasid ? " at its PASID" : "", strerror(-rc),
			    v->use_pasid ? ", and the device PASID enabled" : "",
			    pri_state(path, why, sizeof(why)));
	if (rc)
		return iopf_fail(err, errlen, rc, "cannot attach %s to the fault HWPT: %s", path,
			    strerror(-rc));
	v->attached = true;
	return 0;
}

static int detach_fault_hwpt(struct vdev *v)
{
	struct vfio_detach dt = { .argsz = sizeof(dt) };
	struct vfio_detach_pasid dp = { .argsz = sizeof(dp), .flags = VFIO_ATTACH_PASID };
	int rc = 0;

	if (!v->use_pasid)
		return iopf_ioctl(v->devfd, VFIO_DETACH_IOMMUFD_PT, &dt);
	while (v->nattached) {
		dp.pasid = v->pasid[v->nattached - 1];
		rc = iopf_ioctl(v->devfd, VFIO_DETACH_IOMMUFD_PT, &dp);
		if (rc)
			break;
		v->nattached--;
	}
	return rc;
}

/* Detach first (answers pending groups INVALID), then the order of doc/kernel-notes.md §7. */
static void vdev_teardown(struct iopf_target *t, struct vdev *v)
{
	struct iommu_destroy d = { .size = sizeof(d) };

	if (v->attached && detach_fault_hwpt(v))
		iopf_log_printf(&t->log, IOPF_LOG_WARN, "device: detach failed: %s", strerror(errno));
	if (v->hwpt_id) {
		d.id = v->hwpt_id;
		iopf_ioctl(v->iommufd, IOMMU_DESTROY, &d);
	}
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	if (t->queue_id && v->iommufd >= 0) {
		d.id = t->queue_id;
		iopf_ioctl(v->iommufd, IOMMU_DESTROY, &d);
	}
	if (v->devfd >= 0)
		close(v->devfd);	/* unbinds */
	if (v->iommufd >= 0)
		close(v->iommufd);
	if (v->map)
		munmap(v->map, v->map_len);
	free(v);
}

static void vdev_close(struct iopf_target *t)
{
	vdev_teardown(t, t->priv);
}

static int vdev_detach(struct iopf_target *t, uint32_t live_dev_id)
{
	struct vdev *v = t->priv;
	int rc;

	if (live_dev_id != v->dev_id)
		return -ENOENT;
	if (!v->attached)
		return 0;
	rc = detach_fault_hwpt(v);
	if (!rc)
		v->attached = false;
	return rc;
}

static const struct iopf_target_ops vdev_ops = {
	.read = iopf_target_fd_read,
	.write = iopf_target_fd_write,
	.detach = vdev_detach,
	.close = vdev_close,
};

int iopf_target_open_device(struct iopf_target *t, const char *arg, char *err, size_t errlen)
{
	struct vdev *v;
	int rc;

	if (!*arg || *arg == ',')
		return iopf_fail(err, errlen, -EINVAL, "device: needs a path, e.g. device:/dev/vfio/devices/vfio0");
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->iommufd = v->devfd = -1;
	rc = parse_device_arg(v, arg, err, errlen);
	if (!rc)
		rc = check_vfio_cdev(v->path, err, errlen);
	if (!rc)
		rc = open_dev_files(v, v->path, err, errlen);
	if (!rc)
		rc = bind_device(v, v->path, err, errlen);
	if (!rc)
		rc = attach_fault_queue(t, v, v->path, err, errlen);
	if (rc) {
		vdev_teardown(t, v);
		t->queue_id = 0;
		return rc;
	}
	t->ops = &vdev_ops;
	t->priv = v;
	t->max_group = 0;
	if (v->use_pasid)
		iopf_log_printf(&t->log, IOPF_LOG_INFO, "%s: device %u pasid %u%s, fault queue %u on fd %d", v->path,
				v->dev_id, v->pasid[0], v->npasid > 1 ? " (and more)" : "", t->queue_id, t->fd);
	else
		iopf_log_printf(&t->log, IOPF_LOG_INFO, "%s: device %u, fault queue %u on fd %d", v->path,
				v->dev_id, t->queue_id, t->fd);
	return 0;
}
