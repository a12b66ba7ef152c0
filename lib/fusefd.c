// SPDX-License-Identifier: MIT
/*
 * The handler file: a real file whose read(2), write(2) and poll(2) are
 * those of the kernel's fault fd (drivers/iommu/iommufd/fault.c:
 * iommufd_fault_fops_read(), _write(), _poll()), served from a fault
 * queue in this process, so that a handler under test can be given one as
 * fd 3 and run unchanged.
 *
 * It is a one-file FUSE file system spoken directly over /dev/fuse (the
 * kernel ABI of <linux/fuse.h>, no libfuse), mounted detached with the new
 * mount API (fsopen/fsconfig/fsmount: nothing appears in any mount table)
 * and opened through /proc/self/fd.  The root inode is the file itself
 * (rootmode=0100600), and every open gets
 *  - FOPEN_DIRECT_IO: each read(2)/write(2) reaches us with its count,
 *    nothing is cached (fs/fuse/file.c: fuse_direct_io());
 *  - FOPEN_NONSEEKABLE | FOPEN_STREAM: no FMODE_LSEEK, FMODE_PREAD or
 *    FMODE_PWRITE, so lseek(2), pread(2) and pwrite(2) fail with ESPIPE in
 *    the VFS, as on the anon inode of the fault fd, and every read and
 *    write starts at offset 0 (the fault fd's *ppos is always 0);
 *  - FOPEN_NOFLUSH: close(2) sends no FLUSH that would wait for us.
 * poll(2) goes to us as FUSE_POLL, and we wake the pollers with
 * FUSE_NOTIFY_POLL when the caller says a group was delivered
 * (iopf_handler_file_notify()), as iommufd_fault_iopf_handler() does with
 * wake_up_interruptible().
 *
 * fuse_direct_io() cuts a read or write into requests of at most max_read
 * (a mount option) or max_write (our INIT answer) bytes, and of at most
 * max_pages pinned pages.  We set both to the largest multiple of 40 bytes
 * that max_pages - 1 pages always hold (1044480 bytes with the default
 * fs.fuse.max_pages_limit of 256), so that any read or write up to that
 * size reaches us whole and gets exactly the queue's answer.  A larger one
 * arrives in pieces; fuse_direct_io() stops at the first piece that comes
 * back short or failed and returns the bytes of the pieces before it,
 * which for reads is whole groups and for writes whole responses, the
 * kernel's partial-write rule.  What differs is listed in
 * iopftool-replay(8), THE HANDLER FD.
 *
 * Threads: iopf_handler_file_serve() from the caller's event loop, or a
 * serving thread (iopf_handler_file_start()); iopf_handler_file_lock()
 * then guards the queue against it.  Opening the file needs a server
 * while open(2) waits, so iopf_handler_file_open() runs the thread for
 * that moment.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fuse.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

#ifndef FOPEN_NOFLUSH
#define FOPEN_NOFLUSH (1 << 5)
#endif
#ifndef FUSE_MAX_PAGES
#define FUSE_MAX_PAGES (1 << 22)
#endif

/* fs/fuse/fuse_i.h: FUSE_DEFAULT_MAX_PAGES_LIMIT, used when the sysctl is not there. */
#define DEFAULT_MAX_PAGES 256u
/* We never ask for more: the request buffer is about this many pages. */
#define OUR_MAX_PAGES 256u

struct polled {
	uint64_t fh, kh;
};

struct iopf_handler_file {
	int dev;			/* /dev/fuse, non-blocking */
	struct iopf_handler_ops ops;
	void *ctx;
	struct iopf_log log;
	size_t chunk;			/* max_read = max_write: a multiple of 40 */
	unsigned max_pages;
	uint8_t *in;			/* one request */
	size_t in_cap;
	uint8_t *out;			/* read data */
	uint64_t next_fh;
	unsigned open_files;
	struct polled *polled;		/* files that asked for a poll wake-up */
	size_t npolled, polled_cap;
	bool initialized, gone;
	struct iopf_handler_file_stats st;
	/* the serving thread */
	pthread_mutex_t lock;
	pthread_t thread;
	bool running;
	int stopfd;			/* eventfd: tells the thread to stop */
};

/* ------------------------------------------------------------------ */
/* Replies                                                             */
/* ------------------------------------------------------------------ */

