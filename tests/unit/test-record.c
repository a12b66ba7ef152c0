// SPDX-License-Identifier: MIT
/*
 * The record decoder on hostile bytes.  Every buffer handed to the
 * decoder is a malloc'd copy of exactly the length under test, so an
 * over-read shows up under ASan.
 */
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#include "iopf.h"
#include "internal.h"	/* what only libiopf and its tests use */
#include "tap.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A FAULT record written out byte by byte: every field little-endian. */
static const uint8_t fault72[72] = {
	'I', 'O', 'P', 'F',		/* magic */
	1, 1, 32, 0,			/* version, type FAULT, hdr_len 32 */
	0x07, 0x00, 0x00, 0x00,		/* queue_id 7 */
	0x16, 0x00, 0x00, 0x00,		/* status 22 */
	0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,	/* seq 0x0102030405060708 */
	0xd2, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80,	/* latency 0x80000000000004d2 */
	0x07, 0x00, 0x00, 0x00,		/* flags 0x7 (bit 2 leaked) */
	0x03, 0x00, 0x00, 0x00,		/* dev_id 3 */
	0x78, 0x56, 0x34, 0x12,		/* pasid 0x12345678 */
	0xff, 0xff, 0x00, 0x00,		/* grpid 0xffff */
	0x13, 0x00, 0x00, 0x00,		/* perm 0x13 */
	0xef, 0xbe, 0xad, 0xde,		/* __reserved 0xdeadbeef */
	0x00, 0xb0, 0xad, 0xde, 0xfe, 0xca, 0xbe, 0xba,	/* addr 0xbabecafedeadb000 */
	0x00, 0x10, 0x00, 0x00,		/* length 4096 */
	0x2a, 0x00, 0x00, 0x80,		/* cookie 0x8000002a */
};

static uint8_t *copy(const uint8_t *p, size_t len)
{
	uint8_t *q = malloc(len ? len : 1);

	if (len)
		memcpy(q, p, len);
	return q;
}

/* Decode exactly len bytes of a private copy of p. */
static enum iopf_bad decode(const uint8_t *p, size_t len, struct iopf_rec *r)
{
	uint8_t *q = copy(p, len);
	enum iopf_bad why = iopf_rec_decode(q, len, r);

	if (why == IOPF_BAD_NONE)	/* r->payload points into q: rebase */
		r->payload = p + (r->payload - q);
	free(q);
	return why;
}

static void test_cursor(void)
{
	static const uint8_t b[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09 };
	struct iopf_cur c = { b, b + sizeof(b) };
	uint8_t out[8];
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	ok(iopf_get_le16(&c, &v16) && v16 == 0x0201, "le16");
	ok(iopf_get_le32(&c, &v32) && v32 == 0x06050403, "le32");
	ok(!iopf_get_le64(&c, &v64), "le64 past the end fails");
	is(c.p - b, 6, "a failed read does not move the cursor");
	ok(!iopf_get_le32(&c, &v32), "le32 past the end fails");
	ok(iopf_get_le16(&c, &v16) && v16 == 0x0807, "le16 up to the end");
	c = (struct iopf_cur){ b, b + 8 };
	ok(iopf_get_le64(&c, &v64) && v64 == 0x0807060504030201ull, "le64");
	ok(!iopf_get_le16(&c, &v16), "empty cursor");
	c = (struct iopf_cur){ NULL, NULL };
	ok(!iopf_get_le32(&c, &v32), "NULL cursor");
	c = (struct iopf_cur){ b + 4, b };
	ok(!iopf_get_le16(&c, &v16), "inverted cursor");

	iopf_put_le32(out, 0x11223344);
	ok(!memcmp(out, "\x44\x33\x22\x11", 4), "put_le32 bytes");
	iopf_put_le64(out, 0x1122334455667788ull);
	ok(!memcmp(out, "\x88\x77\x66\x55\x44\x33\x22\x11", 8), "put_le64 bytes");
}

