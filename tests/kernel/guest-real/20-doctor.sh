#!/bin/sh
# iopftool doctor on the real path: it must find the emulated VT-d with page
# requests (ecap PRS) and the PRI test device ready for a fault queue
# (bound to vfio-pci, ATS/PASID/PRI enabled), and the device without PRI not.
. /iopf/guest/lib/t.sh
need_pri_testdev
st() { grep "\"id\":\"$2\"" "$1" | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p'; }
bdf=$($PT find)
nopri=$($PT list | sed -n "s/ nopri$//p" | head -n 1)
$PT bind >/dev/null
PRI_TESTDEV_BDF=$nopri $PT bind >/dev/null

t 'doctor: the emulated VT-d does page requests' '
	"$IOPFTOOL" -j doctor >d.json 2>d.err; cat d.err; grep "\"id\":\"iommu\." d.json;
	[ "$(st d.json iommu.dmar0)" = ok ]
'
t "doctor: the PRI test device $bdf is ready for a fault queue" '
	grep "\"id\":\"device\.$bdf\"" d.json; [ "$(st d.json device.$bdf)" = ok ]
'
t "doctor: the test device without PRI ($nopri) is not" '
	grep "\"id\":\"device\.$nopri\"" d.json; [ -n "$(st d.json device.$nopri)" ] && [ "$(st d.json device.$nopri)" != ok ]
'
