#!/bin/sh
# iopftool against the kernel's real fault queue through the mock device:
# monitor, record (and read back), replay of the bundled captures with a
# correct handler and with every `handle --bug` mode (the kernel's EINVAL
# shows as status 22 and `rejected`/`bad_code`), all in busybox sh.
. /iopf/guest/lib/t.sh
need_iopftool
t 'monitor --source mock -c 5: five groups read and answered' '
	"$IOPFTOOL" monitor --source mock -c 5 --gen-rate 2000 >mon.txt 2>mon.err &&
	[ "$(grep -c " response " mon.txt)" = 5 ] &&
	! grep -q rejected mon.txt && grep "5 groups" mon.err'

t 'record --source mock, read back: the same records' '
	"$IOPFTOOL" -j record --source mock -w rec.pcap -c 20 --gen-rate 2000 --gen-group-size 1-3 --print >live.json &&
	"$IOPFTOOL" -j read rec.pcap >back.json &&
	grep -v "\"type\":\"meta\"" back.json | sed "s/\"seq\":[0-9]*,//" >a &&
	sed "s/\"seq\":[0-9]*,//" live.json >b && cmp a b &&
	head -n 1 back.json | grep "\"source\":\"mock\"" &&
	tail -n 1 back.json | grep "\"end\":\"1\""'

t 'the recorded mock session checks clean offline' '
	"$IOPFTOOL" -j stats --check rec.pcap >chk.json && grep "\"ok\":true" chk.json'

t 'multi-record groups come back whole from the kernel (patched mock)' '
	"$IOPFTOOL" -j read rec.pcap | grep "\"type\":\"fault\"" | grep -c "\"last\":false" >partials &&
	[ "$(cat partials)" -gt 0 ]'

for c in demo multi nopasid; do
	t "replay $c.pcap --target mock, builtin:success: 0 violations" '
		"$IOPFTOOL" -j replay "$CAPTURES/$c.pcap" --target mock --topspeed >rep.json &&
		grep "\"ok\":true" rep.json && ! grep -q split_groups rep.json'
done

t 'the mock replay report maps capture dev_id to live dev_id' '
	"$IOPFTOOL" -j replay "$CAPTURES/demo.pcap" --target mock --topspeed >rep.json &&
	grep "\"devices\":\[{\"capture\":[12],\"live\":[0-9]*},{\"capture\":[12],\"live\":[0-9]*}\]" rep.json &&
	"$IOPFTOOL" replay "$CAPTURES/demo.pcap" --target mock --topspeed | grep "devices (capture -> live): [12]->"'

t 'mock:single (a stock kernel): multi-record groups are injected split and counted' '
	"$IOPFTOOL" -j replay "$CAPTURES/multi.pcap" --target mock:single --topspeed >rep.json 2>err &&
	grep "\"ok\":true" rep.json && want split_groups 12 rep.json && want groups 48 rep.json &&
	grep "12 multi-record groups were injected split" err'

t 'mock:single cannot make partial faults: record with --gen-group-size 2-3 fails, exit 2, saying why once' '
	code 2 "$IOPFTOOL" record --source mock:single -w single.pcap -c 5 --gen-group-size 2-3 \
		--gen-rate 2000 2>err && grep "cannot inject a partial fault" err &&
	[ "$(grep -c "^iopftool: " err)" = 1 ] || { cat err; false; }'

# A capture whose grpids (16 bits) cannot be mistaken for live cookies.
"$IOPFTOOL" generate -w bugs.pcap --seed 11 --groups 24 --group-size 1-2 --rate 2000 \
	--grpid-bits 16 --pasids 1 2>/dev/null
H="$IOPFTOOL handle"

t 'replay --exec handle (correct) on mock: exit 0' '
	"$IOPFTOOL" -j replay bugs.pcap --target mock --handler-fd socket --exec "$H" --timeout 2s >rep.json &&
	grep "\"ok\":true" rep.json && want responses 24 rep.json'

t 'handle --bug echo-grpid on mock: grpid_echo 24, kernel refused each (status 22)' '
	code 1 "$IOPFTOOL" -j replay bugs.pcap --target mock --handler-fd socket --exec "$H --bug echo-grpid" \
		--timeout 2s -w echo.pcap >rep.json &&
	want grpid_echo 24 rep.json && want unanswered 24 rep.json &&
	[ "$("$IOPFTOOL" -j read echo.pcap | grep -c "\"status\":22")" = 24 ]'

t 'handle --bug duplicate on mock: duplicate 24, second answers refused by the kernel' '
	code 1 "$IOPFTOOL" -j replay bugs.pcap --target mock --handler-fd socket --exec "$H --bug duplicate" \
		--timeout 2s -w dup.pcap >rep.json &&
	want duplicate 24 rep.json && want unanswered 0 rep.json &&
	[ "$("$IOPFTOOL" -j read dup.pcap | grep -c "\"status\":22")" = 24 ]'

t 'handle --bug drop on mock: unanswered 24' '
	code 1 "$IOPFTOOL" -j replay bugs.pcap --target mock --handler-fd socket --exec "$H --bug drop" \
		--timeout 1s >rep.json && want unanswered 24 rep.json && want responses 0 rep.json'

t 'handle --bug bad-code on mock: bad_code 24 (kernel EINVAL), unanswered 24' '
	code 1 "$IOPFTOOL" -j replay bugs.pcap --target mock --handler-fd socket --exec "$H --bug bad-code" \
		--timeout 2s >rep.json && want bad_code 24 rep.json && want unanswered 24 rep.json'

t 'handle --bug delay on mock: late 24 past --deadline' '
	code 1 "$IOPFTOOL" -j replay bugs.pcap --target mock --handler-fd socket --exec "$H --bug delay --bug-delay 200ms" \
		--deadline 100ms --timeout 3s >rep.json && want late 24 rep.json && want unanswered 0 rep.json'

t 'offline check of the recorded duplicate session agrees with the live report' '
	code 1 "$IOPFTOOL" -j stats --check dup.pcap >chk.json && want duplicate 24 chk.json'

t 'mock errors are clear: replay into fd:N that is no fault fd is refused, saying what it is, exit 2' '
	code 2 "$IOPFTOOL" replay bugs.pcap --target fd:0 0</dev/null 2>err &&
	grep "fd 0 is /dev/null (a character device), not an iommufd fault queue" err'
echo "1..$n"
