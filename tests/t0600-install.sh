#!/bin/sh
# libiopf as another program meets it: `make install` into a DESTDIR, then
# every examples/*.c built with nothing but the installed iopf.h and
# `pkg-config --cflags --libs iopf`, run against the installed libiopf.so.
. "$(dirname "$0")/lib.sh"

BUILD=$(cd "$(dirname "$IOPFTOOL")" && pwd)
ROOT=$TRASH/root
case $BUILD in
*/build-san*) ;;	# a sanitizer build's library needs the sanitizer runtime first
*) test_set_prereq PLAIN_BUILD ;;
esac
command -v pkg-config >/dev/null && test_set_prereq PKG_CONFIG

ipc() {
	PKG_CONFIG_PATH=$ROOT/usr/lib/pkgconfig PKG_CONFIG_LIBDIR=$ROOT/usr/lib/pkgconfig \
		PKG_CONFIG_SYSROOT_DIR=$ROOT pkg-config "$@"
}

test_expect_success PLAIN_BUILD 'make install DESTDIR= prefix=/usr installs the library' '
	make -s -C "$SRC_DIR" O="$BUILD" DESTDIR="$ROOT" prefix=/usr install >install.log 2>&1 ||
		{ cat install.log; exit 1; }
	for f in bin/iopftool include/iopf.h lib/libiopf.a lib/libiopf.so \
		 lib/pkgconfig/iopf.pc share/man/man8/iopftool.8 share/man/man5/iopftool-capture.5; do
		test -e "$ROOT/usr/$f" || { echo "missing /usr/$f"; exit 1; }
	done
'

test_expect_success PLAIN_BUILD 'the example unit is installed (not enabled), naming the installed binary' '
	u=$ROOT/usr/share/doc/iopftool/examples/iopftool-tap.service &&
	grep "^ExecStart=/usr/bin/iopftool " "$u" &&
	test -f "$ROOT/usr/share/doc/iopftool/examples/iopftool-alerts.yml" &&
	! find "$ROOT" -path "*systemd*" | grep .
'

test_expect_success PLAIN_BUILD 'libiopf.so carries its soname and exports only iopf.h' '
	so=$(readlink -f "$ROOT/usr/lib/libiopf.so") &&
	objdump -p "$so" | grep -q "SONAME *libiopf\.so\.[0-9]" &&
	nm -D --defined-only "$so" | sed -n "s/.* T //p" >exported &&
	grep -qx iopf_reader_open exported &&
	! grep -qx iopf_fail exported &&
	! grep -v "^iopf_" exported
'

test_expect_success PLAIN_BUILD,PKG_CONFIG 'iopf.pc names the installed header and library' '
	ipc --exists iopf &&
	ipc --cflags iopf | grep -q -- "-I$ROOT/usr/include" &&
	ipc --libs iopf | grep -q -- "-liopf"
'

test_expect_success PLAIN_BUILD,PKG_CONFIG 'iopf.h compiles alone, in C11 and with -Wall -Wextra -Werror' '
	printf "#include <iopf.h>\nint main(void) { return IOPF_FAULT_SIZE != 40; }\n" >alone.c &&
	cc -std=c11 -Wall -Wextra -Werror $(ipc --cflags iopf) alone.c -o alone $(ipc --libs iopf) &&
	LD_LIBRARY_PATH=$ROOT/usr/lib ./alone
'

for ex in "$SRC_DIR"/examples/*.c; do
	name=$(basename "$ex" .c)
	args=
	[ "$name" = replay-capture ] && args=$CAPTURES/interleaved.pcap
	test_expect_success PLAIN_BUILD,PKG_CONFIG "examples/$name.c builds with pkg-config and runs" '
		cc -Wall -Wextra -Werror $(ipc --cflags iopf) "$ex" -o "$name" $(ipc --libs iopf) &&
		LD_LIBRARY_PATH=$ROOT/usr/lib ./"$name" $args >"$name.out" &&
		grep -q "\"ok\":true" "$name.out"
	'
done

test_expect_success PLAIN_BUILD,PKG_CONFIG 'the replay example counts a handler that echoes grpid' '
	export LD_LIBRARY_PATH=$ROOT/usr/lib &&
	test_expect_code 1 ./replay-capture "$CAPTURES/demo.pcap" echo-grpid >bad.out &&
	grep -q "\"grpid_echo\":[1-9]" bad.out
'

test_done
