#!/bin/sh
# The man pages against the code (git t0450-txt-doc-vs-help.sh,
# "Docs checked against the code"):
#  - every verb that 'iopftool --help' lists has man/iopftool-VERB.8, and
#    every page in man/ is a verb's, iopftool.8 or iopftool-capture.5;
#  - every long option that 'iopftool VERB --usage' prints appears in the
#    verb's page, and every long option the page's OPTIONS section
#    documents exists in --usage (neither side drifts);
#  - the global options appear in iopftool.8;
#  - each verb page has the sections a man page needs (bpftool's pages);
#  - every page renders without warnings (mandoc -Tlint if installed,
#    else groff -ww, which Debian's man-db brings in groff-base).
. "$(dirname "$0")/lib.sh"

MAN=${IOPF_MAN_DIR:-$SRC_DIR/man}

# The verbs: the indented names under "Verbs:" in --help.
verbs() {
	iopftool --help | sed -n '/^Verbs:/,/^$/p' | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p'
}

# Long option names in a --usage text on stdin, one per line, sorted.
usage_longs() {
	tr ' ' '\n' | sed -n 's/^\[*--\([a-zA-Z][a-zA-Z0-9-]*\).*/\1/p' | sort -u
}

# A page as plain text for grepping: \- to -, font escapes and \& removed.
plain() {
	sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\f(..//g' -e 's/\\&//g' "$1"
}

# Long option names written in a page (or a part of it) on stdin.
page_longs() {
	grep -o -- '--[a-zA-Z][a-zA-Z0-9-]*' | sed -e 's/^--//' -e 's/-*$//' | sort -u
}

# The OPTIONS section of a page (plain text).
options_section() {
	plain "$1" | sed -n '/^\.SH OPTIONS/,/^\.SH /p'
}

test_expect_success 'iopftool --help lists the verbs' '
	verbs >verbs &&
	test -s verbs &&
	grep -qx replay verbs
'

test_expect_success 'every verb has a page' '
	for v in $(verbs); do
		test -f "$MAN/iopftool-$v.8" || { echo "no man/iopftool-$v.8"; exit 1; }
	done
'

test_expect_success 'every page is a verb, iopftool.8 or iopftool-capture.5' '
	verbs >verbs &&
	for f in "$MAN"/*; do
		b=$(basename "$f")
		case $b in
		iopftool.8|iopftool-capture.5) continue ;;
		iopftool-*.8) v=${b#iopftool-}; v=${v%.8}
			grep -qx "$v" verbs || { echo "$b: no verb $v in --help"; exit 1; } ;;
		*) echo "$b: unexpected file in man/"; exit 1 ;;
		esac
	done
'

for v in $(verbs); do
	page=$MAN/iopftool-$v.8
	test_expect_success "$v: every long option of --usage is in its page" '
		iopftool '"$v"' --usage >usage &&
		usage_longs <usage >code &&
		test -s code &&
		plain "'"$page"'" | page_longs >doc &&
		missing=$(comm -23 code doc) &&
		if test -n "$missing"; then
			echo "in --usage, not in iopftool-'"$v"'.8:" $missing; exit 1
		fi
	'
	test_expect_success "$v: every long option in OPTIONS exists in --usage" '
		iopftool '"$v"' --usage | usage_longs >code &&
		options_section "'"$page"'" | page_longs >doc &&
		test -s doc &&
		extra=$(comm -13 code doc) &&
		if test -n "$extra"; then
			echo "in iopftool-'"$v"'.8 OPTIONS, not in --usage:" $extra; exit 1
		fi
	'
	test_expect_success "$v: page has the usual sections" '
		for s in NAME SYNOPSIS DESCRIPTION OPTIONS EXAMPLES "EXIT STATUS" "SEE ALSO"; do
			grep -q "^\.SH \"*$s\"*\$" "'"$page"'" || { echo "no .SH $s"; exit 1; }
		done
	'
done

test_expect_success 'global options are in iopftool.8' '
	iopftool --usage | usage_longs >code &&
	test -s code &&
	plain "$MAN/iopftool.8" | page_longs >doc &&
	missing=$(comm -23 code doc) &&
	if test -n "$missing"; then echo "not in iopftool.8:" $missing; exit 1; fi &&
	for s in j p q v V; do
		plain "$MAN/iopftool.8" | grep -q -- "-$s\\b" || { echo "no -$s"; exit 1; }
	done
'

test_expect_success 'replay(8) names every violation class and report field' '
	iopftool generate -w c.pcap --groups 2 --group-size 1-3 &&
	iopftool -j replay --topspeed c.pcap >report &&
	keys=$(grep -o "\"[a-z_0-9]*\":" report | tr -d "\":" | sort -u) &&
	test -n "$keys" &&
	for k in $keys; do
		plain "$MAN/iopftool-replay.8" | grep -q "$k" || { echo "replay(8) lacks $k"; exit 1; }
	done
'

# Lint: whichever checker this system has; a missing one is a skip, not a pass.
if command -v mandoc >/dev/null 2>&1; then
	test_set_prereq MANDOC
elif command -v groff >/dev/null 2>&1; then
	test_set_prereq GROFF
fi
for f in "$MAN"/*; do
	b=$(basename "$f")
	test_expect_success MANDOC "$b: mandoc -Tlint is clean" '
		mandoc -Tlint -W warning "'"$f"'" >lint 2>&1
		test ! -s lint || { cat lint; exit 1; }
	'
	test_expect_success GROFF "$b: groff -ww renders it without warnings" '
		groff -t -man -Tutf8 -ww -z "'"$f"'" >lint 2>&1 &&
		test ! -s lint || { cat lint; exit 1; }
	'
done

test_done
