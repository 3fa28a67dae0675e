#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run the ntpdisc selftests inside the test guest (busybox sh, root).
# Called from the payload directory that holds the test binaries; the
# module is $NTPDISC_KO, or ntpdisc.ko here or one directory up.
#
# Loads ntpdisc.ko steer=none, runs every test binary in a fixed order
# (nested TAP, as the kselftest runner prints it), then tries to remove
# the module while a process holds the device open: the open descriptor
# pins the module, so rmmod must be refused and the holder's calls must go
# on working; once it closes, rmmod must succeed. Then a load with an
# invalid parameter must fail and leave nothing behind, and the module
# must load and unload again. Exits non-zero if anything failed.
#
# NTPDISC_SELFTEST_TARGET=kernel runs the tests with the kernel in place of
# ntpdisc (checks the tests themselves); it is passed on to the binaries.
#
# Then the steering phase: the steering binaries measure the real system
# clock through the system calls (adjtimex, clock_adjtime(CLOCK_REALTIME),
# settimeofday) against the raw TSC and CLOCK_MONOTONIC_RAW. Whoever
# disciplines the clock must pass them. NTPDISC_STEER selects who:
#   kernel (or unset)  the kernel's own discipline, no module loaded
#   livepatch          ntpdisc, loaded with steer=livepatch (a plain
#                      insmod: boot defaults), once the livepatch
#                      transition is over; afterwards the patch is
#                      disabled, its transition waited for, and the module
#                      removed. If the module has no livepatch actuator,
#                      the steering binaries are reported as skipped.
#   clocksource        ntpdisc, loaded with "ntpdisc load steer=clocksource"
#                      (and the test-only override of the TSC invariance
#                      check: the guest is emulated); the binaries reach
#                      its discipline through /dev/ntpdisc and measure
#                      against its raw counter; released with "ntpdisc
#                      release".
# or a space-separated list of these, each in turn, or
# ntpdisc_selftest.steer=livepatch,clocksource on the guest's kernel command
# line. After the steering phases, ntpdisc_takeover (with livepatch in the
# list) and ntpdisc_cslife (with clocksource) test loading and releasing.
# NTPDISC_STRESS_SECONDS sets the stress test's length (default 30).
# Last, ntpdisc_lifecycle (both actuators, failing loads and unloads
# under load: NTPDISC_LIFECYCLE_LP_CYCLES livepatch cycles on 6.1 (default
# 20; make check-all's 200), 5 elsewhere, and NTPDISC_LIFECYCLE_CS_CYCLES
# clocksource ones, 200).
# NTPDISC_TESTS (names as in the TAP lines, rmmod_while_open included)
# runs only those; NTPDISC_TESTS=differential stands for the ones before
# the steering phase, NTPDISC_TESTS=steering for the steering phase and
# what follows it. make check runs the differential ones in guests side
# by side, the steering ones one guest at a time.
# "run_guest.sh --list" prints the names NTPDISC_TESTS selects and exits.
# Only the guest's clock is changed: never run this on a real machine.

cd "$(dirname "$0")" || exit 1

tests="ntpdisc_fields ntpdisc_errno ntpdisc_adjtime ntpdisc_evolution
ntpdisc_leap ntpdisc_random ntpdisc_simtrace ntpdisc_compat32 ntpdisc_audit"
steer_tests="ntpdisc_steer ntpdisc_phase ntpdisc_step ntpdisc_leapclock
ntpdisc_stress"
# Or from the guest's kernel command line (guest-run.sh --append), with
# commas between modes.
steer=${NTPDISC_STEER:-$(sed -n 's/.*\bntpdisc_selftest\.steer=\([a-z,]*\).*/\1/p' \
	/proc/cmdline 2>/dev/null | tr , ' ')}
steer=${steer:-kernel}
for m in $steer; do
	case $m in
	kernel | livepatch | clocksource) ;;
	*)
		echo "Bail out! NTPDISC_STEER=$steer: kernel, livepatch, clocksource"
		exit 1
		;;
	esac
