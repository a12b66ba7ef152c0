// SPDX-License-Identifier: MIT
/*
 * Flow control (IOPF_WINDOW_GROUPS, lib/iopf.h): an injector that outruns
 * its handler keeps at most a window of groups in flight, so memory is
 * bounded by the window and not by the capture, and nothing is lost.
 *  - iopf_session_in_flight() arithmetic on the sim queue;
 *  - a top-speed replay of many groups into a handler process that holds
 *    its answers until it has a whole window: the queue model's groups in
 *    flight (pending + outstanding) never exceed the window, and it is
 *    reached (so the bound was exercised), and every group is answered;
 *  - the same through the handler file (lib/fusefd.c), where it can be made;
 *  - a handler process that answers nothing: the window's groups are
 *    written off after --timeout, the replay goes on and ends;
 *  - the same with an in-process handler that answers late (a slow
 *    callback): the queue's pending groups stay bounded by the batch.
 * No timing is asserted: the bounds hold however fast the machine is.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"	/* the sim target's queue model: t->priv */
#include "tap.h"

#define W		IOPF_WINDOW_GROUPS
#define NGROUPS		(3 * W + 123)
#define BATCH		64	/* lib/replay.c TOPSPEED_BATCH */
#define LATE		100	/* the slow callback answers a group LATE groups later */

static char path[64];

/* A time limit, scaled for slow runs (valgrind: tests/run.sh sets IOPF_TIMEOUT_SCALE). */
static uint64_t scaled(uint64_t ns)
{
	const char *k = getenv("IOPF_TIMEOUT_SCALE");
	long n = k ? atol(k) : 1;

	return ns * (uint64_t)(n > 0 ? n : 1);
}

static struct iopf_target *sim(void)
{
	struct iopf_target *t;
	char err[256];

	if (iopf_target_open(&t, "sim", NULL, err, sizeof(err)))
		abort();
	return t;
}

/* NGROUPS single-record groups, 1 us apart, each answered in the capture. */
static void make_capture(void)
{
	struct iopf_writer *w;
	char err[256];
	int fd;

	snprintf(path, sizeof(path), "/tmp/test-window.XXXXXX");
	fd = mkstemp(path);
	close(fd);
	if (iopf_writer_open(&w, path, IOPF_LINKTYPE_DEFAULT, err, sizeof(err)))
		abort();
	for (uint32_t k = 0; k < NGROUPS; k++) {
		struct iopf_rec r = { .type = IOPF_REC_FAULT, .queue_id = 1 };

		r.ts.tv_sec = 1767225600;
		r.ts.tv_nsec = (long)k * 1000;
		r.u.fault = (struct iommu_hwpt_pgfault){ .dev_id = 1 + k % 2, .grpid = k % 512,
							 .cookie = k + 1, .addr = 0x1000ull * k,
							 .perm = IOMMU_PGFAULT_PERM_READ,
							 .flags = IOMMU_PGFAULT_FLAGS_LAST_PAGE };
		if (iopf_writer_put(w, &r))
			abort();
		r.type = IOPF_REC_RESPONSE;
		r.u.resp = (struct iommu_hwpt_page_response){ .cookie = k + 1 };
		if (iopf_writer_put(w, &r))
			abort();
	}
	if (iopf_writer_close(w))
		abort();
}

