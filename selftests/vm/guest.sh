#!/bin/bash
# Runs inside the test VM (started by the job selftests/vmtest.sh writes):
# the BPF host tests against the agent built on the host, on the guest's
# kernel. Leaves the runner's output in OUT/runner.log and its exit status in
# OUT/rc, where the host reads them after the VM powers off.
#
#     guest.sh OUT KERNO [runner.py arguments...]
#     guest.sh OUT KERNO --cmd COMMAND   (runs COMMAND with bash instead)
set -uo pipefail

out=$1
kerno=$2
shift 2
repo=$(cd "$(dirname "$0")/../.." && pwd)

echo "kerno-vm: kernel $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo) MiB"
if [ ! -e /sys/kernel/btf/vmlinux ]; then
	echo "kerno-vm: this kernel has no BTF (/sys/kernel/btf/vmlinux)"
fi
echo "kerno-vm: guest ready at $(cut -d' ' -f1 /proc/uptime) s of uptime"

cd "$repo" || exit 1
start=$(date +%s)
if [ "${1:-}" = --cmd ]; then
	KERNO=$kerno bash -c "$2" 2>&1 | tee "$out/runner.log"
else
	/usr/bin/python3 selftests/host/runner.py --kerno "$kerno" "$@" 2>&1 | tee "$out/runner.log"
fi
rc=${PIPESTATUS[0]}
echo "kerno-vm: tests took $(($(date +%s) - start)) s"
echo "$rc" >"$out/rc"
sync
