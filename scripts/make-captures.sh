#!/bin/sh
# Regenerate the sample captures in captures/ deterministically from
# build/iopftool (generate) and build/tests/helpers/mkcapture (exact bytes).
#   scripts/make-captures.sh [BUILD_DIR]
# captures/README explains each one; review `git diff --stat captures/`.
set -eu
cd "$(dirname "$0")/.."
B=${1:-build}
T=$B/iopftool
MK=$B/tests/helpers/mkcapture
C=captures
for f in "$T" "$MK"; do
	[ -x "$f" ] || { echo "make-captures: $f missing (run make)" >&2; exit 2; }
done

# generate: seeded, byte-identical for the same options
"$T" generate -w $C/demo.pcap --seed 7 --groups 16 --group-size 1-3 --devs 2 \
	--pasids 2 --pasid-less 0.4 --rate 20000 --latency 20us
"$T" generate -w $C/multi.pcap --seed 2 --groups 12 --group-size 2-6 --pasids 1 \
	--rate 20000
"$T" generate -w $C/nopasid.pcap --seed 3 --groups 10 --devs 2 --rate 20000
"$T" generate -w $C/lost.pcap --seed 1 --groups 10 --group-size 1-2 --lost-every 7 \
	--rate 20000

# mkcapture: hand-written records
meta_start='meta,text=tool=mkcapture;version=1;source=mkcapture;kernel=none;fault_record_size=40'

# The kernel's flag bit 2 leak (0x5, 0x7) and an unknown perm bit (0x10).
"$MK" $C/unknown-flags.pcap "$meta_start" \
	fault,flags=0x5,dev=1,pasid=1,grpid=12,perm=0x1,addr=0x10000,cookie=1,t=2000 \
	fault,flags=0x7,dev=1,pasid=1,grpid=12,perm=0x13,addr=0x11000,cookie=1,t=2000 \
	resp,cookie=1,code=0,lat=3000,t=5000 \
	fault,flags=0x7,dev=2,pasid=3,grpid=300,perm=0x2,addr=0x7f000,cookie=1,t=9000 \
	resp,cookie=1,code=0,lat=1000,t=10000 \
	'meta,text=end=1;faults=3;groups=2;responses=2;lost=0'

# Refused responses: a grpid echo, a duplicate, a bad code, all status 22.
"$MK" $C/refused.pcap "$meta_start" \
	fault,dev=1,grpid=5,perm=0x3,addr=0x20000,cookie=1,last,t=1000 \
	resp,cookie=5,code=0,status=22,lat=2000,t=3000 \
	resp,cookie=1,code=0,status=0,lat=4000,t=5000 \
	resp,cookie=1,code=0,status=22,lat=5000,t=6000 \
	fault,dev=1,grpid=9,perm=0x1,addr=0x30000,cookie=1,last,t=10000 \
	resp,cookie=1,code=2,status=22,lat=1000,t=11000 \
	resp,cookie=1,code=1,status=0,lat=2000,t=12000 \
	'meta,text=end=1;faults=2;groups=2;responses=5;lost=0'

# Two interleaved groups (iopftool-capture(5) "Groups and cookies"): the
# first records of cookies 1 and 2, then the LAST_PAGE records of 1 and 2,
# then the responses to 1 and 2.  Every verb finds 2 groups.
"$MK" $C/interleaved.pcap "$meta_start" \
	fault,dev=1,pasid=1,grpid=3,perm=0x1,addr=0x10000,cookie=1,flags=0x1,t=1000 \
	fault,dev=2,grpid=4,perm=0x2,addr=0x20000,cookie=2,flags=0,t=1000 \
	fault,dev=1,pasid=1,grpid=3,perm=0x3,addr=0x11000,cookie=1,last,t=2000 \
	fault,dev=2,grpid=4,perm=0x2,addr=0x21000,cookie=2,last,t=2000 \
	resp,cookie=1,code=0,lat=3000,t=5000 \
	resp,cookie=2,code=0,lat=4000,t=6000 \
	'meta,text=end=1;faults=4;groups=2;responses=2;lost=0'

# One small capture in three containers: pcap (LE, ns), pcapng, and
# big-endian pcap with microsecond stamps.  Times are whole microseconds,
# so all three decode to the same records.
small="$meta_start
fault,dev=1,pasid=4,grpid=1,perm=0x1,addr=0x40000,cookie=1,t=1000
fault,dev=1,pasid=4,grpid=1,perm=0x3,addr=0x41000,cookie=1,last,t=1000
fault,dev=2,grpid=7,perm=0x2,addr=0x50000,cookie=2,last,t=3000
resp,cookie=2,code=0,lat=2000,t=5000
resp,cookie=1,code=1,lat=6000,t=7000
lost,count=2,t=8000
meta,text=end=1;faults=3;groups=2;responses=2;lost=2"
old_ifs=$IFS
IFS='
'
"$MK" $C/small.pcap $small
"$MK" -F pcapng $C/small.pcapng $small
"$MK" -B -U $C/small-be-usec.pcap $small
IFS=$old_ifs
echo "make-captures: wrote $(ls $C/*.pcap $C/*.pcapng | wc -l) captures in $C/"
