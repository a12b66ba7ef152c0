// SPDX-License-Identifier: MIT
/* Starting and reaping the --exec handler: see exec.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"

#define HANDLER_FD 3

static void child(int fd, const char *cmd)
{
	if (fd != HANDLER_FD) {
		if (dup2(fd, HANDLER_FD) < 0)
			_exit(127);
	} else {
		fcntl(fd, F_SETFD, 0);	/* dup2 to itself would keep FD_CLOEXEC */
	}
	setpgid(0, 0);	/* its own group: exec_reap() ends it all (the parent sets it too) */
	dup2(STDERR_FILENO, STDOUT_FILENO);	/* keep our stdout for the report */
	setenv("IOPF_FAULT_FD", "3", 1);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGXFSZ, SIG_DFL);	/* ignored by iopftool itself (tool/main.c) */
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	_exit(127);
}

int exec_start(struct exec_child *p, const char *cmd, int fd)
{
	memset(p, 0, sizeof(*p));
	fflush(NULL);
	p->pid = fork();
	if (p->pid < 0) {
		int e = errno;

		close(fd);
		p->pid = -1;
		return -e;
	}
	if (p->pid == 0)
		child(fd, cmd);
	setpgid(p->pid, p->pid);	/* no race with the child's own setpgid() */
	p->pgid = p->pid;
	close(fd);
	return 0;
}

void exec_end(void *ctx)
{
	struct exec_child *p = ctx;

	if (p->pgid > 0 && !kill(-p->pgid, SIGTERM))
		p->ended = true;
}

static bool wait_for(struct exec_child *p, uint64_t ns)
{
	uint64_t end = iopf_time_now() + ns;

	do {
		if (waitpid(p->pid, &p->status, WNOHANG) == p->pid) {
			p->pid = -1;
			return true;
		}
		nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
	} while (iopf_time_now() < end);
	return false;
}

void exec_reap(struct exec_child *p, const char *cmd, uint64_t grace_ns)
{
	if (p->pid <= 0)
		return;
	if (!wait_for(p, grace_ns)) {
		kill(-p->pgid, SIGTERM);
		if (!wait_for(p, grace_ns)) {
			kill(-p->pgid, SIGKILL);
			waitpid(p->pid, &p->status, 0);
			p->pid = -1;
		}
	}
	/* Whatever the handler started and left running goes with it. */
	if (p->pgid > 0 && !kill(-p->pgid, SIGTERM)) {
		nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
		kill(-p->pgid, SIGKILL);
	}
	p->pgid = 0;
	if (WIFSIGNALED(p->status) && !(p->ended && WTERMSIG(p->status) == SIGTERM))
		p_warn("handler '%s' died of signal %d", cmd, WTERMSIG(p->status));
	else if (WIFEXITED(p->status) && WEXITSTATUS(p->status))
		p_warn("handler '%s' exited with status %d", cmd, WEXITSTATUS(p->status));
}
