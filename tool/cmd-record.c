// SPDX-License-Identifier: MIT
/* iopftool record: monitor, writing every record to a capture (-w FILE). */
#include <ctype.h>
#include <string.h>

#include "monitor.h"

enum { OPT_LINKTYPE = 300, OPT_PRINT };

static const struct argp_option options[] = {
	{ "write", 'w', "FILE", 0, "the capture to write ('-' for standard output)", 0 },
	{ "linktype", OPT_LINKTYPE, "N", 0, "pcap link type, 147..162 (default 147, LINKTYPE_USER0)", 0 },
	{ "print", OPT_PRINT, NULL, 0, "also print each record on standard output", 0 },
	{ "file-size", 'C', "SIZE", 0, "start a new file once the current one holds SIZE million bytes "
	  "(suffix k, m, g: KiB, MiB, GiB), as tcpdump -C", 0 },
	{ "rotate-seconds", 'G', "SECONDS", 0, "start a new file every SECONDS (or a duration: 500ms; at least 100ms); "
	  "a strftime(3) pattern in the -w name names the files, as tcpdump -G", 0 },
	{ "file-count", 'W', "COUNT", 0, "with -C: keep at most COUNT files, names numbered 0..COUNT-1 "
	  "and reused, the oldest removed; with -G alone: stop after COUNT files", 0 },
	{ 0 }
};

/* -C SIZE: millions of bytes as tcpdump takes it, or with k, m, g: KiB, MiB, GiB. */
static uint64_t arg_size(struct argp_state *state, const char *arg)
{
	char num[32];
	size_t n = strlen(arg);
	uint64_t mult = 1000000, v;

	if (n && strchr("kKmMgG", arg[n - 1])) {
		char c = (char)tolower((unsigned char)arg[n - 1]);

		mult = c == 'k' ? 1024 : c == 'm' ? 1024 * 1024 : 1024 * 1024 * 1024;
		n--;
	}
	if (n >= sizeof(num) || !n)
		argp_error(state, "-C: '%s' is not a size (N, Nk, Nm, Ng)", arg);
	memcpy(num, arg, n);
	num[n] = 0;
	v = arg_u64(state, "-C", num, UINT64_MAX / mult);
	if (!v)
		argp_error(state, "-C: the size must be more than 0");
	return v * mult;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct monitor_opts *o = state->input;

	switch (key) {
	case 'w': o->wfile = arg; return 0;
	case OPT_LINKTYPE:
		o->linktype = (int)arg_u64(state, "--linktype", arg, IOPF_LINKTYPE_MAX);
		if (o->linktype < IOPF_LINKTYPE_MIN)
			argp_error(state, "--linktype: must be 147..162");
		return 0;
	case OPT_PRINT: o->print = true; return 0;
	case 'C': o->rot.size = arg_size(state, arg); return 0;
	case 'G':
		if (arg[0] && strspn(arg, "0123456789") == strlen(arg))
			o->rot.interval_ns = arg_u64(state, "-G", arg, UINT64_MAX / 1000000000ull) *
					     1000000000ull;
		else
			o->rot.interval_ns = arg_duration(state, "-G", arg);
		if (o->rot.interval_ns < 100000000)	/* -G 1ns made a file per record: 23 k files a second */
			argp_error(state, "-G: at least 100ms (a new file more often is a flood of files)");
		return 0;
	case 'W':
		o->rot.count = arg_u64(state, "-W", arg, 1000000);
		if (!o->rot.count)
			argp_error(state, "-W: the count must be 1 or more");
		return 0;
	case ARGP_KEY_INIT:
		state->child_inputs[0] = o;
		return 0;
	case ARGP_KEY_END:
		if (!o->wfile)
			argp_error(state, "no capture file: give -w FILE");
		if (o->print && !strcmp(o->wfile, "-"))
			argp_error(state, "--print and -w -: the text would go into the capture on "
				   "standard output (give -w FILE)");
		if (o->rot.count && !o->rot.size && !o->rot.interval_ns)
			argp_error(state, "-W needs -C or -G");
		if ((o->rot.size || o->rot.interval_ns) && !strcmp(o->wfile, "-"))
			argp_error(state, "-C and -G need a file: -w - cannot be rotated");
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp_child children[] = {
	{ &monitor_common_argp, 0, NULL, 0 },
	GLOBAL_CHILD,
	{ 0 }
};

static const struct argp record_argp = {
	.options = options,
	.parser = parse_opt,
	.doc = "Record a live fault queue to a capture: like monitor, writing every fault and "
	       "response (-w FILE); -c N stops after N groups.\v"
	       "SIGINT or SIGTERM stop cleanly: every group read is answered, the capture gets "
	       "its end record and is flushed.  SIGHUP starts a new file (without -C or -G: the "
	       "same name again, for logrotate).  A write error (a full disk) is exit status 2: "
	       "the file is cut back to its last whole record.",
	.children = children,
};

int cmd_record(int argc, char **argv)
{
	struct monitor_opts o;

	monitor_opts_init(&o);
	parse_verb(&record_argp, argc, argv, &o);
	return monitor_run(&o);
}
