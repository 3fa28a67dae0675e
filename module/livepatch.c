// SPDX-License-Identifier: GPL-2.0
/*
 * The livepatch actuator (steer=livepatch): ntpdisc replaces the kernel's
 * NTP entry points, so the kernel's own timekeeper takes its tick length,
 * leap seconds and adjtimex(2) answers from ntpdisc's discipline. Nothing
 * else in the timekeeper changes: the vDSO, CLOCK_MONOTONIC_RAW and the
 * leap machinery stay the kernel's.
 *
 * Most replacements run under the timekeeper's raw spinlock with
 * interrupts off, the adjtimex one also inside its seqcount write section,
 * so they must not read a clock, sleep, allocate or printk directly. The
 * discipline has a raw spinlock of its own, always taken inside the
 * timekeeper's, so that requests through /dev/ntpdisc (which cannot take
 * the timekeeper's) are serialised with them. Holding it, nothing may
 * wait for the timekeeper: clocks are read before it is taken.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/audit.h>
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/livepatch.h>
#include <linux/printk.h>
#include <linux/rtc.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>
#include <linux/utsname.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "ntpdisc.h"

/*
 * The entry points, by the prototypes Kbuild found (probe/ntp_entry.sh):
 * 6.1's and 6.12's take no timekeeper id; from 7.2 on they do
 * (NTPDISC_NTP_TKID), and from 7.3 the slews are a per-tick skew that the
 * timekeeper drains (NTPDISC_NTP_SKEW, the discipline's DISC_SKEW).
 */
#if !defined(NTPDISC_SERIES_6_1) && !defined(NTPDISC_SERIES_6_12) && \
	!defined(NTPDISC_NTP_TKID)
#error "the livepatch actuator is built only for NTP entry points it knows"
#endif
#if defined(NTPDISC_NTP_SKEW) != DISC_SKEW
#error "the kernel's skew entry points and the discipline's model disagree"
#endif
/* ntp_notify_cmos_timer() says whether the clock was stepped (6.12 on). */
#if defined(NTPDISC_SERIES_6_12) || defined(NTPDISC_NTP_TKID)
#define LP_NOTIFY_OFFSET_SET	1
#else
#define LP_NOTIFY_OFFSET_SET	0
#endif

/* The per-tick maths and xtime reads below assume a 64-bit kernel. */
static_assert(BITS_PER_LONG == 64);

/* A leap this close makes taking over or letting go unsafe. */
#define LP_LEAP_GUARD_SEC	2
/*
 * While the patch transition runs, each tick may call the kernel's
 * second_overflow() or ours: a leap in that time could be applied by
 * both (the kernel's sets the clock back, ours sees its midnight again)
 * or by neither. The transition takes about a second, and "ntpdisc load"
 * waits 30 s for it: no load this close before an armed leap.
 */
#define LP_TRANSITION_GUARD_SEC	30
/* Seconds without a second_overflow() call before we call it stalled. */
#define LP_STALL_SEC		5
/* The kernel writes the RTC every 11 minutes while synchronised. */
#define LP_RTC_INTERVAL_SEC	659

/* The kernel functions replaced, see lp_funcs[]. */
#ifdef NTPDISC_NTP_SKEW
#define LP_NFUNCS		9
#else
#define LP_NFUNCS		7
#endif

/*
 * Tests of the teardown need the RTC work and timer busy: every this many
 * ms, at any phase of the second.
 */
static unsigned int testonly_rtc_period_ms;
module_param(testonly_rtc_period_ms, uint, 0444);
MODULE_PARM_DESC(testonly_rtc_period_ms,
		 "TESTS ONLY: write the RTC every this many ms while synchronised, at any phase (0: as the kernel, every 11 minutes)");

