#!/usr/bin/env bash
# BoringSSL as static libraries, for the TLS tests' client linked statically
# against it: Debian ships BoringSSL (android-libboringssl) shared only, so
# its source package is fetched from the Debian archive and the libraries
# are built from it (static.mk). apt runs with a sources list, lists and
# cache of its own under CACHE_DIR: the system's apt sources, which may have
# no deb-src lines, are not touched. Later runs find the libraries and
# fetch and build nothing.
#
#     build.sh CACHE_DIR
#
# Prints the directory holding include/openssl/*.h and lib/lib{ssl,crypto}.a.
# The archive is the one the system's own sources name for its release
# (or KERNO_DEBIAN_MIRROR), with Debian's keyring.
set -euo pipefail

die() {
	echo "boringssl/build.sh: $*" >&2
	exit 1
}

[ $# -eq 1 ] || die "usage: build.sh CACHE_DIR"
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
cache=$(cd "$1" && pwd)
out=$cache/prefix
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
package=android-platform-external-boringssl

# shellcheck source=../lib/debian_mirror.sh
. "$here/../lib/debian_mirror.sh"

fetch_source() {
	local codename mirror apt_opts
	# shellcheck source=/dev/null
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	[ -n "$codename" ] || die "no VERSION_CODENAME in /etc/os-release"
	mirror=${KERNO_DEBIAN_MIRROR:-$(debian_mirror "$codename")}
	[ -n "$mirror" ] || die "no Debian archive in the system's apt sources: set KERNO_DEBIAN_MIRROR"
	rm -rf "$cache/apt" "$cache/dl"
	mkdir -p "$cache/apt/lists/partial" "$cache/apt/cache/archives/partial" "$cache/dl"
	echo "deb-src [signed-by=$keyring] $mirror $codename main" >"$cache/apt/sources.list"
	apt_opts=(-q -o Dir::Etc::SourceList="$cache/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
		  -o Dir::State::Lists="$cache/apt/lists" -o Dir::Cache="$cache/apt/cache"
		  -o APT::Sandbox::User=root)
	echo "boringssl/build.sh: fetching $package's source from $mirror" >&2
	apt-get "${apt_opts[@]}" update >&2 || die "apt-get update (deb-src $mirror $codename) failed"
	(cd "$cache/dl" && apt-get "${apt_opts[@]}" source --download-only "$package" >&2) ||
		die "apt-get source $package failed"
	rm -rf "$cache/src"
	dpkg-source -x "$cache"/dl/*.dsc "$cache/src" >&2 || die "dpkg-source -x failed"
	rm -rf "$cache/apt" "$cache/dl"
}

exec 9>"$cache/.lock"
flock 9
if [ ! -f "$out/lib/libssl.a" ] || [ ! -f "$out/lib/libcrypto.a" ]; then
	[ -f "$cache/src/debian/sources.mk" ] || fetch_source
	rm -rf "$out" "$out.tmp"
	start=$(date +%s)
	make -s -C "$cache/src" -f "$here/static.mk" -j"${KERNO_BORINGSSL_JOBS:-2}" O="$out.tmp" >&2 ||
		die "building the static libraries failed"
	mkdir -p "$out.tmp/include"
	cp -r "$cache/src/src/include/openssl" "$out.tmp/include/"
	rm -rf "$out.tmp/obj"
	mv "$out.tmp" "$out"
	echo "boringssl/build.sh: built in $(($(date +%s) - start)) s" >&2
	# The libraries are the cache: the source (130 MB) can go.
	rm -rf "$cache/src"
fi
echo "$out"
