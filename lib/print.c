// SPDX-License-Identifier: MIT
/*
 * Print one capture record: JSON as iopftool-read(8) shows it, or one
 * text line.
 * Both come from the same iopf_out_* calls: a call with a NULL key is
 * text only, a call with a NULL fmt is JSON only.
 *
 *   2026-11-24T02:21:00.123456789Z #0 fault q1 dev 3 pasid 1 grpid 2 perm rw-- last addr 0x00000000deadb000 cookie 1
 *   2026-11-24T02:21:00.123458023Z #1 response q1 cookie 1 success latency 1.234us
 *   2026-11-24T02:21:00.200000000Z #2 lost 5 records
 *   2026-11-24T02:21:00.000000000Z #3 meta tool=iopftool version=0.1.0
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static const struct iopf_bit_name perm_bit_names[] = {
	{ IOMMU_PGFAULT_PERM_READ, "read", 'r' },
	{ IOMMU_PGFAULT_PERM_WRITE, "write", 'w' },
	{ IOMMU_PGFAULT_PERM_EXEC, "exec", 'x' },
	{ IOMMU_PGFAULT_PERM_PRIV, "priv", 'p' },
};

static const struct iopf_bit_name flag_bit_names[] = {
	{ IOMMU_PGFAULT_FLAGS_PASID_VALID, "pasid_valid", 0 },
	{ IOMMU_PGFAULT_FLAGS_LAST_PAGE, "last", 0 },
};

static const struct iopf_bits perm_bits = { perm_bit_names, ARRAY_SIZE(perm_bit_names) };
static const struct iopf_bits flag_bits = { flag_bit_names, ARRAY_SIZE(flag_bit_names) };

const struct iopf_bits *iopf_perm_bits(void)
{
	return &perm_bits;
}

const struct iopf_bits *iopf_flag_bits(void)
{
	return &flag_bits;
}

const char *iopf_code_name(uint32_t code)
{
	switch (code) {
	case IOMMUFD_PAGE_RESP_SUCCESS:
		return "success";
	case IOMMUFD_PAGE_RESP_INVALID:
		return "invalid";
	default:
		return "unknown";
	}
}

const char *iopf_errno_name(uint32_t err)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
	if (err <= 4095)
		return strerrorname_np((int)err);
#endif
	(void)err;
	return NULL;
}

uint32_t iopf_bits_unknown(const struct iopf_bits *t, uint32_t v)
{
	for (size_t i = 0; i < t->n; i++)
		v &= ~t->bit[i].bit;
	return v;
}

/* "0x10": one unknown bit. */
static const char *bit_hex(uint32_t bit, char buf[12])
{
	static const char hex[] = "0123456789abcdef";
	char *p = buf + 11;

	*p = '\0';
	do {
		*--p = hex[bit & 15];
		bit >>= 4;
	} while (bit);
	*--p = 'x';
	*--p = '0';
	return p;
}

/*
 * JSON: key as an array of bit names, then each unknown bit as a "0x.."
 * string.  Text after fmt: LETTERS "rw--" (+0x110 for unknown bits), or
 * NAMES "read,write,0x10" ("none" for 0).
 */
