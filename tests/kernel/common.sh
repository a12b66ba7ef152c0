# tests/kernel/common.sh: sourced by run.sh.  Where the test kernel is cached.
# The key changes with the kernel source package, the config fragment, the
# patch and the build script, so any of them changing rebuilds the kernel.
kernel_key() {
	{
		dpkg-query -W -f='${Package} ${Version}\n' linux-source-6.12
		cat "$KDIR/config" "$KDIR/mock-partial-iopf.patch" "$KDIR/build-kernel.sh"
	} | sha256sum | cut -c1-16
}

KDIR=${KDIR:-$(cd "$(dirname "$0")" && pwd)}
CACHE_ROOT=${XDG_CACHE_HOME:-$HOME/.cache}/iopftool
