#!/bin/sh
# replay against the userspace queue: builtin handlers, --exec with every
# handle --bug mode (exact violation counts and exit codes), -w capture
# checked offline by stats --check.
. "$(dirname "$0")/lib.sh"
HELPERS=${HELPERS:-$(dirname "$IOPFTOOL")/tests/helpers}
jget() { "$HELPERS/json-get" "$@"; }
H="$IOPFTOOL handle"
test_check_fuse

# 40 groups of 1-3 records; 16-bit grpids so no grpid equals a live cookie.
# --timeout and --settle scale with IOPF_TIMEOUT_SCALE (tests/lib.sh): under
# valgrind a handler takes seconds to start.
test_expect_success 'make a capture' '
	iopftool generate -w in.pcap --seed 7 --groups 40 --group-size 1-3 --rate 4000 \
		--grpid-bits 16 --pasids 2 &&
	iopftool -j read in.pcap | grep -c "\"type\":\"fault\"" >faults &&
	test "$(cat faults)" -gt 40
'

test_expect_success 'builtin:success answers every group: exit 0, ok' '
	iopftool -j replay in.pcap >rep.json &&
	test "$(jget rep.json ok)" = true &&
	test "$(jget rep.json groups)" = 40 &&
	test "$(jget rep.json faults)" = "$(cat faults)" &&
	test "$(jget rep.json responses)" = 40 &&
	test "$(jget rep.json latency_ns.count)" = 40
'

test_expect_success 'builtin:invalid is a correct answer too' '
	iopftool -j replay in.pcap --handler builtin:invalid --topspeed >rep.json &&
	test "$(jget rep.json ok)" = true
'

test_expect_success 'text report names capture, target and handler' '
	iopftool replay in.pcap --topspeed >rep.txt &&
	grep "in.pcap" rep.txt && grep "sim" rep.txt && grep "builtin:success" rep.txt
'

test_expect_success '-v prints the live records before the report' '
	iopftool -v replay in.pcap --topspeed >out.txt &&
	test "$(grep -c " fault " out.txt)" = "$(cat faults)" &&
	test "$(grep -c " response " out.txt)" = 40
'

test_expect_success '--exec handle (correct): exit 0' '
	iopftool -j replay in.pcap --exec "$H" --timeout "$(test_scale 300ms)" \
		--settle "$(test_scale 100ms)" >rep.json &&
	test "$(jget rep.json ok)" = true && test "$(jget rep.json responses)" = 40
'

# expect_bug MODE KEY=N...: replay with handle --bug MODE, exit 1, exact counters
expect_bug() {
	mode=$1; shift
	dl=; [ "$mode" = delay ] && dl="--deadline 10ms"	# no timing in other modes
	test_expect_code 1 iopftool -j replay in.pcap --exec "$H --bug $mode --bug-delay 60ms" \
		$dl --timeout "$(test_scale 300ms)" --settle "$(test_scale 100ms)" >rep.json || return 1
	test "$(jget rep.json ok)" = false || return 1
	for kv in "$@"; do
		got=$(jget rep.json "violations.${kv%%=*}")
		[ "$got" = "${kv#*=}" ] || { echo "${kv%%=*}: got $got, want ${kv#*=}"; return 1; }
	done
	# the counters not named stay 0
	for k in unknown_cookie grpid_echo duplicate bad_code unanswered rejected late; do
		case " $* " in *" $k="*) continue ;; esac
		[ "$(jget rep.json violations.$k)" = 0 ] || { echo "$k not 0"; return 1; }
	done
}

test_expect_success 'handle --bug echo-grpid: grpid_echo and unanswered' '
	expect_bug echo-grpid grpid_echo=40 unanswered=40
'
test_expect_success 'handle --bug duplicate: duplicate' '
	expect_bug duplicate duplicate=40
'
test_expect_success 'handle --bug drop: unanswered' '
	expect_bug drop unanswered=40
'
test_expect_success 'handle --bug bad-code: bad_code and unanswered' '
	expect_bug bad-code bad_code=40 unanswered=40
'
test_expect_success 'handle --bug delay: late past --deadline' '
	expect_bug delay late=40
'
test_expect_success 'handle --bug-every 4: a quarter of the groups' '
	test_expect_code 1 iopftool -j replay in.pcap --exec "$H --bug drop --bug-every 4" \
		--timeout "$(test_scale 300ms)" --settle "$(test_scale 100ms)" >rep.json &&
	test "$(jget rep.json violations.unanswered)" = 10 &&
	test "$(jget rep.json responses)" = 30
'

test_expect_success 'a handler that reads nothing: every group unanswered, exit 1' '
	test_expect_code 1 iopftool -j replay in.pcap --exec "sleep $(test_scale_s 5)" \
		--timeout "$(test_scale 200ms)" --settle "$(test_scale 100ms)" >rep.json &&
	test "$(jget rep.json violations.unanswered)" = 40
