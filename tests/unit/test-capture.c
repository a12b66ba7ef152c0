// SPDX-License-Identifier: MIT
/*
 * Capture files: the writer read back, and pcap/pcapng files built byte
 * by byte in either byte order and precision, truncated or corrupt.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "iopf.h"
#include "internal.h"	/* what only libiopf and its tests use */
#include "tap.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define T0 1795486860		/* 2026-11-24T02:21:00Z */

static char tmpdir[64];

static const char *tmp_path(const char *name)
{
	static char path[4][128];
	static int next;
	char *p = path[next++ % 4];

	snprintf(p, sizeof(path[0]), "%s/%s", tmpdir, name);
	return p;
}

static void write_file(const char *path, const void *b, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(b, 1, len, f) != len || fclose(f))
		printf("# cannot write %s\n", path);
}

/* A byte builder for file headers in either byte order. */
struct bb {
	uint8_t b[4096];
	size_t n;
	bool be;
};

static void bb_raw(struct bb *b, const void *p, size_t len)
{
	memcpy(b->b + b->n, p, len);
	b->n += len;
}

static void bb_u16(struct bb *b, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	if (b->be)
		x[0] = (uint8_t)(v >> 8), x[1] = (uint8_t)v;
	bb_raw(b, x, 2);
}

static void bb_u32(struct bb *b, uint32_t v)
{
	uint8_t x[4];

	for (int i = 0; i < 4; i++)
		x[b->be ? 3 - i : i] = (uint8_t)(v >> (8 * i));
	bb_raw(b, x, 4);
}

static void bb_pad4(struct bb *b)
{
	while (b->n % 4)
		b->b[b->n++] = 0;
}

/* A record's bytes (always little-endian inside). */
static size_t mkrec(uint8_t *buf, uint8_t type, uint64_t seq, uint32_t cookie)
{
	struct iopf_rec r = { .type = type, .seq = seq, .queue_id = 1 };

	if (type == IOPF_REC_FAULT)
		r.u.fault = (struct iommu_hwpt_pgfault){ .flags = 2, .dev_id = 3, .cookie = cookie,
							 .addr = 0xdeadb000 };
	else if (type == IOPF_REC_RESPONSE)
		r.u.resp.cookie = cookie;
	else
		r.u.lost = cookie;
	return iopf_rec_encode(&r, buf, 128);
}

static uint16_t pcap_minor = 4;	/* 3: an older header, left to libpcap */

static void pcap_header(struct bb *b, uint32_t magic, uint32_t linktype)
{
	bb_u32(b, magic);
	bb_u16(b, 2);
	bb_u16(b, pcap_minor);
	bb_u32(b, 0);
	bb_u32(b, 0);
	bb_u32(b, 65535);
	bb_u32(b, linktype);
}

static void pcap_record(struct bb *b, uint32_t sec, uint32_t frac, const uint8_t *p, size_t len)
{
	bb_u32(b, sec);
	bb_u32(b, frac);
	bb_u32(b, (uint32_t)len);
	bb_u32(b, (uint32_t)len);
	bb_raw(b, p, len);
}

