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

/* A unit is f * 10^k nanoseconds, which keeps fractions exact. */
struct dur_unit {
	const char *name;
	unsigned int k;
	unsigned int f;
};

static const struct dur_unit dur_units[] = {
	{ "ns", 0, 1 },
	{ "us", 3, 1 },
	{ "ms", 6, 1 },
	{ "s", 9, 1 },
	{ "m", 10, 6 },
};

static const struct dur_unit *dur_unit(const char *s)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(dur_units); i++)
		if (!strcmp(s, dur_units[i].name))
			return &dur_units[i];
	return NULL;
}

static uint64_t pow10_u64(unsigned int e)
{
	uint64_t p = 1;

	while (e--)
		p *= 10;
	return p;
}

/*
 * Digits at *p into *v, keeping at most `keep` of them (the fraction
 * keeps 19: beyond nanosecond precision for every unit).  *ovf is set
 * when the kept digits do not fit in 64 bits.  Returns the number of
 * digits read; *kept the number kept.
 */
static size_t dur_digits(const char **p, unsigned int keep, uint64_t *v,
			 unsigned int *kept, bool *ovf)
{
	const char *s = *p;
	unsigned int d;
	size_t n = 0;

	*v = 0;
	*kept = 0;
	for (; *s >= '0' && *s <= '9'; s++, n++) {
		d = (unsigned int)(*s - '0');
		if (*kept >= keep)
			continue;
		if (*v > (UINT64_MAX - d) / 10) {
			*ovf = true;
			*kept = keep;
			continue;
		}
		*v = *v * 10 + d;
		(*kept)++;
	}
	*p = s;
	return n;
}

/*
 * The nanoseconds of the fraction fp / 10^nd of unit u, truncated:
 * fp * f * 10^k / 10^nd, computed without overflow (fp < 10^19).
 */
static uint64_t dur_frac(uint64_t fp, unsigned int nd, const struct dur_unit *u)
{
	uint64_t d;

	if (nd <= u->k)
		return fp * pow10_u64(u->k - nd) * u->f;
	d = pow10_u64(nd - u->k);	/* nd - k <= 19 */
	/* (q*d + r) * f / d = q*f + r*f/d; r*f < 6 * 10^9 when f > 1 (k = 10) */
	return fp / d * u->f + fp % d * u->f / d;
}

/*
 * "250ns", "10us", "2ms", "1.5s", "3m": decimal digits, an optional
 * fraction, and a unit.  The result is truncated to whole nanoseconds.
 * -EINVAL for anything else (no unit, a sign, spaces, junk), -ERANGE
 * past UINT64_MAX nanoseconds.
 */
int iopf_parse_duration(const char *s, uint64_t *ns)
{
	uint64_t ip = 0, fp = 0, mult, frac;
	const struct dur_unit *u;
	unsigned int ind, fnd = 0;
	size_t nint, nfrac = 0;
	bool ovf = false;

	if (!s)
		return -EINVAL;
	nint = dur_digits(&s, UINT32_MAX, &ip, &ind, &ovf);
	if (*s == '.') {
		s++;
		nfrac = dur_digits(&s, 19, &fp, &fnd, &ovf);
		if (!nfrac)
			return -EINVAL;
	}
	u = dur_unit(s);
	if ((!nint && !nfrac) || !u)
		return -EINVAL;
	mult = pow10_u64(u->k) * u->f;
	if (ovf || ip > UINT64_MAX / mult)
		return -ERANGE;
	frac = dur_frac(fp, fnd, u);
	if (ip * mult > UINT64_MAX - frac)
		return -ERANGE;
	*ns = ip * mult + frac;
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
