// SPDX-License-Identifier: MIT
/*
 * iopftool: decode, record, check and replay iommufd I/O page fault queues.
 * The command table and the dispatcher; each verb lives in tool/cmd-<verb>.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} cmds[] = {
	{ "monitor", cmd_monitor, "attach to a live queue, print and answer each fault" },
	{ "record", cmd_record, "the same, writing a capture (-w FILE)" },
	{ "read", cmd_read, "decode a capture, with filters" },
	{ "stats", cmd_stats, "summarise captures; --check runs the response checker" },
	{ "replay", cmd_replay, "replay a capture against a queue as the device, check the handler" },
	{ "handle", cmd_handle, "reference handler on a fault fd (fd 3), with --bug modes" },
	{ "generate", cmd_generate, "write a synthetic capture from a seed" },
	{ "ps", cmd_ps, "list the processes holding iommufd fault fds" },
	{ "doctor", cmd_doctor, "why this machine does or does not deliver page faults" },
	{ "bundle", cmd_bundle, "the doctor report and its inputs in one archive for a ticket" },
};

const char *argp_program_version = "iopftool " IOPF_VERSION;

/* The text after the options; the verb list is made from cmds[] in help_filter(). */
static const char doc[] =
	"Decode, record, check and replay Linux iommufd I/O page fault (IOPF) queues."
	"\v"
	"'iopftool VERB --help' lists a verb's options; man iopftool-VERB has examples.\n"
	"Exit status: 0 success, 1 violations found, 2 runtime or input error, 64 usage error.";

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

/* "Verbs:" and one line per entry of cmds[], then the rest of the post-doc. */
static char *help_filter(int key, const char *text, void *input)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f;

	(void)input;
	if (key != ARGP_KEY_HELP_POST_DOC || !(f = open_memstream(&s, &len)))
		return (char *)text;
	fputs("Verbs:\n", f);
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\n%s", text ? text : "");
	if (fclose(f)) {
		free(s);
		return (char *)text;
	}
	return s;
}

struct main_state {
	int verb;	/* index in argv of the verb, 0 until seen */
};

static error_t parse_main(int key, char *arg, struct argp_state *state)
{
	struct main_state *ms = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = NULL;
		return 0;
	case ARGP_KEY_ARG:
		/* The verb: stop here, the verb parses the rest. */
		ms->verb = state->next - 1;
		state->next = state->argc;
		(void)arg;
		return 0;
	case ARGP_KEY_END:
		if (!ms->verb)
			argp_error(state, "no verb given (see 'iopftool --help')");
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp_child main_children[] = {
	{ &global_argp, 0, NULL, 0 },
	{ 0 }
};

static const struct argp main_argp = {
	.parser = parse_main,
	.args_doc = "VERB [OPTION...]",
	.doc = doc,
	.children = main_children,
	.help_filter = help_filter,
};

/*
 * Started with standard input, output or error closed (cmd >&-), the next
 * descriptor opened would take its number: the fault queue, the capture,
 * the epoll set.  Text meant for standard output would then be written
 * into a capture or, on a real queue, into the fault fd as page responses.
 * Each closed one is held by /dev/null opened the wrong way round, so that
 * it fails as a closed one does (EBADF: "write error on standard output")
 * and no other file can take its number.
 */
static void hold_stdio(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		int n = open("/dev/null", fd ? O_RDONLY : O_WRONLY);

		if (n >= 0 && n != fd) {	/* the lowest free number is fd, but be sure */
			dup2(n, fd);
			close(n);
		}
	}
}

int main(int argc, char **argv)
{
	struct main_state ms = { 0 };

	hold_stdio();

	/*
	 * A file-size limit (ulimit -f) is a full disk: write(2) fails with
	 * EFBIG and every writer's full-disk path reports it (exit 2), instead
	 * of SIGXFSZ killing the tool without a word mid-file.
	 */
	signal(SIGXFSZ, SIG_IGN);

	parse_args(&main_argp, argc, argv, ARGP_IN_ORDER, &ms);
	const char *verb = argv[ms.verb];
	for (size_t i = 0; i < NCMDS; i++) {
		if (strcmp(verb, cmds[i].name))
			continue;	/* exact names only, no prefix matching */
		/* Stdout is checked for write errors here, once, for every verb. */
		return out_finish(cmds[i].fn(argc - ms.verb, argv + ms.verb));
	}
	p_err("unknown verb '%s' (try 'iopftool --help')", verb);
	return EXIT_USAGE;
}
