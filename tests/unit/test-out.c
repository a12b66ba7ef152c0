// SPDX-License-Identifier: MIT
/* The text/JSON output path (lib/out.c, its format compiler lib/fmt.c) and the record printer against the JSON and text records of iopftool-read(8). */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "iopf.h"
#include "tap.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* 2026-11-24T02:21:00.123456789Z */
#define T0_SEC 1795486860
#define T0_NSEC 123456789

struct sink {
	FILE *f;
	char *buf;
	size_t len;
	struct iopf_out *o;
};

static void sink_open(struct sink *s, enum iopf_out_mode mode)
{
	memset(s, 0, sizeof(*s));
	s->f = open_memstream(&s->buf, &s->len);
	s->o = iopf_out_new(s->f, mode);
}

/* What was printed since the last call; the caller frees it. */
static char *sink_take(struct sink *s)
{
	char *r;

	iopf_out_flush(s->o);
	fflush(s->f);
	r = strndup(s->buf ? s->buf : "", s->len);
	fseeko(s->f, 0, SEEK_SET);
	s->buf[0] = '\0';
	fflush(s->f);
	return r;
}

static void sink_close(struct sink *s)
{
	iopf_out_free(s->o);
	fclose(s->f);
	free(s->buf);
}

static char *render(enum iopf_out_mode mode, const struct iopf_rec *r)
{
	struct sink s;
	char *out;

	sink_open(&s, mode);
	iopf_rec_print(s.o, r);
	out = sink_take(&s);
	sink_close(&s);
	return out;
}

static bool is_str(const char *got, const char *want, const char *what)
{
	if (ok(got && !strcmp(got, want), "%s", what))
		return true;
	printf("#   got:    %s#   wanted: %s", got ? got : "(null)\n", want);
	return false;
}

static struct iopf_rec fault_rec(void)
{
	struct iopf_rec r = {
		.ts = { T0_SEC, T0_NSEC }, .type = IOPF_REC_FAULT, .queue_id = 1, .seq = 0,
		.u.fault = {
			.flags = IOMMU_PGFAULT_FLAGS_PASID_VALID | IOMMU_PGFAULT_FLAGS_LAST_PAGE,
			.dev_id = 3, .pasid = 1, .grpid = 2,
			.perm = IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE,
			.addr = 0xdeadb000, .length = 0, .cookie = 1,
		},
	};
	return r;
}

static struct iopf_rec resp_rec(void)
{
	struct iopf_rec r = {
		.ts = { T0_SEC, T0_NSEC }, .type = IOPF_REC_RESPONSE, .queue_id = 1, .seq = 1,
		.latency_ns = 1234, .u.resp = { .cookie = 1, .code = 0 },
	};
	return r;
}

static void test_spec_json(void)
{
	struct iopf_rec r = fault_rec();
	static const char meta[] = "tool=iopftool\nversion=0.1.0\nsource=sim";
	char *s;

	s = render(IOPF_OUT_JSON, &r);
	is_str(s, "{\"seq\":0,\"time\":\"2026-11-24T02:21:00.123456789Z\",\"type\":\"fault\","
	       "\"queue\":1,\"dev_id\":3,\"pasid\":1,\"pasid_valid\":true,\"grpid\":2,"
	       "\"perm\":[\"read\",\"write\"],\"last\":true,\"flags\":3,"
	       "\"addr\":\"0x00000000deadb000\",\"length\":0,\"cookie\":1}\n",
	       "fault JSON as SPEC 5");
	free(s);

	r = resp_rec();
	s = render(IOPF_OUT_JSON, &r);
	is_str(s, "{\"seq\":1,\"time\":\"2026-11-24T02:21:00.123456789Z\",\"type\":\"response\","
	       "\"queue\":1,\"cookie\":1,\"code\":\"success\",\"code_raw\":0,\"status\":0,"
	       "\"latency_ns\":1234}\n", "response JSON as SPEC 5");
	free(s);

	r = (struct iopf_rec){ .ts = { T0_SEC, 0 }, .type = IOPF_REC_LOST, .seq = 2, .u.lost = 5 };
	s = render(IOPF_OUT_JSON, &r);
	is_str(s, "{\"seq\":2,\"time\":\"2026-11-24T02:21:00.000000000Z\",\"type\":\"lost\","
	       "\"count\":5}\n", "lost JSON as SPEC 5");
	free(s);

	r = (struct iopf_rec){ .ts = { T0_SEC, 5 }, .type = IOPF_REC_META, .seq = 3,
			       .payload = (const uint8_t *)meta, .payload_len = strlen(meta) };
	s = render(IOPF_OUT_JSON, &r);
	is_str(s, "{\"seq\":3,\"time\":\"2026-11-24T02:21:00.000000005Z\",\"type\":\"meta\","
	       "\"meta\":{\"tool\":\"iopftool\",\"version\":\"0.1.0\",\"source\":\"sim\"}}\n",
	       "meta JSON as SPEC 5");
	free(s);
}

