#!/bin/sh
# Faults a hostile user finds: a reader that goes away (| head), a full
# disk, truncated and torn captures, interrupted replays, bad durations,
# handlers that leave children behind.  Every wait is bounded.
. "$(dirname "$0")/lib.sh"
jget() { "$HELPERS/json-get" "$@"; }
T=$(test_scale_s 20)

# pipe_rc FILE CMD...: run CMD | head -1, its exit status in FILE
pipe_rc() {
	f=$1; shift
	{ timeout "$T" "$IOPFTOOL" "$@"; echo $? >"$f"; } | head -1 >/dev/null
}

test_expect_success 'monitor | head -1 stops on EPIPE: exit 2, no message' '
	pipe_rc rc monitor --gen-rate 1000 2>err &&
	test "$(cat rc)" = 2 && ! grep -i "error" err
'

test_expect_success 'record --print | head -1 stops and finishes the capture' '
	pipe_rc rc record -w r.pcap --print --gen-rate 1000 2>err &&
	test "$(cat rc)" = 2 && ! grep -i "error" err &&
	iopftool read r.pcap >r.txt &&
	tail -1 r.txt | grep "meta end=1"
'

test_expect_success 'monitor >/dev/full stops with a message, exit 2' '
	test_expect_code 2 timeout "$T" "$IOPFTOOL" monitor --gen-rate 1000 >/dev/full 2>err &&
	grep "write error on standard output" err
'

test_expect_success 'read | head -1 and read >/dev/full: exit 2' '
	iopftool generate -w g.pcap --groups 3000 --seed 3 &&
	pipe_rc rc read g.pcap 2>err && test "$(cat rc)" = 2 && ! test -s err &&
	test_expect_code 2 timeout "$T" "$IOPFTOOL" read g.pcap >/dev/full 2>err &&
	grep "write error" err
'

test_done