void iopf_print_bits(struct iopf_out *o, const char *key, const char *fmt,
		     const struct iopf_bits *t, uint32_t v, enum iopf_bits_style style)
{
	uint32_t unknown = iopf_bits_unknown(t, v);
	char text[256], hex[12];
	size_t k = 0, n;

	if (iopf_out_is_json(o)) {
		iopf_out_open_array(o, key, NULL);
		for (size_t i = 0; i < t->n; i++)
			if (v & t->bit[i].bit)
				iopf_out_str(o, NULL, NULL, t->bit[i].name);
		for (uint32_t rest = unknown; rest; rest &= rest - 1)
			iopf_out_str(o, NULL, NULL, bit_hex(rest & -rest, hex));
		iopf_out_close_array(o, NULL);
		return;
	}
	/* text: built here, printed with one call; the usual " perm rw--" with fixed moves */
	if (style == IOPF_BITS_LETTERS && !unknown && fmt && t->n <= 8) {
		char line[32] = { 0 };

		for (k = 0; fmt[k] && k < 24; k++)
			line[k] = fmt[k];
		if (!fmt[k]) {
			for (size_t i = 0; i < t->n; i++)
				line[k + i] = v & t->bit[i].bit ? t->bit[i].letter : '-';
			iopf_out_text32(o, line, k + t->n);
			return;
		}
		k = 0;
	}
#define ADD(s, len) do {						\
	n = (len);							\
	if (k + n < sizeof(text)) {					\
		memcpy(text + k, (s), n);				\
		k += n;							\
	}								\
} while (0)
	if (fmt)
		ADD(fmt, strlen(fmt));
	if (style == IOPF_BITS_LETTERS) {
		for (size_t i = 0; i < t->n; i++)
			ADD(v & t->bit[i].bit ? &t->bit[i].letter : "-", 1);
		if (unknown) {
			const char *h = bit_hex(unknown, hex);

			ADD("+", 1);
			ADD(h, strlen(h));
		}
	} else {
		const char *sep = "";

		for (size_t i = 0; i < t->n; i++) {
			if (!(v & t->bit[i].bit))
				continue;
			ADD(sep, strlen(sep));
			ADD(t->bit[i].name, strlen(t->bit[i].name));
			sep = ",";
		}
		for (uint32_t rest = unknown; rest; rest &= rest - 1) {
			const char *h = bit_hex(rest & -rest, hex);

			ADD(sep, strlen(sep));
			ADD(h, strlen(h));
			sep = ",";
		}
		if (!v)
			ADD("none", 4);
	}
#undef ADD
	iopf_out_text_bytes(o, text, k);
}

void iopf_print_fault(struct iopf_out *o, const struct iopf_rec *r)
{
	const struct iommu_hwpt_pgfault *f = &r->u.fault;
	bool pasid_valid = f->flags & IOMMU_PGFAULT_FLAGS_PASID_VALID;
	bool last = f->flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE;
	uint32_t unknown = iopf_bits_unknown(&flag_bits, f->flags);

	iopf_out_uint(o, "queue", " q%" PRIu64, r->queue_id);
	iopf_out_uint(o, "dev_id", " dev %" PRIu64, f->dev_id);
	iopf_out_uint(o, "pasid", pasid_valid ? " pasid %" PRIu64 : " pasid -", f->pasid);
	iopf_out_bool(o, "pasid_valid", NULL, pasid_valid);
	iopf_out_uint(o, "grpid", " grpid %" PRIu64, f->grpid);
	iopf_print_bits(o, "perm", " perm ", &perm_bits, f->perm, IOPF_BITS_LETTERS);
	iopf_out_bool(o, "last", last ? " last" : NULL, last);
	iopf_out_uint(o, "flags", unknown ? " flags 0x%" PRIx64 : NULL, f->flags);
	iopf_out_hex64(o, "addr", " addr 0x%016" PRIx64, f->addr);
	iopf_out_uint(o, "length", f->length ? " length %" PRIu64 : NULL, f->length);
	iopf_out_uint(o, "cookie", " cookie %" PRIu64, f->cookie);
	if (f->__reserved)	/* "must be 0": shown in text when it is not */
		iopf_out_uint(o, NULL, " reserved 0x%" PRIx64, f->__reserved);
}

