#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest side of the kernel's own timers selftests (busybox sh, root, inside
# the test guest only: the tests set the clock and the NTP state).
#
#   timers-guest.sh plain|ntpdisc|preload [TEST...]
#
# Run from a payload directory holding this script, the unmodified test
# binaries of tools/testing/selftests/timers in timers/ (built statically
# by "make timers-selftests", dynamically for mode preload) and, for modes
# ntpdisc and preload, ntpdisc.ko.
#
#   plain    the guest kernel's own NTP discipline, no module loaded
#   ntpdisc  "insmod ntpdisc.ko steer=livepatch" first, so that adjtimex(2)
#            and the timekeeper reach ntpdisc's discipline; if the load
#            fails, or the livepatch is not enabled before and after the
#            tests, every test is reported failed with that reason
#   preload  "ntpdisc load ntpdisc.ko steer=clocksource
#            testonly_ignore_tsc_invariance=1" with the CLI, then every
#            test runs with LD_PRELOAD=libntpdisc-preload.so, so that its
#            adjtimex and clock_adjtime(CLOCK_REALTIME) reach /dev/ntpdisc
#            while the timekeeper counts ntpdisc's clocksource; the payload
#            brings glibc (guest-libc.sh); if the load fails, or the
#            clocksource is not ntpdisc before and after a test, the tests
#            are reported failed with that reason
#
# Output is nested kselftest TAP, one result per test binary:
#
#   # selftests: timers: NAME
#   # <the test's own output>
#   # NAME: exit RC, START..END s uptime, DURATION s
#   ok N selftests: timers: NAME
#
# The "# NAME: exit" line is what scripts/timers-judge.sh compares between
# the plain and the ntpdisc run.  A test's exit status is the verdict, as
# in the kernel's runner: 0 pass, 4 skip, anything else fail (124 or 137:
# killed by the per-test timeout below).
#
# Arguments are the kernel's documented short forms where a test has a
# long default: leap-a-day runs "-i 2" (one inserted and one deleted leap
# second; its default is 10).  The others take none.
cd "$(dirname "$0")" || exit 1

mode=$1
shift
case $mode in
plain|ntpdisc|preload) ;;
*) echo "usage: $0 plain|ntpdisc|preload [TEST...]" >&2; exit 2 ;;
esac

all="valid-adjtimex set-tai adjtick freq-step raw_skew leap-a-day leapcrash
change_skew skew_consistency"
tests=${*:-$all}
ntests=$(echo "$tests" | wc -w)

args() {
	case $1 in
	leap-a-day) echo "-i 2" ;;
	esac
}

# Per-test limit in seconds, about three times the plain run under TCG.
limit() {
	case $1 in
	change_skew) echo 3600 ;;
	skew_consistency) echo 2400 ;;
	*) echo 900 ;;
	esac
}

uptime_s() { cut -d' ' -f1 /proc/uptime; }

tainted() {
	# D (died: oops) and W (warning) are what a test can cause.
	echo $(($(cat /proc/sys/kernel/tainted) & (128 | 512)))
}

