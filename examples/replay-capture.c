// SPDX-License-Identifier: MIT
/*
 * Replay a capture into libiopf's userspace fault queue ("sim") with an
 * in-process handler, and print the checker's report: what a VMM's test
 * harness does to drive its own fault handler with a customer's capture.
 *
 *   cc replay-capture.c $(pkg-config --cflags --libs iopf) -o replay-capture
 *   ./replay-capture CAPTURE [echo-grpid]
 *
 * The handler answers every group with the cookie the queue handed out;
 * given "echo-grpid" it makes the classic mistake (echoing the device's
 * group id, see iopftool-replay(8)) and the report counts it.  Exit 0
 * when every answer was right, 1 when the checker found violations, 2 on
 * an error.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <iopf.h>

static int handler(void *ctx, const struct iopf_group *g,
		   struct iommu_hwpt_page_response *out, size_t cap)
{
	const int *echo_grpid = ctx;

	if (cap < 1)
		return 0;
	out[0].cookie = *echo_grpid ? g->last.grpid : g->cookie;
	out[0].code = IOMMUFD_PAGE_RESP_SUCCESS;
	return 1;
}

static void log_stderr(void *ctx, enum iopf_log_level level, const char *msg)
{
	(void)ctx;
	if (level <= IOPF_LOG_WARN)
		fprintf(stderr, "replay-capture: %s\n", msg);
}

int main(int argc, char **argv)
{
	static const struct iopf_log log = { .fn = log_stderr };
	int echo_grpid = argc > 2 && !strcmp(argv[2], "echo-grpid");
	struct iopf_replay_cfg cfg = {
		.schedule = IOPF_REPLAY_TOPSPEED,
		.handler = IOPF_REPLAY_CALLBACK,
		.fn = handler,
		.fn_ctx = &echo_grpid,
		.peer_fd = -1,
		.log = &log,
	};
	struct iopf_target *t;
	struct iopf_replay *rp;
	struct iopf_report rep;
	char err[256];
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: replay-capture CAPTURE [echo-grpid]\n");
		return 64;
	}
	if (iopf_target_open(&t, "sim", &log, err, sizeof(err)) < 0) {
		fprintf(stderr, "replay-capture: %s\n", err);
		return 2;
	}
	if ((rc = iopf_replay_new(&rp, t, &cfg)) < 0) {
		fprintf(stderr, "replay-capture: %s\n", strerror(-rc));
		iopf_target_close(t);
		return 2;
	}
	rc = iopf_replay_run(rp, argv[1], &rep);
	if (rc == 0 || rc == -EBADMSG) {
		struct iopf_out *o = iopf_out_new(stdout, IOPF_OUT_JSON);
		iopf_report_print(o, argv[1], "sim", echo_grpid ? "echo-grpid" : "callback", &rep);
		iopf_out_free(o);
	} else {
		fprintf(stderr, "replay-capture: %s: %s\n", argv[1], strerror(-rc));
	}
	iopf_replay_free(rp);
	iopf_target_close(t);
	return rc ? 2 : rep.ok ? 0 : 1;
}
