#!/bin/sh
# "make check": the whole test suite, ending in exactly one
# "N passed, N failed" line.
#
# Order, and what runs alone (the steering selftests measure rates, so
# their guests never share the host's two cores with another guest):
#
#  1. test bed setup, lint, host unit tests, module and selftests build,
#     the build matrix (every amd64 kernel Debian ships), the module for
#     each guest series (CHECK_KSERIES, default 6.1 6.12 7.3);
#  2. the differential selftests (ntpdisc against the guest kernel's own
#     adjtimex: NTPDISC_TESTS=differential in run_guest.sh) of the 6.x
#     series at once, a guest each (output/shadow*.log), with the short
#     differential fuzzing run (CHECK_FUZZ=0 leaves it out) beside them:
#     they compare two answers given within one second, retry a pair a
#     stall cut, and mostly sleep; with CHECK_TICK_DIFFERENTIAL=1 (make
#     check-all) then those of each 7.x series alone (a stalled guest
#     there parts the shadow's tick count from the kernel's, and even
#     alone a read-back now and then: Documentation/ntpdisc.rst);
#  3. the steering selftests, with the livepatch and with the clocksource
#     backend, and the load and release tests after them, a guest per
#     series one after the other (output/guest.log for 6.1,
#     output/guest-6.12.log, output/guest-7.3.log);
#  4. the kernel's own timers selftests (tools/testing/selftests/timers,
#     unmodified; scripts/timers-guest.sh), plain, under ntpdisc
#     (steer=livepatch) and through libntpdisc-preload.so (steer=
#     clocksource), in six 6.1 guests that run at the same time: each
#     mode split in two, change_skew (1190 s alone) in
#     one guest, the others in the other (skew_consistency 600 s,
#     freq-step 181, adjtick 128, raw_skew 120, leapcrash 80, leap-a-day
#     26, valid-adjtimex and set-tai under 1).  Those tests time fixed
#     wall-clock intervals and check orderings and rates that do not
#     depend on how fast the emulated CPU runs: run four at once, each
#     took the same time as alone (within 4 s), with the same results
#     (see scripts/timers-judge.sh for how freq-step, which fails under
#     TCG anyway, is judged).  The phase takes 20 minutes; one guest
#     after the other it would take 78.
#
# Between phases 3 and 4: the short benchmark, the preload library's
# test, the PREEMPT_RT guests (CHECK_RT_KSERIES, make check-all's: the
# stress and life-cycle tests with the livepatch on 6.12-rt and 7.3-rt),
# the host fuzzer (CHECK_FUZZ=0 leaves it out), ntpdisc's own
# Debian packages installed in a guest (CHECK_PACKAGES=0) and the client
# runs (CHECK_CLIENTS=0), see below.
#
# Each step is announced as "[k/N] step", with the time so far and what
# the remaining steps took in the last run (output/check/durations); the
# parallel phases print a line a minute. output/check/summary.txt lists
# every failure with its log, and is printed again before the totals.
#
# What each step took in the last run is in output/check/durations; the
# README's "Testing" has a dated total.
#
# Every test result counts; lint counts as one test; a failed build, a
# crashed or hung guest, a kernel splat or a test binary that never ran
# each count as one failure.  The timers tests count once each, by the
# ntpdisc run, judged against the plain run as scripts/timers-judge.sh
# describes: a test that the plain kernel fails identically, for a
# reason written down there, is a "known emulation failure", listed and
# counted apart, neither passed nor failed.  Logs go to output/.
#
# Phase 4 runs only with CHECK_TIMERS=1 ("make check-all"): it does not
# fit into CI's 90 minutes. CHECK_KSERIES="6.1" leaves out the other
# series; CHECK_TIMERS_TESTS="..." runs only those timers tests, and
# CHECK_TIMERS_KSERIES="6.1 6.12" runs phase 4 on each series in turn (20
# more minutes; they pass on 6.12 as on 6.1, freq-step known).  "make check
# KVER=<release>" runs phases 1 to 4 on that guest kernel instead of
# 6.1 (say, a 6.12 release), and no other series.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
MAKE=${MAKE:-make}
out=output
mkdir -p "$out"
pass=0 fail=0 skip=0 known=0
kseries=${CHECK_KSERIES:-6.1 6.12 7.3}
timers_tests=${CHECK_TIMERS_TESTS:-valid-adjtimex set-tai adjtick freq-step
raw_skew leap-a-day leapcrash change_skew skew_consistency}

