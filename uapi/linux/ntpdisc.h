/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * ntpdisc: an alternate NTP clock discipline behind /dev/ntpdisc.
 *
 * /dev/ntpdisc is a dynamic POSIX clock. Three ways reach the discipline,
 * all with the semantics of adjtimex(2) on the system clock:
 *
 *   ioctl(fd, NTPDISC_ADJTIMEX, &tx)           (struct __kernel_timex)
 *   clock_adjtime(NTPDISC_FD_TO_CLOCKID(fd), &tx)
 *   clock_gettime(NTPDISC_FD_TO_CLOCKID(fd), &ts)  (the discipline's clock)
 *
 * Both adjusting entry points return the clock state (TIME_OK .. TIME_ERROR)
 * or -1 with errno.
 *
 * With steer=livepatch the same discipline also answers adjtimex(2) and
 * clock_adjtime(CLOCK_REALTIME), which remain the full interface. A module
 * cannot reach three timekeeper internals the system call uses, so through
 * /dev/ntpdisc: ADJ_TAI fails with EOPNOTSUPP (only the system call moves
 * CLOCK_TAI); ADJ_SETOFFSET sets the clock to its reading plus the delta
 * (a clock set a few microseconds after the reading, not the kernel's
 * in-lock step); and a new frequency or tick takes effect at the next
 * tick rather than at once. Modes other than 0 and ADJ_OFFSET_SS_READ need
 * CAP_SYS_TIME, checked like the kernel's adjtimex. On top of that, both
 * refuse modes != 0 with EACCES when the descriptor was not opened for
 * writing, as the POSIX clock layer does for clock_adjtime.
 *
 * Ioctl type 0xB9 is not assigned in the kernel's registry
 * (Documentation/userspace-api/ioctl/ioctl-number.rst, checked on 6.1:
 * 0xB7 and 0xC0 are its neighbours in use); ntpdisc uses numbers 1 and 2.
 *
 * This header may be included by kernel code, by a user-space program on
 * its own, and after glibc's <sys/timex.h>. It deliberately avoids
 * <linux/timex.h>, which clashes with glibc's struct timex and struct
 * timeval, and spells the ABI structure as struct ntpdisc_timex instead:
 * it has exactly the layout (208 bytes, explicit padding) of the kernel's
 * struct __kernel_timex, which on x86-64 is also glibc's struct timex.
 */
#ifndef _UAPI_LINUX_NTPDISC_H
#define _UAPI_LINUX_NTPDISC_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define NTPDISC_DEVICE_PATH	"/dev/ntpdisc"
#define NTPDISC_IOC_MAGIC	0xB9

/* Dynamic POSIX clock id of an open descriptor, as FD_TO_CLOCKID(). */
#define NTPDISC_FD_TO_CLOCKID(fd)	((~(__kernel_clockid_t)(fd) << 3) | 3)

/**
 * struct ntpdisc_timeval - the time field of struct ntpdisc_timex
 * @tv_sec:  seconds
 * @tv_usec: microseconds, or nanoseconds when STA_NANO is set
 */
struct ntpdisc_timeval {
	__s64 tv_sec;
	__s64 tv_usec;
};

/**
 * struct ntpdisc_timex - layout-identical spelling of struct __kernel_timex
 *
 * Every field means what adjtimex(2) says it means; the padding and
 * reserved words are never read and are written back as they came.
 */
struct ntpdisc_timex {
	__u32 modes;
	__u32 __pad0;
	__s64 offset;
	__s64 freq;
	__s64 maxerror;
	__s64 esterror;
	__s32 status;
	__u32 __pad1;
	__s64 constant;
	__s64 precision;
	__s64 tolerance;
	struct ntpdisc_timeval time;
	__s64 tick;
	__s64 ppsfreq;
	__s64 jitter;
	__s32 shift;
	__u32 __pad2;
	__s64 stabil;
	__s64 jitcnt;
	__s64 calcnt;
	__s64 errcnt;
	__s64 stbcnt;
	__s32 tai;
	__s32 __reserved[11];
};

/**
 * struct ntpdisc_output - what the discipline steers, for tests and tools
 * @tick_length:      length of the current kernel tick, ns << 32; this is
 *                    what ntp_tick_length() returns to the timekeeper
 * @tick_length_base: tick length without this second's phase and adjtime
 *                    terms, ns << 32
 * @second_length:    nominal length of one second from tick and frequency,
 *                    ns << 32
 * @phase_adj:        phase correction applied over the current second by
 *                    the PLL/FLL, ns << 32 per tick
 * @adjtime_adj:      adjtime (ADJ_OFFSET_SINGLESHOT) slew applied over the
 *                    current second, ns << 32 per tick
 * @time_offset:      residual phase offset still to be slewed, ns << 32
 *                    per tick (as the kernel keeps it)
 * @time_freq:        frequency correction, ns/s << 32
 * @time_adjust:      residual adjtime slew, microseconds
 * @next_leap_sec:    CLOCK_REALTIME second at which the armed leap acts,
 *                    or -1 when none is armed
 * @last_second:      CLOCK_REALTIME second of the last per-second update
 * @updates:          number of per-second updates run since load
 * @clock_sets:       clock sets seen (each clears the discipline's state);
 *                    steer=livepatch: the kernel's ntp_clear() calls,
 *                    which a change of clocksource also makes
 * @time_state:       TIME_OK .. TIME_WAIT, without the read-path override
 * @hz:               ticks per second the discipline computes for (HZ)
 * @steer:            actuator in use, NTPDISC_STEER_*
 * @flags:            NTPDISC_OUTPUT_* conditions
 * @leap_step_ns:     steer=clocksource: where the last leap step landed,
 *                    ns of CLOCK_REALTIME from the boundary (00:00:00 for
 *                    an insertion, 23:59:59 for a deletion)
 * @cs_mult:          steer=clocksource: the counter's current rate, 2^31
 *                    being nominal
 * @cs_late_switches: steer=clocksource: rate changes published after their
 *                    switch point (should stay 0)
 * @leaps:            steer=clocksource: leap seconds stepped since load
 * @reserved:         zero
 */
struct ntpdisc_output {
	__u64 tick_length;
	__u64 tick_length_base;
	__u64 second_length;
	__s64 phase_adj;
	__s64 adjtime_adj;
	__s64 time_offset;
	__s64 time_freq;
	__s64 time_adjust;
	__s64 next_leap_sec;
	__s64 last_second;
	__u64 updates;
	__u64 clock_sets;
	__s32 time_state;
	__u32 hz;
	__u32 steer;
	__u32 flags;
	__s64 leap_step_ns;
	__u32 cs_mult;
	__u32 cs_late_switches;
	__u32 leaps;
	__u32 reserved[3];
};

/* Shadow mode: the discipline runs beside the kernel's, steering nothing. */
#define NTPDISC_STEER_NONE		0
/* The discipline replaces the kernel's NTP code through a livepatch. */
#define NTPDISC_STEER_LIVEPATCH		1
/* The discipline steers a clocksource of its own (steer=clocksource). */
#define NTPDISC_STEER_CLOCKSOURCE	2

/* The kernel stopped running the discipline (another livepatch took over). */
#define NTPDISC_OUTPUT_STALLED		0x1
/*
 * ntpdisc no longer steers: with steer=clocksource the timekeeper no
 * longer runs on its clocksource (released, or the TSC found unstable);
 * with steer=livepatch the patch was disabled without "ntpdisc release",
 * and changes through the device fail with ENODEV.
 */
#define NTPDISC_OUTPUT_RELEASED		0x2
/*
 * steer=clocksource: the TSC was found unstable and ntpdisc's clocksource
 * let go on its own; the kernel's discipline runs unsteered, from the
 * neutral state the loader gave it, until NTPDISC_RELEASE ("ntpdisc
 * release") clears this flag and the loader hands the state over.
 */
#define NTPDISC_OUTPUT_HANDBACK_DUE	0x4

/**
 * struct ntpdisc_sample - one reading of three clocks at one instant
 * @raw_ns:   the hardware counter (x86: the TSC) in ns, never steered
 * @mono_ns:  CLOCK_MONOTONIC
 * @real_ns:  CLOCK_REALTIME
 * @width_ns: how long the reading took; the instant lies within it
 * @reserved: zero
 */
struct ntpdisc_sample {
	__u64 raw_ns;
	__s64 mono_ns;
	__s64 real_ns;
	__u32 width_ns;
	__u32 reserved[3];
};

/* adjtimex(2) on the discipline; returns the clock state. */
#define NTPDISC_ADJTIMEX	_IOWR(NTPDISC_IOC_MAGIC, 0x01, struct ntpdisc_timex)
/* Read the discipline's current output; needs no privilege. */
#define NTPDISC_GET_OUTPUT	_IOR(NTPDISC_IOC_MAGIC, 0x02, struct ntpdisc_output)
/*
 * steer=clocksource: hand the timekeeper back to the best other
 * clocksource, after which the module can be removed. The device keeps
 * answering without steering (ADJ_SETOFFSET then fails with EOPNOTSUPP).
 * Needs a writable descriptor (EACCES) and CAP_SYS_TIME; EOPNOTSUPP with
 * other actuators.
 */
#define NTPDISC_RELEASE		_IO(NTPDISC_IOC_MAGIC, 0x03)
/* One consistent sample of the raw counter, CLOCK_MONOTONIC, CLOCK_REALTIME. */
#define NTPDISC_GET_SAMPLE	_IOR(NTPDISC_IOC_MAGIC, 0x04, struct ntpdisc_sample)

#endif /* _UAPI_LINUX_NTPDISC_H */
