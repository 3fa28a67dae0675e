#!/bin/sh
# Boot Debian's kernel under QEMU (TCG) with a busybox initramfs and run
# PAYLOAD_DIR/run.sh as root inside it.
#
# The guest's /init mounts proc, sys, devtmpfs (so /dev/ntpdisc appears on
# its own), waits for the final clocksource, runs "sh ./run.sh" in
# /payload, prints "GUEST-EXIT: <status>" and the kernel log between
# GUEST-DMESG-BEGIN/END markers, and powers off.
#
# Exit status: 0 only if run.sh exited 0, the guest got that far, and its
# kernel log holds no WARN/BUG/Oops-style report.
set -eu

usage() {
	cat >&2 <<EOF
usage: $0 [--smp N] [--mem SIZE] [--timeout SECS] [--log FILE]
          [--append KERNEL_ARGS] [--rootfs FILE] [--device DEV]...
          [--shell] PAYLOAD_DIR
  --smp N         guest CPUs (default 2)
  --mem SIZE      guest memory (default 1G)
  --timeout SECS  kill the guest after SECS seconds (default 300)
  --log FILE      also write the console log to FILE
  --append ARGS   extra kernel command line
  --rootfs FILE   prebuilt cpio.gz appended to the initramfs as it is
                  (e.g. scripts/rootfs-build.sh's Debian root at /rootfs)
  --device DEV    extra QEMU -device DEV (may be repeated; none by default)
  --shell         interactive shell after run.sh (console on this tty)
KVER selects the guest kernel (default: scripts/guest-kver.sh).
EOF
	exit 2
}

smp=2 mem=1G timeout=300 log= append= shell= rootfs= devices=
while [ $# -gt 0 ]; do
	case $1 in
	--smp) smp=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--log) log=$2; shift 2 ;;
	--append) append=$2; shift 2 ;;
	--rootfs) rootfs=$2; shift 2 ;;
	--device) devices="$devices -device $2"; shift 2 ;;
	--shell) shell=1; shift ;;
	-h|--help) usage ;;
	-*) usage ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || usage
payload=$1
[ -f "$payload/run.sh" ] || { echo "guest-run: $payload/run.sh missing" >&2; exit 2; }
[ -z "$rootfs" ] || [ -f "$rootfs" ] || { echo "guest-run: $rootfs missing" >&2; exit 2; }

top=$(cd "$(dirname "$0")/.." && pwd)
kver=$("$top/scripts/guest-kver.sh")
# Prefer the unpacked vmlinux (PVH entry, no in-guest decompression).
kernel=$top/.cache/kernel/$kver/vmlinux
[ -f "$kernel" ] || kernel=$top/.cache/kernel/$kver/boot/vmlinuz-$kver
[ -f "$kernel" ] || { echo "guest-run: no $kernel; run scripts/testbed-setup.sh" >&2; exit 2; }

# The busybox part of the initramfs never changes between runs: build it
# once, and append the payload as a second cpio archive each time.
base=$top/.cache/initramfs/base-$kver.cpio.gz
busybox=$(command -v busybox || echo /bin/busybox)
if [ ! -f "$base" ] || [ "$0" -nt "$base" ] || [ "$busybox" -nt "$base" ]; then
	echo "guest-run: building $base"
	# Per-process names: two runs may rebuild at once.
	root=$base.$$.root
	rm -rf "$root"
	mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin" \
		"$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/run" \
		"$root/root" "$root/etc" "$root/payload" "$root/lib/modules/$kver"
	cp "$busybox" "$root/bin/busybox"
	# Host-side equivalent of "busybox --install -s": no /proc needed.
	for a in $("$busybox" --list-full); do
		[ -e "$root/$a" ] || ln -s /bin/busybox "$root/$a"
	done
	# The kernel opens /dev/console before /init runs; devtmpfs is not
	# mounted yet then, so the node must be in the archive.
	mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true
	echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
	echo "root:x:0:" >"$root/etc/group"
	cat >"$root/init" <<'EOF'
#!/bin/sh
# PID 1 of the test guest.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
exec </dev/console >/dev/console 2>&1
hostname guest
# The firmware banner lacks a final newline.
echo

# Tests must not start on tsc-early: the switch to the final clocksource
# happens about a second into boot and would show up as a time step.
cs=/sys/devices/system/clocksource/clocksource0
i=0
while [ "$(cat $cs/current_clocksource)" = tsc-early ] && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
echo "GUEST-CLOCKSOURCE: $(cat $cs/current_clocksource)" \
	"(available: $(cat $cs/available_clocksource))"
echo "GUEST-UPTIME: $(cut -d' ' -f1 /proc/uptime) s at payload start"

