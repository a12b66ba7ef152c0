// SPDX-License-Identifier: MIT
/*
 * The rotating capture writer (record -C, -G, -W, SIGHUP): file names as
 * tcpdump makes them, every file a whole capture with its own META end
 * counts, groups never split, totals kept, -W's wrap, -G -W's stop, the
 * logrotate reopen, and a write cut by a file size limit left whole.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iopf.h"
#include "internal.h"	/* what only libiopf and its tests use */
#include "tap.h"

static char dir[] = "/tmp/iopf-rotate-XXXXXX";

struct file_sum {
	uint64_t records, faults, responses, meta;
	uint64_t end_faults, end_groups, end_responses;
	uint64_t file_seq;
	bool complete, torn, split_group;
	char source[64];
};

static uint64_t meta_u64(const struct iopf_rec *r, const char *key)
{
	char v[64];

	return iopf_meta_get(r, key, v, sizeof(v)) ? strtoull(v, NULL, 10) : UINT64_MAX;
}

/* Read one file back; false when it cannot be opened. */
static bool sum_file(const char *path, struct file_sum *s)
{
	struct iopf_reader *rd;
	struct iopf_rec r;
	char err[512], v[64];
	bool in_group = false;
	int rc;

	memset(s, 0, sizeof(*s));
	if (iopf_reader_open(&rd, path, err, sizeof(err)))
		return false;
	while ((rc = iopf_reader_next(rd, &r)) == 1) {
		s->records++;
		if (r.type == IOPF_REC_FAULT) {
			s->faults++;
			in_group = !(r.u.fault.flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE);
		} else if (r.type == IOPF_REC_RESPONSE) {
			s->responses++;
		} else if (r.type == IOPF_REC_META) {
			s->meta++;
			if (iopf_meta_get(&r, "end", v, sizeof(v))) {
				s->complete = true;
				s->end_faults = meta_u64(&r, "faults");
				s->end_groups = meta_u64(&r, "groups");
				s->end_responses = meta_u64(&r, "responses");
			} else {
				s->file_seq = meta_u64(&r, "file_seq");
				iopf_meta_get(&r, "source", s->source, sizeof(s->source));
			}
		}
	}
	s->split_group = in_group;
	s->torn = iopf_reader_torn(rd) != NULL || rc < 0;
	iopf_reader_free(rd);
	return true;
}

struct run {
	struct iopf_writer *w;
	struct iopf_capture_counts c;
	uint32_t cookie;
	int rotations;
	bool manual;		/* the test switches files itself */
};

/* One group of n faults and its response, switching files first when due. */
static int group(struct run *run, uint32_t n)
{
	struct iopf_rec r = { .type = IOPF_REC_FAULT };
	char err[512];
	int rc = 0;

	if (!run->manual && iopf_writer_rotate_due(run->w, iopf_time_now())) {
		rc = iopf_writer_rotate(run->w, &run->c, err, sizeof(err));
		run->rotations += rc == 0;
		if (rc < 0)
			return rc;
	}
	run->cookie++;
	for (uint32_t i = 0; i < n; i++) {
		r.u.fault = (struct iommu_hwpt_pgfault){ .dev_id = 1, .cookie = run->cookie,
			.flags = i + 1 == n ? IOMMU_PGFAULT_FLAGS_LAST_PAGE : 0, .addr = 0x1000u * i };
		if (iopf_writer_put(run->w, &r))
			return -EIO;
		run->c.faults++;
	}
	run->c.groups++;
	r = (struct iopf_rec){ .type = IOPF_REC_RESPONSE, .u.resp = { .cookie = run->cookie } };
	if (iopf_writer_put(run->w, &r))
		return -EIO;
	run->c.responses++;
	return rc;
}

