// SPDX-License-Identifier: MIT
/*
 * iopftool generate: write a seeded synthetic capture.
 *
 * Groups and their arrival times come from iopf_gen (lib/gen.c).  They go
 * through the userspace model of the kernel fault queue (struct
 * iopf_queue) on a virtual clock, so cookies, verdicts and statuses are
 * the kernel's: at each group's time its records are injected and read
 * (the FAULT records carry the live cookies), and a simulated handler
 * answers after an exponential latency by writing to the queue; the
 * RESPONSE record carries the queue's verdict (0 or EINVAL).  Answers
 * wait in a time-ordered heap, so groups overlap and cookies are reused
 * as the kernel would reuse them (doc/kernel-notes.md §5).
 *
 * Time stamps are a fixed start plus virtual time: the same options give
 * the same bytes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool.h"

#define T0_SEC		1767225600ull	/* 2026-01-01T00:00:00Z */
#define MAX_GROUP	65536
#define DELAY_FACTOR	100


struct gen_opts {
	const char *out;
	struct iopf_gen_cfg cfg;
	double pasid_less;
	uint64_t latency_ns;
	enum iopf_bug bug;
	uint64_t bug_every;
	int linktype;
	uint64_t lost_every;
};

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */
enum {
	OPT_SEED = 0x100, OPT_GROUPS, OPT_GROUP_SIZE, OPT_DEVS, OPT_PASIDS, OPT_PASID_LESS,
	OPT_RATE, OPT_REUSE, OPT_GRPID_BITS, OPT_LATENCY, OPT_UNKNOWN_FLAGS, OPT_BUG,
	OPT_BUG_EVERY, OPT_LINKTYPE, OPT_LOST_EVERY,
};

static const struct argp_option gen_options[] = {
	{ "write", 'w', "FILE", 0, "capture to write ('-' for stdout); required", 0 },
	{ "seed", OPT_SEED, "N", 0, "random seed (default 1): the same seed gives the same bytes", 0 },
	{ "groups", OPT_GROUPS, "N", 0, "number of fault groups (default 100)", 0 },
	{ "group-size", OPT_GROUP_SIZE, "MIN[-MAX]", 0, "records per group (default 1)", 0 },
	{ "devs", OPT_DEVS, "N", 0, "devices, dev_id 1..N (default 1)", 0 },
	{ "pasids", OPT_PASIDS, "N", 0, "PASIDs 1..N (default 0: PASID-less faults)", 0 },
	{ "pasid-less", OPT_PASID_LESS, "P", 0, "with --pasids, the fraction of groups without a PASID (default 0)", 0 },
	{ "rate", OPT_RATE, "R", 0, "mean groups per second, Poisson arrivals (default 10000)", 0 },
	{ "grpid-reuse", OPT_REUSE, "P", 0, "probability a group reuses a recent grpid (default 0)", 0 },
	{ "grpid-bits", OPT_GRPID_BITS, "N", 0, "grpid width in bits (default 9, the PCIe PRGI)", 0 },
	{ "latency", OPT_LATENCY, "DUR", 0, "mean handler latency, exponential (default 20us)", 0 },
	{ "unknown-flags", OPT_UNKNOWN_FLAGS, "MASK", 0, "extra flag bits on PASID faults (0x4: the kernel's leak)", 0 },
	{ "bug", OPT_BUG, "MODE", 0, "a wrong handler: " IOPF_BUG_LIST, 0 },
	{ "bug-every", OPT_BUG_EVERY, "N", 0, "the bug hits every Nth group (default 1: all)", 0 },
	{ "linktype", OPT_LINKTYPE, "N", 0, "pcap link type, 147..162 (default 147)", 0 },
	{ "lost-every", OPT_LOST_EVERY, "N", 0, "write a LOST record instead of every Nth record", 0 },
	{ 0 }
};

