#!/bin/bash
# The kernel VM tier: iopftool against real iommufd fault queues, on two
# kernels: Debian 12's linux-source-6.12 and the newest linux-source-X.Y of
# trixie-backports (tests/kernel/fetch-source.sh finds and caches it).
#   tests/kernel/run.sh            (make check-kernel runs it via tests/run.sh)
#   KERNEL=6.12|7.3|all tests/kernel/run.sh   (make check-kernel KERNEL=...)
# For each kernel:
# 1. builds (once, cached) a tinyconfig kernel with CONFIG_IOMMUFD_TEST
#    and its tests/kernel/mock-partial-iopf-X.Y.patch, plus its uAPI headers
#    (build-kernel.sh; cache: ${XDG_CACHE_HOME:-~/.cache}/iopftool/kernel-KEY);
# 2. builds iopftool and tests/helpers against those headers (make O=...);
# 3. packs an initramfs (static busybox, the binaries and their libraries,
#    tests/scenarios, tests/kernel/guest/*.sh, captures/) and boots it in qemu;
# 4. prints the guest's TAP, then compares every scenario run in the guest
#    against "mock" with the same scenario run here against "sim:X.Y" (the
#    queue model of that kernel version).
# Every test name starts with the kernel series ("7.3: ...").
# 5. the real path (7.x kernels; 6.12 is a skip with the reason): a second
#    boot under the project's own qemu build (build-qemu.sh: Debian's qemu
#    source + qemu-iopf-X.Y.patch, cached in
#    ${XDG_CACHE_HOME:-~/.cache}/iopftool/qemu-KEY) with an emulated Intel
#    VT-d doing page requests and the PCIe PRI test device, running
#    tests/kernel/guest-real/*.sh (tests/kernel/README.qemu).
# Environment: KERNEL (all), IOPF_QEMU_ACCEL=tcg (default), kvm or auto (try
# KVM for 30 s, then TCG); IOPF_VM_TIMEOUT: seconds before a hung guest
# fails (300); IOPF_REAL=only runs the real path alone (no mock boot),
# IOPF_REAL=no skips it.
set -eu
export TZ=UTC LC_ALL=C
KDIR=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$KDIR/../.." && pwd)
. "$KDIR/common.sh"

n=0
series=	# the kernel under test; prefixes every test name
ok() { n=$((n + 1)); echo "ok $n - ${series:+$series: }$*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - ${series:+$series: }$*"; }
skip() { n=$((n + 1)); echo "ok $n # skip ${series:+$series: }$*"; }
indent() { sed 's/^/#   /'; }
# fail DESC [LOG]: a failure that ends this kernel's run (the next kernel still runs)
fail() { not_ok "$1"; [ -n "${2:-}" ] && [ -f "$2" ] && tail -n 40 "$2" | indent; return 1; }
bail() { fail "$@"; echo "1..$n"; exit 1; }

top=$(mktemp -d "${TMPDIR:-/tmp}/iopftool-kernel.XXXXXX")
trap 'rm -rf "$top"' EXIT

check_prereqs() {
	local missing=
	for c in qemu-system-x86_64 cpio gzip ldd flock timeout; do
		command -v "$c" >/dev/null || missing="$missing $c"
	done
	[ -x /bin/busybox ] || missing="$missing /bin/busybox(busybox-static)"
	[ -z "$missing" ] || bail "kernel tier prerequisites:$missing missing (run scripts/deps.sh kernel)"
}

# Remove build directories left by killed builds (their pid is gone).
clean_stale() {
	local d
	for d in "$CACHE_ROOT"/kernel-"$1".tmp.*; do
		[ -d "$d" ] || continue
		kill -0 "${d##*.}" 2>/dev/null || rm -rf "$d"
	done
}

