/* SPDX-License-Identifier: MIT */
/* Minimal TAP output for the C unit tests: one "ok N - what" line per check. */
#ifndef IOPF_TAP_H
#define IOPF_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_n, tap_failed;

__attribute__((format(printf, 4, 5)))
static int tap_check(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (!cond) {
		printf(" (%s:%d)", file, line);
		tap_failed++;
	}
	putchar('\n');
	fflush(stdout);
	return cond;
}

/* ok(cond, "what is checked %d", x) */
#define ok(cond, ...) tap_check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
/* is(a, b, "what"): integer equality, showing both values on failure */
#define is(a, b, ...) do { \
	long long _a = (long long)(a), _b = (long long)(b); \
	if (!ok(_a == _b, __VA_ARGS__)) \
		printf("#   got %lld, expected %lld\n", _a, _b); \
} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

/*
 * TAP_LOG_CAPTURE: a libiopf log callback for tests: tlog counts warnings
 * and errors in `warnings` and keeps the last message in `last_msg`.
 * (Only in files that include iopf.h first.)
 */
#define TAP_LOG_CAPTURE \
	static int warnings; \
	static char last_msg[512]; \
	static void on_log(void *ctx, enum iopf_log_level level, const char *msg) \
	{ \
		(void)ctx; \
		warnings += level <= IOPF_LOG_WARN; \
		snprintf(last_msg, sizeof(last_msg), "%s", msg); \
	} \
	static const struct iopf_log tlog = { on_log, NULL };

#endif
