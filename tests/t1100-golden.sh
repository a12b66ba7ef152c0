#!/bin/sh
# Golden outputs: every row of tests/golden/TESTLIST, stdout and exit status.
test_description='read/stats output of the committed captures against tests/golden'
. "$(dirname "$0")/lib.sh"

GOLDEN=$SRC_DIR/tests/golden

while read -r name capture want args; do
	case $name in ''|'#'*) continue ;; esac
	test_expect_success "golden $name: iopftool $args $capture" "
		(cd '$CAPTURES' && test_expect_code $want \"\$IOPFTOOL\" $args '$capture') >actual &&
		test_cmp '$GOLDEN/$name.out' actual
	"
done <"$GOLDEN/TESTLIST"

test_expect_success 'every golden file has a TESTLIST row' '
	for f in "$GOLDEN"/*.out; do
		n=$(basename "$f" .out)
		grep -q "^$n " "$GOLDEN/TESTLIST" || { echo "stray $f"; exit 1; }
	done
'

test_expect_success 'every committed capture has a read golden' '
	for c in "$CAPTURES"/*.pcap "$CAPTURES"/*.pcapng; do
		b=$(basename "$c")
		grep -q "^[^ ]* *$b *[0-9] *read\$" "$GOLDEN/TESTLIST" || { echo "no read golden for $b"; exit 1; }
		grep -q "^[^ ]* *$b *[0-9] *read -j\$" "$GOLDEN/TESTLIST" || { echo "no read -j golden for $b"; exit 1; }
	done
'

test_done
