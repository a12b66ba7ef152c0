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
	int status;		/* wait status once reaped */
};

/* Start cmd under /bin/sh; *sock is our end of its socket.  0 or -errno. */
int proxy_start(struct proxy *p, const char *cmd, int *sock);
/* Wait up to grace_ns for the handler to exit, then SIGTERM, then SIGKILL; report how it ended. */
void proxy_reap(struct proxy *p, const char *cmd, uint64_t grace_ns);

#endif