static void test_in_flight(void)
{
	struct iopf_target *t = sim();
	struct iopf_session *s;
	struct iommu_hwpt_pgfault f = { .dev_id = 1, .flags = IOMMU_PGFAULT_FLAGS_LAST_PAGE };
	uint32_t live;
	int rc = iopf_session_new(&s, t, NULL);

	is(rc, 0, "a session on sim");
	iopf_target_device(t, 1, &live);
	for (uint32_t i = 0; i < 10; i++) {
		f.grpid = i;
		iopf_target_inject(t, &f);
	}
	is(iopf_session_in_flight(s, 10), 10, "10 injected, none read: 10 in flight");
	ok(!iopf_session_window_full(s, 10, 0), "below the default window");
	ok(iopf_session_window_full(s, 10, 10), "a window of 10 is full");
	is(iopf_session_drain(s, NULL, NULL), 10, "read all 10");
	is(iopf_session_in_flight(s, 10), 10, "read, unanswered: still 10 in flight");
	iopf_session_queue(s, 1, IOMMUFD_PAGE_RESP_SUCCESS);
	iopf_session_queue(s, 2, IOMMUFD_PAGE_RESP_SUCCESS);
	iopf_session_queue(s, 999, IOMMUFD_PAGE_RESP_SUCCESS);	/* refused: answers nothing */
	is(iopf_session_flush(s), 0, "three responses written");
	is(iopf_session_in_flight(s, 10), 8, "two accepted answers: 8 in flight");
	ok(!iopf_session_window_full(s, 10, 9), "a window of 9 has room again");
	iopf_session_free(s);
	iopf_target_close(t);
}

/* Seen from the progress callback after every capture record. */
struct watch {
	struct iopf_target *t;
	uint64_t max_flight, max_pending;
};

static void watch(void *ctx, uint64_t injected, uint64_t pos, uint64_t size)
{
	struct watch *w = ctx;
	struct iopf_queue_counts c;

	(void)injected;
	(void)pos;
	(void)size;
	iopf_queue_counts(w->t->priv, &c);
	if (c.pending_groups + c.outstanding_groups > w->max_flight)
		w->max_flight = c.pending_groups + c.outstanding_groups;
	if (c.pending_groups > w->max_pending)
		w->max_pending = c.pending_groups;
}

static int replay(struct iopf_replay_cfg *cfg, struct watch *w, struct iopf_report *rep)
{
	struct iopf_replay *rp;
	int rc;

	w->t = sim();
	cfg->progress = watch;
	cfg->progress_ctx = w;
	rc = iopf_replay_new(&rp, w->t, cfg);
	if (!rc) {
		rc = iopf_replay_run(rp, path, rep);
		rep->dev_capture = rep->dev_live = NULL;
		iopf_replay_free(rp);
	}
	iopf_target_close(w->t);
	return rc;
}

/*
 * A handler process that answers nothing until it holds a whole window
 * of groups (taking its time over them), then answers those, then each
 * group as it comes: without backpressure the injector would have most of
 * the capture in flight by then; with it, it stops at the window and
 * waits.  (Only the failure without backpressure depends on the speed.)
 */
static void hoarder(int fd)
{
	static uint32_t held[W];
	struct iommu_hwpt_pgfault f[64];
	size_t nheld = 0;
	bool hoarding = true;
	ssize_t n;

	while ((n = recv(fd, f, sizeof(f), 0)) > 0) {
		struct iommu_hwpt_page_response r = { f[n / 40 - 1].cookie, 0 };

		if (hoarding) {
			usleep(20);	/* slow: without backpressure the injector runs far ahead */
			held[nheld++] = r.cookie;
			if (nheld < W)
				continue;
			hoarding = false;
			for (size_t i = 0; i < nheld; i++) {
				r.cookie = held[i];
				if (send(fd, &r, sizeof(r), 0) != sizeof(r))
					_exit(1);
			}
			continue;
		}
		if (send(fd, &r, sizeof(r), 0) != sizeof(r))
			_exit(1);
	}
	_exit(0);
}

/* A handler process running body on its end of a socket; *ours is the replay's end. */
static pid_t start_peer(void (*body)(int fd), int *ours)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv))
		abort();
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		body(sv[1]);
	}
	close(sv[1]);
	*ours = sv[0];
	return pid;
}

