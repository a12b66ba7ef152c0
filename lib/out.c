// SPDX-License-Identifier: MIT
/*
 * One output path for text and JSON, in the style of iproute2's
 * json_print.h: each iopf_out_* call prints text with its fmt, or in
 * JSON mode adds a member, so a decoder is written once.
 *
 * JSON goes through json-c.  Streams print millions of records of a
 * few shapes, so the objects are kept between records and updated in
 * place: each open container has a cursor on the member expected next,
 * and a member that matches it (same key, same JSON type) is set with
 * json_object_set_*().  A mismatch drops the rest of that container
 * and appends.  At the top level a few roots are cached, one per record
 * shape, so alternating faults and responses do not rebuild each other.
 *
 * Each record is written with one fwrite() of complete lines; on a
 * terminal, pipe or socket the stream is flushed after each record.
 */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define OUT_DEPTH 16		/* nesting kept; deeper members are dropped */
#define OUT_ROOTS 6		/* cached record shapes */

struct out_frame {
	json_object *obj;
	bool array;
	struct lh_entry *cur;	/* object: member expected next, NULL = append */
	size_t idx;		/* array: index expected next */
	size_t pos;		/* members set so far in this record */
};

struct out_buf {
	char *p;
	size_t len, cap;
};

struct iopf_out {
	FILE *f;
	enum iopf_out_mode mode;
	int json_flags;
	bool line;		/* flush after each record */
	bool open;		/* between iopf_out_begin() and iopf_out_end() */
	int depth;		/* frames in use */
	int skipped;		/* containers being dropped (no key, too deep) */
	int err;		/* first write error */
	struct out_frame st[OUT_DEPTH];
	json_object *roots[OUT_ROOTS];
	uint64_t used[OUT_ROOTS];
	uint64_t clock;
	int active;
	struct out_buf line_buf;	/* the record being printed */
	struct out_buf key_buf, val_buf;	/* cleaned strings */
};

/* ------------------------------------------------------------------ */
/* Buffers and writing                                                 */
/* ------------------------------------------------------------------ */

static bool buf_reserve(struct out_buf *b, size_t extra)
{
	size_t cap = b->cap ? b->cap : 256;
	char *p;

	if (b->len + extra + 1 <= b->cap)
		return true;
	while (cap < b->len + extra + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return false;
	b->p = p;
	b->cap = cap;
	return true;
}

static void buf_add(struct out_buf *b, const char *s, size_t n)
{
	if (!buf_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_vprintf(struct out_buf *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return;
	if (!b->p || b->len + (size_t)n + 1 > b->cap) {
		if (!buf_reserve(b, (size_t)n))
			return;
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	}
	b->len += (size_t)n;
}

/* Not printf-checked on purpose: fmt comes from the caller with one value. */
static void buf_printf(struct out_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

static void out_write(struct iopf_out *o, const char *s, size_t n)
{
	if (fwrite(s, 1, n, o->f) != n && !o->err)
		o->err = errno > 0 ? -errno : -EIO;
	if (o->line && fflush(o->f) && !o->err)
		o->err = errno > 0 ? -errno : -EIO;
}

/* Text outside a record goes out at once. */
static void text_done(struct iopf_out *o)
{
	if (o->open)
		return;
	out_write(o, o->line_buf.p, o->line_buf.len);
	o->line_buf.len = 0;
}

/* ------------------------------------------------------------------ */
/* String cleaning: JSON must be valid UTF-8, text must not carry      */
/* terminal controls from a hostile capture.                           */
/* ------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static bool is_ctrl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* Whether s needs cleaning for this mode: a fast scan for the usual case. */
static bool needs_clean(const char *s, bool text)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p >= 0x80 || (text && is_ctrl(*p)))
			return true;
	return false;
}

/*
 * JSON: invalid UTF-8 becomes U+FFFD (json-c escapes controls itself).
 * Text: controls and invalid bytes become \xNN.
 */
static const char *clean(struct out_buf *b, const char *s, bool text)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), k;

	if (!needs_clean(s, text))
		return s;
	b->len = 0;
	if (!buf_reserve(b, n))
		return "";
	b->p[0] = '\0';
	while (n) {
		k = utf8_len(p, n);
		if (k && !(text && is_ctrl(*p)))
			buf_add(b, (const char *)p, k);
		else if (text)
			buf_printf(b, "\\x%02x", *p);
		else
			buf_add(b, "\xef\xbf\xbd", 3);
		k = k ? k : 1;
		p += k;
		n -= k;
	}
	return b->p ? b->p : "";
}

