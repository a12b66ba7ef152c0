// SPDX-License-Identifier: MIT
/*
 * stats --svg: one standalone SVG for a ticket, three panels stacked:
 *  1. the response latency histogram on log2 buckets (bpftrace's hist());
 *  2. faults per interval over the capture's time, stacked per device;
 *  3. response latency over time (mean and max per interval, log scale),
 *     with the --deadline line when one is given.
 * Plain SVG 1.1 with no scripts or external references, so it renders in
 * a browser, an image viewer or rsvg-convert alike.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "internal.h"

#define W 960		/* picture width */
#define PH 250		/* panel height */
#define ML 100		/* left margin (axis labels) */
#define MR 150		/* right margin (legend) */
#define MT 50		/* top margin (title) */
#define GAP 70		/* between panels (panel title, x labels) */
#define PW (W - ML - MR)

static const char *const colors[IOPF_TL_DEVS + 1] = {
	"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
	"#8c564b", "#e377c2", "#17becf", "#7f7f7f",
};

/* Text for an XML text node or attribute: printable ASCII, the rest as '?'. */
static void put_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '&')
			fputs("&amp;", f);
		else if (c == '<')
			fputs("&lt;", f);
		else if (c == '>')
			fputs("&gt;", f);
		else if (c == '"')
			fputs("&quot;", f);
		else
			fputc(c >= 0x20 && c < 0x7f ? c : '?', f);
	}
}

static void text(FILE *f, double x, double y, const char *anchor, const char *s)
{
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">", x, y, anchor);
	put_text(f, s);
	fputs("</text>\n", f);
}

static void panel_frame(FILE *f, int top, const char *title, const char *ylabel)
{
	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#999\"/>\n",
		ML, top, PW, PH);
	fprintf(f, "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">", ML, top - 10);
	put_text(f, title);
	fputs("</text>\n", f);
	fprintf(f, "<text transform=\"translate(16,%d) rotate(-90)\" text-anchor=\"middle\">", top + PH / 2);
	put_text(f, ylabel);
	fputs("</text>\n", f);
}

static void dur(char *buf, size_t len, uint64_t ns)
{
	iopf_duration_format(ns, buf, len);
}

static void panel_histogram(FILE *f, int top, const struct iopf_hist *h)
{
	uint64_t b[IOPF_HIST_LOG2_BUCKETS], max = 0;
	int lo = -1, hi = -1;
	char buf[32];

	iopf_hist_log2(h, b);
	for (int i = 0; i < IOPF_HIST_LOG2_BUCKETS; i++) {
		if (!b[i])
			continue;
		if (lo < 0)
			lo = i;
		hi = i;
		if (b[i] > max)
			max = b[i];
	}
	panel_frame(f, top, "Response latency (log2 buckets)", "responses");
	if (lo < 0) {
		text(f, ML + PW / 2.0, top + PH / 2.0, "middle", "no responses with a latency");
		return;
	}
	int n = hi - lo + 1;
	double bw = (double)PW / n;
	for (int i = lo; i <= hi; i++) {
		double x = ML + (i - lo) * bw, bh = (double)PH * b[i] / max;
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
			"<title>%" PRIu64 "</title></rect>\n",
			x + 1, top + PH - bh, bw - 2, bh, colors[0], b[i]);
		if (n <= 8 || (i - lo) % ((n + 7) / 8) == 0) {
			dur(buf, sizeof(buf), (uint64_t)1 << i);
			text(f, x + bw / 2, top + PH + 16, "middle", buf);
		}
	}
	snprintf(buf, sizeof(buf), "%" PRIu64, max);
	text(f, ML - 6, top + 12, "end", buf);
	text(f, ML - 6, top + PH, "end", "0");
	text(f, ML + PW / 2.0, top + PH + 34, "middle", "latency, from the bucket's lower bound");
}

static void time_axis(FILE *f, int top, const struct iopf_timeline_view *v)
{
	char buf[32];

	for (int k = 0; k <= 4; k++) {
		dur(buf, sizeof(buf), v->nbins * v->width_ns / 4 * k);
		text(f, ML + PW * k / 4.0, top + PH + 16, k == 0 ? "start" : k == 4 ? "end" : "middle", buf);
	}
	dur(buf, sizeof(buf), v->width_ns);
	char label[96];
	snprintf(label, sizeof(label), "time since the first record (intervals of %s)", buf);
	text(f, ML + PW / 2.0, top + PH + 34, "middle", label);
}

