// SPDX-License-Identifier: MIT
/*
 * The text side of lib/out.c: the caller's printf-style format,
 * interpreted here with no printf() on the way for the usual conversions
 * (flags, width, precision, d i u x X o c s %); only floating-point
 * conversions go to snprintf().
 *
 * A format in the program's or libiopf's read-only data (a string
 * literal: its bytes cannot change under its address) is compiled once
 * into the output's cache, keyed by address: literal, one simple
 * conversion (%s %lu %llu %d %ld %lld %lx %llx %016lx %016llx), literal.
 * Printing it is then copies of fixed size into the buffer
 * (lib/out-int.h: emit_u64(), emit_str()); anything else takes the
 * general path, out_format_slow().
 */
#define _GNU_SOURCE
#include <link.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "out-int.h"

enum { LEN_NONE, LEN_HH, LEN_H, LEN_L, LEN_LL, LEN_J, LEN_Z, LEN_T, LEN_BIGL };

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
		out_pad(o, ' ', sp->width - total);
	put(o, pre, (size_t)npre);
	out_pad(o, '0', zeros);
	put(o, d, (size_t)nd);
	if (sp->left)
		out_pad(o, ' ', sp->width - total);
}

static void fmt_string(struct iopf_out *o, const struct spec *sp, const char *s, size_t n)
{
	if (sp->prec >= 0 && (size_t)sp->prec < n)
		n = (size_t)sp->prec;
	if (!sp->left)
		out_pad(o, ' ', sp->width - (int)n);
	put(o, s, n);
	if (sp->left)
		out_pad(o, ' ', sp->width - (int)n);
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
bool fmt_parse_spec(const char **pp, struct spec *sp, struct fmt_src *src)
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

	if (!fmt_parse_spec(p, &sp, src)) {
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

void fmt_ro_scan(struct iopf_out *o)
{
	dl_iterate_phdr(ro_scan_one, &(struct ro_scan){ .o = o, .self = (uintptr_t)&ro_scan_one,
							 .first = true });
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
__attribute__((noinline)) const struct fmt_entry *fmt_entry_miss(struct iopf_out *o, const char *fmt,
								 size_t h)
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
void out_format_slow(struct iopf_out *o, const char *fmt, struct fmt_src *src)
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

void out_format(struct iopf_out *o, const char *fmt, struct fmt_src *src)
{
	if (!fmt_fast(o, fmt, src))
		out_format_slow(o, fmt, src);
}
