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

# Bytes after META end=1: a capture damaged after it was finished, an error.
test_expect_success 'replay of a damaged finished capture: the report and the error, exit 2' '
	{ cat g.pcap && head -c 10 g.pcap; } >damaged.pcap &&
	test_expect_code 2 timeout "$T" "$IOPFTOOL" replay --topspeed damaged.pcap >rep.txt 2>err &&
	grep "truncated" err && grep "^replay of damaged.pcap" rep.txt && grep "groups 3000" rep.txt &&
	test_expect_code 2 "$IOPFTOOL" read damaged.pcap >/dev/null &&
	test_expect_code 2 "$IOPFTOOL" stats damaged.pcap >/dev/null
'

test_expect_success 'a torn last record of an unfinished capture is the end: a warning, exit 0' '
	head -c 30000 g.pcap >torn.pcap &&
	"$IOPFTOOL" read torn.pcap >out 2>err && grep "torn last record" err &&
	test "$(grep -c "" out)" -gt 100 &&
	"$IOPFTOOL" stats torn.pcap >out 2>err && grep "torn last record" err &&
	timeout "$T" "$IOPFTOOL" replay --topspeed torn.pcap >out 2>err && grep "torn last record" err &&
	grep "groups [1-9]" out &&
	head -c 30008 g.pcap >torn2.pcap &&
	"$IOPFTOOL" read torn2.pcap >out 2>err && grep "torn last record" err
'

test_expect_success 'kill -9 during a fast record leaves a capture read and stats take' '
	for t in 1.2 1.6 2.1; do
		rm -f k.pcap
		"$IOPFTOOL" record -w k.pcap --gen-rate 20000 --duration "$T"s 2>/dev/null &
		pid=$! && sleep $t && kill -9 $pid && { wait $pid || :; } &&
		test -s k.pcap &&
		"$IOPFTOOL" read k.pcap >out && test "$(grep -c " fault " out)" -gt 0 &&
		"$IOPFTOOL" stats k.pcap >/dev/null || exit 1
	done
'

test_expect_success 'SIGINT during replay: "interrupted" in the report, exit 2, no warning' '
	iopftool generate -w slow.pcap --groups 100 --seed 3 --rate 20 || exit 1
	"$IOPFTOOL" -j replay slow.pcap >rep.json 2>err &
	pid=$! && sleep 1 && kill -INT $pid && { wait $pid; echo $? >rc; } &&
	test "$(cat rc)" = 2 &&
	test "$(jget rep.json interrupted)" = true && test "$(jget rep.json ok)" = false &&
	! grep -i "warning" err || exit 1
	"$IOPFTOOL" replay slow.pcap >rep.txt 2>err &
	pid=$! && sleep 1 && kill -INT $pid && { wait $pid; echo $? >rc; } &&
	test "$(cat rc)" = 2 && grep "interrupted" rep.txt && ! grep -i "LAST_PAGE\|warning" err
'

test_expect_success 'an --exec handler'"'"'s children do not outlive the replay' '
	start=$(date +%s) &&
	timeout "$T" "$IOPFTOOL" replay --topspeed slow.pcap \
		--exec "sleep 60 & exec $IOPFTOOL handle" 2>&1 | cat >out &&
	test $(($(date +%s) - start)) -lt 10 && grep "ok" out
'

# The fds the test shell passes on anyway, plus the handler fd 3.
# What a process inherits: ls lists its own fds (its directory fd aside).
# The handler's shell is not listed: dash keeps a saved copy of a
# redirected fd (close-on-exec) while it runs the command.
# (Under make check-valgrind, valgrind's own log file leaks into children: not ours.)
inherited() {
	sed -n "/-> \/proc\//d; ${VALGRIND_LOG_DIR:+\\|-> $VALGRIND_LOG_DIR/|d; }s/.* \([0-9][0-9]*\) -> .*/\1/p" "$1"
}
test_expect_success 'the handler inherits only fd 3 from the tool (the -w capture is O_CLOEXEC)' '
	ls -l /proc/self/fd 3>&- >want.raw && { inherited want.raw; echo 3; } | sort >want &&
	timeout "$T" "$IOPFTOOL" replay --topspeed slow.pcap -w w.pcap 3>&- \
		--exec "ls -l /proc/self/fd >fds.raw; exec $IOPFTOOL handle" >out &&
	inherited fds.raw | sort >fds && test_cmp want fds
'

test_expect_success 'a bare 0 is a duration; huge durations saturate, not wrap' '
	timeout "$T" "$IOPFTOOL" replay --topspeed slow.pcap --settle 0 --timeout 0 >/dev/null &&
	timeout "$T" "$IOPFTOOL" replay --topspeed slow.pcap --exec "$IOPFTOOL handle" \
		--settle 0 --timeout 1s >/dev/null &&
	timeout "$T" "$IOPFTOOL" monitor --gen-groups 3 --delay 0 >/dev/null &&
	timeout "$T" "$IOPFTOOL" replay --topspeed slow.pcap --timeout 18446744073s \
		--settle 18446744073s --deadline 18446744073s --max-gap 18446744073s >rep.txt &&
	grep "groups 100 .* ok" rep.txt &&
	timeout "$T" "$IOPFTOOL" monitor --gen-groups 3 --duration 18446744073s >/dev/null &&
	test_expect_code 64 "$IOPFTOOL" replay slow.pcap --settle 00x 2>err
'

