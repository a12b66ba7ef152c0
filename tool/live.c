// SPDX-License-Identifier: MIT
/* See live.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

int live_print_start(struct live_print *lp)
{
	int rc;

	*lp = (struct live_print){ 0 };
	fflush(stdout);	/* what stdio holds goes first */
	rc = iopf_printer_new(&lp->printer, STDOUT_FILENO, 0);
	if (!rc && !(lp->out = iopf_out_new(iopf_printer_stream(lp->printer), out_mode())))
		rc = -ENOMEM;
	if (rc) {
		p_err("cannot start printing: %s", strerror(-rc));
		live_print_stop(lp);
		return rc;
	}
	iopf_out_set_line(lp->out, false);	/* flushed once a step: live_print_flush() */
	return 0;
}

int live_print_flush(struct live_print *lp)
{
	if (lp->printer && !lp->err) {
		iopf_out_flush(lp->out);	/* into the printer's stream */
		lp->err = iopf_printer_flush(lp->printer);
	}
	return lp->err;
}

void live_print_stop(struct live_print *lp)
{
	int rc;

	if (!lp->printer)
		return;
	iopf_out_free(lp->out);	/* its buffer into the printer's stream */
	lp->out = NULL;
	rc = iopf_printer_close(lp->printer, LIVE_PRINT_IDLE_NS, &lp->not_printed);
	lp->printer = NULL;
	if (rc && rc != -EPIPE)	/* EPIPE: | head went away, said by no one */
		p_err("write error on standard output: %s", write_strerror(-rc));
	lp->err = lp->err ?: rc;
}

void live_print_summary(const struct live_print *lp)
{
	if (lp->not_printed && !lp->err)	/* a write error is said as such (| head: not at all) */
		p_warn("%llu lines were not printed: standard output did not take them (the fault "
		       "path does not wait for its reader)", (unsigned long long)lp->not_printed);
}
