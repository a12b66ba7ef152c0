#!/bin/sh
# Bad input: each broken record sits between good ones.  iopftool read must
# exit 2, name the file, the record number and the byte offset on stderr,
# and still print every good record; never die on a signal.
test_description='read and stats on damaged captures'
. "$(dirname "$0")/lib.sh"

HELPERS=${HELPERS:-$(dirname "$IOPFTOOL")/tests/helpers}
MK=$HELPERS/mkcapture

good1='fault,dev=1,grpid=3,cookie=1,last'
good2='resp,cookie=1'
good3='fault,dev=2,grpid=4,cookie=1,last'
# pcap file header 24 bytes, record header 16; a good fault record is 72
# bytes, a response 40: record 3 (the bad one) starts at 24+16+72+16+40.
BAD_OFF=168

# mk NAME BADREC: good, good, BADREC, good
mk() { "$MK" "$1.pcap" "$good1" "$good2" "$2" "$good3"; }

# check_bad NAME BADREC WHAT: exit 2, 3 good records printed, message
check_bad() {
	mk "$1" "$2" &&
	test_expect_code 2 iopftool read "$1.pcap" >out 2>err &&
	test "$(wc -l <out)" -eq 3 &&
	grep "^iopftool: $1.pcap: record 3 at offset $BAD_OFF: $3" err &&
	test "$(wc -l <err)" -eq 1
}

test_expect_success 'bad magic' 'check_bad magic "fault,dev=1,last,magic=0x12345678" "bad magic 0x12345678"'
test_expect_success 'bad version' 'check_bad version "fault,dev=1,last,ver=9" "unknown version 9"'
test_expect_success 'hdr_len past the record' 'check_bad hdrpast "resp,cookie=1,hdrlen=200" "bad hdr_len 200"'
test_expect_success 'hdr_len below 32' 'check_bad hdrlow "resp,cookie=1,hdrlen=16" "bad hdr_len 16"'
test_expect_success 'short record (< 32 bytes)' 'check_bad short "fault,dev=1,last,len=20" "short record: 20 bytes"'
test_expect_success 'short FAULT payload' 'check_bad shortfault "fault,dev=1,last,len=60" "fault payload too short: 28 bytes"'
test_expect_success 'garbage record' 'check_bad garbage "garbage,len=100" "bad magic"'

test_expect_success 'several bad records: each reported, all good ones printed' '
	"$MK" multi.pcap "$good1" "garbage,len=7" "$good2" "fault,ver=3" "$good3" "resp,len=33" &&
	test_expect_code 2 iopftool read multi.pcap >out 2>err &&
	test "$(wc -l <out)" -eq 3 &&
	test "$(wc -l <err)" -eq 3 &&
	grep "multi.pcap: record 2 at offset 112: short record" err &&
	grep "multi.pcap: record 4 " err &&
	grep "multi.pcap: record 6 " err
'

test_expect_success 'bad records in JSON mode: errors are JSON on stderr' '
	mk jbad "fault,ver=2" &&
	test_expect_code 2 iopftool -j read jbad.pcap >out 2>err &&
	test "$(wc -l <out)" -eq 3 &&
	"$HELPERS/json-get" err error >msg &&
	grep "jbad.pcap: record 3 at offset $BAD_OFF" msg
'

# A capture without META end=1 was cut where its writer died: a torn last
# record is its end (a warning).  After META end=1 it is damage (exit 2).
test_expect_success 'torn last record, unfinished capture: good records, a warning, exit 0' '
	"$MK" -T 10 trunc.pcap "$good1" "$good2" "$good3" &&
	test_expect_code 0 iopftool read trunc.pcap >out 2>err &&
	test "$(wc -l <out)" -eq 2 &&
	grep "^iopftool: warning: trunc.pcap: record 3 at offset $BAD_OFF: torn last record" err
'

test_expect_success 'truncated after META end=1: good records before it, then exit 2' '
	"$MK" -T 10 trunc-end.pcap "$good1" "$good2" "meta,text=end=1" "$good3" &&
	test_expect_code 2 iopftool read trunc-end.pcap >out 2>err &&
	test "$(wc -l <out)" -eq 3 &&
	grep "^iopftool: trunc-end.pcap: record 4 at offset [0-9]*: .*truncated" err
'

test_expect_success 'truncated file stops that file only; the next one is read' '
	"$MK" ok.pcap "$good1" "$good2" &&
	test_expect_code 2 iopftool read trunc-end.pcap ok.pcap >out 2>err &&
	test "$(wc -l <out)" -eq 5
'

test_expect_success 'unknown record type: warning with file, record, offset; skipped' '
	"$MK" unk.pcap "$good1" "$good2" "resp,cookie=1,type=9" "$good3" &&
	test_expect_code 0 iopftool read unk.pcap >out 2>err &&
	test "$(wc -l <out)" -eq 3 &&
	grep "^iopftool: warning: unk.pcap: record 3 at offset $BAD_OFF: unknown record type 9" err
'

test_expect_success 'empty file: exit 2, names the file' '
	: >empty.pcap &&
	test_expect_code 2 iopftool read empty.pcap >out 2>err &&
	test ! -s out &&
	grep "empty.pcap" err
'

test_expect_success 'not a capture at all: exit 2, names the file' '
	printf "this is not a pcap file, just text\n" >text.pcap &&
	test_expect_code 2 iopftool read text.pcap 2>err &&
	grep "text.pcap" err
'

test_expect_success 'wrong link type (1): exit 2, names the file and the link type' '
	"$MK" -L 1 lt1.pcap "$good1" &&
	test_expect_code 2 iopftool read lt1.pcap >out 2>err &&
	test ! -s out &&
	grep "lt1.pcap: link type 1" err
'

test_expect_success 'a private link type in 147..162 is accepted' '
	"$MK" -L 162 lt162.pcap "$good1" "$good2" &&
	iopftool read lt162.pcap >out &&
	test "$(wc -l <out)" -eq 2
'

test_expect_success 'missing file: exit 2, names it' '
	test_expect_code 2 iopftool read no-such.pcap 2>err &&
	grep "no-such.pcap" err
'

test_expect_success 'stats on bad input: exit 2, counts the bad records' '
	"$MK" sbad.pcap "$good1" "garbage,len=40" "$good2" "fault,ver=7,last" "$good3" &&
	test_expect_code 2 iopftool -j stats sbad.pcap >out 2>err &&
	test "$("$HELPERS/json-get" out bad)" = 2 &&
	test "$("$HELPERS/json-get" out faults)" = 2 &&
	test "$(wc -l <err)" -eq 2
'

test_expect_success 'stats --check: bad input wins over violations (exit 2)' '
	"$MK" sv.pcap "$good1" "resp,cookie=9,status=22" "garbage,len=40" &&
	test_expect_code 2 iopftool stats --check sv.pcap >out 2>err &&
	grep FAILED out
'

test_expect_success 'a FAULT payload longer than 40 bytes decodes the first 40' '
	"$MK" long.pcap "fault,dev=5,grpid=6,cookie=1,last,extra=24" &&
	iopftool read -j long.pcap >out &&
	test "$("$HELPERS/json-get" out dev_id)" = 5
'

test_expect_success 'damaged pcapng: record number and offset of the block' '
	"$MK" -F pcapng ng.pcapng "$good1" "fault,magic=0x1" "$good2" &&
	test_expect_code 2 iopftool read ng.pcapng >out 2>err &&
	test "$(wc -l <out)" -eq 2 &&
	grep "ng.pcapng: record 2 at offset 164: bad magic" err
'

test_done