/**
 * struct lp - the livepatch actuator
 * @lock: serialises the discipline; nests inside the timekeeper's lock
 * @disc: the discipline the kernel's timekeeper now runs on
 * @seconds: second_overflow() calls, to see that we are still in charge
 * @clears: ntp_clear() calls: the kernel's clock sets and steps, and the
 *	other updates that clear its discipline (a change of clocksource,
 *	sleep time injected at resume)
 * @unreported_leap: a leap applied, not yet reported in the kernel log
 * @watched_seconds: @seconds when the watchdog last looked
 * @stalled_for: seconds the watchdog has seen no call
 * @stall_reported: the watchdog has already complained
 * @handed_over: the discipline started from the kernel's state
 * @unpatched: the patch is gone (disabled, or replaced): the kernel's own
 *	discipline runs again, and requests through the device that
 *	would change ours are refused
 * @rtc_lock: serialises @rtc_off with arming the RTC update's timer and
 *	queueing its work; never nests with @lock, which is taken inside
 *	the timekeeper's: arming a timer may read the clock
 * @rtc_off: the RTC updates are stopped for good; under @rtc_lock, so that
 *	neither the work nor the timer arms the other after it is set
 * @stack_head: where each replacement's entry in the kernel's stack of
 *	patches for its function pointed once the patch was in place: the
 *	stack's head, as long as no other livepatch sits on top
 * @stacked_reported: a function taken over by another patch was reported
 * @watchdog: checks once a second that the kernel still calls us
 * @rtc_work: writes the system time into the RTC while synchronised
 * @rtc_timer: when to write it next; on CLOCK_REALTIME, as the kernel's,
 *	so that a clock set brings the next write forward
 */
struct lp {
	raw_spinlock_t lock;
	struct discipline disc;
	u64 seconds;
	u64 clears;
	int unreported_leap;
	u64 watched_seconds;
	unsigned int stalled_for;
	bool stall_reported;
	bool handed_over;
	bool unpatched;
	struct list_head *stack_head[LP_NFUNCS];
	bool stacked_reported;
	raw_spinlock_t rtc_lock;
	bool rtc_off;
	struct delayed_work watchdog;
	struct work_struct rtc_work;
	struct hrtimer rtc_timer;
};

static struct lp lp = {
	.lock = __RAW_SPIN_LOCK_UNLOCKED(lp.lock),
	.rtc_lock = __RAW_SPIN_LOCK_UNLOCKED(lp.rtc_lock),
};

/*
 * The replacements. Their names and signatures are those of the kernel
 * functions they replace, series by series.
 */

static u64 lp_tick_length(void)
{
	unsigned long flags;
	u64 length;

	raw_spin_lock_irqsave(&lp.lock, flags);
	length = discipline_tick_length(&lp.disc);
	raw_spin_unlock_irqrestore(&lp.lock, flags);
	return length;
}

static int lp_overflow(time64_t secs)
{
	unsigned long flags;
	int leap;

	raw_spin_lock_irqsave(&lp.lock, flags);
	leap = discipline_second_overflow(&lp.disc, secs);
	lp.seconds++;
	/* No console under the timekeeper's lock: the watchdog tells. */
	if (leap)
		lp.unreported_leap = leap;
	raw_spin_unlock_irqrestore(&lp.lock, flags);

	return leap;
}

static ktime_t lp_next_leap(void)
{
	unsigned long flags;
	time64_t leap;

	raw_spin_lock_irqsave(&lp.lock, flags);
	leap = discipline_next_leap(&lp.disc);
	raw_spin_unlock_irqrestore(&lp.lock, flags);
	return leap == TIME64_MAX ? KTIME_MAX : ktime_set(leap, 0);
}

/* @cs_tick_adj: the clocksource's rounding, DISC_SKEW only. */
static void lp_clear(s64 cs_tick_adj)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&lp.lock, flags);
	lp.disc.cs_tick_adj = cs_tick_adj;
	discipline_clear(&lp.disc);
	lp.clears++;
	raw_spin_unlock_irqrestore(&lp.lock, flags);
}

static int lp_kernel_adjtimex(struct __kernel_timex *txc,
			      const struct timespec64 *ts, s32 *time_tai,
			      struct audit_ntp_data *ad)
{
	unsigned long flags;
	int ret;

