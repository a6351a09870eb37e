#!/usr/bin/env bash
# Installs what Kerno's build, tests and benchmark need on Debian bookworm,
# and mounts tracefs and bpffs. Idempotent: apt runs only for missing packages.
# The VM tests fetch their Debian kernels themselves, into a download cache
# (selftests/vm/fetch_kernel.sh), without touching the system's apt sources.
set -euo pipefail

PACKAGES=(
	clang llvm libclang-rt-14-dev libbpf-dev bpftool libelf-dev zlib1g-dev libzstd-dev libjansson-dev
	libcmocka-dev android-libboringssl-dev openssl libwslay-dev python3-websockets iproute2
	libnghttp2-dev libyaml-dev
	make gcc pkg-config cppcheck clang-tidy clang-format
	nginx-light nghttp2-client curl wrk python3 util-linux procps linux-perf
	debootstrap shellcheck python3-yaml
	qemu-system-x86 busybox-static debian-archive-keyring
	nghttp2-proxy nghttp2-server python3-grpcio python3-botocore awscli
	postgresql postgresql-contrib mariadb-server mariadb-client redis-server redis-tools dnsmasq
	dnsutils libmariadb-dev
	libssl-dev libcapstone-dev golang-go dpkg-dev
)
# Node.js and npm (the S3 tests' store comes from npm): Debian's packages where the machine has
# none; they conflict with a Node.js installed another way, which then serves.
if ! command -v npm >/dev/null; then
	PACKAGES+=(nodejs npm)
fi
# The deploy tests render deploy/ with kubectl's kustomize. Debian's kubernetes-client (1.20,
# kustomize v2) serves where no kubectl is installed; it conflicts with one that is.
if ! command -v kubectl >/dev/null; then
	PACKAGES+=(kubernetes-client)
fi

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
	# The database and DNS packages enable their services: the tests start
	# their own peers, and nothing may be left running.
	for svc in postgresql mariadb redis-server dnsmasq; do
		if [ -e "/lib/systemd/system/$svc.service" ] || [ -e "/etc/init.d/$svc" ]; then
			systemctl disable --now "$svc" >/dev/null 2>&1 || service "$svc" stop >/dev/null 2>&1 || true
		fi
	done
fi

# The S3 tests' store, from npm, in a gitignored folder of the repository.
repo=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -x "$repo/selftests/node/node_modules/.bin/s3rver" ]; then
	echo "setup.sh: npm install s3rver"
	npm install --prefix "$repo/selftests/node" --no-audit --no-fund --loglevel=error s3rver@3.7.1 >/dev/null
fi

# The TLS tests' client linked statically against BoringSSL: Debian ships no
# static BoringSSL, so it is built from Debian's source package (about a
# minute on two cores), into a gitignored folder; later runs reuse it.
echo "setup.sh: static BoringSSL"
"$repo/selftests/boringssl/build.sh" "$repo/build/boringssl" >/dev/null

# Syscall tracepoints need tracefs; pinned maps need bpffs.
if ! mountpoint -q /sys/kernel/tracing; then
	mount -t tracefs nodev /sys/kernel/tracing
fi
if ! mountpoint -q /sys/fs/bpf; then
	mount -t bpf bpf /sys/fs/bpf
fi
echo "setup.sh: ready after $SECONDS s"