void iopf_print_response(struct iopf_out *o, const struct iopf_rec *r)
{
	uint32_t code = r->u.resp.code;
	bool known = code == IOMMUFD_PAGE_RESP_SUCCESS || code == IOMMUFD_PAGE_RESP_INVALID;
	const char *name;

	iopf_out_uint(o, "queue", " q%" PRIu64, r->queue_id);
	iopf_out_uint(o, "cookie", " cookie %" PRIu64, r->u.resp.cookie);
	iopf_out_str(o, "code", " %s", iopf_code_name(code));
	iopf_out_uint(o, "code_raw", known ? NULL : " code %" PRIu64, code);
	iopf_out_uint(o, "status", NULL, r->status);
	if (r->status) {
		name = iopf_errno_name(r->status);
		if (name)
			iopf_out_str(o, NULL, " rejected %s", name);
		else
			iopf_out_uint(o, NULL, " rejected errno %" PRIu64, r->status);
	}
	iopf_out_duration(o, "latency_ns", " latency %s", r->latency_ns);
}

void iopf_print_lost(struct iopf_out *o, const struct iopf_rec *r)
{
	iopf_out_uint(o, "count", r->u.lost == 1 ? " %" PRIu64 " record" : " %" PRIu64 " records",
		      r->u.lost);
}

/* One META line: "key=value" (or just "key"), '\r' and empty lines dropped. */
struct meta_line {
	const char *p;
	size_t n, klen;		/* the line, and its key's length */
	size_t last;		/* JSON: the last line with the same key */
	bool dup;		/* JSON: an earlier line has this key */
};

/* The next line of the payload at *p (left bytes); false at the end. */
static bool meta_next(const char **p, size_t *left, struct meta_line *l)
{
	const char *nl, *eq;

	while (*left) {
		nl = memchr(*p, '\n', *left);
		l->p = *p;
		l->n = nl ? (size_t)(nl - *p) : *left;
		*left -= nl ? l->n + 1 : l->n;
		*p += nl ? l->n + 1 : l->n;
		if (l->n && l->p[l->n - 1] == '\r')
			l->n--;
		if (!l->n)
			continue;
		eq = memchr(l->p, '=', l->n);
		l->klen = eq ? (size_t)(eq - l->p) : l->n;
		l->dup = false;
		return true;
	}
	return false;
}

bool iopf_meta_get(const struct iopf_rec *r, const char *key, char *val, size_t len)
{
	const char *p = (const char *)r->payload;
	size_t left = r->payload ? r->payload_len : 0, klen = strlen(key);
	struct meta_line l;
	bool found = false;

	while (meta_next(&p, &left, &l)) {
		if (l.klen != klen || l.klen == l.n || memcmp(l.p, key, klen))
			continue;
		snprintf(val, len, "%.*s", (int)(l.n - klen - 1), l.p + klen + 1);
		found = true;	/* the last line with the key wins, as in the JSON */
	}
	return found;
}

/* n bytes of s as a C string in buf (a NUL would cut it: '?'). */
static char *meta_cstr(const char *s, size_t n, char *sbuf, size_t slen)
{
	char *buf = n < slen ? sbuf : malloc(n + 1);

	if (!buf)
		return NULL;
	for (size_t i = 0; i < n; i++)
		buf[i] = s[i] ? s[i] : '?';
	buf[n] = '\0';
	return buf;
}

static void meta_member(struct iopf_out *o, const struct meta_line *k, const struct meta_line *v)
{
	char kbuf[128], vbuf[256], *key, *val;
	size_t voff = v->klen < v->n ? v->klen + 1 : v->n;

	key = meta_cstr(k->p, k->klen, kbuf, sizeof(kbuf));
	val = meta_cstr(v->p + voff, v->n - voff, vbuf, sizeof(vbuf));
	if (key && val) {
		iopf_out_str(o, NULL, " %s=", key);
		iopf_out_str(o, key, "%s", val);
	}
	if (key != kbuf)
		free(key);
	if (val != vbuf)
		free(val);
}

/*
 * A key as JSON compares it after cleaning: a NUL is '?', each byte
 * that is not valid UTF-8 is U+FFFD.  Written to out (3 bytes a byte).
 */
