// SPDX-License-Identifier: GPL-2.0
/*
 * ntpdisc discipline: Linux's NTP clock model, re-implemented as a pure
 * unit. Behaviour, including rounding, clamps and the order in which an
 * adjtimex request is applied, follows Linux 6.1 (kernel/time/ntp.c and
 * the checks of do_adjtimex()), because daemons probe those details; with
 * DISC_SKEW, how 7.3 slews phase and adjtime instead (discipline.h).
 *
 * Arithmetic that the kernel lets wrap (it builds with
 * -fno-strict-overflow) is done on unsigned types here, so that absurd
 * inputs give the kernel's numbers without undefined behaviour.
 */
#ifdef __KERNEL__
#include <linux/errno.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#endif

#include "discipline.h"

/* Divide towards zero by a power of two, as the NTP maths expects. */
static inline s64 disc_shift_right(s64 val, unsigned int shift)
{
	if (val < 0)
		return -(s64)((u64)-val >> shift);
	return val >> shift;
}

static inline s64 disc_wrap_add(s64 a, s64 b)
{
	return (s64)((u64)a + (u64)b);
}

static inline s64 disc_wrap_mul(s64 a, s64 b)
{
	return (s64)((u64)a * (u64)b);
}

/* One microsecond of slew, ns << 32. */
#define DISC_US_SCALED		((s64)NSEC_PER_USEC << DISC_SCALE_SHIFT)
/* The most adjtime slews in one tick, ns << 32. */
#define DISC_MAX_TICKADJ_SCALED \
	((DISC_MAX_TICKADJ * NSEC_PER_USEC << DISC_SCALE_SHIFT) / DISC_HZ)

/* +1 or -1; 0 counts as positive. */
static inline int disc_sign(s64 val)
{
	return val < 0 ? -1 : 1;
}

static inline s64 disc_abs(s64 val)
{
	return val < 0 ? -val : val;
}

static void disc_update_frequency(struct discipline *disc);

/**
 * discipline_init() - put a discipline into the kernel's boot state
 * @disc: the discipline
 *
 * Unsynchronised, error bounds at their limit, time constant 2, nominal
 * tick, no frequency correction and no leap armed.
 */
void discipline_init(struct discipline *disc)
{
	*disc = (struct discipline) {
		.time_state = TIME_OK,
		.time_status = STA_UNSYNC,
		.time_constant = 2,
		.time_maxerror = DISC_PHASE_LIMIT,
		.time_esterror = DISC_PHASE_LIMIT,
		.tick_usec = DISC_TICK_USEC_DEFAULT,
		.next_leap_sec = TIME64_MAX,
	};
	disc->tick_length_base = div_u64(discipline_second_length(disc),
					 DISC_HZ);
}

/**
 * discipline_adopt() - continue from another discipline's state
 * @disc: a discipline fresh from discipline_init()
 * @from: what the other discipline reported through adjtimex(2)
 *
 * Out-of-range values are clamped as adjtimex(2) would clamp them; a tick
 * outside its range keeps the nominal one. The residual phase and adjtime
 * are not carried over: adjtimex(2) does not report them exactly.
 */
