#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Build a guest payload that runs dynamically linked programs: the test
# guest's initramfs is busybox only, so the payload carries the host's
# glibc (Debian 12, as a guest userland would have) in lib/, and run.sh
# installs it at /lib64 and /lib/x86_64-linux-gnu first.
#
#   payload.sh DIR FILE...
#
# Copies each FILE into DIR (directories recursively), adds the shared
# libraries that every dynamically linked one of them needs (by ldd) to
# DIR/lib, and writes DIR/guest-libc.sh for run.sh to source.
set -eu

[ $# -ge 1 ] || { echo "usage: $0 DIR FILE..." >&2; exit 2; }
dir=$1
shift
mkdir -p "$dir/lib"
for f in "$@"; do
	cp -a "$f" "$dir/"
done
find "$dir" -type f ! -path "$dir/lib/*" | while read -r f; do
	ldd "$f" >/dev/null 2>&1 || continue
	ldd "$f" | awk '/=> \// { print $3 } /^[ \t]*\/[^ ]*ld-linux/ { print $1 }'
done | sort -u | while read -r so; do
	cp -L "$so" "$dir/lib/"
done

cat >"$dir/guest-libc.sh" <<'EOS'
# Sourced by run.sh in the guest: the payload's glibc where ld.so and
# the programs look for it (the initramfs root is writable).
mkdir -p /lib64 /lib/x86_64-linux-gnu
for so in "$(dirname "$0")"/lib/*; do
	case ${so##*/} in
	ld-linux-x86-64.so.2) cp "$so" /lib64/ ;;
	esac
	cp "$so" /lib/x86_64-linux-gnu/
done
EOS