static void test_unknown_bits(void)
{
	struct iopf_rec r = fault_rec();
	char *s;

	r.u.fault.flags = 0x5;	/* PASID_VALID | the leaked RESPONSE_NEEDS_PASID */
	r.u.fault.perm = IOMMU_PGFAULT_PERM_READ | 0x10 | 0x100;
	r.u.fault.addr = 0xffffffffffffffffull;
	s = render(IOPF_OUT_JSON, &r);
	ok(s && strstr(s, "\"perm\":[\"read\",\"0x10\",\"0x100\"]"), "unknown perm bits as hex strings");
	ok(s && strstr(s, "\"last\":false,\"flags\":5,"), "flags 0x5 kept raw, last false");
	ok(s && strstr(s, "\"addr\":\"0xffffffffffffffff\""), "addr with 16 hex digits");
	free(s);

	s = render(IOPF_OUT_TEXT, &r);
	is_str(s, "2026-11-24T02:21:00.123456789Z #0 fault q1 dev 3 pasid 1 grpid 2 perm r---+0x110"
	       " flags 0x5 addr 0xffffffffffffffff cookie 1\n", "text shows unknown perm and flag bits");
	free(s);

	r = resp_rec();
	r.u.resp.code = 7;
	r.status = EINVAL;
	r.seq = UINT64_MAX;
	r.latency_ns = 2500000;
	s = render(IOPF_OUT_JSON, &r);
	ok(s && strstr(s, "\"seq\":18446744073709551615,"), "u64 seq printed exactly");
	ok(s && strstr(s, "\"code\":\"unknown\",\"code_raw\":7,\"status\":22,\"latency_ns\":2500000}"),
	   "unknown code and status");
	free(s);
	s = render(IOPF_OUT_TEXT, &r);
	is_str(s, "2026-11-24T02:21:00.123456789Z #18446744073709551615 response q1 cookie 1"
	       " unknown code 7 rejected EINVAL latency 2.500ms\n", "text response rejected");
	free(s);
}

static void test_text(void)
{
	struct iopf_rec r = fault_rec();
	static const char meta[] = "tool=iopftool\nversion=0.1.0\n";
	char *s;

	s = render(IOPF_OUT_TEXT, &r);
	is_str(s, "2026-11-24T02:21:00.123456789Z #0 fault q1 dev 3 pasid 1 grpid 2 perm rw--"
	       " last addr 0x00000000deadb000 cookie 1\n", "text fault");
	free(s);

	r.u.fault.flags = 0;
	r.u.fault.perm = IOMMU_PGFAULT_PERM_EXEC | IOMMU_PGFAULT_PERM_PRIV;
	r.u.fault.length = 4096;
	r.u.fault.__reserved = 0xab;
	s = render(IOPF_OUT_TEXT, &r);
	is_str(s, "2026-11-24T02:21:00.123456789Z #0 fault q1 dev 3 pasid - grpid 2 perm --xp"
	       " addr 0x00000000deadb000 length 4096 cookie 1 reserved 0xab\n",
	       "text fault without PASID, non-zero length and reserved");
	free(s);

	r = resp_rec();
	s = render(IOPF_OUT_TEXT, &r);
	is_str(s, "2026-11-24T02:21:00.123456789Z #1 response q1 cookie 1 success latency 1.234us\n",
	       "text response");
	free(s);

	r = (struct iopf_rec){ .ts = { T0_SEC, 0 }, .type = IOPF_REC_LOST, .seq = 2, .u.lost = 5 };
	s = render(IOPF_OUT_TEXT, &r);
	is_str(s, "2026-11-24T02:21:00.000000000Z #2 lost 5 records\n", "text lost");
	free(s);

	r = (struct iopf_rec){ .ts = { T0_SEC, 0 }, .type = IOPF_REC_META, .seq = 3,
			       .payload = (const uint8_t *)meta, .payload_len = strlen(meta) };
	s = render(IOPF_OUT_TEXT, &r);
	is_str(s, "2026-11-24T02:21:00.000000000Z #3 meta tool=iopftool version=0.1.0\n", "text meta");
	free(s);

	r.type = 99;
	s = render(IOPF_OUT_TEXT, &r);
	is_str(s, "", "unknown record type prints nothing (text)");
	free(s);
	s = render(IOPF_OUT_JSON, &r);
	is_str(s, "", "unknown record type prints nothing (JSON)");
	free(s);
}