static void test_fault_literal(void)
{
	struct iopf_rec r = { .ts = { 12, 34 } };
	const struct iommu_hwpt_pgfault *f = &r.u.fault;
	uint8_t enc[IOPF_FAULT_SIZE];

	is(decode(fault72, sizeof(fault72), &r), IOPF_BAD_NONE, "literal fault decodes");
	ok(r.version == 1 && r.type == IOPF_REC_FAULT && r.hdr_len == 32, "version, type, hdr_len");
	ok(r.queue_id == 7 && r.status == 22, "queue_id, status");
	ok(r.seq == 0x0102030405060708ull && r.latency_ns == 0x80000000000004d2ull, "seq, latency");
	ok(f->flags == 7 && f->dev_id == 3 && f->pasid == 0x12345678 && f->grpid == 0xffff,
	   "flags, dev_id, pasid, grpid");
	ok(f->perm == 0x13 && f->__reserved == 0xdeadbeef, "perm, __reserved");
	ok(f->addr == 0xbabecafedeadb000ull, "addr u64 at 24");
	ok(f->length == 4096 && f->cookie == 0x8000002a, "length, cookie");
	ok(r.payload == fault72 + 32 && r.payload_len == 40, "payload kept");
	ok(r.ts.tv_sec == 12 && r.ts.tv_nsec == 34, "ts untouched");
	iopf_fault_encode(f, enc);
	ok(!memcmp(enc, fault72 + 32, sizeof(enc)), "fault encodes back to the same bytes");
	ok(!iopf_fault_decode(fault72 + 32, 39, &r.u.fault), "39-byte fault refused");
}

static void test_truncations(void)
{
	struct iopf_rec r;
	int wrong = 0;

	for (size_t len = 0; len <= sizeof(fault72); len++) {
		enum iopf_bad want = len < 32 ? IOPF_BAD_SHORT :
				     len < 72 ? IOPF_BAD_PAYLOAD : IOPF_BAD_NONE;
		enum iopf_bad got = decode(fault72, len, &r);

		if (got != want && wrong++ < 5)
			printf("# length %zu: got %d, want %d\n", len, got, want);
	}
	is(wrong, 0, "every truncation 0..72 of a fault: short, then payload, then ok");
	is(iopf_rec_decode(NULL, 100, &r), IOPF_BAD_SHORT, "NULL buffer");
}

/* fault72 with one byte changed, decoded at length len. */
static enum iopf_bad patched(size_t off, uint8_t v, size_t len, struct iopf_rec *r)
{
	uint8_t b[sizeof(fault72) + 64] = { 0 };

	memcpy(b, fault72, sizeof(fault72));
	b[off] = v;
	return decode(b, len, r);
}

static void test_header(void)
{
	struct iopf_rec r = { .ts = { 1, 2 }, .seq = 99 };
	uint8_t b[80];

	is(patched(0, 'i', 72, &r), IOPF_BAD_MAGIC, "bad magic");
	is(patched(3, 'G', 72, &r), IOPF_BAD_MAGIC, "bad magic, last byte");
	ok(r.seq == 99 && r.ts.tv_sec == 1, "a failed decode leaves the record alone");
	is(patched(4, 2, 72, &r), IOPF_BAD_VERSION, "version 2");
	is(patched(4, 0, 72, &r), IOPF_BAD_VERSION, "version 0");
	is(patched(6, 31, 72, &r), IOPF_BAD_HDR_LEN, "hdr_len 31");
	is(patched(6, 0, 72, &r), IOPF_BAD_HDR_LEN, "hdr_len 0");
	is(patched(6, 73, 72, &r), IOPF_BAD_HDR_LEN, "hdr_len past the end");
	is(patched(7, 0xff, 72, &r), IOPF_BAD_HDR_LEN, "hdr_len huge (0xff20)");
	memcpy(b, fault72, 72);
	b[6] = 0xff, b[7] = 0xff;
	is(decode(b, 72, &r), IOPF_BAD_HDR_LEN, "hdr_len 0xffff");
	is(patched(6, 72, 72, &r), IOPF_BAD_PAYLOAD, "hdr_len = record length: empty fault payload");

	/* a grown header: 8 more bytes, payload at 40 */
	memcpy(b, fault72, 32);
	memset(b + 32, 0xee, 8);
	memcpy(b + 40, fault72 + 32, 40);
	b[6] = 40;
	is(decode(b, 80, &r), IOPF_BAD_NONE, "hdr_len 40 (grown header) decodes");
	ok(r.hdr_len == 40 && r.payload == b + 40 && r.payload_len == 40 &&
	   r.u.fault.cookie == 0x8000002a && r.u.fault.addr == 0xbabecafedeadb000ull,
	   "grown header: payload read from offset 40");
}

