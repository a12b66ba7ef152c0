// SPDX-License-Identifier: MIT
/* What every verb shares: global options, messages, output, argument parsing. */
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool.h"

struct global_opts gopts;
volatile sig_atomic_t stop_requested;

static const struct argp_option global_options[] = {
	{ "json", 'j', NULL, 0, "JSON output (one object per line for streams)", 0 },
	{ "pretty", 'p', NULL, 0, "pretty-printed JSON (implies --json)", 0 },
	{ "quiet", 'q', NULL, 0, "no progress, summaries or informational messages", 0 },
	{ "verbose", 'v', NULL, 0, "more detail (repeat for more)", 0 },
	{ 0 }
};

static error_t parse_global(int key, char *arg, struct argp_state *state)
{
	(void)arg;
	(void)state;
	switch (key) {
	case 'j': gopts.json = true; return 0;
	case 'p': gopts.json = gopts.pretty = true; return 0;
	case 'q': gopts.quiet = true; return 0;
	case 'v': gopts.verbose++; return 0;
	default: return ARGP_ERR_UNKNOWN;
	}
}

const struct argp global_argp = { .options = global_options, .parser = parse_global };

/* s escaped (iopf_str_escape()) in a buffer of its own size, or in fallback (cut) without memory. */
static char *escaped(const char *s, char *fallback, size_t len)
{
	size_t n = iopf_str_escape(s, fallback, len);
	char *e = n < len ? NULL : malloc(n + 1);

	if (e)
		iopf_str_escape(s, e, n + 1);
	return e ? e : fallback;
}

/*
 * argp's own messages (getopt's "unrecognized option '...'", every
 * argp_error()) echo the arguments raw, and argp exits from inside.  While
 * argp parses, stderr is a memory stream; what it caught is printed
 * escaped like every other message (one {"error": ...} with -j) when the
 * parse returns or, for an argp exit, from atexit().
 */
static FILE *argp_stderr;	/* the real stderr while argp parses, else NULL */
static char *argp_msg;
static size_t argp_msg_len;

static FILE *msg_stream(void)
{
	return argp_stderr ? argp_stderr : stderr;
}

static void argp_capture_end(void)
{
	FILE *cap = stderr;
	char *line, *save = NULL, *joined = NULL;
	size_t jlen = 0;
	FILE *j;

	if (!argp_stderr)
		return;
	stderr = argp_stderr;
	argp_stderr = NULL;
	if (fclose(cap) || !argp_msg)
		goto out;
	j = open_memstream(&joined, &jlen);
	for (line = strtok_r(argp_msg, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char buf[1024], *esc = escaped(line, buf, sizeof(buf));

		if (!gopts.json || !j)
			fprintf(stderr, "%s\n", esc);
		else
			fprintf(j, "%s%s", ftell(j) > 0 ? " " : "", esc);
		if (esc != buf)
			free(esc);
	}
	if (j && !fclose(j) && gopts.json && joined && *joined) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "error", json_object_new_string(joined));
		fprintf(stderr, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	}
	free(joined);
out:
	free(argp_msg);
	argp_msg = NULL;
	argp_msg_len = 0;
	fflush(stderr);
}

static void argp_capture_begin(void)
{
	static bool registered;
	FILE *m;

	if (argp_stderr)
		return;
	if (!registered)
		registered = !atexit(argp_capture_end);
	m = open_memstream(&argp_msg, &argp_msg_len);
	if (!m)
		return;	/* no memory: argp's messages stay as they are */
	fflush(stderr);
	argp_stderr = stderr;
	stderr = m;
}

/* -j/-p anywhere before "--": usage errors are JSON before argp reached them. */
static void json_prescan(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--"))
			return;
		if (!strcmp(a, "--json") || !strcmp(a, "--pretty")) {
			gopts.json = true;
		} else if (a[0] == '-' && a[1] && a[1] != '-' && !a[strspn(a + 1, "jpqv") + 1]) {
			if (strpbrk(a + 1, "jp"))
				gopts.json = true;
		}
	}
}

void parse_args(const struct argp *argp, int argc, char **argv, unsigned flags, void *input)
{
	json_prescan(argc, argv);
	argp_capture_begin();
	argp_parse(argp, argc, argv, flags, NULL, input);
	argp_capture_end();
}

void parse_verb(const struct argp *argp, int argc, char **argv, void *input)
{
	/* argv[0] names the program in argp's messages: "iopftool replay". */
	char name[64];

	snprintf(name, sizeof(name), "iopftool %s", argv[0]);
	argv[0] = name;
	parse_args(argp, argc, argv, 0, input);
}

