#!/bin/sh
# The VM tier's kernel sources.
#   tests/kernel/fetch-source.sh list          one line per kernel the tier tests:
#                                              "SERIES PACKAGE-VERSION TARBALL"
#   tests/kernel/fetch-source.sh fetch         download the newest backports source
#   tests/kernel/fetch-source.sh qemu          download Debian's qemu source (the newest
#                                              >= 10.2 the mirror serves) and bookworm-
#                                              backports' meson .deb, for build-qemu.sh
#   tests/kernel/fetch-source.sh list-qemu     "VERSION DSC MESON-DEB" of the cached ones
#
# Two kernels are tested:
#  - 6.12: Debian 12's own linux-source-6.12 (installed by scripts/deps.sh,
#    /usr/src/linux-source-6.12.tar.xz);
#  - the newest linux-source-X.Y in Debian's trixie-backports suite (7.3 when
#    this was written).  It is a source tarball in an "all" package: it is
#    downloaded with `apt-get download` through a private sources list and
#    private package lists in the cache, unpacked there with `dpkg -x`, and
#    never installed, so the machine's apt configuration is not touched.
#    The mirror is the one this machine's apt uses for Debian.
# Cache: ${XDG_CACHE_HOME:-~/.cache}/iopftool/src/.  `fetch` asks the mirror
# for the newest version (a few seconds); when the mirror cannot be reached,
# the newest source already in the cache is used.
set -eu
CACHE_ROOT=${XDG_CACHE_HOME:-$HOME/.cache}/iopftool
here=$(cd "$(dirname "$0")" && pwd)
src=$CACHE_ROOT/src
apt_dir=$src/apt
suite=${IOPF_BACKPORTS_SUITE:-trixie-backports}

# The Debian mirror this machine's apt uses (deb822 URIs: or one-line deb).
mirror() {
	local m
	m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
		awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /debian\/?$/) { print $i; exit } }')
	[ -n "$m" ] || m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:.*debian\/?$/) { print $i; exit } }')
	echo "${m:-http://deb.debian.org/debian}"
}

# apt_opts [DIR]: apt options for a private sources list and lists in DIR
apt_opts() {
	local d=${1:-$apt_dir}
	echo "-o Dir::Etc::sourcelist=$d/sources.list -o Dir::Etc::sourceparts=-" \
	     "-o Dir::State::Lists=$d/lists -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=" \
	     "-o Dir::Cache::archives=$d/archives -o Debug::NoLocking=1 -o APT::Sandbox::User=root"
}

# The newest linux-source-X.Y in the suite: "PACKAGE VERSION"
newest() {
	# shellcheck disable=SC2046
	apt-cache $(apt_opts) dumpavail 2>/dev/null | awk '
		/^Package: linux-source-[0-9]+\.[0-9]+$/ { p = $2 }
		/^Version: / && p { s = p; sub(/^linux-source-/, "", s); print s, p, $2; p = "" }' |
	sort -k1,1V -k3,3V | tail -n 1 | cut -d" " -f2-
}

