// SPDX-License-Identifier: MIT
/* iopftool record: monitor, writing every record to a capture (-w FILE). */
#include <string.h>

#include "monitor.h"

enum { OPT_LINKTYPE = 300, OPT_PRINT };

static const struct argp_option options[] = {
	{ "write", 'w', "FILE", 0, "the capture to write ('-' for standard output)", 0 },
	{ "linktype", OPT_LINKTYPE, "N", 0, "pcap link type, 147..162 (default 147, LINKTYPE_USER0)", 0 },
	{ "print", OPT_PRINT, NULL, 0, "also print each record on standard output", 0 },
	{ 0 }
};

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
	case ARGP_KEY_INIT:
		state->child_inputs[0] = o;
		return 0;
	case ARGP_KEY_END:
		if (!o->wfile)
			argp_error(state, "no capture file: give -w FILE");
		if (o->print && !strcmp(o->wfile, "-"))
			argp_error(state, "--print and -w -: the text would go into the capture on "
				   "standard output (give -w FILE)");
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
	       "its end record and is flushed.  A write error (a full disk) is exit status 2.",
	.children = children,
};

int cmd_record(int argc, char **argv)
{
	struct monitor_opts o;

	monitor_opts_init(&o);
	parse_verb(&record_argp, argc, argv, &o);
	return monitor_run(&o);
}
