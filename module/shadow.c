// SPDX-License-Identifier: GPL-2.0
/*
 * The shadow actuator (steer=none): the discipline runs beside the
 * kernel's own and touches nothing. An hrtimer advances it at every
 * CLOCK_REALTIME second boundary, and it reacts to the system clock being
 * set as the kernel's NTP code does, so that it answers exactly what the
 * kernel's adjtimex would answer for the same requests.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/printk.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>

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
 * @offs_real: CLOCK_REALTIME - CLOCK_MONOTONIC when last looked at; a
 *	change means someone set the clock
 * @last_second: the timekeeper's second the discipline was last
 *	advanced to
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
	ktime_t offs_real;
	time64_t last_second;
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
	struct timespec64 ts;
	time64_t xtime_sec;
};

static void shadow_read_clock(struct shadow_now *now)
{
	struct timespec64 coarse;

	do {
		now->mono = ktime_get();
		now->real = ktime_mono_to_any(now->mono, TK_OFFS_REAL);
		ktime_get_coarse_real_ts64(&coarse);
	} while (ktime_compare(ktime_mono_to_any(0, TK_OFFS_REAL),
			       ktime_sub(now->real, now->mono)));
	now->ts = ktime_to_timespec64(now->real);
	now->xtime_sec = coarse.tv_sec;
}

/* Leaps applied in this call, reported once the lock is dropped. */
struct shadow_leaps {
	int inserted;
	int deleted;
};

static void shadow_advance_to(time64_t sec, struct shadow_leaps *leaps)
{
	while (shadow.last_second < sec) {
		int leap;

		shadow.last_second++;
		leap = discipline_second_overflow(&shadow.disc,
						  shadow.last_second);
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

/* Bring the discipline up to @now; caller holds the lock. */
static void shadow_sync(const struct shadow_now *now,
			struct shadow_leaps *leaps)
{
	ktime_t offs_real = ktime_sub(now->real, now->mono);
	s64 step_ns = ktime_to_ns(ktime_sub(offs_real, shadow.offs_real));

	if (step_ns) {
		shadow.offs_real = offs_real;
		if (!shadow_kernel_leap(step_ns, now->xtime_sec, leaps)) {
			/* Seconds skipped by a set are never accounted. */
			discipline_clear(&shadow.disc);
			shadow.last_second = now->xtime_sec;
			shadow.clock_sets++;
		}
	}
	shadow_advance_to(now->xtime_sec, leaps);
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
	struct shadow_leaps leaps = {};
	struct shadow_now now;
	unsigned long flags;
	u64 wait_ns;

	raw_spin_lock_irqsave(&shadow.lock, flags);
	shadow_read_clock(&now);
	shadow_sync(&now, &leaps);
	raw_spin_unlock_irqrestore(&shadow.lock, flags);
	shadow_report(&leaps);

	if (now.xtime_sec < now.ts.tv_sec)
		wait_ns = SHADOW_RETRY_NS;
	else
		wait_ns = NSEC_PER_SEC - now.ts.tv_nsec + SHADOW_TICK_SLACK_NS;
	hrtimer_set_expires(timer, ktime_add_ns(now.mono, wait_ns));
	return HRTIMER_RESTART;
}

/*
 * ADJ_SETOFFSET in shadow mode: validated against the real clock as the
 * kernel would, and the discipline is cleared as after a step, even when
 * the step is refused (Linux 6.1 clears there too), but nothing is
 * stepped.
 */
static int shadow_setoffset(const struct __kernel_timex *txc)
{
	struct shadow_leaps leaps = {};
	struct timespec64 delta, wall_to_mono;
	struct shadow_now now;
	unsigned long flags;
	int ret;

	ret = discipline_setoffset_delta(txc, &delta);
	if (ret)
		return ret;

	raw_spin_lock_irqsave(&shadow.lock, flags);
	shadow_read_clock(&now);
	shadow_sync(&now, &leaps);
	wall_to_mono = ktime_to_timespec64(ktime_sub(now.mono, now.real));
	ret = discipline_setoffset_check(&now.ts, &wall_to_mono, &delta);
	discipline_clear(&shadow.disc);
	raw_spin_unlock_irqrestore(&shadow.lock, flags);
	shadow_report(&leaps);
	return ret;
}

static int shadow_adjtimex(struct __kernel_timex *txc)
{
	struct shadow_leaps leaps = {};
	struct shadow_now now;
	unsigned long flags;
	int ret;

	ret = discipline_validate(txc, ntpdisc_may_set_time);
	if (ret)
		return ret;

	if (txc->modes & ADJ_SETOFFSET) {
		ret = shadow_setoffset(txc);
		if (ret)
			return ret;
	}

	raw_spin_lock_irqsave(&shadow.lock, flags);
	shadow_read_clock(&now);
	shadow_sync(&now, &leaps);
	ret = discipline_adjtimex(&shadow.disc, txc, &now.ts, now.xtime_sec,
				  &shadow.tai);
	raw_spin_unlock_irqrestore(&shadow.lock, flags);
	shadow_report(&leaps);
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
	shadow.offs_real = ktime_sub(now.real, now.mono);
	shadow.last_second = now.xtime_sec;
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
	hrtimer_init(&shadow.timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_HARD);
	shadow.timer.function = shadow_tick;
	hrtimer_start(&shadow.timer,
		      ktime_add_ns(now.mono, NSEC_PER_SEC - now.ts.tv_nsec +
				   SHADOW_TICK_SLACK_NS),
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
