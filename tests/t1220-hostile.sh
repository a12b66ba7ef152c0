#!/bin/sh
# Hostile and careless use (issue 15): escape injection through argp, JSON
# usage errors, output naming an input, file-size limits, zeros that meant
# "no limit", damaged tails, text into a capture on stdout, time past the
# 32-bit pcap second range.  Each case: the documented exit code and a
# clear message, never a signal, a hang or a corrupt file.
test_description='hostile command lines and resource limits'
. "$(dirname "$0")/lib.sh"

MK=$HELPERS/mkcapture
ESC=$(printf '\033')
BEL=$(printf '\007')

# no_raw_controls FILE: no ESC or BEL byte in FILE
no_raw_controls() { ! grep -q "[$ESC$BEL]" "$1"; }

cp "$CAPTURES/demo.pcap" demo.pcap

test_expect_success 'H4: argp messages echo arguments escaped' '
	evil="a${ESC}]0;owned${BEL}${ESC}[31m.pcap" &&
	test_expect_code 64 iopftool replay "$evil" "$evil" 2>err1 &&
	test_expect_code 64 iopftool replay "--bogus$evil" 2>err2 &&
	test_expect_code 64 iopftool read --type "$evil" demo.pcap 2>err3 &&
	test_expect_code 64 iopftool replay --max-gap "$evil" demo.pcap 2>err4 &&
	test_expect_code 64 iopftool replay --handler "$evil" demo.pcap 2>err5 &&
	test_expect_code 64 iopftool generate --bug "$evil" -w x.pcap 2>err6 &&
	test_expect_code 64 iopftool "--x$evil" 2>err7 &&
	test_expect_code 64 iopftool read "-$ESC" 2>err8 &&
	for f in err1 err2 err3 err4 err5 err6 err7 err8; do
		test -s $f && no_raw_controls $f || { echo "raw control in $f"; cat -A $f; return 1; }
	done &&
	grep "one capture only (.a\\\\x1b]0;owned\\\\x07\\\\x1b\[31m.pcap" err1
'

test_expect_success 'M11: with -j, usage errors are JSON' '
	test_expect_code 64 iopftool -j replay --bogus 2>err1 &&
	test_expect_code 64 iopftool replay -j --max-gap 1x demo.pcap 2>err2 &&
	test_expect_code 64 iopftool -j 2>err3 &&
	test_expect_code 64 iopftool -p read 2>err4 &&
	test_expect_code 64 iopftool read -jq --type nope demo.pcap 2>err5 &&
	for f in err1 err2 err3 err4 err5; do
		test "$(wc -l <$f)" -eq 1 &&
		"$HELPERS/json-get" $f error >msg || { echo "$f is not one JSON error"; cat $f; return 1; }
	done &&
	grep "unrecognized option .--bogus" err1 &&
	"$HELPERS/json-get" err2 error | grep "max-gap: .1x. is not a duration"
'

test_expect_success 'H2: replay -w naming its capture is refused, the capture kept' '
	cp demo.pcap in.pcap && ln in.pcap link.pcap &&
	test_expect_code 2 iopftool replay -w in.pcap in.pcap >out 2>err &&
	grep "in.pcap is the input in.pcap: refusing to overwrite it" err &&
	test_expect_code 2 iopftool replay -w link.pcap in.pcap >out 2>err &&
	grep "refusing" err && test ! -s out &&
	cmp demo.pcap in.pcap
'

test_expect_success 'H2: stats --svg naming a capture, read or stats into a capture' '
	cp demo.pcap in.pcap &&
	test_expect_code 2 iopftool stats --svg in.pcap demo.pcap in.pcap >out 2>err &&
	grep "in.pcap is the input in.pcap" err && cmp demo.pcap in.pcap &&
	test_expect_code 2 iopftool read in.pcap >>in.pcap 2>err &&
	grep "standard output is the input in.pcap" err && cmp demo.pcap in.pcap &&
	test_expect_code 2 iopftool stats in.pcap >>in.pcap 2>err &&
	cmp demo.pcap in.pcap &&
	iopftool stats --svg new.svg in.pcap >out && test -s new.svg
'

# under_limit CMD...: CMD with a 4 KiB file-size limit (ulimit -f counts 512-byte blocks)
under_limit() { (ulimit -f 8 && "$@"); }

