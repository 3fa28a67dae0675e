#!/bin/sh
# Guest side of "make check", run by the guest's /init as run.sh in the
# payload dir: ntpdisc.ko here, the installed selftests in tests/.  The
# selftests' runner loads the module and prints kselftest TAP.
set -eu
export NTPDISC_KO="$PWD/ntpdisc.ko"
# Settings of the host's make (make check-all), one VAR=value a line.
if [ -s env ]; then
	set -a
	. ./env
	set +a
fi
# The steering selftests measure the clock with ntpdisc in charge.
export NTPDISC_STEER="${NTPDISC_STEER:-livepatch clocksource}"
exec sh tests/run_guest.sh