# get_kernel SERIES PKG-VERSION TARBALL: sets $kernel to the cached kernel
# directory, building it if needed (one build per key at a time: flock).
get_kernel() {
	local patch key
	patch=$(patch_for "$1")
	[ -n "$patch" ] || { fail "no tests/kernel/mock-partial-iopf-*.patch for $1"; return 1; }
	key=$(kernel_key "$1" "$2" "$patch")
	kernel=$CACHE_ROOT/kernel-$key
	mkdir -p "$CACHE_ROOT"
	if [ ! -f "$kernel/bzImage" ]; then
		echo "# building the $1 test kernel (linux-source-$1 $2, $(basename "$patch");" \
		     "5-7 minutes on 2 cores, cached afterwards) into $kernel"
		local start=$SECONDS
		(
			flock 9
			clean_stale "$key"
			[ -f "$kernel/bzImage" ] ||
				"$KDIR/build-kernel.sh" "$kernel" "$3" "$patch" $(extra_config_for "$1") 2>&1 | sed -u 's/^\([^#]\)/# \1/'
		) 9>"$CACHE_ROOT/.lock-$key" || true
		[ -f "$kernel/bzImage" ] || { fail "test kernel $1 build failed (see messages above)"; return 1; }
		echo "# test kernel $1 built in $((SECONDS - start)) s"
	else
		echo "# test kernel $1: $kernel (cached)"
	fi
}

