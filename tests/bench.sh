#!/bin/sh
# make bench: throughput and memory of the hot paths, each against a
# baseline run in this same script on the same machine (the machines are
# shared and noisy: compare ratios, and CPU time rather than wall time).
#
#   BENCH_RECORDS=1000000  records of the small capture (the large one has 10x)
#   BENCH_RUNS=3           runs per figure; the median is shown
#   BENCH_OUT=FILE         also write the table (markdown) to FILE
#
# Captures are made with `iopftool generate` (seeded: the same bytes every
# time) in a temporary directory, never in the source tree.  Baselines:
#   tcpdump -nr   on a pcap of as many small UDP packets (tests/helpers/udppcap)
#   pcapscan      a bare libpcap scan of the same capture (tests/helpers/pcapscan)
#   cat           reading the file and nothing else
#   queueloop     inject/read/write on libiopf's queue model in one process
#   pingpong      the same messages between two processes over SOCK_SEQPACKET
#   generate      the same groups, written without a live queue
#   sleeploop     a paced replay's schedule kept by a bare clock_nanosleep loop
#   tshark        with the project's dissector (wireshark/iopf.lua), when it exists,
#                 on the first BENCH_TSHARK records (default 1/50 of the capture):
#                 text for read, -T ek (JSON lines) for read -j
set -eu
: "${IOPFTOOL:?}"
HELPERS=${HELPERS:-$(dirname "$IOPFTOOL")/tests/helpers}
SRC=${SRC:-$(cd "$(dirname "$0")/.." && pwd)}
N=${BENCH_RECORDS:-1000000}
RUNS=${BENCH_RUNS:-3}
OUT=${BENCH_OUT:-}
dir=$(mktemp -d "${TMPDIR:-/tmp}/iopftool-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
export TZ=UTC LC_ALL=C

# The capture shape of issue 9: groups of 1-4 faults, half with a PASID,
# a response after each group: 3.5 records a group on average.
GEN="--seed 1 --group-size 1-4 --pasids 4 --pasid-less 0.5 --devs 2 --rate 100000"
groups_for() { echo $(( $1 * 2 / 7 )); }

rows=$dir/rows
: >"$rows"

# run CMD...: one run under runstat; sets wall cpu rss (ns, ns, KiB)
run() {
	set -- $("$HELPERS/runstat" "$@" 2>&1 >/dev/null | tail -n 1)
	[ $# -eq 4 ] && [ "$3" -le 1 ] || { echo "bench: a run failed (exit ${3:-?})" >&2; exit 2; }
	wall=$1 rss=$2 cpu=$4
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# measure KEY RECORDS LABEL CMD...: the median of $RUNS runs; the row is kept under KEY
measure() {
	key=$1 recs=$2 label=$3; shift 3
	: >"$dir/w"; : >"$dir/c"; maxrss=0
	i=0
	while [ "$i" -lt "$RUNS" ]; do
		run "$@"
		echo "$wall" >>"$dir/w"; echo "$cpu" >>"$dir/c"
		[ "$rss" -gt "$maxrss" ] && maxrss=$rss
		i=$((i + 1))
	done
	w=$(median <"$dir/w") c=$(median <"$dir/c")
	echo "$key $recs $w $c $maxrss $label" >>"$rows"
}

# rss KEY CMD...: one run, for the peak memory only
rss() {
	key=$1; shift
	run "$@"
	echo "$key $rss" >>"$dir/rss"
}

get() { awk -v k="$1" -v f="$2" '$1 == k { print $f; exit }' "$rows"; }
rssof() { awk -v k="$1" '$1 == k { print $2; exit }' "$dir/rss"; }

# ------------------------------------------------------------------
# Captures
# ------------------------------------------------------------------
N10=$((N * 10))
G1=$(groups_for "$N") G10=$(groups_for "$N10")
: >"$dir/rss"
# shellcheck disable=SC2086
rss generate1 "$IOPFTOOL" -q generate -w "$dir/c1.pcap" $GEN --groups "$G1"
# shellcheck disable=SC2086
rss generate10 "$IOPFTOOL" -q generate -w "$dir/c10.pcap" $GEN --groups "$G10"
R1=$("$HELPERS/pcapscan" "$dir/c1.pcap" | cut -d' ' -f1)
R10=$("$HELPERS/pcapscan" "$dir/c10.pcap" | cut -d' ' -f1)
"$HELPERS/udppcap" "$dir/udp.pcap" "$R1"

# ------------------------------------------------------------------
# Throughput on the small capture, with baselines
# ------------------------------------------------------------------
C=$dir/c1.pcap
measure cat "$R1" "baseline: cat" cat "$C"
measure scan "$R1" "baseline: libpcap scan (pcapscan)" "$HELPERS/pcapscan" "$C"
if command -v tcpdump >/dev/null 2>&1; then
	measure tcpdump "$R1" "baseline: TZ=UTC tcpdump -nr (UDP)" tcpdump -nr "$dir/udp.pcap"
fi
measure read "$R1" "read (text)" "$IOPFTOOL" read "$C"
measure readj "$R1" "read -j (JSON lines)" "$IOPFTOOL" -j read "$C"
measure readf "$R1" "read --dev 1 --type response" "$IOPFTOOL" read --dev 1 --type response "$C"
measure stats "$R1" "stats" "$IOPFTOOL" stats "$C"
measure check "$R1" "stats --check" "$IOPFTOOL" stats --check "$C"
lua=$SRC/wireshark/iopf.lua
if [ -f "$lua" ] && command -v tshark >/dev/null 2>&1; then
	# tshark keeps every frame in memory and takes ~100x longer: the first
	# BENCH_TSHARK records (default 1/50 of the capture); rates are per record
	K=${BENCH_TSHARK:-$((N / 50))}
	measure tshark "$K" "baseline: tshark + iopf.lua (first $K)" \
		tshark -n -c "$K" -X "lua_script:$lua" -r "$C"
	measure tsharkek "$K" "baseline: tshark -T ek + iopf.lua (first $K)" \
		tshark -n -T ek -c "$K" -X "lua_script:$lua" -r "$C"
	tshark_note=
else
	tshark_note="tshark rows skipped: $lua does not exist yet (or tshark is missing)"
fi
measure qloop "$R1" "baseline: queue model loop (queueloop)" "$HELPERS/queueloop" "$C"
measure replay "$R1" "replay --topspeed --target sim" "$IOPFTOOL" -q replay --topspeed --target sim "$C"
# The same shape over 65536 devices: one dev_id look-up per record must not
# grow with the number of devices (issue 15 M3: it was a linear search).
# shellcheck disable=SC2086
"$IOPFTOOL" -q generate -w "$dir/devs.pcap" $GEN --devs 65536 --groups "$G1"
measure replaydevs "$("$HELPERS/pcapscan" "$dir/devs.pcap" | cut -d' ' -f1)" \
	"replay --topspeed --target sim, 65536 devices" \
	"$IOPFTOOL" -q replay --topspeed --target sim "$dir/devs.pcap"
rm -f "$dir/devs.pcap"
measure pingpong "$R1" "baseline: 2-process ping-pong" "$HELPERS/pingpong" "$C"
measure replayx "$R1" "replay --topspeed --exec 'iopftool handle'" \
	"$IOPFTOOL" -q replay --topspeed --exec "$IOPFTOOL -q handle" "$C"
# shellcheck disable=SC2086
measure gen "$R1" "baseline: generate" "$IOPFTOOL" -q generate -w "$dir/g.pcap" $GEN --groups "$G1"
measure record "$R1" "record --source sim (full speed)" "$IOPFTOOL" -q record --source sim \
	--gen-groups "$G1" --gen-rate 1000000000 -c "$G1" -w "$dir/r.pcap"

# ------------------------------------------------------------------
# The live paths under load (lib/replay.c, lib/session.c flow control):
# top speed on the large capture, with peak RSS, against the small
# capture's baselines (cpu per record); and the schedule lag of a paced
# replay against a bare clock_nanosleep loop keeping the same schedule.
# ------------------------------------------------------------------
: >"$dir/live"
measure replayx10 "$R10" "replay --topspeed --exec 'iopftool handle' (large)" \
	"$IOPFTOOL" -q replay --topspeed --exec "$IOPFTOOL -q handle" "$dir/c10.pcap"
measure replayxs "$R1" "replay --topspeed --exec 'iopftool handle' --handler-fd socket" \
	"$IOPFTOOL" -q replay --topspeed --handler-fd socket --exec "$IOPFTOOL -q handle" "$C"
measure record10 "$R10" "record --source sim (full speed, large)" "$IOPFTOOL" -q record \
	--source sim --gen-groups "$G10" --gen-rate 1000000000 -c "$G10" -w "$dir/r.pcap"
# The same with what a fleet runs (iopftool-record(8) "ROTATION"): metrics
# rewritten every 100 ms (the shortest interval) and 10 MB files, 5 kept.
measure recordm10 "$R10" "record (large) --metrics, every 100ms, -C 10 -W 5" "$IOPFTOOL" -q record \
	--source sim --gen-groups "$G10" --gen-rate 1000000000 -c "$G10" -w "$dir/r.pcap" \
	--metrics "$dir/m.prom" --metrics-interval 100ms -C 10 -W 5
rm -f "$dir/r.pcap"*
# A paced capture: BENCH_PACED groups (default 40000) at 20000 groups/s: 2 s of schedule.
P=${BENCH_PACED:-40000}
# shellcheck disable=SC2086
"$IOPFTOOL" -q generate -w "$dir/paced.pcap" --seed 2 --group-size 1-4 --rate 20000 --groups "$P"
# lag LABEL CMD...: $RUNS runs; the medians of p50 and p99 lag (ns), cpu and wall
lag() {
	label=$1; shift
	: >"$dir/l50"; : >"$dir/l99"; : >"$dir/w"; : >"$dir/c"
	i=0
	while [ "$i" -lt "$RUNS" ]; do
		# runstat sends stdout to /dev/null: the command writes its report to lag.out
		set -- $(LAGOUT=$dir/lag.out "$HELPERS/runstat" sh -c 'exec "$@" >"$LAGOUT"' sh "$@" \
			2>&1 >/dev/null | tail -n 1) "$@"
		[ "$3" -le 1 ] || { echo "bench: a run failed (exit $3)" >&2; exit 2; }
		echo "$1" >>"$dir/w"; echo "$4" >>"$dir/c"; shift 4
		if [ "$1" = "$HELPERS/sleeploop" ]; then
			cut -d' ' -f2 "$dir/lag.out" >>"$dir/l50"; cut -d' ' -f3 "$dir/lag.out" >>"$dir/l99"
		else
			"$HELPERS/json-get" "$dir/lag.out" schedule_lag_ns.p50 >>"$dir/l50"
			"$HELPERS/json-get" "$dir/lag.out" schedule_lag_ns.p99 >>"$dir/l99"
		fi
		i=$((i + 1))
	done
	echo "$(median <"$dir/l50") $(median <"$dir/l99") $(median <"$dir/w") $(median <"$dir/c") $label" \
		>>"$dir/lags"
}
: >"$dir/lags"
lag "baseline: clock_nanosleep loop (sleeploop)" "$HELPERS/sleeploop" "$dir/paced.pcap"
lag "replay --target sim (recorded schedule)" "$IOPFTOOL" -j replay --target sim "$dir/paced.pcap"
lag "replay --exec 'iopftool handle' (recorded schedule)" \
	"$IOPFTOOL" -j replay --exec "$IOPFTOOL -q handle" "$dir/paced.pcap"
{
echo
echo "Live paths: top speed on $R10 records (the socket row: $R1), cpu per record against the $R1-record baselines, peak RSS"
echo
echo "| what | wall s | cpu s | Mrec/s (cpu) | Mrec/s (wall) | cpu/record vs baseline | peak RSS KiB | target |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
awk '
{ k = $1; N[k] = $2; W[k] = $3; C[k] = $4; M[k] = $5; $1 = $2 = $3 = $4 = $5 = ""; sub(/^ +/, ""); L[k] = $0 }
function row(k, base, bname, target,   ratio) {
	if (!(k in W)) return
	ratio = ""
	if ((base in C) && C[base] > 0)
		ratio = sprintf("%.2fx %s", (C[k] / N[k]) / (C[base] / N[base]), bname)
	printf "| %s | %.3f | %.3f | %.3f | %.3f | %s | %d | %s |\n", L[k], W[k] / 1e9, C[k] / 1e9,
		N[k] / (C[k] / 1e9) / 1e6, N[k] / (W[k] / 1e9) / 1e6, ratio, M[k], target
}
END {
	row("replayx10", "pingpong", "pingpong", "rate >= 0.8x pingpong (cpu <= 1.25x); <= 16 MiB")
	row("replayxs", "pingpong", "pingpong", "rate >= 0.8x pingpong (cpu <= 1.25x)")
	row("record10", "gen", "generate", ">= 3 M faults/s, no loss; <= 16 MiB")
	row("recordm10", "record10", "record (large)", "what metrics and rotation cost; <= 16 MiB")
}' "$rows"
echo
echo "Paced replay: $P groups at 20000 groups/s ($(awk -v p="$P" 'BEGIN { printf "%.1f", p / 20000 }') s of schedule); schedule lag, median of $RUNS runs"
echo
echo "| what | lag p50 us | lag p99 us | wall s | cpu s | target |"
echo "|---|---:|---:|---:|---:|---|"
awk '{ l = $0; for (i = 0; i < 4; i++) sub(/^[^ ]+ /, "", l)
	t = l ~ /^baseline/ ? "" : "p50 <= 5 us, p99 <= 50 us (idle machine)"
	printf "| %s | %.1f | %.1f | %.3f | %.3f | %s |\n", l, $1 / 1e3, $2 / 1e3, $3 / 1e9, $4 / 1e9, t }' \
	"$dir/lags"
} >"$dir/live"

# ------------------------------------------------------------------
# Peak memory of every verb at both sizes
# ------------------------------------------------------------------
for s in 1 10; do
	C=$dir/c$s.pcap
	eval "G=\$G$s"
	rss "read$s" "$IOPFTOOL" read "$C"
	rss "readj$s" "$IOPFTOOL" -j read "$C"
	rss "stats$s" "$IOPFTOOL" stats "$C"
	rss "check$s" "$IOPFTOOL" stats --check "$C"
	rss "replay$s" "$IOPFTOOL" -q replay --topspeed "$C"
	rss "replayx$s" "$IOPFTOOL" -q replay --topspeed --exec "$IOPFTOOL -q handle" "$C"
	rss "record$s" "$IOPFTOOL" -q record --source sim --gen-groups "$G" --gen-rate 1000000000 \
		-c "$G" -w "$dir/r.pcap"
	rss "monitor$s" "$IOPFTOOL" monitor --source sim --gen-groups "$G" --gen-rate 1000000000 -c "$G"
	rm -f "$dir/r.pcap"
done

# ------------------------------------------------------------------
# The table
# ------------------------------------------------------------------
{
echo "# $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'),"\
     "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo "# capture: $R1 records ($(du -k "$dir/c1.pcap" | cut -f1) KiB); large: $R10 records;" \
     "median of $RUNS runs; cpu = user + system time"
echo
echo "| what | wall s | cpu s | Mrec/s (cpu) | Mrec/s (wall) | cpu/record vs baseline | target |"
echo "|---|---:|---:|---:|---:|---:|---|"
awk -v R="$R1" '
function row(k, base, target,   r, ratio) {
	if (!(k in W)) return
	# CPU time per record against that of the baseline (tshark reads fewer records)
	ratio = ""
	if (base != "" && (base in C) && C[base] > 0) {
		ratio = (C[k] / N[k]) / (C[base] / N[base])
		ratio = sprintf(ratio < 0.1 ? "%.4fx %s" : "%.2fx %s", ratio, S[base])
	}
	printf "| %s | %.3f | %.3f | %.3f | %.3f | %s | %s |\n", L[k], W[k] / 1e9, C[k] / 1e9,
		N[k] / (C[k] / 1e9) / 1e6, N[k] / (W[k] / 1e9) / 1e6, ratio, target
}
{ k = $1; N[k] = $2; W[k] = $3; C[k] = $4; $1 = $2 = $3 = $4 = $5 = ""; sub(/^ +/, ""); L[k] = $0 }
END {
	S["cat"] = "cat"; S["scan"] = "pcapscan"; S["tcpdump"] = "tcpdump"; S["tshark"] = "tshark"
	S["tsharkek"] = "tshark -T ek"; S["qloop"] = "queueloop"; S["pingpong"] = "pingpong"
	S["gen"] = "generate"
	row("cat"); row("scan"); row("tcpdump"); row("tshark"); row("tsharkek")
	row("read", "tcpdump", ">= 5 Mrec/s, <= 0.20x tcpdump")
	if ("tshark" in C) row("read", "tshark")
	row("readj", "tcpdump", ">= 1.5 Mrec/s")
	if ("tsharkek" in C) row("readj", "tsharkek", ">= 100x the rate of tshark -T ek (<= 0.01x)")
	row("readf", "scan")
	row("stats", "scan", ">= 7 Mrec/s, <= 1.5x scan"); row("stats", "cat")
	row("check", "scan", ">= 7 Mrec/s, <= 1.5x scan"); row("check", "cat")
	row("qloop"); row("replay", "qloop")
	S["replay"] = "replay (2 devices)"; row("replaydevs", "replay", "<= 3x replay (2 devices); the linear search was 60x")
	row("pingpong"); row("replayx", "pingpong")
	row("gen"); row("record", "gen")
}' "$rows"
echo
echo "| peak RSS (KiB) | $R1 records | $R10 records | growth | target |"
echo "|---|---:|---:|---:|---|"
for v in generate read readj stats check replay replayx record monitor; do
	a=$(rssof "${v}1") b=$(rssof "${v}10")
	awk -v v="$v" -v a="$a" -v b="$b" 'BEGIN {
		names["generate"] = "generate"; names["read"] = "read"; names["readj"] = "read -j"
		names["stats"] = "stats"; names["check"] = "stats --check"
		names["replay"] = "replay --topspeed"; names["replayx"] = "replay --exec handle"
		names["record"] = "record --source sim"; names["monitor"] = "monitor --source sim"
		ok = (a <= 16384 && b <= 16384 && b <= a * 1.10) ? "ok" : "MISSED"
		printf "| %s | %d | %d | %+.1f%% | <= 16 MiB, +10%%: %s |\n", names[v], a, b, (b - a) * 100 / a, ok }'
done
[ -z "${tshark_note:-}" ] || { echo; echo "$tshark_note"; }
} | tee "$dir/table"
[ -z "$OUT" ] || cp "$dir/table" "$OUT"
# The live-path tables (section above) follow the main table.
tee -a "$dir/table" <"$dir/live"
[ -z "$OUT" ] || cp "$dir/table" "$OUT"
