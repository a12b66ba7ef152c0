#!/bin/sh
# record -C/-G/-W (rotation, tcpdump's conventions), SIGHUP, a full disk
# during rotation, and constant memory over 10 M faults with rotation and
# metrics on (iopftool-record(8) "ROTATION").
. "$(dirname "$0")/lib.sh"

case $IOPFTOOL in
*-san/*|*valgrind*) ;;
*) test_set_prereq PLAIN ;;
esac

# the files of a rotated run, in the order they were written (file_seq=)
in_order() {
	for f in "$@"; do
		printf '%s %s\n' "$(iopftool read --type meta "$f" | sed -n 's/.* file_seq=\([0-9]*\).*/\1/p;s/^file_seq=//p' | head -n 1)" "$f"
	done | sort -n | cut -d" " -f2
}

# sum KEY FILE...: the sum of KEY= over the META end records of the files
sum_end() {
	key=$1; shift
	for f in "$@"; do iopftool -j read --type meta "$f"; done |
		sed -n "s/.*\"end\":\"1\".*\"$key\":\"\([0-9]*\)\".*/\1/p" |
		awk '{ s += $1 } END { print s + 0 }'
}

test_expect_success 'record -C under load: every file whole, totals of all = one long run' '
	iopftool record --source sim --gen-groups 30000 --gen-rate 1000000000 -C 100k -w rot.pcap 2>err &&
	grep "30000 groups" err &&
	n=$(ls rot.pcap* | wc -l) && test "$n" -gt 10 &&
	test -f rot.pcap && test -f rot.pcap1 && ! test -f rot.pcap0 &&
	for f in rot.pcap*; do
		iopftool stats "$f" >s.$f 2>&1 && grep "complete (META end=1)" s.$f &&
		test "$(sum_end faults "$f")" = "$(sed -n "s/.*, faults \([0-9]*\), groups.*/\1/p" s.$f)" &&
		test "$(sum_end responses "$f")" = "$(sed -n "s/.*, responses \([0-9]*\)\$/\1/p" s.$f)" &&
		iopftool read --type meta "$f" | grep -q "^.*source=sim" || { echo "$f"; exit 1; }
	done &&
	iopftool stats $(in_order rot.pcap*) >all &&
	iopftool record --source sim --gen-groups 30000 --gen-rate 1000000000 -w one.pcap 2>/dev/null &&
	iopftool stats one.pcap >one &&
	grep "^records" one | sed "s/records [0-9]*, //" >want &&
	grep "^records" all | sed "s/records [0-9]*, //" >got &&
	test_cmp want got &&
	grep "groups 30000, incomplete groups 0, responses 30000" all &&
	test "$(sum_end groups rot.pcap*)" = 30000 &&
	test "$(sum_end faults rot.pcap*)" = "$(sed -n "s/.*faults \([0-9]*\), groups.*/\1/p" one)" &&
	test "$(sum_end responses rot.pcap*)" = 30000
'

test_expect_success 'stats --check of the files in glob order: one recording, as one long run' '
	iopftool -j stats --check one.pcap >want.json &&
	iopftool -j stats --check rot.pcap* >got.json 2>err &&
	! test -s err &&
	for k in groups faults responses ok; do
		sed -n "s/.*\"$k\": *\([a-z0-9]*\).*/\1/p" want.json | head -n 1 >k.want &&
		sed -n "s/.*\"$k\": *\([a-z0-9]*\).*/\1/p" got.json | head -n 1 >k.got &&
		test -s k.want && test_cmp k.want k.got || exit 1
	done &&
	grep -q "\"ok\": *true" got.json &&
	iopftool stats rot.pcap* | grep "^records" | sed "s/records [0-9]*, //" >got &&
	test_cmp want got
'

