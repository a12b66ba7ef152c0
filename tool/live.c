// SPDX-License-Identifier: MIT
/* See live.h. */
#include <errno.h>
#include <string.h>

#include "live.h"

uint32_t live_arg_policy(struct argp_state *state, const char *arg)
{
	if (!strcmp(arg, "success"))
		return IOMMUFD_PAGE_RESP_SUCCESS;
	if (strcmp(arg, "invalid"))
		argp_error(state, "--policy: '%s' is not success or invalid", arg);
	return IOMMUFD_PAGE_RESP_INVALID;
}

int live_close_capture(struct iopf_session *s, struct iopf_writer *w, const char *path)
{
	int rc, rc2;

	if (!w)
		return 0;
	rc = s ? iopf_session_meta_end(s, 0) : 0;
	rc2 = iopf_writer_close(w);
	if (!rc)
		rc = rc2;
	if (rc)
		p_err("%s: write error: %s", path, write_strerror(-rc));
	return rc;
}
