// SPDX-License-Identifier: MIT
/*
 * One output path for text and JSON, in the style of iproute2's
 * json_print.h: each iopf_out_* call prints text with its fmt, or in
 * JSON mode adds a member, so a decoder is written once.
 *
 * Both modes write straight into one output buffer, with no printf()
 * on the way for the usual conversions:
 *  - text: the caller's fmt is interpreted here (flags, width,
 *    precision, d i u x X o c s %); only floating-point conversions go
 *    to snprintf();
 *  - JSON: a streaming emitter that writes what json-c's serializer
 *    writes for the same document (JSON_C_TO_STRING_PLAIN, or PRETTY |
 *    SPACED, with NOSLASHESCAPE), byte for byte; tests/unit/test-out.c
 *    parses and compares it with json-c.  Keys are not deduplicated:
 *    a caller adds each key once per object (lib/print.c merges
 *    repeated META keys as json-c would).
 *
 * The buffer (256 KiB) is written when it fills, at iopf_out_flush(),
 * and after each record in line mode (a terminal, pipe or socket).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <link.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define OUT_DEPTH 16			/* nesting kept; deeper members are dropped */
#define OUT_BUFSIZE (256 * 1024)	/* the output buffer */
#define OUT_FLUSH_AT (192 * 1024)	/* written at a record's end past this */

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
/* The buffer                                                          */
/* ------------------------------------------------------------------ */

static void out_write(struct iopf_out *o)
{
	if (o->len && !o->err && fwrite(o->buf, 1, o->len, o->f) != o->len)
		o->err = errno > 0 ? -errno : -EIO;
	o->len = 0;
}

/* Room for n more bytes at o->buf + o->len, or NULL (out of memory). */
static char *room_slow(struct iopf_out *o, size_t n)
{
	size_t cap = o->cap ? o->cap : OUT_BUFSIZE;
	char *p;

	out_write(o);
	if (n <= o->cap)
		return o->buf;
	while (cap < n)
		cap *= 2;
	p = realloc(o->buf, cap);
	if (!p) {
		if (!o->err)
			o->err = -ENOMEM;
		return NULL;
	}
	o->buf = p;
	o->cap = cap;
	return o->buf;
}

