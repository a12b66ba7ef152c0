// SPDX-License-Identifier: MIT
/* The tap's host-testable parts: --source parsing and the decoder, offline (lib/tap.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/types.h>

#include "iopf.h"
#include "internal.h"	/* what only libiopf and its tests use */
#include "bpf/tap-bpf.h"
#include "tap.h"

/* Trace lines as a 6.12 trace_pipe shows them (tid 999999, a queue with id 3). */
#define HDR(ts) "    tiny handler-999999  [000] .....   " ts ": "
#define FILEP "f=0xffff888001234500"

static void cal_line(char *buf, size_t len, const char *ts)
{
	size_t n = (size_t)snprintf(buf, len, HDR("%s") "iopftap_cal: (iommufd_fault_fops_write+0x0/0x1e0) " FILEP, ts);

	for (int i = 0; i < 32; i++)	/* private_data at 32: type 6, id 3; junk elsewhere */
		n += (size_t)snprintf(buf + n, len - n, " T%d=%d I%d=%d", i, i == 4 ? 6 : i == 9 ? 6 : 0,
				      i, i == 4 ? 3 : 0);
	snprintf(buf + n, len - n, "\n");
}

/*
 * A read's four return probes (iopftap_rd, _rd1.._rd3: 25 records each, a
 * record as five u64 words), last slice first: the tap must join them in
 * any order.
 */
static void feed_read(struct iopf_tap *t, const char *ts, long ret,
		      const struct iommu_hwpt_pgfault *recs, size_t n)
{
	static const char *const ev[4] = { "iopftap_rd", "iopftap_rd1", "iopftap_rd2", "iopftap_rd3" };
	static char line[8192];

	for (int p = 3; p >= 0; p--) {
		size_t len = (size_t)snprintf(line, sizeof(line), HDR("%s") "%s: (vfs_read+0x9c/0x2f0 <- "
					      "iommufd_fault_fops_read) " FILEP " r=%ld", ts, ev[p], ret);

		for (int w = 0; w < 125; w++) {
			size_t rec = (size_t)p * 25 + (size_t)w / 5;
			uint64_t v = 0;

			if (rec < n)
				memcpy(&v, (const uint8_t *)&recs[rec] + (w % 5) * 8, 8);
			len += (size_t)snprintf(line + len, sizeof(line) - len, " w%d=0x%llx", w,
						(unsigned long long)v);
		}
		snprintf(line + len, sizeof(line) - len, "\n");
		iopf_tap_feed(t, line);
	}
}

/* A write's entry probe: n bytes, responses as u64 words {cookie, code}. */
static void feed_write(struct iopf_tap *t, const char *ts, size_t n,
		       const struct iommu_hwpt_page_response *r, size_t k)
{
	static char line[8192];
	size_t len = (size_t)snprintf(line, sizeof(line), HDR("%s") "iopftap_wr: "
				      "(iommufd_fault_fops_write+0x0/0x1e0) " FILEP " n=%zu", ts, n);

	for (size_t i = 0; i < k; i++) {
		uint64_t v;

		memcpy(&v, &r[i], 8);
		len += (size_t)snprintf(line + len, sizeof(line) - len, " w%zu=0x%llx", i,
					(unsigned long long)v);
	}
	snprintf(line + len, sizeof(line) - len, "\n");
	iopf_tap_feed(t, line);
}

#define FAULT(fl_, dev_, grp_, perm_, addr_, ck_) \
	((struct iommu_hwpt_pgfault){ .flags = (fl_), .dev_id = (dev_), .grpid = (grp_), \
				      .perm = (perm_), .addr = (addr_), .cookie = (ck_) })