/* ------------------------------------------------------------------ */
/* JSON members: match the cursor, or append                          */
/* ------------------------------------------------------------------ */

static struct out_frame *top(struct iopf_out *o)
{
	return &o->st[o->depth - 1];
}

/* A JSON member is added only inside a record, with a key (arrays need none). */
static bool want_json(const struct iopf_out *o, const char *key)
{
	if (o->mode == IOPF_OUT_TEXT || !o->open || o->skipped || !o->depth)
		return false;
	return key || o->st[o->depth - 1].array;
}

static void frame_truncate(struct out_frame *fr)
{
	struct lh_entry *e, *next;
	size_t len;

	if (fr->array) {
		len = json_object_array_length(fr->obj);
		if (fr->idx < len)
			json_object_array_del_idx(fr->obj, fr->idx, len - fr->idx);
		return;
	}
	for (e = fr->cur; e; e = next) {
		next = lh_entry_next(e);
		lh_table_delete_entry(json_object_get_object(fr->obj), e);
	}
	fr->cur = NULL;
}

static bool entry_is(const struct lh_entry *e, const char *key, json_type t)
{
	return e && json_object_get_type(lh_entry_v(e)) == t &&
	       !strcmp((const char *)lh_entry_k(e), key);
}

/* Does root r start with the n members at a, then key of type t? */
static struct lh_entry *root_fits(json_object *r, json_object *a, size_t n,
				  const char *key, json_type t)
{
	struct lh_entry *e = json_object_get_object(r)->head;
	struct lh_entry *ea = json_object_get_object(a)->head;

	for (; n; n--, e = lh_entry_next(e), ea = lh_entry_next(ea))
		if (!e || !ea || !entry_is(e, lh_entry_k(ea), json_object_get_type(lh_entry_v(ea))))
			return NULL;
	return entry_is(e, key, t) ? e : NULL;
}

/* Give root r the first n members of the active root, sharing the values. */
static void root_copy(json_object *r, json_object *a, size_t n)
{
	struct lh_entry *ea = json_object_get_object(a)->head;

	for (; n && ea; n--, ea = lh_entry_next(ea))
		json_object_object_add(r, lh_entry_k(ea),
				       json_object_get(lh_entry_v(ea)));
}

/* A free slot, else the least recently used root that is not active. */
static int root_slot(struct iopf_out *o)
{
	int best = -1;

	for (int i = 0; i < OUT_ROOTS; i++) {
		if (!o->roots[i])
			return i;
		if (i != o->active && (best < 0 || o->used[i] < o->used[best]))
			best = i;
	}
	json_object_put(o->roots[best]);
	o->roots[best] = NULL;
	return best;
}

/*
 * The record diverges from the active root's shape at the root level:
 * move to a cached root of the right shape, or start a new one with
 * the members set so far.  Returns the matching entry, or NULL to append.
 */
static struct lh_entry *root_switch(struct iopf_out *o, const char *key, json_type t)
{
	struct out_frame *fr = &o->st[0];
	json_object *a = fr->obj, *r;
	struct lh_entry *e;
	int i;

	for (i = 0; i < OUT_ROOTS; i++) {
		if (i == o->active || !o->roots[i])
			continue;
		e = root_fits(o->roots[i], a, fr->pos, key, t);
		if (e) {
			root_copy(o->roots[i], a, fr->pos);
			o->active = i;
			fr->obj = o->roots[i];
			return e;
		}
	}
	if (!fr->cur)		/* the active root only grows: keep it */
		return NULL;
	r = json_object_new_object();
	if (!r)
		return NULL;	/* the caller truncates the active root */
	root_copy(r, a, fr->pos);
	i = root_slot(o);
	o->roots[i] = r;
	o->active = i;
	fr->obj = r;
	fr->cur = NULL;
	return NULL;
}

/*
 * Match the member expected next: true and *v set (update it in place),
 * or false: the caller attach()es a new value.
 */
