#!/bin/sh
# "make check": the whole test suite, ending in exactly one
# "N passed, N failed" line.
#
# Order: test bed setup, lint, host unit tests, module, selftests, one
# guest run of all selftests.  Every test result counts; lint counts as one
# test; a failed build, a crashed or hung guest, a kernel splat or a test
# binary that never ran each count as one failure.  Logs go to output/.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
MAKE=${MAKE:-make}
out=output
mkdir -p "$out"
pass=0 fail=0 skip=0

# Run a step with live output into output/NAME.log; status in $step_rc.
step() {
	name=$1
	shift
	echo "check: === $name: $*"
	{
		rc=0
		"$@" 2>&1 || rc=$?
		echo "$rc" >"$out/$name.rc"
	} | tee "$out/$name.log"
	step_rc=$(cat "$out/$name.rc")
}

failed() {
	echo "check: FAIL: $*"
	fail=$((fail + 1))
}

# Add the TAP results found in a log to the totals.
count() {
	awk -f scripts/tap-count.awk "$1" >"$1.tap"
	grep '^tap: ' "$1.tap" | sed 's/^/check: /' || true
	set -- $(sed -n 's/^TAPCOUNT //p' "$1.tap")
	pass=$((pass + $1)) fail=$((fail + $2)) skip=$((skip + $3))
	tap_fail=$2 tap_total=$(($1 + $2 + $3)) tap_missing=$4
}

finish() {
	[ "$skip" -eq 0 ] || echo "check: $skip skipped"
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ] && exit 0
	exit 1
}

step setup scripts/testbed-setup.sh
[ "$step_rc" -eq 0 ] || { failed "test bed setup"; finish; }

step lint "$MAKE" --no-print-directory -k lint
if [ "$step_rc" -eq 0 ]; then pass=$((pass + 1)); else failed "lint"; fi

step unit "$MAKE" --no-print-directory unit
count "$out/unit.log"
if [ "$step_rc" -ne 0 ] && [ "$tap_fail" -eq 0 ]; then
	failed "unit tests exited $step_rc"
elif [ "$tap_total" -eq 0 ]; then
	failed "unit tests printed no results"
fi

step build "$MAKE" --no-print-directory payload
[ "$step_rc" -eq 0 ] || { failed "module/selftests build"; finish; }

step guest scripts/guest-run.sh --timeout "${GUEST_TIMEOUT:-900}" \
	--log "$out/guest-console.log" "$out/payload"
# Results only from the payload's part of the console, not the dmesg dump.
sed -n '/^GUEST-UPTIME: .* payload start$/,/GUEST-EXIT: [0-9]*$/p' \
	"$out/guest.log" >"$out/guest-tap.log"
count "$out/guest-tap.log"
grep -q '^guest-run: FAIL: kernel reported' "$out/guest.log" &&
	failed "guest kernel log has warnings (see above)"
grep -q '^guest-run: FAIL: \(timed out\|no GUEST-EXIT\)' "$out/guest.log" &&
	failed "guest crashed or hung"
if grep -q '^guest-run: FAIL: run.sh exited' "$out/guest.log" && [ "$tap_fail" -eq 0 ]; then
	failed "guest runner failed without a failing test"
fi

# Every test binary must have reported, whatever the runner did.  Those
# already counted as missing from the runner's plan count only once.
progs=$(printf 'print-progs:\n\t@echo $(TEST_GEN_PROGS)\n' |
	"$MAKE" --no-print-directory -s -C selftests/ntpdisc -f Makefile -f - print-progs)
[ -n "$progs" ] || failed "no selftest programs listed in selftests/ntpdisc/Makefile"
absent=0
for t in $progs; do
	grep -Eq "^(# )*(not )?ok [0-9]+ .*\b$t( |\$)" "$out/guest-tap.log" || {
		echo "check: selftest $t did not report a result"
		absent=$((absent + 1))
	}
done
[ "$absent" -le "$tap_missing" ] || fail=$((fail + absent - tap_missing))

finish
