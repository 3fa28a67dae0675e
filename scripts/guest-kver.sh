#!/bin/sh
# Print the guest kernel release of a Debian kernel series:
#
#   guest-kver.sh [SERIES]      SERIES 6.1 (default, or $KSERIES), 6.12,
#                               or a 7.x series (7.3); with -rt or -cloud
#                               (6.12-rt), that flavour of the release
#
# e.g. 6.1.0-56-amd64 or 6.12.117+deb12-amd64.  The module is built against
# linux-headers-<ver> and loaded into Debian's linux-image-<ver>, so both
# must agree: take <ver> from the meta package that tracks the series.
# 6.1 is bookworm's own kernel, linux-image-amd64.  6.12 is the linux-6.12
# source package that bookworm-security carries, linux-image-6.12-amd64;
# where that is missing, bookworm-backports' linux-image-amd64 (which
# scripts/testbed-setup.sh adds as a source then) is the 6.12 series too.
# Without apt lists (fresh container before apt-get update) fall back to
# the newest kernel of the series already unpacked or installed.  7.x
# comes from other suites (trixie-backports, sid), through the test bed's
# own apt state (scripts/testbed-apt.sh): the newest release of the series
# whose headers are listed there.  KVER in the environment overrides all
# of this.
set -eu

series=${1:-${KSERIES:-6.1}}

if [ -n "${KVER:-}" ]; then
	echo "$KVER"
	exit 0
fi

# A flavour after the series (6.12-rt, 7.3-cloud): the same release.
case $series in
*-rt | *-cloud)
	ver=$("$0" "${series%-*}") || exit 1
	echo "${ver%-amd64}-${series##*-}-amd64"
	exit 0
	;;
esac

deps() {
	apt-cache depends "$1" 2>/dev/null |
		sed -n 's/^ *Depends: linux-image-\([0-9].*-amd64\)$/\1/p'
}

# Releases of the series only: "6.1" must not match 6.12.
mine() { grep -E "^$(echo "$series" | sed 's/\./\\./g')[.-]" || true; }

top=$(cd "$(dirname "$0")/.." && pwd)
if [ "${series%%.*}" -ge 7 ]; then
	ver=$("$top/scripts/testbed-apt.sh" apt-cache pkgnames "linux-headers-$series." 2>/dev/null |
		sed -n 's/^linux-headers-\([0-9.]*+deb[0-9]*-amd64\)$/\1/p' |
		mine | sort -V | tail -n1)
elif [ "$series" = 6.1 ]; then
	ver=$(deps linux-image-amd64 | mine | head -n1)
else
	ver=$(deps "linux-image-$series-amd64" | mine | head -n1)
	[ -n "$ver" ] || ver=$(apt-cache show linux-image-amd64 2>/dev/null |
		sed -n 's/^Depends:.*linux-image-\([0-9][^ ,]*-amd64\).*/\1/p' |
		mine | sort -V | tail -n1)
fi
if [ -z "$ver" ]; then
	ver=$({ ls -d "$top"/.cache/kernel/*-amd64 /usr/src/linux-headers-*-amd64 2>/dev/null || true; } |
		sed 's|.*/\(linux-headers-\)\{0,1\}||' | mine | sort -V | tail -n1)
fi
[ -n "$ver" ] || { echo "guest-kver: cannot resolve a $series guest kernel version" >&2; exit 1; }
echo "$ver"
