#!/bin/sh
# iopftool stats: exact counts on captures of known content, --check exit
# codes and violation counts for each generate --bug mode, grpid reuse.
test_description='iopftool stats'
. "$(dirname "$0")/lib.sh"

HELPERS=${HELPERS:-$(dirname "$IOPFTOOL")/tests/helpers}
JG=$HELPERS/json-get
MK=$HELPERS/mkcapture

# jget FILE PATH EXPECTED
jget() {
	v=$("$JG" "$1" "$2") || return 1
	[ "$v" = "$3" ] || { echo "$2: got $v, expected $3"; return 1; }
}

test_expect_success '1000 single-record groups: exact totals' '
	iopftool generate -w g1.pcap --seed 11 --groups 1000 --group-size 1 --devs 3 &&
	iopftool -j stats g1.pcap >s &&
	jget s faults 1000 && jget s groups 1000 && jget s responses 1000 &&
	jget s records 2002 && jget s meta 2 && jget s bad 0 && jget s lost 0 &&
	jget s complete true && jget s source generate &&
	jget s group_sizes.0.min 1 && jget s group_sizes.0.groups 1000 &&
	jget s latency_ns.count 1000 && jget s incomplete_groups 0 &&
	jget s statuses.0.status 0 && jget s statuses.0.responses 1000 &&
	jget s codes.0.code success
'

test_expect_success 'per-device and per-PASID counts add up' '
	iopftool -j stats g1.pcap >s &&
	a=$("$JG" s devices.0.faults) && b=$("$JG" s devices.1.faults) &&
	c=$("$JG" s devices.2.faults) && test $((a + b + c)) -eq 1000 &&
	jget s devices.2.dev_id 3 &&
	jget s pasids.0.pasid_valid false && jget s pasids.0.faults 1000
'

test_expect_success 'group sizes 4-4: faults = 4 x groups, one 3-4 bucket' '
	iopftool generate -w g4.pcap --seed 3 --groups 50 --group-size 4 --pasids 5 &&
	iopftool -j stats g4.pcap >s &&
	jget s faults 200 && jget s groups 50 &&
	jget s group_sizes.0.min 3 && jget s group_sizes.0.max 4 &&
	jget s group_sizes.0.groups 50
'

test_expect_success 'hand-made capture: perm combinations, PASID-less, codes, statuses' '
	"$MK" hm.pcap \
		"fault,dev=1,pasid=7,grpid=1,perm=0x3,cookie=1" \
		"fault,dev=1,pasid=7,grpid=1,perm=0x13,cookie=1,last" \
		"fault,dev=4,grpid=2,perm=0x1,cookie=2,last" \
		"resp,cookie=1,code=0" "resp,cookie=2,code=1" "resp,cookie=2,code=0,status=22" &&
	iopftool -j stats hm.pcap >s &&
	jget s groups 2 && jget s faults 3 &&
	jget s perms.0.perm_raw 1 && jget s perms.1.perm_raw 3 &&
	jget s perms.2.perm "[\"read\",\"write\",\"0x10\"]" &&
	jget s pasids.0.pasid 7 && jget s pasids.0.groups 1 &&
	jget s pasids.1.pasid_valid false &&
	jget s codes.1.code invalid && jget s codes.1.responses 1 &&
	jget s statuses.1.status 22 && jget s statuses.1.responses 1 &&
	jget s violations.duplicate 1 && jget s complete false &&
	jget s group_sizes.1.min 2 && jget s group_sizes.1.groups 1
'

test_expect_success 'latency percentiles and histogram from RESPONSE latency_ns' '
	"$MK" lat.pcap "fault,dev=1,cookie=1,last" "resp,cookie=1,lat=1000" \
		"fault,dev=1,cookie=1,last" "resp,cookie=1,lat=3000" \
		"fault,dev=1,cookie=1,last" "resp,cookie=1,lat=100000" &&
	iopftool -j stats lat.pcap >s &&
	jget s latency_ns.count 3 && jget s latency_ns.min 1000 &&
	jget s latency_ns.max 100000 &&
	jget s latency_hist.0.le_ns 1023 && jget s latency_hist.0.count 1 &&
	jget s latency_hist.1.le_ns 4095 && jget s latency_hist.2.le_ns 131071 &&
	! "$JG" s latency_hist.3 &&
	iopftool stats lat.pcap >t &&
	grep -E "^\[64K, 128K\) +1 \|@+ *\|$" t
