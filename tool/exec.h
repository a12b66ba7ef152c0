/* SPDX-License-Identifier: MIT */
/*
 * The handler under test as a process (replay --exec): started with its
 * fault fd (iopf_replay_handler_open(): a file or a socket) as fd 3 and
 * IOPF_FAULT_FD=3.
 */
#ifndef IOPFTOOL_EXEC_H
#define IOPFTOOL_EXEC_H

#include <sys/types.h>

#include "tool.h"

struct exec_child {
	pid_t pid;
	pid_t pgid;		/* its process group (its pid), 0 once ended */
	int status;		/* wait status once reaped */
	bool ended;		/* exec_end() asked it to go: SIGTERM is no surprise */
};

/*
 * Start cmd under /bin/sh in a process group of its own, with fd as its fd 3
 * (closed here).  0 or -errno. */
int exec_start(struct exec_child *p, const char *cmd, int fd);
/* For iopf_replay_cfg.handler_end: SIGTERM the handler's process group. */
void exec_end(void *ctx);

/* How long the handler has to exit after its socket closes (iopftool-replay(8)). */
#define EXEC_GRACE_NS 500000000ull

/* Wait up to grace_ns for the handler to exit, then SIGTERM, then SIGKILL; report how it ended.
 * Then the rest of its process group is killed: children it left behind
 * would otherwise outlive the replay and hold our stderr open. */
void exec_reap(struct exec_child *p, const char *cmd, uint64_t grace_ns);

#endif
