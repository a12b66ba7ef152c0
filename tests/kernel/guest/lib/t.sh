# Sourced by the guest tests (busybox sh): TAP output and small checks.
# t DESCRIPTION COMMANDS: run COMMANDS in a subshell, print ok/not ok (the
# host renumbers), and the last lines of their output on failure.
n=0
t() {
	desc=$1
	n=$((n + 1))
	if (eval "$2") >/tmp/t.out 2>&1; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		tail -n ${T_LINES:-30} /tmp/t.out | sed 's/^/#   /'
	fi
}
# jnum KEY FILE: the first number member KEY of a JSON document
jnum() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$2" | head -n 1; }
# want KEY VALUE FILE
want() {
	got=$(jnum "$1" "$3")
	[ "$got" = "$2" ] || { echo "$1: got '$got', want '$2'"; cat "$3"; return 1; }
}
# code N COMMAND...: COMMAND exits N
code() { want=$1; shift; "$@"; rc=$?; [ "$rc" = "$want" ] || { echo "exit $rc, want $want: $*"; return 1; }; }
# need_iopftool: the guest's iopftool built (then the script runs in /tmp),
# or the whole script skipped
need_iopftool() {
	if [ ! -x "${IOPFTOOL:-}" ]; then
		echo "ok 1 # skip iopftool was not built for the guest"
		exit 0
	fi
	cd /tmp || exit 1
}
# need_pri_testdev: need_iopftool, and the real path's PRI test device with
# its driver, pri-testdev, as $PT (tests/kernel/README.qemu); or the whole
# script skipped, saying which is missing
need_pri_testdev() {
	need_iopftool
	PT=/iopf/bin/pri-testdev
	if [ ! -x $PT ]; then
		echo "ok 1 # skip pri-testdev was not built for the guest"
		exit 0
	fi
	if ! $PT find >/dev/null 2>&1; then
		echo "ok 1 # skip no iopf-testdev with PRI on the PCI bus (not the real-path qemu)"
		exit 0
	fi
}
# wait_said FILE PATTERN PID TRIES STEP: until FILE has a line matching
# PATTERN (a process in the background saying it is ready); fails, showing
# FILE, once PID has exited or after TRIES looks STEP seconds apart
wait_said() {
	i=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt "$4" ] && { echo "no '$2' in $1 in time:"; cat "$1"; return 1; }
		kill -0 "$3" 2>/dev/null || { echo "exited before '$2':"; cat "$1"; return 1; }
		sleep "$5"
	done
}
# need_kprobe_events: tracefs mounted at $TFS, or the whole script skipped
TFS=/sys/kernel/tracing
need_kprobe_events() {
	mkdir -p $TFS
	mount -t tracefs nodev $TFS 2>/dev/null
	if [ ! -e $TFS/kprobe_events ]; then
		echo "ok 1 # skip no kprobe_events in this kernel (CONFIG_KPROBE_EVENTS)"
		exit 0
	fi
}
