// SPDX-License-Identifier: MIT
/*
 * iopf-scenario: run scenario scripts against a live queue through the
 * iopf_target_* API and print one normalized line per step, so that the
 * same script run against "sim" (lib/queue.c) and "mock" (the kernel) can
 * be compared line by line (tests/kernel/run.sh).
 *
 *   iopf-scenario [--target sim|sim:X.Y|mock|...] FILE...
 *
 * Each FILE gets a fresh target.  Script lines (# starts a comment):
 *   dev D                      create/attach capture device D
 *   inject D pasid=P grpid=G perm=R addr=A [partial]
 *   read COUNT                 read(COUNT bytes); prints each record
 *   write C:K ... [+N]         write responses {cookie C, code K}, plus N
 *                              extra zero bytes
 *   poll                       POLLIN set on iopf_target_fd()?
 *   detach D
 *   fd                         print iopf_target_fd() (for pid:PID:FD tests)
 *   sleep MS
 * A "# requires: partial" line skips the file on targets that cannot
 * inject partial faults (max_group < 2).  A "# kernel: 6.12 [7.3 ...]" line
 * runs the file only on targets that follow one of those kernel versions
 * (iopf_target_kernel_model(): sim:X.Y, or the running kernel): it pins
 * a behaviour that differs between kernels (doc/kernel-notes.md).
 *
 * Output: "=== FILE" then "STEP -> RESULT" per step.  Live device ids are
 * printed as d0, d1, ... in the order the dev steps created them.  The
 * inject result is "ok" for 0 and for -ENODEV: the sim reports a fault
 * that found no handler, the kernel's trigger cannot (doc/kernel-notes.md §8).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iopf.h"

#define MAX_DEVS	64
#define MAX_READ	(1u << 20)
#define MAX_RESP	256

struct scn {
	struct iopf_target *t;
	const char *file;
	unsigned int line;
	uint32_t capture[MAX_DEVS];	/* capture dev id of d<i> */
	uint32_t live[MAX_DEVS];
	size_t ndevs;
};

static const struct {
	int err;
	const char *name;
} errnames[] = {
	{ EINVAL, "EINVAL" }, { ESPIPE, "ESPIPE" }, { ENOENT, "ENOENT" }, { ENODEV, "ENODEV" },
	{ EOPNOTSUPP, "EOPNOTSUPP" }, { EFAULT, "EFAULT" }, { EBUSY, "EBUSY" },
	{ ENOMEM, "ENOMEM" }, { E2BIG, "E2BIG" }, { EAGAIN, "EAGAIN" }, { EBADF, "EBADF" },
	{ EPERM, "EPERM" }, { ENOTTY, "ENOTTY" }, { EEXIST, "EEXIST" },
};

static const char *errname(long rc)
{
	static char buf[32];

	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (errnames[i].err == -rc)
			return errnames[i].name;
	snprintf(buf, sizeof(buf), "E%ld", -rc);
	return buf;
}

static void log_fn(void *ctx, enum iopf_log_level level, const char *msg)
{
	(void)ctx;
	if (level <= IOPF_LOG_WARN)
		fprintf(stderr, "iopf-scenario: %s\n", msg);
}

static int syntax(struct scn *s, const char *what)
{
	fprintf(stderr, "%s:%u: %s\n", s->file, s->line, what);
	return -EINVAL;
}

static int parse_num(const char *tok, uint64_t max, uint64_t *v)
{
	return iopf_u64_parse(tok, max, v);
}

/* "key=value" with the expected key. */
static int parse_kv(const char *tok, const char *key, uint64_t max, uint64_t *v)
{
	size_t n = strlen(key);

	if (!tok || strncmp(tok, key, n) || tok[n] != '=')
		return -EINVAL;
	return parse_num(tok + n + 1, max, v);
}

static const char *dev_name(struct scn *s, uint32_t live)
{
	static char buf[32];

	for (size_t i = 0; i < s->ndevs; i++)
		if (s->live[i] == live) {
			snprintf(buf, sizeof(buf), "d%zu", i);
			return buf;
		}
	snprintf(buf, sizeof(buf), "d?%u", live);
	return buf;
}

