// SPDX-License-Identifier: MIT
/*
 * The printer (lib/iopf.h): text for a reader that may stop reading
 * without holding the caller.  A live verb's fault path (monitor, record
 * --print) answers groups; if it wrote its text to a terminal paused with
 * Ctrl-S or to `| less` left unscrolled, write(2) would block it and no
 * group would be answered.  Here the caller only copies whole lines into a
 * bounded buffer (a stdio stream of our own, fopencookie(3)); a thread of
 * the printer's own writes the buffer to the fd and is the only one that
 * ever waits on the reader.  A line that does not fit is dropped, never
 * half-printed, and counted.
 */
#define _GNU_SOURCE	/* fopencookie() */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define LINE_MAX_LEN	(64 * 1024)	/* a longer line is dropped */
#define STREAM_BUF	(64 * 1024)	/* the stream's own stdio buffer */

struct iopf_printer {
	int fd;
	FILE *stream;
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	pthread_cond_t more;		/* to the thread: data, or stop */
	pthread_cond_t progress;	/* from the thread: bytes written, or an error */
	char *ring;			/* whole lines waiting: ring[head..head+len) mod cap */
	size_t cap, head, len;
	bool stop;
	int err;			/* the first write error (-errno): then nothing more is written */
	uint64_t dropped;		/* lines not printed */
	uint64_t last_progress_ns;
	char *line;			/* the caller's partial line, until its newline comes */
	size_t line_len;
	bool line_over;			/* the partial line passed LINE_MAX_LEN: dropped at its end */
};

/* Lines (newlines) in the ring's n bytes from off. */
static uint64_t ring_lines(const struct iopf_printer *p, size_t off, size_t n)
{
	uint64_t lines = 0;

	for (size_t i = 0; i < n; i++)
		lines += p->ring[(off + i) % p->cap] == '\n';
	return lines;
}

/* One whole line into the ring, or counted as dropped; the lock held. */
static void put_line(struct iopf_printer *p, const char *s, size_t n)
{
	size_t tail, first;

	if (p->err || n > p->cap - p->len) {
		p->dropped++;
		return;
	}
	tail = (p->head + p->len) % p->cap;
	first = n < p->cap - tail ? n : p->cap - tail;
	memcpy(p->ring + tail, s, first);
	memcpy(p->ring, s + first, n - first);
	p->len += n;
}

/* The stream's write: never blocks, never fails (what does not fit is counted). */
static ssize_t cookie_write(void *cookie, const char *buf, size_t n)
{
	struct iopf_printer *p = cookie;
	size_t done = 0;

	pthread_mutex_lock(&p->lock);
	while (done < n) {
		const char *nl = memchr(buf + done, '\n', n - done);
		size_t take = nl ? (size_t)(nl - (buf + done)) + 1 : n - done;

		if (!p->line_len && nl && !p->line_over) {
			put_line(p, buf + done, take);	/* the usual case: no copy but into the ring */
		} else {
			if (!p->line_over && p->line_len + take <= LINE_MAX_LEN) {
				memcpy(p->line + p->line_len, buf + done, take);
				p->line_len += take;
			} else {
				p->line_over = true;
			}
			if (nl) {
				if (p->line_over)
					p->dropped++;
				else
					put_line(p, p->line, p->line_len);
				p->line_len = 0;
				p->line_over = false;
			}
		}
		done += take;
	}
	pthread_cond_signal(&p->more);
	pthread_mutex_unlock(&p->lock);
	return (ssize_t)n;
}

