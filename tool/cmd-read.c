// SPDX-License-Identifier: MIT
/*
 * iopftool read: decode captures and print each record, with filters.
 *
 * Streaming: one record at a time.  Records go through lib/group.c,
 * the group rule of iopftool-capture(5) "Groups and cookies", which warns
 * about groups answered without a LAST_PAGE record, cookies reused while
 * outstanding and groups the recording cut short, as every verb does.
 * A --dev/--pasid filter marks a group shown when one of its faults
 * matches, and shows the responses that refer to a shown group.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */
enum { OPT_DEV = 0x100, OPT_PASID, OPT_TYPE };

#define TYPE_BIT(t) (1u << (t))
#define ALL_TYPES (TYPE_BIT(IOPF_REC_FAULT) | TYPE_BIT(IOPF_REC_RESPONSE) | \
		   TYPE_BIT(IOPF_REC_LOST) | TYPE_BIT(IOPF_REC_META) | TAP_TYPES)
/* The tap's records (lib/tap.c, iopftool-capture(5)). */
#define TAP_TYPES (TYPE_BIT(IOPF_REC_DELIVERY) | TYPE_BIT(IOPF_REC_AUTO_RESPONSE) | \
		   TYPE_BIT(IOPF_REC_REPORTED))

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
	{ "type", OPT_TYPE, "TYPE", 0, "only these record types: fault, response, lost, meta; from the tap delivery, auto_response, reported (repeatable or comma list)", 0 },
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
			argp_error(state, "--type: unknown record type '%s' (fault, response, lost, meta, delivery, auto_response, reported)", t);
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
	case 'c': o->count = arg_count(state, "--count", arg, UINT64_MAX); return 0;
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
/* A group's user word: one of its faults was shown. */
#define G_SHOWN 1u

struct read_state {
	const struct read_opts *o;
	struct iopf_out *out;	/* out_stdout() */
	bool progress;		/* progress_wanted(): asked once, not per record */
	struct iopf_grouper *grouper;
	uint64_t printed;
	int status;
	bool cookie0;		/* this file: a record with cookie 0 was reported */
};

static bool fault_matches(const struct read_opts *o, const struct iommu_hwpt_pgfault *f)
{
	bool pv = f->flags & IOMMU_PGFAULT_FLAGS_PASID_VALID;

	if (o->dev_set && f->dev_id != o->dev)
		return false;
	if (o->pasid_set && (o->pasid_none ? pv : !pv || f->pasid != o->pasid))
		return false;
	return true;
}

/* Every FAULT and RESPONSE goes through the grouper, filtered or not. */
static bool rec_shown(struct read_state *st, struct iopf_reader *rd, const struct iopf_rec *r)
{
	const struct read_opts *o = st->o;
	bool by_group = o->dev_set || o->pasid_set;
	struct iopf_group *g = NULL;
	bool shown = true;

	iopf_grouper_rec(st->grouper, r, iopf_reader_recno(rd), &g);
	if (r->type == IOPF_REC_FAULT && by_group) {
		shown = fault_matches(o, &r->u.fault);
		if (shown && g)
			g->user |= G_SHOWN;
	} else if (r->type == IOPF_REC_RESPONSE && by_group) {
		shown = g && (g->user & G_SHOWN);
	}
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
		uint64_t off = iopf_reader_offset(rd);
		char at[40] = " (offset unknown)";	/* pcapng from a pipe */

		if (off != UINT64_MAX)
			snprintf(at, sizeof(at), " at offset %" PRIu64, off);
		p_warn("%s: record %" PRIu64 "%s: unknown record type %u, skipped",
		       iopf_reader_path(rd), iopf_reader_recno(rd), at, r->type);
		return;
	}
	if (!st->cookie0 && ((r->type == IOPF_REC_FAULT && r->u.fault.cookie == 0) ||
			     (r->type == IOPF_REC_RESPONSE && r->u.resp.cookie == 0))) {
		st->cookie0 = true;
		p_warn("%s: record %" PRIu64 " %s", iopf_reader_path(rd), iopf_reader_recno(rd),
		       IOPF_COOKIE0_WARNING);
	}
	if (!rec_shown(st, rd, r))
		return;
	iopf_rec_print(st->out, r);
	st->printed++;
}

static void read_file(struct read_state *st, const char *path)
{
	char err[512];
	struct iopf_reader *rd;
	struct iopf_grouper_cfg gcfg = { .name = path, .log = &tool_log };
	struct iopf_rec r;
	int rc;

	if (iopf_reader_open(&rd, path, err, sizeof(err)) < 0) {
		p_err("%s", err);
		st->status = EXIT_ERROR;
		return;
	}
	st->cookie0 = false;
	if (iopf_grouper_new(&st->grouper, &gcfg)) {
		p_err("out of memory");
		st->status = EXIT_ERROR;
		iopf_reader_free(rd);
		return;
	}
	while (!done(st) && !stop_requested) {
		memset(&r, 0, sizeof(r));
		rc = iopf_reader_next(rd, &r);
		if (rc == 0) {
			if (iopf_reader_torn(rd))
				p_warn("%s: %s", path, iopf_reader_torn(rd));
			iopf_grouper_end(st->grouper);	/* read to the end: warn about cut groups */
			break;
		}
		if (rc == 1) {
			one_record(st, rd, &r);
			if (st->progress) {
				uint64_t pos, size;

				iopf_reader_position(rd, &pos, &size);
				progress_file("read", path, iopf_reader_recno(rd), pos, size);
			}
			continue;
		}
		if (iopf_reader_bad_shown(rd) || rc != -EBADMSG)
			p_err("%s: %s", path, iopf_reader_error(rd));
		st->status = EXIT_ERROR;
		if (rc != -EBADMSG)
			break;
	}
	progress_done();
	if (iopf_reader_bad_summary(rd))
		p_err("%s: %s", path, iopf_reader_bad_summary(rd));
	iopf_grouper_free(st->grouper);
	st->grouper = NULL;
	iopf_reader_free(rd);
}

int cmd_read(int argc, char **argv)
{
	struct read_opts o = { 0 };
	struct read_state st = { .o = &o };

	parse_verb(&read_argp, argc, argv, &o);
	if (output_is_input("-", o.files, o.nfiles))
		return EXIT_ERROR;
	st.out = out_stdout();
	st.progress = progress_wanted();
	install_stop_handlers();
	/* files, not a live stream on stdin: write in big blocks even to a pipe */
	bool live = false;
	for (int i = 0; i < o.nfiles; i++)
		live |= !strcmp(o.files[i], "-");
	if (!live)
		iopf_out_set_line(out_stdout(), false);
	for (int i = 0; i < o.nfiles && !done(&st) && !stop_requested; i++)
		read_file(&st, o.files[i]);
	return out_finish(st.status);
}
