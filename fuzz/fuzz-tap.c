// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the tap's event parsers and its one decoder
 * (lib/tap.c, lib/tap-bpf.c), on an offline tap, with no kernel:
 *
 *   byte 0 even: the rest is trace_pipe text (the kprobe-event back-end),
 *     fed in pieces whose lengths come from the input, so that line
 *     assembly across pieces is exercised;
 *   byte 0 odd: the rest is BPF ring buffer events, each a little-endian
 *     u16 length and that many bytes (struct tb_ev + data, any bytes).
 *
 * Beyond "no crash, no leak, no undefined behaviour" it asserts that
 * every record the tap hands out encodes and decodes back to itself
 * (type, queue, status, payload length), that a RESPONSE payload is 8
 * or 16 bytes, that the tap's counts agree with the records (faults,
 * responses, refused) and that a refused response never has a latency.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iopf.h"
#include "internal.h"	/* what only libiopf and its tests use */

#define FAIL(...) do { fprintf(stderr, "fuzz-tap: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

static void drain(struct iopf_tap *t, uint64_t *faults, uint64_t *responses, uint64_t *refused)
{
	struct iopf_rec r, back;
	uint8_t enc[IOPF_REC_HDR_LEN + 1024];

	while (iopf_tap_next(t, &r) == 1) {
		size_t n = iopf_rec_encode(&r, enc, sizeof(enc));

		if (!n)
			FAIL("record type %u does not encode (payload %zu)", r.type, r.payload_len);
		memset(&back, 0, sizeof(back));
		if (iopf_rec_decode(enc, n, &back) != IOPF_BAD_NONE)
			FAIL("record type %u does not decode back", r.type);
		if (back.type != r.type || back.queue_id != r.queue_id || back.status != r.status)
			FAIL("record type %u changed in a round trip", r.type);
		if (r.type == IOPF_REC_FAULT)
			(*faults)++;
		if (r.type == IOPF_REC_RESPONSE) {
			(*responses)++;
			if (r.payload_len != 8 && r.payload_len != 16)
				FAIL("RESPONSE payload of %zu bytes", r.payload_len);
			if (r.status) {
				(*refused)++;
				if (r.latency_ns)
					FAIL("a refused response with a latency");
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iopf_tap_cfg cfg = { .fd = -1 };
	struct iopf_tap *t;
	struct iopf_tap_counts c;
	uint64_t faults = 0, responses = 0, refused = 0;

	if (!size || iopf_tap_open_offline(&t, &cfg))
		return 0;
	if (!(data[0] & 1)) {
		char *text = malloc(size);
		size_t pos = 1, cut = 1 + (data[0] >> 1);

		if (!text)
			abort();
		while (pos < size) {
			size_t n = size - pos < cut * 7 ? size - pos : cut * 7;

			memcpy(text, data + pos, n);
			text[n] = '\0';	/* a NUL inside ends the piece early: also hostile input */
			iopf_tap_feed(t, text);
			pos += n;
			drain(t, &faults, &responses, &refused);
		}
		free(text);
	} else {
		for (size_t pos = 1; pos + 2 <= size;) {
			size_t n = (size_t)data[pos] | (size_t)data[pos + 1] << 8;

			pos += 2;
			if (n > size - pos)
				n = size - pos;
			/* a copy: the decoder must not need more than n bytes */
			uint8_t *ev = malloc(n ? n : 1);

			if (!ev)
				abort();
			memcpy(ev, data + pos, n);
			iopf_tap_feed_bpf(t, ev, n);
			free(ev);
			pos += n;
			drain(t, &faults, &responses, &refused);
		}
	}
	iopf_tap_drain(t);
	drain(t, &faults, &responses, &refused);
	iopf_tap_counts(t, &c);
	if (c.faults != faults || c.responses != responses || c.refused != refused)
		FAIL("counts (faults %llu responses %llu refused %llu) disagree with the records "
		     "(%llu %llu %llu)", (unsigned long long)c.faults, (unsigned long long)c.responses,
		     (unsigned long long)c.refused, (unsigned long long)faults,
		     (unsigned long long)responses, (unsigned long long)refused);
	iopf_tap_close(t);
	return 0;
}
