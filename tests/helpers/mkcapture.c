// SPDX-License-Identifier: MIT
/*
 * mkcapture: write a capture byte by byte, good or deliberately broken,
 * for the sample captures and the bad-input tests (no tshark needed).
 *
 *   mkcapture [-F pcap|pcapng] [-B] [-U] [-L LINKTYPE] [-T N] OUT REC...
 *
 *   -F  container: classic pcap (default) or pcapng (SHB, IDB, EPBs)
 *   -B  big-endian pcap file and record headers (default little-endian)
 *   -U  microsecond timestamps (default nanosecond)
 *   -L  link type (default 147, LINKTYPE_USER0)
 *   -T  cut the last N bytes off the file (a truncated capture)
 *
 * Each REC is "KIND[,key=value|flag]..." and becomes one pcap record:
 *   fault    flags dev pasid grpid perm res addr length cookie; "last"
 *            sets LAST_PAGE.  Default flags: LAST_PAGE if "last" is
 *            given, PASID_VALID when pasid is non-zero
 *   resp     cookie code
 *   lost     count
 *   meta     text=... (the rest of the argument, ';' separates lines)
 *   garbage  len=N pseudo-random bytes
 * and for every kind: t=NS (offset from 2026-01-01T00:00:00Z, default the
 * previous one + 1000), q=QUEUE (1), seq=N (default the record index),
 * status, lat, magic, ver, type (header byte overrides), hdrlen,
 * extra=N (zero bytes after the payload), len=N (cut the record to N bytes),
 * x=N (write the record N times, seq counting up: a big group).
 * "-" as OUT writes to stdout.  Exit 0, or 2 on a bad argument.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0_SEC 1767225600ull	/* 2026-01-01T00:00:00Z */
#define MAXREC 70000

struct opts {
	bool pcapng, big, usec;
	uint32_t linktype;
	uint64_t cut;
};

struct rec {
	uint8_t buf[MAXREC];
	size_t len;
	uint64_t t_ns;
};

/* The output file image, grown as records are added. */
struct image {
	uint8_t *p;
	size_t len, cap;
	bool big;
};

static void die(const char *what, const char *arg)
{
	fprintf(stderr, "mkcapture: %s: %s\n", what, arg);
	exit(2);
}

static void put(struct image *im, const void *src, size_t n)
{
	if (im->len + n > im->cap) {
		im->cap = (im->len + n) * 2;
		im->p = realloc(im->p, im->cap);
		if (!im->p)
			die("out of memory", "image");
	}
	memcpy(im->p + im->len, src, n);
	im->len += n;
}

/* Container integers in the container's byte order. */
static void put_u16(struct image *im, uint16_t v)
{
	uint8_t b[2] = { v, v >> 8 };

	if (im->big) {
		b[0] = v >> 8;
		b[1] = v;
	}
	put(im, b, 2);
}

static void put_u32(struct image *im, uint32_t v)
{
	uint8_t b[4];

	for (int i = 0; i < 4; i++)
		b[im->big ? 3 - i : i] = v >> (8 * i);
	put(im, b, 4);
}

/* Record fields are little-endian whatever the container. */
static void le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = v >> (8 * i);
}

static void pcap_header(struct image *im, const struct opts *o)
{
	put_u32(im, o->usec ? 0xa1b2c3d4 : 0xa1b23c4d);
	put_u16(im, 2);
	put_u16(im, 4);
	put_u32(im, 0);
	put_u32(im, 0);
	put_u32(im, 65535);
	put_u32(im, o->linktype);
}

static void pcap_record(struct image *im, const struct opts *o, const struct rec *r)
{
	uint64_t frac = r->t_ns % 1000000000ull;

	put_u32(im, (uint32_t)(T0_SEC + r->t_ns / 1000000000ull));
	put_u32(im, (uint32_t)(o->usec ? frac / 1000 : frac));
	put_u32(im, (uint32_t)r->len);
	put_u32(im, (uint32_t)r->len);
	put(im, r->buf, r->len);
}

/* pcapng: Section Header Block, Interface Description Block (if_tsresol). */
static void pcapng_header(struct image *im, const struct opts *o)
{
	put_u32(im, 0x0a0d0d0a);
	put_u32(im, 28);
	put_u32(im, 0x1a2b3c4d);
	put_u16(im, 1);
	put_u16(im, 0);
	put_u32(im, 0xffffffff);	/* section length unknown */
	put_u32(im, 0xffffffff);
	put_u32(im, 28);

	put_u32(im, 1);
	put_u32(im, 32);
	put_u16(im, (uint16_t)o->linktype);
	put_u16(im, 0);
	put_u32(im, 65535);
	put_u16(im, 9);		/* if_tsresol */
	put_u16(im, 1);
	put(im, (uint8_t[4]){ o->usec ? 6 : 9, 0, 0, 0 }, 4);
	put_u32(im, 0);		/* opt_endofopt */
	put_u32(im, 32);
}

