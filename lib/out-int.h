/* SPDX-License-Identifier: MIT */
/*
 * libiopf private: the output object of lib/out.c and its printf-like
 * format compiler, lib/fmt.c.  Not installed.
 *
 * What both files need is here: struct iopf_out, the buffer's small
 * helpers, and the format compiler's fast path (the per-format cache
 * look-up and the emitters of a compiled format).  These are static
 * inline, always_inline where they were: iopf_out_uint(), _str(),
 * _hex64() and a JSON member's key inline them, so that a field is a few
 * moves into the buffer, with no call.
 */
#ifndef IOPF_OUT_INT_H
#define IOPF_OUT_INT_H

#include <stdarg.h>

#include "internal.h"

#define OUT_DEPTH 16			/* nesting kept; deeper members are dropped */

/*
 * A format seen before, split into literal, conversion, literal.  Only
 * formats in the program's read-only data (string literals) are kept,
 * keyed by address: their bytes cannot change under the key.
 */
#define CACHE_BITS 8		/* both caches have 1 << CACHE_BITS slots */
#define FMT_CACHE (1 << CACHE_BITS)
enum fmt_kind { FK_NONE, FK_SLOW, FK_LIT, FK_S, FK_U, FK_D, FK_X, FK_HEX16 };
struct fmt_entry {
	const char *fmt;
	uint8_t kind, pre_len, post_len;
	char pre[29];
	char post[32];
};

/* A key seen before, as JSON writes it: "key": (pretty: "key": ). */
#define KEY_CACHE (1 << CACHE_BITS)
struct key_entry {
	const char *key;
	uint8_t len;
	char text[31];
};

/*
 * Read-only address ranges: the non-writable PT_LOAD segments of the
 * program and of the object libiopf's code is in (the same object when
 * libiopf.a is linked in, two with libiopf.so).  Neither can be unloaded
 * while an iopf_out of theirs is in use, so a string literal of either
 * keeps its bytes for the cache's lifetime.
 */
#define RO_RANGES 8
struct ro_range {
	uintptr_t lo, hi;
};

/*
 * The cache slot of a literal's address (Fibonacci hashing): strings a
 * multiple of the table size apart in .rodata must not share a slot.
 * Each literal has two slots, h and h ^ 1, so that two hot literals of the
 * same slot do not evict each other on every record.
 */
