#!/bin/sh
# The real path (tests/kernel/README.qemu): page requests from the PCIe PRI
# test device through QEMU's emulated Intel VT-d, the guest kernel's Intel
# driver (drivers/iommu/intel/prq.c) and iommufd into iopftool's
# --source device:/dev/vfio/devices/vfioN; the answers travel back as VT-d
# page group responses to the device, which reads the code and retries its
# DMA after SUCCESS.  pri-testdev (tests/helpers/pri-testdev.c) programs the
# device through sysfs.
. /iopf/guest/lib/t.sh
need_pri_testdev
MAP=0x100000	# map= of the device: source: 64 KiB of memory at this IOVA
UNMAPPED=0x800000

# start NAME ARGS...: iopftool in the background ($pid), ready once it has
# attached (its -v message naming the fault queue).
start() {
	name=$1
	shift
	"$IOPFTOOL" -v "$@" >"$name.out" 2>"$name.err" &
	pid=$!
	wait_said "$name.err" "fault queue" $pid 200 0.05 || return 1
	# vfio-pci's open enabled memory decoding; bus mastering is the device's own
	$PT master && $PT clear
}
# finish: iopftool exits by itself (-c N); at most 20 s
finish() {
	i=0
	while kill -0 $pid 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 200 ] && { echo "iopftool still running"; kill -INT $pid; wait $pid; return 1; }
		sleep 0.1
	done
	wait $pid
}
# resp I WANT: the device's response log entry I is exactly WANT
resp() {
	got=$($PT resp "$1")
	[ "$got" = "$2" ] || { echo "response $1: got '$got', want '$2'"; $PT show; return 1; }
}
# field KEY: from pri-testdev show
field() { $PT show | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }

dev=$($PT bind)
echo "# test device $($PT find) bound to vfio-pci: $dev"

t 'the Intel driver runs page requests: dmar prq interrupt, the device has ATS, PASID and PRI enabled' '
	grep -i "prq" /proc/interrupts && $PT show | grep "pri=1 pasid_en=1 ats=1"
'

t 'RID, SUCCESS: one group of 4 pages arrives on device:, is answered, the device reads SUCCESS and its retried DMA reaches all 4 pages' '
	start rid record --source "device:$dev,map=$MAP+0x10000" -c 1 -w rid.pcap &&
	$PT send iova=$MAP npages=4 prgi=5 flags=r,w && $PT wait 1 && finish &&
	resp 0 "code=success prgi=5 pasid=none answered=4 dma_ok=4" &&
	test "$(field outstanding)" = 0
'

t 'RID records: no PASID flags, grpid 5, LAST only on the last, addresses page-aligned, length 0' '
	"$IOPFTOOL" -j read --type fault rid.pcap >rid.json && cat rid.json &&
	test "$(grep -c "\"type\":\"fault\"" rid.json)" = 4 &&
	test "$(grep -c "\"pasid_valid\":false" rid.json)" = 4 &&
	test "$(grep -c "\"grpid\":5," rid.json)" = 4 &&
	test "$(grep -c "\"flags\":0," rid.json)" = 3 && test "$(grep -c "\"flags\":2," rid.json)" = 1 &&
	grep "\"last\":true" rid.json | grep -q "\"addr\":\"0x0000000000103000\"" &&
	test "$(grep -c "\"length\":0," rid.json)" = 4 &&
	! grep "\"addr\":\"0x[0-9a-f]*[1-9a-f][0-9a-f][0-9a-f]\"" rid.json &&
	test "$(grep -c "\"perm\":\[\"read\",\"write\"\]" rid.json)" = 4
'

t 'stats --check on the RID recording agrees with the device: 1 group, 4 faults, 1 response, no violations' '
	"$IOPFTOOL" -j stats --check rid.pcap >chk.json && cat chk.json &&
	grep "\"groups\":1," chk.json && grep "\"faults\":4," chk.json && grep "\"responses\":1," chk.json &&
	grep "\"ok\":true" chk.json
'

t 'RID, INVALID by policy: the device reads INVALID and does not retry its DMA' '
	start inv record --source "device:$dev,map=$MAP+0x10000" --policy invalid -c 1 -w inv.pcap &&
	$PT send iova=$MAP npages=2 prgi=7 flags=r,w && $PT wait 1 && finish &&
	resp 0 "code=invalid prgi=7 pasid=none answered=2 dma_ok=0" &&
	test "$(field dma_ok)" = 0 && test "$(field dma_fail)" = 0 &&
	"$IOPFTOOL" read inv.pcap | grep "response q.* invalid"
'

t 'RID, SUCCESS for unmapped pages: the device reads SUCCESS but its retried DMA finds no translation' '
	start unm record --source "device:$dev,map=$MAP+0x10000" -c 1 -w unm.pcap &&
	$PT send iova=$UNMAPPED npages=2 prgi=9 flags=r,w && $PT wait 1 && finish &&
	resp 0 "code=success prgi=9 pasid=none answered=2 dma_ok=0" &&
	test "$(field dma_fail)" = 2
'

t 'PASID 5, SUCCESS: device:PATH,pasid=5 gets the group; the device reads SUCCESS at PASID 5 and its DMA reaches both pages' '
	start pas record --source "device:$dev,pasid=5,map=$MAP+0x10000" -c 1 -w pasid.pcap &&
	$PT send iova=$MAP npages=2 prgi=11 pasid=5 flags=r,w && $PT wait 1 && finish &&
	resp 0 "code=success prgi=11 pasid=5 answered=2 dma_ok=2"
