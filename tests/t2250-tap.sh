#!/bin/sh
# monitor/record --source tap: the error paths that need no kernel support
# (the tap itself is tested in the VM tier, tests/kernel/guest/40-tap.sh).
. "$(dirname "$0")/lib.sh"

test_expect_success 'tap without tracefs: exit 2, says what to mount and enable' '
	export IOPFTOOL_TRACEFS=/nonexistent/tracing && test_expect_code 2 iopftool monitor --source tap 2>err &&
	grep "not a tracefs mount" err && grep "mount -t tracefs" err
'

test_expect_success 'tap on a tracefs without kprobe_events: exit 2 naming CONFIG_KPROBE_EVENTS' '
	mkdir -p fake && : >fake/trace &&
	export IOPFTOOL_TRACEFS=$PWD/fake && test_expect_code 2 iopftool record --source tap -w x.pcap 2>err &&
	grep "CONFIG_KPROBE_EVENTS" err && ! test -s x.pcap
'

if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	test_set_prereq ROOT
fi

test_expect_success ROOT 'tap as a user who cannot write kprobe_events: exit 2, needs root' '
	mkdir -p fake2 && : >fake2/trace && : >fake2/kprobe_events && chmod 755 . fake2 &&
	chmod 644 fake2/kprobe_events &&
	export IOPFTOOL_TRACEFS=$PWD/fake2 && test_expect_code 2 setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$IOPFTOOL" monitor --source tap 2>err &&
	grep "needs root" err && ! test -s fake2/kprobe_events
'

test_expect_success 'tap:PID:FD that is not a number: usage error 64' '
	test_expect_code 64 iopftool monitor --source tap:1:x 2>err && grep "tap:PID:FD" err &&
	test_expect_code 64 iopftool monitor --source tap:0 2>err
'

test_expect_success 'tap: the stderr notice and the man page say it consumes nothing' '
	grep "consumes no fault" "$SRC_DIR/man/iopftool-monitor.8" &&
	grep "consumes no fault" "$SRC_DIR/man/iopftool-record.8" &&
	iopftool monitor --help | grep -q "tap\[:PID\[:FD\]\]"
'
test_expect_success 'ps: exit 0; JSON is one document with an fds array' '
	iopftool ps >ps.txt 2>ps.err &&
	iopftool -j ps >ps.json 2>/dev/null &&
	grep "^{\"fds\":\[" ps.json &&
	if grep -q "iommufd-pgfault" ps.json; then grep -q "fault" ps.txt; else ! test -s ps.txt; fi
'

test_expect_success 'ps: usage errors are 64' '
	test_expect_code 64 iopftool ps extra &&
	test_expect_code 64 iopftool ps -p abc
'
test_done