static error_t parse_gen_more(int key, char *arg, struct argp_state *state, struct gen_opts *o)
{
	switch (key) {
	case OPT_LATENCY: o->latency_ns = arg_duration(state, "--latency", arg); return 0;
	case OPT_UNKNOWN_FLAGS:
		o->cfg.unknown_flags = (uint32_t)arg_u64(state, "--unknown-flags", arg, UINT32_MAX);
		return 0;
	case OPT_BUG:
		o->bug = arg_bug(state, arg);
		if (o->bug == IOPF_BUG_ZERO_COOKIE)
			argp_error(state, "--bug: zero-cookie is for handle only (a live queue's answer)");
		return 0;
	case OPT_BUG_EVERY: o->bug_every = arg_u64(state, "--bug-every", arg, UINT64_MAX); return 0;
	case OPT_LINKTYPE:
		o->linktype = (int)arg_u64(state, "--linktype", arg, IOPF_LINKTYPE_MAX);
		if (o->linktype < IOPF_LINKTYPE_MIN)
			argp_error(state, "--linktype: %d is not one of %d..%d", o->linktype,
				   IOPF_LINKTYPE_MIN, IOPF_LINKTYPE_MAX);
		return 0;
	case OPT_LOST_EVERY: o->lost_every = arg_u64(state, "--lost-every", arg, UINT64_MAX); return 0;
	case ARGP_KEY_ARG: argp_error(state, "unexpected argument '%s'", arg); return 0;
	case ARGP_KEY_END:
		if (!o->out)
			argp_error(state, "no output given (-w FILE)");
		if (!o->bug_every)
			argp_error(state, "--bug-every: must be at least 1");
		return 0;
	default: return ARGP_ERR_UNKNOWN;
	}
}

static error_t parse_gen(int key, char *arg, struct argp_state *state)
{
	struct gen_opts *o = state->input;
	struct iopf_gen_cfg *c = &o->cfg;

	switch (key) {
	case 'w': o->out = arg; return 0;
	case OPT_SEED: c->seed = arg_u64(state, "--seed", arg, UINT64_MAX); return 0;
	case OPT_GROUPS: c->groups = arg_count(state, "--groups", arg, UINT64_MAX); return 0;
	case OPT_GROUP_SIZE:
		arg_range(state, "--group-size", arg, MAX_GROUP, &c->min_group, &c->max_group);
		return 0;
	case OPT_DEVS: c->devs = (uint32_t)arg_u64(state, "--devs", arg, 1u << 24);
		if (!c->devs)
			argp_error(state, "--devs: must be 1 or more");
		return 0;
	case OPT_PASIDS: c->pasids = (uint32_t)arg_u64(state, "--pasids", arg, 1u << 20); return 0;
	case OPT_PASID_LESS: o->pasid_less = arg_double(state, "--pasid-less", arg, 0, 1); return 0;
	case OPT_RATE: c->rate = arg_double(state, "--rate", arg, 0.001, 1e12); return 0;
	case OPT_REUSE: c->grpid_reuse = arg_double(state, "--grpid-reuse", arg, 0, 1); return 0;
	case OPT_GRPID_BITS: c->grpid_bits = (uint32_t)arg_u64(state, "--grpid-bits", arg, 32); return 0;
	default: return parse_gen_more(key, arg, state, o);
	}
}

static const struct argp_child gen_children[] = { GLOBAL_CHILD, { 0 } };

static const struct argp gen_argp = {
	.options = gen_options,
	.parser = parse_gen,
	.args_doc = "",
	.doc = "Write a seeded synthetic iopf capture."
	       "\vGroups run through the userspace model of the kernel fault queue on a "
	       "virtual clock, so cookies and response statuses are what the kernel would "
	       "give.  --bug makes the simulated handler wrong on every --bug-every'th group: "
	       "echo-grpid (answers with the grpid), duplicate (answers twice), drop (never "
	       "answers), bad-code (code 2), delay (answers 100 times later).",
	.children = gen_children,
};

/* ------------------------------------------------------------------ */
/* The handler's answers: a min-heap by (time, order)                  */
/* ------------------------------------------------------------------ */
struct answer {
	uint64_t t, t_read, order;
	uint32_t cookie, code;
};