/* The live id of capture device D, or -ENOENT if no dev step made it. */
static int live_of(struct scn *s, uint32_t capture, uint32_t *live)
{
	for (size_t i = 0; i < s->ndevs; i++)
		if (s->capture[i] == capture) {
			*live = s->live[i];
			return 0;
		}
	return -ENOENT;
}

static int step_dev(struct scn *s, char **tok, int ntok)
{
	uint64_t d;
	uint32_t live;
	int rc;

	if (ntok != 2 || parse_num(tok[1], UINT32_MAX, &d))
		return syntax(s, "usage: dev D");
	rc = iopf_target_device(s->t, (uint32_t)d, &live);
	if (rc) {
		printf("dev %s -> %s\n", tok[1], errname(rc));
		return 0;
	}
	if (live_of(s, (uint32_t)d, &live) && s->ndevs < MAX_DEVS) {
		s->capture[s->ndevs] = (uint32_t)d;
		s->live[s->ndevs++] = live;
	}
	printf("dev %s -> %s\n", tok[1], dev_name(s, live));
	return 0;
}

static int parse_fault(struct scn *s, char **tok, int ntok, struct iommu_hwpt_pgfault *f)
{
	uint64_t d, pasid, grpid, perm, addr;
	bool partial = ntok == 7 && !strcmp(tok[6], "partial");

	if ((ntok != 6 && !partial) || parse_num(tok[1], UINT32_MAX, &d) ||
	    parse_kv(tok[2], "pasid", UINT32_MAX, &pasid) ||
	    parse_kv(tok[3], "grpid", UINT32_MAX, &grpid) ||
	    parse_kv(tok[4], "perm", UINT32_MAX, &perm) ||
	    parse_kv(tok[5], "addr", UINT64_MAX, &addr))
		return syntax(s, "usage: inject D pasid=P grpid=G perm=R addr=A [partial]");
	*f = (struct iommu_hwpt_pgfault){
		.flags = (pasid ? IOMMU_PGFAULT_FLAGS_PASID_VALID : 0) |
			 (partial ? 0 : IOMMU_PGFAULT_FLAGS_LAST_PAGE),
		.pasid = (uint32_t)pasid,
		.grpid = (uint32_t)grpid,
		.perm = (uint32_t)perm,
		.addr = addr,
	};
	if (live_of(s, (uint32_t)d, &f->dev_id))
		return syntax(s, "inject on a device no dev step created");
	return 0;
}

static int step_inject(struct scn *s, char **tok, int ntok)
{
	struct iommu_hwpt_pgfault f;
	int rc = parse_fault(s, tok, ntok, &f);

	if (rc)
		return rc;
	rc = iopf_target_inject(s->t, &f);
	printf("inject %s pasid=%u grpid=%u perm=%#x addr=%#llx%s -> %s\n", dev_name(s, f.dev_id),
	       f.pasid, f.grpid, f.perm, (unsigned long long)f.addr,
	       f.flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE ? "" : " partial",
	       rc == 0 || rc == -ENODEV ? "ok" : errname(rc));
	return 0;
}

static void print_rec(struct scn *s, const struct iommu_hwpt_pgfault *f)
{
	printf("  rec dev=%s pasid=%u grpid=%u perm=%#x flags=%#x addr=%#llx length=%u reserved=%u cookie=%u\n",
	       dev_name(s, f->dev_id), f->pasid, f->grpid, f->perm, f->flags,
	       (unsigned long long)f->addr, f->length, f->__reserved, f->cookie);
}

