// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the parsers of iopftool doctor that read hostile
 * bytes (lib/doctor.c, lib/tar.c).  The first byte chooses:
 *   even: the rest is a PCI config space image: iopf_pci_caps_parse()
 *         (the ATS/PRI/PASID walk must end, and every offset it reports
 *         must lie in the image with its registers), and the first 16
 *         bytes as a VT-d cap/ecap pair (iopf_vtd_decode());
 *   odd:  the rest is kernel log text: each line classified
 *         (iopf_dmesg_classify(): a class has an id, a source and an
 *         explanation), and each line as a ustar member name
 *         (iopf_tar_check(): never accepts an absolute name or a ".."
 *         component).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "iopf.h"

static void config(const uint8_t *p, size_t n)
{
	struct iopf_pci_caps c;
	struct iopf_vtd_caps v;
	uint64_t cap = 0, ecap = 0;

	iopf_pci_caps_parse(p, n, &c);
	assert(!c.ats || ((size_t)c.ats >= 0x100 && (size_t)c.ats + 8 <= n));
	assert(!c.pri || ((size_t)c.pri >= 0x100 && (size_t)c.pri + 16 <= n));
	assert(!c.pasid || ((size_t)c.pasid >= 0x100 && (size_t)c.pasid + 8 <= n));
	assert(c.ext == (n >= 0x104));
	if (n >= 16) {
		memcpy(&cap, p, 8);
		memcpy(&ecap, p + 8, 8);
	}
	iopf_vtd_decode(cap, ecap, &v);
	assert(v.pss < 32 && v.mgaw >= 1 && v.mgaw <= 64);
}

static void lines(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1), *line, *save = NULL;

	if (!s)
		return;
	memcpy(s, p, n);
	s[n] = '\0';
	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const struct iopf_dmesg_class *c = iopf_dmesg_classify(line);
		size_t l = strlen(line);

		assert(!c || (c->id[0] && c->source[0] && c->explain[0] && c->status <= IOPF_DOCTOR_PROBLEM));
		if (!iopf_tar_check(line, IOPF_DOCTOR_FILE, "", 0)) {
			assert(line[0] != '/');
			assert(strcmp(line, "..") && strncmp(line, "../", 3));
			assert(!strstr(line, "/../") && !(l >= 3 && !strcmp(line + l - 3, "/..")));
		}
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	if (data[0] & 1)
		lines(data + 1, size - 1);
	else
		config(data + 1, size - 1);
	return 0;
}