void discipline_adopt(struct discipline *disc,
		      const struct discipline_handover *from)
{
	s64 offset;
	u64 mag;

	if (from->tick_usec >= 900000 / DISC_USER_HZ &&
	    from->tick_usec <= 1100000 / DISC_USER_HZ)
		disc->tick_usec = from->tick_usec;
	disc->time_freq = clamp_t(long long, from->freq, -DISC_MAXFREQ_SCALED /
				  DISC_PPM_SCALE, DISC_MAXFREQ_SCALED /
				  DISC_PPM_SCALE) * DISC_PPM_SCALE;
	disc->time_status = from->status;
	disc->time_constant = clamp_t(long, from->constant, 0, DISC_MAXTC);
	disc->time_maxerror = clamp_t(long, from->maxerror, 0,
				      DISC_PHASE_LIMIT);
	disc->time_esterror = clamp_t(long, from->esterror, 0,
				      DISC_PHASE_LIMIT);
	disc_update_frequency(disc);

	/*
	 * A slew in progress goes on where the kernel's stood. Read back, the
	 * offset is rounded towards zero: the smallest magnitude that reads
	 * back the same is the kernel's to within 1 ns / HZ.
	 */
	offset = clamp_t(s64, from->offset_ns, -DISC_MAXPHASE, DISC_MAXPHASE);
	mag = div_u64((u64)(offset < 0 ? -offset : offset) *
		      (1ULL << DISC_SCALE_SHIFT) + DISC_HZ - 1, DISC_HZ);
	disc->time_offset = offset < 0 ? -(s64)mag : (s64)mag;
	disc->time_adjust = from->adjust_us;

	/*
	 * An armed leap stays armed for the same midnight, and one already
	 * done is not armed again for the next (TIME_WAIT with STA_INS still
	 * set would be TIME_OK, and arm tomorrow's).
	 */
	switch (from->state) {
	case TIME_INS:
	case TIME_DEL:
		if (!(disc->time_status & (from->state == TIME_INS ?
					   STA_INS : STA_DEL)))
			break;
		disc->time_state = from->state;
		disc->next_leap_sec = from->now_sec + DISC_SECS_PER_DAY -
				      from->now_sec % DISC_SECS_PER_DAY;
		break;
	case TIME_OOP:
	case TIME_WAIT:
		disc->time_state = TIME_WAIT;
		break;
	}
}

/**
 * discipline_set_terms() - take over the terms of the second in progress
 * @disc: the discipline, just adopted from the kernel's state
 * @tick_length: the kernel's current tick length, ns << 32
 * @skew: DISC_SKEW: the kernel's current skew (ntp_get_skew_delta())
 *
 * What the kernel's tick length has beyond the base is this second's
 * phase and adjtime terms; both count as phase here, until the next
 * second computes its own terms from what is left. With DISC_SKEW the
 * tick length has no slew in it; what it has beyond the base is the
 * clocksource's rounding, which the kernel reports nowhere else, and the
 * part of its frequency that adjtimex(2) rounds off in reading it back
 * (under 1/65536 ppm); both are kept, and the skew goes on.
 */
void discipline_set_terms(struct discipline *disc, u64 tick_length, s64 skew)
{
	if (DISC_SKEW) {
		disc->cs_tick_adj = (s64)(tick_length * DISC_HZ -
					  discipline_second_length(disc));
		disc_update_frequency(disc);
		disc->skew_delta = skew;
		return;
	}
	disc->phase_adj = (s64)(tick_length - disc->tick_length_base);
	disc->adjtime_adj = 0;
}

/**
 * discipline_changes() - whether an adjtimex request would change anything
 * @txc: the request
 *
 * Return: false for the two read-only forms, modes 0 and
 * ADJ_OFFSET_SS_READ; true for everything else.
 */
bool discipline_changes(const struct __kernel_timex *txc)
{
	if (txc->modes & DISC_ADJ_ADJTIME)
		return !(txc->modes & DISC_ADJ_READONLY);
	return txc->modes != 0;
}

/**
 * discipline_validate() - check an adjtimex request before applying it
 * @txc: the request
 * @may_set_time: asked, only where the kernel asks, whether the caller
 *	holds CAP_SYS_TIME
 *
 * Applies do_adjtimex()'s checks in the kernel's order, so that a request
 * that is both unprivileged and malformed gets the kernel's errno.
 *
 * Return: 0, -EINVAL or -EPERM.
 */