	raw_spin_lock_irqsave(&lp.lock, flags);
	ntpdisc_audit_snapshot(ad, &lp.disc, *time_tai, txc, false);
	/*
	 * The timekeeper's second, as the kernel's NTP code reads it; on a
	 * 64-bit kernel this is a plain load, safe inside the write section.
	 */
	ret = discipline_adjtimex(&lp.disc, txc, ts, ktime_get_real_seconds(),
				  time_tai);
	ntpdisc_audit_snapshot(ad, &lp.disc, *time_tai, txc, true);
	raw_spin_unlock_irqrestore(&lp.lock, flags);
	return ret;
}

/*
 * The replacements proper: the kernel's names and prototypes, series by
 * series. With a timekeeper id, only the core one (0) can call: the
 * livepatch refuses to load where auxiliary clocks exist (lp_unusable()).
 */
#ifdef NTPDISC_NTP_TKID
static u64 lp_ntp_tick_length(unsigned int tkid)
{
	return lp_tick_length();
}

static int lp_second_overflow(unsigned int tkid, time64_t secs)
{
	return lp_overflow(secs);
}

static ktime_t lp_ntp_get_next_leap(unsigned int tkid)
{
	return lp_next_leap();
}

static int lp_ntp_adjtimex(unsigned int tkid, struct __kernel_timex *txc,
			   const struct timespec64 *ts, s32 *time_tai,
			   struct audit_ntp_data *ad)
{
	return lp_kernel_adjtimex(txc, ts, time_tai, ad);
}
#else
static u64 lp_ntp_tick_length(void)
{
	return lp_tick_length();
}

static int lp_second_overflow(time64_t secs)
{
	return lp_overflow(secs);
}

static ktime_t lp_ntp_get_next_leap(void)
{
	return lp_next_leap();
}
#endif

#ifdef NTPDISC_NTP_SKEW
static void lp_ntp_clear(unsigned int tkid, s64 cs_tick_adj)
{
	lp_clear(cs_tick_adj);
}

static s64 lp_ntp_get_skew_delta(unsigned int tkid)
{
	unsigned long flags;
	s64 skew;

	raw_spin_lock_irqsave(&lp.lock, flags);
	skew = discipline_skew_delta(&lp.disc);
	raw_spin_unlock_irqrestore(&lp.lock, flags);
	return skew;
}

/* Once per accumulation, from the timekeeper: keep it to the arithmetic. */
static s64 lp_ntp_drain_skew(unsigned int tkid, s64 amount, unsigned int shift)
{
	unsigned long flags;
	s64 claimed;

	raw_spin_lock_irqsave(&lp.lock, flags);
	claimed = discipline_drain_skew(&lp.disc, amount, shift);
	raw_spin_unlock_irqrestore(&lp.lock, flags);
	return claimed;
}
#elif defined(NTPDISC_NTP_TKID)
static void lp_ntp_clear(unsigned int tkid)
{
	lp_clear(0);
}
#else
static void lp_ntp_clear(void)
{
	lp_clear(0);
}
#endif

static bool lp_synced(void)
{
	unsigned long flags;
	bool synced;

	raw_spin_lock_irqsave(&lp.lock, flags);
	synced = discipline_synced(&lp.disc);
	raw_spin_unlock_irqrestore(&lp.lock, flags);
	return synced;
}

/* Queue the RTC update, unless it is stopped. */
static void lp_rtc_queue(void)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&lp.rtc_lock, flags);
	if (!lp.rtc_off)
		queue_work(system_freezable_power_efficient_wq, &lp.rtc_work);
	raw_spin_unlock_irqrestore(&lp.rtc_lock, flags);
}

/* Start the RTC updates when synchronised, unless they run already. */
static void lp_rtc_kick(void)
{
	if (lp_synced() && !hrtimer_is_queued(&lp.rtc_timer))
		lp_rtc_queue();
}