# Progress: "[k/N] step", the time since the start, and what the same
# steps took in the last run (output/check/durations), for an estimate.
mkdir -p "$out/check"
t0=$(date +%s)
stepno=0
nsteps=0
heartbeat=
durations=$out/check/durations
: >"$durations.new"
elapsed() {
	e=$(($(date +%s) - t0))
	printf '%d:%02d' $((e / 60)) $((e % 60))
}
# Seconds the steps not yet run took last time.
left_estimate() {
	[ -s "$durations" ] || return 0
	awk -v done_file="$durations.new" '
		BEGIN { while ((getline l < done_file) > 0) { split(l, a, " "); done[a[1]] = 1 } }
		!($1 in done) { s += $2 }
		END { if (s) printf ", about %d min left by the last run", (s + 59) / 60 }' "$durations"
}
# A line a minute while a parallel phase runs: heartbeat_start WHAT.
heartbeat_start() {
	(while sleep 60; do echo "check: ... $1 still running ($(elapsed) in)"; done) &
	heartbeat=$!
}
heartbeat_stop() {
	kill "$heartbeat" 2>/dev/null || true
	wait "$heartbeat" 2>/dev/null || true
}

# "check: === [k/N] NAME (...): WHAT"; done() records how long it took.
announce() {
	stepno=$((stepno + 1))
	ts=$(date +%s)
	echo "check: === [$stepno/$nsteps] $1 ($(elapsed) in$(left_estimate)): $2"
}
announced_done() {
	echo "$1 $(($(date +%s) - ts))" >>"$durations.new"
}

# Run a step with live output into output/NAME.log; status in $step_rc.
step() {
	name=$1
	shift
	announce "$name" "$*"
	{
		rc=0
		"$@" 2>&1 || rc=$?
		echo "$rc" >"$out/$name.rc"
	} | tee "$out/$name.log"
	step_rc=$(cat "$out/$name.rc")
	announced_done "$name"
}

# Every failure is also kept, with its log, in output/check/summary.txt,
# which finish() prints again just before the totals: CI shows only the
# end of a run.
failures=$out/check/summary.txt
mkdir -p "$out/check"
: >"$failures"

failed() {
	echo "check: FAIL: $*"
	echo "$*" >>"$failures"
	fail=$((fail + 1))
}

# Add the TAP results found in a log to the totals.
count() {
	awk -f scripts/tap-count.awk "$1" >"$1.tap"
	grep '^tap: ' "$1.tap" | sed 's/^/check: /' || true
	grep '^tap: ' "$1.tap" | sed "s|^tap: \(.*\)|\1 (log: $1)|" >>"$failures" || true
	set -- $(sed -n 's/^TAPCOUNT //p' "$1.tap")
	pass=$((pass + $1)) fail=$((fail + $2)) skip=$((skip + $3))
	tap_fail=$2 tap_total=$(($1 + $2 + $3)) tap_missing=$4
}

finish() {
	heartbeat_stop 2>/dev/null || true
	mv "$durations.new" "$durations"
	echo "check: took $(elapsed)"
	if [ -s "$failures" ]; then
		echo "check: what failed (output/check/summary.txt):"
		sed 's/^/check:   /' "$failures"
	fi
	[ "$skip" -eq 0 ] || echo "check: $skip skipped"
	[ "$known" -eq 0 ] ||
		echo "check: $known known emulation failures (fail plain as well, see above)"
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ] && exit 0
	exit 1
}

# What guest-run.sh found wrong with a guest, whatever the tests said.
guest_problems() {
	! grep -q '^guest-run: FAIL: kernel reported' "$2" ||
		failed "$1: guest kernel log has warnings (see $2)"
	! grep -q '^guest-run: FAIL: \(timed out\|no GUEST-EXIT\)' "$2" ||
		failed "$1: guest crashed or hung (see $2)"
}

# The ntpdisc selftests in a guest: selftest_guest NAME KVER PAYLOAD.
# Console in output/NAME.log, the payload's TAP in output/NAME-tap.log.
selftest_guest() {
	g=$1
	step "$g" env KVER="$2" scripts/guest-run.sh --timeout "${GUEST_TIMEOUT:-1500}" \
		--log "$out/$g-console.log" "$3"
	guest_results "$g" "${4:-}"
}

