// SPDX-License-Identifier: MIT
/* The BTF reader (lib/btf.c): a hand-built blob, and the running kernel's when it has one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iopf.h"
#include "internal.h"	/* what only libiopf and its tests use */
#include "tap.h"

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);	/* BTF is in host byte order */
}

/* A BTF blob: one STRUCT "s" {int a @0; int m @64 bits}, one ENUM {E_X = -3}. */
static size_t make_btf(uint8_t *b, bool kind_flag, bool truncate)
{
	static const char strs[] = "\0s\0a\0m\0e\0E_X";	/* offsets 0,1,3,5,7,9 */
	uint8_t *t = b + 24;
	size_t tl = 0;

	memset(b, 0, 256);
	/* STRUCT s, vlen 2, size 16 */
	put32(t + 0, 1);
	put32(t + 4, (4u << 24) | 2 | (kind_flag ? 1u << 31 : 0));
	put32(t + 8, 16);
	put32(t + 12, 3);	/* member a */
	put32(t + 16, 0);
	put32(t + 20, 0);
	put32(t + 24, 5);	/* member m at bit 64 (kind_flag: bitfield size 0 in bits 24-31) */
	put32(t + 28, 0);
	put32(t + 32, 64);
	tl = 36;
	/* ENUM e, vlen 1 */
	put32(t + tl, 7);
	put32(t + tl + 4, (6u << 24) | 1);
	put32(t + tl + 8, 4);
	put32(t + tl + 12, 9);
	put32(t + tl + 16, (uint32_t)-3);
	tl += 20;
	b[0] = 0x9f;
	b[1] = 0xeb;
	b[2] = 1;
	put32(b + 4, 24);
	put32(b + 8, 0);
	put32(b + 12, (uint32_t)(truncate ? tl + 40 : tl));
	put32(b + 16, (uint32_t)tl);
	put32(b + 20, sizeof(strs));
	memcpy(t + tl, strs, sizeof(strs));
	return 24 + tl + sizeof(strs);
}

static int write_file(const char *path, const uint8_t *b, size_t n)
{
	FILE *f = fopen(path, "wb");
	int ok = f && fwrite(b, 1, n, f) == n;

	if (f)
		fclose(f);
	return ok ? 0 : -1;
}

int main(void)
{
	uint8_t b[256];
	char path[] = "/tmp/iopf-btf-XXXXXX";
	uint32_t off = 0;
	int64_t v = 0;
	int tmp = mkstemp(path);

	if (tmp < 0) {
		perror("mkstemp");
		return 2;
	}
	close(tmp);
	write_file(path, b, make_btf(b, false, false));
	is(iopf_btf_member_offset(path, "s", "m", &off), 0, "BTF: s.m found");
	is(off, 8, "BTF: s.m at byte 8");
	is(iopf_btf_member_offset(path, "s", "a", &off), 0, "BTF: s.a found");
	is(off, 0, "BTF: s.a at byte 0");
	is(iopf_btf_member_offset(path, "s", "zz", &off), -ENOENT, "BTF: no s.zz");
	is(iopf_btf_member_offset(path, "t", "m", &off), -ENOENT, "BTF: no struct t");
	is(iopf_btf_enum_value(path, "E_X", &v), 0, "BTF: enumerator E_X found");
	is(v, -3, "BTF: E_X = -3");
	is(iopf_btf_enum_value(path, "E_Y", &v), -ENOENT, "BTF: no enumerator E_Y");
	is(iopf_btf_enum_value(path, "s", &v), -ENOENT, "BTF: a struct's name is no enumerator");
	write_file(path, b, make_btf(b, true, false));
	is(iopf_btf_member_offset(path, "s", "m", &off), 0, "BTF kind_flag: s.m found");
	is(off, 8, "BTF kind_flag: bit offset in bits 0-23");
	write_file(path, b, make_btf(b, false, true));
	is(iopf_btf_member_offset(path, "s", "m", &off), -EBADMSG, "BTF: a type section past the end is malformed");
	b[0] = 0;
	write_file(path, b, 40);
	is(iopf_btf_member_offset(path, "s", "m", &off), -EBADMSG, "BTF: bad magic");
	write_file(path, b, 3);
	is(iopf_btf_member_offset(path, "s", "m", &off), -EBADMSG, "BTF: 3 bytes");
	unlink(path);
	is(iopf_btf_member_offset(path, "s", "m", &off), -ENOENT, "BTF: no such file");
	is(iopf_btf_enum_value(path, "E_X", &v), -ENOENT, "BTF: no such file (enumerator)");
	is(iopf_btf_member_offset("/", "s", "m", &off), -EISDIR, "BTF: a directory is an error reading it");

	/* The running kernel's own BTF, when it has it: list_head.prev is at 8 everywhere. */
	if (!access("/sys/kernel/btf/vmlinux", R_OK)) {
		is(iopf_btf_member_offset("/sys/kernel/btf/vmlinux", "list_head", "prev", &off), 0,
		   "vmlinux BTF: list_head.prev found");
		is(off, 8, "vmlinux BTF: list_head.prev at 8");
		ok(!iopf_btf_member_offset("/sys/kernel/btf/vmlinux", "file", "private_data", &off) &&
		   off % 8 == 0 && off < 256, "vmlinux BTF: file.private_data at %u", off);
	} else {
		printf("ok %d # skip no /sys/kernel/btf/vmlinux\n", ++tap_n);
	}
	return tap_done();
}