static void panel_faults(FILE *f, int top, const struct iopf_timeline_view *v)
{
	uint64_t max = 0;
	char buf[64];

	panel_frame(f, top, "Faults per interval, by device", "faults");
	for (uint32_t i = 0; i < v->nbins; i++) {
		uint64_t s = 0;
		for (int k = 0; k <= IOPF_TL_DEVS; k++)
			s += v->bins[i].faults[k];
		if (s > max)
			max = s;
	}
	if (!max) {
		text(f, ML + PW / 2.0, top + PH / 2.0, "middle", "no faults");
		return;
	}
	double bw = (double)PW / v->nbins;
	for (uint32_t i = 0; i < v->nbins; i++) {
		double y = top + PH;
		for (int k = 0; k <= IOPF_TL_DEVS; k++) {
			uint64_t c = v->bins[i].faults[k];
			if (!c)
				continue;
			double bh = (double)PH * c / max;
			y -= bh;
			fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"/>\n",
				ML + i * bw, y, bw > 1.5 ? bw - 0.5 : bw, bh, colors[k]);
		}
	}
	snprintf(buf, sizeof(buf), "%" PRIu64, max);
	text(f, ML - 6, top + 12, "end", buf);
	text(f, ML - 6, top + PH, "end", "0");
	for (uint32_t k = 0; k <= v->ndevs && k <= IOPF_TL_DEVS; k++) {
		uint32_t slot = k < v->ndevs ? k : IOPF_TL_DEVS;
		if (k == v->ndevs && !v->other)
			break;
		int y = top + 14 + 18 * (int)k;
		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>\n",
			W - MR + 14, y - 10, colors[slot]);
		if (k < v->ndevs)
			snprintf(buf, sizeof(buf), "dev %" PRIu32, v->devs[k]);
		else
			snprintf(buf, sizeof(buf), "other devices");
		text(f, W - MR + 32, y, "start", buf);
	}
	time_axis(f, top, v);
}

/* y of a latency on the panel's log scale from 2^lo to 2^hi ns. */
static double lat_y(int top, uint64_t ns, int lo, int hi)
{
	double l = log2((double)(ns ? ns : 1));
	if (l < lo)
		l = lo;
	if (l > hi)
		l = hi;
	return top + PH - PH * (l - lo) / (hi - lo);
}

static void panel_latency(FILE *f, int top, const struct iopf_timeline_view *v, uint64_t deadline)
{
	uint64_t mn = UINT64_MAX, mx = deadline;
	char buf[32];

	panel_frame(f, top, "Response latency over time (log scale)", "latency");
	for (uint32_t i = 0; i < v->nbins; i++) {
		const struct iopf_tl_bin *b = &v->bins[i];
		if (!b->responses)
			continue;
		if (b->latency_sum / b->responses < mn)
			mn = b->latency_sum / b->responses;
		if (b->latency_max > mx)
			mx = b->latency_max;
	}
	if (mn == UINT64_MAX) {
		text(f, ML + PW / 2.0, top + PH / 2.0, "middle", "no responses with a latency");
		return;
	}
	if (deadline && deadline < mn)
		mn = deadline;
	int lo = (int)floor(log2((double)(mn ? mn : 1))), hi = (int)ceil(log2((double)mx));
	/* 2^63 ns (292 years) tops the axis: 1 << 64 is not a number (a latency or --deadline above is drawn at the top) */
	if (hi > 63)
		hi = 63;
	if (lo > 62)
		lo = 62;
	if (hi <= lo)
		hi = lo + 1;
	for (int e = lo; e <= hi; e += (hi - lo + 5) / 6) {
		double y = lat_y(top, (uint64_t)1 << e, lo, hi);
		fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#eee\"/>\n", ML, y, ML + PW, y);
		dur(buf, sizeof(buf), (uint64_t)1 << e);
		text(f, ML - 6, y + 4, "end", buf);
	}
	double bw = (double)PW / v->nbins;
	fputs("<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"", f);
	for (uint32_t i = 0; i < v->nbins; i++)
		if (v->bins[i].responses)
			fprintf(f, "%.1f,%.1f ", ML + (i + 0.5) * bw,
				lat_y(top, v->bins[i].latency_sum / v->bins[i].responses, lo, hi));
	fputs("\"/>\n", f);
	for (uint32_t i = 0; i < v->nbins; i++)
		if (v->bins[i].responses)
			fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"1.8\" fill=\"#d62728\"/>\n",
				ML + (i + 0.5) * bw, lat_y(top, v->bins[i].latency_max, lo, hi));
	if (deadline) {
		double y = lat_y(top, deadline, lo, hi);
		fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#d62728\" "
			"stroke-dasharray=\"6,4\"/>\n", ML, y, ML + PW, y);
		dur(buf, sizeof(buf), deadline);
		char label[48];
		snprintf(label, sizeof(label), "deadline %s", buf);
		text(f, W - MR + 8, y + 4, "start", label);
	}
	fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#1f77b4\" stroke-width=\"2\"/>\n",
		W - MR + 14, top + 10, W - MR + 28, top + 10);
	text(f, W - MR + 32, top + 14, "start", "mean");
	fprintf(f, "<circle cx=\"%d\" cy=\"%d\" r=\"3\" fill=\"#d62728\"/>\n", W - MR + 21, top + 28);
	text(f, W - MR + 32, top + 32, "start", "max");
	time_axis(f, top, v);
}

int iopf_svg_write(FILE *f, const char *title, const struct iopf_hist *latency,
		   const struct iopf_timeline *tl, uint64_t deadline_ns)
{
	struct iopf_timeline_view v;
	int h = MT + 20 + 3 * PH + 2 * GAP + 50;

	iopf_timeline_get(tl, &v);
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" height=\"%d\" "
		"viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W, h, W, h);
	fprintf(f, "<text x=\"%d\" y=\"28\" font-size=\"16\" font-weight=\"bold\">", ML);
	put_text(f, title);
	fputs("</text>\n", f);
	panel_histogram(f, MT + 20, latency);
	panel_faults(f, MT + 20 + PH + GAP, &v);
	panel_latency(f, MT + 20 + 2 * (PH + GAP), &v, deadline_ns);
	fputs("</svg>\n", f);
	return fflush(f) || ferror(f) ? -(errno ? errno : EIO) : 0;
}