/* Reads of 60 and 130 records: 60 whole, then the first 100 and a LOST of 30. */
static void big_reads(void)
{
	struct iopf_tap_cfg cfg = { .fd = -1 };
	struct iommu_hwpt_pgfault f[130];
	struct iommu_hwpt_page_response resp[100];
	struct iopf_tap *t;
	struct iopf_rec r;
	char cal[2048];
	size_t faults = 0, deliveries = 0, responses = 0, bad = 0, refused = 0, partial = 0;
	uint64_t lost = 0;
	struct iopf_tap_counts c;

	if (!ok(iopf_tap_open_offline(&t, &cfg) == 0, "offline tap (big reads)"))
		return;
	cal_line(cal, sizeof(cal), "20.000000");
	iopf_tap_feed(t, cal);
	for (uint32_t i = 0; i < 130; i++)	/* groups of two: cookies 1..65 */
		f[i] = FAULT(i % 2 ? IOMMU_PGFAULT_FLAGS_LAST_PAGE : 0, 1, 100 + i / 2, 1,
			     0x1000u * (i + 1), 1 + i / 2);
	feed_read(t, "20.000100", 60 * 40, f, 60);
	for (uint32_t i = 0; i < 100; i++)
		resp[i] = (struct iommu_hwpt_page_response){ .cookie = 1 + i, .code = 0 };
	feed_write(t, "20.000200", 100 * 8, resp, 100);
	iopf_tap_feed(t, HDR("20.000201") "iopftap_wrr: (ksys_write+0x6e/0xf0 <- iommufd_fault_fops_write) "
		      FILEP " r=240\n");
	feed_read(t, "20.000300", 130 * 40, f, 130);
	while (iopf_tap_next(t, &r) == 1) {
		if (r.type == IOPF_REC_FAULT) {
			size_t i = faults < 60 ? faults : faults - 60;	/* each read starts at f[0] */

			bad += r.u.fault.addr != 0x1000u * (i + 1) || r.u.fault.cookie != 1 + i / 2;
			faults++;
		}
		deliveries += r.type == IOPF_REC_DELIVERY;
		responses += r.type == IOPF_REC_RESPONSE;
		if (r.type == IOPF_REC_RESPONSE && r.status) {
			refused++;
			/* payload: cookie, code, index in the write, flags (bit 0: inside a partial write) */
			partial += r.status == EINVAL && r.u.resp.cookie == 31 && r.payload_len == 16 &&
				   r.payload[8] == 30 && r.payload[12] == 1;
		}
		if (r.type == IOPF_REC_LOST)
			lost += r.u.lost;
	}
	is(faults, 160, "60 records of the first read and the first 100 of the second");
	is(bad, 0, "every record whole, in order, its slices joined (fed last slice first)");
	is(deliveries, 80, "30 + 50 groups delivered");
	is(responses, 31, "a write of 100 responses that took 30: 30 accepted and the refused 31st");
	is(refused, 1, "one refused");
	is(partial, 1, "the refused one: cookie 31, EINVAL, index 30, flagged as inside a partial write");
	iopf_tap_counts(t, &c);
	is(c.unexamined, 69, "the 69 after it the kernel never looked at are counted");
	is(lost, 30, "the 30 records past the first 100 of a read are a LOST record");
	iopf_tap_close(t);
}