static bool utf8_valid(const char *s)
{
	json_tokener *tok = json_tokener_new();
	json_object *j;
	bool good;

	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	j = json_tokener_parse_ex(tok, s, (int)strlen(s));
	good = j && json_tokener_get_error(tok) == json_tokener_success;
	json_object_put(j);
	json_tokener_free(tok);
	return good;
}

static void test_hostile_meta(void)
{
	/* invalid UTF-8, a NUL, controls, a line without '=', CRLF, no final newline */
	static const uint8_t meta[] = "k\xff=v\xc3\x28\n\x00x=\x1b[31mred\r\nnoeq\n\n=empty\n"
				      "ok=caf\xc3\xa9\nsur=\xed\xa0\x80\nlong=\xf0\x9f\x98";
	struct iopf_rec r = { .type = IOPF_REC_META, .payload = meta,
			      .payload_len = sizeof(meta) - 1 };
	json_object *j, *m, *v;
	char *s;

	s = render(IOPF_OUT_JSON, &r);
	ok(s && utf8_valid(s), "hostile META gives strict, valid UTF-8 JSON");
	j = json_tokener_parse(s);
	ok(json_object_object_get_ex(j, "meta", &m), "meta object present");
	ok(json_object_object_get_ex(m, "ok", &v) && !strcmp(json_object_get_string(v), "caf\xc3\xa9"),
	   "valid UTF-8 kept");
	ok(json_object_object_get_ex(m, "?x", &v) &&
	   !strcmp(json_object_get_string(v), "\x1b[31mred"), "NUL replaced, control kept escaped");
	ok(json_object_object_get_ex(m, "noeq", &v) && !strcmp(json_object_get_string(v), ""),
	   "line without '=' kept with an empty value");
	ok(json_object_object_get_ex(m, "k\xef\xbf\xbd", &v) &&
	   !strcmp(json_object_get_string(v), "v\xef\xbf\xbd("), "invalid bytes become U+FFFD");
	ok(json_object_object_get_ex(m, "", &v), "empty key kept");
	is(json_object_object_length(m), 7, "seven meta keys");
	json_object_put(j);
	free(s);

	s = render(IOPF_OUT_TEXT, &r);
	ok(s && !strchr(s, 0x1b) && strstr(s, " ?x=\\x1b[31mred") && strstr(s, " k\\xff=v\\xc3(") &&
	   strstr(s, " ok=caf\xc3\xa9"), "text escapes controls and invalid bytes");
	ok(s && strchr(s, '\n') == s + strlen(s) - 1, "text META is one line");
	free(s);
}

static void test_pretty(void)
{
	struct iopf_rec r = fault_rec();
	json_object *j, *v;
	char *s;

	s = render(IOPF_OUT_PRETTY, &r);
	ok(s && strstr(s, "{\n  \"seq\": 0,\n  \"time\": "), "pretty: 2-space indent");
	j = json_tokener_parse(s);
	ok(j, "pretty output parses back");
	ok(json_object_object_get_ex(j, "addr", &v) &&
	   !strcmp(json_object_get_string(v), "0x00000000deadb000"), "pretty addr");
	ok(json_object_object_get_ex(j, "perm", &v) && json_object_array_length(v) == 2, "pretty perm");
	json_object_put(j);
	free(s);
}