/* Aim the RTC update at @when, unless it is stopped. */
static void lp_rtc_arm(ktime_t when)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&lp.rtc_lock, flags);
	if (!lp.rtc_off)
		hrtimer_start(&lp.rtc_timer, when, HRTIMER_MODE_ABS);
	raw_spin_unlock_irqrestore(&lp.rtc_lock, flags);
}

/*
 * With @rtc_off set under @rtc_lock, neither the timer nor the work arms
 * the other again: each, pending or running, is waited for, and nothing
 * is left behind.
 */
static void lp_rtc_stop(void)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&lp.rtc_lock, flags);
	lp.rtc_off = true;
	raw_spin_unlock_irqrestore(&lp.rtc_lock, flags);
	hrtimer_cancel(&lp.rtc_timer);
	cancel_work_sync(&lp.rtc_work);
}

/*
 * After an adjtimex request, as the kernel's ntp_notify_cmos_timer(): from
 * 6.12 on, a step invalidates the RTC write planned for the old time.
 */
static void lp_rtc_notify(bool offset_set)
{
	if (LP_NOTIFY_OFFSET_SET && offset_set)
		hrtimer_cancel(&lp.rtc_timer);
	lp_rtc_kick();
}

/* Called by do_adjtimex() outside the timekeeper's lock. */
#if LP_NOTIFY_OFFSET_SET
static void lp_ntp_notify_cmos_timer(bool offset_set)
{
	lp_rtc_notify(offset_set);
}
#else
static void lp_ntp_notify_cmos_timer(void)
{
	lp_rtc_notify(false);
}
#endif

/*
 * The kernel's own RTC update still has its timer, which can fire at any
 * clock set, and would then test the kernel's frozen NTP status: ours
 * (lp_rtc_sync_fn()) takes its place.
 */
static void lp_sync_hw_clock(struct work_struct *work)
{
}

static struct klp_func lp_funcs[] = {
	{ .old_name = "ntp_tick_length", .new_func = lp_ntp_tick_length },
	{ .old_name = "second_overflow", .new_func = lp_second_overflow },
#ifdef NTPDISC_NTP_TKID
	{ .old_name = "ntp_adjtimex", .new_func = lp_ntp_adjtimex },
#else
	{ .old_name = "__do_adjtimex", .new_func = lp_kernel_adjtimex },
#endif
	{ .old_name = "ntp_get_next_leap", .new_func = lp_ntp_get_next_leap },
	{ .old_name = "ntp_clear", .new_func = lp_ntp_clear },
	{ .old_name = "ntp_notify_cmos_timer",
	  .new_func = lp_ntp_notify_cmos_timer },
	{ .old_name = "sync_hw_clock", .new_func = lp_sync_hw_clock },
#ifdef NTPDISC_NTP_SKEW
	/* Indices fixed: lp_pre_patch() asks the kernel's for its skew. */
	{ .old_name = "ntp_get_skew_delta", .new_func = lp_ntp_get_skew_delta },
	{ .old_name = "ntp_drain_skew", .new_func = lp_ntp_drain_skew },
#endif
	{ }
};

static_assert(ARRAY_SIZE(lp_funcs) == LP_NFUNCS + 1);

/*
 * Another livepatch on top of ours for any one function runs instead of
 * ours: the kernel's stack of patches for it no longer starts with our
 * entry. Only a pointer is compared; nothing of the stack is followed.
 * Returns the name of the first such function, or NULL.
 */
static const char *lp_overridden(void)
{
	int i;

	for (i = 0; i < LP_NFUNCS; i++)
		if (lp.stack_head[i] &&
		    READ_ONCE(lp_funcs[i].stack_node.prev) != lp.stack_head[i])
			return lp_funcs[i].old_name;
	return NULL;
}

/*
 * The patch going away without a release, by "echo 0 >
 * /sys/kernel/livepatch/ntpdisc/enabled": once no task runs our code
 * any more the kernel's discipline is back in charge, from the state it
 * had when ntpdisc took over. Stop what runs on our behalf, and say so:
 * the device refuses changes from now on.
 */
