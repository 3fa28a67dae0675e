#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Build, once, a Debian bookworm root file system with the real time
# daemons (chrony, ntpsec, linuxptp, adjtimex) for the test guest, and
# pack it as a gzip'd cpio archive that scripts/guest-run.sh --rootfs
# appends to the guest's initramfs.  The tree lands at /rootfs in the
# guest; scripts/clients-guest.sh chroots into it.
#
#   rootfs-build.sh            print the archive's path (build if needed)
#   rootfs-build.sh dkms KVER  instead a root for installing ntpdisc's own
#                              packages (scripts/pkg-guest.sh): dkms, gcc,
#                              make, man-db and the headers of guest kernel
#                              KVER, manuals kept; no time daemons
#
# The archive is cached under .cache/rootfs/ and named after a hash of this
# script (and the flavour), so editing the package list or the pruning
# below rebuilds it.
# Needs root (debootstrap) and access to a Debian mirror ($DEBIAN_MIRROR).
set -eu

# ntptime is in ntpsec itself (/usr/sbin/ntptime).  chrony and ntpsec both
# provide time-daemon and conflict: ntpsec is unpacked beside chrony
# without dpkg (keeping the merged /usr's directory symlinks), after its
# run-time libraries (NTPSEC_DEPS) are installed.
flavour=${1:-clients}
PACKAGES=chrony,linuxptp,adjtimex
NTPSEC_DEPS="libbsd0 libcap2 libssl3 tzdata netbase"
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
case $flavour in
clients) name=clients ;;
dkms)
	[ -n "${2:-}" ] || { echo "usage: $0 [dkms KVER]" >&2; exit 2; }
	# What a Debian machine has to build a DKMS module: Debian's kernels
	# of bookworm-security come with their headers there.
	PACKAGES=dkms,gcc,make,libc6-dev,man-db,kmod,linux-headers-$2
	NTPSEC_DEPS=
	name=dkms-$2
	;;
*) echo "usage: $0 [dkms KVER]" >&2; exit 2 ;;
esac

top=$(cd "$(dirname "$0")/.." && pwd)
cache=$top/.cache/rootfs
key=$(sha256sum "$0" | cut -c1-12)
out=$cache/bookworm-$name-$key.cpio.gz

if [ -f "$out" ]; then
	echo "$out"
	exit 0
fi

command -v debootstrap >/dev/null ||
	{ echo "rootfs-build: debootstrap missing (apt-get install debootstrap)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "rootfs-build: needs root (debootstrap)" >&2; exit 2; }

mkdir -p "$cache"
work=$cache/work.$$
trap 'umount "$work/rootfs/proc" 2>/dev/null || true; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
mkdir -p "$work"
# The tree sits under rootfs/ so the archive unpacks to /rootfs in the
# guest, next to (not over) the busybox base.
root=$work/rootfs
echo "rootfs-build: debootstrap $SUITE from $MIRROR, then $PACKAGES,ntpsec" >&2
fail() {
	cp "$work/build.log" "$cache/build.log" 2>/dev/null
	tail -n 30 "$work/build.log" >&2
	echo "rootfs-build: failed, log in $cache/build.log" >&2
	exit 1
}
# The packages go in with apt in a second step: debootstrap's --include
# runs maintainer scripts before the base system is configured, and
# ntpsec's fail there.  Downloaded .debs are kept for the next build.
mkdir -p "$cache/debs"
debootstrap --variant=minbase --cache-dir="$cache/debs" "$SUITE" "$root" \
	"$MIRROR" >"$work/build.log" 2>&1 || fail
# No service may start inside the build chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
mount -t proc proc "$root/proc"
rc=0
if [ "$flavour" = clients ]; then
	chroot "$root" env DEBIAN_FRONTEND=noninteractive sh -c \
		"apt-get update &&
		 apt-get install -y --no-install-recommends $(echo "$PACKAGES" | tr , ' ') $NTPSEC_DEPS &&
		 cd /tmp && apt-get download ntpsec &&
		 dpkg-deb --fsys-tarfile ntpsec_*.deb | tar -x --keep-directory-symlink -C / &&
		 rm ntpsec_*.deb &&
		 useradd --system --user-group --home-dir /nonexistent --no-create-home ntpsec &&
		 apt-get clean" \
		>>"$work/build.log" 2>&1 || rc=$?
else
	echo "deb $SECURITY_MIRROR $SUITE-security main" \
		>"$root/etc/apt/sources.list.d/security.list"
	chroot "$root" env DEBIAN_FRONTEND=noninteractive sh -c \
		"apt-get update &&
		 apt-get install -y --no-install-recommends $(echo "$PACKAGES" | tr , ' ') &&
		 apt-get clean" \
		>>"$work/build.log" 2>&1 || rc=$?
fi
umount "$root/proc"
[ "$rc" = 0 ] || fail
rm -f "$root/usr/sbin/policy-rc.d"
if [ "$flavour" = clients ]; then
	[ -x "$root/usr/sbin/ntptime" ] || { echo "rootfs-build: no ntptime" >&2; fail; }
else
	[ -d "$root/lib/modules/$2/build/" ] ||
		{ echo "rootfs-build: no headers for $2" >&2; fail; }
fi

# What the guest never reads: docs, manuals (kept where the test reads a
# manual page), locales, apt's lists and caches.  Smaller archive, faster
# boot under TCG.
[ "$flavour" = dkms ] || rm -rf "$root/usr/share/man"
rm -rf "$root/usr/share/doc" "$root/usr/share/info" \
	"$root/usr/share/locale" "$root/var/cache/apt" "$root/var/lib/apt/lists" \
	"$root/var/cache/debconf"/*-old "$root/usr/share/lintian"
mkdir -p "$root/var/lib/apt/lists" "$root/var/cache/apt"
# The guest mounts these itself; daemons expect them to exist.
mkdir -p "$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/run" \
	"$root/payload" "$root/var/lib/chrony" "$root/var/log/chrony"

# Owners kept: the daemons drop to _chrony / ntpsec and own their state.
(cd "$work" && find rootfs | sort | cpio -o -H newc --quiet) |
	gzip -1 >"$work/out.cpio.gz"
# Archives in an initramfs must each start 4-byte aligned.
pad=$(( (4 - $(stat -c %s "$work/out.cpio.gz") % 4) % 4 ))
head -c "$pad" /dev/zero >>"$work/out.cpio.gz"
mv "$work/out.cpio.gz" "$out"
# Only the newest archive is ever used.
for f in "$cache"/bookworm-$name-*.cpio.gz; do
	[ "$f" = "$out" ] || rm -f "$f"
done
echo "rootfs-build: $(du -h "$out" | cut -f1) $out" >&2
echo "$out"
