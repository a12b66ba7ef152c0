// SPDX-License-Identifier: MIT
/*
 * Print one capture record: JSON as SPEC.md section 5, or one text line.
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

struct bit_name {
	uint32_t bit;
	const char *name;	/* JSON */
	char letter;		/* text, 0 if none */
};

static const struct bit_name perm_bits[] = {
	{ IOMMU_PGFAULT_PERM_READ, "read", 'r' },
	{ IOMMU_PGFAULT_PERM_WRITE, "write", 'w' },
	{ IOMMU_PGFAULT_PERM_EXEC, "exec", 'x' },
	{ IOMMU_PGFAULT_PERM_PRIV, "priv", 'p' },
};

static const struct bit_name flag_bits[] = {
	{ IOMMU_PGFAULT_FLAGS_PASID_VALID, "pasid_valid", 0 },
	{ IOMMU_PGFAULT_FLAGS_LAST_PAGE, "last", 0 },
};

const char *iopf_code_str(uint32_t code)
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

/* RFC 3339 UTC with nanoseconds: 2026-11-24T02:21:00.123456789Z */
static void format_time(const struct timespec *ts, char *buf, size_t len)
{
	time_t sec = ts->tv_sec;
	long ns = ts->tv_nsec;
	struct tm tm;

	if (ns < 0 || ns >= 1000000000L) {	/* a hostile pcap header */
		sec += ns / 1000000000L;
		ns %= 1000000000L;
		if (ns < 0) {
			sec--;
			ns += 1000000000L;
		}
	}
	if (!gmtime_r(&sec, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) {
		snprintf(buf, len, "@%lld.%09ld", (long long)sec, ns);
		return;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ns);
}

/* 850ns, 1.234us, 12.500ms, 3.000s */
static void format_duration(uint64_t ns, char *buf, size_t len)
{
	if (ns < 1000)
		snprintf(buf, len, "%" PRIu64 "ns", ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%" PRIu64 ".%03" PRIu64 "us", ns / 1000, ns % 1000);
	else if (ns < 1000000000)
		snprintf(buf, len, "%" PRIu64 ".%03" PRIu64 "ms", ns / 1000000,
			 ns % 1000000 / 1000);
	else
		snprintf(buf, len, "%" PRIu64 ".%03" PRIu64 "s", ns / 1000000000,
			 ns % 1000000000 / 1000000);
}

static void format_errno(uint32_t err, char *buf, size_t len)
{
	const char *name = NULL;

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
	if (err <= 4095)
		name = strerrorname_np((int)err);
#endif
	if (name)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "errno %" PRIu32, err);
}

/*
 * The names of the known bits of v from table t, as members of the open
 * JSON array (nothing in text).  Returns the bits the table does not
 * know, for the caller to show.
 */
static uint32_t print_bits(struct iopf_out *o, const struct bit_name *t, size_t n, uint32_t v)
{
	for (size_t i = 0; i < n; i++) {
		if (v & t[i].bit)
			iopf_out_str(o, NULL, NULL, t[i].name);
		v &= ~t[i].bit;
	}
	return v;
}

static uint32_t unknown_bits(const struct bit_name *t, size_t n, uint32_t v)
{
	for (size_t i = 0; i < n; i++)
		v &= ~t[i].bit;
	return v;
}

/* A letter per table entry, '-' when clear: "rw--". */
static void bit_letters(const struct bit_name *t, size_t n, uint32_t v, char *buf, size_t len)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k + 1 < len; i++)
		buf[k++] = v & t[i].bit ? t[i].letter : '-';
	buf[k] = '\0';
}

/* JSON "perm":["read","write","0x10"]; text " perm rw--+0x10" */
static void print_perm(struct iopf_out *o, uint32_t perm)
{
	char buf[24];
	uint32_t unknown;

	iopf_out_open_array(o, "perm", NULL);
	unknown = print_bits(o, perm_bits, ARRAY_SIZE(perm_bits), perm);
	for (uint32_t rest = unknown; rest; rest &= rest - 1) {
		snprintf(buf, sizeof(buf), "0x%" PRIx32, rest & -rest);
		iopf_out_str(o, NULL, NULL, buf);
	}
	iopf_out_close_array(o, NULL);
	bit_letters(perm_bits, ARRAY_SIZE(perm_bits), perm, buf, sizeof(buf));
	iopf_out_str(o, NULL, " perm %s", buf);
	if (unknown)
		iopf_out_uint(o, NULL, "+0x%" PRIx64, unknown);
}

