#!/bin/sh
# Boot a test guest on the kernel's own timers selftests (host side of
# scripts/timers-guest.sh).
#
#   timers-run.sh [--name NAME] [--smp N] [--timeout SECS] [--quiet]
#                 [--ko FILE] plain|ntpdisc [TEST...]
#
# Needs "make timers-selftests" (and "make module" for ntpdisc: the module
# is ./ntpdisc.ko unless --ko says otherwise).  Builds
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
	echo "usage: $0 [--name NAME] [--smp N] [--timeout SECS] [--quiet] [--ko FILE] plain|ntpdisc [TEST...]" >&2
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
case $mode in plain|ntpdisc) ;; *) usage ;; esac
name=${name:-$mode}

top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/output
bins=$top/build/timers
p=$out/timers-$name

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
