/* SPDX-License-Identifier: MIT */
/*
 * libiopf: decode, check and replay Linux iommufd I/O page fault queues.
 *
 * The one public header.  Conventions:
 *  - functions return 0 (or a count) on success and a negative errno on
 *    failure; they never exit, never print to stderr and keep no globals;
 *  - objects are opaque handles: iopf_<object>_new/_free, iopf_<object>_<verb>;
 *  - diagnostics go to a caller-set log callback (struct iopf_log).
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
/* Kernel-internal flag some IOMMUs leak into records (KERNEL-FACTS 1.10). */
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
void iopf_logf(const struct iopf_log *log, enum iopf_log_level level,
	       const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------ */
/* Capture records (SPEC.md section 4): 32-byte header, LE fields      */
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
const char *iopf_bad_str(enum iopf_bad why);

/* Encode r (header + payload) into buf; returns the length, or 0 when cap is too small. */
size_t iopf_rec_encode(const struct iopf_rec *r, uint8_t *buf, size_t cap);

/* Little-endian field access on a bounds-checked cursor. */
struct iopf_cur {
	const uint8_t *p, *end;
};
bool iopf_get_le16(struct iopf_cur *c, uint16_t *v);
bool iopf_get_le32(struct iopf_cur *c, uint32_t *v);
bool iopf_get_le64(struct iopf_cur *c, uint64_t *v);
void iopf_put_le32(uint8_t *p, uint32_t v);
void iopf_put_le64(uint8_t *p, uint64_t v);

/* Decode/encode one struct iommu_hwpt_pgfault (40 LE bytes) and response (8). */
bool iopf_fault_decode(const uint8_t *p, size_t len, struct iommu_hwpt_pgfault *f);
void iopf_fault_encode(const struct iommu_hwpt_pgfault *f, uint8_t out[40]);
bool iopf_resp_decode(const uint8_t *p, size_t len, struct iommu_hwpt_page_response *r);
void iopf_resp_encode(const struct iommu_hwpt_page_response *r, uint8_t out[8]);

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
 */
int iopf_reader_next(struct iopf_reader *rd, struct iopf_rec *r);
const char *iopf_reader_error(const struct iopf_reader *rd);
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
int iopf_writer_put(struct iopf_writer *w, struct iopf_rec *r);
/* Append a META record of key=value lines (text need not end with '\n'). */
int iopf_writer_meta(struct iopf_writer *w, const struct timespec *ts, const char *text);
int iopf_writer_flush(struct iopf_writer *w);	/* -errno on a write error (ENOSPC...) */
int iopf_writer_close(struct iopf_writer *w);	/* flush, close, free; -errno if anything failed */
uint64_t iopf_writer_count(const struct iopf_writer *w);

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
/* JSON integer nanoseconds; text fmt gets iopf_format_duration() for its %s. */
void iopf_out_duration(struct iopf_out *o, const char *key, const char *fmt, uint64_t ns);
/* JSON string, text fmt's %s: iopf_format_time(), cached per second. */
void iopf_out_time(struct iopf_out *o, const char *key, const char *fmt, const struct timespec *ts);
void iopf_out_text(struct iopf_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
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

/* ------------------------------------------------------------------ */
/* Records, durations, bits: one table or formatter of each kind       */
/* (lib/record.c, lib/print.c, lib/util.c)                             */
/* ------------------------------------------------------------------ */
/* Print one record as iopftool-capture(5) JSON or one text line; nothing for an unknown type. */
void iopf_print_rec(struct iopf_out *o, const struct iopf_rec *r);
/* "success", "invalid" or "unknown" */
const char *iopf_code_str(uint32_t code);
/* "fault", "response", "lost", "meta"; "unknown" for other types. */
const char *iopf_rec_type_name(unsigned int type);
/* The type of a record type name, or -EINVAL. */
int iopf_rec_type_parse(const char *name);

/*
 * The one duration format, for every verb: 850ns, 1.234us, 12.500ms,
 * 3.000s (three decimals, truncated).  Returns the full length; buf
 * gets what fits, NUL-terminated.  32 bytes always suffice.
 */
size_t iopf_format_duration(uint64_t ns, char *buf, size_t len);
#define IOPF_DURATION_LEN 32

/* s with terminal controls (C0, DEL, C1, bidi overrides) and invalid UTF-8 as \xNN. */
size_t iopf_escape(const char *s, char *buf, size_t len);

/* Named bits of the fault's perm and flags fields. */
struct iopf_bit_name {
	uint32_t bit;
	const char *name;	/* JSON, and text in the NAMES style */
	char letter;		/* text in the LETTERS style; 0 if none */
};
struct iopf_bits {
	const struct iopf_bit_name *bit;
	size_t n;
};
const struct iopf_bits *iopf_perm_bits(void);	/* read write exec priv */
const struct iopf_bits *iopf_flag_bits(void);	/* pasid_valid last */
/* The bits of v no entry of t names. */
uint32_t iopf_bits_unknown(const struct iopf_bits *t, uint32_t v);

enum iopf_bits_style {
	IOPF_BITS_LETTERS,	/* "rw--", unknown bits "+0x110" */
	IOPF_BITS_NAMES,	/* "read,write,0x10"; "none" when 0 */
};
/*
 * Print v as the JSON array key of bit names, unknown bits as "0x10"
 * strings (one per bit), and in text in the given style after fmt
 * (printed as it is, e.g. " perm ").  Unknown bits are never dropped.
 */
void iopf_print_bits(struct iopf_out *o, const char *key, const char *fmt,
		     const struct iopf_bits *t, uint32_t v, enum iopf_bits_style style);

/* ------------------------------------------------------------------ */
/* The userspace model of the kernel fault queue (KERNEL-FACTS 1.5-1.9) */
/* ------------------------------------------------------------------ */
struct iopf_queue;

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
int iopf_queue_detach(struct iopf_queue *q, uint32_t dev_id);
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
short iopf_queue_poll(const struct iopf_queue *q); /* POLLOUT, | POLLIN|POLLRDNORM while groups wait */
/* An eventfd that is readable exactly while groups wait, for epoll. */
int iopf_queue_fd(const struct iopf_queue *q);

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
/* The response checker (SPEC.md section 5)                            */
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
const char *iopf_verdict_str(enum iopf_verdict v); /* the JSON counter names */

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

/* Fill rep->latency_ns (count, min, mean, percentiles, max) from h. */
void iopf_report_latency(struct iopf_report *rep, const struct iopf_hist *h);

/* Print a report (SPEC.md section 5) with its identifying strings. */
void iopf_print_report(struct iopf_out *o, const char *capture, const char *target,
		       const char *handler, const struct iopf_report *rep);

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

/* ------------------------------------------------------------------ */
/* Live fault queues: sim, mock, fd:N, pid:PID:FD, device:PATH          */
/* ------------------------------------------------------------------ */
struct iopf_target;

/*
 * Open a queue by name (SPEC.md section 2).  On failure returns a
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
/* Map a capture dev_id to a live one, creating the device if needed. */
int iopf_target_device(struct iopf_target *t, uint32_t capture_dev_id, uint32_t *live_dev_id);
/* Inject one fault (f->dev_id is live); LAST_PAGE clear = partial (where supported). */
int iopf_target_inject(struct iopf_target *t, const struct iommu_hwpt_pgfault *f);
ssize_t iopf_target_read(struct iopf_target *t, void *buf, size_t count);
ssize_t iopf_target_write(struct iopf_target *t, const void *buf, size_t count);
/* Detach a device: the queue answers its groups INVALID. */
int iopf_target_detach(struct iopf_target *t, uint32_t live_dev_id);

/* ------------------------------------------------------------------ */
/* Small helpers shared by the tool                                    */
/* ------------------------------------------------------------------ */
/* "250ns", "10us", "2ms", "1.5s", "3m": -EINVAL without a known unit. */
int iopf_parse_duration(const char *s, uint64_t *ns);
/* Strict unsigned parse: whole string, base 0 (hex with 0x), within max. */
int iopf_parse_u64(const char *s, uint64_t max, uint64_t *v);
uint64_t iopf_now_ns(void);		/* CLOCK_MONOTONIC */
/* RFC 3339 in UTC with nanoseconds, 64-bit seconds (years 0..9999, else "@SEC.NS"). */
void iopf_format_time(const struct timespec *ts, char *buf, size_t len);

#define IOPF_VERSION "0.1.0"

#endif /* IOPF_H */
