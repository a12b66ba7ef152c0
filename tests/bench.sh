#!/bin/sh
# make bench: throughput of the hot paths, as ratios against a baseline run
# in this same script on the same file (these machines are shared and noisy:
# compare ratios, not seconds).  The baseline is a bare libpcap scan of the
# capture (tests/helpers/pcapscan): the floor for any reader.  Peak memory is
# shown at two capture sizes: it must not grow with the capture.
#   BENCH_GROUPS=1000000 (default) sets the large capture's size.
set -eu
: "${IOPFTOOL:?}"
HELPERS=${HELPERS:-$(dirname "$IOPFTOOL")/tests/helpers}
big=${BENCH_GROUPS:-1000000}
small=$((big / 10))
dir=${TMPDIR:-/tmp}/iopftool-bench.$$
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT

# measure LABEL CMD...: print wall time, records/s and peak RSS; sets $ns
measure() {
	label=$1; shift
	set -- $("$HELPERS/runstat" "$@" 2>&1 >/dev/null | tail -n 1)
	ns=$1 rss=$2 rc=$3
	[ "$rc" -le 1 ] || { echo "bench: '$label' failed with exit $rc" >&2; exit 2; }
	awk -v l="$label" -v ns="$ns" -v n="$records" -v rss="$rss" -v base="${base:-0}" 'BEGIN {
		r = base ? sprintf("%6.2fx", ns / base) : "  base";
		printf "%-34s %8.3f s %12.0f rec/s %s  %7d KiB peak\n", l, ns / 1e9, n / (ns / 1e9), r, rss }'
}

for n in $small $big; do
	"$IOPFTOOL" -q generate -w "$dir/c$n.pcap" --seed 1 --groups "$n" --group-size 1-3 \
		--rate 100000 --pasids 4 --devs 2
done
records=$("$HELPERS/pcapscan" "$dir/c$big.pcap" | cut -d' ' -f1)
echo "# $big groups, $records records, $(du -k "$dir/c$big.pcap" | cut -f1) KiB; ratio = time / baseline time"

base=
measure "baseline: libpcap scan" "$HELPERS/pcapscan" "$dir/c$big.pcap"
base=$ns
measure "read (text)" "$IOPFTOOL" read "$dir/c$big.pcap"
measure "read -j (JSON lines)" "$IOPFTOOL" -j read "$dir/c$big.pcap"
measure "read --dev 1 --type response" "$IOPFTOOL" read --dev 1 --type response "$dir/c$big.pcap"
measure "stats" "$IOPFTOOL" stats "$dir/c$big.pcap"
measure "stats --check" "$IOPFTOOL" stats --check "$dir/c$big.pcap"
measure "replay --topspeed (sim, builtin)" "$IOPFTOOL" -q replay --topspeed "$dir/c$big.pcap"
measure "generate (sim model, virtual clock)" "$IOPFTOOL" -q generate -w "$dir/g.pcap" --seed 2 \
	--groups "$big" --group-size 1-3 --rate 100000
echo "# peak memory against capture size ($small vs $big groups): constant memory"
records=$("$HELPERS/pcapscan" "$dir/c$small.pcap" | cut -d' ' -f1)
measure "stats --check, 1/10 size" "$IOPFTOOL" stats --check "$dir/c$small.pcap"
measure "replay --topspeed, 1/10 size" "$IOPFTOOL" -q replay --topspeed "$dir/c$small.pcap"