# Livepatches that are enabled right now.
livepatches() {
	for e in /sys/kernel/livepatch/*/enabled; do
		[ -f "$e" ] && [ "$(cat "$e")" = 1 ] && basename "$(dirname "$e")"
	done
}

echo "TAP version 13"
echo "1..$ntests"
echo "# timers: mode $mode, kernel $(uname -r)," \
	"clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)," \
	"$(grep -c ^processor /proc/cpuinfo) CPUs"

taint0=$(tainted)
broken=
if [ "$mode" = ntpdisc ]; then
	if [ ! -f ntpdisc.ko ]; then
		broken="ntpdisc.ko missing from the payload"
	elif ! err=$(insmod ntpdisc.ko steer=livepatch 2>&1); then
		broken="insmod ntpdisc.ko steer=livepatch failed: $err"
		dmesg | tail -n 5 | sed 's/^/# dmesg: /'
	else
		# The livepatch transition takes about a second.
		i=0
		while [ -z "$(livepatches)" ] && [ $i -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		lp=$(livepatches)
		[ -n "$lp" ] || broken="ntpdisc loaded but no livepatch is enabled"
		for t in /sys/kernel/livepatch/*/transition; do
			[ -f "$t" ] || continue
			i=0
			while [ "$(cat "$t")" = 1 ] && [ $i -lt 300 ]; do
				sleep 0.1
				i=$((i + 1))
			done
		done
		echo "# ntpdisc: loaded steer=livepatch, enabled livepatches: ${lp:-none}"
	fi
	[ -z "$broken" ] || echo "# ntpdisc: $broken"
fi
cs_file=/sys/devices/system/clocksource/clocksource0/current_clocksource
if [ "$mode" = preload ]; then
	. ./guest-libc.sh
	if [ ! -f ntpdisc.ko ] || [ ! -f libntpdisc-preload.so ]; then
		broken="ntpdisc.ko or libntpdisc-preload.so missing from the payload"
	elif ! err=$(./ntpdisc load ntpdisc.ko steer=clocksource \
			testonly_ignore_tsc_invariance=1 2>&1); then
		broken="ntpdisc load steer=clocksource failed: $err"
		dmesg | tail -n 5 | sed 's/^/# dmesg: /'
	elif [ "$(cat $cs_file)" != ntpdisc ]; then
		broken="loaded, but the clocksource is $(cat $cs_file)"
	else
		echo "# ntpdisc: loaded steer=clocksource, clocksource $(cat $cs_file)," \
			"tests run with LD_PRELOAD=libntpdisc-preload.so"
	fi
	[ -z "$broken" ] || echo "# ntpdisc: $broken"
	export LD_PRELOAD="$PWD/libntpdisc-preload.so"
fi

cd timers || exit 1
n=0
fail=0
for t in $tests; do
	n=$((n + 1))
	echo "# selftests: timers: $t"
	if [ -n "$broken" ]; then
		echo "# $t: not run: $broken"
		echo "not ok $n selftests: timers: $t # ntpdisc not in charge"
		fail=$((fail + 1))
		continue
	fi
	rm -f /tmp/timers.rc
	start=$(uptime_s)
	# shellcheck disable=SC2046
	{
		timeout -k 10 "$(limit "$t")" ./"$t" $(args "$t") 2>&1 ||
			echo $? >/tmp/timers.rc
	} | sed 's/^/# /'
	end=$(uptime_s)
	rc=0
	[ ! -f /tmp/timers.rc ] || rc=$(cat /tmp/timers.rc)
	echo "# $t: exit $rc, $start..$end s uptime," \
		"$(awk "BEGIN { printf \"%.0f\", $end - $start }") s"
	if [ "$mode" = preload ] && [ "$(cat $cs_file)" != ntpdisc ]; then
		broken="the clocksource changed to $(cat $cs_file) during $t"
		echo "# ntpdisc: $broken"
		echo "not ok $n selftests: timers: $t # ntpdisc not in charge"
		fail=$((fail + 1))
	elif [ "$mode" = ntpdisc ] && [ -z "$(livepatches)" ]; then
		# Someone (an atomic-replace patch, a crash) took the patch away.
		broken="the livepatch was disabled during $t"
		echo "# ntpdisc: $broken"
		echo "not ok $n selftests: timers: $t # ntpdisc not in charge"
		fail=$((fail + 1))
	elif [ "$rc" = 0 ]; then
		echo "ok $n selftests: timers: $t"
	elif [ "$rc" = 4 ]; then
		echo "ok $n selftests: timers: $t # SKIP"
	else
		echo "not ok $n selftests: timers: $t # exit=$rc"
		fail=$((fail + 1))
	fi
done

[ "$(tainted)" = "$taint0" ] || {
	echo "# kernel taint changed: $taint0 -> $(tainted) (oops or warning)"
	fail=$((fail + 1))
}
echo "# timers ($mode): $((ntests - fail)) of $ntests passed"
[ "$fail" -eq 0 ]