static void by_size(void)
{
	struct iopf_rotate_cfg rot = { .size = 2000 };
	struct run run = { 0 };
	struct file_sum s, tot = { 0 };
	char path[256], err[512];
	uint64_t files;
	bool all_complete = true, none_split = true, seq_ok = true, counts_ok = true;

	snprintf(path, sizeof(path), "%s/size.pcap", dir);
	if (!ok(iopf_writer_open_rotating(&run.w, path, IOPF_LINKTYPE_DEFAULT, &rot, err,
					  sizeof(err)) == 0, "open -C 2000"))
		return;
	ok(iopf_writer_meta_start(run.w, NULL, "sim", "6.12.0", NULL) == 0, "META start");
	for (int g = 0; g < 100; g++)
		group(&run, 1 + (uint32_t)g % 7);
	ok(iopf_writer_end(run.w, NULL, &run.c) == 0, "META end");
	files = iopf_writer_files(run.w);
	ok(iopf_writer_close(run.w) == 0, "close");
	ok(files > 5, "%llu files", (unsigned long long)files);
	is(run.rotations + 1, files, "one file per switch, and the first");
	for (uint64_t i = 0; i < files; i++) {
		char p[300];
		struct stat st;

		if (i)
			snprintf(p, sizeof(p), "%s%llu", path, (unsigned long long)i);
		else
			snprintf(p, sizeof(p), "%s", path);
		if (!ok(sum_file(p, &s), "%s readable", p))
			return;
		all_complete &= s.complete && !s.torn && !strcmp(s.source, "sim");
		none_split &= !s.split_group;
		seq_ok &= s.file_seq == i;
		counts_ok &= s.end_faults == s.faults && s.end_responses == s.responses;
		/* a switch happens before the group that would pass the size: at most one group over */
		if (i + 1 < files && !stat(p, &st))
			counts_ok &= (uint64_t)st.st_size >= rot.size &&
				     (uint64_t)st.st_size < rot.size + 8 * 100;
		tot.faults += s.faults;
		tot.responses += s.responses;
		tot.end_groups += s.end_groups;
	}
	ok(all_complete, "every file: META start with the source, META end, nothing torn");
	ok(none_split, "no group split across files");
	ok(seq_ok, "file_seq= numbers the files from 0");
	ok(counts_ok, "each META end has the file's own counts; files are SIZE and up to a group more");
	is(tot.faults, run.c.faults, "faults over all files = the run's");
	is(tot.responses, run.c.responses, "responses over all files = the run's");
	is(tot.end_groups, run.c.groups, "META end groups over all files = the run's");
}

static void wrap(void)
{
	struct iopf_rotate_cfg rot = { .size = 500, .count = 3 };
	struct run run = { 0 };
	struct file_sum s[3];
	char path[256], p[300], err[512];
	uint64_t files;

	snprintf(path, sizeof(path), "%s/wrap.pcap", dir);
	if (!ok(iopf_writer_open_rotating(&run.w, path, IOPF_LINKTYPE_DEFAULT, &rot, err,
					  sizeof(err)) == 0, "open -C 500 -W 3"))
		return;
	ok(!strcmp(iopf_writer_path(run.w), strcat(strcpy(p, path), "0")), "first file: NAME0 (%s)",
	   iopf_writer_path(run.w));
	iopf_writer_meta_start(run.w, NULL, "sim", NULL, NULL);
	for (int g = 0; g < 40; g++)
		group(&run, 2);
	iopf_writer_end(run.w, NULL, &run.c);
	files = iopf_writer_files(run.w);
	iopf_writer_close(run.w);
	ok(files > 4, "%llu files made", (unsigned long long)files);
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%d", path, i);
		ok(sum_file(p, &s[i]) && s[i].complete, "%s complete", p);
	}
	snprintf(p, sizeof(p), "%s3", path);
	ok(access(p, F_OK) != 0, "no fourth name: at most COUNT files");
	snprintf(p, sizeof(p), "%s", path);
	ok(access(p, F_OK) != 0, "no unnumbered file with -W");
	/* what is left: the last three files, the oldest removed */
	uint64_t newest = files - 1;
	bool last3 = true;

	for (int i = 0; i < 3; i++)
		last3 &= s[i].file_seq + 3 > newest && s[i].file_seq % 3 == (uint64_t)i;
	ok(last3, "the three files left are the newest three (file_seq %llu %llu %llu of %llu)",
	   (unsigned long long)s[0].file_seq, (unsigned long long)s[1].file_seq,
	   (unsigned long long)s[2].file_seq, (unsigned long long)newest);
}