# Count a guest's selftest results: guest_results NAME [BINARIES].
guest_results() {
	g=$1
	# Results only from the payload's part of the console, not the dmesg dump.
	sed -n '/^GUEST-UPTIME: .* payload start$/,/GUEST-EXIT: [0-9]*$/p' \
		"$out/$g.log" >"$out/$g-tap.log"
	count "$out/$g-tap.log"
	guest_problems "$g" "$out/$g.log"
	if grep -q '^guest-run: FAIL: run.sh exited' "$out/$g.log" && [ "$tap_fail" -eq 0 ]; then
		failed "$g: guest runner failed without a failing test"
	fi
	# Every test binary must have reported (or those given), whatever
	# the runner did. Those already counted as
	# missing from the runner's plan count only once.
	absent=0
	for t in ${2:-$progs}; do
		grep -Eq "^(# )*(not )?ok [0-9]+ .*\b$t( |\$)" "$out/$g-tap.log" || {
			echo "check: $g: selftest $t did not report a result"
			absent=$((absent + 1))
		}
	done
	[ "$absent" -le "$tap_missing" ] || fail=$((fail + absent - tap_missing))
}

# Run a command in the background: background NAME CMD...; its output
# goes to $out/NAME.log, its exit status to $out/NAME.rc, its pid to
# $bg_pid.
background() {
	bg_name=$1
	shift
	{
		rc=0
		"$@" >"$out/$bg_name.log" 2>&1 || rc=$?
		echo "$rc" >"$out/$bg_name.rc"
	} &
	bg_pid=$!
}

# The differential selftests of several series at once, one guest each:
# differential_guests STEP NAME:KVER:PAYLOAD... Those tests compare two
# answers given within one second and mostly sleep (a guest takes 2% of a
# core), so their guests can share the host; the steering ones never do.
# 7.x's are the exception: there the shadow counts the timekeeper's ticks
# from the coarse clock, which a stalled guest leaves behind, so each of
# those runs alone. Logs in output/shadow-SERIES*.
differential_guests() {
	dstep=$1
	shift
	announce "$dstep" "$(echo "$@" | sed "s/:[^ ]*//g") (about 7 minutes)"
	heartbeat_start "differential selftests"
	pids=''
	for a in "$@"; do
		g=${a%%:*}
		background "$g" env KVER="$(echo "$a" | cut -d: -f2)" \
			scripts/guest-run.sh --timeout "${GUEST_TIMEOUT:-1500}" \
			--log "$out/$g-console.log" "${a##*:}"
		pids="$pids $bg_pid"
	done
	for p in $pids; do
		wait "$p" || true
	done
	heartbeat_stop
	announced_done "$dstep"
	for a in "$@"; do
		g=${a%%:*}
		echo "check: $g: $(grep -c '^ok ' "$out/$g.log") ok, $(grep -c '^not ok ' "$out/$g.log") not ok (log: $out/$g.log)"
		guest_results "$g" "$(NTPDISC_TESTS=differential sh selftests/ntpdisc/run_guest.sh --list)"
	done
}

# The steps below, for "[k/N]".
nsteps=9
for s in $kseries; do
	[ "$s" = 6.1 ] || nsteps=$((nsteps + 2))
	case $s in [7-9].*) [ "${CHECK_TICK_DIFFERENTIAL:-0}" = 0 ] ||
		nsteps=$((nsteps + 1)) ;; esac
done
rt_kseries=${CHECK_RT_KSERIES:-}
for s in $rt_kseries; do
	nsteps=$((nsteps + 2))
done
[ "${CHECK_MATRIX:-1}" = 0 ] || nsteps=$((nsteps + 1))
[ "${CHECK_FUZZ:-1}" = 0 ] || nsteps=$((nsteps + 2))
[ "${CHECK_PACKAGES:-1}" = 0 ] || nsteps=$((nsteps + 2))
[ "${CHECK_CLIENTS:-1}" = 0 ] || nsteps=$((nsteps + 2))
[ "${CHECK_TIMERS:-0}" = 0 ] ||
	nsteps=$((nsteps + $(echo ${CHECK_TIMERS_KSERIES:-6.1} | wc -w)))

