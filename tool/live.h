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

#endif