'

test_expect_success 'LOST totals and seq gaps' '
	iopftool generate -w l.pcap --seed 4 --groups 20 --lost-every 5 &&
	iopftool -j stats l.pcap >s &&
	n=$("$JG" s records) &&
	jget s lost_records $(( (n - 2) / 5 )) && jget s lost $(( (n - 2) / 5 )) &&
	"$MK" gap.pcap "fault,dev=1,cookie=1,last,seq=0" "resp,cookie=1,seq=4" &&
	iopftool -j stats gap.pcap >s &&
	jget s seq_gaps 3
'

test_expect_success 'cut short: no META end=1' '
	"$MK" cut.pcap "meta,text=source=x" "fault,dev=1,cookie=1,last" &&
	iopftool -j stats cut.pcap >s &&
	jget s complete false && jget s files.0.complete false && jget s source x &&
	iopftool stats cut.pcap >t && grep "cut short" t
'

test_expect_success 'several captures are summed; each has its own cookie space' '
	iopftool -j stats g1.pcap g4.pcap >s &&
	jget s faults 1200 && jget s groups 1050 && jget s files.1.path g4.pcap &&
	jget s violations.duplicate 0 && jget s violations.unanswered 0 &&
	iopftool -j stats --check g1.pcap g4.pcap >c &&
	jget c groups 1050 && jget c ok true && jget c capture g1.pcap,g4.pcap
'

test_expect_success '--check on a clean capture: exit 0, the report of iopftool-replay(8)' '
	test_expect_code 0 iopftool -j stats --check g1.pcap >c &&
	jget c ok true && jget c handler recorded && jget c target generate &&
	jget c groups 1000 && jget c responses 1000 && jget c latency_ns.count 1000 &&
	jget c violations.unknown_cookie 0 && jget c capture g1.pcap
'

# bug MODE EXTRA-OPTS: 100 groups, every 10th wrong, at 1000 groups/s
bug() {
	m=$1; shift
	iopftool generate -w "$m.pcap" --seed 21 --groups 100 --rate 1000 \
		--bug "$m" --bug-every 10 &&
	test_expect_code 1 iopftool -j stats --check "$@" "$m.pcap" >c &&
	jget c ok false
}

test_expect_success '--bug echo-grpid: grpid_echo 10, unanswered 10' '
	bug echo-grpid &&
	jget c violations.grpid_echo 10 && jget c violations.unanswered 10 &&
	jget c violations.unknown_cookie 0 && jget c violations.duplicate 0 &&
	jget c responses 100 &&
	iopftool -j stats echo-grpid.pcap >s &&
	jget s violations.grpid_echo 10 && jget s statuses.1.status 22 &&
	jget s statuses.1.responses 10
'

test_expect_success '--bug duplicate: duplicate 10, 110 responses' '
	bug duplicate &&
	jget c violations.duplicate 10 && jget c responses 110 &&
	jget c violations.unanswered 0 && jget c violations.grpid_echo 0
'

test_expect_success '--bug drop: unanswered 10, 90 responses' '
	bug drop &&
	jget c violations.unanswered 10 && jget c responses 90 &&
	jget c violations.duplicate 0
'

test_expect_success '--bug bad-code: bad_code 10, unanswered 10' '
	bug bad-code &&
	jget c violations.bad_code 10 && jget c violations.unanswered 10 &&
	jget c violations.rejected 0 &&
	iopftool -j stats bad-code.pcap >s &&
	jget s codes.1.code unknown && jget s codes.1.code_raw 2 && jget s codes.1.responses 10
'

test_expect_success '--bug delay with --deadline: late = responses slower than it' '
	bug delay --deadline 150us &&
	iopftool -j read --type response delay.pcap >r &&
	n=0 &&
	while IFS= read -r line; do
		l=$(printf "%s\n" "$line" | "$JG" - latency_ns) &&
		if [ "$l" -gt 150000 ]; then n=$((n + 1)); fi
	done <r &&
	# the 10 delayed answers (100 times their latency: one may stay under
	# 150us) and the rare clean one slower than that (mean 20us)
	test $n -ge 8 && test $n -le 11 &&
	jget c violations.late $n && jget c violations.unanswered 0 &&
	test_expect_code 0 iopftool stats --check delay.pcap >/dev/null
