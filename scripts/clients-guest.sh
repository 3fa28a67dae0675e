#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest side of scripts/clients-run.sh: Debian's unmodified time daemons and
# tools on ntpdisc, run from the Debian root at /rootfs (see
# scripts/rootfs-build.sh), against ntpdisc-refclock's reference time.
#
#   clients-guest.sh STEER TEST...      STEER livepatch|clocksource
#                                       TEST chrony ntpd tools phc2sys
#
# Prints one TAP line per check and the CSV logs between
# CLIENTS-FILE-BEGIN/END markers for the host to keep.  Environment:
# CHRONY_SECS, NTPD_SECS (guest seconds per daemon run), OFFSET_MS, PPM.
set -u

steer=$1
shift
R=/rootfs
P=/payload
OFFSET_MS=${OFFSET_MS:-50}
PPM=${PPM:-80}
CHRONY_SECS=${CHRONY_SECS:-150}
NTPD_SECS=${NTPD_SECS:-480}
PHC2SYS_SECS=${PHC2SYS_SECS:-120}
# The discipline's clock must stay this close to true time once converged.
LIMIT_NS=100000
# ...for at least this long (s) before the run ends, to count as converged.
HOLD_S=60

# rootfs_mount, device_for, in_root, tap.
# shellcheck source=scripts/rootfs-guest.sh
. $P/rootfs-guest.sh

check() {
	# check DESCRIPTION COMMAND...: ok when the command succeeds.
	d=$1
	shift
	if "$@"; then tap ok "$d"; else tap fail "$d"; fi
}
dump() {
	echo "CLIENTS-FILE-BEGIN $2"
	cat "$1"
	echo "CLIENTS-FILE-END"
}
status_json() {
	$P/ntpdisc --json status
}
jfield() {
	# jfield JSON NAME: one field of ntpdisc --json status.
	echo "$1" | sed -n -e "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p;t" \
		-e "s/.*\"$2\":\([^,}]*\).*/\1/p"
}

# converged CSV LIMIT_NS: "T WORST N" where T is the elapsed time from
# which |true error| stays below LIMIT_NS to the end, WORST the largest
# |error| after T and N the samples after T; "none" if the last sample is
# out of bounds.
converged() {
	awk -F, -v lim="$2" '
	NR == 1 { next }
	{ e = $2 < 0 ? -$2 : $2; t[NR] = $1; a[NR] = e; last = NR }
	e >= lim { bad = NR }
	END {
		if (bad == last || last == 0) { print "none"; exit }
		s = bad ? bad + 1 : 2
		w = 0
		for (i = s; i <= last; i++) if (a[i] > w) w = a[i]
		printf "%s %d %d %s\n", t[s], w, last - s + 1, t[last]
	}' "$1"
}

setup() {
	insmod_args="steer=$steer"
	[ "$steer" = clocksource ] &&
		insmod_args="$insmod_args testonly_ignore_tsc_invariance=1"
	# shellcheck disable=SC2086
	$P/ntpdisc load $P/ntpdisc.ko $insmod_args || return 1
	echo "# clocksource: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
	rootfs_mount
}

# The reference, started before the daemon so that its "initial offset"
# is the clock's own.  Args: extra refclock options.
start_ref() {
	name=$1
	shift
	$P/ntpdisc-refclock -o "$OFFSET_MS" -f "$PPM" -r 4 -p 10 \
		-l $P/out/$name.csv "$@" &
	ref_pid=$!
	sleep 0.3
}
stop_ref() {
	kill "$ref_pid" 2>/dev/null
	wait "$ref_pid" 2>/dev/null
}