static void print_fault(struct iopf_out *o, const struct iopf_rec *r)
{
	const struct iommu_hwpt_pgfault *f = &r->u.fault;
	bool pasid_valid = f->flags & IOMMU_PGFAULT_FLAGS_PASID_VALID;
	bool last = f->flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE;
	uint32_t unknown = unknown_bits(flag_bits, ARRAY_SIZE(flag_bits), f->flags);

	iopf_out_uint(o, "queue", " q%" PRIu64, r->queue_id);
	iopf_out_uint(o, "dev_id", " dev %" PRIu64, f->dev_id);
	iopf_out_uint(o, "pasid", pasid_valid ? " pasid %" PRIu64 : " pasid -", f->pasid);
	iopf_out_bool(o, "pasid_valid", NULL, pasid_valid);
	iopf_out_uint(o, "grpid", " grpid %" PRIu64, f->grpid);
	print_perm(o, f->perm);
	iopf_out_bool(o, "last", last ? " last" : NULL, last);
	iopf_out_uint(o, "flags", unknown ? " flags 0x%" PRIx64 : NULL, f->flags);
	iopf_out_hex64(o, "addr", " addr 0x%016" PRIx64, f->addr);
	iopf_out_uint(o, "length", f->length ? " length %" PRIu64 : NULL, f->length);
	iopf_out_uint(o, "cookie", " cookie %" PRIu64, f->cookie);
	if (f->__reserved)	/* "must be 0": shown in text when it is not */
		iopf_out_uint(o, NULL, " reserved 0x%" PRIx64, f->__reserved);
}

static void print_response(struct iopf_out *o, const struct iopf_rec *r)
{
	uint32_t code = r->u.resp.code;
	bool known = code == IOMMUFD_PAGE_RESP_SUCCESS || code == IOMMUFD_PAGE_RESP_INVALID;
	char buf[32];

	iopf_out_uint(o, "queue", " q%" PRIu64, r->queue_id);
	iopf_out_uint(o, "cookie", " cookie %" PRIu64, r->u.resp.cookie);
	iopf_out_str(o, "code", " %s", iopf_code_str(code));
	iopf_out_uint(o, "code_raw", known ? NULL : " code %" PRIu64, code);
	iopf_out_uint(o, "status", NULL, r->status);
	if (r->status) {
		format_errno(r->status, buf, sizeof(buf));
		iopf_out_str(o, NULL, " rejected %s", buf);
	}
	iopf_out_uint(o, "latency_ns", NULL, r->latency_ns);
	format_duration(r->latency_ns, buf, sizeof(buf));
	iopf_out_str(o, NULL, " latency %s", buf);
}

static void print_lost(struct iopf_out *o, const struct iopf_rec *r)
{
	iopf_out_uint(o, "count", r->u.lost == 1 ? " %" PRIu64 " record" : " %" PRIu64 " records",
		      r->u.lost);
}

/* One "key=value" line (n bytes, not NUL-terminated, maybe garbage). */
static void print_meta_line(struct iopf_out *o, const char *s, size_t n)
{
	char sbuf[256], *buf, *eq;
	const char *val = "";

	if (n && s[n - 1] == '\r')
		n--;
	if (!n)
		return;
	buf = n < sizeof(sbuf) ? sbuf : malloc(n + 1);
	if (!buf)
		return;
	for (size_t i = 0; i < n; i++)	/* a NUL would cut the C string */
		buf[i] = s[i] ? s[i] : '?';
	buf[n] = '\0';
	eq = strchr(buf, '=');
	if (eq) {
		*eq = '\0';
		val = eq + 1;
	}
	iopf_out_str(o, NULL, " %s=", buf);
	iopf_out_str(o, buf, "%s", val);
	if (buf != sbuf)
		free(buf);
}