static int step_read(struct scn *s, char **tok, int ntok)
{
	struct iommu_hwpt_pgfault *recs;
	uint64_t count;
	ssize_t n;

	if (ntok != 2 || parse_num(tok[1], MAX_READ, &count))
		return syntax(s, "usage: read COUNT (at most 1 MiB)");
	recs = calloc(1, count + sizeof(*recs));
	if (!recs)
		return -ENOMEM;
	n = iopf_target_read(s->t, recs, count);
	if (n < 0)
		printf("read %s -> %s\n", tok[1], errname(n));
	else
		printf("read %s -> %zd\n", tok[1], n);
	for (ssize_t i = 0; n > 0 && i < n / (ssize_t)sizeof(*recs); i++)
		print_rec(s, &recs[i]);
	free(recs);
	return 0;
}

static int step_write(struct scn *s, char **tok, int ntok)
{
	struct iommu_hwpt_page_response resp[MAX_RESP + 1] = { 0 };
	size_t len = 0;
	ssize_t n;

	for (int i = 1; i < ntok; i++) {
		char *colon = strchr(tok[i], ':');
		uint64_t c, k;

		if (tok[i][0] == '+' && !parse_num(tok[i] + 1, sizeof(resp[0]) - 1, &k)) {
			len += k;	/* a short tail: count not a multiple of 8 */
			continue;
		}
		if (!colon || len % sizeof(resp[0]) || len / sizeof(resp[0]) >= MAX_RESP)
			return syntax(s, "usage: write COOKIE:CODE ... [+N]");
		*colon = '\0';
		if (parse_num(tok[i], UINT32_MAX, &c) || parse_num(colon + 1, UINT32_MAX, &k))
			return syntax(s, "usage: write COOKIE:CODE ... [+N]");
		*colon = ':';
		resp[len / sizeof(resp[0])] = (struct iommu_hwpt_page_response){ (uint32_t)c, (uint32_t)k };
		len += sizeof(resp[0]);
	}
	n = iopf_target_write(s->t, resp, len);
	printf("write");
	for (int i = 1; i < ntok; i++)
		printf(" %s", tok[i]);
	if (n < 0)
		printf(" -> %s\n", errname(n));
	else
		printf(" -> %zd\n", n);
	return 0;
}

static int step_poll(struct scn *s, int ntok)
{
	struct pollfd p = { .fd = iopf_target_fd(s->t), .events = POLLIN };
	int rc;

	if (ntok != 1)
		return syntax(s, "usage: poll");
	rc = poll(&p, 1, 0);
	if (rc < 0)
		printf("poll -> %s\n", errname(-errno));
	else
		printf("poll -> %s\n", p.revents & POLLIN ? "in" : "empty");
	return 0;
}

static int step_detach(struct scn *s, char **tok, int ntok)
{
	uint64_t d;
	uint32_t live;
	int rc;

	if (ntok != 2 || parse_num(tok[1], UINT32_MAX, &d))
		return syntax(s, "usage: detach D");
	if (live_of(s, (uint32_t)d, &live))
		return syntax(s, "detach of a device no dev step created");
	rc = iopf_target_detach(s->t, live);
	printf("detach %s -> %s\n", dev_name(s, live), rc ? errname(rc) : "ok");
	return 0;
}

static int step_misc(struct scn *s, char **tok, int ntok)
{
	uint64_t ms;

	if (!strcmp(tok[0], "fd") && ntok == 1) {
		printf("fd -> %d\n", iopf_target_fd(s->t));
		return 0;
	}
	if (!strcmp(tok[0], "sleep") && ntok == 2 && !parse_num(tok[1], 600000, &ms)) {
		fflush(stdout);
		poll(NULL, 0, (int)ms);
		printf("sleep %s\n", tok[1]);
		return 0;
	}
	return syntax(s, "unknown step");
}

static int run_step(struct scn *s, char **tok, int ntok)
{
	if (!strcmp(tok[0], "dev"))
		return step_dev(s, tok, ntok);
	if (!strcmp(tok[0], "inject"))
		return step_inject(s, tok, ntok);
	if (!strcmp(tok[0], "read"))
		return step_read(s, tok, ntok);
	if (!strcmp(tok[0], "write"))
		return step_write(s, tok, ntok);
	if (!strcmp(tok[0], "poll"))
		return step_poll(s, ntok);
	if (!strcmp(tok[0], "detach"))
		return step_detach(s, tok, ntok);
	return step_misc(s, tok, ntok);
}

