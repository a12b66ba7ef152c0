#!/bin/sh
# Run a tier of the test suite and end with "N passed, N failed".
#   tests/run.sh unit|shell|san|kernel|all
# Environment: IOPFTOOL, UNIT_DIR, SAN_DIR (set by the Makefile).
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

shell() {
	for t in "$here"/t[0-9]*.sh; do
		IOPFTOOL=$1 HELPERS=$(dirname "$1")/tests/helpers run "shell: $(basename "$t")" sh "$t"
	done
}

tier=${1:-all}
case $tier in
unit)	unit "$UNIT_DIR" ;;
shell)	shell "$IOPFTOOL" ;;
san)	unit "$SAN_DIR/tests/unit"; shell "$SAN_DIR/iopftool" ;;
kernel)	run "kernel" "$here/kernel/run.sh" ;;
all)	unit "$UNIT_DIR"; shell "$IOPFTOOL"
	unit "$SAN_DIR/tests/unit"; shell "$SAN_DIR/iopftool"
	run "kernel" "$here/kernel/run.sh" ;;
*)	echo "usage: $0 unit|shell|san|kernel|all" >&2; exit 64 ;;
esac
rm -f "$log"
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
