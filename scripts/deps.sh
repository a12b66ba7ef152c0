#!/bin/sh
# Install the Debian packages a step needs: with apt-get when running as
# root, else print the exact apt-get line and fail.
#   scripts/deps.sh build    compiler, libpcap, json-c, zlib, libbpf with clang and bpftool (the BPF tap)
#   scripts/deps.sh kernel   what the kernel VM tier needs (tests/kernel): the
#                            packages, then the newest backports kernel source
#                            (tests/kernel/fetch-source.sh fetch, into the cache)
#                            and Debian's qemu source with meson for the real
#                            path (fetch-source.sh qemu)
#   scripts/deps.sh fuzz     clang with libFuzzer's runtime, llvm-cov (fuzz/)
#   scripts/deps.sh valgrind valgrind (make check-valgrind)
#   scripts/deps.sh check    the whole suite: kernel, fuzz, plus groff to lint the man pages,
#                            tshark and jq (t3000), bash-completion (t3100), prometheus
#                            (promtool), curl and systemd (systemd-analyze) for t2400,
#                            valgrind (t2030 counts instructions with callgrind), util-linux
#                            (taskset, chrt: t2320 pins a hostile handler to one CPU)
#   scripts/deps.sh fresh    scripts/fresh-check.sh: debootstrap
#   scripts/deps.sh bench    make bench: the baselines it compares against (tcpdump, tshark)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build="gcc make libc6-dev pkg-config libpcap-dev libjson-c-dev zlib1g-dev libbpf-dev clang bpftool"
kernel="$build linux-source-6.12 patch rsync qemu-system-x86 busybox-static bc bison flex libelf-dev cpio xz-utils gzip dwarves"
# the real path's own qemu (tests/kernel/build-qemu.sh): Debian's source built
# with Debian 12's toolchain (configure's Python venv needs pip's distlib and
# setuptools); its firmware from seabios and qemu-system-data
kernel="$kernel dpkg-dev ninja-build pkgconf libglib2.0-dev zlib1g-dev libfdt-dev python3-venv python3-pip python3-setuptools seabios qemu-system-data"
fuzz="clang-14 libclang-rt-14-dev llvm-14"
fetch=false
case "${1:-build}" in
build)	pkgs=$build ;;
kernel)	pkgs=$kernel fetch=true ;;
fuzz)	pkgs=$fuzz ;;
valgrind) pkgs=valgrind ;;
check)	pkgs="$kernel $fuzz groff-base tshark jq bash-completion libxml2-utils librsvg2-bin bsdutils prometheus curl systemd procps valgrind util-linux" fetch=true ;;
fresh)	pkgs="debootstrap" ;;
bench)	pkgs="$build tcpdump tshark" ;;
*)	echo "usage: $0 build|kernel|fuzz|valgrind|check|fresh|bench" >&2; exit 64 ;;
esac
# After the packages: the newest trixie-backports kernel source (needs only apt).
fetch_source() {
	! $fetch || { "$here/../tests/kernel/fetch-source.sh" fetch && "$here/../tests/kernel/fetch-source.sh" qemu; }
}

missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
if [ -z "$missing" ]; then
	fetch_source
	exit
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "iopftool: missing Debian packages:$missing" >&2
	echo "run as root:  apt-get update && apt-get install -y$missing" >&2
	exit 1
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=900 update -qq >&2
# shellcheck disable=SC2086
apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends $missing >&2
fetch_source