static void pcapng_record(struct image *im, const struct opts *o, const struct rec *r)
{
	uint64_t ts = (T0_SEC * 1000000000ull + r->t_ns) / (o->usec ? 1000 : 1);
	size_t pad = (4 - r->len % 4) % 4;
	uint32_t total = (uint32_t)(32 + r->len + pad);

	put_u32(im, 6);
	put_u32(im, total);
	put_u32(im, 0);		/* interface 0 */
	put_u32(im, (uint32_t)(ts >> 32));
	put_u32(im, (uint32_t)ts);
	put_u32(im, (uint32_t)r->len);
	put_u32(im, (uint32_t)r->len);
	put(im, r->buf, r->len);
	put(im, (uint8_t[4]){ 0 }, pad);
	put_u32(im, total);
}

static uint64_t num(const char *key, const char *s)
{
	char *end;
	uint64_t v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end)
		die("bad number", key);
	return v;
}

struct kv {
	char key[32];
	const char *val;	/* NULL for a bare flag */
};

/* Split "k=v" at s (up to the next ','); returns the next item or NULL. */
static char *next_kv(char *s, struct kv *kv)
{
	char *comma, *eq;

	if (!strncmp(s, "text=", 5)) {
		snprintf(kv->key, sizeof(kv->key), "text");
		kv->val = s + 5;
		return NULL;	/* text takes the rest */
	}
	comma = strchr(s, ',');
	if (comma)
		*comma = '\0';
	eq = strchr(s, '=');
	if (eq)
		*eq = '\0';
	snprintf(kv->key, sizeof(kv->key), "%s", s);
	kv->val = eq ? eq + 1 : NULL;
	return comma ? comma + 1 : NULL;
}

/* Header field overrides and the payload fields, by name. */
struct field {
	const char *name;
	int off, size;		/* into the record: header 0..31, payload 32.. */
};

static const struct field fields[] = {
	{ "magic", 0, 4 }, { "ver", 4, 1 }, { "type", 5, 1 }, { "hdrlen", 6, 2 },
	{ "q", 8, 4 }, { "status", 12, 4 }, { "seq", 16, 8 }, { "lat", 24, 8 },
};

static const struct field fault_fields[] = {
	{ "flags", 32, 4 }, { "dev", 36, 4 }, { "pasid", 40, 4 }, { "grpid", 44, 4 },
	{ "perm", 48, 4 }, { "res", 52, 4 }, { "addr", 56, 8 }, { "length", 64, 4 },
	{ "cookie", 68, 4 },
};

static const struct field resp_fields[] = { { "cookie", 32, 4 }, { "code", 36, 4 } };
static const struct field lost_fields[] = { { "count", 32, 8 } };

struct kind {
	const char *name;
	int type;
	size_t payload;
	const struct field *f;
	size_t nf;
};

static const struct kind kinds[] = {
	{ "fault", 1, 40, fault_fields, 5 + 4 },
	{ "resp", 2, 8, resp_fields, 2 },
	{ "lost", 3, 8, lost_fields, 1 },
	{ "meta", 4, 0, NULL, 0 },
	{ "garbage", 0, 0, NULL, 0 },
};

static bool set_field(const struct field *f, size_t n, struct rec *r, const struct kv *kv)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(f[i].name, kv->key))
			continue;
		if (!kv->val)
			die("missing value", kv->key);
		le(r->buf + f[i].off, num(kv->key, kv->val), f[i].size);
		return true;
	}
	return false;
}

static const struct kind *find_kind(const char *name)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kinds[i].name, name))
			return &kinds[i];
	die("unknown record kind", name);
	return NULL;
}

static void meta_text(struct rec *r, const char *text)
{
	size_t n = strlen(text);

	if (32 + n > MAXREC)
		die("meta text too long", text);
	for (size_t i = 0; i < n; i++)
		r->buf[32 + i] = text[i] == ';' ? '\n' : (uint8_t)text[i];
	r->len = 32 + n;
}

static void garbage(struct rec *r, uint64_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;

	if (n > MAXREC)
		die("garbage too long", "len");
	for (uint64_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		r->buf[i] = (uint8_t)x;
	}
	r->len = n;
}

/* Defaults for a record of kind k: a well-formed header and payload. */
static void rec_init(struct rec *r, const struct kind *k, uint64_t idx)
{
	memset(r->buf, 0, 32 + 40);
	le(r->buf, 0x46504f49, 4);
	r->buf[4] = 1;
	r->buf[5] = (uint8_t)k->type;
	le(r->buf + 6, 32, 2);
	le(r->buf + 8, 1, 4);
	le(r->buf + 16, idx, 8);
	r->len = 32 + k->payload;
}

