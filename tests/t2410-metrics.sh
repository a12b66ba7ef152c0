#!/bin/sh
# monitor/record --metrics and --metrics-listen (iopftool-monitor(8)
# "METRICS"): promtool checks the text, a real Prometheus server on
# loopback scrapes the endpoint and its query API gives the counts, the
# endpoint probed with malformed and slow requests while faults flow, the
# alert rules of the README checked by promtool, the example systemd unit
# by systemd-analyze verify.  Only 127.0.0.1.
. "$(dirname "$0")/lib.sh"

case $IOPFTOOL in
*-san/*|*valgrind*) ;;
*) test_set_prereq PLAIN ;;
esac
command -v promtool >/dev/null && test_set_prereq PROMTOOL
command -v prometheus >/dev/null && command -v curl >/dev/null && test_set_prereq PROMETHEUS

# port_of ERRFILE: the port monitor printed ("metrics on http://127.0.0.1:PORT/metrics")
port_of() {
	sed -n 's|.*metrics on http://127\.0\.0\.1:\([0-9]*\)/metrics.*|\1|p' "$1" | head -n 1
}

# sum_of METRIC FILE: the sum of the samples of METRIC (no suffix matched)
sum_of() {
	sed -n "s/^$1{[^}]*} //p; s/^$1 //p" "$2" | awk '{ s += $1 } END { print s + 0 }'
}

test_expect_success PROMTOOL 'record --metrics FILE: valid text, the run'"'"'s counts, no temporary left' '
	iopftool record --source sim --gen-groups 3000 --gen-rate 1000000000 --policy invalid \
		--gen-devs 3 --gen-pasids 4 -w r.pcap --metrics m.prom 2>err &&
	promtool check metrics <m.prom &&
	faults=$(iopftool stats r.pcap | sed -n "s/.*, faults \([0-9]*\), groups.*/\1/p") &&
	test "$(sum_of iopf_faults_total m.prom)" = "$faults" &&
	test "$(sum_of iopf_groups_total m.prom)" = 3000 &&
	grep "^iopf_responses_total{queue=\"[0-9]*\",code=\"invalid\"} 3000$" m.prom &&
	test "$(sum_of iopf_unanswered_groups m.prom)" = 0 &&
	test "$(sum_of iopf_response_latency_seconds_count m.prom)" = 3000 &&
	grep "^iopf_response_latency_seconds_bucket{queue=\"[0-9]*\",le=\"+Inf\"} 3000$" m.prom &&
	test "$(grep -c "^iopf_faults_total{" m.prom)" = 12 &&
	for f in faults_total groups_total responses_total responses_refused_total auto_responses_total \
		unanswered_groups lost_records_total response_latency_seconds metrics_folded_total; do
		grep -q "^# HELP iopf_$f " m.prom && grep -q "^# TYPE iopf_$f " m.prom || { echo "$f"; exit 1; }
	done &&
	test "$(ls | grep -c tmp)" = 0
'

test_expect_success PROMTOOL 'monitor --metrics: rewritten every interval while it runs' '
	"$IOPFTOOL" monitor --source sim --gen-rate 500 --duration 3s --metrics-interval 200ms \
		--metrics live.prom >/dev/null 2>err.live &
	pid=$! &&
	test_wait_for 10 test -s live.prom &&
	sleep 1 && a=$(sum_of iopf_groups_total live.prom) &&
	sleep 1 && b=$(sum_of iopf_groups_total live.prom) &&
	wait $pid && echo "groups after 1 s: $a, after 2 s: $b" &&
	test "$b" -gt "$a" && promtool check metrics <live.prom
'

test_expect_success 'usage: --metrics-listen needs a numeric address; a port in use is exit 2' '
	test_expect_code 64 iopftool monitor --metrics-listen localhost:9464 --duration 1ms 2>err &&
	grep "numeric address" err &&
	test_expect_code 64 iopftool monitor --metrics-listen 127.0.0.1:99999 --duration 1ms &&
	test_expect_code 64 iopftool monitor --metrics-listen ::1:9464 --duration 1ms &&
	test_expect_code 64 iopftool monitor --metrics-interval 1ms --duration 1ms || exit 1
	"$IOPFTOOL" monitor --source sim --duration 5s --metrics-listen 0 >/dev/null 2>err1 &
	pid=$! &&
	test_wait_for 10 grep -q "metrics on" err1 && p=$(port_of err1) &&
	test_expect_code 2 iopftool monitor --duration 1s --metrics-listen "127.0.0.1:$p" 2>err &&
	grep "Address already in use" err && kill $pid && wait $pid
'

test_expect_success PROMTOOL 'GET /metrics over HTTP: valid text, the same counters' '
	"$IOPFTOOL" monitor --source sim --gen-groups 500 --gen-rate 1000000000 --delay 20s \
		--metrics-listen 127.0.0.1:0 >/dev/null 2>err.http &
	pid=$! &&
	test_wait_for 10 grep -q "metrics on" err.http && port=$(port_of err.http) &&
	test_wait_for 10 sh -c "curl -sf http://127.0.0.1:$port/metrics >h.prom && grep -q \"^iopf_unanswered_groups{queue=\\\"[0-9]*\\\"} 500\$\" h.prom" &&
	curl -sf -D hdr -o /dev/null http://127.0.0.1:$port/metrics &&
	grep -i "^Content-Type: text/plain; version=0.0.4" hdr &&
	kill -TERM $pid && wait $pid &&
	promtool check metrics <h.prom &&
	test "$(sum_of iopf_groups_total h.prom)" = 500
'

# A Prometheus server of its own on 127.0.0.1: a free port near a random one.
prom_start() {
	mkdir -p prom/data &&
	cat >prom/prometheus.yml <<-EOF &&
	global:
	  scrape_interval: 500ms
	  scrape_timeout: 400ms
	scrape_configs:
	  - job_name: iopftool
	    static_configs:
	      - targets: ['127.0.0.1:$1']
	EOF
	for try in 1 2 3 4 5; do
		pport=$((20000 + ($$ * 7 + try * 131) % 30000))
		prometheus --config.file=prom/prometheus.yml --storage.tsdb.path=prom/data \
			--web.listen-address=127.0.0.1:$pport >prom/log 2>&1 &
		ppid=$!
		if test_wait_for 30 sh -c "curl -sf http://127.0.0.1:$pport/-/ready >/dev/null || ! kill -0 $ppid"; then
			kill -0 $ppid 2>/dev/null && return 0
		fi
		kill $ppid 2>/dev/null; wait $ppid 2>/dev/null
	done
	cat prom/log; return 1
}

# query EXPR: the value of an instant query, from the query API
query() {
	curl -sf --get --data-urlencode "query=$1" "http://127.0.0.1:$pport/api/v1/query" |
		sed -n 's/.*"value":\[[0-9.]*,"\([^"]*\)"\].*/\1/p'
}

test_expect_success PROMETHEUS 'a Prometheus server scrapes --metrics-listen: its query API has the counts' '
	"$IOPFTOOL" monitor --source sim --gen-groups 700 --gen-rate 1000000000 --gen-devs 2 \
		--delay 60s --metrics-listen 127.0.0.1:0 >/dev/null 2>err.prom &
	pid=$! &&
	test_wait_for 10 grep -q "metrics on" err.prom && port=$(port_of err.prom) &&
	prom_start "$port" &&
	test_wait_for 60 sh -c "curl -sf --get --data-urlencode \"query=sum(iopf_groups_total)\" http://127.0.0.1:$pport/api/v1/query | grep -q \"\\\"700\\\"\"" &&
	test "$(query "sum(iopf_groups_total)")" = 700 &&
	test "$(query "sum(iopf_unanswered_groups)")" = 700 &&
	test "$(query "count(iopf_groups_total)")" = 4 &&
	test "$(query "up{job=\"iopftool\"}")" = 1 &&
	test "$(query "sum(iopf_responses_total)")" = 0 &&
	faults=$(query "sum(iopf_faults_total)") && echo "Prometheus: 700 groups, $faults faults" &&
	kill -TERM $pid && wait $pid && grep "sim: 700 groups, $faults faults, 700 responses" err.prom &&
	kill $ppid && wait $ppid
'

test_expect_success 'malformed, slow and flooding clients while faults flow: every answer on time, memory bounded' '
	"$IOPFTOOL" monitor --source sim --gen-rate 2000 --duration 120s \
		--metrics-listen 127.0.0.1:0 >/dev/null 2>err.probe &
	pid=$! &&
	test_wait_for 10 grep -q "metrics on" err.probe && port=$(port_of err.probe) &&
	{ "$HELPERS/httpprobe" bad "$port" >bad || { cat bad err.probe; ss -ltn; exit 1; }; } &&
	"$HELPERS/httpprobe" slow "$port" 40 7 >slow &&
	"$HELPERS/httpprobe" flood "$port" 200 >flood &&
	sleep 6 && { "$HELPERS/httpprobe" bad "$port" >bad2 || { cat bad2; exit 1; }; } &&
	kill -TERM $pid && wait $pid && mv err.probe err && cat bad slow flood bad2 err &&
	grep "closed 40 of 40" slow &&
	grep -E "sim: [0-9]+ groups, [0-9]+ faults, [0-9]+ responses \([0-9]+ accepted, 0 refused\)" err &&
	g=$(sed -n "s/^sim: \([0-9]*\) groups.*/\1/p" err) &&
	r=$(sed -n "s/.*faults, \([0-9]*\) responses.*/\1/p" err) && test "$g" = "$r" && test "$g" -gt 1000 &&
	p99=$(sed -n "s/.*p99 \([^ ]*\) max.*/\1/p" err) && echo "p99 $p99" &&
	# under valgrind every answer is slow, clients or not: the bound is for the plain build
	if test_have_prereq PLAIN; then
		case $p99 in *ns|*us|*ms) ;; *) echo "p99 $p99: answers were held up"; exit 1 ;; esac
	fi