static inline char *room(struct iopf_out *o, size_t n)
{
	if (o->len + n <= o->cap)
		return o->buf + o->len;
	return room_slow(o, n);
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

static void put_u64(struct iopf_out *o, uint64_t v)
{
	char tmp[24], *s = iopf_u64_dec(tmp + sizeof(tmp), v);

	put(o, s, (size_t)(tmp + sizeof(tmp) - s));
}

static void put_i64(struct iopf_out *o, int64_t v)
{
	if (v < 0) {
		putc1(o, '-');
		put_u64(o, -(uint64_t)v);
	} else {
		put_u64(o, (uint64_t)v);
	}
}

/* A record (or text outside one) is complete: write it when due. */
static void out_done(struct iopf_out *o)
{
	if (o->line) {
		out_write(o);
		if (fflush(o->f) && !o->err)
			o->err = errno > 0 ? -errno : -EIO;
	} else if (o->len >= OUT_FLUSH_AT) {
		out_write(o);
	}
}

/* Text outside a record goes out as if it were one. */
static void text_done(struct iopf_out *o)
{
	if (!o->open)
		out_done(o);
}

/* ------------------------------------------------------------------ */
/* Text: the caller's printf-style format, interpreted here            */
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

enum { LEN_NONE, LEN_HH, LEN_H, LEN_L, LEN_LL, LEN_J, LEN_Z, LEN_T, LEN_BIGL };

struct spec {
	bool left, zero, plus, space, alt;
	int width, prec;	/* prec -1: none */
	int len;
	char conv;
};

static int src_int(struct fmt_src *src)
{
	if (src->ap)
		return va_arg(*src->ap, int);
	return 0;	/* a typed call has one value, for the conversion */
}

/* The value of an integer conversion as (negative, magnitude). */
static uint64_t src_integer(struct fmt_src *src, const struct spec *sp, bool sgn, bool *neg)
{
	int64_t i = 0;
	uint64_t u = 0;

	*neg = false;
	if (src->ap) {
		va_list *ap = src->ap;

		if (sgn) {
			switch (sp->len) {
			case LEN_HH: i = (signed char)va_arg(*ap, int); break;
			case LEN_H: i = (short)va_arg(*ap, int); break;
			case LEN_L: i = va_arg(*ap, long); break;
			case LEN_LL: i = va_arg(*ap, long long); break;
			case LEN_J: i = va_arg(*ap, intmax_t); break;
			case LEN_Z: i = va_arg(*ap, ssize_t); break;
			case LEN_T: i = va_arg(*ap, ptrdiff_t); break;
			default: i = va_arg(*ap, int); break;
			}
		} else {
			switch (sp->len) {
			case LEN_HH: u = (unsigned char)va_arg(*ap, unsigned int); break;
			case LEN_H: u = (unsigned short)va_arg(*ap, unsigned int); break;
			case LEN_L: u = va_arg(*ap, unsigned long); break;
			case LEN_LL: u = va_arg(*ap, unsigned long long); break;
			case LEN_J: u = va_arg(*ap, uintmax_t); break;
			case LEN_Z: u = va_arg(*ap, size_t); break;
			case LEN_T: u = (uint64_t)va_arg(*ap, ptrdiff_t); break;
			default: u = va_arg(*ap, unsigned int); break;
			}
		}
	} else {
		/* the typed value as it is, whatever the length modifier says */
		switch (src->kind) {
		case ARG_U64: u = src->v.u; i = (int64_t)u; break;
		case ARG_I64: i = src->v.i; u = (uint64_t)i; break;
		case ARG_DBL: i = (int64_t)src->v.d; u = (uint64_t)i; break;
		default: break;
		}
		if (sgn && src->kind == ARG_U64) {
			src->kind = ARG_NONE;
			return u;	/* a u64 through %d: its value, not a wrapped one */
		}
		src->kind = ARG_NONE;
	}
	if (!sgn)
		return u;
	*neg = i < 0;
	return *neg ? -(uint64_t)i : (uint64_t)i;
}

static const char *src_str(struct fmt_src *src)
{
	const char *s = "";

	if (src->ap)
		s = va_arg(*src->ap, const char *);
	else if (src->kind == ARG_STR)
		s = src->v.s;
	src->kind = ARG_NONE;
	return s ? s : "(null)";
}

static void pad(struct iopf_out *o, char c, int n)
{
	char *p;

	if (n <= 0 || !(p = room(o, (size_t)n)))
		return;
	memset(p, c, (size_t)n);
	o->len += (size_t)n;
}

static void fmt_integer(struct iopf_out *o, const struct spec *sp, bool neg, uint64_t v)
{
	static const char lower[] = "0123456789abcdef", upper[] = "0123456789ABCDEF";
	char tmp[32], *end = tmp + sizeof(tmp), *d = end, pre[2];
	int nd, npre = 0, zeros, total;

	switch (sp->conv) {
	case 'x':
	case 'X': {
		const char *h = sp->conv == 'x' ? lower : upper;

		for (uint64_t x = v; x; x >>= 4)
			*--d = h[x & 15];
		if (sp->alt && v) {
			pre[0] = '0';
			pre[1] = sp->conv;
			npre = 2;
		}
		break;
	}
	case 'o':
		for (uint64_t x = v; x; x >>= 3)
			*--d = (char)('0' + (x & 7));
		if (sp->alt && (v == 0 ? sp->prec == 0 : true))
			*--d = '0';
		break;
	default:
		if (v)
			d = iopf_u64_dec(end, v);
		if (neg)
			pre[npre++] = '-';
		else if (sp->plus)
			pre[npre++] = '+';
		else if (sp->space)
			pre[npre++] = ' ';
		break;
	}
	if (!v && d == end && sp->prec != 0)
		*--d = '0';
	nd = (int)(end - d);
	zeros = sp->prec > nd ? sp->prec - nd : 0;
	total = npre + zeros + nd;
	if (sp->width > total && sp->zero && !sp->left && sp->prec < 0) {
		zeros += sp->width - total;
		total = sp->width;
	}
	if (!sp->left)
		pad(o, ' ', sp->width - total);
	put(o, pre, (size_t)npre);
	pad(o, '0', zeros);
	put(o, d, (size_t)nd);
	if (sp->left)
		pad(o, ' ', sp->width - total);
}

static void fmt_string(struct iopf_out *o, const struct spec *sp, const char *s, size_t n)
{
	if (sp->prec >= 0 && (size_t)sp->prec < n)
		n = (size_t)sp->prec;
	if (!sp->left)
		pad(o, ' ', sp->width - (int)n);
	put(o, s, n);
	if (sp->left)
		pad(o, ' ', sp->width - (int)n);
}

/* Floating point: the one conversion left to the C library (spec is built here). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void fmt_double(struct iopf_out *o, const struct spec *sp, struct fmt_src *src)
{
	char spec[32], *p = spec, *out;
	long double ld = 0;
	double d = 0;
	int n;

	if (src->ap) {
		if (sp->len == LEN_BIGL)
			ld = va_arg(*src->ap, long double);
		else
			d = va_arg(*src->ap, double);
	} else {
		d = src->kind == ARG_DBL ? src->v.d : src->kind == ARG_U64 ? (double)src->v.u :
		    src->kind == ARG_I64 ? (double)src->v.i : 0;
		src->kind = ARG_NONE;
	}
	*p++ = '%';
	if (sp->left) *p++ = '-';
	if (sp->zero) *p++ = '0';
	if (sp->plus) *p++ = '+';
	if (sp->space) *p++ = ' ';
	if (sp->alt) *p++ = '#';
	p += snprintf(p, 24, "%d.%d", sp->width, sp->prec < 0 ? 6 : sp->prec);
	if (sp->len == LEN_BIGL)
		*p++ = 'L';
	*p++ = sp->conv;
	*p = '\0';
	n = sp->len == LEN_BIGL ? snprintf(NULL, 0, spec, ld) : snprintf(NULL, 0, spec, d);
	if (n < 0 || !(out = room(o, (size_t)n + 1)))
		return;
	if (sp->len == LEN_BIGL)
		snprintf(out, (size_t)n + 1, spec, ld);
	else
		snprintf(out, (size_t)n + 1, spec, d);
	o->len += (size_t)n;
}
#pragma GCC diagnostic pop

static int spec_number(const char **p)
{
	int v = 0;

	for (; **p >= '0' && **p <= '9'; (*p)++)
		v = v < 100000 ? v * 10 + (**p - '0') : v;	/* widths are small */
	return v;
}

