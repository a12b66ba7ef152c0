// SPDX-License-Identifier: MIT
/*
 * iopftool read: decode captures and print each record, with filters.
 *
 * Streaming: one record at a time.  The only state is a table from
 * (queue, cookie) to "the most recent group with that cookie was shown",
 * so that a --dev/--pasid filter also shows the responses that answer the
 * groups it shows (SPEC.md section 4: a response refers to the most
 * recent group with its cookie on its queue).  The kernel hands out the
 * lowest free cookie (KERNEL-FACTS 1.9), so real captures need few
 * entries; hostile ones are bounded by COOKIE_LIMIT.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"
#include "u64map.h"

#define COOKIE_LIMIT (1u << 20)	/* (queue, cookie) pairs tracked */

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */
enum { OPT_DEV = 0x100, OPT_PASID, OPT_TYPE };

#define TYPE_BIT(t) (1u << (t))
#define ALL_TYPES (TYPE_BIT(IOPF_REC_FAULT) | TYPE_BIT(IOPF_REC_RESPONSE) | \
		   TYPE_BIT(IOPF_REC_LOST) | TYPE_BIT(IOPF_REC_META))

struct read_opts {
	const char *files[64];
	int nfiles;
	bool dev_set, pasid_set, pasid_none;
	uint32_t dev, pasid;
	unsigned int types;	/* TYPE_BIT set; 0 = all */
	uint64_t count;		/* 0 = no limit */
};

static const struct argp_option read_options[] = {
	{ "read", 'r', "FILE", 0, "capture to read ('-' for stdin); repeatable, or positional", 0 },
	{ "dev", OPT_DEV, "ID", 0, "only faults of this dev_id, and the responses to them", 0 },
	{ "pasid", OPT_PASID, "ID", 0, "only faults of this PASID ('none': PASID-less), and their responses", 0 },
	{ "type", OPT_TYPE, "TYPE", 0, "only these record types: fault, response, lost, meta (repeatable or comma list)", 0 },
	{ "count", 'c', "N", 0, "stop after printing N records", 0 },
	{ 0 }
};

static int type_bit(const char *name, unsigned int *bits)
{
	int t = iopf_rec_type_parse(name);	/* the record type table of libiopf */

	if (t < 0)
		return t;
	*bits |= TYPE_BIT(t);
	return 0;
}

static void parse_types(struct argp_state *state, struct read_opts *o, const char *arg)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", arg);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if (type_bit(t, &o->types))
			argp_error(state, "--type: unknown record type '%s' (fault, response, lost, meta)", t);
	if (!o->types)
		argp_error(state, "--type: no record type in '%s'", arg);
}

static void add_file(struct argp_state *state, struct read_opts *o, const char *f)
{
	if (o->nfiles >= (int)(sizeof(o->files) / sizeof(o->files[0])))
		argp_error(state, "too many captures (at most %zu)", sizeof(o->files) / sizeof(o->files[0]));
	o->files[o->nfiles++] = f;
}