test_expect_success 'H3: a file-size limit is a full disk for every writer (exit 2, a message)' '
	under_limit test_expect_code 2 iopftool generate -w g.pcap --groups 100000 2>err1 &&
	test ! -e g.pcap &&
	under_limit test_expect_code 2 iopftool record -w r.pcap -c 20000 --gen-rate 1000000 >/dev/null 2>err2 &&
	under_limit test_expect_code 2 iopftool replay --topspeed --loop 20 -w rp.pcap demo.pcap >/dev/null 2>err3 &&
	under_limit test_expect_code 2 iopftool read demo.pcap >rd.txt 2>err4 &&
	under_limit test_expect_code 2 iopftool stats --svg s.svg demo.pcap >/dev/null 2>err5 &&
	grep -q "s.svg: .*; the partial file is removed" err5 && ! test -e s.svg &&
	under_limit test_expect_code 2 iopftool -j read demo.pcap >rj.txt 2>err6 &&
	for f in err1 err2 err3 err4 err5; do
		grep "File too large (the file size limit, ulimit -f, is reached)" $f ||
			{ echo "$f:"; cat $f; return 1; }
	done &&
	"$HELPERS/json-get" err6 error | grep "file size limit"
'

test_expect_success 'H3: a replay --exec handler gets SIGXFSZ back (not ignored)' '
	iopftool replay --exec "grep SigIgn /proc/self/status >sigign" demo.pcap >/dev/null 2>&1;
	test -s sigign &&
	mask=$(sed "s/SigIgn:[[:space:]]*//" sigign) &&
	test $(( 0x$mask & (1 << 24) )) -eq 0
'

test_expect_success 'M4: a 0 that would mean "no limit" is a usage error' '
	test_expect_code 64 iopftool replay --max-gap 0 demo.pcap 2>err &&
	grep "max-gap: must be more than 0" err &&
	test_expect_code 64 iopftool replay --deadline 0s demo.pcap 2>err &&
	test_expect_code 64 iopftool stats --deadline 0 demo.pcap 2>err &&
	test_expect_code 64 iopftool generate --groups 0 -w zero.pcap 2>err &&
	grep "groups: must be 1 or more" err && test ! -e zero.pcap &&
	test_expect_code 64 iopftool read -c 0 demo.pcap >out 2>err && test ! -s out &&
	test_expect_code 64 timeout 10 "$IOPFTOOL" monitor --duration 0 >out 2>err &&
	test_expect_code 64 timeout 10 "$IOPFTOOL" monitor -c 0 >out 2>err &&
	test_expect_code 64 timeout 10 "$IOPFTOOL" record -w zero.pcap --gen-groups 0 >out 2>err &&
	test_expect_code 64 timeout 10 "$IOPFTOOL" handle -c 0 2>err
'

test_expect_success 'M5: replay of a missing, empty or directory capture: one message, no "ok" report' '
	: >empty.pcap && mkdir -p adir &&
	for c in missing.pcap empty.pcap adir; do
		test_expect_code 2 iopftool -j replay $c >out 2>err &&
		test ! -s out && test "$(wc -l <err)" -eq 1 && grep "$c" err &&
		! grep -i "protocol error\|replay stopped" err || { echo "replay $c:"; cat out err; return 1; }
	done
'

test_expect_success 'M5: replay - of an empty or garbage standard input: one message naming it, no report' '
	for j in "" -j; do
		test_expect_code 2 iopftool $j replay - </dev/null >out 2>err &&
		test ! -s out && test "$(wc -l <err)" -eq 1 &&
		grep "standard input is empty, not a capture" err &&
		echo garbage | test_expect_code 2 iopftool $j replay - >out 2>err &&
		test ! -s out && test "$(wc -l <err)" -eq 1 && grep -- "-: " err ||
			{ echo "replay $j -:"; cat out err; return 1; }
	done &&
	test_expect_code 2 iopftool replay empty.pcap 2>err &&
	grep "empty.pcap: empty file, not a capture" err &&
	test_expect_code 2 iopftool read - </dev/null 2>err &&
	grep "^iopftool: -: standard input is empty, not a capture$" err &&
	test_expect_code 2 iopftool replay -w nothing.pcap - </dev/null >out 2>err &&
	! test -e nothing.pcap && grep -q "nothing.pcap: nothing was replayed; not kept" err
'

test_expect_success 'replay --loop N with standard input: a usage error, not a second pass that fails' '
	test_expect_code 64 iopftool replay --loop 2 - <demo.pcap >out 2>err &&
	test ! -s out && grep "standard input can be played once" err &&
	iopftool replay --loop 1 - <demo.pcap >out &&
	grep "groups 16" out
