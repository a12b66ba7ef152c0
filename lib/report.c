// SPDX-License-Identifier: MIT
/*
 * The replay report (iopftool-replay(8)), also printed by stats --check.
 * One output path: every member is printed with one iopf_out_* call
 * carrying both the JSON key and the text format; durations are integer
 * nanoseconds in JSON and iopf_duration_format() in text (the one
 * duration format of every verb), through iopf_out_duration().
 */
#include <inttypes.h>
#include <stdio.h>

#include <string.h>

#include "internal.h"

static void report_head(struct iopf_out *o, const char *capture, const char *target,
			const char *handler)
{
	/* stats --check passes handler "recorded": an offline check, not a replay. */
	bool offline = !target || (handler && !strcmp(handler, "recorded"));

	iopf_out_printf(o, "%s", offline ? "check" : "replay");
	if (capture)
		iopf_out_str(o, "capture", " of %s", capture);
	if (target)
		iopf_out_str(o, "target", " on %s", target);
	if (handler)
		iopf_out_str(o, "handler", ", handler %s", handler);
}

static void report_counts(struct iopf_out *o, const struct iopf_report *rep)
{
	iopf_out_uint(o, "groups", "\n  groups %" PRIu64, rep->groups);
	iopf_out_uint(o, "faults", "  faults %" PRIu64, rep->faults);
	iopf_out_uint(o, "responses", "  responses %" PRIu64, rep->responses);
	iopf_out_bool(o, "ok", NULL, rep->ok);
	if (rep->interrupted)	/* the key only then: stats --check never has it */
		iopf_out_bool(o, "interrupted", NULL, true);
	iopf_out_str(o, NULL, "  %s", rep->interrupted ? "interrupted" : rep->ok ? "ok" : "FAILED");
}

/* The violation counters in the order of the JSON object. */
static const enum iopf_verdict report_order[] = {
	IOPF_V_UNKNOWN_COOKIE, IOPF_V_GRPID_ECHO, IOPF_V_DUPLICATE, IOPF_V_BAD_CODE,
	IOPF_V_UNANSWERED, IOPF_V_REJECTED, IOPF_V_LATE,
};

/* Text shows only the counters that are not 0: "grpid_echo 3, unanswered 3". */
static void report_violations(struct iopf_out *o, const struct iopf_report *rep)
{
	const char *sep = " ";
	enum iopf_verdict v;
	size_t i;

	iopf_out_open_object(o, "violations", "\n  violations:");
	for (i = 0; i < ARRAY_SIZE(report_order); i++) {
		v = report_order[i];
		iopf_out_uint(o, iopf_verdict_name(v), NULL, rep->v[v]);
		if (!rep->v[v])
			continue;
		iopf_out_printf(o, "%s%s %" PRIu64, sep, iopf_verdict_name(v), rep->v[v]);
		sep = ", ";
	}
	if (!strcmp(sep, " "))	/* none counted (ok, or failed for another reason) */
		iopf_out_printf(o, " none");
	iopf_out_close_object(o, NULL);
}

static void report_latency(struct iopf_out *o, const struct iopf_report *rep)
{
	bool any = rep->latency_ns.count != 0;

	iopf_out_open_object(o, "latency_ns", "\n  latency:");
	iopf_out_uint(o, "count", " count %" PRIu64, rep->latency_ns.count);
	iopf_out_duration(o, "min", any ? " min %s" : NULL, rep->latency_ns.min);
	iopf_out_duration(o, "mean", any ? " mean %s" : NULL, rep->latency_ns.mean);
	iopf_out_duration(o, "p50", any ? " p50 %s" : NULL, rep->latency_ns.p50);
	iopf_out_duration(o, "p90", any ? " p90 %s" : NULL, rep->latency_ns.p90);
	iopf_out_duration(o, "p99", any ? " p99 %s" : NULL, rep->latency_ns.p99);
	iopf_out_duration(o, "p999", any ? " p99.9 %s" : NULL, rep->latency_ns.p999);
	iopf_out_duration(o, "max", any ? " max %s" : NULL, rep->latency_ns.max);
	iopf_out_close_object(o, NULL);
}

/* Text leaves out the schedule lag and wall time when they were not measured (stats --check). */
static void report_lag(struct iopf_out *o, const struct iopf_report *rep)
{
	bool any = rep->schedule_lag_ns.max != 0;

	iopf_out_open_object(o, "schedule_lag_ns", any ? "\n  schedule lag:" : NULL);
	iopf_out_duration(o, "p50", any ? " p50 %s" : NULL, rep->schedule_lag_ns.p50);
	iopf_out_duration(o, "p99", any ? " p99 %s" : NULL, rep->schedule_lag_ns.p99);
	iopf_out_duration(o, "max", any ? " max %s" : NULL, rep->schedule_lag_ns.max);
	iopf_out_close_object(o, NULL);
}

static void report_rate(struct iopf_out *o, const struct iopf_report *rep)
{
	bool any = rep->wall_ns != 0;

	iopf_out_duration(o, "wall_ns", any ? "\n  wall %s" : NULL, rep->wall_ns);
	iopf_out_double(o, "groups_per_s", any ? ", %.1f groups/s" : NULL, rep->groups_per_s);
	if (rep->split_groups)
		iopf_out_uint(o, "split_groups",
			      "\n  split groups %" PRIu64 " (the target injects one record at a time)",
			      rep->split_groups);
}

/* "devices":[{"capture":3,"live":5},...], only when some dev_id changed. */
static void report_devices(struct iopf_out *o, const struct iopf_report *rep)
{
	size_t i;

	for (i = 0; i < rep->ndevs; i++)
		if (rep->dev_capture[i] != rep->dev_live[i])
			break;
	if (i == rep->ndevs)
		return;
	iopf_out_open_array(o, "devices", "\n  devices (capture -> live):");
	for (i = 0; i < rep->ndevs; i++) {
		iopf_out_open_object(o, NULL, NULL);
		iopf_out_uint(o, "capture", " %" PRIu32, rep->dev_capture[i]);
		iopf_out_uint(o, "live", "->%" PRIu32, rep->dev_live[i]);
		iopf_out_close_object(o, NULL);
	}
	iopf_out_close_array(o, NULL);
}

/*
 * Print a report as one JSON document, keys in the order of iopftool-replay(8), or as a
 * few lines of text.  NULL strings are left out.  Text lines start
 * with their "\n": iopf_out_end() ends the last one.
 */
void iopf_report_print(struct iopf_out *o, const char *capture, const char *target,
		       const char *handler, const struct iopf_report *rep)
{
	iopf_out_begin(o);
	report_head(o, capture, target, handler);
	report_counts(o, rep);
	report_violations(o, rep);
	report_latency(o, rep);
	report_lag(o, rep);
	report_rate(o, rep);
	report_devices(o, rep);
	iopf_out_end(o);
}
