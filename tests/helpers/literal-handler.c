// SPDX-License-Identifier: MIT
/*
 * literal-handler: a handler written to the letter of the kernel's fault
 * fd contract (drivers/iommu/iommufd/fault.c), nothing more:
 *   poll(2) for POLLIN; read(2) until it returns 0 (0 means "nothing now",
 *   never end of file: iommufd_fault_fops_read() never blocks); answer
 *   every group read, in one write(2), resubmitting after a refused entry
 *   (iommufd_fault_fops_write() stops at the first bad response and returns
 *   8 * the number applied); grow the buffer on EINVAL (the first group
 *   does not fit).  It runs until SIGTERM, like a daemon on the kernel fd.
 * It also checks what it reads: every read a multiple of 40 bytes of whole
 * groups (a run of one cookie ending with LAST_PAGE), and exits 3 if not.
 *
 *   literal-handler [--nonblock] [--buffer BYTES] [--fd N] [--code 0|1]
 *                   [--dup-every N [--no-resubmit]]
 *
 * --nonblock: O_NONBLOCK and an edge-triggered epoll, the pattern of a
 * handler that drains on each wake-up.  --dup-every N: a wrong handler
 * that answers every Nth group twice, the duplicates last in the same
 * write (the kernel takes the answers, refuses the first duplicate and
 * returns a short count); --no-resubmit: it then drops the rest of a
 * short write (duplicates only) instead of writing it again.  At the end it prints
 * "literal-handler: G groups, F faults, R responses, X refused" on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "iopf.h"

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

struct st {
	int fd;
	uint32_t code;
	uint8_t *buf;
	size_t cap;
	struct iommu_hwpt_page_response *out;
	size_t nout, outcap;
	unsigned long groups, faults, written, refused;
	unsigned long dup_every;
	bool no_resubmit;
	struct iommu_hwpt_page_response *dups;	/* written again at the end of the next write */
	size_t ndups;
};

static void die(const char *what, int e, int status)
{
	fprintf(stderr, "literal-handler: %s: %s\n", what, strerror(e));
	exit(status);
}

/* Whole groups only: check and queue one answer per group. */
static void take(struct st *s, size_t n)
{
	const uint8_t *p = s->buf;

	if (n % IOPF_FAULT_SIZE) {
		fprintf(stderr, "literal-handler: read returned %zu bytes, not a multiple of 40\n", n);
		exit(3);
	}
	for (size_t i = 0; i < n / IOPF_FAULT_SIZE; i++) {
		struct iommu_hwpt_pgfault f, next;
		bool end = i + 1 == n / IOPF_FAULT_SIZE;

		memcpy(&f, p + i * IOPF_FAULT_SIZE, sizeof(f));
		s->faults++;
		if (!end) {
			memcpy(&next, p + (i + 1) * IOPF_FAULT_SIZE, sizeof(next));
			if (next.cookie != f.cookie && !(f.flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE)) {
				fprintf(stderr, "literal-handler: cookie %u ends without LAST_PAGE\n", f.cookie);
				exit(3);
			}
		}
		if (!(f.flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE)) {
			if (end) {
				fprintf(stderr, "literal-handler: a read ends inside group %u\n", f.cookie);
				exit(3);
			}
			continue;
		}
		if (s->nout == s->outcap) {
			s->outcap = s->outcap ? s->outcap * 2 : 256;
			s->out = realloc(s->out, s->outcap * sizeof(*s->out));
			if (!s->out)
				die("realloc", ENOMEM, 2);
		}
		s->out[s->nout++] = (struct iommu_hwpt_page_response){ f.cookie, s->code };
		s->groups++;
		if (s->dup_every && s->groups % s->dup_every == 0) {
			s->dups = realloc(s->dups, (s->ndups + 1) * sizeof(*s->dups));
			if (!s->dups)
				die("realloc", ENOMEM, 2);
			s->dups[s->ndups++] = s->out[s->nout - 1];
		}
	}
}

