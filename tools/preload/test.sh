#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Host side of the preload library's test: builds the payload in
# output/preload (module, static CLI, the library, its dynamically linked
# test and the host's glibc) and boots a guest on it. Needs "make module
# tools" done; builds the library and the test itself. Extra arguments go
# to scripts/guest-run.sh. Exit status is guest-run's.
#
#   test.sh [--payload-only] [GUEST-RUN OPTIONS]
set -eu
payload_only=
if [ "${1:-}" = --payload-only ]; then
	payload_only=1
	shift
fi
top=$(cd "$(dirname "$0")/../.." && pwd)
b=$top/build/tools
p=$top/output/preload

make -s -C "$top/tools" OUT="$b" preload
for f in "$top/ntpdisc.ko" "$b/ntpdisc"; do
	[ -f "$f" ] || { echo "preload test: no $f: run 'make module tools'" >&2; exit 2; }
done
rm -rf "$p"
"$top/tools/preload/payload.sh" "$p" "$top/ntpdisc.ko" "$b/ntpdisc" \
	"$b/libntpdisc-preload.so" "$b/ntpdisc_preload_test"
cp "$top/tools/preload/run-guest.sh" "$p/run.sh"
[ -z "$payload_only" ] || exit 0
exec "$top/scripts/guest-run.sh" --timeout 300 "$@" "$p"
