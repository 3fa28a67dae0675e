// SPDX-License-Identifier: GPL-2.0
/*
 * The shadow actuator (steer=none): the discipline runs beside the
 * kernel's own and touches nothing. An hrtimer advances it at every
 * CLOCK_REALTIME second boundary, and it reacts to the system clock being
 * set as the kernel's NTP code does, so that it answers exactly what the
 * kernel's adjtimex would answer for the same requests.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/audit.h>
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/printk.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>

#include "compat.h"
#include "discipline.h"
#include "ntpdisc.h"

/*
 * The kernel runs its second_overflow() when the timekeeper accumulates a
 * new second, at the first tick after the boundary. The shadow follows
 * that accumulated second, so that it changes state when the kernel's own
 * discipline does: the timer aims just past the boundary and, while the
 * timekeeper has not caught up yet, looks again a little later.
 */
#define SHADOW_TICK_SLACK_NS	1000
#define SHADOW_RETRY_NS		(NSEC_PER_SEC / HZ / 4)

/**
 * struct shadow - the shadow discipline and what it knows of the clock
 * @lock: serialises the discipline between the timer and requests
 * @disc: the discipline
 * @tai: its TAI - UTC offset (the kernel keeps this in the timekeeper)
 * @offs: the clocks' offsets from CLOCK_MONOTONIC when last looked at
 * @last_second: the timekeeper's second the discipline was last
 *	advanced to
 * @drained: DISC_SKEW: ticks of @last_second after the one that crossed
 *	into it whose skew was drained
 * @tick_end_ns: DISC_SKEW: where in @last_second the tick that crossed
 *	into it ended, as the tick length now in force counts (shadow_retick())
 * @tick_end_known: DISC_SKEW: whether @tick_end_ns is known
 * @updates: seconds advanced since load
 * @clock_sets: clock sets seen since load
 * @timer: per-second timer on CLOCK_MONOTONIC, aimed at the next
 *	CLOCK_REALTIME boundary, so that setting the clock back cannot
 *	stall it
 */
struct shadow {
	raw_spinlock_t lock;
	struct discipline disc;
	s32 tai;
	struct ntpdisc_offsets offs;
	time64_t last_second;
	unsigned int drained;
	s64 tick_end_ns;
	bool tick_end_known;
	u64 updates;
	u64 clock_sets;
	struct hrtimer timer;
};

static struct shadow shadow = {
	.lock = __RAW_SPIN_LOCK_UNLOCKED(shadow.lock),
};

/*
 * One coherent reading of the clocks: CLOCK_MONOTONIC, CLOCK_REALTIME and
 * the timekeeper's accumulated second (what __ktime_get_real_seconds()
 * gives the kernel's NTP code), all on one side of any clock step.
 */
struct shadow_now {
	ktime_t mono;
	ktime_t real;
	struct ntpdisc_offsets offs;
	struct timespec64 ts;
	time64_t xtime_sec;
	long xtime_nsec;
};

static void shadow_read_clock(struct shadow_now *now)
{
	struct timespec64 coarse;

	do {
		ntpdisc_read_offsets(&now->offs);
		now->mono = ktime_get();
		ktime_get_coarse_real_ts64(&coarse);
	} while (!ntpdisc_offsets_still(&now->offs));
	now->real = ktime_add(now->mono, now->offs.real);
	now->ts = ktime_to_timespec64(now->real);
	now->xtime_sec = coarse.tv_sec;
	now->xtime_nsec = coarse.tv_nsec;
}

/*
 * DISC_SKEW: the timekeeper drains skew once per accumulated tick, at the
 * rate it cached when it last adjusted its multiplier. The tick that
 * crosses into a second runs second_overflow() first and then drains the
 * previous second's rate from the new second's remainders; the ticks after
 * it drain the new rate. Drain as many here, lazily, whenever the
 * discipline is looked at. Several ticks accumulated in one go after an
 * idle spell all drain the old rate in the kernel, which cannot be seen
 * from here: the shadow is then off by their difference (ntpdisc(4)).
 */
static void shadow_drain_to(unsigned int ticks)
{
	s64 skew = discipline_skew_delta(&shadow.disc);

	if (!DISC_SKEW || !skew) {
		shadow.drained = max(shadow.drained, ticks);
		return;
	}
	for (; shadow.drained < ticks; shadow.drained++)
		discipline_drain_skew(&shadow.disc, skew, 0);
}

