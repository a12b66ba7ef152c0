// SPDX-License-Identifier: MIT
/* The stats engine (lib/stats.c): records in, totals, check report and printed output out. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iopf.h"
#include "tap.h"

TAP_LOG_CAPTURE
static uint64_t recno, t_ns;

static struct iopf_rec rec(uint8_t type)
{
	struct iopf_rec r = { .type = type, .version = 1, .hdr_len = 32, .queue_id = 1 };

	t_ns += 1000;
	r.ts.tv_sec = 1767225600 + (time_t)(t_ns / 1000000000u);
	r.ts.tv_nsec = (long)(t_ns % 1000000000u);
	r.seq = recno;
	return r;
}

static void fault(struct iopf_stats *st, uint32_t dev, uint32_t pasid, uint32_t cookie, bool last)
{
	struct iopf_rec r = rec(IOPF_REC_FAULT);

	r.u.fault.dev_id = dev;
	r.u.fault.pasid = pasid;
	r.u.fault.flags = (pasid ? IOMMU_PGFAULT_FLAGS_PASID_VALID : 0) |
			  (last ? IOMMU_PGFAULT_FLAGS_LAST_PAGE : 0);
	r.u.fault.grpid = cookie + 10;
	r.u.fault.cookie = cookie;
	r.u.fault.perm = IOMMU_PGFAULT_PERM_READ;
	recno++;
	iopf_stats_add(st, &r, recno, recno * 100);
}

static void resp(struct iopf_stats *st, uint32_t cookie, uint32_t code, uint32_t status)
{
	struct iopf_rec r = rec(IOPF_REC_RESPONSE);

	r.u.resp.cookie = cookie;
	r.u.resp.code = code;
	r.status = status;
	r.latency_ns = 500;
	recno++;
	iopf_stats_add(st, &r, recno, recno * 100);
}

static void meta(struct iopf_stats *st, const char *text)
{
	struct iopf_rec r = rec(IOPF_REC_META);

	r.payload = (const uint8_t *)text;
	r.payload_len = strlen(text);
	recno++;
	iopf_stats_add(st, &r, recno, recno * 100);
}

static struct iopf_stats *new_stats(void)
{
	struct iopf_stats_cfg cfg = { .log = &tlog };
	struct iopf_stats *st;

	if (iopf_stats_new(&st, &cfg))
		abort();
	recno = t_ns = 0;
	warnings = 0;
	return st;
}

/* The interleaved capture of captures/interleaved.pcap: 2 groups, clean. */
static void test_interleaved(void)
{
	struct iopf_stats *st = new_stats();
	struct iopf_stats_result res;

	is(iopf_stats_begin(st, "a.pcap"), 0, "begin");
	meta(st, "source=sim\n");
	fault(st, 1, 1, 1, false);
	fault(st, 2, 0, 2, false);
	fault(st, 1, 1, 1, true);
	fault(st, 2, 0, 2, true);
	resp(st, 1, 0, 0);
	resp(st, 2, 0, 0);
	meta(st, "end=1\n");
	iopf_stats_end(st);
	iopf_stats_result(st, &res);
	is(res.records, 8, "records");
	is(res.faults, 4, "faults");
	is(res.groups, 2, "2 groups");
	is(res.incomplete_groups, 0, "none incomplete");
	is(res.responses, 2, "responses");
	ok(res.complete && !strcmp(res.source, "sim"), "complete, source sim");
	is(res.check.groups, 2, "check: 2 groups");
	is(res.check.faults, 4, "check: 4 faults");
	ok(res.check.ok, "check: ok");
	is(res.check.v[IOPF_V_UNANSWERED], 0, "check: none unanswered");
	is(iopf_hist_count(res.latency), 2, "2 recorded latencies");
	is(warnings, 0, "no warnings");
	iopf_stats_free(st);
}

