#!/bin/sh
# Run a tier of the test suite and end with "N passed, N failed".
#   tests/run.sh unit|shell|san|kernel|fuzz|valgrind|all
# Environment: IOPFTOOL, UNIT_DIR, SAN_DIR, FUZZ_DIR (set by the Makefile);
# FUZZ_SMOKE_TIME (seconds each fuzz target runs, default 10);
# IOPF_TIMEOUT_SCALE (time limits of the shell tests, see tests/lib.sh).
set -u
export TZ=UTC LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
log=${TMPDIR:-/tmp}/iopftool-run.$$
passed=0 failed=0 skipped=0

# run NAME CMD...: run one test program, echo its TAP, count its lines
run() {
	name=$1; shift
	echo "# $name"
	"$@" >"$log" 2>&1
	rc=$?
	cat "$log"
	p=$(grep -c '^ok ' "$log" | tr -d ' ')
	s=$(grep -c '^ok .* # skip' "$log" | tr -d ' ')
	f=$(grep -c '^not ok ' "$log" | tr -d ' ')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name exited $rc without reporting a failure"
		f=1
	fi
	passed=$((passed + p - s)) skipped=$((skipped + s)) failed=$((failed + f))
}

unit() {
	for t in "$1"/test-*; do
		[ -x "$t" ] || continue
		case $t in *.d|*.o) continue ;; esac
		run "unit: $(basename "$t")" "$t"
	done
}

# shell IOPFTOOL [HELPERS]: every tNNNN script, each bounded by timeout(1)
shell() {
	limit=$((300 * ${IOPF_TIMEOUT_SCALE:-1}))
	for t in "$here"/t[0-9]*.sh; do
		IOPFTOOL=$1 HELPERS=${2:-$(dirname "$1")/tests/helpers} \
			run "shell: $(basename "$t")" timeout -k 10 "$limit" sh "$t"
	done
}

# fuzz_target BIN: a libFuzzer target (fuzz/) over its seeds and
# regressions, then fuzzed for FUZZ_SMOKE_TIME seconds from them.  A
# failure keeps the input in FUZZ_DIR (see fuzz/README for what to do).
fuzz_target() {
	bin=$1 tname=$(basename "$1") src=$here/../fuzz
	work=${TMPDIR:-/tmp}/iopftool-fuzz.$$.$tname
	secs=${FUZZ_SMOKE_TIME:-10}
	rm -rf "$work" && mkdir -p "$work/corpus" || return 1
	dirs= n=0
	for d in "$src/corpus/$tname" "$src/regress/$tname"; do
		[ -d "$d" ] || continue
		dirs="$dirs $d"
		for f in "$d"/*; do
			[ -f "$f" ] && cp "$f" "$work/corpus/" && n=$((n + 1))
		done
	done
	# shellcheck disable=SC2086
	if [ "$n" -gt 0 ] && "$bin" -runs=0 $dirs >"$work/seeds.log" 2>&1; then
		echo "ok 1 - $tname: $n seeds and regression inputs run clean"
	else
		echo "not ok 1 - $tname: $n seeds and regression inputs"
		tail -n 30 "$work/seeds.log" | sed 's/^/#   /'
	fi
	if "$bin" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$work/" \
		-max_len=16384 "$work/corpus" >"$work/fuzz.log" 2>&1; then
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log")
		cov=$(sed -n 's/^#[0-9]*[[:space:]]*DONE[[:space:]]*cov: \([0-9]*\).*/\1/p' "$work/fuzz.log")
		echo "ok 2 - $tname: fuzzed ${secs}s, $execs executions, $cov edges covered"
	else
		for c in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
			[ -f "$c" ] && cp "$c" "$FUZZ_DIR/$tname-$(basename "$c")" &&
				echo "# failing input kept as $FUZZ_DIR/$tname-$(basename "$c")"
		done
		echo "not ok 2 - $tname: fuzzing for ${secs}s found a failure"
		grep -E 'ERROR:|SUMMARY|check failed|, reference|^fuzz-[a-z]*: ' "$work/fuzz.log" |
			head -n 20 | sed 's/^/#   /'
	fi
	echo "1..2"
	rm -rf "$work"
}