'

t 'PASID records: pasid 5, PASID_VALID plus the driver'"'"'s RESPONSE_NEEDS_PASID (flags bit 2), shown, not an error' '
	"$IOPFTOOL" -j read --type fault pasid.pcap >pasid.json && cat pasid.json &&
	test "$(grep -c "\"pasid\":5,\"pasid_valid\":true" pasid.json)" = 2 &&
	grep -q "\"flags\":5," pasid.json && grep -q "\"flags\":7," pasid.json &&
	"$IOPFTOOL" read pasid.pcap >pasid.txt && cat pasid.txt && grep -q "pasid 5 grpid 11" pasid.txt &&
	"$IOPFTOOL" stats --check pasid.pcap
'

t 'monitor on device: prints the real faults and answers them (groups per page: PRGIs 510, 511, 0: 9 bits wrap)' '
	start mon monitor --source "device:$dev,map=$MAP+0x10000" -c 3 &&
	$PT send iova=$MAP npages=3 prgi=510 flags=r,perpage && $PT wait 3 && finish &&
	cat mon.out &&
	test "$(grep -c " fault " mon.out)" = 3 &&
	grep -q "grpid 510 " mon.out && grep -q "grpid 511 " mon.out && grep -q "grpid 0 " mon.out &&
	resp 0 "code=success prgi=510 pasid=none answered=1 dma_ok=1" &&
	resp 2 "code=success prgi=0 pasid=none answered=1 dma_ok=1"
'

t 'a privileged request with read set never reaches the fd: the kernel answers INVALID itself (LAST set)' '
	start prv record --source "device:$dev,pasid=5,map=$MAP+0x10000" --duration 3s -w priv.pcap &&
	$PT send iova=$MAP npages=1 prgi=13 pasid=5 flags=r,priv && $PT wait 1 && finish &&
	resp 0 "code=invalid prgi=13 pasid=5 answered=1 dma_ok=0" &&
	test "$("$IOPFTOOL" read --type fault priv.pcap | wc -l)" = 0
'

t 'close with a group outstanding: the kernel answers INVALID at the device; no response on the fd' '
	start cls record --source "device:$dev,map=$MAP+0x10000" --delay 60s -w close.pcap &&
	$PT send iova=$MAP npages=1 prgi=17 flags=r && sleep 2 && kill -KILL $pid; wait $pid;
	$PT wait 1 && resp 0 "code=invalid prgi=17 pasid=none answered=1 dma_ok=0"
'

t 'a device without PRI: attaching the fault HWPT fails (ENODEV, exit 2) and iopftool says why and what to check' '
	nopri=$($PT list | sed -n "s/ nopri$//p" | head -n 1) && test -n "$nopri" &&
	dev2=$(PRI_TESTDEV_BDF=$nopri $PT bind) && echo "$nopri: $dev2" &&
	code 2 "$IOPFTOOL" monitor --source "device:$dev2" 2>nopri.err; cat nopri.err;
	grep -q "No such device" nopri.err && grep -q "needs PRI and ATS enabled" nopri.err &&
	grep -q "has no PCIe PRI capability" nopri.err
'

t 'the seed'"'"'s point: partial faults of PASIDs 1 and 5 with the same PRGI are joined into one group (the kernel matches partials by group id alone); the response goes to PASID 5 only' '
	start mix record --source "device:$dev,pasid=1:5,map=$MAP+0x10000" -c 1 -w mix.pcap &&
	$PT send iova=$MAP npages=2 prgi=21 pasid=1 flags=r,nolast &&
	$PT send iova=$((MAP + 0x2000)) npages=1 prgi=21 pasid=5 flags=r && $PT wait 1 && finish &&
	"$IOPFTOOL" read mix.pcap && resp 0 "code=success prgi=21 pasid=5 answered=1 dma_ok=1" &&
	test "$(field outstanding)" = 2 &&
	"$IOPFTOOL" -j read --type fault mix.pcap >mix.json &&
	test "$(grep -c "\"pasid\":1,\"pasid_valid\":true" mix.json)" = 2 &&
	test "$(grep -c "\"pasid\":5,\"pasid_valid\":true" mix.json)" = 1 &&
	test "$(grep -o "\"cookie\":[0-9]*" mix.json | sort -u | wc -l)" = 1
'

t 'stats, stats --check and monitor warn about the group whose faults carry more than one PASID' '
	"$IOPFTOOL" -j stats mix.pcap >mixs.json 2>mixs.err; cat mixs.err; grep -q "\"mixed_pasid\":1" mixs.json &&
	grep -q "more than one PASID" mixs.err &&
	"$IOPFTOOL" stats --check mix.pcap 2>mixc.err; cat mixc.err; grep -q "more than one PASID" mixc.err &&
	start mixm monitor --source "device:$dev,pasid=1:5,map=$MAP+0x10000" -c 1 &&
	$PT send iova=$MAP npages=1 prgi=22 pasid=1 flags=r,nolast &&
	$PT send iova=$MAP npages=1 prgi=22 pasid=5 flags=r && $PT wait 1 && finish &&
	cat mixm.err && grep -q "more than one PASID" mixm.err
'
