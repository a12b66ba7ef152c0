// SPDX-License-Identifier: MIT
/*
 * iopftool doctor: why does this machine deliver no I/O page faults to a
 * fault fd?  A table of checks (kernel, IOMMUs, DMA mode, PCI devices,
 * fault fd holders, the tap, the kernel log), each reading only through
 * the root-relative functions below (dr_*), so that a tree collected on
 * another machine (--root, a bundle) is read exactly like the live one.
 * See iopftool-doctor(8) for every check and what it reads.
 *
 * Reading a tree is hostile input: every open goes through openat2(2)
 * with RESOLVE_IN_ROOT (absolute links and ".." stay inside the root;
 * walk_in_root() does the same by hand where openat2 is missing),
 * only regular files are read, each read is bounded, a symlink loop is
 * an ELOOP like any unreadable file, and every string that comes from a
 * file is escaped before it is kept (iopf_str_escape()).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zlib.h>

#include "internal.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

/* Bounds on what is read (hostile trees: a "sysfs file" of 10 GB). */
#define SMALL_MAX	(64 * 1024)		/* sysfs/procfs attribute */
#define CONFIG_GZ_MAX	(4u << 20)		/* /proc/config.gz as stored */
#define CONFIG_MAX	(16u << 20)		/* the config text */
#define DMESG_MAX	(16u << 20)		/* a kernel log */
#define DMESG_KEEP	(1u << 20)		/* classified lines kept for the bundle */
#define DIR_MAX		4096			/* entries of one directory */
#define EXAMPLES	5			/* log lines shown per class */

struct chk {
	struct iopf_doctor_check pub;
	char *id, *title, *summary, *advice;
	char **ev;
	size_t nev, cap;
};

struct iommu_unit {
	char name[64];
	int kind;		/* 'i' VT-d, 'a' AMD-Vi, 's' SMMUv3, '?' other */
	int pr;			/* page requests: 1 yes, 0 no, -1 cannot tell */
};

struct iopf_doctor {
	const struct iopf_doctor_cfg *cfg;
	int rootfd;
	bool live;
	struct iopf_doctor_input *in;
	size_t nin, capin;
	struct chk **c;
	size_t nc, capc;
	char release[128];
	int kmaj, kmin;
	char *config;		/* the kernel config text, NULL when not found */
	size_t configlen;
	char config_src[64];
	char cmdline[4096];
	struct iommu_unit *units;
	size_t nunits;
	int smmu_features;	/* from the log's "(features 0x...)", -1 unknown */
	char *kept;		/* classified log lines */
	size_t keptlen;
	bool sm_off, sm_on;
	bool mock_only;		/* the only IOMMU is the iommufd selftest's */
	size_t short_cfg;	/* devices whose config space was cut at 64 bytes */
	int starved;		/* the first EMFILE/ENFILE/ENOMEM opening a file: findings unsound */
	char starved_at[128];
};

/* ---- strings --------------------------------------------------------- */

static char *vesc(const char *fmt, va_list ap)
{
	char raw[2048], *out;
	size_t n;

	vsnprintf(raw, sizeof(raw), fmt, ap);
	n = iopf_str_escape(raw, NULL, 0) + 1;
	out = malloc(n);
	if (out)
		iopf_str_escape(raw, out, n);
	return out;
}

static struct chk *chk_new(struct iopf_doctor *d, const char *id, const char *title)
{
	struct chk *c;

	if (d->nc == d->capc) {
		size_t cap = d->capc ? d->capc * 2 : 32;
		struct chk **n = realloc(d->c, cap * sizeof(*n));

		if (!n)
			return NULL;
		d->c = n;
		d->capc = cap;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->id = strdup(id);
	c->title = strdup(title);
	d->c[d->nc++] = c;
	return c;
}

/* A static dummy keeps the checks' code free of NULL tests after an ENOMEM. */
static struct chk oom_chk;

static struct chk *chk(struct iopf_doctor *d, const char *title, const char *idfmt, ...)
	__attribute__((format(printf, 3, 4)));
static struct chk *chk(struct iopf_doctor *d, const char *title, const char *idfmt, ...)
{
	va_list ap;
	char *id;
	struct chk *c;