'

test_expect_success 'M5: stats --check of an unreadable capture says FAILED, never ok' '
	for c in missing.pcap empty.pcap adir; do
		test_expect_code 2 iopftool -j stats --check $c >out 2>err &&
		test "$("$HELPERS/json-get" out ok)" = false &&
		test_expect_code 2 iopftool stats --check $c >out 2>err &&
		grep "FAILED" out && grep "violations: none" out || { cat out err; return 1; }
	done
'

# The latency axis past 2^63 ns: 1 << 64 was a wrong "1ns" label here and
# a UBSan abort in the sanitizer tier (tests/run.sh san runs this script).
test_expect_success 'M6: stats --svg with a deadline past 2^63 ns: a sane axis' '
	iopftool stats --svg big.svg --deadline 18446744073s demo.pcap >out &&
	grep "36028797.018s" big.svg && ! grep ">1ns<" big.svg
'

test_expect_success 'M7: a zero-filled tail: 10 error lines per file, then how many were left out' '
	cp demo.pcap z.pcap && head -c 65536 /dev/zero >>z.pcap &&
	test_expect_code 2 iopftool read z.pcap z.pcap >out 2>err1 &&
	test_expect_code 2 iopftool stats z.pcap >out 2>err2 &&
	test_expect_code 2 iopftool replay z.pcap >out 2>err3 &&
	test "$(grep -c "record .* at offset" err1)" -eq 20 &&
	test "$(grep -c "z.pcap: 4086 more bad records not shown (4096 in all)" err1)" -eq 2 &&
	for f in err2 err3; do
		test "$(grep -c "record .* at offset" $f)" -eq 10 &&
		grep "z.pcap: 4086 more bad records not shown (4096 in all)" $f ||
			{ echo "$f:"; cat $f; return 1; }
	done
'

test_expect_success 'M9: no text on standard output when the capture goes there' '
	test_expect_code 64 iopftool replay -w - demo.pcap >cap 2>err &&
	grep "report goes to standard output" err && test ! -s cap &&
	test_expect_code 64 timeout 10 "$IOPFTOOL" record -w - --print -c 3 >cap 2>err &&
	grep "text would go into the capture" err && test ! -s cap &&
	timeout 10 "$IOPFTOOL" record -w - -c 3 >cap 2>err && iopftool read cap >out &&
	test -s out
'

test_expect_success 'M10: generate refuses time stamps past the 32-bit pcap seconds' '
	test_expect_code 2 iopftool generate -w late.pcap --latency 18446744073s --groups 10 2>err &&
	grep "passes 2106-02-07T06:28:15Z" err && test ! -e late.pcap &&
	iopftool generate -w ok.pcap --latency 1000000s --groups 3 &&
	iopftool read ok.pcap >out && ! grep "^19[67]" out
'

test_expect_success 'M8: --source fd:N on a regular file or /dev/null: exit 2, one message saying what it is' '
	test_expect_code 2 iopftool monitor --source fd:5 5<demo.pcap >out 2>err &&
	test "$(wc -l <err)" -eq 1 &&
	grep "^iopftool: fd 5 is .*/demo.pcap (a regular file), not an iommufd fault queue" err &&
	test_expect_code 2 iopftool record -w fd.pcap --source fd:5 5</dev/null >out 2>err &&
	test "$(wc -l <err)" -eq 1 && test ! -e fd.pcap &&
	grep "^iopftool: fd 5 is /dev/null (a character device), not an iommufd fault queue" err
'

