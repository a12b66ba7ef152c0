// SPDX-License-Identifier: MIT
/*
 * iopftool stats: summarise captures, or with --check print the replay
 * report (iopftool-replay(8)) for the faults and responses they recorded.
 * The engine is libiopf's (lib/stats.c); this is options, progress and
 * exit codes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool.h"

#define MAX_FILES	256

struct stats_opts {
	const char *files[MAX_FILES];
	int nfiles;
	bool check;
	uint64_t deadline_ns;
	const char *svg;
};

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */
enum { OPT_CHECK = 0x100, OPT_DEADLINE, OPT_SVG };

static const struct argp_option stats_options[] = {
	{ "check", OPT_CHECK, NULL, 0, "print the replay report of the recorded responses; exit 1 on violations", 0 },
	{ "deadline", OPT_DEADLINE, "DUR", 0, "a response later than DUR after its group's delivery is late", 0 },
	{ "svg", OPT_SVG, "FILE", 0, "also draw the latency histogram, faults over time per device and "
	  "latency over time (with the --deadline line) as a standalone SVG", 0 },
	{ 0 }
};

static error_t parse_stats(int key, char *arg, struct argp_state *state)
{
	struct stats_opts *o = state->input;

	switch (key) {
	case OPT_CHECK: o->check = true; return 0;
	case OPT_DEADLINE: o->deadline_ns = arg_duration_nz(state, "--deadline", arg, "no deadline"); return 0;
	case OPT_SVG: o->svg = arg; return 0;
	case ARGP_KEY_ARG:
		if (o->nfiles >= MAX_FILES)
			argp_error(state, "too many captures (at most %d)", MAX_FILES);
		o->files[o->nfiles++] = arg;
		return 0;
	case ARGP_KEY_END:
		if (!o->nfiles)
			argp_error(state, "no capture given");
		return 0;
	default: return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp_child stats_children[] = { GLOBAL_CHILD, { 0 } };

static const struct argp stats_argp = {
	.options = stats_options,
	.parser = parse_stats,
	.args_doc = "FILE...",
	.doc = "Summarise iopf captures: counts per device, PASID and perm, group sizes, "
	       "response codes, latency percentiles and histogram, cookie-echo violations, "
	       "grpid reuse."
	       "\vWith --check, print the replay report for the recorded faults and responses "
	       "instead (exit 1 when it finds violations).  Undecodable records make the exit "
	       "status 2, which wins over violations.",
	.children = stats_children,
};

static void on_progress(void *ctx, const char *path, uint64_t records, uint64_t pos, uint64_t size)
{
	(void)ctx;
	progress_file("stats", path, records, pos, size);
}

/* --svg FILE: titled with the captures' names; a write error is exit 2. */
static int write_svg(const struct iopf_stats *st, const struct stats_opts *o)
{
	char title[256];
	size_t n = 0;
	FILE *f = fopen(o->svg, "we");
	struct stat sb;
	bool regular;
	int rc;

	if (!f) {
		p_err("%s: %m", o->svg);
		return -1;
	}
	title[0] = 0;
	for (int i = 0; i < o->nfiles && n < sizeof(title); i++)
		n += (size_t)snprintf(title + n, sizeof(title) - n, "%s%s", i ? ", " : "", o->files[i]);
	rc = iopf_stats_svg(st, f, title, o->deadline_ns);
	regular = !fstat(fileno(f), &sb) && S_ISREG(sb.st_mode);
	if (fclose(f) && !rc)
		rc = -errno;
	if (rc) {
		/* half a picture is no picture (the full-disk rule); never a device or a pipe */
		bool gone = regular && !unlink(o->svg);

		p_err("%s: write error: %s%s", o->svg, write_strerror(-rc),
		      gone ? "; the partial file is removed" : "");
		return -1;
	}
	return 0;
}

int cmd_stats(int argc, char **argv)
{
	struct stats_opts o = { 0 };
	struct iopf_stats_cfg cfg = { .log = &tool_log };
	struct iopf_stats_result res;
	struct iopf_stats *st;
	int status = EXIT_OK;

	parse_verb(&stats_argp, argc, argv, &o);
	if (output_is_input(o.svg, o.files, o.nfiles) || output_is_input("-", o.files, o.nfiles))
		return EXIT_ERROR;
	install_stop_handlers();
	cfg.deadline_ns = o.deadline_ns;
	if (progress_wanted())	/* no call per record when no progress line is drawn */
		cfg.progress = on_progress;
	if (iopf_stats_new(&st, &cfg)) {
		p_err("out of memory");
		return EXIT_ERROR;
	}
	if (iopf_stats_files(st, o.files, (size_t)o.nfiles, &stop_requested))
		status = EXIT_ERROR;
	progress_done();
	if (o.check)
		iopf_stats_print_check(out_stdout(), st);
	else
		iopf_stats_print(out_stdout(), st);
	if (o.svg && write_svg(st, &o))
		status = EXIT_ERROR;
	iopf_stats_result(st, &res);
	if (o.check && status == EXIT_OK && !res.check.ok)
		status = EXIT_VIOLATIONS;
	iopf_stats_free(st);
	return out_finish(status);
}
