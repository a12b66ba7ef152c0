#!/bin/sh
# The tap with rotation and metrics (iopftool-record(8) "Rotation",
# iopftool-monitor(8) "Metrics"), once per back-end: while tiny-handler
# owns a mock queue, record --source tap -C writes several whole files
# whose totals are the handler's, and --metrics counts its groups, its
# refused response (EINVAL) and the kernel's detach auto-responses, with
# the handler's pid and comm as labels.
. /iopf/guest/lib/t.sh
if [ ! -x "${IOPFTOOL:-}" ] || [ ! -x /iopf/bin/tiny-handler ]; then
	echo "ok 1 # skip iopftool or tiny-handler was not built for the guest"
	exit 0
fi
TINY=/iopf/bin/tiny-handler
cd /tmp || exit 1
need_kprobe_events

# $backends as the other tap tests have them (lib/tap.sh)
. /iopf/guest/lib/tap.sh

# sum METRIC FILE: the sum of its samples
sum() { sed -n "s/^$1{[^}]*} //p" "$2" | awk '{ s += $1 } END { print s + 0 }'; }

for B in $backends; do
	t "$B: record --source tap -C 1k --metrics: whole files, the handler's totals, its labels" '
		rm -f fl-$B.pcap* fl.prom fl.err &&
		"$IOPFTOOL" record --tap-backend $B --source tap -w fl-$B.pcap -C 1k \
			--metrics fl.prom --metrics-interval 100ms 2>fl.err &
		pid=$! &&
		wait_said fl.err "read-only" $pid 100 0.1 &&
		$TINY -n 12 -u 3 -Q 2 -b >tiny.log 2>tiny.err &&
		sleep 0.5 && kill -INT $pid && wait $pid && cat fl.err &&
		n=$(ls fl-$B.pcap* | wc -l) && echo "$n files" && test "$n" -gt 1 &&
		for f in fl-$B.pcap*; do
			"$IOPFTOOL" stats "$f" >st 2>&1; cat st | head -n 1
			grep -q "complete (META end=1)" st || { echo "$f: not complete"; exit 1; }
		done &&
		d=$(for f in fl-$B.pcap*; do "$IOPFTOOL" read "$f"; done | grep -c " delivery ") &&
		echo "$d deliveries in all the files" && test "$d" = 12 &&
		cat fl.prom &&
		test "$(sum iopf_groups_total fl.prom)" = 12 &&
		test "$(sum iopf_responses_total fl.prom)" = 10 &&
		grep "^iopf_responses_refused_total{.*errno=\"EINVAL\"} 1$" fl.prom &&
		test "$(sum iopf_auto_responses_total fl.prom)" = "$(grep -c "^auto" tiny.log)" &&
		tpid=$(sed -n "s/^tiny-handler: pid \([0-9]*\) .*/\1/p" tiny.err) &&
		grep "^iopf_groups_total{queue=\"[0-9]*\",device=\"[0-9]*\",pasid=\"[0-9a-z]*\"} 12$" fl.prom &&
		grep "^iopf_responses_total{queue=\"[0-9]*\",pid=\"$tpid\",comm=\"[^\"]*\",code=" fl.prom &&
		case $B in
		# the kprobe back-end reads /proc/PID/comm when it parses the
		# trace, often after tiny-handler exited: its comm is then "?"
		kprobe) ;;
		*) grep "^iopf_responses_total{.*,comm=\"tiny-handler\",code=" fl.prom ;;
		esac
	'
done

# examples/iopftool-tap.service: root with the bounding set cut to
# CAP_BPF (39), CAP_PERFMON (38), CAP_DAC_READ_SEARCH (2), CAP_SYS_PTRACE
# (19).  (tiny-handler runs as root too: the last two are not put to the
# test here; without CAP_BPF the BPF back-end must fail.)
CAPS=39,38,2,19
case $backends in *bpf*)
	t "the example unit's capabilities are enough for the BPF back-end, and CAP_BPF is needed" '
		rm -f cap.pcap* &&
		/iopf/bin/capbset $CAPS "$IOPFTOOL" record --tap-backend bpf --source tap -w cap.pcap 			-C 1k -W 4 --metrics cap.prom 2>cap.err &
		pid=$! &&
		wait_said cap.err "read-only" $pid 100 0.1 &&
		grep "CapBnd:[[:space:]]*000000c000080004" /proc/$pid/status &&
		$TINY -n 12 -u 3 -Q 2 -b >tiny.log 2>tiny.err &&
		sleep 0.5 && kill -INT $pid && wait $pid && cat cap.err &&
		test "$(sum iopf_groups_total cap.prom)" = 12 &&
		/iopf/bin/capbset 38,2,19 "$IOPFTOOL" monitor --tap-backend bpf --source tap \
			--duration 0.2s >/dev/null 2>nobpf.err; rc=$?; cat nobpf.err; test $rc = 2
	'
;; esac