done
after_steer="ntpdisc_takeover ntpdisc_cslife ntpdisc_lifecycle"
case ${NTPDISC_TESTS:-} in
differential) NTPDISC_TESTS="$tests rmmod_while_open" ;;
steering) NTPDISC_TESTS="$steer_tests $after_steer" ;;
esac
selected() {
	[ -z "${NTPDISC_TESTS:-}" ] && return 0
	# shellcheck disable=SC2086
	case " $(echo $NTPDISC_TESTS) " in *" $1 "*) return 0 ;; esac
	return 1
}
only() {
	for t in "$@"; do
		! selected "$t" || echo "$t"
	done
}
# shellcheck disable=SC2086
tests=$(only $tests)
# shellcheck disable=SC2086
steer_tests=$(only $steer_tests)
# shellcheck disable=SC2086
others=$(only rmmod_while_open $after_steer)
if [ "${1:-}" = --list ]; then
	echo $tests $steer_tests $others
	exit 0
fi
ntests=$(($(echo $tests | wc -w) + $(echo $others | wc -w) +
	$(echo $steer | wc -w) * $(echo $steer_tests | wc -w)))

ko=${NTPDISC_KO:-}
for k in ./ntpdisc.ko ../ntpdisc.ko; do
	[ -n "$ko" ] || [ ! -f "$k" ] || ko=$k
done

tainted() {
	# D (died: oops) and W (warning) are what a test can cause.
	echo $(($(cat /proc/sys/kernel/tainted) & (128 | 512)))
}

echo "TAP version 13"
echo "1..$ntests"
echo "# target: ${NTPDISC_SELFTEST_TARGET:-ntpdisc}," \
	"clocksource: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"

taint0=$(tainted)
loaded=
if [ -n "$ko" ]; then
	if ! insmod "$ko" steer=none; then
		echo "Bail out! insmod $ko steer=none failed"
		exit 1
	fi
	loaded=1
	# devtmpfs creates the node; give it a moment.
	i=0
	while [ ! -c /dev/ntpdisc ] && [ $i -lt 20 ]; do
		sleep 0.1
		i=$((i + 1))
	done
fi
if [ ! -c /dev/ntpdisc ] && [ "$NTPDISC_SELFTEST_TARGET" != kernel ]; then
	echo "Bail out! /dev/ntpdisc missing (module: ${ko:-none})"
	exit 1
fi

n=0
fail=0
fresh=1

# Run one binary as the kselftest runner does (nested TAP).
run_one() {
	t=$1
	n=$((n + 1))
	echo "# selftests: ntpdisc: $t"
	rm -f /tmp/ntpdisc.rc
	start=$(cut -d' ' -f1 /proc/uptime)
	# Nobody has touched the NTP state before the first binary.
	{
		NTPDISC_SELFTEST_FRESH=$fresh KSFT_TAP_LEVEL=1 ./$t 2>&1 ||
			echo $? >/tmp/ntpdisc.rc
	} | sed 's/^/# /'
	fresh=
	rc=0
	[ ! -f /tmp/ntpdisc.rc ] || rc=$(cat /tmp/ntpdisc.rc)
	end=$(cut -d' ' -f1 /proc/uptime)
	echo "# $t: exit $rc, $start..$end s uptime" \
		"($(echo "$start $end" | awk '{ printf "%.1f", $2 - $1 }') s)"
	if [ "$rc" = 0 ]; then
		echo "ok $n selftests: ntpdisc: $t"
	elif [ "$rc" = 4 ]; then
		echo "ok $n selftests: ntpdisc: $t # SKIP"
	else
		echo "not ok $n selftests: ntpdisc: $t # exit=$rc"
		fail=$((fail + 1))
	fi
}

for t in $tests; do
	run_one $t
