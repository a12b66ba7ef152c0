// SPDX-License-Identifier: MIT
/*
 * hostile-handler: replay --exec handlers that use fd 3 the way a careless
 * or hostile program would (issue 15), for tests/t2320-handler-hostile.sh.
 *
 *   hostile-handler poll N        N threads call poll(fd 3, POLLIN, 0) in a
 *                                 loop (a busy-polling thread pool); never
 *                                 answers
 *   hostile-handler reopen        opens and closes /proc/self/fd/3 in a
 *                                 loop; never answers
 *   hostile-handler dups N CMD... makes N copies of fd 3 (fds 10, 11, ...),
 *                                 then runs CMD with them: its exit drops
 *                                 N + 1 references to the file at once
 *   hostile-handler opens N CMD... opens /proc/self/fd/3 N times (fds 10,
 *                                 11, ...: N more open files), then runs
 *                                 CMD: its exit releases them all at once
 *
 * poll and reopen run until a signal ends them (SIGTERM: replay's end),
 * or until fd 3 is gone (the replay died: no spinning on a dead file), or
 * for 60 s at most (SIGALRM): a test may run them at a real-time priority
 * (t2320), and an orphan must not keep a CPU.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *poller(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd p = { .fd = 3, .events = POLLIN };

		if (poll(&p, 1, 0) > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL)))
			exit(0);	/* the file's server is gone */
	}
	return NULL;
}

static int usage(void)
{
	fprintf(stderr, "usage: hostile-handler poll N | reopen | dups N CMD... | opens N CMD...\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "poll")) {
		int n = atoi(argv[2]);

		alarm(60);
		for (int i = 0; i < n; i++) {
			pthread_t t;

			if (pthread_create(&t, NULL, poller, NULL)) {
				perror("hostile-handler: pthread_create");
				return 2;
			}
		}
		for (;;)
			pause();
	}
	if (argc == 2 && !strcmp(argv[1], "reopen")) {
		alarm(60);
		for (;;) {
			int fd = open("/proc/self/fd/3", O_RDWR | O_CLOEXEC);

			if (fd < 0 && errno != EINTR)
				return 0;	/* the file's server is gone */
			if (fd >= 0)
				close(fd);
		}
	}
	if (argc >= 4 && !strcmp(argv[1], "dups")) {
		int n = atoi(argv[2]);

		for (int i = 0; i < n; i++)
			if (dup2(3, 10 + i) < 0) {
				perror("hostile-handler: dup2");
				return 2;
			}
		execvp(argv[3], argv + 3);
		perror(argv[3]);
		return 2;
	}
	if (argc >= 4 && !strcmp(argv[1], "opens")) {
		int n = atoi(argv[2]);

		for (int i = 0; i < n; i++) {
			int fd = open("/proc/self/fd/3", O_RDWR);

			if (fd < 0 || dup2(fd, 10 + i) < 0) {
				perror("hostile-handler: open /proc/self/fd/3");
				return 2;
			}
			close(fd);
		}
		execvp(argv[3], argv + 3);
		perror(argv[3]);
		return 2;
	}
	return usage();
}
