// SPDX-License-Identifier: MIT
/*
 * iopftool doctor: why does this machine deliver no page faults to a
 * fault fd; iopftool bundle (and doctor --bundle): the report, every
 * input it read, ps and optionally a short tap recording in one ustar
 * archive for a ticket.  The checks are libiopf's (lib/doctor.c), the
 * archive writer too (lib/tar.c); this is options, the bundle's layout
 * and exit codes.  See iopftool-doctor(8), iopftool-bundle(8).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

#define MAX_DEVICES	64
#define BUNDLE_DIR	"iopf-bundle"

struct doctor_opts {
	const char *root, *dmesg, *bundle;
	const char *devices[MAX_DEVICES];
	size_t ndevices;
	unsigned int tap_seconds;
	bool bundle_verb;
};

enum { OPT_ROOT = 'r', OPT_DEVICE = 'd', OPT_DMESG = 0x100, OPT_BUNDLE, OPT_TAP };

static const struct argp_option doctor_options[] = {
	{ "root", OPT_ROOT, "DIR", 0, "read sys/, proc/, boot/, dev/ and dmesg from a tree collected "
	  "elsewhere (an extracted bundle) instead of this machine", 0 },
	{ "dmesg", OPT_DMESG, "FILE", 0, "the kernel log from FILE (dmesg or journalctl -k output)", 0 },
	{ "device", OPT_DEVICE, "BDF", 0, "check only this PCI device (repeatable; also as operands)", 0 },
	{ "bundle", OPT_BUNDLE, "FILE", 0, "also write the bundle (iopftool-bundle(8)) to FILE", 0 },
	{ "tap", OPT_TAP, "SECONDS", 0, "with --bundle: add a tap recording of SECONDS (root, live only)", 0 },
	{ 0 }
};

static const struct argp_option bundle_options[] = {
	{ "root", OPT_ROOT, "DIR", 0, "bundle a tree collected elsewhere instead of this machine", 0 },
	{ "dmesg", OPT_DMESG, "FILE", 0, "the kernel log from FILE (dmesg or journalctl -k output)", 0 },
	{ "device", OPT_DEVICE, "BDF", 0, "check only this PCI device (repeatable; also as operands)", 0 },
	{ "tap", OPT_TAP, "SECONDS", 0, "add a tap recording of SECONDS (root, live only)", 0 },
	{ 0 }
};

static void add_device(struct argp_state *state, struct doctor_opts *o, const char *arg)
{
	if (o->ndevices == MAX_DEVICES)
		argp_error(state, "at most %d devices", MAX_DEVICES);
	if (!*arg || strchr(arg, '/') || strlen(arg) > 64)
		argp_error(state, "'%s' is not a PCI address (DDDD:BB:DD.F)", arg);
	o->devices[o->ndevices++] = arg;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct doctor_opts *o = state->input;

	switch (key) {
	case OPT_ROOT: o->root = arg; return 0;
	case OPT_DMESG: o->dmesg = arg; return 0;
	case OPT_DEVICE: add_device(state, o, arg); return 0;
	case OPT_BUNDLE: o->bundle = arg; return 0;
	case OPT_TAP: o->tap_seconds = (unsigned int)arg_u64(state, "--tap", arg, 3600); return 0;
	case ARGP_KEY_ARG:
		if (o->bundle_verb && !o->bundle)
			o->bundle = arg;
		else
			add_device(state, o, arg);
		return 0;
	case ARGP_KEY_END:
		if (o->bundle_verb && !o->bundle)
			argp_error(state, "no FILE to write the bundle to");
		if (o->tap_seconds && !o->bundle)
			argp_error(state, "--tap needs --bundle");
		if (o->tap_seconds && o->root)
			argp_error(state, "--tap records this machine: not with --root");
		return 0;
	default: return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp_child children[] = { GLOBAL_CHILD, { 0 } };

static const struct argp doctor_argp = {
	.options = doctor_options,
	.parser = parse_opt,
	.args_doc = "[BDF...]",
	.doc = "Tell why this machine does or does not deliver device page faults to an iommufd fault fd: "
	       "the kernel, the IOMMUs, the DMA mode, each PCI device (or the BDFs named), the fault fd "
	       "holders, the tap and the kernel log, each check ok, warning or problem with its evidence "
	       "and what to do.\v"
	       "Read-only.  Exit status 0 when no check is a problem, 1 otherwise, 2 on errors.  "
	       "Config space beyond 64 bytes and the kernel log need root.",
	.children = children,
};

static const struct argp bundle_argp = {
	.options = bundle_options,
	.parser = parse_opt,
	.args_doc = "FILE [BDF...]",
	.doc = "Write one ustar archive for a ticket: the doctor report (text and JSON), every file it "
	       "read, the IOMMU and VFIO kernel log lines, ps, optionally a tap recording, and a MANIFEST "
	       "listing each member.\v"
	       "Extract it with tar; 'iopftool doctor --root iopf-bundle' reads it back.  "
	       "Exit status 0 when written, 2 on errors.",
	.children = children,
};

/* ---- the bundle --------------------------------------------------------- */

