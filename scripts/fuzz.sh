#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# "make fuzz": long differential fuzzing in a test guest. ntpdisc (shadow
# mode) and the guest kernel's own clock_adjtime(CLOCK_REALTIME) get the
# same random call sequences (selftests/ntpdisc/ntpdisc_random.c, weighted
# modes, invalid and extreme values, waits across second boundaries) and
# must answer alike. Any mismatch is shrunk in the guest to a minimal
# reproducer and printed.
#
#   FUZZ_SEED       first sequence's seed (default: from the clock, printed)
#   FUZZ_MINUTES    how long to run (default 10)
#   FUZZ_SEQUENCES  at most this many sequences (default: no limit)
#   FUZZ_CALLS      calls per sequence and variant (default 600)
#   FUZZ_MINIMIZE   seconds to shrink a mismatch (default 300)
#   FUZZ_KO         the module (default ./ntpdisc.ko)
#
# Needs "make module selftests". Logs: output/fuzz/console.log, the
# summary in output/fuzz/summary.txt. Exit status 0 only if every
# sequence agreed and the guest kernel log is clean.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
seed=${FUZZ_SEED:-$(date +%s)}
minutes=${FUZZ_MINUTES:-10}
seqs=${FUZZ_SEQUENCES:-1000000}
calls=${FUZZ_CALLS:-600}
minimize=${FUZZ_MINIMIZE:-300}
out=$top/output/fuzz
p=$top/output/fuzz-payload

ko=${FUZZ_KO:-$top/ntpdisc.ko}
for f in "$ko" "$top/selftests/ntpdisc/ntpdisc_random"; do
	[ -f "$f" ] || { echo "fuzz: no $f: run 'make module selftests'" >&2; exit 2; }
done
rm -rf "$p" "$out"
mkdir -p "$p" "$out"
cp "$ko" "$p/ntpdisc.ko"
cp "$top/selftests/ntpdisc/ntpdisc_random" "$top/scripts/fuzz-guest.sh" "$p/"
printf 'exec sh ./fuzz-guest.sh %s %s %s %s %s\n' "$seed" "$minutes" \
	"$seqs" "$calls" "$minimize" >"$p/run.sh"

echo "fuzz: seed $seed, $minutes min, $calls calls per sequence and variant"
echo "fuzz: replay one sequence with: ./ntpdisc_random -s SEED -n $calls (in a guest, ntpdisc loaded steer=none)"
rc=0
"$top/scripts/guest-run.sh" --timeout $((minutes * 60 + minimize + 600)) \
	--log "$out/console.log" "$p" >"$out/run.log" 2>&1 || rc=$?
grep -E '^(not )?ok [0-9]+ - seed|^# fuzz:|^guest-run:' "$out/run.log" |
	tee "$out/summary.txt"
n=$(grep -c '^ok [0-9]* - seed' "$out/run.log" || true)
bad=$(grep -c '^not ok [0-9]* - seed' "$out/run.log" || true)
compared=$(sed -n 's/^ok [0-9]* - seed [0-9]*: //p' "$out/run.log" |
	tr ';' '\n' | sed -n 's/^compared \([0-9]*\) calls.*/\1/p' |
	awk '{ s += $1 } END { print s + 0 }')
echo "fuzz: $((n + bad)) sequences from seed $seed, $compared calls compared in the passing ones, $bad with mismatches" |
	tee -a "$out/summary.txt"
if [ "$bad" -gt 0 ]; then
	echo "fuzz: reproducers:"
	grep -E -A4 'MISMATCH' "$out/run.log" | head -50
	grep -E 'minimal reproducer|random:  (call|wait):' "$out/run.log" | head -50
fi
[ $((n + bad)) -gt 0 ] || { echo "fuzz: no sequence ran"; rc=1; }
[ "$bad" -eq 0 ] || rc=1
exit "$rc"