/* Parse the conversion after '%' at *p; false when it is not one we know. */
static bool parse_spec(const char **pp, struct spec *sp, struct fmt_src *src)
{
	const char *p = *pp;

	memset(sp, 0, sizeof(*sp));
	sp->prec = -1;
	for (;; p++) {
		if (*p == '-') sp->left = true;
		else if (*p == '0') sp->zero = true;
		else if (*p == '+') sp->plus = true;
		else if (*p == ' ') sp->space = true;
		else if (*p == '#') sp->alt = true;
		else break;
	}
	if (*p == '*') {
		p++;
		sp->width = src_int(src);
		if (sp->width < 0) {
			sp->left = true;
			sp->width = sp->width == INT32_MIN ? 0 : -sp->width;
		}
	} else {
		sp->width = spec_number(&p);
	}
	if (*p == '.') {
		p++;
		if (*p == '*') {
			p++;
			sp->prec = src_int(src);
			if (sp->prec < 0)
				sp->prec = -1;
		} else {
			sp->prec = spec_number(&p);
		}
	}
	switch (*p) {
	case 'h': p++; sp->len = LEN_H; if (*p == 'h') { p++; sp->len = LEN_HH; } break;
	case 'l': p++; sp->len = LEN_L; if (*p == 'l') { p++; sp->len = LEN_LL; } break;
	case 'q': p++; sp->len = LEN_LL; break;
	case 'j': p++; sp->len = LEN_J; break;
	case 'z': p++; sp->len = LEN_Z; break;
	case 't': p++; sp->len = LEN_T; break;
	case 'L': p++; sp->len = LEN_BIGL; break;
	default: break;
	}
	sp->conv = *p;
	if (!*p || !strchr("diuxXocs%fFeEgGaA", *p))
		return false;
	*pp = p + 1;
	return true;
}

/* The general conversion at *p (after its '%'). */
static void out_conv(struct iopf_out *o, const char **p, struct fmt_src *src)
{
	struct spec sp;
	bool neg;
	uint64_t v;

	if (!parse_spec(p, &sp, src)) {
		putc1(o, '%');	/* not a conversion (%n is never one): printed as it is */
		return;
	}
	switch (sp.conv) {
	case '%':
		putc1(o, '%');
		break;
	case 'd':
	case 'i':
		v = src_integer(src, &sp, true, &neg);
		fmt_integer(o, &sp, neg, v);
		break;
	case 'u':
	case 'x':
	case 'X':
	case 'o':
		v = src_integer(src, &sp, false, &neg);
		fmt_integer(o, &sp, false, v);
		break;
	case 'c': {
		char c = (char)(src->ap ? va_arg(*src->ap, int) :
				src->kind == ARG_STR ? (src->v.s ? src->v.s[0] : 0) :
				(int)src->v.u);

		src->kind = ARG_NONE;
		fmt_string(o, &sp, &c, 1);
		break;
	}
	case 's': {
		const char *s = src_str(src);

		fmt_string(o, &sp, s, sp.prec >= 0 ? strnlen(s, (size_t)sp.prec) : strlen(s));
		break;
	}
	default:
		fmt_double(o, &sp, src);
		break;
	}
}

/* The typed value as an unsigned number (for the fast paths). */
static inline uint64_t src_u64(struct fmt_src *src)
{
	uint64_t v = src->kind == ARG_U64 ? src->v.u : src->kind == ARG_I64 ? (uint64_t)src->v.i : 0;

	src->kind = ARG_NONE;
	return v;
}

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

struct ro_scan {
	struct iopf_out *o;
	uintptr_t self;		/* an address in libiopf's code */
	bool first;
};

/*
 * dl_iterate_phdr(3) callback: the program (the first object) and the
 * object holding self; runs of consecutive non-writable PT_LOAD segments
 * become one range each.
 */