/* DISC_SKEW: the time each tick adds to the clock now, in ns. */
static u64 shadow_tick_ns(void)
{
	u64 tick = discipline_tick_length(&shadow.disc) +
		   discipline_skew_delta(&shadow.disc) * DISC_HZ;

	return max_t(u64, tick >> DISC_SCALE_SHIFT, 1);
}

/*
 * DISC_SKEW: the ticks that end in @last_second after the one that
 * crossed into it. A slew shortens or lengthens every tick, so a second
 * can hold a tick more or less than HZ (half a percent of slew is one a
 * second): count them from where the crossing tick ended.
 */
static unsigned int shadow_ticks_per_second(void)
{
	if (!shadow.tick_end_known)
		return DISC_HZ - 1;
	return div64_u64(NSEC_PER_SEC - 1 - shadow.tick_end_ns,
			 shadow_tick_ns());
}

/*
 * DISC_SKEW: the ticks of the current second accumulated after the one
 * that crossed into it, from how far into the second the timekeeper's
 * accumulated time is: ticks end at a whole number of tick lengths after
 * the crossing one, which ended less than a tick after the boundary, and
 * so tell where that was.
 */
static unsigned int shadow_ticks_in(long xtime_nsec)
{
	u64 tick = shadow_tick_ns();
	s64 ticks;

	if (!shadow.tick_end_known) {
		ticks = div64_u64(xtime_nsec, tick);
		shadow.tick_end_ns = xtime_nsec - ticks * tick;
		shadow.tick_end_known = true;
	} else if (xtime_nsec > shadow.tick_end_ns) {
		ticks = div64_u64(xtime_nsec - shadow.tick_end_ns, tick);
	} else {
		ticks = 0;
	}
	return min_t(s64, ticks, shadow_ticks_per_second());
}

/*
 * DISC_SKEW: a request changed the tick length (a new frequency or tick,
 * or a cleared skew) within the second. The timekeeper's ticks from here
 * on are of the new length, from where the last one ended: move the
 * crossing tick's end to where the new length would have put it, so that
 * counting from there finds them. Caller holds the lock and has synced.
 */
static void shadow_retick(u64 old_tick_ns)
{
	s64 change = (s64)old_tick_ns - (s64)shadow_tick_ns();

	if (DISC_SKEW && shadow.tick_end_known && change)
		shadow.tick_end_ns += (s64)shadow.drained * change;
}

/* Leaps applied in this call, reported once the lock is dropped. */
struct shadow_leaps {
	int inserted;
	int deleted;
};

static void shadow_advance_to(time64_t sec, struct shadow_leaps *leaps)
{
	while (shadow.last_second < sec) {
		unsigned int ticks = shadow_ticks_per_second();
		u64 crossing_ns = shadow_tick_ns();
		s64 cached_skew;
		int leap;

		shadow_drain_to(ticks);
		cached_skew = discipline_skew_delta(&shadow.disc);
		shadow.last_second++;
		leap = discipline_second_overflow(&shadow.disc,
						  shadow.last_second);
		/* The crossing tick, at the rate of the second it ended. */
		if (cached_skew)
			discipline_drain_skew(&shadow.disc, cached_skew, 0);
		shadow.drained = 0;
		if (shadow.tick_end_known)
			shadow.tick_end_ns += (ticks + 1) * crossing_ns -
					      NSEC_PER_SEC;
		if (shadow.tick_end_ns < 0 ||
		    shadow.tick_end_ns >= (s64)shadow_tick_ns())
			shadow.tick_end_known = false;
		shadow.tai -= leap;
		shadow.updates++;
		if (leap < 0)
			leaps->inserted++;
		else if (leap > 0)
			leaps->deleted++;
	}
}

/*
 * When the kernel's own discipline inserts or deletes a leap second, it
 * steps CLOCK_REALTIME by exactly one second at a UTC midnight. That is
 * not a clock set: the second that began before the step still counts,
 * and the labels of the seconds after it shift by one.
 */
static bool shadow_kernel_leap(s64 step_ns, time64_t sec,
			       struct shadow_leaps *leaps)
{
	time64_t midnight;