int discipline_validate(const struct __kernel_timex *txc,
			bool (*may_set_time)(void))
{
	if (txc->modes & DISC_ADJ_ADJTIME) {
		if (!(txc->modes & DISC_ADJ_SINGLESHOT))
			return -EINVAL;
		if (!(txc->modes & DISC_ADJ_READONLY) && !may_set_time())
			return -EPERM;
	} else {
		if (txc->modes && !may_set_time())
			return -EPERM;
		/* A tick more than 10% off nominal means a broken request. */
		if ((txc->modes & ADJ_TICK) &&
		    (txc->tick < 900000 / DISC_USER_HZ ||
		     txc->tick > 1100000 / DISC_USER_HZ))
			return -EINVAL;
	}

	if (txc->modes & ADJ_SETOFFSET) {
		if (!may_set_time())
			return -EPERM;
		if (txc->time.tv_usec < 0)
			return -EINVAL;
		if (txc->modes & ADJ_NANO) {
			if (txc->time.tv_usec >= NSEC_PER_SEC)
				return -EINVAL;
		} else if (txc->time.tv_usec >= USEC_PER_SEC) {
			return -EINVAL;
		}
	}

	/* The conversion to ns/s << 32 must not overflow. */
	if ((txc->modes & ADJ_FREQUENCY) && BITS_PER_LONG == 64) {
		if (txc->freq < S64_MIN / DISC_PPM_SCALE ||
		    txc->freq > S64_MAX / DISC_PPM_SCALE)
			return -EINVAL;
	}

	return 0;
}

/**
 * discipline_setoffset_delta() - the step an ADJ_SETOFFSET request asks for
 * @txc: a request that passed discipline_validate() with ADJ_SETOFFSET
 * @delta: where to store the step
 *
 * Return: 0, or -EINVAL when the sub-second part is out of range.
 */
int discipline_setoffset_delta(const struct __kernel_timex *txc,
			       struct timespec64 *delta)
{
	delta->tv_sec = txc->time.tv_sec;
	delta->tv_nsec = txc->time.tv_usec;
	if (!(txc->modes & ADJ_NANO))
		delta->tv_nsec *= NSEC_PER_USEC;
	if (delta->tv_nsec < 0 || delta->tv_nsec >= NSEC_PER_SEC)
		return -EINVAL;
	return 0;
}

static int disc_timespec_cmp(const struct timespec64 *a,
			     const struct timespec64 *b)
{
	if (a->tv_sec != b->tv_sec)
		return a->tv_sec < b->tv_sec ? -1 : 1;
	if (a->tv_nsec != b->tv_nsec)
		return a->tv_nsec < b->tv_nsec ? -1 : 1;
	return 0;
}

/**
 * discipline_setoffset_check() - whether a step would leave a valid clock
 * @now: CLOCK_REALTIME at the step
 * @wall_to_mono: CLOCK_MONOTONIC minus CLOCK_REALTIME, normalised
 * @delta: the step, normalised
 *
 * As the kernel, refuse a step that puts CLOCK_REALTIME before
 * CLOCK_MONOTONIC, before 1970, or so late that it would overflow.
 *
 * Return: 0 or -EINVAL.
 */
int discipline_setoffset_check(const struct timespec64 *now,
			       const struct timespec64 *wall_to_mono,
			       const struct timespec64 *delta)
{
	/* Years of uptime must still fit into ktime_t after the step. */
	const u64 settod_sec_max = KTIME_SEC_MAX - 30ULL * 365 * 86400;
	struct timespec64 then;

	if (disc_timespec_cmp(wall_to_mono, delta) > 0)
		return -EINVAL;

	then.tv_sec = disc_wrap_add(now->tv_sec, delta->tv_sec);
	then.tv_nsec = now->tv_nsec + delta->tv_nsec;
	if (then.tv_nsec >= NSEC_PER_SEC) {
		then.tv_nsec -= NSEC_PER_SEC;
		then.tv_sec = disc_wrap_add(then.tv_sec, 1);
	}
	if (then.tv_sec < 0 || (u64)then.tv_sec >= settod_sec_max)
		return -EINVAL;
	return 0;
}

/* A new tick or frequency moves the current tick at once, terms kept. */
static void disc_update_frequency(struct discipline *disc)
{
	u64 second = discipline_second_length(disc);

	if (DISC_SKEW)
		second += disc->cs_tick_adj;
	disc->tick_length_base = div_u64(second, DISC_HZ);
}