/*
 * One reply: header + payload.  ENOENT means the request was interrupted
 * or its caller killed (fs/fuse/dev.c: fuse_dev_do_write()): nothing to do.
 */
/*
 * The connection is gone: every file is closed and the mount went with it.
 * fs/fuse/dev.c: fuse_dev_do_read() says ENODEV once it is down, and
 * ECONNABORTED when the teardown aborts it (fuse_abort_conn()) while a read
 * was taking a request, a window the handler's last close can hit.
 */
static bool conn_gone(int err)
{
	return err == ENODEV || err == ECONNABORTED;
}

static int reply(struct iopf_handler_file *hf, uint64_t unique, int error,
		 const void *payload, size_t len)
{
	struct fuse_out_header oh = {
		.len = (uint32_t)(sizeof(oh) + (error ? 0 : len)),
		.error = error,
		.unique = unique,
	};
	struct iovec iov[2] = { { &oh, sizeof(oh) }, { (void *)payload, error ? 0 : len } };
	ssize_t n;

	do
		n = writev(hf->dev, iov, 2);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == ENOENT)
		return -ENOENT;
	if (n < 0) {
		if (conn_gone(errno))
			hf->gone = true;
		return -errno;
	}
	return 0;
}

static int reply_err(struct iopf_handler_file *hf, uint64_t unique, int negerr)
{
	return reply(hf, unique, negerr, NULL, 0);
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

static int do_init(struct iopf_handler_file *hf, const struct fuse_in_header *ih,
		   const void *arg, size_t len)
{
	struct fuse_init_in in = { 0 };
	struct fuse_init_out out = { 0 };

	memcpy(&in, arg, len < sizeof(in) ? len : sizeof(in));
	if (in.major != FUSE_KERNEL_VERSION) {
		iopf_log_printf(&hf->log, IOPF_LOG_ERR, "handler file: the kernel speaks FUSE %u.%u, not %u",
				in.major, in.minor, FUSE_KERNEL_VERSION);
		hf->gone = true;
		return reply_err(hf, ih->unique, -EPROTO);
	}
	if (!(in.flags & FUSE_MAX_PAGES)) {
		/* Without max_pages requests are cut at 32 pages, not at our multiple of 40. */
		iopf_log_printf(&hf->log, IOPF_LOG_ERR,
				"handler file: the kernel's FUSE %u.%u has no FUSE_MAX_PAGES (Linux >= 4.20)",
				in.major, in.minor);
		hf->gone = true;
		return reply_err(hf, ih->unique, -EPROTO);
	}
	out.major = FUSE_KERNEL_VERSION;
	out.minor = in.minor < FUSE_KERNEL_MINOR_VERSION ? in.minor : FUSE_KERNEL_MINOR_VERSION;
	out.max_readahead = in.max_readahead;
	out.flags = FUSE_MAX_PAGES;
	out.max_write = (uint32_t)hf->chunk;
	out.max_pages = (uint16_t)hf->max_pages;
	out.time_gran = 1;
	hf->initialized = true;
	return reply(hf, ih->unique, 0, &out, sizeof(out));
}

static int do_getattr(struct iopf_handler_file *hf, const struct fuse_in_header *ih)
{
	struct fuse_attr_out out = { .attr_valid = 1u << 30 };

	out.attr.ino = FUSE_ROOT_ID;
	out.attr.mode = S_IFREG | 0600;
	out.attr.nlink = 1;
	out.attr.uid = (uint32_t)getuid();
	out.attr.gid = (uint32_t)getgid();
	out.attr.blksize = 4096;
	return reply(hf, ih->unique, 0, &out, sizeof(out));
}

static int do_open(struct iopf_handler_file *hf, const struct fuse_in_header *ih)
{
	struct fuse_open_out out = {
		.fh = ++hf->next_fh,
		.open_flags = FOPEN_DIRECT_IO | FOPEN_NONSEEKABLE | FOPEN_STREAM | FOPEN_NOFLUSH,
	};
	int rc = reply(hf, ih->unique, 0, &out, sizeof(out));

	if (!rc) {
		hf->open_files++;
		hf->st.opens++;
	}
	return rc;
}

/* iommufd_fault_fops_read(), through the caller's read op. */
static int do_read(struct iopf_handler_file *hf, const struct fuse_in_header *ih,
		   const void *arg, size_t len)
{
	struct fuse_read_in in;
	size_t count;
	ssize_t n;
	int rc;

	if (len < sizeof(in))
		return reply_err(hf, ih->unique, -EINVAL);
	memcpy(&in, arg, sizeof(in));
	count = in.size < hf->chunk ? in.size : hf->chunk;
	n = hf->ops.read(hf->ctx, hf->out, count);
	hf->st.reads++;
	if (n < 0)
		return reply_err(hf, ih->unique, (int)n);
	hf->st.read_bytes += (uint64_t)n;
	rc = reply(hf, ih->unique, 0, hf->out, (size_t)n);
	if (rc == -ENOENT && n > 0)
		/* The reader was killed as we answered: those groups are read and lost. */
		iopf_log_printf(&hf->log, IOPF_LOG_WARN,
				"handler file: the reader went away; %zd bytes of groups it read are lost "
				"(they stay outstanding)", n);
	return rc == -ENOENT ? 0 : rc;
}

/* iommufd_fault_fops_write(), through the caller's write op. */
static int do_write(struct iopf_handler_file *hf, const struct fuse_in_header *ih,
		    const uint8_t *arg, size_t len)
{
	struct fuse_write_in in;
	struct fuse_write_out out = { 0 };
	ssize_t n;
	int rc;

	if (len < sizeof(in))
		return reply_err(hf, ih->unique, -EINVAL);
	memcpy(&in, arg, sizeof(in));
	if (in.size > len - sizeof(in))
		return reply_err(hf, ih->unique, -EINVAL);
	n = hf->ops.write(hf->ctx, arg + sizeof(in), in.size);
	hf->st.writes++;
	if (n < 0)
		return reply_err(hf, ih->unique, (int)n);
	hf->st.write_bytes += (uint64_t)n;
	out.size = (uint32_t)n;
	rc = reply(hf, ih->unique, 0, &out, sizeof(out));
	return rc == -ENOENT ? 0 : rc;
}

static int remember_poller(struct iopf_handler_file *hf, uint64_t fh, uint64_t kh)
{
	for (size_t i = 0; i < hf->npolled; i++)
		if (hf->polled[i].kh == kh)
			return 0;
	if (hf->npolled == hf->polled_cap) {
		size_t ncap = hf->polled_cap ? hf->polled_cap * 2 : 8;
		struct polled *p = realloc(hf->polled, ncap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		hf->polled = p;
		hf->polled_cap = ncap;
	}
	hf->polled[hf->npolled++] = (struct polled){ fh, kh };
	return 0;
}

/* iommufd_fault_fops_poll(): POLLOUT always, POLLIN | POLLRDNORM while groups wait. */
static int do_poll(struct iopf_handler_file *hf, const struct fuse_in_header *ih,
		   const void *arg, size_t len)
{
	struct fuse_poll_in in;
	struct fuse_poll_out out = { 0 };

	if (len < sizeof(in))
		return reply_err(hf, ih->unique, -EINVAL);
	memcpy(&in, arg, sizeof(in));
	if ((in.flags & FUSE_POLL_SCHEDULE_NOTIFY) && remember_poller(hf, in.fh, in.kh))
		return reply_err(hf, ih->unique, -ENOMEM);
	out.revents = (uint16_t)hf->ops.poll(hf->ctx);
	hf->st.polls++;
	return reply(hf, ih->unique, 0, &out, sizeof(out));
}

static int do_release(struct iopf_handler_file *hf, const struct fuse_in_header *ih,
		      const void *arg, size_t len)
{
	struct fuse_release_in in;

	if (len >= sizeof(in)) {
		memcpy(&in, arg, sizeof(in));
		for (size_t i = 0; i < hf->npolled;)
			if (hf->polled[i].fh == in.fh)
				hf->polled[i] = hf->polled[--hf->npolled];
			else
				i++;
	}
	if (hf->open_files)
		hf->open_files--;
	return reply_err(hf, ih->unique, 0);
}

static int dispatch(struct iopf_handler_file *hf, const uint8_t *req, size_t n)
{
	struct fuse_in_header ih;
	const uint8_t *arg = req + sizeof(ih);
	size_t len;

	if (n < sizeof(ih))
		return -EPROTO;
	memcpy(&ih, req, sizeof(ih));
	if (ih.len != n)
		return -EPROTO;
	len = n - sizeof(ih);
	switch (ih.opcode) {
	case FUSE_INIT: return do_init(hf, &ih, arg, len);
	case FUSE_GETATTR: return do_getattr(hf, &ih);
	case FUSE_OPEN: return do_open(hf, &ih);
	case FUSE_READ: return do_read(hf, &ih, arg, len);
	case FUSE_WRITE: return do_write(hf, &ih, arg, len);
	case FUSE_POLL: return do_poll(hf, &ih, arg, len);
	case FUSE_RELEASE: return do_release(hf, &ih, arg, len);
	case FUSE_FLUSH:
	case FUSE_DESTROY: return reply_err(hf, ih.unique, 0);
	/* No replies: we answer every request at once, so an interrupt finds nothing. */
	case FUSE_INTERRUPT:
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET: return 0;
	/* The fault fd has no ioctl (iommufd_fault_fops): ENOTTY, as vfs_ioctl() says. */
	case FUSE_IOCTL: return reply_err(hf, ih.unique, -ENOTTY);
	default: return reply_err(hf, ih.unique, -ENOSYS);
	}
}

/* ------------------------------------------------------------------ */
/* Serving                                                             */
/* ------------------------------------------------------------------ */

/*
 * Requests served per call at most.  A handler that keeps the server busy
 * (threads calling poll(2) on fd 3 in a loop, or opening and closing it)
 * never lets read() say EAGAIN: each call returns after this many, so the
 * caller's loop still injects, times out and sees SIGTERM; the fd stays
 * readable and the rest is served on its next turn.
 */
#define SERVE_BATCH	64

static int serve_locked(struct iopf_handler_file *hf)
{
	int served = 0;

	while (!hf->gone && served < SERVE_BATCH) {
		ssize_t n = read(hf->dev, hf->in, hf->in_cap);
		int rc;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			if (conn_gone(errno)) {
				hf->gone = true;
				break;
			}
			return -errno;
		}
		rc = dispatch(hf, hf->in, (size_t)n);
		if (rc == -ENOENT)
			rc = 0;
		if (rc < 0 && rc != -ENODEV) {
			iopf_log_printf(&hf->log, IOPF_LOG_WARN, "handler file: request %u: %s",
					n >= 8 ? ((const struct fuse_in_header *)(const void *)hf->in)->opcode : 0,
					strerror(-rc));
			if (rc == -EPROTO)
				return rc;
		}
		served++;
	}
	return hf->gone ? -ENOTCONN : served;
}

int iopf_handler_file_serve(struct iopf_handler_file *hf)
{
	if (hf->running)
		return -EBUSY;
	return serve_locked(hf);
}

int iopf_handler_file_notify(struct iopf_handler_file *hf)
{
	int rc = 0;

	if (hf->running)
		pthread_mutex_lock(&hf->lock);
	for (size_t i = 0; i < hf->npolled && !hf->gone; i++) {
		struct fuse_out_header oh = {
			.len = sizeof(oh) + sizeof(struct fuse_notify_poll_wakeup_out),
			.error = FUSE_NOTIFY_POLL,
		};
		struct fuse_notify_poll_wakeup_out w = { .kh = hf->polled[i].kh };
		struct iovec iov[2] = { { &oh, sizeof(oh) }, { &w, sizeof(w) } };

		if (writev(hf->dev, iov, 2) < 0 && errno != ENOENT) {
			rc = -errno;
			if (conn_gone(errno))
				hf->gone = true;
			break;
		}
		hf->st.notifies++;
	}
	if (hf->running)
		pthread_mutex_unlock(&hf->lock);
	return rc;
}

static void *serve_thread(void *arg)
{
	struct iopf_handler_file *hf = arg;

	for (;;) {
		struct pollfd p[2] = { { hf->dev, POLLIN, 0 }, { hf->stopfd, POLLIN, 0 } };

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		pthread_mutex_lock(&hf->lock);
		int rc = serve_locked(hf);
		pthread_mutex_unlock(&hf->lock);
		if (rc < 0)
			break;
	}
	return NULL;
}

int iopf_handler_file_start(struct iopf_handler_file *hf)
{
	uint64_t v;
	int rc;

	if (hf->running)
		return -EBUSY;
	while (read(hf->stopfd, &v, sizeof(v)) > 0)
		;
	rc = pthread_create(&hf->thread, NULL, serve_thread, hf);
	if (rc)
		return -rc;
	hf->running = true;
	return 0;
}

void iopf_handler_file_stop(struct iopf_handler_file *hf)
{
	uint64_t one = 1;

	if (!hf->running)
		return;
	if (write(hf->stopfd, &one, sizeof(one)) != sizeof(one))
		pthread_cancel(hf->thread);
	pthread_join(hf->thread, NULL);
	hf->running = false;
}

void iopf_handler_file_lock(struct iopf_handler_file *hf)
{
	if (hf->running)
		pthread_mutex_lock(&hf->lock);
}

void iopf_handler_file_unlock(struct iopf_handler_file *hf)
{
	if (hf->running)
		pthread_mutex_unlock(&hf->lock);
}

/* ------------------------------------------------------------------ */
/* Open and close                                                      */
/* ------------------------------------------------------------------ */

/* fs.fuse.max_pages_limit (Linux >= 6.13), else the compiled-in 256. */
static unsigned max_pages_limit(void)
{
	FILE *f = fopen("/proc/sys/fs/fuse/max_pages_limit", "re");
	unsigned v = DEFAULT_MAX_PAGES;

	if (f) {
		if (fscanf(f, "%u", &v) != 1 || v == 0)
			v = DEFAULT_MAX_PAGES;
		fclose(f);
	}
	return v < OUR_MAX_PAGES ? v : OUR_MAX_PAGES;
}

static int set_opt(int fsfd, const char *key, bool octal, unsigned long long v,
		   char *err, size_t errlen)
{
	char s[32];

	snprintf(s, sizeof(s), octal ? "%llo" : "%llu", v);
	if (fsconfig(fsfd, FSCONFIG_SET_STRING, key, s, 0))
		return iopf_fail(err, errlen, -errno, "fsconfig(fuse, %s=%s): %s", key, s,
				 strerror(errno));
	return 0;
}

/* A detached FUSE mount whose root is the file; returns its O_PATH fd. */
static int mount_file(struct iopf_handler_file *hf, char *err, size_t errlen)
{
	int fsfd = fsopen("fuse", FSOPEN_CLOEXEC), mnt, rc;

	if (fsfd < 0) {
		int e = errno;

		if (e == ENOSYS)
			return iopf_fail(err, errlen, -e, "fsopen(2) is missing (Linux >= 5.2 needed)");
		if (e == ENODEV)
			return iopf_fail(err, errlen, -e, "the kernel has no fuse file system (modprobe fuse)");
		return iopf_fail(err, errlen, -e, "fsopen(\"fuse\"): %s%s", strerror(e),
				 e == EPERM ? " (mounting needs CAP_SYS_ADMIN: run as root)" : "");
	}
	rc = set_opt(fsfd, "fd", false, (unsigned long long)hf->dev, err, errlen);
	rc = rc ?: set_opt(fsfd, "rootmode", true, S_IFREG | 0600, err, errlen);
	rc = rc ?: set_opt(fsfd, "user_id", false, getuid(), err, errlen);
	rc = rc ?: set_opt(fsfd, "group_id", false, getgid(), err, errlen);
	rc = rc ?: set_opt(fsfd, "max_read", false, hf->chunk, err, errlen);
	if (!rc && fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0))
		rc = iopf_fail(err, errlen, -errno, "creating the fuse mount: %s", strerror(errno));
	if (rc) {
		close(fsfd);
		return rc;
	}
	mnt = fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
	if (mnt < 0)
		rc = iopf_fail(err, errlen, -errno, "fsmount(fuse): %s", strerror(errno));
	close(fsfd);
	return rc ? rc : mnt;
}