static void test_write_read(void)
{
	const char *path = tmp_path("rw.pcap");
	static const uint8_t odd[] = { 1, 2, 3 };
	struct iopf_rec w[] = {
		{ .ts = { T0, 123456789 }, .type = IOPF_REC_FAULT, .queue_id = 4, .seq = 77,
		  .u.fault = { .flags = 7, .dev_id = 3, .pasid = 1, .grpid = 2, .perm = 3,
			       .addr = 0xdeadb000, .cookie = 1 } },
		{ .ts = { T0, 999999999 }, .type = IOPF_REC_RESPONSE, .queue_id = 4, .status = 22,
		  .latency_ns = 1234, .u.resp = { .cookie = 1, .code = 1 } },
		{ .ts = { T0 + 1, 0 }, .type = IOPF_REC_LOST, .u.lost = 5 },
		{ .ts = { T0 + 2, 1 }, .type = 9, .payload = odd, .payload_len = sizeof(odd) },
	};
	struct timespec mts = { T0 + 3, 42 };
	struct iopf_writer *wr;
	struct iopf_reader *rd;
	struct iopf_rec r;
	uint8_t hdr[24];
	uint32_t v;
	char err[256];
	uint64_t off = 24;
	FILE *f;

	is(iopf_writer_open(&wr, path, IOPF_LINKTYPE_DEFAULT, err, sizeof(err)), 0, "writer opens");
	for (size_t i = 0; i < ARRAY_SIZE(w); i++)
		is(iopf_writer_put(wr, &w[i]), 0, "put record %zu", i);
	is(w[0].seq, 0, "put sets seq from 0");
	is(w[3].seq, 3, "put numbers records");
	is(iopf_writer_meta(wr, &mts, "tool=iopftool\nend=1"), 0, "meta");
	is(iopf_writer_count(wr), 5, "five records written");
	is(iopf_writer_close(wr), 0, "writer closes cleanly");

	f = fopen(path, "rb");
	ok(f && fread(hdr, 1, sizeof(hdr), f) == sizeof(hdr), "read file header");
	if (f)
		fclose(f);
	memcpy(&v, hdr, 4);
	is(v, 0xa1b23c4d, "ns magic in host order");
	memcpy(&v, hdr + 16, 4);
	is(v, 65535, "snaplen 65535");
	memcpy(&v, hdr + 20, 4);
	is(v, 147, "link type 147");

	is(iopf_reader_open(&rd, path, err, sizeof(err)), 0, "reader opens");
	is(iopf_reader_linktype(rd), 147, "reader link type");
	ok(!strcmp(iopf_reader_path(rd), path), "reader path");
	for (size_t i = 0; i < ARRAY_SIZE(w); i++) {
		is(iopf_reader_next(rd, &r), 1, "record %zu read", i);
		ok(r.seq == i && r.type == w[i].type && r.queue_id == w[i].queue_id &&
		   r.status == w[i].status && r.latency_ns == w[i].latency_ns,
		   "record %zu header fields", i);
		ok(r.ts.tv_sec == w[i].ts.tv_sec && r.ts.tv_nsec == w[i].ts.tv_nsec,
		   "record %zu ns timestamp", i);
		ok(!memcmp(&r.u, &w[i].u, sizeof(r.u)), "record %zu payload", i);
		ok(iopf_reader_recno(rd) == i + 1 && iopf_reader_offset(rd) == off,
		   "record %zu: recno %" PRIu64 " offset %" PRIu64, i, iopf_reader_recno(rd),
		   iopf_reader_offset(rd));
		off += 16 + 32 + r.payload_len;
	}
	ok(r.payload_len == 3 && !memcmp(r.payload, odd, 3), "unknown type keeps its payload");
	is(iopf_reader_next(rd, &r), 1, "meta read");
	ok(r.type == IOPF_REC_META && r.seq == 4 && r.ts.tv_nsec == 42 &&
	   r.payload_len == 19 && !memcmp(r.payload, "tool=iopftool\nend=1", 19), "meta text");
	is(iopf_reader_next(rd, &r), 0, "end of file");
	is(iopf_reader_next(rd, &r), 0, "end of file again");
	iopf_reader_free(rd);

	is(iopf_writer_open(&wr, path, 162, err, sizeof(err)), 0, "writer with link type 162");
	is(iopf_writer_close(wr), 0, "empty capture closes");
	is(iopf_reader_open(&rd, path, err, sizeof(err)), 0, "header-only capture opens");
	is(iopf_reader_linktype(rd), 162, "link type 162 accepted");
	is(iopf_reader_next(rd, &r), 0, "header-only capture: no records");
	iopf_reader_free(rd);
	is(iopf_writer_open(&wr, path, 146, err, sizeof(err)), -EINVAL, "writer refuses link type 146");
	is(iopf_writer_open(&wr, path, 163, err, sizeof(err)), -EINVAL, "writer refuses link type 163");
}

static void check_pcap_at(bool be, uint32_t magic, uint32_t sec0, uint32_t frac, long want_ns,
			  const char *what);

/* Classic pcap in any byte order / precision: 3 records, checked back. */
static void check_pcap(bool be, uint32_t magic, uint32_t frac, long want_ns, const char *what)
{
	check_pcap_at(be, magic, T0, frac, want_ns, what);
}