/* Read until 0. */
static void drain(struct st *s)
{
	for (;;) {
		ssize_t n = read(s->fd, s->buf, s->cap);

		if (n > 0) {
			take(s, (size_t)n);
			continue;
		}
		if (n == 0 || stop)
			return;
		if (errno == EINTR)
			continue;
		if (errno == EINVAL) {	/* the first group does not fit */
			s->cap *= 2;
			s->buf = realloc(s->buf, s->cap);
			if (!s->buf || s->cap > (1u << 30))
				die("read buffer", ENOMEM, 2);
			continue;
		}
		die("read", errno, 2);
	}
}

static void answer(struct st *s)
{
	size_t off = 0;

	for (size_t i = 0; i < s->ndups; i++) {
		if (s->nout == s->outcap) {
			s->outcap *= 2;
			s->out = realloc(s->out, s->outcap * sizeof(*s->out));
			if (!s->out)
				die("realloc", ENOMEM, 2);
		}
		s->out[s->nout++] = s->dups[i];
	}
	s->ndups = 0;
	while (off < s->nout) {
		ssize_t w = write(s->fd, s->out + off, (s->nout - off) * IOPF_RESP_SIZE);

		if (w > 0) {
			if (w % IOPF_RESP_SIZE) {
				fprintf(stderr, "literal-handler: write returned %zd\n", w);
				exit(3);
			}
			off += (size_t)w / IOPF_RESP_SIZE;
			s->written += (size_t)w / IOPF_RESP_SIZE;
			if (off < s->nout && s->no_resubmit) {
				s->refused++;	/* the one refused; the rest dropped */
				break;
			}
		} else if (w < 0 && errno == EINTR) {
			continue;
		} else if (w < 0 && errno == EINVAL) {
			s->refused++;
			off++;
		} else {
			die("write", w < 0 ? errno : EIO, 2);
		}
	}
	s->nout = 0;
}

int main(int argc, char **argv)
{
	struct st s = { .fd = 3, .cap = 4096 / IOPF_FAULT_SIZE * IOPF_FAULT_SIZE };
	bool nonblock = false;
	struct sigaction sa = { .sa_handler = on_term };
	int ep = -1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--nonblock"))
			nonblock = true;
		else if (!strcmp(argv[i], "--buffer") && i + 1 < argc)
			s.cap = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--fd") && i + 1 < argc)
			s.fd = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--code") && i + 1 < argc)
			s.code = (uint32_t)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--dup-every") && i + 1 < argc)
			s.dup_every = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--no-resubmit"))
			s.no_resubmit = true;
		else {
			fprintf(stderr, "usage: literal-handler [--nonblock] [--buffer BYTES] [--fd N] [--code 0|1] "
				"[--dup-every N [--no-resubmit]]\n");
			return 64;
		}
	}
	s.buf = malloc(s.cap ? s.cap : 1);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (nonblock) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLET };

		if (fcntl(s.fd, F_SETFL, fcntl(s.fd, F_GETFL) | O_NONBLOCK))
			die("fcntl O_NONBLOCK", errno, 2);
		ep = epoll_create1(EPOLL_CLOEXEC);
		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, s.fd, &ev))
			die("epoll", errno, 2);
	}
	while (!stop) {
		if (nonblock) {
			struct epoll_event ev;

			if (epoll_wait(ep, &ev, 1, -1) < 0 && errno != EINTR)
				die("epoll_wait", errno, 2);
		} else {
			struct pollfd p = { s.fd, POLLIN, 0 };

			if (poll(&p, 1, -1) < 0 && errno != EINTR)
				die("poll", errno, 2);
			if (p.revents & (POLLERR | POLLNVAL))
				die("poll", EBADF, 2);
		}
		if (stop)
			break;
		drain(&s);
		answer(&s);
	}
	fprintf(stderr, "literal-handler: %lu groups, %lu faults, %lu responses, %lu refused\n",
		s.groups, s.faults, s.written, s.refused);
	return 0;
}