# shellcheck disable=SC2086
# shellcheck disable=SC2046,SC2086
step setup scripts/testbed-setup.sh $kseries $(for s in $rt_kseries; do echo "$s-rt"; done)
[ "$step_rc" -eq 0 ] || { failed "test bed setup"; finish; }
# The main guest kernel: 6.1, or KVER.
kver=$(scripts/guest-kver.sh 6.1)
[ -z "${KVER:-}" ] || kseries=

step lint "$MAKE" --no-print-directory -k lint
if [ "$step_rc" -eq 0 ]; then pass=$((pass + 1)); else failed "lint"; fi

step unit "$MAKE" --no-print-directory unit
count "$out/unit.log"
if [ "$step_rc" -ne 0 ] && [ "$tap_fail" -eq 0 ]; then
	failed "unit tests exited $step_rc"
elif [ "$tap_total" -eq 0 ]; then
	failed "unit tests printed no results"
fi

step build "$MAKE" --no-print-directory KVER="$kver" payload timers-selftests \
	timers-selftests-dyn
[ "$step_rc" -eq 0 ] || { failed "module/selftests build"; finish; }

# The module built for every amd64 kernel Debian ships, each flavour,
# W=1 and sparse, each with its kernel's compiler (scripts/build-matrix.sh):
# one TAP line a kernel. CHECK_MATRIX=0 leaves it out.
if [ "${CHECK_MATRIX:-1}" != 0 ]; then
	step build-matrix scripts/build-matrix.sh
	count "$out/build-matrix.log"
	if [ "$tap_total" -eq 0 ]; then
		failed "build matrix: no results (exit $step_rc)"
	fi
fi

progs=$(printf 'print-progs:\n\t@echo $(TEST_GEN_PROGS)\n' |
	"$MAKE" --no-print-directory -s -C selftests/ntpdisc -f Makefile -f - print-progs)
[ -n "$progs" ] || failed "no selftest programs listed in selftests/ntpdisc/Makefile"

# The module and payload of each other kernel series, in a scratch copy.
guests="guest:$kver:$out/payload"
for s in $kseries; do
	[ "$s" != 6.1 ] || continue
	k=$(scripts/guest-kver.sh "$s")
	step "build-$s" "$MAKE" --no-print-directory KVER="$k" module-kver \
		test-module-kver
	if [ "$step_rc" -ne 0 ]; then
		failed "module build for $k"
		continue
	fi
	rm -rf "$out/payload-$s"
	cp -r "$out/payload" "$out/payload-$s"
	cp "build/$k/ntpdisc.ko" "$out/payload-$s/ntpdisc.ko"
	cp "build/$k-test_replace/ntpdisc_test_replace.ko" "$out/payload-$s/tests/"
	guests="$guests guest-$s:$k:$out/payload-$s"
done

# The differential selftests of the 6.x series side by side (and the
# guest fuzzer beside them), then each 7.x series' alone, then the
# steering ones (and the load and release tests after them) one guest at
# a time, in payloads that differ only in NTPDISC_TESTS.
shadows= alone=
for a in $guests; do
	g=${a%%:*} p=${a##*:}
	d="shadow${g#guest}:${a#*:}-differential"
	case $(echo "$a" | cut -d: -f2) in
	[7-9].*)
		[ "${CHECK_TICK_DIFFERENTIAL:-0}" != 0 ] || d=
		alone="$alone $d" ;;
	*) shadows="$shadows $d" ;;
	esac
	if [ -n "$d" ]; then
		rm -rf "$p-differential"
		cp -r "$p" "$p-differential"
		echo "NTPDISC_TESTS=differential" >>"$p-differential/env"
	fi
	echo "NTPDISC_TESTS=steering" >>"$p/env"
done
# The differential fuzzer in a 6.1 guest (CHECK_FUZZ_MINUTES, default 2;
# a fresh seed each run, printed, with any mismatch shrunk to a minimal
# reproducer), counted as one test; CHECK_FUZZ=0 leaves it out.
fuzz_pid=
if [ "${CHECK_FUZZ:-1}" != 0 ]; then
	announce fuzz "in a 6.1 guest, beside the differential guests"
	fuzz_t0=$(date +%s)
	background fuzz env KVER="$kver" FUZZ_MINUTES="${CHECK_FUZZ_MINUTES:-2}" \
		FUZZ_MINIMIZE=120 scripts/fuzz.sh
	fuzz_pid=$bg_pid