static void lp_post_unpatch(struct klp_object *obj)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&lp.lock, flags);
	lp.unpatched = true;
	raw_spin_unlock_irqrestore(&lp.lock, flags);
	/* Nothing of ours is called any more: nothing to watch. */
	cancel_delayed_work_sync(&lp.watchdog);
	lp_rtc_stop();
	pr_notice("livepatch disabled: the kernel's own discipline steers the clock again, from its state before ntpdisc took over; /dev/ntpdisc now refuses changes (ENODEV)\n");
}

/*
 * Before the first task runs our code: the kernel's current tick length
 * carries this second's phase and adjtime terms, which the state handed
 * over does not (only what is left after them). Its own function, not
 * yet patched, tells; the rest of this second then runs at the same
 * rate, and the next second goes on from the adopted remainders. From
 * 7.3 the tick length holds the clocksource's rounding instead, and this
 * second's slew is the kernel's skew, which its own function tells too.
 */
static int lp_pre_patch(struct klp_object *obj)
{
	unsigned long flags;
	s64 skew = 0;
	u64 length;

	if (!lp.handed_over || !lp_funcs[0].old_func)
		return 0;
#ifdef NTPDISC_NTP_TKID
	length = ((u64 (*)(unsigned int))lp_funcs[0].old_func)(0);
#else
	length = ((u64 (*)(void))lp_funcs[0].old_func)();
#endif
#ifdef NTPDISC_NTP_SKEW
	if (lp_funcs[7].old_func)
		skew = ((s64 (*)(unsigned int))lp_funcs[7].old_func)(0);
#endif
	raw_spin_lock_irqsave(&lp.lock, flags);
	discipline_set_terms(&lp.disc, length, skew);
	raw_spin_unlock_irqrestore(&lp.lock, flags);
	return 0;
}

/*
 * Once every task runs our code: remember the head of each function's
 * stack of patches, which our entry follows while we are on top.
 */
static void lp_post_patch(struct klp_object *obj)
{
	int i;

	for (i = 0; i < LP_NFUNCS; i++)
		lp.stack_head[i] = READ_ONCE(lp_funcs[i].stack_node.prev);
}

static struct klp_object lp_objs[] = {
	{
		.funcs = lp_funcs,	/* vmlinux */
		.callbacks = {
			.pre_patch = lp_pre_patch,
			.post_patch = lp_post_patch,
			.post_unpatch = lp_post_unpatch,
		},
	},
	{ }
};

static struct klp_patch lp_patch = {
	.mod = THIS_MODULE,
	.objs = lp_objs,
};

/*
 * The 11-minute RTC update of the kernel's discipline, which cannot be
 * reached from here: while synchronised, write the system time into the
 * RTC at the moment the RTC asks for, and again 11 minutes later, or 10 s
 * later after a failure. The RTC's set_offset_nsec is the time from the
 * write to its next seconds increment, so the write goes that long before
 * a whole second of system time, and the value written is the second
 * before it: the RTC then ticks into that whole second as the system
 * clock does. Writing that second itself would leave the RTC a second
 * ahead for good.
 */
