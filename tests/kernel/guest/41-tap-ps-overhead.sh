#!/bin/sh
# iopftool ps while a handler holds a fault fd, and the tap's overhead:
# faults per second through the mock without and with a tap watching
# ("# tap overhead: ..." in the kernel tier's report).
n=0
t() {
	desc=$1
	n=$((n + 1))
	if (eval "$2") >/tmp/t.out 2>&1; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		tail -n 30 /tmp/t.out | sed 's/^/#   /'
	fi
}
if [ ! -x "${IOPFTOOL:-}" ] || [ ! -x /iopf/bin/tiny-handler ]; then
	echo "ok 1 # skip iopftool or tiny-handler was not built for the guest"
	exit 0
fi
TINY=/iopf/bin/tiny-handler
TFS=/sys/kernel/tracing
cd /tmp || exit 1
mkdir -p $TFS
mount -t tracefs nodev $TFS 2>/dev/null
if [ ! -e $TFS/kprobe_events ]; then
	echo "ok 1 # skip no kprobe_events in this kernel (CONFIG_KPROBE_EVENTS)"
	exit 0
fi

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

t 'iopftool ps lists the fault fd, /dev/iommu and the handler (text and JSON)' '
	$TINY -n 1 -s 1500 >/dev/null & h=$! && sleep 0.5 &&
	"$IOPFTOOL" ps >ps.txt && "$IOPFTOOL" -j ps >ps.json && wait $h && cat ps.txt &&
	grep "^$h .*tiny-handler.*fault" ps.txt && grep "\"pid\":$h" ps.json &&
	grep "iommufd-pgfault" ps.json
'

# Overhead: the same mock run without and with a tap watching it.
rate() { "$IOPFTOOL" monitor --source mock --gen-rate 1000000 --gen-groups 3000 -c 3000 >/dev/null 2>rate.err &&
	sed -n "s/.*responses .* in \([0-9.]*\)s.*/\1/p" rate.err; }
t 'tap overhead measured' '
	s0=$(rate) && start_tap tap7 record --source tap -w ov.pcap && s1=$(rate) && stop_tap 0.2 &&
	test -n "$s0" && test -n "$s1" &&
	awk -v a="$s0" -v b="$s1" "BEGIN { printf \"# tap overhead: %.0f faults/s without the tap, %.0f with it, ratio %.2f\\n\", 3000/a, 3000/b, a/b }" >&2
'
grep "tap overhead" /tmp/t.out 2>/dev/null