static int split(char *line, char **tok, int max)
{
	int n = 0;

	for (char *p = strtok(line, " \t\r\n"); p && n < max; p = strtok(NULL, " \t\r\n"))
		tok[n++] = p;
	return n;
}

/* Does the script carry a "# requires: partial" line? */
static bool requires_partial(FILE *f)
{
	char line[512];
	bool req = false;

	while (fgets(line, sizeof(line), f))
		if (strstr(line, "requires:") && strstr(line, "partial") && line[0] == '#')
			req = true;
	rewind(f);
	return req;
}

/*
 * The "# kernel: X.Y ..." line: true if the file runs on model m (no such
 * line: every model); *list gets the versions named, for the skip message.
 */
static bool kernel_matches(FILE *f, enum iopf_kernel_model m, char *list, size_t len)
{
	char line[512];
	bool any = false, match = false;

	list[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *tok;

		if (line[0] != '#')
			continue;
		p += strspn(p, "# \t");
		if (strncmp(p, "kernel:", 7))
			continue;
		for (tok = strtok(p + 7, " \t\r\n,"); tok; tok = strtok(NULL, " \t\r\n,")) {
			enum iopf_kernel_model k;

			any = true;
			if (!iopf_kernel_model_parse(tok, &k) && k == m)
				match = true;
			snprintf(list + strlen(list), len - strlen(list), "%s%s", list[0] ? " " : "", tok);
		}
	}
	rewind(f);
	return !any || match;
}

static int run_file(struct scn *s, FILE *f)
{
	char line[512], *tok[MAX_RESP + 2];
	int rc = 0;

	s->line = 0;
	while (!rc && fgets(line, sizeof(line), f)) {
		char *hash = strchr(line, '#');
		int ntok;

		s->line++;
		if (hash)
			*hash = '\0';
		ntok = split(line, tok, MAX_RESP + 2);
		if (ntok)
			rc = run_step(s, tok, ntok);
		fflush(stdout);
	}
	return rc;
}

static int run_script(const char *target, const char *file)
{
	struct iopf_log log = { .fn = log_fn };
	struct scn s = { .file = file };
	char err[256] = "";
	FILE *f = fopen(file, "r");
	int rc;

	if (!f) {
		fprintf(stderr, "iopf-scenario: cannot open %s: %s\n", file, strerror(errno));
		return 2;
	}
	printf("=== %s\n", strrchr(file, '/') ? strrchr(file, '/') + 1 : file);
	rc = iopf_target_open(&s.t, target, &log, err, sizeof(err));
	if (rc) {
		printf("error: cannot open target %s: %s\n", target, err);
		fclose(f);
		return 2;
	}
	char kernels[128];
	enum iopf_kernel_model m = iopf_target_kernel_model(s.t);

	if (requires_partial(f) && iopf_target_max_group(s.t) < 2) {
		printf("skip: requires partial faults, which target %s cannot inject\n", target);
	} else if (!kernel_matches(f, m, kernels, sizeof(kernels))) {
		printf("skip: pins kernel %s behaviour; target %s follows %s\n", kernels, target,
		       iopf_kernel_model_name(m));
	} else {
		rc = run_file(&s, f);
	}
	iopf_target_close(s.t);
	fclose(f);
	return rc ? 2 : 0;
}

int main(int argc, char **argv)
{
	const char *target = "sim";
	int i = 1, status = 0;

	if (argc > 2 && !strcmp(argv[1], "--target")) {
		target = argv[2];
		i = 3;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: iopf-scenario [--target sim|sim:X.Y|mock|...] FILE...\n");
		return 64;
	}
	for (; i < argc; i++)
		if (run_script(target, argv[i]))
			status = 2;
	return fflush(stdout) ? 2 : status;
}
