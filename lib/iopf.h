/* SPDX-License-Identifier: MIT */
/*
 * libiopf: decode, check and replay Linux iommufd I/O page fault queues.
 *
 * The one public header.  Conventions:
 *  - functions return 0 (or a count) on success and a negative errno on
 *    failure; they never exit, never print to stderr and keep no globals;
 *  - objects are opaque handles: iopf_<object>_new/_free, iopf_<object>_<verb>;
 *  - diagnostics go to a caller-set log callback (struct iopf_log).
 *
 * The error contract: a function that returns an error has said it
 * already, once, naming what it concerns: to the log it was given (its
 * cfg's or its object's), or, for those that take an err buffer instead
 * (iopf_target_open(), iopf_reader_open(), iopf_writer_open(), ...), in
 * that buffer for the caller to print as it is.  A caller adds context if
 * it likes, but never decodes an errno to guess what was already said.
 * (Functions whose error is part of their result, such as a parser's
 * -EINVAL or iopf_session_drain()'s -ESHUTDOWN at a socket's end of
 * stream, say nothing; their comment says so.)
 *
 * What only the library and its tests use is in lib/internal.h, not here.
 */
#ifndef IOPF_H
#define IOPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

/* ------------------------------------------------------------------ */
/* uAPI: <linux/iommufd.h> with the fault queue (Linux >= 6.11).  Where */
/* the system header is older, the build (and pkg-config --cflags iopf) */
/* puts libiopf's copy, lib/uapi/linux/iommufd.h, first on the path.    */
/* ------------------------------------------------------------------ */
#include <linux/iommufd.h>
#ifndef IOMMU_FAULT_QUEUE_ALLOC
#error "<linux/iommufd.h> has no fault queue (Linux < 6.11): build with `pkg-config --cflags iopf`"
#endif

_Static_assert(sizeof(struct iommu_hwpt_pgfault) == 40, "pgfault is 40 bytes");
_Static_assert(offsetof(struct iommu_hwpt_pgfault, addr) == 24, "pgfault.addr at 24");
_Static_assert(offsetof(struct iommu_hwpt_pgfault, cookie) == 36, "pgfault.cookie at 36");
_Static_assert(sizeof(struct iommu_hwpt_page_response) == 8, "response is 8 bytes");
_Static_assert(offsetof(struct iommu_hwpt_page_response, code) == 4, "response.code at 4");
_Static_assert(sizeof(struct iommu_fault_alloc) == 16, "fault_alloc is 16 bytes");
_Static_assert(offsetof(struct iommu_fault_alloc, out_fault_fd) == 12, "out_fault_fd at 12");
_Static_assert(sizeof(struct iommu_hwpt_alloc) == 48, "hwpt_alloc is 48 bytes");
_Static_assert(offsetof(struct iommu_hwpt_alloc, fault_id) == 40, "hwpt_alloc.fault_id at 40");

#define IOPF_FAULT_SIZE	 ((size_t)sizeof(struct iommu_hwpt_pgfault))	   /* 40 */
#define IOPF_RESP_SIZE	 ((size_t)sizeof(struct iommu_hwpt_page_response)) /* 8 */
/* Kernel-internal flag some IOMMUs leak into records (doc/kernel-notes.md §1). */
#define IOPF_FLAG_RESPONSE_NEEDS_PASID (1u << 2)

/* ------------------------------------------------------------------ */
/* Logging                                                             */
/* ------------------------------------------------------------------ */
enum iopf_log_level { IOPF_LOG_ERR, IOPF_LOG_WARN, IOPF_LOG_INFO, IOPF_LOG_DEBUG };

struct iopf_log {
	void (*fn)(void *ctx, enum iopf_log_level level, const char *msg);
	void *ctx;
};

