#!/bin/sh
# iopftool generate: determinism, counts, META first and last, options.
test_description='iopftool generate'
. "$(dirname "$0")/lib.sh"

HELPERS=${HELPERS:-$(dirname "$IOPFTOOL")/tests/helpers}
JG=$HELPERS/json-get

test_expect_success 'same seed: identical bytes' '
	iopftool generate -w a.pcap --seed 42 --groups 500 --group-size 1-4 --devs 3 --pasids 4 &&
	iopftool generate -w b.pcap --seed 42 --groups 500 --group-size 1-4 --devs 3 --pasids 4 &&
	cmp a.pcap b.pcap
'

test_expect_success 'different seed: different bytes' '
	iopftool generate -w c.pcap --seed 43 --groups 500 --group-size 1-4 --devs 3 --pasids 4 &&
	! cmp -s a.pcap c.pcap
'

test_expect_success 'same seed, every option: identical bytes' '
	set -- --seed 9 --groups 300 --group-size 2-5 --devs 2 --pasids 3 --pasid-less 0.3 \
		--rate 50000 --grpid-reuse 0.2 --grpid-bits 4 --latency 40us \
		--unknown-flags 0x4 --bug duplicate --bug-every 7 --lost-every 50 &&
	iopftool generate -w d1.pcap "$@" && iopftool generate -w d2.pcap "$@" &&
	cmp d1.pcap d2.pcap
'

test_expect_success 'generate to stdout equals generate to a file' '
	iopftool generate -w - --seed 42 --groups 500 --group-size 1-4 --devs 3 --pasids 4 >s.pcap &&
	cmp a.pcap s.pcap
'

test_expect_success 'META first: tool, version, source, seed, kernel, fault_record_size' '
	iopftool -j read -c 1 a.pcap >m &&
	test "$("$JG" m type)" = meta && test "$("$JG" m seq)" = 0 &&
	test "$("$JG" m meta.tool)" = iopftool &&
	test -n "$("$JG" m meta.version)" &&
	test "$("$JG" m meta.source)" = generate &&
	test "$("$JG" m meta.seed)" = 42 &&
	test "$("$JG" m meta.kernel)" = none &&
	test "$("$JG" m meta.fault_record_size)" = 40
'

test_expect_success 'META end=1 last, with counts that match the records' '
	iopftool -j read a.pcap >all &&
	tail -n 1 all >e &&
	test "$("$JG" e meta.end)" = 1 &&
	test "$("$JG" e meta.groups)" = 500 &&
	test "$("$JG" e meta.responses)" = 500 &&
	test "$("$JG" e meta.lost)" = 0 &&
	f=$("$JG" e meta.faults) &&
	test "$(grep -c "\"type\":\"fault\"" all)" -eq "$f" &&
	test "$(grep -c "\"type\":\"response\"" all)" -eq 500
'

test_expect_success 'counts: groups, group size, devices, PASIDs' '
	iopftool generate -w n.pcap --seed 1 --groups 200 --group-size 3 --devs 2 --pasids 3 &&
	iopftool -j stats n.pcap >s &&
	test "$("$JG" s faults)" = 600 && test "$("$JG" s groups)" = 200 &&
	test "$("$JG" s devices.1.dev_id)" = 2 && ! "$JG" s devices.2 &&
	test "$("$JG" s pasids.2.pasid)" = 3 && ! "$JG" s pasids.3 &&
	test "$("$JG" s incomplete_groups)" = 0
'

test_expect_success 'timestamps start at 2026-01-01T00:00:00Z' '
	iopftool -j read -c 2 n.pcap >t &&
	sed -n 2p t >f &&
	test "$("$JG" f time)" = 2026-01-01T00:00:00.000000000Z
'

test_expect_success 'cookies are the queue model: lowest free, reused after the answer' '
	iopftool generate -w slow.pcap --seed 2 --groups 50 --rate 100 --latency 10us &&
	iopftool -j read --type fault slow.pcap >f &&
	test "$(grep -c "\"cookie\":1}" f)" -eq 50
'

test_expect_success 'overlapping groups get distinct cookies' '
	iopftool generate -w fast.pcap --seed 2 --groups 200 --rate 1000000 --latency 50us &&
	iopftool -j read --type fault fast.pcap >f &&
	grep -q "\"cookie\":5}" f &&
	test_expect_code 0 iopftool stats --check fast.pcap >/dev/null
'

test_expect_success '--unknown-flags on PASID faults shows in flags' '
	iopftool generate -w u.pcap --seed 3 --groups 10 --pasids 2 --unknown-flags 0x4 &&
	iopftool -j read --type fault u.pcap >f &&
	test "$(sed -n 1p f | "$JG" - flags)" = 7
'

test_expect_success '--pasid-less mixes PASID and PASID-less groups' '
	iopftool generate -w pl.pcap --seed 3 --groups 100 --pasids 2 --pasid-less 0.5 &&
	iopftool -j stats pl.pcap >s &&
	test "$("$JG" s pasids.2.pasid_valid)" = false &&
	test "$("$JG" s pasids.2.groups)" -gt 20
'

test_expect_success '--lost-every N: a LOST record instead of every Nth record' '
	iopftool generate -w l.pcap --seed 6 --groups 10 --lost-every 4 &&
	iopftool -j read l.pcap >all &&
	test "$(sed -n 5p all | "$JG" - type)" = lost &&
	test "$(sed -n 5p all | "$JG" - count)" = 1 &&
	tail -n 1 all | "$JG" - meta.lost >n &&
	test "$(grep -c "\"type\":\"lost\"" all)" -eq "$(cat n)"
'

test_expect_success '--linktype is written and read back' '
	iopftool generate -w lt.pcap --groups 3 --linktype 150 &&
	iopftool read lt.pcap >/dev/null &&
	test_expect_code 64 iopftool generate -w x.pcap --linktype 1
'

test_expect_success 'usage errors exit 64' '
	test_expect_code 64 iopftool generate &&
	test_expect_code 64 iopftool generate -w x.pcap --bug nonsense &&
	test_expect_code 64 iopftool generate -w x.pcap --group-size 5-2 &&
	test_expect_code 64 iopftool generate -w x.pcap --group-size 0 &&
	test_expect_code 64 iopftool generate -w x.pcap --latency 5 &&
	test_expect_code 64 iopftool generate -w x.pcap --bug-every 0 &&
	test_expect_code 64 iopftool generate -w x.pcap --grpid-reuse 2 &&
	test_expect_code 64 iopftool generate -w x.pcap extra-arg
'

test_expect_success 'unwritable output: exit 2, names the file' '
	test_expect_code 2 iopftool generate -w no-such-dir/x.pcap 2>err &&
	grep "no-such-dir/x.pcap" err
'

test_expect_success 'full disk: exit 2' '
	test_expect_code 2 iopftool generate -w /dev/full --groups 2000 2>err &&
	test -s err
'

test_expect_success '--usage lists every long option' '
	iopftool generate --usage >out &&
	for o in write seed groups group-size devs pasids pasid-less rate grpid-reuse \
		grpid-bits latency unknown-flags bug bug-every linktype lost-every; do
		grep -q -- "--$o" out || { echo "missing --$o"; exit 1; }
	done
'

test_done
