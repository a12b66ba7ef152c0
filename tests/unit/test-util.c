// SPDX-License-Identifier: MIT
/* Small helpers: duration and number parsing, time stamps, logging. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iopf.h"
#include "internal.h"
#include "tap.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct dur_case {
	const char *s;
	int err;
	uint64_t ns;
};

static const struct dur_case dur_cases[] = {
	{ "250ns", 0, 250 },
	{ "0ns", 0, 0 },
	{ "0s", 0, 0 },
	{ "10us", 0, 10000 },
	{ "2ms", 0, 2000000 },
	{ "1.5s", 0, 1500000000 },
	{ "1s", 0, 1000000000 },
	{ "3m", 0, 180000000000ull },
	{ "0.5m", 0, 30000000000ull },
	{ ".25s", 0, 250000000 },
	{ "1.000000001s", 0, 1000000001 },
	{ "1.0000000019s", 0, 1000000001 },	/* truncated to whole ns */
	{ "1.5ns", 0, 1 },
	{ "0.0000000001m", 0, 6 },
	{ "2.5us", 0, 2500 },
	{ "007ms", 0, 7000000 },
	{ "18446744073709551615ns", 0, UINT64_MAX },
	{ "18446744073.709551615s", 0, UINT64_MAX },
	{ "18446744073709551616ns", -ERANGE, 0 },
	{ "18446744074s", -ERANGE, 0 },
	{ "18446744073.709551616s", -ERANGE, 0 },
	{ "307445734561m", -ERANGE, 0 },
	{ "123456789012345678901ns", -ERANGE, 0 },
	{ "", -EINVAL, 0 },
	{ "10", -EINVAL, 0 },		/* no unit */
	{ "1.5", -EINVAL, 0 },
	{ "s", -EINVAL, 0 },
	{ ".s", -EINVAL, 0 },
	{ "1.s", -EINVAL, 0 },
	{ "-1s", -EINVAL, 0 },
	{ "+1s", -EINVAL, 0 },
	{ " 1s", -EINVAL, 0 },
	{ "1 s", -EINVAL, 0 },
	{ "1s ", -EINVAL, 0 },
	{ "1sec", -EINVAL, 0 },
	{ "1h", -EINVAL, 0 },
	{ "1S", -EINVAL, 0 },
	{ "1.2.3s", -EINVAL, 0 },
	{ "0x10s", -EINVAL, 0 },
	{ "1e3ns", -EINVAL, 0 },
	{ "1msx", -EINVAL, 0 },
};

static void test_duration(void)
{
	const struct dur_case *c;
	uint64_t ns;
	size_t i;
	int err;

	for (i = 0; i < ARRAY_SIZE(dur_cases); i++) {
		c = &dur_cases[i];
		ns = 12345;
		err = iopf_duration_parse(c->s, &ns);
		if (c->err)
			ok(err == c->err && ns == 12345, "duration \"%s\" is %s, *ns untouched", c->s,
			   c->err == -EINVAL ? "-EINVAL" : "-ERANGE");
		else if (!ok(!err && ns == c->ns, "duration \"%s\" = %llu ns", c->s,
			     (unsigned long long)c->ns))
			printf("#   err %d ns %llu\n", err, (unsigned long long)ns);
	}
	is(iopf_duration_parse(NULL, &ns), -EINVAL, "duration NULL is -EINVAL");
}

struct u64_case {
	const char *s;
	uint64_t max;
	int err;
	uint64_t v;
};

static const struct u64_case u64_cases[] = {
	{ "0", UINT64_MAX, 0, 0 },
	{ "42", UINT64_MAX, 0, 42 },
	{ "0x10", UINT64_MAX, 0, 16 },
	{ "0X1f", UINT64_MAX, 0, 31 },
	{ "010", UINT64_MAX, 0, 8 },
	{ "18446744073709551615", UINT64_MAX, 0, UINT64_MAX },
	{ "0xffffffffffffffff", UINT64_MAX, 0, UINT64_MAX },
	{ "4294967295", UINT32_MAX, 0, UINT32_MAX },
	{ "4294967296", UINT32_MAX, -ERANGE, 0 },
	{ "18446744073709551616", UINT64_MAX, -ERANGE, 0 },
	{ "99999999999999999999999", UINT64_MAX, -ERANGE, 0 },
	{ "65", 64, -ERANGE, 0 },
	{ "", UINT64_MAX, -EINVAL, 0 },
	{ "-1", UINT64_MAX, -EINVAL, 0 },
	{ "+1", UINT64_MAX, -EINVAL, 0 },
	{ " 1", UINT64_MAX, -EINVAL, 0 },
	{ "1 ", UINT64_MAX, -EINVAL, 0 },
	{ "1x", UINT64_MAX, -EINVAL, 0 },
	{ "0x", UINT64_MAX, -EINVAL, 0 },
	{ "08", UINT64_MAX, -EINVAL, 0 },
	{ "1.0", UINT64_MAX, -EINVAL, 0 },
	{ "abc", UINT64_MAX, -EINVAL, 0 },
};