struct member {
	char *name;		/* below BUNDLE_DIR/ */
	enum iopf_doctor_input_type type;
	char *data;
	size_t len;
	const char *what;
};

struct bundle {
	struct member *m;
	size_t n, cap;
	char *omitted;		/* MANIFEST lines for what could not be stored */
	size_t omlen;
};

static int bundle_add(struct bundle *b, const char *name, enum iopf_doctor_input_type type, const char *data,
		      size_t len, const char *what)
{
	struct member *m;

	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct member *n = realloc(b->m, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		b->m = n;
		b->cap = cap;
	}
	m = &b->m[b->n];
	m->name = strdup(name);
	m->data = malloc(len + 1);
	if (!m->name || !m->data) {
		free(m->name);
		free(m->data);
		return -ENOMEM;
	}
	if (len)
		memcpy(m->data, data, len);
	m->data[len] = '\0';
	m->len = len;
	m->type = type;
	m->what = what;
	b->n++;
	return 0;
}

static void bundle_omit(struct bundle *b, const char *name, const char *why)
{
	char esc[1100], line[1300];
	size_t l;
	char *n;

	iopf_str_escape(name, esc, sizeof(esc));
	l = (size_t)snprintf(line, sizeof(line), "omitted  %s: %s\n", esc, why);
	if (l >= sizeof(line))
		l = sizeof(line) - 1;
	n = realloc(b->omitted, b->omlen + l + 1);
	if (!n)
		return;
	b->omitted = n;
	memcpy(b->omitted + b->omlen, line, l + 1);
	b->omlen += l;
}

static void bundle_free(struct bundle *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->m[i].name);
		free(b->m[i].data);
	}
	free(b->m);
	free(b->omitted);
}

/* The report as text or JSON, in memory. */
static char *report(const struct iopf_doctor *d, enum iopf_out_mode mode, size_t *len)
{
	char *s = NULL;
	FILE *f = open_memstream(&s, len);
	struct iopf_out *o;

	if (!f)
		return NULL;
	o = iopf_out_new(f, mode);
	if (o) {
		iopf_out_set_line(o, false);
		iopf_doctor_print(d, o);
		iopf_out_free(o);
	}
	if (fclose(f) || !o) {
		free(s);
		return NULL;
	}
	return s;
}

/* ps.txt: "PID FD KIND COMM TARGET" per fd, as doctor --root reads it back. */
static char *ps_text(size_t *len)
{
	struct iopf_proc_fd *l;
	size_t n;
	char *s = NULL;
	FILE *f = open_memstream(&s, len);

	if (!f)
		return NULL;
	fprintf(f, "# PID FD KIND COMM TARGET (iopftool ps --all, %s)\n",
		geteuid() ? "not root: only this user's processes" : "root");
	if (iopf_proc_scan(&l, &n, 0) == 0) {
		for (size_t i = 0; i < n; i++) {
			char comm[80], target[520];

			iopf_str_escape(l[i].comm, comm, sizeof(comm));
			iopf_str_escape(l[i].target, target, sizeof(target));
			fprintf(f, "%d %d %s %s %s\n", l[i].pid, l[i].fd,
				l[i].kind == IOPF_PROC_FAULT_FD ? "fault" :
				l[i].kind == IOPF_PROC_IOMMUFD ? "iommufd" : "vfio", comm, target);
		}
		free(l);
	} else {
		fprintf(f, "# /proc could not be listed\n");
	}
	if (fclose(f)) {
		free(s);
		return NULL;
	}
	return s;
}

