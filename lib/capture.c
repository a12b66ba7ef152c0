// SPDX-License-Identifier: MIT
/*
 * Capture files (iopftool-capture(5)).
 *
 * Classic pcap (either byte order, microsecond or nanosecond stamps,
 * version 2.4) is read here, straight from the file descriptor into a
 * 512 KiB buffer: no stdio, no per-record library call.  pcapng and
 * anything unusual go to libpcap, which is also the reference the
 * tests compare this reader with (tests/unit/test-capture.c).  Both
 * stream in constant memory.
 *
 * Time stamps are 64-bit: a classic pcap header's seconds are an
 * unsigned 32-bit count (good until 2106), which libpcap hands back
 * sign-extended, so 2100 came out as 1963; both paths fix that.
 *
 * The writer produces nanosecond pcap (magic 0xa1b23c4d in host order),
 * snaplen 65535, by itself (not pcap_dump()): whole records only, one
 * write() per batch, and every write error reaches the caller.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define PCAP_FILE_HDR_LEN 24	/* classic pcap file header */
#define PCAP_REC_HDR_LEN 16	/* classic pcap record header */
#define PCAP_MAX_CAPLEN 262144	/* libpcap's MAXIMUM_SNAPLEN: longer records are corrupt */
#define NO_OFFSET UINT64_MAX

#define READER_BUFSIZE (512 * 1024)	/* >= one largest record + header, twice */

struct iopf_reader {
	pcap_t *pcap;		/* pcapng and the unusual: libpcap reads */
	FILE *fp;		/* libpcap's stream: we only ftell() it */
	char *path;		/* escaped for messages */
	int linktype;
	bool classic;		/* classic pcap, not pcapng */
	bool eof;
	int fatal;		/* sticky fatal error, 0 if none */
	bool finished;		/* a META record with end=1 was read */
	bool torn;		/* the end was a torn last record (rd->err says which) */
	uint64_t size;		/* of a regular file, else 0 */
	bool seekable;		/* ftell() works: a file, not a pipe */
	uint64_t recno;		/* of the last record returned, from 1 */
	uint64_t offset;	/* of that record (pcapng: where reading it began) */
	uint64_t end;		/* pcapng: file position after that record */
	uint64_t next;		/* where the next record starts (pcapng: reading) */
	uint64_t bad;		/* bad records (-EBADMSG) so far */
	char bad_summary[96];
	char err[512];
	char *vbuf;		/* stdio buffer of a file libpcap reads (not stdin) */
	/* classic pcap read here */
	int fd;			/* -1 when libpcap reads */
	bool own_fd;		/* opened here: closed here */
	bool swapped;		/* the file's byte order is not ours */
	bool usec;		/* microsecond stamps */
	uint32_t snaplen;	/* longer records are cut to this, as libpcap does */
	uint8_t *buf;
	size_t pos, len;	/* unread bytes: buf[pos..len) */
	/* a pipe's first bytes, read to tell the format, handed on to libpcap */
	size_t replay_pos;
};

/* ------------------------------------------------------------------ */
/* Reading the file descriptor                                         */
/* ------------------------------------------------------------------ */

/* Until buf holds want unread bytes, or the end: 0, or -errno. */
static int fill_slow(struct iopf_reader *rd, size_t want)
{
	ssize_t n;

	if (rd->pos) {
		memmove(rd->buf, rd->buf + rd->pos, rd->len - rd->pos);
		rd->len -= rd->pos;
		rd->pos = 0;
	}
	while (rd->len < want) {
		n = read(rd->fd, rd->buf + rd->len, READER_BUFSIZE - rd->len);
		if (n < 0 && errno == EINTR)
			return -EINTR;	/* a stop signal: the caller decides */
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		rd->len += (size_t)n;
	}
	return 0;
}

static inline int fill(struct iopf_reader *rd, size_t want)
{
	return rd->len - rd->pos >= want ? 0 : fill_slow(rd, want);
}

static uint32_t u32_at(const struct iopf_reader *rd, const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return rd->swapped ? __builtin_bswap32(v) : v;
}

/*
 * Bytes already taken from a pipe to tell its format, then the rest of
 * the pipe: the stream libpcap reads a pcapng from stdin through.
 */
static ssize_t replay_read(void *cookie, char *out, size_t n)
{
	struct iopf_reader *rd = cookie;
	size_t k;

	if (rd->replay_pos < rd->len) {
		k = rd->len - rd->replay_pos;
		k = k < n ? k : n;
		memcpy(out, rd->buf + rd->replay_pos, k);
		rd->replay_pos += k;
		return (ssize_t)k;
	}
	return read(rd->fd, out, n);
}

/*
 * The classic pcap file header (24 bytes): magic, version 2.4, then
 * thiszone, sigfigs, snaplen and linktype (whose top 6 bits are flags).
 * True when this reader takes the file; false leaves it to libpcap.
 */