	if (step_ns == -NSEC_PER_SEC) {
		/* Inserted: the clock reads 23:59:59 again, or 00:00:00. */
		midnight = sec + 1 - (sec + 1) % 86400;
		if (sec + 1 - midnight > 1)
			return false;
		shadow_advance_to(midnight, leaps);
		shadow.last_second = midnight - 1;
		return true;
	}
	if (step_ns == NSEC_PER_SEC) {
		/* Deleted: 23:59:59 was skipped. */
		midnight = sec - sec % 86400;
		if (sec - midnight > 1)
			return false;
		shadow_advance_to(midnight - 1, leaps);
		shadow.last_second = midnight;
		return true;
	}
	return false;
}

/*
 * Bring the discipline up to @now; caller holds the lock. Returns true
 * when the clock was set since the last look.
 */
static bool shadow_sync(const struct shadow_now *now,
			struct shadow_leaps *leaps)
{
	s64 slept_ns, step_ns;
	bool set = false;

	step_ns = ntpdisc_offsets_moved(&shadow.offs, &now->offs, &slept_ns);
	if (slept_ns) {
		/*
		 * The kernel's discipline runs no second of a suspend: the
		 * seconds awake since the last look count (to the second:
		 * where in its second the suspend began is not known), the
		 * ones asleep are skipped.
		 */
		shadow_advance_to(now->xtime_sec - div_s64(slept_ns +
				  NSEC_PER_SEC / 2, NSEC_PER_SEC), leaps);
		shadow.last_second = max(shadow.last_second, now->xtime_sec);
		shadow.tick_end_known = false;
	}
	if (step_ns && !shadow_kernel_leap(step_ns, now->xtime_sec, leaps)) {
		/* Seconds skipped by a set are never accounted. */
		discipline_clear(&shadow.disc);
		shadow.last_second = now->xtime_sec;
		shadow.tick_end_known = false;
		shadow.clock_sets++;
		set = true;
	}
	shadow_advance_to(now->xtime_sec, leaps);
	if (DISC_SKEW && shadow.last_second == now->xtime_sec)
		shadow_drain_to(shadow_ticks_in(now->xtime_nsec));
	return set;
}

/* When the timer should look next, seen from @now. */
static ktime_t shadow_next_look(const struct shadow_now *now)
{
	u64 wait_ns;

	if (now->xtime_sec < now->ts.tv_sec)
		wait_ns = SHADOW_RETRY_NS;
	else
		wait_ns = NSEC_PER_SEC - now->ts.tv_nsec + SHADOW_TICK_SLACK_NS;
	return ktime_add_ns(now->mono, wait_ns);
}

/*
 * A request saw the clock set: the timer still aims at the boundary of
 * the clock before the set. After a set back, the boundary the clock
 * crosses next comes sooner, and the kernel updates its discipline
 * there; a second set before the timer's old aim would then make that
 * update look like part of the set. Aim at the new boundary. Under the
 * lock, as the timer's own re-arming is (shadow_tick()).
 */
static void shadow_reaim(const struct shadow_now *now)
{
	hrtimer_start(&shadow.timer, shadow_next_look(now),
		      HRTIMER_MODE_ABS_HARD);
}

/* A request's look at the clock; caller holds the lock. */
static void shadow_request_sync(struct shadow_now *now,
				struct shadow_leaps *leaps)
{
	shadow_read_clock(now);
	if (shadow_sync(now, leaps))
		shadow_reaim(now);
}

static void shadow_report(const struct shadow_leaps *leaps)
{
	if (leaps->inserted)
		pr_notice("discipline inserted a leap second (shadow)\n");
	if (leaps->deleted)
		pr_notice("discipline deleted a leap second (shadow)\n");
}

static enum hrtimer_restart shadow_tick(struct hrtimer *timer)
{
	enum hrtimer_restart restart = HRTIMER_NORESTART;
	struct shadow_leaps leaps = {};
	struct shadow_now now;
	unsigned long flags;

	raw_spin_lock_irqsave(&shadow.lock, flags);
	shadow_read_clock(&now);
	shadow_sync(&now, &leaps);
	/* Unless a request has re-aimed it meanwhile (shadow_reaim()). */
	if (!hrtimer_is_queued(timer)) {
		hrtimer_set_expires(timer, shadow_next_look(&now));
		restart = HRTIMER_RESTART;
	}
	raw_spin_unlock_irqrestore(&shadow.lock, flags);
	shadow_report(&leaps);
	return restart;
}

/*
 * ADJ_SETOFFSET in shadow mode: validated against the real clock as the
 * kernel would, and the discipline is cleared as after a step (also when
 * the step is refused, where the kernel's series does), but nothing is
 * stepped.
 */
