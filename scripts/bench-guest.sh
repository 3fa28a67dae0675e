#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest half of "make bench" (scripts/bench.sh), run by the test guest's
# /init as run.sh in the payload: ntpdisc.ko, the CLI (ntpdisc), the
# benchmark (ntpdisc-bench) and the steering selftests ntpdisc_leapclock
# and ntpdisc_step are here; bench.conf sets BENCH_QUICK.
#
# One run, in phases, each loading and releasing ntpdisc with the CLI as
# a user does:
#   k0           the kernel alone: clock reads; a leap and steps
#   none         steer=none: the control path against the kernel's own
#                clock_adjtime(CLOCK_REALTIME); the in-kernel costs; the
#                kernel's second_overflow under the function_graph tracer
#   livepatch    clock reads; the control path with the system call
#                reaching ntpdisc; the in-kernel costs; lp_second_overflow
#                under the same tracer; a leap and steps
#   clocksource  clock reads; the clocksource read; a leap and steps
# with the kernel alone's clock reads (ka, kb, kc) right before and after
# each backend's, so that a drift of the emulated guest's speed shows.
# Results are "BENCH key value" lines; the host makes the table, JSON and
# checks. Only the guest's clock is changed: never run this elsewhere.

cd "$(dirname "$0")" || exit 1
PATH=$PWD:$PATH
BENCH_QUICK=0
[ -f bench.conf ] && . ./bench.conf

if [ "$BENCH_QUICK" = 1 ]; then
	ROUNDS=300 CTL_BATCH=50 READ_BATCH=300 DBG_N=500000 TRACE_S=10 STEPS=0
else
	ROUNDS=1000 CTL_BATCH=100 READ_BATCH=500 DBG_N=2000000 TRACE_S=40 STEPS=1
fi
KO=$PWD/ntpdisc.ko
TR=/sys/kernel/tracing
[ -d $TR/events ] || mount -t tracefs nodev $TR 2>/dev/null
[ -d $TR/events ] || TR=/sys/kernel/debug/tracing

bench() {
	echo "BENCH-STEP $* at $(cut -d' ' -f1 /proc/uptime) s"
}

# meminfo fields in kB after dropping the page cache, as BENCH lines.
mem() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	sleep 1
	awk -v p="$1" '/^(MemFree|Slab|SUnreclaim|KReclaimable|KernelStack|Percpu|VmallocUsed):/ {
		sub(":", "", $1); printf "BENCH %s.mem.%s_kb %d\n", p, $1, $2 }' /proc/meminfo
}

load() {
	# $1 phase, then the CLI's load arguments.
	p=$1
	shift
	mem "$p.before"
	if ! ntpdisc load "$KO" "$@" >/tmp/load.log 2>&1; then
		cat /tmp/load.log
		echo "BENCH $p.load_failed 1"
		return 1
	fi
	mem "$p.after"
	echo "BENCH $p.module.coresize $(cat /sys/module/ntpdisc/coresize)"
	echo "BENCH $p.module.initsize $(cat /sys/module/ntpdisc/initsize 2>/dev/null || echo 0)"
	return 0
}

release() {
	ntpdisc release >/tmp/release.log 2>&1 || {
		cat /tmp/release.log
		echo "BENCH $1.release_failed 1"
	}
	mem "$1.released"
	# What the release set off (RCU, workqueues) is not the next phase's.
	sleep 2
}

# function_graph durations of $2.. for TRACE_S seconds, as FTRACE lines.
trace() {
	p=$1
	shift
	[ -w $TR/current_tracer ] || { echo "BENCH $p.ftrace_missing 1"; return; }
	echo 0 >$TR/tracing_on
	echo nop >$TR/current_tracer
	: >$TR/trace
	: >$TR/set_ftrace_filter
	for f in "$@"; do
		echo "$f" >>$TR/set_ftrace_filter 2>/dev/null ||
			echo "BENCH $p.ftrace_nofunc_$f 1"
	done
	echo "FTRACE-DEBUG $p filter: $(tr '\n' ' ' <$TR/set_ftrace_filter)"
	echo function_graph >$TR/current_tracer
	echo 1 >$TR/tracing_on
	sleep "$TRACE_S"
	echo 0 >$TR/tracing_on
	echo "FTRACE-DEBUG $p lines: $(grep -vc '^#' $TR/trace)"
	grep -v '^#' $TR/trace | head -n 8 | sed "s/^/FTRACE-DEBUG $p: /"
	# " 1) + 10.099 us   |  discipline_second_overflow [ntpdisc]();"
	# ('+', '!', ... mark long ones; a module's functions carry its name)
	sed -En 's/.*[ +!#*@$]([0-9][0-9.]*) us *\| *([a-z_0-9]+)( \[[a-z_0-9]+\])?\(\);.*/\2 \1/p' \
		$TR/trace | while read -r f d; do
		echo "FTRACE $p $f $d"
	done
	echo nop >$TR/current_tracer
	: >$TR/set_ftrace_filter
}