struct heap {
	struct answer *a;
	size_t n, cap;
	uint64_t order;
};

static bool ans_before(const struct answer *x, const struct answer *y)
{
	return x->t < y->t || (x->t == y->t && x->order < y->order);
}

static int heap_push(struct heap *h, struct answer a)
{
	size_t i;

	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		struct answer *na = realloc(h->a, cap * sizeof(*na));

		if (!na)
			return -ENOMEM;
		h->a = na;
		h->cap = cap;
	}
	a.order = h->order++;
	for (i = h->n++; i && ans_before(&a, &h->a[(i - 1) / 2]); i = (i - 1) / 2)
		h->a[i] = h->a[(i - 1) / 2];
	h->a[i] = a;
	return 0;
}

static struct answer heap_pop(struct heap *h)
{
	struct answer top = h->a[0], last = h->a[--h->n];
	size_t i = 0, c;

	while ((c = 2 * i + 1) < h->n) {
		if (c + 1 < h->n && ans_before(&h->a[c + 1], &h->a[c]))
			c++;
		if (!ans_before(&h->a[c], &last))
			break;
		h->a[i] = h->a[c];
		i = c;
	}
	if (h->n)
		h->a[i] = last;
	return top;
}

/* ------------------------------------------------------------------ */
/* State and records                                                   */
/* ------------------------------------------------------------------ */
struct gen_state {
	const struct gen_opts *o;
	struct iopf_gen *gen;
	struct iopf_queue *q;
	struct iopf_writer *w;
	struct heap heap;
	struct iopf_rng rng;	/* handler latencies, --pasid-less (lib/gen.c: no libm) */
	uint64_t pasid_less_q53;
	struct iopf_bug_cfg bug;
	uint64_t ngroups, nfaults, nresponses, nlost, nrec;
	uint64_t now;		/* virtual time of the last event */
	struct iommu_hwpt_pgfault *recs;
	uint8_t *buf;
	int err;
};

static struct timespec vtime(uint64_t t)
{
	return (struct timespec){ .tv_sec = (time_t)(T0_SEC + t / 1000000000ull),
				  .tv_nsec = (long)(t % 1000000000ull) };
}

/* Write one record, or a LOST record in its place every --lost-every'th. */
static void emit(struct gen_state *s, struct iopf_rec *r)
{
	int rc;

	if (s->err)
		return;
	s->nrec++;
	if (s->o->lost_every && s->nrec % s->o->lost_every == 0) {
		struct iopf_rec lost = { .ts = r->ts, .type = IOPF_REC_LOST,
					 .queue_id = r->queue_id, .u.lost = 1 };

		s->nlost++;
		rc = iopf_writer_put(s->w, &lost);
	} else {
		s->nfaults += r->type == IOPF_REC_FAULT;
		s->nresponses += r->type == IOPF_REC_RESPONSE;
		rc = iopf_writer_put(s->w, r);
	}
	if (rc < 0)
		s->err = rc;
}

/* What the simulated handler will write for the group it just read (lib/bug.c). */
static int schedule(struct gen_state *s, uint64_t t, const struct iommu_hwpt_pgfault *last,
		    uint64_t group)
{
	struct iommu_hwpt_page_response r[IOPF_BUG_MAX_RESPONSES];
	uint64_t lat = iopf_rng_exp(&s->rng, s->o->latency_ns);
	bool late;
	size_t n = iopf_bug_answer(&s->bug, group + 1, last, r, &late);
	int rc = 0;

	if (late)
		lat = lat > UINT64_MAX / DELAY_FACTOR ? UINT64_MAX : lat * DELAY_FACTOR;
	/* a second answer (duplicate) right after: same time, later order */
	for (size_t i = 0; i < n && !rc; i++)
		rc = heap_push(&s->heap, (struct answer){ .t = t + lat < t ? UINT64_MAX : t + lat,
							  .t_read = t, .cookie = r[i].cookie,
							  .code = r[i].code });
	return rc;
}

