#!/bin/sh
# Guest side of "make check", run by the guest's /init as run.sh in the
# payload dir: ntpdisc.ko here, the installed selftests in tests/.  The
# selftests' runner loads the module and prints kselftest TAP.
set -eu
export NTPDISC_KO="$PWD/ntpdisc.ko"
exec sh tests/run_guest.sh