/* Generic nesting, shape changes and root reuse through the raw API. */
static void test_api(void)
{
	struct sink s;
	char *got;

	sink_open(&s, IOPF_OUT_JSON);
	for (int i = 0; i < 2; i++) {
		iopf_out_begin(s.o);
		iopf_out_str(s.o, "name", "x", "a/b");
		iopf_out_open_object(s.o, "o", NULL);
		iopf_out_int(s.o, "neg", NULL, -5 - i);
		iopf_out_open_array(s.o, "arr", NULL);
		iopf_out_uint(s.o, NULL, NULL, 1);
		if (i == 0)
			iopf_out_uint(s.o, NULL, NULL, 2);
		iopf_out_bool(s.o, "ignored", NULL, true);
		iopf_out_close_array(s.o, NULL);
		iopf_out_close_object(s.o, NULL);
		iopf_out_double(s.o, "d", NULL, 2.5);
		iopf_out_uint(s.o, NULL, NULL, 77);	/* no key in an object: skipped */
		iopf_out_printf(s.o, "text only %d", 1);
		iopf_out_hex64(s.o, "h", NULL, 0x10);
		iopf_out_end(s.o);
	}
	got = sink_take(&s);
	is_str(got, "{\"name\":\"a/b\",\"o\":{\"neg\":-5,\"arr\":[1,2,true]},\"d\":2.5,"
	       "\"h\":\"0x0000000000000010\"}\n"
	       "{\"name\":\"a/b\",\"o\":{\"neg\":-6,\"arr\":[1,true]},\"d\":2.5,"
	       "\"h\":\"0x0000000000000010\"}\n", "nested members, reused and shrunk");
	free(got);

	iopf_out_begin(s.o);
	iopf_out_str(s.o, "name", NULL, "b");
	iopf_out_uint(s.o, "o", NULL, 3);	/* was an object: type change */
	iopf_out_end(s.o);
	iopf_out_begin(s.o);
	iopf_out_end(s.o);
	got = sink_take(&s);
	is_str(got, "{\"name\":\"b\",\"o\":3}\n{}\n", "shape change and empty record");
	free(got);
	sink_close(&s);

	sink_open(&s, IOPF_OUT_TEXT);
	iopf_out_printf(s.o, "outside %s\n", "record");
	iopf_out_begin(s.o);
	iopf_out_uint(s.o, "a", "a=%llu", 18446744073709551615ull);
	iopf_out_int(s.o, "b", " b=%lld", -3LL);
	iopf_out_bool(s.o, "c", " c=%s", false);
	iopf_out_double(s.o, "d", " d=%.1f", 0.25);
	iopf_out_open_array(s.o, "e", " [");
	iopf_out_str(s.o, NULL, "%s", "x");
	iopf_out_close_array(s.o, "]");
	iopf_out_end(s.o);
	got = sink_take(&s);
	is_str(got, "outside record\na=18446744073709551615 b=-3 c=false d=0.2 [x]\n", "text mode API");
	free(got);
	sink_close(&s);
}

static struct iopf_rec random_rec(unsigned int *seed, char *meta, size_t metalen)
{
	struct iopf_rec r = { .ts = { T0_SEC + rand_r(seed) % 1000, rand_r(seed) % 1000000000 } };
	int n;

	r.type = 1 + rand_r(seed) % 4;
	r.seq = (uint64_t)rand_r(seed) << 20;
	r.queue_id = rand_r(seed) % 3;
	switch (r.type) {
	case IOPF_REC_FAULT:
		r.u.fault = (struct iommu_hwpt_pgfault){ .flags = rand_r(seed) % 8,
			.dev_id = rand_r(seed), .pasid = rand_r(seed) % 5, .grpid = rand_r(seed),
			.perm = rand_r(seed) % 64, .addr = (uint64_t)rand_r(seed) << 12,
			.cookie = rand_r(seed) % 100 };
		break;
	case IOPF_REC_RESPONSE:
		r.u.resp = (struct iommu_hwpt_page_response){ rand_r(seed) % 100, rand_r(seed) % 3 };
		r.status = rand_r(seed) % 2 ? 0 : EINVAL;
		r.latency_ns = rand_r(seed);
		break;
	case IOPF_REC_LOST:
		r.u.lost = rand_r(seed);
		break;
	default:
		n = snprintf(meta, metalen, "a=%d\n%s=x\nend=1", rand_r(seed) % 10,
			     rand_r(seed) % 2 ? "b" : "c");
		r.payload = (const uint8_t *)meta;
		r.payload_len = (size_t)n;
	}
	return r;
}