fi
# shellcheck disable=SC2086
differential_guests differential $shadows
if [ -n "$fuzz_pid" ]; then
	wait "$fuzz_pid" || true
	echo "fuzz $(($(date +%s) - fuzz_t0))" >>"$durations.new"
	sed 's/^/check: /' "$out/fuzz.log" | tail -n 5
	if [ "$(cat "$out/fuzz.rc")" -eq 0 ]; then pass=$((pass + 1)); else failed "make fuzz (see $out/fuzz.log)"; fi
fi
# 7.x's differential suite is make check-all's (CHECK_TICK_DIFFERENTIAL=1):
# its shadow's per-tick read-backs still part from the kernel's now and
# then (Documentation/ntpdisc.rst, "Kernel series").
for a in $alone; do
	differential_guests "differential-${a%%:*}" "$a"
done
steering=$(NTPDISC_TESTS=steering sh selftests/ntpdisc/run_guest.sh --list)
for a in $guests; do
	selftest_guest "${a%%:*}" "$(echo "$a" | cut -d: -f2)" "${a##*:}" "$steering"
	echo "check: the steering measurements of each backend (${a%%:*}):"
	awk -f scripts/steer-compare.awk "$out/${a%%:*}-tap.log" | sed 's/^/check:   /'
done

# The short benchmark (scripts/bench.sh): its TAP checks count, e.g. the
# ioctl at most 1.10 times the system call, the livepatch's clock reads
# as fast as the kernel's alone.
step bench env KVER="$kver" BENCH_QUICK=1 MAKE="$MAKE" scripts/bench.sh
count "$out/bench.log"
if [ "$step_rc" -ge 2 ] || [ "$tap_total" -eq 0 ]; then
	failed "bench: no results (exit $step_rc)"
fi

# The preload library in a guest (tools/preload/test.sh): every entry
# point reaches /dev/ntpdisc, nothing else is caught, ENODEV without it.
step preload-payload tools/preload/test.sh --payload-only
if [ "$step_rc" -ne 0 ]; then
	failed "preload library payload"
else
	step preload env KVER="$kver" scripts/guest-run.sh --timeout 600 \
		--log "$out/preload-console.log" "$out/preload"
	sed -n '/^GUEST-UPTIME: .* payload start$/,/GUEST-EXIT: [0-9]*$/p' \
		"$out/preload.log" >"$out/preload-tap.log"
	count "$out/preload-tap.log"
	guest_problems preload "$out/preload.log"
	if [ "$tap_total" -eq 0 ] ||
		{ [ "$step_rc" -ne 0 ] && [ "$tap_fail" -eq 0 ]; }; then
		failed "preload: guest failed without a failing test (see $out/preload.log)"
	fi
fi

# PREEMPT_RT: the stress and life-cycle tests with the livepatch in a
# guest of each CHECK_RT_KSERIES series' -rt kernel, the module built
# against its headers (make check-all: 6.12 and 7.3).
rt_tests="ntpdisc_stress ntpdisc_lifecycle"
for s in $rt_kseries; do
	k=$(scripts/guest-kver.sh "$s-rt")
	step "build-$s-rt" "$MAKE" --no-print-directory KVER="$k" module-kver \
		test-module-kver
	if [ "$step_rc" -ne 0 ]; then
		failed "module build for $k"
		continue
	fi
	p=$out/payload-$s-rt
	rm -rf "$p"
	cp -r "$out/payload" "$p"
	cp "build/$k/ntpdisc.ko" "$p/ntpdisc.ko"
	cp "build/$k-test_replace/ntpdisc_test_replace.ko" "$p/tests/"
	{
		echo "NTPDISC_STEER=livepatch"
		echo "NTPDISC_TESTS=\"$rt_tests\""
	} >>"$p/env"
	selftest_guest "guest-$s-rt" "$k" "$p" "$rt_tests"
done

# The host fuzzer on the discipline unit (CHECK_FUZZ_HOST_SECONDS,
# default 30), counted as one test (the guest fuzzer ran beside the
# differential guests).
if [ "${CHECK_FUZZ:-1}" != 0 ]; then
	step fuzz-host "$MAKE" --no-print-directory fuzz-host \
		FUZZ_SECONDS="${CHECK_FUZZ_HOST_SECONDS:-30}"
	if [ "$step_rc" -eq 0 ]; then pass=$((pass + 1)); else failed "make fuzz-host (see $out/fuzz-host.log)"; fi