/* The handler writes one response; the RESPONSE record carries the verdict. */
static void answer(struct gen_state *s, const struct answer *a)
{
	struct iommu_hwpt_page_response resp = { .cookie = a->cookie, .code = a->code };
	ssize_t n = iopf_queue_write(s->q, &resp, sizeof(resp));
	struct iopf_rec r = {
		.ts = vtime(a->t), .type = IOPF_REC_RESPONSE, .queue_id = iopf_queue_id(s->q),
		.status = n == (ssize_t)sizeof(resp) ? 0 : n < 0 ? (uint32_t)-n : EIO,
		.latency_ns = a->t - a->t_read, .u.resp = resp,
	};

	s->now = a->t;
	emit(s, &r);
}

/* --pasid-less: this group's faults lose their PASID (and the flags that go with it). */
static void maybe_drop_pasid(struct gen_state *s, struct iommu_hwpt_pgfault *recs, size_t n)
{
	if (!s->o->cfg.pasids || !s->pasid_less_q53 || !iopf_rng_chance(&s->rng, s->pasid_less_q53))
		return;
	for (size_t i = 0; i < n; i++) {
		recs[i].flags &= IOMMU_PGFAULT_FLAGS_LAST_PAGE;
		recs[i].pasid = 0;
	}
}

/* A group arrives: inject, read it back with its cookie, record, schedule the answer. */
static int deliver(struct gen_state *s, size_t n, uint64_t t)
{
	struct iopf_rec r = { .ts = vtime(t), .type = IOPF_REC_FAULT,
			      .queue_id = iopf_queue_id(s->q) };
	ssize_t got;
	size_t k;
	int rc;

	maybe_drop_pasid(s, s->recs, n);
	for (k = 0; k < n; k++) {
		rc = iopf_queue_inject(s->q, &s->recs[k]);
		if (rc < 0)
			return rc;
	}
	got = iopf_queue_read(s->q, s->buf, (size_t)s->o->cfg.max_group * IOPF_FAULT_SIZE);
	if (got <= 0 || got % (ssize_t)IOPF_FAULT_SIZE)
		return got < 0 ? (int)got : -EIO;
	n = (size_t)got / IOPF_FAULT_SIZE;
	memcpy(s->recs, s->buf, (size_t)got);	/* the kernel ABI in host order */
	for (k = 0; k < n; k++) {
		r.u.fault = s->recs[k];
		emit(s, &r);
	}
	s->now = t;
	s->ngroups++;
	return schedule(s, t, &s->recs[n - 1], s->ngroups - 1);
}

static int run(struct gen_state *s)
{
	size_t n = 0;
	uint64_t tg = 0;
	int have, rc = 0;

	have = iopf_gen_next(s->gen, s->recs, s->o->cfg.max_group, &n, &tg);
	while (!rc && !s->err && !stop_requested && (have > 0 || s->heap.n)) {
		if (s->heap.n && (have <= 0 || s->heap.a[0].t <= tg)) {
			struct answer a = heap_pop(&s->heap);

			answer(s, &a);
			continue;
		}
		rc = deliver(s, n, tg);
		progress("generate: %" PRIu64 " groups", s->ngroups);
		if (!rc)
			have = iopf_gen_next(s->gen, s->recs, s->o->cfg.max_group, &n, &tg);
	}
	progress_done();
	if (have < 0)
		return have;
	return rc ? rc : s->err;
}

/* ------------------------------------------------------------------ */
/* Setup                                                               */
/* ------------------------------------------------------------------ */
static int write_meta_start(struct gen_state *s)
{
	char seed[40];
	struct timespec ts = vtime(0);

	snprintf(seed, sizeof(seed), "seed=%" PRIu64 "\n", s->o->cfg.seed);
	return iopf_writer_meta_start(s->w, &ts, "generate", "none", seed);
}

static int write_meta_end(struct gen_state *s)
{
	struct timespec ts = vtime(s->now);

	return iopf_writer_meta_end(s->w, &ts, s->nfaults, s->ngroups, s->nresponses, s->nlost, NULL);
}