static bool classic_header(struct iopf_reader *rd)
{
	const uint8_t *h = rd->buf;
	uint32_t magic, snaplen;
	uint16_t major, minor;

	if (rd->len < PCAP_FILE_HDR_LEN)
		return false;
	memcpy(&magic, h, 4);
	switch (magic) {
	case 0xa1b2c3d4: rd->swapped = false; rd->usec = true; break;
	case 0xa1b23c4d: rd->swapped = false; rd->usec = false; break;
	case 0xd4c3b2a1: rd->swapped = true; rd->usec = true; break;
	case 0x4d3cb2a1: rd->swapped = true; rd->usec = false; break;
	default: return false;
	}
	memcpy(&major, h + 4, 2);
	memcpy(&minor, h + 6, 2);
	if (rd->swapped) {
		major = __builtin_bswap16(major);
		minor = __builtin_bswap16(minor);
	}
	if (major != 2 || minor != 4)
		return false;	/* older layouts have libpcap's quirks */
	snaplen = u32_at(rd, h + 16);
	rd->snaplen = snaplen && snaplen <= PCAP_MAX_CAPLEN ? snaplen : PCAP_MAX_CAPLEN;
	rd->linktype = (int)(u32_at(rd, h + 20) & 0x03ffffff);
	rd->pos = PCAP_FILE_HDR_LEN;
	rd->classic = true;
	return true;
}

static int reader_check_linktype(struct iopf_reader *rd, char *err, size_t errlen)
{
	if (rd->pcap)
		rd->linktype = pcap_datalink(rd->pcap);
	if (rd->linktype >= IOPF_LINKTYPE_MIN && rd->linktype <= IOPF_LINKTYPE_MAX)
		return 0;
	snprintf(err, errlen, "%s: link type %d is not an iopf capture (expected %d..%d)",
		 rd->path, rd->linktype, IOPF_LINKTYPE_MIN, IOPF_LINKTYPE_MAX);
	return -EPROTO;
}

/* The stream libpcap reads: from where the capture began. */
static FILE *libpcap_stream(struct iopf_reader *rd, off_t base)
{
	static const cookie_io_functions_t replay = { .read = replay_read };
	FILE *fp;

	if (base >= 0 && lseek(rd->fd, base, SEEK_SET) == base) {
		rd->len = rd->pos = 0;
		if (!rd->own_fd) {
			clearerr(stdin);
			return stdin;
		}
		fp = fdopen(rd->fd, "rb");
		if (fp)
			rd->own_fd = false;	/* the stream closes it */
		return fp;
	}
	rd->replay_pos = 0;	/* a pipe: what was read, then the rest */
	return fopencookie(rd, "rb", replay);
}

/* pcapng, old pcap versions, odd magics: libpcap reads the file. */
static int reader_start_libpcap(struct iopf_reader *rd, off_t base, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	FILE *fp;
	long pos;

	fp = libpcap_stream(rd, base);
	if (!fp) {
		snprintf(err, errlen, "%s: %s", rd->path, strerror(errno));
		return -errno;
	}
	/* Large reads: libpcap reads through stdio, 4 KiB at a time by default. */
	if (fp != stdin && (rd->vbuf = malloc(256 * 1024)))
		setvbuf(fp, rd->vbuf, _IOFBF, 256 * 1024);
	rd->pcap = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO,
							    ebuf);
	if (!rd->pcap) {
		snprintf(err, errlen, "%s: %s", rd->path, ebuf);
		if (fp != stdin)
			fclose(fp);
		return -EPROTO;
	}
	rd->fp = pcap_file(rd->pcap);
	/* pcapng sections are "version 1.0" to libpcap; classic pcap is 2.4 */
	rd->classic = pcap_major_version(rd->pcap) == 2;
	pos = rd->fp ? ftell(rd->fp) : -1;
	rd->seekable = pos >= 0;
	rd->next = pos >= 0 ? (uint64_t)pos : rd->classic ? PCAP_FILE_HDR_LEN : NO_OFFSET;
	return reader_check_linktype(rd, err, errlen);
}

