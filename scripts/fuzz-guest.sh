#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of "make fuzz" (scripts/fuzz.sh): ntpdisc in shadow mode
# against the guest kernel, on random call sequences, one ntpdisc_random
# run per sequence with seeds SEED, SEED+1, ... until MINUTES are over or
# SEQUENCES have run. Prints one TAP line per sequence; a failing one's
# whole log follows it, with the minimal reproducer the test printed.
#
#   fuzz-guest.sh SEED MINUTES SEQUENCES CALLS MINIMIZE_SECONDS
set -u
seed=$1 minutes=$2 seqs=$3 calls=$4 minimize=$5

uptime_s() { cut -d. -f1 /proc/uptime; }

insmod ./ntpdisc.ko steer=none || { echo "Bail out! insmod ntpdisc.ko failed"; exit 1; }
echo "TAP version 13"
echo "# fuzz: seed $seed, $calls calls per sequence and variant," \
	"up to $minutes min / $seqs sequences"
end=$(($(uptime_s) + minutes * 60))
i=0 failed=0
while [ "$i" -lt "$seqs" ] && [ "$(uptime_s)" -lt "$end" ]; do
	s=$((seed + i))
	i=$((i + 1))
	./ntpdisc_random -s "$s" -n "$calls" -m "$minimize" >seq.log 2>&1
	rc=$?
	# "compared N calls (E errors), K skipped, O once, M mismatches, T s"
	sum=$(sed -n 's/.*random:\(compared .*\)$/\1/p' seq.log | tr '\n' ';')
	if [ "$rc" -eq 0 ]; then
		echo "ok $i - seed $s: $sum"
	else
		failed=$((failed + 1))
		echo "not ok $i - seed $s: $sum"
		sed 's/^/# /' seq.log
	fi
done
echo "1..$i"
echo "# fuzz: $i sequences, $failed failed"
rmmod ntpdisc
[ "$failed" -eq 0 ]
