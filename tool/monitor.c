// SPDX-License-Identifier: MIT
/*
 * monitor and record: attach to a live queue, read whole groups with
 * libiopf's live session (lib/session.c) once per wake-up (epoll, never
 * a busy loop), print and record them, answer by policy, and on exit
 * answer every group still held, flush the capture and print the
 * summary.  On sim and mock a built-in generator makes the faults.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export.h"
#include "live.h"
#include "monitor.h"
#include "tap.h"
#include "vec.h"

enum { OPT_SOURCE = 256, OPT_POLICY, OPT_DELAY, OPT_DURATION, OPT_GEN_RATE, OPT_GEN_GROUPS,
       OPT_GEN_SEED, OPT_GEN_SIZE, OPT_GEN_DEVS, OPT_GEN_PASIDS, OPT_TAP_BACKEND, OPT_METRICS,
       OPT_METRICS_LISTEN, OPT_METRICS_INTERVAL };

static const struct argp_option options[] = {
	{ "source", OPT_SOURCE, "QUEUE", 0, "sim (default), mock, fd:N, pid:PID:FD, device:PATH, or tap[:PID[:FD]] (read-only)", 0 },
	{ "tap-backend", OPT_TAP_BACKEND, "HOW", 0, "tap: auto (default: bpf where it loads, else kprobe), bpf, bpf-fentry or kprobe", 0 },
	{ "policy", OPT_POLICY, "CODE", 0, "answer success (default) or invalid", 0 },
	{ "delay", OPT_DELAY, "DUR", 0, "hold each answer this long (a slow handler)", 0 },
	{ "count", 'c', "N", 0, "stop after N groups", 0 },
	{ "duration", OPT_DURATION, "DUR", 0, "stop after this long", 0 },
	{ "gen-rate", OPT_GEN_RATE, "N", 0, "sim/mock generator: groups per second (default 100)", 0 },
	{ "gen-groups", OPT_GEN_GROUPS, "N", 0, "sim/mock generator: stop injecting after N groups", 0 },
	{ "gen-seed", OPT_GEN_SEED, "N", 0, "sim/mock generator: seed (default 1)", 0 },
	{ "gen-group-size", OPT_GEN_SIZE, "MIN[-MAX]", 0, "sim/mock generator: records per group (default 1-4 on sim, 1 on mock)", 0 },
	{ "gen-devs", OPT_GEN_DEVS, "N", 0, "sim/mock generator: devices (default 1)", 0 },
	{ "gen-pasids", OPT_GEN_PASIDS, "N", 0, "sim/mock generator: PASIDs, 0 for none (default 2)", 0 },
	{ "metrics", OPT_METRICS, "FILE", 0, "write Prometheus metrics to FILE every interval (atomically: a temporary file, then rename)", 0 },
	{ "metrics-listen", OPT_METRICS_LISTEN, "[ADDR:]PORT", 0, "serve Prometheus metrics over HTTP at /metrics (ADDR default 127.0.0.1; port 0: any, printed)", 0 },
	{ "metrics-interval", OPT_METRICS_INTERVAL, "DUR", 0, "how often --metrics rewrites FILE (default 10s)", 0 },
	{ 0 }
};

static error_t parse_common(int key, char *arg, struct argp_state *state)
{
	struct monitor_opts *o = state->input;

	switch (key) {
	case OPT_SOURCE: o->source = arg; return 0;
	case OPT_TAP_BACKEND:
		o->tap_backend = iopf_tap_backend_parse(arg);
		if (o->tap_backend < 0)
			argp_error(state, "--tap-backend %s: not auto, bpf, bpf-fentry or kprobe", arg);
		return 0;
	case OPT_POLICY: o->code = live_arg_policy(state, arg); return 0;
	case OPT_DELAY: o->delay_ns = arg_duration(state, "--delay", arg); return 0;
	case 'c': o->count = arg_count(state, "--count", arg, UINT64_MAX); return 0;
	case OPT_DURATION: o->duration_ns = arg_duration_nz(state, "--duration", arg, "no time limit"); return 0;
	case OPT_GEN_RATE: o->gen.rate = arg_double(state, "--gen-rate", arg, 1e-3, 1e9); return 0;
	case OPT_GEN_GROUPS: o->gen.groups = arg_count(state, "--gen-groups", arg, UINT64_MAX); return 0;
	case OPT_GEN_SEED: o->gen.seed = arg_u64(state, "--gen-seed", arg, UINT64_MAX); return 0;
	case OPT_GEN_SIZE: arg_range(state, "--gen-group-size", arg, 65536, &o->gen.min_group, &o->gen.max_group);
		o->size_given = true;
		return 0;
	case OPT_GEN_DEVS: o->gen.devs = (uint32_t)arg_u64(state, "--gen-devs", arg, 64);
		if (!o->gen.devs)
			argp_error(state, "--gen-devs: must be 1 or more");
		return 0;
	case OPT_GEN_PASIDS: o->gen.pasids = (uint32_t)arg_u64(state, "--gen-pasids", arg, 1u << 20); return 0;
	case OPT_METRICS: o->metrics_file = arg; return 0;
	case OPT_METRICS_LISTEN: export_arg_listen(state, arg); o->metrics_listen = arg; return 0;
	case OPT_METRICS_INTERVAL:
		o->metrics_interval_ns = arg_duration(state, "--metrics-interval", arg);
		if (o->metrics_interval_ns < 100000000ull)
			argp_error(state, "--metrics-interval: at least 100ms");
		return 0;
	case ARGP_KEY_ARG: argp_error(state, "unexpected argument '%s'", arg); return 0;
	default: return ARGP_ERR_UNKNOWN;
	}
}

const struct argp monitor_common_argp = { .options = options, .parser = parse_common };

void monitor_opts_init(struct monitor_opts *o)
{
	*o = (struct monitor_opts){
		.source = "sim",
		.linktype = IOPF_LINKTYPE_DEFAULT,
		.gen = { .seed = 1, .rate = 100, .min_group = 1, .max_group = 4, .devs = 1,
			 .pasids = 2, .grpid_bits = 9 },
		.metrics_interval_ns = EXPORT_INTERVAL_NS,
	};
}

struct held {
	uint32_t cookie;
	uint64_t due_ns;
};

struct monitor {
	struct monitor_opts *o;
	struct iopf_target *t;
	struct iopf_session *sess;
	struct iopf_writer *writer;
	struct iopf_metrics *metrics;	/* --metrics, --metrics-listen */
	struct exporter *ex;
	bool files_done;		/* -G with -W: the last file is finished */
	struct iopf_session_counts n;	/* the session's, after each step */
	struct iopf_gen *gen;
	int epfd, timerfd;
	uint64_t start_ns, next_gen_ns, gen_done, last_flush_ns;
	struct iommu_hwpt_pgfault grp[4096];
	size_t ngrp;
	bool gen_have, gen_finite;
	bool eof;		/* a handler-fd socket ended its stream */
	struct held *held;		/* FIFO: the delay is constant, so due times grow */
	size_t held_head, held_tail, held_cap;
	int err, flush_err;
	bool rotate_failed;		/* reported by monitor_rotate() */
	struct live_print print;	/* --print (tool/live.c) */
};

