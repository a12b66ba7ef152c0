// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the capture reader, the record decoder and both
 * printers on hostile bytes (iopftool-capture(5)).
 *
 * An input that starts with a pcap or pcapng magic is a capture file: it
 * is written to a memfd and opened as /dev/fd/N through
 * iopf_reader_open(), which only takes paths, and every record is read,
 * printed as text and as JSON, and fed to the response checker the way
 * `stats --check` would.  Any other input is one raw record: it goes to
 * iopf_rec_decode() directly, is printed, round-tripped through
 * iopf_rec_encode(), and also wrapped into a one-record classic pcap so
 * that well-formed records reach the reader too.
 *
 * Besides "no crash, no leak, no undefined behaviour" the target asserts:
 *  - the reader ends in 1 / 0 / -EBADMSG / another -errno, never loops:
 *    a fatal error is sticky, the record number only grows, and a
 *    record's offset lies inside the file;
 *  - every error leaves a message in iopf_reader_error();
 *  - a record's payload lies inside the record the decoder was given;
 *  - text output: one line per record, no control byte but the '\n';
 *  - JSON output: one line per record that json-c parses strictly as
 *    valid UTF-8, an object with the record's "seq" and "type";
 *  - the JSON printer keeps record shapes cached between records
 *    (lib/out.c): a record printed after others gives exactly the
 *    bytes it gives printed alone;
 *  - decode(encode(decode(x))) == decode(x) for the fixed types.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "iopf.h"

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz-capture: %s:%d: check failed: %s\n", \
			__FILE__, __LINE__, #cond);			\
		abort();						\
	}								\
} while (0)

#define MAX_RECORDS 4096	/* records printed per input: keeps runs fast */
#define MAX_ALONE 64		/* of which compared with a fresh printer */

static int memfd = -1;
static char memfd_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	memfd = memfd_create("fuzz-capture", MFD_CLOEXEC);
	if (memfd < 0) {
		perror("memfd_create");
		abort();
	}
	snprintf(memfd_path, sizeof(memfd_path), "/dev/fd/%d", memfd);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Output checks                                                       */
/* ------------------------------------------------------------------ */

struct printer {
	FILE *f;
	char *buf;
	size_t len;
	struct iopf_out *o;
};

static void printer_open(struct printer *p, enum iopf_out_mode mode)
{
	p->buf = NULL;
	p->len = 0;
	p->f = open_memstream(&p->buf, &p->len);
	CHECK(p->f);
	p->o = iopf_out_new(p->f, mode);
	CHECK(p->o);
}

/* Close the stream; the caller frees p->buf. */
static void printer_close(struct printer *p)
{
	CHECK(iopf_out_flush(p->o) == 0);
	iopf_out_free(p->o);
	CHECK(fclose(p->f) == 0);
}

/* Print r alone with a fresh printer; returns the malloc'd bytes. */
static char *print_alone(const struct iopf_rec *r, enum iopf_out_mode mode, size_t *len)
{
	struct printer p;

	printer_open(&p, mode);
	iopf_rec_print(p.o, r);
	printer_close(&p);
	*len = p.len;
	return p.buf;
}

/* A type the record-type table knows (lib/record.c; the tap's types included). */
static bool known_type(uint8_t type)
{
	return strcmp(iopf_rec_type_name(type), "unknown") != 0;
}

static void check_text_line(const char *s, size_t n)
{
	CHECK(n > 0 && s[n - 1] == '\n');
	for (size_t i = 0; i + 1 < n; i++)
		CHECK((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] != 0x7f);
}

