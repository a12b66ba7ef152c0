#!/bin/bash
# The kernel VM tier: iopftool against the real 6.12 iommufd fault queue.
#   tests/kernel/run.sh            (make check-kernel runs it via tests/run.sh)
# 1. builds (once, cached) a tinyconfig 6.12 kernel with CONFIG_IOMMUFD_TEST
#    and tests/kernel/mock-partial-iopf.patch, plus its uAPI headers
#    (build-kernel.sh; cache: ${XDG_CACHE_HOME:-~/.cache}/iopftool/kernel-KEY);
# 2. builds iopftool and tests/helpers against those headers (make O=...);
# 3. packs an initramfs (static busybox, the binaries and their libraries,
#    tests/scenarios, tests/kernel/guest/*.sh, captures/) and boots it in qemu;
# 4. prints the guest's TAP, then compares every scenario run in the guest
#    against "mock" with the same scenario run here against "sim".
# Environment: IOPF_QEMU_ACCEL=tcg (default), kvm or auto (try KVM for 30 s,
# then TCG); IOPF_VM_TIMEOUT: seconds before a hung guest fails (300).
set -eu
export TZ=UTC LC_ALL=C
KDIR=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$KDIR/../.." && pwd)
. "$KDIR/common.sh"

n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*"; }
skip() { n=$((n + 1)); echo "ok $n # skip $*"; }
indent() { sed 's/^/#   /'; }
bail() { not_ok "$1"; [ -n "${2:-}" ] && [ -f "$2" ] && tail -n 40 "$2" | indent; echo "1..$n"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/iopftool-kernel.XXXXXX")
trap 'rm -rf "$work"' EXIT

check_prereqs() {
	local missing=
	for c in qemu-system-x86_64 cpio gzip ldd flock timeout; do
		command -v "$c" >/dev/null || missing="$missing $c"
	done
	[ -x /bin/busybox ] || missing="$missing /bin/busybox(busybox-static)"
	[ -r /usr/src/linux-source-6.12.tar.xz ] || missing="$missing linux-source-6.12"
	[ -z "$missing" ] || bail "kernel tier prerequisites:$missing missing (run scripts/deps.sh kernel)"
}

# Remove build directories left by killed builds (their pid is gone).
clean_stale() {
	local d
	for d in "$CACHE_ROOT"/kernel-*.tmp.*; do
		[ -d "$d" ] || continue
		kill -0 "${d##*.}" 2>/dev/null || rm -rf "$d"
	done
}

# Sets $kernel to the cached kernel directory, building it if needed.
get_kernel() {
	kernel=$CACHE_ROOT/kernel-$(kernel_key)
	mkdir -p "$CACHE_ROOT"
	if [ ! -f "$kernel/bzImage" ]; then
		echo "# building test kernel (about 4 minutes, cached afterwards) into $kernel"
		local start=$SECONDS
		(
			flock 9
			clean_stale
			[ -f "$kernel/bzImage" ] || "$KDIR/build-kernel.sh" "$kernel" 2>&1 | sed -u 's/^\([^#]\)/# \1/'
		) 9>"$CACHE_ROOT/.lock" || true
		[ -f "$kernel/bzImage" ] || bail "test kernel build failed (see messages above)"
		echo "# test kernel built in $((SECONDS - start)) s"
	else
		echo "# test kernel: $kernel (cached)"
	fi
}

# Build the guest binaries against the kernel's uAPI headers.  The whole
# repo if it builds, else at least the scenario helper.
build_guest() {
	# Per checkout, not in the shared cache: objects of another tree with
	# newer time stamps would look up to date to make.
	gb=$SRC/build/guest-$(basename "$kernel")
	local mk=(make --no-print-directory -C "$SRC" -j"$(nproc)" O="$gb"
		  UAPI_CFLAGS="-I$kernel/usr/include")
	echo "# building iopftool and helpers against the 6.12 uAPI headers ($gb)"
	if "${mk[@]}" -pn "$gb/libiopf.a" 2>/dev/null | grep -qx 'HAVE_LINUX_IOMMUFD := 1'; then
		ok "guest build uses the kernel's <linux/iommufd.h> (iopf.h asserts its layout)"
	else
		not_ok "guest build uses the kernel's <linux/iommufd.h>: the Makefile probe failed"
	fi
	if ! "${mk[@]}" all >"$work/make.log" 2>&1; then
		echo "# full guest build failed, building the scenario helper only:"
		grep -m 5 -E 'error|undefined' "$work/make.log" | indent
		"${mk[@]}" "$gb/tests/helpers/iopf-scenario" >"$work/make.log" 2>&1 ||
			bail "guest build of tests/helpers/iopf-scenario" "$work/make.log"
	fi
}

# copy_bin FILE: FILE and every library ldd lists (and the ELF interpreter).
copy_bin() {
	local root=$work/root
	cp "$1" "$root/iopf/bin/"
	ldd "$1" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
		[ -e "$root$lib" ] && continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}

make_initrd() {
	local root=$work/root b
	mkdir -p "$root"/{bin,dev,proc,sys,tmp,iopf/bin,iopf/guest,iopf/scenarios}
	cp /bin/busybox "$root/bin/busybox"
	ln -s busybox "$root/bin/sh"
	cp "$KDIR/init" "$root/init"
	for b in "$gb/iopftool" "$gb"/tests/helpers/*; do
		[ -f "$b" ] && [ -x "$b" ] && copy_bin "$b"
	done
	cp "$KDIR"/guest/*.sh "$root/iopf/guest/"
	cp "$SRC"/tests/scenarios/*.scn "$root/iopf/scenarios/"
	[ -d "$SRC/captures" ] && cp -r "$SRC/captures" "$root/iopf/captures"
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.gz"
}

# run_qemu ACCEL TIMEOUT: boot once; qemu's exit status (124: timed out)
run_qemu() {
	local rc=0
	: >"$work/results"
	timeout "$2" qemu-system-x86_64 -accel "$1" -m 512 \
		-nographic -no-reboot -cpu max \
		-kernel "$kernel/bzImage" -initrd "$work/initrd.gz" \
		-append "console=ttyS0 panic=-1 quiet" \
		-serial mon:stdio -serial "file:$work/results" \
		</dev/null >"$work/console" 2>&1 || rc=$?
	tr -d '\r' <"$work/results" >"$work/results.txt"
	return "$rc"
}

# TCG by default: KVM hangs on machines without nested virtualization.
# IOPF_QEMU_ACCEL=auto tries KVM for 30 s first, then falls back to TCG.
boot() {
	local accel=${IOPF_QEMU_ACCEL:-tcg} limit=${IOPF_VM_TIMEOUT:-300} start=$SECONDS rc=0
	if [ "$accel" = auto ]; then
		accel=tcg
		if [ -w /dev/kvm ]; then
			echo "# probing KVM (30 s at most)"
			run_qemu kvm 30 && grep -q '^@@@ DONE' "$work/results.txt" && accel=kvm
		fi
	fi
	echo "# booting the test kernel in qemu ($accel)"
	if [ "$accel" != kvm ] || ! grep -q '^@@@ DONE' "$work/results.txt" 2>/dev/null; then
		run_qemu "$accel" "$limit" || rc=$?
	fi
	echo "# guest ran for $((SECONDS - start)) s"
	qemu_rc=$rc
}

# After the guest's own TAP: did it run to the end?
check_done() {
	grep -q '^@@@ DONE' "$work/results.txt" && return 0
	local last
	last=$(sed -n 's/^@@@ BEGIN //p' "$work/results.txt" | tail -n 1)
	if [ "$qemu_rc" -eq 124 ]; then
		bail "the guest did not finish within ${IOPF_VM_TIMEOUT:-300} s (in ${last:-boot})" "$work/console"
	fi
	bail "the guest stopped early, in ${last:-boot} (qemu exit $qemu_rc)" "$work/console"
}

# The guest's TAP, renumbered; other lines as comments.
guest_tap() {
	local line in_scn=0
	while IFS= read -r line; do
		case $line in
		"@@@ SCENARIOS BEGIN") in_scn=1 ;;
		"@@@ SCENARIOS END") in_scn=0 ;;
		"@@@ KERNEL "*) echo "# guest kernel ${line#@@@ KERNEL }" ;;
		"@@@ BEGIN "*) echo "# guest: ${line#@@@ BEGIN }" ;;
		"@@@ END "*)
			case $line in
			*" rc=0") ;;
			*" rc=143") not_ok "guest script ${line#@@@ END } (killed after 120 s)" ;;
			*) not_ok "guest script ${line#@@@ END }" ;;
			esac ;;
		"@@@ DONE") ;;
		*) [ "$in_scn" -eq 1 ] && continue
		   if [[ $line =~ ^(not\ )?ok\ [0-9]+(.*)$ ]]; then
			n=$((n + 1))
			echo "${BASH_REMATCH[1]}ok $n${BASH_REMATCH[2]}"
		   elif [[ $line != 1..* ]]; then
			echo "# $line"
		   fi ;;
		esac
	done <"$work/results.txt"
	sed -n '/^@@@ SCENARIOS BEGIN$/,/^@@@ SCENARIOS END$/{/^@@@/d;p}' \
		"$work/results.txt" >"$work/mock.out"
}

# split FILE DIR: one file per "=== NAME" section
split_out() {
	mkdir -p "$2"
	awk -v dir="$2" '/^=== /{f = dir "/" $2; next} f {print > f}' "$1"
}

differential() {
	local helper=$SRC/build/tests/helpers/iopf-scenario s name
	[ -x "$helper" ] || helper=$gb/tests/helpers/iopf-scenario
	"$helper" --target sim "$SRC"/tests/scenarios/*.scn >"$work/sim.out" 2>"$work/sim.err" || true
	split_out "$work/sim.out" "$work/sim"
	split_out "$work/mock.out" "$work/mock"
	for s in "$SRC"/tests/scenarios/*.scn; do
		name=$(basename "$s")
		if [ ! -f "$work/mock/$name" ] || [ ! -f "$work/sim/$name" ]; then
			not_ok "sim and mock agree: $name (no output from $([ -f "$work/sim/$name" ] && echo mock || echo sim))"
		elif grep -q '^skip:' "$work/mock/$name"; then
			skip "sim and mock agree: $name: $(sed 's/^skip: //' "$work/mock/$name")"
		elif diff -u --label "sim/$name" --label "mock/$name" \
				"$work/sim/$name" "$work/mock/$name" >"$work/diff"; then
			ok "sim and mock agree: $name"
		else
			not_ok "sim and mock agree: $name"
			indent <"$work/diff"
		fi
	done
	[ -s "$work/sim.err" ] && indent <"$work/sim.err"
	return 0
}

start=$SECONDS
check_prereqs
get_kernel
build_guest
make_initrd
boot
guest_tap
check_done
differential
echo "# kernel tier took $((SECONDS - start)) s"
echo "1..$n"
