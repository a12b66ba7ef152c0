#!/bin/sh
# Rewrite tests/golden/*.out from tests/golden/TESTLIST with build/iopftool
# (or $IOPFTOOL).  Review `git diff tests/golden` by eye: the outputs must
# match iopftool-read(8), iopftool-stats(8) and iopftool-replay(8) exactly.  A test whose exit status differs from
# the TESTLIST is reported and its output still written.
set -u
cd "$(dirname "$0")/.."
export TZ=UTC LC_ALL=C
T=${IOPFTOOL:-$PWD/build/iopftool}
G=$PWD/tests/golden
rc=0
while read -r name capture want args; do
	case $name in ''|'#'*) continue ;; esac
	# shellcheck disable=SC2086
	(cd captures && "$T" $args "$capture") >"$G/$name.out"
	got=$?
	if [ "$got" -ne "$want" ]; then
		echo "update-golden: $name: exit $got, TESTLIST says $want" >&2
		rc=1
	fi
done <"$G/TESTLIST"
exit $rc
