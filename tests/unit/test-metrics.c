// SPDX-License-Identifier: MIT
/* lib/metrics.c: counters, the latency histogram, label caps, escaping, the tap's labels. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iopf.h"
#include "internal.h"	/* what only libiopf and its tests use */
#include "tap.h"

static struct iopf_rec fault(uint32_t q, uint32_t dev, int pasid, bool last)
{
	struct iopf_rec r = { .type = IOPF_REC_FAULT, .queue_id = q };

	r.u.fault.dev_id = dev;
	if (pasid >= 0) {
		r.u.fault.flags |= IOMMU_PGFAULT_FLAGS_PASID_VALID;
		r.u.fault.pasid = (uint32_t)pasid;
	}
	if (last)
		r.u.fault.flags |= IOMMU_PGFAULT_FLAGS_LAST_PAGE;
	return r;
}

static struct iopf_rec resp(uint32_t q, uint32_t code, uint32_t status, uint64_t lat)
{
	struct iopf_rec r = { .type = IOPF_REC_RESPONSE, .queue_id = q, .status = status,
			      .latency_ns = lat };

	r.u.resp.code = code;
	return r;
}

/* The text has this exact line. */
static bool has_line(const char *text, size_t len, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; p < text + len;) {
		const char *eol = memchr(p, '\n', (size_t)(text + len - p));

		if (!eol)
			return false;
		if ((size_t)(eol - p) == n && !memcmp(p, line, n))
			return true;
		p = eol + 1;
	}
	return false;
}

static size_t count_lines(const char *text, size_t len, const char *prefix)
{
	size_t n = 0, pl = strlen(prefix);

	for (const char *p = text; p < text + len;) {
		const char *eol = memchr(p, '\n', (size_t)(text + len - p));

		if (!eol)
			break;
		n += (size_t)(eol - p) >= pl && !memcmp(p, prefix, pl);
		p = eol + 1;
	}
	return n;
}

#define HAS(line) ok(has_line(text, len, line), "%s", line)

static void session_counts(void)
{
	struct iopf_metrics *m;
	struct iopf_rec r;
	const char *text;
	size_t len;

	if (!ok(iopf_metrics_new(&m, false) == 0, "new"))
		return;
	/* two groups on dev 1 PASID 5 (2 + 1 records), one on dev 2 without PASID */
	r = fault(1, 1, 5, false); iopf_metrics_rec(m, &r);
	r = fault(1, 1, 5, true); iopf_metrics_rec(m, &r);
	r = fault(1, 1, 5, true); iopf_metrics_rec(m, &r);
	r = fault(1, 2, -1, true); iopf_metrics_rec(m, &r);
	r = resp(1, IOMMUFD_PAGE_RESP_SUCCESS, 0, 500); iopf_metrics_rec(m, &r);
	r = resp(1, IOMMUFD_PAGE_RESP_SUCCESS, 0, 3000); iopf_metrics_rec(m, &r);
	r = resp(1, IOMMUFD_PAGE_RESP_INVALID, EINVAL, 0); iopf_metrics_rec(m, &r);	/* refused */
	r = resp(1, IOMMUFD_PAGE_RESP_INVALID, 0, 2000000000ull); iopf_metrics_rec(m, &r);
	r = (struct iopf_rec){ .type = IOPF_REC_LOST, .queue_id = 1, .u.lost = 7 };
	iopf_metrics_rec(m, &r);
	text = iopf_metrics_text(m, &len);
	HAS("# HELP iopf_faults_total Fault records read from the queue.");
	HAS("# TYPE iopf_faults_total counter");
	HAS("iopf_faults_total{queue=\"1\",device=\"1\",pasid=\"5\"} 3");
	HAS("iopf_faults_total{queue=\"1\",device=\"2\",pasid=\"none\"} 1");
	HAS("iopf_groups_total{queue=\"1\",device=\"1\",pasid=\"5\"} 2");
	HAS("iopf_groups_total{queue=\"1\",device=\"2\",pasid=\"none\"} 1");
	HAS("iopf_responses_total{queue=\"1\",code=\"success\"} 2");
	HAS("iopf_responses_total{queue=\"1\",code=\"invalid\"} 2");
	HAS("iopf_responses_refused_total{queue=\"1\",errno=\"EINVAL\"} 1");
	HAS("iopf_unanswered_groups{queue=\"1\"} 0");
	HAS("iopf_lost_records_total{queue=\"1\"} 7");
	HAS("# TYPE iopf_response_latency_seconds histogram");
	HAS("iopf_response_latency_seconds_bucket{queue=\"1\",le=\"1e-06\"} 1");
	HAS("iopf_response_latency_seconds_bucket{queue=\"1\",le=\"2.5e-06\"} 1");
	HAS("iopf_response_latency_seconds_bucket{queue=\"1\",le=\"5e-06\"} 2");
	HAS("iopf_response_latency_seconds_bucket{queue=\"1\",le=\"1\"} 2");
	HAS("iopf_response_latency_seconds_bucket{queue=\"1\",le=\"2.5\"} 3");
	HAS("iopf_response_latency_seconds_bucket{queue=\"1\",le=\"+Inf\"} 3");
	HAS("iopf_response_latency_seconds_count{queue=\"1\"} 3");
	HAS("iopf_response_latency_seconds_sum{queue=\"1\"} 2.0000035");
	HAS("iopf_metrics_folded_total 0");
	is(count_lines(text, len, "# TYPE "), count_lines(text, len, "# HELP "), "a TYPE for every HELP");
	is(count_lines(text, len, "# TYPE "), 9, "nine metric families");
	ok(len && text[len - 1] == '\n', "ends with a newline");
	/* one more group, not answered: the gauge */
	r = fault(1, 1, 5, true); iopf_metrics_rec(m, &r);
	text = iopf_metrics_text(m, &len);
	HAS("iopf_unanswered_groups{queue=\"1\"} 1");
	iopf_metrics_free(m);
}

