// SPDX-License-Identifier: MIT
/*
 * lib/doctor.c and lib/tar.c: the VT-d cap/ecap decoder, the PCIe
 * extended capability walk, the kernel log classifier, the ustar writer,
 * and a run on an empty root (everything absent: problems, no crash).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iopf.h"
#include "tap.h"

static void put16(uint8_t *p, unsigned int v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v & 0xffff);
	put16(p + 2, v >> 16);
}

static void test_vtd(void)
{
	struct iopf_vtd_caps c;

	/* QEMU 11 intel-iommu,scalable-mode=on,svm=on,...: SMTS PRS PDS PASID(PSS 19) FLTS DT, no SLTS/NEST */
	iopf_vtd_decode(0x00d2008c22260206ull, 0x8d9a20f00f4eull, &c);
	ok(c.sm && c.prs && c.pds && c.pasid && c.flts && c.dev_iotlb, "QEMU svm ecap: SM, PRS, PDS, PASID, FLTS, DT");
	ok(!c.slts && !c.nest, "QEMU svm ecap: no second stage, no nesting");
	is(c.pss, 19, "PSS 19: 20-bit PASIDs");
	is(c.mgaw, 39, "cap MGAW 39 bits");
	iopf_vtd_decode(0, 0x8d9a20f00f4eull & ~(1ull << 29), &c);
	ok(!c.prs && c.sm, "PRS bit 29 alone cleared");
	iopf_vtd_decode(0, 1ull << 26, &c);
	ok(c.nest && !c.sm && !c.prs, "NEST is bit 26");
}

static void test_pci(void)
{
	uint8_t cfg[4096];
	struct iopf_pci_caps c;

	memset(cfg, 0, sizeof(cfg));
	/* ATS at 0x100 -> PRI at 0x140 -> PASID at 0x200 */
	put32(cfg + 0x100, 0x0f | 1u << 16 | 0x140u << 20);
	put16(cfg + 0x106, 0x8000 | 3);
	put32(cfg + 0x140, 0x13 | 1u << 16 | 0x200u << 20);
	put16(cfg + 0x144, 1);
	put16(cfg + 0x146, 0x0001);
	put32(cfg + 0x148, 256);
	put32(cfg + 0x14c, 128);
	put32(cfg + 0x200, 0x1b | 1u << 16);
	put16(cfg + 0x204, 20 << 8 | 4);
	iopf_pci_caps_parse(cfg, sizeof(cfg), &c);
	ok(c.ext && c.ats == 0x100 && c.pri == 0x140 && c.pasid == 0x200, "the three capabilities found");
	ok(c.ats_enabled && c.ats_stu == 3, "ATS enabled, STU 3");
	ok(c.pri_enabled && c.pri_reset_needed && !c.pri_stopped, "PRI enabled, response failure");
	is(c.pri_capacity, 256, "PRI capacity");
	is(c.pri_alloc, 128, "PRI allocation");
	ok(!c.pasid_enabled && c.pasid_priv && !c.pasid_exec && c.pasid_width == 20, "PASID: width 20, priv");
	iopf_pci_caps_parse(cfg, 64, &c);
	ok(!c.ext && !c.pri, "64 bytes (not root): no extended space");
	/* a loop: the capability points at itself */
	memset(cfg + 0x100, 0, 0x200);
	put32(cfg + 0x100, 0x0f | 1u << 16 | 0x100u << 20);
	iopf_pci_caps_parse(cfg, sizeof(cfg), &c);
	ok(c.ats == 0x100 && !c.pri, "a next pointer to itself ends the walk");
	/* a next pointer past the end of a short image */
	put32(cfg + 0x100, 0x13 | 1u << 16 | 0xffcu << 20);
	iopf_pci_caps_parse(cfg, 0x108, &c);
	ok(!c.pri, "PRI truncated by the image end is not read");
}