static error_t parse_read(int key, char *arg, struct argp_state *state)
{
	struct read_opts *o = state->input;

	switch (key) {
	case 'r': add_file(state, o, arg); return 0;
	case ARGP_KEY_ARG: add_file(state, o, arg); return 0;
	case OPT_DEV:
		o->dev = (uint32_t)arg_u64(state, "--dev", arg, UINT32_MAX);
		o->dev_set = true;
		return 0;
	case OPT_PASID:
		o->pasid_set = true;
		o->pasid_none = !strcmp(arg, "none");
		if (!o->pasid_none)
			o->pasid = (uint32_t)arg_u64(state, "--pasid", arg, UINT32_MAX);
		return 0;
	case OPT_TYPE: parse_types(state, o, arg); return 0;
	case 'c': o->count = arg_u64(state, "--count", arg, UINT64_MAX); return 0;
	case ARGP_KEY_END:
		if (!o->nfiles)
			argp_error(state, "no capture given (-r FILE or FILE...)");
		return 0;
	default: return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp_child read_children[] = { GLOBAL_CHILD, { 0 } };

static const struct argp read_argp = {
	.options = read_options,
	.parser = parse_read,
	.args_doc = "[FILE...]",
	.doc = "Decode iopf captures and print each record."
	       "\vA --dev or --pasid filter also shows the responses that answer the groups it "
	       "shows; LOST and META records pass these two filters.  Undecodable records are "
	       "reported on stderr with their record number and byte offset, and the exit "
	       "status is then 2.",
	.children = read_children,
};

/* ------------------------------------------------------------------ */
/* Filtering                                                           */
/* ------------------------------------------------------------------ */
/* Per (queue, cookie): the most recent group was shown / is still open. */
#define G_SHOWN 1u
#define G_OPEN	2u

struct read_state {
	const struct read_opts *o;
	struct u64map groups;
	uint64_t printed;
	int status;
};

static uint64_t qc_key(uint32_t queue, uint32_t cookie)
{
	return (uint64_t)queue << 32 | cookie;
}

static bool fault_matches(const struct read_opts *o, const struct iommu_hwpt_pgfault *f)
{
	bool pv = f->flags & IOMMU_PGFAULT_FLAGS_PASID_VALID;

	if (o->dev_set && f->dev_id != o->dev)
		return false;
	if (o->pasid_set && (o->pasid_none ? pv : !pv || f->pasid != o->pasid))
		return false;
	return true;
}

/* A fault joins the open group with its cookie, or starts the next one. */
static bool fault_shown(struct read_state *st, const struct iopf_rec *r)
{
	const struct iommu_hwpt_pgfault *f = &r->u.fault;
	uint64_t *g = u64map_ref(&st->groups, qc_key(r->queue_id, f->cookie), true);
	bool match = fault_matches(st->o, f);

	if (!g)
		return match;
	if (!(*g & G_OPEN))
		*g = 0;
	if (match)
		*g |= G_SHOWN;
	*g |= G_OPEN;
	if (f->flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE)
		*g &= ~G_OPEN;
	return match;
}

static bool response_shown(struct read_state *st, const struct iopf_rec *r)
{
	uint64_t *g = u64map_ref(&st->groups, qc_key(r->queue_id, r->u.resp.cookie), false);

	return g && (*g & G_SHOWN);
}

static bool rec_shown(struct read_state *st, const struct iopf_rec *r)
{
	const struct read_opts *o = st->o;
	bool by_group = o->dev_set || o->pasid_set;
	bool shown = true;

	if (r->type == IOPF_REC_FAULT && by_group)
		shown = fault_shown(st, r);
	else if (r->type == IOPF_REC_RESPONSE && by_group)
		shown = response_shown(st, r);
	return shown && (!o->types || (o->types & TYPE_BIT(r->type)));
}

/* ------------------------------------------------------------------ */
/* The loop                                                            */
/* ------------------------------------------------------------------ */
static bool done(const struct read_state *st)
{
	/* a closed pipe: out_finish() reports it, reading on is pointless */
	return (st->o->count && st->printed >= st->o->count) || ferror(stdout);
}

static void one_record(struct read_state *st, struct iopf_reader *rd, const struct iopf_rec *r)
{
	if (!(ALL_TYPES & TYPE_BIT(r->type < 32 ? r->type : 0))) {
		p_warn("%s: record %" PRIu64 " at offset %" PRIu64 ": unknown record type %u, skipped",
		       iopf_reader_path(rd), iopf_reader_recno(rd), iopf_reader_offset(rd), r->type);
		return;
	}
	if (!rec_shown(st, r))
		return;
	iopf_print_rec(out_stdout(), r);
	st->printed++;
}

static void read_file(struct read_state *st, const char *path)
{
	char err[512];
	struct iopf_reader *rd;
	struct iopf_rec r;
	int rc;

	if (iopf_reader_open(&rd, path, err, sizeof(err)) < 0) {
		p_err("%s", err);
		st->status = EXIT_ERROR;
		return;
	}
	while (!done(st) && !stop_requested) {
		memset(&r, 0, sizeof(r));
		rc = iopf_reader_next(rd, &r);
		if (rc == 0)
			break;
		if (rc == 1) {
			one_record(st, rd, &r);
			continue;
		}
		p_err("%s: %s", path, iopf_reader_error(rd));
		st->status = EXIT_ERROR;
		if (rc != -EBADMSG)
			break;
	}
	iopf_reader_free(rd);
}

int cmd_read(int argc, char **argv)
{
	struct read_opts o = { 0 };
	struct read_state st = { .o = &o, .groups.limit = COOKIE_LIMIT };

	parse_verb(&read_argp, argc, argv, &o);
	install_stop_handlers();
	/* files, not a live stream on stdin: write in big blocks even to a pipe */
	bool live = false;
	for (int i = 0; i < o.nfiles; i++)
		live |= !strcmp(o.files[i], "-");
	if (!live)
		iopf_out_set_line(out_stdout(), false);
	for (int i = 0; i < o.nfiles && !done(&st) && !stop_requested; i++)
		read_file(&st, o.files[i]);
	u64map_free(&st.groups);
	return out_finish(st.status);
}
