// SPDX-License-Identifier: MIT
/*
 * iopftool handle: the reference handler for the handler-fd contract
 * (iopftool-replay(8) "THE HANDLER FD").  Reads whole groups from a fault fd (fd 3, or
 * $IOPF_FAULT_FD, or --fd N) with one large buffer per wake-up, answers
 * each group by policy in one batched write, and can misbehave on
 * purpose (--bug) to exercise checkers.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "live.h"
#include "vec.h"

enum { OPT_POLICY = 256, OPT_BUG, OPT_BUG_EVERY, OPT_BUG_DELAY, OPT_BUFFER, OPT_FD };


struct held {
	struct iommu_hwpt_page_response resp;
	uint64_t due_ns;
};

/* Responses collected to be written in one batch. */
struct resp_batch {
	struct iommu_hwpt_page_response *r;
	size_t n, cap;
};

static int resp_batch_push(struct resp_batch *b, uint32_t cookie, uint32_t code)
{
	int rc = vec_reserve(&b->r, &b->cap, sizeof(*b->r), b->n + 1);

	if (!rc)
		b->r[b->n++] = (struct iommu_hwpt_page_response){ .cookie = cookie, .code = code };
	return rc;
}

struct handler {
	int fd;
	bool is_socket;		/* the replay socket: read 0 is end of stream */
	uint32_t code;		/* --policy */
	enum iopf_bug bug;
	uint64_t bug_every;
	uint64_t bug_delay_ns;
	uint64_t max_groups;	/* -c */
	size_t cap;
	uint8_t *buf;
	struct resp_batch out;	/* the batch to write */
	struct held *held;	/* --bug delay: answers not yet due (FIFO: due times grow) */
	size_t held_head, held_tail, held_cap;
	uint64_t groups, faults, written, refused, dropped;
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
	return rc;
}

/* Queue the answer to one group, misbehaving as --bug says (lib/bug.c). */
static int answer(struct handler *h, const struct iommu_hwpt_pgfault *last)
{
	struct iopf_bug_cfg c = { .bug = h->bug, .every = h->bug_every, .code = h->code };
	struct iommu_hwpt_page_response r[IOPF_BUG_MAX_RESPONSES];
	bool late;
	size_t n = iopf_bug_answer(&c, h->groups, last, r, &late);
	int rc = 0;

	if (!n)
		h->dropped++;
	for (size_t i = 0; i < n && !rc; i++)
		rc = late ? hold(h, &r[i], iopf_now_ns() + h->bug_delay_ns) :
			    resp_batch_push(&h->out, r[i].cookie, r[i].code);
	return rc;
}

/* One group of a read (lib/group.c: whole groups, LAST_PAGE last): answer it. */
static int take_group(void *ctx, struct iopf_group *g)
{
	struct handler *h = ctx;

	h->groups++;
	p_verbose("group cookie %u dev %u grpid %u", g->last.cookie, g->last.dev_id, g->last.grpid);
	return answer(h, &g->last);
}

static int take_groups(struct handler *h, size_t nrec)
{
	ssize_t n;

	h->faults += nrec;
	n = iopf_group_split(0, (const void *)h->buf, nrec, iopf_now_ns(), take_group, h);
	return n < 0 ? (int)n : 0;
}

/* Move answers that are due (or all, at exit) from the held queue to the batch. */
static int release_held(struct handler *h, bool all)
{
	uint64_t now = iopf_now_ns();

	while (h->held_head < h->held_tail &&
	       (all || h->held[h->held_head].due_ns <= now)) {
		const struct iommu_hwpt_page_response *r = &h->held[h->held_head].resp;
		int rc = resp_batch_push(&h->out, r->cookie, r->code);

		if (rc)
			return rc;
		h->held_head++;
	}
	return 0;
}

/* One write for the batch; after a refused entry resubmit the rest
 * (drivers/iommu/iommufd/fault.c: iommufd_fault_fops_write() stops at it). */
static int flush_out(struct handler *h)
{
	size_t off = 0;

	while (off < h->out.n) {
		ssize_t w = write(h->fd, h->out.r + off, (h->out.n - off) * IOPF_RESP_SIZE);

		if (w > 0) {
			off += (size_t)w / IOPF_RESP_SIZE;
			h->written += (size_t)w / IOPF_RESP_SIZE;
		} else if (w < 0 && errno == EINTR) {
			continue;
		} else if (w < 0 && errno == EINVAL) {
			p_verbose("response cookie %u code %u refused: %s", h->out.r[off].cookie,
				  h->out.r[off].code, strerror(errno));
			h->refused++;
			off++;
		} else {
			p_err("write to fault fd %d: %s", h->fd, w < 0 ? strerror(errno) : "short write");
			return -EIO;
		}
	}
	h->out.n = 0;
	return 0;
}

