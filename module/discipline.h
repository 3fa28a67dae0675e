/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ntpdisc clock discipline: the NTP PLL/FLL, adjtime slew, error
 * bounds and leap-second state machine of Linux's kernel/time/ntp.c,
 * as one pure unit that owns its state and performs no I/O.
 *
 * The interface mirrors the kernel's own NTP entry points, so that an
 * actuator can hand these functions to the timekeeper as they are:
 *
 *   discipline_adjtimex()         __do_adjtimex()
 *   discipline_second_overflow()  second_overflow()
 *   discipline_tick_length()      ntp_tick_length()
 *   discipline_next_leap()        ntp_get_next_leap()
 *   discipline_clear()            ntp_clear()
 *
 * plus the checks do_adjtimex() makes before it takes the timekeeper lock.
 * Nothing here locks: the caller serialises every call on one state.
 * The same file builds into the module and into host programs; in the
 * latter, "host_kernel.h" supplies the few kernel types it uses.
 */
#ifndef _NTPDISC_DISCIPLINE_H
#define _NTPDISC_DISCIPLINE_H

#ifdef __KERNEL__
#include <linux/time64.h>
#include <linux/timex.h>
#include <linux/types.h>
/* Which of the kernel's NTP models this build follows (Kbuild's probes). */
#include "compat_probed.h"
#else
#include "host_kernel.h"
#endif

/*
 * From 7.3 the kernel no longer folds the phase and adjtime slews into the
 * tick length: second_overflow() sets a per-tick skew, which the
 * timekeeper adds to its multiplier and drains, tick by tick, from what is
 * left to slew (ntp_get_skew_delta(), ntp_drain_skew()). The timekeeper
 * shows it (struct timekeeper's skew_delta); host builds ask for it with
 * -DNTPDISC_HAVE_TIMEKEEPER_SKEW_DELTA.
 */
#ifdef NTPDISC_HAVE_TIMEKEEPER_SKEW_DELTA
#define DISC_SKEW		1
#else
#define DISC_SKEW		0
#endif

/*
 * The discipline runs one "interval" per kernel tick, as the kernel's
 * NTP code does; the tick rate is fixed when the unit is compiled.
 */
#define DISC_HZ			HZ
#define DISC_USER_HZ		USER_HZ

#define DISC_SCALE_SHIFT	32
#define DISC_SHIFT_PLL		2
#define DISC_SHIFT_FLL		2
#define DISC_MAXTC		10
#define DISC_SHIFT_USEC		16
#define DISC_MAXPHASE		500000000L	/* ns */
#define DISC_MAXFREQ		500000L		/* ns/s */
#define DISC_MAXFREQ_SCALED	((s64)DISC_MAXFREQ << DISC_SCALE_SHIFT)
#define DISC_MINSEC		256
#define DISC_MAXSEC		2048
#define DISC_PHASE_LIMIT	((DISC_MAXPHASE / 1000) << 5)	/* us */
#define DISC_PPM_SCALE		(1000LL << (DISC_SCALE_SHIFT - DISC_SHIFT_USEC))
#define DISC_PPM_INV_SHIFT	19
#define DISC_PPM_INV \
	((1LL << (DISC_PPM_INV_SHIFT + DISC_SCALE_SHIFT)) / DISC_PPM_SCALE + 1)
#define DISC_MAX_TICKADJ	500LL		/* us per second */
#define DISC_MAX_TAI_OFFSET	100000
#define DISC_TICK_USEC_DEFAULT	((1000000 + DISC_USER_HZ / 2) / DISC_USER_HZ)
#define DISC_SECS_PER_DAY	86400

/* Kernel-internal adjtimex mode bits (not in the uapi header). */
#define DISC_ADJ_ADJTIME	0x8000
#define DISC_ADJ_SINGLESHOT	0x0001
#define DISC_ADJ_READONLY	0x2000

/**
 * struct discipline - all state of one NTP discipline
 * @tick_length_base: tick length from tick_usec and time_freq, ns << 32
 *	(DISC_SKEW: and @cs_tick_adj; all there is of the tick length)
 * @phase_adj:    this second's PLL/FLL phase term of each tick, ns << 32
 *	(not DISC_SKEW)
 * @adjtime_adj:  this second's adjtime term of each tick, ns << 32 (not
 *	DISC_SKEW)
 * @skew_delta:   DISC_SKEW: this second's slew of each tick, in the units
 *	of @time_offset
 * @time_adjust_frac: DISC_SKEW: the part of the adjtime slew taken from
 *	@time_adjust and not yet delivered, ns << 32
 * @cs_tick_adj:  DISC_SKEW: how far a second of the clocksource's whole
 *	ticks is from a nominal one, ns << 32, as the timekeeper last said
 * @time_offset:  phase still to be slewed, ns << 32 per tick
 * @time_freq:    frequency correction, ns/s << 32
 * @time_reftime: CLOCK_REALTIME second of the last PLL update
 * @next_leap_sec: second at which the armed leap acts, or TIME64_MAX
 * @time_adjust:  adjtime slew still to be applied, us
 * @time_constant: PLL time constant, as the kernel keeps it (0..10)
 * @time_maxerror: maximum error, us
 * @time_esterror: estimated error, us
 * @tick_usec:    nominal tick in us of a USER_HZ tick (ADJ_TICK)
 * @time_state:   TIME_OK .. TIME_WAIT
 * @time_status:  STA_* bits
 *
 * The current tick length is not stored: it is always the base plus the
 * two terms of the current second, which is what the kernel's own
 * bookkeeping of tick_length amounts to.
 */
