// SPDX-License-Identifier: MIT
/* The live session (lib/session.c) on the sim target: reads, growth, limits, batches, refusals, META. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "iopf.h"
#include "tap.h"

static struct iopf_target *sim(uint32_t *dev)
{
	struct iopf_target *t;
	char err[256];

	if (iopf_target_open(&t, "sim", NULL, err, sizeof(err)) || iopf_target_device(t, 1, dev))
		abort();
	return t;
}

/* A group of n records on dev, grpid g: partial faults, the last with LAST_PAGE. */
static void inject(struct iopf_target *t, uint32_t dev, uint32_t grpid, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct iommu_hwpt_pgfault f = { .dev_id = dev, .grpid = grpid, .addr = 0x1000 * (i + 1),
						.perm = IOMMU_PGFAULT_PERM_READ };

		if (i + 1 == n)
			f.flags = IOMMU_PGFAULT_FLAGS_LAST_PAGE;
		if (iopf_target_inject(t, &f))
			abort();
	}
}

struct seen {
	size_t n[16], count;
	uint32_t cookie[16];
	bool order_ok;
};

static int on_group(void *ctx, struct iopf_group *g)
{
	struct seen *s = ctx;

	if (s->count < 16) {
		s->n[s->count] = g->n;
		s->cookie[s->count] = g->cookie;
	}
	for (size_t i = 0; i < g->n; i++)
		s->order_ok &= g->recs[i].addr == 0x1000 * (i + 1) && g->recs[i].cookie == g->cookie;
	s->count++;
	return 0;
}

static void test_read_and_answer(void)
{
	uint32_t dev;
	struct iopf_target *t = sim(&dev);
	struct iopf_session *s;
	struct iopf_session_counts c;
	struct iopf_report rep;
	struct seen seen = { .order_ok = true };

	is(iopf_session_new(&s, t, NULL), 0, "session");
	inject(t, dev, 5, 1);
	inject(t, dev, 6, 3);
	inject(t, dev, 7, 2);
	is(iopf_session_drain(s, on_group, &seen), 3, "drain: 3 groups");
	ok(seen.n[0] == 1 && seen.n[1] == 3 && seen.n[2] == 2 && seen.order_ok, "whole groups, in order");
	iopf_session_counts(s, &c);
	ok(c.reads == 1 && c.groups == 3 && c.faults == 6 && c.outstanding == 3,
	   "one read, 3 groups, 6 faults, 3 outstanding");
	is(iopf_session_drain(s, on_group, &seen), 0, "nothing more waiting");
	/* a refused response in the middle: the rest is resubmitted */
	iopf_session_queue(s, seen.cookie[0], IOMMUFD_PAGE_RESP_SUCCESS);
	iopf_session_queue(s, 999, IOMMUFD_PAGE_RESP_SUCCESS);
	iopf_session_queue(s, seen.cookie[2], IOMMUFD_PAGE_RESP_INVALID);
	is(iopf_session_queued(s), 3, "3 queued");
	is(iopf_session_flush(s), 0, "flush");
	is(iopf_session_queued(s), 0, "queue empty after the flush");
	iopf_session_counts(s, &c);
	ok(c.responses == 3 && c.accepted == 2 && c.outstanding == 1,
	   "3 responses, 2 accepted (the one after the refused too), 1 outstanding");
	iopf_check_finish(iopf_session_check(s), &rep);
	ok(rep.v[IOPF_V_UNKNOWN_COOKIE] == 1 && rep.v[IOPF_V_UNANSWERED] == 1 && rep.v[IOPF_OK] == 2,
	   "checker: 2 ok, 1 unknown cookie, 1 unanswered");
	/* a refused first entry: the write fails, the rest still goes */
	struct iommu_hwpt_page_response r[2] = { { 12345, 0 }, { seen.cookie[1], 0 } };

	is(iopf_session_respond(s, r, 2), 0, "respond with a bad first entry");
	iopf_session_counts(s, &c);
	ok(c.accepted == 3 && c.outstanding == 0, "the second was accepted: none outstanding");
	iopf_session_free(s);
	iopf_target_close(t);
}

