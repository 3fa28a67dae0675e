#!/bin/sh
# Judge a run of the kernel's timers selftests under ntpdisc against the
# plain kernel's run of the same tests in the same "make check":
#
#   timers-judge.sh [--preload] PLAIN_TAP_LOG NTPDISC_TAP_LOG TEST...
#
# With --preload the second log is a run of mode preload (the tests through
# libntpdisc-preload.so against /dev/ntpdisc, steer=clocksource): the rules
# below hold, except for the tests of mono_raw_reason(), see there.
#
# The logs are scripts/timers-guest.sh output (output/timers-*-tap.log);
# several logs of one mode may be given joined by commas (the tests split
# over guests).  Prints one "timers: ..." line per finding and last
# "TIMERSCOUNT pass fail known".
#
# The rules, per test:
#
# - ntpdisc passed: one passed test.
# - ntpdisc failed or skipped (any non-zero exit), or never reported: one
#   failed test, unless all of these hold, in which case it is a "known
#   emulation failure", counted apart (neither passed nor failed) and
#   printed as "fails plain as well (REASON)":
#     * the plain run failed the same test in this check run,
#     * identically: the same exit status and the same set of failure
#       lines, a failure line being one of the test's output lines that
#       says FAIL, ERROR, "not ok" or "Bail out", with every number in it
#       replaced by "#" (so measured values may differ, the kind of
#       failure may not),
#     * and the failure has a written reason in known_reason() below.
#   A test that fails plain without a written reason is the test bed's
#   problem, or a reason nobody wrote down: ntpdisc cannot be judged by it.
# - plain failed (or skipped) without a written reason: one failed test
#   ("the plain kernel fails T"), whatever ntpdisc did; a plain failure
#   with a written reason is printed, not counted.  Plain passes are not
#   counted: the plain run is the reference, not a test of ntpdisc.
set -eu

preload= label=ntpdisc
if [ "${1:-}" = --preload ]; then
	preload=1 label=preload
	shift
fi
[ $# -ge 3 ] || { echo "usage: $0 [--preload] PLAIN_TAP_LOG NTPDISC_TAP_LOG TEST..." >&2; exit 2; }
plain=$(echo "$1" | tr ',' ' ')
ntpdisc=$(echo "$2" | tr ',' ' ')
shift 2

# Why a test cannot pass under QEMU's TCG even on the plain kernel.  Only
# a failure of the plain kernel, repeated identically under ntpdisc, is
# excused by these.
known_reason() {
	case $1 in
	freq-step)
		# In every plain run so far: the 10 ppm steps pass, and
		# after the 640 and 40960 ppm ones the frequency is off by 0 to
		# -0.125 ppm with a deviation of about 5 ns, a steady offset, not
		# read noise.  0.125 ppm is one step of the TSC clocksource's mult
		# at 2.1 GHz (shift 24): the timekeeper dithers between two
		# mult values, and in these guests it apparently rests on the lower one.
		echo "under TCG the timekeeper's frequency after a large step is" \
			"off by up to one step of the TSC mult (0.125 ppm), above" \
			"the test's 0.02 ppm bound"
		;;
	*) return 1 ;;
	esac
}

# Tests that measure CLOCK_MONOTONIC against CLOCK_MONOTONIC_RAW.  With
# steer=clocksource the timekeeper counts ntpdisc's clocksource, whose
# rate the discipline sets, and MONOTONIC_RAW counts the same clocksource
# (it is "raw" only of the kernel's own NTP adjustment, which stays at
# zero): both clocks move together, the ratio the test measures stays 1,
# and a frequency or tick set through /dev/ntpdisc cannot show in it.
# Such a test fails (or, for freq-step, skips) in mode preload by design.
# The same property is checked against a counter ntpdisc does not steer,
# the TSC beside the sample ioctl, by our own selftests in clocksource
# mode (selftests/ntpdisc, NTPDISC_STEER=clocksource): ntpdisc_steer's
# frequency and tick tests (rate of CLOCK_MONOTONIC and CLOCK_REALTIME
# for ADJ_FREQUENCY up to the +-500 ppm clamp and ADJ_TICK +-10%),
# ntpdisc_phase (PLL/FLL and adjtime slews), ntpdisc_cslife (frequency
# carried over at load and release).  For adjtick, raw_skew and
# change_skew the judge checks that this is why they fail: every
# MONOTONIC-against-RAW rate they print must be within MONO_RAW_PPM of
# zero, whatever was set.
MONO_RAW_PPM=5
mono_raw_reason() {
	case $1 in
	adjtick)
		echo "adjtick sets ADJ_TICK and measures CLOCK_MONOTONIC against" \
			"CLOCK_MONOTONIC_RAW, which ntpdisc's clocksource steers as" \
			"well; ntpdisc_steer.tick (clocksource) shows the tick" \
			"against the raw TSC"
		;;
	freq-step)
		echo "freq-step steps ADJ_FREQUENCY and measures CLOCK_MONOTONIC" \
			"against CLOCK_MONOTONIC_RAW, which ntpdisc's clocksource steers" \
			"as well (and skips when reading both takes over 500 ns," \
			"as ntpdisc's clocksource read does under TCG);" \
			"ntpdisc_steer.frequency (clocksource) shows frequency steps" \
			"against the raw TSC"
		;;
	raw_skew | change_skew)
		echo "$1 compares the skew of CLOCK_MONOTONIC against" \
			"CLOCK_MONOTONIC_RAW with adjtimex's frequency; ntpdisc's" \
			"clocksource steers MONOTONIC_RAW as well, so the skew stays 0;" \
			"ntpdisc_steer.frequency (clocksource) shows the frequency" \
			"against the raw TSC"
		;;
	*) return 1 ;;
	esac
}

