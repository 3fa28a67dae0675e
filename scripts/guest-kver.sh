#!/bin/sh
# Print the guest kernel release (e.g. 6.1.0-56-amd64).
#
# The module is built against linux-headers-<ver> and loaded into Debian's
# linux-image-<ver>, so both must agree: take <ver> from what the
# linux-image-amd64 meta package points at.  Without apt lists (fresh
# container before apt-get update) fall back to the newest installed
# headers.  KVER in the environment overrides both.
set -eu

if [ -n "${KVER:-}" ]; then
	echo "$KVER"
	exit 0
fi

ver=$(apt-cache depends linux-image-amd64 2>/dev/null |
	sed -n 's/^ *Depends: linux-image-\([0-9].*-amd64\)$/\1/p' | head -n1)
if [ -z "$ver" ]; then
	ver=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null |
		sed 's|.*/linux-headers-||' | sort -V | tail -n1)
fi
[ -n "$ver" ] || { echo "guest-kver: cannot resolve the guest kernel version" >&2; exit 1; }
echo "$ver"
