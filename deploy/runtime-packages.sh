#!/bin/sh
# Prints the Debian packages that hold the shared libraries BINARY loads, one a line, sorted:
# the runtime package list of the container image (deploy/Dockerfile) and of the chroot test
# (selftests/host/test_deploy.py). Derived from ldd and dpkg, so a library added to the build
# is added to the image without anyone editing a list.
#
#   deploy/runtime-packages.sh build/kerno
#
# Exits 1, naming the library, when a library belongs to no package (built by hand or
# copied in): the image could not be built from packages alone.
set -eu

if [ "$#" -ne 1 ] || [ ! -x "$1" ]; then
	echo "usage: $0 BINARY (an executable, e.g. build/kerno)" >&2
	exit 2
fi

# Usrmerge: ldd reports /lib/... while dpkg may have recorded /usr/lib/... or the reverse.
package_of() {
	for candidate in "$1" "/usr$1" "${1#/usr}" "$(readlink -f "$1")"; do
		if owner=$(dpkg-query -S "$candidate" 2>/dev/null); then
			echo "${owner%%:*}"
			return 0
		fi
	done
	echo "$0: $1 belongs to no Debian package" >&2
	return 1
}

libs=$(ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
for lib in $libs; do
	package_of "$lib"
done | sort -u