	va_start(ap, idfmt);
	id = vesc(idfmt, ap);
	va_end(ap);
	c = id ? chk_new(d, id, title) : NULL;
	free(id);
	if (!c) {
		memset(&oom_chk, 0, sizeof(oom_chk));
		return &oom_chk;
	}
	return c;
}

static void ev(struct chk *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ev(struct chk *c, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (c == &oom_chk)
		return;
	va_start(ap, fmt);
	s = vesc(fmt, ap);
	va_end(ap);
	if (!s)
		return;
	if (c->nev == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		char **n = realloc(c->ev, cap * sizeof(*n));

		if (!n) {
			free(s);
			return;
		}
		c->ev = n;
		c->cap = cap;
	}
	c->ev[c->nev++] = s;
}

/* Set the status (never lowered) and replace the summary. */
static void verdict(struct chk *c, enum iopf_doctor_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void verdict(struct chk *c, enum iopf_doctor_status st, const char *fmt, ...)
{
	va_list ap;

	if (c == &oom_chk)
		return;
	if (st > c->pub.status)
		c->pub.status = st;
	va_start(ap, fmt);
	free(c->summary);
	c->summary = vesc(fmt, ap);
	va_end(ap);
}

static void advise(struct chk *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void advise(struct chk *c, const char *fmt, ...)
{
	va_list ap;

	if (c == &oom_chk)
		return;
	va_start(ap, fmt);
	free(c->advice);
	c->advice = vesc(fmt, ap);
	va_end(ap);
}

/* ---- the root: every read goes through here ------------------------------ */

static void record(struct iopf_doctor *d, const char *rel, enum iopf_doctor_input_type type,
		   const char *data, size_t len)
{
	struct iopf_doctor_input *e = NULL;
	char *p, *copy;

	for (size_t i = 0; i < d->nin; i++)
		if (!strcmp(d->in[i].path, rel)) {
			e = &d->in[i];
			break;
		}
	if (e && (type == IOPF_DOCTOR_DIR || (e->type == IOPF_DOCTOR_FILE && !data)))
		return;		/* a read file stays a file; existence adds nothing */
	copy = malloc(len + 1);
	if (!copy)
		return;
	if (len)
		memcpy(copy, data, len);
	copy[len] = '\0';
	if (e) {
		free((char *)e->data);
		e->data = copy;
		e->len = len;
		e->type = type;
		return;
	}
	if (d->nin == d->capin) {
		size_t cap = d->capin ? d->capin * 2 : 64;
		struct iopf_doctor_input *n = realloc(d->in, cap * sizeof(*n));

		if (!n) {
			free(copy);
			return;
		}
		d->in = n;
		d->capin = cap;
	}
	p = strdup(rel);
	if (!p) {
		free(copy);
		return;
	}
	d->in[d->nin++] = (struct iopf_doctor_input){ p, type, copy, len };
}

/*
 * RESOLVE_IN_ROOT by hand, where openat2(2) is missing (Linux < 5.6, or
 * valgrind): one component at a time with AT_SYMLINK_NOFOLLOW, a link's
 * target put in front of the rest (an absolute one from the root), ".."
 * never above the root, at most 40 links (then ELOOP), the final object
 * opened with O_NOFOLLOW below a prefix known to hold no link.
 */
static int walk_in_root(int rootfd, const char *rel, int flags)
{
	char done[PATH_MAX] = "", todo[PATH_MAX], cand[PATH_MAX], link[PATH_MAX];
	int links = 0;

	if (snprintf(todo, sizeof(todo), "%s", rel) >= (int)sizeof(todo)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	while (todo[0]) {
		size_t l = strcspn(todo, "/");
		char comp[NAME_MAX + 1];
		struct stat st;
		ssize_t n;

		if (l > NAME_MAX) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(comp, todo, l);
		comp[l] = '\0';
		memmove(todo, todo + l + (todo[l] == '/'), strlen(todo + l + (todo[l] == '/')) + 1);
		if (!l || !strcmp(comp, "."))
			continue;
		if (!strcmp(comp, "..")) {
			char *slash = strrchr(done, '/');

			if (slash)
				*slash = '\0';
			else
				done[0] = '\0';
			continue;
		}
		if (snprintf(cand, sizeof(cand), "%s%s%s", done, done[0] ? "/" : "", comp) >= (int)sizeof(cand)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (fstatat(rootfd, cand, &st, AT_SYMLINK_NOFOLLOW))
			return -1;
		if (!S_ISLNK(st.st_mode)) {
			memcpy(done, cand, strlen(cand) + 1);
			continue;
		}
		if (++links > 40) {
			errno = ELOOP;
			return -1;
		}
		n = readlinkat(rootfd, cand, link, sizeof(link) - 1);
		if (n <= 0)
			return -1;
		link[n] = '\0';
		if (strlen(todo) + (size_t)n + 2 > sizeof(todo)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (todo[0]) {
			memmove(todo + n + 1, todo, strlen(todo) + 1);
			todo[n] = '/';
		} else {
			todo[n] = '\0';
		}
		memcpy(todo, link, (size_t)n);
		if (link[0] == '/')
			done[0] = '\0';
	}
	return openat(rootfd, done[0] ? done : ".", flags | O_NOFOLLOW);
}

/* openat2(RESOLVE_IN_ROOT) below the root; rel has no leading '/'. */
static int dr_open(struct iopf_doctor *d, const char *rel, int flags)
{
	struct open_how how = { 0 };
	long fd;

	while (*rel == '/')
		rel++;
	if (!*rel)
		rel = ".";
	flags |= O_CLOEXEC;
	if (!(flags & O_PATH))
		flags |= O_NOCTTY | O_NONBLOCK;
	how.flags = (uint64_t)flags;
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	fd = syscall(SYS_openat2, d->rootfd, rel, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS)
		fd = walk_in_root(d->rootfd, rel, flags);
	if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOMEM) && !d->starved) {
		/* not a fact about the machine: every "absent" found from here on would be false */
		d->starved = errno;
		snprintf(d->starved_at, sizeof(d->starved_at), "%s", rel);
	}
	return (int)fd;
}

/*
 * A regular file's contents (NUL-terminated, at most max bytes), kept
 * and recorded; NULL with errno set.  *trunc: more was there.
 */
static const char *dr_read_max(struct iopf_doctor *d, const char *rel, size_t max, size_t *lenp,
			       bool *trunc)
{
	int fd = dr_open(d, rel, O_RDONLY);
	struct stat st;
	char *buf;
	size_t len = 0;
	int e;

	if (trunc)
		*trunc = false;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st)) {
		e = errno;
		close(fd);
		errno = e;
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		return NULL;
	}
	buf = iopf_read_fd(fd, max, &len, trunc);
	e = errno;
	close(fd);
	if (!buf) {
		errno = e;
		return NULL;
	}
	record(d, rel, IOPF_DOCTOR_FILE, buf, len);
	free(buf);
	for (size_t i = d->nin; i-- > 0;)
		if (!strcmp(d->in[i].path, rel)) {
			*lenp = d->in[i].len;
			return d->in[i].data;
		}
	errno = ENOMEM;
	return NULL;
}

/* A small attribute, trailing white space removed, into buf; false when unreadable. */
static bool dr_attr(struct iopf_doctor *d, const char *rel, char *buf, size_t len)
{
	size_t n;
	const char *s = dr_read_max(d, rel, SMALL_MAX, &n, NULL);

	if (!s) {
		if (len)
			buf[0] = '\0';
		return false;
	}
	snprintf(buf, len, "%s", s);
	n = strlen(buf);
	while (n && isspace((unsigned char)buf[n - 1]))
		buf[--n] = '\0';
	return true;
}

/* The target of a link (recorded); false when it is not one. */
static bool dr_readlink(struct iopf_doctor *d, const char *rel, char *buf, size_t len)
{
	char parent[PATH_MAX];
	const char *base = strrchr(rel, '/');
	int pfd;
	ssize_t n;

	if (!base)
		return false;
	snprintf(parent, sizeof(parent), "%.*s", (int)(base - rel), rel);
	pfd = dr_open(d, parent, O_PATH | O_DIRECTORY);
	if (pfd < 0)
		return false;
	n = readlinkat(pfd, base + 1, buf, len - 1);
	close(pfd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	record(d, rel, IOPF_DOCTOR_LINK, buf, (size_t)n);
	return true;
}

/* The last component of a link's target ("vfio-pci"), or "". */
static bool dr_link_base(struct iopf_doctor *d, const char *rel, char *buf, size_t len)
{
	char t[PATH_MAX];
	const char *b;

	buf[0] = '\0';
	if (!dr_readlink(d, rel, t, sizeof(t)))
		return false;
	b = strrchr(t, '/');
	b = b ? b + 1 : t;
	snprintf(buf, len, "%.*s", (int)(len - 1), b);
	return true;
}

/* 'd' directory, 'f' other, 0 absent (recorded when present). */
static int dr_exists(struct iopf_doctor *d, const char *rel)
{
	int fd = dr_open(d, rel, O_PATH);
	struct stat st;
	int r = 0;

	if (fd < 0)
		return 0;
	if (!fstat(fd, &st))
		r = S_ISDIR(st.st_mode) ? 'd' : 'f';
	close(fd);
	if (r)
		record(d, rel, r == 'd' ? IOPF_DOCTOR_DIR : IOPF_DOCTOR_FILE, NULL, 0);
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_list(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

/* A directory's entries, sorted (at most DIR_MAX); -errno when it cannot be listed. */
static int dr_list(struct iopf_doctor *d, const char *rel, char ***names, size_t *n)
{
	int fd = dr_open(d, rel, O_RDONLY | O_DIRECTORY);
	DIR *dir;
	struct dirent *de;
	size_t cap = 0;

	*names = NULL;
	*n = 0;
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		int e = errno;

		close(fd);
		return -e;
	}
	record(d, rel, IOPF_DOCTOR_DIR, NULL, 0);
	while ((de = readdir(dir)) && *n < DIR_MAX) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			char **nl = realloc(*names, nc * sizeof(*nl));

			if (!nl)
				break;
			*names = nl;
			cap = nc;
		}
		if (!((*names)[*n] = strdup(de->d_name)))
			break;
		(*n)++;
	}
	closedir(dir);
	if (*n)
		qsort(*names, *n, sizeof(**names), cmp_str);
	return 0;
}

/* ---- the kernel ------------------------------------------------------- */

/* 'y', 'm', 'n' (not set or absent), '?' (no config found). */
static int cfg_get(const struct iopf_doctor *d, const char *opt)
{
	size_t ol = strlen(opt);
	const char *p = d->config;

	if (!p)
		return '?';
	while (p && *p) {
		if (!strncmp(p, opt, ol) && p[ol] == '=')
			return p[ol + 1] == 'y' ? 'y' : p[ol + 1] == 'm' ? 'm' : 'n';
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return 'n';
}

static bool cfg_on(const struct iopf_doctor *d, const char *opt)
{
	int v = cfg_get(d, opt);

	return v == 'y' || v == 'm';
}

/* gunzip (zlib, gzip wrapper) at most CONFIG_MAX bytes; NULL on a bad stream. */
static char *gunzip(const char *in, size_t inlen, size_t *outlen, const char **why)
{
	z_stream z = { 0 };
	size_t cap = 256 * 1024, len = 0;
	char *out = malloc(cap + 1);
	int rc = Z_OK;

	*why = "out of memory";
	if (!out || inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
		free(out);
		return NULL;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)inlen;
	while (rc == Z_OK) {
		if (len == cap) {
			char *n;

			if (cap >= CONFIG_MAX) {
				*why = "more than 16 MiB decompressed";
				rc = Z_DATA_ERROR;
				break;
			}
			cap *= 2;
			n = realloc(out, cap + 1);
			if (!n) {
				rc = Z_MEM_ERROR;
				break;
			}
			out = n;
		}
		z.next_out = (Bytef *)out + len;
		z.avail_out = (uInt)(cap - len);
		rc = inflate(&z, Z_NO_FLUSH);
		len = cap - z.avail_out;
		if (rc == Z_BUF_ERROR && z.avail_in == 0) {
			*why = "truncated gzip data";
			rc = Z_DATA_ERROR;
		} else if (rc == Z_BUF_ERROR) {
			rc = Z_OK;
		}
	}
	inflateEnd(&z);
	if (rc != Z_STREAM_END) {
		if (rc != Z_DATA_ERROR || !strcmp(*why, "out of memory"))
			*why = rc == Z_MEM_ERROR ? "out of memory" : "not gzip data";
		free(out);
		return NULL;
	}
	out[len] = '\0';
	*outlen = len;
	return out;
}

static void load_config(struct iopf_doctor *d, struct chk *c)
{
	char path[300];
	size_t len;
	bool trunc;
	const char *gz = dr_read_max(d, "proc/config.gz", CONFIG_GZ_MAX, &len, &trunc);

	if (gz) {
		const char *why;

		d->config = trunc ? NULL : gunzip(gz, len, &d->configlen, &why);
		if (d->config) {
			snprintf(d->config_src, sizeof(d->config_src), "/proc/config.gz");
			return;
		}
		ev(c, "/proc/config.gz: %s", trunc ? "larger than 4 MiB" : why);
	}
	snprintf(path, sizeof(path), "boot/config-%s", d->release);
	if (d->release[0]) {
		const char *t = dr_read_max(d, path, CONFIG_MAX, &len, &trunc);

		if (t) {
			d->config = strndup(t, len);
			d->configlen = len;
			snprintf(d->config_src, sizeof(d->config_src), "/%.60s", path);
			return;
		}
		ev(c, "/%s: %s", path, strerror(errno));
	}
	if (!gz)
		ev(c, "/proc/config.gz: %s", strerror(ENOENT));
}

static const char *cmdline_word(const char *cmdline, const char *key, char *buf, size_t len)
{
	size_t kl = strlen(key);

	for (const char *p = cmdline; (p = strstr(p, key)); p += kl) {
		if (p != cmdline && p[-1] != ' ')
			continue;
		snprintf(buf, len, "%.*s", (int)strcspn(p, " \n"), p);
		return buf;
	}
	return NULL;
}

static void check_kernel(struct iopf_doctor *d)
{
	struct chk *c = chk(d, "kernel version", "kernel.version");
	char buf[256];

	if (dr_attr(d, "proc/sys/kernel/osrelease", d->release, sizeof(d->release)) && d->release[0]) {
		ev(c, "/proc/sys/kernel/osrelease: %s", d->release);
	} else if (dr_attr(d, "proc/version", buf, sizeof(buf)) &&
		   sscanf(buf, "Linux version %127s", d->release) == 1) {
		ev(c, "/proc/version: %s", buf);
	} else {
		d->release[0] = '\0';
	}
	if (!d->release[0] || sscanf(d->release, "%d.%d", &d->kmaj, &d->kmin) != 2) {
		d->kmaj = d->kmin = 0;
		verdict(c, IOPF_DOCTOR_WARNING, "the kernel version cannot be read");
		advise(c, "collect /proc/sys/kernel/osrelease (or /proc/version) into the tree");
	} else {
		verdict(c, IOPF_DOCTOR_OK, "Linux %s", d->release);
	}
	dr_attr(d, "proc/cmdline", d->cmdline, sizeof(d->cmdline));
	{
		char w[256];

		/* comma-separated options, drivers/iommu/intel/iommu.c: intel_iommu_setup() */
		if (cmdline_word(d->cmdline, "intel_iommu=", w, sizeof(w))) {
			d->sm_off = strstr(w, "sm_off") != NULL;
			d->sm_on = strstr(w, "sm_on") != NULL;
		}
	}
}

static bool kver_ge(const struct iopf_doctor *d, int maj, int min)
{
	return d->kmaj > maj || (d->kmaj == maj && d->kmin >= min);
}

/* What the fault path needs from the config, and how bad its absence is. */
static const struct {
	const char *opt;
	enum iopf_doctor_status missing;
	const char *why;
} config_needs[] = {
	{ "CONFIG_IOMMUFD", IOPF_DOCTOR_PROBLEM, "iommufd: /dev/iommu and its fault queues" },
	{ "CONFIG_IOMMU_IOPF", IOPF_DOCTOR_PROBLEM,
	  "the page-fault core; selected by INTEL_IOMMU_SVM, AMD_IOMMU or ARM_SMMU_V3_SVA" },
	{ "CONFIG_VFIO_DEVICE_CDEV", IOPF_DOCTOR_PROBLEM,
	  "VFIO device cdevs (/dev/vfio/devices/vfioN), the only way to bind a device to iommufd" },
	{ "CONFIG_VFIO_PCI", IOPF_DOCTOR_PROBLEM, "vfio-pci, the driver that hands a PCI device to user space" },
	{ "CONFIG_PCI_ATS", IOPF_DOCTOR_PROBLEM, "PCIe ATS, which PRI needs" },
	{ "CONFIG_PCI_PRI", IOPF_DOCTOR_PROBLEM, "PCIe Page Request Interface" },
	{ "CONFIG_PCI_PASID", IOPF_DOCTOR_WARNING, "PCIe PASID (faults with a PASID)" },
	{ "CONFIG_IOMMUFD_TEST", IOPF_DOCTOR_OK, "the selftest mock device (--source mock)" },
	{ "CONFIG_KPROBES", IOPF_DOCTOR_WARNING, "the tap (--source tap) places kprobes" },
	{ "CONFIG_KPROBE_EVENTS", IOPF_DOCTOR_WARNING, "the tap's kprobe events in tracefs" },
	{ "CONFIG_BPF_SYSCALL", IOPF_DOCTOR_OK, "a BPF tap backend" },
	{ "CONFIG_DEBUG_INFO_BTF", IOPF_DOCTOR_OK, "struct offsets for the tap (/sys/kernel/btf/vmlinux)" },
};

static void check_config(struct iopf_doctor *d)
{
	struct chk *c = chk(d, "kernel configuration", "kernel.config");
	int bad = 0, warn = 0;
	char missing[512] = "";

	load_config(d, c);
	if (!d->config) {
		verdict(c, IOPF_DOCTOR_WARNING, "no kernel config found (neither /proc/config.gz nor /boot/config-%s)",
			d->release[0] ? d->release : "RELEASE");
		advise(c, "build with CONFIG_IKCONFIG_PROC=y or install the config as /boot/config-$(uname -r); "
		       "the other checks tell from /dev/iommu and sysfs instead");
		return;
	}
	ev(c, "read %s (%zu bytes)", d->config_src, d->configlen);
	for (size_t i = 0; i < ARRAY_SIZE(config_needs); i++) {
		int v = cfg_get(d, config_needs[i].opt);

		if (v == 'n') {
			ev(c, "%s is not set: %s", config_needs[i].opt, config_needs[i].why);
			if (config_needs[i].missing == IOPF_DOCTOR_PROBLEM) {
				bad++;
				snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), "%s%s",
					 missing[0] ? ", " : "", config_needs[i].opt);
			}
			warn += config_needs[i].missing == IOPF_DOCTOR_WARNING;
		} else {
			ev(c, "%s=%c", config_needs[i].opt, v);
		}
	}
	if (cfg_on(d, "CONFIG_INTEL_IOMMU"))
		ev(c, "CONFIG_INTEL_IOMMU_SVM=%c, CONFIG_INTEL_IOMMU_SCALABLE_MODE_DEFAULT_ON=%c",
		   cfg_get(d, "CONFIG_INTEL_IOMMU_SVM"), cfg_get(d, "CONFIG_INTEL_IOMMU_SCALABLE_MODE_DEFAULT_ON"));
	if (cfg_on(d, "CONFIG_ARM_SMMU_V3"))
		ev(c, "CONFIG_ARM_SMMU_V3_SVA=%c", cfg_get(d, "CONFIG_ARM_SMMU_V3_SVA"));
	if (bad) {
		verdict(c, IOPF_DOCTOR_PROBLEM, "this kernel cannot deliver device page faults to user space: %s %s not set",
			missing, bad > 1 ? "are" : "is");
		advise(c, "boot a kernel built with %s (Linux 6.11 or later for the fault queue)", missing);
	} else if (warn) {
		verdict(c, IOPF_DOCTOR_WARNING, "the fault path is configured; some optional parts are not");
	} else {
		verdict(c, IOPF_DOCTOR_OK, "IOMMUFD, IOMMU_IOPF, VFIO_DEVICE_CDEV, VFIO_PCI, ATS and PRI are configured");
	}
}

static void check_dev_iommu(struct iopf_doctor *d)
{
	struct chk *c = chk(d, "/dev/iommu", "kernel.iommufd");
	int node = dr_exists(d, "dev/iommu");
	int misc = dr_exists(d, "sys/class/misc/iommu");
	int v = cfg_get(d, "CONFIG_IOMMUFD");

	ev(c, "/dev/iommu: %s", node ? "present" : "absent");
	ev(c, "/sys/class/misc/iommu: %s", misc ? "present" : "absent");
	if (node || misc) {
		verdict(c, IOPF_DOCTOR_OK, "iommufd is loaded (/dev/iommu)");
		if (!node)
			advise(c, "the device node is missing: mknod it or let udev/devtmpfs create it");
	} else if (v == 'n') {
		verdict(c, IOPF_DOCTOR_PROBLEM, "no /dev/iommu: the kernel has no IOMMUFD");
		advise(c, "boot a kernel with CONFIG_IOMMUFD");
	} else if (v == 'm') {
		verdict(c, IOPF_DOCTOR_PROBLEM, "no /dev/iommu: the iommufd module is not loaded");
		advise(c, "modprobe iommufd");
	} else {
		verdict(c, IOPF_DOCTOR_PROBLEM, "no /dev/iommu");
		advise(c, "load iommufd (modprobe iommufd) or boot a kernel with CONFIG_IOMMUFD");
	}
}

/*
 * The kernel versions' known bugs and limits, doc/kernel-notes.md §10,
 * §9.2 and §13 (read from 6.12.117 and 7.3.4 and the iommufd history).
 */
static void check_known(struct iopf_doctor *d)
{
	struct chk *c = chk(d, "known kernel bugs and limits", "kernel.known-issues");

	if (!d->kmaj) {
		verdict(c, IOPF_DOCTOR_WARNING, "unknown kernel version: cannot tell");
		return;
	}
	verdict(c, IOPF_DOCTOR_OK, "nothing known against Linux %d.%d", d->kmaj, d->kmin);
	if (!kver_ge(d, 6, 11)) {
		ev(c, "before 6.11 iommufd has no fault queue (IOMMU_FAULT_QUEUE_ALLOC)");
		verdict(c, IOPF_DOCTOR_PROBLEM, "Linux %d.%d has no iommufd fault queue (6.11 added it)", d->kmaj, d->kmin);
		advise(c, "boot Linux 6.13 or later (6.15 or later for faults with a PASID)");
		return;
	}
	ev(c, "cookie-0 bug (doc/kernel-notes.md §9.2): after a rejected response {cookie 0, valid code} "
	      "with a group outstanding, the next group gets cookie 0; present in 6.12.117 and 7.3.4, no fixed "
	      "release known");
	if (!kver_ge(d, 6, 13))
		ev(c, "%d.%d cannot attach a fault queue to a paging HWPT (EOPNOTSUPP; 6.13 can): only a nested "
		      "HWPT carries one", d->kmaj, d->kmin);
	if (!kver_ge(d, 6, 15))
		ev(c, "%d.%d has no PASID attach (IOMMU_HWPT_ALLOC_PASID, VFIO_DEVICE_ATTACH_PASID: 6.15): "
		      "no faults with a PASID reach user space", d->kmaj, d->kmin);
	if (!kver_ge(d, 6, 16))
		ev(c, "%d.%d enables IOPF when iommufd attaches a fault HWPT (iommu_dev_enable_feature()); "
		      "6.16 moved it into the drivers' attach paths", d->kmaj, d->kmin);
	if (!kver_ge(d, 6, 13) && cfg_get(d, "CONFIG_INTEL_IOMMU") != 'n')
		ev(c, "%d.%d VT-d answers a page request without a PASID INVALID itself (drivers/iommu/intel/prq.c, "
		      "\"Page request without PASID\"; read in 6.12.117, gone in 7.3.4): RID faults never reach "
		      "user space on Intel", d->kmaj, d->kmin);
	verdict(c, IOPF_DOCTOR_WARNING, "Linux %d.%d: the cookie-0 bug%s%s%s", d->kmaj, d->kmin,
		kver_ge(d, 6, 13) ? "" : "; no fault queue on a paging HWPT",
		kver_ge(d, 6, 15) ? "" : "; no PASID faults",
		kver_ge(d, 6, 13) || cfg_get(d, "CONFIG_INTEL_IOMMU") == 'n' ? "" :
		"; VT-d rejects page requests without a PASID");
	advise(c, "never use cookie 0 as \"no cookie\" in a handler%s",
	       kver_ge(d, 6, 15) ? "" : "; boot 6.15 or later for PASID faults");
}

/* ---- IOMMUs ---------------------------------------------------------- */

/* Bit positions: drivers/iommu/intel/iommu.h, the cap_*() and ecap_*() macros. */
void iopf_vtd_decode(uint64_t cap, uint64_t ecap, struct iopf_vtd_caps *c)
{
	memset(c, 0, sizeof(*c));
	c->sm = (ecap >> 43) & 1;	/* ecap_smts: scalable-mode translation */
	c->prs = (ecap >> 29) & 1;	/* ecap_prs: page requests */
	c->pds = (ecap >> 42) & 1;	/* ecap_pds: page-request drain */
	c->pasid = (ecap >> 40) & 1;	/* ecap_pasid */
	c->pss = (ecap >> 35) & 0x1f;	/* ecap_pss: PASID bits - 1 */
	c->flts = (ecap >> 47) & 1;	/* ecap_flts: first-stage translation */
	c->slts = (ecap >> 46) & 1;	/* ecap_slts: second-stage translation */
	c->nest = (ecap >> 26) & 1;	/* ecap_nest: nested translation */
	c->ers = (ecap >> 30) & 1;	/* ecap_ers: execute requests */
	c->srs = (ecap >> 31) & 1;	/* ecap_srs: supervisor requests */
	c->dev_iotlb = (ecap >> 2) & 1;	/* ecap_dev_iotlb_support: device TLB (ATS) */
	c->pt = (ecap >> 6) & 1;	/* ecap_pass_through */
	c->mgaw = (unsigned int)((cap >> 16) & 0x3f) + 1;	/* cap_mgaw */
	c->nfr = (unsigned int)((cap >> 40) & 0xff) + 1;	/* cap_num_fault_regs */
}

/* Scalable mode in use: intel_iommu=sm_on/sm_off, else the config default (drivers/iommu/intel/iommu.c). */
static int vtd_sm_enabled(const struct iopf_doctor *d)
{
	if (d->sm_off)
		return 0;
	if (d->sm_on)
		return 1;
	switch (cfg_get(d, "CONFIG_INTEL_IOMMU_SCALABLE_MODE_DEFAULT_ON")) {
	case 'y': return 1;
	case '?': return -1;
	default: return 0;
	}
}

/* A register as sysfs prints it: hex without 0x. */
static bool hex_attr(struct iopf_doctor *d, const char *path, uint64_t *v, struct chk *c)
{
	char s[64], *end;

	if (!dr_attr(d, path, s, sizeof(s))) {
		ev(c, "/%s: %s", path, strerror(errno));
		return false;
	}
	errno = 0;
	*v = strtoull(s, &end, 16);
	if (!s[0] || *end || errno) {
		ev(c, "/%s: \"%s\" is not a hex number", path, s);
		return false;
	}
	return true;
}

static void unit_vtd(struct iopf_doctor *d, struct iommu_unit *u, struct chk *c)
{
	char path[400], ver[32];
	uint64_t cap = 0, ecap = 0;
	struct iopf_vtd_caps v;
	int sm;

	snprintf(path, sizeof(path), "sys/class/iommu/%s/intel-iommu/cap", u->name);
	if (!hex_attr(d, path, &cap, c) ||
	    (snprintf(path, sizeof(path), "sys/class/iommu/%s/intel-iommu/ecap", u->name),
	     !hex_attr(d, path, &ecap, c))) {
		verdict(c, IOPF_DOCTOR_WARNING, "Intel VT-d %s: capability registers unreadable", u->name);
		u->pr = -1;
		return;
	}
	snprintf(path, sizeof(path), "sys/class/iommu/%s/intel-iommu/version", u->name);
	dr_attr(d, path, ver, sizeof(ver));
	iopf_vtd_decode(cap, ecap, &v);
	ev(c, "cap 0x%016" PRIx64 " ecap 0x%016" PRIx64 "%s%s", cap, ecap, ver[0] ? " version " : "", ver);
	ev(c, "scalable mode (ecap.SMTS, bit 43): %s", v.sm ? "yes" : "no");
	ev(c, "page requests (ecap.PRS, bit 29): %s; page-request drain (ecap.PDS, bit 42): %s",
	   v.prs ? "yes" : "no", v.pds ? "yes" : "no");
	ev(c, "PASID (ecap.PASID, bit 40): %s%s", v.pasid ? "yes" : "no", v.pasid ? "" : "");
	if (v.pasid)
		ev(c, "PASID width (ecap.PSS, bits 39:35): %u bits", v.pss + 1);
	ev(c, "first stage (ecap.FLTS, bit 47): %s; second stage (ecap.SLTS, bit 46): %s; nesting (ecap.NEST, bit 26): %s",
	   v.flts ? "yes" : "no", v.slts ? "yes" : "no", v.nest ? "yes" : "no");
	ev(c, "device TLB / ATS (ecap.DT, bit 2): %s; pass-through (ecap.PT, bit 6): %s; MGAW %u bits",
	   v.dev_iotlb ? "yes" : "no", v.pt ? "yes" : "no", v.mgaw);
	sm = vtd_sm_enabled(d);
	/* drivers/iommu/intel/iommu.c: pri_supported needs sm_supported(), ecap_prs and ecap_pds */
	if (!v.sm || !v.prs || !v.pds || !v.dev_iotlb) {
		u->pr = 0;
		verdict(c, IOPF_DOCTOR_PROBLEM, "Intel VT-d %s cannot take page requests (%s)", u->name,
			!v.sm ? "no scalable mode" : !v.prs ? "no PRS" : !v.pds ? "no page-request drain" :
			"no device TLB");
		advise(c, "the hardware (or the emulator: QEMU intel-iommu needs scalable-mode=on, svm=on, "
		       "device-iotlb=on) does not offer page requests; no device behind %s can fault to user space",
		       u->name);
	} else if (sm == 0) {
		u->pr = 0;
		ev(c, "scalable mode is off (%s)", d->sm_off ? "intel_iommu=sm_off" :
		   "CONFIG_INTEL_IOMMU_SCALABLE_MODE_DEFAULT_ON is not set and no intel_iommu=sm_on");
		verdict(c, IOPF_DOCTOR_PROBLEM, "Intel VT-d %s supports page requests but scalable mode is off", u->name);
		advise(c, "boot with intel_iommu=on,sm_on");
	} else {
		u->pr = 1;
		verdict(c, IOPF_DOCTOR_OK, "Intel VT-d %s: scalable mode, page requests%s%s%s", u->name,
			v.pasid ? ", PASID" : "", v.flts ? ", first stage" : "", v.nest ? ", nesting" : "");
		if (sm < 0) {
			verdict(c, IOPF_DOCTOR_WARNING, "Intel VT-d %s supports page requests; whether scalable mode is on "
				"cannot be told (no config, no intel_iommu=sm_on on the command line)", u->name);
			advise(c, "boot with intel_iommu=on,sm_on to be sure");
		}
	}
}

/* AMD-Vi: the EFR as "features" prints it (drivers/iommu/amd/init.c: "%llx:%llx"; older kernels "%llx"). */
static void unit_amd(struct iopf_doctor *d, struct iommu_unit *u, struct chk *c)
{
	char path[400], s[128], *end;
	uint64_t efr, efr2 = 0;

	snprintf(path, sizeof(path), "sys/class/iommu/%s/amd-iommu/features", u->name);
	dr_attr(d, path, s, sizeof(s));
	errno = 0;
	efr = strtoull(s, &end, 16);
	if (*end == ':')
		efr2 = strtoull(end + 1, &end, 16);
	if (!s[0] || *end || errno) {
		ev(c, "/%s: %s", path, s[0] ? "not \"EFR:EFR2\" in hex" : "unreadable");
		verdict(c, IOPF_DOCTOR_WARNING, "AMD-Vi %s: features unreadable", u->name);
		u->pr = -1;
		return;
	}
	/* Bits: drivers/iommu/amd/amd_iommu_types.h FEATURE_* */
	ev(c, "features %" PRIx64 ":%" PRIx64, efr, efr2);
	ev(c, "PPR (peripheral page requests, EFR bit 1): %s", (efr >> 1) & 1 ? "yes" : "no");
	ev(c, "GT (guest translation, bit 4): %s; GIOSup (bit 48): %s; PASmax (bits 36:32): %u",
	   (efr >> 4) & 1 ? "yes" : "no", (efr >> 48) & 1 ? "yes" : "no", (unsigned int)((efr >> 32) & 0x1f));
	if ((efr >> 1) & 1) {
		u->pr = 1;
		verdict(c, IOPF_DOCTOR_OK, "AMD-Vi %s: PPR (page requests) supported", u->name);
	} else {
		u->pr = 0;
		verdict(c, IOPF_DOCTOR_PROBLEM, "AMD-Vi %s has no PPR: no page requests", u->name);
		advise(c, "no device behind %s can fault to user space", u->name);
	}
}

/* ARM SMMUv3 shows only its name and devices in sysfs; the features come from the log. */
static void unit_smmu(struct iopf_doctor *d, struct iommu_unit *u, struct chk *c)
{
	char path[400], **v;
	size_t nv;

	snprintf(path, sizeof(path), "sys/class/iommu/%s/devices", u->name);
	if (dr_list(d, path, &v, &nv) == 0)
		ev(c, "/%s: %zu devices", path, nv);
	free_list(v, nv);
	ev(c, "sysfs has no feature registers for SMMUv3 (only /sys/class/iommu/%s/devices)", u->name);
	if (d->smmu_features < 0) {
		u->pr = -1;
		verdict(c, IOPF_DOCTOR_WARNING, "ARM SMMUv3 %s: PRI support cannot be told from sysfs", u->name);
		advise(c, "look for \"arm-smmu-v3 ...: oas N-bit (features 0x...)\" in the kernel log (bit 4: PRI)");
		return;
	}
	/* drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.h: ARM_SMMU_FEAT_PRI bit 4, ATS 5, STALLS 11, SVA 17 */
	ev(c, "kernel log features 0x%08x: PRI %s, ATS %s, stalls %s, SVA %s, nesting %s", d->smmu_features,
	   d->smmu_features & (1 << 4) ? "yes" : "no", d->smmu_features & (1 << 5) ? "yes" : "no",
	   d->smmu_features & (1 << 11) ? "yes" : "no", d->smmu_features & (1 << 17) ? "yes" : "no",
	   d->smmu_features & (1 << 19) ? "yes" : "no");
	if (d->smmu_features & (1 << 4)) {
		u->pr = 1;
		verdict(c, IOPF_DOCTOR_OK, "ARM SMMUv3 %s: PRI supported", u->name);
	} else {
		u->pr = 0;
		verdict(c, IOPF_DOCTOR_PROBLEM, "ARM SMMUv3 %s has no PRI (features 0x%08x)%s", u->name,
			d->smmu_features, d->smmu_features & (1 << 11) ? ": only stall-model faults" : "");
		advise(c, "PCIe page requests cannot reach a fault queue through this SMMU");
	}
}

static void check_iommus(struct iopf_doctor *d)
{
	char **names;
	size_t n;
	int rc = dr_list(d, "sys/class/iommu", &names, &n);

	if (rc || !n) {
		struct chk *c = chk(d, "IOMMUs", "iommu.units");

		ev(c, "/sys/class/iommu: %s", rc ? strerror(-rc) : "empty");
		verdict(c, IOPF_DOCTOR_PROBLEM, "no IOMMU is registered: no device can fault to user space");
		advise(c, "enable VT-d / AMD-Vi / SMMU in the firmware and the kernel (intel_iommu=on, amd_iommu=on), "
		       "or in the VM (QEMU: -device intel-iommu,...)");
		free_list(names, n);
		return;
	}
	d->units = calloc(n, sizeof(*d->units));
	for (size_t i = 0; d->units && i < n; i++) {
		struct iommu_unit *u = &d->units[d->nunits++];
		char path[400];
		struct chk *c;

		snprintf(u->name, sizeof(u->name), "%s", names[i]);
		c = chk(d, "IOMMU", "iommu.%s", names[i]);
		snprintf(path, sizeof(path), "sys/class/iommu/%s", names[i]);
		dr_exists(d, path);	/* recorded, so that a bundle lists the unit */
		snprintf(path, sizeof(path), "sys/class/iommu/%s/intel-iommu", names[i]);
		if (dr_exists(d, path) == 'd') {
			u->kind = 'i';
			unit_vtd(d, u, c);
			continue;
		}
		snprintf(path, sizeof(path), "sys/class/iommu/%s/amd-iommu", names[i]);
		if (dr_exists(d, path) == 'd') {
			u->kind = 'a';
			unit_amd(d, u, c);
			continue;
		}
		if (!strncmp(names[i], "iommufd_selftest", 16)) {
			/* drivers/iommu/iommufd/selftest.c: iommufd_test_init() registers it */
			u->kind = 'm';
			u->pr = 0;
			ev(c, "the IOMMU of the iommufd selftest (CONFIG_IOMMUFD_TEST): mock devices only");
			verdict(c, IOPF_DOCTOR_OK, "%s: the selftest mock; faults through --source mock", names[i]);
			continue;
		}
		if (!strncmp(names[i], "smmu3.", 6)) {
			u->kind = 's';
			unit_smmu(d, u, c);
			continue;
		}
		u->kind = '?';
		u->pr = -1;
		verdict(c, IOPF_DOCTOR_WARNING, "IOMMU %s: a driver doctor does not decode", names[i]);
	}
	free_list(names, n);
	d->mock_only = d->nunits > 0;
	for (size_t i = 0; i < d->nunits; i++)
		d->mock_only &= d->units[i].kind == 'm';
	if (d->mock_only) {
		struct chk *c = chk(d, "IOMMUs", "iommu.units");

		verdict(c, IOPF_DOCTOR_WARNING, "no hardware IOMMU: only the iommufd selftest mock, so faults come "
			"only from --source mock, never from a PCI device");
		advise(c, "for a device: enable VT-d / AMD-Vi / SMMU (in a VM: QEMU -device intel-iommu,...)");
	}
}

static void check_mode(struct iopf_doctor *d)
{
	struct chk *c = chk(d, "DMA translation mode", "iommu.mode");
	static const char *const keys[] = { "intel_iommu=", "amd_iommu=", "iommu=", "iommu.passthrough=",
					    "iommu.strict=", "iommufd.allow_unsafe_interrupts=" };
	char w[256], **names;
	size_t n, ident = 0, dma = 0, other = 0;
	bool off = false;

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (cmdline_word(d->cmdline, keys[i], w, sizeof(w))) {
			ev(c, "/proc/cmdline: %s", w);
			if (!strcmp(w, "intel_iommu=off") || !strcmp(w, "amd_iommu=off") || !strcmp(w, "iommu=off"))
				off = true;
			if (!strncmp(w, "intel_iommu=", 12))
				off |= strstr(w, "=off") != NULL || strstr(w, ",off") != NULL;
		}
	if (dr_list(d, "sys/kernel/iommu_groups", &names, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			char path[400], type[64];

			snprintf(path, sizeof(path), "sys/kernel/iommu_groups/%s/type", names[i]);
			if (!dr_attr(d, path, type, sizeof(type)))
				continue;
			/* drivers/iommu/iommu.c: iommu_group_show_type() */
			if (!strcmp(type, "identity"))
				ident++;
			else if (!strncmp(type, "DMA", 3) || !strcmp(type, "unmanaged"))
				dma++;
			else
				other++;
		}
		ev(c, "/sys/kernel/iommu_groups: %zu groups: %zu identity (passthrough), %zu translated, %zu other",
		   n, ident, dma, other);
		free_list(names, n);
	} else {
		ev(c, "/sys/kernel/iommu_groups: absent");
	}
	if (off) {
		verdict(c, IOPF_DOCTOR_PROBLEM, "the IOMMU is switched off on the kernel command line");
		advise(c, "remove the =off option (and boot with intel_iommu=on,sm_on on Intel)");
	} else if (!n && !ident && !dma && d->mock_only) {
		verdict(c, IOPF_DOCTOR_WARNING, "no IOMMU groups: only the iommufd selftest mock, no PCI device is "
			"translated");
	} else if (!n && !ident && !dma) {
		verdict(c, IOPF_DOCTOR_PROBLEM, "no IOMMU groups: DMA is not translated at all");
		advise(c, "enable the IOMMU (firmware and kernel)");
	} else if (n && !ident && !dma && !other) {
		verdict(c, IOPF_DOCTOR_WARNING, "%zu IOMMU groups, none with a readable type", n);
		advise(c, "collect /sys/kernel/iommu_groups/*/type too");
	} else if (ident && !dma) {
		verdict(c, IOPF_DOCTOR_OK, "default domains are passthrough (identity); vfio-pci still gives its "
			"devices translated domains");
	} else {
		verdict(c, IOPF_DOCTOR_OK, "DMA is translated (%zu of %zu groups)", dma, ident + dma + other);
	}
}

/* ---- PCI devices ------------------------------------------------------- */

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* include/uapi/linux/pci_regs.h: PCI_EXT_CAP_ID_ATS 0x0f, _PRI 0x13, _PASID 0x1b and their registers. */
void iopf_pci_caps_parse(const uint8_t *cfg, size_t len, struct iopf_pci_caps *c)
{
	unsigned int off = 0x100, hops = 0;

	memset(c, 0, sizeof(*c));
	if (len < 0x104)
		return;
	c->ext = true;
	while (off >= 0x100 && off + 4 <= len && hops++ < 1024 / 4) {
		uint32_t h = rd32(cfg + off);
		uint16_t id = h & 0xffff;

		if (h == 0 || h == 0xffffffff)
			break;
		if (id == 0x0f && !c->ats && off + 8 <= len) {
			c->ats = (uint16_t)off;
			c->ats_enabled = rd16(cfg + off + 6) & 0x8000;
			c->ats_stu = rd16(cfg + off + 6) & 0x1f;
		} else if (id == 0x13 && !c->pri && off + 16 <= len) {
			c->pri = (uint16_t)off;
			c->pri_enabled = rd16(cfg + off + 4) & 0x0001;
			c->pri_status = rd16(cfg + off + 6);
			/* Stopped is set whenever PRI is disabled and idle: news only while enabled */
			c->pri_stopped = c->pri_enabled && (c->pri_status & 0x0100);
			c->pri_reset_needed = c->pri_status & 0x0003;
			c->pri_capacity = rd32(cfg + off + 8);
			c->pri_alloc = rd32(cfg + off + 12);
		} else if (id == 0x1b && !c->pasid && off + 8 <= len) {
			c->pasid = (uint16_t)off;
			c->pasid_exec = rd16(cfg + off + 4) & 0x0002;
			c->pasid_priv = rd16(cfg + off + 4) & 0x0004;
			c->pasid_width = (rd16(cfg + off + 4) & 0x1f00) >> 8;
			c->pasid_enabled = rd16(cfg + off + 6) & 0x0001;
		}
		off = (h >> 20) & 0xffc;	/* PCI_EXT_CAP_NEXT */
	}
}

static const struct iommu_unit *unit_of(const struct iopf_doctor *d, const char *name)
{
	for (size_t i = 0; i < d->nunits; i++)
		if (!strcmp(d->units[i].name, name))
			return &d->units[i];
	return NULL;
}

/* Ready to fault?  One device: everything, or NULL when it is an ordinary device not worth a check. */
static void check_device(struct iopf_doctor *d, const char *bdf, bool named, struct chk *other)
{
	char base[300], path[400], driver[128] = "", group[64] = "", gtype[64] = "", unit[128] = "",
	     cdev[64] = "";
	const uint8_t *cfg;
	size_t len = 0, nv;
	char **v;
	struct iopf_pci_caps pc;
	struct chk *c;
	const struct iommu_unit *u;
	uint16_t ven = 0, dev = 0;
	bool ready = true;
	int cfg_err;

	snprintf(base, sizeof(base), "sys/bus/pci/devices/%s", bdf);
	snprintf(path, sizeof(path), "%s/config", base);
	cfg = (const uint8_t *)dr_read_max(d, path, 4096, &len, NULL);
	cfg_err = cfg ? 0 : errno;	/* before the driver link's look-up sets errno */
	if (cfg && len >= 4) {
		ven = rd16(cfg);
		dev = rd16(cfg + 2);
	}
	iopf_pci_caps_parse(cfg, cfg ? len : 0, &pc);
	snprintf(path, sizeof(path), "%s/driver", base);
	dr_link_base(d, path, driver, sizeof(driver));
	/* an ordinary device: not named, not vfio-pci, config readable, no PRI */
	if (!named && strcmp(driver, "vfio-pci") && cfg && len > 64 && !pc.pri) {
		ev(other, "%s %04x:%04x %s: %s", bdf, ven, dev, driver[0] ? driver : "(no driver)",
		   pc.ext ? "no PRI capability" : "no extended config space (so no PRI)");
		return;
	}
	/* not root: the first 64 bytes only; counted, not a check each */
	if (!named && strcmp(driver, "vfio-pci") && cfg && len <= 64) {
		ev(other, "%s %04x:%04x %s: %zu bytes of config space (not root): PRI unknown", bdf, ven, dev,
		   driver[0] ? driver : "(no driver)", len);
		d->short_cfg++;
		return;
	}
	c = chk(d, "PCI device", "device.%s", bdf);
	if (!cfg) {
		ev(c, "/%s/config: %s", base, strerror(cfg_err));
		verdict(c, IOPF_DOCTOR_WARNING, "%s: config space unreadable", bdf);
		advise(c, "run as root");
		return;
	}
	ev(c, "vendor:device %04x:%04x, driver %s", ven, dev, driver[0] ? driver : "none");
	snprintf(path, sizeof(path), "%s/iommu_group", base);
	dr_link_base(d, path, group, sizeof(group));
	if (group[0]) {
		snprintf(path, sizeof(path), "sys/kernel/iommu_groups/%s/type", group);
		dr_attr(d, path, gtype, sizeof(gtype));
	}
	snprintf(path, sizeof(path), "%s/iommu", base);
	dr_link_base(d, path, unit, sizeof(unit));
	ev(c, "IOMMU group %s%s%s%s, IOMMU %s", group[0] ? group : "none", gtype[0] ? " (" : "", gtype,
	   gtype[0] ? ")" : "", unit[0] ? unit : "none");
	snprintf(path, sizeof(path), "%s/vfio-dev", base);
	if (dr_list(d, path, &v, &nv) == 0 && nv) {
		snprintf(cdev, sizeof(cdev), "%.60s", v[0]);
		snprintf(path, sizeof(path), "%s/vfio-dev/%s", base, v[0]);
		dr_exists(d, path);	/* recorded: a bundle keeps the cdev's directory */
	}
	free_list(v, nv);
	ev(c, "VFIO cdev: %s%s", cdev[0] ? "/dev/vfio/devices/" : "none", cdev);
	if (!pc.ext) {
		ev(c, "config space: %zu bytes%s", len, len <= 64 ? " (the rest needs root)" :
		   " (no extended space: conventional PCI, or no ECAM/MMCONFIG)");
		verdict(c, IOPF_DOCTOR_WARNING, "%s: ATS/PRI/PASID cannot be read (%zu bytes of config space)", bdf, len);
		advise(c, len <= 64 ? "run as root: sysfs shows unprivileged users 64 bytes of config space" :
		       "the kernel has no extended config space for this device (check MMCONFIG/ECAM)");
		return;
	}
	if (pc.ats)
		ev(c, "ATS at 0x%03x: %s, STU %u", pc.ats, pc.ats_enabled ? "enabled" : "disabled", pc.ats_stu);
	else
		ev(c, "ATS: none");
	if (pc.pri)
		ev(c, "PRI at 0x%03x: %s, status 0x%04x%s%s%s, capacity %u outstanding page requests, %u allocated",
		   pc.pri, pc.pri_enabled ? "enabled" : "disabled", pc.pri_status,
		   pc.pri_stopped ? " (stopped)" : "", pc.pri_reset_needed ? " (response failure / bad PRG index)" : "",
		   pc.pri_status & 0x8000 ? " (PRG response PASID required)" : "",
		   pc.pri_capacity, pc.pri_alloc);
	else
		ev(c, "PRI: none");
	if (pc.pasid)
		ev(c, "PASID at 0x%03x: %s, width %u bits%s%s", pc.pasid, pc.pasid_enabled ? "enabled" : "disabled",
		   pc.pasid_width, pc.pasid_exec ? ", exec" : "", pc.pasid_priv ? ", privileged" : "");
	else
		ev(c, "PASID: none");
	u = unit[0] ? unit_of(d, unit) : NULL;
#define NOT(st, ...) do { verdict(c, st, __VA_ARGS__); ready = false; } while (0)
	if (!pc.pri) {
		NOT(IOPF_DOCTOR_PROBLEM, "%s cannot fault to a fault fd: it has no PRI capability (no page requests)", bdf);
		advise(c, "only a device with PCIe PRI (and ATS) sends page requests; its DMA faults are unrecoverable");
	} else if (!pc.ats) {
		NOT(IOPF_DOCTOR_PROBLEM, "%s cannot fault to a fault fd: PRI without ATS", bdf);
	} else if (!group[0]) {
		NOT(IOPF_DOCTOR_PROBLEM, "%s cannot fault to a fault fd: no IOMMU group (no IOMMU translates it)", bdf);
		advise(c, "enable the IOMMU for this device");
	} else if (u && u->pr == 0) {
		NOT(IOPF_DOCTOR_PROBLEM, "%s cannot fault to a fault fd: its IOMMU %s takes no page requests", bdf,
		    u->name);
		advise(c, "see the iommu.%s check", u->name);
	} else if (!d->nunits) {
		NOT(IOPF_DOCTOR_PROBLEM, "%s cannot fault to a fault fd: no IOMMU", bdf);
	} else if (strcmp(driver, "vfio-pci")) {
		NOT(IOPF_DOCTOR_PROBLEM, "%s cannot fault to a fault fd: bound to %s, not vfio-pci", bdf,
		    driver[0] ? driver : "no driver");
		advise(c, "echo vfio-pci > /sys/bus/pci/devices/%s/driver_override; "
		       "echo %s > /sys/bus/pci/devices/%s/driver/unbind; echo %s > /sys/bus/pci/drivers_probe",
		       bdf, bdf, bdf, bdf);
	} else if (!cdev[0]) {
		NOT(IOPF_DOCTOR_PROBLEM, "%s cannot fault to a fault fd: vfio-pci but no VFIO cdev", bdf);
		advise(c, "boot a kernel with CONFIG_VFIO_DEVICE_CDEV");
	} else if (cfg_get(d, "CONFIG_IOMMUFD") == 'n') {
		NOT(IOPF_DOCTOR_PROBLEM, "%s cannot fault to a fault fd: the kernel has no IOMMUFD", bdf);
	}
	if (!ready)
		return;
	if (pc.pri_reset_needed || pc.pri_stopped) {
		verdict(c, IOPF_DOCTOR_WARNING, "%s: PRI reports %s", bdf,
			pc.pri_reset_needed ? "a response failure or unexpected PRG index (the device stopped "
			"sending page requests until PRI is reset)" : "stopped");
		advise(c, "re-attach the device (the kernel resets PRI when it enables it)");
		return;
	}
	/* who turns PRI on: iommufd's IOPF enable at attach (6.12), the Intel driver at probe (7.3) */
	verdict(c, IOPF_DOCTOR_OK, "%s can deliver page faults: /dev/vfio/devices/%s, %s", bdf, cdev,
		pc.pri_enabled ? "PRI enabled" : "PRI off now (the kernel enables it at probe or when a HWPT "
		"with a fault queue is attached, by driver and version)");
	if (u && u->pr < 0)
		verdict(c, IOPF_DOCTOR_WARNING, "%s looks ready (/dev/vfio/devices/%s) but whether IOMMU %s takes "
			"page requests is not known", bdf, cdev, u->name);
	if (pc.pasid && !kver_ge(d, 6, 15))
		ev(c, "faults with a PASID need Linux 6.15 (PASID attach); this kernel delivers RID faults only");
	advise(c, "iopftool monitor --source device:/dev/vfio/devices/%s", cdev);
#undef NOT
}

static bool bdf_named(const struct iopf_doctor_cfg *cfg, const char *bdf)
{
	for (size_t i = 0; i < cfg->ndevices; i++) {
		const char *n = cfg->devices[i];

		/* "00:03.0" names "0000:00:03.0" */
		if (!strcmp(n, bdf) || (strlen(bdf) > 5 && !strncmp(bdf, "0000:", 5) && !strcmp(n, bdf + 5)))
			return true;
	}
	return false;
}

static void check_devices(struct iopf_doctor *d)
{
	char **names;
	size_t n, shown = 0;
	struct chk *other;
	int rc = dr_list(d, "sys/bus/pci/devices", &names, &n);

	if (rc) {
		struct chk *c = chk(d, "PCI devices", "devices");

		ev(c, "/sys/bus/pci/devices: %s", strerror(-rc));
		verdict(c, IOPF_DOCTOR_WARNING, "no PCI bus in sysfs");
		return;
	}
	for (size_t i = 0; i < d->cfg->ndevices; i++) {
		bool found = false;

		for (size_t j = 0; j < n && !found; j++)
			found = bdf_named(&(struct iopf_doctor_cfg){ .devices = &d->cfg->devices[i], .ndevices = 1 },
					  names[j]);
		if (!found) {
			struct chk *c = chk(d, "PCI device", "device.%s", d->cfg->devices[i]);

			verdict(c, IOPF_DOCTOR_PROBLEM, "no PCI device %s in /sys/bus/pci/devices", d->cfg->devices[i]);
		}
	}
	other = calloc(1, sizeof(*other));
	if (!other)
		other = &oom_chk;
	for (size_t i = 0; i < n; i++) {
		if (d->cfg->ndevices && !bdf_named(d->cfg, names[i]))
			continue;
		check_device(d, names[i], d->cfg->ndevices > 0, other);
		shown++;
	}
	if (other != &oom_chk) {
		struct chk *c = other->nev ? chk(d, "other PCI devices", "devices.other") : &oom_chk;

		if (c != &oom_chk) {
			c->ev = other->ev;
			c->nev = other->nev;
			c->cap = other->cap;
			verdict(c, IOPF_DOCTOR_OK, "%zu PCI devices have no PRI capability: they cannot fault to "
				"user space (as expected for most devices)", c->nev);
			if (d->short_cfg) {
				verdict(c, IOPF_DOCTOR_WARNING, "%zu of %zu PCI devices show only 64 bytes of config "
					"space: whether they have PRI is not known", d->short_cfg, c->nev);
				advise(c, "run as root (sysfs gives other users the first 64 bytes only)");
			}
		} else {
			for (size_t i = 0; i < other->nev; i++)
				free(other->ev[i]);
			free(other->ev);
		}
		free(other);
	}
	if (!n) {
		struct chk *c = chk(d, "PCI devices", "devices");

		verdict(c, IOPF_DOCTOR_WARNING, "no PCI devices");
	}
	free_list(names, n);
}

/* ---- fault fd holders, the tap ------------------------------------------------ */

static void check_processes(struct iopf_doctor *d)
{
	struct chk *c = chk(d, "fault fd holders", "processes");
	size_t faults = 0;

	if (!d->live) {
		size_t len;
		const char *p = dr_read_max(d, "ps.txt", SMALL_MAX, &len, NULL);

		if (!p) {
			verdict(c, IOPF_DOCTOR_OK, "not known for a collected tree (a bundle's ps.txt has it)");
			return;
		}
		while (*p) {
			size_t l = strcspn(p, "\n");

			if (l && l < 512 && *p != '#') {
				ev(c, "%.*s", (int)l, p);
				faults += memmem(p, l, " fault ", 7) != NULL;
			}
			p += l + (p[l] == '\n');
		}
	} else {
		struct iopf_proc_fd *l;
		size_t n;
		int rc = iopf_proc_scan(&l, &n, 0);

		if (rc) {
			verdict(c, IOPF_DOCTOR_WARNING, "/proc cannot be listed: %s", strerror(-rc));
			return;
		}
		for (size_t i = 0; i < n; i++) {
			const char *k = l[i].kind == IOPF_PROC_FAULT_FD ? "fault" :
					l[i].kind == IOPF_PROC_IOMMUFD ? "iommufd" : "vfio";

			ev(c, "%d %d %s %s %s", l[i].pid, l[i].fd, k, l[i].comm, l[i].target);
			faults += l[i].kind == IOPF_PROC_FAULT_FD;
		}
		free(l);
		if (geteuid())
			ev(c, "not root: other users' processes are not visible");
	}
	if (faults)
		verdict(c, IOPF_DOCTOR_OK, "%zu fault fd%s held now (iopftool ps)", faults, faults > 1 ? "s" : "");
	else
		verdict(c, IOPF_DOCTOR_OK, "no process holds a fault fd now");
}

static void check_tap(struct iopf_doctor *d)
{
	struct chk *c = chk(d, "the tap (--source tap)", "tap");
	static const char *const dirs[] = { "sys/kernel/tracing", "sys/kernel/debug/tracing" };
	const char *tfs = NULL;
	char path[300], lock[128] = "", ub[16] = "";
	bool kev = false, btf;

	for (size_t i = 0; i < ARRAY_SIZE(dirs) && !tfs; i++) {
		snprintf(path, sizeof(path), "%s/trace", dirs[i]);
		if (dr_exists(d, path))
			tfs = dirs[i];
	}
	if (tfs) {
		snprintf(path, sizeof(path), "%s/kprobe_events", tfs);
		kev = dr_exists(d, path) != 0;
		ev(c, "tracefs at /%s, kprobe_events %s", tfs, kev ? "present" : "absent");
	} else {
		ev(c, "tracefs: not mounted at /sys/kernel/tracing or /sys/kernel/debug/tracing");
	}
	if (dr_attr(d, "sys/kernel/security/lockdown", lock, sizeof(lock)))
		ev(c, "/sys/kernel/security/lockdown: %s", lock);
	btf = dr_exists(d, "sys/kernel/btf/vmlinux") != 0;
	ev(c, "/sys/kernel/btf/vmlinux: %s", btf ? "present" : "absent (the tap uses its built-in offsets)");
	if (dr_attr(d, "proc/sys/kernel/unprivileged_bpf_disabled", ub, sizeof(ub)))
		ev(c, "kernel.unprivileged_bpf_disabled = %s", ub);
	if (d->live) {
		/* the tap's own probe (lib/tap.c): what each back-end needs, on this machine */
		struct iopf_tap_probe p;

		iopf_tap_probe(&p);
		ev(c, "kprobe back-end: %s", p.kprobe_why[0] ? p.kprobe_why : "can run");
		ev(c, "BPF back-end: %s%s", p.bpf_why[0] ? p.bpf_why : "can run",
		   p.bpf && !p.btf && p.known_layout ? " (no BTF: a struct layout it knows)" : "");
		if (!p.kprobe_why[0] || !p.bpf_why[0]) {
			verdict(c, IOPF_DOCTOR_OK, "the tap can run (%s%s%s)", p.kprobe_why[0] ? "" : "kprobe events",
				!p.kprobe_why[0] && !p.bpf_why[0] ? ", " : "", p.bpf_why[0] ? "" : "BPF");
		} else {
			verdict(c, IOPF_DOCTOR_WARNING, "the tap cannot run: %s", p.lockdown ?
				"kernel lockdown (confidentiality)" : !p.tracefs ? "no tracefs, no BPF" :
				"neither kprobe events nor BPF");
			advise(c, "%s", p.kprobe_why[0] ? p.kprobe_why : p.bpf_why);
		}
		if (geteuid())
			ev(c, "not root: the tap needs root");
		if (cfg_get(d, "CONFIG_IOMMUFD") == 'n') {
			verdict(c, IOPF_DOCTOR_WARNING, "the tap has nothing to watch: the kernel has no IOMMUFD "
				"(its probes go on iommufd's fault fd functions)");
			advise(c, "boot a kernel with CONFIG_IOMMUFD");
		}
		return;
	}
	ev(c, "CONFIG_BPF_SYSCALL=%c", cfg_get(d, "CONFIG_BPF_SYSCALL"));
	/* a collected tree: from its files only (security/lockdown: LOCKDOWN_KPROBES and
	 * LOCKDOWN_TRACEFS are confidentiality reasons) */
	if (strstr(lock, "[confidentiality]")) {
		verdict(c, IOPF_DOCTOR_WARNING, "the tap cannot run: kernel lockdown (confidentiality) forbids kprobes");
		advise(c, "boot without lockdown=confidentiality (and Secure Boot's lockdown) to use --source tap");
	} else if (!cfg_on(d, "CONFIG_KPROBE_EVENTS") && cfg_get(d, "CONFIG_KPROBE_EVENTS") != '?') {
		verdict(c, IOPF_DOCTOR_WARNING, "the tap cannot run: no CONFIG_KPROBE_EVENTS");
		advise(c, "boot a kernel with CONFIG_KPROBES and CONFIG_KPROBE_EVENTS");
	} else if (!tfs) {
		verdict(c, IOPF_DOCTOR_WARNING, "the tap cannot run: tracefs is not mounted");
		advise(c, "mount -t tracefs nodev /sys/kernel/tracing");
	} else if (!kev) {
		verdict(c, IOPF_DOCTOR_WARNING, "the tap cannot run: no kprobe_events in tracefs");
		advise(c, "boot a kernel with CONFIG_KPROBE_EVENTS");
	} else if (cfg_get(d, "CONFIG_IOMMUFD") == 'n') {
		verdict(c, IOPF_DOCTOR_WARNING, "the tap has nothing to watch: the kernel has no IOMMUFD");
	} else {
		verdict(c, IOPF_DOCTOR_OK, "the tap can run (tracefs, kprobe events%s)", btf ? ", BTF" : "");
	}
}

/* ---- the kernel log ---------------------------------------------------- */

/*
 * Each IOMMU driver words its messages differently; the patterns are the
 * fixed parts of the format strings in the files named (7.3.4, the same in
 * 6.12 where the file existed: the VT-d page-request code was in svm.c).
 * Order matters: the first match wins.
 */
static const struct {
	const char *pat[3];	/* all must occur in the line */
	struct iopf_dmesg_class cls;
} dmesg_classes[] = {
	{ { "PRQ overflow detected" }, { "prq-overflow", "drivers/iommu/intel/prq.c", IOPF_DOCTOR_PROBLEM,
	  "the VT-d page request queue filled up: further page requests were answered by the hardware as "
	  "failed and lost to user space; the handler is not reading or answering fast enough" } },
	{ { "PRQ overflow cleared" }, { "prq-overflow-cleared", "drivers/iommu/intel/prq.c", IOPF_DOCTOR_WARNING,
	  "the VT-d page request queue overflow was cleared: page requests were lost before this" } },
	{ { "Page request without PASID" }, { "prq-no-pasid", "drivers/iommu/intel/prq.c", IOPF_DOCTOR_PROBLEM,
	  "a page request without a PASID: 6.12 (and before) answers it INVALID itself, so a device attached "
	  "at its RID never faults to user space on VT-d; 7.3 delivers it" } },
	{ { "Page request in Privilege Mode" }, { "prq-privileged", "drivers/iommu/intel/prq.c", IOPF_DOCTOR_PROBLEM,
	  "a page request with the privileged-mode bit and read/write: the kernel answers it INVALID itself, "
	  "user space never sees it" } },
	{ { "IOMMU: ", "Address is not canonical" }, { "prq-noncanonical", "drivers/iommu/intel/prq.c",
	  IOPF_DOCTOR_PROBLEM, "a page request for a non-canonical address: answered INVALID by the kernel" } },
	{ { "Execution request not supported" }, { "prq-exec", "drivers/iommu/intel/prq.c", IOPF_DOCTOR_PROBLEM,
	  "a page request asking for execute and read: answered INVALID by the kernel" } },
	{ { "Invalid page request:" }, { "prq-invalid", "drivers/iommu/intel/prq.c", IOPF_DOCTOR_PROBLEM,
	  "a malformed page request (the two descriptor words follow): answered INVALID by the kernel" } },
	{ { "page request queue" }, { "prq-setup", "drivers/iommu/intel/prq.c", IOPF_DOCTOR_PROBLEM,
	  "the VT-d page request queue could not be set up: no page requests from this unit" } },
	{ { "Failed to allocate iopf queue" }, { "prq-setup", "drivers/iommu/intel/prq.c", IOPF_DOCTOR_PROBLEM,
	  "the VT-d page request queue could not be set up: no page requests from this unit" } },
	{ { "[INTR-REMAP] Request device [" }, { "dmar-ir-fault", "drivers/iommu/intel/dmar.c",
	  IOPF_DOCTOR_WARNING, "an interrupt-remapping fault: a device sent an interrupt the remapping table "
	  "does not allow (not a page fault)" } },
	{ { "] Request device [", "fault addr" }, { "dmar-fault", "drivers/iommu/intel/dmar.c",
	  IOPF_DOCTOR_PROBLEM, "an unrecoverable VT-d DMA remapping fault (not a page request): the device "
	  "accessed an address its domain does not map, or without permission; the reason names the table "
	  "entry that failed. Devices without PRI, or with PRI off, fault this way" } },
	{ { "DRHD: handling fault status reg" }, { "dmar-fault-status", "drivers/iommu/intel/dmar.c",
	  IOPF_DOCTOR_WARNING, "the VT-d fault status register had faults pending (the lines around it say which)" } },
	{ { "Event logged [IO_PAGE_FAULT" }, { "amd-io-page-fault", "drivers/iommu/amd/iommu.c",
	  IOPF_DOCTOR_PROBLEM, "an unrecoverable AMD-Vi I/O page fault (not a PPR page request): the device "
	  "accessed an address its domain does not map" } },
	{ { "Event logged [INVALID_PPR_REQUEST" }, { "amd-invalid-ppr", "drivers/iommu/amd/iommu.c",
	  IOPF_DOCTOR_PROBLEM, "AMD-Vi rejected a PPR (page request) as invalid: the device's PASID or "
	  "domain setup does not allow it" } },
	{ { "AMD-Vi: Event logged [" }, { "amd-event", "drivers/iommu/amd/iommu.c", IOPF_DOCTOR_WARNING,
	  "an AMD-Vi event log entry (device table, command or invalidation error)" } },
	{ { "Unknown PPR request received" }, { "amd-ppr-unknown", "drivers/iommu/amd/ppr.c", IOPF_DOCTOR_WARNING,
	  "AMD-Vi logged a PPR entry of an unknown type" } },
	{ { "Invalid PASID : " }, { "amd-ppr-pasid", "drivers/iommu/amd/ppr.c", IOPF_DOCTOR_PROBLEM,
	  "AMD-Vi got a page request for a PASID it has no handler for: answered by the kernel" } },
	{ { "PRIQ overflow detected" }, { "smmu-priq-overflow", "drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c",
	  IOPF_DOCTOR_PROBLEM, "the SMMUv3 PRI queue overflowed: page requests were lost" } },
	{ { "EVTQ overflow detected" }, { "smmu-evtq-overflow", "drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c",
	  IOPF_DOCTOR_PROBLEM, "the SMMUv3 event queue overflowed: events (faults) were lost" } },
	{ { "unexpected PRI request received" }, { "smmu-unexpected-pri",
	  "drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c", IOPF_DOCTOR_PROBLEM,
	  "the SMMUv3 got a page request it has no handler for and answered it itself: no fault queue was "
	  "attached for that stream" } },
	{ { "sid 0x", "access at iova" }, { "smmu-unexpected-pri", "drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c",
	  IOPF_DOCTOR_PROBLEM, "the SMMUv3 got a page request it has no handler for and answered it itself: "
	  "no fault queue was attached for that stream" } },
	{ { "no priq irq - PRI will be broken" }, { "smmu-no-priq-irq", "drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c",
	  IOPF_DOCTOR_PROBLEM, "the SMMUv3 PRI queue has no interrupt: page requests are never serviced" } },
	{ { "event 0x", " received:" }, { "smmu-event", "drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c",
	  IOPF_DOCTOR_PROBLEM, "an SMMUv3 event (fault) that no handler took; the raw event words follow" } },
	{ { "event: ", " client: ", " sid: " }, { "smmu-event", "drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c",
	  IOPF_DOCTOR_PROBLEM, "an SMMUv3 event (fault) that no handler took: F_TRANSLATION / F_PERMISSION "
	  "are translation faults, C_BAD_* are configuration errors" } },
	{ { "(features 0x" }, { "smmu-features", "drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c", IOPF_DOCTOR_OK,
	  "the SMMUv3 feature word (ARM_SMMU_FEAT_*: bit 4 PRI, 5 ATS, 11 stalls, 17 SVA)" } },
	{ { "iopf with pasid", "aborted" }, { "iopf-aborted", "drivers/iommu/io-pgfault.c", IOPF_DOCTOR_PROBLEM,
	  "the fault handler of the domain (iommufd's queue) refused a group: the kernel answered the device "
	  "FAILURE" } },
	{ { "MSI interrupts are not secure" }, { "iommufd-msi", "drivers/iommu/iommufd/device.c",
	  IOPF_DOCTOR_PROBLEM, "iommufd would not bind a device: no interrupt remapping; enable it or set "
	  "iommufd.allow_unsafe_interrupts=1 (unsafe)" } },
	{ { "IOMMUFD is providing /dev/vfio/vfio" }, { "iommufd-compat", "drivers/iommu/iommufd/main.c",
	  IOPF_DOCTOR_OK, "iommufd serves the legacy VFIO container: fine for VFIO, no fault queues through it" } },
	{ { "Device is currently in use, task" }, { "vfio-in-use", "drivers/vfio/vfio_main.c", IOPF_DOCTOR_WARNING,
	  "a VFIO device was to be unbound while a process held it" } },
	{ { "Adding kernel taint for vfio-noiommu" }, { "vfio-noiommu", "drivers/vfio/vfio_main.c",
	  IOPF_DOCTOR_PROBLEM, "a no-IOMMU VFIO device: nothing translates its DMA, it can never fault" } },
	{ { "Cannot bind to PF with SR-IOV enabled" }, { "vfio-sriov", "drivers/vfio/pci/vfio_pci_core.c",
	  IOPF_DOCTOR_PROBLEM, "vfio-pci refused a PF with SR-IOV enabled" } },
	{ { "iommu: Default domain type: " }, { "iommu-default-domain", "drivers/iommu/iommu.c", IOPF_DOCTOR_OK,
	  "the default DMA domain type (Passthrough or Translated)" } },
	{ { "DMAR: IOMMU enabled" }, { "dmar-enabled", "drivers/iommu/intel/iommu.c", IOPF_DOCTOR_OK,
	  "intel_iommu=on" } },
	{ { "DMAR: IOMMU disabled" }, { "dmar-disabled", "drivers/iommu/intel/iommu.c", IOPF_DOCTOR_PROBLEM,
	  "intel_iommu=off: no translation, no faults" } },
	{ { "AMD-Vi: Extended features (" }, { "amd-features", "drivers/iommu/amd/init.c", IOPF_DOCTOR_OK,
	  "the AMD-Vi extended features (PPR among them)" } },
};

const struct iopf_dmesg_class *iopf_dmesg_classify(const char *line)
{
	for (size_t i = 0; i < ARRAY_SIZE(dmesg_classes); i++) {
		bool all = true;

		for (size_t j = 0; j < 3 && dmesg_classes[i].pat[j] && all; j++)
			all = strstr(line, dmesg_classes[i].pat[j]) != NULL;
		if (all)
			return &dmesg_classes[i].cls;
	}
	return NULL;
}

static void keep_line(struct iopf_doctor *d, const char *line, size_t l)
{
	char *n;

	if (d->keptlen + l + 1 > DMESG_KEEP)
		return;
	n = realloc(d->kept, d->keptlen + l + 2);
	if (!n)
		return;
	d->kept = n;
	memcpy(d->kept + d->keptlen, line, l);
	d->keptlen += l;
	d->kept[d->keptlen++] = '\n';
	d->kept[d->keptlen] = '\0';
}

/* The log text: --dmesg FILE, ROOT/dmesg, or klogctl(SYSLOG_ACTION_READ_ALL). */
static char *load_dmesg(struct iopf_doctor *d, struct chk *c, size_t *len)
{
	char *buf = NULL;

	if (d->cfg->dmesg) {
		int fd = open(d->cfg->dmesg, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		struct stat st;
		size_t cap = 0;

		*len = 0;
		if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
			ev(c, "%s: %s", d->cfg->dmesg, fd < 0 ? strerror(errno) : "not a regular file");
			if (fd >= 0)
				close(fd);
			return NULL;
		}
		cap = st.st_size > DMESG_MAX ? DMESG_MAX : (size_t)st.st_size;
		buf = malloc(cap + 1);
		while (buf && *len < cap) {
			ssize_t n = read(fd, buf + *len, cap - *len);

			if (n <= 0)
				break;
			*len += (size_t)n;
		}
		close(fd);
		if (buf) {
			buf[*len] = '\0';
			ev(c, "read %s (%zu bytes%s)", d->cfg->dmesg, *len,
			   (size_t)st.st_size > cap ? ", the first 16 MiB" : "");
		}
		return buf;
	}
	if (!d->live) {
		bool trunc;
		const char *s = dr_read_max(d, "dmesg", DMESG_MAX, len, &trunc);

		if (!s) {
			ev(c, "/dmesg in the tree: %s", strerror(errno));
			return NULL;
		}
		buf = malloc(*len + 1);
		if (buf) {
			memcpy(buf, s, *len + 1);
			ev(c, "read /dmesg of the tree (%zu bytes%s)", *len, trunc ? ", the first 16 MiB" : "");
		}
		/* the bundle carries the classified lines, not the whole log: no input */
		for (size_t i = 0; i < d->nin; i++)
			if (!strcmp(d->in[i].path, "dmesg")) {
				free((char *)d->in[i].path);
				free((char *)d->in[i].data);
				memmove(&d->in[i], &d->in[i + 1], (d->nin - i - 1) * sizeof(d->in[0]));
				d->nin--;
				break;
			}
		return buf;
	}
	{
		int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
		int n;

		if (size <= 0)
			size = 1 << 20;
		if (size > (int)DMESG_MAX)
			size = DMESG_MAX;
		buf = malloc((size_t)size + 1);
		if (!buf)
			return NULL;
		n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, size);
		if (n < 0) {
			ev(c, "klogctl(SYSLOG_ACTION_READ_ALL): %s%s", strerror(errno),
			   errno == EPERM ? " (kernel.dmesg_restrict: needs CAP_SYSLOG)" : "");
			free(buf);
			return NULL;
		}
		buf[n] = '\0';
		*len = (size_t)n;
		ev(c, "read the kernel log buffer (klogctl, %d bytes)", n);
		return buf;
	}
}

struct seen {
	const struct iopf_dmesg_class *cls;
	struct chk *c;
	size_t count;
};

static void check_dmesg(struct iopf_doctor *d, bool pre)
{
	struct chk *c;
	size_t len = 0, lines = 0, hits = 0, nseen = 0;
	struct seen seen[ARRAY_SIZE(dmesg_classes)];
	char *log, *p;

	if (pre) {
		/* first pass, before the IOMMU checks: only the SMMUv3 feature word */
		struct chk dummy = { 0 };

		log = load_dmesg(d, &dummy, &len);
		for (size_t i = 0; i < dummy.nev; i++)
			free(dummy.ev[i]);
		free(dummy.ev);
		for (p = log; p && (p = strstr(p, "(features 0x")); p++) {
			unsigned int f;

			if (sscanf(p, "(features 0x%x)", &f) == 1)
				d->smmu_features = (int)f;
		}
		free(log);
		return;
	}
	c = chk(d, "kernel log", "dmesg");
	log = load_dmesg(d, c, &len);
	if (!log) {
		verdict(c, IOPF_DOCTOR_WARNING, "the kernel log could not be read");
		advise(c, d->live ? "run as root, or give a saved log with --dmesg FILE" :
		       "put the log in the tree as dmesg, or give --dmesg FILE");
		return;
	}
	memset(seen, 0, sizeof(seen));
	for (p = log; *p;) {
		size_t l = strcspn(p, "\n");
		const struct iopf_dmesg_class *cls;
		char line[1024];

		snprintf(line, sizeof(line), "%.*s", (int)(l < sizeof(line) - 1 ? l : sizeof(line) - 1), p);
		lines++;
		cls = iopf_dmesg_classify(line);
		if (cls) {
			size_t k = 0;

			hits++;
			keep_line(d, line, strlen(line));
			while (k < nseen && strcmp(seen[k].cls->id, cls->id))
				k++;
			if (k == nseen && nseen < ARRAY_SIZE(seen)) {
				seen[nseen].cls = cls;
				seen[nseen].c = chk(d, "kernel log", "dmesg.%s", cls->id);
				nseen++;
			}
			if (k < nseen) {
				if (seen[k].count++ < EXAMPLES)
					ev(seen[k].c, "%s", line);
			}
		}
		p += l + (p[l] == '\n');
	}
	for (size_t k = 0; k < nseen; k++) {
		verdict(seen[k].c, seen[k].cls->status, "%zu line%s from %s (%s)", seen[k].count,
			seen[k].count > 1 ? "s" : "", seen[k].cls->source, seen[k].cls->id);
		if (seen[k].count > EXAMPLES)
			ev(seen[k].c, "... and %zu more", seen[k].count - EXAMPLES);
		advise(seen[k].c, "%s", seen[k].cls->explain);
	}
	verdict(c, IOPF_DOCTOR_OK, "%zu lines, %zu from the IOMMU, iommufd and VFIO drivers", lines, hits);
	free(log);
}

/* ---- the run ---------------------------------------------------------------- */

int iopf_doctor_run(const struct iopf_doctor_cfg *cfg, struct iopf_doctor **out, char *err, size_t errlen)
{
	struct iopf_doctor *d = calloc(1, sizeof(*d));

	*out = NULL;
	if (!d)
		return iopf_fail(err, errlen, -ENOMEM, "out of memory");
	d->cfg = cfg;
	d->smmu_features = -1;
	d->live = !cfg->root;
	d->rootfd = open(cfg->root ? cfg->root : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (d->rootfd < 0) {
		int e = errno;

		free(d);
		return iopf_fail(err, errlen, -e, "%s: %s", cfg->root, strerror(e));
	}
	check_kernel(d);
	check_config(d);
	check_dev_iommu(d);
	check_known(d);
	check_dmesg(d, true);
	check_iommus(d);
	check_mode(d);
	check_devices(d);
	check_processes(d);
	check_tap(d);
	check_dmesg(d, false);
	close(d->rootfd);
	d->rootfd = -1;
	if (d->starved) {
		char esc[300];
		int e = d->starved;

		iopf_str_escape(d->starved_at, esc, sizeof(esc));
		iopf_doctor_free(d);
		return iopf_fail(err, errlen, -e, "cannot look: opening /%s: %s (the file descriptor or "
				 "memory limit; raise ulimit -n): the findings would be wrong", esc, strerror(e));
	}
	for (size_t i = 0; i < d->nc; i++) {
		struct chk *c = d->c[i];

		c->pub.id = c->id ? c->id : "?";
		c->pub.title = c->title ? c->title : "?";
		c->pub.summary = c->summary ? c->summary : "";
		c->pub.evidence = (const char *const *)c->ev;
		c->pub.nevidence = c->nev;
		c->pub.advice = c->advice;
	}
	*out = d;
	return 0;
}

void iopf_doctor_free(struct iopf_doctor *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nc; i++) {
		struct chk *c = d->c[i];

		free(c->id);
		free(c->title);
		free(c->summary);
		free(c->advice);
		for (size_t j = 0; j < c->nev; j++)
			free(c->ev[j]);
		free(c->ev);
		free(c);
	}
	free(d->c);
	for (size_t i = 0; i < d->nin; i++) {
		free((char *)d->in[i].path);
		free((char *)d->in[i].data);
	}
	free(d->in);
	free(d->config);
	free(d->units);
	free(d->kept);
	free(d);
}

size_t iopf_doctor_count(const struct iopf_doctor *d)
{
	return d->nc;
}

const struct iopf_doctor_check *iopf_doctor_get(const struct iopf_doctor *d, size_t i)
{
	return i < d->nc ? &d->c[i]->pub : NULL;
}

enum iopf_doctor_status iopf_doctor_worst(const struct iopf_doctor *d)
{
	enum iopf_doctor_status w = IOPF_DOCTOR_OK;

