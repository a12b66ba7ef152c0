// SPDX-License-Identifier: MIT
/*
 * One output path for text and JSON, in the style of iproute2's
 * json_print.h: each iopf_out_* call prints text with its fmt, or in
 * JSON mode adds a member, so a decoder is written once.
 *
 * Both modes write straight into one output buffer, with no printf()
 * on the way for the usual conversions:
 *  - text: the caller's fmt is interpreted by lib/fmt.c (flags, width,
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
 * struct iopf_out and the helpers lib/fmt.c shares are in lib/out-int.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "out-int.h"

#define OUT_BUFSIZE (256 * 1024)	/* the output buffer */
#define OUT_FLUSH_AT (192 * 1024)	/* written at a record's end past this */

/* ------------------------------------------------------------------ */
/* The buffer                                                          */
/* ------------------------------------------------------------------ */

static void out_write(struct iopf_out *o)
{
	if (o->len && !o->err && fwrite(o->buf, 1, o->len, o->f) != o->len)
		o->err = errno > 0 ? -errno : -EIO;
	o->len = 0;
}

/* room() found no room for n more bytes: write the buffer out, or grow it (NULL: out of memory). */
char *out_room_slow(struct iopf_out *o, size_t n)
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

void out_pad(struct iopf_out *o, char c, int n)
{
	char *p;

	if (n <= 0 || !(p = room(o, (size_t)n)))
		return;
	memset(p, c, (size_t)n);
	o->len += (size_t)n;
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
/* Text: values through the caller's format (lib/fmt.c)                */
/* ------------------------------------------------------------------ */

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

		out_pad(o, ' ', width - (int)len);
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
		out_pad(o, ' ', width - (int)(o->len - start));
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
		if (!fmt_parse_spec(&p, &sp, &src)) {
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
	out_pad(o, ' ', 2 * level);
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
	fmt_ro_scan(o);
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
