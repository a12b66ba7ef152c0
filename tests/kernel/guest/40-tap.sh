#!/bin/sh
# The tap (monitor/record --source tap), and iopftool ps: while a handler owns a mock fault
# queue, the tap must see exactly the groups, cookies and responses the
# handler's own log shows, the kernel's auto-responses on detach included,
# without taking anything; its probes must be gone after it exits, and a
# SIGKILLed tap's probes are removed by the next one.
. /iopf/guest/lib/t.sh
if [ ! -x "${IOPFTOOL:-}" ] || [ ! -x /iopf/bin/tiny-handler ]; then
	echo "ok 1 # skip iopftool or tiny-handler was not built for the guest"
	exit 0
fi
TINY=/iopf/bin/tiny-handler
cd /tmp || exit 1
need_kprobe_events

# start_tap NAME ARGS...: a tap in the background ($tap_pid), ready when it
# has said so on stderr (its probes exist then).
start_tap() {
	name=$1
	shift
	"$IOPFTOOL" "$@" 2>"$name.err" &
	tap_pid=$!
	i=0
	while ! grep -q "read-only" "$name.err" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && { echo "tap did not start:"; cat "$name.err"; return 1; }
		kill -0 $tap_pid 2>/dev/null || { echo "tap exited:"; cat "$name.err"; return 1; }
		sleep 0.1
	done
}
stop_tap() {
	sleep "${1:-0.5}"
	kill -INT $tap_pid && wait $tap_pid
}
# What `iopftool read` shows, in tiny-handler's words.
faults() { sed -n 's/.* fault \(q[0-9]*\) dev \([0-9]*\) .* grpid \([0-9]*\) .* addr \(0x[0-9a-f]*\) cookie \([0-9]*\).*/fault \1 dev \2 grpid \3 addr \4 cookie \5/p'; }
responses() { sed -n 's/.* response \(q[0-9]*\) cookie \([0-9]*\) \([a-z]*\)\( rejected [A-Z]*\)* latency.*/response \1 cookie \2 \3\4/p'; }
autos() { sed -n 's/.* auto_response \(q[0-9]*\) cookie \([0-9]*\) .*/auto \1 cookie \2/p'; }
probes_left() { grep -c "iopftool_" $TFS/kprobe_events; ls $TFS/instances | grep -c iopftool_; }

# Every test below runs once per back-end the kernel can run: kprobe events
# always; BPF (fentry/fexit with BTF, kprobes with the known 6.12 layout
# without); BPF forced onto kprobes where BTF would give fentry.
backends=kprobe
"$IOPFTOOL" -v monitor --source tap --tap-backend bpf --duration 0.1s >/dev/null 2>bpf.err &&
	backends="$backends bpf" || { echo "# no BPF back-end here:"; sed 's/^/#   /' bpf.err; }