static void caps(void)
{
	struct iopf_metrics *m;
	struct iopf_rec r;
	const char *text;
	size_t len;
	char line[200];

	if (!ok(iopf_metrics_new(&m, false) == 0, "new"))
		return;
	/* 100 devices of queue 1: 64 label sets, 36 folded into "other" */
	for (int d = 0; d < 100; d++)
		for (int k = 0; k < 3; k++) {
			r = fault(1, (uint32_t)d, -1, true);
			iopf_metrics_rec(m, &r);
		}
	/* 40 queues: 32 kept (queue 1 is one), the other 9 folded */
	for (uint32_t q = 2; q <= 41; q++) {
		r = resp(q, 0, 0, 1000);
		iopf_metrics_rec(m, &r);
	}
	text = iopf_metrics_text(m, &len);
	is(count_lines(text, len, "iopf_faults_total{"), IOPF_METRICS_SETS + 1,
	   "fault series: the cap, then one \"other\"");
	HAS("iopf_faults_total{queue=\"other\",device=\"other\",pasid=\"other\"} 108");
	HAS("iopf_faults_total{queue=\"1\",device=\"63\",pasid=\"none\"} 3");
	is(count_lines(text, len, "iopf_unanswered_groups{"), IOPF_METRICS_QUEUES + 1,
	   "queue series: the cap, then one \"other\"");
	HAS("iopf_responses_total{queue=\"other\",code=\"success\"} 9");
	HAS("iopf_response_latency_seconds_count{queue=\"other\"} 9");
	snprintf(line, sizeof(line), "iopf_metrics_folded_total %d", 108 + 9);
	HAS(line);
	/* the caps hold: more of everything changes no series count */
	for (uint32_t q = 100; q < 10000; q++) {
		r = fault(q, q, (int)q, true);
		iopf_metrics_rec(m, &r);
	}
	text = iopf_metrics_text(m, &len);
	is(count_lines(text, len, "iopf_faults_total{"), IOPF_METRICS_SETS + 1, "still capped");
	is(count_lines(text, len, "iopf_unanswered_groups{"), IOPF_METRICS_QUEUES + 1, "still capped");
	ok(has_line(text, len, "iopf_metrics_folded_total 19917") ||
	   count_lines(text, len, "iopf_metrics_folded_total ") == 1, "the folded counter is there");
	iopf_metrics_free(m);
}

/* The tap's records: DELIVERY (pid, comm), AUTO_RESPONSE (reason), refused responses. */
static void tap_labels(void)
{
	struct iopf_metrics *m;
	uint8_t del[40] = { 0 }, aut[40] = { 0 };
	struct iopf_rec r;
	const char *text;
	size_t len;

	if (!ok(iopf_metrics_new(&m, true) == 0, "new (tap)"))
		return;
	iopf_put_le32(del + 0, 9);		/* cookie */
	iopf_put_le32(del + 4, 2);		/* records */
	iopf_put_le32(del + 8, 4242);		/* pid */
	iopf_put_le32(del + 20, 3);		/* dev_id */
	memcpy(del + 24, "qe\"mu\\x\n\033", 9);	/* comm: a quote, a backslash, controls */
	r = (struct iopf_rec){ .type = IOPF_REC_DELIVERY, .queue_id = 7, .payload = del,
			       .payload_len = 40 };
	iopf_metrics_rec(m, &r);
	iopf_metrics_rec(m, &r);
	r = fault(7, 3, -1, false); iopf_metrics_rec(m, &r);
	r = fault(7, 3, -1, true); iopf_metrics_rec(m, &r);	/* a group by DELIVERY, not LAST_PAGE */
	iopf_put_le32(aut + 12, 1);		/* reason: detach */
	r = (struct iopf_rec){ .type = IOPF_REC_AUTO_RESPONSE, .queue_id = 7, .payload = aut,
			       .payload_len = 40 };
	iopf_metrics_rec(m, &r);
	r = resp(7, 0, EINVAL, 0); iopf_metrics_rec(m, &r);
	text = iopf_metrics_text(m, &len);
	HAS("iopf_groups_total{queue=\"7\",device=\"3\",pasid=\"none\"} 2");
	HAS("iopf_faults_total{queue=\"7\",device=\"3\",pasid=\"none\"} 2");
	HAS("iopf_auto_responses_total{queue=\"7\",pid=\"4242\",comm=\"qe\\\"mu\\\\x??\",reason=\"detach\"} 1");
	HAS("iopf_responses_refused_total{queue=\"7\",pid=\"4242\",comm=\"qe\\\"mu\\\\x??\",errno=\"EINVAL\"} 1");
	HAS("iopf_unanswered_groups{queue=\"7\",pid=\"4242\",comm=\"qe\\\"mu\\\\x??\"} 1");
	iopf_metrics_free(m);
}

int main(void)
{
	session_counts();
	caps();
	tap_labels();
	return tap_done();
}
