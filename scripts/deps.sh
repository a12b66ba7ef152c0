#!/bin/sh
# Install the Debian packages a step needs: with apt-get when running as
# root, else print the exact apt-get line and fail.
#   scripts/deps.sh build    compiler, libpcap, json-c
#   scripts/deps.sh kernel   what the kernel VM tier needs (tests/kernel)
#   scripts/deps.sh fuzz     clang with libFuzzer's runtime, llvm-cov (fuzz/)
#   scripts/deps.sh valgrind valgrind (make check-valgrind)
#   scripts/deps.sh check    the whole suite: kernel, fuzz, plus groff to lint the man pages,
#                            tshark and jq (t3000), bash-completion (t3100)
set -eu
kernel="linux-source-6.12 rsync qemu-system-x86 busybox-static bc bison flex libelf-dev cpio xz-utils gzip"
fuzz="clang-14 libclang-rt-14-dev llvm-14"
case "${1:-build}" in
build)	pkgs="gcc make pkg-config libpcap-dev libjson-c-dev" ;;
kernel)	pkgs=$kernel ;;
fuzz)	pkgs=$fuzz ;;
valgrind) pkgs=valgrind ;;
check)	pkgs="$kernel $fuzz groff-base tshark jq bash-completion bsdutils" ;;
*)	echo "usage: $0 build|kernel|fuzz|valgrind|check" >&2; exit 64 ;;
esac

missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

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
