#!/bin/sh
# Prepare the QEMU test bed: host packages, the guest kernels and the few
# kernel-tree files (kselftest headers, checkpatch) the build needs.
#
#   testbed-setup.sh [SERIES...]    default: 6.1 6.12 (or $TESTBED_KSERIES)
#
# 6.1 is the reference: bookworm's kernel, headers installed from apt.
# Other series (6.12: see scripts/guest-kver.sh for where it comes from)
# are unpacked, image and headers alike, into .cache/kernel/<release>/:
# their headers package depends on the kernel image package, and
# installing that would put a kernel into this machine's /boot.
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

series=${*:-${TESTBED_KSERIES:-6.1 6.12}}

# Series, not releases: a KVER given to make (say, a 6.12 release) must not
# turn the 6.1 setup into an apt install of that release's headers.
unset KVER

# Fresh containers have no apt lists, so the guest version (which comes from
# the archive's linux-image-amd64) may need an update first.
kver=$("$top/scripts/guest-kver.sh" 6.1 2>/dev/null) || {
	apt_update
	kver=$("$top/scripts/guest-kver.sh" 6.1)
}

# bookworm-backports, for a series that bookworm itself lacks.  Backports
# are pinned at 100 by their Release file: nothing installed is upgraded
# from there, and nothing from there is installed but by name.
bpo=/etc/apt/sources.list.d/ntpdisc-bookworm-backports.sources
add_backports() {
	[ ! -f "$bpo" ] || return 0
	apt-cache policy 2>/dev/null | grep -q 'bookworm-backports/main amd64' && return 0
	say "adding bookworm-backports to the apt sources ($bpo)"
	cat >"$bpo" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	updated=
	apt_update
}

# libc6-dev for static test binaries, perl for checkpatch, zstd for the
# 6.12 image, dwarves (pahole) for the BTF of modules built for 6.12,
# clang and its runtime for the discipline's libFuzzer target, gnuplot
# for the simulator's plots, debootstrap for the guest's Debian root of
# the client runs (scripts/rootfs-build.sh), gcc-multilib for the
# selftest that runs as a 32-bit program, and what builds the Debian
# packages (make deb: debhelper, dh-dkms, rst2man for the man pages) and
# lintian, which checks them.
pkgs="qemu-system-x86 busybox-static cpio kmod sparse xz-utils gcc libc6-dev
      make bc perl zstd dwarves linux-source-6.1 linux-headers-$kver
      clang-14 libclang-rt-14-dev gnuplot-nox debootstrap gcc-multilib
      dpkg-dev debhelper dh-dkms python3-docutils lintian"
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

# _apt cannot write into a root-only cache dir; a download is a plain file
# fetch, so no sandbox is needed.
download() {
	(cd "$cache/kernel/dl" &&
		apt-get download -q -o APT::Sandbox::User=root "$@" >/dev/null)
}

# The same from the test bed's own apt state (7.x kernels).
papt_download() {
	(cd "$cache/kernel/dl" &&
		"$top/scripts/testbed-apt.sh" apt-get download -q "$@" >/dev/null)
}