cd /payload
sh ./run.sh
echo "GUEST-EXIT: $?"
echo "GUEST-UPTIME: $(cut -d' ' -f1 /proc/uptime) s at payload end"
grep -qw testbed.shell=1 /proc/cmdline && setsid cttyhack sh -l
echo GUEST-DMESG-BEGIN
dmesg
echo GUEST-DMESG-END
poweroff -f
EOF
	chmod 755 "$root/init"
	mkdir -p "$(dirname "$base")"
	(cd "$root" && find . | sort | cpio -o -H newc -R 0:0 --quiet) |
		gzip -1 >"$base.$$"
	# The kernel only looks for an uncompressed cpio (the payload) at a
	# 4-byte aligned offset; zero padding between archives is skipped.
	pad=$(( (4 - $(stat -c %s "$base.$$") % 4) % 4 ))
	head -c "$pad" /dev/zero >>"$base.$$"
	mv "$base.$$" "$base"
	rm -rf "$root"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
mkdir "$tmp/stage"
cp -a "$payload" "$tmp/stage/payload"
(cd "$tmp/stage" && find . | cpio -o -H newc -R 0:0 --quiet) >"$tmp/payload.cpio"
# A prebuilt archive goes between the two unchanged, so a big root file
# system is not copied and re-archived on every run.  It must end 4-byte
# aligned, as the base does.
cat "$base" ${rootfs:+"$rootfs"} "$tmp/payload.cpio" >"$tmp/initrd"

# loglevel=4: only errors reach the console live (a crash still shows);
# the whole log comes from the dmesg dump at the end.
cmdline="console=ttyS0 tsc=reliable panic=-1 loglevel=4"
[ -z "$shell" ] || cmdline="$cmdline testbed.shell=1"
[ -z "$append" ] || cmdline="$cmdline $append"

# trixie's QEMU when the test bed has it (scripts/testbed-setup.sh says why).
qemu=$top/.cache/bin/qemu-system-x86_64
[ -x "$qemu" ] || qemu=qemu-system-x86_64
set -- "$qemu" -accel tcg -cpu max -smp "$smp" -m "$mem" \
	-nographic -nodefaults -no-reboot -serial stdio \
	-kernel "$kernel" -initrd "$tmp/initrd" -append "$cmdline"
# Word splitting wanted: DEV is a QEMU device spec, without blanks.
# shellcheck disable=SC2086
[ -z "$devices" ] || set -- "$@" $devices

start=$(date +%s)
if [ -n "$shell" ]; then
	"$@" || true
	exit 0
fi
# Serial output has CRLF line ends, and the firmware resets and clears the
# terminal: strip both so logs grep cleanly and the tty survives.
esc=$(printf '\033')
# --foreground keeps QEMU in our process group, so that a terminal's Ctrl-C
# (or a kill of the group) stops the guest too, not only this script.
{
	qrc=0
	timeout --foreground -k 5 "$timeout" "$@" </dev/null 2>&1 || qrc=$?
	echo $qrc >"$tmp/qemu.rc"
} | sed -u "s/\r\$//; s/$esc\[[0-9;?]*[A-Za-z]//g; s/${esc}c//g" | tee "$tmp/log"
end=$(date +%s)
[ -z "$log" ] || cp "$tmp/log" "$log"

fail=
qrc=$(cat "$tmp/qemu.rc")
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	echo "guest-run: FAIL: timed out after ${timeout}s, guest killed"
	fail=1
fi

rc=$(sed -n 's/.*GUEST-EXIT: \([0-9]*\)$/\1/p' "$tmp/log" | tail -n1)
if [ -z "$rc" ]; then
	echo "guest-run: FAIL: no GUEST-EXIT marker (guest crashed or hung)"
	fail=1
elif [ "$rc" != 0 ]; then
	echo "guest-run: FAIL: run.sh exited $rc"
	fail=1
fi

# Kernel reports that mean a bug, whatever the payload said.  The taint
# notes from insmod of an unsigned out-of-tree module are expected.
splat='WARNING:|BUG:|BUG at|Oops|general protection|Call Trace|RIP:|Kernel panic|KASAN|UBSAN|lockdep|INFO: task .* blocked|rcu: INFO|self-detected stall|soft lockup|hard LOCKUP|invalid opcode|corruption'
if grep -q '^GUEST-DMESG-END$' "$tmp/log"; then
	sed -n '/^GUEST-DMESG-BEGIN$/,/^GUEST-DMESG-END$/p' "$tmp/log" >"$tmp/dmesg"
else
	# No clean dump: the live console (errors only) is all there is.
	cp "$tmp/log" "$tmp/dmesg"
fi
if grep -Eq "$splat" "$tmp/dmesg"; then
	echo "guest-run: FAIL: kernel reported problems:"
	grep -E "$splat" "$tmp/dmesg" | sed 's/^/guest-run:   /'
	fail=1
fi

boot=$(sed -n 's/^GUEST-UPTIME: \([0-9.]*\) s at payload start$/\1/p' "$tmp/log")
echo "guest-run: boot to payload ${boot:-?} s (guest uptime), wall $((end - start)) s"
[ -z "$fail" ] || exit 1
echo "guest-run: PASS"