static int ro_scan_one(struct dl_phdr_info *info, size_t size, void *data)
{
	struct ro_scan *sc = data;
	struct iopf_out *o = sc->o;
	bool mine = sc->first, open = false;
	struct ro_range r = { 0, 0 };

	(void)size;
	sc->first = false;
	for (int i = 0; !mine && i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;

		mine = ph->p_type == PT_LOAD && sc->self >= lo && sc->self < lo + ph->p_memsz;
	}
	if (!mine)
		return 0;
	for (int i = 0; i <= info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = i < info->dlpi_phnum ? &info->dlpi_phdr[i] : NULL;
		uintptr_t lo;

		if (ph && ph->p_type != PT_LOAD)
			continue;
		if (ph && !(ph->p_flags & PF_W)) {
			lo = info->dlpi_addr + ph->p_vaddr;
			if (!open)
				r.lo = lo;
			r.hi = lo + ph->p_memsz;
			open = true;
			continue;
		}
		/* a writable segment or the end closes a run */
		if (open && o->nro < RO_RANGES)
			o->ro[o->nro++] = r;
		open = false;
	}
	return 0;
}
/* Split fmt for the cache: FK_SLOW when it is not literal, one simple conversion, literal. */
static void fmt_compile(struct fmt_entry *e, const char *fmt)
{
	static const struct {
		const char *spec;
		uint8_t kind;
	} convs[] = {
		{ "s", FK_S }, { "lu", FK_U }, { "llu", FK_U }, { "d", FK_D }, { "ld", FK_D },
		{ "lld", FK_D }, { "lx", FK_X }, { "llx", FK_X }, { "016lx", FK_HEX16 },
		{ "016llx", FK_HEX16 },
	};
	const char *pct = strchr(fmt, '%'), *post;
	size_t n;

	e->fmt = fmt;
	e->kind = FK_SLOW;
	n = pct ? (size_t)(pct - fmt) : strlen(fmt);
	if (n > sizeof(e->pre))
		return;
	memcpy(e->pre, fmt, n);
	e->pre_len = (uint8_t)n;
	if (!pct) {
		e->kind = FK_LIT;
		e->post_len = 0;
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(convs); i++) {
		size_t k = strlen(convs[i].spec);

		if (strncmp(pct + 1, convs[i].spec, k))
			continue;
		post = pct + 1 + k;
		n = strlen(post);
		if (n > sizeof(e->post) || memchr(post, '%', n))
			return;
		memcpy(e->post, post, n);
		e->post_len = (uint8_t)n;
		e->kind = convs[i].kind;
		return;
	}
}

/* A miss in the first slot: the second one, or compile fmt (NULL: not a literal). */
static __attribute__((noinline)) const struct fmt_entry *fmt_entry_miss(struct iopf_out *o,
									const char *fmt, size_t h)
{
	struct fmt_entry *e = &o->fc[h], *e2 = &o->fc[h ^ 1];

	if (e2->fmt == fmt)
		return e2;
	if (!fmt_readonly(o, fmt))
		return NULL;
	if (e->fmt && !e2->fmt)
		e = e2;
	fmt_compile(e, fmt);
	return e;
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

/* Print with a compiled format: false when it has to take the general path. */
static inline __attribute__((always_inline)) bool fmt_fast(struct iopf_out *o, const char *fmt,
						     struct fmt_src *src)
{
	const struct fmt_entry *e = fmt_entry_of(o, fmt);
	bool neg;
	uint64_t v;

	if (!e || e->kind == FK_SLOW)
		return false;
	if (e->kind == FK_LIT)
		return emit_str(o, e, "");	/* no conversion: the value is not used */
	if (e->kind == FK_S)
		return emit_str(o, e, src_str(src));
	if (src->ap)
		return false;
	/* %d of a negative value: its sign and magnitude; the rest as printf's unsigned */
	neg = e->kind == FK_D && src->kind == ARG_I64 && src->v.i < 0;
	v = neg ? -(uint64_t)src->v.i : src_u64(src);
	src->kind = ARG_NONE;
	return emit_u64(o, e, v, neg);
}

/* fmt with its values; literal bytes are copied as they are. */
static void out_format_slow(struct iopf_out *o, const char *fmt, struct fmt_src *src)
{
	static const char hex[] = "0123456789abcdef";
	const char *p = fmt;
	char *w, *end;

	for (;;) {
		/* literal bytes straight into the buffer, 64 at a time */
		w = room(o, 64);
		if (!w)
			return;
		end = w + 64;
		for (;;) {
			char c = *p;

			if (c == '%' || !c || w == end)
				break;
			*w++ = c;
			p++;
		}
		o->len = (size_t)(w - o->buf);
		if (*p != '%') {
			if (!*p)
				return;
			continue;	/* the 64 bytes are used up */
		}
		p++;
		/* fast paths for what the printers use: %s %lu %llu %016lx %x without flags */
		if (!src->ap) {
			if (p[0] == 's') {
				const char *s = src_str(src);

				put(o, s, strlen(s));
				p++;
				continue;
			}
			if (p[0] == 'l' && (p[1] == 'u' || (p[1] == 'l' && p[2] == 'u'))) {
				put_u64(o, src_u64(src));
				p += p[1] == 'u' ? 2 : 3;
				continue;
			}
			if (p[0] == '0' && p[1] == '1' && p[2] == '6' && p[3] == 'l' && p[4] == 'x') {
				uint64_t v = src_u64(src);

				if ((w = room(o, 16))) {
					for (int i = 0; i < 16; i++)
						w[i] = hex[v >> (60 - 4 * i) & 15];
					o->len += 16;
				}
				p += 5;
				continue;
			}
		}
		out_conv(o, &p, src);
	}
}

static inline void out_format(struct iopf_out *o, const char *fmt, struct fmt_src *src)
{
	if (!fmt_fast(o, fmt, src))
		out_format_slow(o, fmt, src);
}

/* Text: one number through fmt; neg: v is a negative value's magnitude (for %d). */
static inline __attribute__((always_inline)) void text_u64(struct iopf_out *o, const char *fmt,
							  uint64_t v, int64_t sv, bool is_signed)
{
	const struct fmt_entry *e = fmt_entry_of(o, fmt);
	bool neg = is_signed && sv < 0 && e && e->kind == FK_D;

	if (!e || !emit_u64(o, e, neg ? -(uint64_t)sv : v, neg)) {
		struct fmt_src src = { .kind = is_signed ? ARG_I64 : ARG_U64 };

		if (is_signed)
			src.v.i = sv;
		else
			src.v.u = v;
		out_format_slow(o, fmt, &src);
	}
	text_done(o);
}

/* Text: a string that needs no cleaning through fmt. */
static inline __attribute__((always_inline)) void text_plain_str(struct iopf_out *o,
								const char *fmt, const char *s)
{
	const struct fmt_entry *e = fmt_entry_of(o, fmt);

	if (!e || !emit_str(o, e, s))
		out_format_slow(o, fmt, &(struct fmt_src){ .kind = ARG_STR, .v.s = s });
}

/* ------------------------------------------------------------------ */
/* Strings from captures: text must not carry terminal controls, JSON  */
/* must be valid UTF-8.                                                */
/* ------------------------------------------------------------------ */

static const char hexdig[] = "0123456789abcdef";

/* Does s need more than a copy in text mode?  A fast scan for the usual case. */
static bool text_plain(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p >= 0x7f)
			return false;
	return true;
}

