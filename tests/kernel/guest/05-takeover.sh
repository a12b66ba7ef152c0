#!/bin/sh
# VM tier, in the guest: pid:PID:FD takes another process's live fault fd
# (pidfd_getfd) and becomes its handler (iopftool(8), QUEUES).
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*"; }
dump() { for f in "$@"; do sed "s|^|#   $(basename "$f"): |" "$f"; done; }

cat >/tmp/owner.scn <<'SCN'
dev 1
inject 1 pasid=1 grpid=7 perm=3 addr=0x7000
fd
sleep 3000
read 40
poll
SCN
printf 'poll\nread 40\nwrite 1:0\nread 40\n' >/tmp/thief.scn

$SCENARIO --target mock /tmp/owner.scn >/tmp/owner.out 2>&1 &
owner=$!
i=0
while ! grep -q '^fd -> ' /tmp/owner.out && [ $i -lt 100 ]; do
	usleep 20000
	i=$((i + 1))
done
fd=$(sed -n 's/^fd -> //p' /tmp/owner.out)
$SCENARIO --target "pid:$owner:$fd" /tmp/thief.scn >/tmp/thief.out 2>/tmp/thief.err
wait $owner

if grep -q 'not an iommufd fault queue' /tmp/thief.out; then
	not_ok "pid:PID:FD accepts a fault fd"; dump /tmp/thief.out
else
	ok "pid:PID:FD accepts a live fault fd"
fi
if grep -q 'must answer them' /tmp/thief.err; then
	ok "pid:PID:FD warns that it now takes the process's faults"
else
	not_ok "pid:PID:FD warns that it now takes the process's faults"; dump /tmp/thief.err
fi
if grep -qx 'poll -> in' /tmp/thief.out &&
   grep -q '^  rec .* grpid=7 perm=0x3 flags=0x3 addr=0x7000 .* cookie=1$' /tmp/thief.out &&
   grep -qx 'write 1:0 -> 8' /tmp/thief.out; then
	ok "the taken fd reads the owner's fault and answers it"
else
	not_ok "the taken fd reads the owner's fault and answers it"; dump /tmp/thief.out /tmp/thief.err
fi
if grep -qx 'read 40 -> 0' /tmp/owner.out && grep -qx 'poll -> empty' /tmp/owner.out; then
	ok "the owner no longer sees the fault the other process read"
else
	not_ok "the owner no longer sees the fault the other process read"; dump /tmp/owner.out
fi
echo "1..$n"