static void vmessage(const char *level, const char *fmt, va_list ap)
{
	char rawbuf[1024], msgbuf[1024], *raw = rawbuf, *msg;
	va_list ap2;
	int n;

	/* file names and capture text in messages: no terminal controls; long ones whole */
	va_copy(ap2, ap);
	n = vsnprintf(rawbuf, sizeof(rawbuf), fmt, ap);
	if (n >= (int)sizeof(rawbuf) && (raw = malloc((size_t)n + 1)))
		vsnprintf(raw, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	if (!raw)
		raw = rawbuf;
	msg = escaped(raw, msgbuf, sizeof(msgbuf));
	if (gopts.json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, level ? level : "error", json_object_new_string(msg));
		fprintf(msg_stream(), "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else if (level && strcmp(level, "info")) {
		fprintf(msg_stream(), "iopftool: %s: %s\n", level, msg);
	} else {
		fprintf(msg_stream(), "%s%s\n", level ? "" : "iopftool: ", msg);
	}
	if (msg != msgbuf)
		free(msg);
	if (raw != rawbuf)
		free(raw);
}

void p_err(const char *fmt, ...)
{
	va_list ap;

	progress_done();
	va_start(ap, fmt);
	vmessage(NULL, fmt, ap);
	va_end(ap);
}

void p_warn(const char *fmt, ...)
{
	va_list ap;

	progress_done();
	va_start(ap, fmt);
	vmessage("warning", fmt, ap);
	va_end(ap);
}

void p_info(const char *fmt, ...)
{
	va_list ap;

	if (gopts.quiet)
		return;
	progress_done();
	va_start(ap, fmt);
	vmessage("info", fmt, ap);
	va_end(ap);
}

void p_verbose(const char *fmt, ...)
{
	va_list ap;

	if (!gopts.verbose || gopts.quiet)
		return;
	progress_done();
	va_start(ap, fmt);
	vmessage("info", fmt, ap);
	va_end(ap);
}

static void log_to_tool(void *ctx, enum iopf_log_level level, const char *msg)
{
	(void)ctx;
	switch (level) {
	case IOPF_LOG_ERR: p_err("%s", msg); break;
	case IOPF_LOG_WARN: p_warn("%s", msg); break;
	case IOPF_LOG_INFO: p_info("%s", msg); break;
	default: p_verbose("%s", msg); break;
	}
}

const struct iopf_log tool_log = { .fn = log_to_tool };

static struct iopf_out *stdout_out;

enum iopf_out_mode out_mode(void)
{
	return gopts.pretty ? IOPF_OUT_PRETTY : gopts.json ? IOPF_OUT_JSON : IOPF_OUT_TEXT;
}

struct iopf_out *out_stdout(void)
{
	if (!stdout_out) {
		stdout_out = iopf_out_new(stdout, out_mode());
		if (!stdout_out) {
			p_err("out of memory");
			exit(EXIT_ERROR);
		}
	}
	return stdout_out;
}

const char *write_strerror(int err)
{
	if (err == EFBIG)
		return "File too large (the file size limit, ulimit -f, is reached)";
	return strerror(err);
}

int out_finish(int status)
{
	int rc = stdout_out ? iopf_out_flush(stdout_out) : 0;

	if (!rc && (fflush(stdout) || ferror(stdout)))
		rc = -errno;
	if (rc == -EPIPE) {
		status = EXIT_ERROR;	/* the reader went away (| head): no message */
	} else if (rc) {
		p_err("write error on standard output: %s", write_strerror(-rc));
		status = EXIT_ERROR;
	}
	iopf_out_free(stdout_out);
	stdout_out = NULL;
	clearerr(stdout);	/* reported once: main() calls this again after every verb */
	return status;
}

/* Progress: a single line on a terminal, redrawn at most 4 times a second. */
#define PROGRESS_NS 250000000ull
static bool progress_shown;
static uint64_t progress_start;	/* of progress_file()'s rate: its first call for the file */
static const char *progress_path;

bool progress_wanted(void)
{
	static int tty = -1;	/* asked once: this sits on per-record paths */

	if (tty < 0)
		tty = isatty(STDERR_FILENO);
	return !gopts.quiet && tty;
}

void progress(const char *fmt, ...)
{
	static uint64_t last;
	uint64_t now = iopf_time_now();
	va_list ap;

	if (!progress_wanted() || now - last < PROGRESS_NS)
		return;
	last = now;
	fputs("\r\033[K", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	progress_shown = true;
}

void progress_file(const char *verb, const char *path, uint64_t records, uint64_t pos, uint64_t size)
{
	uint64_t now;
	double secs;
	char pct[16] = "";

	if (!progress_wanted())
		return;
	now = iopf_time_now();
	if (!progress_start || path != progress_path) {
		progress_start = now;
		progress_path = path;
	}
	secs = (double)(now - progress_start) / 1e9;
	if (size)
		snprintf(pct, sizeof(pct), ", %.0f%%", (double)(pos > size ? size : pos) * 100.0 / (double)size);
	progress("%s: %s: %llu records, %.0f records/s%s", verb, path, (unsigned long long)records,
		 secs > 0 ? (double)records / secs : 0.0, pct);
}

void progress_done(void)
{
	if (progress_shown)
		fputs("\r\033[K", stderr);
	progress_shown = false;
}

uint64_t arg_u64(struct argp_state *state, const char *opt, const char *arg, uint64_t max)
{
	uint64_t v;

	if (iopf_u64_parse(arg, max, &v))
		argp_error(state, "%s: '%s' is not a whole number from 0 to %llu", opt, arg,
			   (unsigned long long)max);
	return v;
}

uint64_t arg_duration(struct argp_state *state, const char *opt, const char *arg)
{
	uint64_t ns;

	if (!strcmp(arg, "0"))	/* zero needs no unit (iopftool(8) "DURATIONS") */
		return 0;
	if (iopf_duration_parse(arg, &ns))
		argp_error(state, "%s: '%s' is not a duration (e.g. 250ns, 10us, 2ms, 1.5s)", opt, arg);
	return ns;
}

uint64_t arg_count(struct argp_state *state, const char *opt, const char *arg, uint64_t max)
{
	uint64_t v = arg_u64(state, opt, arg, max);

	if (!v)
		argp_error(state, "%s: must be 1 or more (0 is not taken to mean \"no limit\")", opt);
	return v;
}

void arg_range(struct argp_state *state, const char *opt, const char *arg, uint32_t max,
	       uint32_t *lo, uint32_t *hi)
{
	const char *dash = strchr(arg, '-');
	size_t n = dash ? (size_t)(dash - arg) : strlen(arg);
	char min[24];
	uint64_t a, b;

	if (n < sizeof(min)) {
		memcpy(min, arg, n);
		min[n] = '\0';
	}
	if (n >= sizeof(min) || iopf_u64_parse(min, max, &a) || (dash && iopf_u64_parse(dash + 1, max, &b)) ||
	    !a || (dash && b < a))
		argp_error(state, "%s: '%s' is not MIN[-MAX] with 1 <= MIN <= MAX <= %u", opt, arg, max);
	*lo = (uint32_t)a;
	*hi = dash ? (uint32_t)b : *lo;
}

uint64_t arg_duration_nz(struct argp_state *state, const char *opt, const char *arg, const char *without)
{
	uint64_t ns = arg_duration(state, opt, arg);

	if (!ns)
		argp_error(state, "%s: must be more than 0 (leave %s out for %s)", opt, opt, without);
	return ns;
}

double arg_double(struct argp_state *state, const char *opt, const char *arg, double min, double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || !isfinite(v) || v < min || v > max)
		argp_error(state, "%s: '%s' is not a number from %g to %g", opt, arg, min, max);
	return v;
}

bool remove_regular(const char *path)
{
	struct stat st;

	return strcmp(path, "-") && !lstat(path, &st) && S_ISREG(st.st_mode) && !unlink(path);
}

bool output_is_input(const char *out, const char *const *in, int nin)
{
	struct stat so, si;

	if (!out || (!strcmp(out, "-") ? fstat(STDOUT_FILENO, &so) : stat(out, &so)) ||
	    !S_ISREG(so.st_mode))
		return false;	/* not there yet, or not a file a write would truncate */
	for (int i = 0; i < nin; i++) {
		if (!in[i] || (!strcmp(in[i], "-") ? fstat(STDIN_FILENO, &si) : stat(in[i], &si)))
			continue;
		if (so.st_dev != si.st_dev || so.st_ino != si.st_ino)
			continue;
		p_err("%s is the input %s: refusing to overwrite it",
		      strcmp(out, "-") ? out : "standard output", in[i]);
		return true;
	}
	return false;
}

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

void install_stop_handlers(void)
{
	struct sigaction sa = { .sa_handler = on_stop };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

enum iopf_bug arg_bug(struct argp_state *state, const char *arg)
{
	int bug = iopf_bug_parse(arg);

	if (bug < 0)
		argp_error(state, "--bug: unknown mode '%s' (%s)", arg, IOPF_BUG_LIST);
	return bug < 0 ? IOPF_BUG_NONE : (enum iopf_bug)bug;
}