static void offline(void)
{
	struct iopf_tap_cfg cfg = { .fd = -1 };
	struct iopf_tap *t;
	struct iopf_rec r;
	char types[64] = "", cal[2048];
	struct iopf_rec recs[16];
	struct iommu_hwpt_pgfault f[2];
	int n = 0;

	if (!ok(iopf_tap_open_offline(&t, &cfg) == 0, "offline tap"))
		return;
	iopf_tap_feed(t, HDR("10.000001") "iopftap_rep: (iommu_report_device_fault+0x0/0x2c0) F=2 P=0 G=5 M=3 A=0x100000\n");
	/* a read of an unknown file is held until the file's queue is known */
	f[0] = FAULT(2, 1, 5, 3, 0x100000, 1);
	feed_read(t, "10.000100", 40, f, 1);
	ok(iopf_tap_next(t, &r) == 1 && r.type == IOPF_REC_REPORTED, "the reported fault comes first");
	ok(iopf_tap_next(t, &r) == 0, "the read waits for its queue id");
	cal_line(cal, sizeof(cal), "10.000300");
	iopf_tap_feed(t, cal);
	feed_write(t, "10.000301", 8, (struct iommu_hwpt_page_response[]){ { 1, 0 }, { 7, 1 } }, 2);
	iopf_tap_feed(t, HDR("10.000302") "iopftap_gr: (iopf_group_response+0x0/0x100) F=2 P=0 G=5 M=3 A=0x100000 c=0\n");
	iopf_tap_feed(t, HDR("10.000303") "iopftap_wrr: (ksys_write+0x6e/0xf0 <- iommufd_fault_fops_write) " FILEP " r=8\n");
	f[0] = FAULT(0, 1, 6, 1, 0x101000, 1);
	f[1] = FAULT(2, 1, 6, 1, 0x102000, 1);
	feed_read(t, "10.000400", 80, f, 2);
	feed_write(t, "10.000500", 8, (struct iommu_hwpt_page_response[]){ { 4242, 0 } }, 1);
	iopf_tap_feed(t, HDR("10.000501") "iopftap_wrr: (ksys_write+0x6e/0xf0 <- iommufd_fault_fops_write) " FILEP " r=-22\n");
	iopf_tap_feed(t, HDR("10.000600") "iopftap_ar: (iommufd_auto_response_faults+0x0/0x1a0) q=3 d=1\n");
	iopf_tap_feed(t, HDR("10.000601") "iopftap_gr: (iopf_group_response+0x0/0x100) F=2 P=0 G=6 M=1 A=0x102000 c=1\n");
	iopf_tap_feed(t, HDR("10.000602") "iopftap_gr: (iopf_group_response+0x0/0x100) F=2 P=0 G=9 M=1 A=0x109000 c=1\n");
	iopf_tap_feed(t, HDR("10.000603") "iopftap_arr: (iommufd_fault_domain_detach_dev+0x3b/0x60 <- iommufd_auto_response_faults)\n");
	iopf_tap_feed(t, "CPU:0 [LOST 5 EVENTS]\n");
	iopf_tap_feed(t, HDR("10.000700") "iopftap_gr: (iopf_group_response+0x0/0x100) F=2 P=0 G=7 M=1 A=0x107000 c=1\npartial li");
	while (n < 16 && iopf_tap_next(t, &recs[n]) == 1) {
		types[n] = (char)('0' + recs[n].type);
		n++;
	}
	types[n] = 0;
	/* meta, delivery, fault, response, delivery, fault, fault, response (refused),
	 * auto (cookie 1), auto (never read), lost */
	ok(!strcmp(types, "45125112663"), "record types in order: %s", types);
	if (n == 11) {
		ok(!memcmp(recs[0].payload, "tap.queue.3=pid 999999 comm ", 28), "META names the queue's process");
		is(recs[1].queue_id, 3, "delivery: queue id from struct file private_data (calibrated)");
		is(recs[2].u.fault.cookie, 1, "fault: cookie from the reader's buffer");
		is(recs[2].u.fault.grpid, 5, "fault: grpid");
		is(recs[2].u.fault.addr, 0x100000, "fault: addr");
		is(recs[3].u.resp.cookie, 1, "response: cookie");
		is(recs[3].status, 0, "response: accepted (the write returned 8)");
		is(recs[3].latency_ns, 203000, "response: latency from the read, 1us resolution");
		is(recs[4].payload[4], 2, "delivery: a group of two records");
		is(recs[6].u.fault.flags, 2, "second group: LAST_PAGE on its last record");
		is(recs[7].u.resp.cookie, 4242, "refused response: cookie");
		is(recs[7].status, 22, "refused response: EINVAL");
		is(recs[8].payload[0], 1, "auto response: cookie of the delivered group");
		is(recs[8].latency_ns, 201000, "auto response: time since delivery");
		is(recs[8].payload[8], 1, "auto response: device");
		is(recs[9].payload[0], 0, "auto response of a group never read: cookie 0");
		is(recs[10].u.lost, 5, "a trace buffer overflow is a LOST record");
	}
	iopf_tap_close(t);
}

/* BPF ring events (struct tb_ev + data) as lib/bpf/tap.bpf.c writes them. */
static size_t bpf_ev(uint8_t *buf, uint16_t kind, uint16_t flags, uint32_t q, int64_t ret, uint64_t count,
		     const void *data, uint32_t len, uint64_t t_ns)
{
	struct tb_ev e = { .kind = kind, .flags = flags, .len = len, .tgid = 4242, .tid = 4243,
			   .t_ns = t_ns, .file = 0xffff888001234500ull, .ret = ret, .count = count,
			   .queue = q, .comm = "handler" };

	memcpy(buf, &e, sizeof(e));
	memcpy(buf + sizeof(e), data, len);
	return sizeof(e) + len;
}