/* Text: controls (C0, DEL, C1, bidi) and invalid bytes become \xNN. */
static void text_clean(struct iopf_out *o, const char *s, size_t n, int width, bool left)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t start = o->len, k;
	uint32_t cp;

	if (!left && width > 0) {
		/* right-aligned: the cleaned length decides the padding */
		size_t len = iopf_str_escape(s, NULL, 0);

		pad(o, ' ', width - (int)len);
	}
	while (n) {
		k = iopf_utf8_char(p, n, &cp);
		if (k && !iopf_cp_unsafe(cp)) {
			put(o, (const char *)p, k);
		} else {
			k = k ? k : 1;
			for (size_t i = 0; i < k; i++) {
				char e[4] = { '\\', 'x', hexdig[p[i] >> 4], hexdig[p[i] & 15] };

				put(o, e, 4);
			}
		}
		p += k;
		n -= k;
	}
	if (left && width > 0)
		pad(o, ' ', width - (int)(o->len - start));
}

/* A text conversion of a string: %s with the string cleaned. */
static void text_str(struct iopf_out *o, const char *fmt, const char *s)
{
	const char *pct;
	struct fmt_src src = { .kind = ARG_STR, .v.s = s };
	struct spec sp;

	/* the program's own strings (read-only data) are not a capture's */
	if (fmt_readonly(o, s) || text_plain(s)) {
		text_plain_str(o, fmt, s);
		return;
	}
	/* the one %s gets the cleaned string; the rest of fmt as usual */
	for (const char *p = fmt;;) {
		pct = strchr(p, '%');
		if (!pct) {
			put(o, p, strlen(p));
			return;
		}
		put(o, p, (size_t)(pct - p));
		p = pct + 1;
		if (!parse_spec(&p, &sp, &src)) {
			putc1(o, '%');
			continue;
		}
		if (sp.conv == 's' && src.kind == ARG_STR) {
			size_t n = strlen(s);

			if (sp.prec >= 0 && (size_t)sp.prec < n)
				n = (size_t)sp.prec;
			src.kind = ARG_NONE;
			text_clean(o, s, n, sp.width, sp.left);
		} else if (sp.conv == '%') {
			putc1(o, '%');
		} else {
			/* anything else consumes nothing useful: print the rest as usual */
			out_format(o, pct, &(struct fmt_src){ .kind = ARG_NONE });
			return;
		}
	}
}

