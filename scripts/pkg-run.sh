#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# ntpdisc installed the Debian way, for real, in a guest: build the two
# packages (make deb), boot the guest kernel with a Debian root that has
# DKMS, a compiler and that kernel's headers (scripts/rootfs-build.sh dkms
# KVER), install them there, let DKMS build the module, load it with the
# installed CLI, read the manual, purge, and check that nothing is left
# (scripts/pkg-guest.sh). TAP in output/pkg/pkg.tap, console in
# output/pkg/pkg.log.
#
#   pkg-run.sh [--timeout SECS] [--quiet]
set -eu

timeout=1200 quiet=
while [ $# -gt 0 ]; do
	case $1 in
	--timeout) timeout=$2; shift 2 ;;
	--quiet) quiet=1; shift ;;
	*) echo "usage: $0 [--timeout SECS] [--quiet]" >&2; exit 2 ;;
	esac
done

top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/output/pkg
p=$out/payload
kver=$("$top/scripts/guest-kver.sh")
version=$(cat "$top/VERSION")

mkdir -p "$top/output"
make -C "$top" --no-print-directory deb >"$out.deb.log" 2>&1 || {
	tail -n 30 "$out.deb.log" >&2
	echo "pkg-run: make deb failed (see $out.deb.log)" >&2
	exit 1
}
rootfs=$("$top/scripts/rootfs-build.sh" dkms "$kver")

rm -rf "$out"
mkdir -p "$p"
mv "$out.deb.log" "$out/deb.log"
cp "$top/output/deb/ntpdisc-dkms_${version}_all.deb" \
	"$top/output/deb/ntpdisc-tools_${version}_amd64.deb" \
	"$top/scripts/pkg-guest.sh" "$top/scripts/rootfs-guest.sh" "$p/"
printf 'exec sh ./pkg-guest.sh %s\n' "$version" >"$p/run.sh"

log=$out/pkg.log
{
	rc=0
	KVER=$kver "$top/scripts/guest-run.sh" --mem 2G --timeout "$timeout" \
		--rootfs "$rootfs" "$p" 2>&1 || rc=$?
	echo $rc >"$log.rc"
} | if [ -n "$quiet" ]; then cat >"$log"; else tee "$log"; fi
rc=$(cat "$log.rc")
rm -f "$log.rc"

grep -E '^(not )?ok [0-9]+ - |^1\.\.[0-9]+$|^TAP version' "$log" >"$out/pkg.tap" || true
echo "pkg-run:"
grep -E '^(not )?ok ' "$out/pkg.tap" | sed 's/^/  /' || true
pass=$(grep -c '^ok ' "$out/pkg.tap" || true)
fail=$(grep -c '^not ok ' "$out/pkg.tap" || true)
echo "pkg-run: $pass passed, $fail failed; logs in $out/"
[ "$pass" -gt 0 ] && [ "$fail" = 0 ] && [ "$rc" = 0 ]