run_chrony() {
	cat >$P/out/chrony.conf <<EOF
# Debian's chrony.conf, with the reference instead of the pool, no drift
# file (start from nothing) and no NTP or command port on the network.
refclock SOCK /run/chrony.ref.sock refid REF poll 0 precision 1e-7
makestep 1 3
rtcsync
leapsectz right/UTC
maxupdateskew 100.0
logdir /var/log/chrony
port 0
cmdport 0
EOF
	start_ref chrony-$steer -s $R/run/chrony.ref.sock
	device_for _chrony
	# Debian's DAEMON_OPTS="-F 1": the seccomp filter as Debian runs it.
	in_root /usr/sbin/chronyd -F 1 -f /payload/out/chrony.conf
	sleep 2
	pid=$(cat $R/run/chrony/chronyd.pid 2>/dev/null)
	check "chronyd $steer started with -F 1 (pid ${pid:-none})" \
		[ -d /proc/"${pid:-none}" ]
	sleep "$CHRONY_SECS"

	alive=no
	[ -n "$pid" ] && [ -d /proc/"$pid" ] && alive=yes
	check "chronyd $steer still running after ${CHRONY_SECS} s (seccomp -F 1)" \
		[ "$alive" = yes ]
	tr=$(chroot $R /usr/bin/chronyc -c tracking 2>&1)
	last=$(tail -n1 $P/out/chrony-$steer.csv)
	js=$(status_json)
	chroot $R /usr/bin/chronyc tracking
	$P/ntpdisc status
	[ -n "$pid" ] && kill "$pid"
	stop_ref
	echo "# chronyc -c tracking: $tr"
	echo "# refclock last: $last"
	echo "# ntpdisc: $js"

	# shellcheck disable=SC2046 # four words wanted
	set -- $(converged $P/out/chrony-$steer.csv $LIMIT_NS)
	if [ "$1" = none ]; then
		tap fail "chronyd $steer: true error not below 100 us at the end"
	else
		hold=$(awk -v a="$1" -v b="$4" 'BEGIN { printf "%d", b - a }')
		d="chronyd $steer converged in $1 s (|true error| < 100 us for the last $hold s, $3 samples, worst $(($2 / 1000)) us)"
		if [ "$hold" -ge $HOLD_S ]; then tap ok "$d"; else tap fail "$d"; fi
	fi

	# chronyc -c tracking: field 5 is the system clock's offset from true
	# time, 8 its frequency error (both signed: positive is fast, as the
	# reference's error; the text form says "fast" or "slow" instead).
	sys=$(echo "$tr" | cut -d, -f5)
	frq=$(echo "$tr" | cut -d, -f8)
	err=$(echo "$last" | cut -d, -f2)
	agree=$(awk -v s="$sys" -v e="$err" 'BEGIN {
		d = e / 1e9 - s; printf "%.1f", (d < 0 ? -d : d) * 1e6 }')
	check "chronyd $steer: chronyc's system time offset ($sys s) agrees with the reference's (${err} ns) within 20 us (|diff| $agree us)" \
		awk -v a="$agree" 'BEGIN { exit !(a < 20) }'
	check "chronyd $steer: chronyc's frequency ($frq ppm) is the clock's configured error (+$PPM ppm) within 2 ppm" \
		awk -v f="$frq" -v p="$PPM" 'BEGIN { d = f - p; exit !(d < 2 && d > -2) }'

	# What chronyd set: tick + freq as its correction (no kernel PLL),
	# sync status cleared through rtcsync.
	eff=$(echo "$last" | cut -d, -f7)
	check "chronyd $steer: ntpdisc's tick+freq ($eff ppm) is chronyd's correction (-$frq ppm) within 3 ppm" \
		awk -v e="$eff" -v f="$frq" 'BEGIN { d = e + f; exit !(d < 3 && d > -3) }'
	bits=$(jfield "$js" status_bits)
	[ -n "$bits" ] || bits="(none)"
	check "chronyd $steer: ntpdisc status $bits: no PLL (chronyd never uses it), synchronised (rtcsync)" \
		sh -c "echo '$bits' | grep -qv -e PLL -e UNSYNC"
	check "chronyd $steer: ntpdisc state $(jfield "$js" state_name)" \
		[ "$(jfield "$js" state_name)" = TIME_OK ]
	dump $P/out/chrony-$steer.csv chrony-$steer.csv
}

