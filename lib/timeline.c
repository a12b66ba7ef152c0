// SPDX-License-Identifier: MIT
/*
 * A capture's activity over time in constant memory: faults per interval
 * for the busiest devices, and response latency per interval.  The
 * interval doubles (adjacent bins merge) whenever the capture outgrows
 * IOPF_TL_BINS of them, so any capture length fits the same few KiB.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct iopf_timeline {
	bool started;
	uint64_t t0, width;		/* start, and the bin width, in ns */
	uint32_t nbins;			/* bins in use */
	uint32_t devs[IOPF_TL_DEVS];	/* dev_id of each device slot */
	uint32_t ndevs;
	struct iopf_tl_bin bin[IOPF_TL_BINS];
};

int iopf_timeline_new(struct iopf_timeline **tl)
{
	*tl = calloc(1, sizeof(**tl));
	if (!*tl)
		return -ENOMEM;
	(*tl)->width = 1000;	/* 1 us to start with */
	return 0;
}

void iopf_timeline_free(struct iopf_timeline *tl)
{
	free(tl);
}

static void merge_pairs(struct iopf_timeline *tl)
{
	for (uint32_t i = 0; i < IOPF_TL_BINS / 2; i++) {
		struct iopf_tl_bin *d = &tl->bin[i], *a = &tl->bin[2 * i], *b = &tl->bin[2 * i + 1];
		struct iopf_tl_bin m = *a;

		for (uint32_t k = 0; k <= IOPF_TL_DEVS; k++)
			m.faults[k] += b->faults[k];
		m.responses += b->responses;
		m.latency_sum += b->latency_sum;
		if (b->latency_max > m.latency_max)
			m.latency_max = b->latency_max;
		*d = m;
	}
	memset(&tl->bin[IOPF_TL_BINS / 2], 0, sizeof(tl->bin) / 2);
	tl->width *= 2;
	tl->nbins = (tl->nbins + 1) / 2;
}

/* The bin of time t, widening the bins until t fits; t before the start counts at it. */
static struct iopf_tl_bin *bin_at(struct iopf_timeline *tl, uint64_t t)
{
	if (!tl->started) {
		tl->started = true;
		tl->t0 = t;
	}
	uint64_t off = t > tl->t0 ? t - tl->t0 : 0;
	while (off / tl->width >= IOPF_TL_BINS && tl->width <= UINT64_MAX / 2)
		merge_pairs(tl);
	uint64_t i = off / tl->width;
	if (i >= IOPF_TL_BINS)
		i = IOPF_TL_BINS - 1;
	if (i >= tl->nbins)
		tl->nbins = (uint32_t)i + 1;
	return &tl->bin[i];
}

/* The device's slot: the first IOPF_TL_DEVS devices seen have their own, the rest share the last. */
static uint32_t dev_slot(struct iopf_timeline *tl, uint32_t dev_id)
{
	for (uint32_t k = 0; k < tl->ndevs; k++)
		if (tl->devs[k] == dev_id)
			return k;
	if (tl->ndevs < IOPF_TL_DEVS) {
		tl->devs[tl->ndevs] = dev_id;
		return tl->ndevs++;
	}
	return IOPF_TL_DEVS;
}

void iopf_timeline_fault(struct iopf_timeline *tl, uint64_t t_ns, uint32_t dev_id)
{
	bin_at(tl, t_ns)->faults[dev_slot(tl, dev_id)]++;
}

void iopf_timeline_response(struct iopf_timeline *tl, uint64_t t_ns, uint64_t latency_ns)
{
	struct iopf_tl_bin *b = bin_at(tl, t_ns);

	b->responses++;
	b->latency_sum += latency_ns;
	if (latency_ns > b->latency_max)
		b->latency_max = latency_ns;
}

void iopf_timeline_get(const struct iopf_timeline *tl, struct iopf_timeline_view *v)
{
	v->t0_ns = tl->t0;
	v->width_ns = tl->width;
	v->nbins = tl->nbins;
	v->bins = tl->bin;
	v->ndevs = tl->ndevs;
	v->devs = tl->devs;
	v->other = false;
	for (uint32_t i = 0; i < tl->nbins; i++)
		v->other |= tl->bin[i].faults[IOPF_TL_DEVS] != 0;
}