/*
 * The FLL term: allowed once updates are at least DISC_MINSEC apart and
 * asked for, and forced beyond DISC_MAXSEC, where the PLL would lose lock.
 */
static s64 disc_fll_term(struct discipline *disc, s64 offset, long secs)
{
	disc->time_status &= ~STA_MODE;
	if (secs < DISC_MINSEC)
		return 0;
	if (!(disc->time_status & STA_FLL) && secs <= DISC_MAXSEC)
		return 0;
	disc->time_status |= STA_MODE;
	return div64_long(offset * (1LL << (DISC_SCALE_SHIFT - DISC_SHIFT_FLL)),
			  secs);
}

static void disc_update_offset(struct discipline *disc, long offset,
			       time64_t now_sec)
{
	long secs;
	s64 freq;

	if (!(disc->time_status & STA_PLL))
		return;

	if (!(disc->time_status & STA_NANO)) {
		/* Bound it first so that the unit change cannot overflow. */
		offset = clamp(offset, -USEC_PER_SEC, USEC_PER_SEC);
		offset *= NSEC_PER_USEC;
	}
	offset = clamp(offset, -DISC_MAXPHASE, DISC_MAXPHASE);

	secs = (long)(now_sec - disc->time_reftime);
	if (disc->time_status & STA_FREQHOLD)
		secs = 0;
	disc->time_reftime = now_sec;

	freq = disc_fll_term(disc, offset, secs);

	/*
	 * Long gaps between updates would give the PLL too much gain; the
	 * kernel caps the interval at eight times the time constant.
	 */
	if (secs > 1L << (DISC_SHIFT_PLL + 1 + disc->time_constant))
		secs = 1L << (DISC_SHIFT_PLL + 1 + disc->time_constant);

	freq = disc_wrap_add(freq, (s64)((u64)disc_wrap_mul(offset, secs) <<
		(DISC_SCALE_SHIFT -
		 2 * (DISC_SHIFT_PLL + 2 + disc->time_constant))));
	freq = min(disc_wrap_add(freq, disc->time_freq), DISC_MAXFREQ_SCALED);
	disc->time_freq = max(freq, -DISC_MAXFREQ_SCALED);

	/* The new offset replaces whatever was still being slewed. */
	disc->time_offset = div_s64((s64)offset * (1LL << DISC_SCALE_SHIFT),
				    DISC_HZ);
}

/**
 * discipline_clear() - forget the synchronisation after a clock step
 * @disc: the discipline
 *
 * What the kernel does to its NTP state whenever the clock is set: stop
 * slewing, mark the clock unsynchronised, reset the error bounds and
 * disarm a pending leap (the leap state itself stays where it is).
 */
void discipline_clear(struct discipline *disc)
{
	disc->time_adjust = 0;
	disc->time_status |= STA_UNSYNC;
	disc->time_maxerror = DISC_PHASE_LIMIT;
	disc->time_esterror = DISC_PHASE_LIMIT;
	disc_update_frequency(disc);
	disc->phase_adj = 0;
	disc->adjtime_adj = 0;
	disc->skew_delta = 0;
	disc->time_adjust_frac = 0;
	disc->time_offset = 0;
	disc->next_leap_sec = TIME64_MAX;
}

static void disc_set_status(struct discipline *disc,
			    const struct __kernel_timex *txc, time64_t now_sec)
{
	/*
	 * Switching the PLL off resets the state machine and, because the
	 * kernel replaces the whole word before merging, loses every
	 * read-only bit too (STA_NANO included). leap-a-day relies on it.
	 */
	if ((disc->time_status & STA_PLL) && !(txc->status & STA_PLL)) {
		disc->time_state = TIME_OK;
		disc->time_status = STA_UNSYNC;
		disc->next_leap_sec = TIME64_MAX;
	}

	if (!(disc->time_status & STA_PLL) && (txc->status & STA_PLL))
		disc->time_reftime = now_sec;

	disc->time_status &= STA_RONLY;
	disc->time_status |= txc->status & ~STA_RONLY;
}

