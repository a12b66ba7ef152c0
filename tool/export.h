/* SPDX-License-Identifier: MIT */
/*
 * monitor/record --metrics FILE and --metrics-listen ADDR:PORT
 * (tool/export.c): libiopf's metrics (lib/metrics.c) written to a file
 * for node_exporter's textfile collector and served over plain HTTP to
 * Prometheus, from the monitor's own event loop, never blocking it.
 */
#ifndef IOPFTOOL_EXPORT_H
#define IOPFTOOL_EXPORT_H

#include "tool.h"

/* Default --metrics-interval, and the HTTP server's limits (iopftool-monitor(8) "METRICS"). */
#define EXPORT_INTERVAL_NS (10ull * 1000000000ull)
#define EXPORT_MAX_CONNS 16		/* connections open at once; more are closed at once */
#define EXPORT_REQ_MAX 4096		/* bytes of request line and headers */
#define EXPORT_TIMEOUT_NS (5ull * 1000000000ull)	/* a connection's whole life */

struct export_cfg {
	const char *file;	/* --metrics FILE, or NULL */
	const char *listen;	/* --metrics-listen [ADDR:]PORT, or NULL */
	uint64_t interval_ns;	/* --metrics-interval: how often FILE is rewritten */
};

struct exporter;

/* NULL cfg->file and cfg->listen: *ex NULL and 0.  Errors are reported; -errno. */
int exporter_new(struct exporter **ex, const struct export_cfg *cfg, struct iopf_metrics *m);
/* An fd to poll for POLLIN (an epoll set of the exporter's own). */
int exporter_fd(const struct exporter *ex);
/* Serve what is ready, expire slow connections, rewrite FILE when due; never blocks. */
void exporter_step(struct exporter *ex);
/* Rewrite FILE a last time, close everything. */
void exporter_free(struct exporter *ex);
/* --metrics-listen ADDR:PORT, checked when parsing: a usage error otherwise. */
void export_arg_listen(struct argp_state *state, const char *arg);

#endif