int iopf_handler_file_open_ops(struct iopf_handler_file **hfp, const struct iopf_handler_ops *ops,
			       void *ctx, const struct iopf_log *log, int *fd,
			       char *err, size_t errlen)
{
	struct iopf_handler_file *hf = calloc(1, sizeof(*hf));
	long page = sysconf(_SC_PAGESIZE);
	char path[64];
	int mnt = -1, rc, f;

	if (!hf)
		return iopf_fail(err, errlen, -ENOMEM, "out of memory");
	hf->ops = *ops;
	hf->ctx = ctx;
	if (log)
		hf->log = *log;
	hf->dev = hf->stopfd = -1;
	pthread_mutex_init(&hf->lock, NULL);
	if (page <= 0)
		page = 4096;
	hf->max_pages = max_pages_limit();
	/* Any max_pages - 1 pages fit in max_pages pinned pages, whatever the buffer's alignment. */
	hf->chunk = (size_t)(hf->max_pages > 1 ? hf->max_pages - 1 : 1) * (size_t)page;
	hf->chunk = hf->chunk / IOPF_FAULT_SIZE * IOPF_FAULT_SIZE;
	hf->in_cap = hf->chunk + sizeof(struct fuse_in_header) + sizeof(struct fuse_write_in) + 4096;
	if (hf->in_cap < FUSE_MIN_READ_BUFFER)
		hf->in_cap = FUSE_MIN_READ_BUFFER;
	hf->in = malloc(hf->in_cap);
	hf->out = malloc(hf->chunk);
	if (!hf->in || !hf->out) {
		rc = iopf_fail(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	hf->dev = open("/dev/fuse", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (hf->dev < 0) {
		int e = errno;

		rc = iopf_fail(err, errlen, -e, "/dev/fuse: %s%s", strerror(e),
			       e == ENOENT ? " (no fuse device: modprobe fuse, or not on this machine)" :
			       e == EACCES || e == EPERM ? " (run as root)" : "");
		goto fail;
	}
	hf->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (hf->stopfd < 0) {
		rc = iopf_fail(err, errlen, -errno, "eventfd: %s", strerror(errno));
		goto fail;
	}
	mnt = mount_file(hf, err, errlen);
	if (mnt < 0) {
		rc = mnt;
		goto fail;
	}
	/* open(2) waits for FUSE_INIT and FUSE_OPEN answers: serve them from a thread. */
	rc = iopf_handler_file_start(hf);
	if (rc) {
		iopf_fail(err, errlen, rc, "cannot start the serving thread: %s", strerror(-rc));
		goto fail;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", mnt);
	f = open(path, O_RDWR | O_CLOEXEC);
	rc = f < 0 ? -errno : 0;
	iopf_handler_file_stop(hf);
	close(mnt);	/* the open file keeps the mount; it goes away with the last one */
	mnt = -1;
	if (rc) {
		iopf_fail(err, errlen, rc, "opening the handler file through %s: %s%s", path,
			  strerror(-rc), hf->gone ? " (the fuse handshake failed)" : "");
		goto fail;
	}
	if (!hf->initialized) {
		close(f);
		rc = iopf_fail(err, errlen, -EPROTO, "the fuse handshake did not happen");
		goto fail;
	}
	*fd = f;
	*hfp = hf;
	return 0;
fail:
	if (mnt >= 0)
		close(mnt);
	iopf_handler_file_close(hf);
	return rc;
}

static ssize_t q_read(void *ctx, void *buf, size_t count)
{
	return iopf_queue_read(ctx, buf, count);
}

static ssize_t q_write(void *ctx, const void *buf, size_t count)
{
	return iopf_queue_write(ctx, buf, count);
}

static short q_poll(void *ctx)
{
	return iopf_queue_poll(ctx);
}

int iopf_handler_file_open(struct iopf_handler_file **hf, struct iopf_queue *q,
			   const struct iopf_log *log, int *fd, char *err, size_t errlen)
{
	static const struct iopf_handler_ops qops = { q_read, q_write, q_poll };

	return iopf_handler_file_open_ops(hf, &qops, q, log, fd, err, errlen);
}

int iopf_handler_file_fd(const struct iopf_handler_file *hf)
{
	return hf->dev;
}

size_t iopf_handler_file_max_io(const struct iopf_handler_file *hf)
{
	return hf->chunk;
}

bool iopf_handler_file_gone(const struct iopf_handler_file *hf)
{
	return hf->gone;
}

void iopf_handler_file_stats(const struct iopf_handler_file *hf, struct iopf_handler_file_stats *st)
{
	*st = hf->st;
	st->open_files = hf->open_files;
}

void iopf_handler_file_close(struct iopf_handler_file *hf)
{
	if (!hf)
		return;
	iopf_handler_file_stop(hf);
	/* Closing /dev/fuse aborts the connection: a reader still there gets ENOTCONN. */
	if (hf->dev >= 0)
		close(hf->dev);
	if (hf->stopfd >= 0)
		close(hf->stopfd);
	pthread_mutex_destroy(&hf->lock);
	free(hf->in);
	free(hf->out);
	free(hf->polled);
	free(hf);
}
