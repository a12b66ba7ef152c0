#!/bin/sh
# Regenerate the crafted seeds of fuzz/corpus/ (the committed captures of
# captures/ are copied as they are).  Needs `make all` (build/tests/helpers).
#   fuzz/make-corpus.sh [BUILD_DIR]
# The fuzz-queue seeds are operation programs, see the input format at the
# top of fuzz/fuzz-queue.c.
set -eu
cd "$(dirname "$0")/.."
MK=${1:-build}/tests/helpers/mkcapture
C=fuzz/corpus/fuzz-capture
Q=fuzz/corpus/fuzz-queue
mkdir -p "$C" "$Q"

cp captures/*.pcap captures/*.pcapng "$C"/

g1=fault,dev=1,pasid=1,grpid=3,perm=3,addr=0x1000,cookie=1,last
g2=resp,cookie=1,code=0,lat=1500
"$MK" "$C/crafted-bad-records.pcap" "$g1" garbage,len=7 fault,ver=3 resp,len=33 \
	fault,hdrlen=20 fault,hdrlen=200 lost,count=3 resp,cookie=9,status=22 \
	resp,cookie=1,type=9 fault,magic=0x1 "$g2"
"$MK" -F pcapng "$C/crafted-ng-mixed.pcapng" "$g1" fault,dev=2,grpid=4,perm=1,pasid=0 \
	fault,dev=2,grpid=4,perm=1,last,cookie=2 resp,cookie=2,code=1 fault,magic=0x1 "$g2" \
	'meta,text=tool=x;bad=\x01'
"$MK" -B -U "$C/crafted-be-usec.pcap" "$g1" "$g2" lost,count=1
"$MK" -T 10 "$C/crafted-truncated.pcap" "$g1" "$g2" "$g1"
"$MK" -F pcapng -B "$C/crafted-be.pcapng" "$g1" lost,count=1,len=36 "$g2"
"$MK" -F pcapng -T 6 "$C/crafted-truncated.pcapng" "$g1" "$g2"
"$MK" -L 162 "$C/crafted-lt162.pcap" "$g1" \
	fault,dev=7,flags=0xfffffff,perm=0xff,res=5,length=4096,extra=24,last \
	resp,cookie=1,code=77 resp,cookie=3,code=0,t=-5
"$MK" "$C/crafted-meta.pcap" 'meta,text=tool=iopftool;version=0.1.0;k=v=w;=;noeq;é=ü;end=1' \
	meta,text= lost,count=18446744073709551615

# Raw records (no pcap magic: fuzz-capture decodes them directly): the
# bytes of the one record of a classic pcap, after its 24+16 header bytes.
raw() { name=$1; shift; "$MK" - "$@" | tail -c +41 >"$C/raw-$name"; }
raw fault "$g1"
raw fault-extra fault,dev=9,flags=0x7,pasid=5,grpid=511,perm=15,extra=8,last
raw response "$g2"
raw response-refused resp,cookie=4,code=1,status=22
raw lost lost,count=7
raw meta 'meta,text=tool=iopftool;source=sim'
raw unknown-type resp,type=200
# fuzz-record takes only raw records
mkdir -p fuzz/corpus/fuzz-record
cp "$C"/raw-* fuzz/corpus/fuzz-record/

# Queue programs: two configuration bytes (queue id, deadline), then ops.
bytes() { for b; do printf "\\$(printf %03o "$b")"; done; }
ATTACH=0 DETACH=1 INJECT=2 READ=5 WRITE=7 POLL=8 TICK=9
# inject DEV GSEL FLAGS PASID PERM ADDR(4 bytes); dev index 0 is dev_id 1
inj() { bytes $INJECT "$1" "$2" "$3" 1 3 0 0 0 1; }
{	# one fault, read, answered, polled
	bytes 1 0 $ATTACH 0; inj 0 3 2; bytes $POLL $READ 3 0 $TICK 10 $WRITE 1 0 0 0 $POLL
} >"$Q/basic"
{	# a three-record group: a read one record short (EINVAL), then exact
	bytes 1 0 $ATTACH 0; inj 0 1 0; inj 0 1 0; inj 0 1 2
	bytes $READ 7 1 $READ 7 0 $WRITE 1 0 0 0
} >"$Q/multi-record"
{	# detach answers dev 1's groups and drops its partial; then ENODEV
	bytes 1 0 $ATTACH 0 $ATTACH 1; inj 0 3 2; inj 1 3 2; inj 0 4 0
	bytes $READ 3 0 $DETACH 0 $WRITE 2 0 0 0 6 0; inj 0 4 2; bytes $POLL
} >"$Q/detach"
{	# cookie 0 written while groups are outstanding: handed out next
	bytes 1 0 $ATTACH 0; inj 0 1 2; inj 0 2 2
	bytes $READ 3 0 $WRITE 1 0 2 0; inj 0 3 2; bytes $READ 3 0 $WRITE 1 0 2 0 $WRITE 1 0 2 0
} >"$Q/cookie-zero"
{	# partial write: two taken, a bad code stops the third
	bytes 7 140 $ATTACH 0; inj 0 1 2; inj 0 2 2; inj 0 3 2; bytes $READ 3 0 $TICK 200
	bytes $WRITE 4 0 0 0 6 0 0 210 12 0 $WRITE 1 0 3 0 $WRITE 1 0 0 1
} >"$Q/partial-write"
{	# counts past MAX_RW_COUNT, a NULL buffer, a count not a multiple
	bytes 1 0 $ATTACH 0; inj 0 1 2; inj 0 2 2
	bytes $READ 4 1 $READ 2 0 5 $READ 5 1 $READ 6 0 $WRITE 2 5 0 0 6 0 1 $WRITE 1 4 0 0 $WRITE 1 3 0 0 3
} >"$Q/counts"
{	# 70 partial groups at once (the partial hash grows), completed, read in one go
	bytes 1 0 $ATTACH 0 $ATTACH 1
	g=128; while [ $g -lt 198 ]; do inj $((g % 2)) $g 0; g=$((g + 1)); done
	g=128; while [ $g -lt 198 ]; do inj $((g % 2)) $g 2; g=$((g + 1)); done
	bytes $READ 3 0 $WRITE 8 0 0 0 6 0 12 0 18 0 24 0 30 0 36 0 42 0 $DETACH 1 $POLL
} >"$Q/many-partials"