struct discipline {
	u64 tick_length_base;
	s64 phase_adj;
	s64 adjtime_adj;
	s64 skew_delta;
	s64 time_adjust_frac;
	s64 cs_tick_adj;
	s64 time_offset;
	s64 time_freq;
	time64_t time_reftime;
	time64_t next_leap_sec;
	long time_adjust;
	long time_constant;
	long time_maxerror;
	long time_esterror;
	long tick_usec;
	int time_state;
	int time_status;
};

/**
 * struct discipline_handover - the state a discipline takes over
 * @tick_usec: tick, as adjtimex(2) reads it back
 * @freq:      frequency, in adjtimex(2) units (ppm << 16)
 * @status:    STA_* bits
 * @constant:  time constant, as adjtimex(2) reads it back
 * @maxerror:  maximum error, us
 * @esterror:  estimated error, us
 * @tai:       TAI - UTC, s (only for actuators that keep it themselves)
 * @offset_ns: phase still to be slewed, ns, as adjtimex(2) reads it back
 *	in nanosecond mode
 * @adjust_us: adjtime slew still to be applied, us (ADJ_OFFSET_SS_READ)
 * @state:     TIME_OK .. TIME_WAIT as adjtimex(2) returned it; TIME_ERROR
 *	or anything else: unknown, taken as TIME_OK
 * @now_sec:   the CLOCK_REALTIME second of the handover
 */
struct discipline_handover {
	long tick_usec;
	long long freq;
	int status;
	long constant;
	long maxerror;
	long esterror;
	int tai;
	long long offset_ns;
	long adjust_us;
	int state;
	time64_t now_sec;
};

void discipline_init(struct discipline *disc);
void discipline_adopt(struct discipline *disc,
		      const struct discipline_handover *from);

void discipline_set_terms(struct discipline *disc, u64 tick_length, s64 skew);
bool discipline_changes(const struct __kernel_timex *txc);
int discipline_validate(const struct __kernel_timex *txc,
			bool (*may_set_time)(void));
int discipline_setoffset_delta(const struct __kernel_timex *txc,
			       struct timespec64 *delta);
int discipline_setoffset_check(const struct timespec64 *now,
			       const struct timespec64 *wall_to_mono,
			       const struct timespec64 *delta);

int discipline_adjtimex(struct discipline *disc, struct __kernel_timex *txc,
			const struct timespec64 *ts, time64_t now_sec,
			s32 *tai);
int discipline_second_overflow(struct discipline *disc, time64_t secs);
void discipline_clear(struct discipline *disc);
s64 discipline_drain_skew(struct discipline *disc, s64 amount,
			  unsigned int shift);

/**
 * discipline_skew_delta() - this second's slew of each tick
 * @disc: the discipline
 *
 * Return: as ntp_get_skew_delta() from 7.3, ns << 32 / HZ per tick; always
 * 0 where the slews are in the tick length instead (!DISC_SKEW).
 */
static inline s64 discipline_skew_delta(const struct discipline *disc)
{
	return disc->skew_delta;
}

/**
 * discipline_tick_length() - length of the current tick
 * @disc: the discipline
 *
 * Return: ns << 32 that the timekeeper should account for each tick of the
 * current second, as ntp_tick_length().
 */
static inline u64 discipline_tick_length(const struct discipline *disc)
{
	return disc->tick_length_base + disc->phase_adj + disc->adjtime_adj;
}

/**
 * discipline_next_leap() - second at which an armed leap insertion acts
 * @disc: the discipline
 *
 * Return: the CLOCK_REALTIME second at which time is to be set back, or
 * TIME64_MAX when no insertion is pending; like ntp_get_next_leap(), only
 * an insertion is reported.
 */
static inline time64_t discipline_next_leap(const struct discipline *disc)
{
	if (disc->time_state == TIME_INS && (disc->time_status & STA_INS))
		return disc->next_leap_sec;
	return TIME64_MAX;
}

/**
 * discipline_synced() - whether the clock counts as synchronised
 * @disc: the discipline
 *
 * Return: true unless STA_UNSYNC is set.
 */
static inline bool discipline_synced(const struct discipline *disc)
{
	return !(disc->time_status & STA_UNSYNC);
}

/**
 * discipline_second_length() - nominal length of a second
 * @disc: the discipline
 *
 * Return: ns << 32 of one second from the tick and the frequency, before
 * phase and adjtime corrections.
 */
static inline u64 discipline_second_length(const struct discipline *disc)
{
	return ((u64)disc->tick_usec * 1000 * DISC_USER_HZ << DISC_SCALE_SHIFT) +
	       disc->time_freq;
}

#endif /* _NTPDISC_DISCIPLINE_H */