int iopf_reader_open(struct iopf_reader **rdp, const char *path, char *err, size_t errlen)
{
	struct iopf_reader *rd;
	char shown[256];
	off_t base;
	int rc;

	*rdp = NULL;
	iopf_path_shown(path, shown, sizeof(shown));	/* escaped; a long one elided: err keeps its reason */
	rd = calloc(1, sizeof(*rd));
	if (!rd || !(rd->path = strdup(shown)) || !(rd->buf = malloc(READER_BUFSIZE))) {
		if (rd)
			free(rd->path);
		free(rd);
		snprintf(err, errlen, "%s: out of memory", shown);
		return -ENOMEM;
	}
	rd->offset = rd->end = NO_OFFSET;
	if (!strcmp(path, "-")) {
		rd->fd = STDIN_FILENO;
	} else {
		rd->fd = open(path, O_RDONLY | O_CLOEXEC);
		rd->own_fd = rd->fd >= 0;
	}
	if (rd->fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open %s: %s", shown, strerror(-rc));
		iopf_reader_free(rd);
		return rc;
	}
	base = lseek(rd->fd, 0, SEEK_CUR);
	{
		struct stat st;

		if (!fstat(rd->fd, &st) && S_ISREG(st.st_mode))
			rd->size = (uint64_t)st.st_size;
	}
	rc = fill(rd, PCAP_FILE_HDR_LEN);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", shown, strerror(-rc));
		iopf_reader_free(rd);
		return rc;
	}
	if (!rd->len) {	/* not one byte: say so, not libpcap's "truncated dump file" */
		snprintf(err, errlen, "%s: %s, not a capture", shown,
			 rd->fd == STDIN_FILENO && !rd->own_fd ? "standard input is empty" : "empty file");
		iopf_reader_free(rd);
		return -EPROTO;
	}
	if (classic_header(rd)) {
		rd->seekable = base >= 0;
		rd->next = (base >= 0 ? (uint64_t)base : 0) + PCAP_FILE_HDR_LEN;
		rc = reader_check_linktype(rd, err, errlen);
	} else {
		rc = reader_start_libpcap(rd, base, err, errlen);
	}
	if (rc < 0) {
		iopf_reader_free(rd);
		return rc;
	}
	*rdp = rd;
	return 0;
}

void iopf_reader_free(struct iopf_reader *rd)
{
	if (!rd)
		return;
	if (rd->pcap)
		pcap_close(rd->pcap);	/* closes the stream, never stdin */
	if (rd->own_fd)
		close(rd->fd);
	free(rd->vbuf);		/* after the close that flushed through it */
	free(rd->buf);
	free(rd->path);
	free(rd);
}

/*
 * Offsets cost no system call per record.  Classic pcap: each record
 * starts where the previous one ended, 16 + caplen bytes on; only when
 * libpcap may have cut a record to the snaplen is the file position
 * asked again.  pcapng: one ftell() per record for the end of its block,
 * and the block start is read back only when someone asks (below).
 */
static void reader_locate(struct iopf_reader *rd, uint32_t caplen)
{
	long pos;

	rd->offset = rd->next;
	if (rd->classic && (caplen < (uint32_t)pcap_snapshot(rd->pcap) || !rd->seekable)) {
		rd->next = rd->offset == NO_OFFSET ? NO_OFFSET :
			   rd->offset + PCAP_REC_HDR_LEN + caplen;
		return;
	}
	pos = rd->seekable ? ftell(rd->fp) : -1;
	rd->next = pos >= 0 ? (uint64_t)pos : NO_OFFSET;
	rd->end = rd->next;
}

/*
 * A pcapng block ends with its total length, in the section's byte
 * order: read it back to find where the block started, so the offset
 * names the record's block even when other blocks came before it.
 */
static uint64_t pcapng_block_start(const struct iopf_reader *rd)
{
	uint64_t start = rd->offset, end = rd->end;
	uint32_t btl;

	if (end == NO_OFFSET || end < 4 ||
	    pread(fileno(rd->fp), &btl, 4, (off_t)end - 4) != 4)
		return start;
	if (pcap_is_swapped(rd->pcap))
		btl = __builtin_bswap32(btl);
	if (btl < 12 || btl % 4 || btl > end || (start != NO_OFFSET && end - btl < start))
		return start;
	return end - btl;
}