# handle reads what --fd names: a file, /dev/null or /dev/zero once gave
# "a group does not fit" (or spun for ever, growing, on /dev/zero and a
# FIFO at its end); a FIFO, a terminal or an eventfd are no queue either.
test_expect_success 'handle --fd N on a file, /dev/null, /dev/zero, a FIFO: what it is, exit 2' '
	rm -f fifo && mkfifo fifo &&
	for f in /dev/null /dev/zero demo.pcap . fifo; do
		case $f in
		/dev/*) kind="a character device" ;; demo.pcap) kind="a regular file" ;;
		.) kind="a directory" ;; fifo) kind="a pipe or FIFO" ;;
		esac &&
		if test $f = fifo; then exec 5<>fifo; else exec 5<$f; fi &&
		test_expect_code 2 timeout 10 "$IOPFTOOL" handle --fd 5 >out 2>err &&
		exec 5<&- &&
		test "$(wc -l <err)" -eq 1 &&
		grep "^iopftool: fd 5 is .* ($kind), not an iommufd fault queue" err &&
		! grep "does not fit" err || { echo "handle on $f:"; cat out err; return 1; }
	done &&
	IOPF_FAULT_FD=4 test_expect_code 2 timeout 10 "$IOPFTOOL" -j handle 4</dev/null >out 2>err &&
	test ! -s out && grep "^{\"error\":\"fd 4 is /dev/null (a character device), not an iommufd fault queue" err
'

# fd:N that is a fault fd (here the handler-fd socket replay --exec gives)
# is still no queue replay can inject into: the inner replay says so.
test_expect_success 'replay --target fd:N: a socket is accepted, then refused for injection; /dev/null for what it is' '
	test_expect_code 1 iopftool -q replay --handler-fd socket --timeout 100ms \
		--exec "$IOPFTOOL replay --target fd:3 demo.pcap" demo.pcap >out 2>err &&
	grep "^iopftool: cannot replay into fd:3: the tool can only inject faults into sim and mock$" err &&
	grep "handler .* exited with status 2" err &&
	test_expect_code 2 iopftool replay --target fd:0 demo.pcap </dev/null >out 2>err &&
	test ! -s out && test "$(wc -l <err)" -eq 1 &&
	grep "fd 0 is /dev/null (a character device), not an iommufd fault queue" err
'

# A stream socket has no messages: read as a handler-fd socket it looked
# ended at once (handle and monitor exited 0 having read nothing, silently).
# bash's /dev/tcp makes one, to monitor's own --metrics-listen endpoint.
test_expect_success 'fd:N on a stream socket: refused, saying so, not read as an empty stream' '
	"$IOPFTOOL" monitor --duration "$(test_scale 20s)" --gen-rate 10 --metrics-listen 127.0.0.1:0 \
		>/dev/null 2>err.http &
	mpid=$! &&
	test_wait_for 10 grep -q "metrics on" err.http &&
	port=$(sed -n "s|.*metrics on http://127\.0\.0\.1:\([0-9]*\)/metrics.*|\1|p" err.http) &&
	for v in "handle --fd 5" "monitor -c 1 --source fd:5"; do
		test_expect_code 2 timeout 10 bash -c "exec 5<>/dev/tcp/127.0.0.1/$port && exec $IOPFTOOL $v" \
			>out 2>err &&
		test "$(wc -l <err)" -eq 1 && grep "^iopftool: fd 5 is a stream socket, not an iommufd fault queue" err ||
			{ echo "$v:"; cat out err; kill $mpid; return 1; }
	done; rc=$?
	kill $mpid; wait $mpid
	return $rc
'

# fds N CMD...: CMD with at most N file descriptors (stdio redirected first)
fds() { n=$1; shift; sh -c "exec >out 2>err; ulimit -n $n; exec \"\$@\"" sh "$@"; }

# valgrind (tests/run.sh valgrind) needs descriptors of its own: not under it
[ -z "${VALGRIND_LOG_DIR:-}" ] && test_set_prereq NOVALGRIND
test_expect_success NOVALGRIND 'M8: out of file descriptors: exit 2 with a message, no headless capture' '
	for n in 4 5 6; do
		rm -f emf.pcap &&
		test_expect_code 2 fds $n "$IOPFTOOL" record -w emf.pcap -c 3 &&
		grep "^iopftool: .*Too many open files" err || { echo "record, $n fds:"; cat err; return 1; }
		if test -e emf.pcap; then iopftool read emf.pcap | tail -n 1 | grep "meta end=1" || return 1; fi
	done &&
	for n in 4 5; do
		test_expect_code 2 fds $n "$IOPFTOOL" monitor -c 3 &&
		grep "^iopftool: .*Too many open files" err || { echo "monitor, $n fds:"; cat err; return 1; }
	done
'

# (under valgrind the descriptors at start are valgrind's to arrange: not run there)
test_expect_success NOVALGRIND 'closed standard output (>&-): its number is held, text never lands in another file' '
	for v in "monitor -c 4" "record -w cl.pcap -c 4 --print"; do
		rm -f cl.pcap &&
		sh -c "exec \"\$@\" >&- <&-" sh "$IOPFTOOL" $v 2>err; rc=$? &&
		test $rc = 2 && grep -q "^iopftool: write error on standard output: Bad file descriptor" err ||
			{ echo "$v: exit $rc"; cat err; return 1; }
		if test -e cl.pcap; then iopftool read cl.pcap | tail -n 1 | grep -q "meta end=1" || return 1; fi
	done &&
	sh -c "exec \"\$@\" >&-" sh "$IOPFTOOL" read demo.pcap 2>err; test $? = 2 &&
	grep -q "^iopftool: write error on standard output: Bad file descriptor" err &&
	iopftool stats demo.pcap | grep -q "complete (META end=1)"
'

# stalled_reader: a reader of the FIFO "stalled" that opens it and never reads
# (a terminal paused with Ctrl-S); its pid in $rp
stalled_reader() {
	rm -f stalled && mkfifo stalled &&
	{ sh -c "exec 7<stalled; exec sleep 120" & } && rp=$!
}

test_expect_success 'M2: a standard output that stops reading never holds monitor' '
	stalled_reader &&
	timeout -k 5 "$(test_scale_s 30)" "$IOPFTOOL" monitor --duration 1s --gen-rate 10000 \
		>stalled 2>err; rc=$?; kill $rp; wait $rp 2>/dev/null
	test $rc -eq 0 && grep "^sim: [0-9]* groups" err &&
	grep "warning: [0-9]* lines were not printed: standard output did not take them" err
'

test_expect_success 'M2: nor record --print; the capture is whole' '
	stalled_reader &&
	timeout -k 5 "$(test_scale_s 30)" "$IOPFTOOL" record --print -w stalled.pcap --duration 1s \
		--gen-rate 10000 >stalled 2>err; rc=$?; kill $rp; wait $rp 2>/dev/null
	test $rc -eq 0 && grep "lines were not printed" err &&
	iopftool read stalled.pcap | tail -n 1 | grep "meta end=1"
'

# The Low list of issue 15.
test_expect_success 'replay warnings name the file, not "capture"' '
	"$MK" inc.pcap "fault,dev=1,grpid=3,cookie=1" "fault,dev=1,grpid=4,cookie=2,last" "resp,cookie=2" &&
	iopftool replay inc.pcap >out 2>err &&
	grep "warning: inc.pcap: record 1: its group" err && ! grep "capture: record" err
'

test_expect_success 'a long file name does not push the reason out of the message' '
	long=$(printf "%01200d" 0) &&
	for v in read stats replay; do
		test_expect_code 2 iopftool $v "$long.pcap" >out 2>err &&
		grep "File name too long" err || { echo "$v:"; cat err; return 1; }
	done &&
	test_expect_code 2 iopftool generate -w "nodir/$long.pcap" 2>err &&
	grep "No such file or directory" err &&
	test_expect_code 2 iopftool replay -w "nodir/$long.pcap" demo.pcap >out 2>err &&
	grep "No such file or directory" err
'

# (a sanitizer build cannot start without /proc: then not run)
unshare --mount sh -c "mount -t tmpfs none /proc && exec \"\$0\" --version" "$IOPFTOOL" \
	>/dev/null 2>&1 && test_set_prereq UNSHARE
test_expect_success UNSHARE 'ps on an empty /proc says it could not look (exit 2)' '
	test_expect_code 2 unshare --mount sh -c "mount -t tmpfs none /proc && exec \"\$0\" ps" \
		"$IOPFTOOL" >out 2>err &&
	grep "cannot look at the processes" err && ! grep "no process holds" err
'

test_expect_success NOVALGRIND 'ps out of file descriptors says it could not look (exit 2)' '
	test_expect_code 2 fds 4 "$IOPFTOOL" ps &&
	grep -q "^iopftool: cannot list /proc: Too many open files" err && ! grep -q "no process holds" err
'

# root refused /proc/1/fd (a container: no CAP_SYS_PTRACE over pid 1's namespace)
[ "$(id -u)" = 0 ] && ! readlink /proc/1/fd/0 >/dev/null 2>&1 && test_set_prereq ROOT_NO_PTRACE
test_expect_success ROOT_NO_PTRACE 'pid:PID:FD refused to root: it does not say "run as root"' '
	test_expect_code 2 iopftool monitor --source pid:1:0 -c 1 >out 2>err &&
	grep -q "no permission to inspect fd 0 of process 1, even as root: /proc/1/fd needs ptrace access" err &&
	! grep -q "run as its user or as root" err
'

test_expect_success 'ps --pid of no process: exit 2, as monitor --source pid: says it' '
	test_expect_code 2 iopftool ps --pid 999999999 >out 2>err &&
	grep -- "--pid 999999999: no such process" err &&
	test_expect_code 2 iopftool monitor --source pid:999999999:3 >out 2>err
'

test_done