static bool slot(struct iopf_out *o, const char *key, json_type t, json_object **v)
{
	struct out_frame *fr = top(o);
	struct lh_entry *e;

	if (fr->array) {
		if (fr->idx < json_object_array_length(fr->obj)) {
			*v = json_object_array_get_idx(fr->obj, fr->idx);
			if (json_object_get_type(*v) == t) {
				fr->idx++;
				return true;
			}
			frame_truncate(fr);
		}
		return false;
	}
	e = fr->cur;
	if (!entry_is(e, key, t) && o->depth == 1)
		e = root_switch(o, key, t);
	if (!entry_is(e, key, t)) {
		frame_truncate(fr);
		return false;
	}
	fr->cur = lh_entry_next(e);
	fr->pos++;
	*v = lh_entry_v(e);
	return true;
}

static void attach(struct iopf_out *o, const char *key, json_object *v)
{
	struct out_frame *fr = top(o);
	int n;

	if (fr->array) {
		if (json_object_array_add(fr->obj, v))
			json_object_put(v);
		else
			fr->idx++;
		return;
	}
	n = json_object_object_length(fr->obj);
	if (json_object_object_add(fr->obj, key, v))
		json_object_put(v);
	else if (json_object_object_length(fr->obj) > n)
		fr->pos++;	/* not when it replaced a duplicate key */
}

/* Replace the member slot() just matched (for values set only by creation). */
static void replace(struct iopf_out *o, const char *key, json_object *v)
{
	struct out_frame *fr = top(o);

	if (fr->array) {
		if (json_object_array_put_idx(fr->obj, fr->idx - 1, v))
			json_object_put(v);
		return;
	}
	if (json_object_object_add(fr->obj, key, v))
		json_object_put(v);
}

static const char *json_key(struct iopf_out *o, const char *key)
{
	return key ? clean(&o->key_buf, key, false) : NULL;
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
	o->f = f;
	o->mode = mode;
	o->json_flags = JSON_C_TO_STRING_NOSLASHESCAPE |
		(mode == IOPF_OUT_PRETTY ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED :
		 JSON_C_TO_STRING_PLAIN);
	if (fd >= 0 && !fstat(fd, &st))
		o->line = isatty(fd) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode);
	return o;
}

void iopf_out_free(struct iopf_out *o)
{
	if (!o)
		return;
	for (int i = 0; i < OUT_ROOTS; i++)
		json_object_put(o->roots[i]);
	free(o->line_buf.p);
	free(o->key_buf.p);
	free(o->val_buf.p);
	free(o);
}

bool iopf_out_is_json(const struct iopf_out *o)
{
	return o->mode != IOPF_OUT_TEXT;
}

static void begin_json(struct iopf_out *o)
{
	struct out_frame *fr = &o->st[0];

	if (!o->roots[o->active]) {
		o->roots[o->active] = json_object_new_object();
		if (!o->roots[o->active]) {
			o->skipped = 1;
			return;
		}
	}
	o->depth = 1;
	fr->obj = o->roots[o->active];
	fr->array = false;
	fr->cur = json_object_get_object(fr->obj)->head;
	fr->pos = 0;
}

void iopf_out_begin(struct iopf_out *o)
{
	if (o->open)
		iopf_out_end(o);
	o->open = true;
	o->skipped = 0;
	o->depth = 0;
	o->line_buf.len = 0;
	if (o->mode != IOPF_OUT_TEXT)
		begin_json(o);
}

static void end_json(struct iopf_out *o)
{
	const char *s;
	size_t len;

	while (o->depth > 0)
		frame_truncate(&o->st[--o->depth]);
	if (o->skipped)
		return;
	o->used[o->active] = ++o->clock;
	s = json_object_to_json_string_length(o->roots[o->active], o->json_flags, &len);
	if (s)
		buf_add(&o->line_buf, s, len);
}

void iopf_out_end(struct iopf_out *o)
{
	if (!o->open)
		return;
	if (o->mode != IOPF_OUT_TEXT)
		end_json(o);
	buf_add(&o->line_buf, "\n", 1);
	o->open = false;
	o->skipped = 0;
	o->depth = 0;
	text_done(o);
}

/* Text mode: fmt with one value, formatted by the caller's type. */
#define TEXT_VALUE(o, fmt, v) do {					\
	if ((fmt) && (o)->mode == IOPF_OUT_TEXT) {			\
		buf_printf(&(o)->line_buf, (fmt), (v));			\
		text_done(o);						\
	}								\
} while (0)

void iopf_out_uint(struct iopf_out *o, const char *key, const char *fmt, uint64_t v)
{
	json_object *j;

	TEXT_VALUE(o, fmt, v);
	if (!want_json(o, key))
		return;
	key = json_key(o, key);
	if (slot(o, key, json_type_int, &j))
		json_object_set_uint64(j, v);
	else
		attach(o, key, json_object_new_uint64(v));
}

