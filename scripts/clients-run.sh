#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Debian's unmodified time daemons and tools disciplining the clock
# through ntpdisc, in the test guest (host side of scripts/clients-guest.sh).
#
#   clients-run.sh [--steer livepatch|clocksource] [--timeout SECS]
#                  [--nic MODEL] [--quiet] [TEST...]
#
# TEST is tools, chrony, ntpd, phc2sys (default: all; phc2sys is skipped
# where the guest has no PTP clock, as with Debian's kernels under TCG).  Builds what is
# missing (module, CLI, reference clock, the Debian root of
# scripts/rootfs-build.sh), boots the guest with the Debian root appended
# to its initramfs and writes to output/clients/:
#
#   STEER.log            the whole console and guest-run's verdict
#   STEER.tap            the TAP lines
#   chrony-STEER.csv     true error of the clock and the discipline's
#   ntpd-STEER.csv       state, 4 samples a second (see
#                        tools/refclock/ntpdisc-refclock.c)
#
# With --steer clocksource the daemons reach /dev/ntpdisc through
# build/tools/libntpdisc-preload.so (make tools), which must exist.
# --nic MODEL adds QEMU's -device MODEL (e1000e: the 82574, whose driver
# registers a PTP clock) and its driver module for phc2sys to try as a
# source; no NIC by default.
# Exit status 0 only if every check passed and the guest kernel log is
# clean.
set -eu

usage() {
	echo "usage: $0 [--steer livepatch|clocksource] [--timeout SECS] [--nic MODEL] [--quiet] [TEST...]" >&2
	exit 2
}

steer=livepatch timeout=1200 quiet= nic=
while [ $# -gt 0 ]; do
	case $1 in
	--steer) steer=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--nic) nic=$2; shift 2 ;;
	--quiet) quiet=1; shift ;;
	-*) usage ;;
	*) break ;;
	esac
done
case $steer in livepatch|clocksource) ;; *) usage ;; esac
[ $# -gt 0 ] || set -- tools chrony ntpd phc2sys

top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/output/clients
p=$out/payload-$steer
tools=$top/build/tools

[ -f "$top/ntpdisc.ko" ] || make -C "$top" module >/dev/null
[ -x "$tools/ntpdisc" ] || make -C "$top" tools >/dev/null
make -C "$top/tools/refclock" OUT="$tools" >/dev/null
rootfs=$("$top/scripts/rootfs-build.sh")

rm -rf "$p"
mkdir -p "$p"
cp "$top/ntpdisc.ko" "$tools/ntpdisc" "$tools/ntpdisc-refclock" \
	"$top/scripts/clients-guest.sh" "$top/scripts/rootfs-guest.sh" "$p/"
if [ "$steer" = clocksource ]; then
	[ -f "$tools/libntpdisc-preload.so" ] ||
		{ echo "clients-run: no $tools/libntpdisc-preload.so (make tools)" >&2; exit 2; }
	cp "$tools/libntpdisc-preload.so" "$p/"
fi
nicdev=
if [ -n "$nic" ]; then
	kver=$("$top/scripts/guest-kver.sh")
	ko=$(find "$top/.cache/kernel/$kver/lib/modules" -name "$nic.ko*" | head -n1)
	[ -n "$ko" ] || { echo "clients-run: no driver $nic.ko for $kver" >&2; exit 2; }
	case $ko in
	*.xz) xz -dc "$ko" >"$p/nic-$nic.ko" ;;
	*) cp "$ko" "$p/nic-$nic.ko" ;;
	esac
	nicdev="--device $nic"
fi
env=
for v in CHRONY_SECS NTPD_SECS PHC2SYS_SECS OFFSET_MS PPM; do
	eval "x=\${$v:-}"
	[ -z "$x" ] || env="$env $v=$x"
done
printf 'exec env%s sh ./clients-guest.sh %s %s\n' "$env" "$steer" "$*" >"$p/run.sh"

log=$out/$steer.log
{
	rc=0
	# shellcheck disable=SC2086 # nicdev is an option and its value
	"$top/scripts/guest-run.sh" --mem 2G --timeout "$timeout" $nicdev \
		--rootfs "$rootfs" "$p" 2>&1 || rc=$?
	echo $rc >"$log.rc"
} | if [ -n "$quiet" ]; then cat >"$log"; else tee "$log"; fi
rc=$(cat "$log.rc")
rm -f "$log.rc"

# The guest prints its CSV logs on the console between markers.
awk -v dir="$out" '
/^CLIENTS-FILE-BEGIN / { f = dir "/" $2; printf "" >f; next }
/^CLIENTS-FILE-END$/ { close(f); f = ""; next }
f != "" { print >>f }' "$log"
grep -E '^(not )?ok [0-9]+ - |^1\.\.[0-9]+$' "$log" >"$out/$steer.tap" || true
echo "clients-run ($steer):"
grep -E '^(not )?ok ' "$out/$steer.tap" | sed 's/^/  /' || true
skip=$(grep -c '^ok .* # SKIP' "$out/$steer.tap" || true)
pass=$(( $(grep -c '^ok ' "$out/$steer.tap" || true) - skip ))
fail=$(grep -c '^not ok ' "$out/$steer.tap" || true)
echo "clients-run ($steer): $pass passed, $fail failed, $skip skipped; logs in $out/"
[ "$pass" -gt 0 ] && [ "$fail" = 0 ] && [ "$rc" = 0 ]
