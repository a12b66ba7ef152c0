#!/bin/sh
# iopftool doctor and bundle on the test kernels (busybox sh).  The VM has
# no PCI IOMMU (no -device intel-iommu): the only IOMMU is the iommufd
# selftest's, so doctor must say the kernel is configured and iommufd
# loaded, find the mock, warn that no PCI device can fault, see a fault
# fd held by a running monitor, and classify the kernel log; exit 0.
. /iopf/guest/lib/t.sh
need_iopftool
# tracefs for the tap check (40-tap.sh mounts it too; this script also runs alone)
mkdir -p /sys/kernel/tracing && mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
# st FILE ID: the status of check ID in a -j report
st() { grep "\"id\":\"$2\"" "$1" | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p'; }

t 'doctor: exit 0, kernel configured, /dev/iommu, the known bugs of this version' '
	"$IOPFTOOL" -j doctor >d.json 2>d.err; rc=$?; cat d.err;
	[ $rc = 0 ] &&
	[ "$(st d.json kernel.config)" = ok ] && [ "$(st d.json kernel.iommufd)" = ok ] &&
	[ "$(st d.json kernel.known-issues)" = warning ] &&
	grep "\"id\":\"kernel.known-issues\"" d.json | grep -q "cookie-0 bug" &&
	grep "\"id\":\"kernel.version\"" d.json | grep -q "$(uname -r)" &&
	grep "\"id\":\"kernel.config\"" d.json | grep -q "read /proc/config.gz"'

t 'doctor: the selftest mock found, no PCI device can fault (no PCI IOMMU here)' '
	grep -E "\"id\":\"(iommu|device)" d.json | cut -c 1-400;
	[ "$(st d.json "iommu.iommufd_selftest_iommu[^\"]*")" = ok ] &&
	[ "$(st d.json iommu.units)" = warning ] &&
	! grep -q "\"id\":\"device\." d.json'

t 'doctor: 6.12 lists no paging-HWPT fault queue and no PASID faults, 7.3 does not' '
	case $(uname -r) in
	6.12*) grep "\"id\":\"kernel.known-issues\"" d.json | grep -q "paging HWPT" &&
	       grep "\"id\":\"kernel.known-issues\"" d.json | grep -q "PASID" ;;
	*) ! grep "\"id\":\"kernel.known-issues\"" d.json | grep -q "paging HWPT" ;;
	esac'

t 'doctor: the kernel log read (klogctl), the tap can run' '
	grep "\"id\":\"tap\"" d.json | cut -c 1-600;
	grep "\"id\":\"dmesg\"" d.json | grep -q "klogctl" &&
	[ "$(st d.json tap)" = ok ]'

t 'doctor: a fault fd held by monitor --source mock is seen' '
	"$IOPFTOOL" -q monitor --source mock --duration 30s >/dev/null 2>mon.err & pid=$!
	i=0
	while [ $i -lt 100 ] && ! "$IOPFTOOL" ps 2>/dev/null | grep -q " fault "; do
		sleep 0.1; i=$((i + 1))
	done
	"$IOPFTOOL" -j doctor >p.json 2>/dev/null
	kill $pid; wait $pid 2>/dev/null
	grep "\"id\":\"processes\"" p.json | grep -q "1 fault fd held" ||
		{ cat mon.err; grep processes p.json; false; }'

t 'bundle: written, readable by tar, read back by doctor --root' '
	"$IOPFTOOL" bundle b.tar 2>b.err && tar tf b.tar >list &&
	grep -qx "iopf-bundle/MANIFEST" list && grep -qx "iopf-bundle/proc/config.gz" list &&
	rm -rf x && mkdir x && tar xf b.tar -C x &&
	"$IOPFTOOL" -j doctor --root x/iopf-bundle >r.json &&
	[ "$(st r.json kernel.config)" = ok ] && [ "$(st r.json iommu.units)" = warning ]'

t 'bundle --tap 2: a tap recording in the archive, readable by iopftool read' '
	mkdir -p /sys/kernel/tracing; mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null;
	"$IOPFTOOL" bundle --tap 2 t.tar 2>t.err; rc=$?; cat t.err;
	[ $rc = 0 ] && rm -rf y && mkdir y && tar xf t.tar -C y &&
	{ [ -f y/iopf-bundle/tap.pcap ] || { grep omitted y/iopf-bundle/MANIFEST; false; }; } &&
	"$IOPFTOOL" -j read y/iopf-bundle/tap.pcap >tap.json && grep -q "\"type\":\"meta\"" tap.json &&
	grep -q "^file .* tap.pcap: iopftool record --source tap" y/iopf-bundle/MANIFEST'
