/* SPDX-License-Identifier: MIT */
/* The monitor/record engine (tool/monitor.c). */
#ifndef IOPFTOOL_MONITOR_H
#define IOPFTOOL_MONITOR_H

#include "tool.h"

struct monitor_opts {
	const char *source;
	uint32_t code;		/* --policy */
	uint64_t delay_ns;
	uint64_t count;
	uint64_t duration_ns;
	struct iopf_gen_cfg gen;
	bool size_given;
	bool print;		/* print records on stdout */
	const char *wfile;	/* record: the capture */
	int linktype;
	int tap_backend;	/* enum iopf_tap_backend */
};

/* The options monitor and record share; add as an argp child. */
extern const struct argp monitor_common_argp;
void monitor_opts_init(struct monitor_opts *o);
int monitor_run(struct monitor_opts *o);

#endif