fi

# ntpdisc's own Debian packages installed in a guest's Debian root, DKMS
# building the module there, loaded, purged, nothing left
# (scripts/pkg-run.sh; CHECK_PACKAGES=0 leaves it out).
if [ "${CHECK_PACKAGES:-1}" != 0 ]; then
	step packages env KVER="$kver" scripts/pkg-run.sh --quiet
	mkdir -p "$out/pkg"
	[ -f "$out/pkg/pkg.tap" ] || : >"$out/pkg/pkg.tap"
	count "$out/pkg/pkg.tap"
	if [ "$tap_total" -eq 0 ] || { [ "$step_rc" -ne 0 ] && [ "$tap_fail" -eq 0 ]; }; then
		failed "packages: no results or a failed run (see $out/pkg/pkg.log)"
	fi
	guest_problems packages "$out/pkg/pkg.log"
	# Debian's checks of the packages built there: no error or warning.
	step lintian lintian --fail-on error,warning \
		"$out/deb/ntpdisc-dkms_$(cat VERSION)_all.deb" \
		"$out/deb/ntpdisc-tools_$(cat VERSION)_amd64.deb"
	if [ "$step_rc" -eq 0 ]; then pass=$((pass + 1)); else failed "lintian (see $out/lintian.log)"; fi
fi

