#!/bin/sh
# VM tier, in the guest: the real fault queue (6.12 or the newest kernel)
# through the mock target
# (lib/target-mock.c; doc/kernel-notes.md).  Prints TAP; the host renumbers it.
# Every scenario's mock output is printed between
#   @@@ SCENARIOS BEGIN / @@@ SCENARIOS END
# for the host to compare with the sim (tests/kernel/run.sh).
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*"; }
check() {	# check DESCRIPTION COMMAND...
	d=$1; shift
	if "$@" >/tmp/check.out 2>&1; then ok "$d"; else not_ok "$d"; sed 's/^/#   /' /tmp/check.out; fi
}
# has FILE LINE...: FILE holds these lines, consecutive, in this order
has() {
	f=$1; shift
	printf '%s\n' "$@" >/tmp/want
	awk -v want=/tmp/want '
		BEGIN { while ((getline l < want) > 0) w[++nw] = l }
		{ a[++na] = $0 }
		END { for (i = 1; i + nw - 1 <= na; i++) {
			for (j = 1; j <= nw && a[i + j - 1] == w[j]; j++) ;
			if (j > nw) exit 0 }
		      print "missing in " FILENAME ":"; for (j = 1; j <= nw; j++) print "  " w[j]; exit 1 }' "$f"
}

check "/dev/iommu exists" test -c /dev/iommu
printf 'dev 1\n' >/tmp/open.scn
check "mock target opens and creates a mock device" sh -c \
	"$SCENARIO --target mock /tmp/open.scn | grep -qx 'dev 1 -> d0'"
printf '# requires: partial\ndev 1\n' >/tmp/partial.scn
check "patched test kernel detected: mock makes partial faults" sh -c \
	"! $SCENARIO --target mock /tmp/partial.scn | grep -q '^skip:'"

$SCENARIO --target mock "$SCENARIOS"/*.scn >/tmp/mock.out 2>/tmp/mock.err
check "every scenario ran on the mock target" test $? -eq 0
[ -s /tmp/mock.err ] && sed 's/^/# stderr: /' /tmp/mock.err
sc() { awk -v s="=== $1" '/^=== /{p = ($0 == s)} p' /tmp/mock.out >/tmp/sc.out; }

sc 01-round-trip.scn
check "trigger -> read: one 40-byte record, flags 0x3, dev_id of the mock device, cookie 1" has /tmp/sc.out \
	"read 40 -> 40" \
	"  rec dev=d0 pasid=1 grpid=2 perm=0x3 flags=0x3 addr=0xdeadbeaf length=0 reserved=0 cookie=1"
check "write of the echoed cookie returns 8" has /tmp/sc.out "write 1:0 -> 8"
check "read when empty returns 0" has /tmp/sc.out "read 40 -> 0"
sc 07-bad-cookie.scn
check "unknown cookie -> EINVAL" has /tmp/sc.out "write 2:0 -> EINVAL"
check "cookie 0 -> EINVAL" has /tmp/sc.out "write 0:0 -> EINVAL"
sc 05-espipe.scn
check "10-byte read -> ESPIPE" has /tmp/sc.out "read 10 -> ESPIPE"
sc 12-no-pasid.scn
check "PASID-less fault: flags 0x2" has /tmp/sc.out \
	"  rec dev=d0 pasid=0 grpid=1 perm=0x1 flags=0x2 addr=0x1000 length=0 reserved=0 cookie=1"
sc 15-multi-record.scn
if grep -q '^skip:' /tmp/sc.out; then
	ok "# skip multi-record groups: the kernel lacks tests/kernel/mock-partial-iopf-X.Y.patch"
else
	check "3-record group: 80-byte read EINVAL, 320-byte read 3 records 0x1,0x1,0x3, one cookie" \
		has /tmp/sc.out \
		"read 80 -> EINVAL" \
		"read 0 -> EINVAL" \
		"read 320 -> 120" \
		"  rec dev=d0 pasid=1 grpid=5 perm=0x1 flags=0x1 addr=0x1000 length=0 reserved=0 cookie=2" \
		"  rec dev=d0 pasid=1 grpid=5 perm=0x2 flags=0x1 addr=0x2000 length=0 reserved=0 cookie=2" \
		"  rec dev=d0 pasid=1 grpid=5 perm=0x3 flags=0x3 addr=0x3000 length=0 reserved=0 cookie=2" \
		"read 320 -> 0"
fi

# The mock follows the running kernel (uname -r): a scenario pinned to one
# kernel version ("# kernel: X.Y") runs on that kernel only.
printf '# kernel: 6.12\ndev 1\n' >/tmp/k6.12.scn
printf '# kernel: 7.3\ndev 1\n' >/tmp/k7.3.scn
case $(uname -r) in
6.12.*) mine=6.12 other=7.3 ;;
*) mine=7.3 other=6.12 ;;
esac
check "a '# kernel: $mine' scenario runs on $(uname -r)" sh -c \
	"$SCENARIO --target mock /tmp/k$mine.scn | grep -qx 'dev 1 -> d0'"
check "a '# kernel: $other' scenario is skipped on $(uname -r), saying so" sh -c \
	"$SCENARIO --target mock /tmp/k$other.scn | grep -qx 'skip: pins kernel $other behaviour; target mock follows $mine'"

# Target errors must say what is missing.
target_err() {	# target_err SPEC PATTERN
	$SCENARIO --target "$1" /tmp/open.scn 2>&1 | tee /tmp/err.out | grep -q "$2"
}
check "device: missing path is reported" target_err device:/dev/vfio/devices/vfio9 "no /dev/vfio/devices/vfio9"
check "device: a non-VFIO file is refused" target_err device:/dev/null "not a VFIO device cdev"
check "fd: an fd that is not open is reported" target_err fd:77 "fd 77 is not open"
check "pid: a missing fd is reported" target_err pid:1:77 "process 1 has no fd 77"

echo "@@@ SCENARIOS BEGIN"
cat /tmp/mock.out
echo "@@@ SCENARIOS END"
echo "1..$n"
