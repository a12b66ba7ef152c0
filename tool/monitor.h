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
	struct iopf_rotate_cfg rot;	/* record -C, -G, -W */
	const char *metrics_file;	/* --metrics */
	const char *metrics_listen;	/* --metrics-listen */
	uint64_t metrics_interval_ns;
};

/* The options monitor and record share; add as an argp child. */
extern const struct argp monitor_common_argp;
void monitor_opts_init(struct monitor_opts *o);
int monitor_run(struct monitor_opts *o);

/* SIGHUP (record): switch to a new file at the next safe point (tool/monitor.c). */
extern volatile sig_atomic_t hup_requested;
void install_hup_handler(void);
/*
 * A rotation due on w: do it with the run's totals; reports errors.
 * Returns 0, 1 when -G with -W has made its files (stop), or -errno.
 */
int monitor_rotate(struct iopf_writer *w, const struct iopf_capture_counts *total);

#endif
