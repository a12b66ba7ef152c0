#!/bin/sh
# The repository explains itself: a comment, message or page that points
# the reader at a document (*.md, a man page) points at one the tree holds.
# Kernel facts are cited by kernel source location and kept in
# doc/kernel-notes.md; contracts live in the man pages.
. "$(dirname "$0")/lib.sh"

cd "$SRC_DIR" || exit 1
command -v git >/dev/null && git rev-parse --git-dir >/dev/null 2>&1 && test_set_prereq GIT

# Tracked text files that can cite a document (not captures, not goldens).
sources() {
	git ls-files | grep -vE '^(captures/.*\.pcap|tests/golden/|fuzz/corpus/)' |
	while read -r f; do
		[ -f "$f" ] && grep -Iq . "$f" 2>/dev/null && echo "$f"
	done
}

# "NAME.md" as written in a file (roff's \- read as -), one "file:line:NAME" a line;
# a name given as a value (BENCH_OUT=x.md) is the reader's own file.
cited_md() {
	while read -r f; do
		sed 's/\\-/-/g' "$f" | grep -noE "(^|[^=A-Za-z0-9_-])[A-Za-z0-9_-]+\.md\b" |
			sed -E "s|^([0-9]+):[^A-Za-z0-9_-]?|$f:\1:|"
	done
}

test_expect_success GIT 'every *.md a file names is in the tree' '
	sources >"$TRASH/files" &&
	git ls-files "*.md" | sed "s|.*/||" | sort -u >"$TRASH/have" &&
	cited_md <"$TRASH/files" >"$TRASH/cited" &&
	test -s "$TRASH/cited" &&
	bad=$(while IFS=: read -r f l name; do
		grep -qx "$name" "$TRASH/have" || echo "$f:$l: names $name, which the tree does not hold"
	done <"$TRASH/cited")
	[ -z "$bad" ] || { echo "$bad"; exit 1; }
'

test_expect_success GIT 'no file cites the kernel-facts notes kept outside the tree' '
	! xargs grep -nE -- "KERNEL-FACTS|SPEC section|STYLE\.md" <"$TRASH/files" | grep -v "^tests/t0510"
'

test_expect_success GIT 'every iopftool man page a file names exists' '
	xargs grep -hoE -- "iopftool-[a-z]+\([58]\)" <"$TRASH/files" | sort -u >"$TRASH/pages" &&
	bad=$(sed "s/\(.*\)(\([58]\))/\1.\2/" "$TRASH/pages" | while read -r p; do
		[ -f "man/$p" ] || echo "$p"
	done)
	[ -z "$bad" ] || { echo "named but missing: $bad"; exit 1; }
'

test_done