# mono_raw_rates LOGS TEST: the MONOTONIC-against-RAW rates (ppm) that
# the test printed, one a line.
mono_raw_rates() {
	# shellcheck disable=SC2086
	cat $1 2>/dev/null | awk -v t="$2" '
		$0 == "# selftests: timers: " t { on = 1; next }
		on && index($0, "# " t ": exit ") == 1 { on = 0 }
		on && match($0, /usec, -?[0-9]+ ppm\): [0-9]+ usec, -?[0-9]+ ppm/) {
			n = split(substr($0, RSTART, RLENGTH), f, " ")
			print f[n - 1]
		}
		on && match($0, /-?[0-9]+\.[0-9]+\(est\)/) {
			v = substr($0, RSTART, RLENGTH)
			sub(/\(est\)/, "", v)
			print v
		}'
}

# result LOGS TEST: "ok", "skip", "fail" or "none" (never reported).
result() {
	# shellcheck disable=SC2086
	r=$(grep -h -E "^(not )?ok [0-9]+ selftests: timers: $2( |\$)" $1 2>/dev/null | tail -n1)
	case $r in
	"") echo none ;;
	"not ok"*) echo fail ;;
	*"# SKIP"*) echo skip ;;
	*) echo ok ;;
	esac
}

# exit_of LOGS TEST: the exit status the runner printed.
exit_of() {
	# shellcheck disable=SC2086
	grep -h "^# $2: exit " $1 2>/dev/null | tail -n1 | sed 's/^# [^:]*: exit \([0-9]*\).*/\1/'
}

# failures LOGS TEST: the test's normalised failure lines, one each.
failures() {
	# shellcheck disable=SC2086
	cat $1 2>/dev/null | awk -v t="$2" '
		$0 == "# selftests: timers: " t { on = 1; next }
		on && index($0, "# " t ": exit ") == 1 { on = 0 }
		on && /FAIL|ERROR|not ok|Bail out/ {
			sub(/^(# )+/, "")
			gsub(/[-+]?[0-9]+(\.[0-9]+)?/, "#")
			gsub(/[ \t]+/, " ")
			print
		}' | sort -u
}

pass=0 fail=0 known=0
for t in "$@"; do
	p=$(result "$plain" "$t")
	n=$(result "$ntpdisc" "$t")
	reason=$(known_reason "$t") || reason=
	if [ "$p" != ok ]; then
		if [ "$p" = none ]; then
			echo "timers: plain: $t did not report a result"
			fail=$((fail + 1))
		elif [ -z "$reason" ]; then
			echo "timers: plain: the plain kernel fails $t (exit $(exit_of "$plain" "$t")), and no reason is written down"
			fail=$((fail + 1))
		else
			echo "timers: plain: $t fails under emulation (exit $(exit_of "$plain" "$t")): $reason"
		fi
	fi
	if [ -n "$preload" ] && [ "$n" != ok ] && [ "$n" != none ] &&
		mreason=$(mono_raw_reason "$t"); then
		rates=$(mono_raw_rates "$ntpdisc" "$t" | tr '\n' ' ')
		off=$(for r in $rates; do echo "$r"; done |
			awk -v m="$MONO_RAW_PPM" '{ if ($1 > m || $1 < -m) bad++ } END { print bad + 0 }')
		if [ "$t" != freq-step ] && [ -z "$rates" ]; then
			echo "timers: preload: $t FAILED (exit $(exit_of "$ntpdisc" "$t")): it printed no MONOTONIC-against-RAW rate"
			fail=$((fail + 1))
		elif [ "$off" != 0 ]; then
			echo "timers: preload: $t FAILED (exit $(exit_of "$ntpdisc" "$t")): MONOTONIC against RAW measured ${rates}ppm, beyond +-$MONO_RAW_PPM ppm: not the reason written down"
			fail=$((fail + 1))
		else
			echo "timers: preload: $t fails by design (exit $(exit_of "$ntpdisc" "$t"); MONOTONIC against RAW: ${rates:-not printed }ppm): $mreason"
			known=$((known + 1))
		fi
		continue
	fi
	case $n in
	ok)
		echo "timers: $label: $t passed"
		pass=$((pass + 1))
		;;
	none)
		echo "timers: $label: $t did not report a result"
		fail=$((fail + 1))
		;;
	*)
		ne=$(exit_of "$ntpdisc" "$t") pe=$(exit_of "$plain" "$t")
		if [ "$p" = ok ]; then
			why="the plain kernel passes it"
		elif [ "$p" = none ]; then
			why="no plain result to compare with"
		elif [ "$ne" != "$pe" ]; then
			why="plain exits $pe, ntpdisc $ne"
		elif [ "$(failures "$ntpdisc" "$t")" != "$(failures "$plain" "$t")" ]; then
			why="it fails differently from plain"
		elif [ -z "$reason" ]; then
			why="it fails plain as well, but no reason is written down"
		else
			why=
		fi
		if [ -z "$why" ]; then
			echo "timers: $label: $t fails plain as well (known under emulation, see above)"
			known=$((known + 1))
		else
			echo "timers: $label: $t FAILED (exit $ne): $why"
			fail=$((fail + 1))
		fi
		;;
	esac
done
echo "TIMERSCOUNT $pass $fail $known"