'

test_expect_success PLAIN 'peak memory: the same with 200 idle, 40 slow and the malformed clients as with none' '
	set -- $("$HELPERS/runstat" "$IOPFTOOL" monitor --source sim --gen-rate 2000 --duration 5s \
		--metrics-listen 127.0.0.1:0 2>&1 >/dev/null | tail -n 1) &&
	a=$2 || exit 1
	"$HELPERS/runstat" "$IOPFTOOL" monitor --source sim --gen-rate 2000 --duration 30s \
		--metrics-listen 127.0.0.1:0 2>err.mem &
	pid=$! &&
	test_wait_for 10 grep -q "metrics on" err.mem && port=$(port_of err.mem) &&
	"$HELPERS/httpprobe" flood "$port" 200 >/dev/null &&
	"$HELPERS/httpprobe" slow "$port" 40 3 >/dev/null &&
	for i in 1 2 3 4 5; do "$HELPERS/httpprobe" bad "$port" >/dev/null; done;
	kill -0 $pid && echo "the probes ended before the run (30 s)" &&
	wait $pid &&
	set -- $(tail -n 1 err.mem) && b=$2 &&
	echo "peak RSS: no clients $a KiB, probed $b KiB" &&
	test "$b" -le $((a + 2048))
'

test_expect_success PROMTOOL 'the alert rules of the README: promtool check rules' '
	sed -n "/^# BEGIN iopftool-alerts.yml/,/^# END/p" "$SRC_DIR/README.md" | sed "1d;\$d" >readme.yml &&
	test_cmp "$SRC_DIR/examples/iopftool-alerts.yml" readme.yml &&
	promtool check rules "$SRC_DIR/examples/iopftool-alerts.yml" &&
	promtool check config "$SRC_DIR/examples/prometheus-scrape.yml" 2>&1 | grep -v "^  WARNING" &&
	promtool check config "$SRC_DIR/examples/prometheus-scrape.yml"
