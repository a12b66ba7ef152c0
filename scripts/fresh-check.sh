#!/bin/sh
# Fresh-machine proof: README's two commands on a Debian 12 that has nothing
# installed beyond the base system and make.
#   scripts/fresh-check.sh [ROOT]     (as root; ROOT default /var/tmp/iopftool-fresh)
#
# 1. debootstrap a minimal bookworm root (--variant=minbase --include=make)
#    from the Debian mirror this machine's apt uses (scripts/deps.sh fresh
#    installs debootstrap);
# 2. copy a clean clone of this repository at HEAD (git clone; uncommitted
#    changes are not in it) into ROOT/work/iopftool, and ../shared beside it
#    when it exists;
# 3. chroot in (proc, sys, dev, dev/pts mounted; the host's kernel cache
#    ${XDG_CACHE_HOME:-~/.cache}/iopftool bind-mounted on the chroot's
#    /root/.cache/iopftool, so the test kernels are not rebuilt) and run
#    `make run`, then `make check`: they must install every package they
#    need themselves (scripts/deps.sh, as root in the chroot);
# 4. unmount everything on exit, whatever happened.  The debootstrapped
#    system is kept in ROOT.base and copied to ROOT for each run, so every
#    run starts from the bare base; FRESH_CLEAN=1 debootstraps it again.
# Exit status: that of `make check` (0 all passed), or 1 if a step before
# it failed.  /dev/kvm is not needed: the VM tier runs qemu under TCG.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && git rev-parse --show-toplevel)
root=${1:-/var/tmp/iopftool-fresh}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/iopftool
suite=bookworm

[ "$(id -u)" -eq 0 ] || { echo "fresh-check.sh: needs root (debootstrap, chroot, mounts)" >&2; exit 1; }
start=$(date +%s)
say() { echo "fresh-check: [$(($(date +%s) - start)) s] $*"; }

# The Debian mirror of this machine's apt (as tests/kernel/fetch-source.sh).
mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
	awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /debian\/?$/) { print $i; exit } }')
[ -n "$mirror" ] || mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
	awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:.*debian\/?$/) { print $i; exit } }')
mirror=${mirror:-http://deb.debian.org/debian}

mounts=
unmount_all() {
	for m in $mounts; do	# newest first
		umount -l "$m" 2>/dev/null || true
	done
	mounts=
}
trap 'unmount_all' EXIT
trap 'exit 1' INT TERM HUP
mnt() {	# mnt TARGET ARGS...: mount and remember (prepend: unmount in reverse)
	t=$1; shift
	mkdir -p "$t"
	mount "$@" "$t"
	mounts="$t $mounts"
}

"$here/deps.sh" fresh

# ROOT.base is the debootstrapped system, kept; every run starts from a
# copy of it in ROOT, so nothing a previous run installed is left.
base=$root.base
if [ "${FRESH_CLEAN:-0}" = 1 ] && [ -d "$base" ]; then
	say "removing the old base $base"
	rm -rf --one-file-system "$base"
fi
if [ ! -x "$base/usr/bin/make" ]; then
	rm -rf --one-file-system "$base"
	say "debootstrap $suite (minbase + make) from $mirror into $base"
	debootstrap --variant=minbase --include=make "$suite" "$base" "$mirror" >"$base.log" 2>&1 || {
		tail -n 30 "$base.log" >&2
		say "debootstrap failed"
		exit 1
	}
fi
say "fresh copy of $base in $root"
rm -rf --one-file-system "$root"
cp -a "$base" "$root"
# The chroot's apt uses this machine's Debian sources (bookworm, -updates,
# -security: linux-source-6.12 comes from bookworm-security), so it installs
# the same package versions and the kernel cache keys match.
if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1 &&
   grep -ls 'URIs:.*debian' /etc/apt/sources.list.d/*.sources >/dev/null; then
	: >"$root/etc/apt/sources.list"
	for f in $(grep -ls 'URIs:.*debian' /etc/apt/sources.list.d/*.sources); do
		cp "$f" "$root/etc/apt/sources.list.d/"
	done
else
	grep -hE '^deb .*debian' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		>"$root/etc/apt/sources.list" 2>/dev/null ||
		printf 'deb %s %s main\n' "$mirror" "$suite" >"$root/etc/apt/sources.list"
fi
# ... and its apt's Acquire settings (a machine of this kind may carry some,
# such as Check-Valid-Until for a mirror whose Release files lag), so apt
# in the chroot behaves as on a new machine of this kind.
for f in /etc/apt/apt.conf.d/*; do
	[ -f "$f" ] && grep -q '^[[:space:]]*Acquire::' "$f" && cp "$f" "$root/etc/apt/apt.conf.d/"
done
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true

say "cloning $(git -C "$repo" rev-parse --short HEAD) into $root/work/iopftool"
rm -rf "$root/work"
mkdir -p "$root/work"
git clone -q "$repo" "$root/work/iopftool"
if [ -d "$repo/../shared" ]; then
	cp -r "$repo/../shared" "$root/work/shared"
elif [ -d /work/shared ]; then
	cp -r /work/shared "$root/work/shared"
fi

mnt "$root/proc" -t proc proc
mnt "$root/sys" -t sysfs sysfs
mnt "$root/dev" --bind /dev
mnt "$root/dev/pts" --bind /dev/pts
mkdir -p "$cache"
mnt "$root/root/.cache/iopftool" --bind "$cache"

run() {	# run STEP: one README command in the chroot, as root, clean environment; its status
	say "chroot: make $1"
	rm -f "$root/tmp/make-$1.rc"
	chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		TERM=dumb LANG=C.UTF-8 /bin/sh -c "cd /work/iopftool && make $1; echo \$? >/tmp/make-$1.rc" 2>&1 |
		tee "$root.make-$1.log"
	return "$(cat "$root/tmp/make-$1.rc" 2>/dev/null || echo 1)"
}

chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin /bin/sh -c \
	'command -v gcc || echo "fresh-check: no compiler in the fresh root (as it should be)"'
run_rc=0 check_rc=0
run run || run_rc=$?
run check || check_rc=$?
last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$root.make-check.log" | tail -n 1)
say "make run: exit $run_rc; make check: exit $check_rc, ${last:-no summary line}"
say "logs: $root.make-run.log $root.make-check.log; took $(($(date +%s) - start)) s"
[ "$run_rc" -eq 0 ] && [ "$check_rc" -eq 0 ]