/* One long-lived printer (reused roots) must print what a fresh one does. */
static void test_reuse(enum iopf_out_mode mode)
{
	unsigned int seed = 42;
	struct sink s;
	char meta[64];
	int bad = 0, i;

	sink_open(&s, mode);
	for (i = 0; i < 3000; i++) {
		struct iopf_rec r = random_rec(&seed, meta, sizeof(meta));
		char *fresh = render(mode, &r), *got;

		iopf_rec_print(s.o, &r);
		got = sink_take(&s);
		if (strcmp(got, fresh) && bad++ < 3)
			printf("# record %d:\n#   got:    %s#   wanted: %s", i, got, fresh);
		free(got);
		free(fresh);
	}
	is(bad, 0, "3000 mixed records through one printer match fresh ones (mode %d)", mode);
	sink_close(&s);
}

/* Random bytes as META and as fault fields: JSON output always parses. */
static void test_fuzz_json(void)
{
	unsigned int seed = 9;
	uint8_t pay[96];
	int bad = 0;

	for (int i = 0; i < 3000; i++) {
		struct iopf_rec r = { .type = i % 2 ? IOPF_REC_META : IOPF_REC_FAULT };
		size_t len = (size_t)rand_r(&seed) % sizeof(pay);
		char *s;

		for (size_t k = 0; k < len; k++)
			pay[k] = (uint8_t)(rand_r(&seed) % 4 ? rand_r(&seed) : "=\n\r\""[k % 4]);
		r.payload = pay;
		r.payload_len = len;
		r.ts.tv_sec = (time_t)rand_r(&seed) * (rand_r(&seed) % 2 ? 1 : -1);
		r.ts.tv_nsec = rand_r(&seed);
		r.u.fault.flags = (uint32_t)rand_r(&seed);
		r.u.fault.perm = (uint32_t)rand_r(&seed) << 1;
		s = render(IOPF_OUT_JSON, &r);
		if (!utf8_valid(s) && bad++ < 3)
			printf("# invalid JSON: %s", s);
		free(s);
	}
	is(bad, 0, "3000 random META and fault records give valid JSON");
}

/*
 * The emitter writes what json-c writes: parse each document with json-c,
 * serialize it again with the same flags, and compare the bytes.  (Our
 * \u escapes of C1 controls and bidi overrides are the one difference:
 * such documents are only parsed.)
 */
static int json_c_same(const char *doc, int flags, const char *what)
{
	json_object *j;
	const char *again;
	char *line, *save = NULL, *copy = strdup(doc);
	int bad = 0;

	for (line = strtok_r(copy, "\n", &save); line && !(flags & JSON_C_TO_STRING_PRETTY);
	     line = strtok_r(NULL, "\n", &save)) {
		j = json_tokener_parse(line);
		again = j ? json_object_to_json_string_ext(j, flags) : NULL;
		if (!again || (strcmp(again, line) && !strstr(line, "\\u00") && !strstr(line, "\\u20"))) {
			if (bad++ < 3)
				printf("# %s:\n#   ours:   %s\n#   json-c: %s\n", what, line,
				       again ? again : "(does not parse)");
		}
		json_object_put(j);
	}
	if (flags & JSON_C_TO_STRING_PRETTY) {
		size_t n = strlen(doc);

		j = json_tokener_parse(doc);
		again = j ? json_object_to_json_string_ext(j, flags) : NULL;
		/* ours ends each document with a newline */
		if (!again || strlen(again) + 1 != n || strncmp(again, doc, n - 1)) {
			bad++;
			printf("# %s (pretty):\n# ours:\n%s# json-c:\n%s\n", what, doc,
			       again ? again : "(does not parse)");
		}
		json_object_put(j);
	}
	free(copy);
	return bad;
}

#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define PRETTY_FLAGS (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | \
		      JSON_C_TO_STRING_NOSLASHESCAPE)