# A guest kernel: Debian's own image, unpacked, not installed; with
# headers=1 its headers (arch, common and kbuild packages) unpacked beside
# it, in usr/src/linux-headers-<release>. From 7.x the image is in
# linux-binary-<release> (usr/lib/modules/<release>/vmlinuz, linked to
# boot/ here as for the older ones) and comes from another suite.
guest_kernel() {
	kver=$1 headers=$2
	kdir=$cache/kernel/$kver
	hdir=$kdir/usr/src/linux-headers-$kver
	if [ "${kver%%.*}" -ge 7 ]; then
		get=papt_download
		cache_of() { "$top/scripts/testbed-apt.sh" apt-cache "$@"; }
		pkgs="linux-binary-$kver linux-base-$kver"
	else
		get=download
		cache_of() { apt-cache "$@"; }
		pkgs=linux-image-$kver
	fi
	if [ ! -f "$kdir/boot/vmlinuz-$kver" ] ||
	   { [ "$headers" = 1 ] && [ ! -f "$hdir/Makefile" ]; }; then
		if [ "$headers" = 1 ]; then
			pkgs="$pkgs linux-headers-$kver $(cache_of depends "linux-headers-$kver" 2>/dev/null |
				sed -n 's/^ *Depends: \(linux-\(headers\|kbuild\)-[^ <>|]*\)$/\1/p' |
				sort -u | tr '\n' ' ')"
		fi
		say "downloading $pkgs"
		rm -rf "$kdir" "$kdir.tmp" "$cache/kernel/dl"
		mkdir -p "$cache/kernel/dl"
		# shellcheck disable=SC2086
		$get $pkgs || { apt_update; $get $pkgs; }
		for deb in "$cache"/kernel/dl/*.deb; do
			dpkg -x "$deb" "$kdir.tmp"
		done
		if [ ! -e "$kdir.tmp/boot/vmlinuz-$kver" ]; then
			mkdir -p "$kdir.tmp/boot"
			ln -s "../usr/lib/modules/$kver/vmlinuz" "$kdir.tmp/boot/vmlinuz-$kver"
		fi
		mv "$kdir.tmp" "$kdir"
		rm -rf "$cache/kernel/dl"
	fi
	if [ "$headers" = 1 ]; then
		# The arch headers include the common ones (-common, or
		# -common-rt) by absolute path, and the unpacked tree is not
		# under /usr/src: point it at its own copy (again if the work
		# tree moved).
		common=$(sed -n 's|^include .*/usr/src/\(linux-headers-[^/]*-common[^/]*\)/Makefile$|\1|p' "$hdir/Makefile")
		[ -n "$common" ] && [ -f "$kdir/usr/src/$common/Makefile" ] || {
			say "no common headers for $kver in $kdir"
			exit 1
		}
		grep -qx "include $kdir/usr/src/$common/Makefile" "$hdir/Makefile" ||
			sed -i "s|^include .*/usr/src/$common/Makefile\$|include $kdir/usr/src/$common/Makefile|" \
				"$hdir/Makefile"
		# From 7.x it also names itself as the output directory.
		sed -i "s|^KBUILD_OUTPUT=.*/usr/src/linux-headers-$kver\$|KBUILD_OUTPUT=$hdir|" \
			"$hdir/Makefile"
	fi
	vmlinux "$kdir" "$kver"
}

# TCG spends ~2 s of every boot unpacking the compressed bzImage.  The
# kernel has a PVH entry point, so QEMU can boot the bare vmlinux ELF
# instead: unpack it once here (what scripts/extract-vmlinux does).  6.1
# is xz-compressed, 6.12 zstd.
is_elf() {
	[ -f "$1" ] && [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]
}

