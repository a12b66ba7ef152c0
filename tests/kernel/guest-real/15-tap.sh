#!/bin/sh
# The tap beside device: on the real path: it must record the same faults,
# the delivery and the response that iopftool's own capture holds.
. /iopf/guest/lib/t.sh
need_pri_testdev
need_kprobe_events
MAP=0x100000
dev=$($PT bind)

# Both back-ends (the real path runs on the 7.3 kernel: BTF, CO-RE).
for B in kprobe bpf; do
t "$B: tap beside device: the same 3 faults, 1 delivery and the SUCCESS response as the handler's capture" '
	rm -f tap.err dev.err;
	"$IOPFTOOL" -v record --tap-backend $B --source tap -w tap.pcap 2>tap.err & tpid=$!
	wait_said tap.err "read-only" $tpid 100 0.1;
	"$IOPFTOOL" -v record --source "device:$dev,map=$MAP+0x10000" -c 1 -w dev.pcap 2>dev.err & dpid=$!
	wait_said dev.err "fault queue" $dpid 200 0.05;
	$PT master && $PT clear && $PT send iova=$MAP npages=3 prgi=33 flags=r,w && $PT wait 1 && wait $dpid &&
	sleep 0.5 && kill -INT $tpid && wait $tpid;
	"$IOPFTOOL" read tap.pcap | tee tap.txt && "$IOPFTOOL" read dev.pcap | tee dev.txt &&
	proj() { sed -n "s/.* fault q[0-9]* \(dev [0-9]* .*\) cookie \([0-9]*\).*/fault \1 cookie \2/p; s/.* response q[0-9]* \(cookie [0-9]* [a-z]*\).*/response \1/p"; } &&
	proj <tap.txt | sort >t.proj && proj <dev.txt | sort >d.proj && cat d.proj &&
	test "$(grep -c "^fault" d.proj)" = 3 && diff d.proj t.proj &&
	test "$(grep -c " delivery " tap.txt)" = 1 &&
	$PT resp 0 | grep -q "code=success prgi=33" &&
	grep "tap: backend $B" tap.err
'
done