'

test_expect_success 'replay -w records the session; stats --check agrees with the report' '
	test_expect_code 1 iopftool -j replay in.pcap --exec "$H --bug duplicate --bug-every 5" \
		--timeout "$(test_scale 300ms)" --settle "$(test_scale 100ms)" -w live.pcap >rep.json &&
	test_expect_code 1 iopftool -j stats --check live.pcap >chk.json &&
	for k in groups faults responses violations.duplicate violations.unanswered ok; do
		test "$(jget rep.json $k)" = "$(jget chk.json $k)" || { echo "$k differs"; exit 1; }
	done &&
	test "$(jget chk.json violations.duplicate)" = 8
'

test_expect_success 'builtin:from-capture reproduces the recorded handler' '
	test_expect_code 1 iopftool -j replay live.pcap --handler builtin:from-capture >rep2.json &&
	test "$(jget rep2.json violations.duplicate)" = 8 &&
	test "$(jget rep2.json violations.unanswered)" = 0
'

test_expect_success 'timing: --rate and --speed keep the schedule, --loop repeats' '
	iopftool -j replay in.pcap --rate 2000 --loop 2 >rep.json &&
	test "$(jget rep.json groups)" = 80 &&
	# a late first injection of a pass (a loaded machine) shortens the wall by its lag
	wall=$(jget rep.json wall_ns) && lag=$(jget rep.json schedule_lag_ns.max) &&
	test $((wall + 2 * lag)) -ge 35000000 &&
	iopftool -j replay in.pcap --speed 0.5 >rep.json && test "$(jget rep.json groups)" = 40
'

test_expect_success 'faults without LAST_PAGE: a response closes the group (stats --check, replay)' '
	"$HELPERS/mkcapture" nolast.pcap fault,dev=1,grpid=5,cookie=1,flags=0 \
		resp,cookie=1,code=0 fault,dev=1,grpid=6,cookie=1,flags=0 resp,cookie=1,code=0 &&
	iopftool -j stats --check nolast.pcap >chk.json 2>err &&
	test "$(jget chk.json groups)" = 2 && test "$(jget chk.json ok)" = true &&
	grep "record 2: a response answers the group of record 1 (cookie 1), which has no LAST_PAGE" err &&
	iopftool -j replay nolast.pcap --topspeed >rep.json 2>err &&
	test "$(jget rep.json groups)" = 2 && test "$(jget rep.json ok)" = true &&
	grep "record 4: a response answers the group of record 3" err
'

# every_verb CAPTURE GROUPS FAULTS RESPONSES: all verbs agree, exit 0
every_verb() {
	c=$1 g=$2 f=$3 n=$4
	iopftool -j stats "$c" >s.json || return 1
	[ "$(jget s.json groups)" = "$g" ] || { echo "stats: groups $(jget s.json groups)"; return 1; }
	[ "$(jget s.json faults)" = "$f" ] || { echo "stats: faults"; return 1; }
	for v in "stats --check" "replay --topspeed" "replay --handler builtin:from-capture" \
		 "replay --handler builtin:from-capture --topspeed" "replay" "replay --rate 10000" \
		 "replay --exec \"$H\" --timeout $(test_scale 300ms) --settle $(test_scale 100ms)"; do
		eval "iopftool -j $v $c" >v.json || { echo "$v: exit $?"; return 1; }
		for kv in groups=$g faults=$f responses=$n ok=true violations.unanswered=0; do
			got=$(jget v.json "${kv%%=*}")
			[ "$got" = "${kv#*=}" ] || { echo "$v: ${kv%%=*} $got, want ${kv#*=}"; return 1; }
		done
	done
}

test_expect_success 'interleaved groups: every verb finds 2 groups, the same counts, exit 0' '
	iopftool read "$CAPTURES/interleaved.pcap" >r.txt 2>err &&
	test "$(grep -c " fault " r.txt)" = 4 && test ! -s err &&
	iopftool read --dev 2 "$CAPTURES/interleaved.pcap" >r.txt &&
	test "$(grep -c " response q1 cookie 2" r.txt)" = 1 &&
	test "$(grep -c " response " r.txt)" = 1 &&
	every_verb "$CAPTURES/interleaved.pcap" 2 4 2
'

test_expect_success 'interleaved groups answered out of order, cookies reused: from-capture follows identity' '
	"$HELPERS/mkcapture" il2.pcap fault,dev=1,grpid=1,cookie=1,flags=0 fault,dev=1,grpid=2,cookie=2,flags=0 \
		fault,dev=1,grpid=3,cookie=3,last fault,dev=1,grpid=2,cookie=2,last \
		fault,dev=1,grpid=1,cookie=1,last resp,cookie=2 resp,cookie=3 resp,cookie=1 \
		fault,dev=1,grpid=4,cookie=2,last resp,cookie=2 &&
	every_verb il2.pcap 4 6 4
