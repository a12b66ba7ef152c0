#!/bin/sh
# completion/iopftool, the bash completion: sourced into bash with
# bash-completion, it must offer exactly the long options of each verb's
# `iopftool VERB --usage` (read at test time, so that a new option the
# completion misses fails here), the verbs, and the values of the options
# that name queues, handlers, bug modes and files.
test_description='bash completion'
. "$(dirname "$0")/lib.sh"

BASHCOMP=${BASHCOMP:-/usr/share/bash-completion/bash_completion}
if command -v bash >/dev/null 2>&1 && [ -r "$BASHCOMP" ]; then
	test_set_prereq BASHCOMP
else
	echo "# bash or bash-completion missing: scripts/deps.sh check installs them"
fi

# comp.bash LINE: the candidates for LINE with the cursor at its end, one
# a line, sorted.  The line is split into words as readline does it
# (blanks separate words; '=' and ':', which are in COMP_WORDBREAKS, are
# words of their own), then the completion function runs.
cat >comp.bash <<EOF
. "$BASHCOMP" || exit 1
. "$SRC_DIR/completion/iopftool" || exit 1
EOF
cat >>comp.bash <<\EOF
line=$1
COMP_LINE=$line COMP_POINT=${#line} COMP_WORDS=() w=
for ((i = 0; i < ${#line}; i++)); do
	c=${line:i:1}
	case $c in
	' ')	[[ -n $w ]] && COMP_WORDS+=("$w"); w= ;;
	[=:])	[[ -n $w && $w != *[=:] ]] && { COMP_WORDS+=("$w"); w=; }; w+=$c ;;
	*)	[[ $w == *[=:] ]] && { COMP_WORDS+=("$w"); w=; }; w+=$c ;;
	esac
done
COMP_WORDS+=("$w")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMPREPLY=()
spec=$(complete -p iopftool) || exit 1
[[ $spec == "complete -F _iopftool iopftool" ]] || { echo "unexpected: $spec" >&2; exit 1; }
_iopftool iopftool "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
[[ ${#COMPREPLY[@]} -eq 0 ]] || printf '%s\n' "${COMPREPLY[@]}" | sort
EOF

comp() { bash "$TRASH/comp.bash" "$1"; }

# usage_longopts [VERB]: the long options of --usage, "--count=" for one
# that takes a value (a different parser from the completion's).
usage_longopts() {
	iopftool "$@" --usage | tr ' \n' '\n\n' | grep '^\[--' |
		sed 's/^\[//; s/=.*/=/; s/\]*$//' | sort -u
}

# The verbs, by their man pages.
VERBS=$(cd "$SRC_DIR/man" && ls iopftool-*.8 | sed 's/^iopftool-//; s/\.8$//')

test_expect_success BASHCOMP 'the verbs: one per man page iopftool-VERB(8)' '
	echo "$VERBS" | sort >want &&
	comp "$IOPFTOOL " >got &&
	test_cmp want got
'

test_expect_success BASHCOMP 'global options: exactly those of iopftool --usage' '
	usage_longopts >want && test -s want &&
	comp "$IOPFTOOL --" >got &&
	test_cmp want got
'

for verb in $VERBS; do
	test_expect_success BASHCOMP "$verb: exactly the long options of iopftool $verb --usage" "
		usage_longopts $verb >want &&
		grep -- --help want && grep -- --json want &&
		comp '$IOPFTOOL $verb --' >got &&
		test_cmp want got &&
		comp '$IOPFTOOL -v $verb -q --' >got2 &&
		test_cmp want got2
	"
done

test_expect_success BASHCOMP 'the list is really compared: a missing option fails' '
	usage_longopts read >want &&
	comp "$IOPFTOOL read --" | grep -v -- --dev= >got &&
	! test_cmp want got >/dev/null
'

test_expect_success BASHCOMP 'a prefix narrows the options' '
	printf "%s\n" --gen-devs= --gen-group-size= --gen-groups= --gen-pasids= --gen-rate= \
		--gen-seed= >want &&
	comp "$IOPFTOOL monitor --gen-" >got &&
	test_cmp want got
'

test_expect_success BASHCOMP '--source: the queues monitor and record attach to' '
	printf "%s\n" device: fd: mock mock:single pid: sim sim:6.12 sim:7.3 tap >want &&
	comp "$IOPFTOOL monitor --source=" >got && test_cmp want got &&
	comp "$IOPFTOOL record --source " >got && test_cmp want got &&
	printf "%s\n" mock mock:single >want &&
	comp "$IOPFTOOL monitor --source=mo" >got && test_cmp want got &&
	echo single >want &&
	comp "$IOPFTOOL monitor --source=mock:" >got && test_cmp want got
'

test_expect_success BASHCOMP '--source=device:PATH, then its options' '
	printf "%s\n" /dev/vfio/devices/vfio0,map= /dev/vfio/devices/vfio0,pasid= >want &&
	comp "$IOPFTOOL monitor --source=device:/dev/vfio/devices/vfio0," >got && test_cmp want got &&
	echo /dev/vfio/devices/vfio0,pasid=1,map= >want &&
	comp "$IOPFTOOL monitor --source=device:/dev/vfio/devices/vfio0,pasid=1,m" >got && test_cmp want got &&
	mkdir -p dv && : >dv/vfio7 && echo dv/vfio7 >want &&
	comp "$IOPFTOOL record --source device:dv/vf" >got && test_cmp want got
'

test_expect_success BASHCOMP '--source=pid: completes process ids' '
	comp "$IOPFTOOL monitor --source=pid:1" >got &&
	grep -x "1:" got && ! grep -v "^1[0-9]*:$" got
'

test_expect_success BASHCOMP 'replay --target / -t: sim and mock' '
	printf "%s\n" mock mock:single sim >want &&
	comp "$IOPFTOOL replay --target=" >got && test_cmp want got &&
	comp "$IOPFTOOL replay -t " >got && test_cmp want got
'

test_expect_success BASHCOMP 'replay --handler: the builtin handlers' '
	printf "%s\n" builtin:from-capture builtin:invalid builtin:success >want &&
	comp "$IOPFTOOL replay --handler=" >got && test_cmp want got &&
	printf "%s\n" from-capture >want &&
	comp "$IOPFTOOL replay --handler builtin:f" >got && test_cmp want got
'

test_expect_success BASHCOMP 'replay --handler-fd: auto, file, socket' '
	printf "%s\n" auto file socket >want &&
	comp "$IOPFTOOL replay --handler-fd=" >got && test_cmp want got &&
	printf "%s\n" socket >want &&
	comp "$IOPFTOOL replay --handler-fd s" >got && test_cmp want got
'

test_expect_success BASHCOMP '--bug: the bug modes of generate and handle' '
	printf "%s\n" bad-code delay drop duplicate echo-grpid >want &&
	comp "$IOPFTOOL generate --bug=" >got && test_cmp want got &&
	printf "%s\n" bad-code delay drop duplicate echo-grpid zero-cookie >want &&
	comp "$IOPFTOOL handle --bug " >got && test_cmp want got &&
	printf "%s\n" delay drop duplicate >want &&
	comp "$IOPFTOOL handle --bug=d" >got && test_cmp want got
'

# The tap's record types too, when this iopftool reads them.
TAPTYPES=
iopftool read --help | grep -q auto_response && TAPTYPES="auto_response delivery reported"
test_expect_success BASHCOMP 'read --type: a comma list of record types' '
	printf "%s\n" fault lost meta response $TAPTYPES | sort >want &&
	comp "$IOPFTOOL read --type=" >got && test_cmp want got &&
	printf "fault,%s\n" lost meta response $TAPTYPES | sort >want &&
	comp "$IOPFTOOL read --type=fault," >got && test_cmp want got &&
	printf "lost,meta,%s\n" fault response $TAPTYPES | sort >want &&
	comp "$IOPFTOOL read --type=lost,meta," >got && test_cmp want got
'

test_expect_success BASHCOMP 'files: -r and operands offer captures, -w any file' '
	mkdir -p files/sub && cd files &&
	: >a.pcap && : >b.pcapng && : >c.txt &&
	printf "%s\n" a.pcap b.pcapng sub >../want &&
	comp "$IOPFTOOL read -r " >../got && test_cmp ../want ../got &&
	comp "$IOPFTOOL read --read=" >../got && test_cmp ../want ../got &&
	comp "$IOPFTOOL stats " >../got && test_cmp ../want ../got &&
	comp "$IOPFTOOL replay --json " >../got && test_cmp ../want ../got &&
	printf "%s\n" a.pcap b.pcapng c.txt sub >../want2 &&
	comp "$IOPFTOOL generate -w " >../got && test_cmp ../want2 ../got &&
	comp "$IOPFTOOL record --write=" >../got && test_cmp ../want2 ../got
'

test_expect_success BASHCOMP 'an option value with nothing to offer: nothing' '
	comp "$IOPFTOOL read --count=" >got && test ! -s got &&
	comp "$IOPFTOOL read -c " >got && test ! -s got &&
	comp "$IOPFTOOL generate --seed " >got && test ! -s got
'

# make install: the completion where bash-completion loads it, the
# dissector where tshark loads Lua plugins; make uninstall removes both.
BUILD=$(cd "$(dirname "$IOPFTOOL")" && pwd)
case $BUILD in
*/build-san*) ;;	# t0600's rule: install from the plain build only
*) test_set_prereq PLAIN_BUILD ;;
esac

test_expect_success PLAIN_BUILD 'make install / uninstall: the completion and the dissector' '
	ROOT=$TRASH/root &&
	make -s -C "$SRC_DIR" O="$BUILD" DESTDIR="$ROOT" prefix=/usr install >log 2>&1 ||
		{ cat log; exit 1; }
	compdir=$(pkg-config --variable=completionsdir bash-completion 2>/dev/null) &&
	test -n "$compdir" || compdir=/usr/share/bash-completion/completions
	cmp "$SRC_DIR/completion/iopftool" "$ROOT$compdir/iopftool" &&
	if command -v tshark >/dev/null 2>&1; then
		luadir=$(HOME=$TRASH tshark -G folders 2>/dev/null |
			sed -n "s/^Global Lua Plugins:[[:space:]]*//p") &&
		test -n "$luadir" &&
		cmp "$SRC_DIR/wireshark/iopf.lua" "$ROOT$luadir/iopf.lua"
	else
		find "$ROOT" -name iopf.lua | grep -q /wireshark/plugins/iopf.lua
	fi &&
	make -s -C "$SRC_DIR" O="$BUILD" DESTDIR="$ROOT" prefix=/usr uninstall >log 2>&1 ||
		{ cat log; exit 1; }
	test ! -e "$ROOT$compdir/iopftool" &&
	test -z "$(find "$ROOT" -name iopf.lua)"
'

test_done