static inline size_t addr_slot(const void *p, unsigned int bits)
{
	return (size_t)(((uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull) >> (64 - bits));
}

struct out_frame {
	bool array;
	uint32_t n;		/* members so far */
};

struct iopf_out {
	FILE *f;
	enum iopf_out_mode mode;
	bool pretty;
	bool line;		/* write after each record */
	bool open;		/* between iopf_out_begin() and iopf_out_end() */
	int depth;		/* JSON frames in use (1 = the record's object) */
	int skipped;		/* containers being dropped (no key, too deep) */
	int err;		/* first write error */
	struct out_frame st[OUT_DEPTH];
	char *buf;
	size_t len, cap;
	struct iopf_time_cache tc;
	struct timespec last_ts;	/* the faults of a group share their time stamp: */
	char last_time[32];		/* last_ts formatted, when last_len > 0 */
	size_t last_len;
	int nro;
	struct ro_range ro[RO_RANGES];
	struct fmt_entry fc[FMT_CACHE];
	struct key_entry kc[KEY_CACHE];
};

/* ------------------------------------------------------------------ */
/* The buffer (lib/out.c)                                              */
/* ------------------------------------------------------------------ */

/* The slow path of room(): write the buffer out, or grow it. */
char *out_room_slow(struct iopf_out *o, size_t n);
/* n bytes of c (nothing when n <= 0). */
void out_pad(struct iopf_out *o, char c, int n);

/* Room for n more bytes at o->buf + o->len, or NULL (out of memory). */
static inline char *room(struct iopf_out *o, size_t n)
{
	if (o->len + n <= o->cap)
		return o->buf + o->len;
	return out_room_slow(o, n);
}

static inline void put(struct iopf_out *o, const char *s, size_t n)
{
	char *p = room(o, n);

	if (!p)
		return;
	memcpy(p, s, n);
	o->len += n;
}

static inline void putc1(struct iopf_out *o, char c)
{
	char *p = room(o, 1);

	if (p) {
		*p = c;
		o->len++;
	}
}

static inline void put_u64(struct iopf_out *o, uint64_t v)
{
	char tmp[24], *s = iopf_u64_dec(tmp + sizeof(tmp), v);

	put(o, s, (size_t)(tmp + sizeof(tmp) - s));
}

/* ------------------------------------------------------------------ */
/* The format compiler (lib/fmt.c)                                     */
/* ------------------------------------------------------------------ */

enum arg_kind { ARG_NONE, ARG_U64, ARG_I64, ARG_DBL, ARG_STR };

/* Where a conversion's value comes from: a va_list, or the one typed value. */
struct fmt_src {
	va_list *ap;
	enum arg_kind kind;
	union {
		uint64_t u;
		int64_t i;
		double d;
		const char *s;
	} v;
};

struct spec {
	bool left, zero, plus, space, alt;
	int width, prec;	/* prec -1: none */
	int len;		/* LEN_* (lib/fmt.c) */
	char conv;
};

/* Parse the conversion after '%' at *pp; false when it is not one we know. */
bool fmt_parse_spec(const char **pp, struct spec *sp, struct fmt_src *src);
/* Text: fmt with its values, into the buffer (a compiled format when it can). */
void out_format(struct iopf_out *o, const char *fmt, struct fmt_src *src);
/* The same, always the general path. */
void out_format_slow(struct iopf_out *o, const char *fmt, struct fmt_src *src);
/* Note the read-only ranges of the program and of libiopf in o (iopf_out_new()). */
void fmt_ro_scan(struct iopf_out *o);
/* A miss in fmt's first cache slot h (fmt_entry_of()). */
const struct fmt_entry *fmt_entry_miss(struct iopf_out *o, const char *fmt, size_t h);

/* 16 lower-case hex digits of v at w, two at a time. */
static inline void hex16(char *w, uint64_t v)
{
	static const char pairs[513] =
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
		"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
		"606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
		"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
		"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
		"c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
		"e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

	for (int i = 0; i < 8; i++)
		memcpy(w + 2 * i, pairs + 2 * (v >> (56 - 8 * i) & 0xff), 2);
}

/* Is fmt in the program's or libiopf's read-only data (a string literal)? */
static inline bool fmt_readonly(const struct iopf_out *o, const char *fmt)
{
	uintptr_t a = (uintptr_t)fmt;

	for (int i = 0; i < o->nro; i++)
		if (a >= o->ro[i].lo && a < o->ro[i].hi)
			return true;
	return false;
}

/* fmt's compiled form, or NULL when it has to take the general path. */
static inline __attribute__((always_inline)) const struct fmt_entry *fmt_entry_of(
	struct iopf_out *o, const char *fmt)
{
	size_t h = addr_slot(fmt, CACHE_BITS);

	if (__builtin_expect(o->fc[h].fmt == fmt, 1))
		return &o->fc[h];
	if (o->fc[h ^ 1].fmt == fmt)
		return &o->fc[h ^ 1];
	return fmt_entry_miss(o, fmt, h);
}

/*
 * One number through a compiled format: false when fmt's conversion is
 * not a number's (the general path decides).  neg: v is the magnitude of
 * a negative signed value.
 */
static inline __attribute__((always_inline)) bool emit_u64(struct iopf_out *o,
							  const struct fmt_entry *e,
							  uint64_t v, bool neg)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[48], *w, *d;	/* digits end at tmp + 24; 24 bytes are copied from d */
	size_t n;

	if (e->kind == FK_SLOW || e->kind == FK_S)
		return false;
	w = room(o, sizeof(e->pre) + 1 + sizeof(tmp) + sizeof(e->post));
	if (!w)
		return true;
	memcpy(w, e->pre, sizeof(e->pre));
	w += e->pre_len;
	switch (e->kind) {
	case FK_U:
		d = iopf_u64_dec(tmp + 24, v);
		n = (size_t)(tmp + 24 - d);
		memcpy(w, d, 24);	/* fixed size: a few moves, no call */
		w += n;
		break;
	case FK_D:
		if (neg)
			*w++ = '-';
		d = iopf_u64_dec(tmp + 24, v);
		n = (size_t)(tmp + 24 - d);
		memcpy(w, d, 24);
		w += n;
		break;
	case FK_X:
		d = tmp + 24;
		do {
			*--d = hex[v & 15];
			v >>= 4;
		} while (v);
		n = (size_t)(tmp + 24 - d);
		memcpy(w, d, 24);
		w += n;
		break;
	case FK_HEX16:
		hex16(w, v);
		w += 16;
		break;
	default:	/* FK_LIT */
		break;
	}
	memcpy(w, e->post, sizeof(e->post));
	w += e->post_len;
	o->len = (size_t)(w - o->buf);
	return true;
}

/* One string through a compiled format: false when fmt's conversion is not %s. */
static inline __attribute__((always_inline)) bool emit_str(struct iopf_out *o,
							  const struct fmt_entry *e,
							  const char *str)
{
	size_t len;
	char *w;

	if (e->kind == FK_LIT) {
		if ((w = room(o, sizeof(e->pre)))) {
			memcpy(w, e->pre, sizeof(e->pre));	/* fixed size: no call */
			o->len += e->pre_len;
		}
		return true;
	}
	if (e->kind != FK_S)
		return false;
	len = strlen(str);
	if (len <= 32 && (w = room(o, sizeof(e->pre) + 32 + sizeof(e->post)))) {
		/* short strings: fixed-size copies, no calls */
		char s32[32];

		memcpy(w, e->pre, sizeof(e->pre));
		w += e->pre_len;
		memset(s32, 0, sizeof(s32));
		memcpy(s32, str, len);
		memcpy(w, s32, sizeof(s32));
		w += len;
		memcpy(w, e->post, sizeof(e->post));
		o->len = (size_t)(w + e->post_len - o->buf);
		return true;
	}
	put(o, e->pre, e->pre_len);
	put(o, str, len);
	put(o, e->post, e->post_len);
	return true;
}

#endif
