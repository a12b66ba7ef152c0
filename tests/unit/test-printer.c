// SPDX-License-Identifier: MIT
/*
 * lib/printer.c: lines reach the fd whole and in order; a reader that
 * stops reading never holds the writer (the lines that do not fit are
 * dropped whole and counted); a reader that went away is -EPIPE.
 * alarm(2) turns a hang (the defect this guards against) into a failure.
 */
#define _GNU_SOURCE	/* F_SETPIPE_SZ */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iopf.h"
#include "tap.h"

/* Read everything from fd (non-blocking) into buf; the bytes read. */
static size_t drain(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	while (n < cap && (r = read(fd, buf + n, cap - n)) > 0)
		n += (size_t)r;
	return n;
}

static size_t count_lines(const char *buf, size_t n)
{
	size_t lines = 0;

	for (size_t i = 0; i < n; i++)
		lines += buf[i] == '\n';
	return lines;
}

static void test_in_order(void)
{
	struct iopf_printer *p;
	uint64_t dropped = 99;
	char buf[4096], want[4096];
	size_t n, wn = 0;
	int fds[2];

	ok(pipe2(fds, O_NONBLOCK) == 0, "pipe");
	is(iopf_printer_new(&p, fds[1], 0), 0, "printer");
	for (int i = 0; i < 50; i++) {
		fprintf(iopf_printer_stream(p), "line %d\n", i);
		wn += (size_t)snprintf(want + wn, sizeof(want) - wn, "line %d\n", i);
	}
	/* a line written in pieces, across flushes */
	fputs("split ", iopf_printer_stream(p));
	is(iopf_printer_flush(p), 0, "flush");
	fputs("line\n", iopf_printer_stream(p));
	wn += (size_t)snprintf(want + wn, sizeof(want) - wn, "split line\n");
	is(iopf_printer_close(p, 1000000000ull, &dropped), 0, "close: no error");
	is((int)dropped, 0, "nothing dropped");
	n = drain(fds[0], buf, sizeof(buf));
	ok(n == wn && !memcmp(buf, want, n), "every line, whole and in order (%zu of %zu bytes)", n, wn);
	close(fds[0]);
	close(fds[1]);
}

static void test_stalled_reader(void)
{
	struct iopf_printer *p;
	uint64_t dropped = 0, during;
	static char buf[1 << 20];
	char line[100];
	size_t n, lines;
	int fds[2], total = 20000;

	ok(pipe2(fds, O_NONBLOCK) == 0, "pipe");
	fcntl(fds[1], F_SETPIPE_SZ, 4096);
	fcntl(fds[1], F_SETFL, 0);	/* the printer's end blocks, as a terminal does */
	is(iopf_printer_new(&p, fds[1], 8192), 0, "printer with an 8 KiB buffer");
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = 0;
	/* nobody reads: every flush must still return at once (alarm: a hang fails) */
	for (int i = 0; i < total; i++) {
		fputs(line, iopf_printer_stream(p));
		if (i % 100 == 0)
			iopf_printer_flush(p);
	}
	iopf_printer_flush(p);
	during = iopf_printer_dropped(p);
	ok(during > 0, "a reader that stopped: lines dropped, counted (%llu)", (unsigned long long)during);
	is(iopf_printer_close(p, 200000000ull, &dropped), 0, "close gives up after 200 ms without progress");
	n = drain(fds[0], buf, sizeof(buf));
	lines = count_lines(buf, n);
	ok(lines + dropped == (size_t)total, "printed %zu + dropped %llu = %d written", lines,
	   (unsigned long long)dropped, total);
	ok(n % (sizeof(line) - 1) == 0, "no half line reached the reader (%zu bytes)", n);
	close(fds[0]);
	close(fds[1]);
}

static void test_reader_gone(void)
{
	struct iopf_printer *p;
	uint64_t dropped = 0;
	int fds[2], err = 0;

	ok(pipe(fds) == 0, "pipe");
	close(fds[0]);
	is(iopf_printer_new(&p, fds[1], 0), 0, "printer");
	for (int i = 0; i < 200 && !err; i++) {
		fputs("to nobody\n", iopf_printer_stream(p));
		err = iopf_printer_flush(p);
		usleep(10000);
	}
	is(err, -EPIPE, "a reader that went away: -EPIPE");
	is(iopf_printer_close(p, 1000000000ull, &dropped), -EPIPE, "close says it too");
	ok(dropped > 0, "and counts what was not printed (%llu)", (unsigned long long)dropped);
	close(fds[1]);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	alarm(30);
	test_in_order();
	test_stalled_reader();
	test_reader_gone();
	return tap_done();
}
