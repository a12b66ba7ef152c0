// SPDX-License-Identifier: MIT
/*
 * monitor/record --source tap[:PID[:FD]]: watch the fault queues of other
 * processes through the kernel's kprobe events (lib/tap.c) without
 * consuming or answering anything.  The real handler stays the handler;
 * iopftool only prints and records what the kernel shows.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <string.h>
#include <time.h>

#include "export.h"
#include "live.h"
#include "monitor.h"
#include "tap.h"

struct tap_run {
	struct monitor_opts *o;
	struct iopf_tap *tap;
	struct iopf_writer *w;
	struct live_print print;	/* --print: never straight to stdout (tool/live.c) */
	struct iopf_hist *lat;
	struct iopf_metrics *metrics;
	struct exporter *ex;
	uint64_t seq, groups, faults, responses, refused, autos, lost;
	int write_err;
	bool files_done, rotate_failed;
};

static struct iopf_capture_counts totals(const struct tap_run *tr)
{
	return (struct iopf_capture_counts){ .faults = tr->faults, .groups = tr->groups,
					     .responses = tr->responses, .lost = tr->lost,
					     .auto_responses = tr->autos,
					     .has_auto_responses = true };
}

/*
 * Switch files (record -C, -G, SIGHUP) before any record but a FAULT:
 * a group's FAULT records follow its DELIVERY and stay in its file.
 */
static void maybe_rotate(struct tap_run *tr, const struct iopf_rec *r)
{
	struct iopf_capture_counts c = totals(tr);
	int rc;

	if (!tr->w || tr->write_err || tr->files_done || (r && r->type == IOPF_REC_FAULT))
		return;
	rc = monitor_rotate(tr->w, &c);
	if (rc == 1)
		tr->files_done = true;
	if (rc < 0) {
		tr->write_err = rc;
		tr->rotate_failed = true;
	}
}

static void put(struct tap_run *tr, struct iopf_rec *r)
{
	maybe_rotate(tr, r);
	if (tr->metrics)
		iopf_metrics_rec(tr->metrics, r);
	switch (r->type) {
	case IOPF_REC_DELIVERY: tr->groups++; break;
	case IOPF_REC_FAULT: tr->faults++; break;
	case IOPF_REC_RESPONSE:
		tr->responses++;
		if (r->status)
			tr->refused++;
		else if (r->latency_ns)
			iopf_hist_add(tr->lat, r->latency_ns);
		break;
	case IOPF_REC_AUTO_RESPONSE: tr->autos++; break;
	case IOPF_REC_LOST: tr->lost += r->u.lost; break;
	default: break;
	}
	if (tr->w) {
		int rc = iopf_writer_put(tr->w, r);

		if (rc && !tr->write_err)
			tr->write_err = rc;
	} else {
		r->seq = tr->seq++;
	}
	if (tr->print.out)
		iopf_rec_print(tr->print.out, r);
}

static int write_meta(struct tap_run *tr, const char *extra)
{
	int rc = tr->w ? iopf_writer_meta_start(tr->w, NULL, tr->o->source, NULL, extra) : 0;

	if (rc)
		p_err("%s: cannot start the capture: %s", iopf_writer_path(tr->w), write_strerror(-rc));
	return rc;
}

/* Hand every ready record to the outputs; -errno on a tap failure (logged by the tap). */
static int drain_records(struct tap_run *tr)
{
	struct iopf_rec r;
	int rc;

	while ((rc = iopf_tap_next(tr->tap, &r)) > 0)
		put(tr, &r);
	return rc;
}

static bool done(const struct tap_run *tr, uint64_t start)
{
	if (stop_requested || tr->write_err || tr->files_done || tr->print.err)
		return true;
	if (tr->o->duration_ns && iopf_time_now() >= start + tr->o->duration_ns)
		return true;
	return tr->o->count && tr->groups >= tr->o->count;
}

static void summary(struct tap_run *tr, uint64_t start)
{
	struct iopf_tap_counts c;
	char took[IOPF_DURATION_LEN], p50[IOPF_DURATION_LEN], p99[IOPF_DURATION_LEN],
	     max[IOPF_DURATION_LEN];

	iopf_tap_counts(tr->tap, &c);
	p_info("%s: %llu groups delivered, %llu faults, %llu responses (%llu refused), "
	       "%llu kernel auto-responses, %llu lost, %llu still unanswered in %s",
	       tr->o->source, (unsigned long long)tr->groups, (unsigned long long)tr->faults,
	       (unsigned long long)tr->responses, (unsigned long long)tr->refused,
	       (unsigned long long)tr->autos, (unsigned long long)tr->lost,
	       (unsigned long long)c.outstanding,
	       (iopf_duration_format(iopf_time_now() - start, took, sizeof(took)), took));
	if (iopf_hist_count(tr->lat)) {
		iopf_duration_format(iopf_hist_quantile(tr->lat, 0.5), p50, sizeof(p50));
		iopf_duration_format(iopf_hist_quantile(tr->lat, 0.99), p99, sizeof(p99));
		iopf_duration_format(iopf_hist_max(tr->lat), max, sizeof(max));
		p_info("handler latency (delivery to response, 1us resolution): p50 %s p99 %s max %s",
		       p50, p99, max);
	}
	live_print_summary(&tr->print);
	p_verbose("tap: %llu %s events, %llu reads, %llu faults reported by devices, %llu responses "
		  "after a refused one (not examined by the kernel); struct file private_data at %d",
		  (unsigned long long)c.events, iopf_tap_backend(tr->tap) == IOPF_TAP_BPF ? "BPF" : "trace",
		  (unsigned long long)c.reads, (unsigned long long)c.reported,
		  (unsigned long long)c.unexamined, c.file_offset);
	char cost[1024];

	iopf_tap_cost(tr->tap, cost, sizeof(cost));
	if (cost[0])
		p_verbose("tap: BPF program cost (kernel.bpf_stats_enabled): %s", cost);
}

