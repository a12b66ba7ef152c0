# tests/kernel/common.sh: sourced by run.sh.  Which kernels, and where each
# is cached.  A kernel is named by its series (6.12, 7.3, ...); its key
# changes with the source package's version, the config fragment, its
# patch and the build script, so any of them changing rebuilds it.

KDIR=${KDIR:-$(cd "$(dirname "$0")" && pwd)}
CACHE_ROOT=${XDG_CACHE_HOME:-$HOME/.cache}/iopftool

# patch_for SERIES: mock-partial-iopf-SERIES.patch, else the patch of the
# newest series below SERIES (a newer kernel is tried with the last port).
patch_for() {
	local p best=
	[ -f "$KDIR/mock-partial-iopf-$1.patch" ] && { echo "$KDIR/mock-partial-iopf-$1.patch"; return; }
	best=$(for p in "$KDIR"/mock-partial-iopf-*.patch; do
		p=${p##*/mock-partial-iopf-}; echo "${p%.patch}"
	done | { cat; echo "$1"; } | sort -V | sed -n "/^$1\$/q;p" | tail -n 1)
	[ -n "$best" ] && echo "$KDIR/mock-partial-iopf-$best.patch"
}

# extra_config_for SERIES: the fragment added to tests/kernel/config:
# config-ftrace for Debian 12's 6.12 (no BTF: it keeps the tap's no-BTF path
# tested), config-btf for every newer series.
extra_config_for() {
	if [ "$1" = 6.12 ]; then echo "$KDIR/config-ftrace"; else echo "$KDIR/config-btf"; fi
}

# kernel_key SERIES PACKAGE-VERSION PATCH
kernel_key() {
	{
		echo "linux-source-$1 $2"
		# comments do not make a new kernel
		grep -hv "^#" "$KDIR/config" $(extra_config_for "$1")
		cat "$3" "$KDIR/build-kernel.sh"
	} | sha256sum | cut -c1-16
}

# The real-path tier's qemu (build-qemu.sh): qemu_patch_for VERSION names
# tests/kernel/qemu-iopf-X.Y.patch for Debian's qemu VERSION (1:10.2.2+ds-1
# -> 10.2), qemu_key VERSION PATCH hashes the source version, the patch and
# build-qemu.sh (which holds the configure flags).
qemu_patch_for() {
	local v=${1#*:}
	v=$(echo "$v" | cut -d. -f1-2)
	[ -f "$KDIR/qemu-iopf-$v.patch" ] && echo "$KDIR/qemu-iopf-$v.patch"
}

qemu_key() {
	{
		echo "qemu $1"
		cat "$2" "$KDIR/build-qemu.sh"
	} | sha256sum | cut -c1-16
}
