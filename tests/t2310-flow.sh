#!/bin/sh
# Flow control (lib/iopf.h IOPF_WINDOW_GROUPS): record's sim generator at
# full speed keeps at most a window of groups in flight, so its memory
# does not grow with the count, and nothing is lost.  No timing is
# asserted; the peak RSS of a 10x longer run is compared with a short one.
test_description='flow control at full speed'
. "$(dirname "$0")/lib.sh"

HELPERS=${HELPERS:-$(dirname "$IOPFTOOL")/tests/helpers}
# Peak RSS is the plain build's: ASan and valgrind keep freed memory.
case $IOPFTOOL in
*-san/*|*valgrind*) ;;
*) test_set_prereq PLAIN ;;
esac

# rss_of CMD...: the peak RSS (KiB) of one run (tests/helpers/runstat)
rss_of() {
	set -- $("$HELPERS/runstat" "$@" 2>&1 >/dev/null | tail -n 1)
	[ $# -eq 4 ] && [ "$3" -eq 0 ] && echo "$2"
}

record() {
	iopftool -q record --source sim --gen-groups "$1" --gen-rate 1000000000 -c "$1" \
		--gen-group-size 1-4 -w "$2"
}

test_expect_success 'record --source sim at --gen-rate 1e9: every group, no loss' '
	record 50000 r.pcap &&
	iopftool stats r.pcap >s &&
	grep "groups 50000, incomplete groups 0, responses 50000" s &&
	grep "^lost 0 " s
'

test_expect_success PLAIN 'record at full speed: 10x the groups, about the same peak memory' '
	a=$(rss_of "$IOPFTOOL" -q record --source sim --gen-groups 30000 --gen-rate 1000000000 \
		-c 30000 -w a.pcap) &&
	b=$(rss_of "$IOPFTOOL" -q record --source sim --gen-groups 300000 --gen-rate 1000000000 \
		-c 300000 -w b.pcap) &&
	echo "peak RSS: 30000 groups $a KiB, 300000 groups $b KiB" &&
	test "$b" -le $((a + 4096))
'

test_done