# Build the guest binaries against the kernel's uAPI headers.  The whole
# repo if it builds, else at least the scenario helper.
build_guest() {
	# Per checkout, not in the shared cache: objects of another tree with
	# newer time stamps would look up to date to make.
	gb=$SRC/build/guest-$(basename "$kernel")
	mkdir -p "$gb"
	local mk=(make --no-print-directory -C "$SRC" -j"$(nproc)" O="$gb"
		  UAPI_CFLAGS="-I$kernel/usr/include")
	echo "# building iopftool and helpers against the $series uAPI headers ($gb)"
	if "${mk[@]}" -pn "$gb/libiopf.a" 2>/dev/null | grep -qx 'HAVE_LINUX_IOMMUFD := 1'; then
		ok "guest build uses the kernel's <linux/iommufd.h> (iopf.h asserts its layout)"
	else
		not_ok "guest build uses the kernel's <linux/iommufd.h>: the Makefile probe failed"
	fi
	# The cookie-0 reproducer: raw uAPI, no libiopf (guest/20-repro-cookie0.sh runs it).
	"${CC:-cc}" -std=gnu11 -O2 -Wall -Wextra -I"$kernel/usr/include" -o "$gb/repro-cookie0" \
		"$KDIR/repro-cookie0.c" >"$work/repro.log" 2>&1 ||
		{ not_ok "build of tests/kernel/repro-cookie0.c"; indent <"$work/repro.log"; }
	if ! "${mk[@]}" all >"$work/make.log" 2>&1; then
		echo "# full guest build failed, building the scenario helper only:"
		grep -m 5 -E 'error|undefined' "$work/make.log" | indent
		"${mk[@]}" "$gb/tests/helpers/iopf-scenario" >"$work/make.log" 2>&1 ||
			{ fail "guest build of tests/helpers/iopf-scenario" "$work/make.log"; return 1; }
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

# make_initrd [GUEST-DIR [INITRD]]: tests/kernel/guest (default) or guest-real
make_initrd() {
	local gdir=${1:-$KDIR/guest} out=${2:-$work/initrd.gz}
	local root=$work/root b
	rm -rf "$root"
	mkdir -p "$root"/{bin,dev,proc,sys,tmp,iopf/bin,iopf/guest,iopf/scenarios}
	cp /bin/busybox "$root/bin/busybox"
	ln -s busybox "$root/bin/sh"
	cp "$KDIR/init" "$root/init"
	for b in "$gb/iopftool" "$gb/repro-cookie0" "$gb"/tests/helpers/*; do
		[ -f "$b" ] && [ -x "$b" ] && copy_bin "$b"
	done
	# glibc loads libgcc_s.so.1 at the first pthread_cancel(3) (the printer of
	# --print, lib/printer.c, cancels a write that a stopped reader holds) and
	# aborts without it; ldd does not list it (Debian's libc6 depends on it).
	b=$(ldd "$gb/iopftool" 2>/dev/null | grep -o '/[^ ]*/libc\.so\.6')
	[ -n "$b" ] && [ -e "${b%/*}/libgcc_s.so.1" ] && cp -L "${b%/*}/libgcc_s.so.1" "$root${b%/*}/"
	cp "$gdir"/${IOPF_GUEST_ONLY:-*}.sh "$root/iopf/guest/" 2>/dev/null || true
	mkdir -p "$root/iopf/guest/lib" && cp "$KDIR"/guest/lib/*.sh "$root/iopf/guest/lib/"
	cp "$SRC"/tests/scenarios/*.scn "$root/iopf/scenarios/"
	[ -d "$SRC/captures" ] && cp -r "$SRC/captures" "$root/iopf/captures"
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out"
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
	local accel=${IOPF_QEMU_ACCEL:-tcg} limit=${IOPF_VM_TIMEOUT:-900} start=$SECONDS rc=0
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
		fail "the guest did not finish within ${IOPF_VM_TIMEOUT:-900} s (in ${last:-boot})" "$work/console"
		return 1
	fi
	fail "the guest stopped early, in ${last:-boot} (qemu exit $qemu_rc)" "$work/console"
}

# The guest's TAP, renumbered; other lines as comments.
guest_tap() {
	local line in_scn=0
	while IFS= read -r line; do
		case $line in
		"@@@ SCENARIOS BEGIN") in_scn=1 ;;
		"@@@ SCENARIOS END") in_scn=0 ;;
		"@@@ KERNEL "*) echo "# guest kernel ${line#@@@ KERNEL }"
			release=${line#@@@ KERNEL } ;;
		"@@@ BEGIN "*) echo "# guest: ${line#@@@ BEGIN }" ;;
		"@@@ END "*)
			case $line in
			*" rc=0") ;;
			*" rc=143") not_ok "guest script ${line#@@@ END } (killed: over its time limit, 120 s or its own guest-timeout)" ;;
			*) not_ok "guest script ${line#@@@ END }" ;;
			esac ;;
		"@@@ DONE") ;;
		*) [ "$in_scn" -eq 1 ] && continue
		   if [[ $line =~ ^(not\ )?ok\ [0-9]+(.*)$ ]]; then
			n=$((n + 1))
			local rest=${BASH_REMATCH[2]}
			case $rest in
			" - "*) rest=" - $series: ${rest# - }" ;;
			" # skip "*|" # SKIP "*) rest=" # skip $series: ${rest# # [sS][kK][iI][pP] }" ;;
			" # "*) rest=" # $series: ${rest# # }" ;;
			esac
			echo "${BASH_REMATCH[1]}ok $n$rest"
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

# The queue models of lib/queue.c (enum iopf_kernel_model).  A kernel
# series newer than all of them is compared with the newest not newer.
MODELS="6.12 7.3"
model_for() {
	printf '%s\n' $MODELS "$1" | sort -V | sed -n "/^$1\$/q;p" | tail -n 1 |
		grep . || printf '%s\n' $MODELS | head -n 1
}

differential() {
	local helper=$SRC/build/tests/helpers/iopf-scenario s name model
	[ -x "$helper" ] || helper=$gb/tests/helpers/iopf-scenario
	model=$series
	case " $MODELS " in *" $series "*) ;; *) model=$(model_for "$series") ;; esac
	"$helper" --target "sim:$model" "$SRC"/tests/scenarios/*.scn >"$work/sim.out" 2>"$work/sim.err" || true
	split_out "$work/sim.out" "$work/sim"
	split_out "$work/mock.out" "$work/mock"
	for s in "$SRC"/tests/scenarios/*.scn; do
		name=$(basename "$s")
		if [ ! -f "$work/mock/$name" ] || [ ! -f "$work/sim/$name" ]; then
			not_ok "sim:$model and mock agree: $name (no output from $([ -f "$work/sim/$name" ] && echo mock || echo sim))"
		elif grep -q '^skip:' "$work/mock/$name" "$work/sim/$name"; then
			skip "sim:$model and mock agree: $name: $(grep -h '^skip:' "$work/mock/$name" "$work/sim/$name" | head -n 1 | sed 's/^skip: //')"
		elif diff -u --label "sim/$name" --label "mock/$name" \
				"$work/sim/$name" "$work/mock/$name" >"$work/diff"; then
			ok "sim:$model and mock agree: $name"
		else
			not_ok "sim:$model and mock agree: $name"
			indent <"$work/diff"
		fi
	done
	[ -s "$work/sim.err" ] && indent <"$work/sim.err"
	return 0
}

# get_qemu: sets $qemu_dir to the cached real-path qemu, building it if needed
# (Debian's qemu source from fetch-source.sh qemu; one build per key: flock).
get_qemu() {
	local v dsc deb patch key
	if [ -n "${IOPF_REAL_QEMU:-}" ]; then	# a developer's own build of the patched tree
		qemu_dir=$(dirname "$IOPF_REAL_QEMU")
		echo "# real-path qemu: $IOPF_REAL_QEMU (IOPF_REAL_QEMU)"
		return 0
	fi
	set -- $("$KDIR/fetch-source.sh" list-qemu)
	[ $# -eq 3 ] || { fail "real path: no Debian qemu source >= 10.2 in $CACHE_ROOT/src (run scripts/deps.sh kernel)"; return 1; }
	v=$1 dsc=$2 deb=$3
	patch=$(qemu_patch_for "$v")
	[ -n "$patch" ] || { fail "real path: no tests/kernel/qemu-iopf-*.patch for qemu $v"; return 1; }
	key=$(qemu_key "$v" "$patch")
	qemu_dir=$CACHE_ROOT/qemu-$key
	if [ ! -x "$qemu_dir/qemu-system-x86_64" ]; then
		echo "# building qemu $v with $(basename "$patch") (about 1,300 compiles: 10-15 minutes on 2 idle cores, cached afterwards) into $qemu_dir"
		local start=$SECONDS
		(
			flock 9
			for d in "$qemu_dir".tmp.*; do
				[ -d "$d" ] && ! kill -0 "${d##*.}" 2>/dev/null && rm -rf "$d"
			done
			[ -x "$qemu_dir/qemu-system-x86_64" ] ||
				nice "$KDIR/build-qemu.sh" "$qemu_dir" "$dsc" "$deb" "$patch" 2>&1 | sed -u 's/^\([^#]\)/# \1/'
		) 9>"$CACHE_ROOT/.lock-qemu-$key" || true
		[ -x "$qemu_dir/qemu-system-x86_64" ] || { fail "real path: qemu build failed (see messages above)"; return 1; }
		echo "# qemu built in $((SECONDS - start)) s ($(cat "$qemu_dir/build-time"))"
	else
		echo "# real-path qemu: $qemu_dir (cached; $(cat "$qemu_dir/version"))"
	fi
}

# The real path: Intel VT-d emulated with page requests (scalable mode, first
# stage, PASID, device IOTLB, svm=on: PRS/PDS), the PRI test device on pcie.0
# (a root-complex integrated endpoint) and one without PRI,
# intel_iommu=on,sm_on.  The test kernels have no interrupt remapping
# (CONFIG_IRQ_REMAP is off in tinyconfig; intremap=off): VFIO_DEVICE_BIND_IOMMUFD
# is EPERM without iommufd.allow_unsafe_interrupts=1 (the device uses no
# interrupts).
run_qemu_real() {
	local rc=0
	: >"$work/results"
	timeout "$1" "$qemu_dir/qemu-system-x86_64" -L /usr/share/qemu -L /usr/share/seabios \
		-machine q35 -accel tcg -m 512 -nodefaults -nographic -no-reboot -cpu max \
		-device intel-iommu,intremap=off,x-scalable-mode=on,x-flts=on,x-pasid-mode=on,device-iotlb=on,aw-bits=48,svm=on \
		-device iopf-testdev -device iopf-testdev,pri=off \
		-kernel "$kernel/bzImage" -initrd "$work/initrd-real.gz" \
		-append "console=ttyS0 panic=-1 quiet intel_iommu=on,sm_on iommufd.allow_unsafe_interrupts=1" \
		-serial mon:stdio -serial "file:$work/results" \
		</dev/null >"$work/console" 2>&1 || rc=$?
	tr -d '\r' <"$work/results" >"$work/results.txt"
	return "$rc"
}

real_path() {
	local start=$SECONDS
	case $1 in
	6.12)
		skip "real PRI path: 6.12 has none (prq_event_thread rejects page requests without PASID, a paging HWPT takes no fault id: IOMMU_HWPT_FAULT_ID_VALID is 6.13+, and VFIO has no PASID attach)"
		return 0 ;;
	esac
	get_qemu || return 0
	make_initrd "$KDIR/guest-real" "$work/initrd-real.gz"
	echo "# booting the $1 kernel under $(cat "$qemu_dir/version" 2>/dev/null || echo "$qemu_dir") with VT-d page requests and the PRI test device"
	qemu_rc=0
	run_qemu_real "${IOPF_VM_TIMEOUT:-300}" || qemu_rc=$?
	echo "# real-path guest ran for $((SECONDS - start)) s"
	series="$1 real"
	guest_tap
	check_done || { series=$1; return 0; }
	series=$1
	return 0
}

# run_kernel SERIES PKG-VERSION TARBALL: the whole tier on one kernel
run_kernel() {
	local t0=$SECONDS
	series=$1 release=
	work=$top/$1
	mkdir -p "$work"
	echo "# ---- kernel $1 (linux-source-$1 $2)"
	get_kernel "$1" "$2" "$3" || return 0
	build_guest || return 0
	if [ "${IOPF_REAL:-yes}" != only ]; then
		make_initrd
		boot
		guest_tap
		if check_done; then
			case $release in
			"$1"|"$1".*|"$1"-*) ok "the guest runs the $1 kernel ($release)" ;;
			*) not_ok "the guest runs the $1 kernel (uname -r: ${release:-none})" ;;
			esac
			differential
		fi
	fi
	[ "${IOPF_REAL:-yes}" = no ] || real_path "$1"
	echo "# kernel $1 took $((SECONDS - t0)) s"
}

start=$SECONDS
check_prereqs
want=${KERNEL:-all}
sources=$("$KDIR/fetch-source.sh" list)
case $want in
all)
	# Both kernels must be there: a missing one is a failure, not a skip.
	printf '%s\n' "$sources" | grep -q '^6\.12 ' ||
		not_ok "kernel 6.12: no /usr/src/linux-source-6.12.tar.xz (run scripts/deps.sh kernel)"
	printf '%s\n' "$sources" | grep -qv '^6\.12 ' ||
		not_ok "newest backports kernel: no source in $CACHE_ROOT/src (run scripts/deps.sh kernel)"
	;;
*)
	sources=$(printf '%s\n' "$sources" | awk -v k="$want" '$1 == k')
	[ -n "$sources" ] || bail "KERNEL=$want: no such kernel source (have: $("$KDIR/fetch-source.sh" list | cut -d' ' -f1 | tr '\n' ' ')); run scripts/deps.sh kernel"
	;;
esac
while read -r s v tarball <&3; do
	[ -n "$s" ] && run_kernel "$s" "$v" "$tarball"
done 3<<EOF_SOURCES
$sources
EOF_SOURCES
series=
echo "# kernel tier took $((SECONDS - start)) s"
echo "1..$n"
