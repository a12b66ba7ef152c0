#!/bin/sh
# replay --exec with the handler file as fd 3 (lib/fusefd.c): handlers
# written to the kernel fault fd's contract run unchanged and answer every
# group; the checker sees their reads and writes; the socket fallback.
# See iopftool-replay(8), THE HANDLER FD.  Needs root and /dev/fuse.
. "$(dirname "$0")/lib.sh"
HELPERS=${HELPERS:-$(dirname "$IOPFTOOL")/tests/helpers}
jget() { "$HELPERS/json-get" "$@"; }
LH=$HELPERS/literal-handler

if [ "$(id -u)" = 0 ] && [ -c /dev/fuse ] && grep -qw fuse /proc/filesystems; then
	test_set_prereq FUSE
fi
command -v setpriv >/dev/null && [ "$(id -u)" = 0 ] && test_set_prereq SETPRIV

# replay_ok FILE ARGS...: exit 0, every group answered, on the handler file
replay_ok() {
	f=$1; shift
	iopftool -j replay in.pcap --handler-fd fuse --topspeed --timeout 2s "$@" >"$f" || return 1
	test "$(jget "$f" ok)" = true &&
	test "$(jget "$f" groups)" = 300 &&
	test "$(jget "$f" faults)" = "$(cat faults)" &&
	test "$(jget "$f" responses)" = 300 &&
	test "$(jget "$f" latency_ns.count)" = 300
}

test_expect_success 'make a capture: 300 groups of 1-40 records' '
	iopftool generate -w in.pcap --seed 11 --groups 300 --group-size 1-40 --rate 20000 \
		--grpid-bits 16 --devs 2 --pasids 3 &&
	iopftool -j read in.pcap | grep -c "\"type\":\"fault\"" >faults &&
	test "$(cat faults)" -gt 600
'

test_expect_success FUSE 'a literal-contract handler (poll, read until 0, answer) answers every group' '
	replay_ok rep.json --exec "$LH" 2>err &&
	grep "literal-handler: 300 groups, $(cat faults) faults, 300 responses, 0 refused" err
'

test_expect_success FUSE 'the same with O_NONBLOCK and edge-triggered epoll' '
	replay_ok rep.json --exec "$LH --nonblock" 2>err &&
	grep "literal-handler: 300 groups" err
'

test_expect_success FUSE 'a 40-byte buffer: EINVAL, grow, whole groups' '
	replay_ok rep.json --exec "$LH --buffer 40" 2>err &&
	grep "literal-handler: 300 groups" err
'

test_expect_success FUSE 'iopftool handle --fd 3 answers every group' '
	replay_ok rep.json --exec "$IOPFTOOL handle --fd 3" 2>err &&
	grep "handle: 300 groups, $(cat faults) faults, 300 responses written, 0 refused" err
'

test_expect_success FUSE 'the recorded timing (not --topspeed): every group answered' '
	iopftool -j replay in.pcap --handler-fd fuse --speed 4 --exec "$LH" >rep.json &&
	test "$(jget rep.json ok)" = true && test "$(jget rep.json responses)" = 300
'

test_expect_success FUSE 'fd 3 is a regular file, -v says it is the handler file' '
	iopftool -v replay in.pcap --topspeed --exec "test -f /proc/self/fd/3 && test ! -S /proc/self/fd/3 && exec $LH" \
		>rep.txt 2>err &&
	grep "fd 3 is the handler file" err &&
	grep "groups 300 .*responses 300  ok" rep.txt
'

test_expect_success FUSE 'a buggy handler through the file: the checker sees every response' '
	test_expect_code 1 iopftool -j replay in.pcap --handler-fd fuse --topspeed --timeout 300ms \
		--exec "$IOPFTOOL handle --bug bad-code --bug-every 10" >rep.json &&
	test "$(jget rep.json violations.bad_code)" = 30 &&
	test "$(jget rep.json violations.unanswered)" = 30 &&
	test "$(jget rep.json responses)" = 300
'

test_expect_success FUSE 'a handler that never reads: every group unanswered, exit 1' '
	test_expect_code 1 iopftool -j replay in.pcap --handler-fd fuse --topspeed --timeout 200ms \
		--exec "exec sleep 30" >rep.json &&
	test "$(jget rep.json groups)" = 300 &&
	test "$(jget rep.json violations.unanswered)" = 300
'

test_expect_success FUSE 'a handler that exits at once: the replay goes on, exit 1' '
	test_expect_code 1 iopftool -j replay in.pcap --handler-fd fuse --timeout 200ms \
		--exec true >rep.json &&
	test "$(jget rep.json violations.unanswered)" = 300
'

test_expect_success FUSE '-w through the file: stats --check agrees with the report' '
	iopftool -j replay in.pcap --handler-fd fuse --topspeed --exec "$LH" -w live.pcap >rep.json &&
	iopftool -j stats --check live.pcap >check.json &&
	test "$(jget check.json ok)" = true &&
	test "$(jget check.json responses)" = 300
'

# The point of the file: a handler that reads until 0 stalls on the socket
# (read blocks) until the replay ends; on the file it answers at once.
test_expect_success FUSE 'the literal handler meets a deadline on the file, not on the socket' '
	iopftool -j replay in.pcap --handler-fd fuse --topspeed --deadline 250ms --timeout 600ms \
		--exec "$LH" >file.json &&
	test "$(jget file.json violations.late)" = 0 &&
	test_expect_code 1 iopftool -j replay in.pcap --handler-fd socket --topspeed --deadline 250ms \
		--timeout 600ms --exec "$LH" >sock.json &&
	test "$(jget sock.json violations.late)" -gt 0
'

test_expect_success SETPRIV 'not root: a warning, then the socket' '
	chmod 755 . && chmod 644 in.pcap &&
	setpriv --reuid=65534 --regid=65534 --clear-groups "$IOPFTOOL" -j replay in.pcap --topspeed \
		--timeout 2s --exec "test -S /proc/self/fd/3 && exec $IOPFTOOL handle" >rep.json 2>err &&
	grep "fd 3 is a socket, not a file" err &&
	test "$(jget rep.json ok)" = true
'

test_expect_success SETPRIV 'not root, --handler-fd fuse: exit 2 and why' '
	test_expect_code 2 setpriv --reuid=65534 --regid=65534 --clear-groups "$IOPFTOOL" replay in.pcap \
		--handler-fd fuse --exec true 2>err &&
	grep "handler-fd fuse: /dev/fuse" err
'

test_expect_success '--handler-fd: a bad kind is a usage error' '
	test_expect_code 64 iopftool replay in.pcap --handler-fd pipe --exec true
'

test_done