static void test_json_c_bytes(void)
{
	unsigned int seed = 5;
	char meta[64], *got;
	struct sink s;
	int bad = 0, i;

	sink_open(&s, IOPF_OUT_JSON);
	for (i = 0; i < 2000; i++) {
		struct iopf_rec r = random_rec(&seed, meta, sizeof(meta));

		iopf_rec_print(s.o, &r);
	}
	got = sink_take(&s);
	bad = json_c_same(got, JSON_FLAGS, "random record");
	free(got);
	is(bad, 0, "2000 random records: the bytes json-c writes");

	/* every byte value in strings and keys, nesting, empty containers */
	for (i = 0; i < 256; i++) {
		char str[8] = { 'a', (char)(i ? i : '0'), 'b', 0 };

		iopf_out_begin(s.o);
		iopf_out_str(s.o, str, NULL, str);
		iopf_out_open_array(s.o, "e", NULL);
		iopf_out_close_array(s.o, NULL);
		iopf_out_open_object(s.o, "o", NULL);
		iopf_out_open_array(s.o, "a", NULL);
		iopf_out_open_object(s.o, NULL, NULL);
		iopf_out_close_object(s.o, NULL);
		iopf_out_int(s.o, NULL, NULL, -(int64_t)i * 1000000007);
		iopf_out_double(s.o, NULL, NULL, i / 7.0);
		iopf_out_close_array(s.o, NULL);
		iopf_out_close_object(s.o, NULL);
		iopf_out_end(s.o);
	}
	got = sink_take(&s);
	is(json_c_same(got, JSON_FLAGS, "byte strings"), 0, "every byte in keys and strings as json-c");
	free(got);
	sink_close(&s);

	for (i = 0; i < 4; i++) {
		struct iopf_report rep = { .groups = 3, .v = { [IOPF_V_LATE] = (uint64_t)i },
					   .ok = i == 0, .latency_ns = { .count = (uint64_t)i, .p50 = 1500 } };
		uint32_t capd[2] = { 1, 2 }, lived[2] = { 1, 5 };

		rep.dev_capture = capd;
		rep.dev_live = lived;
		rep.ndevs = (size_t)i % 3;
		sink_open(&s, IOPF_OUT_PRETTY);
		iopf_report_print(s.o, "c.pcap", "sim", i % 2 ? "recorded" : NULL, &rep);
		got = sink_take(&s);
		is(json_c_same(got, PRETTY_FLAGS, "report"), 0, "pretty report %d as json-c", i);
		free(got);
		sink_close(&s);
	}
	sink_open(&s, IOPF_OUT_PRETTY);
	iopf_out_begin(s.o);
	iopf_out_open_array(s.o, "empty", NULL);
	iopf_out_close_array(s.o, NULL);
	iopf_out_open_object(s.o, "eo", NULL);
	iopf_out_close_object(s.o, NULL);
	iopf_out_open_array(s.o, "nest", NULL);
	iopf_out_open_array(s.o, NULL, NULL);
	iopf_out_uint(s.o, NULL, NULL, 1);
	iopf_out_close_array(s.o, NULL);
	iopf_out_close_array(s.o, NULL);
	iopf_out_end(s.o);
	iopf_out_begin(s.o);
	iopf_out_end(s.o);
	got = sink_take(&s);
	{
		char *second = strstr(got, "}\n{");

		ok(second && !strcmp(second + 2, "{\n}\n"), "empty pretty document as json-c: {\\n}");
		if (second)
			second[2] = '\0';
		is(json_c_same(got, PRETTY_FLAGS, "pretty nesting"), 0, "pretty empty and nested containers as json-c");
	}
	free(got);
	sink_close(&s);
}

/* C1 controls and bidi overrides, raw in a capture, never reach a terminal. */
static void test_terminal_controls(void)
{
	static const char meta[] = "csi=a\xc2\x9b" "31mred\nrlo=\xe2\x80\xae" "evil\n"
				   "iso=\xe2\x81\xa6x\xe2\x81\xa9\nok=\xc2\xa0nbsp\xe2\x80\xa9";
	struct iopf_rec r = { .type = IOPF_REC_META, .payload = (const uint8_t *)meta,
			      .payload_len = sizeof(meta) - 1 };
	json_object *j, *m, *v;
	char *s, buf[64];

	s = render(IOPF_OUT_TEXT, &r);
	ok(s && strstr(s, " csi=a\\xc2\\x9b31mred") && strstr(s, " rlo=\\xe2\\x80\\xaeevil") &&
	   strstr(s, " iso=\\xe2\\x81\\xa6x\\xe2\\x81\\xa9"), "text: C1 and bidi bytes escaped");
	ok(s && strstr(s, " ok=\xc2\xa0nbsp\xe2\x80\xa9"), "text: other non-ASCII kept");
	ok(s && !strstr(s, "\xc2\x9b") && !strstr(s, "\xe2\x80\xae"), "text: none of them raw");
	free(s);
	s = render(IOPF_OUT_JSON, &r);
	ok(s && strstr(s, "\"a\\u009b31mred\"") && strstr(s, "\"\\u202eevil\""),
	   "JSON: C1 and bidi as \\u escapes");
	j = json_tokener_parse(s);
	ok(json_object_object_get_ex(j, "meta", &m) && json_object_object_get_ex(m, "rlo", &v) &&
	   !strcmp(json_object_get_string(v), "\xe2\x80\xae" "evil"), "JSON: the same string parsed back");
	json_object_put(j);
	free(s);
	iopf_str_escape("f\x1b[2J\xc2\x9b\xe2\x80\xae\xff.pcap", buf, sizeof(buf));
	is_str(buf, "f\\x1b[2J\\xc2\\x9b\\xe2\\x80\\xae\\xff.pcap", "iopf_str_escape: a hostile file name");
	is(iopf_str_escape("abc\x01", buf, 4), 7, "iopf_str_escape: full length returned");
	is_str(buf, "abc", "iopf_str_escape: truncated and terminated");
}