'

test_expect_success '--bug-every 1: every group is hit' '
	iopftool generate -w all.pcap --seed 5 --groups 30 --bug drop &&
	test_expect_code 1 iopftool -j stats --check all.pcap >c &&
	jget c violations.unanswered 30 && jget c responses 0
'

test_expect_success '--check text output says FAILED and names the classes' '
	test_expect_code 1 iopftool stats --check duplicate.pcap >t &&
	grep FAILED t && grep "duplicate 10" t
'

test_expect_success 'grpid reuse: 0 without, counted with a tiny grpid space' '
	iopftool -j stats g1.pcap >s && jget s grpid_reuse 0 &&
	"$MK" ru.pcap "fault,dev=1,grpid=5,cookie=1,last" "fault,dev=1,grpid=5,cookie=2,last" \
		"fault,dev=2,grpid=5,cookie=3,last" "resp,cookie=1" \
		"fault,dev=1,grpid=5,cookie=1,last" "resp,cookie=2" "resp,cookie=3" "resp,cookie=1" \
		"fault,dev=1,grpid=5,cookie=1,last" "resp,cookie=1" &&
	iopftool -j stats ru.pcap >s &&
	jget s grpid_reuse 2 &&
	iopftool generate -w r.pcap --seed 8 --groups 2000 --grpid-bits 2 --rate 100000 &&
	iopftool -j stats r.pcap >s &&
	test "$("$JG" s grpid_reuse)" -gt 0
'

test_expect_success 'text output has every section' '
	iopftool stats "$CAPTURES/demo.pcap" >t &&
	for s in devices: pasids: perm: "group sizes:" "response codes:" \
		"response statuses:" "latency (accepted" "latency histogram (ns):" \
		violations: "grpid reuse"; do
		grep -q "^$s" t || { echo "missing $s"; exit 1; }
	done
'

test_expect_success 'usage errors exit 64' '
	test_expect_code 64 iopftool stats &&
	test_expect_code 64 iopftool stats --deadline 5 g1.pcap &&
	test_expect_code 64 iopftool stats --bogus g1.pcap
'

test_expect_success '--usage lists every long option' '
	iopftool stats --usage >out &&
	for o in check deadline json pretty quiet verbose; do
		grep -q -- "--$o" out || { echo "missing --$o"; exit 1; }
	done
'

test_expect_success 'write error on stdout exits 2' '
	test_expect_code 2 iopftool stats g1.pcap >/dev/full 2>err &&
	grep "write error" err
'

command -v xmllint >/dev/null && command -v rsvg-convert >/dev/null && test_set_prereq SVGTOOLS

test_expect_success 'stats shows a bpftrace-style log2 histogram' '
	iopftool stats "$CAPTURES/demo.pcap" >out &&
	grep -x "latency histogram (ns):" out &&
	grep -E "^\[16K, 32K\) +5 \|@+ *\|$" out
'

test_expect_success SVGTOOLS 'stats --svg writes a well-formed SVG that renders to a PNG' '
	iopftool generate --groups 3000 --devs 10 --group-size 1-3 --bug delay --bug-every 40 -w g.pcap &&
	iopftool -q stats g.pcap --svg g.svg --deadline 100us >/dev/null &&
	xmllint --noout g.svg &&
	grep -c "<rect" g.svg >rects && test "$(cat rects)" -gt 100 &&
	grep -q "deadline 100.000us" g.svg &&
	grep -q "other devices" g.svg &&
	rsvg-convert -o g.png g.svg &&
	test "$(wc -c <g.png)" -gt 10000 &&
	od -An -tx1 -N8 g.png | grep -q "89 50 4e 47 0d 0a 1a 0a"
'

test_expect_success SVGTOOLS 'stats --svg of a capture with no responses still renders' '
	iopftool stats "$CAPTURES/nopasid.pcap" --svg n.svg >/dev/null &&
	xmllint --noout n.svg && rsvg-convert -o n.png n.svg
'

test_expect_success 'stats --svg to a full disk: exit 2 and a message' '
	test_expect_code 2 iopftool stats "$CAPTURES/demo.pcap" --svg /dev/full >/dev/null 2>err &&
	grep "write error" err
'

test_done