static int setup(struct gen_state *s)
{
	const struct gen_opts *o = s->o;
	int rc;

	iopf_rng_seed(&s->rng, o->cfg.seed ^ 0x6c8e9cf570932bd5ull);
	s->pasid_less_q53 = iopf_rng_q53(o->pasid_less);
	s->bug = (struct iopf_bug_cfg){ .bug = o->bug, .every = o->bug_every,
					.code = IOMMUFD_PAGE_RESP_SUCCESS };
	s->recs = calloc(o->cfg.max_group, sizeof(*s->recs));
	s->buf = malloc((size_t)o->cfg.max_group * IOPF_FAULT_SIZE);
	if (!s->recs || !s->buf)
		return -ENOMEM;
	rc = iopf_gen_new(&s->gen, &o->cfg);
	if (!rc)
		rc = iopf_queue_new(&s->q, 1);
	for (uint32_t d = 1; !rc && d <= o->cfg.devs; d++)
		rc = iopf_queue_attach(s->q, d);
	return rc;
}

static void teardown(struct gen_state *s)
{
	iopf_gen_free(s->gen);
	if (s->q)
		iopf_queue_free(s->q);
	free(s->heap.a);
	free(s->recs);
	free(s->buf);
}

static int generate(struct gen_state *s)
{
	struct stat st;
	char err[512];
	int rc = iopf_writer_open(&s->w, s->o->out, s->o->linktype, err, sizeof(err));

	if (rc < 0) {
		p_err("%s", err);
		return EXIT_ERROR;
	}
	rc = write_meta_start(s);
	if (!rc)
		rc = run(s);
	if (!rc && stop_requested)
		rc = -EINTR;	/* a capture cut short is not left behind either */
	if (!rc)
		rc = write_meta_end(s);
	if (rc == -EINTR)
		p_err("%s: interrupted", s->o->out);
	else if (rc == -EOVERFLOW)
		p_err("cannot generate %s: a time stamp passes 2106-02-07T06:28:15Z, the last second "
		      "a pcap file holds (the capture starts at 2026-01-01): give fewer --groups, a "
		      "higher --rate or a shorter --latency", s->o->out);
	else if (rc < 0)
		p_err("cannot generate %s: %s", s->o->out, write_strerror(-rc));
	int crc = iopf_writer_close(s->w);

	if (crc < 0 && !rc) {
		p_err("write error on %s: %s", s->o->out, write_strerror(-crc));
		rc = crc;
	}
	/* No half-written capture left behind (iopftool-generate(8)); never a device or FIFO. */
	if (rc < 0 && strcmp(s->o->out, "-") && !lstat(s->o->out, &st) && S_ISREG(st.st_mode) &&
	    unlink(s->o->out))
		p_warn("cannot remove %s: %s", s->o->out, strerror(errno));
	return rc < 0 ? EXIT_ERROR : EXIT_OK;
}

int cmd_generate(int argc, char **argv)
{
	struct gen_opts o = {
		.cfg = { .seed = 1, .groups = 100, .min_group = 1, .max_group = 1, .devs = 1,
			 .rate = 10000, .grpid_bits = 9 },
		.latency_ns = 20000, .bug_every = 1, .linktype = IOPF_LINKTYPE_DEFAULT,
	};
	struct gen_state s = { .o = &o };
	int status;

	parse_verb(&gen_argp, argc, argv, &o);
	install_stop_handlers();
	if (setup(&s)) {
		p_err("cannot set up the generator: invalid options or out of memory");
		teardown(&s);
		return out_finish(EXIT_ERROR);
	}
	status = generate(&s);
	teardown(&s);
	if (status == EXIT_OK)
		p_verbose("%s: %" PRIu64 " groups, %" PRIu64 " faults, %" PRIu64 " responses, %" PRIu64 " lost",
			  o.out, s.ngroups, s.nfaults, s.nresponses, s.nlost);
	return out_finish(status);
}