/* Format and pass a message to log->fn; no-op when log or log->fn is NULL. */
void iopf_log_printf(const struct iopf_log *log, enum iopf_log_level level,
		     const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------ */
/* Capture records (iopftool-capture(5)): 32-byte header, LE fields   */
/* ------------------------------------------------------------------ */
#define IOPF_REC_MAGIC	 0x46504f49u /* "IOPF" as a little-endian u32 */
#define IOPF_REC_VERSION 1
#define IOPF_REC_HDR_LEN 32
#define IOPF_LINKTYPE_DEFAULT 147 /* LINKTYPE_USER0 */
#define IOPF_LINKTYPE_MIN 147
#define IOPF_LINKTYPE_MAX 162
#define IOPF_SNAPLEN	 65535

enum iopf_rec_type {
	IOPF_REC_FAULT = 1,
	IOPF_REC_RESPONSE = 2,
	IOPF_REC_LOST = 3,
	IOPF_REC_META = 4,
	/* Written by the tap only (lib/tap.c, iopftool-capture(5)). */
	IOPF_REC_DELIVERY = 5,		/* a group handed to a reader, with its cookie */
	IOPF_REC_AUTO_RESPONSE = 6,	/* the kernel's own response (detach, queue destroyed) */
	IOPF_REC_REPORTED = 7,		/* a fault as the device reported it */
};

/* A decoded record, in host byte order. */
struct iopf_rec {
	struct timespec ts;	/* pcap timestamp: CLOCK_REALTIME at the event */
	uint8_t version;
	uint8_t type;		/* enum iopf_rec_type, or an unknown value */
	uint16_t hdr_len;
	uint32_t queue_id;
	uint32_t status;	/* RESPONSE: 0 accepted, else positive errno */
	uint64_t seq;
	uint64_t latency_ns;	/* RESPONSE: delivery read to response */
	union {
		struct iommu_hwpt_pgfault fault;
		struct iommu_hwpt_page_response resp;
		uint64_t lost;
	} u;
	const uint8_t *payload;	/* the raw payload (META text, extra bytes) */
	size_t payload_len;
};

/* Why a record could not be decoded (0 = it could). */
enum iopf_bad {
	IOPF_BAD_NONE = 0,
	IOPF_BAD_SHORT,		/* shorter than the 32-byte header */
	IOPF_BAD_MAGIC,
	IOPF_BAD_VERSION,
	IOPF_BAD_HDR_LEN,	/* below 32 or past the record's end */
	IOPF_BAD_PAYLOAD,	/* payload shorter than its type needs */
};

/*
 * Decode one record from len bytes at p, by offset, never by cast.
 * Returns IOPF_BAD_NONE and fills *r (r->payload points into p), or the
 * reason it could not.  Unknown types decode with IOPF_BAD_NONE: the
 * caller decides to skip them.  r->ts is left untouched.
 */
enum iopf_bad iopf_rec_decode(const uint8_t *p, size_t len, struct iopf_rec *r);
const char *iopf_bad_name(enum iopf_bad why);

/* Encode r (header + payload) into buf; returns the length, or 0 when cap is too small. */
size_t iopf_rec_encode(const struct iopf_rec *r, uint8_t *buf, size_t cap);

/* ------------------------------------------------------------------ */
/* Capture files (libpcap)                                             */
/* ------------------------------------------------------------------ */
struct iopf_reader;

/* Open a pcap or pcapng capture ("-" for stdin).  On failure returns a
 * negative errno and a message naming the file in err. */
int iopf_reader_open(struct iopf_reader **rd, const char *path, char *err, size_t errlen);
/*
 * Next record: 1 and *r filled (r->payload valid until the next call),
 * 0 at the end, -EBADMSG for a record that could not be decoded (the
 * reader can go on), other negative errno for a fatal error (truncated
 * or corrupt file).  After an error iopf_reader_error() says what.
 * A torn last record in a capture without META end=1 (its writer was
 * killed) is the end, not an error: 0, and iopf_reader_torn() says so.
 */
int iopf_reader_next(struct iopf_reader *rd, struct iopf_rec *r);
const char *iopf_reader_error(const struct iopf_reader *rd);
/*
 * Bad records are printed for the first IOPF_READER_BAD_SHOWN of a file
 * only (a zero-filled tail would be one line per 16 bytes):
 * iopf_reader_bad_shown() says whether the last one is among them, and at
 * the end iopf_reader_bad_summary() says how many were left out ("N more
 * bad records not shown (M in all)"), or is NULL.
 */
#define IOPF_READER_BAD_SHOWN 10
bool iopf_reader_bad_shown(const struct iopf_reader *rd);
const char *iopf_reader_bad_summary(struct iopf_reader *rd);
/*
 * The warning read and stats give for the first record of a file that
 * carries cookie 0 (a fault or a response): iopftool(8) "Kernel facts".
 */
#define IOPF_COOKIE0_WARNING "carries cookie 0: on the 6.12.117 and 7.3.4 kernels a response " \
	"with cookie 0 written while groups are outstanding fails with EINVAL and from then " \
	"on the queue hands out cookie 0 (iopftool(8) \"Kernel facts\"); further records " \
	"with cookie 0 in this file are not reported"
/* After the end: a message naming the torn last record, or NULL. */
const char *iopf_reader_torn(const struct iopf_reader *rd);
/* Bytes read so far and the file's size (0 when unknown: a pipe). */
void iopf_reader_position(const struct iopf_reader *rd, uint64_t *pos, uint64_t *size);
uint64_t iopf_reader_recno(const struct iopf_reader *rd);  /* pcap record number, from 1 */
uint64_t iopf_reader_offset(const struct iopf_reader *rd); /* byte offset of that record */
int iopf_reader_linktype(const struct iopf_reader *rd);
const char *iopf_reader_path(const struct iopf_reader *rd);
void iopf_reader_free(struct iopf_reader *rd);

struct iopf_writer;

/* Create a capture ("-" for stdout): nanosecond pcap, snaplen 65535. */
int iopf_writer_open(struct iopf_writer **w, const char *path, int linktype,
		     char *err, size_t errlen);
/* Append a record; sets r->seq to the next number (from 0) and encodes it. */
/*
 * Append one record: 0, or -errno.  A time stamp outside the pcap
 * format's unsigned 32-bit seconds (before 1970, after
 * 2106-02-07T06:28:15Z) is refused with -EOVERFLOW, never wrapped; the
 * writer goes on.  Write errors (ENOSPC, EFBIG) stick.
 */
int iopf_writer_put(struct iopf_writer *w, struct iopf_rec *r);
/**
 * iopf_meta_get() - one value of a META record (iopftool-capture(5))
 * @r: a META record
 * @key: the key, e.g. "source" or "end"
 * @val: set to its value (cut to fit, NUL-terminated)
 * @len: the size of @val
 *
 * Lines are key=value, split at the first '='; a key given twice has its
 * last value, as in the JSON printer.  Return: true when @key is there.
 */
bool iopf_meta_get(const struct iopf_rec *r, const char *key, char *val, size_t len);
/**
 * iopf_writer_meta_start() - the META record a capture starts with
 * @w: the writer
 * @ts: its time stamp (NULL: now)
 * @source: the queue's name (source=)
 * @kernel: kernel= (NULL: this machine's uname -r)
 * @extra: more key=value lines, each ending in a newline, or NULL
 *
 * Writes tool=, version=, source=, kernel= and fault_record_size= as
 * iopftool-capture(5) lists them.  Return: as iopf_writer_put().
 */
int iopf_writer_meta_start(struct iopf_writer *w, const struct timespec *ts, const char *source,
			   const char *kernel, const char *extra);
/**
 * iopf_writer_meta_end() - the META record of a capture that ended cleanly
 * @w: the writer
 * @ts: its time stamp (NULL: now)
 * @faults: FAULT records written
 * @groups: groups delivered
 * @responses: RESPONSE records written
 * @lost: records lost
 * @extra: more key=value lines, each ending in a newline, or NULL
 *
 * end=1 tells readers the capture is complete.  Return: as iopf_writer_put().
 */
int iopf_writer_meta_end(struct iopf_writer *w, const struct timespec *ts, uint64_t faults,
			 uint64_t groups, uint64_t responses, uint64_t lost, const char *extra);
/* The run's totals a META end record carries (a rotated file: minus those at its start). */
struct iopf_capture_counts {
	uint64_t faults, groups, responses, lost, auto_responses;
	bool has_auto_responses;	/* the tap's: write auto_responses= */
};
/* META end=1 with @total's counts, less those at the current file's start. */
int iopf_writer_end(struct iopf_writer *w, const struct timespec *ts,
		    const struct iopf_capture_counts *total);
/*
 * A writer that rotates its capture (record -C, -G, -W as tcpdump has
 * them; iopftool-record(8) "ROTATION").  File names: @path through
 * strftime(3) with -G and a '%' in it; then with -C or -W a file number
 * (-C alone: the first file unnumbered, then 1, 2, ...; -W: 0..COUNT-1,
 * zero-padded, wrapping: the oldest file is removed); -G without a '%'
 * numbers its files like -C.  Every file is a whole capture: the META
 * start text of iopf_writer_meta_start() (plus file_seq=N, the file's
 * number from 0) and a META end record with that file's counts.
 */
struct iopf_rotate_cfg {
	uint64_t size;		/* -C: switch once the file holds this many bytes; 0 none */
	uint64_t interval_ns;	/* -G: switch when the file is this old; 0 none */
	uint64_t count;		/* -W: -C: names wrap after COUNT files; -G alone: stop after COUNT */
};
int iopf_writer_open_rotating(struct iopf_writer **w, const char *path, int linktype,
			      const struct iopf_rotate_cfg *rot, char *err, size_t errlen);
/* A switch is due (size reached, interval over, or asked for); no system call. */
bool iopf_writer_rotate_due(const struct iopf_writer *w, uint64_t now_mono_ns);
/* CLOCK_MONOTONIC ns of the next -G switch; UINT64_MAX without -G. */
uint64_t iopf_writer_rotate_at(const struct iopf_writer *w);
/* Switch at the next iopf_writer_rotate() (SIGHUP: without -C/-G the same name, reopened). */
void iopf_writer_request_rotate(struct iopf_writer *w);
/*
 * Switch files: META end (this file's counts: @total less the totals at
 * its start), flush, close; open the next, META start.  Call it where
 * @total matches what was written (between batches): records are never
 * split from their group's.  Return: 0; 1 when -G with -W alone has made
 * its COUNT files (nothing done: the caller stops and closes); -errno
 * with a message in @err (the writer is then failed: its errors stick).
 */
int iopf_writer_rotate(struct iopf_writer *w, const struct iopf_capture_counts *total,
		       char *err, size_t errlen);
const char *iopf_writer_path(const struct iopf_writer *w);	/* the current file */
int iopf_writer_flush(struct iopf_writer *w);	/* -errno on a write error (ENOSPC...) */
int iopf_writer_close(struct iopf_writer *w);	/* flush, close, free; -errno if anything failed */

/* ------------------------------------------------------------------ */
/* Metrics: Prometheus text format (lib/metrics.c)                     */
/* ------------------------------------------------------------------ */
/*
 * Label sets kept apart: queues, and (queue, device, PASID) sets for the
 * fault and group counters.  Records of any further ones are counted in
 * one series labelled "other" (and in iopf_metrics_folded_total).
 */
#define IOPF_METRICS_QUEUES 32
#define IOPF_METRICS_SETS 64
struct iopf_metrics;
/* tap: groups are the tap's DELIVERY records and queues carry pid and comm labels. */
int iopf_metrics_new(struct iopf_metrics **m, bool tap);
void iopf_metrics_free(struct iopf_metrics *m);
/* Count one record (FAULT, RESPONSE, LOST, the tap's DELIVERY and AUTO_RESPONSE); no allocation. */
void iopf_metrics_rec(struct iopf_metrics *m, const struct iopf_rec *r);
/*
 * The text exposition format (version 0.0.4), every metric with HELP and
 * TYPE; in a buffer of the metrics' own, valid until the next call.
 */
const char *iopf_metrics_text(struct iopf_metrics *m, size_t *len);

/* ------------------------------------------------------------------ */
/* One output path for text and JSON (iproute2 json_print style)       */
/* ------------------------------------------------------------------ */
enum iopf_out_mode { IOPF_OUT_TEXT, IOPF_OUT_JSON, IOPF_OUT_PRETTY };

struct iopf_out;

struct iopf_out *iopf_out_new(FILE *f, enum iopf_out_mode mode);
void iopf_out_free(struct iopf_out *o);	/* writes what is buffered to f, then frees */
bool iopf_out_is_json(const struct iopf_out *o);
/*
 * Each call prints text with fmt (skipped when fmt is NULL) or, in JSON
 * mode, adds member key (skipped when key is NULL).  Inside an array
 * key is ignored.
 */
void iopf_out_begin(struct iopf_out *o);   /* start a record / document */
void iopf_out_end(struct iopf_out *o);	   /* finish it: print the line */
void iopf_out_uint(struct iopf_out *o, const char *key, const char *fmt, uint64_t v);
void iopf_out_int(struct iopf_out *o, const char *key, const char *fmt, int64_t v);
void iopf_out_double(struct iopf_out *o, const char *key, const char *fmt, double v);
void iopf_out_bool(struct iopf_out *o, const char *key, const char *fmt, bool v);
void iopf_out_str(struct iopf_out *o, const char *key, const char *fmt, const char *s);
void iopf_out_hex64(struct iopf_out *o, const char *key, const char *fmt, uint64_t v); /* JSON "0x%016llx" */
/* JSON integer nanoseconds; text fmt gets iopf_duration_format() for its %s. */
void iopf_out_duration(struct iopf_out *o, const char *key, const char *fmt, uint64_t ns);
/* JSON string, text fmt's %s: iopf_time_format(), cached per second. */
void iopf_out_time(struct iopf_out *o, const char *key, const char *fmt, const struct timespec *ts);
void iopf_out_printf(struct iopf_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void iopf_out_open_object(struct iopf_out *o, const char *key, const char *fmt);
void iopf_out_close_object(struct iopf_out *o, const char *fmt);
void iopf_out_open_array(struct iopf_out *o, const char *key, const char *fmt);
void iopf_out_close_array(struct iopf_out *o, const char *fmt);
/* Flush and report a write error on the stream (-errno), e.g. EPIPE, ENOSPC. */
int iopf_out_flush(struct iopf_out *o);
/*
 * Output is kept in a 256 KiB buffer and written when it fills, at
 * iopf_out_flush(), and after every record when the stream is a
 * terminal, pipe or socket (line mode).  Set line mode off for a batch
 * run whose reader wants throughput, or on for a live one.
 */
void iopf_out_set_line(struct iopf_out *o, bool line);

/*
 * The printer (lib/printer.c): text for a reader that may stop reading (a
 * terminal paused with Ctrl-S, `| less` left unscrolled) without ever
 * holding the caller.  Lines written to iopf_printer_stream() go, at each
 * flush, to a bounded buffer (cap bytes, 0: IOPF_PRINTER_CAP) that a
 * thread of the printer's own writes to fd; a line that does not fit is
 * dropped whole and counted, never half-printed.
 */
#define IOPF_PRINTER_CAP (1024 * 1024)
struct iopf_printer;
int iopf_printer_new(struct iopf_printer **p, int fd, size_t cap);
FILE *iopf_printer_stream(struct iopf_printer *p);
/* Hand what the stream holds to the buffer (never waits): 0, or the first write error (-EPIPE...). */
int iopf_printer_flush(struct iopf_printer *p);
uint64_t iopf_printer_dropped(struct iopf_printer *p);	/* lines not printed so far */
/*
 * Flush, wait while the reader takes what is left, give up once it has
 * taken nothing for idle_ns (the rest is dropped), stop the thread and
 * free.  *dropped (may be NULL): the lines never printed.  Return: the
 * first write error (-EPIPE: the reader went away), or 0.
 */
int iopf_printer_close(struct iopf_printer *p, uint64_t idle_ns, uint64_t *dropped);

/* ------------------------------------------------------------------ */
/* Records, durations, bits: one table or formatter of each kind       */
/* (lib/record.c, lib/print.c, lib/util.c)                             */
/* ------------------------------------------------------------------ */
/* Print one record as iopftool-capture(5) JSON or one text line; nothing for an unknown type. */
void iopf_rec_print(struct iopf_out *o, const struct iopf_rec *r);
/* "success", "invalid" or "unknown" */
const char *iopf_code_name(uint32_t code);
/* "fault", "response", "lost", "meta"; "unknown" for other types. */
const char *iopf_rec_type_name(unsigned int type);
/* The type of a record type name, or -EINVAL. */
int iopf_rec_type_parse(const char *name);

/*
 * The one duration format, for every verb: 850ns, 1.234us, 12.500ms,
 * 3.000s (three decimals, truncated).  Returns the full length; buf
 * gets what fits, NUL-terminated.  32 bytes always suffice.
 */
size_t iopf_duration_format(uint64_t ns, char *buf, size_t len);
#define IOPF_DURATION_LEN 32

/* s with terminal controls (C0, DEL, C1, bidi overrides) and invalid UTF-8 as \xNN. */
size_t iopf_str_escape(const char *s, char *buf, size_t len);

enum iopf_bits_style {
	IOPF_BITS_LETTERS,	/* "rw--", unknown bits "+0x110" */
	IOPF_BITS_NAMES,	/* "read,write,0x10"; "none" when 0 */
};

/* ------------------------------------------------------------------ */
/* The userspace model of the kernel fault queue (doc/kernel-notes.md) */
/* ------------------------------------------------------------------ */
struct iopf_queue;

/*
 * The kernel version a queue model mimics.  doc/kernel-notes.md and
 * iopftool(8) list what differs between them and the scenario
 * (tests/scenarios/) that shows each difference on each kernel.
 */
enum iopf_kernel_model {
	IOPF_KERNEL_6_12,	/* Linux 6.12 (Debian 6.12.117): drivers/iommu/iommufd/fault.c */
	IOPF_KERNEL_7_3,	/* Linux 7.3 (Debian 7.3.4): drivers/iommu/iommufd/eventq.c */
	IOPF_KERNEL_NMODELS
};
#define IOPF_KERNEL_DEFAULT IOPF_KERNEL_6_12

/* "6.12" or "7.3": 0, else -EINVAL. */
int iopf_kernel_model_parse(const char *s, enum iopf_kernel_model *m);
const char *iopf_kernel_model_name(enum iopf_kernel_model m);	/* "6.12", "7.3" */

/* A queue with the default kernel's semantics (iopf_queue_new_version(), lib/internal.h: another's). */
int iopf_queue_new(struct iopf_queue **q, uint32_t fault_id);
/* Destroy: every delivered and outstanding group is answered INVALID. */
void iopf_queue_free(struct iopf_queue *q);
uint32_t iopf_queue_id(const struct iopf_queue *q);

/*
 * Device side.  Attach a device; faults of an unattached device are
 * answered INVALID by the "kernel" and never seen on the queue.
 * Detach answers INVALID all delivered and outstanding groups of dev_id.
 */
int iopf_queue_attach(struct iopf_queue *q, uint32_t dev_id);
/*
 * A page request from the device, as iommu_report_device_fault() sees
 * it: f->flags without LAST_PAGE is a partial fault, held until the
 * LAST_PAGE request of the same grpid (same device) completes the
 * group.  f->cookie and f->length are ignored (the kernel writes 0 and
 * allocates cookies at read time).  Returns 0, or -ENODEV when dev_id
 * is not attached (the fault is answered INVALID, like the kernel).
 */
int iopf_queue_inject(struct iopf_queue *q, const struct iommu_hwpt_pgfault *f);

/* Handler side: exactly the kernel's read(), write() and poll(). */
ssize_t iopf_queue_read(struct iopf_queue *q, void *buf, size_t count);
ssize_t iopf_queue_write(struct iopf_queue *q, const void *buf, size_t count);

/* What the device got back (for tests and the device-side report). */
struct iopf_queue_counts {
	uint64_t injected, partial, delivered_groups, responses, auto_invalid, no_handler;
	uint64_t pending_groups, outstanding_groups;
};
void iopf_queue_counts(const struct iopf_queue *q, struct iopf_queue_counts *c);

/* ------------------------------------------------------------------ */
/* Latency statistics: real percentiles in constant memory             */
/* ------------------------------------------------------------------ */
struct iopf_hist;

int iopf_hist_new(struct iopf_hist **h);
void iopf_hist_free(struct iopf_hist *h);
void iopf_hist_reset(struct iopf_hist *h);
void iopf_hist_add(struct iopf_hist *h, uint64_t v);
void iopf_hist_merge(struct iopf_hist *dst, const struct iopf_hist *src);
uint64_t iopf_hist_count(const struct iopf_hist *h);
uint64_t iopf_hist_min(const struct iopf_hist *h);
uint64_t iopf_hist_max(const struct iopf_hist *h);
uint64_t iopf_hist_mean(const struct iopf_hist *h);
/* Nearest-rank percentile, q in [0,1]; relative error <= 1%. 0 when empty. */
uint64_t iopf_hist_quantile(const struct iopf_hist *h, double q);
/* log2 histogram: bucket i counts values in [2^i, 2^(i+1)), bucket 0 also 0. */
#define IOPF_HIST_LOG2_BUCKETS 64
void iopf_hist_log2(const struct iopf_hist *h, uint64_t out[IOPF_HIST_LOG2_BUCKETS]);

/* ------------------------------------------------------------------ */
/* Fault groups: iopftool-capture(5) "Groups and cookies"              */
/* ------------------------------------------------------------------ */
/*
 * The group rule, written once (lib/group.c):
 *  - a group is keyed by (queue_id, cookie); a FAULT record joins the
 *    open group with its key or opens one; the record carrying LAST_PAGE
 *    completes it.  Groups of different keys may be open at once; each
 *    completes on its own, and groups are ordered by completion;
 *  - a RESPONSE refers to the most recent group with its key; if that
 *    group is still open, the response completes it first (with a
 *    warning naming its first record);
 *  - a FAULT for a key whose completed group is unanswered starts a new
 *    group (warning); the older one ends unanswered;
 *  - a group still open at the end of the capture is incomplete: warned
 *    about by its first record and left out.
 */

/* The most records one group may have; a longer one is cut (with a warning). */
#define IOPF_GROUP_MAX_RECORDS (1u << 20)

enum iopf_group_state {
	IOPF_GROUP_OPEN,	/* FAULT records seen, no LAST_PAGE yet */
	IOPF_GROUP_COMPLETE,	/* complete, not answered */
	IOPF_GROUP_ANSWERED,	/* an accepted response (status 0, a valid code) refers to it */
};

/**
 * struct iopf_group - one fault group
 * @queue_id: the queue of its records
 * @cookie: the cookie its records share
 * @id: its identity: a serial number from 1 in the order groups open
 *	(per grouper; per read buffer for iopf_group_split())
 * @state: see enum iopf_group_state
 * @terminated: its LAST_PAGE record was seen (else a response, the end of a
 *	read or a cookie change completed it)
 * @n: FAULT records in the group
 * @recs: its records, @nkept of them, LAST_PAGE last: a read buffer's
 *	records, or the grouper's copy when asked to keep them (only in the
 *	complete callback); NULL otherwise
 * @nkept: records at @recs
 * @first: its first record
 * @last: its newest record (the LAST_PAGE one once terminated)
 * @first_recno: capture record number of its first record (0 for a read)
 * @last_recno: capture record number of its newest record
 * @first_ns: time stamp of its first record (capture: ns since the epoch)
 * @last_ns: time stamp of its newest record: when it was delivered
 * @user: the caller's, 0 when the group opens
 * @mixed_pasid: its records do not all carry the PASID (or no PASID) of its
 *	first: the kernel joins partial faults by group id alone
 *	(doc/kernel-notes.md, "partial faults of two PASIDs")
 */
struct iopf_group {
	uint32_t queue_id;
	uint32_t cookie;
	uint64_t id;
	enum iopf_group_state state;
	bool terminated;
	size_t n;
	const struct iommu_hwpt_pgfault *recs;
	size_t nkept;
	struct iommu_hwpt_pgfault first, last;
	uint64_t first_recno, last_recno;
	uint64_t first_ns, last_ns;
	uint64_t user;
	bool mixed_pasid;
};

/* Called per group; a non-zero return stops the caller and is returned. */
typedef int (*iopf_group_fn)(void *ctx, struct iopf_group *g);

struct iopf_grouper;

/**
 * struct iopf_grouper_cfg - how a grouper reports
 * @name: the capture's name, for warnings
 * @log: where warnings go (NULL: nowhere)
 * @keep_records: copy the records of open groups, for @complete's g->recs
 * @max_records: cut a group longer than this (0: IOPF_GROUP_MAX_RECORDS)
 * @complete: a group completed (in completion order); may be NULL
 * @forget: a group leaves the grouper's books: an answered group replaced
 *	by a new one with its key, an unanswered one whose cookie was reused
 *	(it ends unanswered), or any group at iopf_grouper_end() (state
 *	IOPF_GROUP_OPEN: incomplete); may be NULL
 * @ctx: for the callbacks
 */
struct iopf_grouper_cfg {
	const char *name;
	const struct iopf_log *log;
	bool keep_records;
	size_t max_records;
	iopf_group_fn complete;
	void (*forget)(void *ctx, const struct iopf_group *g);
	void *ctx;
};

/**
 * struct iopf_grouper_counts - what a grouper saw
 * @groups: groups completed
 * @incomplete: groups open at the end of a capture (left out)
 * @closed_by_response: groups a response completed (no LAST_PAGE record)
 * @reused: cookies reused while their group was unanswered
 * @cut: groups cut at @max_records
 * @untracked: FAULT records dropped: too many groups open at once
 */
struct iopf_grouper_counts {
	uint64_t groups, incomplete, closed_by_response, reused, cut, untracked;
};

/**
 * iopf_grouper_new() - a grouper for capture records
 * @gr: set to the new grouper
 * @cfg: its configuration (copied; NULL: all defaults)
 *
 * Return: 0 or -ENOMEM.
 */
int iopf_grouper_new(struct iopf_grouper **gr, const struct iopf_grouper_cfg *cfg);
void iopf_grouper_free(struct iopf_grouper *gr);

/**
 * iopf_grouper_rec() - feed one capture record
 * @gr: the grouper
 * @r: the record (FAULT and RESPONSE are used, other types ignored)
 * @recno: its record number in the capture, for warnings
 * @group: set to the group a FAULT joined or a RESPONSE refers to (NULL:
 *	none, or an untracked fault); valid until the next call
 *
 * Callbacks run before it returns: a completing FAULT calls @complete; a
 * RESPONSE to an open group calls @complete first; a FAULT reusing the
 * cookie of an unanswered group calls @forget for it.
 *
 * Return: 0, a callback's non-zero return, or -ENOMEM.
 */
int iopf_grouper_rec(struct iopf_grouper *gr, const struct iopf_rec *r, uint64_t recno,
		     struct iopf_group **group);

/**
 * iopf_grouper_end() - the end of a capture
 * @gr: the grouper
 *
 * Warns about each incomplete group by its first record, calls @forget
 * for every group, and leaves the grouper empty for the next capture.
 *
 * Return: the number of incomplete groups.
 */
uint64_t iopf_grouper_end(struct iopf_grouper *gr);

/* ------------------------------------------------------------------ */
/* The response checker (iopftool-replay(8), THE REPORT)              */
/* ------------------------------------------------------------------ */
enum iopf_verdict {
	IOPF_OK = 0,
	IOPF_V_UNKNOWN_COOKIE,
	IOPF_V_GRPID_ECHO,
	IOPF_V_DUPLICATE,
	IOPF_V_BAD_CODE,
	IOPF_V_REJECTED,
	IOPF_V_UNANSWERED,
	IOPF_V_LATE,
	IOPF_V_COUNT
};
const char *iopf_verdict_name(enum iopf_verdict v); /* the JSON counter names */

struct iopf_report {
	uint64_t groups, faults, responses;
	uint64_t v[IOPF_V_COUNT];	/* indexed by enum iopf_verdict; v[IOPF_OK] = correct */
	struct {
		uint64_t count, min, mean, p50, p90, p99, p999, max;
	} latency_ns;
	struct {
		uint64_t p50, p99, max;
	} schedule_lag_ns;
	uint64_t wall_ns;
	double groups_per_s;
	uint64_t split_groups;		/* multi-record groups the target could only inject split */
	/* replay: capture dev_id -> live dev_id, shown when not the identity (caller-owned) */
	const uint32_t *dev_capture, *dev_live;
	size_t ndevs;
	bool ok;
	bool interrupted;		/* replay: stopped early (SIGINT/SIGTERM); ok is then false */
	bool unopened;			/* replay: the capture could not be opened (said): nothing was
					 * played, there is no report to show; ok is then false */
};

struct iopf_check;

struct iopf_check_cfg {
	uint64_t deadline_ns;	/* 0: no deadline */
};

int iopf_check_new(struct iopf_check **c, const struct iopf_check_cfg *cfg);
void iopf_check_free(struct iopf_check *c);
/* A group of n records (sharing a cookie, LAST_PAGE last) delivered by a read at t_ns. */
void iopf_check_delivered(struct iopf_check *c, uint32_t queue,
			  const struct iommu_hwpt_pgfault *recs, size_t n, uint64_t t_ns);
/* The same for a group as lib/group.c hands it out (only g->last and g->n are used). */
void iopf_check_group(struct iopf_check *c, const struct iopf_group *g, uint64_t t_ns);
/*
 * A response written at t_ns, with the queue's verdict status (0 or a
 * positive errno).  Returns its class; *latency_ns is set for accepted
 * responses to outstanding groups.
 */
enum iopf_verdict iopf_check_response(struct iopf_check *c, uint32_t queue,
				      const struct iommu_hwpt_page_response *r,
				      uint32_t status, uint64_t t_ns, uint64_t *latency_ns);
/* The schedule lag of one injection (replay only). */
void iopf_check_lag(struct iopf_check *c, uint64_t lag_ns);
/* End of run: count unanswered groups and fill the report. */
void iopf_check_finish(struct iopf_check *c, struct iopf_report *rep);
const struct iopf_hist *iopf_check_latency(const struct iopf_check *c);

/*
 * The wrong handlers `handle --bug` plays and `generate --bug` writes
 * (iopftool-handle(8)): each makes the checker count one class.
 */
enum iopf_bug {
	IOPF_BUG_NONE,
	IOPF_BUG_ECHO_GRPID,	/* answers with the device's grpid: grpid_echo */
	IOPF_BUG_DUPLICATE,	/* answers twice: duplicate */
	IOPF_BUG_DROP,		/* never answers: unanswered */
	IOPF_BUG_BAD_CODE,	/* answers with code 2: bad_code */
	IOPF_BUG_DELAY,		/* answers late: late, with --deadline */
	IOPF_BUG_ZERO_COOKIE,	/* handle only: cookie 0 first (doc/kernel-notes.md §9.2), then right */
	IOPF_BUG_COUNT
};
#define IOPF_BUG_LIST "echo-grpid, duplicate, drop, bad-code, delay"	/* zero-cookie: handle only */
/* "echo-grpid", ...; "none" for IOPF_BUG_NONE and unknown values. */
const char *iopf_bug_name(enum iopf_bug bug);
/* The mode of a name in IOPF_BUG_LIST, or -EINVAL. */
int iopf_bug_parse(const char *name);

/* How a handler answers: right, or as one of the wrong handlers on every Nth group. */
struct iopf_bug_cfg {
	enum iopf_bug bug;
	uint64_t every;		/* the bug hits groups every, 2 * every, ... (0 or 1: all) */
	uint32_t code;		/* the right answer's code (IOMMUFD_PAGE_RESP_SUCCESS, _INVALID) */
};
#define IOPF_BUG_MAX_RESPONSES 2
/*
 * iopf_bug_answer() - what a handler writes for one group (lib/bug.c)
 * @c: the handler
 * @nth: the group's number, from 1, in the order the handler read them
 * @last: the group's last record (its cookie and grpid)
 * @out: the responses, in the order to write them
 * @hold: set when they are to be written late (IOPF_BUG_DELAY; the caller says how late)
 *
 * Return: how many responses are in @out: 0 (dropped), 1 or 2 (duplicate, zero-cookie).
 */
size_t iopf_bug_answer(const struct iopf_bug_cfg *c, uint64_t nth, const struct iommu_hwpt_pgfault *last,
		       struct iommu_hwpt_page_response out[IOPF_BUG_MAX_RESPONSES], bool *hold);

/* Print a report (iopftool-replay(8), THE REPORT) with its identifying strings. */
void iopf_report_print(struct iopf_out *o, const char *capture, const char *target,
		       const char *handler, const struct iopf_report *rep);

/* ------------------------------------------------------------------ */
/* Capture statistics: iopftool-stats(8) (lib/stats.c)                 */
/* ------------------------------------------------------------------ */
struct iopf_stats;

/**
 * struct iopf_stats_cfg - how captures are summarised
 * @deadline_ns: the checker's deadline (0: none)
 * @log: warnings and errors (unknown record types, undecodable records,
 *	the group rule's warnings); NULL: none
 * @progress: called after each record iopf_stats_file() reads, with the
 *	bytes read so far and the file's size (0 when unknown: a pipe) (may
 *	be NULL)
 * @ctx: for @progress
 */
struct iopf_stats_cfg {
	uint64_t deadline_ns;
	const struct iopf_log *log;
	void (*progress)(void *ctx, const char *path, uint64_t records, uint64_t pos,
			 uint64_t size);
	void *ctx;
};

/**
 * struct iopf_stats_result - the totals of every capture added so far
 * @source: the META records' source=, "mixed" or "unknown" (valid while
 *	the iopf_stats lives)
 * @complete: every capture ended with a META end=1 record
 * @faults: FAULT records, those of incomplete groups included
 * @groups: complete groups (iopftool-capture(5) "Groups and cookies")
 * @incomplete_groups: groups left open at the end of their capture
 * @latency: the recorded latencies of accepted responses
 * @check: the checker's report, summed over the captures (stats --check)
 *
 * The other members count what their names say (iopftool-stats(8)).
 */
struct iopf_stats_result {
	uint64_t records, faults, groups, incomplete_groups, responses;
	uint64_t lost, lost_records, meta, bad, unknown, seq_gaps;
	uint64_t grpid_reuse, untracked_faults, duration_ns, mixed_pasid;
	const char *source;
	bool complete;
	const struct iopf_hist *latency;
	struct iopf_report check;
};

/**
 * iopf_stats_new() - an empty summary
 * @st: set to it
 * @cfg: its configuration (copied; NULL: defaults)
 *
 * Return: 0 or -ENOMEM.
 */
int iopf_stats_new(struct iopf_stats **st, const struct iopf_stats_cfg *cfg);
void iopf_stats_free(struct iopf_stats *st);

/**
 * iopf_stats_file() - add a whole capture
 * @st: the summary
 * @path: the capture ("-": stdin)
 * @stop: stop reading when *@stop becomes non-zero (NULL: never)
 *
 * Reads every record, logging each it cannot decode, and ends the capture.
 *
 * Return: 0; -EBADMSG when some records could not be decoded; -EIO when
 * the file cannot be opened; another negative errno for a fatal read
 * error (a truncated file).  What was read is counted in every case.
 */
int iopf_stats_file(struct iopf_stats *st, const char *path, volatile int *stop);

/**
 * iopf_stats_files() - add captures, a rotated recording as one
 * @st: the summary
 * @paths: the captures, as iopf_stats_file() takes them
 * @n: how many
 * @stop: as for iopf_stats_file()
 *
 * When every file is a part of one rotated recording (iopftool-record(8)
 * -C/-G: a META start with file_seq=N and otherwise the same text) they
 * are read in file_seq order, whatever order they are given in (a shell
 * glob puts rot.pcap10 before rot.pcap2), and as one capture: a group
 * answered in the next file is answered, not unknown there and
 * unanswered here.  A gap in the file numbers, or a first file that is
 * not file 0, is warned about.  Otherwise each is read as
 * iopf_stats_file() reads it, in the order given.
 *
 * Return: as iopf_stats_file(), the first error of any file.
 */
int iopf_stats_files(struct iopf_stats *st, const char *const *paths, size_t n, volatile int *stop);

/**
 * iopf_stats_begin() - start a capture fed record by record
 * @st: the summary (a capture still begun is ended first)
 * @name: its name, for messages and the report
 *
 * Then iopf_stats_add() for each record, iopf_stats_bad() for each that
 * could not be decoded, and iopf_stats_end().  Cookies and clocks belong
 * to one capture: the checker and the group rule start afresh.
 *
 * Return: 0 or -ENOMEM.
 */
int iopf_stats_begin(struct iopf_stats *st, const char *name);
/* One record: its number in the capture (from 1) and byte offset name it in warnings. */
void iopf_stats_add(struct iopf_stats *st, const struct iopf_rec *r, uint64_t recno,
		    uint64_t offset);
/* One record that could not be decoded. */
void iopf_stats_bad(struct iopf_stats *st);
/* End the capture: incomplete groups are warned about, the checker's report is added. */
void iopf_stats_end(struct iopf_stats *st);

/* Fill res with the totals so far (the check report's latency, wall time, rate and ok included). */
void iopf_stats_result(const struct iopf_stats *st, struct iopf_stats_result *res);
/* Print the summary (iopftool-stats(8)): text, or one JSON document. */
void iopf_stats_print(struct iopf_out *o, struct iopf_stats *st);
/* Print the check report (stats --check), handler "recorded". */
void iopf_stats_print_check(struct iopf_out *o, struct iopf_stats *st);
/**
 * iopf_stats_svg() - the summary as a picture (iopf_svg_write())
 * @st: the summary, after iopf_stats_end()
 * @f: where to write the SVG
 * @title: shown at its top
 * @deadline_ns: drawn on the latency-over-time panel (0: none)
 *
 * Return: 0, or a negative errno when writing failed.
 */
int iopf_stats_svg(const struct iopf_stats *st, FILE *f, const char *title, uint64_t deadline_ns);

/* ------------------------------------------------------------------ */
/* Live sessions: read, answer, print, record, check (lib/session.c)   */
/* ------------------------------------------------------------------ */
struct iopf_session;
struct iopf_target;

/**
 * struct iopf_session_cfg - what a live session does with each record
 * @deadline_ns: the checker's deadline (0: none)
 * @out: print every fault and response read or written (NULL: no)
 * @writer: record them (NULL: no); the caller's, it opens and closes it
 * @limit: stop reading once this many groups were read (0: no limit); a
 *	read grown for a group bigger than the count the limit leaves may
 *	bring a few more (the kernel has no one-group read)
 * @log: warnings and errors (NULL: none)
 * @metrics: count every record (lib/metrics.c), or NULL
 * @read_bytes: the first read buffer, rounded down to whole records (0:
 *	65520 bytes); it grows when a group does not fit
 *
 * A rotating @writer (iopf_writer_open_rotating()) switches files before
 * a group when a switch is due.
 */
struct iopf_session_cfg {
	uint64_t deadline_ns;
	struct iopf_out *out;
	struct iopf_writer *writer;
	uint64_t limit;
	const struct iopf_log *log;
	struct iopf_metrics *metrics;	/* count every record (NULL: no); the caller's */
	size_t read_bytes;
};

/**
 * struct iopf_session_counts - a session's totals
 * @reads: read() calls that returned groups
 * @groups: groups read
 * @faults: fault records read
 * @responses: responses written (or noted)
 * @accepted: responses the queue accepted for an outstanding group
 * @outstanding: groups read and not yet accepted
 * @write_err: the first capture write error (-errno), 0 if none; the
 *	session stops recording after it
 * @refused: responses written that the queue refused (of @responses)
 */
struct iopf_session_counts {
	uint64_t reads, groups, faults, responses, accepted, outstanding;
	int write_err;
	uint64_t refused;
};

/**
 * iopf_session_new() - a session on a live queue
 * @s: set to the session
 * @t: the queue (the caller's; it outlives the session)
 * @cfg: what to do with records (copied; NULL: only check them)
 *
 * Return: 0 or -ENOMEM (not logged: the caller says "out of memory").
 */
int iopf_session_new(struct iopf_session **s, struct iopf_target *t,
		     const struct iopf_session_cfg *cfg);
void iopf_session_free(struct iopf_session *s);

/**
 * iopf_session_drain() - read every group waiting on the queue
 * @s: the session
 * @fn: called per group, after it was printed, recorded and given to the
 *	checker (g->recs points into the read buffer; g->last_ns is the
 *	read's CLOCK_MONOTONIC time); may be NULL
 * @ctx: for @fn
 *
 * Reads with as few read() calls as possible, growing the buffer when the
 * first group does not fit (-EINVAL from the queue, or a read of 0 while
 * the queue polls readable, which older kernels give),
 * up to a group of IOPF_GROUP_MAX_RECORDS records.  Every group of a read
 * is handled even when @fn fails for one.
 *
 * Return: the number of groups read, @fn's first non-zero return (said, if
 * at all, by @fn), or a negative errno, logged (-EMSGSIZE for a group too
 * big to read, a read error naming the queue), except -ESHUTDOWN, not an
 * error, at the end of a handler-fd socket's stream.
 */
ssize_t iopf_session_drain(struct iopf_session *s, iopf_group_fn fn, void *ctx);

/**
 * iopf_session_respond() - write responses to the queue in one batch
 * @s: the session
 * @r: the responses
 * @n: how many
 *
 * A write stops at the first response the queue refuses: that one is
 * noted refused (status EINVAL) and the rest are written again.  Every
 * response is printed, recorded and classified with its verdict.
 *
 * Return: 0, or a negative errno for a failure other than a refusal
 * (logged, naming the queue).
 */
int iopf_session_respond(struct iopf_session *s, const struct iommu_hwpt_page_response *r,
			 size_t n);
/* Queue {cookie, code} for the next iopf_session_flush(): 0 or -ENOMEM (logged). */
int iopf_session_queue(struct iopf_session *s, uint32_t cookie, uint32_t code);
size_t iopf_session_queued(const struct iopf_session *s);
/* iopf_session_respond() the queued responses, if any, and empty the queue
 * (its errors are iopf_session_respond()'s, logged). */
int iopf_session_flush(struct iopf_session *s);

/**
 * iopf_session_meta_start() - write the capture's first META record
 * @s: the session (nothing is written without a writer)
 * @source: the queue's name (source=)
 * @extra: more key=value lines, or NULL
 *
 * Return: 0 or the writer's negative errno.
 */
int iopf_session_meta_start(struct iopf_session *s, const char *source, const char *extra);
/* The META end=1 record with the totals, unless a write failed: 0 or -errno. */
int iopf_session_meta_end(struct iopf_session *s, uint64_t lost);
/* A rotating writer's switch failed: write_err is set and the error was logged. */
bool iopf_session_rotate_failed(const struct iopf_session *s);
void iopf_session_counts(const struct iopf_session *s, struct iopf_session_counts *c);
/* The session's checker: for iopf_check_finish() and iopf_check_lag(). */
struct iopf_check *iopf_session_check(struct iopf_session *s);

/*
 * Flow control for an injector (replay, the sim/mock generator) that can
 * outrun the handler: at most IOPF_WINDOW_GROUPS groups in flight
 * (injected, not yet answered).  When the window is full the injector
 * services the queue (and the handler) until it is below again, so memory
 * stays bounded by the window, not the capture, and nothing is lost.
 */
#define IOPF_WINDOW_GROUPS 4096
/* The groups injected (@injected so far) and not answered have reached @window (0: IOPF_WINDOW_GROUPS). */
bool iopf_session_window_full(const struct iopf_session *s, uint64_t injected, uint64_t window);

/* ------------------------------------------------------------------ */
/* Replay: a capture into a live queue, checked (lib/replay.c)          */
/* ------------------------------------------------------------------ */
struct iopf_replay;

/* When groups are injected (iopftool-replay(8) DESCRIPTION). */
enum iopf_replay_schedule {
	IOPF_REPLAY_RECORDED,	/* at the recorded times */
	IOPF_REPLAY_SPEED,	/* at the recorded times divided by speed */
	IOPF_REPLAY_RATE,	/* rate groups per second, evenly spaced */
	IOPF_REPLAY_TOPSPEED,	/* as fast as possible */
};

/* Who answers the groups the queue delivers. */
enum iopf_replay_handler {
	IOPF_REPLAY_SUCCESS,		/* builtin:success */
	IOPF_REPLAY_INVALID,		/* builtin:invalid */
	IOPF_REPLAY_FROM_CAPTURE,	/* builtin:from-capture: the recorded responses */
	IOPF_REPLAY_CALLBACK,		/* an in-process function, fn */
	IOPF_REPLAY_PEER,		/* a handler process: peer_fd, or iopf_replay_handler_open() */
};

/* What a handler process gets as its fault fd (iopftool-replay(8) "THE HANDLER FD"). */
enum iopf_handler_fd {
	IOPF_HFD_AUTO,		/* a file where this machine allows one, else the socket */
	IOPF_HFD_FILE,		/* the kernel's fault fd, or a file with its read/write/poll */
	IOPF_HFD_SOCKET,	/* the peer protocol's socket (lib/peer.c) */
};

/*
 * An in-process handler: given a delivered group (live cookie, records),
 * write up to cap responses to out.  Returns how many, or a negative
 * errno that stops the replay.
 */
typedef int (*iopf_replay_handler_fn)(void *ctx, const struct iopf_group *g,
				      struct iommu_hwpt_page_response *out, size_t cap);

/**
 * struct iopf_replay_cfg - how to replay
 * @schedule: see enum iopf_replay_schedule
 * @speed: IOPF_REPLAY_SPEED: the factor (> 0)
 * @rate: IOPF_REPLAY_RATE: groups per second (> 0)
 * @loops: play the capture this many times (0: once)
 * @timeout_ns: IOPF_REPLAY_PEER: how long to wait for answers after the
 *	last injection
 * @deadline_ns: an accepted answer later than this after delivery is late
 *	(0: no deadline)
 * @settle_ns: IOPF_REPLAY_PEER: let the handler start this long first
 * @max_gap_ns: cut recorded pauses longer than this (0: never)
 * @stop: stop (between records, or while waiting) once *@stop is non-zero;
 *	the caller sets it, e.g. from a signal handler (NULL: never)
 * @progress: called after each capture record with the groups injected
 *	so far, the capture's bytes read and its size (0 when unknown: a
 *	pipe) (may be NULL)
 * @progress_ctx: for @progress
 * @handler: see enum iopf_replay_handler
 * @fn: IOPF_REPLAY_CALLBACK: the handler
 * @fn_ctx: for @fn
 * @peer_fd: IOPF_REPLAY_PEER: our end of the handler's SOCK_SEQPACKET
 *	socket, the replay's from iopf_replay_new() on; or -1, and
 *	iopf_replay_handler_open() makes the handler's fd
 * @handler_end: IOPF_REPLAY_PEER with a file: called once when the handler
 *	should go (after the last answer or @timeout_ns).  A fault fd has no
 *	end of stream, so the caller ends the process, e.g. with SIGTERM;
 *	the replay then serves the file until it is closed, or 0.2 s
 * @handler_end_ctx: for @handler_end
 * @writer: record the live session (-w), or NULL; the caller's, opened
 *	before and closed after (the META records are written)
 * @source: the source= of the -w capture's META (NULL: the target's name)
 * @out: print the live records, or NULL
 * @log: warnings and errors
 */
struct iopf_replay_cfg {
	enum iopf_replay_schedule schedule;
	double speed, rate;
	uint64_t loops;
	uint64_t timeout_ns, deadline_ns, settle_ns, max_gap_ns;
	volatile int *stop;
	void (*progress)(void *ctx, uint64_t injected, uint64_t pos, uint64_t size);
	void *progress_ctx;
	enum iopf_replay_handler handler;
	iopf_replay_handler_fn fn;
	void *fn_ctx;
	int peer_fd;
	void (*handler_end)(void *ctx);
	void *handler_end_ctx;
	struct iopf_writer *writer;
	const char *source;
	struct iopf_out *out;
	const struct iopf_log *log;
};

/**
 * iopf_replay_new() - prepare a replay into a live queue
 * @rp: set to the replay
 * @t: the queue (sim or mock: a target that can inject); the caller's
 * @cfg: how (copied)
 *
 * With a writer, the -w capture's first META record is written here.
 *
 * Return: 0; -EINVAL for an inconsistent @cfg; -EOPNOTSUPP when @t cannot
 * take injected faults (logged); another negative errno.
 */
int iopf_replay_new(struct iopf_replay **rp, struct iopf_target *t, const struct iopf_replay_cfg *cfg);

/**
 * iopf_replay_handler_open() - make the fd a handler process gets as fd 3
 * @rp: a replay with handler IOPF_REPLAY_PEER and peer_fd -1, not run yet
 * @want: IOPF_HFD_FILE: on mock the queue's own fault fd, the handler's
 *	reads and writes seen through the tap (lib/tap.c: needs root and
 *	tracefs); on sim a file with the kernel fault fd's read, write and
 *	poll (lib/fusefd.c: needs /dev/fuse and root).  IOPF_HFD_SOCKET: the
 *	peer protocol's socket.  IOPF_HFD_AUTO: the file where it can be
 *	made, else the socket.
 * @fd: set to the fd: the caller's, to hand to the process and close
 * @why: set to why the file could not be made ("" when it was)
 * @whylen: its size
 *
 * Return: the kind made (IOPF_HFD_FILE or IOPF_HFD_SOCKET), or a negative
 * errno, said in @why (IOPF_HFD_FILE that cannot be made: what is missing;
 * a socket that cannot be made: why).
 */
int iopf_replay_handler_open(struct iopf_replay *rp, enum iopf_handler_fd want, int *fd,
			     char *why, size_t whylen);
/* What the handler's fd is, in words (after iopf_replay_handler_open()). */
const char *iopf_replay_handler_fd_name(const struct iopf_replay *rp);

/**
 * iopf_replay_run() - play a capture and check every answer
 * @rp: the replay
 * @capture: the capture's path (opened once per loop)
 * @rep: the report: filled whenever the replay ran (even on -EBADMSG);
 *	rep->dev_capture and rep->dev_live stay valid until iopf_replay_free();
 *	rep->unopened: the capture could not be opened at all (the error is
 *	logged), nothing was played
 *
 * Groups follow iopftool-capture(5) "Groups and cookies"; each is injected
 * whole (split into single-record groups where the target cannot do
 * better) when it completes, in completion order; groups cut short are
 * warned about and not injected.  builtin:from-capture answers the live
 * group a capture group became with that capture group's recorded
 * responses, by group identity.  rep->groups_per_s counts answered groups.
 *
 * Return: 0 (rep->ok tells whether every answer was right); -EBADMSG when
 * some capture records could not be decoded (logged); another negative
 * errno for a runtime error (logged where it is not plain).
 */
int iopf_replay_run(struct iopf_replay *rp, const char *capture, struct iopf_report *rep);
/*
 * The live session's totals; with a writer, write_err is the first error
 * writing the -w capture (its META end=1 record is written at the end of
 * iopf_replay_run()).
 */
void iopf_replay_counts(const struct iopf_replay *rp, struct iopf_session_counts *c);
void iopf_replay_free(struct iopf_replay *rp);

/* ------------------------------------------------------------------ */
/* Synthetic fault generator (generate, and the sim's live source)      */
/* ------------------------------------------------------------------ */
struct iopf_gen_cfg {
	uint64_t seed;
	uint64_t groups;	/* 0: unbounded */
	uint32_t min_group, max_group;	/* records per group */
	uint32_t devs;		/* dev_ids 1..devs */
	uint32_t pasids;	/* 0: no PASID; else PASIDs 1..pasids */
	double rate;		/* mean groups per second (Poisson arrivals) */
	double grpid_reuse;	/* probability a group reuses an outstanding grpid */
	uint32_t grpid_bits;	/* grpid width, 9 for PCIe PRGI */
	uint32_t unknown_flags;	/* extra flag bits set on PASID faults (e.g. 0x4) */
};
struct iopf_gen;
int iopf_gen_new(struct iopf_gen **g, const struct iopf_gen_cfg *cfg);
void iopf_gen_free(struct iopf_gen *g);
/*
 * Next group: up to cap records in recs (LAST_PAGE on the last one),
 * *n set, *t_ns its offset from the start.  Returns 1, or 0 when done.
 */
int iopf_gen_next(struct iopf_gen *g, struct iommu_hwpt_pgfault *recs, size_t cap,
		  size_t *n, uint64_t *t_ns);

/*
 * The generator's random numbers (lib/gen.c): xoshiro256** seeded through
 * splitmix64, every draw integer arithmetic, so a seed gives the same
 * numbers on every platform and C library (no libm).
 */
struct iopf_rng {
	uint64_t s[4];
};
void iopf_rng_seed(struct iopf_rng *rng, uint64_t seed);
uint64_t iopf_rng_next(struct iopf_rng *rng);
/* Uniform in [0, n), n >= 1. */
uint64_t iopf_rng_below(struct iopf_rng *rng, uint64_t n);
/* A probability 0..1 as q53 for iopf_rng_chance(): p * 2^53, rounded down once. */
uint64_t iopf_rng_q53(double p);
/* True with probability q53 / 2^53. */
bool iopf_rng_chance(struct iopf_rng *rng, uint64_t q53);
/* An exponential variate of mean @mean (Poisson arrivals, handler latencies); UINT64_MAX when it would not fit. */
uint64_t iopf_rng_exp(struct iopf_rng *rng, uint64_t mean);

/* ------------------------------------------------------------------ */
/* Live fault queues: sim[:X.Y], mock, fd:N, pid:PID:FD, device:PATH   */
/* ------------------------------------------------------------------ */
struct iopf_target;

/*
 * Open a queue by name (iopftool(8), QUEUES).  On failure returns a
 * negative errno and in err a message saying what is missing and what
 * to do about it.
 */
int iopf_target_open(struct iopf_target **t, const char *spec, const struct iopf_log *log,
		     char *err, size_t errlen);
void iopf_target_close(struct iopf_target *t);	/* clean teardown */
const char *iopf_target_name(const struct iopf_target *t);
uint32_t iopf_target_queue_id(const struct iopf_target *t);
int iopf_target_fd(const struct iopf_target *t);	/* poll it for POLLIN */
bool iopf_target_can_inject(const struct iopf_target *t);
/* Number of records the target can inject as one group (mock: 1, sim: any). */
size_t iopf_target_max_group(const struct iopf_target *t);
/* Map a capture dev_id to a live one, creating the device if needed: 0, or
 * a negative errno, logged to the target's log naming the target and device. */
int iopf_target_device(struct iopf_target *t, uint32_t capture_dev_id, uint32_t *live_dev_id);
/* Inject one fault (f->dev_id is live); LAST_PAGE clear = partial (where
 * supported): 0, or a negative errno, logged naming the target and the fault. */
int iopf_target_inject(struct iopf_target *t, const struct iommu_hwpt_pgfault *f);
ssize_t iopf_target_read(struct iopf_target *t, void *buf, size_t count);
ssize_t iopf_target_write(struct iopf_target *t, const void *buf, size_t count);
/* Detach a device: the queue answers its groups INVALID. */
int iopf_target_detach(struct iopf_target *t, uint32_t live_dev_id);
/*
 * The kernel version whose semantics the target has: sim's model
 * ("sim:7.3"; sim alone is IOPF_KERNEL_DEFAULT), for kernel queues the
 * running kernel's (uname -r, iopf_kernel_model_from_release()).
 */
enum iopf_kernel_model iopf_target_kernel_model(const struct iopf_target *t);

/* ------------------------------------------------------------------ */
/* Processes holding fault fds: a scan of /proc/PID/fd (lib/procfd.c)   */
/* ------------------------------------------------------------------ */
/* What /proc/PID/fd/N of a fault fd reads (drivers/iommu/iommufd/fault.c). */
#define IOPF_FAULT_FD_LINK "anon_inode:[iommufd-pgfault]"

enum iopf_proc_fd_kind { IOPF_PROC_FAULT_FD, IOPF_PROC_IOMMUFD, IOPF_PROC_VFIO };

struct iopf_proc_fd {
	int pid, fd;
	enum iopf_proc_fd_kind kind;
	char comm[16];
	char target[128];	/* the fd's link */
};

/*
 * Every fault fd, /dev/iommu and /dev/vfio/... fd in /proc (only_pid > 0:
 * of that process): 0 and *list (malloc'd, *n entries), or -errno.
 */
int iopf_proc_scan(struct iopf_proc_fd **list, size_t *n, int only_pid);

/* ------------------------------------------------------------------ */
/* Tap: watch every fault queue through BPF or kprobe events (lib/tap.c) */
/* ------------------------------------------------------------------ */
/* "tap", "tap:PID", "tap:PID:FD": true when spec names the tap; *pid -1 when malformed. */
bool iopf_tap_spec(const char *spec, int *pid, int *fd);

/*
 * The records of each read(2) of a fault fd the kprobe-event back-end
 * decodes; a LOST record counts the rest.  The BPF back-end copies the
 * first IOPF_TAP_BPF_MAX_BYTES of each read and write (1638 records,
 * 8192 responses).
 */
#define IOPF_TAP_READ_RECORDS 100
#define IOPF_TAP_BPF_MAX_BYTES 65536

/* How the tap sees the kernel (iopftool-monitor(8), BACKENDS). */
enum iopf_tap_backend {
	IOPF_TAP_AUTO = 0,	/* BPF where it can load, else kprobe events */
	IOPF_TAP_BPF,		/* BPF kprobes: CO-RE offsets with BTF, known layouts without (lib/tap-bpf.c) */
	IOPF_TAP_KPROBE,	/* kprobe events in tracefs, decoded from trace_pipe text */
	IOPF_TAP_BPF_FENTRY,	/* BPF fentry/fexit (BTF only; opt-in: doc/kernel-notes.md §14) */
};

struct iopf_tap_cfg {
	const char *tracefs;	/* NULL: /sys/kernel/tracing, else /sys/kernel/debug/tracing */
	int pid;		/* > 0: only this process's queues */
	int fd;			/* >= 0: only this fd of pid */
	enum iopf_tap_backend backend;
	bool events;		/* hand out typed events (iopf_tap_next_event), not records */
};

/*
 * The tap's typed events (cfg.events): what the kernel did, one event per
 * read, per write, per answer of its own and per fault reported.  Stable
 * once released: consumers (replay's kernel-fd transport, metrics) rely
 * on these fields; new fields go at the end.
 */
enum iopf_tap_event_kind {
	IOPF_TAP_EV_READ = 1,	/* a read(2) of a fault fd returned */
	IOPF_TAP_EV_WRITE,	/* a write(2) of responses returned */
	IOPF_TAP_EV_AUTO,	/* the kernel answered a group itself (detach, queue destroyed) */
	IOPF_TAP_EV_REPORTED,	/* a device reported a fault (not yet on any queue) */
	IOPF_TAP_EV_LOST,	/* the tap's buffer overflowed: @lost records and responses unseen */
};

struct iopf_tap_event {
	enum iopf_tap_event_kind kind;
	uint32_t queue;		/* fault object id (out_fault_id), 0 unknown */
	uint64_t t_ns;		/* CLOCK_MONOTONIC (kprobe back-end: microsecond resolution) */
	int pid, tid;		/* the reading or writing process and thread; 0 for AUTO, REPORTED */
	int fd;			/* its fd, -1 unknown */
	char comm[16];		/* its command name, "" unknown */
	/* READ, WRITE */
	int64_t ret;		/* the kernel's return: bytes, or -errno */
	uint64_t count;		/* the bytes asked for */
	const struct iommu_hwpt_pgfault *recs;	/* READ: the records it returned, @n of them */
	const struct iommu_hwpt_page_response *resps;	/* WRITE: the responses given, @n of them */
	size_t n;
	uint64_t total;		/* records returned / responses given (> @n: the tap saw @n only) */
	uint64_t accepted;	/* WRITE: responses the kernel accepted (the first @accepted) */
	uint32_t refused_errno;	/* WRITE: the response at @accepted was refused with it (0: none) */
	bool refused_partial;	/* ... inside a partial write: the errno is EINVAL by the kernel's code */
	bool retry;		/* the refused one repeats the one refused in this fd's previous
				 * partial write (a handler resubmitting the rest): judged there */
	/* AUTO: the group's cookie (0: never read), code, device, reason (1 detach, 2 destroyed) */
	uint32_t cookie, code, dev, reason;
	uint64_t latency_ns;	/* AUTO: since the read that delivered the group (0: never read) */
	struct iommu_hwpt_pgfault fault;	/* AUTO: the group's last fault; REPORTED: the fault */
	uint64_t lost;		/* LOST */
};

struct iopf_tap_counts {
	uint64_t events, reported, reads, groups, faults, responses, refused, auto_responses, lost;
	uint64_t outstanding;	/* delivered groups not answered yet */
	int file_offset;	/* calibrated offset of private_data in struct file, -1 unknown */
	uint64_t unexamined;	/* responses after a refused one in a write: the kernel never looked */
	uint64_t retried;	/* refused again as the first of the next write: judged once, not recorded */
};

/*
 * What this machine offers each tap back-end, for iopftool doctor and the
 * tap's own choice: the flags, and for what is missing a sentence naming
 * it (tracefs, kprobe events, the bpf syscall, lockdown, BTF, a known
 * struct layout).  Reads only; loads and attaches nothing but a trivial
 * BPF program to see whether bpf(2) takes one.
 */
struct iopf_tap_probe {
	bool tracefs, kprobe_events;	/* tracefs mounted, kprobe_events writable */
	bool bpf;			/* bpf(2) loads a kprobe program */
	bool btf;			/* /sys/kernel/btf/vmlinux */
	bool known_layout;		/* no BTF, but a layout the BPF back-end knows */
	bool lockdown;			/* lockdown=confidentiality: no kprobes, no BPF reads */
	char tracefs_path[64];
	char kprobe_why[256], bpf_why[256];	/* "" when that back-end can run */
};
void iopf_tap_probe(struct iopf_tap_probe *p);
/* "bpf", "kprobe", "auto", "bpf-fentry"; or -1 for another name. */
int iopf_tap_backend_parse(const char *name);

struct iopf_tap;

/*
 * Create the probes (group "iopftool_<pid>", after removing those of dead
 * taps) and a trace instance of the same name.  Consumes no fault.  On
 * failure a negative errno and in err what is missing and what to enable.
 */
int iopf_tap_open(struct iopf_tap **t, const struct iopf_tap_cfg *cfg, const struct iopf_log *log,
		  char *err, size_t errlen);
int iopf_tap_fd(const struct iopf_tap *t);	/* trace_pipe: poll it for POLLIN */
/* Next record: 1 (r->payload valid until the next call), 0 none now, or -errno. */
int iopf_tap_next(struct iopf_tap *t, struct iopf_rec *r);
/* With cfg.events: the next event, 1 (its pointers valid until the next call), 0 none now, or
 * -errno (logged, as iopf_tap_next()'s and iopf_tap_drain()'s). */
int iopf_tap_next_event(struct iopf_tap *t, struct iopf_tap_event *ev);
/* At the end: parse what the trace still holds and release every held event: 0 or -errno (logged). */
int iopf_tap_drain(struct iopf_tap *t);
const char *iopf_tap_meta(const struct iopf_tap *t);	/* META lines describing the tap */
const char *iopf_tap_group(const struct iopf_tap *t);
/* The back-end in use (IOPF_TAP_BPF or IOPF_TAP_KPROBE) and how it runs, in words. */
enum iopf_tap_backend iopf_tap_backend(const struct iopf_tap *t);
const char *iopf_tap_how(const struct iopf_tap *t);
/*
 * BPF: each program's runs and mean run time in words, from the kernel's
 * BPF statistics (sysctl kernel.bpf_stats_enabled=1); "" without them or
 * with the kprobe-event back-end.
 */
void iopf_tap_cost(const struct iopf_tap *t, char *buf, size_t len);
void iopf_tap_counts(const struct iopf_tap *t, struct iopf_tap_counts *c);
/* Remove the probes and the instance; free. */
void iopf_tap_close(struct iopf_tap *t);

/* ------------------------------------------------------------------ */
/* Small helpers shared by the tool                                    */
/* ------------------------------------------------------------------ */
/* "250ns", "10us", "2ms", "1.5s", "3m": -EINVAL without a known unit. */
int iopf_duration_parse(const char *s, uint64_t *ns);
/* Strict unsigned parse: whole string, base 0 (hex with 0x), within max. */
int iopf_u64_parse(const char *s, uint64_t max, uint64_t *v);
uint64_t iopf_time_now(void);		/* CLOCK_MONOTONIC */
/* RFC 3339 in UTC with nanoseconds, 64-bit seconds (years 0..9999, else "@SEC.NS"). */
void iopf_time_format(const struct timespec *ts, char *buf, size_t len);

/* ------------------------------------------------------------------ */
/* Doctor: why a machine delivers no page faults (lib/doctor.c), and   */
/* the ustar writer of its bundle (lib/tar.c).  iopftool-doctor(8).    */
/* ------------------------------------------------------------------ */
enum iopf_doctor_status { IOPF_DOCTOR_OK, IOPF_DOCTOR_WARNING, IOPF_DOCTOR_PROBLEM };

struct iopf_doctor_cfg {
	const char *root;	/* NULL: the live system; else a tree with sys/, proc/, boot/, dev/, dmesg, ps.txt */
	const char *dmesg;	/* a kernel log file; NULL: ROOT/dmesg, or the live log (klogctl) */
	const char *const *devices;	/* PCI addresses to check; none: every PCI device */
	size_t ndevices;
	const struct iopf_log *log;
};

/* One finding.  Every string is escaped (no terminal controls). */
struct iopf_doctor_check {
	const char *id;		/* "kernel.config", "device.0000:00:03.0", "dmesg.dmar-fault" */
	const char *title;
	enum iopf_doctor_status status;
	const char *summary;	/* one line */
	const char *const *evidence;	/* what was read, one line each */
	size_t nevidence;
	const char *advice;	/* what to do, or NULL */
};

/* A file, link or directory doctor read, with the path relative to the root. */
enum iopf_doctor_input_type { IOPF_DOCTOR_FILE, IOPF_DOCTOR_LINK, IOPF_DOCTOR_DIR };
struct iopf_doctor_input {
	const char *path;	/* "sys/class/iommu/dmar0/intel-iommu/ecap" */
	enum iopf_doctor_input_type type;
	const char *data;	/* file contents or link target */
	size_t len;
};

struct iopf_doctor;

/* Run every check.  0, or a negative errno with err set (the root cannot be opened). */
int iopf_doctor_run(const struct iopf_doctor_cfg *cfg, struct iopf_doctor **out, char *err, size_t errlen);
void iopf_doctor_free(struct iopf_doctor *d);
size_t iopf_doctor_count(const struct iopf_doctor *d);
const struct iopf_doctor_check *iopf_doctor_get(const struct iopf_doctor *d, size_t i);
/* The worst status of all checks. */
enum iopf_doctor_status iopf_doctor_worst(const struct iopf_doctor *d);
const char *iopf_doctor_status_name(enum iopf_doctor_status s);	/* "ok", "warning", "problem" */
/* Every check: text, or one JSON object per check (a line each). */
void iopf_doctor_print(const struct iopf_doctor *d, struct iopf_out *o);
size_t iopf_doctor_ninputs(const struct iopf_doctor *d);
const struct iopf_doctor_input *iopf_doctor_input(const struct iopf_doctor *d, size_t i);
/* The kernel log lines the checks classified (for a bundle's dmesg), '\n' separated. */
const char *iopf_doctor_dmesg_lines(const struct iopf_doctor *d, size_t *len);

/* The class of one kernel log line: NULL when no IOMMU driver wrote it. */
struct iopf_dmesg_class {
	const char *id;		/* "dmar-fault", "prq-overflow", "amd-io-page-fault", ... */
	const char *source;	/* the kernel file that prints it */
	enum iopf_doctor_status status;
	const char *explain;	/* what it means and what to do */
};
const struct iopf_dmesg_class *iopf_dmesg_classify(const char *line);

/* Intel VT-d: decode cap and ecap into "name=value" words (drivers/iommu/intel/iommu.h). */
struct iopf_vtd_caps {
	bool sm, prs, pds, pasid, flts, slts, nest, dev_iotlb, pt, ers, srs;
	unsigned int pss;	/* PASID size - 1 */
	unsigned int mgaw, nfr;
};
void iopf_vtd_decode(uint64_t cap, uint64_t ecap, struct iopf_vtd_caps *c);

/* PCIe ATS, PRI, PASID extended capabilities in a config space image. */
struct iopf_pci_caps {
	bool ext;		/* the image has the extended space (> 256 bytes) */
	uint16_t ats, pri, pasid;	/* capability offsets, 0 when absent */
	bool ats_enabled, pri_enabled, pri_stopped, pri_reset_needed, pasid_enabled;
	bool pasid_exec, pasid_priv;
	unsigned int ats_stu, pasid_width;
	uint16_t pri_status;
	uint32_t pri_capacity, pri_alloc;
};
void iopf_pci_caps_parse(const uint8_t *cfg, size_t len, struct iopf_pci_caps *c);

/* A ustar archive written to fd (lib/tar.c). */
struct iopf_tar;
int iopf_tar_open(struct iopf_tar **t, int fd);
/* Add a member: 0, -ENAMETOOLONG when ustar cannot hold the name, -EINVAL for "..", other -errno on write. */
int iopf_tar_add(struct iopf_tar *t, const char *name, enum iopf_doctor_input_type type,
		 const void *data, size_t len, time_t mtime);
/* Would iopf_tar_add() take this member?  0, -ENAMETOOLONG, -EINVAL, -EFBIG (nothing is written). */
int iopf_tar_check(const char *name, enum iopf_doctor_input_type type, const void *data, size_t len);
/* The two zero blocks at the end; frees t.  0 or -errno. */
int iopf_tar_close(struct iopf_tar *t);

#define IOPF_VERSION "0.1.0"

#endif /* IOPF_H */