static size_t meta_canon(const char *s, size_t n, char *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = 0, k;
	uint32_t cp;

	while (n) {
		k = *p ? iopf_utf8_char(p, n, &cp) : 1;
		if (!k) {
			memcpy(out + len, "\xef\xbf\xbd", 3);
			len += 3;
			k = 1;
		} else {
			for (size_t i = 0; i < k; i++)
				out[len++] = p[i] ? (char)p[i] : '?';
		}
		p += k;
		n -= k;
	}
	return len;
}

/*
 * JSON keeps one member per key, as json-c does when a key repeats: at
 * the first line's place, with the last line's value.  A hash of the
 * cleaned keys finds the repeats; META records are rare and small, so
 * this is the one printer that allocates.  Returns false when it cannot.
 */
static bool meta_json(struct iopf_out *o, const char *p, size_t left)
{
	size_t n = 0, cap = 0, hsize = 16, i, j, h, *clen;
	struct meta_line l, *lines = NULL;
	const char *q = p;
	size_t ql = left;
	char *canon = NULL, **ckey;
	uint32_t *slot;
	bool done = false;

	while (meta_next(&q, &ql, &l))
		n++;
	while (hsize < 2 * n)
		hsize *= 2;
	lines = calloc(n ? n : 1, sizeof(*lines) + sizeof(*ckey) + sizeof(*clen));
	slot = calloc(hsize, sizeof(*slot));
	canon = malloc(3 * left + 1);
	if (!lines || !slot || !canon)
		goto out;
	ckey = (char **)(lines + n);
	clen = (size_t *)(ckey + n);
	for (i = 0; meta_next(&p, &left, &lines[i]); i++) {
		ckey[i] = canon + cap;
		clen[i] = meta_canon(lines[i].p, lines[i].klen, ckey[i]);
		cap += clen[i];
		lines[i].last = i;
		h = 14695981039346656037ull;
		for (j = 0; j < clen[i]; j++)
			h = (h ^ (unsigned char)ckey[i][j]) * 1099511628211ull;
		for (h &= hsize - 1;; h = (h + 1) & (hsize - 1)) {
			uint32_t k = slot[h];

			if (!k) {
				slot[h] = (uint32_t)i + 1;
				break;
			}
			if (clen[k - 1] == clen[i] && !memcmp(ckey[k - 1], ckey[i], clen[i])) {
				lines[k - 1].last = i;
				lines[i].dup = true;
				break;
			}
		}
	}
	for (i = 0; i < n; i++)
		if (!lines[i].dup)
			meta_member(o, &lines[i], &lines[lines[i].last]);
	done = true;
out:
	free(lines);
	free(slot);
	free(canon);
	return done;
}

/* JSON "meta":{"tool":"iopftool",...}; text " tool=iopftool ..." */
void iopf_print_meta(struct iopf_out *o, const struct iopf_rec *r)
{
	const char *p = (const char *)r->payload;
	size_t left = r->payload ? r->payload_len : 0;
	struct meta_line l;

	iopf_out_open_object(o, "meta", NULL);
	if (!iopf_out_is_json(o) || !meta_json(o, p, left))
		while (meta_next(&p, &left, &l))
			meta_member(o, &l, &l);
	iopf_out_close_object(o, NULL);
}

/* ---- the tap's records (lib/tap.c; iopftool-capture(5)) ---- */

/* A little-endian u32 at off of the payload, 0 past its end. */
static uint64_t tap_u32(const struct iopf_rec *r, size_t off)
{
	const uint8_t *p = r->payload;

	if (!p || r->payload_len < off + 4)
		return 0;
	return (uint64_t)p[off] | (uint64_t)p[off + 1] << 8 | (uint64_t)p[off + 2] << 16 |
	       (uint64_t)p[off + 3] << 24;
}

