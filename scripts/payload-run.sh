#!/bin/sh
# Guest side of "make check", run by the guest's /init as run.sh in the
# payload dir: ntpdisc.ko here, the installed selftests in tests/.
#
# The selftests' own runner knows best how to run them; without it, load
# the module in shadow mode and run every test binary in the layout of
# the kselftest runner (nested TAP, "# " prefixed, one result per binary).
set -eu

export NTPDISC_KO="$PWD/ntpdisc.ko"
if [ -f tests/run_guest.sh ]; then
	cd tests
	exec sh ./run_guest.sh
fi

insmod ./ntpdisc.ko steer=none
[ -c /dev/ntpdisc ] || { echo "/dev/ntpdisc missing after insmod"; exit 1; }

tests=
for t in tests/*; do
	case $t in *.sh) continue ;; esac
	[ -f "$t" ] && [ -x "$t" ] && tests="$tests ${t#tests/}"
done

echo "TAP version 13"
echo "1..$(echo $tests | wc -w)"
n=0 rc=0
cd tests
for t in $tests; do
	n=$((n + 1))
	echo "# selftests: ntpdisc: $t"
	trc=0
	# No pipefail in busybox sh: keep the test's status in a file.
	{ KSFT_TAP_LEVEL=1 ./"$t" 2>&1 || echo $? >/tmp/rc.$t; } | sed 's/^/# /'
	[ ! -f /tmp/rc.$t ] || trc=$(cat /tmp/rc.$t)
	case $trc in
	0) echo "ok $n selftests: ntpdisc: $t" ;;
	4) echo "ok $n selftests: ntpdisc: $t # SKIP" ;;
	*) echo "not ok $n selftests: ntpdisc: $t # exit=$trc"; rc=1 ;;
	esac
done
cd ..
rmmod ntpdisc || rc=1
exit $rc
