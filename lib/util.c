// SPDX-License-Identifier: MIT
/* Small helpers: logging, strict number and duration parsing, clocks, time stamps. */
#include <errno.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

void iopf_log_printf(const struct iopf_log *log, enum iopf_log_level level,
		     const char *fmt, ...)
{
	char buf[1024], *big = NULL;
	va_list ap;
	int n;

	if (!log || !log->fn)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(buf) && (big = malloc((size_t)n + 1))) {
		/* a long message whole: never cut before its reason */
		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	log->fn(log->ctx, level, big ? big : buf);
	free(big);
}

void iopf_path_shown(const char *path, char *buf, size_t len)
{
	size_t n = iopf_str_escape(path, buf, len), keep;

	if (n < len || len < 16)
		return;
	/* too long: its start and its end, so the message after it still fits */
	keep = (len - 4) / 2;
	char *tail = malloc(n + 1);

	if (!tail)
		return;
	iopf_str_escape(path, tail, n + 1);
	memcpy(buf + keep, "...", 3);
	memcpy(buf + keep + 3, tail + n - (len - 1 - keep - 3), len - 1 - keep - 3);
	buf[len - 1] = '\0';
	free(tail);
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
int iopf_duration_parse(const char *s, uint64_t *ns)
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
int iopf_u64_parse(const char *s, uint64_t max, uint64_t *v)
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

uint64_t iopf_time_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------ */
/* Time stamps: RFC 3339 in UTC with nanoseconds, without gmtime()     */
/* ------------------------------------------------------------------ */

/*
 * Days since 1970-01-01 to a proleptic Gregorian date, in 64 bits, so
 * time stamps past 2038 (and 2106) come out right.  Counted in 400-year
 * eras of 146097 days from 0000-03-01, so that the leap day ends a year.
 */
static void civil_from_days(int64_t days, int64_t *year, unsigned int *mon, unsigned int *mday)
{
	int64_t z = days + 719468;	/* days from 0000-03-01 */
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned int doe = (unsigned int)(z - era * 146097);	/* [0, 146096] */
	unsigned int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);	/* from March 1 */
	unsigned int mp = (5 * doy + 2) / 153;	/* March = 0 */

	*mday = doy - (153 * mp + 2) / 5 + 1;
	*mon = mp < 10 ? mp + 3 : mp - 9;
	*year = (int64_t)yoe + era * 400 + (*mon <= 2);
}

/* "YYYY-MM-DDTHH:MM:SS." for sec; false outside years 0..9999. */
static bool time_head(int64_t sec, char head[24])
{
	int64_t days = sec / 86400, rem = sec % 86400, year;
	unsigned int mon, mday;

	if (rem < 0) {
		rem += 86400;
		days--;
	}
	civil_from_days(days, &year, &mon, &mday);
	if (year < 0 || year > 9999)
		return false;
	iopf_dec_fixed(head, (uint64_t)year, 4);
	head[4] = '-';
	iopf_dec_fixed(head + 5, mon, 2);
	head[7] = '-';
	iopf_dec_fixed(head + 8, mday, 2);
	head[10] = 'T';
	iopf_dec_fixed(head + 11, (uint64_t)rem / 3600, 2);
	head[13] = ':';
	iopf_dec_fixed(head + 14, (uint64_t)rem / 60 % 60, 2);
	head[16] = ':';
	iopf_dec_fixed(head + 17, (uint64_t)rem % 60, 2);
	head[19] = '.';
	return true;
}

/*
 * 2026-11-24T02:21:00.123456789Z.  A hostile nanosecond field outside
 * [0, 1e9) is carried into the seconds; a year outside 0..9999 is shown
 * as "@SECONDS.NANOSECONDS".  Consecutive records mostly share their
 * second: the date part is computed once per second.
 */
size_t iopf_time_fmt(struct iopf_time_cache *c, const struct timespec *ts, char out[IOPF_TIME_LEN])
{
	int64_t sec = ts->tv_sec;
	int64_t ns = ts->tv_nsec;
	char *p;

	if (ns < 0 || ns >= 1000000000) {
		sec += ns / 1000000000;
		ns %= 1000000000;
		if (ns < 0) {
			sec--;
			ns += 1000000000;
		}
	}
	if (!c->valid || c->sec != sec) {
		c->valid = time_head(sec, c->head);
		c->sec = sec;
		if (!c->valid) {
			c->sec = sec ^ 1;	/* not cached: the fallback is rare */
			return (size_t)snprintf(out, IOPF_TIME_LEN, "@%lld.%09lld", (long long)sec,
						(long long)ns);
		}
	}
	memcpy(out, c->head, 20);
	iopf_dec_fixed(out + 20, (uint64_t)ns, 9);
	out[29] = 'Z';
	out[30] = '\0';
	p = out + 30;
	return (size_t)(p - out);
}