/* A repeated META key: one JSON member, where the first was, with the last value (as json-c). */
static void test_meta_repeat(void)
{
	static const char meta[] = "a=1\nb=2\na=3\nk\xff=x\nk\xfe=y\nb";
	struct iopf_rec r = { .type = IOPF_REC_META, .payload = (const uint8_t *)meta,
			      .payload_len = sizeof(meta) - 1 };
	char *s = render(IOPF_OUT_JSON, &r);

	ok(s && strstr(s, "\"meta\":{\"a\":\"3\",\"b\":\"\",\"k\xef\xbf\xbd\":\"y\"}"),
	   "repeated keys merged as json-c merges them: %s", s);
	free(s);
	s = render(IOPF_OUT_TEXT, &r);
	ok(s && strstr(s, " a=1 b=2 a=3 k\\xff=x k\\xfe=y b="), "text shows every line");
	free(s);
}

/* The text formatter against the C library's printf, conversion by conversion. */
static void test_printf_compat(void)
{
	static const char *const ifmt[] = {
		"%d", "%5d", "%-5d|", "%05d", "%+d", "% d", "%.3d", "%8.3d", "%-8.3d|", "%x", "%#x",
		"%08x", "%#010x", "%X", "%o", "%#o", "%u", "%lu", "%llu", "%lld", "%hhu", "%hd",
		"%zu", "%.0d", "%c", "%%", "a%%b%d", "%5.0x|", "%#.0o", "x%016lx", "%jd", "%-3c|",
	};
	static const char *const sfmt[] = { "%s", "%10s|", "%-10s|", "%.2s", "%8.3s|", "%-*s|" };
	static const char *const dfmt[] = { "%.1f", "%g", "%10.3e", "%-8.2f|", "%+.0f", "%.15g" };
	static const long long ivals[] = { 0, 1, -1, 7, 42, -42, 255, 4096, 65535, 2147483647,
					   -2147483647 - 1, 1234567890123LL };
	char want[128], *got;
	struct sink s;
	int bad = 0, n = 0;

	sink_open(&s, IOPF_OUT_TEXT);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat"
	for (size_t f = 0; f < ARRAY_SIZE(ifmt); f++) {
		for (size_t v = 0; v < ARRAY_SIZE(ivals); v++) {
			const char *fmt = ifmt[f];
			long long x = ivals[v];

			/* the value as the conversion's type reads it */
			if (strstr(fmt, "ll") || strstr(fmt, "l") || strstr(fmt, "z") || strstr(fmt, "j"))
				snprintf(want, sizeof(want), fmt, x);
			else
				snprintf(want, sizeof(want), fmt, (int)x);
			if (strstr(fmt, "ll") || strstr(fmt, "l") || strstr(fmt, "z") || strstr(fmt, "j"))
				iopf_out_printf(s.o, fmt, x);
			else
				iopf_out_printf(s.o, fmt, (int)x);
			got = sink_take(&s);
			n++;
			if (strcmp(got, want) && bad++ < 5)
				printf("# \"%s\" of %lld: got \"%s\", printf \"%s\"\n", fmt, x, got, want);
			free(got);
		}
	}
	for (size_t f = 0; f < ARRAY_SIZE(sfmt); f++) {
		const char *strs[] = { "", "a", "hello", "hello world!" };

		for (size_t v = 0; v < ARRAY_SIZE(strs); v++) {
			if (strstr(sfmt[f], "*")) {
				snprintf(want, sizeof(want), sfmt[f], 7, strs[v]);
				iopf_out_printf(s.o, sfmt[f], 7, strs[v]);
			} else {
				snprintf(want, sizeof(want), sfmt[f], strs[v]);
				iopf_out_str(s.o, NULL, sfmt[f], strs[v]);
			}
			got = sink_take(&s);
			n++;
			if (strcmp(got, want) && bad++ < 5)
				printf("# \"%s\" of \"%s\": got \"%s\", printf \"%s\"\n", sfmt[f], strs[v], got, want);
			free(got);
		}
	}
	for (size_t f = 0; f < ARRAY_SIZE(dfmt); f++) {
		double d = 1234.5678 * (f % 2 ? -1 : 1);

		snprintf(want, sizeof(want), dfmt[f], d);
		iopf_out_double(s.o, NULL, dfmt[f], d);
		got = sink_take(&s);
		n++;
		if (strcmp(got, want) && bad++ < 5)
			printf("# \"%s\": got \"%s\", printf \"%s\"\n", dfmt[f], got, want);
		free(got);
	}
	/* typed values through the cached fast paths, u64 and hex */
	iopf_out_uint(s.o, NULL, " q%" PRIu64, UINT64_MAX);
	iopf_out_hex64(s.o, NULL, " addr 0x%016" PRIx64, 0x1234abcdull);
	iopf_out_int(s.o, NULL, " i%" PRId64 "!", INT64_MIN);
	iopf_out_uint(s.o, NULL, "+0x%" PRIx64, 0x110);
	got = sink_take(&s);
	n++;
	if (strcmp(got, " q18446744073709551615 addr 0x000000001234abcd i-9223372036854775808!+0x110") &&
	    bad++ < 5)
		printf("# typed: got \"%s\"\n", got);
	free(got);
	/* a format that is not in read-only memory (not cached) and changes under the same address */
	{
		char fmt[32];

		for (int i = 0; i < 3; i++) {
			snprintf(fmt, sizeof(fmt), " v%d=%%" PRIu64, i);
			iopf_out_uint(s.o, NULL, fmt, (uint64_t)i * 10);
		}
		got = sink_take(&s);
		n++;
		if (strcmp(got, " v0=0 v1=10 v2=20") && bad++ < 5)
			printf("# stack formats: got \"%s\"\n", got);
		free(got);
	}
	iopf_out_printf(s.o, "100%% %n%q|%");
	got = sink_take(&s);
	n++;
	if (strcmp(got, "100% %n%q|%") && bad++ < 5)
		printf("# not conversions: got \"%s\"\n", got);
	free(got);
#pragma GCC diagnostic pop
	sink_close(&s);
	is(bad, 0, "%d formats printed as printf prints them", n);
}

