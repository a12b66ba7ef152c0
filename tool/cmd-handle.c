// SPDX-License-Identifier: MIT
/*
 * iopftool handle: the reference handler for the handler-fd contract
 * (iopftool-replay(8) "THE HANDLER FD").  A live session (lib/session.c)
 * on an fd:N target (fd 3, or $IOPF_FAULT_FD, or --fd N; lib/target-fd.c
 * gives a socket the fault fd's read semantics): whole groups with one
 * large buffer per wake-up, each group answered by policy, one batched
 * write, resubmitted after a refused answer.  It can misbehave on purpose
 * (--bug, lib/bug.c) to exercise checkers.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live.h"
#include "vec.h"

enum { OPT_POLICY = 256, OPT_BUG, OPT_BUG_EVERY, OPT_BUG_DELAY, OPT_BUFFER, OPT_FD };


struct held {
	struct iommu_hwpt_page_response resp;
	uint64_t due_ns;
};

struct handler {
	int fd;
	uint32_t code;		/* --policy */
	enum iopf_bug bug;
	uint64_t bug_every;
	uint64_t bug_delay_ns;
	uint64_t max_groups;	/* -c */
	size_t cap;		/* --buffer */
	struct iopf_target *t;	/* fd:N */
	struct iopf_session *s;	/* reads, answers in batches, counts */
	struct held *held;	/* --bug delay: answers not yet due (FIFO: due times grow) */
	size_t held_head, held_tail, held_cap;
	uint64_t groups, dropped;
	bool eof;		/* the socket's end of stream */
};

