#!/usr/bin/env bash
# Fetches one Debian release's default amd64 kernel (linux-image-amd64 of
# SUITE, e.g. bookworm -> 6.1, bullseye -> 5.10) into a download cache and
# extracts it there, without touching the system's apt sources or lists:
# apt runs with a sources list, lists and package cache of its own under
# the cache directory. Later runs find the extracted kernel and fetch nothing.
#
#     fetch_kernel.sh SUITE CACHE_DIR
#
# Prints the extracted packages' root directory (holding lib/modules/KVER
# with its modules.dep, and the kernel as boot/vmlinuz-KVER or, in newer
# releases, lib/modules/KVER/vmlinuz) on stdout. The archive is the one the system's own
# sources name for Debian (or KERNO_VMTEST_MIRROR), with Debian's keyring.
set -euo pipefail

die() {
	echo "fetch_kernel.sh: $*" >&2
	exit 1
}

[ $# -eq 2 ] || die "usage: fetch_kernel.sh SUITE CACHE_DIR"
suite=$1
dir=$2/$suite
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

# shellcheck source=../lib/debian_mirror.sh
. "$(dirname "$0")/../lib/debian_mirror.sh"

APT_OPTS=()

apt_private() {
	local tool=$1
	shift
	"$tool" -q "${APT_OPTS[@]}" "$@"
}

fetch() {
	local mirror image deb parts kver
	mirror=${KERNO_VMTEST_MIRROR:-$(debian_mirror)}
	[ -n "$mirror" ] || die "no Debian archive in the system's apt sources: set KERNO_VMTEST_MIRROR"
	mkdir -p "$dir/lists/partial" "$dir/apt-cache/archives/partial" "$dir/debs"
	echo "deb [signed-by=$keyring] $mirror $suite main" >"$dir/sources.list"
	APT_OPTS=(-o Dir::Etc::SourceList="$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
		  -o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir/apt-cache"
		  -o APT::Sandbox::User=root)
	echo "fetch_kernel.sh: $suite: updating a private package list from $mirror" >&2
	apt_private apt-get update >&2 || die "$suite: apt-get update failed"
	# linux-image-amd64 is a metapackage: the kernel is its linux-image-* dependency.
	image=$(apt_private apt-cache depends linux-image-amd64 |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
	[ -n "$image" ] || die "$suite: linux-image-amd64 names no kernel package"
	# Newer releases split the kernel into linux-binary-* and linux-modules-*.
	mapfile -t parts < <(echo "$image"
		apt_private apt-cache depends "$image" |
			awk '$1 == "Depends:" && $2 ~ /^linux-(binary|modules)-[0-9]/ { print $2 }')
	rm -f "$dir"/debs/*.deb
	echo "fetch_kernel.sh: $suite: downloading ${parts[*]}" >&2
	(cd "$dir/debs" && apt_private apt-get download "${parts[@]}" >&2) ||
		die "$suite: apt-get download ${parts[*]} failed"
	rm -rf "$dir/root.tmp"
	for deb in "$dir"/debs/*.deb; do
		dpkg-deb -x "$deb" "$dir/root.tmp"
	done
	# Newer packages install under usr/lib only (merged /usr).
	if [ ! -e "$dir/root.tmp/lib" ]; then
		ln -s usr/lib "$dir/root.tmp/lib"
	fi
	# modules.dep, which the package leaves to its postinst, for modprobe.
	kver=$(basename "$(find "$dir/root.tmp/lib/modules/" -mindepth 1 -maxdepth 1 | head -n 1)")
	busybox depmod -b "$dir/root.tmp" "$kver" || die "$suite: depmod $kver failed"
	rm -rf "$dir/root"
	mv "$dir/root.tmp" "$dir/root"
	# The extracted tree is the cache: the packages and lists can go.
	rm -rf "$dir/lists" "$dir/apt-cache" "$dir/debs"
	echo "$kver" >"$dir/kver"
}

mkdir -p "$2"
exec 9>"$2/$suite.lock"
flock 9
if [ ! -s "$dir/kver" ] || [ ! -d "$dir/root" ]; then
	fetch
fi
echo "$dir/root"