done

# Remove the module under an open descriptor.
t=rmmod_while_open
if ! selected $t; then
	[ -z "$loaded" ] || rmmod ntpdisc || echo "# cannot remove ntpdisc"
	loaded=
elif [ -z "$loaded" ]; then
	n=$((n + 1))
	echo "# selftests: ntpdisc: $t"
	echo "ok $n selftests: ntpdisc: $t # SKIP no module"
else
	n=$((n + 1))
	echo "# selftests: ntpdisc: $t"
	bad=
	rm -f /tmp/ntpdisc.ready /tmp/ntpdisc.go
	./ntpdisc_hold /tmp/ntpdisc.ready /tmp/ntpdisc.go &
	pid=$!
	i=0
	while [ ! -f /tmp/ntpdisc.ready ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -f /tmp/ntpdisc.ready ] || bad="$bad holder-not-ready"
	if rmmod ntpdisc 2>/dev/null; then
		loaded=
		bad="$bad rmmod-not-refused-while-open"
		touch /tmp/ntpdisc.go
		wait $pid
	else
		touch /tmp/ntpdisc.go
		wait $pid || bad="$bad holder-calls-failed"
		rmmod ntpdisc || bad="$bad rmmod-after-close"
		[ ! -e /dev/ntpdisc ] || bad="$bad node-left"
	fi
	# A failed load unwinds completely: the next load gets the same names.
	if insmod "$ko" steer=bogus 2>/dev/null; then
		bad="$bad invalid-steer-accepted"
		rmmod ntpdisc
	fi
	[ ! -e /dev/ntpdisc ] || bad="$bad node-after-failed-load"
	[ ! -e /sys/class/ntpdisc ] || bad="$bad class-after-failed-load"
	# And it loads and unloads again.
	if insmod "$ko" steer=none; then
		[ -c /dev/ntpdisc ] || sleep 1
		[ -c /dev/ntpdisc ] || bad="$bad no-node-on-reload"
		rmmod ntpdisc || bad="$bad rmmod-after-reload"
	else
		bad="$bad reload"
	fi
	[ "$(tainted)" = "$taint0" ] || bad="$bad kernel-tainted-D/W"
	if [ -z "$bad" ]; then
		echo "ok $n selftests: ntpdisc: $t"
	else
		echo "# $t:$bad"
		echo "not ok $n selftests: ntpdisc: $t"
		fail=$((fail + 1))
	fi
fi

# The steering phase: who disciplines the system clock now.
lp=/sys/kernel/livepatch/ntpdisc
cli=$PWD/ntpdisc

# Wait up to 30 s for the livepatch transition to end (or the patch to go).
lp_settle() {
	i=0
	while [ -d $lp ] && [ "$(cat $lp/transition 2>/dev/null)" = 1 ] &&
		[ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ ! -d $lp ] || [ "$(cat $lp/transition 2>/dev/null)" != 1 ]
}

# From 7.x the clocksource watchdog holds every verified clocksource to
# 4000 ppm of its watchdog, which a steered clock leaves at its first large
# request: the module refuses steer=clocksource there (ntpdisc(4)).
case $(uname -r) in
[7-9].*) cs_refused=1 ;;
*) cs_refused= ;;
esac

