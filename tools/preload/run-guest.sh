#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest side of the preload library's test (busybox sh, root, in the test
# guest only: it loads ntpdisc and changes the clock). Run as run.sh of a
# payload built by tools/preload/payload.sh holding ntpdisc.ko, the
# static ntpdisc CLI, libntpdisc-preload.so and ntpdisc_preload_test.
# Prints the test's kselftest TAP; exits with its status.
cd "$(dirname "$0")" || exit 1
. ./guest-libc.sh
export NTPDISC_KO="$PWD/ntpdisc.ko"
export NTPDISC_CLI="$PWD/ntpdisc"
LD_PRELOAD="$PWD/libntpdisc-preload.so" ./ntpdisc_preload_test