static void check_json_line(const char *s, size_t n, const struct iopf_rec *r)
{
	struct json_tokener *tok;
	json_object *j, *v;

	CHECK(n > 0 && s[n - 1] == '\n' && memchr(s, '\n', n) == s + n - 1);
	tok = json_tokener_new();
	CHECK(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	j = json_tokener_parse_ex(tok, s, (int)(n - 1));
	if (!j || json_tokener_get_parse_end(tok) != n - 1)
		fprintf(stderr, "fuzz-capture: bad JSON line: %.*s\n", (int)n, s);
	CHECK(j && json_tokener_get_parse_end(tok) == n - 1);
	json_tokener_free(tok);
	CHECK(json_object_is_type(j, json_type_object));
	CHECK(json_object_object_get_ex(j, "seq", &v));
	CHECK((uint64_t)json_object_get_uint64(v) == r->seq);
	CHECK(json_object_object_get_ex(j, "type", &v));
	CHECK(json_object_is_type(v, json_type_string));
	json_object_put(j);
}

/*
 * Print r on the long-lived text and JSON printers, and check the new
 * bytes against the rules above and against a fresh printer.
 */
static void print_checked(struct printer *text, struct printer *json, const struct iopf_rec *r,
			  bool alone_too)
{
	size_t t0 = text->len, j0 = json->len, n;
	char *alone;

	iopf_rec_print(text->o, r);
	iopf_rec_print(json->o, r);
	/* the printers buffer whole records themselves (lib/out.c): flush them, then the streams */
	CHECK(iopf_out_flush(text->o) == 0 && iopf_out_flush(json->o) == 0);
	CHECK(fflush(text->f) == 0 && fflush(json->f) == 0);
	if (!known_type(r->type)) {	/* unknown types print nothing */
		CHECK(text->len == t0 && json->len == j0);
		return;
	}
	check_text_line(text->buf + t0, text->len - t0);
	check_json_line(json->buf + j0, json->len - j0, r);
	if (!alone_too)
		return;
	alone = print_alone(r, IOPF_OUT_JSON, &n);
	if (n != json->len - j0 || memcmp(alone, json->buf + j0, n))
		fprintf(stderr, "fuzz-capture: streamed JSON\n  %.*s differs from alone\n  %.*s",
			(int)(json->len - j0), json->buf + j0, (int)n, alone);
	CHECK(n == json->len - j0 && !memcmp(alone, json->buf + j0, n));
	free(alone);
	alone = print_alone(r, IOPF_OUT_TEXT, &n);
	CHECK(n == text->len - t0 && !memcmp(alone, text->buf + t0, n));
	free(alone);
}

/* ------------------------------------------------------------------ */
/* The checker, as stats --check drives it (one record = one group)    */
/* ------------------------------------------------------------------ */

static void check_feed(struct iopf_check *c, const struct iopf_rec *r, uint64_t *t)
{
	uint64_t lat;
	enum iopf_verdict v;

	*t += 1000;
	if (r->type == IOPF_REC_FAULT && (r->u.fault.flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE)) {
		iopf_check_delivered(c, r->queue_id, &r->u.fault, 1, *t);
	} else if (r->type == IOPF_REC_RESPONSE) {
		v = iopf_check_response(c, r->queue_id, &r->u.resp, r->status, *t, &lat);
		CHECK((unsigned int)v < IOPF_V_COUNT && v != IOPF_V_UNANSWERED);
		CHECK(strcmp(iopf_verdict_name(v), "unknown"));
		if (v != IOPF_OK && v != IOPF_V_LATE)
			CHECK(lat == 0);
	}
}

static void check_report(struct iopf_check *c, uint64_t faults, uint64_t responses)
{
	struct iopf_report rep;
	uint64_t sum = 0;

	iopf_check_finish(c, &rep);
	CHECK(rep.faults == faults && rep.groups == faults && rep.responses == responses);
	for (int i = 0; i < IOPF_V_COUNT; i++)
		if (i != IOPF_V_UNANSWERED && i != IOPF_V_LATE)
			sum += rep.v[i];
	CHECK(sum == responses);	/* every response has exactly one class */
	CHECK(rep.v[IOPF_OK] + rep.v[IOPF_V_UNANSWERED] == rep.groups);
	CHECK(rep.latency_ns.count == rep.v[IOPF_OK]);
	CHECK(rep.latency_ns.min <= rep.latency_ns.p50 && rep.latency_ns.p50 <= rep.latency_ns.max);
}

/* ------------------------------------------------------------------ */
/* Captures                                                            */
/* ------------------------------------------------------------------ */

static void fuzz_capture(const uint8_t *data, size_t size)
{
	struct printer text, json;
	struct iopf_reader *rd;
	struct iopf_check *chk;
	struct iopf_rec r;
	uint64_t recno = 0, faults = 0, responses = 0, t = 0;
	char err[512];
	int rc, n = 0;

	CHECK(ftruncate(memfd, 0) == 0);
	CHECK(pwrite(memfd, data, size, 0) == (ssize_t)size);
	rc = iopf_reader_open(&rd, memfd_path, err, sizeof(err));
	if (rc < 0) {
		CHECK(!rd && err[0]);
		return;
	}
	CHECK(rd && iopf_reader_linktype(rd) >= IOPF_LINKTYPE_MIN &&
	      iopf_reader_linktype(rd) <= IOPF_LINKTYPE_MAX);
	CHECK(iopf_check_new(&chk, &(struct iopf_check_cfg){ .deadline_ns = 5000 }) == 0);
	printer_open(&text, IOPF_OUT_TEXT);
	printer_open(&json, IOPF_OUT_JSON);
	for (;;) {
		memset(&r, 0xa5, sizeof(r));	/* nothing stale may pass for decoded */
		rc = iopf_reader_next(rd, &r);
		if (rc == 0)
			break;
		CHECK(iopf_reader_recno(rd) > recno);
		recno = iopf_reader_recno(rd);
		if (iopf_reader_offset(rd) != UINT64_MAX)
			CHECK(iopf_reader_offset(rd) < size);
		if (rc == -EBADMSG) {
			CHECK(iopf_reader_error(rd)[0]);
			continue;
		}
		if (rc < 0) {	/* fatal, and sticky */
			CHECK(iopf_reader_error(rd)[0]);
			CHECK(iopf_reader_next(rd, &r) == rc);
			break;
		}
		CHECK(rc == 1 && r.version == IOPF_REC_VERSION && r.hdr_len >= IOPF_REC_HDR_LEN);
		CHECK(r.payload_len < IOPF_SNAPLEN * 4u);
		if (r.type == IOPF_REC_FAULT && (r.u.fault.flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE))
			faults++;
		if (r.type == IOPF_REC_RESPONSE)
			responses++;
		check_feed(chk, &r, &t);
		if (n < MAX_RECORDS)
			print_checked(&text, &json, &r, n < MAX_ALONE);
		n++;
	}
	check_report(chk, faults, responses);
	iopf_check_free(chk);
	printer_close(&text);
	printer_close(&json);
	free(text.buf);
	free(json.buf);
	iopf_reader_free(rd);
}

static bool is_capture(const uint8_t *d, size_t n)
{
	static const uint8_t magics[][4] = {
		{ 0xd4, 0xc3, 0xb2, 0xa1 }, { 0xa1, 0xb2, 0xc3, 0xd4 },	/* usec */
		{ 0x4d, 0x3c, 0xb2, 0xa1 }, { 0xa1, 0xb2, 0x3c, 0x4d },	/* nsec */
		{ 0x0a, 0x0d, 0x0d, 0x0a },				/* pcapng SHB */
	};

	for (size_t i = 0; n >= 4 && i < sizeof(magics) / sizeof(magics[0]); i++)
		if (!memcmp(d, magics[i], 4))
			return true;
	return false;
}

/* ------------------------------------------------------------------ */
/* Raw records                                                         */
/* ------------------------------------------------------------------ */

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);	/* host order: the pcap magic says which */
}