static void test_peer_window(void)
{
	struct iopf_replay_cfg cfg = { .schedule = IOPF_REPLAY_TOPSPEED, .handler = IOPF_REPLAY_PEER,
				       .timeout_ns = scaled(4000000000ull) };
	struct watch w = { 0 };
	struct iopf_report rep;
	int status;
	pid_t pid = start_peer(hoarder, &cfg.peer_fd);
	is(replay(&cfg, &w, &rep), 0, "peer: a top-speed replay of %d groups", NGROUPS);
	ok(w.max_flight <= W, "peer: groups in flight never above the window (at most %llu of %d)",
	   (unsigned long long)w.max_flight, W);
	ok(w.max_flight >= W - 1, "peer: the window filled (%llu): the bound was exercised",
	   (unsigned long long)w.max_flight);
	ok(rep.groups == NGROUPS && rep.v[IOPF_OK] == NGROUPS && rep.ok,
	   "peer: no loss: %llu groups, %llu answered ok", (unsigned long long)rep.groups,
	   (unsigned long long)rep.v[IOPF_OK]);
	ok(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status),
	   "the handler exited 0");
}

/*
 * The same hoarder through the handler file (lib/fusefd.c, the default
 * handler fd on sim): it reads the fault fd as a kernel fault fd, whole
 * groups (single records here), and writes 8-byte responses.
 */
static void hoarder_file(int fd)
{
	static uint32_t held[W];
	static struct iommu_hwpt_pgfault f[W];
	static struct iommu_hwpt_page_response r[W];
	size_t nheld = 0;
	bool hoarding = true;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		size_t k = 0;

		if (poll(&p, 1, -1) < 0)
			_exit(1);
		n = read(fd, f, (hoarding ? W - nheld : W) * sizeof(f[0]));
		if (n < 0)
			_exit(errno == ENOTCONN || errno == ENODEV ? 0 : 1);
		for (size_t i = 0; i < (size_t)n / sizeof(f[0]); i++) {
			if (hoarding) {
				usleep(20);
				held[nheld++] = f[i].cookie;
				continue;
			}
			r[k++] = (struct iommu_hwpt_page_response){ .cookie = f[i].cookie };
		}
		if (hoarding && nheld == W) {
			hoarding = false;
			for (size_t i = 0; i < nheld; i++)
				r[k++] = (struct iommu_hwpt_page_response){ .cookie = held[i] };
		}
		if (k && write(fd, r, k * sizeof(r[0])) != (ssize_t)(k * sizeof(r[0])))
			_exit(1);
	}
}

static void end_child(void *ctx)
{
	kill(*(pid_t *)ctx, SIGTERM);
}

static void test_file_window(void)
{
	pid_t pid = -1;
	struct iopf_replay_cfg cfg = { .schedule = IOPF_REPLAY_TOPSPEED, .handler = IOPF_REPLAY_PEER,
				       .timeout_ns = scaled(4000000000ull), .peer_fd = -1,
				       .handler_end = end_child, .handler_end_ctx = &pid };
	struct watch w = { 0 };
	struct iopf_report rep;
	struct iopf_replay *rp;
	char why[256];
	int fd, rc, status;

	w.t = sim();
	cfg.progress = watch;
	cfg.progress_ctx = &w;
	if (iopf_replay_new(&rp, w.t, &cfg))
		abort();
	rc = iopf_replay_handler_open(rp, IOPF_HFD_FILE, &fd, why, sizeof(why));
	if (rc < 0) {
		ok(1, "# skip no handler file on this machine: %s", why);
		iopf_replay_free(rp);
		iopf_target_close(w.t);
		return;
	}
	pid = fork();
	if (pid == 0)
		hoarder_file(fd);
	close(fd);
	rc = iopf_replay_run(rp, path, &rep);
	rep.dev_capture = rep.dev_live = NULL;
	iopf_replay_free(rp);
	iopf_target_close(w.t);
	is(rc, 0, "file: a top-speed replay of %d groups", NGROUPS);
	ok(w.max_flight <= W, "file: groups in flight never above the window (at most %llu of %d)",
	   (unsigned long long)w.max_flight, W);
	ok(w.max_flight >= W - 1, "file: the window filled (%llu)", (unsigned long long)w.max_flight);
	ok(rep.groups == NGROUPS && rep.v[IOPF_OK] == NGROUPS && rep.ok,
	   "file: no loss: %llu groups, %llu answered ok", (unsigned long long)rep.groups,
	   (unsigned long long)rep.v[IOPF_OK]);
	ok(waitpid(pid, &status, 0) == pid, "the handler was ended");
}