static void disc_apply_modes(struct discipline *disc,
			     const struct __kernel_timex *txc,
			     time64_t now_sec, s32 *tai)
{
	unsigned int modes = txc->modes;

	/* Order matters: status and units first, the tick last. */
	if (modes & ADJ_STATUS)
		disc_set_status(disc, txc, now_sec);
	if (modes & ADJ_NANO)
		disc->time_status |= STA_NANO;
	if (modes & ADJ_MICRO)
		disc->time_status &= ~STA_NANO;

	if (modes & ADJ_FREQUENCY) {
		s64 freq = txc->freq * DISC_PPM_SCALE;

		disc->time_freq = clamp(freq, -DISC_MAXFREQ_SCALED,
					DISC_MAXFREQ_SCALED);
	}

	if (modes & ADJ_MAXERROR)
		disc->time_maxerror = clamp_t(long long, txc->maxerror, 0,
					      DISC_PHASE_LIMIT);
	if (modes & ADJ_ESTERROR)
		disc->time_esterror = clamp_t(long long, txc->esterror, 0,
					      DISC_PHASE_LIMIT);

	if (modes & ADJ_TIMECONST) {
		long tc = clamp_t(long long, txc->constant, 0, DISC_MAXTC);

		/* Microsecond-era daemons count the constant 4 lower. */
		if (!(disc->time_status & STA_NANO))
			tc += 4;
		disc->time_constant = min_t(long, tc, DISC_MAXTC);
	}

	/* ADJ_TAI shares the constant field; out-of-range values are ignored. */
	if ((modes & ADJ_TAI) && txc->constant >= 0 &&
	    txc->constant <= DISC_MAX_TAI_OFFSET)
		*tai = txc->constant;

	if (modes & ADJ_OFFSET)
		disc_update_offset(disc, txc->offset, now_sec);

	if (modes & ADJ_TICK)
		disc->tick_usec = txc->tick;

	if (modes & (ADJ_TICK | ADJ_FREQUENCY | ADJ_OFFSET))
		disc_update_frequency(disc);
}

static bool disc_status_in_error(int status)
{
	/* No PPS discipline: only these two bits make the clock bad. */
	return status & (STA_UNSYNC | STA_CLOCKERR);
}

/**
 * discipline_adjtimex() - apply an adjtimex request and report the state
 * @disc: the discipline
 * @txc: a request that passed discipline_validate(); its read-back fields
 *	are filled in as adjtimex(2) fills them
 * @ts: CLOCK_REALTIME of the request, reported in @txc->time
 * @now_sec: the timekeeper's current second, the PLL's reference time
 * @tai: TAI - UTC offset, read and possibly set
 *
 * ADJ_SETOFFSET is not handled here: like the kernel, the caller steps the
 * clock (and clears the discipline) before calling this.
 *
 * Return: the clock state, TIME_OK .. TIME_ERROR.
 */