static void check_pcap_at(bool be, uint32_t magic, uint32_t sec0, uint32_t frac, long want_ns,
			  const char *what)
{
	const char *path = tmp_path("order.pcap");
	struct bb b = { .be = be };
	struct iopf_reader *rd;
	struct iopf_rec r;
	uint8_t rec[128];
	char err[256];
	size_t n, off[3];
	int good = 0;

	pcap_header(&b, magic, 147);
	for (int i = 0; i < 3; i++) {
		n = mkrec(rec, i == 1 ? IOPF_REC_RESPONSE : IOPF_REC_FAULT, (uint64_t)i, 100 + i);
		off[i] = b.n;
		pcap_record(&b, sec0 + (uint32_t)i, frac, rec, n);
	}
	write_file(path, b.b, b.n);
	if (!ok(!iopf_reader_open(&rd, path, err, sizeof(err)), "%s: opens", what)) {
		printf("# %s\n", err);
		return;
	}
	for (int i = 0; i < 3; i++)
		good += iopf_reader_next(rd, &r) == 1 && r.seq == (uint64_t)i &&
			r.ts.tv_sec == (time_t)sec0 + i && r.ts.tv_nsec == want_ns &&
			(i == 1 ? r.u.resp.cookie : r.u.fault.cookie) == 100u + i &&
			iopf_reader_offset(rd) == off[i] && iopf_reader_recno(rd) == (uint64_t)i + 1;
	is(good, 3, "%s: records, timestamps and offsets", what);
	is(iopf_reader_next(rd, &r), 0, "%s: end", what);
	iopf_reader_free(rd);
}

static void test_byte_orders(void)
{
	check_pcap(true, 0xa1b23c4d, 123456789, 123456789, "big-endian ns pcap");
	check_pcap(false, 0xa1b23c4d, 123456789, 123456789, "little-endian ns pcap");
	check_pcap(true, 0xa1b2c3d4, 123456, 123456000, "big-endian us pcap");
	check_pcap(false, 0xa1b2c3d4, 999999, 999999000, "little-endian us pcap");
}

/*
 * Past 2038: pcap seconds are unsigned 32 bits.  2100-01-01 is
 * 4102444800, which libpcap hands back as a negative (1963) time.
 * Both readers: ours (version 2.4) and libpcap's (version 2.3 headers).
 */
static void test_after_2038(void)
{
	const uint32_t y2100 = 4102444800u, last = 0xfffffffdu;
	struct iopf_writer *w;
	struct iopf_reader *rd;
	struct iopf_rec r = { .ts = { y2100, 5 }, .type = IOPF_REC_LOST, .u.lost = 1 };
	const char *path = tmp_path("rw.pcap");
	char err[256], t[64];

	check_pcap_at(true, 0xa1b2c3d4, y2100, 7, 7000, "2100, big-endian us pcap");
	check_pcap_at(false, 0xa1b23c4d, last, 9, 9, "2106, little-endian ns pcap");
	pcap_minor = 3;
	check_pcap_at(false, 0xa1b23c4d, y2100, 1, 1, "2100 through libpcap (version 2.3)");
	check_pcap_at(true, 0xa1b2c3d4, 0x80000000u, 2, 2000, "2038-01-19T03:14:08 through libpcap");
	pcap_minor = 4;

	is(iopf_writer_open(&w, path, IOPF_LINKTYPE_DEFAULT, err, sizeof(err)), 0, "writer opens");
	is(iopf_writer_put(w, &r), 0, "a record of 2100 written");
	is(iopf_writer_close(w), 0, "and closed");
	ok(!iopf_reader_open(&rd, path, err, sizeof(err)) && iopf_reader_next(rd, &r) == 1 &&
	   r.ts.tv_sec == (time_t)y2100 && r.ts.tv_nsec == 5, "and read back as 2100");
	iopf_time_format(&r.ts, t, sizeof(t));
	ok(!strcmp(t, "2100-01-01T00:00:00.000000005Z"), "printed as 2100: %s", t);
	iopf_reader_free(rd);
}

/*
 * The classic reader against libpcap itself on the same file: every
 * record's time stamp and bytes, many records (several buffer fills),
 * both precisions.
 */
