// SPDX-License-Identifier: MIT
/*
 * A BTF reader, just enough for the tap (lib/tap.c: load_layout()): the
 * byte offset of a struct member and the value of an enumerator, read
 * from /sys/kernel/btf/vmlinux when the kernel has it.
 *
 * include/uapi/linux/btf.h: a header {u16 magic 0xeB9F, u8 version, u8
 * flags, u32 hdr_len, type_off, type_len, str_off, str_len} (offsets from
 * the end of the header), then struct btf_type {u32 name_off, info, size}
 * records, each followed by kind-specific data: info bits 0-15 vlen, 24-28
 * kind, 31 kind_flag.  A STRUCT's members are {name_off, type, offset}
 * (offset in bits; with kind_flag, bits 0-23).  ENUM values are
 * {name_off, s32 val}.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define BTF_MAX (256u << 20)	/* a larger blob is refused (-EFBIG) */

enum { BTF_INT = 1, BTF_PTR, BTF_ARRAY, BTF_STRUCT, BTF_UNION, BTF_ENUM, BTF_FWD, BTF_TYPEDEF,
       BTF_VOLATILE, BTF_CONST, BTF_RESTRICT, BTF_FUNC, BTF_FUNC_PROTO, BTF_VAR, BTF_DATASEC,
       BTF_FLOAT, BTF_DECL_TAG, BTF_TYPE_TAG, BTF_ENUM64 };

static uint32_t btf_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);	/* BTF is in the kernel's byte order: ours */
	return v;
}

/* Bytes of kind-specific data after a btf_type, or -1 for an unknown kind. */
static long btf_extra(uint32_t kind, uint32_t vlen)
{
	switch (kind) {
	case BTF_INT: case BTF_VAR: case BTF_DECL_TAG: return 4;
	case BTF_ARRAY: return 12;
	case BTF_STRUCT: case BTF_UNION: case BTF_DATASEC: case BTF_ENUM64: return 12L * vlen;
	case BTF_ENUM: case BTF_FUNC_PROTO: return 8L * vlen;
	case BTF_PTR: case BTF_FWD: case BTF_TYPEDEF: case BTF_VOLATILE: case BTF_CONST:
	case BTF_RESTRICT: case BTF_FUNC: case BTF_FLOAT: case BTF_TYPE_TAG: return 0;
	default: return -1;
	}
}

/*
 * Look up, in the BTF blob at path, the byte offset of member in struct
 * type (what == 0), or the value of enumerator name (what == 1, type
 * unused).  0 and *v set, -ENOENT when absent, -EBADMSG when malformed,
 * or the errno of reading the file.
 */
static int btf_lookup(const char *path, int what, const char *type, const char *member, int64_t *v)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), e;
	size_t len = 0;
	bool big = false;
	uint8_t *b;
	int rc = -ENOENT;

	if (fd < 0)
		return -errno;
	b = (uint8_t *)iopf_read_fd(fd, BTF_MAX, &len, &big);
	e = errno;
	close(fd);
	if (!b)
		return -e;
	if (big) {
		rc = -EFBIG;
		goto out;
	}
	if (len < 24 || b[0] != 0x9f || b[1] != 0xeb) {
		rc = -EBADMSG;
		goto out;
	}
	uint32_t hdr = btf_u32(b + 4), toff = btf_u32(b + 8), tlen = btf_u32(b + 12);
	uint32_t soff = btf_u32(b + 16), slen = btf_u32(b + 20);

	if (hdr < 24 || hdr > len || toff > len - hdr || tlen > len - hdr - toff ||
	    soff > len - hdr || slen > len - hdr - soff) {
		rc = -EBADMSG;
		goto out;
	}
	const uint8_t *types = b + hdr + toff, *end = types + tlen;
	const char *strs = (const char *)b + hdr + soff;
	/* A name: the NUL-terminated string at off, or NULL past the section. */
#define NAME(off) ((off) < slen && memchr(strs + (off), 0, slen - (off)) ? strs + (off) : NULL)
	for (const uint8_t *p = types; p + 12 <= end;) {
		uint32_t info = btf_u32(p + 4), kind = (info >> 24) & 0x1f, vlen = info & 0xffff;
		long extra = btf_extra(kind, vlen);
		const char *name = NAME(btf_u32(p));

		if (extra < 0 || p + 12 + extra > end) {
			rc = -EBADMSG;
			break;
		}
		if (what == 0 && kind == BTF_STRUCT && name && !strcmp(name, type)) {
			for (uint32_t i = 0; i < vlen; i++) {
				const uint8_t *m = p + 12 + 12 * i;
				const char *mn = NAME(btf_u32(m));
				uint32_t bits = btf_u32(m + 8);

				if (info >> 31)
					bits &= 0xffffff;
				if (mn && !strcmp(mn, member)) {
					*v = bits / 8;
					rc = 0;
					goto out;
				}
			}
		} else if (what == 1 && kind == BTF_ENUM) {
			for (uint32_t i = 0; i < vlen; i++) {
				const uint8_t *m = p + 12 + 8 * i;
				const char *en = NAME(btf_u32(m));

				if (en && !strcmp(en, member)) {
					*v = (int32_t)btf_u32(m + 4);
					rc = 0;
					goto out;
				}
			}
		}
		p += 12 + extra;
	}
#undef NAME
out:
	free(b);
	return rc;
}

int iopf_btf_member_offset(const char *path, const char *type, const char *member, uint32_t *bytes)
{
	int64_t v = 0;
	int rc = btf_lookup(path, 0, type, member, &v);

	if (!rc)
		*bytes = (uint32_t)v;
	return rc;
}

int iopf_btf_enum_value(const char *path, const char *name, int64_t *value)
{
	return btf_lookup(path, 1, NULL, name, value);
}