/*
 * A JSON string as json-c writes it (with NOSLASHESCAPE): " \ and
 * \b \f \n \r \t escaped, other C0 controls as \u00XX.  Beyond json-c:
 * invalid UTF-8 becomes U+FFFD, and C1 controls and bidi overrides are
 * written as \uXXXX escapes, so that JSON on a terminal is as safe as
 * text and parses back to the same string.
 */
static void json_string(struct iopf_out *o, const char *str)
{
	/* 1: a byte that is not copied as it is (controls, '"', '\\', non-ASCII) */
	static const uint8_t special[256] = {
		[0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 1,
	};
	const unsigned char *s = (const unsigned char *)str, *run;
	size_t n, k;
	uint32_t cp;

	putc1(o, '"');
	for (;;) {
		run = s;
		while (!special[*s])
			s++;
		put(o, (const char *)run, (size_t)(s - run));
		if (!*s)
			break;
		if (*s < 0x80) {
			char e[6] = { '\\', 0 };

			switch (*s) {
			case '"': e[1] = '"'; break;
			case '\\': e[1] = '\\'; break;
			case '\b': e[1] = 'b'; break;
			case '\f': e[1] = 'f'; break;
			case '\n': e[1] = 'n'; break;
			case '\r': e[1] = 'r'; break;
			case '\t': e[1] = 't'; break;
			default:
				memcpy(e + 1, "u00", 3);
				e[4] = hexdig[*s >> 4];
				e[5] = hexdig[*s & 15];
				put(o, e, 6);
				s++;
				continue;
			}
			put(o, e, 2);
			s++;
			continue;
		}
		n = strnlen((const char *)s, 4);
		k = iopf_utf8_char(s, n, &cp);
		if (!k) {
			put(o, "\xef\xbf\xbd", 3);
			k = 1;
		} else if (iopf_cp_unsafe(cp)) {
			char e[6] = { '\\', 'u', hexdig[cp >> 12], hexdig[cp >> 8 & 15],
				      hexdig[cp >> 4 & 15], hexdig[cp & 15] };

			put(o, e, 6);
		} else {
			put(o, (const char *)s, k);
		}
		s += k;
	}
	putc1(o, '"');
}

/* ------------------------------------------------------------------ */
/* JSON structure                                                      */
/* ------------------------------------------------------------------ */

static void indent(struct iopf_out *o, int level)
{
	pad(o, ' ', 2 * level);
}

/* A JSON member is added only inside a record, with a key (arrays need none). */
static bool want_json(const struct iopf_out *o, const char *key)
{
	if (o->mode == IOPF_OUT_TEXT || !o->open || o->skipped || !o->depth)
		return false;
	return key || o->st[o->depth - 1].array;
}

/* "key": as JSON writes it; literal keys come from the cache. */
static void member_key(struct iopf_out *o, const char *key)
{
	size_t h = addr_slot(key, CACHE_BITS);
	struct key_entry *e = &o->kc[h];
	size_t start;
	char *w;

	if (e->key != key && o->kc[h ^ 1].key == key)
		e = &o->kc[h ^ 1];
	else if (e->key != key && e->key && !o->kc[h ^ 1].key)
		e = &o->kc[h ^ 1];
	if (e->key != key && fmt_readonly(o, key)) {
		start = o->len;
		json_string(o, key);
		put(o, ": ", o->pretty ? 2 : 1);
		if (o->len - start <= sizeof(e->text) && o->len > start) {
			e->key = key;
			e->len = (uint8_t)(o->len - start);
			memcpy(e->text, o->buf + start, e->len);
		}
		return;
	}
	if (e->key == key && (w = room(o, sizeof(e->text)))) {
		memcpy(w, e->text, sizeof(e->text));
		o->len += e->len;
		return;
	}
	json_string(o, key);
	put(o, ": ", o->pretty ? 2 : 1);
}

/* Separator, indentation and key before a value in the innermost container. */
static void member(struct iopf_out *o, const char *key)
{
	struct out_frame *fr = &o->st[o->depth - 1];

	if (fr->n++) {
		if (o->pretty)
			put(o, ",\n", 2);
		else
			putc1(o, ',');
	}
	if (o->pretty)
		indent(o, o->depth);
	if (fr->array)
		return;
	member_key(o, key);
}

static void json_open(struct iopf_out *o, bool array)
{
	struct out_frame *fr = &o->st[o->depth++];

	fr->array = array;
	fr->n = 0;
	putc1(o, array ? '[' : '{');
	if (o->pretty)
		putc1(o, '\n');
}

static void json_close(struct iopf_out *o)
{
	struct out_frame *fr = &o->st[--o->depth];

	if (o->pretty) {
		if (fr->n)
			putc1(o, '\n');
		indent(o, o->depth);
	}
	putc1(o, fr->array ? ']' : '}');
}

/* ------------------------------------------------------------------ */
/* The API                                                             */
/* ------------------------------------------------------------------ */

struct iopf_out *iopf_out_new(FILE *f, enum iopf_out_mode mode)
{
	struct iopf_out *o = calloc(1, sizeof(*o));
	struct stat st;
	int fd = fileno(f);

	if (!o)
		return NULL;
	o->buf = malloc(OUT_BUFSIZE);
	if (!o->buf) {
		free(o);
		return NULL;
	}
	o->cap = OUT_BUFSIZE;
	o->f = f;
	o->mode = mode;
	o->pretty = mode == IOPF_OUT_PRETTY;
	if (fd >= 0 && !fstat(fd, &st))
		o->line = isatty(fd) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode);
	dl_iterate_phdr(ro_scan_one, &(struct ro_scan){ .o = o, .self = (uintptr_t)&ro_scan_one,
							 .first = true });
	return o;
}