/* A caller that frees without flushing still gets its output (examples/sim-handler.c does). */
static void test_free_writes(void)
{
	struct iopf_rec r = fault_rec();
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct iopf_out *o = iopf_out_new(f, IOPF_OUT_TEXT);

	iopf_rec_print(o, &r);
	iopf_out_free(o);
	fclose(f);
	ok(buf && strstr(buf, " fault q1 dev 3 ") && buf[len - 1] == '\n', "iopf_out_free() writes the buffer");
	free(buf);
}

static void test_write_error(void)
{
	FILE *f = fopen("/dev/full", "w");
	struct iopf_out *o;
	struct iopf_rec r = fault_rec();

	if (!ok(f != NULL, "open /dev/full"))
		return;
	o = iopf_out_new(f, IOPF_OUT_JSON);
	iopf_rec_print(o, &r);
	is(iopf_out_flush(o), -ENOSPC, "flush on a full disk reports ENOSPC");
	is(iopf_out_flush(o), -ENOSPC, "and keeps reporting it");
	iopf_out_free(o);
	fclose(f);
}

int main(void)
{
	test_spec_json();
	test_unknown_bits();
	test_text();
	test_hostile_meta();
	test_pretty();
	test_api();
	test_reuse(IOPF_OUT_JSON);
	test_reuse(IOPF_OUT_PRETTY);
	test_reuse(IOPF_OUT_TEXT);
	test_fuzz_json();
	test_json_c_bytes();
	test_terminal_controls();
	test_meta_repeat();
	test_printf_compat();
	test_free_writes();
	test_write_error();
	return tap_done();
}