static void reader_msg(struct iopf_reader *rd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "record N at offset O: <what>" in rd->err. */
static void reader_msg(struct iopf_reader *rd, const char *fmt, ...)
{
	va_list ap;
	int n;

	uint64_t off = iopf_reader_offset(rd);

	if (off == NO_OFFSET)
		n = snprintf(rd->err, sizeof(rd->err), "record %" PRIu64 ": ", rd->recno);
	else
		n = snprintf(rd->err, sizeof(rd->err), "record %" PRIu64 " at offset %" PRIu64 ": ",
			     rd->recno, off);
	if (n < 0 || (size_t)n >= sizeof(rd->err))
		return;
	va_start(ap, fmt);
	vsnprintf(rd->err + n, sizeof(rd->err) - (size_t)n, fmt, ap);
	va_end(ap);
}

/* Say why the record at p could not be decoded, with the offending value. */
static int reader_bad(struct iopf_reader *rd, enum iopf_bad why, const uint8_t *p, size_t len)
{
	struct iopf_cur c = { p, p + len };
	uint32_t magic = 0;
	uint16_t hdr_len = 0;

	iopf_get_le32(&c, &magic);
	if (len >= 8) {
		c.p = p + 6;
		iopf_get_le16(&c, &hdr_len);
	}
	switch (why) {
	case IOPF_BAD_SHORT:
		reader_msg(rd, "short record: %zu bytes, the header needs %d", len,
			   IOPF_REC_HDR_LEN);
		break;
	case IOPF_BAD_MAGIC:
		reader_msg(rd, "bad magic 0x%08" PRIx32, magic);
		break;
	case IOPF_BAD_VERSION:
		reader_msg(rd, "unknown version %u", p[4]);
		break;
	case IOPF_BAD_HDR_LEN:
		reader_msg(rd, "bad hdr_len %u in a %zu-byte record", hdr_len, len);
		break;
	default:
		reader_msg(rd, "%s payload too short: %zu bytes", iopf_rec_type_name(p[5]),
			   len > hdr_len ? len - hdr_len : 0);
		break;
	}
	rd->bad++;
	return -EBADMSG;
}

/*
 * The file ends inside the record at rd->next.  In a capture never
 * finished (no META end=1) that is where its writer was killed: the end,
 * 0, with iopf_reader_torn() saying so.  After META end=1 it is damage:
 * a sticky fatal error.  rd->recno already counts the torn record.
 */
static int reader_truncated(struct iopf_reader *rd, const char *what)
{
	if (rd->finished) {
		reader_msg(rd, "%s", what);
		rd->fatal = -EPROTO;
		return rd->fatal;
	}
	reader_msg(rd, "torn last record (%s): the capture was not finished (no META end=1), "
		   "its writer was probably killed; taken as the end", what);
	rd->recno--;	/* not a record */
	rd->torn = true;
	rd->eof = true;
	return 0;
}

/*
 * pcap_next_ex() failed: a truncated or corrupt file.  Sticky.  A short
 * read of the last record ("truncated dump file" in libpcap's sf-pcap.c
 * and sf-pcapng.c) is a torn record: reader_truncated().
 */
static int reader_fail(struct iopf_reader *rd)
{
	const char *e = pcap_geterr(rd->pcap);

	rd->recno++;
	rd->offset = rd->next;
	rd->end = NO_OFFSET;
	if (strstr(e, "truncated"))
		return reader_truncated(rd, e);
	reader_msg(rd, "%s", e);
	rd->fatal = -EPROTO;
	return rd->fatal;
}

/* A META record's "end=1" line (iopftool-capture(5)): the capture was finished. */
static bool meta_is_end(const struct iopf_rec *r)
{
	const char *p = (const char *)r->payload, *e = p + r->payload_len;

	while (p < e) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		size_t n = (size_t)((nl ? nl : e) - p);

		if (n == 5 && !memcmp(p, "end=1", 5))
			return true;
		p += n + 1;
	}
	return false;
}

/* A fatal error of the classic reader, for the record that starts at rd->next. */
static int classic_fail(struct iopf_reader *rd, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int classic_fail(struct iopf_reader *rd, int rc, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	reader_msg(rd, "%s", what);
	rd->fatal = rc;
	return rc;
}

/*
 * The next record of a classic pcap: a 16-byte header (seconds, micro-
 * or nanoseconds, captured length, original length) and the bytes.
 */
static int classic_next(struct iopf_reader *rd, struct iopf_rec *r)
{
	uint32_t caplen, sec, frac;
	const uint8_t *h;
	enum iopf_bad why;
	size_t avail;
	int rc;

	rc = fill(rd, PCAP_REC_HDR_LEN);
	avail = rd->len - rd->pos;
	if (!rc && !avail) {
		rd->eof = true;
		return 0;
	}
	rd->recno++;
	rd->offset = rd->next;
	if (rc < 0)
		return classic_fail(rd, rc, "read error: %s", strerror(-rc));
	if (avail < PCAP_REC_HDR_LEN) {
		char what[128];

		snprintf(what, sizeof(what), "truncated capture: the record header has %zu of "
			 "its %d bytes", avail, PCAP_REC_HDR_LEN);
		return reader_truncated(rd, what);
	}
	h = rd->buf + rd->pos;
	caplen = u32_at(rd, h + 8);
	if (caplen > PCAP_MAX_CAPLEN)
		return classic_fail(rd, -EPROTO, "record length %" PRIu32 " is past the largest "
				    "a capture holds (%d): a corrupt file", caplen, PCAP_MAX_CAPLEN);
	rc = fill(rd, PCAP_REC_HDR_LEN + (size_t)caplen);
	avail = rd->len - rd->pos;
	if (rc < 0)
		return classic_fail(rd, rc, "read error: %s", strerror(-rc));
	if (avail < PCAP_REC_HDR_LEN + (size_t)caplen) {
		char what[128];

		snprintf(what, sizeof(what), "truncated capture: a %" PRIu32 "-byte record has "
			 "%zu bytes", caplen, avail - PCAP_REC_HDR_LEN);
		return reader_truncated(rd, what);
	}
	h = rd->buf + rd->pos;	/* fill() may have moved it */
	sec = u32_at(rd, h);
	frac = u32_at(rd, h + 4);
	rd->pos += PCAP_REC_HDR_LEN + (size_t)caplen;
	rd->next = rd->offset + PCAP_REC_HDR_LEN + caplen;
	/* unsigned 32-bit seconds: 2038 is not the end */
	r->ts.tv_sec = (time_t)sec;
	r->ts.tv_nsec = rd->usec ? (long)frac * 1000 : (long)frac;
	/* a record longer than the snaplen is cut to it, as libpcap does */
	why = iopf_rec_decode(h + PCAP_REC_HDR_LEN, caplen < rd->snaplen ? caplen : rd->snaplen, r);
	if (why != IOPF_BAD_NONE)
		return reader_bad(rd, why, h + PCAP_REC_HDR_LEN,
				  caplen < rd->snaplen ? caplen : rd->snaplen);
	if (r->type == IOPF_REC_META && meta_is_end(r))
		rd->finished = true;
	return 1;
}

int iopf_reader_next(struct iopf_reader *rd, struct iopf_rec *r)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	enum iopf_bad why;
	int rc;

	if (rd->fatal)
		return rd->fatal;
	if (rd->eof)
		return 0;
	if (!rd->pcap)
		return classic_next(rd, r);
	rc = pcap_next_ex(rd->pcap, &h, &data);
	if (rc == PCAP_ERROR_BREAK) {
		rd->eof = true;
		return 0;
	}
	if (rc != 1)
		return reader_fail(rd);
	rd->recno++;
	reader_locate(rd, h->caplen);
	/* libpcap sign-extends a classic header's unsigned 32-bit seconds */
	r->ts.tv_sec = rd->classic ? (time_t)(uint32_t)h->ts.tv_sec : h->ts.tv_sec;
	r->ts.tv_nsec = h->ts.tv_usec;	/* nanoseconds: opened with PRECISION_NANO */
	why = iopf_rec_decode(data, h->caplen, r);
	if (why != IOPF_BAD_NONE)
		return reader_bad(rd, why, data, h->caplen);
	if (r->type == IOPF_REC_META && meta_is_end(r))
		rd->finished = true;
	return 1;
}