fuzz() {
	found=
	for t in "$1"/fuzz-*; do
		[ -x "$t" ] && [ -f "$t" ] || continue
		found=1
		run "fuzz: $(basename "$t")" fuzz_target "$t"
	done
	if [ -z "$found" ]; then
		echo "not ok - fuzz: no fuzz targets in $1 (make -f fuzz/fuzz.mk)"
		failed=$((failed + 1))
	fi
}

# valgrind: the unit tests and the shell tests with iopftool under memcheck
# (tests/valgrind-iopftool), time limits scaled; then every process's log.
valgrind_tier() {
	export IOPF_TIMEOUT_SCALE=${IOPF_TIMEOUT_SCALE:-50}
	export VALGRIND_LOG_DIR=${TMPDIR:-/tmp}/iopftool-valgrind.$$
	export VALGRIND_IOPFTOOL=$IOPFTOOL
	# world-writable (sticky): some tests run iopftool as user nobody
	rm -rf "$VALGRIND_LOG_DIR" && mkdir -p "$VALGRIND_LOG_DIR" && chmod 1777 "$VALGRIND_LOG_DIR" || exit 1
	for t in "$UNIT_DIR"/test-*; do
		[ -x "$t" ] || continue
		case $t in *.d|*.o) continue ;; esac
		run "valgrind: unit: $(basename "$t")" \
			env VALGRIND_PROGRAM="$t" "$here/valgrind-iopftool"
	done
	# next to the real binary, so that tests which look for the build
	# directory beside IOPFTOOL (t0600) find it
	vg=$(dirname "$IOPFTOOL")/iopftool-valgrind
	ln -sf "$here/valgrind-iopftool" "$vg" || exit 1
	shell "$vg"
	echo "# valgrind: memcheck logs"
	runs=0 bad=0
	for l in "$VALGRIND_LOG_DIR"/*.log; do
		[ -f "$l" ] || continue
		runs=$((runs + 1))
		# memcheck's reports are "==PID==" lines; "--PID--" lines are valgrind's
		# own notes (an fsopen(2) it does not know: replay then uses the socket)
		grep -q '^==[0-9]*==' "$l" || continue
		bad=$((bad + 1))
		echo "not ok - valgrind: memcheck errors in $l"
		sed 's/^/#   /' "$l" | head -n 60
	done
	if [ "$bad" -eq 0 ] && [ "$runs" -gt 0 ]; then
		echo "ok - valgrind: $runs processes, no memcheck errors or leaks"
		passed=$((passed + 1))
		rm -rf "$VALGRIND_LOG_DIR"
	else
		echo "# valgrind: $bad of $runs processes had errors; logs in $VALGRIND_LOG_DIR"
		failed=$((failed + bad + (runs == 0)))
	fi
}

tier=${1:-all}
case $tier in
unit)	unit "$UNIT_DIR" ;;
shell)	shell "$IOPFTOOL" ;;
san)	unit "$SAN_DIR/tests/unit"; shell "$SAN_DIR/iopftool" ;;
kernel)	run "kernel" "$here/kernel/run.sh" ;;
fuzz)	fuzz "$FUZZ_DIR" ;;
valgrind) valgrind_tier ;;
all)	unit "$UNIT_DIR"; shell "$IOPFTOOL"
	unit "$SAN_DIR/tests/unit"; shell "$SAN_DIR/iopftool"
	fuzz "$FUZZ_DIR"
	run "kernel" "$here/kernel/run.sh" ;;
*)	echo "usage: $0 unit|shell|san|kernel|fuzz|valgrind|all" >&2; exit 64 ;;
esac
rm -f "$log"
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
