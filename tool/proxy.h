/* SPDX-License-Identifier: MIT */
/*
 * A handler under test behind a socket (SPEC.md section 6): started with
 * fd 3 a SOCK_SEQPACKET socket and IOPF_FAULT_FD=3.  Each group goes to
 * it as one message; it writes 8-byte responses back.  The tool stands
 * between it and the real queue and checks every response.
 */
#ifndef IOPFTOOL_PROXY_H
#define IOPFTOOL_PROXY_H

#include <sys/types.h>

#include "tool.h"

struct proxy {
	pid_t pid;
	int sock;		/* our end, non-blocking */
	bool eof;		/* the handler closed its end or exited */
	uint8_t *q;		/* groups not yet sent: [u32 len][bytes]... */
	size_t qhead, qlen, qcap;
	uint64_t sent, queued_max;
	int status;		/* wait status once reaped */
	void *rbuf;		/* responses received, one message at a time */
};

int proxy_start(struct proxy *p, const char *cmd);
/* Send one group, or queue it while the socket is full. */
int proxy_forward(struct proxy *p, const void *grp, size_t len);
/* Send queued groups; returns 1 while some are still queued. */
int proxy_flush(struct proxy *p);
static inline bool proxy_pending(const struct proxy *p) { return p->qhead < p->qlen; }
/* Receive one message of responses: their count (0: none waiting), -1 at end of stream. */
ssize_t proxy_recv(struct proxy *p, const struct iommu_hwpt_page_response **r);
/* Close our sending side so the handler sees end of stream. */
void proxy_shutdown(struct proxy *p);
/* Wait up to grace_ns for the handler to exit, then SIGTERM, then SIGKILL. */
void proxy_reap(struct proxy *p, uint64_t grace_ns);
void proxy_free(struct proxy *p);

#endif