int discipline_adjtimex(struct discipline *disc, struct __kernel_timex *txc,
			const struct timespec64 *ts, time64_t now_sec,
			s32 *tai)
{
	int result;

	if (txc->modes & DISC_ADJ_ADJTIME) {
		long old_adjust = disc->time_adjust;

		if (!(txc->modes & DISC_ADJ_READONLY)) {
			disc->time_adjust = txc->offset;
			/* What was taken out for delivery goes with it. */
			disc->time_adjust_frac = 0;
		}
		txc->offset = old_adjust;
	} else {
		if (txc->modes)
			disc_apply_modes(disc, txc, now_sec, tai);

		txc->offset = disc_shift_right(disc->time_offset * DISC_HZ,
					       DISC_SCALE_SHIFT);
		if (!(disc->time_status & STA_NANO))
			txc->offset = div_s64(txc->offset, NSEC_PER_USEC);
	}

	result = disc->time_state;
	if (disc_status_in_error(disc->time_status))
		result = TIME_ERROR;

	txc->freq = disc_shift_right((disc->time_freq >> DISC_PPM_INV_SHIFT) *
				     DISC_PPM_INV, DISC_SCALE_SHIFT);
	txc->maxerror = disc->time_maxerror;
	txc->esterror = disc->time_esterror;
	txc->status = disc->time_status;
	txc->constant = disc->time_constant;
	txc->precision = 1;
	txc->tolerance = DISC_MAXFREQ_SCALED / DISC_PPM_SCALE;
	txc->tick = disc->tick_usec;
	txc->tai = *tai;

	txc->ppsfreq = 0;
	txc->jitter = 0;
	txc->shift = 0;
	txc->stabil = 0;
	txc->jitcnt = 0;
	txc->calcnt = 0;
	txc->errcnt = 0;
	txc->stbcnt = 0;

	txc->time.tv_sec = ts->tv_sec;
	txc->time.tv_usec = ts->tv_nsec;
	if (!(disc->time_status & STA_NANO))
		txc->time.tv_usec = ts->tv_nsec / NSEC_PER_USEC;

	/*
	 * Between the leap boundary and the tick that applies it, report
	 * what the clock will read once the leap has been applied.
	 */
	if (ts->tv_sec >= disc->next_leap_sec) {
		if (disc->time_state == TIME_INS &&
		    (disc->time_status & STA_INS)) {
			result = TIME_OOP;
			txc->tai++;
			txc->time.tv_sec--;
		}
		if (disc->time_state == TIME_DEL &&
		    (disc->time_status & STA_DEL)) {
			result = TIME_WAIT;
			txc->tai--;
			txc->time.tv_sec++;
		}
		if (disc->time_state == TIME_OOP &&
		    ts->tv_sec == disc->next_leap_sec)
			result = TIME_WAIT;
	}

	return result;
}

static void disc_step_leap_state(struct discipline *disc, time64_t secs,
				 int *leap)
{
	switch (disc->time_state) {
	case TIME_OK:
		/* Arm for the end of the current UTC day. */
		if (disc->time_status & STA_INS) {
			disc->time_state = TIME_INS;
			disc->next_leap_sec = secs + DISC_SECS_PER_DAY -
					      secs % DISC_SECS_PER_DAY;
		} else if (disc->time_status & STA_DEL) {
			disc->time_state = TIME_DEL;
			disc->next_leap_sec = secs + DISC_SECS_PER_DAY -
					      (secs + 1) % DISC_SECS_PER_DAY;
		}
		break;
	case TIME_INS:
		if (!(disc->time_status & STA_INS)) {
			disc->next_leap_sec = TIME64_MAX;
			disc->time_state = TIME_OK;
		} else if (secs == disc->next_leap_sec) {
			*leap = -1;
			disc->time_state = TIME_OOP;
		}
		break;
	case TIME_DEL:
		if (!(disc->time_status & STA_DEL)) {
			disc->next_leap_sec = TIME64_MAX;
			disc->time_state = TIME_OK;
		} else if (secs == disc->next_leap_sec) {
			*leap = 1;
			disc->next_leap_sec = TIME64_MAX;
			disc->time_state = TIME_WAIT;
		}
		break;
	case TIME_OOP:
		disc->next_leap_sec = TIME64_MAX;
		disc->time_state = TIME_WAIT;
		break;
	case TIME_WAIT:
		if (!(disc->time_status & (STA_INS | STA_DEL)))
			disc->time_state = TIME_OK;
		break;
	}
}

/*
 * DISC_SKEW: phase slewed one way and adjtime the other would only move
 * the clock by their difference, and the per-tick drain, which takes the
 * skew's sign, would never reduce the part that cancels. Move @phase of
 * that part (time_offset's units and sign) from time_offset to time_adjust
 * directly, which moves no clock; neither goes past zero.
 */
