#!/bin/sh
# guest-timeout: 300
# The tap's overhead, per back-end: faults per second through the mock
# with and without a tap recording it, and with kernel.bpf_stats_enabled
# each BPF program's runs and mean time (where the time goes).
. /iopf/guest/lib/t.sh
need_iopftool
need_kprobe_events
. /iopf/guest/lib/tap.sh

# Overhead: the same mock run without and with a tap watching it.
# The seconds the summary line's "in DURATION" (850ns, 1.234us, 12.500ms, 3.000s) took.
rate() { "$IOPFTOOL" monitor --source mock --gen-rate 1000000 --gen-groups 3000 -c 3000 >/dev/null 2>rate.err &&
	sed -n "s/.*responses .* in \([0-9.]*[a-z]*\)$/\1/p" rate.err |
	awk "{ v = \$1; u = v; sub(/^[0-9.]+/, \"\", u); sub(/[a-z]+$/, \"\", v);
	       print v * (u == \"ns\" ? 1e-9 : u == \"us\" ? 1e-6 : u == \"ms\" ? 1e-3 : 1) }"; }
# The machine is shared and TCG is noisy (the rate alone moves by 30% from
# one run to the next): five pairs, each a run without the tap and one with
# it right after, and the median of the five ratios.
median() { sort -n | awk "{ v[NR] = \$1 } END { print v[int((NR + 1) / 2)] }"; }
for B in $backends; do
	t "tap overhead measured ($B)" '
		: >ratios && : >s0 && : >s1 &&
		for i in 1 2 3 4 5; do
			a=$(rate) && start_tap tap7 record --tap-backend $B --source tap -w ov-$B.pcap &&
			b=$(rate) && stop_tap 0.2 && test -n "$a" && test -n "$b" || exit 1
			echo "$a" >>s0 && echo "$b" >>s1 && awk -v a="$a" -v b="$b" "BEGIN { print a / b }" >>ratios
		done &&
		awk -v a="$(median <s0)" -v b="$(median <s1)" -v r="$(median <ratios)" -v B="$B" -v all="$(sort -n ratios | tr "\n" " ")" \
			"BEGIN { printf \"# tap overhead (%s): %.0f faults/s without the tap, %.0f with it (medians), ratio %.2f (median of 5 pairs: %s)\\n\", B, 3000/a, 3000/b, r, all }" >&2
	'
	grep "tap overhead" /tmp/t.out 2>/dev/null
	# Where the time goes: one more tapped run with the kernel's BPF statistics on.
	if [ "$B" != kprobe ] && [ -w /proc/sys/kernel/bpf_stats_enabled ]; then
		echo 1 >/proc/sys/kernel/bpf_stats_enabled
		start_tap tap8 -v record --tap-backend $B --source tap -w ov-$B.pcap && rate >/dev/null && stop_tap 0.2
		echo 0 >/proc/sys/kernel/bpf_stats_enabled
		sed -n "s/.*BPF program cost/# tap cost ($B): BPF program cost/p" tap8.err
	fi
done