static void lp_rtc_sync_fn(struct work_struct *work)
{
	/* How far from the right moment a write may be: five ticks. */
	const long fuzz_ns = 5 * TICK_NSEC;
	struct rtc_device *rtc;
	struct timespec64 now;
	time64_t next_sec;
	long write_ns, off_ns;
	struct rtc_time tm;
	int err;

	if (!lp_synced())
		return;
#ifdef CONFIG_RTC_SYSTOHC
	rtc = rtc_class_open(CONFIG_RTC_SYSTOHC_DEVICE);
#else
	/* The kernel only writes the RTC of CONFIG_RTC_SYSTOHC_DEVICE. */
	rtc = NULL;
#endif
	if (!rtc)
		return;
	/* An RTC that cannot be set is not tried again, as the kernel does. */
	if (!rtc->ops || !rtc->ops->set_time) {
		rtc_class_close(rtc);
		return;
	}

	ktime_get_real_ts64(&now);
	if (testonly_rtc_period_ms) {
		rtc_time64_to_tm(now.tv_sec, &tm);
		rtc_set_time(rtc, &tm);
		rtc_class_close(rtc);
		lp_rtc_arm(ktime_add_ms(timespec64_to_ktime(now),
					testonly_rtc_period_ms));
		return;
	}
	write_ns = (NSEC_PER_SEC - rtc->set_offset_nsec % NSEC_PER_SEC) %
		   NSEC_PER_SEC;
	/* Signed distance from the nearest write moment. */
	off_ns = now.tv_nsec - write_ns;
	if (off_ns > NSEC_PER_SEC / 2)
		off_ns -= NSEC_PER_SEC;
	else if (off_ns <= -NSEC_PER_SEC / 2)
		off_ns += NSEC_PER_SEC;

	if (abs(off_ns) <= fuzz_ns) {
		/* The whole second at which the RTC will first tick. */
		struct timespec64 ideal = timespec64_sub(now,
						ns_to_timespec64(off_ns));
		time64_t tick_sec = ideal.tv_sec + (ideal.tv_nsec +
						    rtc->set_offset_nsec) /
					NSEC_PER_SEC;

		rtc_time64_to_tm(tick_sec - 1, &tm);
		err = rtc_set_time(rtc, &tm);
		next_sec = now.tv_sec + (err ? 10 : LP_RTC_INTERVAL_SEC);
	} else {
		/* Not the moment: wait for the next one. */
		next_sec = now.tv_sec + (now.tv_nsec < write_ns ? 0 : 1);
	}
	rtc_class_close(rtc);
	lp_rtc_arm(ktime_set(next_sec, write_ns));
}

static enum hrtimer_restart lp_rtc_timer_fn(struct hrtimer *timer)
{
	lp_rtc_queue();
	return HRTIMER_NORESTART;
}

/*
 * Once a second: report leaps, and notice when the kernel stops calling
 * second_overflow() here, which is what happens when another livepatch
 * replaces ours atomically: that disables ours without a word.
 */
static void lp_watchdog_fn(struct work_struct *work)
{
	const char *over;
	unsigned long flags;
	u64 seconds;
	int leap;

	raw_spin_lock_irqsave(&lp.lock, flags);
	seconds = lp.seconds;
	leap = lp.unreported_leap;
	lp.unreported_leap = 0;
	raw_spin_unlock_irqrestore(&lp.lock, flags);

	if (leap < 0)
		pr_notice("Clock: inserted leap second 23:59:60 UTC\n");
	else if (leap > 0)
		pr_notice("Clock: deleted leap second 23:59:59 UTC\n");

	over = lp_overridden();
	if (over && !lp.stacked_reported) {
		pr_warn("another livepatch has taken over %s from ntpdisc's: ntpdisc's discipline no longer steers the clock as it reports\n",
			over);
		lp.stacked_reported = true;
	} else if (!over) {
		lp.stacked_reported = false;
	}

	if (seconds != lp.watched_seconds) {
		lp.watched_seconds = seconds;
		lp.stalled_for = 0;
		lp.stall_reported = false;
	} else if (++lp.stalled_for >= LP_STALL_SEC && !lp.stall_reported) {
		pr_warn("the kernel has not run ntpdisc's discipline for %u s: has another livepatch (atomic replace) taken over the NTP code? ntpdisc no longer steers the clock\n",
			lp.stalled_for);
		lp.stall_reported = true;
	}
	schedule_delayed_work(&lp.watchdog, HZ);
}

/*
 * Whether @now is within LP_TRANSITION_GUARD_SEC before, or
 * LP_LEAP_GUARD_SEC after, a leap @disc may apply.
 */