/* What is still buffered goes to the stream first (check errors with iopf_out_flush()). */
void iopf_out_free(struct iopf_out *o)
{
	if (!o)
		return;
	out_write(o);
	free(o->buf);
	free(o);
}

void iopf_out_set_line(struct iopf_out *o, bool line)
{
	o->line = line;
}

bool iopf_out_is_json(const struct iopf_out *o)
{
	return o->mode != IOPF_OUT_TEXT;
}

void iopf_out_begin(struct iopf_out *o)
{
	if (o->open)
		iopf_out_end(o);
	o->open = true;
	o->skipped = 0;
	o->depth = 0;
	if (o->mode != IOPF_OUT_TEXT)
		json_open(o, false);
}

void iopf_out_end(struct iopf_out *o)
{
	if (!o->open)
		return;
	if (o->mode != IOPF_OUT_TEXT)
		while (o->depth > 0)
			json_close(o);
	putc1(o, '\n');
	o->open = false;
	o->skipped = 0;
	o->depth = 0;
	out_done(o);
}

static inline bool want_text(const struct iopf_out *o, const char *fmt)
{
	return fmt && o->mode == IOPF_OUT_TEXT;
}

static void text_value(struct iopf_out *o, const char *fmt, struct fmt_src *src)
{
	out_format(o, fmt, src);
	text_done(o);
}

void iopf_out_uint(struct iopf_out *o, const char *key, const char *fmt, uint64_t v)
{
	if (o->mode == IOPF_OUT_TEXT) {
		if (fmt)
			text_u64(o, fmt, v, 0, false);
		return;
	}
	if (!want_json(o, key))
		return;
	member(o, key);
	put_u64(o, v);
}

void iopf_out_int(struct iopf_out *o, const char *key, const char *fmt, int64_t v)
{
	if (o->mode == IOPF_OUT_TEXT) {
		if (fmt)
			text_u64(o, fmt, (uint64_t)v, v, true);
		return;
	}
	if (!want_json(o, key))
		return;
	member(o, key);
	put_i64(o, v);
}

/* A JSON number as "%.15g" (json-c's default prints 17 digits); NaN/inf as null. */
void iopf_out_double(struct iopf_out *o, const char *key, const char *fmt, double v)
{
	char num[32];
	int n;

	if (want_text(o, fmt))
		text_value(o, fmt, &(struct fmt_src){ .kind = ARG_DBL, .v.d = v });
	if (!want_json(o, key))
		return;
	member(o, key);
	if (!isfinite(v)) {
		put(o, "null", 4);
		return;
	}
	n = snprintf(num, sizeof(num), "%.15g", v);
	if (n > 0)
		put(o, num, (size_t)n);
}

/* Text: fmt gets "true" or "false" for its %s (as iproute2's print_bool). */
void iopf_out_bool(struct iopf_out *o, const char *key, const char *fmt, bool v)
{
	if (o->mode == IOPF_OUT_TEXT) {
		if (fmt) {
			text_plain_str(o, fmt, v ? "true" : "false");
			text_done(o);
		}
		return;
	}
	if (!want_json(o, key))
		return;
	member(o, key);
	if (v)
		put(o, "true", 4);
	else
		put(o, "false", 5);
}

/* Strings are cleaned: valid UTF-8 in JSON, no terminal controls in text. */
void iopf_out_str(struct iopf_out *o, const char *key, const char *fmt, const char *s)
{
	if (!s)
		s = "";
	if (o->mode == IOPF_OUT_TEXT) {
		if (fmt) {
			text_str(o, fmt, s);
			text_done(o);
		}
		return;
	}
	if (!want_json(o, key))
		return;
	member(o, key);
	json_string(o, s);
}

void iopf_out_hex64(struct iopf_out *o, const char *key, const char *fmt, uint64_t v)
{
	char hex[20];

	if (o->mode == IOPF_OUT_TEXT) {
		if (fmt)
			text_u64(o, fmt, v, 0, false);
		return;
	}
	if (!want_json(o, key))
		return;
	member(o, key);
	hex[0] = '"';
	hex[1] = '0';
	hex[2] = 'x';
	hex16(hex + 3, v);
	hex[19] = '"';
	put(o, hex, sizeof(hex));
}