/*
 * The BPF back-end's events: a read of 300 records (whole, past the
 * kprobe back-end's 100) and a write of 40 responses the kernel took 25
 * of (the 26th refused inside a partial write, the 14 after it never
 * looked at), a hostile event (len past its end) dropped.
 */
static void bpf_events(void)
{
	struct iopf_tap_cfg cfg = { .fd = -1 };
	struct iopf_tap *t;
	struct iopf_rec r;
	static struct iommu_hwpt_pgfault f[300];
	struct iommu_hwpt_page_response resp[40];
	static uint8_t buf[sizeof(struct tb_ev) + sizeof(f)];
	size_t faults = 0, groups = 0, accepted = 0, refused = 0, bad = 0, lost = 0, meta = 0;
	uint64_t lat = 0;
	struct iopf_tap_counts c;
	size_t n;

	if (!ok(iopf_tap_open_offline(&t, &cfg) == 0, "offline tap (BPF events)"))
		return;
	for (uint32_t i = 0; i < 300; i++)	/* groups of three: cookies 1..100 */
		f[i] = (struct iommu_hwpt_pgfault){ .flags = i % 3 == 2 ? IOMMU_PGFAULT_FLAGS_LAST_PAGE : 0,
						    .dev_id = 1, .grpid = i / 3, .addr = 0x1000u * i,
						    .cookie = 1 + i / 3 };
	n = bpf_ev(buf, TB_READ, TB_F_QUEUE, 7, sizeof(f), 65536, f, sizeof(f), 1000000);
	iopf_tap_feed_bpf(t, buf, n);
	for (uint32_t i = 0; i < 40; i++)
		resp[i] = (struct iommu_hwpt_page_response){ .cookie = i == 25 ? 1 : 1 + i, .code = 0 };
	n = bpf_ev(buf, TB_WRITE, TB_F_QUEUE, 7, 25 * 8, sizeof(resp), resp, sizeof(resp), 3000000);
	iopf_tap_feed_bpf(t, buf, n);
	n = bpf_ev(buf, TB_READ, TB_F_QUEUE, 7, 40, 40, f, 40, 4000000);
	((struct tb_ev *)buf)->len = 4000;	/* past its end */
	iopf_tap_feed_bpf(t, buf, n);
	iopf_tap_feed_bpf(t, buf, 10);		/* shorter than a header */
	while (iopf_tap_next(t, &r) == 1) {
		if (r.type == IOPF_REC_FAULT) {
			bad += r.queue_id != 7 || r.u.fault.addr != 0x1000u * faults;
			faults++;
		}
		groups += r.type == IOPF_REC_DELIVERY;
		meta += r.type == IOPF_REC_META;
		lost += r.type == IOPF_REC_LOST;
		if (r.type == IOPF_REC_RESPONSE && !r.status) {
			accepted++;
			lat = r.latency_ns;
		}
		if (r.type == IOPF_REC_RESPONSE && r.status)
			refused += r.status == EINVAL && r.u.resp.cookie == 1 && r.payload_len == 16 &&
				   r.payload[8] == 25 && r.payload[12] == 1;
	}
	is(faults, 300, "BPF: all 300 records of one read");
	is(bad, 0, "BPF: every record whole, in order, on queue 7 (from the event)");
	is(groups, 100, "BPF: 100 groups delivered");
	is(lost, 0, "BPF: nothing lost");
	is(accepted, 25, "BPF: 25 responses accepted");
	is(lat, 2000000, "BPF: latency from the read, in ns");
	is(refused, 1, "BPF: the 26th (a duplicate of cookie 1) refused inside the partial write: EINVAL, index 25");
	/* the handler resubmits the rest: the refused duplicate first, refused again (-EINVAL) */
	n = bpf_ev(buf, TB_WRITE, TB_F_QUEUE, 7, -EINVAL, 15 * 8, resp + 25, 15 * 8, 3500000);
	iopf_tap_feed_bpf(t, buf, n);
	while (iopf_tap_next(t, &r) == 1)
		refused += r.type == IOPF_REC_RESPONSE;
	is(refused, 1, "BPF: its resubmission is not judged (or recorded) a second time");
	iopf_tap_counts(t, &c);
	is(c.retried, 1, "BPF: counted as retried");
	is(c.unexamined, 28, "BPF: the 14 after it counted as not examined (twice)");
	is(c.outstanding, 75, "BPF: 75 groups outstanding");
	iopf_tap_close(t);
}