const char *iopf_reader_error(const struct iopf_reader *rd)
{
	return rd->err;
}

bool iopf_reader_bad_shown(const struct iopf_reader *rd)
{
	return rd->bad <= IOPF_READER_BAD_SHOWN;
}

const char *iopf_reader_bad_summary(struct iopf_reader *rd)
{
	if (rd->bad <= IOPF_READER_BAD_SHOWN)
		return NULL;
	snprintf(rd->bad_summary, sizeof(rd->bad_summary),
		 "%" PRIu64 " more bad records not shown (%" PRIu64 " in all)",
		 rd->bad - IOPF_READER_BAD_SHOWN, rd->bad);
	return rd->bad_summary;
}

const char *iopf_reader_torn(const struct iopf_reader *rd)
{
	return rd->torn ? rd->err : NULL;
}

/* No system call: where the next record starts, as the reader keeps it. */
void iopf_reader_position(const struct iopf_reader *rd, uint64_t *pos, uint64_t *size)
{
	*pos = rd->next == NO_OFFSET ? 0 : rd->next;
	*size = rd->size;
}

uint64_t iopf_reader_recno(const struct iopf_reader *rd)
{
	return rd->recno;
}

/* UINT64_MAX when unknown (pcapng read from a pipe). */
uint64_t iopf_reader_offset(const struct iopf_reader *rd)
{
	return rd->classic ? rd->offset : pcapng_block_start(rd);
}

int iopf_reader_linktype(const struct iopf_reader *rd)
{
	return rd->linktype;
}

const char *iopf_reader_path(const struct iopf_reader *rd)
{
	return rd->path;
}

/* ------------------------------------------------------------------ */

#define WRITER_BUFSIZE (256 * 1024)
#define PCAP_NSEC_MAGIC 0xa1b23c4du	/* nanosecond pcap, written in host order */

/*
 * The writer keeps its own buffer of whole records and hands it to the
 * kernel with one write() per batch, never stdio, whose buffer may end in
 * the middle of a record: a capture cut by SIGKILL or a crash (after the
 * once-a-second flush of record and monitor) then ends on a record
 * boundary, and readers see every record that reached the file.  A write
 * the kernel takes only part of (a full disk, a file size limit) is cut
 * back to the file's last whole record (ftruncate), so an error leaves a
 * capture cut short, never a torn one.
 *
 * Rotation (record -C, -G, -W, iopftool-record(8) "ROTATION"): the writer
 * says when a switch is due; the caller switches at a point where its
 * counts match what was written (between batches), so no group's records
 * are split across files and each file's META end carries its own counts
 * (the run's totals minus those at the file's start).
 */
struct iopf_writer {
	int fd;
	uint8_t *buf;		/* whole records not written yet */
	size_t len;
	uint64_t count;		/* records written, and the next seq */
	int err;		/* first write error, sticky */
	uint64_t on_disk;	/* bytes of whole records in the file */
	uint64_t bytes;		/* of the current file, buffered ones included */
	/* rotation */
	struct iopf_rotate_cfg rot;
	char *pattern;		/* the -w name */
	char path[4096];	/* the current file */
	bool strftime_name;	/* -G with a '%' in the name */
	bool rotate_asked;	/* iopf_writer_request_rotate() */
	uint64_t file_seq;	/* files opened before the current one */
	uint64_t file_start_ns;	/* CLOCK_MONOTONIC */
	int linktype;
	char *start_text;	/* the META start text, for every file */
	struct iopf_capture_counts base;	/* the run's counts when the file began */
	uint8_t rec[IOPF_SNAPLEN];	/* one encoded record, reused */
};