test_expect_success 'generate --devs 0: usage error, nothing written' '
	test_expect_code 64 "$IOPFTOOL" generate --devs 0 -w d0.pcap 2>err &&
	! test -e d0.pcap && grep -- "--devs" err &&
	test_expect_code 64 "$IOPFTOOL" monitor --gen-devs 0 2>err && grep -- "--gen-devs" err
'

test_expect_success 'generate: a write error or SIGINT leaves no file behind (and no device removed)' '
	test_expect_code 2 "$IOPFTOOL" generate -w /dev/full --groups 10 2>err &&
	test -c /dev/full && grep "write error" err || exit 1
	timeout "$T" "$IOPFTOOL" generate -w long.pcap --groups 100000000000 2>err &
	pid=$! && test_wait_for 10 test -s long.pcap && kill -INT $pid &&
	{ wait $pid; echo $? >rc; } && test "$(cat rc)" = 2 &&
	! test -e long.pcap && grep "interrupted" err
'

# 2041-01-01T00:00:00Z is 473385600 s after 2026-01-01 (mkcapture's t=0).
test_expect_success 'time stamps after 2038 read as such; stats duration from them' '
	"$HELPERS/mkcapture" y2041.pcap "fault,cookie=1,last,t=0" \
		"resp,cookie=1,code=0,t=473385600000000000" &&
	"$IOPFTOOL" read y2041.pcap >out && grep "^2041-01-01T00:00:00.000000000Z" out &&
	"$IOPFTOOL" -j stats y2041.pcap >st.json &&
	grep "\"duration_ns\":473385600000000000" st.json
'

test_expect_success 'pcapng from a pipe: "offset unknown", not 2^64-1' '
	"$HELPERS/mkcapture" -F pcapng ng.pcapng "fault,cookie=1,last" "resp,cookie=1,type=9" &&
	cat ng.pcapng | "$IOPFTOOL" read - >out 2>err &&
	grep "offset unknown" err && ! grep 18446744073709551615 err &&
	cat ng.pcapng | "$IOPFTOOL" stats - >out 2>err &&
	grep "offset unknown" err && ! grep 18446744073709551615 err
'

test_expect_success 'a handler write of 240000 bytes is taken whole (no EMSGSIZE)' '
	timeout "$T" "$IOPFTOOL" -j replay --topspeed slow.pcap --timeout "$(test_scale 300ms)" \
		--settle "$(test_scale 100ms)" --handler-fd socket \
		--exec "dd if=/dev/zero bs=240000 count=1 >&3 && exec $IOPFTOOL handle" >rep.json 2>err
	test $? = 1 && grep "240000 bytes" err && ! grep -i "EMSGSIZE\|too long" err &&
	test "$(jget rep.json responses)" = 30100 &&
	test "$(jget rep.json violations.unknown_cookie)" = 30000
'

test_expect_success 'cookie 0 written while groups are outstanding: a warning naming the kernels' '
	timeout "$T" "$IOPFTOOL" replay --topspeed slow.pcap --timeout "$(test_scale 300ms)" \
		--settle "$(test_scale 100ms)" \
		--exec "$IOPFTOOL handle --bug zero-cookie --bug-every 10" >rep.txt 2>err
	test $? = 1 &&
	test "$(grep -c "wrote a response with cookie 0 while" err)" = 1 &&
	grep "6.12.117 and 7.3.4 kernels" err &&
	timeout "$T" "$IOPFTOOL" replay --topspeed slow.pcap --timeout "$(test_scale 300ms)" \
		--settle "$(test_scale 100ms)" --exec "$IOPFTOOL handle" >rep.txt 2>err &&
	! grep "cookie 0" err
'

test_expect_success 'read and stats flag the first record carrying cookie 0' '
	"$HELPERS/mkcapture" c0.pcap "fault,cookie=3,last" "resp,cookie=3,code=0" \
		"fault,cookie=0,last" "resp,cookie=0,code=0" &&
	"$IOPFTOOL" read c0.pcap >out 2>err &&
	test "$(grep -c "record 3 carries cookie 0" err)" = 1 && grep "6.12.117 and 7.3.4" err &&
	"$IOPFTOOL" stats c0.pcap >out 2>err &&
	test "$(grep -c "record 3 carries cookie 0" err)" = 1 &&
	"$IOPFTOOL" read slow.pcap >out 2>err && ! grep "cookie 0" err
'

# Progress (tool/common.c): only on a terminal.  script(1) (bsdutils) runs
# the verb on a pseudo-terminal and copies what it printed.
command -v script >/dev/null && test_set_prereq SCRIPT
test_expect_success SCRIPT 'read, stats, replay: progress on a pty, cleared; none on a pipe or with -q' '
	iopftool generate -w many.pcap --groups 20000 --seed 5 &&
	for v in "read many.pcap" "stats many.pcap" "replay --topspeed many.pcap"; do
		timeout "$T" script -qec "\"$IOPFTOOL\" $v >/dev/null" /dev/null >pty.out </dev/null &&
		grep "records\|groups injected" pty.out && grep "%" pty.out &&
		tail -c 4 pty.out | od -c | grep "033   \[   K" &&
		timeout "$T" script -qec "\"$IOPFTOOL\" -q $v >/dev/null" /dev/null >pty.out </dev/null &&
		! grep "records\|groups injected" pty.out &&
		"$IOPFTOOL" $v >/dev/null 2>err &&
		! grep "records\|groups injected" err || exit 1
	done
'

test_done
