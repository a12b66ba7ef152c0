// SPDX-License-Identifier: MIT
/*
 * pingpong CAPTURE: the baseline of `replay --topspeed --exec CMD`.  Two
 * processes and an AF_UNIX SOCK_SEQPACKET pair, as replay and its
 * handler have: for each fault group of the capture the parent sends
 * the group (40 bytes a record) and waits for one 8-byte response.  The
 * same messages and round trips, and no queue model, checker or
 * handler logic.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iopf.h"
#include "internal.h"	/* what only libiopf and its tests use */

static void child(int fd)
{
	char buf[65536], resp[8] = { 0 };

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n <= 0 || write(fd, resp, sizeof(resp)) != sizeof(resp))
			_exit(0);
	}
}

int main(int argc, char **argv)
{
	static uint8_t group[65536];
	struct iopf_reader *rd;
	struct iopf_rec r;
	unsigned long long groups = 0;
	size_t len = 0;
	char err[512], resp[8];
	int sv[2], rc, st;
	pid_t pid;

	if (argc != 2) {
		fprintf(stderr, "usage: pingpong CAPTURE\n");
		return 64;
	}
	if (iopf_reader_open(&rd, argv[1], err, sizeof(err))) {
		fprintf(stderr, "pingpong: %s\n", err);
		return 2;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv)) {
		perror("pingpong: socketpair");
		return 2;
	}
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		child(sv[1]);
	}
	close(sv[1]);
	while ((rc = iopf_reader_next(rd, &r)) != 0) {
		if (rc < 0 || r.type != IOPF_REC_FAULT)
			continue;
		if (len + IOPF_FAULT_SIZE <= sizeof(group)) {
			iopf_fault_encode(&r.u.fault, group + len);
			len += IOPF_FAULT_SIZE;
		}
		if (!(r.u.fault.flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE))
			continue;
		if (write(sv[0], group, len) != (ssize_t)len || read(sv[0], resp, sizeof(resp)) <= 0)
			break;
		len = 0;
		groups++;
	}
	close(sv[0]);
	waitpid(pid, &st, 0);
	printf("%llu groups\n", groups);
	iopf_reader_free(rd);
	return 0;
}
