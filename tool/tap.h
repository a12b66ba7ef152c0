/* SPDX-License-Identifier: MIT */
/* monitor/record --source tap (tool/tap.c). */
#ifndef IOPFTOOL_TAP_H
#define IOPFTOOL_TAP_H

#include "monitor.h"

/* True when source is "tap", "tap:PID" or "tap:PID:FD". */
static inline bool tap_source(const char *source)
{
	int pid, fd;

	return iopf_tap_spec(source, &pid, &fd);
}

/* Run monitor/record on the tap: the exit status. */
int tap_run(struct monitor_opts *o);

#endif