/* a + b, saturated: --duration/--delay 18446744073s must not wrap. */
static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return b > UINT64_MAX - a ? UINT64_MAX : a + b;
}

static int hold(struct monitor *m, uint32_t cookie, uint64_t due)
{
	int rc = vec_fifo_reserve(&m->held, &m->held_cap, sizeof(*m->held), &m->held_head,
				  &m->held_tail);

	if (!rc)
		m->held[m->held_tail++] = (struct held){ cookie, due };
	else
		p_err("out of memory holding %zu answers", m->held_tail - m->held_head);
	return rc;
}

static int on_group(void *ctx, struct iopf_group *g)
{
	struct monitor *m = ctx;

	if (g->mixed_pasid)
		iopf_log_printf(&tool_log, IOPF_LOG_WARN,
				"group cookie %u (grpid %u) has faults of more than one PASID: the kernel "
				"joined partial faults by group id alone; the response goes to PASID %u",
				g->cookie, g->last.grpid, g->last.pasid);
	return m->o->delay_ns ? hold(m, g->cookie, sat_add(g->last_ns, m->o->delay_ns))
			      : iopf_session_queue(m->sess, g->cookie, m->o->code);
}

/* Answer what is due (everything when all is set) in one batched write. */
static int answer(struct monitor *m, bool all)
{
	uint64_t now = iopf_time_now();
	int rc = 0;

	while (!rc && m->held_head < m->held_tail && (all || m->held[m->held_head].due_ns <= now))
		rc = iopf_session_queue(m->sess, m->held[m->held_head++].cookie, m->o->code);
	rc = rc ?: iopf_session_flush(m->sess);
	iopf_session_counts(m->sess, &m->n);
	return rc;
}

