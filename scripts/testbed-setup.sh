#!/bin/sh
# Prepare the QEMU test bed: host packages, the guest kernel and the few
# kernel-tree files (kselftest headers, checkpatch) the build needs.
#
# Idempotent and quiet when everything is in place.  Needs root on a
# Debian 12 host; never touches /boot or the running kernel.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cache=$top/.cache
srctar=/usr/src/linux-source-6.1.tar.xz

say() { echo "testbed: $*"; }

installed() {
	dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

export DEBIAN_FRONTEND=noninteractive
updated=

apt_update() {
	[ -z "$updated" ] || return 0
	say "apt-get update"
	apt-get update -qq
	updated=1
}

# Fresh containers have no apt lists, so the guest version (which comes from
# the archive's linux-image-amd64) may need an update first.
kver=$("$top/scripts/guest-kver.sh" 2>/dev/null) || {
	apt_update
	kver=$("$top/scripts/guest-kver.sh")
}

# libc6-dev for static test binaries, perl for checkpatch.
pkgs="qemu-system-x86 busybox-static cpio kmod sparse xz-utils gcc libc6-dev
      make bc perl linux-source-6.1 linux-headers-$kver"
missing=
for p in $pkgs; do
	installed "$p" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	apt_update
	say "installing$missing"
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# Guest kernel: Debian's own image for the headers above, unpacked, not
# installed.
kdir=$cache/kernel/$kver
if [ ! -f "$kdir/boot/vmlinuz-$kver" ]; then
	say "downloading linux-image-$kver"
	rm -rf "$kdir" "$cache/kernel/dl"
	mkdir -p "$cache/kernel/dl"
	# _apt cannot write into a root-only cache dir; the download is a
	# plain file fetch, so no sandbox is needed.
	(cd "$cache/kernel/dl" &&
		apt-get download -q -o APT::Sandbox::User=root "linux-image-$kver" >/dev/null) || {
		apt_update
		(cd "$cache/kernel/dl" &&
			apt-get download -q -o APT::Sandbox::User=root "linux-image-$kver" >/dev/null)
	}
	dpkg -x "$cache"/kernel/dl/linux-image-"$kver"_*.deb "$kdir.tmp"
	mv "$kdir.tmp" "$kdir"
	rm -rf "$cache/kernel/dl"
fi

# TCG spends ~2 s of every boot unpacking the xz bzImage.  The kernel has a
# PVH entry point, so QEMU can boot the bare vmlinux ELF instead: unpack it
# once here (what scripts/extract-vmlinux does for xz).
if [ ! -f "$kdir/vmlinux" ]; then
	say "unpacking vmlinux for PVH boot"
	vmlinuz=$kdir/boot/vmlinuz-$kver
	for off in $(LC_ALL=C grep -abo "$(printf '\3757zXZ')" "$vmlinuz" | cut -d: -f1); do
		tail -c +$((off + 1)) "$vmlinuz" | xz -dc >"$kdir/vmlinux.tmp" 2>/dev/null || true
		[ "$(head -c 4 "$kdir/vmlinux.tmp" | od -An -c | tr -d ' ')" = '177ELF' ] && break
	done
	if [ "$(head -c 4 "$kdir/vmlinux.tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
		mv "$kdir/vmlinux.tmp" "$kdir/vmlinux"
	else
		say "no vmlinux in $vmlinuz; guests will boot the bzImage (slower)"
		rm -f "$kdir/vmlinux.tmp"
	fi
fi

# Only the parts of the kernel tree we use; the stamp holds the member list
# so that growing the list re-extracts.
members="tools/testing/selftests/kselftest.h
	 tools/testing/selftests/kselftest_harness.h
	 tools/testing/selftests/kselftest
	 tools/testing/selftests/lib.mk
	 tools/testing/selftests/timers
	 scripts/checkpatch.pl
	 scripts/spelling.txt
	 scripts/const_structs.checkpatch
	 Documentation/userspace-api/ioctl/ioctl-number.rst
	 include/linux/timex.h
	 include/uapi/linux/timex.h
	 kernel/time"
src=$cache/linux-source-6.1
stamp=$src/.testbed-members
want=$(echo $members)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ "$srctar" -nt "$stamp" ]; then
	say "extracting kernel tree files from $srctar"
	rm -rf "$src"
	mkdir -p "$cache"
	# shellcheck disable=SC2086
	tar -xJf "$srctar" -C "$cache" $(for m in $members; do echo "linux-source-6.1/$m"; done)
	echo "$want" >"$stamp"
fi

say "ready: guest kernel $kver, headers /usr/src/linux-headers-$kver"