/* A tap recording of secs seconds by this same binary (record --source tap); NULL and why on failure. */
static char *tap_record(unsigned int secs, size_t *len, char *why, size_t whylen)
{
	char dir[] = "/tmp/iopf-bundle-XXXXXX", pcap[64], errf[64], dur[32], self[PATH_MAX];
	char *data = NULL;
	pid_t pid;
	int st = 0;
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);

	*len = 0;
	if (sl <= 0 || !mkdtemp(dir)) {
		snprintf(why, whylen, "cannot prepare: %s", strerror(errno));
		return NULL;
	}
	self[sl] = '\0';
	snprintf(pcap, sizeof(pcap), "%s/tap.pcap", dir);
	snprintf(errf, sizeof(errf), "%s/err", dir);
	snprintf(dur, sizeof(dur), "%us", secs);
	pid = fork();
	if (pid == 0) {
		int fd = open(errf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (fd >= 0)
			dup2(fd, 2);
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
		}
		execl(self, "iopftool", "-q", "record", "--source", "tap", "-w", pcap, "--duration", dur,
		      (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0) {
		snprintf(why, whylen, "cannot run iopftool record: %s", strerror(errno));
	} else if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		char msg[300] = "";
		FILE *f = fopen(errf, "r");

		if (f) {
			if (!fgets(msg, sizeof(msg), f))
				msg[0] = '\0';
			fclose(f);
		}
		msg[strcspn(msg, "\n")] = '\0';
		snprintf(why, whylen, "iopftool record --source tap exited %d: %s",
			 WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), msg);
	} else {
		FILE *f = fopen(pcap, "rb");

		if (f) {
			char *s = NULL;
			FILE *m = open_memstream(&s, len);
			char buf[65536];
			size_t n;

			while (m && (n = fread(buf, 1, sizeof(buf), f)) > 0 && *len < (64u << 20))
				fwrite(buf, 1, n, m);
			fclose(f);
			if (m && !fclose(m))
				data = s;
			else
				free(s);
		}
		if (!data)
			snprintf(why, whylen, "the recording could not be read back");
	}
	unlink(pcap);
	unlink(errf);
	rmdir(dir);
	return data;
}

/* Does name lie below a link member (a path through a symlink when extracted)? */
static bool below_link(const struct bundle *b, const char *name)
{
	for (size_t i = 0; i < b->n; i++) {
		size_t l = strlen(b->m[i].name);

		if (b->m[i].type == IOPF_DOCTOR_LINK && !strncmp(name, b->m[i].name, l) && name[l] == '/')
			return true;
	}
	return false;
}