/* ---- the built-in fault generator (sim and mock) ------------------------- */

/* Flow control (lib/iopf.h IOPF_WINDOW_GROUPS): the window of groups in flight is full. */
static bool gen_window_full(const struct monitor *m)
{
	return iopf_session_window_full(m->sess, m->gen_done, 0);
}

static int gen_inject_due(struct monitor *m, uint64_t now)
{
	/*
	 * With -c N there is no point injecting more than N groups; at a rate
	 * the reader cannot keep up with, wait for answers (step() reads).
	 */
	while (m->gen && !(m->o->count && m->gen_done >= m->o->count) && !gen_window_full(m)) {
		if (!m->gen_have) {
			uint64_t t;

			if (!iopf_gen_next(m->gen, m->grp, sizeof(m->grp) / sizeof(m->grp[0]), &m->ngrp, &t)) {
				iopf_gen_free(m->gen);
				m->gen = NULL;
				return 0;
			}
			m->next_gen_ns = m->start_ns + t;
			m->gen_have = true;
		}
		if (m->next_gen_ns > now)
			return 0;
		for (size_t i = 0; i < m->ngrp; i++) {
			uint32_t live_dev;
			int rc = iopf_target_device(m->t, m->grp[i].dev_id, &live_dev);

			m->grp[i].dev_id = live_dev;
			rc = rc ?: iopf_target_inject(m->t, &m->grp[i]);
			if (rc)
				return rc;
		}
		m->gen_have = false;
		m->gen_done++;
	}
	return 0;
}