static void *printer_thread(void *arg)
{
	struct iopf_printer *p = arg;
	int old;

	/* Cancelled only inside write(2): iopf_printer_close() gives up on a reader that stopped. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->len && !p->stop)
			pthread_cond_wait(&p->more, &p->lock);
		if (!p->len || p->err)
			break;
		size_t n = p->len < p->cap - p->head ? p->len : p->cap - p->head;
		const char *from = p->ring + p->head;

		/*
		 * At most PIPE_BUF bytes, up to a line's end: a pipe takes such a
		 * write whole or not at all, so a write cancelled on a reader that
		 * stopped leaves no half line behind.
		 */
		if (n > PIPE_BUF) {
			const char *nl = memrchr(from, '\n', PIPE_BUF);

			n = nl ? (size_t)(nl - from) + 1 : PIPE_BUF;
		}
		pthread_mutex_unlock(&p->lock);
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
		ssize_t w = write(p->fd, from, n);
		int e = errno;

		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
		pthread_mutex_lock(&p->lock);
		if (w < 0 && e == EINTR)
			continue;
		if (w <= 0) {
			/* EPIPE (the reader went away), ENOSPC...: the rest is not printed */
			p->err = w < 0 ? -e : -EIO;
			p->dropped += ring_lines(p, p->head, p->len);
			p->head = p->len = 0;
		} else {
			p->head = (p->head + (size_t)w) % p->cap;
			p->len -= (size_t)w;
		}
		p->last_progress_ns = iopf_time_now();
		pthread_cond_broadcast(&p->progress);
	}
	pthread_cond_broadcast(&p->progress);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Free p, its stream, ring and locks (the thread has ended or never started). */
static void destroy(struct iopf_printer *p)
{
	if (p->stream)
		fclose(p->stream);
	pthread_cond_destroy(&p->progress);
	pthread_cond_destroy(&p->more);
	pthread_mutex_destroy(&p->lock);
	free(p->line);
	free(p->ring);
	free(p);
}

int iopf_printer_new(struct iopf_printer **pp, int fd, size_t cap)
{
	static const cookie_io_functions_t io = { .write = cookie_write };
	struct iopf_printer *p = calloc(1, sizeof(*p));
	int rc = -ENOMEM;

	*pp = NULL;
	if (!p)
		return -ENOMEM;
	p->fd = fd;
	p->cap = cap ? cap : IOPF_PRINTER_CAP;
	p->ring = malloc(p->cap);
	p->line = malloc(LINE_MAX_LEN);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->more, NULL);
	pthread_cond_init(&p->progress, NULL);
	if (p->ring && p->line)
		p->stream = fopencookie(p, "w", io);
	if (p->stream && !setvbuf(p->stream, NULL, _IOFBF, STREAM_BUF)) {
		p->last_progress_ns = iopf_time_now();
		rc = -pthread_create(&p->thread, NULL, printer_thread, p);
		p->running = rc == 0;
	}
	if (rc) {
		destroy(p);
		return rc;
	}
	*pp = p;
	return 0;
}

FILE *iopf_printer_stream(struct iopf_printer *p)
{
	return p->stream;
}

int iopf_printer_flush(struct iopf_printer *p)
{
	int err;

	fflush(p->stream);	/* into the ring: never waits on the reader */
	pthread_mutex_lock(&p->lock);
	err = p->err;
	pthread_mutex_unlock(&p->lock);
	return err;
}

uint64_t iopf_printer_dropped(struct iopf_printer *p)
{
	uint64_t n;

	pthread_mutex_lock(&p->lock);
	n = p->dropped;
	pthread_mutex_unlock(&p->lock);
	return n;
}

int iopf_printer_close(struct iopf_printer *p, uint64_t idle_ns, uint64_t *dropped)
{
	int err;

	if (!p) {
		if (dropped)
			*dropped = 0;
		return 0;
	}
	fflush(p->stream);
	pthread_mutex_lock(&p->lock);
	if (p->line_len || p->line_over)	/* a last line without its newline */
		p->dropped++;
	/* Wait while the reader takes what is left; give up once it takes nothing for idle_ns. */
	while (p->len && !p->err && iopf_time_now() - p->last_progress_ns < idle_ns) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 50000000;	/* look again every 50 ms */
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&p->progress, &p->lock, &until);
	}
	bool stuck = p->len && !p->err;

	p->stop = true;
	pthread_cond_signal(&p->more);
	pthread_mutex_unlock(&p->lock);
	if (stuck)
		pthread_cancel(p->thread);	/* blocked in write(2) on a reader that stopped */
	pthread_join(p->thread, NULL);
	p->dropped += ring_lines(p, p->head, p->len);	/* the thread is gone: no lock needed */
	err = p->err;
	if (dropped)
		*dropped = p->dropped;
	destroy(p);
	return err;
}