static int write_bundle(const struct doctor_opts *o, const struct iopf_doctor *d)
{
	struct bundle b = { 0 };
	struct iopf_tar *t = NULL;
	char *s, *manifest = NULL, full[400];
	size_t len, mlen = 0;
	time_t now = time(NULL);
	int fd, rc = 0;
	bool regular;
	struct stat st;
	FILE *mf;

	if ((s = report(d, IOPF_OUT_TEXT, &len))) {
		rc = bundle_add(&b, "report.txt", IOPF_DOCTOR_FILE, s, len, "iopftool doctor");
		free(s);
	}
	if (!rc && (s = report(d, IOPF_OUT_JSON, &len))) {
		rc = bundle_add(&b, "report.json", IOPF_DOCTOR_FILE, s, len, "iopftool -j doctor");
		free(s);
	}
	if (!rc && !o->root && (s = ps_text(&len))) {
		rc = bundle_add(&b, "ps.txt", IOPF_DOCTOR_FILE, s, len, "iopftool ps --all");
		free(s);
	}
	if (!rc) {
		const char *lines = iopf_doctor_dmesg_lines(d, &len);

		rc = bundle_add(&b, "dmesg", IOPF_DOCTOR_FILE, lines, len,
				"the kernel log lines of the IOMMU, iommufd and VFIO drivers");
	}
	if (!rc && o->tap_seconds) {
		char why[400];

		p_info("bundle: recording the tap for %u s", o->tap_seconds);
		s = tap_record(o->tap_seconds, &len, why, sizeof(why));
		if (s)
			rc = bundle_add(&b, "tap.pcap", IOPF_DOCTOR_FILE, s, len, "iopftool record --source tap");
		else
			bundle_omit(&b, "tap.pcap", why);
		free(s);
	}
	/* the inputs: links first, so that nothing is stored below one */
	for (int pass = 0; !rc && pass < 2; pass++)
		for (size_t i = 0; !rc && i < iopf_doctor_ninputs(d); i++) {
			const struct iopf_doctor_input *in = iopf_doctor_input(d, i);

			if ((in->type == IOPF_DOCTOR_LINK) != (pass == 0))
				continue;
			if (!strcmp(in->path, ".") || (!o->root && !strcmp(in->path, "ps.txt")))
				continue;
			if (below_link(&b, in->path)) {
				bundle_omit(&b, in->path, "below a symbolic link");
				continue;
			}
			rc = bundle_add(&b, in->path, in->type, in->data, in->len,
					in->type == IOPF_DOCTOR_LINK ? "link" : in->type == IOPF_DOCTOR_DIR ?
					"directory" : "input");
		}
	if (rc)
		goto oom;
	/* the MANIFEST: first member; a name ustar cannot hold is omitted, and said so */
	fd = open(o->bundle, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		p_err("%s: %s", o->bundle, strerror(errno));
		bundle_free(&b);
		return EXIT_ERROR;
	}
	regular = !fstat(fd, &st) && S_ISREG(st.st_mode);
	rc = iopf_tar_open(&t, fd);
	mf = rc ? NULL : open_memstream(&manifest, &mlen);
	if (!mf)
		goto oom_close;
	fprintf(mf, "# iopftool %s bundle, %s; every member below, nothing else.\n"
		"# Read it back: tar xf FILE && iopftool doctor --root %s\n"
		"# TYPE    SIZE NAME (escaped): WHAT\n",
		IOPF_VERSION, o->root ? "of a collected tree" : "of this machine", BUNDLE_DIR);
	for (size_t i = 0; i < b.n; i++) {
		char esc[1100];
		struct member *m = &b.m[i];
		int r;

		snprintf(full, sizeof(full), "%s/%s", BUNDLE_DIR, m->name);
		r = strlen(m->name) > 300 ? -ENAMETOOLONG : iopf_tar_check(full, m->type, m->data, m->len);
		if (r) {
			bundle_omit(&b, m->name, r == -EINVAL ? "not a safe name" : r == -EFBIG ? "too large" :
				    "name or link target too long for ustar");
			m->what = NULL;
			continue;
		}
		iopf_str_escape(m->name, esc, sizeof(esc));
		fprintf(mf, "%-7s %8zu %s: %s\n", m->type == IOPF_DOCTOR_LINK ? "link" :
			m->type == IOPF_DOCTOR_DIR ? "dir" : "file", m->type == IOPF_DOCTOR_FILE ? m->len : 0,
			esc, m->what);
	}
	if (fclose(mf))
		goto oom_close;
	rc = iopf_tar_add(t, BUNDLE_DIR, IOPF_DOCTOR_DIR, NULL, 0, now);
	for (size_t i = 0; !rc && i < b.n; i++) {
		struct member *m = &b.m[i];
		int r;

		if (!m->what)
			continue;
		snprintf(full, sizeof(full), "%s/%s", BUNDLE_DIR, m->name);
		r = iopf_tar_add(t, full, m->type, m->data, m->len, now);
		rc = r;
	}
	if (!rc) {
		size_t tl = mlen + b.omlen;
		char *all = malloc(tl + 1);

		if (!all)
			goto oom_close;
		memcpy(all, manifest, mlen);
		if (b.omlen)
			memcpy(all + mlen, b.omitted, b.omlen);
		rc = iopf_tar_add(t, BUNDLE_DIR "/MANIFEST", IOPF_DOCTOR_FILE, all, tl, now);
		free(all);
	}
	if (!rc)
		rc = iopf_tar_close(t);
	else
		free(t);
	t = NULL;
	if (close(fd) && !rc)
		rc = -errno;
	free(manifest);
	bundle_free(&b);
	if (rc) {
		/* half an archive is no archive: a ticket must not carry it (the full-disk rule) */
		bool gone = regular && !unlink(o->bundle);	/* never a device or a pipe */

		p_err("%s: %s%s", o->bundle, strerror(-rc), gone ? "; the partial archive is removed" : "");
		return EXIT_ERROR;
	}
	p_info("bundle: wrote %s (%s/MANIFEST lists its members)", o->bundle, BUNDLE_DIR);
	return EXIT_OK;
oom_close:
	free(t);
	close(fd);
	free(manifest);
oom:
	bundle_free(&b);
	p_err("out of memory");
	return EXIT_ERROR;
}

static int run(struct doctor_opts *o, const struct argp *argp, int argc, char **argv)
{
	struct iopf_doctor_cfg cfg = { 0 };
	struct iopf_doctor *d;
	char err[512];
	int rc, status;

	parse_verb(argp, argc, argv, o);
	if (o->bundle && output_is_input(o->bundle, (const char *const[]){ o->dmesg }, 1))
		return EXIT_ERROR;
	cfg.root = o->root;
	cfg.dmesg = o->dmesg;
	cfg.devices = o->devices;
	cfg.ndevices = o->ndevices;
	cfg.log = &tool_log;
	rc = iopf_doctor_run(&cfg, &d, err, sizeof(err));
	if (rc) {
		p_err("%s", err);
		return EXIT_ERROR;
	}
	status = iopf_doctor_worst(d) == IOPF_DOCTOR_PROBLEM ? EXIT_VIOLATIONS : EXIT_OK;
	if (!o->bundle_verb) {
		iopf_doctor_print(d, out_stdout());
		status = out_finish(status);
	}
	if (o->bundle) {
		int b = write_bundle(o, d);

		if (b)
			status = b;
		else if (o->bundle_verb)
			status = EXIT_OK;
	}
	iopf_doctor_free(d);
	return status;
}

int cmd_doctor(int argc, char **argv)
{
	struct doctor_opts o = { 0 };

	return run(&o, &doctor_argp, argc, argv);
}

int cmd_bundle(int argc, char **argv)
{
	struct doctor_opts o = { .bundle_verb = true };

	return run(&o, &bundle_argp, argc, argv);
}