/* JSON "meta":{"tool":"iopftool",...}; text " tool=iopftool ..." */
static void print_meta(struct iopf_out *o, const struct iopf_rec *r)
{
	const char *p = (const char *)r->payload, *nl;
	size_t left = r->payload ? r->payload_len : 0;

	iopf_out_open_object(o, "meta", NULL);
	while (left) {
		nl = memchr(p, '\n', left);
		if (!nl) {
			print_meta_line(o, p, left);
			break;
		}
		print_meta_line(o, p, (size_t)(nl - p));
		left -= (size_t)(nl - p) + 1;
		p = nl + 1;
	}
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
static void print_delivery(struct iopf_out *o, const struct iopf_rec *r)
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
static void print_auto_response(struct iopf_out *o, const struct iopf_rec *r)
{
	uint64_t code = tap_u32(r, 4), reason = tap_u32(r, 12), flags = tap_u32(r, 24);
	uint64_t addr = tap_u32(r, 32) | tap_u32(r, 36) << 32;
	char buf[32];

	iopf_out_uint(o, "queue", " q%" PRIu64, r->queue_id);
	iopf_out_uint(o, "cookie", " cookie %" PRIu64, tap_u32(r, 0));
	iopf_out_str(o, "code", " %s", iopf_code_str((uint32_t)code));
	iopf_out_uint(o, "dev_id", " dev %" PRIu64, tap_u32(r, 8));
	iopf_out_uint(o, "grpid", " grpid %" PRIu64, tap_u32(r, 16));
	iopf_out_uint(o, "pasid", flags & IOMMU_PGFAULT_FLAGS_PASID_VALID ? " pasid %" PRIu64
									  : " pasid -", tap_u32(r, 20));
	iopf_out_uint(o, "flags", NULL, flags);
	print_perm(o, (uint32_t)tap_u32(r, 28));
	iopf_out_hex64(o, "addr", " addr 0x%016" PRIx64, addr);
	iopf_out_str(o, "reason", " %s", reason == 1 ? "detach" : reason == 2 ? "destroy" : "unknown");
	iopf_out_uint(o, "latency_ns", NULL, r->latency_ns);
	format_duration(r->latency_ns, buf, sizeof(buf));
	iopf_out_str(o, NULL, tap_u32(r, 0) ? " latency %s" : " never read", buf);
}

/* REPORTED: a struct iommu_hwpt_pgfault as the device reported it (dev_id, cookie 0) */
static void print_reported(struct iopf_out *o, const struct iopf_rec *r)
{
	struct iopf_rec f = *r;

	if (!r->payload || !iopf_fault_decode(r->payload, r->payload_len, &f.u.fault))
		memset(&f.u.fault, 0, sizeof(f.u.fault));
	print_fault(o, &f);
}

static const struct {
	uint8_t type;
	const char *name;
	void (*print)(struct iopf_out *o, const struct iopf_rec *r);
} printers[] = {
	{ IOPF_REC_FAULT, "fault", print_fault },
	{ IOPF_REC_RESPONSE, "response", print_response },
	{ IOPF_REC_LOST, "lost", print_lost },
	{ IOPF_REC_META, "meta", print_meta },
	{ IOPF_REC_DELIVERY, "delivery", print_delivery },	/* the tap's */
	{ IOPF_REC_AUTO_RESPONSE, "auto_response", print_auto_response },
	{ IOPF_REC_REPORTED, "reported", print_reported },
};

void iopf_print_rec(struct iopf_out *o, const struct iopf_rec *r)
{
	char tbuf[64];

	for (size_t i = 0; i < ARRAY_SIZE(printers); i++) {
		if (printers[i].type != r->type)
			continue;
		format_time(&r->ts, tbuf, sizeof(tbuf));
		iopf_out_begin(o);
		iopf_out_uint(o, "seq", NULL, r->seq);
		iopf_out_str(o, "time", "%s", tbuf);
		iopf_out_uint(o, NULL, " #%" PRIu64, r->seq);
		iopf_out_str(o, "type", " %s", printers[i].name);
		printers[i].print(o, r);
		iopf_out_end(o);
		return;
	}
}