void iopf_time_format(const struct timespec *ts, char *buf, size_t len)
{
	struct iopf_time_cache c = { 0 };
	char tmp[IOPF_TIME_LEN];
	size_t n;

	if (!len)
		return;
	n = iopf_time_fmt(&c, ts, tmp);
	if (n >= len)
		n = len - 1;
	memcpy(buf, tmp, n);
	buf[n] = '\0';
}

/*
 * The one duration format: 850ns, 1.234us, 12.500ms, 3.000s.  Three
 * decimals, truncated (never rounded up into the next unit), so that
 * iopf_duration_parse() reads back a value within 0.1% of the unit.
 */
size_t iopf_duration_format(uint64_t ns, char *buf, size_t len)
{
	static const struct {
		uint64_t div;
		const char *unit;
	} units[] = { { 1000, "us" }, { 1000000, "ms" }, { 1000000000, "s" } };
	char tmp[40], *end = tmp + sizeof(tmp), *p = end;
	size_t i, n;

	if (ns < 1000) {
		*--p = 's';
		*--p = 'n';
		p = iopf_u64_dec(p, ns);
	} else {
		i = ns < 1000000 ? 0 : ns < 1000000000 ? 1 : 2;
		n = strlen(units[i].unit);
		p -= n;
		memcpy(p, units[i].unit, n);
		p -= 3;
		iopf_dec_fixed(p, ns % units[i].div / (units[i].div / 1000), 3);
		*--p = '.';
		p = iopf_u64_dec(p, ns / units[i].div);
	}
	n = (size_t)(end - p);
	if (len) {
		size_t k = n < len ? n : len - 1;

		memcpy(buf, p, k);
		buf[k] = '\0';
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* Text that came from a capture or a command line                     */
/* ------------------------------------------------------------------ */

size_t iopf_utf8_char(const unsigned char *s, size_t n, uint32_t *cpp)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80) {
		*cpp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cpp = cp;
	return len;
}

/*
 * s made safe for a terminal: each byte of a control character (C0,
 * DEL, C1, bidi override), and each byte that is not valid UTF-8,
 * becomes \xNN; everything else is kept.  Returns the length of the
 * whole result; buf gets as much of it as fits, NUL-terminated.
 */
size_t iopf_str_escape(const char *s, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p), out = 0, k, i;
	uint32_t cp;

	while (n) {
		k = iopf_utf8_char(p, n, &cp);
		if (k && !iopf_cp_unsafe(cp)) {
			for (i = 0; i < k; i++, out++)
				if (out + 1 < len)
					buf[out] = (char)p[i];
		} else {
			k = k ? k : 1;
			for (i = 0; i < k; i++, out += 4) {
				char e[4] = { '\\', 'x', hex[p[i] >> 4], hex[p[i] & 15] };

				for (size_t j = 0; j < 4; j++)
					if (out + j + 1 < len)
						buf[out + j] = e[j];
			}
		}
		p += k;
		n -= k;
	}
	if (len)
		buf[out < len ? out : len - 1] = '\0';
	return out;
}

char *iopf_read_fd(int fd, size_t max, size_t *lenp, bool *trunc)
{
	size_t len = 0, cap = max < 4096 ? max : 4096;
	char *buf = malloc(cap + 1);
	int e;

	if (trunc)
		*trunc = false;
	while (buf) {
		ssize_t n;

		if (len == cap) {
			char *nb;

			if (cap >= max) {
				char x;

				if (trunc)
					*trunc = read(fd, &x, 1) == 1;
				break;
			}
			cap = cap > max / 2 ? max : cap * 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			free(buf);
			errno = e == EAGAIN ? EIO : e;
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (!buf) {
		errno = ENOMEM;
		return NULL;
	}
	buf[len] = '\0';
	if (lenp)
		*lenp = len;
	return buf;
}
