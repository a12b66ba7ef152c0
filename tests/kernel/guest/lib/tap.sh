# Sourced by the tap's guest tests (40-tap.sh, 41-tap-overhead.sh).
# start_tap NAME ARGS...: a tap in the background ($tap_pid), ready when it
# has said so on stderr (its probes exist then).
start_tap() {
	name=$1
	shift
	rm -f "$name.err"	# an earlier tap's "read-only" must not count
	"$IOPFTOOL" "$@" 2>"$name.err" &
	tap_pid=$!
	wait_said "$name.err" "read-only" $tap_pid 100 0.1
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

# $backends: every back-end the kernel can run: kprobe events
# always; BPF (kprobes, with CO-RE offsets where the kernel has BTF, the
# known 6.12 layout where not).  fentry/fexit is not among them: neither
# test kernel can attach it (6.12 has no BTF, 7.3 no function tracer;
# 40-tap.sh checks that it says so).
backends=kprobe
"$IOPFTOOL" -v monitor --source tap --tap-backend bpf --duration 0.1s >/dev/null 2>bpf.err &&
	backends="$backends bpf" || { echo "# no BPF back-end here:"; sed 's/^/#   /' bpf.err; }
grep "backend" bpf.err 2>/dev/null | sed 's/^/# /'
echo "# tap back-ends: $backends"
