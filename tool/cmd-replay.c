// SPDX-License-Identifier: MIT
/*
 * iopftool replay: play a capture's fault groups into a live queue as the
 * device and check every response (iopftool-replay(8)).  The engine is
 * libiopf's (lib/replay.c); this is options, starting and reaping the
 * --exec handler, printing and exit codes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec.h"

/* Long-only options. */
enum { OPT_HANDLER = 256, OPT_SPEED, OPT_RATE, OPT_TOPSPEED, OPT_LOOP, OPT_TIMEOUT,
       OPT_DEADLINE, OPT_LINKTYPE, OPT_SETTLE, OPT_MAX_GAP, OPT_HANDLER_FD };

struct replay_opts {
	const char *capture;
	const char *target;
	const char *handler;
	const char *exec;
	const char *wfile;
	enum iopf_handler_fd hfd;
	double speed;
	double rate;
	bool topspeed;
	uint64_t loops;
	uint64_t timeout_ns;
	uint64_t deadline_ns;
	uint64_t settle_ns;
	uint64_t max_gap_ns;
	int linktype;
};

static const struct argp_option options[] = {
	{ "read", 'r', "FILE", 0, "the capture to replay (or give it as the argument)", 0 },
	{ "target", 't', "QUEUE", 0, "sim (default) or mock: a queue the tool can inject faults into", 0 },
	{ "handler", OPT_HANDLER, "NAME", 0, "builtin:success (default), builtin:invalid or builtin:from-capture", 0 },
	{ "exec", 'x', "CMD", 0, "run CMD as the handler, with the fault fd as fd 3", 0 },
	{ "handler-fd", OPT_HANDLER_FD, "KIND", 0, "with --exec: fd 3 is a file with the fault fd's semantics (file), the socket (socket), or the file where it can be made (auto, the default)", 0 },
	{ "speed", OPT_SPEED, "X", 0, "play the recorded schedule X times faster", 0 },
	{ "rate", OPT_RATE, "N", 0, "inject N groups per second, evenly spaced", 0 },
	{ "topspeed", OPT_TOPSPEED, NULL, 0, "inject as fast as possible", 0 },
	{ "loop", OPT_LOOP, "N", 0, "play the capture N times (default 1)", 0 },
	{ "timeout", OPT_TIMEOUT, "DUR", 0, "wait this long after the last injection for answers (default 1s)", 0 },
	{ "deadline", OPT_DEADLINE, "DUR", 0, "count answers later than DUR after delivery as late", 0 },
	{ "max-gap", OPT_MAX_GAP, "DUR", 0, "cut recorded pauses longer than DUR to DUR (default 5s)", 0 },
	{ "settle", OPT_SETTLE, "DUR", 0, "with --exec: let the handler start this long before the first injection (default 100ms)", 0 },
	{ "write", 'w', "FILE", 0, "record the live session to a capture", 0 },
	{ "linktype", OPT_LINKTYPE, "N", 0, "link type of the -w capture, 147..162 (default 147)", 0 },
	{ 0 }
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct replay_opts *o = state->input;

	switch (key) {
	case 'r': o->capture = arg; return 0;
	case 't': o->target = arg; return 0;
	case OPT_HANDLER: o->handler = arg; return 0;
	case 'x': o->exec = arg; return 0;
	case OPT_HANDLER_FD:
		if (!strcmp(arg, "auto"))
			o->hfd = IOPF_HFD_AUTO;
		else if (!strcmp(arg, "file"))
			o->hfd = IOPF_HFD_FILE;
		else if (!strcmp(arg, "socket"))
			o->hfd = IOPF_HFD_SOCKET;
		else
			argp_error(state, "--handler-fd: '%s' is not auto, file or socket", arg);
		return 0;
	case OPT_SPEED: o->speed = arg_double(state, "--speed", arg, 1e-6, 1e9); return 0;
	case OPT_RATE: o->rate = arg_double(state, "--rate", arg, 1e-6, 1e10); return 0;
	case OPT_TOPSPEED: o->topspeed = true; return 0;
	case OPT_LOOP: o->loops = arg_u64(state, "--loop", arg, UINT32_MAX); return 0;
	case OPT_TIMEOUT: o->timeout_ns = arg_duration(state, "--timeout", arg); return 0;
	case OPT_DEADLINE: o->deadline_ns = arg_duration_nz(state, "--deadline", arg, "no deadline"); return 0;
	case OPT_MAX_GAP: o->max_gap_ns = arg_duration_nz(state, "--max-gap", arg, "the default 5s; --topspeed plays with no pauses"); return 0;
	case OPT_SETTLE: o->settle_ns = arg_duration(state, "--settle", arg); return 0;
	case 'w': o->wfile = arg; return 0;
	case OPT_LINKTYPE: o->linktype = (int)arg_u64(state, "--linktype", arg, IOPF_LINKTYPE_MAX);
		if (o->linktype < IOPF_LINKTYPE_MIN)
			argp_error(state, "--linktype: must be 147..162");
		return 0;
	case ARGP_KEY_ARG:
		if (o->capture)
			argp_error(state, "one capture only ('%s' and '%s')", o->capture, arg);
		o->capture = arg;
		return 0;
	case ARGP_KEY_END:
		if (!o->capture)
			argp_error(state, "no capture to replay");
		if (o->wfile && !strcmp(o->wfile, "-"))
			argp_error(state, "-w -: the report goes to standard output, it would go into "
				   "the capture (give -w FILE)");
		if ((o->speed > 0) + (o->rate > 0) + o->topspeed > 1)
			argp_error(state, "--speed, --rate and --topspeed exclude each other");
		if (o->exec && strcmp(o->handler, "builtin:success"))
			argp_error(state, "--exec and --handler exclude each other");
		if (!o->loops)
			argp_error(state, "--loop: must be 1 or more");
		if (o->loops > 1 && !strcmp(o->capture, "-"))
			argp_error(state, "--loop: standard input can be played once (give a file)");
		if (!o->exec && strcmp(o->handler, "builtin:success") && strcmp(o->handler, "builtin:invalid") &&
		    strcmp(o->handler, "builtin:from-capture"))
			argp_error(state, "--handler: unknown handler '%s' (builtin:success, builtin:invalid, "
				   "builtin:from-capture, or --exec CMD)", o->handler);
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp_child children[] = { GLOBAL_CHILD, { 0 } };

static const struct argp replay_argp = {
	.options = options,
	.parser = parse_opt,
	.args_doc = "CAPTURE",
	.doc = "Replay a capture's faults into a queue as the device and check the handler's answers.\v"
	       "Prints the report (see iopftool-replay(8)); -v also prints the live records.\n"
	       "Exit status: 0 every response correct, 1 violations, 2 error, 64 usage.",
	.children = children,
};

static void on_progress(void *ctx, uint64_t injected, uint64_t pos, uint64_t size)
{
	const char *capture = ctx;

	if (!progress_wanted())
		return;
	if (size)
		progress("replay: %s: %llu groups injected, %.0f%%", capture,
			 (unsigned long long)injected, (double)pos * 100.0 / (double)size);
	else
		progress("replay: %s: %llu groups injected", capture, (unsigned long long)injected);
}

static void to_cfg(const struct replay_opts *o, struct iopf_replay_cfg *c)
{
	*c = (struct iopf_replay_cfg){
		.schedule = o->topspeed ? IOPF_REPLAY_TOPSPEED : o->rate > 0 ? IOPF_REPLAY_RATE :
			    o->speed > 0 ? IOPF_REPLAY_SPEED : IOPF_REPLAY_RECORDED,
		.speed = o->speed, .rate = o->rate, .loops = o->loops,
		.timeout_ns = o->timeout_ns, .deadline_ns = o->deadline_ns,
		.settle_ns = o->settle_ns, .max_gap_ns = o->max_gap_ns,
		.stop = &stop_requested, .progress_ctx = (void *)o->capture,
		.handler = o->exec ? IOPF_REPLAY_PEER :
			   !strcmp(o->handler, "builtin:invalid") ? IOPF_REPLAY_INVALID :
			   !strcmp(o->handler, "builtin:from-capture") ? IOPF_REPLAY_FROM_CAPTURE :
			   IOPF_REPLAY_SUCCESS,
		.peer_fd = -1, .source = o->target, .log = &tool_log,
	};
	if (gopts.verbose && !gopts.json)
		c->out = out_stdout();
	if (progress_wanted())	/* no call per record when no progress line is drawn */
		c->progress = on_progress;
}

/* The handler's fd 3 (iopftool-replay(8) "THE HANDLER FD"), then the handler. */
static int start_handler(const struct replay_opts *o, struct iopf_replay *rp, struct exec_child *child)
{
	char why[512];
	int fd, kind = iopf_replay_handler_open(rp, o->hfd, &fd, why, sizeof(why));

	if (kind < 0 && o->hfd == IOPF_HFD_FILE)
		p_err("--handler-fd file: cannot give the handler a file with the fault fd's "
		      "semantics: %s", why);
	else if (kind < 0)
		p_err("%s", why);	/* what failed (lib/iopf.h) */
	if (kind < 0)
		return kind;
	if (o->hfd == IOPF_HFD_AUTO && kind == IOPF_HFD_SOCKET)
		p_warn("handler fd 3 is a socket, not a file with the fault fd's semantics (%s); "
		       "see iopftool-replay(8) \"THE HANDLER FD\"", why);
	p_verbose("handler fd 3: %s", iopf_replay_handler_fd_name(rp));
	int rc = exec_start(child, o->exec, fd);

	if (rc)
		p_err("cannot start handler '%s': %s", o->exec, strerror(-rc));
	return rc;
}

/*
 * A missing, empty or unreadable capture (a directory, not a capture at
 * all) is said once, before anything starts, and there is no report: no
 * "ok" for a replay that never ran.  Standard input is read as it comes:
 * the replay says it (rep.unopened), and there is no report either.
 */
static bool capture_readable(const char *capture)
{
	struct iopf_reader *rd;
	char err[512];

	if (!strcmp(capture, "-"))
		return true;
	if (iopf_reader_open(&rd, capture, err, sizeof(err)) < 0) {
		p_err("%s", err);
		return false;
	}
	iopf_reader_free(rd);
	return true;
}

static int replay(const struct replay_opts *o, struct iopf_target **t, struct iopf_writer **w)
{
	struct iopf_replay_cfg cfg;
	struct iopf_replay *rp;
	struct iopf_report rep = { 0 };
	struct exec_child child = { .pid = -1 };
	char err[512];
	int rc, wrc = 0;

	to_cfg(o, &cfg);
	if (output_is_input(o->wfile, &o->capture, 1) || !capture_readable(o->capture))
		return EXIT_ERROR;
	rc = iopf_target_open(t, o->target, &tool_log, err, sizeof(err));
	if (rc) {
		p_err("%s", err);
		return EXIT_ERROR;
	}
	if (o->wfile) {
		rc = iopf_writer_open(w, o->wfile, o->linktype, err, sizeof(err));
		if (rc) {
			p_err("%s", err);
			return EXIT_ERROR;
		}
		cfg.writer = *w;
	}
	if (o->exec) {
		cfg.handler_end = exec_end;
		cfg.handler_end_ctx = &child;
	}
	rc = iopf_replay_new(&rp, *t, &cfg);	/* libiopf's errors are logged (lib/iopf.h) */
	if (!rc && o->exec)
		rc = start_handler(o, rp, &child);	/* said */
	if (!rc) {
		struct iopf_session_counts n;

		rc = iopf_replay_run(rp, o->capture, &rep);
		if (rc < 0)	/* a bad record or a failure: what ran was checked, but not all is ok */
			rep.ok = false;
		iopf_replay_counts(rp, &n);
		wrc = n.write_err;
		/*
		 * The report whatever stopped the replay (a truncated capture,
		 * SIGINT): what was played was checked.  rep points into rp:
		 * print it before freeing rp.  No report when the capture never
		 * opened (standard input, empty or not a capture: said once).
		 */
		if (!rep.unopened)
			iopf_report_print(out_stdout(), o->capture, iopf_target_name(*t),
					  o->exec ? o->exec : o->handler, &rep);
		iopf_replay_free(rp);	/* closes the handler's socket: it sees the end */
	} else {
		iopf_replay_free(rp);
	}
	if (*w) {
		int crc = iopf_writer_close(*w);

		*w = NULL;
		wrc = wrc ?: crc;
		if (wrc)
			p_err("%s: write error: %s", o->wfile, write_strerror(-wrc));
		if (rep.unopened && remove_regular(o->wfile))	/* only its header: nothing was replayed */
			p_info("%s: nothing was replayed; not kept", o->wfile);
	}
	if (o->exec)
		exec_reap(&child, o->exec, EXEC_GRACE_NS);
	if (rc || wrc || rep.interrupted)
		return EXIT_ERROR;
	return rep.ok ? EXIT_OK : EXIT_VIOLATIONS;
}

int cmd_replay(int argc, char **argv)
{
	struct replay_opts o = { .target = "sim", .handler = "builtin:success", .loops = 1,
				 .timeout_ns = 1000000000ull, .settle_ns = 100000000ull,
				 .max_gap_ns = 5000000000ull, .linktype = IOPF_LINKTYPE_DEFAULT };
	struct iopf_target *t = NULL;
	struct iopf_writer *w = NULL;
	int status;

	parse_verb(&replay_argp, argc, argv, &o);
	install_stop_handlers();
	status = replay(&o, &t, &w);
	progress_done();
	if (w)	/* not handed to a replay (set-up failed) */
		iopf_writer_close(w);
	iopf_target_close(t);
	return out_finish(status);
}