	for (size_t i = 0; i < d->nc; i++)
		if (d->c[i]->pub.status > w)
			w = d->c[i]->pub.status;
	return w;
}

const char *iopf_doctor_status_name(enum iopf_doctor_status s)
{
	switch (s) {
	case IOPF_DOCTOR_OK: return "ok";
	case IOPF_DOCTOR_WARNING: return "warning";
	default: return "problem";
	}
}

size_t iopf_doctor_ninputs(const struct iopf_doctor *d)
{
	return d->nin;
}

const struct iopf_doctor_input *iopf_doctor_input(const struct iopf_doctor *d, size_t i)
{
	return i < d->nin ? &d->in[i] : NULL;
}

const char *iopf_doctor_dmesg_lines(const struct iopf_doctor *d, size_t *len)
{
	*len = d->keptlen;
	return d->kept ? d->kept : "";
}

void iopf_doctor_print(const struct iopf_doctor *d, struct iopf_out *o)
{
	size_t n[3] = { 0 };

	for (size_t i = 0; i < d->nc; i++) {
		const struct iopf_doctor_check *c = &d->c[i]->pub;

		n[c->status]++;
		iopf_out_begin(o);
		iopf_out_str(o, NULL, "%-8s", iopf_doctor_status_name(c->status));
		iopf_out_str(o, "status", NULL, iopf_doctor_status_name(c->status));
		iopf_out_str(o, "id", " %s", c->id);
		iopf_out_str(o, "title", NULL, c->title);
		iopf_out_str(o, "summary", ": %s\n", c->summary);
		iopf_out_open_array(o, "evidence", NULL);
		for (size_t j = 0; j < c->nevidence; j++)
			iopf_out_str(o, NULL, "         %s\n", c->evidence[j]);
		iopf_out_close_array(o, NULL);
		if (c->advice)
			iopf_out_str(o, "advice", "         -> %s\n", c->advice);
		iopf_out_end(o);
	}
	if (!iopf_out_is_json(o)) {
		iopf_out_begin(o);
		iopf_out_printf(o, "%zu checks: %zu ok, %zu warnings, %zu problems\n", d->nc, n[0], n[1], n[2]);
		iopf_out_end(o);
	}
}
