/*
 * pri-testdev: drive the real-path tier's PCIe PRI test device (QEMU's
 * iopf-testdev, tests/kernel/qemu-iopf-*.patch) from inside the guest,
 * through sysfs only (config and resource0), so it works while the device
 * is bound to vfio-pci and iopftool holds its VFIO cdev.  The register
 * interface is tests/kernel/README.qemu.
 *
 *   pri-testdev find                 the device's BDF (exit 1: none): the
 *                                    first with a PRI capability, or
 *                                    $PRI_TESTDEV_BDF
 *   pri-testdev list                 every test device: "BDF pri|nopri"
 *   pri-testdev bind                 bind it to vfio-pci; print its cdev
 *                                    (/dev/vfio/devices/vfioN)
 *   pri-testdev unbind               unbind it from its driver
 *   pri-testdev pri on|off           set or clear the PRI Enable bit
 *   pri-testdev master               memory decoding + bus mastering on
 *   pri-testdev clear                CMD CLEAR (counters, log, outstanding)
 *   pri-testdev send KEY=VAL...      program and CMD SEND:
 *        iova=ADDR npages=N pasid=N|none prgi=N
 *        flags=r,w,x,priv,perpage,nolast,ignalloc,noretry
 *   pri-testdev dma KEY=VAL...       CMD DMA on the range (same keys)
 *   pri-testdev wait N [SECONDS]     until RESP_COUNT >= N (exit 1: timeout)
 *   pri-testdev show                 every register and response, KEY=VALUE
 *   pri-testdev resp I               response I: "code=C prgi=G pasid=P|none answered=A dma_ok=D"
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define VENDOR 0x1b36
#define DEVICE 0x0f14

enum {
	R_ID = 0x000, R_IOVA_LO = 0x004, R_IOVA_HI = 0x008, R_NPAGES = 0x00c,
	R_PASID = 0x010, R_PRGI = 0x014, R_FLAGS = 0x018, R_CMD = 0x01c,
	R_STATUS = 0x020, R_SENT = 0x024, R_ERRORS = 0x028, R_LAST_ERRNO = 0x02c,
	R_ALLOC = 0x030, R_OUTSTANDING = 0x034, R_DMA_OK = 0x038, R_DMA_FAIL = 0x03c,
	R_RESP_COUNT = 0x040, R_LOG = 0x800,
};

static const char *const flag_names[] = {
	"r", "w", "x", "priv", "perpage", "nolast", "ignalloc", "noretry",
};
static const char *const code_names[] = { "success", "invalid", "failure" };

static char bdf[256];

__attribute__((format(printf, 1, 2), noreturn))
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pri-testdev: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(2);
}

static unsigned read_hex(const char *path)
{
	FILE *f = fopen(path, "r");
	unsigned v = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%x", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

static unsigned ext_cap(int fd, unsigned id);

/* Does the device at sysfs BDF have a PRI capability? */
static int has_pri(const char *b)
{
	char p[600];
	int fd, r;

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/config", b);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return 0;
	r = ext_cap(fd, 0x13) != 0;
	close(fd);
	return r;
}

static int find(int list)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	char p[600];
	int found = 0;

	if (getenv("PRI_TESTDEV_BDF") && !list) {
		snprintf(bdf, sizeof(bdf), "%s", getenv("PRI_TESTDEV_BDF"));
		return 0;
	}
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/vendor", e->d_name);
		if (read_hex(p) != VENDOR)
			continue;
		snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/device", e->d_name);
		if (read_hex(p) != DEVICE)
			continue;
		if (list) {
			printf("%s %s\n", e->d_name, has_pri(e->d_name) ? "pri" : "nopri");
			found = 1;
			continue;
		}
		if (!has_pri(e->d_name))
			continue;
		snprintf(bdf, sizeof(bdf), "%s", e->d_name);
		closedir(d);
		return 0;
	}
	closedir(d);
	return found ? 0 : -1;
}

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0 || write(fd, s, strlen(s)) < 0) {
		if (fd >= 0)
			close(fd);
		die("cannot write %s", path);
	}
	close(fd);
}

