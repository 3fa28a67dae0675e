# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh disable=SC2154 # R, P and steer come from the caller
# Sourced, in the test guest, by the payloads that run programs of the
# Debian root (scripts/rootfs-build.sh, at $R): clients-guest.sh,
# demo-guest.sh and pkg-guest.sh. They set R, P (the payload directory)
# and steer.

# The root's view of the guest: its kernel file systems, a scratch /tmp
# and /run, and the payload at /payload, whose out/ collects the logs.
rootfs_mount() {
	for d in proc sys dev dev/pts tmp run payload; do
		mkdir -p "$R/$d"
	done
	mount --bind /proc "$R/proc"
	mount --bind /sys "$R/sys"
	mount --bind /dev "$R/dev"
	mount --bind /dev/pts "$R/dev/pts"
	mount -t tmpfs tmpfs "$R/tmp"
	mount -t tmpfs tmpfs "$R/run"
	mount --bind "$P" "$R/payload"
	mkdir -p "$P/out"
}

rootfs_umount() {
	for d in payload run tmp dev/pts dev sys proc; do
		umount "$R/$d" 2>/dev/null
	done
}

# Let USER's daemon reopen /dev/ntpdisc after it dropped root.  The
# preload library opens the device in its constructor, as root, but a
# forking daemon (chronyd as Debian starts it) closes every descriptor
# while it detaches and the library reopens the node as the daemon's
# user then: on a real system a udev rule would give its group access.
device_for() {
	[ "$steer" = clocksource ] || return 0
	chgrp "$(chroot "$R" id -g "$1")" /dev/ntpdisc
	chmod 660 /dev/ntpdisc
}

# Run a program of the Debian root, through the preload library when the
# daemons can only reach ntpdisc through /dev/ntpdisc.
in_root() {
	if [ "$steer" = clocksource ]; then
		chroot "$R" /usr/bin/env LD_PRELOAD=/payload/libntpdisc-preload.so "$@"
	else
		chroot "$R" "$@"
	fi
}

# tap ok|fail DESCRIPTION: the next TAP line; nfail counts the failures.
n=0
nfail=0
tap() {
	n=$((n + 1))
	if [ "$1" = ok ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		nfail=$((nfail + 1))
	fi
}