test_expect_success 'stats --check of a recording with a file missing, or not from its first: said, judged apart' '
	set -- $(in_order rot.pcap*) && first=$1 && shift && gap=$2 && shift 3 &&
	test_expect_code 1 iopftool stats --check "$first" "$gap" "$@" >s 2>err &&
	grep -q "^iopftool: warning: $1: file [0-9]* of its recording follows file [0-9]* ($gap): the files between are missing" err &&
	test_expect_code 1 iopftool stats --check "$gap" "$@" >s 2>err &&
	grep -q "^iopftool: warning: $gap: file 2 of its recording, the first given: the files before it are gone" err
'

test_expect_success 'record -C: a file ends at a group boundary, a little past SIZE' '
	for f in rot.pcap*; do
		iopftool read "$f" | grep -q " fault " || continue
		iopftool read "$f" | grep " fault " | tail -n 1 | grep -q "LAST_PAGE\|last" ||
			{ echo "$f: last fault not LAST_PAGE"; iopftool read "$f" | grep " fault " | tail -n 1; exit 1; }
	done &&
	for f in $(in_order rot.pcap* | sed "\$d"); do
		s=$(stat -c %s "$f") && test "$s" -ge 102400 && test "$s" -lt 204800 || { echo "$f $s"; exit 1; }
	done
'