static volatile uint32_t *bar(void)
{
	char p[600];
	void *m;
	int fd;

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/resource0", bdf);
	fd = open(p, O_RDWR | O_SYNC);
	if (fd < 0)
		die("cannot open %s", p);
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		die("cannot mmap %s", p);
	close(fd);
	return m;
}

static uint32_t rd(volatile uint32_t *b, unsigned off) { return b[off / 4]; }
static void wr(volatile uint32_t *b, unsigned off, uint32_t v) { b[off / 4] = v; }

static int cfg_fd(void)
{
	char p[600];
	int fd;

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(p, O_RDWR);
	if (fd < 0)
		die("cannot open %s", p);
	return fd;
}

/* Offset of extended capability ID in config space, 0 if absent. */
static unsigned ext_cap(int fd, unsigned id)
{
	unsigned off = 0x100;
	uint32_t h;

	while (off && off < 4096) {
		if (pread(fd, &h, 4, off) != 4)
			return 0;
		if ((h & 0xffff) == id)
			return off;
		off = h >> 20;
	}
	return 0;
}

static void pri(int on)
{
	int fd = cfg_fd();
	unsigned off = ext_cap(fd, 0x13);
	uint16_t ctl;

	if (!off)
		die("%s has no PRI capability (is config space > 256 bytes?)", bdf);
	if (pread(fd, &ctl, 2, off + 4) != 2)
		die("cannot read %s PRI control", bdf);
	ctl = on ? (ctl | 1) : (ctl & ~1);
	if (pwrite(fd, &ctl, 2, off + 4) != 2)
		die("cannot write %s PRI control", bdf);
	close(fd);
}

static void master(void)
{
	int fd = cfg_fd();
	uint16_t cmd;

	if (pread(fd, &cmd, 2, 4) != 2)
		die("cannot read %s command register", bdf);
	cmd |= 0x6;	/* memory space, bus master */
	if (pwrite(fd, &cmd, 2, 4) != 2)
		die("cannot write %s command register", bdf);
	close(fd);
}

static void program(volatile uint32_t *b, int argc, char **argv)
{
	uint64_t iova = 0x100000;
	uint32_t npages = 1, pasid = 0, prgi = 0, flags = 1;

	for (int i = 0; i < argc; i++) {
		char *v = strchr(argv[i], '=');

		if (!v)
			die("bad argument %s (KEY=VALUE)", argv[i]);
		*v++ = '\0';
		if (!strcmp(argv[i], "iova"))
			iova = strtoull(v, NULL, 0);
		else if (!strcmp(argv[i], "npages"))
			npages = strtoul(v, NULL, 0);
		else if (!strcmp(argv[i], "prgi"))
			prgi = strtoul(v, NULL, 0);
		else if (!strcmp(argv[i], "pasid"))
			pasid = strcmp(v, "none") ? (1u << 31) | strtoul(v, NULL, 0) : 0;
		else if (!strcmp(argv[i], "flags")) {
			flags = 0;
			for (char *t = strtok(v, ","); t; t = strtok(NULL, ",")) {
				unsigned k;

				for (k = 0; k < 8 && strcmp(t, flag_names[k]); k++)
					;
				if (k == 8)
					die("unknown flag %s", t);
				flags |= 1u << k;
			}
		} else
			die("unknown key %s", argv[i]);
	}
	wr(b, R_IOVA_LO, (uint32_t)iova);
	wr(b, R_IOVA_HI, (uint32_t)(iova >> 32));
	wr(b, R_NPAGES, npages);
	wr(b, R_PASID, pasid);
	wr(b, R_PRGI, prgi);
	wr(b, R_FLAGS, flags);
}

static void print_resp(volatile uint32_t *b, unsigned i)
{
	unsigned o = R_LOG + 16 * i;
	uint32_t w0 = rd(b, o), w1 = rd(b, o + 4);
	unsigned code = (w0 >> 12) & 0xf;

	if (!(w0 >> 31)) {
		printf("none\n");
		return;
	}
	printf("code=%s prgi=%u pasid=", code < 3 ? code_names[code] : "?", w0 & 0x1ff);
	if (w1 >> 31)
		printf("%u", w1 & 0xfffff);
	else
		printf("none");
	printf(" answered=%u dma_ok=%u\n", rd(b, o + 8), rd(b, o + 12));
}