static bool lp_near_leap(const struct discipline *disc, time64_t now)
{
	time64_t into_day = now % 86400;

	if (!(disc->time_status & (STA_INS | STA_DEL)) &&
	    disc->time_state != TIME_OOP)
		return false;
	return into_day < LP_LEAP_GUARD_SEC ||
	       into_day >= 86400 - 1 - LP_TRANSITION_GUARD_SEC;
}

static void lp_prepare(const struct discipline_handover *from)
{
	discipline_init(&lp.disc);
	if (from) {
		discipline_adopt(&lp.disc, from);
		lp.disc.time_reftime = ktime_get_real_seconds();
		pr_info("taking over the kernel's discipline as handed over\n");
	} else {
		pr_info("taking over with the kernel's boot defaults (no handover: use 'ntpdisc load' to keep the current frequency)\n");
	}
	lp.handed_over = !!from;
	lp.unpatched = false;
	lp.rtc_off = false;
	lp.stacked_reported = false;
	memset(lp.stack_head, 0, sizeof(lp.stack_head));
	INIT_DELAYED_WORK(&lp.watchdog, lp_watchdog_fn);
	INIT_WORK(&lp.rtc_work, lp_rtc_sync_fn);
	hrtimer_setup(&lp.rtc_timer, lp_rtc_timer_fn, CLOCK_REALTIME,
		      HRTIMER_MODE_ABS);
}

/* vermagic ties us to one build; this names the series we were written for. */
static const char *lp_unusable(void)
{
	const char *release = init_utsname()->release;

	if (strncmp(release, NTPDISC_SERIES_RELEASE,
		    strlen(NTPDISC_SERIES_RELEASE)))
		return "the livepatch is built for another kernel series";
	/* Their timekeepers would call ours, which only knows the core one. */
	if (IS_ENABLED(CONFIG_POSIX_AUX_CLOCKS))
		return "the livepatch does not handle auxiliary clocks (CONFIG_POSIX_AUX_CLOCKS)";
	return NULL;
}

static int lp_start(void)
{
	int ret;

	if (lp_near_leap(&lp.disc, ktime_get_real_seconds())) {
		pr_err("a leap second is due within %d s, and the livepatch transition could straddle it; load again after it\n",
		       LP_TRANSITION_GUARD_SEC);
		return -EBUSY;
	}

	ret = klp_enable_patch(&lp_patch);
	if (ret) {
		pr_err("enabling the livepatch failed: %d\n", ret);
		return ret;
	}
	schedule_delayed_work(&lp.watchdog, HZ);
	lp_rtc_kick();
	return 0;
}

/* Also after a failed start: then nothing runs, and this finds nothing. */
static void lp_stop(void)
{
	/* The patch is gone by now: nothing can queue these again. */
	cancel_delayed_work_sync(&lp.watchdog);
	lp_rtc_stop();
}

/* CLOCK_TAI - CLOCK_REALTIME, which the timekeeper keeps in whole seconds. */
static s32 lp_read_tai(void)
{
	ktime_t tai = ktime_sub(ktime_mono_to_any(0, TK_OFFS_TAI),
				ktime_mono_to_any(0, TK_OFFS_REAL));

	return (s32)div_s64(ktime_to_ns(tai) + NSEC_PER_SEC / 2,
			    NSEC_PER_SEC);
}

/*
 * A step requested through /dev/ntpdisc: the kernel's in-lock injection is
 * out of reach, so the clock is set to its reading plus the delta. The
 * discipline is cleared as on any set, also when the step is refused, as
 * Linux 6.1 does.
 */
