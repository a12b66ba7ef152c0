/* SPDX-License-Identifier: MIT */
/* What monitor, record, handle and replay share on top of libiopf's live session (lib/session.c). */
#ifndef IOPFTOOL_LIVE_H
#define IOPFTOOL_LIVE_H

#include "tool.h"

/* --policy CODE (monitor, record, handle): success or invalid, else a usage error. */
uint32_t live_arg_policy(struct argp_state *state, const char *arg);

/*
 * Finish a capture: META end=1 (unless a write failed), flush, close.
 * Any failure is reported naming path; returns 0 or -errno.
 */
int live_close_capture(struct iopf_session *s, struct iopf_writer *w, const char *path);

/*
 * --print on a live verb (monitor, record, and both on the tap): records
 * go through a printer (lib/printer.c), never straight to standard output.
 * A reader that stops reading (a terminal paused with Ctrl-S, `| less`
 * left unscrolled) costs lines, counted and said in the summary, never
 * the fault path: no group waits on the terminal, no tap event is lost.
 */
struct live_print {
	struct iopf_printer *printer;
	struct iopf_out *out;		/* print the records here (text or JSON, by -j) */
	int err;			/* the first write error (-EPIPE: the reader went away) */
	uint64_t not_printed;		/* lines the reader did not take (live_print_stop()) */
};
/* Start printing: 0, or -errno said. */
int live_print_start(struct live_print *lp);
/* Once a step: hand what was printed to the printer, never waiting; lp->err. */
int live_print_flush(struct live_print *lp);
/*
 * Stop (nothing when never started): what the reader still takes within
 * LIVE_PRINT_IDLE_NS of its last read is printed, the rest counted; a
 * write error other than EPIPE (| head went away) is said.
 */
#define LIVE_PRINT_IDLE_NS 1000000000ull
void live_print_stop(struct live_print *lp);
/* In the summary, after live_print_stop(): how many lines were not printed. */
void live_print_summary(const struct live_print *lp);

#endif
