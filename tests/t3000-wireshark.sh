#!/bin/sh
# wireshark/iopf.lua, the Wireshark/tshark dissector, against iopftool
# itself: on every bundled capture and on generated ones, tshark's field
# values must equal `iopftool read -j` record by record and field by
# field, its Info column must equal `iopftool read` without the time
# stamp, its malformed-record expert infos must name the records (and the
# reasons) iopftool read reports, its group counts must equal `iopftool
# stats`, and the group/response links of a crafted interleaved capture
# must follow the group rule of iopftool-capture(5).
test_description='the Wireshark dissector agrees with iopftool read'
. "$(dirname "$0")/lib.sh"

MK=$HELPERS/mkcapture
LUA=$SRC_DIR/wireshark/iopf.lua

if command -v tshark >/dev/null 2>&1 && command -v jq >/dev/null 2>&1; then
	test_set_prereq TSHARK
else
	echo "# tshark or jq missing: scripts/deps.sh check installs them"
fi

# A home of our own: no personal plugins or preferences get in the way.
mkdir -p "$TRASH/home"

# After `make install` tshark loads the installed copy itself: the same
# file is then the one under test; a different one would hide this one.
LOAD=yes
if test_have_prereq TSHARK; then
	luadir=$(HOME=$TRASH/home tshark -G folders 2>/dev/null |
		sed -n 's/^Global Lua Plugins:[[:space:]]*//p')
	if [ -n "$luadir" ] && [ -e "$luadir/iopf.lua" ]; then
		if cmp -s "$luadir/iopf.lua" "$LUA"; then
			LOAD=
		else
			echo "# $luadir/iopf.lua differs from $LUA: make install or make uninstall"
		fi
	fi
fi

# ts CAPTURE TSHARK-ARGS...: two-pass tshark with the dissector under
# test.  Anything on stderr but the warning tshark gives root fails
# (a Lua error, or another iopf.lua already installed and loaded first).
ts() {
	cap=$1; shift
	[ -z "$LOAD" ] || set -- -X "lua_script:$LUA" "$@"
	HOME=$TRASH/home tshark -2 -n -r "$cap" "$@" 2>ts.err ||
		{ cat ts.err >&2; return 1; }
	if grep -v '^Running as user "root"' ts.err | grep . >&2; then
		echo "tshark wrote the above on stderr" >&2
		return 1
	fi
}

test_expect_success TSHARK 'tshark loads the dissector' '
	HOME=$TRASH/home tshark -G protocols -X "lua_script:$LUA" >protos 2>err
	grep "	iopf$" protos || {
		cat err
		echo "as root, tshark runs Lua scripts only if its init.lua sets"
		echo "run_user_scripts_when_superuser = true (Debian does)"
		exit 1
	}
'

# The columns compared, in this order, for tshark (-e) ...
FIELDS='frame.time_epoch iopf.seq iopf.type iopf.queue iopf.status iopf.latency_ns
	iopf.flags iopf.pasid_valid iopf.last iopf.dev_id iopf.pasid iopf.grpid
	iopf.perm iopf.perm.read iopf.perm.write iopf.perm.exec iopf.perm.priv
	iopf.perm.unknown iopf.addr iopf.length iopf.cookie iopf.code iopf.lost
	iopf.meta.line'
# ... and the same from `iopftool read -j`: hex as tshark shows it
# (0x%08x), booleans 1/0, the type and code as numbers, absent fields empty.
JQ='
def hex8: . as $n | [range(7; -1; -1) as $i | (($n / pow(16; $i)) | floor) % 16]
	| map("0123456789abcdef"[.:. + 1]) | "0x" + join("");
def unhex: ltrimstr("0x") | explode
	| reduce .[] as $c (0; . * 16 + (if $c >= 97 then $c - 87 else $c - 48 end));