run_ntpd() {
	# A drift file of 0 ppm, as on a machine whose clock has never been
	# measured.  With a drift file or without, ntpd first slews with
	# adjtime() (at most 500 ppm) for its 300 s start-up clamp and only
	# then hands offsets to the kernel PLL; "tinker stepout 30" did not
	# shorten that here, so the run lasts long enough to see both.
	echo 0.000 >$R/tmp/ntp.drift
	chmod 666 $R/tmp/ntp.drift
	mkdir -p $P/out/ntpstats
	chmod 777 $P/out/ntpstats
	cat >$P/out/ntp.conf <<EOF
# The reference through the SHM driver, polled every second so that the
# kernel PLL (time constant = poll exponent, 0) converges within minutes.
# One source only: minsane 1.
refclock shm unit 0 refid REF minpoll 0 maxpoll 0 prefer
tos minsane 1 minclock 1
driftfile /tmp/ntp.drift
logconfig =all
statsdir /payload/out/ntpstats/
statistics loopstats peerstats
filegen loopstats file loopstats type none enable
filegen peerstats file peerstats type none enable
EOF
	start_ref ntpd-$steer -m 0
	device_for ntpsec
	# Debian's ntp-systemd-wrapper runs "ntpd -g -N -u ntpsec:ntpsec".
	in_root /usr/sbin/ntpd -g -N -u ntpsec:ntpsec -c /payload/out/ntp.conf \
		-p /run/ntpd.pid -l /payload/out/ntpd.log
	sleep 2
	pid=$(cat $R/run/ntpd.pid 2>/dev/null)
	check "ntpd $steer started (pid ${pid:-none})" \
		[ -d /proc/"${pid:-none}" ]
	sleep "$NTPD_SECS"
	last=$(tail -n1 $P/out/ntpd-$steer.csv)
	js=$(status_json)
	$P/ntpdisc status
	chroot $R /usr/sbin/ntptime 2>/dev/null | head -n 20
	[ -n "$pid" ] && kill "$pid"
	stop_ref
	echo "# refclock last: $last"
	echo "# ntpdisc: $js"
	sed -n 's/^/# ntpd.log: /p' $P/out/ntpd.log | tail -n 40
	sed -n 's/^/# loopstats: /p' $P/out/ntpstats/loopstats | tail -n 40
	sed -n 's/^/# peerstats: /p' $P/out/ntpstats/peerstats | tail -n 10

	# shellcheck disable=SC2046 # four words wanted
	set -- $(converged $P/out/ntpd-$steer.csv $LIMIT_NS)
	if [ "$1" = none ]; then
		tap fail "ntpd $steer: true error not below 100 us at the end"
	else
		hold=$(awk -v a="$1" -v b="$4" 'BEGIN { printf "%d", b - a }')
		d="ntpd $steer converged in $1 s (|true error| < 100 us for the last $hold s, $3 samples, worst $(($2 / 1000)) us)"
		if [ "$hold" -ge 30 ]; then tap ok "$d"; else tap fail "$d"; fi
	fi
	bits=$(jfield "$js" status_bits)
	# NANO: ntpd's kernel-loop calls (MOD_NANO) reached ntpdisc.
	check "ntpd $steer: ntpdisc status $bits has PLL and NANO (ntpd's kernel loop) and is synchronised" \
		sh -c "echo '$bits' | grep -q PLL && echo '$bits' | grep -q NANO && ! echo '$bits' | grep -q UNSYNC"
	check "ntpd $steer: ntpdisc time constant $(jfield "$js" constant) is ntpd's poll exponent (0)" \
		[ "$(jfield "$js" constant)" = 0 ]
	# ntpd may move whole 100 ppm steps into the tick (tick 9999 with
	# freq +20 ppm is -80 ppm): the correction is tick and freq together,
	# as the reference logs it.
	eff=$(echo "$last" | cut -d, -f7)
	check "ntpd $steer: ntpdisc's tick+freq ($eff ppm) corrects the clock's +$PPM ppm within 5 ppm" \
		awk -v e="$eff" -v p="$PPM" 'BEGIN { d = e + p; exit !(d < 5 && d > -5) }'
	dump $P/out/ntpd-$steer.csv ntpd-$steer.csv
}

