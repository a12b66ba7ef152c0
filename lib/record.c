// SPDX-License-Identifier: MIT
/*
 * Capture records (iopftool-capture(5)): decoded by offset with a
 * bounds-checked little-endian cursor, never by casting bytes to a
 * struct.  Every input is hostile: lengths are checked before any read.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

/* A little-endian u32 at p: the caller checked the length. */
static inline uint32_t le32_at(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static size_t cur_left(const struct iopf_cur *c)
{
	if (!c->p || c->p > c->end)
		return 0;
	return (size_t)(c->end - c->p);
}

bool iopf_get_le16(struct iopf_cur *c, uint16_t *v)
{
	if (cur_left(c) < 2)
		return false;
	*v = (uint16_t)(c->p[0] | c->p[1] << 8);
	c->p += 2;
	return true;
}

bool iopf_get_le32(struct iopf_cur *c, uint32_t *v)
{
	if (cur_left(c) < 4)
		return false;
	*v = (uint32_t)c->p[0] | (uint32_t)c->p[1] << 8 |
	     (uint32_t)c->p[2] << 16 | (uint32_t)c->p[3] << 24;
	c->p += 4;
	return true;
}

bool iopf_get_le64(struct iopf_cur *c, uint64_t *v)
{
	uint32_t lo, hi;
	struct iopf_cur save = *c;

	if (!iopf_get_le32(c, &lo) || !iopf_get_le32(c, &hi)) {
		*c = save;
		return false;
	}
	*v = (uint64_t)hi << 32 | lo;
	return true;
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void iopf_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

void iopf_put_le64(uint8_t *p, uint64_t v)
{
	iopf_put_le32(p, (uint32_t)v);
	iopf_put_le32(p + 4, (uint32_t)(v >> 32));
}

/*
 * struct iommu_hwpt_pgfault, 40 bytes, little-endian (include/uapi/linux/iommufd.h):
 *
 *   off  0  u32 flags        PASID_VALID 1<<0, LAST_PAGE 1<<1 (others leak)
 *   off  4  u32 dev_id
 *   off  8  u32 pasid
 *   off 12  u32 grpid
 *   off 16  u32 perm         READ 1<<0, WRITE 1<<1, EXEC 1<<2, PRIV 1<<3
 *   off 20  u32 __reserved
 *   off 24  u64 addr
 *   off 32  u32 length
 *   off 36  u32 cookie
 *
 * Bytes past the first 40 are ignored.
 */
bool iopf_fault_decode(const uint8_t *p, size_t len, struct iommu_hwpt_pgfault *f)
{
	if (len < IOPF_FAULT_SIZE || !p)
		return false;
	/* one length check for the 40 bytes, then each field at its offset */
	f->flags = le32_at(p + 0);
	f->dev_id = le32_at(p + 4);
	f->pasid = le32_at(p + 8);
	f->grpid = le32_at(p + 12);
	f->perm = le32_at(p + 16);
	f->__reserved = le32_at(p + 20);
	f->addr = (uint64_t)le32_at(p + 28) << 32 | le32_at(p + 24);
	f->length = le32_at(p + 32);
	f->cookie = le32_at(p + 36);
	return true;
}

void iopf_fault_encode(const struct iommu_hwpt_pgfault *f, uint8_t out[40])
{
	iopf_put_le32(out + 0, f->flags);
	iopf_put_le32(out + 4, f->dev_id);
	iopf_put_le32(out + 8, f->pasid);
	iopf_put_le32(out + 12, f->grpid);
	iopf_put_le32(out + 16, f->perm);
	iopf_put_le32(out + 20, f->__reserved);
	iopf_put_le64(out + 24, f->addr);
	iopf_put_le32(out + 32, f->length);
	iopf_put_le32(out + 36, f->cookie);
}

/*
 * struct iommu_hwpt_page_response, 8 bytes, little-endian:
 *
 *   off 0  u32 cookie
 *   off 4  u32 code         SUCCESS 0, INVALID 1
 */
bool iopf_resp_decode(const uint8_t *p, size_t len, struct iommu_hwpt_page_response *r)
{
	struct iopf_cur c = { p, p ? p + len : NULL };

	if (len < IOPF_RESP_SIZE || !p)
		return false;
	iopf_get_le32(&c, &r->cookie);
	return iopf_get_le32(&c, &r->code);
}

void iopf_resp_encode(const struct iommu_hwpt_page_response *r, uint8_t out[8])
{
	iopf_put_le32(out + 0, r->cookie);
	iopf_put_le32(out + 4, r->code);
}

static void decode_fault(struct iopf_rec *r)
{
	iopf_fault_decode(r->payload, r->payload_len, &r->u.fault);
}

static void decode_response(struct iopf_rec *r)
{
	iopf_resp_decode(r->payload, r->payload_len, &r->u.resp);
}

static void decode_lost(struct iopf_rec *r)
{
	struct iopf_cur c = { r->payload, r->payload + r->payload_len };

	iopf_get_le64(&c, &r->u.lost);
}

/*
 * The one record type table: the decoder, both printers (text and
 * JSON, lib/print.c), the reader's messages and read --type use it.
 * META is key=value text and needs no payload.
 */
static const struct iopf_rec_type_info rec_types[] = {
	{ IOPF_REC_FAULT, "fault", IOPF_FAULT_SIZE, decode_fault, iopf_print_fault },
	{ IOPF_REC_RESPONSE, "response", IOPF_RESP_SIZE, decode_response, iopf_print_response },
	{ IOPF_REC_LOST, "lost", 8, decode_lost, iopf_print_lost },
	{ IOPF_REC_META, "meta", 0, NULL, iopf_print_meta },
	/* the tap's (lib/tap.c): printed from the payload, which may be short */
	{ IOPF_REC_DELIVERY, "delivery", 0, NULL, iopf_print_delivery },
	{ IOPF_REC_AUTO_RESPONSE, "auto_response", 0, NULL, iopf_print_auto_response },
	{ IOPF_REC_REPORTED, "reported", 0, NULL, iopf_print_reported },
};

const struct iopf_rec_type_info *iopf_rec_type_info(unsigned int type)
{
	/* the table is indexed by type - 1 */
	_Static_assert(IOPF_REC_FAULT == 1 && IOPF_REC_RESPONSE == 2 && IOPF_REC_LOST == 3 &&
		       IOPF_REC_META == 4 && IOPF_REC_DELIVERY == 5 &&
		       IOPF_REC_AUTO_RESPONSE == 6 && IOPF_REC_REPORTED == 7,
		       "rec_types[] is indexed by type - 1");
	if (type < 1 || type > ARRAY_SIZE(rec_types))
		return NULL;
	return &rec_types[type - 1];
}

const char *iopf_rec_type_name(unsigned int type)
{
	const struct iopf_rec_type_info *t = iopf_rec_type_info(type);

	return t ? t->name : "unknown";
}

int iopf_rec_type_parse(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(rec_types); i++)
		if (!strcmp(name, rec_types[i].name))
			return rec_types[i].type;
	return -EINVAL;
}

/* The type-specific payload: the length check comes first; unknown types pass. */
static bool payload_decode(struct iopf_rec *t)
{
	const struct iopf_rec_type_info *info = iopf_rec_type_info(t->type);

	if (!info)
		return true;	/* a type for the caller to skip */
	if (t->payload_len < info->min_payload)
		return false;
	if (info->decode)
		info->decode(t);
	return true;
}

/*
 * Record header, 32 bytes in version 1, all little-endian (iopftool-capture(5)):
 *
 *   off  0  u32 magic        "IOPF" = 0x46504f49
 *   off  4  u8  version      1
 *   off  5  u8  type         1 FAULT, 2 RESPONSE, 3 LOST, 4 META
 *   off  6  u16 hdr_len      >= 32; the payload starts here
 *   off  8  u32 queue_id
 *   off 12  u32 status
 *   off 16  u64 seq
 *   off 24  u64 latency_ns
 *
 * then the payload up to the end of the record: FAULT >= 40 bytes,
 * RESPONSE >= 8, LOST >= 8 (u64 count), META text.
 */
enum iopf_bad iopf_rec_decode(const uint8_t *p, size_t len, struct iopf_rec *r)
{
	struct iopf_rec t;

	if (!p || len < IOPF_REC_HDR_LEN)
		return IOPF_BAD_SHORT;
	/* the 32 header bytes are there: each field at its offset */
	if (le32_at(p) != IOPF_REC_MAGIC)
		return IOPF_BAD_MAGIC;
	t.version = p[4];
	if (t.version != IOPF_REC_VERSION)
		return IOPF_BAD_VERSION;
	t.type = p[5];
	t.hdr_len = (uint16_t)(p[6] | p[7] << 8);
	if (t.hdr_len < IOPF_REC_HDR_LEN || t.hdr_len > len)
		return IOPF_BAD_HDR_LEN;
	t.ts = r->ts;
	t.queue_id = le32_at(p + 8);
	t.status = le32_at(p + 12);
	t.seq = (uint64_t)le32_at(p + 20) << 32 | le32_at(p + 16);
	t.latency_ns = (uint64_t)le32_at(p + 28) << 32 | le32_at(p + 24);
	memset(&t.u, 0, sizeof(t.u));
	t.payload = p + t.hdr_len;
	t.payload_len = len - t.hdr_len;
	if (!payload_decode(&t))
		return IOPF_BAD_PAYLOAD;
	*r = t;
	return IOPF_BAD_NONE;
}

const char *iopf_bad_name(enum iopf_bad why)
{
	static const char *const str[] = {
		[IOPF_BAD_NONE] = "ok",
		[IOPF_BAD_SHORT] = "record shorter than its header",
		[IOPF_BAD_MAGIC] = "bad magic",
		[IOPF_BAD_VERSION] = "unknown version",
		[IOPF_BAD_HDR_LEN] = "bad header length",
		[IOPF_BAD_PAYLOAD] = "payload too short for its type",
	};

	if ((unsigned int)why >= ARRAY_SIZE(str) || !str[why])
		return "unknown error";
	return str[why];
}

/* The payload bytes of r: from the union for the fixed types, else r->payload. */
static size_t payload_encode(const struct iopf_rec *r, uint8_t *out, size_t cap)
{
	switch (r->type) {
	case IOPF_REC_FAULT:
		if (cap < IOPF_FAULT_SIZE)
			return SIZE_MAX;
		iopf_fault_encode(&r->u.fault, out);
		return IOPF_FAULT_SIZE;
	case IOPF_REC_RESPONSE:
		if (cap < IOPF_RESP_SIZE)
			return SIZE_MAX;
		iopf_resp_encode(&r->u.resp, out);
		return IOPF_RESP_SIZE;
	case IOPF_REC_LOST:
		if (cap < 8)
			return SIZE_MAX;
		iopf_put_le64(out, r->u.lost);
		return 8;
	default:
		if (cap < r->payload_len || (r->payload_len && !r->payload))
			return SIZE_MAX;
		if (r->payload_len)
			memcpy(out, r->payload, r->payload_len);
		return r->payload_len;
	}
}

/*
 * Always writes a version 1 record with a 32-byte header, whatever
 * r->version and r->hdr_len say.  A FAULT is written as its 40 bytes:
 * extra payload bytes of a decoded record are not kept.
 */
size_t iopf_rec_encode(const struct iopf_rec *r, uint8_t *buf, size_t cap)
{
	size_t n;

	if (!buf || cap < IOPF_REC_HDR_LEN)
		return 0;
	n = payload_encode(r, buf + IOPF_REC_HDR_LEN, cap - IOPF_REC_HDR_LEN);
	if (n == SIZE_MAX)
		return 0;
	iopf_put_le32(buf + 0, IOPF_REC_MAGIC);
	buf[4] = IOPF_REC_VERSION;
	buf[5] = r->type;
	put_le16(buf + 6, IOPF_REC_HDR_LEN);
	iopf_put_le32(buf + 8, r->queue_id);
	iopf_put_le32(buf + 12, r->status);
	iopf_put_le64(buf + 16, r->seq);
	iopf_put_le64(buf + 24, r->latency_ns);
	return IOPF_REC_HDR_LEN + n;
}