static void test_against_libpcap(void)
{
	const char *path = tmp_path("rw.pcap");
	char err[256], ebuf[PCAP_ERRBUF_SIZE];
	struct iopf_writer *w;
	struct iopf_reader *rd;
	struct pcap_pkthdr *h;
	const u_char *data;
	struct iopf_rec r;
	uint8_t enc[IOPF_SNAPLEN];
	pcap_t *pc;
	int n = 0, bad = 0, rc;

	if (iopf_writer_open(&w, path, IOPF_LINKTYPE_DEFAULT, err, sizeof(err)))
		return;
	for (int i = 0; i < 40000; i++) {
		char meta[600];

		r = (struct iopf_rec){ .ts = { T0 + i / 7, (i * 7919) % 1000000000 },
				       .type = (uint8_t)(1 + i % 4), .queue_id = 1 };
		r.u.fault = (struct iommu_hwpt_pgfault){ .flags = 3, .dev_id = (uint32_t)i,
							 .addr = (uint64_t)i << 12, .cookie = 1 };
		if (r.type == IOPF_REC_META) {
			memset(meta, 'a' + i % 26, sizeof(meta));
			meta[i % sizeof(meta)] = '\0';
			r.payload = (const uint8_t *)meta;
			r.payload_len = strlen(meta);
		}
		iopf_writer_put(w, &r);
	}
	is(iopf_writer_close(w), 0, "40000 records written");
	pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, ebuf);
	if (!ok(pc && !iopf_reader_open(&rd, path, err, sizeof(err)), "both readers open"))
		return;
	while ((rc = iopf_reader_next(rd, &r)) == 1) {
		size_t len;

		n++;
		if (pcap_next_ex(pc, &h, &data) != 1) {
			bad++;
			break;
		}
		len = iopf_rec_encode(&r, enc, sizeof(enc));
		bad += r.ts.tv_sec != h->ts.tv_sec || r.ts.tv_nsec != h->ts.tv_usec ||
		       len != h->caplen || memcmp(enc, data, len) ||
		       iopf_reader_recno(rd) != (uint64_t)n;
	}
	is(rc, 0, "ours reads to the end");
	is(n, 40000, "ours reads every record");
	ok(pcap_next_ex(pc, &h, &data) != 1, "libpcap has no more either");
	is(bad, 0, "time stamps and bytes as libpcap reads them");
	pcap_close(pc);
	iopf_reader_free(rd);
}

static void ng_block_start(struct bb *b, uint32_t type, size_t *start)
{
	*start = b->n;
	bb_u32(b, type);
	bb_u32(b, 0);		/* total length, patched by ng_block_end() */
}

static void ng_block_end(struct bb *b, size_t start)
{
	size_t save;

	bb_pad4(b);
	save = b->n;
	b->n = start + 4;
	bb_u32(b, (uint32_t)(save + 4 - start));
	b->n = save;
	bb_u32(b, (uint32_t)(save + 4 - start));
}

/* pcapng: SHB, IDB (maybe with if_tsresol 9), EPBs with an unknown block between. */
static void check_pcapng(bool be, bool ns, const char *what)
{
	const char *path = tmp_path("cap.pcapng");
	struct bb b = { .be = be };
	struct iopf_reader *rd;
	struct iopf_rec r;
	uint8_t rec[128];
	uint64_t ts;
	size_t s, n, off[3];
	char err[256];
	int good = 0;

	ng_block_start(&b, 0x0a0d0d0a, &s);
	bb_u32(&b, 0x1a2b3c4d);
	bb_u16(&b, 1);
	bb_u16(&b, 0);
	bb_u32(&b, 0xffffffff);
	bb_u32(&b, 0xffffffff);	/* section length -1 */
	ng_block_end(&b, s);
	ng_block_start(&b, 1, &s);
	bb_u16(&b, 147);
	bb_u16(&b, 0);
	bb_u32(&b, 65535);
	if (ns) {
		bb_u16(&b, 9);	/* if_tsresol */
		bb_u16(&b, 1);
		b.b[b.n++] = 9;
		bb_pad4(&b);
		bb_u32(&b, 0);	/* opt_endofopt */
	}
	ng_block_end(&b, s);
	for (int i = 0; i < 3; i++) {
		if (i == 2) {	/* a block libpcap skips: the offset must not point at it */
			ng_block_start(&b, 0x40000bad, &s);
			bb_u32(&b, 0x12345678);
			ng_block_end(&b, s);
		}
		n = mkrec(rec, IOPF_REC_FAULT, (uint64_t)i, 7);
		ts = (uint64_t)(T0 + i) * (ns ? 1000000000u : 1000000u) + 12345;
		off[i] = b.n;
		ng_block_start(&b, 6, &s);
		bb_u32(&b, 0);
		bb_u32(&b, (uint32_t)(ts >> 32));
		bb_u32(&b, (uint32_t)ts);
		bb_u32(&b, (uint32_t)n);
		bb_u32(&b, (uint32_t)n);
		bb_raw(&b, rec, n);
		ng_block_end(&b, s);
	}
	write_file(path, b.b, b.n);
	if (!ok(!iopf_reader_open(&rd, path, err, sizeof(err)), "%s: opens", what)) {
		printf("# %s\n", err);
		return;
	}
	is(iopf_reader_linktype(rd), 147, "%s: link type", what);
	for (int i = 0; i < 3; i++) {
		good += iopf_reader_next(rd, &r) == 1 && r.seq == (uint64_t)i &&
			r.ts.tv_sec == T0 + i && r.ts.tv_nsec == (ns ? 12345 : 12345000) &&
			r.u.fault.cookie == 7 && iopf_reader_recno(rd) == (uint64_t)i + 1;
		if (iopf_reader_offset(rd) != off[i])
			printf("# record %d offset %" PRIu64 ", block at %zu\n", i,
			       iopf_reader_offset(rd), off[i]);
		else
			good++;
	}
	is(good, 6, "%s: records, timestamps and block offsets", what);
	is(iopf_reader_next(rd, &r), 0, "%s: end", what);
	iopf_reader_free(rd);
}

