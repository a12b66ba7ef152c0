#!/bin/sh
# monitor and record on the userspace queue, stopping cleanly.
. "$(dirname "$0")/lib.sh"
HELPERS=${HELPERS:-$(dirname "$IOPFTOOL")/tests/helpers}
jget() { "$HELPERS/json-get" "$@"; }

test_expect_success 'monitor -c prints each record and answers each group' '
	iopftool monitor -c 20 --gen-rate 5000 >out.txt 2>err.txt &&
	test "$(grep -c " response " out.txt)" = 20 &&
	grep "20 groups" err.txt
'

test_expect_success 'monitor -j: one JSON object per line' '
	iopftool -j monitor -c 5 --gen-rate 5000 --gen-group-size 2 >out.json &&
	test "$(grep -c "\"type\":\"fault\"" out.json)" = 10 &&
	test "$(grep -c "\"type\":\"response\"" out.json)" = 5
'

test_expect_success 'record -w then read back: same records, META first and end=1 last' '
	iopftool -j record -w rec.pcap -c 30 --gen-rate 5000 --print >live.json &&
	iopftool -j read rec.pcap >back.json &&
	grep -v "\"type\":\"meta\"" back.json | sed "s/\"seq\":[0-9]*,//" >a &&
	sed "s/\"seq\":[0-9]*,//" live.json >b &&
	test_cmp b a &&
	head -1 back.json | grep "\"source\":\"sim\"" &&
	head -1 back.json | grep "\"dev.1\":\"sim device 1\"" &&
	tail -1 back.json | grep "\"end\":\"1\""
'

# record has no end of its own here: it runs under timeout(1), which passes
# the SIGINT on; the signal goes once the capture's first flush shows that
# record is running (a signal before it installs its handler would kill it).
test_expect_success 'record stops cleanly on SIGINT: capture complete, held groups answered' '
	timeout -k 5 "$(test_scale_s 60)" "$IOPFTOOL" record -w int.pcap --gen-rate 2000 \
		--delay 50ms 2>err & pid=$! &&
	test_wait_for 30 test -s int.pcap &&
	kill -INT $pid && wait $pid &&
	iopftool -j stats --check int.pcap >chk.json &&
	test "$(jget chk.json violations.unanswered)" = 0 &&
	iopftool -j read int.pcap | tail -1 | grep "\"end\":\"1\""
'

test_expect_success 'record to a full disk: exit 2 and a message' '
	test_expect_code 2 iopftool record -w /dev/full -c 2000 --gen-rate 100000 2>err &&
	grep -i "no space" err
'

test_expect_success 'monitor on an unknown source: exit 2 naming it' '
	test_expect_code 2 iopftool monitor --source bogus 2>err && grep bogus err
'

test_expect_success 'monitor --source fd:N on a closed fd: exit 2' '
	test_expect_code 2 iopftool monitor --source fd:57 2>err && grep 57 err
'
test_done
