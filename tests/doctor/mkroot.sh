#!/bin/sh
# tests/doctor/mkroot.sh KIND DIR: write a fixture tree for `iopftool doctor
# --root DIR` (the layout iopftool-doctor(8) documents: sys/, proc/, boot/,
# dev/, dmesg, ps.txt).  Written by the project from what the kernel shows
# in sysfs and procfs; nothing here was copied from a real machine.
#   intel-ready    modelled on the real-PRI boot of the VM tier (issue 14,
#                  branch realpri: tests/kernel/README.qemu): VT-d as QEMU's
#                  intel-iommu with svm=on shows it (ecap 0x8d9a20f00f4e:
#                  SMTS, PRS, PDS, PASID, FLTS, DT; the value measured for the
#                  emulated-PRI study), 7.3.4, iopf-testdev 1b36:0f14 on
#                  vfio-pci with its cdev (ATS 0x100, PASID 0x110, PRI 0x120,
#                  all enabled by the Intel driver at probe, 256 requests
#                  allocated, PRG Response PASID Required), the same device
#                  with pri=off left without a driver, and a virtio device
#   intel-nopri    the same with the VT-d's page requests off (ecap.PRS
#                  clear, as intel-iommu without svm=on) and PRI enabled
#                  on the device with a response failure in its status
#   noiommufd      Debian 12's 6.1 without IOMMUFD (config in /boot), an
#                  old VT-d without scalable mode, an NVMe drive on nvme
#   amd            AMD-Vi with PPR, 6.12.117 (config.gz), a device on vfio-pci
#   arm            ARM SMMUv3 (features from the log: no PRI), 6.12.117
#   mock           the VM tier's guest: 7.3.4 with IOMMUFD_TEST, the only
#                  IOMMU the selftest's (iommufd_selftest_iommu.0), no groups
# Config spaces are generated here (cfgspace below): 4096 bytes, the
# vendor/device words, and the ATS (0x0f), PRI (0x13), PASID (0x1b)
# extended capabilities at 0x100, 0x110, 0x120 as include/uapi/linux/pci_regs.h
# lays them out.
set -eu
kind=$1 root=$2
here=$(cd "$(dirname "$0")" && pwd)

# le16 N / le32 N: little-endian bytes
le16() { printf "\\$(printf %03o $(($1 & 255)))\\$(printf %03o $((($1 >> 8) & 255)))"; }
le32() { le16 $(($1 & 65535)); le16 $((($1 >> 16) & 65535)); }

# cfgspace FILE VENDOR DEVICE ATS PRI PASID [PRI_STATUS]
#   ATS, PRI, PASID: none, off or on (the capability's enable bit)
cfgspace() {
	f=$1 ven=$2 dev=$3 ats=$4 pri=$5 pasid=$6 prist=${7:-256}
	n=0
	for c in "$ats" "$pri" "$pasid"; do [ "$c" = none ] || n=$((n + 1)); done
	{
		le16 "$ven"; le16 "$dev"; head -c 252 /dev/zero
		off=256 left=$n
		# one 16-byte slot per capability; next pointer 0 on the last
		slot() { # ID BODY-WORDS...
			left=$((left - 1)); next=0
			[ $left -gt 0 ] && next=$((off + 16))
			le32 $(($1 | (1 << 16) | (next << 20)))
		}
		for c in ${ORDER:-ats pri pasid}; do
			case $c in
			ats) [ "$ats" = none ] && continue
				slot 15; le16 32; le16 $([ "$ats" = on ] && echo 32768 || echo 0); head -c 8 /dev/zero ;;
			pri) [ "$pri" = none ] && continue
				slot 19; le16 $([ "$pri" = on ] && echo 1 || echo 0); le16 "$prist"
				le32 256; le32 $([ "$pri" = on ] && echo 256 || echo 0) ;;
			pasid) [ "$pasid" = none ] && continue
				slot 27; le16 $((20 << 8 | 4)); le16 $([ "$pasid" = on ] && echo 1 || echo 0)
				head -c 8 /dev/zero ;;
			esac
			off=$((off + 16))
		done
		head -c $((4096 - 256 - 16 * n)) /dev/zero
	} >"$f"
}