def bit($name): if any(.[]; . == $name) then "1" else "0" end;
def named: {"read": 1, "write": 2, "exec": 4, "priv": 8};
def permval: map(named[.] // unhex) | add // 0;
def unknown: map(select(named[.] == null) | unhex) | add // 0;
def b: if . then "1" else "0" end;
def epoch: (.[0:19] + "Z" | fromdateiso8601 | tostring) + "." + .[20:29];
[(.time | epoch), .seq, {"fault": 1, "response": 2, "lost": 3, "meta": 4}[.type],
 .queue, .status, .latency_ns,
 (.flags | if . == null then null else hex8 end),
 (.pasid_valid | if . == null then null else b end),
 (.last | if . == null then null else b end),
 .dev_id, .pasid, .grpid,
 (.perm | if . == null then null else (permval | hex8) end),
 (.perm | if . == null then null else bit("read") end),
 (.perm | if . == null then null else bit("write") end),
 (.perm | if . == null then null else bit("exec") end),
 (.perm | if . == null then null else bit("priv") end),
 (.perm | if . == null then null else (unknown | if . == 0 then null else hex8 end) end),
 .addr, .length, .cookie, .code_raw, .count,
 (.meta | if . == null then null else (to_entries | map(.key + "=" + .value) | join(";")) end)
] | map(if . == null then "" else tostring end) | join("\t")'

# dissect CAPTURE: one tshark run; ws.tsv holds the FIELDS columns, then
# the Info column, iopf.group_first, the expert messages and iopf.group.
dissect() {
	set -- "$1"
	for f in $FIELDS _ws.col.Info iopf.group_first _ws.expert.message iopf.group; do
		set -- "$@" -e "$f"
	done
	ts "$@" -T fields -E separator=/t -E occurrence=a -E aggregator=';' >ws.tsv
}

# compare CAPTURE: dissect it and compare with iopftool read / read -j.
# Only records iopftool read prints are compared: known types, decoded.
# Header fields the JSON leaves out (a fault's status and latency, a LOST
# or META record's queue, status and latency) are left out on both sides.
compare() {
	dissect "$1" &&
	awk -F '\t' -v OFS='\t' '
		$3 !~ /^[1-4]$/ || $25 ~ /^malformed: / { next }
		$3 == 1 { $5 = ""; $6 = "" }
		$3 >= 3 { $4 = ""; $5 = ""; $6 = "" }
		{ NF = 24; print }' ws.tsv >ws.fields &&
	awk -F '\t' '$3 ~ /^[1-4]$/ && $25 !~ /^malformed: / { print $25 }' ws.tsv >ws.info &&
	{ iopftool read -j "$1" 2>/dev/null; test $? -le 2; } >read.json &&
	jq -r "$JQ" read.json >read.fields &&
	{ iopftool read "$1" 2>/dev/null; test $? -le 2; } | cut -d' ' -f2- >read.info &&
	test -s read.fields &&
	test_cmp read.fields ws.fields &&
	test_cmp read.info ws.info
}

# groups CAPTURE: after compare, the dissector's counts (groups
# completed, incomplete, unanswered, duplicate responses) must equal
# iopftool stats', and the completed groups be numbered 1..N.
groups() {
	awk -F '\t' '
		$3 == 1 && $26 != "" {
			all[$26] = 1
			if ($27 ~ /Incomplete group/) inc[$26] = 1
			if ($27 ~ /never answered|only refused/) una[$26] = 1
			if ($28 != "") id[$28] = 1
		}
		$3 == 2 && $27 ~ /already answered/ { dup++ }
		END {
			for (g in all) { n++; if (g in inc) i++; if (g in una) u++ }
			for (k = 1; k in id; k++) ;
			if (k - 1 != n - i) print "group numbers not 1.." n - i
			printf "%d %d %d %d\n", n - i, i, u, dup
		}' ws.tsv >ws.groups &&
	{ iopftool stats -j "$1"; test $? -le 2; } >stats.json &&
	jq -r '"\(.groups) \(.incomplete_groups) \(.violations.unanswered) \(.violations.duplicate)"' \
		stats.json >stats.groups &&
	test_cmp stats.groups ws.groups
}

for cap in "$CAPTURES"/*.pcap "$CAPTURES"/*.pcapng; do
	name=$(basename "$cap")
	test_expect_success TSHARK "bundled $name: fields and Info equal iopftool read" "
		compare '$cap' && groups '$cap'
	"
done

# Generated captures: several seeds and options (PASIDs with and without,
# leaked flag bits, multi-record groups, lost records, buggy handlers,
# other link types).
gen_case() {
	name=$1; shift
	test_expect_success TSHARK "generated $name: fields, Info and groups equal iopftool" "
		iopftool generate -w $name.pcap $* &&
		compare $name.pcap && groups $name.pcap
	"
}
gen_case pasids '--seed 11 --groups 60 --group-size 1-4 --devs 3 --pasids 3 --pasid-less 0.3'
gen_case flags '--seed 12 --groups 40 --pasids 2 --unknown-flags 0x4 --rate 50000'
gen_case flags-high '--seed 13 --groups 30 --pasids 1 --unknown-flags 0xf0000000 --linktype 162'
gen_case multi '--seed 14 --groups 40 --group-size 2-7 --pasids 1 --rate 40000'
gen_case lost '--seed 15 --groups 60 --group-size 1-3 --lost-every 4 --rate 30000'
gen_case dup '--seed 16 --groups 40 --bug duplicate --bug-every 3 --linktype 150'
gen_case drop '--seed 17 --groups 40 --group-size 1-3 --bug drop --bug-every 4'
gen_case bad-code '--seed 18 --groups 30 --bug bad-code --bug-every 5 --pasids 2'
gen_case echo-grpid '--seed 19 --groups 30 --bug echo-grpid --bug-every 6 --grpid-reuse 0.3'
gen_case delay '--seed 20 --groups 40 --bug delay --bug-every 5 --rate 100000 --devs 2'

test_expect_success TSHARK 'generated: every record is version 1 with a 32-byte header' '
	iopftool generate -w v.pcap --seed 21 --groups 20 --group-size 1-3 &&
	ts v.pcap -T fields -e iopf.version -e iopf.hdr_len | sort | uniq -c >vh &&
	test "$(wc -l <vh)" -eq 1 && grep -E "^ +[0-9]+ 1	32$" vh
'

# Every link type the reader accepts, 147..162, in one pcapng (mergecap
# gives each link type its own interface): all 16 frames decode.
test_expect_success TSHARK 'link types 147..162 all dissect as iopf' '
	for lt in $(seq 147 162); do
		"$MK" -L $lt lt$lt.pcap "fault,dev=$lt,cookie=1,last" || return 1
		iopftool read lt$lt.pcap | cut -d" " -f2- >>lt.want || return 1
	done &&
	mergecap -F pcapng -w lt.pcapng lt1*.pcap &&
	ts lt.pcapng -T fields -e frame.encap_type -e _ws.col.Protocol -e _ws.col.Info >lt.out &&
	cut -f3 lt.out | sort >lt.got && sort lt.want >lt.want.s && test_cmp lt.want.s lt.got &&
	test "$(cut -f2 lt.out | sort -u)" = IOPF &&
	test "$(cut -f1 lt.out | sort -u | wc -l)" -eq 16
'

test_expect_success TSHARK 'another link type is not claimed' '
	"$MK" -L 1 eth.pcap "fault,cookie=1,last" &&
	ts eth.pcap -T fields -e _ws.col.Protocol >eth.out &&
	! grep IOPF eth.out
'

test_expect_success TSHARK 'a frame without the magic: malformed iopf, or DLT_USER by preference' '
	"$MK" mixed.pcap "fault,cookie=1,last" "garbage,len=50" &&
	ts mixed.pcap -T fields -e frame.number -e _ws.col.Protocol -e iopf.bad.magic >got &&
	printf "1\tIOPF\t\n2\tIOPF\t1\n" >want && test_cmp want got &&
	ts mixed.pcap -o iopf.claim_all:FALSE -T fields -e frame.number -e _ws.col.Protocol >got &&
	printf "1\tIOPF\n2\t\n" >want && test_cmp want got
'

# Malformed records: the reader's classes, on the records it names.
test_expect_success TSHARK 'malformed records: the records and reasons iopftool read reports' '
	"$MK" bad.pcap "meta,text=a=b" "fault,cookie=1,last,len=20" \
		"fault,magic=0x46504f58" "fault,ver=2" "fault,hdrlen=16" "resp,hdrlen=200" \
		"fault,len=60" "resp,len=36" "lost,len=36" "fault,type=9" \
		"fault,hdrlen=40,extra=8,cookie=3,last" "resp,cookie=3" "garbage,len=3" \
		"fault,dev=7,cookie=2,last,extra=5" &&
	test_expect_code 2 iopftool read bad.pcap >/dev/null 2>read.err &&
	grep -v "warning:" read.err |
		sed -E "s/^iopftool: [^:]*: record ([0-9]+) at offset [0-9]+: /\1	/" >want &&
	test "$(wc -l <want)" -eq 9 &&
	ts bad.pcap -Y "iopf.bad.short || iopf.bad.magic || iopf.bad.version ||
		iopf.bad.hdr_len || iopf.bad.payload" \
		-T fields -e frame.number -e _ws.col.Info | sed "s/	malformed: /	/" >got &&
	test_cmp want got &&
	compare bad.pcap
'

test_expect_success TSHARK 'each malformed class has its own expert info' '
	ts bad.pcap -T fields -e frame.number -e _ws.expert.severity -e _ws.expert.group \
		-Y "iopf.bad.short" >s && test "$(cut -f1 s | tr "\n" " ")" = "2 13 " &&
	ts bad.pcap -T fields -e frame.number -Y iopf.bad.magic >m && test "$(cat m)" = 3 &&
	ts bad.pcap -T fields -e frame.number -Y iopf.bad.version >v && test "$(cat v)" = 4 &&
	ts bad.pcap -T fields -e frame.number -Y iopf.bad.hdr_len >h &&
	test "$(tr "\n" " " <h)" = "5 6 " &&
	ts bad.pcap -T fields -e frame.number -Y iopf.bad.payload >p &&
	test "$(tr "\n" " " <p)" = "7 8 9 " &&
	ts bad.pcap -T fields -e frame.number -Y iopf.unknown_type >u && test "$(cat u)" = 10
'

test_expect_success TSHARK 'garbage in every frame: no Lua error' '
	"$MK" junk.pcap garbage,len=1 garbage,len=31 garbage,len=32 garbage,len=200 \
		"fault,len=33" "fault,len=40" "meta,text=" "meta,text=;;=;a" \
		"lost,count=18446744073709551615,seq=18446744073709551615" \
		"resp,lat=18446744073709551615,status=4095,code=4294967295" \
		"fault,flags=0xffffffff,perm=0xffffffff,res=1,length=9,addr=0xffffffffffffffff" &&
	ts junk.pcap -V >junk.out &&
	! grep -i "lua error" junk.out &&
	ts junk.pcap -T fields -e _ws.col.Info >junk.info &&
	{ iopftool read junk.pcap 2>/dev/null; test $? -le 2; } | cut -d" " -f2- >junk.want &&
	grep "^#" junk.info >junk.got &&
	grep -v "unknown record type" junk.got >junk.got2 &&
	test_cmp junk.want junk.got2
'

# The tap's records (DELIVERY, AUTO_RESPONSE, REPORTED), once this
# iopftool reads them: any payload length, fields past the end read 0.
iopftool read --help | grep -q auto_response && test_set_prereq TAP_RECORDS
test_expect_success TSHARK,TAP_RECORDS 'tap records: Info equals iopftool read' '
	"$MK" tap.pcap "fault,type=5,flags=3,dev=0x41424344,pasid=7,grpid=0xffffffff,perm=0x00636261,res=0x7a7978,addr=0x0102030405060708,cookie=9" \
		"fault,type=5,len=60" "resp,type=5" \
		"fault,type=6,cookie=3,flags=1,perm=0x13,addr=0xdeadbeef000,grpid=9,lat=5000" \
		"fault,type=6,cookie=0,lat=7" "fault,type=6,len=68,flags=9,addr=0x1234" "fault,type=6,len=70" \
		"fault,type=7,flags=3,pasid=2,dev=4,perm=3,addr=0x1000" "lost,type=7" \
		"meta,type=5,text=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH" \
		"fault,type=6,grpid=1,dev=2,pasid=1" "fault,type=6,grpid=2,dev=2,pasid=2" &&
	iopftool read tap.pcap | cut -d" " -f2- >want &&
	test "$(wc -l <want)" -eq 12 &&
	ts tap.pcap -T fields -e _ws.col.Info >got &&
	test_cmp want got
'

test_expect_success TSHARK 'a seq gap is flagged with its size' '
	"$MK" gap.pcap "fault,cookie=1,last,seq=0" "resp,cookie=1,seq=1" \
		"fault,cookie=1,last,seq=5" "resp,cookie=1,seq=6" &&
	ts gap.pcap -T fields -e frame.number -e iopf.seq_gap -Y iopf.seq_gap.expert >got &&
	printf "3\t3\n" >want && test_cmp want got
'

# The group rule on a crafted capture: interleaved groups of two queues
# sharing cookies, a response that completes an open group, a cookie
# reused while its completed group is unanswered, a duplicate, a response
# to no group, a refused response, an incomplete group at the end.
#
#  frame  record                          expected
#   1     meta
#   (groups are numbered as they complete; an incomplete one has no number)
#   2     fault q1 cookie 1               group 1 (2, 5); unanswered
#   3     fault q1 cookie 2               group 2 (3, 6); answered by 7
#   4     fault q2 cookie 1               group 3 (4); answered by 8, no LAST_PAGE
#   5     fault q1 cookie 1 last          group 1
#   6     fault q1 cookie 2 last          group 2
#   7     resp q1 cookie 2                -> group 2, faults 3 and 6
#   8     resp q2 cookie 1                -> group 3 (completes it: warning)
#   9     fault q1 cookie 1 last          group 4 (group 1 stays unanswered)
#  10     resp q1 cookie 1                -> group 4
#  11     resp q1 cookie 1                -> group 4, duplicate of 10
#  12     resp q1 cookie 9                no group
#  13     fault q1 cookie 3               incomplete at the end: no group
#  14     resp q1 cookie 2 status 22      -> group 2, refused, duplicate of 7
#  15     fault q1 cookie 4 last          group 5: unanswered
#  16     fault q1 cookie 2 last          group 6 (group 2 was answered)
#  17     resp q1 cookie 2 status 22      -> group 6, refused: unanswered
crafted() {
	"$MK" grp.pcap "meta,text=tool=t3000" \
		"fault,q=1,cookie=1,grpid=1" "fault,q=1,cookie=2,grpid=2" \
		"fault,q=2,cookie=1,grpid=3" "fault,q=1,cookie=1,grpid=1,last" \
		"fault,q=1,cookie=2,grpid=2,last,t=6000" "resp,q=1,cookie=2,t=9500" \
		"resp,q=2,cookie=1" "fault,q=1,cookie=1,grpid=4,last" "resp,q=1,cookie=1" \
		"resp,q=1,cookie=1" "resp,q=1,cookie=9" "fault,q=1,cookie=3,grpid=5" \
		"resp,q=1,cookie=2,status=22" "fault,q=1,cookie=4,grpid=6,last" \
		"fault,q=1,cookie=2,grpid=7,last" "resp,q=1,cookie=2,status=22"
}

test_expect_success TSHARK 'group links follow the group rule' '
	crafted &&
	ts grp.pcap -T fields -E occurrence=a -E aggregator=, -e frame.number -e iopf.group \
		-e iopf.group_first -e iopf.group_last -e iopf.group_size -e iopf.response_in \
		-e iopf.faults_in -e iopf.answered_in >got &&
	cat >want <<-\EOF &&
	1							
	2	1	2	5	2			
	3	2	3	6	2	7		
	4	3	4		1	8		
	5	1	2	5	2			
	6	2	3	6	2	7		
	7	2	3	6	2		3,6	
	8	3	4		1		4	
	9	4	9	9	1	10		
	10	4	9	9	1		9	
	11	4	9	9	1		9	10
	12							
	13		13		1			
	14	2	3	6	2		3,6	7
	15	5	15	15	1			
	16	6	16	16	1	17		
	17	6	16	16	1		16	
	EOF
	test_cmp want got &&
	dissect grp.pcap && groups grp.pcap
'

test_expect_success TSHARK 'group expert infos' '
	ts grp.pcap -T fields -e frame.number -e _ws.expert.message \
		-Y "iopf.unanswered || iopf.incomplete || iopf.no_last_page || iopf.duplicate ||
		    iopf.no_group || iopf.rejected" >got &&
	cat >want <<-\EOF &&
	2	Group 1 never answered
	5	Group 1 never answered
	8	Group 3 (cookie 1) has no LAST_PAGE record; this response completes it
	11	Group 4 was already answered in frame 10
	12	No group with cookie 9 on queue 1
	13	Incomplete group: no LAST_PAGE record and no response by the end of the capture
	14	The queue refused the response: EINVAL,Group 2 was already answered in frame 7
	15	Group 5 never answered
	16	Group 6 got only refused responses
	17	The queue refused the response: EINVAL
	EOF
	test_cmp want got
'

test_expect_success TSHARK 'response time: from the group'\''s last fault to its response' '
	ts grp.pcap -T fields -e frame.number -e iopf.response_time -Y "frame.number == 7" >got &&
	printf "7\t0.000003500\n" >want && test_cmp want got
'

test_expect_success TSHARK 'a second copy of the dissector says so and stays out of the way' '
	HOME=$TRASH/home tshark -X "lua_script:$LUA" -X "lua_script:$LUA" -r grp.pcap \
		-T fields -e _ws.col.Info >two.out 2>two.err &&
	grep "already loaded" two.err &&
	test "$(grep -c "^#" two.out)" -eq 17
'

test_done