/* data as the one record of a nanosecond classic pcap, then read back. */
static void fuzz_wrapped(const uint8_t *data, size_t size)
{
	uint8_t *img;
	size_t n = 24 + 16 + size;

	if (size > IOPF_SNAPLEN)
		return;
	img = malloc(n);
	CHECK(img);
	put32(img, 0xa1b23c4d);
	put32(img + 4, 2 | 4u << 16);	/* version 2.4 */
	put32(img + 8, 0);
	put32(img + 12, 0);
	put32(img + 16, IOPF_SNAPLEN);
	put32(img + 20, IOPF_LINKTYPE_DEFAULT);
	put32(img + 24, 1767225600);	/* 2026-01-01 */
	put32(img + 28, size ? data[0] * 3900000u : 0);
	put32(img + 32, (uint32_t)size);
	put32(img + 36, (uint32_t)size);
	memcpy(img + 40, data, size);
	fuzz_capture(img, n);
	free(img);
}

static void same_fixed(const struct iopf_rec *a, const struct iopf_rec *b)
{
	CHECK(a->type == b->type && a->queue_id == b->queue_id && a->status == b->status &&
	      a->seq == b->seq && a->latency_ns == b->latency_ns);
	switch (a->type) {
	case IOPF_REC_FAULT:
		CHECK(!memcmp(&a->u.fault, &b->u.fault, sizeof(a->u.fault)));
		break;
	case IOPF_REC_RESPONSE:
		CHECK(!memcmp(&a->u.resp, &b->u.resp, sizeof(a->u.resp)));
		break;
	case IOPF_REC_LOST:
		CHECK(a->u.lost == b->u.lost);
		break;
	default:
		CHECK(a->payload_len == b->payload_len &&
		      (!a->payload_len || !memcmp(a->payload, b->payload, a->payload_len)));
	}
}

