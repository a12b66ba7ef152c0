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

test_done