static void test_pcapng(void)
{
	check_pcapng(false, false, "pcapng us");
	check_pcapng(false, true, "pcapng if_tsresol 9");
	check_pcapng(true, true, "big-endian pcapng if_tsresol 9");
}

/* Feed buf to stdin through a pipe, 7 bytes a write; returns the writer's pid. */
static pid_t pipe_stdin(const uint8_t *buf, size_t len, int *saved)
{
	int fds[2];
	pid_t pid;

	if (pipe(fds))
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		for (size_t i = 0; i < len; i += 7) {
			size_t k = len - i < 7 ? len - i : 7;

			if (write(fds[1], buf + i, k) != (ssize_t)k)
				_exit(1);
			if (i < 64)
				usleep(1000);	/* the header arrives in pieces */
		}
		_exit(0);
	}
	close(fds[1]);
	*saved = dup(STDIN_FILENO);
	dup2(fds[0], STDIN_FILENO);
	close(fds[0]);
	clearerr(stdin);
	return pid;
}

static void pipe_done(pid_t pid, int saved)
{
	int st;

	dup2(saved, STDIN_FILENO);
	close(saved);
	clearerr(stdin);
	waitpid(pid, &st, 0);
}

/* pcapng from a pipe: the bytes read to tell the format reach libpcap. */
static void test_pcapng_pipe(void)
{
	static uint8_t buf[4096];
	struct iopf_reader *rd;
	struct iopf_rec r;
	char err[256];
	int saved = -1, good = 0;
	size_t len;
	FILE *f = fopen(tmp_path("cap.pcapng"), "rb");
	pid_t pid;

	len = f ? fread(buf, 1, sizeof(buf), f) : 0;
	if (f)
		fclose(f);
	pid = pipe_stdin(buf, len, &saved);
	if (!ok(pid > 0, "pcapng pipe"))
		return;
	if (ok(!iopf_reader_open(&rd, "-", err, sizeof(err)), "pcapng from a pipe opens")) {
		for (int i = 0; i < 3; i++)
			good += iopf_reader_next(rd, &r) == 1 && r.seq == (uint64_t)i &&
				r.ts.tv_sec == T0 + i && r.ts.tv_nsec == 12345;
		is(good, 3, "pcapng from a pipe: records and time stamps");
		is(iopf_reader_next(rd, &r), 0, "pcapng from a pipe: end");
		iopf_reader_free(rd);
	} else {
		printf("# %s\n", err);
	}
	pipe_done(pid, saved);
}

static void test_bad_files(void)
{
	const char *path = tmp_path("bad.pcap");
	struct bb b = { 0 };
	struct iopf_reader *rd = (void *)1;
	uint8_t junk[300];
	char err[256];

	pcap_header(&b, 0xa1b2c3d4, 1);	/* Ethernet */
	write_file(path, b.b, b.n);
	is(iopf_reader_open(&rd, path, err, sizeof(err)), -EPROTO, "link type 1 refused");
	ok(strstr(err, path) && strstr(err, "link type 1 "), "message names file and link type: %s",
	   err);
	ok(rd == NULL, "no reader on failure");

	write_file(path, "", 0);
	ok(iopf_reader_open(&rd, path, err, sizeof(err)) == -EPROTO && strstr(err, path) &&
	   strstr(err, "empty"), "empty file refused, named: %s", err);

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37 + 11);
	write_file(path, junk, sizeof(junk));
	ok(iopf_reader_open(&rd, path, err, sizeof(err)) == -EPROTO && strstr(err, path),
	   "garbage file refused, named: %s", err);

	is(iopf_reader_open(&rd, tmp_path("missing.pcap"), err, sizeof(err)), -ENOENT,
	   "missing file: ENOENT");
	ok(strstr(err, "missing.pcap") != NULL, "message names the missing file: %s", err);
}