static void disc_cancel_opposed(struct discipline *disc, s64 phase)
{
	s64 carry;

	if (disc_abs(phase) > disc_abs(disc->time_offset))
		phase = disc->time_offset;
	if (!phase)
		return;
	disc->time_offset -= phase;
	disc->time_adjust_frac += phase * DISC_HZ;
	if (disc_abs(disc->time_adjust_frac) >= DISC_US_SCALED) {
		carry = div64_s64(disc->time_adjust_frac, DISC_US_SCALED);
		disc->time_adjust += carry;
		disc->time_adjust_frac -= carry * DISC_US_SCALED;
	}
	/* The drain reads the sub-us part as slew in time_adjust's direction. */
	if (disc->time_adjust > 0 && disc->time_adjust_frac < 0) {
		disc->time_adjust--;
		disc->time_adjust_frac += DISC_US_SCALED;
	} else if (disc->time_adjust < 0 && disc->time_adjust_frac > 0) {
		disc->time_adjust++;
		disc->time_adjust_frac -= DISC_US_SCALED;
	}
}

/*
 * DISC_SKEW: this second's per-tick skew, from the phase (its exponential
 * share, or all of what is left once that share rounds to nothing) and
 * adjtime (at most DISC_MAX_TICKADJ per second). Nothing is taken off
 * here: the drain takes off what the ticks deliver. A skew that would
 * round to zero is one unit, so that every slew ends at zero.
 */
static void disc_set_skew(struct discipline *disc)
{
	s64 phase = 0, adjust = 0, amount, net;

	if (!disc->time_offset && !disc->time_adjust &&
	    !disc->time_adjust_frac) {
		disc->skew_delta = 0;
		return;
	}
	phase = disc_shift_right(disc->time_offset,
				 DISC_SHIFT_PLL + disc->time_constant);
	if (!phase)
		phase = disc->time_offset;
	if (disc->time_adjust || disc->time_adjust_frac) {
		if (disc->time_adjust >= DISC_MAX_TICKADJ)
			amount = DISC_MAX_TICKADJ * DISC_US_SCALED;
		else if (disc->time_adjust <= -DISC_MAX_TICKADJ)
			amount = -DISC_MAX_TICKADJ * DISC_US_SCALED;
		else
			amount = disc->time_adjust * DISC_US_SCALED +
				 disc->time_adjust_frac;
		adjust = div_s64(amount, DISC_HZ);
		if (!adjust)
			adjust = disc_sign(disc->time_adjust_frac);
	}
	if (phase && adjust && disc_sign(phase) != disc_sign(adjust))
		disc_cancel_opposed(disc, disc_sign(phase) *
				    min(disc_abs(phase), disc_abs(adjust)));
	net = phase + adjust;
	disc->skew_delta = div_s64(net, DISC_HZ);
	if (!disc->skew_delta && net)
		disc->skew_delta = disc_sign(net);
}

/* DISC_SKEW: take the adjtime share of @amount; returns what is left. */
static s64 disc_drain_adjust(struct discipline *disc, s64 amount,
			     unsigned int shift)
{
	s64 dir = disc->time_adjust ? disc->time_adjust :
				       disc->time_adjust_frac;
	s64 deliver, missing;
	long borrow;

	if (!amount || !dir || disc_sign(amount) != disc_sign(dir))
		return amount;
	/* ns << 32 to deliver over these 1 << @shift ticks, rate-capped. */
	deliver = min(disc_abs(amount) * DISC_HZ,
		      (s64)DISC_MAX_TICKADJ_SCALED << shift);
	missing = deliver - disc_abs(disc->time_adjust_frac);
	if (missing > 0 && disc->time_adjust) {
		/* Whole microseconds move into the part being delivered. */
		borrow = div64_u64(missing + DISC_US_SCALED - 1, DISC_US_SCALED);
		if (disc->time_adjust > 0) {
			borrow = min(borrow, disc->time_adjust);
			disc->time_adjust -= borrow;
			disc->time_adjust_frac += (s64)borrow * DISC_US_SCALED;
		} else {
			/* -LONG_MIN would overflow: compare, do not negate. */
			if (disc->time_adjust > -borrow)
				borrow = -disc->time_adjust;
			disc->time_adjust += borrow;
			disc->time_adjust_frac -= (s64)borrow * DISC_US_SCALED;
		}
	}
	deliver = min(deliver, disc_abs(disc->time_adjust_frac));
	disc->time_adjust_frac += disc->time_adjust_frac > 0 ? -deliver :
							       deliver;
	return amount - disc_sign(amount) * div_s64(deliver, DISC_HZ);
}

