// SPDX-License-Identifier: MIT
/*
 * A ustar archive writer (POSIX.1-1988 "ustar" as in POSIX.1-2008 pax(1),
 * "ustar Interchange Format"): 512-byte headers, name split into prefix
 * (155) and name (100) at a '/', octal numeric fields, the checksum as
 * the sum of the header bytes with the checksum field taken as spaces,
 * data padded to 512 bytes, two zero blocks at the end.  Used by the
 * doctor bundle (iopftool-bundle(8)); no external tar is needed.
 *
 * Names are written as given (bytes), but never absolute and never with
 * a ".." component, so every member stays inside the archive's root.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

struct iopf_tar {
	int fd;
};

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int iopf_tar_open(struct iopf_tar **t, int fd)
{
	*t = calloc(1, sizeof(**t));
	if (!*t)
		return -ENOMEM;
	(*t)->fd = fd;
	return 0;
}

/* Octal, zero-padded, NUL-terminated in a field of w bytes; -1 when it does not fit. */
static int octal(char *field, size_t w, unsigned long long v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%0*llo", (int)(w - 1), v);

	if (n < 0 || (size_t)n > w - 1)
		return -1;
	memcpy(field, tmp, (size_t)n + 1);
	return 0;
}

/* A safe member name: relative, no "." or ".." component, no empty component. */
static bool name_safe(const char *name)
{
	const char *p = name;

	if (!*name || *name == '/')
		return false;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
		if (*p == '/')
			p++;
	}
	return true;
}

static int header(unsigned char *h, const char *name, enum iopf_doctor_input_type type,
		  const void *data, size_t len, time_t mtime)
{
	char full[260];
	size_t nl;
	unsigned int sum = 0;
	const char *split = NULL;

	if (!name_safe(name))
		return -EINVAL;
	snprintf(full, sizeof(full), "%s%s", name, type == IOPF_DOCTOR_DIR ? "/" : "");
	nl = strlen(full);
	if (nl >= sizeof(full) - 1)
		return -ENAMETOOLONG;
	memset(h, 0, 512);
	if (nl <= 100) {
		memcpy(h, full, nl);
	} else {
		/* prefix: at most 155 bytes before a '/', name: at most 100 after it */
		for (const char *s = full + nl - 1; s > full; s--)
			if (*s == '/' && s[1] && (size_t)(s - full) <= 155 && nl - (size_t)(s - full) - 1 <= 100) {
				split = s;
				break;
			}
		if (!split)
			return -ENAMETOOLONG;
		memcpy(h, split + 1, nl - (size_t)(split - full) - 1);
		memcpy(h + 345, full, (size_t)(split - full));
	}
	if (type == IOPF_DOCTOR_LINK) {
		if (len > 100 || memchr(data, '\0', len))
			return -ENAMETOOLONG;
		memcpy(h + 157, data, len);
	}
	octal((char *)h + 100, 8, type == IOPF_DOCTOR_DIR ? 0755 : type == IOPF_DOCTOR_LINK ? 0777 : 0644);
	octal((char *)h + 108, 8, 0);
	octal((char *)h + 116, 8, 0);
	if (octal((char *)h + 124, 12, type == IOPF_DOCTOR_FILE ? len : 0))
		return -EFBIG;
	octal((char *)h + 136, 12, mtime > 0 ? (unsigned long long)mtime : 0);
	h[156] = type == IOPF_DOCTOR_DIR ? '5' : type == IOPF_DOCTOR_LINK ? '2' : '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memcpy(h + 265, "root", 4);
	memcpy(h + 297, "root", 4);
	memset(h + 148, ' ', 8);
	for (size_t i = 0; i < 512; i++)
		sum += h[i];
	octal((char *)h + 148, 7, sum);
	h[155] = ' ';
	return 0;
}

int iopf_tar_check(const char *name, enum iopf_doctor_input_type type, const void *data, size_t len)
{
	unsigned char h[512];

	return header(h, name, type, data, len, 0);
}

int iopf_tar_add(struct iopf_tar *t, const char *name, enum iopf_doctor_input_type type,
		 const void *data, size_t len, time_t mtime)
{
	unsigned char h[512];
	int rc = header(h, name, type, data, len, mtime);

	if (rc)
		return rc;
	rc = write_all(t->fd, h, sizeof(h));
	if (rc || type != IOPF_DOCTOR_FILE || !len)
		return rc;
	rc = write_all(t->fd, data, len);
	if (!rc && len % 512) {
		static const char zero[512];

		rc = write_all(t->fd, zero, 512 - len % 512);
	}
	return rc;
}

int iopf_tar_close(struct iopf_tar *t)
{
	static const char zero[1024];
	int rc = write_all(t->fd, zero, sizeof(zero));

	free(t);
	return rc;
}