int tap_run(struct monitor_opts *o)
{
	struct tap_run tr = { .o = o };
	struct iopf_tap_cfg cfg = { .tracefs = getenv("IOPFTOOL_TRACEFS"), .fd = -1,
				    .backend = (enum iopf_tap_backend)o->tap_backend };
	char err[1024];
	uint64_t start;
	int rc;

	if (!iopf_tap_spec(o->source, &cfg.pid, &cfg.fd) || cfg.pid < 0) {
		p_err("--source %s: not tap, tap:PID or tap:PID:FD", o->source);
		return EXIT_USAGE;
	}
	if (o->delay_ns || o->code != IOMMUFD_PAGE_RESP_SUCCESS)
		p_warn("%s: --policy and --delay do nothing: the tap answers no fault", o->source);
	install_stop_handlers();
	if (o->wfile)
		install_hup_handler();
	rc = iopf_hist_new(&tr.lat);
	if (rc) {
		p_err("out of memory");
		return EXIT_ERROR;
	}
	rc = iopf_tap_open(&tr.tap, &cfg, &tool_log, err, sizeof(err));
	if (rc) {
		p_err("%s", err);
		iopf_hist_free(tr.lat);
		return EXIT_ERROR;
	}
	p_info("%s: read-only: the tap consumes no fault and answers none; the process reading "
	       "each queue is still its handler (%s, removed on exit)",
	       o->source, iopf_tap_backend(tr.tap) == IOPF_TAP_BPF ? "BPF programs" :
	       iopf_tap_group(tr.tap));
	/*
	 * The probes run in the watched threads; what is left for us (decoding,
	 * printing, the capture) waits for a CPU the workload leaves idle: the
	 * buffer (BPF ring 8 MiB, trace 4 MiB a CPU) holds it meanwhile, and a
	 * LOST record says when it did not.
	 */
	if (setpriority(PRIO_PROCESS, 0, 19))
		p_verbose("tap: cannot lower its own priority: %s", strerror(errno));
	p_verbose("tap: backend %s: %s", iopf_tap_backend(tr.tap) == IOPF_TAP_BPF ? "bpf" : "kprobe",
		  iopf_tap_how(tr.tap));
	/*
	 * A reader that stops reading must not stop the consumption of the
	 * trace (its buffer would overflow: lost events): the text goes
	 * through a printer, which drops what the reader does not take.
	 */
	if (o->print)
		rc = live_print_start(&tr.print);	/* says what failed */
	if (!rc && (o->metrics_file || o->metrics_listen)) {
		struct export_cfg ecfg = { .file = o->metrics_file, .listen = o->metrics_listen,
					   .interval_ns = o->metrics_interval_ns };

		rc = iopf_metrics_new(&tr.metrics, true);
		if (rc)
			p_err("out of memory");
		rc = rc ?: exporter_new(&tr.ex, &ecfg, tr.metrics);
	}
	if (!rc && o->wfile) {
		rc = iopf_writer_open_rotating(&tr.w, o->wfile, o->linktype, &o->rot, err, sizeof(err));
		if (rc)
			p_err("%s", err);
		else
			rc = write_meta(&tr, iopf_tap_meta(tr.tap));
	}
	start = iopf_time_now();
	uint64_t last_flush = start;

	while (!rc && !done(&tr, start)) {
		struct pollfd p[2] = { { .fd = iopf_tap_fd(tr.tap), .events = POLLIN },
				       { .fd = exporter_fd(tr.ex), .events = POLLIN } };

		/* trace_pipe wakes readers late at times: poll with a short timeout */
		if (poll(p, tr.ex ? 2 : 1, 100) < 0 && errno != EINTR) {
			rc = -errno;
			p_err("%s: poll: %s", o->source, strerror(-rc));
			break;
		}
		rc = drain_records(&tr);
		live_print_flush(&tr.print);	/* never waits on the reader */
		maybe_rotate(&tr, NULL);	/* -G with no record coming, SIGHUP */
		exporter_step(tr.ex);
		if (!rc && tr.w && iopf_time_now() - last_flush >= 1000000000ull) {
			last_flush = iopf_time_now();
			tr.write_err = tr.write_err ?: iopf_writer_flush(tr.w);	/* said at close */
		}
	}
	/* What the trace still holds was seen before the stop: keep it. */
	if (!rc || rc == -EIO) {
		int rc2 = iopf_tap_drain(tr.tap);

		rc2 = rc2 ?: drain_records(&tr);
		rc = rc ?: rc2;
	}
	/* Every error was said where it happened (lib/iopf.h's contract; a write error at close). */
	live_print_stop(&tr.print);
	summary(&tr, start);
	if (tr.w) {
		struct iopf_capture_counts c = totals(&tr);
		char path[4096];
		int wrc = tr.write_err;

		snprintf(path, sizeof(path), "%s", iopf_writer_path(tr.w));
		if (!wrc)
			wrc = iopf_writer_end(tr.w, NULL, &c);
		int rc2 = iopf_writer_close(tr.w);

		wrc = wrc ?: rc2;
		if (wrc) {
			if (!tr.rotate_failed)
				p_err("%s: write error: %s", path, write_strerror(-wrc));
			rc = rc ?: wrc;
		}
	}
	exporter_free(tr.ex);
	iopf_metrics_free(tr.metrics);
	iopf_tap_close(tr.tap);
	iopf_hist_free(tr.lat);
	return out_finish(rc || tr.print.err ? EXIT_ERROR : EXIT_OK);
}