static void test_payloads(void)
{
	static const struct {
		uint8_t type;
		size_t need;
	} types[] = {
		{ IOPF_REC_FAULT, 40 }, { IOPF_REC_RESPONSE, 8 }, { IOPF_REC_LOST, 8 },
		{ IOPF_REC_META, 0 }, { 0, 0 }, { 9, 0 }, { 255, 0 },
	};
	uint8_t b[32 + 48];
	struct iopf_rec r;

	memcpy(b, fault72, 32);
	for (size_t i = 0; i < 48; i++)
		b[32 + i] = (uint8_t)(0x10 + i);
	for (size_t t = 0; t < ARRAY_SIZE(types); t++) {
		b[5] = types[t].type;
		if (types[t].need)
			is(decode(b, 32 + types[t].need - 1, &r), IOPF_BAD_PAYLOAD,
			   "type %u: %zu-byte payload too short", types[t].type, types[t].need - 1);
		is(decode(b, 32 + types[t].need, &r), IOPF_BAD_NONE,
		   "type %u: %zu-byte payload decodes", types[t].type, types[t].need);
		is(decode(b, sizeof(b), &r), IOPF_BAD_NONE, "type %u: 48-byte payload decodes",
		   types[t].type);
		ok(r.type == types[t].type && r.payload == b + 32 && r.payload_len == 48,
		   "type %u: extra bytes kept in payload", types[t].type);
	}
	b[5] = IOPF_REC_RESPONSE;
	decode(b, sizeof(b), &r);
	ok(r.u.resp.cookie == 0x13121110 && r.u.resp.code == 0x17161514, "response LE fields");
	b[5] = IOPF_REC_LOST;
	decode(b, sizeof(b), &r);
	ok(r.u.lost == 0x1716151413121110ull, "lost count LE u64");
}

static void test_round_trip(void)
{
	static const char text[] = "tool=iopftool\nversion=0.1.0";
	struct iopf_rec in[4] = {
		{ .type = IOPF_REC_FAULT, .queue_id = 5, .seq = 1, .u.fault = {
			.flags = 3, .dev_id = 9, .pasid = 0xfffff, .grpid = 511, .perm = 0xf,
			.__reserved = 1, .addr = ~0ull, .length = 2, .cookie = 0xffffffff } },
		{ .type = IOPF_REC_RESPONSE, .status = 22, .seq = 2, .latency_ns = ~0ull,
		  .u.resp = { .cookie = 77, .code = 1 } },
		{ .type = IOPF_REC_LOST, .seq = 3, .u.lost = 1ull << 40 },
		{ .type = IOPF_REC_META, .seq = 4, .payload = (const uint8_t *)text,
		  .payload_len = sizeof(text) - 1 },
	};
	uint8_t buf[128];
	struct iopf_rec out;

	for (size_t i = 0; i < ARRAY_SIZE(in); i++) {
		size_t n = iopf_rec_encode(&in[i], buf, sizeof(buf));

		ok(n > 32 && !memcmp(buf, "IOPF\x01", 5) && buf[6] == 32 && buf[7] == 0,
		   "type %u encodes a v1 header", in[i].type);
		is(decode(buf, n, &out), IOPF_BAD_NONE, "type %u decodes back", in[i].type);
		ok(out.type == in[i].type && out.queue_id == in[i].queue_id &&
		   out.status == in[i].status && out.seq == in[i].seq &&
		   out.latency_ns == in[i].latency_ns, "type %u header round trip", in[i].type);
		ok(!memcmp(&out.u, &in[i].u, sizeof(out.u)), "type %u payload round trip", in[i].type);
		is(iopf_rec_encode(&in[i], buf, n - 1), 0, "type %u: one byte short of room", in[i].type);
	}
	ok(out.payload_len == sizeof(text) - 1 && !memcmp(out.payload, text, out.payload_len),
	   "META text round trip");
	is(iopf_rec_encode(&in[0], buf, 31), 0, "no room for the header");
}