/* Cut short, unknown type, refused and reused: each lands where iopftool-stats(8) says. */
static void test_edges(void)
{
	struct iopf_stats *st = new_stats();
	struct iopf_stats_result res;
	struct iopf_rec odd;

	iopf_stats_begin(st, "b.pcap");
	fault(st, 1, 0, 1, true);
	resp(st, 7, 0, 22);		/* unknown cookie */
	resp(st, 1, 0, 0);
	fault(st, 1, 0, 1, true);	/* grpid 11 again, not outstanding: no reuse */
	fault(st, 3, 0, 2, true);
	fault(st, 3, 0, 2, true);	/* cookie 2 reused while outstanding */
	odd = rec(9);
	iopf_stats_add(st, &odd, ++recno, 1234);
	ok(strstr(last_msg, "unknown record type 9") && strstr(last_msg, "offset 1234"),
	   "unknown type warned with its offset: %s", last_msg);
	fault(st, 4, 0, 5, false);	/* cut short */
	iopf_stats_bad(st);
	iopf_stats_end(st);
	ok(strstr(last_msg, "cut short") != NULL, "incomplete group warned: %s", last_msg);
	iopf_stats_result(st, &res);
	is(res.faults, 5, "faults count every FAULT record, the incomplete one too");
	is(res.groups, 4, "groups leave the incomplete one out");
	is(res.incomplete_groups, 1, "one incomplete group");
	is(res.unknown, 1, "one unknown type");
	is(res.bad, 1, "one bad record");
	is(res.check.groups, 4, "check: 4 groups");
	is(res.check.faults, 4, "check: the incomplete group's fault left out");
	is(res.check.v[IOPF_V_UNKNOWN_COOKIE], 1, "check: unknown cookie");
	is(res.check.v[IOPF_V_UNANSWERED], 3, "check: 3 unanswered (cookie 1 again, 2 twice)");
	ok(!res.check.ok, "check: not ok");
	ok(!res.complete && !strcmp(res.source, "unknown"), "no end=1, no source");
	iopf_stats_free(st);
}

/* Two captures: totals summed, cookies per capture, JSON printed through iopf_out. */
static void test_two_files_and_print(void)
{
	struct iopf_stats *st = new_stats();
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	iopf_stats_begin(st, "x.pcap");
	meta(st, "source=sim\nend=1\n");
	fault(st, 1, 0, 1, true);
	iopf_stats_begin(st, "y.pcap");		/* ends x: its group is unanswered */
	meta(st, "source=mock\nend=1\n");
	resp(st, 1, 0, 0);			/* cookie 1 of y names nothing */
	iopf_stats_end(st);
	f = open_memstream(&buf, &len);
	struct iopf_out *o = iopf_out_new(f, IOPF_OUT_JSON);

	iopf_stats_print(o, st);
	iopf_out_free(o);
	fclose(f);
	ok(strstr(buf, "\"source\":\"mixed\"") != NULL, "source mixed");
	ok(strstr(buf, "\"path\":\"x.pcap\"") && strstr(buf, "\"path\":\"y.pcap\""), "both files listed");
	ok(strstr(buf, "\"groups\":1") != NULL, "one group");
	free(buf);
	buf = NULL;
	f = open_memstream(&buf, &len);
	o = iopf_out_new(f, IOPF_OUT_JSON);
	iopf_stats_print_check(o, st);
	iopf_out_free(o);
	fclose(f);
	ok(strstr(buf, "\"capture\":\"x.pcap,y.pcap\"") != NULL, "check names both captures: %s", buf);
	ok(strstr(buf, "\"unanswered\":1") && strstr(buf, "\"unknown_cookie\":1"),
	   "cookies belong to one capture");
	ok(strstr(buf, "\"ok\":false") != NULL, "not ok");
	free(buf);
	iopf_stats_free(st);
}

static void test_file(void)
{
	struct iopf_stats *st = new_stats();
	struct iopf_stats_result res;
	struct iopf_writer *w;
	char path[] = "/tmp/test-stats.XXXXXX", err[256];
	int fd = mkstemp(path);
	struct iopf_rec r = rec(IOPF_REC_FAULT);

	ok(fd >= 0, "temp file");
	close(fd);
	is(iopf_writer_open(&w, path, IOPF_LINKTYPE_DEFAULT, err, sizeof(err)), 0, "writer");
	r.u.fault.flags = IOMMU_PGFAULT_FLAGS_LAST_PAGE;
	r.u.fault.cookie = 1;
	iopf_writer_put(w, &r);
	r = rec(IOPF_REC_RESPONSE);
	r.u.resp.cookie = 1;
	iopf_writer_put(w, &r);
	iopf_writer_close(w);
	is(iopf_stats_file(st, path, NULL), 0, "a whole capture");
	is(iopf_stats_file(st, "/nonexistent/x.pcap", NULL), -EIO, "a missing one: -EIO");
	ok(strstr(last_msg, "/nonexistent/x.pcap") != NULL, "named in the error: %s", last_msg);
	iopf_stats_result(st, &res);
	/* a capture that could not be read is not a correct one (issue 15 M5) */
	ok(res.groups == 1 && !res.check.ok && res.bad == 1,
	   "totals: 1 group, the missing file bad, so the check is not ok");
	unlink(path);
	iopf_stats_free(st);
}

int main(void)
{
	test_interleaved();
	test_edges();
	test_two_files_and_print();
	test_file();
	return tap_done();
}