/* A handler process that reads every group and answers none. */
static void silent(int fd)
{
	struct iommu_hwpt_pgfault f[64];

	while (recv(fd, f, sizeof(f), 0) > 0)
		;
	_exit(0);
}

static void test_silent_peer(void)
{
	struct iopf_replay_cfg cfg = { .schedule = IOPF_REPLAY_TOPSPEED, .handler = IOPF_REPLAY_PEER,
				       .timeout_ns = scaled(50000000ull) };
	struct watch w = { 0 };
	struct iopf_report rep;
	int status;
	pid_t pid = start_peer(silent, &cfg.peer_fd);
	is(replay(&cfg, &w, &rep), 0, "silent peer: the replay does not stall on a full window");
	ok(rep.groups == NGROUPS && rep.v[IOPF_V_UNANSWERED] == NGROUPS && !rep.ok,
	   "silent peer: every group injected and reported unanswered (%llu of %d)",
	   (unsigned long long)rep.v[IOPF_V_UNANSWERED], NGROUPS);
	ok(waitpid(pid, &status, 0) == pid && WIFEXITED(status), "the handler exited");
}

/* A slow in-process handler: each group's answer comes LATE groups later. */
struct late {
	uint32_t ring[LATE];
	size_t n;
};

static int answer_late(void *ctx, const struct iopf_group *g, struct iommu_hwpt_page_response *out,
		       size_t cap)
{
	struct late *l = ctx;
	size_t slot = l->n++ % LATE;
	int k = 0;

	(void)cap;
	if (l->n > LATE)
		out[k++] = (struct iommu_hwpt_page_response){ .cookie = l->ring[slot] };
	l->ring[slot] = g->cookie;
	return k;
}

static void test_callback_window(void)
{
	struct late l = { .n = 0 };
	struct iopf_replay_cfg cfg = { .schedule = IOPF_REPLAY_TOPSPEED, .handler = IOPF_REPLAY_CALLBACK,
				       .fn = answer_late, .fn_ctx = &l };
	struct watch w = { 0 };
	struct iopf_report rep;

	is(replay(&cfg, &w, &rep), 0, "callback: a top-speed replay of %d groups", NGROUPS);
	ok(w.max_pending <= BATCH, "callback: at most %d groups wait in the queue (%llu)", BATCH,
	   (unsigned long long)w.max_pending);
	ok(w.max_flight <= BATCH + LATE, "callback: in flight bounded by the handler's lateness (%llu)",
	   (unsigned long long)w.max_flight);
	ok(rep.groups == NGROUPS && rep.v[IOPF_OK] == NGROUPS - LATE &&
	   rep.v[IOPF_V_UNANSWERED] == LATE,
	   "callback: every group read; the last %d never answered (ok %llu, unanswered %llu)", LATE,
	   (unsigned long long)rep.v[IOPF_OK], (unsigned long long)rep.v[IOPF_V_UNANSWERED]);
}

/*
 * A paced replay that cannot keep up (--rate 1e9: every group is late)
 * serves the queue once a batch, as top speed does: the queue's pending
 * groups stay within the batch, and every group is answered.
 */
static void test_paced_late(void)
{
	struct iopf_replay_cfg cfg = { .schedule = IOPF_REPLAY_RATE, .rate = 1e9,
				       .handler = IOPF_REPLAY_SUCCESS };
	struct watch w = { 0 };
	struct iopf_report rep;

	is(replay(&cfg, &w, &rep), 0, "late paced replay: runs");
	ok(w.max_pending <= BATCH, "late paced replay: at most %d groups wait in the queue (%llu)",
	   BATCH, (unsigned long long)w.max_pending);
	ok(rep.groups == NGROUPS && rep.v[IOPF_OK] == NGROUPS && rep.ok,
	   "late paced replay: every group answered (%llu)", (unsigned long long)rep.v[IOPF_OK]);
}

int main(void)
{
	make_capture();
	test_in_flight();
	test_peer_window();
	test_silent_peer();
	test_file_window();
	test_callback_window();
	test_paced_late();
	unlink(path);
	return tap_done();
}
