#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest side of scripts/pkg-run.sh: ntpdisc's Debian packages installed
# into a Debian root (scripts/rootfs-build.sh dkms KVER, at /rootfs) as an
# administrator would, DKMS building the module there for the running
# guest kernel; then loaded, used, removed, and nothing may be left.
#
#   pkg-guest.sh VERSION        the packages' version (VERSION file)
#
# The .debs are in the payload directory. Prints TAP, one line per check.
set -u

version=$1
R=/rootfs
P=/payload
kver=$(uname -r)

# rootfs_mount, rootfs_umount, tap.
# shellcheck source=scripts/rootfs-guest.sh
. $P/rootfs-guest.sh

# A check: tap ok/not ok on a command's status, its output kept.
check() {
	what=$1
	shift
	if "$@" >/tmp/pkg-out 2>&1; then
		tap ok "$what"
	else
		tap fail "$what"
		sed 's/^/# /' /tmp/pkg-out | tail -n 40
	fi
}

# The root's own programs by absolute path: the guest's busybox chroot
# would run its own applets (sh, dpkg) for bare names.
root() { chroot "$R" /usr/bin/env DEBIAN_FRONTEND=noninteractive "$@"; }

# Every file and directory of the root but the volatile ones, and the
# module indexes depmod rewrites: what an install may leave behind.
snapshot() {
	chroot "$R" /usr/bin/find / -xdev \( -path /proc -o -path /sys -o -path /dev \
		-o -path /tmp -o -path /run -o -path /payload -o -path /var/log \
		-o -path /var/cache -o -path /var/lib/dpkg -o -path /var/lib/apt \
		-o -path /var/lib/man-db -o -path "/var/lib/dkms/mok.*" \) -prune \
		-o -print |
		grep -v -E "^(/usr)?/lib/modules/$kver/modules\." | sort
}

echo "TAP version 13"
echo "1..12"
rootfs_mount
# What udev makes on a real system; bash (dkms) needs it.
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
cp $P/*.deb "$R/tmp/"
snapshot >/tmp/before

check "dpkg -i ntpdisc-dkms and ntpdisc-tools: DKMS builds ntpdisc for $kver" \
	root /bin/sh -c "dpkg -i /tmp/ntpdisc-dkms_${version}_all.deb /tmp/ntpdisc-tools_${version}_amd64.deb"
check "dkms status: ntpdisc/$version installed for $kver" \
	sh -c "chroot $R /usr/sbin/dkms status ntpdisc | tee /dev/stderr | grep -q '^ntpdisc/$version, $kver, x86_64: installed'"
check "the module is in updates/dkms" \
	sh -c "ls $R/lib/modules/$kver/updates/dkms/ntpdisc.ko*"
mv=$(chroot "$R" /usr/sbin/modinfo -F version ntpdisc 2>/dev/null)
cv=$(chroot "$R" /usr/sbin/ntpdisc --version 2>/dev/null)
if [ "$mv" = "$version" ] && [ "$cv" = "ntpdisc $version" ]; then
	tap ok "modinfo ntpdisc ($mv) and ntpdisc --version ($cv) say $version"
else
	tap fail "modinfo ntpdisc ($mv) and ntpdisc --version ($cv) say $version"
fi
# ntpdisc load without a file: the installed module, through modprobe.
check "ntpdisc load: modprobe loads the installed module" root ntpdisc load
check "/dev/ntpdisc answers: ntpdisc status" root ntpdisc status
check "the kernel log names the version at load" \
	sh -c "dmesg | grep -q 'ntpdisc: $version loaded'"
check "man ntpdisc shows ntpdisc(8), man 4 ntpdisc the device" \
	sh -c "chroot $R /usr/bin/man -P cat ntpdisc 2>/dev/null | grep -q 'ntpdisc' &&
	       chroot $R /usr/bin/man -P cat 4 ntpdisc 2>/dev/null | grep -qi 'ioctl'"
check "ntpdisc release: handed back, unloaded" root ntpdisc release
check "dpkg --purge ntpdisc-tools ntpdisc-dkms" \
	root dpkg --purge ntpdisc-tools ntpdisc-dkms
check "the module is gone from every kernel" \
	sh -c "! ls $R/lib/modules/*/updates/dkms/ntpdisc.ko* 2>/dev/null &&
	       ! chroot $R /usr/sbin/dkms status ntpdisc | grep -q ntpdisc"
snapshot >/tmp/after
if diff /tmp/before /tmp/after >/tmp/left; then
	tap ok "nothing left behind: the root's files are as before"
else
	tap fail "nothing left behind: the root's files are as before"
	sed 's/^/# /' /tmp/left | head -n 40
fi
rootfs_umount
