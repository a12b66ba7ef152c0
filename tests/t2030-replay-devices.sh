#!/bin/sh
# Replay's cost must not grow with the number of distinct devices in a
# capture (issue 15 M3: lib/replay.c live_dev() searched the devices
# linearly per record, so N devices cost N^2).  No timing: valgrind's
# callgrind counts the instructions a run executes, an exact count that
# does not depend on the machine's load.  The same number of groups on
# one device and on thousands of devices, the same handler, must cost
# about the same; a linear look-up makes the second run 14 times dearer.
test_description='replay cost with many devices (instruction counts)'
. "$(dirname "$0")/lib.sh"

# The count is the plain build's: ASan cannot run under valgrind, and the
# valgrind tier's IOPFTOOL is a memcheck wrapper script.
case $IOPFTOOL in
*-san/*|*valgrind*) echo "# the plain build only (this IOPFTOOL: $IOPFTOOL)" ;;
*) test_set_prereq PLAIN ;;
esac
# scripts/deps.sh check installs valgrind, so make check always has it.
if command -v valgrind >/dev/null 2>&1; then
	test_set_prereq VALGRIND
else
	echo "# valgrind is not installed (scripts/deps.sh check installs it)"
fi

N=20000
# instructions CAPTURE: the instructions one replay at top speed executes,
# after checking that every group was answered
instructions() {
	rm -f cg.out &&
	valgrind -q --tool=callgrind --callgrind-out-file=cg.out \
		"$IOPFTOOL" -j replay --topspeed "$1" >report 2>err &&
	grep "\"groups\":$N,.*\"responses\":$N,\"ok\":true" report >/dev/null &&
	! test -s err &&
	sed -n 's/^totals: *\([0-9][0-9]*\)$/\1/p' cg.out
}

test_expect_success PLAIN 'generate: the same groups on 1 device and on thousands' '
	iopftool -q generate -w one.pcap --groups $N --devs 1 &&
	iopftool -q generate -w many.pcap --groups $N --devs $N &&
	test "$(iopftool read one.pcap | grep -c " fault ")" -eq $N &&
	test "$(iopftool read many.pcap | grep -c " fault ")" -eq $N &&
	test "$(iopftool read one.pcap | sed -n "s/.* fault .* dev \([0-9]*\) .*/\1/p" | sort -u | wc -l)" -eq 1 &&
	d=$(iopftool read many.pcap | sed -n "s/.* fault .* dev \([0-9]*\) .*/\1/p" | sort -u | wc -l) &&
	echo "distinct devices: $d" &&
	test "$d" -gt $((N / 2))
'

test_expect_success PLAIN,VALGRIND 'replay: thousands of devices cost less than twice one device (callgrind)' '
	one=$(instructions one.pcap) && test -n "$one" &&
	many=$(instructions many.pcap) && test -n "$many" &&
	echo "instructions: 1 device $one, many devices $many, ratio x100 $((many * 100 / one))" >counts &&
	cat counts &&
	test $((many * 100 / one)) -lt 200
'
# the counts in the TAP output, passed or not
[ -f counts ] && sed "s/^/# /" counts

test_done