/* DISC_SKEW: take the phase share of @amount; returns what is left. */
static s64 disc_drain_offset(struct discipline *disc, s64 amount)
{
	s64 left;

	if (!amount || disc_sign(amount) != disc_sign(disc->time_offset))
		return amount;
	if (disc_abs(amount) > disc_abs(disc->time_offset)) {
		left = amount - disc->time_offset;
		disc->time_offset = 0;
		return left;
	}
	disc->time_offset -= amount;
	return 0;
}

/**
 * discipline_drain_skew() - account for the skew the timekeeper delivered
 * @disc: the discipline
 * @amount: skew of 1 << @shift ticks, in the units of discipline_skew_delta()
 * @shift: log2 of the ticks accumulated at once
 *
 * As ntp_drain_skew() from 7.3: adjtime first, at its rate limit, then the
 * phase; neither past zero. Always 0 without DISC_SKEW.
 *
 * Return: the part of @amount that was slew still to deliver.
 */
s64 discipline_drain_skew(struct discipline *disc, s64 amount,
			  unsigned int shift)
{
	s64 left;

	if (!DISC_SKEW)
		return 0;
	left = disc_drain_adjust(disc, amount, shift);
	left = disc_drain_offset(disc, left);
	return amount - left;
}

/**
 * discipline_second_overflow() - advance the discipline by one second
 * @disc: the discipline
 * @secs: the CLOCK_REALTIME second that has just begun
 *
 * Runs the leap state machine, grows the maximum error, and sets the
 * phase and adjtime terms of every tick of the second that has begun (with
 * DISC_SKEW: the skew of every tick, which discipline_drain_skew() then
 * takes off what is left to slew as the ticks deliver it).
 *
 * Return: the leap to apply to the clock now: -1 to set it back a second
 * (insertion), 1 to set it forward (deletion), otherwise 0.
 */
int discipline_second_overflow(struct discipline *disc, time64_t secs)
{
	int leap = 0;

	disc_step_leap_state(disc, secs, &leap);

	disc->time_maxerror += DISC_MAXFREQ / NSEC_PER_USEC;
	if (disc->time_maxerror > DISC_PHASE_LIMIT) {
		disc->time_maxerror = DISC_PHASE_LIMIT;
		disc->time_status |= STA_UNSYNC;
	}

	if (DISC_SKEW) {
		disc_set_skew(disc);
		return leap;
	}

	/* The residual offset decays with the time constant. */
	disc->phase_adj = disc_shift_right(disc->time_offset,
					   DISC_SHIFT_PLL + disc->time_constant);
	disc->time_offset -= disc->phase_adj;

	/* adjtime slews at a fixed 500 us/s until less is left. */
	if (disc->time_adjust > DISC_MAX_TICKADJ) {
		disc->time_adjust -= DISC_MAX_TICKADJ;
		disc->adjtime_adj = (DISC_MAX_TICKADJ * NSEC_PER_USEC <<
				     DISC_SCALE_SHIFT) / DISC_HZ;
	} else if (disc->time_adjust < -DISC_MAX_TICKADJ) {
		disc->time_adjust += DISC_MAX_TICKADJ;
		disc->adjtime_adj = -((DISC_MAX_TICKADJ * NSEC_PER_USEC <<
				       DISC_SCALE_SHIFT) / DISC_HZ);
	} else {
		disc->adjtime_adj = (s64)((u64)(disc->time_adjust *
						NSEC_PER_USEC / DISC_HZ) <<
					  DISC_SCALE_SHIFT);
		disc->time_adjust = 0;
	}

	return leap;
}
