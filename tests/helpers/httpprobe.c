// SPDX-License-Identifier: MIT
/*
 * httpprobe: probe monitor/record --metrics-listen on 127.0.0.1 (tests/t2400-fleet.sh).
 *
 *   httpprobe bad PORT          malformed requests: prints "NAME STATUS" for each,
 *                               exit 1 when one did not get the status expected
 *   httpprobe slow PORT N SECS  N connections that send a byte every 100ms for
 *                               SECS; prints how many the server closed, and
 *                               the most it kept open at once (refused ones close at once)
 *   httpprobe flood PORT N      N connections opened and left idle at once, then
 *                               one GET: prints the GET's status (-1: refused,
 *                               0: closed unanswered, the server being full)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port;

/* A connection to the server; -1 (when may_fail) if it refused it. */
static int dial_maybe(bool may_fail)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		if (may_fail && fd >= 0 && errno == ECONNREFUSED) {
			close(fd);
			return -1;
		}
		perror("connect");
		exit(2);
	}
	return fd;
}


/* Send req (len bytes), read the answer (5 s at most): its status code, 0 if none. */
static int request(const char *req, size_t len, char *body, size_t blen)
{
	char buf[65536];
	size_t got = 0;
	int fd = dial_maybe(true), status = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (fd < 0)
		return -1;	/* refused: the kernel's accept queue was full */

	if (send(fd, req, len, MSG_NOSIGNAL) < 0) {
		close(fd);
		return 0;
	}
	while (got < sizeof(buf) - 1 && poll(&p, 1, 5000) > 0) {
		ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = 0;
	close(fd);
	if (sscanf(buf, "HTTP/1.1 %d ", &status) != 1)
		status = 0;
	if (body) {
		char *b = strstr(buf, "\r\n\r\n");

		snprintf(body, blen, "%s", b ? b + 4 : "");
	}
	return status;
}

static int bad(void)
{
	static char big[6000];
	static const struct {
		const char *name, *req;
		int want;
	} cases[] = {
		{ "good", "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200 },
		{ "http1.0-no-host", "GET /metrics HTTP/1.0\r\n\r\n", 200 },
		{ "query", "GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", 200 },
		{ "head", "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200 },
		{ "no-host", "GET /metrics HTTP/1.1\r\n\r\n", 400 },
		{ "post", "POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 405 },
		{ "not-found", "GET /secrets HTTP/1.1\r\nHost: x\r\n\r\n", 404 },
		{ "prefix", "GET /metricsx HTTP/1.1\r\nHost: x\r\n\r\n", 404 },
		{ "version", "GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n", 505 },
		{ "bare-lf", "GET /metrics HTTP/1.1\nHost: x\n\n", 400 },
		{ "no-colon", "GET /metrics HTTP/1.1\r\nHost x\r\n\r\n", 400 },
		{ "folded", "GET /metrics HTTP/1.1\r\nHost: x\r\n continued\r\n\r\n", 400 },
		{ "space-name", "GET /metrics HTTP/1.1\r\nHo st: x\r\n\r\n", 400 },
		{ "body", "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 400 },
		{ "chunked", "GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 400 },
		{ "pipelined", "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\n", 400 },
		{ "escape", "GET /metrics HTTP/1.1\r\nHost: \033[2J\r\n\r\n", 400 },
		{ "two-spaces", "GET  /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
		{ "tls", "\x16\x03\x01\x02", 400 },	/* a TLS hello's first bytes: refused at once */
	};
	char body[65536];
	int fails = 0, st;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		st = request(cases[i].req, strlen(cases[i].req), body, sizeof(body));
		printf("%s %d\n", cases[i].name, st);
		fails += st != cases[i].want;
		if (!strcmp(cases[i].name, "good") && !strstr(body, "# TYPE iopf_faults_total counter")) {
			printf("good: no iopf_faults_total in the body\n");
			fails++;
		}
		if (!strcmp(cases[i].name, "head") && body[0]) {
			printf("head: a body\n");
			fails++;
		}
	}
	/* a NUL, and a head larger than the server's buffer */
	st = request("GET /metrics HTTP/1.1\r\nHost: \0\r\n\r\n", 34, NULL, 0);
	printf("nul %d\n", st);
	fails += st != 400;
	memcpy(big, "GET /metrics HTTP/1.1\r\nHost: x\r\nX: ", 35);
	memset(big + 35, 'a', sizeof(big) - 35 - 4);
	memcpy(big + sizeof(big) - 4, "\r\n\r\n", 4);
	st = request(big, sizeof(big), NULL, 0);
	printf("too-large %d\n", st);
	fails += st != 431;
	return fails ? 1 : 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int slow(int n, double secs)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: slowloris\r\nX-a: ";
	int *fd = calloc((size_t)n, sizeof(int));
	size_t *sent = calloc((size_t)n, sizeof(size_t));
	int closed = 0, open_max = 0;
	double end = now_s() + secs;

	if (!fd || !sent) {
		free(fd);
		free(sent);
		return 2;
	}
	for (int i = 0; i < n; i++) {
		fd[i] = dial_maybe(true);
		closed += fd[i] < 0;	/* refused by the kernel: the accept queue was full */
	}
	while (now_s() < end) {
		int open_now = 0;

		for (int i = 0; i < n; i++) {
			char c;

			if (fd[i] < 0)
				continue;
			/* the server closed it (refused at once, or timed out) */
			if (recv(fd[i], &c, 1, MSG_DONTWAIT) == 0 ||
			    send(fd[i], sent[i] < sizeof(req) - 1 ? &req[sent[i]] : "a", 1,
				 MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
				close(fd[i]);
				fd[i] = -1;
				closed++;
				continue;
			}
			sent[i]++;
			open_now++;
		}
		if (open_now > open_max)
			open_max = open_now;
		usleep(100000);
	}
	printf("closed %d of %d, at most %d open at once\n", closed, n, open_max);
	for (int i = 0; i < n; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	free(fd);
	free(sent);
	return 0;
}

static int flood(int n)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	int st, refused = 0;

	for (int i = 0; i < n; i++)
		refused += dial_maybe(true) < 0;	/* left open and idle */
	usleep(200000);
	st = request(req, sizeof(req) - 1, NULL, 0);
	printf("%d of %d refused by the kernel (backlog full); get during flood %d\n", refused, n, st);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: httpprobe bad|slow|flood PORT [N [SECS]]\n");
		return 64;
	}
	port = atoi(argv[2]);
	if (!strcmp(argv[1], "bad"))
		return bad();
	if (!strcmp(argv[1], "slow") && argc == 5)
		return slow(atoi(argv[3]), atof(argv[4]));
	if (!strcmp(argv[1], "flood") && argc == 4)
		return flood(atoi(argv[3]));
	fprintf(stderr, "usage: httpprobe bad|slow|flood PORT [N [SECS]]\n");
	return 64;
}