/* The same events as typed events (cfg.events): one READ and one WRITE, whole. */
static void typed_events(void)
{
	struct iopf_tap_cfg cfg = { .fd = -1, .events = true };
	struct iopf_tap *t;
	struct iopf_tap_event ev;
	static struct iommu_hwpt_pgfault f[300];
	struct iommu_hwpt_page_response resp[40];
	static uint8_t buf[sizeof(struct tb_ev) + sizeof(f)];
	struct iopf_rec r;
	int reads = 0, writes = 0, other = 0;
	size_t n;

	if (!ok(iopf_tap_open_offline(&t, &cfg) == 0, "offline tap (typed events)"))
		return;
	for (uint32_t i = 0; i < 300; i++)
		f[i] = (struct iommu_hwpt_pgfault){ .flags = IOMMU_PGFAULT_FLAGS_LAST_PAGE, .dev_id = 1,
						    .grpid = i, .addr = 0x1000u * i, .cookie = 1 + i };
	for (uint32_t i = 0; i < 40; i++)
		resp[i] = (struct iommu_hwpt_page_response){ .cookie = i == 25 ? 1 : 1 + i };
	n = bpf_ev(buf, TB_READ, TB_F_QUEUE, 7, sizeof(f), 65536, f, sizeof(f), 1000000);
	iopf_tap_feed_bpf(t, buf, n);
	n = bpf_ev(buf, TB_WRITE, TB_F_QUEUE, 7, 25 * 8, sizeof(resp), resp, sizeof(resp), 3000000);
	iopf_tap_feed_bpf(t, buf, n);
	while (iopf_tap_next_event(t, &ev) == 1) {
		if (ev.kind == IOPF_TAP_EV_READ) {
			reads++;
			ok(ev.queue == 7 && ev.n == 300 && ev.total == 300 && ev.recs &&
			   ev.recs[299].cookie == 300 && ev.pid == 4242 && ev.tid == 4243 &&
			   !strcmp(ev.comm, "handler") && ev.t_ns == 1000000,
			   "READ event: queue 7, all 300 records, pid/tid/comm, time");
		} else if (ev.kind == IOPF_TAP_EV_WRITE) {
			writes++;
			ok(ev.n == 40 && ev.total == 40 && ev.accepted == 25 && ev.refused_errno == EINVAL &&
			   ev.refused_partial && ev.resps && ev.resps[25].cookie == 1 && ev.ret == 200,
			   "WRITE event: 40 given, 25 accepted, the 26th refused (EINVAL, partial)");
		} else {
			other++;
		}
	}
	is(reads + writes * 10 + other * 100, 11, "one READ, one WRITE, nothing else");
	is(iopf_tap_next(t, &r), 0, "no records in events mode");
	iopf_tap_close(t);
}

int main(void)
{
	int pid, fd;

	ok(iopf_tap_spec("tap", &pid, &fd) && pid == 0 && fd == -1, "tap: every process");
	ok(iopf_tap_spec("tap:42", &pid, &fd) && pid == 42 && fd == -1, "tap:42");
	ok(iopf_tap_spec("tap:42:7", &pid, &fd) && pid == 42 && fd == 7, "tap:42:7");
	ok(iopf_tap_spec("tap:x", &pid, &fd) && pid == -1, "tap:x is the tap, malformed");
	ok(iopf_tap_spec("tap:0", &pid, &fd) && pid == -1, "tap:0 is malformed");
	ok(iopf_tap_spec("tap:1:2:3", &pid, &fd) && pid == -1, "tap:1:2:3 is malformed");
	ok(!iopf_tap_spec("tape", &pid, &fd) && !iopf_tap_spec("sim", &pid, &fd), "tape and sim are not the tap");

	offline();
	big_reads();
	bpf_events();
	typed_events();
	return tap_done();
}