static void by_time(void)
{
	struct iopf_rotate_cfg rot = { .interval_ns = 1, .count = 2 };
	struct run run = { .manual = true };
	struct file_sum s;
	char path[256], p[300], err[512];
	int rc;

	/* a coarse strftime pattern: the second file must not overwrite the first */
	snprintf(path, sizeof(path), "%s/t-%%Y.pcap", dir);
	if (!ok(iopf_writer_open_rotating(&run.w, path, IOPF_LINKTYPE_DEFAULT, &rot, err,
					  sizeof(err)) == 0, "open -G -W 2"))
		return;
	ok(strchr(iopf_writer_path(run.w), '%') == NULL, "strftime made the name: %s",
	   iopf_writer_path(run.w));
	snprintf(p, sizeof(p), "%s", iopf_writer_path(run.w));
	iopf_writer_meta_start(run.w, NULL, "sim", NULL, NULL);
	group(&run, 1);
	ok(iopf_writer_rotate_due(run.w, iopf_time_now()), "due after the interval");
	is(iopf_writer_rotate(run.w, &run.c, err, sizeof(err)), 0, "second file");
	ok(!strcmp(iopf_writer_path(run.w), strcat(p, ".1")), "same strftime name: .1 added (%s)",
	   iopf_writer_path(run.w));
	group(&run, 1);
	rc = iopf_writer_rotate(run.w, &run.c, err, sizeof(err));
	is(rc, 1, "-G -W 2: after two files, the caller stops");
	iopf_writer_end(run.w, NULL, &run.c);
	iopf_writer_close(run.w);
	ok(sum_file(p, &s) && s.complete && s.end_groups == 1, "the last file complete, its own count");
}

static void hup(void)
{
	struct run run = { 0 };
	struct file_sum a, b;
	char path[256], moved[300], err[512];

	snprintf(path, sizeof(path), "%s/hup.pcap", dir);
	if (!ok(iopf_writer_open_rotating(&run.w, path, IOPF_LINKTYPE_DEFAULT, NULL, err,
					  sizeof(err)) == 0, "open, no rotation"))
		return;
	iopf_writer_meta_start(run.w, NULL, "sim", NULL, NULL);
	group(&run, 3);
	ok(!iopf_writer_rotate_due(run.w, iopf_time_now()), "no rotation: never due by itself");
	/* logrotate: rename, then SIGHUP */
	snprintf(moved, sizeof(moved), "%s.1", path);
	rename(path, moved);
	iopf_writer_request_rotate(run.w);
	ok(iopf_writer_rotate_due(run.w, iopf_time_now()), "due when asked");
	group(&run, 2);
	iopf_writer_end(run.w, NULL, &run.c);
	iopf_writer_close(run.w);
	ok(sum_file(moved, &a) && a.complete && a.faults == 3 && a.end_faults == 3,
	   "the moved file: complete, its 3 faults");
	ok(sum_file(path, &b) && b.complete && b.faults == 2 && b.end_faults == 2 && b.file_seq == 1,
	   "the name reopened: a whole capture of the rest");
}

/* A file size limit cuts a write: the file is left at its last whole record. */
static void size_limit(void)
{
	struct iopf_writer *w;
	struct rlimit old, lim = { 10000, 10000 };
	struct iopf_rec r = { .type = IOPF_REC_FAULT };
	struct file_sum s;
	char path[256], err[512];
	int rc = 0;

	snprintf(path, sizeof(path), "%s/limit.pcap", dir);
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	lim.rlim_max = old.rlim_max;
	if (!ok(setrlimit(RLIMIT_FSIZE, &lim) == 0, "RLIMIT_FSIZE 10000"))
		return;
	if (iopf_writer_open(&w, path, IOPF_LINKTYPE_DEFAULT, err, sizeof(err)) == 0) {
		iopf_writer_meta_start(w, NULL, "sim", NULL, NULL);
		for (int i = 0; i < 1000 && !rc; i++) {
			r.u.fault.flags = IOMMU_PGFAULT_FLAGS_LAST_PAGE;
			rc = iopf_writer_put(w, &r);
			if (!rc && i % 50 == 49)
				rc = iopf_writer_flush(w);
		}
		is(rc, -EFBIG, "the write error reaches the caller");
		ok(iopf_writer_close(w) != 0, "close reports it too");
	}
	setrlimit(RLIMIT_FSIZE, &old);
	ok(sum_file(path, &s) && !s.torn && !s.complete && s.faults > 0,
	   "cut short at a whole record, not torn (%llu faults)", (unsigned long long)s.faults);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	by_size();
	wrap();
	by_time();
	hup();
	size_limit();
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd))
			ok(0, "clean up %s", dir);
	}
	return tap_done();
}