static void fuzz_record(const uint8_t *data, size_t size)
{
	struct iopf_rec r = { .ts = { 1767225600, 0 } }, back = r;
	struct printer text, json;
	enum iopf_bad why;
	uint8_t *buf;
	size_t n, cap = size + 64;

	why = iopf_rec_decode(data, size, &r);
	CHECK(strcmp(iopf_bad_name(why), "unknown error"));
	if (why != IOPF_BAD_NONE) {
		CHECK(r.ts.tv_sec == 1767225600);	/* untouched */
		return;
	}
	CHECK(r.ts.tv_sec == 1767225600 && r.ts.tv_nsec == 0);
	CHECK(r.hdr_len >= IOPF_REC_HDR_LEN && r.hdr_len <= size);
	CHECK(r.payload == data + r.hdr_len && r.payload_len == size - r.hdr_len);

	printer_open(&text, IOPF_OUT_TEXT);
	printer_open(&json, IOPF_OUT_PRETTY);
	iopf_rec_print(text.o, &r);
	iopf_rec_print(json.o, &r);
	printer_close(&text);
	printer_close(&json);
	if (known_type(r.type)) {
		json_object *j = json_tokener_parse(json.buf);

		check_text_line(text.buf, text.len);
		CHECK(j && json_object_is_type(j, json_type_object));
		json_object_put(j);
	}
	free(text.buf);
	free(json.buf);

	buf = malloc(cap);
	CHECK(buf);
	n = iopf_rec_encode(&r, buf, cap);
	CHECK(n >= IOPF_REC_HDR_LEN && n <= IOPF_REC_HDR_LEN + r.payload_len);
	CHECK(iopf_rec_encode(&r, buf, IOPF_REC_HDR_LEN - 1) == 0);
	CHECK(iopf_rec_decode(buf, n, &back) == IOPF_BAD_NONE);
	same_fixed(&r, &back);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
#ifdef FUZZ_RECORD_ONLY		/* fuzz-record.c */
	fuzz_record(data, size);
	return 0;
#endif
	if (is_capture(data, size)) {
		fuzz_capture(data, size);
	} else {
		fuzz_record(data, size);
		fuzz_wrapped(data, size);
	}
	return 0;
}