# Debian's unmodified chronyd, ntpd, phc2sys, adjtimex and ntptime
# disciplining the clock through ntpdisc, against a reference that derives
# true time from the unsteered counter (scripts/clients-run.sh; the Debian
# root comes from scripts/rootfs-build.sh, cached), with each backend: the
# livepatch through the plain system calls, the clocksource through
# libntpdisc-preload.so. The two guests run at the same time: most of a
# run is ntpd's 300 s start-up clamp, and the checks' bounds (100 us,
# 2 ppm) hold with a second guest beside. CHECK_CLIENTS=0 leaves this
# out; CHECK_CLIENTS_LIVEPATCH / CHECK_CLIENTS_CLOCKSOURCE choose the tests.
if [ "${CHECK_CLIENTS:-1}" != 0 ]; then
	# Built once here, not by both runs at once.
	step clients-build sh -c "scripts/rootfs-build.sh >/dev/null && \
		$MAKE --no-print-directory -s tools"
	if [ "$step_rc" -ne 0 ]; then
		failed "clients: Debian root or tools build (see $out/clients-build.log)"
	else
		announce clients "both backends at once (about 12 minutes)"
		heartbeat_start clients
		pids=''
		for c in "livepatch:${CHECK_CLIENTS_LIVEPATCH:-tools chrony ntpd phc2sys}" \
			"clocksource:${CHECK_CLIENTS_CLOCKSOURCE:-tools chrony ntpd phc2sys}"; do
			st=${c%%:*}
			# shellcheck disable=SC2086
			background "clients-$st" env KVER="$kver" scripts/clients-run.sh \
				--quiet --steer "$st" ${c#*:}
			pids="$pids $bg_pid"
		done
		for p in $pids; do
			wait "$p" || true
		done
		heartbeat_stop
		announced_done clients
		for st in livepatch clocksource; do
			sed 's/^/check: /' "$out/clients-$st.log"
			[ -f "$out/clients/$st.tap" ] || : >"$out/clients/$st.tap"
			count "$out/clients/$st.tap"
			guest_problems "clients-$st" "$out/clients/$st.log"
			if [ "$tap_total" -eq 0 ] ||
				{ [ "$(cat "$out/clients-$st.rc")" -ne 0 ] && [ "$tap_fail" -eq 0 ]; }; then
				failed "clients ($st): no results or a failed run (see $out/clients/$st.log)"
			fi
		done
	fi
fi

# The timers tests on one guest kernel: timers_phase TAG KVER MODULE.
# Logs in output/timers-TAG-MODE-GROUP*.
timers_phase() {
	tag=$1 tk=$2 ko=$3
	modes="plain ntpdisc"
	# And through the preload library against the clocksource backend
	# (CHECK_TIMERS_PRELOAD=0 leaves it out). Six guests on two cores: the
	# clocksource holds the clock at a leap until its step lands, so
	# leap-a-day's timer cannot expire early however late the step.
	[ "${CHECK_TIMERS_PRELOAD:-1}" = 0 ] || modes="$modes preload"
	announce "timers-$tag" "$tk: $modes, two guests each, all at once (about 20 minutes)"
	heartbeat_start "timers ($tk)"
	# shellcheck disable=SC2034,SC2086
	a=$(printf '%s\n' $timers_tests | grep -x change_skew || true)
	# shellcheck disable=SC2034,SC2086
	b=$(printf '%s\n' $timers_tests | grep -vx change_skew || true)
	rm -rf "$out/timers-$tag"-*
	pids='' guests=''
	for m in $modes; do
		for g in a b; do
			eval "tests=\$$g"
			[ -n "$tests" ] || continue
			# shellcheck disable=SC2086
			env KVER="$tk" scripts/timers-run.sh --quiet --name "$tag-$m-$g" \
				--timeout 3600 --ko "$ko" "$m" $tests &
			pids="$pids $!" guests="$guests $tag-$m-$g"
		done
	done
	for p in $pids; do
		wait "$p" || true
	done
	heartbeat_stop
	announced_done "timers-$tag"
	for g in $guests; do
		l=$out/timers-$g.log
		# Test failures are the judge's; the guest's own problems count here.
		sed -n "s/^guest-run: boot/check: timers-$g: boot/p" "$l"
		guest_problems "timers-$g" "$l"
	done
	# shellcheck disable=SC2086
	scripts/timers-judge.sh "$(echo "$out/timers-$tag"-plain-?-tap.log | tr ' ' ,)" \
		"$(echo "$out/timers-$tag"-ntpdisc-?-tap.log | tr ' ' ,)" $timers_tests \
		>"$out/timers-$tag-judge.log"
	grep -v '^TIMERSCOUNT' "$out/timers-$tag-judge.log" | sed "s/^timers:/check: timers ($tag):/"
	grep ' FAILED ' "$out/timers-$tag-judge.log" >>"$failures" || true
	# shellcheck disable=SC2046
	set -- $(sed -n 's/^TIMERSCOUNT //p' "$out/timers-$tag-judge.log")
	pass=$((pass + $1)) fail=$((fail + $2)) known=$((known + $3))
	[ "${CHECK_TIMERS_PRELOAD:-1}" != 0 ] || return 0
	# The same tests through libntpdisc-preload.so against the clocksource
	# backend, judged against the same plain run (timers-judge.sh --preload:
	# the tests of MONOTONIC against MONOTONIC_RAW fail by design there).
	# shellcheck disable=SC2086
	scripts/timers-judge.sh --preload \
		"$(echo "$out/timers-$tag"-plain-?-tap.log | tr ' ' ,)" \
		"$(echo "$out/timers-$tag"-preload-?-tap.log | tr ' ' ,)" $timers_tests \
		>"$out/timers-$tag-preload-judge.log"
	grep -v '^TIMERSCOUNT' "$out/timers-$tag-preload-judge.log" |
		sed "s/^timers:/check: timers preload ($tag):/"
	grep ' FAILED ' "$out/timers-$tag-preload-judge.log" >>"$failures" || true
	# shellcheck disable=SC2046
	set -- $(sed -n 's/^TIMERSCOUNT //p' "$out/timers-$tag-preload-judge.log")
	pass=$((pass + $1)) fail=$((fail + $2)) known=$((known + $3))
}

if [ "${CHECK_TIMERS:-0}" != 0 ]; then
	if [ -n "${KVER:-}" ]; then
		timers_phase "$kver" "$kver" ntpdisc.ko
	else
		for s in ${CHECK_TIMERS_KSERIES:-6.1}; do
			if [ "$s" = 6.1 ]; then
				timers_phase 6.1 "$kver" ntpdisc.ko
				continue
			fi
			k=$(scripts/guest-kver.sh "$s")
			if [ ! -f "build/$k/ntpdisc.ko" ]; then
				step "build-$s" "$MAKE" --no-print-directory KVER="$k" module-kver
				[ "$step_rc" -eq 0 ] || { failed "module build for $k"; continue; }
			fi
			timers_phase "$s" "$k" "build/$k/ntpdisc.ko"
		done
	fi
fi

finish