static int poll_timeout_ms(const struct handler *h)
{
	if (h->held_head == h->held_tail)
		return stop_requested ? 0 : -1;
	uint64_t now = iopf_now_ns(), due = h->held[h->held_head].due_ns;

	return due <= now ? 0 : (int)((due - now + 999999) / 1000000);
}

/* Returns 1 at end of stream, 0 to go on, negative on error. */
static int read_once(struct handler *h, bool pollin)
{
	if (h->is_socket) {
		/* One group per message (iopftool-replay(8)): make room for the whole message. */
		ssize_t len = recv(h->fd, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);

		if (len > (ssize_t)h->cap && len <= (1 << 30)) {
			void *p = realloc(h->buf, (size_t)len);

			if (!p) {
				p_err("fault fd %d: out of memory for a message of %zd bytes", h->fd, len);
				return -ENOMEM;
			}
			h->buf = p;
			h->cap = (size_t)len;
		}
	}
	ssize_t r = read(h->fd, h->buf, h->cap);

	if (r > 0)
		return take_groups(h, (size_t)r / IOPF_FAULT_SIZE);
	if (r == 0 && h->is_socket)
		return 1;
	if ((r == 0 && pollin) || (r < 0 && errno == EINVAL)) {
		/* The first group does not fit (old kernels return 0): grow. */
		void *p = h->cap < (1u << 26) ? realloc(h->buf, h->cap * 2) : NULL;

		if (!p) {
			p_err("fault fd %d: a group does not fit in %zu bytes", h->fd, h->cap);
			return -EINVAL;
		}
		h->buf = p;
		h->cap *= 2;
		return 0;
	}
	if (r < 0 && errno != EINTR && errno != EAGAIN) {
		p_err("read from fault fd %d: %s", h->fd, strerror(errno));
		return -errno;
	}
	return 0;
}

static int run(struct handler *h)
{
	struct pollfd pfd = { .fd = h->fd, .events = POLLIN };
	int rc = 0;

	bool eof = false;

	while (!rc && !eof && !stop_requested &&
	       !(h->max_groups && h->groups >= h->max_groups && h->held_head == h->held_tail)) {
		int n = poll(&pfd, 1, poll_timeout_ms(h));

		if (n < 0 && errno != EINTR) {
			p_err("poll on fault fd %d: %s", h->fd, strerror(errno));
			return -errno;
		}
		if (n > 0 && (pfd.revents & (POLLIN | POLLHUP)))
			rc = read_once(h, pfd.revents & POLLIN);
		eof = rc == 1;
		rc = rc < 0 ? rc : release_held(h, false);
		rc = rc ?: flush_out(h);
	}
	/* At exit answer every group still held (never leave the device waiting). */
	if (rc >= 0 && release_held(h, true) == 0)
		return flush_out(h) ? -EIO : 0;
	return rc;
}

int cmd_handle(int argc, char **argv)
{
	struct handler h = { .fd = 3, .bug_every = 1, .bug_delay_ns = 50000000ull,
			     .cap = 65536 / IOPF_FAULT_SIZE * IOPF_FAULT_SIZE };
	const char *env = getenv("IOPF_FAULT_FD");
	struct stat st;
	uint64_t v;

	if (env && !iopf_parse_u64(env, INT32_MAX, &v))
		h.fd = (int)v;
	parse_verb(&handle_argp, argc, argv, &h);
	if (fstat(h.fd, &st)) {
		p_err("fault fd %d: %s (start me with the fault fd as fd 3, or give --fd)", h.fd,
		      strerror(errno));
		return EXIT_ERROR;
	}
	h.is_socket = S_ISSOCK(st.st_mode);
	h.buf = malloc(h.cap);
	if (!h.buf) {
		p_err("out of memory");
		return EXIT_ERROR;
	}
	install_stop_handlers();
	int rc = run(&h);

	p_info("handle: %llu groups, %llu faults, %llu responses written, %llu refused, %llu dropped",
	       (unsigned long long)h.groups, (unsigned long long)h.faults,
	       (unsigned long long)h.written, (unsigned long long)h.refused,
	       (unsigned long long)h.dropped);
	free(h.buf);
	free(h.out.r);
	free(h.held);
	return out_finish(rc < 0 ? EXIT_ERROR : EXIT_OK);
}
