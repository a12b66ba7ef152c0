#!/bin/sh
# The VM tier's kernel sources.
#   tests/kernel/fetch-source.sh list          one line per kernel the tier tests:
#                                              "SERIES PACKAGE-VERSION TARBALL"
#   tests/kernel/fetch-source.sh fetch         download the newest backports source
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

apt_opts() {
	echo "-o Dir::Etc::sourcelist=$apt_dir/sources.list -o Dir::Etc::sourceparts=-" \
	     "-o Dir::State::Lists=$apt_dir/lists -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=" \
	     "-o Dir::Cache::archives=$apt_dir/archives -o Debug::NoLocking=1 -o APT::Sandbox::User=root"
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

case ${1:-list} in
fetch)	fetch ;;
list)	list ;;
*)	echo "usage: $0 list|fetch" >&2; exit 64 ;;
esac
