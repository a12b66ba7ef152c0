# tests/lib.sh: a small git-style shell test harness (git t/README).
# Source it from a tests/tNNNN-*.sh script, then call test_expect_success.
#   test_expect_success [PREREQ] 'description' 'commands'
#   test_cmp expected actual       compare files, show a diff
#   test_must_fail cmd...          cmd must exit 1, 2 or 64 (not a signal)
#   test_expect_code N cmd...      cmd must exit exactly N
#   test_set_prereq NAME / prerequisites are checked by name (A,B: both)
# Output is TAP: "ok N - description" / "not ok N - description".
set -u
export TZ=UTC LC_ALL=C
: "${IOPFTOOL:?IOPFTOOL must name the iopftool binary}"
TEST_DIR=$(cd "$(dirname "$0")" && pwd)
SRC_DIR=$(cd "$TEST_DIR/.." && pwd)
CAPTURES=$SRC_DIR/captures
test_name=$(basename "$0" .sh)
TRASH=${TMPDIR:-/tmp}/iopftool-test.$test_name.$$
rm -rf "$TRASH" && mkdir -p "$TRASH" && cd "$TRASH" || exit 1
trap 'cd / && rm -rf "$TRASH"' EXIT
test_count=0
test_failures=0
test_prereqs=" "

iopftool() { "$IOPFTOOL" "$@"; }

test_set_prereq() { test_prereqs="$test_prereqs$1 "; }
# test_have_prereq A,B: all of them
test_have_prereq() {
	for p in $(echo "$1" | tr , " "); do
		case "$test_prereqs" in *" $p "*) ;; *) return 1 ;; esac
	done
}

test_expect_success() {
	prereq=
	if [ $# -eq 3 ]; then prereq=$1; shift; fi
	test_count=$((test_count + 1))
	if [ -n "$prereq" ] && ! test_have_prereq "$prereq"; then
		echo "ok $test_count # skip $1 (missing $prereq)"
		return 0
	fi
	if (eval "$2") >"$TRASH/.out" 2>&1; then
		echo "ok $test_count - $1"
	else
		echo "not ok $test_count - $1"
		sed 's/^/#   /' "$TRASH/.out" | tail -n 40
		test_failures=$((test_failures + 1))
	fi
}

test_cmp() { diff -u "$1" "$2"; }

test_must_fail() {
	"$@"
	rc=$?
	case $rc in
	0) echo "test_must_fail: command succeeded: $*" >&2; return 1 ;;
	1|2|64) return 0 ;;
	*) echo "test_must_fail: command died with $rc: $*" >&2; return 1 ;;
	esac
}

test_expect_code() {
	want=$1; shift
	"$@"
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "test_expect_code: exit $rc, wanted $want: $*" >&2
		return 1
	fi
}

# HELPERS: build/tests/helpers (json-get, mkcapture)
HELPERS=${HELPERS:-$(dirname "$IOPFTOOL")/tests/helpers}

test_done() {
	echo "1..$test_count"
	[ "$test_failures" -eq 0 ]
}