static void test_dmesg(void)
{
	static const struct {
		const char *line, *id;
	} cases[] = {
		{ "[ 1.0] DMAR: [DMA Read NO_PASID] Request device [0000:00:03.0] fault addr 0x1000 [fault reason 0x06] "
		  "PTE Read access is not set", "dmar-fault" },
		{ "DMAR: [INTR-REMAP] Request device [0000:00:1f.0] fault index 0x24 [fault reason 0x26] x", "dmar-ir-fault" },
		{ "DMAR: IOMMU: dmar0: PRQ overflow detected", "prq-overflow" },
		{ "IOMMU: dmar3: Page request in Privilege Mode", "prq-privileged" },
		{ "AMD-Vi: Event logged [IO_PAGE_FAULT device=0000:c1:00.0 domain=0x0012 address=0x0 flags=0x0]",
		  "amd-io-page-fault" },
		{ "arm-smmu-v3 x: event: F_TRANSLATION client: 0000:00:02.0 sid: 0x10 ssid: 0x0 iova: 0x0 ipa: 0x0",
		  "smmu-event" },
		{ "arm-smmu-v3 x: PRIQ overflow detected -- requests lost", "smmu-priq-overflow" },
		{ "vfio-pci 0000:00:03.0: iopf with pasid 0 aborted", "iopf-aborted" },
		{ "Dec 07 host kernel: DMAR: IOMMU: dmar0: PRQ overflow detected", "prq-overflow" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct iopf_dmesg_class *c = iopf_dmesg_classify(cases[i].line);

		ok(c && !strcmp(c->id, cases[i].id), "classified %s", cases[i].id);
	}
	ok(!iopf_dmesg_classify("[ 0.1] e1000e: eth0 NIC Link is Up"), "an unrelated line: no class");
	ok(!iopf_dmesg_classify(""), "an empty line: no class");
}

static void test_tar(void)
{
	char path[] = "/tmp/test-doctor-XXXXXX";
	int fd = mkstemp(path);
	struct iopf_tar *t;
	unsigned char h[512];
	unsigned int sum = 0, want;
	char longname[300];

	ok(fd >= 0, "temp file");
	unlink(path);
	is(iopf_tar_open(&t, fd), 0, "tar open");
	is(iopf_tar_add(t, "../etc/x", IOPF_DOCTOR_FILE, "a", 1, 0), -EINVAL, "\"..\" refused");
	is(iopf_tar_add(t, "/etc/x", IOPF_DOCTOR_FILE, "a", 1, 0), -EINVAL, "an absolute name refused");
	is(iopf_tar_add(t, "a/./b", IOPF_DOCTOR_FILE, "a", 1, 0), -EINVAL, "a \".\" component refused");
	memset(longname, 'x', 250);
	longname[250] = '\0';
	is(iopf_tar_check(longname, IOPF_DOCTOR_FILE, "", 0), -ENAMETOOLONG, "250 bytes without a '/': too long");
	for (int i = 50; i < 250; i += 51)
		longname[i] = '/';
	is(iopf_tar_check(longname, IOPF_DOCTOR_FILE, "", 0), 0, "250 bytes split at a '/': prefix + name");
	is(iopf_tar_add(t, "d/hello", IOPF_DOCTOR_FILE, "hello\n", 6, 1000), 0, "a file");
	is(iopf_tar_close(t), 0, "tar close");
	is(lseek(fd, 0, SEEK_END), 512 + 512 + 1024, "one header, one data block, two zero blocks");
	is(pread(fd, h, sizeof(h), 0), 512, "read the header back");
	ok(!memcmp(h, "d/hello", 8) && !memcmp(h + 257, "ustar", 6) && h[156] == '0', "name, magic, type");
	want = (unsigned int)strtoul((char *)h + 148, NULL, 8);
	memset(h + 148, ' ', 8);
	for (size_t i = 0; i < sizeof(h); i++)
		sum += h[i];
	is(sum, want, "header checksum");
	is(strtoul((char *)h + 124, NULL, 8), 6, "size field");
	close(fd);
}

static void test_empty_root(void)
{
	char dir[] = "/tmp/test-doctor-root-XXXXXX";
	struct iopf_doctor_cfg cfg = { 0 };
	struct iopf_doctor *d;
	char err[256];
	bool units = false;

	ok(mkdtemp(dir) != NULL, "temp root");
	cfg.root = dir;
	is(iopf_doctor_run(&cfg, &d, err, sizeof(err)), 0, "doctor on an empty tree runs");
	ok(iopf_doctor_worst(d) == IOPF_DOCTOR_PROBLEM, "an empty tree has problems");
	for (size_t i = 0; i < iopf_doctor_count(d); i++)
		units |= !strcmp(iopf_doctor_get(d, i)->id, "iommu.units") &&
			 iopf_doctor_get(d, i)->status == IOPF_DOCTOR_PROBLEM;
	ok(units, "no IOMMU is a problem");
	iopf_doctor_free(d);
	rmdir(dir);
	cfg.root = "/nonexistent-doctor-root";
	ok(iopf_doctor_run(&cfg, &d, err, sizeof(err)) == -ENOENT && strstr(err, "nonexistent"),
	   "a missing root: -ENOENT, named");
}

int main(void)
{
	test_vtd();
	test_pci();
	test_dmesg();
	test_tar();
	test_empty_root();
	return tap_done();
}
