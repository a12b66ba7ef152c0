// SPDX-License-Identifier: MIT
/* The wrong handlers (lib/bug.c): names, and the one answer handle and generate give. */
#include <errno.h>
#include <string.h>

#include "iopf.h"
#include "tap.h"

static const struct iommu_hwpt_pgfault last = { .dev_id = 1, .grpid = 77, .cookie = 5,
						.flags = IOMMU_PGFAULT_FLAGS_LAST_PAGE };

/* The answer to group nth, as "cookie/code cookie/code" (+ "held"). */
static const char *answer(enum iopf_bug bug, uint64_t every, uint32_t code, uint64_t nth)
{
	static char buf[64];
	struct iopf_bug_cfg c = { .bug = bug, .every = every, .code = code };
	struct iommu_hwpt_page_response r[IOPF_BUG_MAX_RESPONSES];
	bool hold = true;
	size_t n = iopf_bug_answer(&c, nth, &last, r, &hold), len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && i < IOPF_BUG_MAX_RESPONSES; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%u/%u", i ? " " : "",
					r[i].cookie, r[i].code);
	if (hold)
		snprintf(buf + len, sizeof(buf) - len, " held");
	return buf;
}

int main(void)
{
	ok(!strcmp(answer(IOPF_BUG_NONE, 1, 0, 1), "5/0"), "no bug: the cookie, the code");
	ok(!strcmp(answer(IOPF_BUG_NONE, 1, IOMMUFD_PAGE_RESP_INVALID, 3), "5/1"), "no bug, policy invalid: code 1");
	ok(!strcmp(answer(IOPF_BUG_ECHO_GRPID, 1, 0, 1), "77/0"), "echo-grpid: the grpid for the cookie");
	ok(!strcmp(answer(IOPF_BUG_DUPLICATE, 1, 0, 1), "5/0 5/0"), "duplicate: twice");
	ok(!strcmp(answer(IOPF_BUG_DROP, 1, 0, 1), ""), "drop: nothing");
	ok(!strcmp(answer(IOPF_BUG_BAD_CODE, 1, 0, 1), "5/2"), "bad-code: code 2");
	ok(!strcmp(answer(IOPF_BUG_DELAY, 1, 0, 1), "5/0 held"), "delay: the right answer, held");
	ok(!strcmp(answer(IOPF_BUG_ZERO_COOKIE, 1, 0, 1), "0/0 5/0"), "zero-cookie: cookie 0, then the right one");
	/* every Nth group, counted from 1 */
	ok(!strcmp(answer(IOPF_BUG_DROP, 3, 0, 1), "5/0") && !strcmp(answer(IOPF_BUG_DROP, 3, 0, 2), "5/0") &&
	   !strcmp(answer(IOPF_BUG_DROP, 3, 0, 3), "") && !strcmp(answer(IOPF_BUG_DROP, 3, 0, 6), ""),
	   "--bug-every 3: groups 3 and 6 dropped, 1 and 2 answered");
	ok(!strcmp(answer(IOPF_BUG_DROP, 0, 0, 7), ""), "every 0 is every group");
	/* names */
	is(iopf_bug_parse("echo-grpid"), IOPF_BUG_ECHO_GRPID, "parse echo-grpid");
	is(iopf_bug_parse("zero-cookie"), IOPF_BUG_ZERO_COOKIE, "parse zero-cookie");
	is(iopf_bug_parse("none"), -EINVAL, "none is not a mode to give");
	is(iopf_bug_parse(NULL), -EINVAL, "NULL: -EINVAL");
	ok(!strcmp(iopf_bug_name(IOPF_BUG_DELAY), "delay") && !strcmp(iopf_bug_name(IOPF_BUG_COUNT), "none"),
	   "names: delay; out of range: none");
	return tap_done();
}