static void test_grow_and_limit(void)
{
	uint32_t dev;
	struct iopf_target *t = sim(&dev);
	struct iopf_session_cfg cfg = { .limit = 2 };
	struct iopf_session *s;
	struct iopf_session_counts c;
	struct seen seen = { .order_ok = true };

	is(iopf_session_new(&s, t, &cfg), 0, "session with a limit of 2 groups");
	inject(t, dev, 1, 40000);	/* 1.6 MB: the 64 KiB buffer must grow */
	for (uint32_t g = 2; g < 6; g++)
		inject(t, dev, g, 1);
	ssize_t n = iopf_session_drain(s, on_group, &seen);

	/* the grown read may carry groups past the limit: the kernel has no one-group read */
	ok(n >= 2 && n <= 5, "the limit reached (%zd groups)", n);
	ok(seen.n[0] == 40000 && seen.order_ok, "a 40000-record group read whole");
	iopf_session_counts(s, &c);
	is(c.faults, 40000 + (uint64_t)n - 1, "its faults and the others'");
	is(iopf_session_drain(s, on_group, &seen), 0, "no more past the limit");
	iopf_session_free(s);
	/* without a limit, the same read after growing */
	cfg.limit = 0;
	iopf_session_new(&s, t, &cfg);
	inject(t, dev, 7, 40000);
	inject(t, dev, 8, 1);
	is(iopf_session_drain(s, NULL, NULL), 2 + 5 - n, "what was left, and the big group and one more");
	iopf_session_counts(s, &c);
	is(c.reads, 1, "in one read of the grown buffer");
	iopf_session_free(s);
	iopf_target_close(t);
}

static int fail_second(void *ctx, struct iopf_group *g)
{
	(void)g;
	return ++*(int *)ctx == 2 ? -EIO : 0;
}

static void test_callback_error(void)
{
	uint32_t dev;
	struct iopf_target *t = sim(&dev);
	struct iopf_session *s;
	struct iopf_session_counts c;
	int calls = 0;

	iopf_session_new(&s, t, NULL);
	for (uint32_t g = 1; g <= 3; g++)
		inject(t, dev, g, 2);
	is(iopf_session_drain(s, fail_second, &calls), -EIO, "the callback's error is returned");
	iopf_session_counts(s, &c);
	ok(calls == 3 && c.groups == 3, "but every group of the read was handled (%d calls)", calls);
	iopf_session_free(s);
	iopf_target_close(t);
}

static void test_capture(void)
{
	uint32_t dev;
	struct iopf_target *t = sim(&dev);
	char path[] = "/tmp/test-session.XXXXXX", err[256], *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct iopf_out *o = iopf_out_new(f, IOPF_OUT_JSON);
	struct iopf_session_cfg cfg = { .out = o };
	struct iopf_session *s;
	struct iopf_stats *st;
	struct iopf_stats_result res;
	struct seen seen = { .order_ok = true };
	int fd = mkstemp(path);

	close(fd);
	is(iopf_writer_open(&cfg.writer, path, IOPF_LINKTYPE_DEFAULT, err, sizeof(err)), 0, "writer");
	iopf_session_new(&s, t, &cfg);
	is(iopf_session_meta_start(s, "sim", "dev.1=sim device 1\n"), 0, "META start");
	inject(t, dev, 3, 2);
	inject(t, dev, 4, 1);
	iopf_session_drain(s, on_group, &seen);
	iopf_session_queue(s, seen.cookie[0], 0);
	iopf_session_queue(s, seen.cookie[1], 0);
	iopf_session_flush(s);
	is(iopf_session_meta_end(s, 0), 0, "META end");
	is(iopf_writer_close(cfg.writer), 0, "close");
	iopf_session_free(s);
	iopf_out_free(o);
	fclose(f);
	ok(buf && strstr(buf, "\"type\":\"fault\"") && strstr(buf, "\"type\":\"response\""),
	   "records printed through iopf_out");
	free(buf);
	iopf_stats_new(&st, NULL);
	is(iopf_stats_file(st, path, NULL), 0, "the capture reads back");
	iopf_stats_result(st, &res);
	ok(res.groups == 2 && res.faults == 3 && res.responses == 2 && res.complete &&
	   !strcmp(res.source, "sim") && res.check.ok, "2 groups, 3 faults, 2 responses, end=1, source sim, ok");
	iopf_stats_free(st);
	unlink(path);
	iopf_target_close(t);
}