# Clock reads of phase $1, with how busy each vCPU was meanwhile (the
# benchmark keeps one busy; work on the other slows the emulator down).
reads() {
	grep '^cpu[0-9]' /proc/stat >/tmp/stat0
	ntpdisc-bench -p "$1" read $ROUNDS $READ_BATCH
	grep '^cpu[0-9]' /proc/stat >/tmp/stat1
	paste -d' ' /tmp/stat0 /tmp/stat1 | awk -v p="$1" '{
		n = (NF - 2) / 2; busy = tot = 0
		for (i = 2; i <= n + 1; i++) {
			d = $(i + n + 1) - $i; tot += d
			if (i != 5 && i != 6) busy += d
		}
		printf "BENCH %s.read.busy_%s_pct %d\n", p, $1, tot ? 100 * busy / tot : 0 }'
}

# The steering selftests' own measurements: leap landing, step error.
steps() {
	p=$1
	[ "$STEPS" = 1 ] || return 0
	case $p in
	k0) unset NTPDISC_STEER ;;
	*) export NTPDISC_STEER=$p ;;
	esac
	./ntpdisc_leapclock >/tmp/leap.log 2>&1
	echo "BENCH $p.leapclock_exit $?"
	awk -v p="$p" '/RUN +leap\.insert/ { t = "insert" }
		/RUN +leap\.delete/ { t = "delete" }
		/far side of the leap showed for/ { v[t] = $(NF - 1) }
		END { for (t in v) printf "BENCH %s.leap.%s_late_ms %s\n", p, t, v[t] }' \
		/tmp/leap.log
	./ntpdisc_step >/tmp/step.log 2>&1
	echo "BENCH $p.step_exit $?"
	# "ADJ_SETOFFSET +1.000000 s: REALTIME  moved ... (+96 ns off)"
	awk -v p="$p" '/ADJ_SETOFFSET .*: REALTIME +moved/ {
			v = $0; sub(/.*\(/, "", v); sub(/ ns off.*/, "", v)
			printf "BENCH %s.setoffset.err%d_ns %d\n", p, n++, v }' \
		/tmp/step.log
	grep -h -e FAIL -e 'not ok' /tmp/leap.log /tmp/step.log | head -n 12 |
		sed "s/^/BENCH-FAIL $p: /"
	unset NTPDISC_STEER
}

echo "BENCH meta.quick $BENCH_QUICK"
echo "BENCH-META kernel $(uname -r)"
echo "BENCH-META cpus $(grep -c ^processor /proc/cpuinfo)"
echo "BENCH-META cpu $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
echo "BENCH-META clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"

# The emulator translates code on first use: a first pass is discarded.
bench warmup
ntpdisc-bench -p warmup read $ROUNDS $READ_BATCH >/dev/null

bench k0
reads k0
steps k0

bench none
if load none steer=none; then
	ntpdisc-bench -p none ctl $ROUNDS $CTL_BATCH
	ntpdisc-bench -p none dbg "update 10000" >/dev/null
	ntpdisc-bench -p none dbg "update $DBG_N"
	ntpdisc-bench -p none dbg "tscread $DBG_N"
	ntpdisc-bench -p none dbgerr
	trace none second_overflow discipline_second_overflow
	release none
fi
# The kernel alone right before and after each backend's reads.
reads ka

bench livepatch
if load livepatch steer=livepatch; then
	reads livepatch
	ntpdisc-bench -p livepatch ctl $ROUNDS $CTL_BATCH
	ntpdisc-bench -p livepatch dbg "update $DBG_N"
	trace livepatch lp_second_overflow
	steps livepatch
	release livepatch
fi
reads kb

bench clocksource
if load clocksource steer=clocksource testonly_ignore_tsc_invariance=1; then
	echo "BENCH-META clocksource_cs $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
	reads clocksource
	ntpdisc-bench -p clocksource dbg "csread $DBG_N"
	ntpdisc-bench -p clocksource dbg "tscread $DBG_N"
	ntpdisc-bench -p clocksource dbg "update $DBG_N"
	ntpdisc-bench -p clocksource dbgerr cs
	steps clocksource
	release clocksource
fi

bench kc
reads kc
bench end
exit 0
