#!/bin/sh
# Build one of the VM tier's test kernels into DEST (must not exist):
#   tests/kernel/build-kernel.sh DEST TARBALL PATCH [EXTRA-CONFIG]
# TARBALL is a Debian linux-source-X.Y tarball (tests/kernel/fetch-source.sh
# lists them), PATCH the test patch for it (mock-partial-iopf-X.Y.patch),
# EXTRA-CONFIG a fragment applied after tests/kernel/config (config-btf).
# DEST gets bzImage, config (the final .config), usr/include (the kernel's
# uAPI headers from `make headers_install`) and version (`make kernelrelease`).
# The build runs in DEST.tmp.$$ and is renamed into place at the end, so an
# interrupted build leaves no half-made DEST.
# Needs (scripts/deps.sh kernel): gcc make bc bison flex libelf-dev rsync xz-utils,
# and pahole (dwarves) for config-btf.
set -eu
dest=${1:?usage: build-kernel.sh DEST TARBALL PATCH}
src_tar=${2:?usage: build-kernel.sh DEST TARBALL PATCH}
patch_file=${3:?usage: build-kernel.sh DEST TARBALL PATCH}
extra=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
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
start=$(date +%s)
tar -C "$tmp" -xf "$src_tar"
tree=$(echo "$tmp"/linux-source-*)
[ -d "$tree" ] || { echo "build-kernel.sh: no linux-source-* directory in $src_tar" >&2; exit 1; }
echo "# applying $(basename "$patch_file")"
(cd "$tree" && patch -p1 -s --no-backup-if-mismatch <"$patch_file") || {
	echo "build-kernel.sh: $(basename "$patch_file") does not apply to $src_tar" >&2
	exit 1
}

echo "# configuring: tinyconfig + tests/kernel/config${extra:+ + $(basename "$extra")}"
make -s -C "$tree" tinyconfig >/dev/null
opts=$(cat "$here/config" $extra | sed -n 's/^CONFIG_\([A-Z0-9_]*\)=y$/\1/p')
for o in $opts; do
	"$tree/scripts/config" --file "$tree/.config" -e "$o"
done
make -s -C "$tree" olddefconfig >/dev/null
must="IOMMUFD IOMMUFD_TEST IOMMU_IOPF VFIO_PCI VFIO_DEVICE_CDEV BPF_SYSCALL"
[ -z "$extra" ] || must="$must $(sed -n 's/^CONFIG_\([A-Z0-9_]*\)=y$/\1/p' "$extra")"
for o in $must; do
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
make -s -C "$tree" -j"$jobs" bzImage >"$tmp/build.log" 2>&1 || {
	tail -n 40 "$tmp/build.log" >&2
	exit 1
}
echo "# bzImage built in $(($(date +%s) - start)) s (unpacking included)"
make -s -C "$tree" headers_install INSTALL_HDR_PATH="$tmp/usr" >/dev/null

cp "$tree/arch/x86/boot/bzImage" "$tmp/bzImage"
cp "$tree/.config" "$tmp/config"
make -s -C "$tree" kernelrelease >"$tmp/version"
rm -rf "$tree" "$tmp/build.log"
mv -T "$tmp" "$dest"	# fails, leaving DEST alone, if another build won
trap - EXIT
