#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The main-job demo, run inside the test guest: load ntpdisc, read and
# set its discipline next to the kernel's, and watch both through a leap
# second. The guest clock is moved; this must only run in a throwaway VM.
set -eu
PATH=$PWD:$PATH

say() { printf '\n### %s\n' "$*"; }
state() { ntpdisc "$@" --json status | sed 's/.*"state_name":"\([A-Z_]*\)".*"tai":\([0-9-]*\).*/\1 tai=\2/'; }

say "insmod ntpdisc.ko steer=none (shadow mode: the kernel keeps the clock)"
insmod ./ntpdisc.ko steer=none
ls -l /dev/ntpdisc

say "ntpdisc status: the boot state, as the kernel reports its own"
ntpdisc status
say "ntpdisc --kernel status"
ntpdisc --kernel status

say "set frequency +12.5 ppm, PLL on, synchronised, time constant 4"
ntpdisc set freq 12.5 status +PLL,-UNSYNC maxerror 0 constant 4
say "a 2 ms phase offset for the PLL, then three seconds of it"
ntpdisc set offset 2000 >/dev/null
ntpdisc watch 3
say "what the discipline steers now"
ntpdisc output

say "an adjtime(3) slew of 1.2 ms at 500 us/s"
ntpdisc adjtime 1200
ntpdisc watch 3

say "a leap second: clock set to 23:59:52 UTC, INS armed in both"
now=$(date +%s)
midnight=$(( (now / 86400 + 1) * 86400 ))
date -u -s "@$((midnight - 8))" >/dev/null
for who in "" --kernel; do
	# leap-a-day's reset: synchronised, no error growth, PLL off
	ntpdisc $who set status +PLL,-UNSYNC maxerror 0 >/dev/null
	ntpdisc $who set status -PLL >/dev/null
	ntpdisc $who leap insert >/dev/null
done
printf '%-10s %-22s %-22s\n' "UTC" "ntpdisc" "kernel"
i=0
while [ $i -lt 24 ]; do
	printf '%-10s %-22s %-22s\n' "$(date -u +%T)" "$(state)" \
		"$(state --kernel)"
	if [ $i -eq 18 ]; then
		ntpdisc leap cancel >/dev/null
		ntpdisc --kernel leap cancel >/dev/null
		echo "(leap flags cleared)"
	fi
	usleep 500000
	i=$((i + 1))
done

say "rmmod ntpdisc"
rmmod ntpdisc