static int lp_setoffset(const struct __kernel_timex *txc)
{
	struct timespec64 delta, now, then, wall_to_mono;
	unsigned long flags;
	ktime_t mono;
	int ret;

	ret = discipline_setoffset_delta(txc, &delta);
	if (ret)
		return ret;

	mono = ktime_get();
	now = ktime_to_timespec64(ktime_mono_to_any(mono, TK_OFFS_REAL));
	wall_to_mono = ktime_to_timespec64(ktime_sub(mono,
						     timespec64_to_ktime(now)));
	ret = discipline_setoffset_check(&now, &wall_to_mono, &delta);
	if (ret) {
		if (ntpdisc_refused_set_clears_ntp()) {
			raw_spin_lock_irqsave(&lp.lock, flags);
			discipline_clear(&lp.disc);
			raw_spin_unlock_irqrestore(&lp.lock, flags);
		}
		return ret;
	}
	/* Re-read: the step is relative to the clock as it is now. */
	ktime_get_real_ts64(&now);
	then = timespec64_add(now, delta);
	return do_settimeofday64(&then);
}

/*
 * adjtimex(2) through /dev/ntpdisc. It answers from the same discipline as
 * the system call, with three differences the system call does not have:
 * ADJ_SETOFFSET is a clock set (see lp_setoffset()), a new frequency or
 * tick takes effect at the next tick instead of at once, and ADJ_TAI is
 * refused because only the system call can move CLOCK_TAI.
 */
static int lp_adjtimex(struct __kernel_timex *txc)
{
	struct timespec64 ts, coarse;
	struct audit_ntp_data ad;
	unsigned long flags;
	int ret;
	s32 tai;

	ret = discipline_validate(txc, ntpdisc_may_set_time);
	if (ret)
		return ret;
	if (!(txc->modes & DISC_ADJ_ADJTIME) && (txc->modes & ADJ_TAI))
		return -EOPNOTSUPP;
	/* A change would steer nothing once the kernel's code is back. */
	if (READ_ONCE(lp.unpatched) && discipline_changes(txc))
		return -ENODEV;

	/* The time handed back: before or after the step, as the kernel's. */
	if (ntpdisc_time_read_before_set())
		ktime_get_real_ts64(&ts);
	if (txc->modes & ADJ_SETOFFSET) {
		ret = lp_setoffset(txc);
		if (ret)
			return ret;
	}

	/* Clocks first: the timekeeper may be waiting for our lock. */
	if (!ntpdisc_time_read_before_set())
		ktime_get_real_ts64(&ts);
	ktime_get_coarse_real_ts64(&coarse);
	tai = lp_read_tai();

	audit_ntp_init(&ad);
	raw_spin_lock_irqsave(&lp.lock, flags);
	ntpdisc_audit_snapshot(&ad, &lp.disc, tai, txc, false);
	ret = discipline_adjtimex(&lp.disc, txc, &ts, coarse.tv_sec, &tai);
	ntpdisc_audit_snapshot(&ad, &lp.disc, tai, txc, true);
	raw_spin_unlock_irqrestore(&lp.lock, flags);
	ntpdisc_audit_log(&ad);

	/* The system call's path, a step through the device included. */
	lp_rtc_notify(txc->modes & ADJ_SETOFFSET);
	return ret;
}

static void lp_gettime(struct timespec64 *ts)
{
	ktime_get_real_ts64(ts);
}

static void lp_output(struct ntpdisc_output *out)
{
	const struct discipline *disc = &lp.disc;
	unsigned long flags;

	raw_spin_lock_irqsave(&lp.lock, flags);
	ntpdisc_fill_output(disc, out);
	out->updates = lp.seconds;
	out->clock_sets = lp.clears;
	raw_spin_unlock_irqrestore(&lp.lock, flags);
	out->last_second = ktime_get_real_seconds();
	if (lp.stall_reported || lp.stacked_reported)
		out->flags |= NTPDISC_OUTPUT_STALLED;
	if (READ_ONCE(lp.unpatched))
		out->flags |= NTPDISC_OUTPUT_RELEASED;
}

const struct ntpdisc_actuator ntpdisc_livepatch = {
	.name = "livepatch",
	.steer = NTPDISC_STEER_LIVEPATCH,
	.unusable = lp_unusable,
	.prepare = lp_prepare,
	.start = lp_start,
	.stop = lp_stop,
	.adjtimex = lp_adjtimex,
	.gettime = lp_gettime,
	.output = lp_output,
};
