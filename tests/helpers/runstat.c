// SPDX-License-Identifier: MIT
/*
 * runstat CMD ARGS...: run a command with stdout to /dev/null and print
 * "WALL_NS MAXRSS_KB EXIT CPU_NS" on stderr (CPU: user + system time of
 * the command and the children it waited for), for tests/bench.sh.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec a, b;
	struct rusage ru;
	int status;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: runstat CMD [ARG...]\n");
		return 64;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, STDOUT_FILENO);
		execvp(argv[1], argv + 1);
		_exit(127);
	}
	if (pid < 0 || wait4(pid, &status, 0, &ru) < 0) {
		perror("runstat");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	fprintf(stderr, "%lld %ld %d %lld\n",
		(long long)(b.tv_sec - a.tv_sec) * 1000000000ll + (b.tv_nsec - a.tv_nsec),
		ru.ru_maxrss, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
		((long long)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ll +
		((long long)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ll);
	return 0;
}
