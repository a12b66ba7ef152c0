#!/bin/sh
# The capture fuzzer's inputs through the CLI: every crafted seed
# (fuzz/corpus/fuzz-capture/crafted-*) and every input a fuzzer
# ever failed on (fuzz/regress/fuzz-capture/) through read, read -j,
# stats and stats --check.  Each must exit 0, 1 or 2 (with a message),
# never die of a signal; the san and valgrind tiers run this too.
. "$(dirname "$0")/lib.sh"
FUZZ=$SRC_DIR/fuzz

# run_all FILE: each verb on FILE; fail on a signal or a silent exit 2
run_all() {
	for args in read "-j read" stats "-j stats --check"; do
		# shellcheck disable=SC2086
		"$IOPFTOOL" $args "$1" >out 2>err
		rc=$?
		case $rc in
		0|1) ;;
		2) test -s err || { echo "$args: exit 2 without a message"; return 1; } ;;
		*) echo "$args: exit $rc"; cat err; return 1 ;;
		esac
	done
}

n=0
for f in "$FUZZ"/regress/fuzz-capture/* "$FUZZ"/corpus/fuzz-capture/crafted-*; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	test_expect_success "fuzz input $(basename "$(dirname "$f")")/$(basename "$f")" "
		run_all '$f'
	"
done

test_expect_success 'there are fuzz inputs to run' '
	test "$n" -gt 0
'

test_expect_success 'a raw record is not a capture: exit 2 naming the file' '
	test_expect_code 2 iopftool read "$FUZZ/corpus/fuzz-capture/raw-fault" 2>err &&
	grep raw-fault err
'
test_done
