#!/bin/sh
# Build the VM tier's test kernel into DEST (a directory that must not exist):
#   tests/kernel/build-kernel.sh DEST
# DEST gets bzImage, config (the final .config) and usr/include (the 6.12
# uAPI headers from `make headers_install`).  The build runs in DEST.tmp.$$
# and is renamed into place at the end, so an interrupted build leaves no
# half-made DEST.  Needs: linux-source-6.12 bc bison flex libelf-dev.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dest=${1:?usage: build-kernel.sh DEST}
src_tar=/usr/src/linux-source-6.12.tar.xz
jobs=${KERNEL_JOBS:-$(($(nproc) + 1))}

[ ! -e "$dest" ] || { echo "build-kernel.sh: $dest exists" >&2; exit 1; }
[ -r "$src_tar" ] || {
	echo "build-kernel.sh: no $src_tar: run scripts/deps.sh kernel" >&2
	exit 1
}
tmp=$dest.tmp.$$
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
mkdir -p "$tmp"

echo "# unpacking $src_tar"
tar -C "$tmp" -xf "$src_tar"
tree=$tmp/linux-source-6.12
(cd "$tree" && patch -p1 -s <"$here/mock-partial-iopf.patch")

echo "# configuring: tinyconfig + tests/kernel/config"
make -s -C "$tree" tinyconfig >/dev/null
opts=$(sed -n 's/^CONFIG_\([A-Z0-9_]*\)=y$/\1/p' "$here/config")
for o in $opts; do
	"$tree/scripts/config" --file "$tree/.config" -e "$o"
done
make -s -C "$tree" olddefconfig >/dev/null
for o in IOMMUFD IOMMUFD_TEST IOMMU_IOPF; do
	grep -qx "CONFIG_$o=y" "$tree/.config" || {
		echo "build-kernel.sh: CONFIG_$o=y did not survive olddefconfig" >&2
		exit 1
	}
done
for o in $opts; do
	grep -qx "CONFIG_$o=y" "$tree/.config" ||
		echo "# note: CONFIG_$o is not set in the final .config"
done

echo "# compiling bzImage with -j$jobs"
start=$(date +%s)
make -s -C "$tree" -j"$jobs" bzImage >"$tmp/build.log" 2>&1 || {
	tail -n 40 "$tmp/build.log" >&2
	exit 1
}
echo "# bzImage built in $(($(date +%s) - start)) s"
make -s -C "$tree" headers_install INSTALL_HDR_PATH="$tmp/usr" >/dev/null

cp "$tree/arch/x86/boot/bzImage" "$tmp/bzImage"
cp "$tree/.config" "$tmp/config"
rm -rf "$tree" "$tmp/build.log"
mv -T "$tmp" "$dest"	# fails, leaving DEST alone, if another build won
trap - EXIT
