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

# FUSE: replay can give an --exec handler the handler file here (root,
# /dev/fuse, a mount allowed): exit 2 means it could not.
test_check_fuse() {
	"$IOPFTOOL" -q replay --handler-fd file --settle 0ns --timeout 10ms --exec true \
		"$CAPTURES/demo.pcap" >/dev/null 2>&1
	[ $? -ne 2 ] && test_set_prereq FUSE
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

# Time limits.  IOPF_TIMEOUT_SCALE (a whole number, default 1) multiplies
# every limit a test puts on the tool, for slow runs: tests/run.sh valgrind
# sets 50.  Tests scale their limits, they are never skipped for it.
TIMEOUT_SCALE=${IOPF_TIMEOUT_SCALE:-1}
case $TIMEOUT_SCALE in
''|*[!0-9]*|0) echo "IOPF_TIMEOUT_SCALE must be a whole number >= 1" >&2; exit 1 ;;
esac

# test_scale DUR: DUR ("300ms" or "5s") times the scale, as "<n>ms".
test_scale() {
	case $1 in
	*ms) echo "$((${1%ms} * TIMEOUT_SCALE))ms" ;;
	*s) echo "$((${1%s} * 1000 * TIMEOUT_SCALE))ms" ;;
	*) echo "test_scale: $1: want <n>ms or <n>s" >&2; return 1 ;;
	esac
}

# test_scale_s N: N seconds times the scale, a number for sleep(1) and timeout(1).
test_scale_s() { echo "$(($1 * TIMEOUT_SCALE))"; }

# test_wait_for SECONDS CMD...: run CMD every 0.1 s until it succeeds;
# fail after SECONDS (scaled).  Every wait in a test is bounded.
test_wait_for() {
	tries=$(($1 * TIMEOUT_SCALE * 10)); shift
	while ! "$@"; do
		tries=$((tries - 1))
		if [ "$tries" -le 0 ]; then
			echo "test_wait_for: gave up waiting for: $*" >&2
			return 1
		fi
		sleep 0.1
	done
}

# HELPERS: build/tests/helpers (json-get, mkcapture)
HELPERS=${HELPERS:-$(dirname "$IOPFTOOL")/tests/helpers}

test_done() {
	echo "1..$test_count"
	[ "$test_failures" -eq 0 ]
}