static void arm_timer(struct monitor *m)
{
	uint64_t next = UINT64_MAX;
	struct itimerspec its = { 0 };

	if (m->gen && m->gen_have && !gen_window_full(m))	/* else the queue wakes us */
		next = m->next_gen_ns;
	if (m->held_head < m->held_tail && m->held[m->held_head].due_ns < next)
		next = m->held[m->held_head].due_ns;
	if (m->o->duration_ns && sat_add(m->start_ns, m->o->duration_ns) < next)
		next = m->start_ns + m->o->duration_ns;
	if (m->writer && iopf_writer_rotate_at(m->writer) < next)
		next = iopf_writer_rotate_at(m->writer);
	if (next != UINT64_MAX) {
		its.it_value.tv_sec = (time_t)(next / 1000000000ull);
		its.it_value.tv_nsec = (long)(next % 1000000000ull);
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;
	}
	timerfd_settime(m->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Groups still waiting in the queue (poll, not read: reading would consume them). */
static bool iopf_target_fd_ready(const struct monitor *m)
{
	struct pollfd p = { .fd = iopf_target_fd(m->t), .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

static bool done(const struct monitor *m)
{
	if (stop_requested || m->eof || m->err || m->n.write_err || m->flush_err || m->print.err ||
	    m->files_done)
		return true;
	if (m->o->duration_ns && iopf_time_now() >= sat_add(m->start_ns, m->o->duration_ns))
		return true;
	if (m->o->count && m->n.groups >= m->o->count)
		return true;
	/* A finite generator is done when all it made is read and answered. */
	return m->gen_finite && !m->gen && !m->n.outstanding &&
	       m->held_head == m->held_tail && !(iopf_target_fd_ready(m));
}

/*
 * Push the capture to the file at most once a second, so that even a
 * SIGKILL (which cannot be caught) loses no more than the last second.
 */
static int flush_now_and_then(struct monitor *m)
{
	uint64_t now = iopf_time_now();
	int rc;

	if (!m->writer || now - m->last_flush_ns < 1000000000ull)
		return 0;
	m->last_flush_ns = now;
	rc = iopf_writer_flush(m->writer);
	if (rc && !m->flush_err)
		m->flush_err = rc;
	return 0;	/* done() sees flush_err and stops; the error is reported at close */
}

volatile sig_atomic_t hup_requested;

static void on_hup(int sig)
{
	(void)sig;
	hup_requested = 1;
}

void install_hup_handler(void)
{
	struct sigaction sa = { .sa_handler = on_hup };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
}

int monitor_rotate(struct iopf_writer *w, const struct iopf_capture_counts *total)
{
	char err[4200];
	int rc;

	if (hup_requested) {
		hup_requested = 0;
		iopf_writer_request_rotate(w);
	}
	if (!iopf_writer_rotate_due(w, iopf_time_now()))
		return 0;
	rc = iopf_writer_rotate(w, total, err, sizeof(err));
	if (rc < 0)
		p_err("%s", err);
	else if (!rc)
		p_verbose("now writing %s", iopf_writer_path(w));
	return rc;
}

/* Between steps the session's counts match what was written: switch files if due. */
static int rotate(struct monitor *m)
{
	struct iopf_capture_counts c;
	int rc;

	if (!m->writer)
		return 0;
	iopf_session_counts(m->sess, &m->n);
	c = (struct iopf_capture_counts){ .faults = m->n.faults, .groups = m->n.groups,
					  .responses = m->n.responses };
	rc = monitor_rotate(m->writer, &c);
	if (rc == 1)
		m->files_done = true;
	if (rc < 0) {
		m->flush_err = rc;	/* reported: stop, the writer is failed */
		m->rotate_failed = true;
	}
	return 0;
}

static int step(struct monitor *m)
{
	struct epoll_event ev[4];
	uint64_t buf;
	int n;

	int rc = gen_inject_due(m, iopf_time_now());	/* also fetches the next group's time */

	if (rc)
		return rc;
	arm_timer(m);
	n = epoll_wait(m->epfd, ev, 4, -1);
	if (n < 0 && errno != EINTR) {
		p_err("epoll_wait: %s", strerror(errno));
		return -errno;
	}
	if (n < 0)
		return 0;
	if (read(m->timerfd, &buf, sizeof(buf)) < 0 && errno != EAGAIN) {
		p_err("reading the timer (timerfd): %s", strerror(errno));
		return -errno;
	}
	rc = gen_inject_due(m, iopf_time_now());
	ssize_t g = rc ? 0 : iopf_session_drain(m->sess, on_group, m);

	iopf_session_counts(m->sess, &m->n);
	if (g == -ESHUTDOWN) {	/* a handler-fd socket's end of stream: nothing more will come */
		m->eof = true;
		g = 0;
	}
	if (g < 0)
		return (int)g;
	rc = rc ?: answer(m, false);
	rc = rc ?: flush_now_and_then(m);
	rc = rc ?: rotate(m);
	exporter_step(m->ex);
	/*
	 * SIGPIPE is ignored (install_stop_handlers()), so a reader that went
	 * away (| head -1) or a full disk shows only as a write error: hand
	 * what was printed to the printer and stop on the first error it saw.
	 * The fault path never waits here on the reader: a paused terminal
	 * costs lines (counted in the summary), never answers.
	 */
	if (!rc)
		live_print_flush(&m->print);
	if (!rc && progress_wanted())
		progress("%s: %llu groups, %llu faults", iopf_target_name(m->t),
			 (unsigned long long)m->n.groups, (unsigned long long)m->n.faults);
	return rc ?: m->err;
}

static int setup(struct monitor *m)
{
	char err[512];
	struct epoll_event ev = { .events = EPOLLIN };
	struct iopf_session_cfg cfg = { .limit = m->o->count, .log = &tool_log };
	int rc;

	/* First what needs only descriptors: out of them (EMFILE), no file is made. */
	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	m->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (m->epfd < 0 || m->timerfd < 0) {
		rc = -errno;
		p_err("cannot make the event loop (epoll, timerfd): %s", strerror(-rc));
		return rc;
	}
	rc = iopf_target_open(&m->t, m->o->source, &tool_log, err, sizeof(err));
	if (rc) {
		p_err("%s", err);
		return rc;
	}
	if (m->o->print) {
		rc = live_print_start(&m->print);	/* says what failed */
		if (rc)
			return rc;
		cfg.out = m->print.out;
	}
	if (m->o->metrics_file || m->o->metrics_listen) {
		struct export_cfg ecfg = { .file = m->o->metrics_file, .listen = m->o->metrics_listen,
					   .interval_ns = m->o->metrics_interval_ns };

		rc = iopf_metrics_new(&m->metrics, false);
		if (rc)
			p_err("metrics: %s", strerror(-rc));
		rc = rc ?: exporter_new(&m->ex, &ecfg, m->metrics);	/* says what failed */
		if (rc)
			return rc;
		cfg.metrics = m->metrics;
	}
	if (m->o->wfile) {
		rc = iopf_writer_open_rotating(&m->writer, m->o->wfile, m->o->linktype, &m->o->rot,
					       err, sizeof(err));
		if (rc) {
			p_err("%s", err);
			return rc;
		}
		cfg.writer = m->writer;
	}
	rc = iopf_session_new(&m->sess, m->t, &cfg);
	if (rc) {
		p_err("%s: cannot start the session: %s", m->o->source, strerror(-rc));
		return rc;
	}
	if (iopf_target_can_inject(m->t)) {
		if (!m->o->size_given && iopf_target_max_group(m->t) == 1)
			m->o->gen.max_group = 1;
		rc = iopf_gen_new(&m->gen, &m->o->gen);
		if (rc) {
			p_err("%s: cannot start the generator: %s", m->o->source, strerror(-rc));
			return rc;
		}
		m->gen_finite = m->o->gen.groups > 0;
	}
	ev.data.fd = m->timerfd;
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->timerfd, &ev)) {
		rc = -errno;
		p_err("cannot watch the timer (epoll_ctl): %s", strerror(-rc));
		return rc;
	}
	ev.data.fd = iopf_target_fd(m->t);
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, ev.data.fd, &ev)) {
		rc = -errno;
		/* EPERM: a regular file or /dev/null (--source fd:N) has no poll(2) */
		p_err("%s: cannot wait on fd %d: %s%s", m->o->source, ev.data.fd, strerror(-rc),
		      rc == -EPERM ? " (it cannot be polled: a regular file or /dev/null is not a "
				     "fault queue)" : "");
		return rc;
	}
	if (m->ex) {
		ev.data.fd = exporter_fd(m->ex);
		if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, ev.data.fd, &ev)) {
			rc = -errno;
			p_err("cannot watch the metrics endpoint (epoll_ctl): %s", strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static void summary(struct monitor *m)
{
	char took[IOPF_DURATION_LEN], p50[IOPF_DURATION_LEN], p99[IOPF_DURATION_LEN],
	     max[IOPF_DURATION_LEN];
	struct iopf_report rep;

	iopf_check_finish(iopf_session_check(m->sess), &rep);
	iopf_session_counts(m->sess, &m->n);
	p_info("%s: %llu groups, %llu faults, %llu responses (%llu accepted, %llu refused) in %s",
	       iopf_target_name(m->t), (unsigned long long)m->n.groups,
	       (unsigned long long)m->n.faults, (unsigned long long)m->n.responses,
	       (unsigned long long)m->n.accepted,
	       (unsigned long long)(m->n.responses - m->n.accepted),
	       (iopf_duration_format(iopf_time_now() - m->start_ns, took, sizeof(took)), took));
	p_verbose("%llu reads (%.1f groups a read)", (unsigned long long)m->n.reads,
		  m->n.reads ? (double)m->n.groups / (double)m->n.reads : 0.0);
	if (rep.latency_ns.count) {
		iopf_duration_format(rep.latency_ns.p50, p50, sizeof(p50));
		iopf_duration_format(rep.latency_ns.p99, p99, sizeof(p99));
		iopf_duration_format(rep.latency_ns.max, max, sizeof(max));
		p_info("answer latency: p50 %s p99 %s max %s", p50, p99, max);
	}
	live_print_summary(&m->print);
}

static void cleanup(struct monitor *m)
{
	live_print_stop(&m->print);	/* set-up failed after it started */
	exporter_free(m->ex);	/* the file a last time, with the final counts */
	iopf_metrics_free(m->metrics);
	iopf_session_free(m->sess);
	iopf_gen_free(m->gen);
	iopf_target_close(m->t);
	free(m->held);
	if (m->epfd > 0)
		close(m->epfd);
	if (m->timerfd > 0)
		close(m->timerfd);
}

/*
 * The header META record; on sim and mock the generator's devices are
 * made now so that their live ids can be named (dev.<dev_id>=...).
 * 0, or a negative errno, said (a device's error by the target, lib/iopf.h).
 */
static int write_meta(struct monitor *m)
{
	char extra[2048] = "";
	size_t len = 0;
	int rc;

	for (uint32_t d = 1; m->gen && d <= m->o->gen.devs && len < sizeof(extra) - 64; d++) {
		uint32_t live;

		rc = iopf_target_device(m->t, d, &live);
		if (rc)
			return rc;
		len += (size_t)snprintf(extra + len, sizeof(extra) - len, "dev.%u=%s device %u\n",
					live, m->o->source, d);
	}
	rc = iopf_session_meta_start(m->sess, m->o->source, extra);
	if (rc)
		p_err("%s: cannot start the capture %s: %s", m->o->source, m->o->wfile,
		      write_strerror(-rc));
	return rc;
}

int monitor_run(struct monitor_opts *o)
{
	struct monitor m = { .o = o };
	int rc;

	if (tap_source(o->source))	/* read-only: tool/tap.c */
		return tap_run(o);
	install_stop_handlers();
	if (o->wfile)
		install_hup_handler();
	rc = setup(&m);	/* says what failed */
	if (!rc && o->wfile)
		rc = write_meta(&m);	/* says what failed */
	m.start_ns = iopf_time_now();

	while (!rc && !done(&m))
		rc = step(&m);
	/* Stopping: answer every group read and still held, then flush. */
	if (m.sess) {
		int rc2 = answer(&m, true);

		rc = rc ?: rc2;
	}
	progress_done();
	live_print_stop(&m.print);
	if (m.sess)
		summary(&m);
	if (m.flush_err && m.sess)
		iopf_session_counts(m.sess, &m.n);
	if (m.writer && !m.sess) {
		/* set-up failed before the session: nothing recorded, no headless capture left */
		struct stat st;

		iopf_writer_close(m.writer);
		m.writer = NULL;
		if (strcmp(o->wfile, "-") && !lstat(o->wfile, &st) && S_ISREG(st.st_mode))
			unlink(o->wfile);
	}
	if (m.writer) {
		int wrc = m.flush_err;

		char path[4096];

		snprintf(path, sizeof(path), "%s", iopf_writer_path(m.writer));
		if (m.sess && iopf_session_rotate_failed(m.sess)) {
			wrc = -EIO;	/* logged by the session */
			iopf_writer_close(m.writer);
		} else if (wrc) {
			if (!m.rotate_failed)
				p_err("%s: write error: %s", path, write_strerror(-wrc));
			iopf_writer_close(m.writer);
		} else {
			wrc = live_close_capture(m.sess, m.writer, path);
		}
		m.writer = NULL;
		rc = rc ?: (wrc ? -EIO : 0);
	}
	/* Every error was said where it happened (lib/iopf.h's contract; the loop's own above). */
	cleanup(&m);
	return out_finish(rc || m.print.err ? EXIT_ERROR : EXIT_OK);
}
