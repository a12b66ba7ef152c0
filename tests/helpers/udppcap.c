// SPDX-License-Identifier: MIT
/*
 * udppcap FILE N: a pcap of N small UDP packets (Ethernet, IPv4, UDP,
 * 16 bytes of payload: 58 bytes each), written with libpcap, 10 us
 * apart.  The tcpdump baseline of tests/bench.sh: as many packets as
 * the iopf capture has records, for `TZ=UTC tcpdump -nr FILE`.
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put16(unsigned char *p, unsigned int v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

/* The IPv4 header checksum over 20 bytes. */
static unsigned int ip_sum(const unsigned char *h)
{
	unsigned long s = 0;

	for (int i = 0; i < 20; i += 2)
		s += (unsigned long)(h[i] << 8 | h[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (unsigned int)(~s & 0xffff);
}

int main(int argc, char **argv)
{
	unsigned char pkt[58] = { 0 };
	struct pcap_pkthdr h = { .caplen = sizeof(pkt), .len = sizeof(pkt) };
	unsigned long long n, i;
	pcap_dumper_t *d;
	pcap_t *p;

	if (argc != 3 || !(n = strtoull(argv[2], NULL, 0))) {
		fprintf(stderr, "usage: udppcap FILE N\n");
		return 64;
	}
	p = pcap_open_dead(DLT_EN10MB, 65535);
	d = p ? pcap_dump_open(p, argv[1]) : NULL;
	if (!d) {
		fprintf(stderr, "udppcap: %s: %s\n", argv[1], p ? pcap_geterr(p) : "out of memory");
		return 2;
	}
	memcpy(pkt, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00", 14);
	pkt[14] = 0x45;			/* IPv4, 20-byte header */
	put16(pkt + 16, 44);		/* total length: 20 + 8 + 16 */
	pkt[22] = 64;			/* TTL */
	pkt[23] = 17;			/* UDP */
	memcpy(pkt + 26, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
	put16(pkt + 36, 9);		/* UDP destination port: discard */
	put16(pkt + 38, 24);		/* UDP length: 8 + 16; checksum 0: none */
	for (i = 0; i < n; i++) {
		put16(pkt + 18, (unsigned int)i);	/* IP id */
		pkt[24] = pkt[25] = 0;
		put16(pkt + 24, ip_sum(pkt + 14));
		put16(pkt + 34, 1024 + (unsigned int)(i % 4096));	/* source port */
		h.ts.tv_sec = 1767225600 + (long)(i / 100000);
		h.ts.tv_usec = (long)(i % 100000) * 10;
		pcap_dump((unsigned char *)d, &h, pkt);
	}
	if (pcap_dump_flush(d)) {
		fprintf(stderr, "udppcap: %s: write error\n", argv[1]);
		return 2;
	}
	pcap_dump_close(d);
	pcap_close(p);
	return 0;
}