run_tools() {
	# A state with every field set and none moving (no PLL offset).
	# A PLL offset left by an earlier daemon keeps moving each second:
	# clear it (ADJ_OFFSET only acts with STA_PLL), then switch the PLL off.
	$P/ntpdisc set status +PLL,+NANO offset 0 >/dev/null
	# maxerror well below 16 s: the once-a-second update would otherwise
	# set STA_UNSYNC between two tools' readings.
	$P/ntpdisc set freq 12.5 tick 10001 constant 3 status +INS,-UNSYNC,-PLL \
		esterror 4321 maxerror 100000
	# STA_INS turns TIME_OK into TIME_INS at the next second: read after it.
	sleep 1.5
	js=$(status_json)
	ax=$(in_root /usr/sbin/adjtimex -p 2>&1)
	nt=$(in_root /usr/sbin/ntptime 2>&1)
	$P/ntpdisc status
	echo "$ax" | sed 's/^/# adjtimex -p: /'
	echo "$nt" | sed 's/^/# ntptime: /'
	s=$(jfield "$js" status)
	f=$(jfield "$js" freq)
	c=$(jfield "$js" constant)
	t=$(jfield "$js" tick)
	o=$(jfield "$js" offset)
	e=$(jfield "$js" esterror)
	axv() { echo "$ax" | sed -n "s/^ *$1: *\([-0-9]*\).*/\1/p"; }
	check "adjtimex -p $steer: status $(axv status) = ntpdisc's $s" [ "$(axv status)" = "$s" ]
	check "adjtimex -p $steer: frequency $(axv frequency) = ntpdisc's $f" [ "$(axv frequency)" = "$f" ]
	check "adjtimex -p $steer: time_constant $(axv time_constant) = ntpdisc's $c" [ "$(axv time_constant)" = "$c" ]
	check "adjtimex -p $steer: tick $(axv tick) = ntpdisc's $t" [ "$(axv tick)" = "$t" ]
	check "adjtimex -p $steer: offset $(axv offset) = ntpdisc's $o" [ "$(axv offset)" = "$o" ]
	check "adjtimex -p $steer: esterror $(axv esterror) = ntpdisc's $e" [ "$(axv esterror)" = "$e" ]
	# ntptime: "status 0x2011 (PLL,...)", "frequency 12.500 ppm",
	# "time constant 3", "returns code 1 (INS)".
	nst=$(echo "$nt" | sed -n 's/.*status \(0x[0-9a-f]*\).*/\1/p' | head -n1)
	nfq=$(echo "$nt" | sed -n 's/.*frequency \([-0-9.]*\) ppm.*/\1/p' | head -n1)
	ntc=$(echo "$nt" | sed -n 's/.*time constant \([0-9]*\).*/\1/p' | head -n1)
	ncode=$(echo "$nt" | sed -n 's/.*ntp_adjtime() returns code [0-9]* (\([A-Z]*\)).*/\1/p')
	check "ntptime $steer: status $nst = ntpdisc's $s" \
		[ "$(printf '%d' "${nst:-0x-1}" 2>/dev/null)" = "$s" ]
	check "ntptime $steer: frequency $nfq ppm = ntpdisc's $(jfield "$js" freq_ppm)" \
		awk -v a="$nfq" -v b="$(jfield "$js" freq_ppm)" 'BEGIN { d = a - b; exit !(a != "" && d < 0.001 && d > -0.001) }'
	check "ntptime $steer: time constant $ntc = ntpdisc's $c" [ "$ntc" = "$c" ]
	check "ntptime $steer: state $ncode matches ntpdisc's $(jfield "$js" state_name)" \
		sh -c "echo '$(jfield "$js" state_name)' | grep -q 'TIME_$ncode\$'"
	$P/ntpdisc leap cancel >/dev/null 2>&1
	$P/ntpdisc set freq 0 tick 10000 status +UNSYNC >/dev/null
}