# The steering binaries with @1 (kernel, livepatch or clocksource) in charge.
steer_phase() {
	mode=$1
	skip_steer=
	steer_loaded=
	phase_start=$(cut -d' ' -f1 /proc/uptime)
	if grep -qw ntpdisc /proc/modules; then
		# Left loaded by a failure above: the kernel must steer alone now.
		"$cli" release >/dev/null 2>&1 || rmmod ntpdisc ||
			echo "# steering phase: cannot remove ntpdisc"
	fi
	case $mode in
	livepatch)
		if [ -z "$ko" ]; then
			skip_steer="no module to load with steer=livepatch"
		elif ! grep -qa 'livepatch=Y' "$ko"; then
			# MODULE_INFO(livepatch, "Y") comes with the actuator.
			skip_steer="$ko has no livepatch actuator"
		elif ! insmod "$ko" steer=livepatch; then
			echo "# steering phase: insmod $ko steer=livepatch failed"
			steer_loaded=failed
		else
			steer_loaded=1
			lp_settle || echo "# steering phase: livepatch transition still running after 30 s"
		fi
		;;
	clocksource)
		if [ -z "$ko" ]; then
			skip_steer="no module to load with steer=clocksource"
		elif [ -n "$cs_refused" ]; then
			# The refusal itself is a test: the load must fail.
			if "$cli" load "$ko" steer=clocksource \
				testonly_ignore_tsc_invariance=1; then
				echo "# steering phase: steer=clocksource loaded on $(uname -r), which must refuse it"
				steer_loaded=failed
			else
				skip_steer="steer=clocksource refused on $(uname -r), as it must be"
			fi
		elif ! "$cli" load "$ko" steer=clocksource \
			testonly_ignore_tsc_invariance=1; then
			echo "# steering phase: ntpdisc load steer=clocksource failed"
			steer_loaded=failed
		else
			steer_loaded=1
		fi
		;;
	esac
	i=0
	while [ "$steer_loaded" = 1 ] && [ ! -c /dev/ntpdisc ] && [ $i -lt 20 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	echo "# steering phase: NTPDISC_STEER=$mode: the system clock is disciplined by" \
		"$(if [ "$steer_loaded" = 1 ]; then echo "ntpdisc (steer=$mode)";
		else echo "the kernel (no module loaded)"; fi)," \
		"clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
	[ ! -d $lp ] || echo "# steering phase: $lp: enabled $(cat $lp/enabled)," \
		"transition $(cat $lp/transition)"
	for t in $steer_tests; do
		if [ -n "$skip_steer" ]; then
			n=$((n + 1))
			echo "ok $n selftests: ntpdisc: $t # SKIP $skip_steer"
		elif [ "$steer_loaded" = failed ]; then
			n=$((n + 1))
			echo "not ok $n selftests: ntpdisc: $t # steer=$mode did not load"
			fail=$((fail + 1))
		else
			NTPDISC_STEER=$mode \
			NTPDISC_STRESS_SECONDS=${NTPDISC_STRESS_SECONDS:-30} run_one $t
		fi
	done
	if [ "$steer_loaded" = 1 ] && [ "$mode" = livepatch ]; then
		# The unload sequence: disable the patch, let it go, rmmod.
		bad=
		echo 0 >$lp/enabled 2>/dev/null || bad="$bad disable"
		i=0
		while [ -d $lp ] && [ $i -lt 300 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		[ ! -d $lp ] || bad="$bad patch-still-there"
		rmmod ntpdisc || bad="$bad rmmod"
	elif [ "$steer_loaded" = 1 ]; then
		bad=
		"$cli" release || bad="$bad release"
	fi
	if [ "$steer_loaded" = 1 ] && [ -n "$bad" ]; then
		echo "# steering phase: releasing ntpdisc failed:$bad"
		fail=$((fail + 1))
	fi
	echo "# steering phase ($mode): $(echo "$phase_start $(cut -d' ' -f1 /proc/uptime)" |
		awk '{ printf "%.1f", $2 - $1 }') s"
}

for m in $steer; do
	[ -z "$steer_tests" ] || steer_phase "$m"
done

