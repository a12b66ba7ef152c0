#!/bin/sh
# iopftool read: filters, stdin, container variants, JSON lines, exit codes.
test_description='iopftool read'
. "$(dirname "$0")/lib.sh"

HELPERS=${HELPERS:-$(dirname "$IOPFTOOL")/tests/helpers}
JG=$HELPERS/json-get
DEMO=$CAPTURES/demo.pcap

# count_json FILE KEY VALUE: lines of FILE whose KEY is VALUE
count_json() {
	n=0
	while IFS= read -r line; do
		v=$(printf '%s\n' "$line" | "$JG" - "$2" 2>/dev/null) || continue
		[ "$v" = "$3" ] && n=$((n + 1))
	done <"$1"
	echo $n
}

test_expect_success 'read prints every record of demo.pcap' '
	iopftool read "$DEMO" >out &&
	test "$(wc -l <out)" -eq 50
'

test_expect_success '-r FILE and positional FILE are the same' '
	iopftool read "$DEMO" >a &&
	iopftool read -r "$DEMO" >b &&
	test_cmp a b
'

test_expect_success 'stdin with "-"' '
	iopftool read "$DEMO" >a &&
	iopftool read - <"$DEMO" >b &&
	test_cmp a b &&
	iopftool read -r - <"$DEMO" >c &&
	test_cmp a c
'

test_expect_success 'several files are read in order' '
	iopftool read "$CAPTURES/small.pcap" "$CAPTURES/refused.pcap" >out &&
	test "$(wc -l <out)" -eq 17
'

test_expect_success 'pcapng decodes identically to the pcap original' '
	iopftool read "$CAPTURES/small.pcap" >a &&
	iopftool read "$CAPTURES/small.pcapng" >b &&
	test_cmp a b &&
	iopftool -j read "$CAPTURES/small.pcap" >a &&
	iopftool -j read "$CAPTURES/small.pcapng" >b &&
	test_cmp a b
'

test_expect_success 'big-endian microsecond pcap decodes identically' '
	iopftool -j read "$CAPTURES/small.pcap" >a &&
	iopftool -j read "$CAPTURES/small-be-usec.pcap" >b &&
	test_cmp a b
'

test_expect_success 'pcapng from stdin' '
	iopftool read "$CAPTURES/small.pcap" >a &&
	iopftool read - <"$CAPTURES/small.pcapng" >b &&
	test_cmp a b
'

test_expect_success 'every JSON line parses and has seq, time, type' '
	iopftool -j read "$DEMO" >out &&
	i=0 &&
	while IFS= read -r line; do
		printf "%s\n" "$line" | "$JG" - seq >seq &&
		test "$(cat seq)" = $i &&
		printf "%s\n" "$line" | "$JG" - time >/dev/null &&
		printf "%s\n" "$line" | "$JG" - type >/dev/null || exit 1
		i=$((i + 1))
	done <out &&
	test $i -eq 50
'

test_expect_success 'JSON fault record: the members iopftool-read(8) lists' '
	iopftool -j read "$CAPTURES/unknown-flags.pcap" >out &&
	sed -n 3p out >f &&
	test "$("$JG" f type)" = fault &&
	test "$("$JG" f flags)" = 7 &&
	test "$("$JG" f perm)" = "[\"read\",\"write\",\"0x10\"]" &&
	test "$("$JG" f addr)" = 0x0000000000011000 &&
	test "$("$JG" f last)" = true &&
	test "$("$JG" f pasid_valid)" = true
'

test_expect_success '--type fault shows only faults' '
	iopftool read --type fault "$DEMO" >out &&
	test "$(wc -l <out)" -eq 32 &&
	! grep -v " fault " out
'

test_expect_success '--type is repeatable and takes a comma list' '
	iopftool read --type fault --type response "$DEMO" >a &&
	iopftool read --type fault,response "$DEMO" >b &&
	test_cmp a b &&
	test "$(wc -l <a)" -eq 48
'

test_expect_success '--type meta and --type lost' '
	iopftool read --type meta "$DEMO" >out &&
	test "$(wc -l <out)" -eq 2 &&
	iopftool read --type lost "$CAPTURES/lost.pcap" >out &&
	test "$(wc -l <out)" -eq 3
'

test_expect_success '--dev shows that device and the responses to its groups' '
	iopftool -j read --dev 2 --type fault,response "$DEMO" >out &&
	test "$(count_json out dev_id 1)" -eq 0 &&
	test "$(count_json out type fault)" -eq 13 &&
	test "$(count_json out type response)" -eq 8 &&
	iopftool -j read --dev 1 --type response "$DEMO" >out1 &&
	test "$(wc -l <out1)" -eq 8
'

test_expect_success '--dev responses follow cookie reuse (most recent group)' '
	# demo: dev 1 and dev 2 groups share cookies 1 and 2 over time
	iopftool -j read --dev 1 "$DEMO" >a &&
	iopftool -j read --dev 2 "$DEMO" >b &&
	test $(( $(count_json a type response) + $(count_json b type response) )) -eq 16
'

test_expect_success '--pasid N and --pasid none' '
	iopftool -j read --pasid 2 --type fault "$DEMO" >out &&
	test "$(count_json out pasid 2)" -eq "$(wc -l <out)" &&
	test "$(wc -l <out)" -gt 0 &&
	iopftool -j read --pasid none --type fault "$DEMO" >out &&
	test "$(count_json out pasid_valid false)" -eq "$(wc -l <out)" &&
	test "$(wc -l <out)" -gt 0
'

test_expect_success '--dev with no match prints only META' '
	iopftool read --dev 99 "$DEMO" >out &&
	test "$(wc -l <out)" -eq 2 &&
	! grep -v " meta " out
'

test_expect_success '-c N stops after N printed records' '
	iopftool read -c 5 "$DEMO" >out &&
	test "$(wc -l <out)" -eq 5 &&
	iopftool read --count 3 --type response "$DEMO" >out &&
	test "$(wc -l <out)" -eq 3 &&
	! grep -v " response " out
'

test_expect_success 'global options after the verb' '
	iopftool read -j "$DEMO" >a &&
	iopftool -j read "$DEMO" >b &&
	test_cmp a b
'

test_expect_success 'usage errors exit 64' '
	test_expect_code 64 iopftool read &&
	test_expect_code 64 iopftool read --type bogus "$DEMO" &&
	test_expect_code 64 iopftool read --dev x "$DEMO" &&
	test_expect_code 64 iopftool read -c -1 "$DEMO" &&
	test_expect_code 64 iopftool read --no-such-option "$DEMO"
'

test_expect_success '--usage lists every long option' '
	iopftool read --usage >out &&
	for o in read dev pasid type count json pretty quiet verbose; do
		grep -q -- "--$o" out || { echo "missing --$o"; exit 1; }
	done
'

test_expect_success 'write error on stdout exits 2' '
	test_have_prereq DEVFULL || { test -w /dev/full && test_set_prereq DEVFULL; } &&
	test_expect_code 2 iopftool read "$DEMO" >/dev/full 2>err &&
	grep "write error" err
'

test_expect_success 'closed pipe: exit 2, no signal' '
	( iopftool read "$DEMO"; echo $? >rc ) | head -n 1 >/dev/null &&
	test "$(cat rc)" -eq 2 || test "$(cat rc)" -eq 0
'

test_done