# phc2sys -s DEV onto the system clock in the background, as $pid (in_root
# would leave a subshell there, and phc2sys running after the kill).
phc2sys_bg() {
	pre=
	[ "$steer" = clocksource ] &&
		pre="/usr/bin/env LD_PRELOAD=/payload/libntpdisc-preload.so"
	# shellcheck disable=SC2086 # pre is a command and its argument
	chroot $R $pre /usr/sbin/phc2sys -s "$1" -c CLOCK_REALTIME -O 0 -m -q \
		-R 4 2>&1 &
	pid=$!
}

# A PTP clock ticks if its time moved by about the seconds slept.
phc_ticks() {
	a=$(chroot $R /usr/sbin/phc_ctl "$1" get 2>&1 |
		sed -n 's/.*clock time is \([0-9.]*\) .*/\1/p')
	sleep 2
	b=$(chroot $R /usr/sbin/phc_ctl "$1" get 2>&1 |
		sed -n 's/.*clock time is \([0-9.]*\) .*/\1/p')
	echo "# $1 ($(cat /sys/class/ptp/"${1#/dev/}"/clock_name 2>/dev/null)): $a, 2 s later $b"
	awk -v a="${a:-0}" -v b="${b:-0}" 'BEGIN { d = b - a; exit !(d > 1.5 && d < 2.5) }'
}

# phc2sys -s PHC -c CLOCK_REALTIME until its offset stays below 100 us.
phc2sys_converge() {
	dev=$1
	in_root /usr/sbin/phc_ctl "$dev" set >/dev/null
	phc2sys_bg "$dev" >$P/out/phc2sys-$steer.log
	sleep "$PHC2SYS_SECS"
	kill "$pid"
	wait "$pid" 2>/dev/null
	js=$(status_json)
	sed 's/^/# phc2sys: /' $P/out/phc2sys-$steer.log | tail -n 20
	echo "# ntpdisc: $js"
	# "phc2sys[T]: CLOCK_REALTIME phc offset X s2 freq F delay D"
	last=$(awk '/ offset .* s2 freq / {
		for (i = 1; i < NF; i++) if ($i == "offset") o = $(i + 1)
		o = o < 0 ? -o : o
		n = o < 100000 ? n + 1 : 0 } END { print n + 0 }' \
		$P/out/phc2sys-$steer.log)
	check "phc2sys $steer on $dev: the last $last offsets below 100 us (at least 40)" \
		[ "$last" -ge 40 ]
	bits=$(jfield "$js" status_bits)
	check "phc2sys $steer: ntpdisc status ${bits:-(none)}: no PLL, synchronised" \
		sh -c "echo '$bits' | grep -qv -e PLL -e UNSYNC"
}

# phc2sys itself on a PTP clock that does not tick: the system clock runs
# ahead of it for ever, so after its servo's jump phc2sys holds the
# frequency at its limit, -10 % (ppb +100000000 in its log), which
# clockadj.c puts whole into the tick.  The daemon's own requests reach
# ntpdisc through this backend: tick 9000, freq 0, and sysclk_set_sync()
# clears STA_UNSYNC.
phc2sys_frozen() {
	dev=$1
	log=$P/out/phc2sys-frozen-$steer.log
	phc2sys_bg "$dev" >"$log"
	sleep 8
	js=$(status_json)
	kill "$pid"
	wait "$pid" 2>/dev/null
	sed 's/^/# phc2sys: /' "$log" | tail -n 4
	echo "# ntpdisc: $js"
	s2=$(grep -c ' s2 freq +100000000 ' "$log")
	t=$(jfield "$js" tick)
	f=$(jfield "$js" freq)
	check "phc2sys $steer on the frozen $dev: $s2 samples at its limit (at least 5), ntpdisc tick $t, freq $f (9000, 0)" \
		sh -c "[ '$s2' -ge 5 ] && [ '$t/$f' = 9000/0 ]"
	bits=$(jfield "$js" status_bits)
	check "phc2sys $steer on the frozen $dev: ntpdisc status ${bits:-(none)}: no PLL, synchronised (sysclk_set_sync)" \
		sh -c "echo '$bits' | grep -qv -e PLL -e UNSYNC"
	$P/ntpdisc set freq 0 tick 10000 >/dev/null
}

# phc_ctl's freq and adj run linuxptp's clockadj.c, the code phc2sys
# adjusts CLOCK_REALTIME with: ADJ_FREQUENCY with ADJ_TICK, and
# ADJ_SETOFFSET|ADJ_NANO.  Its sysclk_set_leap() and sysclk_set_sync()
# have no phc_ctl command: the CLI makes those (ADJ_STATUS with the status
# given whole, and ADJ_STATUS|ADJ_MAXERROR of 0).
# phc_sta [BIT]: every writable status bit cleared but BIT (INS or DEL).
phc_sta() {
	echo -PLL,-PPSFREQ,-PPSTIME,-FLL,-INS,-DEL,-UNSYNC,-FREQHOLD |
		sed "s/-${1:-none}/+${1:-none}/"
}
phc_kernel() {
	case $1 in
	freq|adj) chroot $R /usr/sbin/phc_ctl -q CLOCK_REALTIME -- "$@" >/dev/null ;;
	leap) $P/ntpdisc --kernel set status "$(phc_sta "${2:-}")" >/dev/null ;;
	sync) $P/ntpdisc --kernel set status "$(phc_sta "${2:-}")" maxerror 0 >/dev/null ;;
	esac
}
# The same request to ntpdisc: with the clocksource backend phc_ctl
# through the preload library, as a daemon reaches it; with livepatch
# (the payload has no preload library then) the CLI's ioctl with the
# timex clockadj.c builds: the tick takes whole 100 ppm steps (USER_HZ
# 100), freq the rest, truncated to scaled ppm.
phc_ntpdisc() {
	case $1 in
	freq|adj)
		if [ "$steer" = clocksource ]; then
			chroot $R /usr/bin/env LD_PRELOAD=/payload/libntpdisc-preload.so \
				/usr/sbin/phc_ctl -q CLOCK_REALTIME -- "$@" >/dev/null
		elif [ "$1" = adj ]; then
			$P/ntpdisc step "$2" >/dev/null
		else
			# shellcheck disable=SC2046 # two words wanted
			set -- $(awk -v p="$2" 'BEGIN {
				t = p / 1e5; t = t < 0 ? -int(-t + 0.5) : int(t + 0.5)
				f = int((p - 1e5 * t) * 65.536)
				printf "%d %.16f\n", 10000 + t, f / 65536 }')
			$P/ntpdisc set tick "$1" freq "$2" >/dev/null
		fi ;;
	leap) $P/ntpdisc set status "$(phc_sta "${2:-}")" >/dev/null ;;
	sync) $P/ntpdisc set status "$(phc_sta "${2:-}")" maxerror 0 >/dev/null ;;
	esac
}
# Start a round about 0.05 s into a second, so that the kernel's and
# ntpdisc's calls and readings fall in one second.
phc_align() {
	ns=$(chroot $R /bin/date +%N)
	sleep "$(awk -v n="$ns" 'BEGIN { printf "%.3f", 1.05 - n / 1e9 }')"
}
phc_state() {
	$P/ntpdisc "$@" --json status |
		sed 's/"source":"[a-z]*",//; s/"steer":"[^"]*",//; s/,"time_sec".*}/}/'
}
# phc_call CALL: one CALL ("freq -80000", "sync INS", ...) to the kernel
# and then to ntpdisc, both states read in the same second of
# CLOCK_REALTIME into $k and $d.  A call whose pair crossed a second (a
# per-second update between the two sides) is made again, up to 5 times:
# every call but adj is idempotent, and adj clears the discipline on both
# sides whatever the step.
phc_call() {
	try=0
	while :; do
		phc_align
		t0=$(date +%s)
		# shellcheck disable=SC2086 # CALL is words
		phc_kernel $1
		# shellcheck disable=SC2086
		phc_ntpdisc $1
		k=$(phc_state --kernel)
		d=$(phc_state)
		t1=$(date +%s)
		try=$((try + 1))
		[ "$t0" != "$t1" ] && [ $try -lt 5 ] || break
	done
	[ $try = 1 ] || echo "# $1: made $try times (a second passed in between)"
	[ "$t0" = "$t1" ] || echo "# $1: still crossing a second after $try tries"
}
# phc_round DESC CALL...: the calls one by one, the states compared whole
# but for the time after each; with no call, the states only.
phc_round() {
	desc=$1
	shift
	bad=
	[ $# -gt 0 ] || { phc_align; k=$(phc_state --kernel); d=$(phc_state); }
	for c in "$@"; do
		phc_call "$c"
		[ "$k" = "$d" ] && continue
		bad=1
		echo "# after $c:"
		echo "# kernel:  $k"
		echo "# ntpdisc: $d"
	done
	if [ -z "$bad" ]; then
		tap ok "phc2sys calls $steer: $desc: ntpdisc = kernel ($(echo "$d" | sed 's/.*"state_name":"\([^"]*\)".*"status_bits":"\([^"]*\)".*"freq":\([-0-9]*\),.*"tick":\([0-9]*\),.*/\1, status \2, freq \3, tick \4/'))"
	else
		tap fail "phc2sys calls $steer: $desc: ntpdisc differs from the kernel"
	fi
}

# What phc2sys (linuxptp 3.1.1) asks of CLOCK_REALTIME, round by round:
# at start clockadj_get_freq, clockadj_set_freq of what it read,
# sysclk_set_leap(0), sysclk_max_freq (tolerance); on its first servo
# jump clockadj_step, then clockadj_set_freq and sysclk_set_sync for every
# locked sample; sysclk_set_leap(+-1) when ptp4l announces a leap.
phc2sys_differential() {
	$P/ntpdisc release >/dev/null || { tap fail "phc2sys calls $steer: ntpdisc release"; return; }
	if ! $P/ntpdisc load $P/ntpdisc.ko steer=none >/dev/null; then
		tap fail "phc2sys calls $steer: ntpdisc load steer=none"
		return
	fi
	# The shadow backend starts from the handed-over state but for the
	# TAI offset (ntpdisc's own, 0): give both sides the kernel's, as a
	# daemon with the leap second table would (chronyd's leapsectz).
	kt=$(jfield "$($P/ntpdisc --kernel --json status)" tai)
	dt=$(jfield "$(status_json)" tai)
	if [ "$kt" != "$dt" ]; then
		echo "# ntpdisc load steer=none left TAI at $dt, the kernel's is $kt: both set to $kt"
		$P/ntpdisc --kernel set tai "$kt" >/dev/null
		$P/ntpdisc set tai "$kt" >/dev/null
	fi
	chroot $R /usr/sbin/phc_ctl -q CLOCK_REALTIME -- freq >/dev/null
	phc_round "start (set_freq 0, set_leap 0)" "freq 0" "leap"
	phc_round "servo jump (step -50 ms, set_freq -80 ppm, set_sync)" \
		"adj -0.05" "freq -80000" "sync"
	phc_round "locked (set_freq -80.123456 ppm, set_sync)" \
		"freq -80123.456" "sync"
	phc_round "locked (set_freq +79.8765 ppm, set_sync)" "freq 79876.5" "sync"
	phc_round "tick rounding at half a step (-150 ppm: tick 9998, +50 ppm)" \
		"freq -150000" "sync"
	phc_round "tick rounding at half a step (+150 ppm)" "freq 150000" "sync"
	phc_round "the 10% the tick allows (-100000 ppm: tick 9000)" \
		"freq -100000000" "sync"
	phc_round "the 10% the tick allows (+100000 ppm: tick 11000)" \
		"freq 100000000" "sync"
	phc_round "a fraction of a ppb (+0.4 ppb)" "freq 0.4" "sync"
	phc_round "leap armed (set_leap +1, set_sync)" "leap INS" "sync INS"
	sleep 1
	phc_round "TIME_INS a second later (set_freq, set_sync)" \
		"freq -80001.7" "sync INS"
	phc_round "leap reversed (set_leap -1, set_sync)" "leap DEL" "sync DEL"
	phc_round "leap cancelled (set_leap 0, set_sync)" "leap" "sync"
	phc_round "servo jump forward (step +20 ms, set_freq, set_sync)" \
		"adj 0.02" "freq -79999.9" "sync"
	sleep 3
	phc_round "3 s on (maxerror growth)"
	$P/ntpdisc release >/dev/null
	$P/ntpdisc set freq 0 tick 10000 status +UNSYNC >/dev/null
	# Back to the backend the other tests run with.
	# shellcheck disable=SC2086
	$P/ntpdisc load $P/ntpdisc.ko $insmod_args >/dev/null ||
		tap fail "phc2sys calls $steer: ntpdisc load $insmod_args again"
}

run_phc2sys() {
	# phc2sys needs a PTP clock independent of ntpdisc as its source.
	# Debian's 6.1 and 6.12 kernels have no software one
	# (CONFIG_PTP_1588_CLOCK_MOCK is not set; ptp_kvm needs KVM, and the
	# guest runs under TCG).  clients-run.sh --nic e1000e gives the guest
	# QEMU's 82574, whose driver registers a PTP clock, but QEMU 7.2 does
	# not run its SYSTIM: the clock reads the same time for ever.
	for m in $P/nic-*.ko; do
		[ -f "$m" ] && insmod "$m" && sleep 1
	done
	phc='' frozen=''
	for d in /dev/ptp*; do
		[ -e "$d" ] || continue
		if phc_ticks "$d"; then
			phc=$d
			break
		fi
		echo "# $d does not tick: not a source for phc2sys"
		frozen=$d
	done

	# The discipline's side of what phc2sys asks, through this backend.
	in_root /usr/sbin/phc_ctl -q CLOCK_REALTIME -- freq -80123.456 >/dev/null
	js=$(status_json)
	rd=$(in_root /usr/sbin/phc_ctl -q CLOCK_REALTIME -- freq 2>&1 |
		sed -n 's/.*frequency offset is \([-0-9.]*\)ppb.*/\1/p')
	check "phc_ctl CLOCK_REALTIME freq -80123.456 ppb $steer: ntpdisc tick $(jfield "$js" tick), freq $(jfield "$js" freq) (9999, 1302629)" \
		[ "$(jfield "$js" tick)/$(jfield "$js" freq)" = 9999/1302629 ]
	check "phc_ctl CLOCK_REALTIME freq $steer reads ${rd:-nothing} ppb back (-80123.456 within 0.01)" \
		awk -v r="${rd:-x}" 'BEGIN { d = r + 80123.456; exit !(r != "x" && d < 0.01 && d > -0.01) }'
	in_root /usr/sbin/phc_ctl -q CLOCK_REALTIME -- freq 0 >/dev/null

	[ -z "$frozen" ] || phc2sys_frozen "$frozen"
	if [ -n "$phc" ]; then
		phc2sys_converge "$phc"
	else
		n=$((n + 1))
		echo "ok $n - phc2sys $steer converges # SKIP no ticking PTP clock in the guest (Debian's kernels lack ptp_mock, ptp_kvm needs KVM, QEMU's e1000e clock does not tick)"
	fi
	phc2sys_differential
}

setup || { echo "not ok 1 - ntpdisc load (steer=$steer)"; echo "1..1"; exit 1; }
for t in "$@"; do
	case $t in
	chrony) run_chrony ;;
	ntpd) run_ntpd ;;
	tools) run_tools ;;
	phc2sys) run_phc2sys ;;
	*) tap fail "unknown test $t" ;;
	esac
done
echo "1..$n"
echo "# clients $steer: $((n - nfail)) passed, $nfail failed"
[ "$nfail" = 0 ]