int main(int argc, char **argv)
{
	volatile uint32_t *b;
	const char *cmd = argc > 1 ? argv[1] : "";

	if (!strcmp(cmd, "list"))
		return find(1) ? 1 : 0;
	if (find(0)) {
		fprintf(stderr, "pri-testdev: no iopf-testdev (%04x:%04x) on the PCI bus\n", VENDOR, DEVICE);
		return 1;
	}
	if (!strcmp(cmd, "find")) {
		printf("%s\n", bdf);
		return 0;
	}
	if (!strcmp(cmd, "bind") || !strcmp(cmd, "unbind")) {
		char p[600];
		DIR *d;
		struct dirent *e;

		snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
		if (access(p, F_OK) == 0)
			write_file(p, bdf);
		if (!strcmp(cmd, "unbind"))
			return 0;
		snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/driver_override", bdf);
		write_file(p, "vfio-pci");
		write_file("/sys/bus/pci/drivers_probe", bdf);
		snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
		d = opendir(p);
		if (!d)
			die("%s has no vfio-dev after binding to vfio-pci", bdf);
		while ((e = readdir(d)))
			if (!strncmp(e->d_name, "vfio", 4)) {
				printf("/dev/vfio/devices/%s\n", e->d_name);
				closedir(d);
				return 0;
			}
		closedir(d);
		die("%s: no vfioN cdev", bdf);
	}
	if (!strcmp(cmd, "pri") && argc == 3) {
		pri(!strcmp(argv[2], "on"));
		return 0;
	}
	if (!strcmp(cmd, "master")) {
		master();
		return 0;
	}
	b = bar();
	if (rd(b, R_ID) != 0x49504601) {
		fprintf(stderr, "pri-testdev: %s: BAR0 ID reads %#x, not 0x49504601 (memory decoding off?)\n",
			bdf, rd(b, R_ID));
		return 2;
	}
	if (!strcmp(cmd, "clear")) {
		wr(b, R_CMD, 2);
	} else if (!strcmp(cmd, "send") || !strcmp(cmd, "dma")) {
		program(b, argc - 2, argv + 2);
		wr(b, R_CMD, !strcmp(cmd, "send") ? 1 : 3);
	} else if (!strcmp(cmd, "wait") && argc >= 3) {
		uint32_t want = strtoul(argv[2], NULL, 0);
		double limit = argc > 3 ? atof(argv[3]) : 20;
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		for (double t = 0; rd(b, R_RESP_COUNT) < want; t += 0.01) {
			if (t >= limit) {
				fprintf(stderr, "pri-testdev: %u responses after %.0f s, wanted %u\n",
					rd(b, R_RESP_COUNT), limit, want);
				return 1;
			}
			nanosleep(&ts, NULL);
		}
	} else if (!strcmp(cmd, "show")) {
		uint32_t st = rd(b, R_STATUS), n = rd(b, R_RESP_COUNT);

		printf("status=%#x alloc_stop=%u pri=%u pasid_en=%u ats=%u master=%u\n", st, st & 1,
		       (st >> 1) & 1, (st >> 2) & 1, (st >> 3) & 1, (st >> 4) & 1);
		printf("sent=%u errors=%u last_errno=%u alloc=%u outstanding=%u dma_ok=%u dma_fail=%u resp_count=%u\n",
		       rd(b, R_SENT), rd(b, R_ERRORS), rd(b, R_LAST_ERRNO), rd(b, R_ALLOC),
		       rd(b, R_OUTSTANDING), rd(b, R_DMA_OK), rd(b, R_DMA_FAIL), n);
		for (unsigned i = 0; i < n && i < 128; i++) {
			printf("resp%u: ", i);
			print_resp(b, i);
		}
	} else if (!strcmp(cmd, "resp") && argc == 3) {
		print_resp(b, strtoul(argv[2], NULL, 0));
	} else {
		fprintf(stderr, "usage: pri-testdev find|bind|unbind|pri on|off|master|clear|send ...|dma ...|wait N [S]|show|resp I\n");
		return 64;
	}
	return 0;
}