struct flagstate {
	bool last, flags_set;
	int64_t cut, extra;
	uint64_t repeat;
};

static void apply_kv(struct rec *r, const struct kind *k, const struct kv *kv,
		     struct flagstate *fs)
{
	if (!strcmp(kv->key, "t"))
		r->t_ns = num("t", kv->val ? kv->val : "");
	else if (!strcmp(kv->key, "last"))
		fs->last = true;
	else if (!strcmp(kv->key, "len"))
		fs->cut = (int64_t)num("len", kv->val ? kv->val : "");
	else if (!strcmp(kv->key, "x"))
		fs->repeat = num("x", kv->val ? kv->val : "");
	else if (!strcmp(kv->key, "extra"))
		fs->extra = (int64_t)num("extra", kv->val ? kv->val : "");
	else if (!strcmp(kv->key, "text") && k->type == 4)
		meta_text(r, kv->val);
	else if (set_field(fields, sizeof(fields) / sizeof(fields[0]), r, kv))
		;
	else if (!k->f || !set_field(k->f, k->nf, r, kv))
		die("unknown key for this kind", kv->key);
	if (!strcmp(kv->key, "flags"))
		fs->flags_set = true;
}

static void fault_default_flags(struct rec *r, const struct flagstate *fs)
{
	uint32_t flags = fs->last ? 2 : 0;

	if (r->buf[40] | r->buf[41] | r->buf[42] | r->buf[43])
		flags |= 1;
	le(r->buf + 32, flags, 4);
}

/* Returns how many times to write the record (x=N, default 1). */
static uint64_t parse_rec(char *arg, struct rec *r, uint64_t idx)
{
	struct flagstate fs = { .cut = -1, .repeat = 1 };
	char *rest = strchr(arg, ',');
	const struct kind *k;
	struct kv kv;

	if (rest)
		*rest++ = '\0';
	k = find_kind(arg);
	rec_init(r, k, idx);
	while (rest) {
		rest = next_kv(rest, &kv);
		if (!strcmp(k->name, "garbage") && !strcmp(kv.key, "len")) {
			garbage(r, num("len", kv.val ? kv.val : ""), idx);
			return 1;
		}
		apply_kv(r, k, &kv, &fs);
	}
	if (k->type == 1 && !fs.flags_set)
		fault_default_flags(r, &fs);
	if (fs.extra > 0) {
		if (r->len + (size_t)fs.extra > MAXREC)
			die("record too long", "extra");
		memset(r->buf + r->len, 0, (size_t)fs.extra);
		r->len += (size_t)fs.extra;
	}
	if (fs.cut >= 0 && (size_t)fs.cut < r->len)
		r->len = (size_t)fs.cut;
	return fs.repeat;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	int i;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-B"))
			o->big = true;
		else if (!strcmp(a, "-U"))
			o->usec = true;
		else if (!strcmp(a, "-F") && i + 1 < argc)
			o->pcapng = !strcmp(argv[++i], "pcapng");
		else if (!strcmp(a, "-L") && i + 1 < argc)
			o->linktype = (uint32_t)num("-L", argv[++i]);
		else if (!strcmp(a, "-T") && i + 1 < argc)
			o->cut = num("-T", argv[++i]);
		else
			die("unknown option", a);
	}
	if (i >= argc)
		die("usage", "mkcapture [-F pcap|pcapng] [-B] [-U] [-L LT] [-T N] OUT REC...");
	return i;
}

static void write_out(const char *path, const struct image *im, uint64_t cut)
{
	size_t n = cut < im->len ? im->len - cut : 0;
	FILE *f = strcmp(path, "-") ? fopen(path, "wb") : stdout;

	if (!f)
		die(strerror(errno), path);
	if (fwrite(im->p, 1, n, f) != n || fclose(f))
		die("write error", path);
}

int main(int argc, char **argv)
{
	struct opts o = { .linktype = 147 };
	static struct rec r;
	struct image im = { 0 };
	int first = parse_opts(argc, argv, &o);

	im.big = o.big;
	if (o.pcapng)
		pcapng_header(&im, &o);
	else
		pcap_header(&im, &o);
	r.t_ns = 0;
	for (int i = first + 1; i < argc; i++) {
		uint64_t idx = (uint64_t)(i - first - 1);

		r.t_ns += 1000;
		for (uint64_t k = 0, n = parse_rec(argv[i], &r, idx); k < n; k++) {
			if (k && r.len >= 24)
				le(r.buf + 16, idx + k, 8);
			if (o.pcapng)
				pcapng_record(&im, &o, &r);
			else
				pcap_record(&im, &o, &r);
		}
	}
	write_out(argv[first], &im, o.cut);
	free(im.p);
	return 0;
}