/* "-" is a dup of stdout, so closing the capture leaves stdout alone. */
static int open_output(const char *path)
{
	if (strcmp(path, "-"))
		return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	fflush(stdout);
	return fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0);
}

/*
 * Write the buffer: one write() unless the kernel takes less (a full
 * disk, a pipe).  On an error the file is cut back to where this batch
 * began, its last whole record: a regular file is never left torn.
 */
static int writer_push(struct iopf_writer *w)
{
	size_t off = 0;

	while (!w->err && off < w->len) {
		ssize_t n = write(w->fd, w->buf + off, w->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			w->err = n < 0 ? -errno : -EIO;
		else
			off += (size_t)n;
	}
	if (w->err && off) {
		/* the buffer holds whole records (after the file header at the start) */
		size_t pos = w->on_disk ? 0 : PCAP_FILE_HDR_LEN, whole = 0;

		while (pos <= off) {
			uint32_t caplen;

			whole = pos;
			if (pos + PCAP_REC_HDR_LEN > off)
				break;
			memcpy(&caplen, w->buf + pos + 8, 4);
			pos += PCAP_REC_HDR_LEN + caplen;
		}
		if (ftruncate(w->fd, (off_t)(w->on_disk + whole)) == 0)
			off = whole;	/* not a regular file: what was written stays */
	}
	w->on_disk += off;
	w->len = 0;
	return w->err;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put_u16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

/* The classic pcap file header (iopftool-capture(5)) at the start of the buffer. */
static void file_header(struct iopf_writer *w)
{
	uint8_t *h = w->buf;

	put_u32(h, PCAP_NSEC_MAGIC);
	put_u16(h + 4, 2);		/* version 2.4 */
	put_u16(h + 6, 4);
	put_u32(h + 8, 0);		/* thiszone */
	put_u32(h + 12, 0);		/* sigfigs */
	put_u32(h + 16, IOPF_SNAPLEN);
	put_u32(h + 20, (uint32_t)w->linktype);
	w->len = PCAP_FILE_HDR_LEN;
	w->bytes = PCAP_FILE_HDR_LEN;
	w->on_disk = 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Decimal digits of n (at least 1). */
static int digits(uint64_t n)
{
	int d = 1;

	while (n >= 10) {
		n /= 10;
		d++;
	}
	return d;
}

/*
 * The name of file number seq, as tcpdump makes them: the -w name, run
 * through strftime(3) (local time) with -G and a '%' in it, then with -C
 * or -W a file number (from 1, the first file without one; with -W
 * from 0, wrapping at COUNT, zero-padded to COUNT's width).  -G without
 * a '%' numbers its files too (tcpdump would overwrite the one file).
 */
static int make_name(const struct iopf_writer *w, uint64_t seq, char *out, size_t len)
{
	char base[4096];
	bool numbered = w->rot.size || (w->rot.interval_ns && !w->strftime_name);
	int n;

	if (w->strftime_name) {
		time_t now = time(NULL);
		struct tm tm;

		if (!localtime_r(&now, &tm))
			return -EINVAL;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"	/* the -w name is the pattern */
		if (!strftime(base, sizeof(base), w->pattern, &tm))
			return -ENAMETOOLONG;
#pragma GCC diagnostic pop
	} else {
		snprintf(base, sizeof(base), "%s", w->pattern);
	}
	if (w->rot.count && (w->rot.size || !w->rot.interval_ns))
		n = snprintf(out, len, "%s%0*" PRIu64, base, digits(w->rot.count - 1),
			     seq % w->rot.count);
	else if (w->rot.count && !w->strftime_name)
		n = snprintf(out, len, "%s%0*" PRIu64, base, digits(w->rot.count - 1), seq);
	else if (numbered && seq)
		n = snprintf(out, len, "%s%" PRIu64, base, seq);
	else
		n = snprintf(out, len, "%s", base);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int iopf_writer_open_rotating(struct iopf_writer **wp, const char *path, int linktype,
			      const struct iopf_rotate_cfg *rot, char *err, size_t errlen)
{
	struct iopf_writer *w;
	int rc;

	char shown[256];

	*wp = NULL;
	iopf_path_shown(path, shown, sizeof(shown));	/* in messages: escaped, a long one elided */
	if (linktype < IOPF_LINKTYPE_MIN || linktype > IOPF_LINKTYPE_MAX) {
		snprintf(err, errlen, "%s: link type %d is not one of %d..%d", shown, linktype,
			 IOPF_LINKTYPE_MIN, IOPF_LINKTYPE_MAX);
		return -EINVAL;
	}
	if (rot && (rot->size || rot->interval_ns || rot->count) && !strcmp(path, "-")) {
		snprintf(err, errlen, "-w -: standard output cannot be rotated");
		return -EINVAL;
	}
	w = calloc(1, sizeof(*w));
	if (!w || !(w->buf = malloc(WRITER_BUFSIZE)) || !(w->pattern = strdup(path))) {
		if (w)
			free(w->buf);
		free(w);
		snprintf(err, errlen, "%s: out of memory", shown);
		return -ENOMEM;
	}
	if (rot)
		w->rot = *rot;
	w->linktype = linktype;
	w->strftime_name = w->rot.interval_ns && strchr(path, '%');
	rc = make_name(w, 0, w->path, sizeof(w->path));
	if (rc) {
		snprintf(err, errlen, "%s: the file name is too long", path);
		goto fail;
	}
	w->fd = open_output(w->path);
	if (w->fd < 0) {
		rc = -errno;
		iopf_path_shown(w->path, shown, sizeof(shown));
		snprintf(err, errlen, "cannot create %s: %s", shown, strerror(-rc));
		goto fail;
	}
	w->file_start_ns = mono_ns();
	file_header(w);
	*wp = w;
	return 0;
fail:
	free(w->pattern);
	free(w->buf);
	free(w);
	return rc;
}

int iopf_writer_open(struct iopf_writer **wp, const char *path, int linktype,
		     char *err, size_t errlen)
{
	return iopf_writer_open_rotating(wp, path, linktype, NULL, err, errlen);
}

int iopf_writer_put(struct iopf_writer *w, struct iopf_rec *r)
{
	size_t n;
	uint8_t *h;

	if (w->err)
		return w->err;
	/* ts_sec is unsigned 32-bit in the file: 1970 to 2106-02-07T06:28:15Z, never wrapped */
	if (r->ts.tv_sec < 0 || (uint64_t)r->ts.tv_sec > UINT32_MAX)
		return -EOVERFLOW;
	r->seq = w->count;
	n = iopf_rec_encode(r, w->rec, sizeof(w->rec));
	if (!n)
		return -EMSGSIZE;
	if (w->len + PCAP_REC_HDR_LEN + n > WRITER_BUFSIZE && writer_push(w))
		return w->err;
	h = w->buf + w->len;
	put_u32(h, (uint32_t)r->ts.tv_sec);
	put_u32(h + 4, (uint32_t)r->ts.tv_nsec);
	put_u32(h + 8, (uint32_t)n);
	put_u32(h + 12, (uint32_t)n);
	memcpy(h + PCAP_REC_HDR_LEN, w->rec, n);
	w->len += PCAP_REC_HDR_LEN + n;
	w->bytes += PCAP_REC_HDR_LEN + n;
	w->count++;
	return 0;
}

int iopf_writer_meta(struct iopf_writer *w, const struct timespec *ts, const char *text)
{
	struct iopf_rec r = {
		.type = IOPF_REC_META,
		.payload = (const uint8_t *)text,
		.payload_len = strlen(text),
	};

	if (ts)
		r.ts = *ts;
	else
		clock_gettime(CLOCK_REALTIME, &r.ts);
	return iopf_writer_put(w, &r);
}

/* META start: the saved lines, with file= and file_seq= when rotating. */
static int write_start(struct iopf_writer *w, const struct timespec *ts)
{
	char text[4096 + 128];

	if (!w->start_text)
		return 0;
	if (w->rot.size || w->rot.interval_ns || w->rot.count || w->file_seq)
		snprintf(text, sizeof(text), "%sfile_seq=%" PRIu64 "\n", w->start_text, w->file_seq);
	else
		snprintf(text, sizeof(text), "%s", w->start_text);
	return iopf_writer_meta(w, ts, text);
}

int iopf_writer_meta_start(struct iopf_writer *w, const struct timespec *ts, const char *source,
			   const char *kernel, const char *extra)
{
	char text[4096];
	struct utsname u;

	if (!kernel)
		kernel = uname(&u) ? "unknown" : u.release;
	snprintf(text, sizeof(text),
		 "tool=iopftool\nversion=%s\nsource=%s\nkernel=%s\nfault_record_size=%zu\n%s",
		 IOPF_VERSION, source, kernel, IOPF_FAULT_SIZE, extra ? extra : "");
	free(w->start_text);
	w->start_text = strdup(text);
	if (!w->start_text)
		return -ENOMEM;
	return write_start(w, ts);
}

static uint64_t minus(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

int iopf_writer_end(struct iopf_writer *w, const struct timespec *ts,
		    const struct iopf_capture_counts *total)
{
	char text[1024];
	int n;

	n = snprintf(text, sizeof(text), "end=1\nfaults=%" PRIu64 "\ngroups=%" PRIu64
		     "\nresponses=%" PRIu64 "\nlost=%" PRIu64 "\n",
		     minus(total->faults, w->base.faults), minus(total->groups, w->base.groups),
		     minus(total->responses, w->base.responses), minus(total->lost, w->base.lost));
	if (total->has_auto_responses)
		snprintf(text + n, sizeof(text) - (size_t)n, "auto_responses=%" PRIu64 "\n",
			 minus(total->auto_responses, w->base.auto_responses));
	return iopf_writer_meta(w, ts, text);
}

int iopf_writer_meta_end(struct iopf_writer *w, const struct timespec *ts, uint64_t faults,
			 uint64_t groups, uint64_t responses, uint64_t lost, const char *extra)
{
	char text[1024];
	struct iopf_capture_counts t = { .faults = faults, .groups = groups,
					 .responses = responses, .lost = lost };

	if (!extra || !*extra)
		return iopf_writer_end(w, ts, &t);
	snprintf(text, sizeof(text), "end=1\nfaults=%" PRIu64 "\ngroups=%" PRIu64 "\nresponses=%" PRIu64
		 "\nlost=%" PRIu64 "\n%s", minus(faults, w->base.faults),
		 minus(groups, w->base.groups), minus(responses, w->base.responses),
		 minus(lost, w->base.lost), extra);
	return iopf_writer_meta(w, ts, text);
}

int iopf_writer_flush(struct iopf_writer *w)
{
	return writer_push(w);
}

bool iopf_writer_rotate_due(const struct iopf_writer *w, uint64_t now_ns)
{
	if (w->err)
		return false;
	if (w->rotate_asked || (w->rot.size && w->bytes >= w->rot.size))
		return true;
	return w->rot.interval_ns && now_ns - w->file_start_ns >= w->rot.interval_ns;
}

uint64_t iopf_writer_rotate_at(const struct iopf_writer *w)
{
	if (!w->rot.interval_ns)
		return UINT64_MAX;
	return w->file_start_ns + w->rot.interval_ns;
}

void iopf_writer_request_rotate(struct iopf_writer *w)
{
	w->rotate_asked = true;
}

const char *iopf_writer_path(const struct iopf_writer *w)
{
	return w->path;
}

uint64_t iopf_writer_files(const struct iopf_writer *w)
{
	return w->file_seq + 1;
}

int iopf_writer_rotate(struct iopf_writer *w, const struct iopf_capture_counts *total,
		       char *err, size_t errlen)
{
	char next[sizeof(w->path)];
	bool reopen = w->rotate_asked && !w->rot.size && !w->rot.interval_ns;
	struct timespec ts;
	int rc, fd;

	/* -G with -W alone: stop after COUNT files (tcpdump) */
	if (!reopen && w->rot.count && w->rot.interval_ns && !w->rot.size &&
	    w->file_seq + 1 >= w->rot.count)
		return 1;
	w->rotate_asked = false;
	clock_gettime(CLOCK_REALTIME, &ts);
	rc = iopf_writer_end(w, &ts, total);
	rc = rc ?: writer_push(w);
	if (rc) {
		snprintf(err, errlen, "%s: write error: %s", w->path, strerror(-rc));
		return rc;
	}
	if (close(w->fd) && errno != EINTR) {
		w->fd = -1;
		w->err = -errno;
		snprintf(err, errlen, "%s: write error: %s", w->path, strerror(-w->err));
		return w->err;
	}
	w->fd = -1;
	if (reopen) {
		snprintf(next, sizeof(next), "%s", w->path);	/* SIGHUP: the same name */
	} else {
		rc = make_name(w, w->file_seq + 1, next, sizeof(next));
		/* a coarse strftime pattern: never truncate the file just finished */
		if (!rc && !strcmp(next, w->path)) {
			size_t l = strlen(next);

			rc = snprintf(next + l, sizeof(next) - l, ".%" PRIu64, w->file_seq + 1) >=
			     (int)(sizeof(next) - l) ? -ENAMETOOLONG : 0;
		}
		if (rc) {
			w->err = rc;
			snprintf(err, errlen, "%s: the next file name is too long", w->pattern);
			return rc;
		}
		unlink(next);	/* -W: the oldest file goes (a reader holding it keeps it) */
	}
	fd = open_output(next);
	if (fd < 0) {
		w->err = -errno;
		snprintf(err, errlen, "cannot create %s: %s", next, strerror(-w->err));
		return w->err;
	}
	w->fd = fd;
	snprintf(w->path, sizeof(w->path), "%s", next);
	w->file_seq++;
	w->file_start_ns = mono_ns();
	w->base = *total;
	file_header(w);
	rc = write_start(w, &ts);
	if (rc)
		snprintf(err, errlen, "%s: write error: %s", w->path, strerror(-rc));
	return rc;
}

int iopf_writer_close(struct iopf_writer *w)
{
	int rc;

	if (!w)
		return 0;
	rc = w->fd >= 0 ? writer_push(w) : w->err;
	if (w->fd >= 0 && close(w->fd) && !rc && errno != EINTR)
		rc = -errno;
	free(w->start_text);
	free(w->pattern);
	free(w->buf);
	free(w);
	return rc;
}

uint64_t iopf_writer_count(const struct iopf_writer *w)
{
	return w->count;
}
