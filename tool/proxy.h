/* SPDX-License-Identifier: MIT */
/*
 * The handler under test as a process (replay --exec): started with fd 3
 * one end of a SOCK_SEQPACKET socket and IOPF_FAULT_FD=3; libiopf's peer
 * (lib/peer.c) speaks the protocol on the other end.
 */
#ifndef IOPFTOOL_PROXY_H
#define IOPFTOOL_PROXY_H

#include <sys/types.h>

#include "tool.h"

struct proxy {
	pid_t pid;
	pid_t pgid;		/* its process group (its pid), 0 once ended */
	int status;		/* wait status once reaped */
};

/*
 * Start cmd under /bin/sh in a process group of its own; *sock is our end of its socket.  0 or -errno. */
int proxy_start(struct proxy *p, const char *cmd, int *sock);
/* The largest write the handler can make to its fd (lib/peer.c RECV_BYTES). */
#define PROXY_WRITE_MAX (1u << 20)

/* How long the handler has to exit after its socket closes (iopftool-replay(8)). */
#define PROXY_GRACE_NS 500000000ull

/* Wait up to grace_ns for the handler to exit, then SIGTERM, then SIGKILL; report how it ended.
 * Then the rest of its process group is killed: children it left behind
 * would otherwise outlive the replay and hold our stderr open. */
void proxy_reap(struct proxy *p, const char *cmd, uint64_t grace_ns);

#endif
