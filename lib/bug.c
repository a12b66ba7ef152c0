// SPDX-License-Identifier: MIT
/*
 * The wrong handlers (iopftool-handle(8) --bug): their names, and the one
 * answer function both `handle` (on a live queue) and `generate` (into a
 * synthetic capture) give a group, so the two misbehave alike.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

#define BAD_CODE	2	/* bad-code: a code that is neither success nor invalid */

static const char *const bug_names[IOPF_BUG_COUNT] = {
	[IOPF_BUG_NONE] = "none", [IOPF_BUG_ECHO_GRPID] = "echo-grpid",
	[IOPF_BUG_DUPLICATE] = "duplicate", [IOPF_BUG_DROP] = "drop",
	[IOPF_BUG_BAD_CODE] = "bad-code", [IOPF_BUG_DELAY] = "delay",
	[IOPF_BUG_ZERO_COOKIE] = "zero-cookie",
};

const char *iopf_bug_name(enum iopf_bug bug)
{
	return (unsigned int)bug < IOPF_BUG_COUNT ? bug_names[bug] : "none";
}

int iopf_bug_parse(const char *name)
{
	for (int i = IOPF_BUG_ECHO_GRPID; i < IOPF_BUG_COUNT; i++)
		if (name && !strcmp(name, bug_names[i]))
			return i;
	return -EINVAL;
}

size_t iopf_bug_answer(const struct iopf_bug_cfg *c, uint64_t nth, const struct iommu_hwpt_pgfault *last,
		       struct iommu_hwpt_page_response out[IOPF_BUG_MAX_RESPONSES], bool *hold)
{
	bool hit = c->bug != IOPF_BUG_NONE && nth % (c->every ? c->every : 1) == 0;
	struct iommu_hwpt_page_response right = { .cookie = last->cookie, .code = c->code };

	*hold = false;
	out[0] = right;
	if (!hit)
		return 1;
	switch (c->bug) {
	case IOPF_BUG_ECHO_GRPID:	/* the device's grpid where the cookie belongs */
		out[0].cookie = last->grpid;
		return 1;
	case IOPF_BUG_DUPLICATE:
		out[1] = right;
		return 2;
	case IOPF_BUG_DROP:
		return 0;
	case IOPF_BUG_BAD_CODE:
		out[0].code = BAD_CODE;
		return 1;
	case IOPF_BUG_DELAY:
		*hold = true;
		return 1;
	case IOPF_BUG_ZERO_COOKIE:	/* cookie 0 first, while the group is outstanding (doc/kernel-notes.md §9.2) */
		out[0].cookie = 0;
		out[1] = right;
		return 2;
	default:
		return 1;
	}
}