void iopf_out_duration(struct iopf_out *o, const char *key, const char *fmt, uint64_t ns)
{
	char buf[IOPF_DURATION_LEN];

	if (want_text(o, fmt)) {
		iopf_duration_format(ns, buf, sizeof(buf));
		text_plain_str(o, fmt, buf);	/* digits and a unit: nothing to clean */
		text_done(o);
	}
	if (!want_json(o, key))
		return;
	member(o, key);
	put_u64(o, ns);
}

/* ts formatted at w (room for IOPF_TIME_LEN); the last one is kept whole. */
static inline size_t time_at(struct iopf_out *o, const struct timespec *ts, char *w)
{
	size_t n;

	if (o->last_len && ts->tv_sec == o->last_ts.tv_sec && ts->tv_nsec == o->last_ts.tv_nsec) {
		memcpy(w, o->last_time, sizeof(o->last_time));
		return o->last_len;
	}
	n = iopf_time_fmt(&o->tc, ts, w);
	o->last_len = 0;
	if (n < sizeof(o->last_time)) {
		memcpy(o->last_time, w, n);
		o->last_ts = *ts;
		o->last_len = n;
	}
	return n;
}

void iopf_out_time(struct iopf_out *o, const char *key, const char *fmt, const struct timespec *ts)
{
	char buf[IOPF_TIME_LEN], *w;

	if (want_text(o, fmt)) {
		if (fmt[0] == '%' && fmt[1] == 's' && !fmt[2]) {
			/* the usual line head: formatted straight into the buffer */
			if ((w = room(o, IOPF_TIME_LEN)))
				o->len += time_at(o, ts, w);
		} else {
			iopf_time_fmt(&o->tc, ts, buf);
			out_format(o, fmt, &(struct fmt_src){ .kind = ARG_STR, .v.s = buf });
		}
		text_done(o);
	}
	if (!want_json(o, key))
		return;
	member(o, key);
	if ((w = room(o, IOPF_TIME_LEN + 2))) {
		*w = '"';
		o->len += 1 + time_at(o, ts, w + 1);
		putc1(o, '"');
	}
}

void iopf_out_printf(struct iopf_out *o, const char *fmt, ...)
{
	va_list ap;

	if (o->mode != IOPF_OUT_TEXT || !fmt)
		return;
	va_start(ap, fmt);
	out_format(o, fmt, &(struct fmt_src){ .ap = &ap });
	va_end(ap);
	text_done(o);
}

/* Text: n bytes of libiopf's own making (no terminal controls), as they are. */
void iopf_out_text_bytes(struct iopf_out *o, const char *s, size_t n)
{
	if (o->mode != IOPF_OUT_TEXT)
		return;
	put(o, s, n);
	text_done(o);
}

/* The same for n <= 32 bytes in a 32-byte buffer: one fixed-size copy. */
void iopf_out_text32(struct iopf_out *o, const char s[32], size_t n)
{
	char *w;

	if (o->mode != IOPF_OUT_TEXT || n > 32)
		return;
	if ((w = room(o, 32))) {
		memcpy(w, s, 32);
		o->len += n;
	}
	text_done(o);
}

/* Text: a container's fmt is printed as it is, with no value. */
static void text_lit(struct iopf_out *o, const char *fmt)
{
	if (o->mode != IOPF_OUT_TEXT || !fmt)
		return;
	put(o, fmt, strlen(fmt));
	text_done(o);
}

static void open_container(struct iopf_out *o, const char *key, bool array)
{
	if (o->mode == IOPF_OUT_TEXT || !o->open)
		return;
	if (!want_json(o, key) || o->depth >= OUT_DEPTH) {
		o->skipped++;
		return;
	}
	member(o, key);
	json_open(o, array);
}

static void close_container(struct iopf_out *o)
{
	if (o->mode == IOPF_OUT_TEXT || !o->open)
		return;
	if (o->skipped) {
		o->skipped--;
		return;
	}
	if (o->depth > 1)
		json_close(o);
}

void iopf_out_open_object(struct iopf_out *o, const char *key, const char *fmt)
{
	text_lit(o, fmt);
	open_container(o, key, false);
}

void iopf_out_close_object(struct iopf_out *o, const char *fmt)
{
	text_lit(o, fmt);
	close_container(o);
}

void iopf_out_open_array(struct iopf_out *o, const char *key, const char *fmt)
{
	text_lit(o, fmt);
	open_container(o, key, true);
}

void iopf_out_close_array(struct iopf_out *o, const char *fmt)
{
	text_lit(o, fmt);
	close_container(o);
}

int iopf_out_flush(struct iopf_out *o)
{
	out_write(o);
	if (fflush(o->f) && !o->err)
		o->err = errno > 0 ? -errno : -EIO;
	if (ferror(o->f) && !o->err)
		o->err = -EIO;
	return o->err;
}
