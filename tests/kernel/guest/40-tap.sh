#!/bin/sh
# guest-timeout: 300
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

. /iopf/guest/lib/tap.sh


# Every test below runs once per back-end in $backends (lib/tap.sh).
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
		test -s got && ! grep " auto_response .* unknown" tap1.txt &&
		test "$(grep -c " auto_response .* detach" tap1.txt)" = "$(wc -l <got)" &&
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

# fentry/fexit needs the function tracer's __fentry__ call sites and BTF:
# neither test kernel has both (6.12: no BTF; 7.3: no function tracer).
t 'bpf-fentry: exits 2 naming what this kernel lacks (function tracer, BTF); auto runs BPF kprobes' '
	"$IOPFTOOL" monitor --source tap --tap-backend bpf-fentry --duration 0.1s >/dev/null 2>fe.err; rc=$?;
	cat fe.err; ft=$(grep -c " __fentry__$" /proc/kallsyms); echo "__fentry__ in kallsyms: $ft, BTF: $(test -r /sys/kernel/btf/vmlinux && echo yes || echo no)";
	if [ "$ft" != 0 ] && [ -r /sys/kernel/btf/vmlinux ]; then test $rc = 0; else
		test $rc = 2 && grep -q "fentry/fexit need the kernel.s function tracer (CONFIG_FUNCTION_TRACER) and BTF" fe.err &&
		{ [ "$ft" != 0 ] || grep -q "no __fentry__ in /proc/kallsyms" fe.err; } &&
		{ [ -r /sys/kernel/btf/vmlinux ] || grep -q "no /sys/kernel/btf/vmlinux" fe.err; }; fi &&
	"$IOPFTOOL" -v monitor --source tap --duration 0.1s >/dev/null 2>auto.err; cat auto.err;
	case " $backends " in *" bpf "*) grep -q "BPF kprobes" auto.err ;; *) true ;; esac
'

# The tap's set-up errors are said once (the closing '<source>: <strerror>'
# repeated each one: "cannot create ..." then "tap: No such file or directory").
t 'record --source tap -w into a missing directory: exit 2, one message' '
	code 2 "$IOPFTOOL" record --source tap -w /nonexistent/t.pcap --duration 0.1s >/dev/null 2>nd.err;
	rc=$?; cat nd.err; test $rc = 0 && grep -q "cannot create /nonexistent/t.pcap" nd.err &&
	[ "$(grep "^iopftool: " nd.err | grep -vc "^iopftool: warning: ")" = 1 ]
'

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

