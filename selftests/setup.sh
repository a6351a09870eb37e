#!/usr/bin/env bash
# Installs what Kerno's build, tests and benchmark need on Debian bookworm,
# and mounts tracefs and bpffs. Idempotent: apt runs only for missing packages.
set -euo pipefail

PACKAGES=(
	clang llvm libclang-rt-14-dev libbpf-dev bpftool libelf-dev zlib1g-dev libzstd-dev libjansson-dev
	libcmocka-dev android-libboringssl-dev openssl libnghttp2-dev libyaml-dev
	make gcc pkg-config cppcheck clang-tidy clang-format
	nginx-light nghttp2-client curl wrk python3 util-linux procps linux-perf
)

if [ "$(id -u)" -ne 0 ]; then
	echo "setup.sh: run as root (installs packages, mounts tracefs and bpffs)" >&2
	exit 2
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$pkg")
	fi
done
if [ "${#missing[@]}" -gt 0 ]; then
	echo "setup.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# Packages must not start services (nginx would listen on port 80): the
	# tests start their own, on loopback only.
	policy=/usr/sbin/policy-rc.d
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod +x "$policy"
		trap 'rm -f "$policy"' EXIT
	fi
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Syscall tracepoints need tracefs; pinned maps need bpffs.
if ! mountpoint -q /sys/kernel/tracing; then
	mount -t tracefs nodev /sys/kernel/tracing
fi
if ! mountpoint -q /sys/fs/bpf; then
	mount -t bpf bpf /sys/fs/bpf
fi
echo "setup.sh: ready"