vmlinux() {
	kdir=$1 kver=$2
	[ ! -f "$kdir/vmlinux" ] || return 0
	say "unpacking vmlinux for PVH boot"
	vmlinuz=$kdir/boot/vmlinuz-$kver
	rm -f "$kdir/vmlinux.tmp"
	for magic in '\3757zXZ:xz' '(\265/\375:zstd'; do
		tool=${magic##*:}
		for off in $(LC_ALL=C grep -abo "$(printf "${magic%:*}")" "$vmlinuz" | cut -d: -f1); do
			# Trailing bytes after the stream make the tool complain.
			tail -c +$((off + 1)) "$vmlinuz" | $tool -dcq >"$kdir/vmlinux.tmp" 2>/dev/null || true
			is_elf "$kdir/vmlinux.tmp" && break 2
		done
	done
	if is_elf "$kdir/vmlinux.tmp"; then
		mv "$kdir/vmlinux.tmp" "$kdir/vmlinux"
	else
		say "no vmlinux in $vmlinuz; guests will boot the bzImage (slower)"
		rm -f "$kdir/vmlinux.tmp"
	fi
}

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

# QEMU from trixie, in a root of its own in the cache: bookworm's 7.2
# runs Debian's 6.12 into a stray int3 in irqentry_exit() once livepatch
# transitions and RTC writes meet under TCG (any livepatch, "hwclock -w"
# in a loop: a guest dies within a few cycles; 10.0 ran 80 clean). Run
# through the root's own loader, so that neither chroot nor mounts are
# needed; scripts/guest-run.sh prefers it.
qroot=$cache/chroot/trixie
qemu=$cache/bin/qemu-system-x86_64
# The same root builds modules for trixie's kernels (7.x from
# trixie-backports), with the compiler that built them (scripts/kbuild.sh).
qpkgs="qemu-system-x86 gcc-14 make libc6-dev libelf-dev bc dwarves sparse"
if [ ! -x "$qroot/usr/bin/qemu-system-x86_64" ]; then
	say "building a trixie root with QEMU and gcc-14 in $qroot"
	rm -rf "$qroot"
	mkdir -p "$cache/chroot"
	debootstrap --variant=minbase --include="$(echo $qpkgs | tr ' ' ,)" trixie "$qroot" \
		http://deb.debian.org/debian >"$cache/chroot/debootstrap.log" 2>&1 || {
		say "debootstrap failed, see $cache/chroot/debootstrap.log"
		exit 1
	}
	rm -f "$qemu"
elif [ ! -x "$qroot/usr/bin/gcc-14" ] || [ ! -x "$qroot/usr/bin/sparse" ]; then
	say "adding $qpkgs to $qroot"
	# shellcheck disable=SC2086
	chroot "$qroot" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends $qpkgs" >/dev/null
fi
if [ ! -x "$qemu" ] || ! grep -qF "r=$qroot" "$qemu"; then
	mkdir -p "$cache/bin"
	cat >"$qemu" <<EOF
#!/bin/sh
# Generated by scripts/testbed-setup.sh: trixie's QEMU, run in place.
r=$qroot
QEMU_MODULE_DIR=\$r/usr/lib/x86_64-linux-gnu/qemu exec \$r/lib64/ld-linux-x86-64.so.2 \\
	--library-path \$r/usr/lib/x86_64-linux-gnu:\$r/lib/x86_64-linux-gnu \\
	\$r/usr/bin/qemu-system-x86_64 -L \$r/usr/share/qemu -L \$r/usr/share/seabios "\$@"
EOF
	chmod +x "$qemu"
fi
"$qemu" --version >/dev/null || { say "$qemu does not run"; exit 1; }

ready=
for s in $series; do
	if [ "${s%%.*}" -ge 7 ]; then
		k=$("$top/scripts/guest-kver.sh" "$s" 2>/dev/null) || {
			say "apt lists of trixie, trixie-backports and sid in $cache/apt"
			"$top/scripts/testbed-apt.sh" update
			k=$("$top/scripts/guest-kver.sh" "$s")
		}
		guest_kernel "$k" 1
		ready="$ready${ready:+,} $k (headers $cache/kernel/$k/usr/src/linux-headers-$k)"
		continue
	fi
	if [ "$s" = 6.1 ]; then
		guest_kernel "$kver" 0
		ready="$ready${ready:+,} $kver (headers /usr/src/linux-headers-$kver)"
		continue
	fi
	k=$("$top/scripts/guest-kver.sh" "$s" 2>/dev/null) || {
		apt_update
		k=$("$top/scripts/guest-kver.sh" "$s" 2>/dev/null)
	} || {
		add_backports
		k=$("$top/scripts/guest-kver.sh" "$s")
	}
	guest_kernel "$k" 1
	ready="$ready${ready:+,} $k (headers $cache/kernel/$k/usr/src/linux-headers-$k)"
done
say "ready: guest kernels$ready"