'

test_expect_success 'an unterminated group is warned about and left out by every verb' '
	"$HELPERS/mkcapture" cut.pcap fault,dev=1,grpid=1,cookie=1,last resp,cookie=1 \
		fault,dev=1,grpid=2,cookie=2,flags=0 fault,dev=1,grpid=2,cookie=2,flags=0 &&
	iopftool read cut.pcap >/dev/null 2>err &&
	grep "record 3: its group (cookie 2, 2 records) has no LAST_PAGE record and no response" err &&
	iopftool -j stats cut.pcap >s.json 2>err && grep "record 3: its group" err &&
	test "$(jget s.json incomplete_groups)" = 1 && test "$(jget s.json groups)" = 1 &&
	test "$(jget s.json faults)" = 3 &&
	iopftool -j stats --check cut.pcap >c.json 2>err && grep "record 3: its group" err &&
	test "$(jget c.json groups)" = 1 && test "$(jget c.json faults)" = 1 &&
	test "$(jget c.json violations.unanswered)" = 0 &&
	for v in "--topspeed" "--handler builtin:from-capture" ""; do
		iopftool -j replay $v cut.pcap >v.json 2>err && grep "record 3: its group" err &&
		test "$(jget v.json groups)" = 1 && test "$(jget v.json faults)" = 1 || exit 1
	done
'

test_expect_success 'a group of 40000 records: read buffer grows, every verb counts one group' '
	"$HELPERS/mkcapture" big.pcap fault,dev=1,grpid=9,cookie=1,flags=0,x=39999 \
		fault,dev=1,grpid=9,cookie=1,last resp,cookie=1 &&
	iopftool -j stats --check big.pcap >c.json && test "$(jget c.json groups)" = 1 &&
	test "$(jget c.json faults)" = 40000 &&
	# --exec: a 1.6 MB message needs SO_SNDBUFFORCE (root) past net.core.wmem_max
	ex=; [ "$(id -u)" = 0 ] && ex="--exec \"$H\" --handler-fd socket --timeout 2s"
	for v in "--topspeed" "--handler builtin:from-capture" "--rate 100" "$ex"; do
		[ -n "$v" ] || continue
		eval "iopftool -j replay $v big.pcap" >v.json || { echo "replay $v: exit $?"; exit 1; }
		test "$(jget v.json groups)" = 1 && test "$(jget v.json faults)" = 40000 &&
		test "$(jget v.json ok)" = true || exit 1
	done
'

test_expect_success FUSE 'a group larger than a read of the handler file: said, and unanswered' '
	test_expect_code 1 iopftool -j replay --handler-fd file --exec "$H" --timeout 1s \
		big.pcap >v.json 2>err &&
	grep "a group of 40000 records is larger than a read of the handler file" err &&
	grep "1 injected groups were never read by the handler" err &&
	test "$(jget v.json violations.unanswered)" = 1 && test "$(jget v.json groups)" = 0
'

test_expect_success 'a ten-year pause in the capture is cut to --max-gap' '
	"$HELPERS/mkcapture" gap.pcap fault,dev=1,grpid=5,cookie=1,last resp,cookie=1 \
		fault,dev=1,grpid=6,cookie=1,last,t=315360000000000000 &&
	timeout "$(test_scale_s 10)" "$IOPFTOOL" -j replay gap.pcap --max-gap 100ms >rep.json 2>err &&
	test "$(jget rep.json groups)" = 2 && grep "cut to --max-gap" err
'

test_expect_success 'usage errors exit 64' '
	test_expect_code 64 iopftool replay &&
	test_expect_code 64 iopftool replay in.pcap --handler builtin:nosuch 2>err &&
	grep "builtin:nosuch" err &&
	test_expect_code 64 iopftool replay in.pcap --speed fast &&
	test_expect_code 64 iopftool replay in.pcap --rate 10 --topspeed &&
	test_expect_code 64 iopftool replay in.pcap --timeout 5
'

test_expect_success 'runtime errors exit 2: missing capture, unknown target' '
	test_expect_code 2 iopftool replay nosuch.pcap 2>err && grep nosuch.pcap err &&
	test_expect_code 2 iopftool replay in.pcap --target nosuch 2>err && grep nosuch err
'

test_expect_success 'JSON errors are JSON on stderr' '
	test_expect_code 2 iopftool -j replay nosuch.pcap 2>err &&
	grep "^{\"error\":" err
'
test_done
