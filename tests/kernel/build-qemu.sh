#!/bin/sh
# Build the real-path tier's qemu into DEST (must not exist):
#   tests/kernel/build-qemu.sh DEST DSC MESON-DEB PATCH
# DSC is Debian's qemu source package (fetch-source.sh qemu downloads it:
# the newest >= 10.2 the mirror serves), MESON-DEB the meson .deb of
# bookworm-backports (QEMU wants meson >= 1.5; Debian 12 has 1.0: the .deb
# is pure Python, unpacked with dpkg-deb -x, never installed), PATCH the
# project's test-only patch (qemu-iopf-testdev-VERSION.patch: the PCIe PRI
# test device and the VT-d switches; tests/kernel/README.qemu).
# `dpkg-source -x` unpacks the source and applies Debian's own patch series
# (its +ds tarball needs skip-unpack-edk2-blobs.patch to configure).
# A minimal qemu-system-x86_64 (TCG only, no tools, docs or blobs; firmware
# comes from Debian 12's seabios/qemu-system-data through -L) is stripped
# into DEST with `version` and `build-time` (seconds, and the load average
# at the start: the machine may be shared).
# The build runs in DEST.tmp.$$ and is renamed into place at the end.
# Needs (scripts/deps.sh kernel): dpkg-dev gcc ninja-build pkgconf
# libglib2.0-dev zlib1g-dev libfdt-dev python3-venv patch.
set -eu
dest=${1:?usage: build-qemu.sh DEST DSC MESON-DEB PATCH}
dsc=${2:?usage: build-qemu.sh DEST DSC MESON-DEB PATCH}
meson_deb=${3:?usage: build-qemu.sh DEST DSC MESON-DEB PATCH}
patch_file=${4:?usage: build-qemu.sh DEST DSC MESON-DEB PATCH}
jobs=${QEMU_JOBS:-$(nproc)}
# The configure flags are part of the cache key (common.sh: qemu_key).
QEMU_CONFIGURE="--target-list=x86_64-softmmu --without-default-features --disable-docs --disable-tools --disable-user --disable-download --disable-install-blobs --disable-werror"

[ ! -e "$dest" ] || { echo "build-qemu.sh: $dest exists" >&2; exit 1; }
for f in "$dsc" "$meson_deb" "$patch_file"; do
	[ -r "$f" ] || { echo "build-qemu.sh: no $f: run scripts/deps.sh kernel" >&2; exit 1; }
done
tmp=$dest.tmp.$$
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
mkdir -p "$tmp"
start=$(date +%s)
load=$(cut -d' ' -f1-3 /proc/loadavg)

echo "# unpacking $(basename "$meson_deb")"
dpkg-deb -x "$meson_deb" "$tmp/meson"
PATH=$tmp/meson/usr/bin:$PATH
PYTHONPATH=$tmp/meson/usr/lib/python3/dist-packages${PYTHONPATH:+:$PYTHONPATH}
export PATH PYTHONPATH
echo "# unpacking $(basename "$dsc") with Debian's patch series"
dpkg-source --no-check -x "$dsc" "$tmp/src" >"$tmp/unpack.log" 2>&1 || {
	tail -n 20 "$tmp/unpack.log" >&2; echo "build-qemu.sh: dpkg-source -x $dsc failed" >&2; exit 1; }
echo "# applying $(basename "$patch_file")"
(cd "$tmp/src" && patch -p1 -s --no-backup-if-mismatch <"$patch_file") || {
	echo "build-qemu.sh: $(basename "$patch_file") does not apply to $(basename "$dsc")" >&2
	exit 1
}
mkdir -p "$tmp/build"
echo "# configure $QEMU_CONFIGURE"
# shellcheck disable=SC2086
(cd "$tmp/build" && ../src/configure $QEMU_CONFIGURE) >"$tmp/configure.log" 2>&1 || {
	tail -n 30 "$tmp/configure.log" >&2; echo "build-qemu.sh: configure failed" >&2; exit 1; }
echo "# ninja -j$jobs qemu-system-x86_64"
(cd "$tmp/build" && ninja -j"$jobs" qemu-system-x86_64) >"$tmp/ninja.log" 2>&1 || {
	grep -m 20 -B2 -A8 'FAILED\|error:' "$tmp/ninja.log" >&2; echo "build-qemu.sh: build failed" >&2; exit 1; }
mkdir -p "$tmp/out"
strip -o "$tmp/out/qemu-system-x86_64" "$tmp/build/qemu-system-x86_64"
"$tmp/out/qemu-system-x86_64" --version | head -n 1 >"$tmp/out/version"
end=$(date +%s)
echo "$((end - start)) s, $jobs jobs, load average at start $load" >"$tmp/out/build-time"
mv "$tmp/out" "$dest"
echo "# qemu built in $((end - start)) s: $(cat "$dest/version")"