'

if command -v systemd-analyze >/dev/null; then
	if systemd-analyze verify /dev/null 2>/dev/null || systemd-analyze --help >/dev/null 2>&1; then
		test_set_prereq SYSTEMD_ANALYZE
	fi
fi

test_expect_success SYSTEMD_ANALYZE 'the example unit passes systemd-analyze verify' '
	mkdir -p unit/bin && cp "$SRC_DIR/examples/iopftool-tap.service" unit/ &&
	ln -s "$IOPFTOOL" unit/bin/iopftool &&
	sed "s|/usr/local/bin/iopftool|$PWD/unit/bin/iopftool|g" "$SRC_DIR/examples/iopftool-tap.service" \
		>unit/iopftool-tap.service &&
	systemd-analyze verify --man=no unit/iopftool-tap.service 2>verify.err; rc=$?; cat verify.err;
	for m in $(sed -n "s/^Documentation=//p" "$SRC_DIR/examples/iopftool-tap.service"); do
		page=$(echo "${m#man:}" | sed "s/(\(.\))\$/.\1/") &&
		test -f "$SRC_DIR/man/$page" || { echo "no page $m"; exit 1; }
	done &&
	test $rc = 0 && ! grep -v "^$" verify.err
'

test_expect_success SYSTEMD_ANALYZE 'the unit: capabilities it needs, hardening, rotation and metrics' '
	u="$SRC_DIR/examples/iopftool-tap.service" &&
	grep "^CapabilityBoundingSet=CAP_BPF CAP_PERFMON CAP_DAC_READ_SEARCH CAP_SYS_PTRACE\$" "$u" &&
	grep "^AmbientCapabilities=CAP_BPF CAP_PERFMON CAP_DAC_READ_SEARCH CAP_SYS_PTRACE\$" "$u" &&
	grep "^NoNewPrivileges=yes" "$u" && grep "^ProtectSystem=strict" "$u" &&
	grep "^ReadWritePaths=/var/lib/iopftool" "$u" && grep "^PrivateTmp=yes" "$u" &&
	grep "^ExecStart=.* record --source tap --tap-backend bpf .*-C .*-W .*--metrics-listen 127.0.0.1:" "$u" &&
	grep "^ExecReload=/bin/kill -HUP \$MAINPID" "$u"
'

test_done
