// SPDX-License-Identifier: MIT
/* Small helpers: logging, strict number and duration parsing, clocks, time stamps. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void iopf_logf(const struct iopf_log *log, enum iopf_log_level level,
	       const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (!log || !log->fn)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log->fn(log->ctx, level, buf);
}

struct dur_unit {
	const char *name;
	uint64_t ns;
};

static const struct dur_unit dur_units[] = {
	{ "ns", 1 },
	{ "us", 1000 },
	{ "ms", 1000000 },
	{ "s", 1000000000 },
	{ "m", 60000000000 },
};

static int dur_unit(const char *s, uint64_t *mult)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(dur_units); i++) {
		if (!strcmp(s, dur_units[i].name)) {
			*mult = dur_units[i].ns;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * Digits at *p into *v, keeping the first 19 (more is an overflow for
 * the integer part, and beyond nanosecond precision for the fraction).
 * Returns the number of digits read; *ndig the number kept.
 */
static size_t dur_digits(const char **p, uint64_t *v, unsigned int *ndig)
{
	const char *s = *p;
	size_t n = 0;

	*v = 0;
	*ndig = 0;
	for (; *s >= '0' && *s <= '9'; s++, n++) {
		if (*ndig >= 19)
			continue;
		*v = *v * 10 + (uint64_t)(*s - '0');
		(*ndig)++;
	}
	*p = s;
	return n;
}

/*
 * "250ns", "10us", "2ms", "1.5s", "3m": decimal digits, an optional
 * fraction, and a unit.  The result is truncated to whole nanoseconds.
 * -EINVAL for anything else (no unit, a sign, spaces, junk), -ERANGE
 * past UINT64_MAX nanoseconds.
 */
int iopf_parse_duration(const char *s, uint64_t *ns)
{
	uint64_t ip = 0, fp = 0, mult, p10 = 1;
	unsigned int ind, fnd = 0, i;
	size_t nint, nfrac = 0;
	unsigned __int128 total;

	if (!s)
		return -EINVAL;
	nint = dur_digits(&s, &ip, &ind);
	if (*s == '.') {
		s++;
		nfrac = dur_digits(&s, &fp, &fnd);
		if (!nfrac)
			return -EINVAL;
	}
	if (!nint && !nfrac)
		return -EINVAL;
	if (dur_unit(s, &mult))
		return -EINVAL;
	if (nint > 19)
		return -ERANGE;
	for (i = 0; i < fnd; i++)
		p10 *= 10;
	total = (unsigned __int128)ip * mult + (unsigned __int128)fp * mult / p10;
	if (total > UINT64_MAX)
		return -ERANGE;
	*ns = (uint64_t)total;
	return 0;
}

/*
 * Strict unsigned parse: the whole string, base 0 (0x.. hex, 0.. octal),
 * no sign, no white space.  -EINVAL for junk, -ERANGE above max.
 */
int iopf_parse_u64(const char *s, uint64_t max, uint64_t *v)
{
	unsigned long long x;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &end, 0);
	if (end == s || *end)
		return -EINVAL;
	if (errno == ERANGE || x > max)
		return -ERANGE;
	*v = x;
	return 0;
}

uint64_t iopf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* RFC 3339 in UTC with nanoseconds: 2026-11-24T02:21:00.123456789Z */
void iopf_format_time(const struct timespec *ts, char *buf, size_t len)
{
	struct tm tm;
	time_t sec = ts->tv_sec;
	long nsec = ts->tv_nsec;
	char date[32];

	if (!len)
		return;
	if (nsec < 0 || nsec > 999999999)
		nsec = 0;
	if (!gmtime_r(&sec, &tm) ||
	    !strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm)) {
		snprintf(buf, len, "invalid");
		return;
	}
	snprintf(buf, len, "%s.%09ldZ", date, nsec);
}
