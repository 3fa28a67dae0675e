#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# "make demo": ntpdisc in a throwaway guest, disciplined by Debian's
# chronyd, through a leap second (scripts/demo-guest.sh is the guest
# half). Sets up what is missing (test bed packages, guest kernel, module,
# tools, the Debian root of scripts/rootfs-build.sh: a few minutes on the
# first run, cached after), boots the guest, shows its table live, and
# leaves in output/demo/ the console log, the reference's CSV, a summary
# and a plot of the true offset and the frequency against time.
#
#   DEMO_STEER=livepatch|clocksource  backend (default: the module's own)
#   DEMO_LEAD=SECONDS                 guest clock starts this long before
#                                     the leap (default 30)
#
# Exit status 0 when the clock came within 100 us and 23:59:60 was seen.
# Ctrl-C stops the guest.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/output/demo
p=$out/payload
tools=$top/build/tools
make=${MAKE:-make}

# The shell runs this once the guest has gone: QEMU, in the same process
# group, gets the terminal's SIGINT itself.
trap 'echo; echo "demo: stopped, the guest is gone (output so far in $out)"; exit 130' INT TERM

echo "### 1/6  setting up: test bed, module, CLI, reference clock, Debian root"
"$top/scripts/testbed-setup.sh" 6.1 | sed 's/^/  /'
$make -s -C "$top" module tools >/dev/null
rootfs=$("$top/scripts/rootfs-build.sh")
rm -rf "$out"
mkdir -p "$p"
cp "$top/ntpdisc.ko" "$tools/ntpdisc" "$tools/ntpdisc-refclock" \
	"$tools/libntpdisc-preload.so" "$p/"
{
	echo '#!/bin/sh'
	[ -z "${DEMO_STEER:-}" ] || echo "export DEMO_STEER=$DEMO_STEER"
	[ -z "${DEMO_LEAD:-}" ] || echo "export DEMO_LEAD=$DEMO_LEAD"
	echo 'exec /bin/sh /payload/demo-guest.sh'
} >"$p/run.sh"
cp "$top/scripts/demo-guest.sh" "$top/scripts/rootfs-guest.sh" "$p/"

echo "### 2/6  booting the guest (QEMU, software emulation)"
rc=0
"$top/scripts/guest-run.sh" --mem 2G --timeout 600 --rootfs "$rootfs" \
	--log "$out/console.log" "$p" |
	sed -u -n -e '/^DEMO-FILE-BEGIN/,/^DEMO-FILE-END/d' \
		-e '/^GUEST-DMESG-BEGIN/,/^GUEST-DMESG-END/d' \
		-e '/^\[ *[0-9.]*\]/d' -e '/^SeaBIOS\|^Booting from/d' -e 'p' ||
	rc=$?
sed -n '/^DEMO-FILE-BEGIN demo.csv$/,/^DEMO-FILE-END$/p' "$out/console.log" |
	sed '1d;$d' >"$out/demo.csv"
rm -rf "$p"
if [ "$(wc -l <"$out/demo.csv")" -lt 2 ]; then
	echo "demo: the guest left no measurements (see $out/console.log)"
	exit 1
fi

# Summary from the reference's own measurements: when the true error
# fell below 100 us for good (before the leap), how large it stayed, and
# the states the discipline went through.
echo
awk -F, -v lim=100000 '
NR == 1 { next }
{ e = $2 < 0 ? -$2 : $2; t[NR] = $1; a[NR] = e; s[NR] = $3; f[NR] = $7; n = NR }
$3 == "TIME_OOP" && !oop { oop = $1 }
END {
	for (i = 2; i <= n && s[i] != "TIME_OOP"; i++)
		if (a[i] >= lim) bad = i
	conv = bad ? bad + 1 : 2
	if (conv <= n && s[conv] != "TIME_OOP") {
		w = 0
		for (i = conv; i <= n; i++)
			if (a[i] > w) w = a[i]
		printf "demo: the true error fell below 100 us for good %.1f s after chronyd started; largest after that %.1f us, leap second included\n", t[conv], w / 1000
	} else {
		printf "demo: FAILED: the true error never stayed below 100 us\n"
		failed = 1
	}
	printf "demo: frequency correction at the end %+.3f ppm (the clock is 80 ppm fast)\n", f[n]
	last = ""
	for (i = 2; i <= n; i++)
		if (s[i] != last) { seq = seq (seq ? " -> " : "") s[i]; last = s[i] }
	printf "demo: discipline states: %s\n", seq
	if (oop) {
		printf "demo: 23:59:60 began %.2f s after chronyd started\n", oop
	} else {
		printf "demo: FAILED: no leap second (TIME_OOP) was seen\n"
		failed = 1
	}
	exit failed
}' "$out/demo.csv" | tee "$out/summary.txt"
grep -q FAILED "$out/summary.txt" && rc=1

oop=$(awk -F, '$3 == "TIME_OOP" { print $1; exit }' "$out/demo.csv")
gnuplot -e "in='$out/demo.csv'; out='$out/demo.png'; oop=${oop:--1}" \
	"$top/scripts/demo-plot.gp"
echo "demo: output in $out/: summary.txt, demo.png (the plot), demo.csv, console.log"
exit "$rc"
