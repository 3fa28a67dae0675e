#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Build ntpdisc.ko against every amd64 kernel Debian ships today, each
# flavour (generic, cloud, rt), with W=1 and sparse (C=1), each with the
# compiler that built that kernel (scripts/kbuild.sh). Prints TAP, one
# line per kernel, naming the backends the module carries.
#
#   build-matrix.sh [RELEASE...]     default: the releases listed below
#
# The releases are those of the archive's own meta packages today, so the
# list moves with Debian: bookworm's 6.1 and 6.12 (the host's apt), and
# trixie's 6.12, trixie-backports' 7.2 and 7.3 and sid's 7.2 (the test
# bed's apt, scripts/testbed-apt.sh). Only headers are fetched, into
# .cache/headers/<release>; nothing is installed. A kernel that the
# module refuses to support fails its line.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cache=$top/.cache
hdrs=$cache/headers
log=${BUILD_MATRIX_LOG:-$top/output/build-matrix}
papt=$top/scripts/testbed-apt.sh
mkdir -p "$hdrs" "$log"

say() { echo "# build-matrix: $*"; }

# The releases the meta packages of every suite point at.
releases() {
	for f in amd64 cloud-amd64 rt-amd64; do
		for m in "linux-headers-$f" "linux-headers-6.12-$f"; do
			apt-cache show "$m" 2>/dev/null
		done
		"$papt" apt-cache show "linux-headers-$f" 2>/dev/null
		# trixie-backports keeps 7.2's headers beside 7.3's.
		"$papt" apt-cache pkgnames "linux-headers-7.2." 2>/dev/null |
			grep -E "^linux-headers-7\.2\.[0-9]+\+deb13-$f\$" | sort -V | tail -n1
	done | grep -o 'linux-headers-[0-9][^ ,]*' | sed 's/^linux-headers-//' |
		grep -E -- '^[0-9]+\.[0-9]+\.[0-9]+(-[0-9]+|\+deb[0-9]+)-(cloud-|rt-)?amd64$' |
		sort -uV | newest
}

# The newest release of each series, suite and flavour: a point release
# and its security update list different ABIs of one series (6.1.0-50,
# 6.1.0-57), of which Debian ships the later.
newest() {
	awk '{
		key = $0
		sub(/^[0-9]+\.[0-9]+\./, "", key)		# series kept apart below
		series = substr($0, 1, length($0) - length(key))
		sub(/^[0-9]+(-[0-9]+)?/, "", key)		# patch level, 6.1 ABI
		k = series key
		if (!(k in seen)) order[++n] = k
		seen[k] = $0				# input is sorted: last wins
	} END { for (i = 1; i <= n; i++) print seen[order[i]] }'
}

# Which apt knows RELEASE's headers: the host's or the test bed's.
apt_of() {
	if apt-cache show "linux-headers-$1" >/dev/null 2>&1; then
		echo host
	else
		echo bed
	fi
}

# The arch headers name the common ones, and themselves as the output
# directory, by absolute paths (/usr/src/... as packaged): point them at
# their copies here, again whenever this tree is reached by another path.
point_home() {
	sed -i -e "s|^include .*/usr/src/\(linux-headers-[^/]*\)/Makefile\$|include $dir/usr/src/\1/Makefile|" \
		-e "s|^KBUILD_OUTPUT=.*/usr/src/|KBUILD_OUTPUT=$dir/usr/src/|" \
		"$hdir/Makefile"
}

