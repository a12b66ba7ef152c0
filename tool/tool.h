/* SPDX-License-Identifier: MIT */
/* iopftool: what every verb shares (tool/main.c, tool/common.c). */
#ifndef IOPFTOOL_H
#define IOPFTOOL_H

#include <argp.h>
#include <signal.h>
#include <stdbool.h>

#include "iopf.h"

/* Exit status: iopftool(8), EXIT STATUS. */
enum exit_code {
	EXIT_OK = 0,		/* success; replay/stats --check: every response correct */
	EXIT_VIOLATIONS = 1,	/* the checker found violations */
	EXIT_ERROR = 2,		/* runtime or input error, write failure */
	EXIT_USAGE = 64,	/* usage error (argp's default) */
};

/* Global options, accepted before and after the verb. */
struct global_opts {
	bool json;
	bool pretty;
	bool quiet;
	int verbose;
};
extern struct global_opts gopts;

/* Add as a child of every verb's argp so -j/-p/-q/-v work after the verb. */
extern const struct argp global_argp;
#define GLOBAL_CHILD { &global_argp, 0, "Global options:", 100 }

/*
 * Parse a verb's command line: argv[0] is the verb.  Usage errors exit
 * 64 through argp; --help and --usage exit 0.
 */
void parse_verb(const struct argp *argp, int argc, char **argv, void *input);
/* argp_parse() with argp's own messages escaped (and JSON with -j). */
void parse_args(const struct argp *argp, int argc, char **argv, unsigned flags, void *input);

/* Messages on stderr: "iopftool: ...", or {"error": "..."} with -j. */
void p_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void p_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void p_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));	/* not with -q */
void p_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));	/* only with -v */

/* A libiopf log callback printing through p_err/p_warn/p_info/p_verbose. */
extern const struct iopf_log tool_log;

/* The output mode the global options chose (-j, -p). */
enum iopf_out_mode out_mode(void);
/* The stdout emitter in the mode the global options chose. */
struct iopf_out *out_stdout(void);
/* strerror() of a write error; EFBIG says it is the file size limit (ulimit -f). */
const char *write_strerror(int err);
/* Flush stdout and report a write error (a full disk is not success). */
int out_finish(int status);

/* Progress on stderr, only when stderr is a terminal and not -q; at most 4 lines a second. */
bool progress_wanted(void);
void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void progress_done(void);
/* "VERB: FILE: N records, R records/s, P%" (no percent when size is 0: a pipe). */
void progress_file(const char *verb, const char *path, uint64_t records, uint64_t pos, uint64_t size);

/* Option argument parsers that argp_error() on bad input (exit 64). */
uint64_t arg_u64(struct argp_state *state, const char *opt, const char *arg, uint64_t max);
uint64_t arg_duration(struct argp_state *state, const char *opt, const char *arg);
/* --bug MODE (handle, generate): a name in IOPF_BUG_LIST, else a usage error. */
enum iopf_bug arg_bug(struct argp_state *state, const char *arg);
/*
 * A count or a duration where 0 would silently mean "no limit": 0 is a
 * usage error naming what leaving the option out does (iopftool(8)).
 */
uint64_t arg_count(struct argp_state *state, const char *opt, const char *arg, uint64_t max);
uint64_t arg_duration_nz(struct argp_state *state, const char *opt, const char *arg, const char *without);
double arg_double(struct argp_state *state, const char *opt, const char *arg, double min, double max);
/* MIN[-MAX] (--group-size, --gen-group-size): 1 <= MIN <= MAX <= max; MAX is MIN when left out. */
void arg_range(struct argp_state *state, const char *opt, const char *arg, uint32_t max,
	       uint32_t *lo, uint32_t *hi);

/* Remove path if it is a regular file (never "-", a device, a pipe or a link): true when removed. */
bool remove_regular(const char *path);

/*
 * True, and said, when the output OUT ("-": standard output) is one of
 * the inputs (the same st_dev and st_ino): writing it would destroy the
 * input before it is read.  Callers exit 2.
 */
bool output_is_input(const char *out, const char *const *in, int nin);

/* Install SIGINT/SIGTERM handlers that set stop_requested; ignore SIGPIPE. */
extern volatile sig_atomic_t stop_requested;
void install_stop_handlers(void);

/* The verbs: tool/cmd-<verb>.c */
int cmd_monitor(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_read(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_handle(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_bundle(int argc, char **argv);

#endif
