#!/bin/sh
# iopftool doctor and bundle: the fixture trees of tests/doctor/mkroot.sh
# (--root), the dmesg excerpts of each driver (tests/doctor/dmesg/), the
# bundle read back by tar and by doctor --root, hostile trees and log
# lines, and doctor on this machine, whatever it is.
test_description='doctor and bundle'
. "$(dirname "$0")/lib.sh"

MK=$SRC_DIR/tests/doctor/mkroot.sh
NL=$(printf "\nx")
NL=${NL%x}
DM=$SRC_DIR/tests/doctor/dmesg
for k in intel-ready intel-nopri noiommufd amd arm mock; do
	sh "$MK" $k "$TRASH/$k" || echo "# mkroot.sh $k failed"
done

# st FILE ID: the status of check ID in a -j report
st() { grep "\"id\":\"$2\"" "$1" | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p'; }

test_expect_success 'intel-ready: exit 0, VT-d with page requests, the PRI device ready' '
	iopftool -j doctor --root intel-ready >r.json &&
	test "$(st r.json iommu.dmar0)" = ok &&
	grep "\"id\":\"iommu.dmar0\"" r.json | grep -q "page requests (ecap.PRS, bit 29): yes" &&
	test "$(st r.json device.0000:00:03.0)" = ok &&
	grep "\"id\":\"device.0000:00:03.0\"" r.json | grep -q "PRI at 0x120: enabled, status 0x8000 (PRG response PASID required), capacity 256 outstanding page requests, 256 allocated" &&
	grep "\"id\":\"device.0000:00:03.0\"" r.json | grep -q "/dev/vfio/devices/vfio0" &&
	test "$(st r.json kernel.known-issues)" = warning &&
	test "$(st r.json tap)" = ok
'

test_expect_success 'intel-ready: one JSON object per check, text the same checks' '
	iopftool -j doctor --root intel-ready >r.json &&
	iopftool doctor --root intel-ready >r.txt &&
	n=$(wc -l <r.json) && test "$n" -ge 10 &&
	test "$(grep -c "^{\"status\":" r.json)" = "$n" &&
	test "$(grep -cE "^(ok|warning|problem) " r.txt)" = "$n" &&
	grep -q "^$n checks: " r.txt
'

test_expect_success 'intel-nopri: exit 1, the VT-d has no PRS, the device is told why' '
	test_expect_code 1 iopftool -j doctor --root intel-nopri >r.json &&
	test "$(st r.json iommu.dmar0)" = problem &&
	grep "\"id\":\"iommu.dmar0\"" r.json | grep -q "no PRS" &&
	test "$(st r.json device.0000:00:03.0)" = problem &&
	grep "\"id\":\"device.0000:00:03.0\"" r.json | grep -q "its IOMMU dmar0 takes no page requests"
'

test_expect_success 'noiommufd: exit 1, says CONFIG_IOMMUFD is not set, /boot config read' '
	test_expect_code 1 iopftool doctor --root noiommufd >r.txt &&
	grep -q "^problem  kernel.config: .*CONFIG_IOMMUFD" r.txt &&
	grep -q "read /boot/config-6.1.0-28-amd64" r.txt &&
	grep -q "^problem  kernel.iommufd: no /dev/iommu: the kernel has no IOMMUFD" r.txt &&
	grep -q "^problem  kernel.known-issues: Linux 6.1 has no iommufd fault queue" r.txt &&
	grep -q "^problem  iommu.dmar0: .*no scalable mode" r.txt
'

test_expect_success 'amd: PPR decoded, device ready, 6.12 limits listed' '
	iopftool -j doctor --root amd >r.json &&
	test "$(st r.json iommu.ivhd0)" = ok &&
	test "$(st r.json device.0000:c1:00.0)" = ok &&
	grep "\"id\":\"kernel.known-issues\"" r.json | grep -q "paging HWPT" &&
	grep "\"id\":\"kernel.known-issues\"" r.json | grep -q "PASID"
'

test_expect_success 'arm: SMMUv3 features from the log, no PRI: exit 1' '
	test_expect_code 1 iopftool -j doctor --root arm >r.json &&
	grep "\"id\":\"iommu.smmu3.0x0000000009050000\"" r.json | grep -q "features 0x000e0e8f: PRI no" &&
	test "$(st r.json device.0000:00:02.0)" = problem
'

test_expect_success 'mock (the VM tier guest): exit 0, warnings: no hardware IOMMU' '
	iopftool -j doctor --root mock >r.json &&
	test "$(st r.json iommu.iommufd_selftest_iommu.0)" = ok &&
	test "$(st r.json iommu.units)" = warning &&
	grep "\"id\":\"iommu.units\"" r.json | grep -q "only from --source mock" &&
	test "$(st r.json iommu.mode)" = warning
'

test_expect_success 'no config at all: said so, a warning' '
	rm -f intel-ready/proc/config.gz &&
	iopftool doctor --root intel-ready >r.txt;
	grep -q "^warning  kernel.config: no kernel config found (neither /proc/config.gz nor /boot/config-7.3.4)" r.txt &&
	sh "$MK" intel-ready intel-ready
'

test_expect_success 'a device named on the command line; an unknown one is a problem' '
	iopftool -j doctor --root intel-ready 00:03.0 >r.json &&
	test "$(st r.json device.0000:00:03.0)" = ok && ! grep -q devices.other r.json &&
	test_expect_code 1 iopftool -j doctor --root intel-ready --device 0000:00:09.0 >r.json &&
	test "$(st r.json device.0000:00:09.0)" = problem
'

# dmesg excerpts: each driver's lines, classified as the kernel source words them
dm() { # FILE ID STATUS
	test "$(st dm.json "dmesg.$2")" = "$3" || { echo "dmesg.$2: want $3, got $(st dm.json "dmesg.$2")"; return 1; }
}
test_expect_success 'dmesg: VT-d faults and page-request messages (dmar.c, prq.c)' '
	test_expect_code 1 iopftool -j doctor --root intel-ready --dmesg "$DM/intel.txt" >dm.json &&
	dm x dmar-fault problem && dm x dmar-ir-fault warning && dm x dmar-fault-status warning &&
	dm x prq-overflow problem && dm x prq-overflow-cleared warning && dm x prq-privileged problem &&
	dm x prq-noncanonical problem && dm x prq-exec problem && dm x prq-invalid problem &&
	dm x prq-setup problem && dm x prq-no-pasid problem &&
	grep "\"id\":\"dmesg.dmar-fault\"" dm.json | grep -q "\"summary\":\"2 lines"
'
test_expect_success 'dmesg: AMD-Vi events (amd/iommu.c, amd/ppr.c)' '
	test_expect_code 1 iopftool -j doctor --root amd --dmesg "$DM/amd.txt" >dm.json &&
	dm x amd-io-page-fault problem && dm x amd-invalid-ppr problem && dm x amd-event warning &&
	dm x amd-ppr-pasid problem &&
	grep "\"id\":\"dmesg.amd-io-page-fault\"" dm.json | grep -q "\"summary\":\"2 lines"
'
test_expect_success 'dmesg: SMMUv3 events and queues (arm-smmu-v3.c)' '
	test_expect_code 1 iopftool -j doctor --root arm --dmesg "$DM/smmu.txt" >dm.json &&
	dm x smmu-event problem && dm x smmu-evtq-overflow problem && dm x smmu-priq-overflow problem &&
	dm x smmu-unexpected-pri problem && dm x smmu-no-priq-irq problem
'
test_expect_success 'dmesg: iommufd, io-pgfault and VFIO messages' '
	test_expect_code 1 iopftool -j doctor --root intel-ready --dmesg "$DM/iommufd-vfio.txt" >dm.json &&
	dm x iommufd-msi problem && dm x iommufd-compat ok && dm x iopf-aborted problem &&
	dm x vfio-in-use warning && dm x vfio-noiommu problem && dm x vfio-sriov problem
'
test_expect_success 'dmesg: a missing file is a warning naming it' '
	iopftool doctor --root intel-ready --dmesg nosuch.txt >r.txt &&
	grep -q "^warning  dmesg: the kernel log could not be read" r.txt && grep -q "nosuch.txt: No such file" r.txt
'

test_expect_success 'hostile log lines: escape sequences never reach the terminal' '
	printf "[ 1.0] DMAR: [DMA Read NO_PASID] Request device [0000:00:03.0] fault addr 0x1000 [fault reason 0x06] \033[31mred\033]0;title\007\r\n" >evil.txt &&
	test_expect_code 1 iopftool doctor --root intel-ready --dmesg evil.txt >r.txt &&
	grep -q "x1b\[31mred" r.txt && ! grep -q "$(printf "\033")" r.txt && ! grep -q "$(printf "\007")" r.txt &&
	test_expect_code 1 iopftool -j doctor --root intel-ready --dmesg evil.txt >r.json &&
	! grep -q "$(printf "\033")" r.json
'

test_expect_success 'hostile tree: loops, links out of the root, huge and special files, odd names' '
	sh "$MK" intel-ready evil &&
	ln -s loop evil/sys/class/iommu/loop &&
	mkdir -p evil/sys/devices/pci0000:00/0000:00:05.0 &&
	ln -s /etc evil/sys/bus/pci/devices/0000:00:06.0 &&
	ln -s ../../../../../../../../etc/passwd evil/sys/devices/pci0000:00/0000:00:05.0/config &&
	ln -s ../../../devices/pci0000:00/0000:00:05.0 evil/sys/bus/pci/devices/0000:00:05.0 &&
	rm evil/sys/devices/virtual/iommu/dmar0/intel-iommu/cap &&
	truncate -s 1G evil/sys/devices/virtual/iommu/dmar0/intel-iommu/cap &&
	mkfifo evil/proc/cmdline.tmp && rm evil/proc/cmdline && mv evil/proc/cmdline.tmp evil/proc/cmdline &&
	mkdir "evil/sys/bus/pci/devices/0000:00:07.0$(printf "\033[2J")" &&
	head -c 64 intel-ready/sys/bus/pci/devices/0000:00:03.0/config >"evil/sys/bus/pci/devices/0000:00:07.0$(printf "\033[2J")/config" &&
	mkdir "evil/sys/bus/pci/devices/0000:00:08.0$NL.." &&
	cp intel-ready/sys/bus/pci/devices/0000:00:03.0/config "evil/sys/bus/pci/devices/0000:00:08.0$NL../config" &&
	timeout 20 "$IOPFTOOL" -j doctor --root evil >r.json; rc=$? &&
	test $rc = 0 -o $rc = 1 &&
	! grep -q "$(printf "\033")" r.json &&
	! grep -q "root:x:0:0" r.json &&
	test "$(st r.json iommu.dmar0)" = warning &&
	grep "\"id\":\"device.0000:00:05.0\"" r.json | grep -q "unreadable\|No such file" &&
	grep -q "\"0000:00:07.0\\\\\\\\x1b\[2J 1b36:0f14 (no driver): 64 bytes" r.json
'

test_expect_success 'bundle: a ustar archive tar reads, with exactly what MANIFEST lists' '
	iopftool bundle b.tar --root intel-ready 2>err &&
	tar tf b.tar >list &&
	grep -qx "iopf-bundle/MANIFEST" list && grep -qx "iopf-bundle/report.json" list &&
	grep -qx "iopf-bundle/report.txt" list && grep -qx "iopf-bundle/dmesg" list &&
	grep -qx "iopf-bundle/sys/class/iommu/dmar0/intel-iommu/ecap" list &&
	grep -qx "iopf-bundle/sys/bus/pci/devices/0000:00:03.0/config" list &&
	grep -qx "iopf-bundle/proc/config.gz" list &&
	! grep -v "^iopf-bundle/" list &&
	mkdir x && tar xf b.tar -C x &&
	grep -v "^#" x/iopf-bundle/MANIFEST | grep -v "^omitted" | sed "s/^[a-z]* *[0-9]* \(.*\): .*/\1/" | sort >listed &&
	sed -n "s|^iopf-bundle/||p" list | sed "s|/$||" | grep -v "^MANIFEST$" | grep -v "^$" | sort >inarch &&
	test_cmp listed inarch &&
	cmp x/iopf-bundle/sys/bus/pci/devices/0000:00:03.0/config intel-ready/sys/bus/pci/devices/0000:00:03.0/config
'

test_expect_success 'bundle: doctor --root on the extracted bundle gives the same findings' '
	iopftool -j doctor --root intel-ready | sed "s/\"title\".*//" | grep -v "\"id\":\"dmesg\"" >a &&
	rm -rf x && mkdir x && iopftool bundle b.tar --root intel-ready && tar xf b.tar -C x &&
	iopftool -j doctor --root x/iopf-bundle | sed "s/\"title\".*//" | grep -v "\"id\":\"dmesg\"" >b &&
	test_cmp a b &&
	for k in intel-nopri noiommufd amd arm; do
		iopftool -j doctor --root $k | sed "s/\"title\".*//" | grep -v "\"id\":\"dmesg\"" >a;
		rm -rf x && mkdir x && iopftool bundle b.tar --root $k && tar xf b.tar -C x &&
		iopftool -j doctor --root x/iopf-bundle | sed "s/\"title\".*//" | grep -v "\"id\":\"dmesg\"" >b &&
		test_cmp a b || exit 1
	done
'

test_expect_success 'bundle of a hostile tree: every member inside the archive root' '
	iopftool bundle e.tar --root evil 2>err &&
	tar tf e.tar >list && ! grep -v "^iopf-bundle/" list && ! grep "/\.\./" list &&
	grep -q "^iopf-bundle/sys/bus/pci/devices/0000:00:07.0.*/config$" list &&
	grep -q "^iopf-bundle/sys/bus/pci/devices/0000:00:08.0.*\.\./config$" list &&
	rm -rf y && mkdir y && tar xf e.tar -C y && test -f y/iopf-bundle/MANIFEST &&
	test -f "y/iopf-bundle/sys/bus/pci/devices/0000:00:08.0$NL../config" &&
	test "$(find y -name config | wc -l)" -ge 3 &&
	grep -qF "0000:00:08.0\\x0a../config" y/iopf-bundle/MANIFEST &&
	! grep -q "$(printf "\033")" y/iopf-bundle/MANIFEST &&
	! grep -rq "root:x:0:0" y
'

test_expect_success 'doctor --bundle: the report on stdout and the archive; usage errors' '
	test_expect_code 1 iopftool doctor --root intel-nopri --bundle c.tar >r.txt &&
	grep -q "^problem  iommu.dmar0" r.txt && tar tf c.tar | grep -qx iopf-bundle/report.txt &&
	test_expect_code 64 iopftool bundle &&
	test_expect_code 64 iopftool doctor --tap 2 &&
	test_expect_code 64 iopftool bundle --root intel-ready --tap 2 z.tar &&
	test_expect_code 2 iopftool doctor --root nosuchdir &&
	test_expect_code 2 iopftool bundle /nonexistent-dir/z.tar --root intel-ready
'

test_expect_success 'this machine: doctor reports plainly, whatever the machine' '
	iopftool doctor >live.txt 2>live.err; rc=$?;
	test $rc = 0 -o $rc = 1 &&
	grep -qE "^(ok|warning|problem) +kernel.version: " live.txt &&
	grep -qE "^(ok|warning|problem) +kernel.config: " live.txt &&
	grep -q "checks: " live.txt &&
	if zcat /proc/config.gz 2>/dev/null | grep -q "^# CONFIG_IOMMUFD is not set" ||
	   grep -qs "^# CONFIG_IOMMUFD is not set" "/boot/config-$(uname -r)"; then
		test $rc = 1 &&
		grep -q "^problem  kernel.config: this kernel cannot deliver device page faults to user space: CONFIG_IOMMUFD" live.txt
	fi &&
	iopftool -j doctor >live.json; test $? -le 1 && test -s live.json
'

test_expect_success 'this machine: a bundle of it, read back by doctor --root' '
	iopftool bundle live.tar && rm -rf l && mkdir l && tar xf live.tar -C l &&
	test -f l/iopf-bundle/ps.txt && test -f l/iopf-bundle/report.txt &&
	iopftool doctor --root l/iopf-bundle >back.txt; test $? -le 1 &&
	grep "kernel.version" live.txt >a && grep "kernel.version" back.txt >b && test_cmp a b
'

test_expect_success 'this machine: bundle --tap 1: a recording, or the MANIFEST says why not' '
	iopftool bundle --tap 1 tap.tar 2>err && rm -rf t && mkdir t && tar xf tap.tar -C t &&
	if test -f t/iopf-bundle/tap.pcap; then
		grep -q "^file .* tap.pcap: iopftool record --source tap" t/iopf-bundle/MANIFEST
	else
		grep -q "^omitted  tap.pcap: iopftool record --source tap exited [0-9]*: ." t/iopf-bundle/MANIFEST
	fi
'

test_expect_success 'bundle: an output that is the --dmesg input is refused, the input kept' '
	cp "$DM/intel.txt" dm.txt &&
	cp dm.txt dm.orig &&
	test_expect_code 2 iopftool bundle --root intel-ready --dmesg dm.txt dm.txt 2>err &&
	grep -q "dm.txt is the input dm.txt: refusing to overwrite it" err &&
	cmp dm.txt dm.orig
'

test_expect_success 'bundle: a write that fails leaves no half archive; a device is never removed' '
	(ulimit -f 2; iopftool bundle --root intel-ready half.tar) 2>err; rc=$?;
	test $rc = 2 && grep -q "half.tar: File too large; the partial archive is removed" err &&
	! test -e half.tar &&
	test_expect_code 2 iopftool bundle --root intel-ready /dev/full 2>err &&
	grep -q "/dev/full: No space left on device$" err && test -c /dev/full
'

# valgrind (tests/run.sh valgrind) needs descriptors of its own: not under it
[ -z "${VALGRIND_LOG_DIR:-}" ] && test_set_prereq NOVALGRIND
test_expect_success NOVALGRIND 'out of file descriptors: exit 2, cannot look, never findings of absence' '
	sh -c "ulimit -n 4; exec \"\$@\"" sh "$IOPFTOOL" doctor --root intel-ready >fd.txt 2>fd.err; rc=$?;
	test $rc = 2 && ! test -s fd.txt &&
	grep -q "^iopftool: cannot look: opening /proc/.*: Too many open files (the file descriptor or memory limit; raise ulimit -n)" fd.err &&
	sh -c "ulimit -n 4; exec \"\$@\"" sh "$IOPFTOOL" bundle --root intel-ready fd.tar 2>fd.err; rc=$?;
	test $rc = 2 && ! test -e fd.tar && grep -q "Too many open files" fd.err
'

setpriv --reuid=65534 --regid=65534 --clear-groups "$IOPFTOOL" --version >/dev/null 2>&1 &&
	[ "$(id -u)" = 0 ] && test_set_prereq NOBODY
test_expect_success NOBODY 'this machine as user nobody: what needs root is said, no crash' '
	setpriv --reuid=65534 --regid=65534 --clear-groups "$IOPFTOOL" doctor >nb.txt 2>nb.err; rc=$?;
	test $rc = 0 -o $rc = 1 && grep -q "checks: " nb.txt &&
	grep -q "not root: other users.* processes are not visible" nb.txt &&
	if test "$(cat /proc/sys/kernel/dmesg_restrict 2>/dev/null)" = 1; then
		grep -q "^warning  dmesg: the kernel log could not be read" nb.txt
	fi &&
	if grep -q "devices.other" nb.txt; then
		grep -q "show only 64 bytes of config space\|have no PRI capability" nb.txt
	fi
'

test_expect_success NOBODY 'files a user cannot read: a warning naming each, no crash' '
	cp -R intel-ready ur && chmod -R a+rX ur &&
	chmod 000 ur/sys/class/iommu/dmar0/intel-iommu/ecap ur/sys/bus/pci/devices/0000:00:03.0/config \
		ur/sys/bus/pci/devices/0000:00:04.0/config &&
	setpriv --reuid=65534 --regid=65534 --clear-groups "$IOPFTOOL" doctor --root ur >ur.txt 2>ur.err &&
	grep -q "^warning  iommu.dmar0: Intel VT-d dmar0: capability registers unreadable" ur.txt &&
	grep -q "intel-iommu/ecap: Permission denied" ur.txt &&
	grep -q "^warning  device.0000:00:03.0: 0000:00:03.0: config space unreadable" ur.txt &&
	grep -q "devices/0000:00:03.0/config: Permission denied" ur.txt &&
	grep -q "devices/0000:00:04.0/config: Permission denied" ur.txt &&
	grep -q "^14 checks: " ur.txt && ! grep -q "^iopftool:" ur.err
'

test_done