static void test_u64(void)
{
	const struct u64_case *c;
	uint64_t v;
	size_t i;
	int err;

	for (i = 0; i < ARRAY_SIZE(u64_cases); i++) {
		c = &u64_cases[i];
		v = 777;
		err = iopf_u64_parse(c->s, c->max, &v);
		if (c->err)
			ok(err == c->err && v == 777, "u64 \"%s\" (max %llu) is %s", c->s,
			   (unsigned long long)c->max, c->err == -EINVAL ? "-EINVAL" : "-ERANGE");
		else if (!ok(!err && v == c->v, "u64 \"%s\" = %llu", c->s, (unsigned long long)c->v))
			printf("#   err %d v %llu\n", err, (unsigned long long)v);
	}
	is(iopf_u64_parse(NULL, 1, &v), -EINVAL, "u64 NULL is -EINVAL");
}

static void test_time(void)
{
	struct timespec ts = { .tv_sec = 1795400460, .tv_nsec = 123456789 };
	char buf[64], small[12];

	iopf_time_format(&ts, buf, sizeof(buf));
	ok(!strcmp(buf, "2026-11-23T02:21:00.123456789Z"), "time: %s", buf);
	ts = (struct timespec){ .tv_sec = 951782400, .tv_nsec = 5 };
	iopf_time_format(&ts, buf, sizeof(buf));
	ok(!strcmp(buf, "2000-02-29T00:00:00.000000005Z"), "time: leap day, 9 digits: %s", buf);
	ts = (struct timespec){ 0, 0 };
	iopf_time_format(&ts, buf, sizeof(buf));
	ok(!strcmp(buf, "1970-01-01T00:00:00.000000000Z"), "time: epoch: %s", buf);
	ts = (struct timespec){ -1, 999999999 };
	iopf_time_format(&ts, buf, sizeof(buf));
	ok(!strcmp(buf, "1969-12-31T23:59:59.999999999Z"), "time: before the epoch: %s", buf);
	memset(small, 'x', sizeof(small));
	ts = (struct timespec){ 1795400460, 1 };
	iopf_time_format(&ts, small, sizeof(small) - 1);
	ok(!strcmp(small, "2026-11-23") && small[11] == 'x', "time: truncated, terminated, in bounds");
}

/* Past 2038 and 2106, at the ends of the range, and against gmtime_r() for random seconds. */
static void test_time_range(void)
{
	static const struct {
		int64_t sec;
		long ns;
		const char *want;
	} cases[] = {
		{ 2147483647, 0, "2038-01-19T03:14:07.000000000Z" },
		{ 2147483648LL, 0, "2038-01-19T03:14:08.000000000Z" },
		{ 4102444800LL, 1, "2100-01-01T00:00:00.000000001Z" },
		{ 4294967295LL, 0, "2106-02-07T06:28:15.000000000Z" },
		{ 4294967296LL, 0, "2106-02-07T06:28:16.000000000Z" },
		{ 951868800, 0, "2000-03-01T00:00:00.000000000Z" },
		{ 4107542400LL, 0, "2100-03-01T00:00:00.000000000Z" },	/* 2100 is not a leap year */
		{ 253402300799LL, 999999999, "9999-12-31T23:59:59.999999999Z" },
		{ 253402300800LL, 0, "@253402300800.000000000" },
		{ -62167219200LL, 0, "0000-01-01T00:00:00.000000000Z" },
		{ -62167219201LL, 0, "@-62167219201.000000000" },
		{ 0, 1500000000, "1970-01-01T00:00:01.500000000Z" },	/* ns carried */
		{ 0, -1, "1969-12-31T23:59:59.999999999Z" },
		{ INT64_MAX, 0, "@9223372036854775807.000000000" },
	};
	unsigned int seed = 11;
	char buf[64], want[64];
	int bad = 0;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct timespec ts = { (time_t)cases[i].sec, cases[i].ns };

		iopf_time_format(&ts, buf, sizeof(buf));
		ok(!strcmp(buf, cases[i].want), "time %lld.%ld: %s", (long long)cases[i].sec,
		   cases[i].ns, buf);
	}
	for (int i = 0; i < 20000; i++) {
		time_t t = (time_t)(((int64_t)rand_r(&seed) << 16 ^ rand_r(&seed)) % 253402300800LL);
		struct timespec ts = { t, rand_r(&seed) % 1000000000 };
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(want + strlen(want), sizeof(want) - strlen(want), ".%09ldZ", ts.tv_nsec);
		iopf_time_format(&ts, buf, sizeof(buf));
		if (strcmp(buf, want) && bad++ < 3)
			printf("# %lld: %s, gmtime says %s\n", (long long)t, buf, want);
	}
	is(bad, 0, "20000 random times up to 9999 as gmtime_r() has them");
}

