#!/bin/sh
# guest-timeout: 300
# The tap's --print with a standard output that stops reading (a terminal
# paused with Ctrl-S, `| less` left unscrolled; iopftool-monitor(8)): the
# tap keeps reading the trace, stops at -c as it would otherwise, records
# every group the handler saw, loses nothing, and its summary says how
# many lines were not printed; text and -j alike.  Before the tap printed
# through the printer (lib/printer.c) it blocked in write(2) once the pipe
# was full and never reached its count.
. /iopf/guest/lib/t.sh
need_iopftool
need_kprobe_events

# $backends as the other tap tests have them (lib/tap.sh)
. /iopf/guest/lib/tap.sh

# stalled_reader: a reader of the FIFO "stalled" that opens it and never
# reads; its pid in $rp
stalled_reader() {
	rm -f stalled && mkfifo stalled &&
	{ sh -c "exec 7<stalled; exec sleep 200" & } && rp=$!
}
# tap_bounded NAME ARGS...: iopftool ARGS in the background, its standard
# output the stalled FIFO, killed after 60 s ($tp; exit 137 then); ready
# when it has said so on NAME.err
tap_bounded() {
	name=$1
	shift
	rm -f "$name.err"
	timeout -s KILL 60 "$IOPFTOOL" "$@" >stalled 2>"$name.err" &
	tp=$!
	wait_said "$name.err" "read-only" $tp 100 0.1
}
N=1500

for B in $backends; do
	t "$B: record --source tap --print -c $N, standard output stalled: ends at its count, every group recorded, none lost, says what was not printed" '
		stalled_reader &&
		tap_bounded pr record --tap-backend $B --source tap -w pr-$B.pcap --print -c $N &&
		"$IOPFTOOL" record --source mock -w own.pcap -c $N --gen-rate 3000 --gen-group-size 1 2>own.err &&
		wait $tp; rc=$?; kill $rp; cat pr.err; echo "tap exit $rc";
		test $rc = 0 && grep "warning: [0-9]* lines were not printed: standard output did not take them" pr.err &&
		grep "tap: $N groups delivered, .* 0 lost" pr.err &&
		"$IOPFTOOL" read --type fault own.pcap | sed "s/^[^ ]* #[0-9]* //; s/ latency.*//" >own.txt &&
		"$IOPFTOOL" read --type fault pr-$B.pcap | sed "s/^[^ ]* #[0-9]* //; s/ latency.*//" >tapped.txt &&
		test "$(grep -c fault tapped.txt)" = $N && diff own.txt tapped.txt
	'

	t "$B: -j monitor --source tap -c $N, standard output stalled: the same, the warning as JSON" '
		stalled_reader &&
		tap_bounded prj -j monitor --tap-backend $B --source tap -c $N &&
		"$IOPFTOOL" record --source mock -w own.pcap -c $N --gen-rate 3000 --gen-group-size 1 2>own.err &&
		wait $tp; rc=$?; kill $rp; cat prj.err; echo "tap exit $rc";
		test $rc = 0 && grep "^{.*[0-9]* lines were not printed: standard output did not take them" prj.err &&
		grep "tap: $N groups delivered, .* 0 lost" prj.err
	'
	# what the stalled runs said, for the log
	cat pr.err prj.err 2>/dev/null | grep "not printed\|groups delivered" | sed "s/^/# $B: /"

	t "$B: a reader that reads gets every line: text and -j" '
		start_tap pt monitor --tap-backend $B --source tap -c 20 >pt.txt &&
		"$IOPFTOOL" record --source mock -w own.pcap -c 20 --gen-rate 100 --gen-group-size 1 2>own.err &&
		wait $tap_pid && test "$(grep -c " delivery " pt.txt)" = 20 && ! grep "not printed" pt.err &&
		start_tap ptj -j monitor --tap-backend $B --source tap -c 20 >ptj.json &&
		"$IOPFTOOL" record --source mock -w own.pcap -c 20 --gen-rate 100 --gen-group-size 1 2>own.err &&
		wait $tap_pid && test "$(grep -c "\"type\":\"delivery\"" ptj.json)" = 20
	'
done
