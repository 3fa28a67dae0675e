#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The demo, inside the test guest (host side: scripts/demo.sh). The guest
# clock is set to shortly before the end of 2026-12-31, ntpdisc takes over
# with its default backend, and Debian's chronyd, unmodified and with its
# seccomp filter, disciplines the clock against ntpdisc-refclock: true time
# from the unsteered counter, the clock starting 50 ms ahead and 80 ppm
# fast. The reference announces a leap second for that midnight, chronyd
# arms it, and ntpdisc inserts it. The reference prints the table; its CSV
# goes to the host between DEMO-FILE markers. This moves the guest's clock:
# only ever run it in a throwaway VM.
#
#   DEMO_STEER=livepatch|clocksource  backend (default: the module's)
#   DEMO_LEAD=SECONDS                 how long before midnight to start (30)
set -u
P=/payload
R=/rootfs
# 2027-01-01 00:00:00 UTC: chronyd accepts a leap second only at the end
# of June or December.
LEAP=1798761600
LEAD=${DEMO_LEAD:-30}
OFFSET_MS=50
PPM=80
CONVERGED_US=100
# rootfs_mount, rootfs_umount, device_for, in_root.
# shellcheck source=scripts/rootfs-guest.sh
. $P/rootfs-guest.sh

say() { printf '\n### %s\n' "$*"; }

say "3/6  load ntpdisc; the guest clock set to 2026-12-31, $LEAD s before midnight"
date -u -s "@$((LEAP - LEAD))" >/dev/null
date -u
args=
[ -z "${DEMO_STEER:-}" ] || args="steer=$DEMO_STEER"
# TCG's TSC lacks the invariance flags; it is a fixed-rate counter anyway.
[ "${DEMO_STEER:-}" != clocksource ] ||
	args="$args testonly_ignore_tsc_invariance=1"
# shellcheck disable=SC2086
$P/ntpdisc load $P/ntpdisc.ko $args || exit 1
steer=$(cat /sys/module/ntpdisc/parameters/steer)
echo "backend: $steer; clocksource:" \
	"$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"

rootfs_mount

# Debian's chrony.conf with the reference in place of the pool and no
# network ports; no leapsectz, so the leap comes from the reference.
cat >$P/out/chrony.conf <<CONF
refclock SOCK /run/chrony.ref.sock refid REF poll 0 precision 1e-7
makestep 1 3
rtcsync
maxupdateskew 100.0
port 0
cmdport 0
CONF

say "4/6  chronyd -F 1 against the reference: the clock 50 ms ahead, 80 ppm fast"
echo "The table: time since the start, the guest's UTC time of day, the"
echo "clock's true error (measured from the unsteered counter), the"
echo "discipline's frequency correction and its state; a line a second,"
echo "four around the leap."

# The leap phase is announced once the error has stayed below the bound,
# or three seconds before midnight if it has not.
leap_phase() {
	say "5/6  the leap second: announced by the reference, armed by chronyd" \
		"(TIME_INS), inserted by ntpdisc at 00:00:00 UTC$1"
}
{
	$P/ntpdisc-refclock -o $OFFSET_MS -f $PPM -r 4 -p 1 -c $CONVERGED_US \
		-L $LEAP -t $((LEAD + 5)) -l $P/out/demo.csv \
		-s $R/run/chrony.ref.sock 2>&1 |
	{
		told=
		while IFS= read -r line; do
			case $line in
			*" 23:59:5[7-9]."*)
				[ -n "$told" ] ||
					leap_phase " (the clock is not within $CONVERGED_US us yet)"
				told=1 ;;
			esac
			echo "$line"
			case $line in
			*"has stayed below"*)
				[ -n "$told" ] || leap_phase ""
				told=1 ;;
			esac
		done
	}
} &
ref=$!
sleep 0.3
# With the clocksource, through the preload library.
device_for _chrony
in_root /usr/sbin/chronyd -F 1 -f /payload/out/chrony.conf
wait $ref

say "6/6  where chronyd and ntpdisc ended"
chroot $R /usr/bin/chronyc tracking
$P/ntpdisc status
kill "$(cat $R/run/chrony/chronyd.pid 2>/dev/null)" 2>/dev/null
sleep 1
echo "DEMO-FILE-BEGIN demo.csv"
cat $P/out/demo.csv
echo "DEMO-FILE-END"
rootfs_umount
$P/ntpdisc release
