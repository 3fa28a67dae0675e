#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Which NTP entry points this kernel has, for the livepatch: the
# prototypes of the functions it replaces, read from the BTF of the
# kernel's vmlinux (the headers package ships a BTF-only one from 6.12
# on; kernel/time/ntp_internal.h, which declares them, it does not). Prints
# one word when every prototype is exactly that of a set ntpdisc knows:
#
#   void        6.12's: no timekeeper id, __do_adjtimex()
#   tkid        7.2's: a timekeeper id first, ntp_adjtimex()
#   tkid-skew   7.3's: and ntp_clear()'s clocksource rounding, and the
#               per-tick skew (ntp_get_skew_delta(), ntp_drain_skew())
#
# and nothing otherwise (no BTF, no pfunct from dwarves, or a kernel whose
# NTP code moved again): then no livepatch is built for it.
#
#   ntp_entry.sh VMLINUX
vmlinux=$1
[ -f "$vmlinux" ] && command -v pfunct >/dev/null || exit 0

proto() {
	pfunct -F btf --prototypes -f "$1" "$vmlinux" 2>/dev/null | head -n1 | tr -s ' '
}
# has NAME PROTOTYPE: the kernel's NAME is exactly that.
has() {
	[ "$(proto "$1")" = "$2" ]
}

txc='struct __kernel_timex * txc, const struct timespec64 * ts, s32 * time_tai, struct audit_ntp_data * ad'
common() {
	has ntp_notify_cmos_timer 'void ntp_notify_cmos_timer(bool offset_set);' &&
		has sync_hw_clock 'void sync_hw_clock(struct work_struct * work);'
}
tkid() {
	has ntp_tick_length 'u64 ntp_tick_length(unsigned int tkid);' &&
		has second_overflow 'int second_overflow(unsigned int tkid, time64_t secs);' &&
		has ntp_adjtimex "int ntp_adjtimex(unsigned int tkid, $txc);" &&
		has ntp_get_next_leap 'ktime_t ntp_get_next_leap(unsigned int tkid);' &&
		common
}

if has ntp_tick_length 'u64 ntp_tick_length(void);' &&
	has second_overflow 'int second_overflow(time64_t secs);' &&
	has __do_adjtimex "int __do_adjtimex($txc);" &&
	has ntp_get_next_leap 'ktime_t ntp_get_next_leap(void);' &&
	has ntp_clear 'void ntp_clear(void);' && common; then
	echo void
elif tkid && has ntp_clear 'void ntp_clear(unsigned int tkid);' &&
	[ -z "$(proto ntp_drain_skew)" ]; then
	echo tkid
elif tkid && has ntp_clear 'void ntp_clear(unsigned int tkid, s64 cs_tick_adj);' &&
	has ntp_get_skew_delta 's64 ntp_get_skew_delta(unsigned int tkid);' &&
	has ntp_drain_skew 's64 ntp_drain_skew(unsigned int tkid, s64 amount, unsigned int shift);'; then
	echo tkid-skew
fi