/* The one duration format, and that the parser reads it back. */
static void test_duration_format(void)
{
	static const struct {
		uint64_t ns;
		const char *want;
	} cases[] = {
		{ 0, "0ns" }, { 999, "999ns" }, { 1000, "1.000us" }, { 1234, "1.234us" },
		{ 999999, "999.999us" }, { 1000000, "1.000ms" }, { 12500000, "12.500ms" },
		{ 999999999, "999.999ms" }, { 1000000000, "1.000s" }, { 3000000000ull, "3.000s" },
		{ 86400000000000ull, "86400.000s" }, { UINT64_MAX, "18446744073.709s" },
	};
	char buf[IOPF_DURATION_LEN], small[4];
	uint64_t back;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		iopf_duration_format(cases[i].ns, buf, sizeof(buf));
		ok(!strcmp(buf, cases[i].want), "duration %llu: %s", (unsigned long long)cases[i].ns, buf);
		ok(!iopf_duration_parse(buf, &back) && back <= cases[i].ns &&
		   cases[i].ns - back < (cases[i].ns >= 1000000000 ? 1000000u : 1000u),
		   "duration %s parses back within the last digit", buf);
	}
	is(iopf_duration_format(1234, small, sizeof(small)), 7, "duration: full length returned");
	ok(!strcmp(small, "1.2"), "duration: truncated and terminated");
}

static void test_clock(void)
{
	uint64_t a = iopf_time_now(), b;
	struct timespec d = { 0, 2000000 };

	nanosleep(&d, NULL);
	b = iopf_time_now();
	ok(a > 0 && b - a >= 2000000 && b - a < 10000000000ull, "now_ns: monotonic, 2ms sleep seen");
}

struct log_seen {
	enum iopf_log_level level;
	char msg[2048];
	int calls;
};

static void log_fn(void *ctx, enum iopf_log_level level, const char *msg)
{
	struct log_seen *s = ctx;

	s->level = level;
	snprintf(s->msg, sizeof(s->msg), "%s", msg);
	s->calls++;
}

static void test_log(void)
{
	struct log_seen seen = { .calls = 0 };
	struct iopf_log log = { .fn = log_fn, .ctx = &seen };
	struct iopf_log none = { .fn = NULL };
	char big[3000];

	iopf_log_printf(&log, IOPF_LOG_WARN, "queue %u: %s", 7u, "busy");
	ok(seen.calls == 1 && seen.level == IOPF_LOG_WARN && !strcmp(seen.msg, "queue 7: busy"),
	   "logf: formatted message and level passed to the callback");
	iopf_log_printf(NULL, IOPF_LOG_ERR, "x");
	iopf_log_printf(&none, IOPF_LOG_ERR, "x");
	is(seen.calls, 1, "logf: NULL log or NULL fn is a no-op");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	iopf_log_printf(&log, IOPF_LOG_INFO, "%s", big);
	ok(seen.calls == 2 && strlen(seen.msg) > 100 && strlen(seen.msg) < sizeof(big) - 1,
	   "logf: a long message is truncated, not overflowed (%zu bytes)", strlen(seen.msg));
}

/* iopf_read_fd: the whole of a pipe, at most max bytes, said when cut. */
static void test_read_fd(void)
{
	static char data[20000];
	int p[2];
	size_t len = 1;
	bool trunc = true;
	char *s;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)('a' + i % 26);
	ok(pipe(p) == 0, "read_fd: a pipe");
	ok(write(p[1], data, sizeof(data)) == (ssize_t)sizeof(data), "read_fd: 20000 bytes written");
	close(p[1]);
	s = iopf_read_fd(p[0], 1 << 20, &len, &trunc);
	ok(s && len == sizeof(data) && !memcmp(s, data, len) && s[len] == '\0' && !trunc,
	   "read_fd: 20000 bytes read whole and NUL-terminated (%zu)", len);
	free(s);
	close(p[0]);

	ok(pipe(p) == 0, "read_fd: another pipe");
	ok(write(p[1], data, sizeof(data)) == (ssize_t)sizeof(data), "read_fd: 20000 bytes written");
	close(p[1]);
	s = iopf_read_fd(p[0], 5000, &len, &trunc);
	ok(s && len == 5000 && !memcmp(s, data, len) && s[len] == '\0' && trunc,
	   "read_fd: cut at max (5000 of 20000) and said so (%zu)", len);
	free(s);
	close(p[0]);

	ok(pipe(p) == 0, "read_fd: an empty pipe");
	close(p[1]);
	s = iopf_read_fd(p[0], 100, &len, &trunc);
	ok(s && len == 0 && s[0] == '\0' && !trunc, "read_fd: nothing is an empty string");
	free(s);
	close(p[0]);

	errno = 0;
	s = iopf_read_fd(-1, 100, NULL, NULL);
	ok(!s && errno == EBADF, "read_fd: a bad fd is NULL with errno EBADF");
}

int main(void)
{
	test_duration();
	test_u64();
	test_time();
	test_time_range();
	test_duration_format();
	test_clock();
	test_log();
	test_read_fd();
	return tap_done();
}