[ -e /sys/kernel/btf/vmlinux ] && case $backends in *bpf*) backends="$backends bpf-kprobe" ;; esac
grep "backend" bpf.err | sed 's/^/# /'
echo "# tap back-ends: $backends"
for B in $backends; do
	t "$B: tap sees exactly what tiny-handler saw: faults, cookies, responses (one refused), detach auto-responses" '
		start_tap tap1 record --tap-backend $B --source tap -w tap1-$B.pcap &&
		$TINY -n 12 -u 3 -Q 2 -b >tiny.log &&
		stop_tap &&
		"$IOPFTOOL" read tap1-$B.pcap >tap1.txt &&
		{ faults <tap1.txt; responses <tap1.txt; } | sort >got &&
		grep -v "^auto" tiny.log | sort >want && diff want got &&
		faults <tap1.txt >a && grep "^fault" tiny.log >b && diff b a &&
		autos <tap1.txt | sort >got && grep "^auto" tiny.log | sort >want && diff want got &&
		test "$(grep -c " delivery " tap1.txt)" = 12 &&
		grep "tap=read-only" tap1.txt && grep "source=tap" tap1.txt && grep "tap.queue" tap1.txt
	'

	t "$B: stats --check on the tap capture agrees with the handler: 12 groups, 10 responses, 1 to an unknown cookie, 3 unanswered" '
		"$IOPFTOOL" -j stats --check tap1-$B.pcap >chk.json 2>chk.err; rc=$?; cat chk.json;
		test $rc = 1 &&
		grep "\"groups\":12" chk.json && grep "\"responses\":10" chk.json &&
		grep "\"unknown_cookie\":1" chk.json && grep "\"unanswered\":3" chk.json &&
		grep "\"latency_ns\":{\"count\":9" chk.json
	'

	t "$B: the tap measured the handler latency of every accepted response" '
		"$IOPFTOOL" read --type response tap1-$B.pcap | grep -v rejected >r.txt &&
		test "$(wc -l <r.txt)" = 9 && ! grep "latency 0ns" r.txt
	'

	t "$B: probes and the trace instance are gone after the tap exits" '
		test "$(probes_left | tr "\n" " ")" = "0 0 "
	'

	t "$B: record --source mock (iopftool as handler) and the tap record the same faults and responses" '
		start_tap tap2 record --tap-backend $B --source tap -w tap2-$B.pcap &&
		"$IOPFTOOL" record --source mock -w own.pcap -c 25 --gen-rate 50 --gen-group-size 1-2 --policy success 2>own.err &&
		stop_tap &&
		"$IOPFTOOL" read --type fault,response own.pcap | sed "s/^[^ ]* #[0-9]* //; s/ latency.*//" >own.txt &&
		"$IOPFTOOL" read --type fault,response tap2-$B.pcap | sed "s/^[^ ]* #[0-9]* //; s/ latency.*//" >tapped.txt &&
		echo "own: $(grep -c fault own.txt) faults, tap: $(grep -c fault tapped.txt) faults" &&
		test "$(grep -c fault own.txt)" -ge 25 && diff own.txt tapped.txt
	'

	t "$B: two taps at once both see everything (own probe groups)" '
		start_tap tapA record --tap-backend $B --source tap -w A-$B.pcap && a=$tap_pid &&
		start_tap tapB record --tap-backend $B --source tap -w B-$B.pcap && b=$tap_pid &&
		$TINY -n 6 >tiny2.log &&
		sleep 0.5 && kill -INT $a $b && wait $a && wait $b &&
		"$IOPFTOOL" read A-$B.pcap | faults >a && "$IOPFTOOL" read B-$B.pcap | faults >b &&
		grep "^fault" tiny2.log >want && diff want a && diff want b
	'

	t "$B: tap:PID:FD sees only that queue, not another handler running meanwhile" '
		$TINY -n 5 -s 2000 >tiny3.log 2>tiny3.err & h=$! &&
		sleep 0.5 && fd=$(ls -l /proc/$h/fd | sed -n "s/.* \([0-9]*\) -> anon_inode:\[iommufd-pgfault\]/\1/p") &&
		test -n "$fd" &&
		start_tap tap3 -v record --tap-backend $B --source tap:$h:$fd -w tap3-$B.pcap &&
		$TINY -n 4 >other.log &&
		wait $h && stop_tap &&
		"$IOPFTOOL" read tap3-$B.pcap | faults >got && grep "^fault" tiny3.log >want &&
		{ diff want got || { cat tap3.err; false; }; } &&
		test "$(grep -c ^fault other.log)" = 4
	'
done

t 'kprobe: after a SIGKILLed tap the next one removes its stale probes' '
	start_tap tap4 monitor --tap-backend kprobe --source tap && k=$tap_pid && kill -KILL $k && wait $k;
	grep -q "iopftool_$k/" $TFS/kprobe_events &&
	start_tap tap5 monitor --tap-backend kprobe --source tap && stop_tap 0.2 &&
	grep "stale probes of iopftool_$k" tap5.err &&
	test "$(probes_left | tr "\n" " ")" = "0 0 "
'

t 'kprobe: SIGTERM also removes the probes' '
	start_tap tap6 monitor --tap-backend kprobe --source tap && kill -TERM $tap_pid && wait $tap_pid &&
	test "$(probes_left | tr "\n" " ")" = "0 0 "
'


# ---- iopftool ps, and the tap's overhead ----

t 'iopftool ps lists the fault fd, /dev/iommu and the handler (text and JSON)' '
	$TINY -n 1 -s 1500 >/dev/null & h=$! && sleep 0.5 &&
	"$IOPFTOOL" ps >ps.txt && "$IOPFTOOL" -j ps >ps.json && wait $h && cat ps.txt &&
	grep "^$h .*tiny-handler.*fault" ps.txt && grep "\"pid\":$h" ps.json &&
	grep "iommufd-pgfault" ps.json
'

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