/*
 * fd:N on a handler-fd socket (handle under replay --handler-fd socket):
 * one group per message, never blocking, a message larger than the
 * buffer read whole after growing it, -ESHUTDOWN at the end of the
 * stream, responses sent as one message.
 */
static void test_socket(void)
{
	struct iommu_hwpt_pgfault f[40];
	struct iommu_hwpt_page_response r[4];
	struct iopf_session_cfg cfg = { .read_bytes = 10 * IOPF_FAULT_SIZE };
	struct iopf_session_counts c;
	struct iopf_target *t;
	struct iopf_session *s;
	struct seen seen = { .order_ok = true };
	char spec[32], err[256];
	int sv[2];

	if (!ok(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0, "socket: a SEQPACKET pair"))
		return;
	snprintf(spec, sizeof(spec), "fd:%d", sv[1]);
	if (!ok(iopf_target_open(&t, spec, NULL, err, sizeof(err)) == 0, "socket: %s opens", spec))
		return;
	is(iopf_session_new(&s, t, &cfg), 0, "socket: session with a 10-record buffer");
	is(iopf_session_drain(s, on_group, &seen), 0, "socket: nothing sent, nothing read, no blocking");
	for (uint32_t i = 0; i < 40; i++)
		f[i] = (struct iommu_hwpt_pgfault){ .dev_id = 1, .grpid = 1 + i / 37, .addr = 0x1000 * (i % 37 + 1),
						    .cookie = 7 + i / 37,
						    .flags = i == 36 || i == 39 ? IOMMU_PGFAULT_FLAGS_LAST_PAGE : 0 };
	for (uint32_t i = 37; i < 40; i++)
		f[i].addr = 0x1000 * (i - 36);
	send(sv[0], f, 37 * IOPF_FAULT_SIZE, 0);	/* a group of 37: more than the buffer */
	send(sv[0], f + 37, 3 * IOPF_FAULT_SIZE, 0);
	is(iopf_session_drain(s, on_group, &seen), 2, "socket: two messages, two groups");
	ok(seen.count == 2 && seen.n[0] == 37 && seen.n[1] == 3 && seen.order_ok,
	   "socket: the group of 37 read whole after the buffer grew, then the group of 3");
	r[0] = (struct iommu_hwpt_page_response){ .cookie = 7 };
	r[1] = (struct iommu_hwpt_page_response){ .cookie = 8 };
	is(iopf_session_respond(s, r, 2), 0, "socket: respond");
	is(recv(sv[0], r + 2, 2 * IOPF_RESP_SIZE, MSG_DONTWAIT), 2 * IOPF_RESP_SIZE,
	   "socket: both responses in one message");
	iopf_session_counts(s, &c);
	ok(c.groups == 2 && c.faults == 40 && c.accepted == 2 && c.refused == 0,
	   "socket: 2 groups, 40 faults, 2 accepted, none refused");
	shutdown(sv[0], SHUT_WR);
	is(iopf_session_drain(s, on_group, &seen), -ESHUTDOWN, "socket: end of stream is -ESHUTDOWN");
	iopf_session_free(s);
	iopf_target_close(t);
	close(sv[0]);
	close(sv[1]);
}

/* A response the queue refuses is counted refused. */
static void test_refused(void)
{
	uint32_t dev;
	struct iopf_target *t = sim(&dev);
	struct iopf_session *s;
	struct iopf_session_counts c;
	struct seen seen = { .order_ok = true };

	is(iopf_session_new(&s, t, NULL), 0, "refused: session");
	inject(t, dev, 5, 1);
	iopf_session_drain(s, on_group, &seen);
	iopf_session_queue(s, 4242, IOMMUFD_PAGE_RESP_SUCCESS);
	iopf_session_queue(s, seen.cookie[0], IOMMUFD_PAGE_RESP_SUCCESS);
	is(iopf_session_flush(s), 0, "refused: flush");
	iopf_session_counts(s, &c);
	ok(c.responses == 2 && c.refused == 1 && c.accepted == 1,
	   "refused: 2 responses, 1 refused, 1 accepted");
	iopf_session_free(s);
	iopf_target_close(t);
}

int main(void)
{
	test_socket();
	test_refused();
	test_read_and_answer();
	test_grow_and_limit();
	test_callback_error();
	test_capture();
	return tap_done();
}