static const struct argp_option options[] = {
	{ "fd", OPT_FD, "N", 0, "the fault fd (default $IOPF_FAULT_FD, else 3)", 0 },
	{ "policy", OPT_POLICY, "CODE", 0, "answer success (default) or invalid", 0 },
	{ "bug", OPT_BUG, "MODE", 0, "misbehave: " IOPF_BUG_LIST ", zero-cookie", 0 },
	{ "bug-every", OPT_BUG_EVERY, "N", 0, "apply --bug to every Nth group only (default 1: all)", 0 },
	{ "bug-delay", OPT_BUG_DELAY, "DUR", 0, "how long --bug delay holds an answer (default 50ms)", 0 },
	{ "count", 'c', "N", 0, "exit after answering N groups", 0 },
	{ "buffer", OPT_BUFFER, "BYTES", 0, "read buffer size (default 65520; grown when a group does not fit)", 0 },
	{ 0 }
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct handler *h = state->input;

	switch (key) {
	case OPT_FD: h->fd = (int)arg_u64(state, "--fd", arg, INT32_MAX); return 0;
	case OPT_POLICY: h->code = live_arg_policy(state, arg); return 0;
	case OPT_BUG: h->bug = arg_bug(state, arg); return 0;
	case OPT_BUG_EVERY: h->bug_every = arg_u64(state, "--bug-every", arg, UINT64_MAX); return 0;
	case OPT_BUG_DELAY: h->bug_delay_ns = arg_duration(state, "--bug-delay", arg); return 0;
	case 'c': h->max_groups = arg_count(state, "--count", arg, UINT64_MAX); return 0;
	case OPT_BUFFER:
		h->cap = arg_u64(state, "--buffer", arg, 1u << 30) / IOPF_FAULT_SIZE * IOPF_FAULT_SIZE;
		if (!h->cap)
			argp_error(state, "--buffer: must hold at least one %zu-byte record", IOPF_FAULT_SIZE);
		return 0;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		return 0;
	case ARGP_KEY_END:
		if (h->bug_every == 0)
			argp_error(state, "--bug-every: must be 1 or more");
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp_child children[] = { GLOBAL_CHILD, { 0 } };

static const struct argp handle_argp = {
	.options = options,
	.parser = parse_opt,
	.doc = "Answer the faults on a fault fd: the reference handler for the handler-fd contract (iopftool-replay(8)).\v"
	       "Started by 'iopftool replay --exec' with the fault fd as fd 3, or on any fault fd.",
	.children = children,
};

static int hold(struct handler *h, const struct iommu_hwpt_page_response *r, uint64_t due)
{
	int rc = vec_fifo_reserve(&h->held, &h->held_cap, sizeof(*h->held), &h->held_head,
				  &h->held_tail);

	if (!rc)
		h->held[h->held_tail++] = (struct held){ *r, due };
	else
		p_err("out of memory holding %zu answers", h->held_tail - h->held_head);
	return rc;
}

/* One group of a read (lib/session.c: whole groups): queue its answer, misbehaving as --bug says (lib/bug.c). */
static int take_group(void *ctx, struct iopf_group *g)
{
	struct handler *h = ctx;
	struct iopf_bug_cfg c = { .bug = h->bug, .every = h->bug_every, .code = h->code };
	struct iommu_hwpt_page_response r[IOPF_BUG_MAX_RESPONSES];
	bool late;
	size_t n;
	int rc = 0;

	h->groups++;
	p_verbose("group cookie %u dev %u grpid %u", g->last.cookie, g->last.dev_id, g->last.grpid);
	n = iopf_bug_answer(&c, h->groups, &g->last, r, &late);
	if (!n)
		h->dropped++;
	for (size_t i = 0; i < n && !rc; i++)
		rc = late ? hold(h, &r[i], iopf_time_now() + h->bug_delay_ns) :
			    iopf_session_queue(h->s, r[i].cookie, r[i].code);
	return rc;
}

/* Queue the held answers that are due (or all, at exit). */
static int release_held(struct handler *h, bool all)
{
	uint64_t now = iopf_time_now();

	while (h->held_head < h->held_tail &&
	       (all || h->held[h->held_head].due_ns <= now)) {
		const struct iommu_hwpt_page_response *r = &h->held[h->held_head].resp;
		int rc = iopf_session_queue(h->s, r->cookie, r->code);

		if (rc)
			return rc;
		h->held_head++;
	}
	return 0;
}

/*
 * One write for the queued answers; after a refused one the rest is
 * written again (lib/session.c: drivers/iommu/iommufd/fault.c:
 * iommufd_fault_fops_write() stops at it).
 */
static int flush_out(struct handler *h)
{
	return iopf_session_flush(h->s);	/* its errors are logged (lib/iopf.h) */
}

/* What the fd is (lib/target-fd.c): said with -v only; warnings and errors always. */
static void log_quiet_info(void *ctx, enum iopf_log_level level, const char *msg)
{
	tool_log.fn(ctx, level == IOPF_LOG_INFO ? IOPF_LOG_DEBUG : level, msg);
}

static const struct iopf_log handle_log = { .fn = log_quiet_info };

/*
 * The session's warnings judge the handler, and handle is the handler
 * (wrong on purpose with --bug): judging is the replay's or monitor's
 * job, so the session says only errors (as handle always did).
 */
static void log_errors(void *ctx, enum iopf_log_level level, const char *msg)
{
	if (level == IOPF_LOG_ERR)
		tool_log.fn(ctx, level, msg);
}

static const struct iopf_log session_log = { .fn = log_errors };

static int poll_timeout_ms(const struct handler *h)
{
	if (h->held_head == h->held_tail)
		return stop_requested ? 0 : -1;
	uint64_t now = iopf_time_now(), due = h->held[h->held_head].due_ns;

	return due <= now ? 0 : (int)((due - now + 999999) / 1000000);
}

/*
 * Read every group waiting and queue their answers: 0, or a negative errno,
 * said by the session (lib/iopf.h) or by take_group().
 */
static int read_groups(struct handler *h)
{
	ssize_t g = iopf_session_drain(h->s, take_group, h);

	if (g == -ESHUTDOWN) {	/* the socket's end of stream (lib/target-fd.c) */
		h->eof = true;
		return 0;
	}
	return g < 0 ? (int)g : 0;
}

static bool count_done(const struct handler *h)
{
	struct iopf_session_counts n;

	if (!h->max_groups)
		return false;
	iopf_session_counts(h->s, &n);
	return n.groups >= h->max_groups && h->held_head == h->held_tail;
}

static int run(struct handler *h)
{
	struct pollfd pfd = { .fd = iopf_target_fd(h->t), .events = POLLIN };
	int rc = 0;

	while (!rc && !h->eof && !stop_requested && !count_done(h)) {
		int n = poll(&pfd, 1, poll_timeout_ms(h));

		if (n < 0 && errno != EINTR) {
			p_err("poll on fault fd %d: %s", h->fd, strerror(errno));
			return -errno;
		}
		if (n > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			rc = read_groups(h);
		rc = rc ?: release_held(h, false);
		rc = rc ?: flush_out(h);
	}
	/* At exit answer every group still held (never leave the device waiting). */
	if (rc >= 0 && release_held(h, true) == 0)
		return flush_out(h);
	return rc;
}

int cmd_handle(int argc, char **argv)
{
	struct handler h = { .fd = 3, .bug_every = 1, .bug_delay_ns = 50000000ull,
			     .cap = 65536 / IOPF_FAULT_SIZE * IOPF_FAULT_SIZE };
	const char *env = getenv("IOPF_FAULT_FD");
	struct iopf_session_counts n;
	char spec[32], err[512];
	uint64_t v;
	int rc;

	if (env && !iopf_u64_parse(env, INT32_MAX, &v))
		h.fd = (int)v;
	parse_verb(&handle_argp, argc, argv, &h);
	snprintf(spec, sizeof(spec), "fd:%d", h.fd);
	rc = iopf_target_open(&h.t, spec, &handle_log, err, sizeof(err));
	if (rc) {
		p_err("%s", err);	/* names the fd and what it is (lib/target-fd.c) */
		return out_finish(EXIT_ERROR);
	}
	struct iopf_session_cfg cfg = { .limit = h.max_groups, .read_bytes = h.cap, .log = &session_log };

	rc = iopf_session_new(&h.s, h.t, &cfg);
	if (rc) {
		p_err("out of memory");
		iopf_target_close(h.t);
		return out_finish(EXIT_ERROR);
	}
	install_stop_handlers();
	rc = run(&h);
	iopf_session_counts(h.s, &n);
	p_info("handle: %llu groups, %llu faults, %llu responses written, %llu refused, %llu dropped",
	       (unsigned long long)n.groups, (unsigned long long)n.faults,
	       (unsigned long long)(n.responses - n.refused), (unsigned long long)n.refused,
	       (unsigned long long)h.dropped);
	iopf_session_free(h.s);
	iopf_target_close(h.t);
	free(h.held);
	return out_finish(rc < 0 ? EXIT_ERROR : EXIT_OK);
}
