// SPDX-License-Identifier: MIT
/*
 * pcapscan FILE: the benchmark baseline.  Reads every record with bare
 * libpcap and touches its bytes, decoding nothing: the floor for any
 * capture reader on this machine.
 */
#include <pcap/pcap.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const unsigned char *p;
	unsigned long long n = 0, sum = 0;
	pcap_t *pc;

	if (argc != 2) {
		fprintf(stderr, "usage: pcapscan FILE\n");
		return 64;
	}
	pc = pcap_open_offline_with_tstamp_precision(argv[1], PCAP_TSTAMP_PRECISION_NANO, err);
	if (!pc) {
		fprintf(stderr, "pcapscan: %s\n", err);
		return 2;
	}
	while (pcap_next_ex(pc, &h, &p) == 1) {
		n++;
		sum += h->caplen ? p[h->caplen - 1] : 0;
	}
	pcap_close(pc);
	printf("%llu records (checksum %llu)\n", n, sum);
	return 0;
}