# Unpack RELEASE's headers (arch, common, kbuild) into .cache/headers.
fetch() {
	rel=$1 dir=$hdrs/$1
	hdir=$dir/usr/src/linux-headers-$rel
	[ -f "$hdir/.testbed-ready" ] && { point_home; return 0; }
	if [ "$(apt_of "$rel")" = host ]; then
		ac() { apt-cache "$@"; }
		ag() { apt-get -q -o APT::Sandbox::User=root "$@"; }
	else
		ac() { "$papt" apt-cache "$@"; }
		ag() { "$papt" apt-get -q "$@"; }
	fi
	pkgs="linux-headers-$rel $(ac depends "linux-headers-$rel" 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-\(headers\|kbuild\)-[^ <>|]*\)$/\1/p' |
		sort -u | tr '\n' ' ')"
	rm -rf "$dir" "$dir.dl"
	mkdir -p "$dir.dl"
	# shellcheck disable=SC2086
	(cd "$dir.dl" && ag download $pkgs >/dev/null) || return 1
	for deb in "$dir.dl"/*.deb; do
		dpkg -x "$deb" "$dir"
	done
	rm -rf "$dir.dl"
	point_home
	# From 7.x the headers lack the script with which kbuild asks whether
	# sparse runs, and C=1 then quietly checks nothing: the test bed's own.
	for c in "$dir"/usr/src/linux-headers-*-common; do
		[ -e "$c/scripts/checker-valid.sh" ] && continue
		printf '%s\n' '#!/bin/sh' \
			'# Test bed (scripts/build-matrix.sh): "1" if the checker runs.' \
			'"$@" -E -x c /dev/null >/dev/null 2>&1 && echo 1' \
			>"$c/scripts/checker-valid.sh"
		chmod +x "$c/scripts/checker-valid.sh"
	done
	touch "$hdir/.testbed-ready"
}

# The test bed's root of a suite, for the compiler of its kernels: trixie
# (gcc-14) comes from scripts/testbed-setup.sh, sid's (gcc-16) from here.
# Its sparse is the one every build here runs: trixie's and bookworm's
# stop at 7.x's __typeof_unqual__. It runs in place, through the root's
# own loader, which the chroots see at the same path (scripts/kbuild.sh).
sparse=$cache/bin/sparse-sid
sid_root() {
	root=$cache/chroot/sid
	if [ ! -x "$root/usr/bin/gcc-16" ] || [ ! -x "$root/usr/bin/sparse" ]; then
		say "building a sid root with gcc-16 and sparse in $root"
		rm -rf "$root"
		mkdir -p "$cache/chroot"
		debootstrap --variant=minbase \
			--include=gcc-16,make,libc6-dev,libelf-dev,bc,dwarves,sparse \
			sid "$root" http://deb.debian.org/debian \
			>"$cache/chroot/debootstrap-sid.log" 2>&1 || return 1
	fi
	mkdir -p "$cache/bin"
	# shellcheck disable=SC2016 # the wrapper's own variables
	printf '%s\n' '#!/bin/sh' \
		'# Generated by scripts/build-matrix.sh: sid'"'"'s sparse, run in place.' \
		"r=$root" \
		'exec $r/lib64/ld-linux-x86-64.so.2 --library-path $r/usr/lib/x86_64-linux-gnu:$r/lib/x86_64-linux-gnu $r/usr/bin/sparse "$@"' \
		>"$sparse"
	chmod +x "$sparse"
}

if [ $# -eq 0 ]; then
	# A fresh test bed has no lists of the other suites yet.
	ls "$cache"/apt/state/lists/*_Packages* >/dev/null 2>&1 ||
		"$papt" update
	# Word splitting wanted: one release a line.
	# shellcheck disable=SC2046
	set -- $(releases)
fi
[ $# -gt 0 ] || { echo "build-matrix: no kernel releases found (apt-get update?)" >&2; exit 1; }
echo "TAP version 13"
echo "1..$#"
n=0 nfail=0
for rel; do
	n=$((n + 1))
	what="build $rel"
	if ! fetch "$rel" >"$log/$rel.log" 2>&1; then
		echo "not ok $n - $what # headers could not be fetched"
		nfail=$((nfail + 1))
		continue
	fi
	kdir=$hdrs/$rel/usr/src/linux-headers-$rel
	sid_root >>"$log/$rel.log" 2>&1 || {
		echo "not ok $n - $what # no sid root (see $log/$rel.log)"
		nfail=$((nfail + 1))
		continue
	}
	# A scratch copy per release, as make module-kver does.
	b=$top/build/matrix/$rel
	rm -rf "$b"
	mkdir -p "$b"
	(cd "$top" && cp -r Kbuild VERSION module probe uapi "$b/")
	find "$b" \( -name '*.o' -o -name '.*.cmd' -o -name '*.ko' -o -name '*.mod' \
		-o -name '*.mod.c' -o -name compat_probed.h \) -delete
	if "$top/scripts/kbuild.sh" "$kdir" M="$b" W=1 C=1 CHECK="$sparse" modules \
		>>"$log/$rel.log" 2>&1; then
		# Anything kbuild, the compiler or sparse has to say is a failure.
		warn=$(grep -E 'warning:|error:|not available or not up to date' \
			"$log/$rel.log" || true)
		backends=shadow
		modinfo -F parm "$b/ntpdisc.ko" 2>/dev/null | grep -q '^testonly_mark_tsc_unstable:' &&
			backends="$backends clocksource"
		grep -qa 'livepatch=Y' "$b/ntpdisc.ko" && backends="$backends livepatch"
		if [ -z "$warn" ]; then
			echo "ok $n - $what ($backends)"
			continue
		fi
		echo "not ok $n - $what ($backends) # warnings"
		echo "$warn" | head -n 20 | sed 's/^/# /'
	else
		echo "not ok $n - $what # build failed"
		tail -n 20 "$log/$rel.log" | sed 's/^/# /'
	fi
	nfail=$((nfail + 1))
done
echo "# build-matrix: $((n - nfail)) passed, $nfail failed"
[ "$nfail" = 0 ]