# Lifecycle phase: "ntpdisc load" / "ntpdisc release" with the CLI, twenty
# cycles, the RTC, the device beside the system call, and another
# livepatch replacing ntpdisc's. Only where the livepatch actuator runs.
NTPDISC_KO=${ko:+$(cd "$(dirname "$ko")" && pwd)/$(basename "$ko")}
NTPDISC_CLI=$cli
NTPDISC_TEST_REPLACE_KO=$PWD/ntpdisc_test_replace.ko
export NTPDISC_KO NTPDISC_CLI NTPDISC_TEST_REPLACE_KO
t=ntpdisc_takeover
# From 6.4 on, every livepatch transition also re-patches each
# cond_resched() call site (a static call) while the other CPU runs them.
# QEMU 7.2's TCG can translate such a site between two of the kernel's
# writes and keep the stale int3 (seen once on 6.12: "Oops: int3" in
# rcu_gp_fqs_loop), so the emulated 6.12 guest does fewer cycles.
case $(uname -r) in
6.1.*) ;;
*) NTPDISC_TAKEOVER_CYCLES=${NTPDISC_TAKEOVER_CYCLES:-5}
   export NTPDISC_TAKEOVER_CYCLES ;;
esac
case " $steer " in *" livepatch "*) lp_mode=1 ;; *) lp_mode= ;; esac
if ! selected $t; then
	:
elif [ -z "$lp_mode" ] || [ -z "$ko" ] || ! grep -qa 'livepatch=Y' "$ko"; then
	n=$((n + 1))
	echo "ok $n selftests: ntpdisc: $t # SKIP needs NTPDISC_STEER=livepatch and its actuator"
elif grep -qw ntpdisc /proc/modules; then
	n=$((n + 1))
	echo "not ok $n selftests: ntpdisc: $t # ntpdisc still loaded"
	fail=$((fail + 1))
else
	run_one $t
fi

# The clocksource actuator's life cycle: fifty cycles, refusal, handover.
t=ntpdisc_cslife
case " $steer " in *" clocksource "*) cs_mode=1 ;; *) cs_mode= ;; esac
if ! selected $t; then
	:
elif [ -z "$cs_mode" ] || [ -z "$ko" ]; then
	n=$((n + 1))
	echo "ok $n selftests: ntpdisc: $t # SKIP needs NTPDISC_STEER=clocksource"
elif [ -n "$cs_refused" ]; then
	n=$((n + 1))
	echo "ok $n selftests: ntpdisc: $t # SKIP steer=clocksource refused on $(uname -r) (steering phase)"
elif grep -qw ntpdisc /proc/modules; then
	n=$((n + 1))
	echo "not ok $n selftests: ntpdisc: $t # ntpdisc still loaded"
	fail=$((fail + 1))
else
	run_one $t
fi

# Failing loads, unloads while the RTC update and the stepping thread are
# busy, the livepatch disabled by hand, steer= unset, read-only
# descriptors: both actuators, whatever the steering list.
t=ntpdisc_lifecycle
if ! selected $t; then
	:
elif [ -z "$ko" ]; then
	n=$((n + 1))
	echo "ok $n selftests: ntpdisc: $t # SKIP no module"
elif grep -qw ntpdisc /proc/modules; then
	n=$((n + 1))
	echo "not ok $n selftests: ntpdisc: $t # ntpdisc still loaded"
	fail=$((fail + 1))
else
	# A livepatch cycle takes 3.5 s under TCG; 6.12's transitions are
	# also exposed to the stale-int3 problem above: fewer there.
	case $(uname -r) in
	6.1.*) lp_cycles=${NTPDISC_LIFECYCLE_LP_CYCLES:-20} ;;
	*) lp_cycles=5 ;;
	esac
	NTPDISC_LIFECYCLE_LP_CYCLES=$lp_cycles \
	NTPDISC_LIFECYCLE_CS_CYCLES=${NTPDISC_LIFECYCLE_CS_CYCLES:-200} \
		run_one $t
fi

[ "$(tainted)" = "$taint0" ] || {
	echo "# kernel taint changed: $taint0 -> $(tainted) (oops or warning)"
	fail=$((fail + 1))
}
echo "# ntpdisc selftests: $((ntests - fail)) of $ntests binaries passed"
[ "$fail" -eq 0 ]
