# shellcheck shell=bash
# Sourced by the scripts that fetch Debian packages with an apt of their own
# (selftests/vm/fetch_kernel.sh, selftests/boringssl/build.sh).
#
# debian_mirror [CODENAME]: the URI of the Debian archive this machine's apt
# sources already use for CODENAME's main suite (default: this machine's own
# release), from a deb822 stanza or a one-line entry; nothing if none does.
debian_mirror() {
	local codename=${1:-}
	if [ -z "$codename" ]; then
		# shellcheck source=/dev/null
		codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	fi
	[ -n "$codename" ] || return 1
	{
		# deb822 stanzas, fields in any order, separated by blank lines.
		awk -v want="$codename" '
			function check() { if (match(" " suites " ", " " want " ") && uris) print uris
					   uris = ""; suites = "" }
			/^URIs:/ { uris = $2 }
			/^Suites:/ { suites = $0 }
			/^[[:space:]]*$/ { check() }
			END { check() }' /etc/apt/sources.list.d/*.sources 2>/dev/null
		# One-line entries: deb [options] URI SUITE COMPONENT...
		if [ -f /etc/apt/sources.list ]; then
			sed -E 's/\[[^]]*\]//' /etc/apt/sources.list |
				awk -v want="$codename" '$1 == "deb" && $3 == want { print $2 }'
		fi
	} | head -n 1
}
