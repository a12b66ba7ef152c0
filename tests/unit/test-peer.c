// SPDX-License-Identifier: MIT
/* The handler-fd peer (lib/peer.c) over a socketpair: one group a message, responses back. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "iopf.h"
#include "internal.h"	/* what only libiopf and its tests use */
#include "tap.h"

TAP_LOG_CAPTURE

static void group(struct iommu_hwpt_pgfault *f, size_t n, uint32_t cookie)
{
	for (size_t i = 0; i < n; i++)
		f[i] = (struct iommu_hwpt_pgfault){ .cookie = cookie, .addr = 0x1000 * (i + 1),
						    .flags = i + 1 == n ? IOMMU_PGFAULT_FLAGS_LAST_PAGE : 0 };
}

static void test_messages(void)
{
	struct iommu_hwpt_pgfault f[3], in[8];
	const struct iommu_hwpt_page_response *r;
	struct iopf_peer *p;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv))
		abort();
	is(iopf_peer_new(&p, sv[0], &tlog), 0, "peer on our end");
	is(iopf_peer_fd(p), sv[0], "its fd");
	group(f, 3, 7);
	is(iopf_peer_send(p, f, 3), 0, "send a group of 3");
	group(f, 1, 8);
	is(iopf_peer_send(p, f, 1), 0, "and one of 1");
	is(recv(sv[1], in, sizeof(in), 0), 120, "the handler reads one message of 3 records");
	ok(in[0].cookie == 7 && in[2].addr == 0x3000 && (in[2].flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE),
	   "records in order, LAST_PAGE last");
	is(recv(sv[1], in, sizeof(in), 0), 40, "then one of 1 record");
	is(iopf_peer_recv(p, &r), 0, "no responses yet");
	struct iommu_hwpt_page_response out[2] = { { 7, 0 }, { 8, 1 } };

	is(send(sv[1], out, 16, 0), 16, "the handler answers both in one write");
	is(iopf_peer_recv(p, &r), 2, "two responses");
	ok(r[0].cookie == 7 && r[1].cookie == 8 && r[1].code == 1, "as written");
	is(send(sv[1], out, 12, 0), 12, "a write of 12 bytes");
	warnings = 0;
	is(iopf_peer_recv(p, &r), 1, "one whole response");
	ok(warnings == 1 && strstr(last_msg, "not a multiple of 8"), "the tail warned about: %s", last_msg);
	close(sv[1]);
	is(iopf_peer_recv(p, &r), -EPIPE, "the handler closed its end: -EPIPE");
	ok(iopf_peer_eof(p), "eof");
	is(iopf_peer_send(p, f, 1), 0, "sending after that drops the group quietly");
	iopf_peer_free(p);
}

/* A full socket: groups wait in order, never block, and go out on flush. */
static void test_backpressure(void)
{
	struct iommu_hwpt_pgfault f[4], in[4];
	struct iopf_peer_counts c;
	struct iopf_peer *p;
	int sv[2], small = 4096;
	uint32_t cookie;

	socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	iopf_peer_new(&p, sv[0], &tlog);
	for (cookie = 1; !iopf_peer_pending(p) && cookie < 100000; cookie++) {
		group(f, 4, cookie);
		iopf_peer_send(p, f, 4);
	}
	ok(iopf_peer_pending(p), "the socket filled up after %u groups", cookie - 1);
	for (uint32_t k = 0; k < 10; k++, cookie++) {
		group(f, 4, cookie);
		iopf_peer_send(p, f, 4);
	}
	bool inorder = true;
	uint32_t want = 1;

	while (want < cookie) {
		iopf_peer_flush(p);
		if (recv(sv[1], in, sizeof(in), MSG_DONTWAIT) != 160)
			break;
		inorder &= in[0].cookie == want++;
	}
	ok(inorder && want == cookie, "every group arrived, in order (%u of %u)", want - 1, cookie - 1);
	ok(!iopf_peer_pending(p), "nothing queued");
	iopf_peer_counts(p, &c);
	ok(c.sent == cookie - 1 && c.queued_max > 0, "counts: %llu sent, at most %llu bytes queued",
	   (unsigned long long)c.sent, (unsigned long long)c.queued_max);
	close(sv[1]);
	iopf_peer_free(p);
}

/* A group bigger than the send buffer: the buffer grows if it may, else a warning. */
static void test_big_group(void)
{
	size_t n = 40000;
	struct iommu_hwpt_pgfault *f = calloc(n, sizeof(*f)), *in = calloc(n, sizeof(*in));
	struct iopf_peer *p;
	int sv[2];

	socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
	iopf_peer_new(&p, sv[0], &tlog);
	group(f, n, 3);
	warnings = 0;
	is(iopf_peer_send(p, f, n), 0, "send 40000 records");
	ssize_t got = recv(sv[1], in, n * sizeof(*in), MSG_DONTWAIT);

	if (got > 0)
		ok(got == (ssize_t)(n * sizeof(*in)) && in[n - 1].addr == 0x1000 * n,
		   "one message of 1.6 MB (the send buffer grew)");
	else
		ok(warnings == 1 && strstr(last_msg, "does not fit one message"),
		   "not sent, with a warning: %s", last_msg);
	close(sv[1]);
	iopf_peer_free(p);
	free(f);
	free(in);
}

int main(void)
{
	test_messages();
	test_backpressure();
	test_big_group();
	return tap_done();
}