/* Three fault records in a file of our own; returns the record offsets. */
static size_t three_records(struct bb *b, size_t off[3])
{
	uint8_t rec[128];
	size_t n;

	pcap_header(b, 0xa1b23c4d, 147);
	for (int i = 0; i < 3; i++) {
		n = mkrec(rec, IOPF_REC_FAULT, (uint64_t)i, 1);
		off[i] = b->n;
		pcap_record(b, T0, 0, rec, n);
	}
	return b->n;
}

/*
 * A capture cut inside its third record.  Unfinished (no META end=1):
 * its writer was killed, the torn record is the end (0) and
 * iopf_reader_torn() names it.  Finished (the second record is META
 * end=1): damage, a fatal error that sticks.
 */
static void check_truncated(size_t cut, bool finished, const char *what)
{
	const char *path = tmp_path("cut.pcap");
	struct bb b = { 0 };
	struct iopf_reader *rd;
	struct iopf_rec r;
	char err[256], want[64];
	uint8_t rec[128];
	size_t off[3], n;
	int rc;

	if (finished) {
		struct iopf_rec m = { .type = IOPF_REC_META, .seq = 1, .queue_id = 1,
				      .payload = (const uint8_t *)"end=1\nfaults=1\n", .payload_len = 15 };

		pcap_header(&b, 0xa1b23c4d, 147);
		n = mkrec(rec, IOPF_REC_FAULT, 0, 1);
		off[0] = b.n;
		pcap_record(&b, T0, 0, rec, n);
		n = iopf_rec_encode(&m, rec, sizeof(rec));
		off[1] = b.n;
		pcap_record(&b, T0, 0, rec, n);
		n = mkrec(rec, IOPF_REC_FAULT, 2, 1);
		off[2] = b.n;
		pcap_record(&b, T0, 0, rec, n);
	} else {
		three_records(&b, off);
	}
	write_file(path, b.b, off[2] + cut);
	if (!ok(!iopf_reader_open(&rd, path, err, sizeof(err)), "%s: opens", what))
		return;
	ok(iopf_reader_next(rd, &r) == 1 && iopf_reader_next(rd, &r) == 1, "%s: first two read", what);
	rc = iopf_reader_next(rd, &r);
	if (finished)
		ok(rc < 0 && rc != -EBADMSG, "%s: then a fatal error (%d)", what, rc);
	else
		ok(rc == 0 && iopf_reader_torn(rd), "%s: then the end, torn (%d)", what, rc);
	snprintf(want, sizeof(want), "record 3 at offset %zu: ", off[2]);
	ok(!strncmp(iopf_reader_error(rd), want, strlen(want)), "%s: message \"%s\"", what,
	   iopf_reader_error(rd));
	is(iopf_reader_next(rd, &r), rc, "%s: it sticks", what);
	iopf_reader_free(rd);
}

static void test_truncated(void)
{
	check_truncated(16 + 40, false, "cut mid-record");
	check_truncated(5, false, "cut mid-pcap-header");
	check_truncated(16 + 40, true, "finished, cut mid-record");
	check_truncated(5, true, "finished, cut mid-pcap-header");
}

/* The second record has a bad magic: reported, then reading goes on. */
static void test_bad_record(void)
{
	const char *path = tmp_path("badmagic.pcap");
	struct bb b = { 0 };
	struct iopf_reader *rd;
	struct iopf_rec r;
	size_t off[3];
	char err[256], want[96];

	three_records(&b, off);
	memcpy(b.b + off[1] + 16, "\x78\x56\x34\x12", 4);
	b.b[off[2] + 16 + 6] = 200;	/* third: hdr_len past the end */
	write_file(path, b.b, b.n);
	if (!ok(!iopf_reader_open(&rd, path, err, sizeof(err)), "opens"))
		return;
	is(iopf_reader_next(rd, &r), 1, "first record");
	is(iopf_reader_next(rd, &r), -EBADMSG, "bad magic: -EBADMSG");
	snprintf(want, sizeof(want), "record 2 at offset %zu: bad magic 0x12345678", off[1]);
	is(strcmp(iopf_reader_error(rd), want), 0, "message \"%s\"", iopf_reader_error(rd));
	is(iopf_reader_next(rd, &r), -EBADMSG, "bad hdr_len: -EBADMSG");
	snprintf(want, sizeof(want), "record 3 at offset %zu: bad hdr_len 200", off[2]);
	ok(!strncmp(iopf_reader_error(rd), want, strlen(want)), "message \"%s\"",
	   iopf_reader_error(rd));
	is(iopf_reader_next(rd, &r), 0, "then the end");
	iopf_reader_free(rd);

	b = (struct bb){ 0 };
	three_records(&b, off);
	memcpy(b.b + off[0] + 16, "XXXX", 4);
	write_file(path, b.b, b.n);
	iopf_reader_open(&rd, path, err, sizeof(err));
	is(iopf_reader_next(rd, &r), -EBADMSG, "first record bad");
	ok(iopf_reader_next(rd, &r) == 1 && r.seq == 1, "the next record decodes");
	iopf_reader_free(rd);
}