/* DELIVERY: cookie, records, pid, tid, fd, dev_id, comm[16] */
void iopf_print_delivery(struct iopf_out *o, const struct iopf_rec *r)
{
	char comm[17] = "";
	uint64_t fd = tap_u32(r, 16);

	if (r->payload && r->payload_len >= 40)
		for (size_t i = 0; i < 16 && r->payload[24 + i]; i++)
			comm[i] = isprint(r->payload[24 + i]) ? (char)r->payload[24 + i] : '?';
	iopf_out_uint(o, "queue", " q%" PRIu64, r->queue_id);
	iopf_out_uint(o, "cookie", " cookie %" PRIu64, tap_u32(r, 0));
	iopf_out_uint(o, "records", " records %" PRIu64, tap_u32(r, 4));
	iopf_out_uint(o, "dev_id", " dev %" PRIu64, tap_u32(r, 20));
	iopf_out_uint(o, "pid", " pid %" PRIu64, tap_u32(r, 8));
	iopf_out_uint(o, "tid", " tid %" PRIu64, tap_u32(r, 12));
	iopf_out_int(o, "fd", fd == UINT32_MAX ? " fd -" : " fd %" PRId64,
		     fd == UINT32_MAX ? -1 : (int64_t)fd);
	iopf_out_str(o, "comm", " comm %s", comm);
}

/* AUTO_RESPONSE: cookie, code, dev_id, reason, grpid, pasid, flags, perm, addr */
void iopf_print_auto_response(struct iopf_out *o, const struct iopf_rec *r)
{
	uint64_t code = tap_u32(r, 4), reason = tap_u32(r, 12), flags = tap_u32(r, 24);
	uint64_t addr = tap_u32(r, 32) | tap_u32(r, 36) << 32;
	iopf_out_uint(o, "queue", " q%" PRIu64, r->queue_id);
	iopf_out_uint(o, "cookie", " cookie %" PRIu64, tap_u32(r, 0));
	iopf_out_str(o, "code", " %s", iopf_code_name((uint32_t)code));
	iopf_out_uint(o, "dev_id", " dev %" PRIu64, tap_u32(r, 8));
	iopf_out_uint(o, "grpid", " grpid %" PRIu64, tap_u32(r, 16));
	iopf_out_uint(o, "pasid", flags & IOMMU_PGFAULT_FLAGS_PASID_VALID ? " pasid %" PRIu64
									  : " pasid -", tap_u32(r, 20));
	iopf_out_uint(o, "flags", NULL, flags);
	iopf_print_bits(o, "perm", " perm ", &perm_bits, (uint32_t)tap_u32(r, 28), IOPF_BITS_LETTERS);
	iopf_out_hex64(o, "addr", " addr 0x%016" PRIx64, addr);
	iopf_out_str(o, "reason", " %s", reason == 1 ? "detach" : reason == 2 ? "destroy" : "unknown");
	iopf_out_duration(o, "latency_ns", tap_u32(r, 0) ? " latency %s" : " never read",
			  r->latency_ns);
}

/* REPORTED: a struct iommu_hwpt_pgfault as the device reported it (dev_id, cookie 0) */
void iopf_print_reported(struct iopf_out *o, const struct iopf_rec *r)
{
	struct iopf_rec f = *r;

	if (!r->payload || !iopf_fault_decode(r->payload, r->payload_len, &f.u.fault))
		memset(&f.u.fault, 0, sizeof(f.u.fault));
	iopf_print_fault(o, &f);
}

/* The record's common head, then its type's members (the table in lib/record.c). */
void iopf_rec_print(struct iopf_out *o, const struct iopf_rec *r)
{
	const struct iopf_rec_type_info *t = iopf_rec_type_info(r->type);

	if (!t)
		return;
	iopf_out_begin(o);
	iopf_out_uint(o, "seq", NULL, r->seq);
	iopf_out_time(o, "time", "%s", &r->ts);
	iopf_out_uint(o, NULL, " #%" PRIu64, r->seq);
	iopf_out_str(o, "type", " %s", t->name);
	t->print(o, r);
	iopf_out_end(o);
}
