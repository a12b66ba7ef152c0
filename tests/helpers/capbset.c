// SPDX-License-Identifier: MIT
/*
 * capbset CAP[,CAP...] CMD [ARG...]: run CMD with the capability bounding
 * set cut to the capabilities named (numbers, see <linux/capability.h>),
 * as systemd's CapabilityBoundingSet= does for a service running as
 * root: after execve(2) root's permitted and effective sets are the
 * bounding set.  For tests/kernel/guest/42-tap-fleet.sh, which runs the
 * tap with the capabilities of examples/iopftool-tap.service.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char keep[64] = { 0 }, *list, *tok, *save = NULL;

	if (argc < 3) {
		fprintf(stderr, "usage: capbset CAP[,CAP...] CMD [ARG...]\n");
		return 64;
	}
	list = strdup(argv[1]);
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int c = atoi(tok);

		if (c < 0 || c >= 64) {
			fprintf(stderr, "capbset: bad capability %s\n", tok);
			return 64;
		}
		keep[c] = 1;
	}
	free(list);
	for (int c = 0; c < 64; c++) {
		if (keep[c])
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) && errno != EINVAL) {
			perror("capbset: PR_CAPBSET_DROP");
			return 2;
		}
	}
	execvp(argv[2], argv + 2);
	perror("capbset: exec");
	return 127;
}
