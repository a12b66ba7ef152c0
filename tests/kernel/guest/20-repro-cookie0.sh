#!/bin/sh
# VM tier, in the guest: the standalone reproducer of the cookie-0 bug
# (tests/kernel/repro-cookie0.c, raw uAPI, no libiopf).  On the kernels
# the tier knows to have the bug (6.12.117, 7.3.4) it must exit 1 (bug
# present); on another kernel it must run (exit 0 fixed, or 1).  Exit 2
# (could not set up) is always a failure.
repro=/iopf/bin/repro-cookie0
if [ ! -x "$repro" ]; then
	echo "not ok 1 - repro-cookie0 was built for the guest"
	exit 0
fi
"$repro" >/tmp/repro.out 2>&1
rc=$?
sed 's/^/repro-cookie0: /' /tmp/repro.out
case $(uname -r) in
6.12.*|7.3.*)
	if [ "$rc" -eq 1 ] && grep -q '^fault B read with cookie 0$' /tmp/repro.out; then
		echo "ok 1 - repro-cookie0 shows the cookie-0 bug on $(uname -r) (exit 1)"
	else
		echo "not ok 1 - repro-cookie0 shows the cookie-0 bug on $(uname -r) (exit $rc, want 1)"
	fi ;;
*)
	if [ "$rc" -le 1 ]; then
		echo "ok 1 - repro-cookie0 ran on $(uname -r): $([ "$rc" -eq 1 ] && echo bug present || echo fixed)"
	else
		echo "not ok 1 - repro-cookie0 ran on $(uname -r) (exit $rc)"
	fi ;;
esac
echo "1..1"