static int shadow_setoffset(const struct __kernel_timex *txc)
{
	struct shadow_leaps leaps = {};
	struct timespec64 delta, wall_to_mono;
	struct shadow_now now;
	unsigned long flags;
	u64 tick_ns;
	int ret;

	ret = discipline_setoffset_delta(txc, &delta);
	if (ret)
		return ret;

	raw_spin_lock_irqsave(&shadow.lock, flags);
	shadow_request_sync(&now, &leaps);
	wall_to_mono = ktime_to_timespec64(ktime_sub(now.mono, now.real));
	ret = discipline_setoffset_check(&now.ts, &wall_to_mono, &delta);
	if (!ret || ntpdisc_refused_set_clears_ntp()) {
		tick_ns = shadow_tick_ns();
		discipline_clear(&shadow.disc);
		shadow_retick(tick_ns);
	}
	raw_spin_unlock_irqrestore(&shadow.lock, flags);
	shadow_report(&leaps);
	return ret;
}

static int shadow_adjtimex(struct __kernel_timex *txc)
{
	struct shadow_leaps leaps = {};
	struct audit_ntp_data ad;
	struct shadow_now now;
	unsigned long flags;
	u64 tick_ns;
	int ret;

	ret = discipline_validate(txc, ntpdisc_may_set_time);
	if (ret)
		return ret;

	if (txc->modes & ADJ_SETOFFSET) {
		ret = shadow_setoffset(txc);
		if (ret)
			return ret;
	}

	audit_ntp_init(&ad);
	raw_spin_lock_irqsave(&shadow.lock, flags);
	shadow_request_sync(&now, &leaps);
	ntpdisc_audit_snapshot(&ad, &shadow.disc, shadow.tai, txc, false);
	tick_ns = shadow_tick_ns();
	ret = discipline_adjtimex(&shadow.disc, txc, &now.ts, now.xtime_sec,
				  &shadow.tai);
	shadow_retick(tick_ns);
	ntpdisc_audit_snapshot(&ad, &shadow.disc, shadow.tai, txc, true);
	raw_spin_unlock_irqrestore(&shadow.lock, flags);
	shadow_report(&leaps);
	ntpdisc_audit_log(&ad);
	return ret;
}

static void shadow_gettime(struct timespec64 *ts)
{
	ktime_get_real_ts64(ts);
}

static void shadow_output(struct ntpdisc_output *out)
{
	const struct discipline *disc = &shadow.disc;
	unsigned long flags;

	raw_spin_lock_irqsave(&shadow.lock, flags);
	ntpdisc_fill_output(disc, out);
	out->last_second = shadow.last_second;
	out->updates = shadow.updates;
	out->clock_sets = shadow.clock_sets;
	raw_spin_unlock_irqrestore(&shadow.lock, flags);
}

static void shadow_prepare(const struct discipline_handover *from)
{
	struct shadow_now now;

	discipline_init(&shadow.disc);
	shadow.tai = 0;
	shadow.updates = 0;
	shadow.clock_sets = 0;
	shadow_read_clock(&now);
	shadow.offs = now.offs;
	shadow.last_second = now.xtime_sec;
	shadow.drained = DISC_HZ - 1;
	shadow.tick_end_known = false;
	if (from) {
		/* An adopted PLL counts its next interval from now. */
		discipline_adopt(&shadow.disc, from);
		shadow.disc.time_reftime = now.xtime_sec;
		/* Its own copy of the timekeeper's, to answer as the kernel does. */
		shadow.tai = from->tai;
	}
	pr_info("shadow discipline starts from %s\n",
		from ? "the state handed over" : "the kernel's boot defaults");
}

static int shadow_start(void)
{
	struct shadow_now now;

	shadow_read_clock(&now);
	hrtimer_setup(&shadow.timer, shadow_tick, CLOCK_MONOTONIC,
		      HRTIMER_MODE_ABS_HARD);
	hrtimer_start(&shadow.timer, shadow_next_look(&now),
		      HRTIMER_MODE_ABS_HARD);
	return 0;
}

static void shadow_stop(void)
{
	hrtimer_cancel(&shadow.timer);
}

const struct ntpdisc_actuator ntpdisc_shadow = {
	.name = "none",
	.steer = NTPDISC_STEER_NONE,
	.prepare = shadow_prepare,
	.start = shadow_start,
	.stop = shadow_stop,
	.adjtimex = shadow_adjtimex,
	.gettime = shadow_gettime,
	.output = shadow_output,
};