# pcidev BDF VENDOR DEVICE DRIVER GROUP IOMMU CDEV ATS PRI PASID [PRI_STATUS]
pcidev() {
	bdf=$1 ven=$2 dev=$3 drv=$4 grp=$5 unit=$6 cdev=$7
	d=$root/sys/devices/pci0000:00/$bdf
	mkdir -p "$d" "$root/sys/bus/pci/devices"
	ln -s "../../../devices/pci0000:00/$bdf" "$root/sys/bus/pci/devices/$bdf"
	cfgspace "$d/config" "$ven" "$dev" "$8" "$9" "${10}" "${11:-256}"
	if [ "$drv" != - ]; then
		mkdir -p "$root/sys/bus/pci/drivers/$drv"
		ln -s "../../../bus/pci/drivers/$drv" "$d/driver"
	fi
	if [ "$grp" != - ]; then
		mkdir -p "$root/sys/kernel/iommu_groups/$grp/devices"
		ln -s "../../../../kernel/iommu_groups/$grp" "$d/iommu_group"
		ln -s "../../../../devices/pci0000:00/$bdf" "$root/sys/kernel/iommu_groups/$grp/devices/$bdf"
		[ -f "$root/sys/kernel/iommu_groups/$grp/type" ] || echo DMA >"$root/sys/kernel/iommu_groups/$grp/type"
	fi
	[ "$unit" = - ] || ln -s "../../virtual/iommu/$unit" "$d/iommu"
	[ "$cdev" = - ] || mkdir -p "$d/vfio-dev/$cdev"
}

# kernel RELEASE CONFIG-WHERE OPTIONS...: osrelease, cmdline, the config
kernel() {
	rel=$1 where=$2; shift 2
	mkdir -p "$root/proc/sys/kernel" "$root/boot"
	echo "$rel" >"$root/proc/sys/kernel/osrelease"
	echo "Linux version $rel (fixture) #1 SMP" >"$root/proc/version"
	echo 1 >"$root/proc/sys/kernel/unprivileged_bpf_disabled"
	{ echo "# fixture config for $rel"; for o in "$@"; do
		case $o in -*) echo "# CONFIG_${o#-} is not set" ;; *) echo "CONFIG_$o" ;; esac
	done; } >"$root/config.txt"
	case $where in
	gz) gzip -9 <"$root/config.txt" >"$root/proc/config.gz" ;;
	boot) cp "$root/config.txt" "$root/boot/config-$rel" ;;
	esac
	rm -f "$root/config.txt"
}

tracefs() {
	mkdir -p "$root/sys/kernel/tracing" "$root/sys/kernel/btf" "$root/sys/kernel/security"
	: >"$root/sys/kernel/tracing/trace"
	: >"$root/sys/kernel/tracing/kprobe_events"
	: >"$root/sys/kernel/btf/vmlinux"
	echo "[none] integrity confidentiality" >"$root/sys/kernel/security/lockdown"
}

iommufd() { mkdir -p "$root/dev" "$root/sys/class/misc/iommu"; : >"$root/dev/iommu"; }

vtd() { # NAME CAP ECAP
	mkdir -p "$root/sys/devices/virtual/iommu/$1/intel-iommu" "$root/sys/class/iommu"
	echo "$2" >"$root/sys/devices/virtual/iommu/$1/intel-iommu/cap"
	echo "$3" >"$root/sys/devices/virtual/iommu/$1/intel-iommu/ecap"
	echo "1:0" >"$root/sys/devices/virtual/iommu/$1/intel-iommu/version"
	ln -s "../../devices/virtual/iommu/$1" "$root/sys/class/iommu/$1"
}

FULL="IOMMUFD=y IOMMU_IOPF=y VFIO=y VFIO_PCI=y VFIO_DEVICE_CDEV=y PCI_ATS=y PCI_PRI=y PCI_PASID=y
	KPROBES=y KPROBE_EVENTS=y BPF_SYSCALL=y DEBUG_INFO_BTF=y"
rm -rf "$root" && mkdir -p "$root"
case $kind in
intel-ready | intel-nopri)
	# shellcheck disable=SC2086
	kernel 7.3.4 gz $FULL INTEL_IOMMU=y INTEL_IOMMU_SVM=y INTEL_IOMMU_SCALABLE_MODE_DEFAULT_ON=y -IOMMUFD_TEST
	echo "console=ttyS0 intel_iommu=on,sm_on iommufd.allow_unsafe_interrupts=1" >"$root/proc/cmdline"
	iommufd; tracefs
	if [ "$kind" = intel-ready ]; then
		vtd dmar0 d2008c22260206 8d9a20f00f4e
		ORDER="ats pasid pri" pcidev 0000:00:03.0 0x1b36 0x0f14 vfio-pci 3 dmar0 vfio0 on on on 0x8000
		ORDER="ats pasid pri" pcidev 0000:00:04.0 0x1b36 0x0f14 - 4 dmar0 - off none off
	else
		vtd dmar0 d2008c22260206 8d9a00f00f4e
		pcidev 0000:00:03.0 0x1b36 0x0f14 vfio-pci 3 dmar0 vfio0 on on on 1
	fi
	pcidev 0000:00:02.0 0x1af4 0x1041 virtio-pci 2 dmar0 - none none none
	pcidev 0000:00:00.0 0x8086 0x29c0 - 0 dmar0 - none none none
	cp "$here/dmesg/boot-intel.txt" "$root/dmesg"
	;;