/* Read "-" from a pipe: no ftell, offsets computed from record sizes. */
static void test_stdin_pipe(void)
{
	struct bb b = { 0 };
	struct iopf_reader *rd;
	struct iopf_rec r;
	size_t off[3];
	char err[256], want[96];
	int fds[2], saved, st;
	pid_t pid;

	three_records(&b, off);
	memcpy(b.b + off[1] + 16 + 4, "\x02", 1);	/* version 2 */
	if (!ok(!pipe(fds), "pipe"))
		return;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		_exit(write(fds[1], b.b, b.n) == (ssize_t)b.n ? 0 : 1);
	}
	close(fds[1]);
	saved = dup(STDIN_FILENO);
	dup2(fds[0], STDIN_FILENO);
	close(fds[0]);
	clearerr(stdin);
	if (ok(!iopf_reader_open(&rd, "-", err, sizeof(err)), "stdin pipe opens")) {
		ok(iopf_reader_next(rd, &r) == 1 && iopf_reader_offset(rd) == off[0], "first record");
		is(iopf_reader_next(rd, &r), -EBADMSG, "version 2 refused");
		snprintf(want, sizeof(want), "record 2 at offset %zu: unknown version 2", off[1]);
		is(strcmp(iopf_reader_error(rd), want), 0, "pipe message \"%s\"",
		   iopf_reader_error(rd));
		ok(iopf_reader_next(rd, &r) == 1 && iopf_reader_offset(rd) == off[2], "third record");
		is(iopf_reader_next(rd, &r), 0, "end of pipe");
		iopf_reader_free(rd);
	}
	dup2(saved, STDIN_FILENO);
	close(saved);
	clearerr(stdin);
	waitpid(pid, &st, 0);
}

/* Write "-" with stdout on a file: stdout itself stays usable. */
static void test_stdout(void)
{
	const char *path = tmp_path("stdout.pcap");
	struct iopf_writer *w;
	struct iopf_reader *rd;
	struct iopf_rec r = { .type = IOPF_REC_LOST, .u.lost = 9 };
	char err[256];
	int fd, saved, rc;

	fflush(stdout);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	saved = dup(STDOUT_FILENO);
	dup2(fd, STDOUT_FILENO);
	close(fd);
	rc = iopf_writer_open(&w, "-", 147, err, sizeof(err));
	if (!rc) {
		iopf_writer_put(w, &r);
		rc = iopf_writer_close(w);
	}
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	is(rc, 0, "capture written to stdout");
	ok(!iopf_reader_open(&rd, path, err, sizeof(err)) && iopf_reader_next(rd, &r) == 1 &&
	   r.u.lost == 9, "and read back");
	iopf_reader_free(rd);
}

static void test_full_disk(void)
{
	struct iopf_writer *w;
	struct iopf_rec r = { .type = IOPF_REC_FAULT };
	char err[256];
	int rc = 0, i;

	if (!ok(!iopf_writer_open(&w, "/dev/full", 147, err, sizeof(err)), "open /dev/full"))
		return;
	is(iopf_writer_put(w, &r), 0, "a buffered put succeeds");
	is(iopf_writer_flush(w), -ENOSPC, "flush reports ENOSPC");
	is(iopf_writer_put(w, &r), -ENOSPC, "later puts report it too");
	is(iopf_writer_close(w), -ENOSPC, "close reports ENOSPC");

	iopf_writer_open(&w, "/dev/full", 147, err, sizeof(err));
	for (i = 0; i < 100000 && !rc; i++)
		rc = iopf_writer_put(w, &r);
	ok(rc == -ENOSPC && i < 10000, "puts past the buffer hit ENOSPC (after %d)", i);
	is(iopf_writer_close(w), -ENOSPC, "close after failed puts reports ENOSPC");

	iopf_writer_open(&w, "/dev/full", 147, err, sizeof(err));
	is(iopf_writer_close(w), -ENOSPC, "even an empty capture fails on close");
}