static uint64_t rng_state = 1;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Random buffers, mostly with a plausible header so the deep paths run. */
static void test_fuzz(void)
{
	unsigned int counts[IOPF_BAD_PAYLOAD + 1] = { 0 };
	int broken = 0;

	for (int i = 0; i < 100000; i++) {
		size_t len = rng() % 128;
		uint8_t *b = malloc(len ? len : 1);
		struct iopf_rec r;
		enum iopf_bad why;

		for (size_t k = 0; k < len; k++)
			b[k] = (uint8_t)rng();
		if (len >= 8 && rng() % 4) {
			memcpy(b, "IOPF", 4);
			b[4] = rng() % 8 ? 1 : b[4];
			b[5] = (uint8_t)(rng() % 6);
			b[6] = rng() % 4 ? (uint8_t)(32 + rng() % 48) : b[6];
			b[7] = rng() % 8 ? 0 : b[7];
		}
		why = iopf_rec_decode(b, len, &r);
		if (why <= IOPF_BAD_PAYLOAD)
			counts[why]++;
		else
			broken++;
		if (why == IOPF_BAD_NONE &&
		    (r.hdr_len < 32 || r.payload != b + r.hdr_len || r.hdr_len + r.payload_len != len))
			broken++;
		free(b);
	}
	is(broken, 0, "100000 random buffers: no crash, sane results");
	for (int w = 0; w <= IOPF_BAD_PAYLOAD; w++)
		ok(counts[w] > 100, "fuzz reached %s (%u times)", iopf_bad_name(w), counts[w]);
}

static void test_bad_str(void)
{
	int distinct = 1;

	for (int w = IOPF_BAD_NONE; w <= IOPF_BAD_PAYLOAD; w++)
		for (int v = 0; v < w; v++)
			distinct &= strcmp(iopf_bad_name(w), iopf_bad_name(v)) != 0;
	ok(distinct, "iopf_bad_name: one message per reason");
	ok(iopf_bad_name(100) && iopf_bad_name(-1), "iopf_bad_name out of range");
}

/* The record type table: names both ways, and each type's minimum payload. */
static void test_type_table(void)
{
	static const struct {
		unsigned int type;
		const char *name;
		size_t min;
	} t[] = { { 1, "fault", 40 }, { 2, "response", 8 }, { 3, "lost", 8 }, { 4, "meta", 0 } };
	uint8_t buf[128];

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct iopf_rec r = { .type = (uint8_t)t[i].type };
		size_t n = iopf_rec_encode(&r, buf, sizeof(buf));

		ok(!strcmp(iopf_rec_type_name(t[i].type), t[i].name), "type %u is %s", t[i].type,
		   t[i].name);
		is(iopf_rec_type_parse(t[i].name), (int)t[i].type, "%s parses to %u", t[i].name,
		   t[i].type);
		is(n, IOPF_REC_HDR_LEN + t[i].min, "%s encodes %zu payload bytes", t[i].name, t[i].min);
		if (t[i].min)
			is(iopf_rec_decode(buf, n - 1, &r), IOPF_BAD_PAYLOAD,
			   "%s one byte short: IOPF_BAD_PAYLOAD", t[i].name);
		is(iopf_rec_decode(buf, n, &r), IOPF_BAD_NONE, "%s of %zu bytes decodes", t[i].name,
		   t[i].min);
	}
	ok(!strcmp(iopf_rec_type_name(0), "unknown") && !strcmp(iopf_rec_type_name(8), "unknown") &&
	   !strcmp(iopf_rec_type_name(255), "unknown"), "types 0, 8, 255 are unknown");
	is(iopf_rec_type_parse("FAULT"), -EINVAL, "names are exact");
	is(iopf_rec_type_parse(NULL), -EINVAL, "no name");
}

int main(void)
{
	test_cursor();
	test_fault_literal();
	test_truncations();
	test_header();
	test_payloads();
	test_round_trip();
	test_fuzz();
	test_bad_str();
	test_type_table();
	return tap_done();
}