void iopf_out_int(struct iopf_out *o, const char *key, const char *fmt, int64_t v)
{
	json_object *j;

	TEXT_VALUE(o, fmt, v);
	if (!want_json(o, key))
		return;
	key = json_key(o, key);
	if (slot(o, key, json_type_int, &j))
		json_object_set_int64(j, v);
	else
		attach(o, key, json_object_new_int64(v));
}

/* A JSON number as "%.15g" (json-c's default prints 17 digits); NaN/inf as null. */
void iopf_out_double(struct iopf_out *o, const char *key, const char *fmt, double v)
{
	json_object *j;
	char num[32];

	TEXT_VALUE(o, fmt, v);
	if (!want_json(o, key))
		return;
	key = json_key(o, key);
	if (!isfinite(v)) {
		if (!slot(o, key, json_type_null, &j))
			attach(o, key, NULL);
		return;
	}
	snprintf(num, sizeof(num), "%.15g", v);
	if (slot(o, key, json_type_double, &j))
		replace(o, key, json_object_new_double_s(v, num));
	else
		attach(o, key, json_object_new_double_s(v, num));
}

/* Text: fmt gets "true" or "false" for its %s (as iproute2's print_bool). */
void iopf_out_bool(struct iopf_out *o, const char *key, const char *fmt, bool v)
{
	json_object *j;

	TEXT_VALUE(o, fmt, v ? "true" : "false");
	if (!want_json(o, key))
		return;
	key = json_key(o, key);
	if (slot(o, key, json_type_boolean, &j))
		json_object_set_boolean(j, v);
	else
		attach(o, key, json_object_new_boolean(v));
}

static void json_str(struct iopf_out *o, const char *key, const char *s)
{
	json_object *j;

	key = json_key(o, key);
	if (slot(o, key, json_type_string, &j))
		json_object_set_string(j, s);
	else
		attach(o, key, json_object_new_string(s));
}

/* Strings are cleaned: valid UTF-8 in JSON, no terminal controls in text. */
void iopf_out_str(struct iopf_out *o, const char *key, const char *fmt, const char *s)
{
	if (!s)
		s = "";
	TEXT_VALUE(o, fmt, clean(&o->val_buf, s, true));
	if (want_json(o, key))
		json_str(o, key, clean(&o->val_buf, s, false));
}

void iopf_out_hex64(struct iopf_out *o, const char *key, const char *fmt, uint64_t v)
{
	char hex[24];

	TEXT_VALUE(o, fmt, v);
	if (!want_json(o, key))
		return;
	snprintf(hex, sizeof(hex), "0x%016" PRIx64, v);
	json_str(o, key, hex);
}

void iopf_out_text(struct iopf_out *o, const char *fmt, ...)
{
	va_list ap;

	if (o->mode != IOPF_OUT_TEXT || !fmt)
		return;
	va_start(ap, fmt);
	buf_vprintf(&o->line_buf, fmt, ap);
	va_end(ap);
	text_done(o);
}

/* Text: a container's fmt is printed as it is, with no value. */
static void text_lit(struct iopf_out *o, const char *fmt)
{
	if (o->mode != IOPF_OUT_TEXT || !fmt)
		return;
	buf_add(&o->line_buf, fmt, strlen(fmt));
	text_done(o);
}

static void open_container(struct iopf_out *o, const char *key, bool array)
{
	json_type t = array ? json_type_array : json_type_object;
	struct out_frame *fr;
	json_object *j;

	if (o->mode == IOPF_OUT_TEXT || !o->open)
		return;
	if (!want_json(o, key) || o->depth >= OUT_DEPTH) {
		o->skipped++;
		return;
	}
	key = json_key(o, key);
	if (!slot(o, key, t, &j)) {
		j = array ? json_object_new_array() : json_object_new_object();
		if (!j) {
			o->skipped++;
			return;
		}
		attach(o, key, j);
	}
	fr = &o->st[o->depth++];
	fr->obj = j;
	fr->array = array;
	fr->cur = array ? NULL : json_object_get_object(j)->head;
	fr->idx = 0;
	fr->pos = 0;
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
		frame_truncate(&o->st[--o->depth]);
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
	if (fflush(o->f) && !o->err)
		o->err = errno > 0 ? -errno : -EIO;
	if (ferror(o->f) && !o->err)
		o->err = -EIO;
	return o->err;
}