/* Flip random bytes of a valid capture: reading must end, never crash. */
static void test_mutations(void)
{
	const char *path = tmp_path("mut.pcap");
	unsigned int seed = 7;
	struct bb b = { 0 }, m;
	struct iopf_reader *rd;
	struct iopf_rec r;
	size_t off[3];
	char err[256];
	int opened = 0, endless = 0, rc, n;

	three_records(&b, off);
	for (int i = 0; i < 500; i++) {
		m = b;
		for (int k = 0; k < 1 + rand_r(&seed) % 4; k++)
			m.b[rand_r(&seed) % m.n] = (uint8_t)rand_r(&seed);
		write_file(path, m.b, m.n - (i % 3 ? 0 : rand_r(&seed) % m.n));
		if (iopf_reader_open(&rd, path, err, sizeof(err)))
			continue;
		opened++;
		for (n = 0; n < 100; n++) {
			rc = iopf_reader_next(rd, &r);
			if (rc == 0 || (rc < 0 && rc != -EBADMSG))
				break;
		}
		endless += n == 100;
		iopf_reader_free(rd);
	}
	ok(opened > 100, "mutated captures: %d of 500 opened", opened);
	is(endless, 0, "every mutated capture reads to an end");
}

static void cleanup(void)
{
	static const char *const names[] = {
		"rw.pcap", "order.pcap", "cap.pcapng", "bad.pcap", "cut.pcap", "badmagic.pcap",
		"stdout.pcap", "mut.pcap", "whole.pcap",
	};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		unlink(tmp_path(names[i]));
	ok(!rmdir(tmpdir), "temporary directory removed");
}

/*
 * The writer: whole records only, a file that ends on a record boundary
 * after every flush (what a SIGKILL leaves), and time stamps after 2038
 * (ts_sec is unsigned 32-bit in the file) read back as written.
 */
static void test_writer_whole_records(void)
{
	const char *path = tmp_path("whole.pcap");
	struct iopf_writer *wr;
	struct iopf_reader *rd;
	struct iopf_rec r = { .type = IOPF_REC_FAULT, .queue_id = 1 };
	struct stat st;
	char err[256];
	uint64_t n = 0, i;
	bool boundary = true;
	int rc;

	if (!ok(!iopf_writer_open(&wr, path, IOPF_LINKTYPE_DEFAULT, err, sizeof(err)), "whole: opens"))
		return;
	for (i = 0; i < 20000; i++) {
		r.ts.tv_sec = (time_t)2240524800 + (time_t)i;	/* 2040-12-31 */
		r.u.fault.cookie = (uint32_t)i;
		if (iopf_writer_put(wr, &r))
			break;
		if (i % 997 == 0) {
			iopf_writer_flush(wr);
			/* header 24, each record 16 + 32 + 40 (pcap header, iopf header, FAULT) */
			if (stat(path, &st) || ((uint64_t)st.st_size - 24) % (16 + IOPF_REC_HDR_LEN + 40))
				boundary = false;
		}
	}
	ok(boundary, "whole: the file ends on a record boundary after every flush");
	is(iopf_writer_close(wr), 0, "whole: closes");
	if (!ok(!iopf_reader_open(&rd, path, err, sizeof(err)), "whole: reads back"))
		return;
	while ((rc = iopf_reader_next(rd, &r)) == 1) {
		if (r.ts.tv_sec != (time_t)2240524800 + (time_t)n)
			break;
		n++;
	}
	is(rc, 0, "whole: to the end");
	ok(n == 20000, "whole: 20000 records with their 2040 time stamps (%" PRIu64 ")", n);
	iopf_reader_free(rd);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/iopf-capture-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_write_read();
	test_byte_orders();
	test_after_2038();
	test_against_libpcap();
	test_pcapng();
	test_pcapng_pipe();
	test_bad_files();
	test_truncated();
	test_writer_whole_records();
	test_bad_record();
	test_stdin_pipe();
	test_stdout();
	test_full_disk();
	test_mutations();
	cleanup();
	return tap_done();
}