test_expect_success 'record -C -W 3: names 0..2, at most 3 files, the newest kept' '
	mkdir w && iopftool -q record --source sim --gen-groups 20000 --gen-rate 1000000000 -C 64k -W 3 \
		-w w/c.pcap &&
	ls w >names && printf "c.pcap0\nc.pcap1\nc.pcap2\n" >want && test_cmp want names &&
	for f in w/*; do iopftool stats "$f" | grep -q "complete (META end=1)" || exit 1; done &&
	iopftool stats $(in_order w/*) | grep "incomplete groups 0" &&
	last=$(in_order w/* | tail -n 1) &&
	iopftool read --type meta "$last" | grep end=1
'

test_expect_success 'record -G with a strftime name and -W 2: stops after 2 files, exit 0' '
	mkdir g && iopftool -q record --source sim --gen-rate 1000 -G 300ms -W 2 -w "g/cap-%Y%m%d-%H%M%S.pcap" &&
	test "$(ls g | wc -l)" = 2 &&
	ls g | grep -E "^cap-[0-9]{8}-[0-9]{6}\.pcap(\.1)?$" &&
	for f in g/*; do iopftool stats "$f" | grep -q "complete (META end=1)" || exit 1; done
'

test_expect_success 'record -G without a pattern numbers its files (never overwrites)' '
	iopftool -q record --source sim --gen-rate 1000 -G 200ms --duration 700ms -w gn.pcap &&
	test -f gn.pcap && test -f gn.pcap1 && test -f gn.pcap2
'

test_expect_success 'usage: -W needs -C or -G; -w - cannot rotate; bad sizes' '
	test_expect_code 64 iopftool record -w x.pcap -W 3 2>err && grep "needs -C or -G" err &&
	test_expect_code 64 iopftool record -w - -C 1 2>err && grep "cannot be rotated" err &&
	test_expect_code 64 iopftool record -w x.pcap -C 0 2>err &&
	test_expect_code 64 iopftool record -w x.pcap -C 1x 2>err &&
	test_expect_code 64 iopftool record -w x.pcap -G 0 2>err &&
	test_expect_code 64 iopftool record -w x.pcap -G 1ns --duration 1s 2>err &&
	grep -q "^iopftool record: -G: at least 100ms" err &&
	test_expect_code 64 iopftool record -w x.pcap -G 99ms --duration 1s 2>err &&
	! test -e x.pcap && ! test -e x.pcap1
'

test_expect_success 'SIGHUP: the file moved away (logrotate) is complete, the name reopened' '
	"$IOPFTOOL" record --source sim --gen-rate 2000 --duration 30s -w hup.pcap 2>err &
	pid=$! &&
	test_wait_for 10 test -s hup.pcap &&
	sleep 0.5 && mv hup.pcap hup.pcap.1 && kill -HUP $pid &&
	test_wait_for 10 test -e hup.pcap && sleep 0.5 && kill -TERM $pid && wait $pid &&
	iopftool stats hup.pcap.1 | grep "complete (META end=1)" &&
	iopftool stats hup.pcap | grep "complete (META end=1)" &&
	iopftool read --type meta hup.pcap | grep "file_seq=1" &&
	a=$(sum_end groups hup.pcap.1 hup.pcap) &&
	grep "sim: $a groups" err
'

test_expect_success 'a file size limit hit in a rotated file: exit 2, named, no torn file' '
	mkdir fd &&
	( trap "" XFSZ; ulimit -f 200 &&
	  exec "$IOPFTOOL" record --source sim --gen-groups 200000 --gen-rate 1000000000 -C 150k -w fd/c.pcap ) 2>err;
	test $? = 2 && cat err &&
	test "$(grep -c "write error: File too large" err)" = 1 && grep "fd/c.pcap" err &&
	for f in fd/*; do
		iopftool stats "$f" >s 2>e || { cat e; exit 1; }
		grep "cut short (no META end=1)" s && ! grep -i torn e || exit 1
	done
'

if [ "$(id -u)" = 0 ] && mkdir tmpfs && mount -t tmpfs -o size=1m iopftool-test tmpfs 2>/dev/null; then
	test_set_prereq TMPFS
	trap 'umount "$TRASH/tmpfs" 2>/dev/null; cd / && rm -rf "$TRASH"' EXIT
fi

test_expect_success TMPFS 'a full disk (1 MB tmpfs) during rotation: exit 2, earlier files whole, the last cut short' '
	test_expect_code 2 "$IOPFTOOL" record --source sim --gen-groups 200000 --gen-rate 1000000000 \
		-C 100k -w tmpfs/c.pcap 2>err && cat err &&
	grep "write error: No space left on device" err &&
	n=$(ls tmpfs | wc -l) && test "$n" -gt 3 &&
	complete=0 && for f in tmpfs/*; do
		iopftool stats "$f" >s 2>e || { cat e; exit 1; }
		! grep -i torn e || exit 1
		if grep -q "complete (META end=1)" s; then complete=$((complete + 1)); fi
	done &&
	echo "$n files, $complete complete" && test "$complete" -ge $((n - 2))
'

test_expect_success 'full disk (/dev/full) on the first file: exit 2' '
	test_expect_code 2 iopftool record -w /dev/full -C 1k -c 2000 --gen-rate 100000 2>err &&
	grep "write error" err
'

test_expect_success PLAIN '10 M faults with -C/-W and metrics on: the same peak memory as 1 M' '
	mkdir -p m &&
	set -- $("$HELPERS/runstat" "$IOPFTOOL" -q record --source sim --gen-groups 400000 \
		--gen-group-size 1-4 --gen-rate 1000000000 -C 8m -W 2 -w m/a.pcap \
		--metrics m/a.prom --metrics-listen 127.0.0.1:0 2>&1 >/dev/null | tail -n 1) &&
	a=$2 && test "$3" = 0 &&
	set -- $("$HELPERS/runstat" "$IOPFTOOL" -q record --source sim --gen-groups 4000000 \
		--gen-group-size 1-4 --gen-rate 1000000000 -C 8m -W 2 -w m/b.pcap \
		--metrics m/b.prom --metrics-listen 127.0.0.1:0 2>&1 >/dev/null | tail -n 1) &&
	b=$2 && test "$3" = 0 &&
	faults=$(sed -n "s/^iopf_faults_total{.*} //p" m/b.prom | awk "{ s += \$1 } END { print s }") &&
	echo "peak RSS: 1 M faults $a KiB, $faults faults $b KiB" &&
	test "$faults" -ge 9000000 &&
	test "$b" -le $((a + 4096))
' 

test_done
