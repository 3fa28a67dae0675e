#!/bin/sh
# Boot a test guest on the kernel's own timers selftests (host side of
# scripts/timers-guest.sh).
#
#   timers-run.sh [--name NAME] [--smp N] [--timeout SECS] [--quiet]
#                 [--ko FILE] plain|ntpdisc|preload [TEST...]
#
# Needs "make timers-selftests" (and "make module" for ntpdisc: the module
# is ./ntpdisc.ko unless --ko says otherwise).  Mode preload needs "make
# module tools" instead: it builds the same tests dynamically linked in
# build/timers-dyn/, and the preload library, and carries the host's
# glibc in the payload (tools/preload/payload.sh).  Builds
# the payload in output/timers-NAME/ (NAME defaults to the mode), boots
# it with scripts/guest-run.sh (console on stdout unless --quiet) and
# writes:
#
#   output/timers-NAME.log      the whole console and guest-run's verdict
#   output/timers-NAME-tap.log  the TAP part only (for timers-judge.sh)
#
# Exit status is guest-run's: 0 only if every test passed and the guest
# kernel log is clean.  KVER picks the guest kernel as everywhere.
set -eu

usage() {
	echo "usage: $0 [--name NAME] [--smp N] [--timeout SECS] [--quiet] [--ko FILE] plain|ntpdisc|preload [TEST...]" >&2
	exit 2
}

name='' smp=2 timeout=5400 quiet='' ko=''
while [ $# -gt 0 ]; do
	case $1 in
	--name) name=$2; shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--quiet) quiet=1; shift ;;
	--ko) ko=$2; shift 2 ;;
	-*) usage ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || usage
mode=$1
shift
case $mode in plain|ntpdisc|preload) ;; *) usage ;; esac
name=${name:-$mode}

top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/output
bins=$top/build/timers
p=$out/timers-$name

if [ "$mode" = preload ]; then
	# The same unmodified tests and flags as "make timers-selftests",
	# but dynamically linked, so that LD_PRELOAD applies.
	ksft=${KSFT_INC:-$top/.cache/linux-source-6.1/tools/testing/selftests}
	bins=$top/build/timers-dyn
	mkdir -p "$bins"
	for t in valid-adjtimex set-tai adjtick freq-step raw_skew leap-a-day \
		leapcrash change_skew skew_consistency inconsistency-check nanosleep; do
		[ "$bins/$t" -nt "$ksft/timers/$t.c" ] && continue
		${CC:-gcc} -O3 -Wl,-no-as-needed -Wall -o "$bins/$t" \
			"$ksft/timers/$t.c" -lrt -lpthread -lm || exit 2
	done
	make -s -C "$top/tools" OUT="$top/build/tools" preload || exit 2
fi

rm -rf "$p"
mkdir -p "$p/timers"
# change_skew and skew_consistency run ./raw_skew, ./inconsistency-check
# and ./nanosleep from their own directory.
for t in valid-adjtimex set-tai adjtick freq-step raw_skew leap-a-day \
	leapcrash change_skew skew_consistency inconsistency-check nanosleep; do
	[ -x "$bins/$t" ] || { echo "timers-run: no $bins/$t: run 'make timers-selftests'" >&2; exit 2; }
	cp "$bins/$t" "$p/timers/"
done
cp "$top/scripts/timers-guest.sh" "$p/"
if [ "$mode" = ntpdisc ]; then
	ko=${ko:-$top/ntpdisc.ko}
	[ -f "$ko" ] || { echo "timers-run: no $ko: run 'make module'" >&2; exit 2; }
	cp "$ko" "$p/ntpdisc.ko"
fi
if [ "$mode" = preload ]; then
	ko=${ko:-$top/ntpdisc.ko}
	for f in "$ko" "$top/build/tools/ntpdisc"; do
		[ -f "$f" ] || { echo "timers-run: no $f: run 'make module tools'" >&2; exit 2; }
	done
	cp "$ko" "$p/ntpdisc.ko"
	"$top/tools/preload/payload.sh" "$p" "$top/build/tools/ntpdisc" \
		"$top/build/tools/libntpdisc-preload.so"
fi
printf 'exec sh ./timers-guest.sh %s %s\n' "$mode" "$*" >"$p/run.sh"

log=$out/timers-$name.log
{
	rc=0
	"$top/scripts/guest-run.sh" --smp "$smp" --timeout "$timeout" "$p" 2>&1 || rc=$?
	echo $rc >"$log.rc"
} | if [ -n "$quiet" ]; then cat >"$log"; else tee "$log"; fi
rc=$(cat "$log.rc")
rm -f "$log.rc"
sed -n '/^GUEST-UPTIME: .* payload start$/,/GUEST-EXIT: [0-9]*$/p' \
	"$log" >"$out/timers-$name-tap.log"
exit "$rc"