noiommufd)
	kernel 6.1.0-28-amd64 boot INTEL_IOMMU=y -IOMMUFD -IOMMU_IOPF VFIO=m VFIO_PCI=m -VFIO_DEVICE_CDEV PCI_ATS=y \
		PCI_PRI=y PCI_PASID=y KPROBES=y KPROBE_EVENTS=y -INTEL_IOMMU_SCALABLE_MODE_DEFAULT_ON
	echo "BOOT_IMAGE=/vmlinuz-6.1.0-28-amd64 root=/dev/sda1 ro quiet" >"$root/proc/cmdline"
	vtd dmar0 d2008c40660462 f0505a
	pcidev 0000:01:00.0 0x144d 0xa808 nvme 12 dmar0 - on none none
	echo identity >"$root/sys/kernel/iommu_groups/12/type"
	printf '[    0.000000] DMAR: IOMMU enabled\n[    0.412000] iommu: Default domain type: Passthrough (set via kernel command line)\n' >"$root/dmesg"
	;;
amd)
	# shellcheck disable=SC2086
	kernel 6.12.117 gz $FULL AMD_IOMMU=y
	echo "BOOT_IMAGE=/vmlinuz-6.12.117 root=/dev/nvme0n1p2 amd_iommu=on iommu=nopt" >"$root/proc/cmdline"
	iommufd; tracefs
	mkdir -p "$root/sys/devices/virtual/iommu/ivhd0/amd-iommu" "$root/sys/class/iommu"
	echo "246577efa2254afa:10" >"$root/sys/devices/virtual/iommu/ivhd0/amd-iommu/features"
	ln -s ../../devices/virtual/iommu/ivhd0 "$root/sys/class/iommu/ivhd0"
	pcidev 0000:c1:00.0 0x1002 0x7480 vfio-pci 25 ivhd0 vfio1 off off off
	cp "$here/dmesg/boot-amd.txt" "$root/dmesg"
	;;
arm)
	# shellcheck disable=SC2086
	kernel 6.12.117 gz $FULL ARM_SMMU_V3=y ARM_SMMU_V3_SVA=y
	echo "console=ttyAMA0 root=/dev/vda2" >"$root/proc/cmdline"
	iommufd; tracefs
	mkdir -p "$root/sys/devices/platform/9050000.smmuv3/iommu/smmu3.0x0000000009050000/devices" "$root/sys/class/iommu"
	ln -s ../../devices/platform/9050000.smmuv3/iommu/smmu3.0x0000000009050000 \
		"$root/sys/class/iommu/smmu3.0x0000000009050000"
	pcidev 0000:00:02.0 0x1b36 0x0010 vfio-pci 7 smmu3.0x0000000009050000 vfio0 off off off
	cp "$here/dmesg/boot-arm.txt" "$root/dmesg"
	;;
mock)
	# shellcheck disable=SC2086
	kernel 7.3.4 gz $FULL IOMMUFD_TEST=y INTEL_IOMMU=y INTEL_IOMMU_SVM=y AMD_IOMMU=y
	echo "console=ttyS0 rdinit=/init" >"$root/proc/cmdline"
	iommufd
	mkdir -p "$root/sys/devices/platform/iommufd_selftest_iommu.0/iommu/iommufd_selftest_iommu.0" "$root/sys/class/iommu"
	ln -s ../../devices/platform/iommufd_selftest_iommu.0/iommu/iommufd_selftest_iommu.0 \
		"$root/sys/class/iommu/iommufd_selftest_iommu.0"
	pcidev 0000:00:01.0 0x8086 0x7000 - - - - none none none
	printf '[    0.000000] Linux version 7.3.4 (fixture)\n[    0.300000] iommu: Default domain type: Translated\n' >"$root/dmesg"
	;;
*)
	echo "mkroot.sh: unknown kind $kind" >&2; exit 64 ;;
esac