fetch() {
	local pkg ver series dir deb
	mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
	exec 8>"$src/.lock"	# one fetch at a time (several checkouts share the cache)
	flock 8
	printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
		"$(mirror)" "$suite" >"$apt_dir/sources.list"
	# shellcheck disable=SC2046
	if ! apt-get $(apt_opts) update -qq >"$apt_dir/update.log" 2>&1; then
		echo "fetch-source.sh: apt-get update of $suite failed (offline?); using the cache" >&2
		return 0
	fi
	set -- $(newest)
	[ $# -eq 2 ] || { echo "fetch-source.sh: no linux-source-X.Y in $suite" >&2; return 0; }
	pkg=$1 ver=$2 series=${1#linux-source-}
	dir=$src/$pkg-$ver
	[ -f "$dir/usr/src/$pkg.tar.xz" ] && return 0
	echo "# downloading $pkg $ver from $suite" >&2
	rm -rf "$src/dl.$$" && mkdir -p "$src/dl.$$"
	# shellcheck disable=SC2046
	(cd "$src/dl.$$" && apt-get $(apt_opts) download -qq "$pkg=$ver" >&2) || {
		rm -rf "$src/dl.$$"; echo "fetch-source.sh: download of $pkg $ver failed" >&2; return 1; }
	deb=$(ls "$src/dl.$$"/*.deb)
	mkdir -p "$src/dl.$$/x"
	dpkg -x "$deb" "$src/dl.$$/x"
	[ -f "$src/dl.$$/x/usr/src/$pkg.tar.xz" ] || {
		echo "fetch-source.sh: $deb has no usr/src/$pkg.tar.xz" >&2; rm -rf "$src/dl.$$"; return 1; }
	rm -rf "$dir"
	mv "$src/dl.$$/x" "$dir"
	rm -rf "$src/dl.$$"
	# keep only the newest download of each series
	for old in "$src/$pkg"-*; do
		[ "$old" = "$dir" ] || rm -rf "$old"
	done
	echo "# $series: $ver" >&2
}

list() {
	local v d best=
	v=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || true)
	[ -n "$v" ] && [ -r /usr/src/linux-source-6.12.tar.xz ] &&
		echo "6.12 $v /usr/src/linux-source-6.12.tar.xz"
	# the newest cached backports source
	for d in "$src"/linux-source-*; do
		[ -d "$d" ] || continue
		best="$best${best:+
}$(basename "$d")"
	done
	[ -n "$best" ] || return 0
	d=$(printf '%s\n' "$best" | sed 's/^linux-source-//' | sort -V | tail -n 1)
	series=${d%%-*}
	echo "$series ${d#*-} $src/linux-source-$d/usr/src/linux-source-$series.tar.xz"
}

# QEMU for the real-path tier (build-qemu.sh).  Its own private list
# ($src/apt-qemu: deb-src of sid and trixie-backports for qemu, deb of
# bookworm-backports for meson), so the kernel's list above is unchanged.
# Versions are tried newest first, among those with a test patch
# (tests/kernel/qemu-iopf-X.Y.patch); a 404 (the mirror lists a version whose
# files it does not serve) moves on to the next, down to 10.2 (the first
# Debian qemu with the PCI ATS/PRI API the test device needs).
qemu_fetch() {
	local d=$src/apt-qemu v dir m qs
	mkdir -p "$d/lists/partial" "$d/archives/partial"
	exec 8>"$src/.lock"
	flock 8
	{
		for s in sid trixie-backports; do
			printf 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' "$(mirror)" "$s"
		done
		printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s bookworm-backports main\n' "$(mirror)"
	} >"$d/sources.list"
	# shellcheck disable=SC2046
	# One suite that does not update (offline, or an expired Release file
	# on a mirror that lags) leaves the others usable: go on with what did.
	if ! apt-get $(apt_opts "$d") update -qq >"$d/update.log" 2>&1; then
		echo "fetch-source.sh: apt-get update for qemu: $(grep -m1 '^E:' "$d/update.log" || echo failed)" >&2
		ls "$d"/lists/*_Sources* >/dev/null 2>&1 || {
			echo "fetch-source.sh: no qemu source list could be had (offline?); using the cache" >&2
			return 0
		}
		echo "fetch-source.sh: going on with the suites that did update" >&2
	fi
	# meson >= 1.5: bookworm-backports' (pure Python, unpacked by build-qemu.sh)
	m=$(apt-cache $(apt_opts "$d") madison meson 2>/dev/null | awk -F' [|] ' '$3 ~ /bookworm-backports/ { print $2; exit }')
	# shellcheck disable=SC2046
	if [ -n "$m" ] && [ ! -f "$src/meson/meson_${m#*:}_all.deb" ]; then
		rm -rf "$src/meson" && mkdir -p "$src/meson"
		# shellcheck disable=SC2046
		(cd "$src/meson" && apt-get $(apt_opts "$d") download -qq "meson=$m" >&2) ||
			echo "fetch-source.sh: download of meson $m failed" >&2
	fi
	# shellcheck disable=SC2046
	for v in $(apt-cache $(apt_opts "$d") showsrc qemu 2>/dev/null | sed -n 's/^Version: //p' | sort -urV); do
		case ${v#*:} in
		[0-9].*|10.[01].*) continue ;;	# older than 10.2
		esac
		# only a version the project's test patch is written for
		qs=$(echo "${v#*:}" | cut -d. -f1-2)
		if [ ! -f "$here/qemu-iopf-$qs.patch" ]; then
			echo "# qemu $v: no tests/kernel/qemu-iopf-$qs.patch, trying an older one" >&2
			continue
		fi
		dir=$src/qemu-${v#*:}
		[ -f "$dir/ok" ] && return 0
		echo "# downloading qemu $v source" >&2
		rm -rf "$dir" && mkdir -p "$dir"
		# shellcheck disable=SC2046
		if (cd "$dir" && apt-get $(apt_opts "$d") source --download-only -qq "qemu=$v" >"$dir/download.log" 2>&1); then
			touch "$dir/ok"
			for old in "$src"/qemu-*; do
				[ "$old" = "$dir" ] || rm -rf "$old"
			done
			echo "# qemu source: $v" >&2
			return 0
		fi
		echo "# qemu $v: $(grep -m1 -o '[0-9][0-9][0-9] *Not Found' "$dir/download.log" || echo failed), trying an older one" >&2
		rm -rf "$dir"
	done
	echo "fetch-source.sh: no qemu source >= 10.2 could be downloaded" >&2
	return 0
}

qemu_list() {
	local d best= dsc deb
	for d in "$src"/qemu-*; do
		[ -f "$d/ok" ] && best="$best${best:+
}${d##*/qemu-}"
	done
	[ -n "$best" ] || return 0
	best=$(printf '%s\n' "$best" | sort -V | tail -n 1)
	dsc=$(ls "$src/qemu-$best"/*.dsc 2>/dev/null | head -n 1)
	deb=$(ls "$src"/meson/meson_*.deb 2>/dev/null | head -n 1)
	[ -n "$dsc" ] && [ -n "$deb" ] && echo "$best $dsc $deb"
	return 0
}

case ${1:-list} in
fetch)	fetch ;;
list)	list ;;
qemu)	qemu_fetch ;;
list-qemu) qemu_list ;;
*)	echo "usage: $0 list|fetch|qemu|list-qemu" >&2; exit 64 ;;
esac
