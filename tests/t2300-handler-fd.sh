#!/bin/sh
# The handler's fd 3 under replay --exec on sim (iopftool-replay(8) "THE
# HANDLER FD"): the handler file has the kernel fault fd's read, write and
# poll, so a handler written literally to the kernel's contract, a
# non-blocking one and iopftool handle all pass; every handle --bug mode
# gets the same verdicts through the file as through the socket; without
# FUSE, auto falls back to the socket and says so, and file is refused.
. "$(dirname "$0")/lib.sh"
HELPERS=${HELPERS:-$(dirname "$IOPFTOOL")/tests/helpers}
jget() { "$HELPERS/json-get" "$@"; }
L=$HELPERS/literal-handler
test_check_fuse
# A user without root: /dev/fuse is root's (crw-------).
setpriv --reuid=65534 --regid=65534 --clear-groups "$IOPFTOOL" --version >/dev/null 2>&1 &&
	[ "$(id -u)" = 0 ] && test_set_prereq NOBODY

test_expect_success 'make captures' '
	iopftool generate -w in.pcap --seed 11 --groups 3000 --group-size 1-4 --rate 100000 \
		--grpid-bits 16 &&
	iopftool generate -w small.pcap --seed 12 --groups 40 --group-size 1-3 --rate 4000 \
		--grpid-bits 16
'

# replay with HANDLER at SCHEDULE through KIND: every group answered, exit 0
pass() {
	kind=$1 sched=$2; shift 2
	iopftool -v -j replay --handler-fd "$kind" $sched --timeout "$(test_scale 2s)" \
		--exec "$*" in.pcap >rep.json 2>err || { cat err; return 1; }
	test "$(grep -v "^{\"fault\|^{\"response" rep.json | tail -n 1 | tee r.json | wc -l)" = 1 &&
	test "$(jget r.json ok)" = true && test "$(jget r.json groups)" = 3000 &&
	test "$(jget r.json responses)" = 3000 && test "$(jget r.json violations.unanswered)" = 0
}

for h in "$L" "$L --nonblock" "$IOPFTOOL -q handle"; do
	name=$(echo "$h" | sed "s|$HELPERS/||; s|$IOPFTOOL|iopftool|")
	for s in --topspeed "--rate 20000"; do
		test_expect_success FUSE "file: $name, $s: every group answered" "
			pass file '$s' $h &&
			grep 'handler fd 3: a file with the fault fd' err
		"
	done
done

test_expect_success FUSE 'auto is the file where FUSE works' '
	iopftool -v replay --exec "$L" small.pcap >out 2>err &&
	grep "handler fd 3: a file with the fault fd" err && ! grep "is a socket" err
'

test_expect_success FUSE 'at top speed a read takes several whole groups (the kernel packs them)' '
	iopftool -v replay --handler-fd file --topspeed --exec "$L" in.pcap >out 2>err &&
	grep "literal-handler: 3000 groups" err &&
	reads=$(sed -n "s/^handler file: \([0-9]*\) reads of 3000 groups.*/\1/p" err) &&
	test -n "$reads" && test "$reads" -lt 3000
'

test_expect_success FUSE 'every handle --bug mode: the same verdicts through the file and the socket' '
	for b in echo-grpid duplicate drop bad-code delay; do
		# only delay is timed: 400 ms late against a deadline of 100 ms, whatever the load
		dl=; [ $b = delay ] && dl="--deadline $(test_scale 100ms) --timeout $(test_scale 2s)"
		for k in file socket; do
			iopftool -j replay --timeout "$(test_scale 1s)" $dl --handler-fd $k \
				--exec "$IOPFTOOL -q handle --bug $b --bug-delay 400ms" small.pcap >$k.json
			echo $? >$k.rc
			for f in ok groups responses violations.grpid_echo violations.duplicate \
				 violations.unanswered violations.bad_code violations.late; do
				echo "$f $(jget $k.json $f)"
			done >>$k.v
		done
		test_cmp socket.rc file.rc && test "$(cat file.rc)" = 1 || exit 1
	done &&
	test_cmp socket.v file.v
'

# A handler written apart from iopftool that answers every 7th group twice in
# one write, the duplicates last: the queue (and the file) take the answers,
# refuse the first duplicate and return a short count.  Resubmitting the
# rest, the verdicts are those of the socket (each duplicate judged once);
# dropping the rest, the duplicates the queue refused, as the handler
# counted them (the kernel fd gives the same: tests/kernel/guest/45).
test_expect_success FUSE 'a duplicate inside a short write, resubmitted: the same verdicts through the file and the socket' '
	for k in file socket; do
		iopftool -j replay --timeout "$(test_scale 1s)" --handler-fd $k \
			--exec "$L --dup-every 7" small.pcap >$k.json 2>$k.err
		echo "rc $?" >$k.d
		for f in ok groups responses violations.duplicate violations.unanswered; do
			echo "$f $(jget $k.json $f)"
		done >>$k.d
	done &&
	cat file.d && test_cmp socket.d file.d &&
	grep "rc 1" file.d && grep "violations.duplicate 5" file.d && grep "responses 45" file.d
'

test_expect_success FUSE 'a duplicate inside a short write, the rest dropped: the duplicates refused, as the handler counted them' '
	iopftool -j replay --timeout "$(test_scale 1s)" --handler-fd file \
		--exec "$L --dup-every 7 --no-resubmit" small.pcap >nr.json 2>nr.err
	test $? = 1 && cat nr.err &&
	refused=$(sed -n "s/^literal-handler: .* \([0-9]*\) refused\$/\1/p" nr.err) &&
	test -n "$refused" && test "$refused" -ge 1 &&
	test "$(jget nr.json violations.duplicate)" = "$refused" &&
	test "$(jget nr.json violations.unanswered)" = 0
'

test_expect_success FUSE 'a handler that never reads: every group unanswered, and it is ended' '
	start=$(date +%s) &&
	test_expect_code 1 iopftool -j replay --handler-fd file --timeout "$(test_scale 200ms)" \
		--exec "sleep 30" small.pcap >rep.json 2>err &&
	test $(($(date +%s) - start)) -lt 10 &&
	test "$(jget rep.json violations.unanswered)" = 40 &&
	grep "40 injected groups were never read" err && ! grep "died of signal" err
'

test_expect_success NOBODY 'no FUSE (not root): auto falls back to the socket and says why' '
	setpriv --reuid=65534 --regid=65534 --clear-groups "$IOPFTOOL" -v replay \
		--exec "$IOPFTOOL -q handle" "$CAPTURES/demo.pcap" >out 2>err &&
	grep "handler fd 3 is a socket, not a file with the fault fd.s semantics (/dev/fuse: Permission denied" err &&
	grep "handler fd 3: a socket" err &&
	grep "responses 16  ok" out
'

test_expect_success NOBODY 'no FUSE: --handler-fd file is refused, exit 2, naming what is missing' '
	test_expect_code 2 setpriv --reuid=65534 --regid=65534 --clear-groups "$IOPFTOOL" replay \
		--handler-fd file --exec "$IOPFTOOL -q handle" "$CAPTURES/demo.pcap" >out 2>err &&
	grep "handler-fd file: cannot give the handler a file" err && grep "run as root" err
'

test_expect_success '--handler-fd: an unknown kind is a usage error' '
	test_expect_code 64 iopftool replay --handler-fd pipe --exec true small.pcap 2>err &&
	grep "not auto, file or socket" err
'

test_done
