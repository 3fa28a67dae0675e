#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Run a kernel's kbuild with the compiler that built that kernel:
#
#   kbuild.sh KDIR [MAKE ARGS...]        e.g. kbuild.sh KDIR M=DIR modules
#
# kbuild refuses modules built with another compiler, and trixie's and
# sid's kernels use gcc-14 and gcc-16 options that bookworm's gcc-12 does
# not know (the roots: trixie's from scripts/testbed-setup.sh, sid's from
# scripts/build-matrix.sh). The compiler is the one the kernel's .config names
# (CONFIG_CC_VERSION_TEXT). If this machine has it, make runs here;
# otherwise in the test bed's root of the suite that has it
# (scripts/testbed-setup.sh), with this tree bind-mounted at its own path
# in a mount namespace of its own, so that nothing stays mounted. KDIR and
# the module must then be inside this tree (the cache is).
set -eu

[ $# -ge 1 ] || { echo "usage: $0 KDIR [MAKE ARGS...]" >&2; exit 2; }
kdir=$1
shift
top=$(cd "$(dirname "$0")/.." && pwd)

cc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\([^ ]*\) .*/\1/p' "$kdir/.config" 2>/dev/null)
[ -n "$cc" ] || { echo "kbuild: no CONFIG_CC_VERSION_TEXT in $kdir/.config" >&2; exit 2; }

if command -v "$cc" >/dev/null; then
	exec make -C "$kdir" CC="$cc" "$@"
fi

case $cc in
*-gcc-14) suite=trixie ;;
*-gcc-16) suite=sid ;;
*)
	echo "kbuild: $kdir was built by $cc, which neither this machine nor the test bed has" >&2
	exit 2 ;;
esac
root=$top/.cache/chroot/$suite
[ -x "$root/usr/bin/$cc" ] || {
	echo "kbuild: no $cc in $root: run 'make setup'" >&2
	exit 2
}
case $(cd "$kdir" && pwd) in
"$top"/*) ;;
*) echo "kbuild: $kdir is outside $top, which is all that $root sees" >&2; exit 2 ;;
esac
# A cache that is a link to elsewhere (a second work tree) is seen too.
cache=$(cd "$top/.cache" 2>/dev/null && pwd -P || echo "$top/.cache")

# shellcheck disable=SC2016
exec unshare -m sh -c '
	root=$1 top=$2 cache=$3
	shift 3
	for d in "$top" "$cache"; do
		mkdir -p "$root$d"
		mount --bind "$d" "$root$d"
	done
	mount -t proc proc "$root/proc"
	exec chroot "$root" make "$@"
' sh "$root" "$top" "$cache" -C "$kdir" CC="$cc" "$@"
