// SPDX-License-Identifier: MIT
/* iopftool monitor: attach to a live queue, print each record, answer by policy. */
#include "monitor.h"

static const struct argp_child children[] = {
	{ &monitor_common_argp, 0, NULL, 0 },
	GLOBAL_CHILD,
	{ 0 }
};

static const struct argp monitor_argp = {
	.parser = NULL,
	.doc = "Attach to a live fault queue, print each record as it arrives, answer each group "
	       "by policy, and print a summary on exit.\v"
	       "Reading a fault fd consumes its faults: on a queue iopftool is the handler; "
	       "--source tap watches every queue without consuming or answering anything.  "
	       "On sim and mock a built-in generator injects the faults.",
	.children = children,
};

int cmd_monitor(int argc, char **argv)
{
	struct monitor_opts o;

	monitor_opts_init(&o);
	o.print = true;
	parse_verb(&monitor_argp, argc, argv, &o);
	return monitor_run(&o);
}
