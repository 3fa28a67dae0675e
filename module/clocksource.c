// SPDX-License-Identifier: GPL-2.0
/*
 * The clocksource actuator (steer=clocksource): the portable way to steer.
 *
 * ntpdisc registers a clocksource of its own that reads the TSC and
 * scales it by the rate the discipline asks for. The timekeeper, whose own
 * NTP code is left neutral, turns those counts into CLOCK_MONOTONIC and
 * CLOCK_REALTIME, so the clock runs at ntpdisc's rate. Leap seconds are
 * clock sets done from a high-priority kernel thread; ADJ_SETOFFSET is a
 * clock set in the caller's context.
 *
 * The read path is a latch (two copies, readers take the one not being
 * written), so a reader in NMI context never waits for the writer. A rate
 * change only takes effect at a switch point a little in the future,
 * which both copies know before any CPU reaches it: every reader computes
 * the same value for the same TSC reading, so the counter never goes back.
 * The one exception is a jump forward (the end of a leap hold, below):
 * the new line lies above the old one from the TSC of the change on, so
 * a reader of either copy still never sees the counter go back.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/audit.h>
#include <linux/clocksource.h>
#include <linux/delay.h>
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/printk.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/seqlock.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>
#include <linux/workqueue.h>

#include <asm/cpufeature.h>
#include <asm/msr.h>
#include <asm/tsc.h>

#include "compat.h"
#include "discipline.h"
#include "ntpdisc.h"

/*
 * Emulators have no invariant TSC. Tests under emulation steer anyway with
 * this; on real hardware a TSC that stops or changes speed cannot carry a
 * clock.
 */
static bool testonly_ignore_tsc_invariance;
module_param(testonly_ignore_tsc_invariance, bool, 0444);
MODULE_PARM_DESC(testonly_ignore_tsc_invariance,
		 "TESTS ONLY: steer=clocksource on a TSC that is not invariant (emulators)");

/*
 * Tests of the TSC safety net: writing 1 marks the TSC unstable, as the
 * clocksource watchdog or the kernel's TSC checks would. For a throwaway
 * guest only: the TSC stays unusable until the next boot.
 */
static int ncs_param_mark_tsc_unstable(const char *val,
				       const struct kernel_param *kp)
{
	bool mark;
	int ret = kstrtobool(val, &mark);

	if (ret)
		return ret;
	if (mark)
		mark_tsc_unstable("ntpdisc test hook (testonly_mark_tsc_unstable)");
	return 0;
}

static const struct kernel_param_ops ncs_mark_tsc_unstable_ops = {
	.set = ncs_param_mark_tsc_unstable,
};
module_param_cb(testonly_mark_tsc_unstable, &ncs_mark_tsc_unstable_ops,
		NULL, 0200);
MODULE_PARM_DESC(testonly_mark_tsc_unstable,
		 "TESTS ONLY: write 1 to mark the TSC unstable (until reboot)");

/* Above every clocksource of the platform, so registering selects it. */
#define NCS_RATING		500
/* Rate multiplier: 1 << NCS_SHIFT is the nominal rate. */
#define NCS_SHIFT		31
/*
 * How far ahead of the writer a rate change takes effect: far more than
 * the writer needs to publish it, even in an emulated guest; changes that
 * come meanwhile are published once it is in force.
 */
#define NCS_SWITCH_AHEAD_NS	(500 * NSEC_PER_USEC)
#define NCS_DEFER_SLACK_NS	(20 * NSEC_PER_USEC)
/*
 * Leap hold. A leap step is a clock set from a thread, which a loaded
 * (emulated) machine can run milliseconds late, and a CLOCK_REALTIME timer
 * for the boundary must not fire before the step: the kernel's hrtimers
 * apply its own leap in advance (next_leap_ktime), which a module cannot
 * reach. But the counter is ours: from where CLOCK_REALTIME reaches the
 * start of the hold, the counter crawls at 2^-NCS_HOLD_SHIFT of its rate
 * (never 0: readers see progress, and a starved thread cannot stop the
 * clock) until it has covered NCS_HOLD_NS, then runs at its rate again.
 * The step ends the hold: the counter jumps to where its rate would have
 * taken it, as after a long tick, so CLOCK_MONOTONIC loses nothing; timers
 * due meanwhile fire that much late. (The clock event device is programmed
 * as if the clock ran at its rate: a timer due within the hold gets early
 * interrupts that find it not yet due and reprogram it, each one for the
 * remaining clock time, so about 2^NCS_HOLD_SHIFT per e-fold of closing
 * in. The step ends them; a timer at the end of the hold sees a few
 * hundred in a hold of 100 ms.) The hold starts NCS_HOLD_NS before
 * 00:00:00 for an insertion, NCS_LEAP_DELETE_LAG_NS after 23:59:59 for a
 * deletion (the first instant of the deleted second, so that adjtimex
 * reads the far side of the leap meanwhile, as before the kernel's tick).
 * Worst case: the thread never comes; the crawl then ends
 * NCS_HOLD_NS << NCS_HOLD_SHIFT (256 ms) after the start, and the clock
 * runs at its rate again, that much behind, until the step (or whatever
 * else ends the hold) catches it up.
 */
#define NCS_HOLD_SHIFT		10
#define NCS_HOLD_NS		(250 * NSEC_PER_USEC)
#define NCS_HOLD_MAX_NS		(NCS_HOLD_NS << NCS_HOLD_SHIFT)
/*
 * Our clocksource, not verified itself, outranks the others and so becomes
 * the watchdog that the TSC is checked against every WATCHDOG_INTERVAL
 * (half a second): it must allow for the fastest or slowest rate the
 * discipline can set, or a steered clock would get the TSC marked
 * unstable. From the clamps, in ns per second of counter:
 *   tick within 10 % of nominal                      100,000,000
 *   phase slew: MAXPHASE >> SHIFT_PLL at constant 0  125,000,000
 *   frequency, MAXFREQ                                   500,000
 *   adjtime slew, MAX_TICKADJ                            500,000
 *   total                                            226,000,000
 * so 113 ms over half a second, plus a leap hold that lasts its longest.
 */
#define NCS_WORST_RATE_NS	(NSEC_PER_SEC / 10 +			\
				 (DISC_MAXPHASE >> DISC_SHIFT_PLL) +	\
				 DISC_MAXFREQ +				\
				 DISC_MAX_TICKADJ * NSEC_PER_USEC)
#define NCS_UNCERTAINTY_NS	(NCS_WORST_RATE_NS / 2 + NCS_HOLD_MAX_NS)
/* Per-second timer: a little after each CLOCK_REALTIME boundary. */
#define NCS_TICK_SLACK_NS	1000
#define NCS_TICK_LEAP_SLACK_NS	(2 * NSEC_PER_MSEC)
#define NCS_LEAP_DELETE_LAG_NS	(20 * NSEC_PER_USEC)
/* The kernel's own discipline changing our rate by more is reported. */
#define NCS_FOREIGN_PPM		2
#define NCS_FOREIGN_SECS	8

/**
 * struct ncs_rate - the counter as a function of the TSC, in two pieces,
 *	or three during a leap hold
 * @tsc0: start of the first piece
 * @out0: counter value at @tsc0
 * @mult0: rate of the first piece, 1 << NCS_SHIFT being nominal
 * @tsc1: switch point, where the second piece starts
 * @out1: counter value at @tsc1, on the first piece's line
 * @mult1: rate from @tsc1 on (the crawl, during a hold)
 * @tsc2: where a hold ends, if @mult2
 * @out2: counter value at @tsc2, on the second piece's line
 * @mult2: rate after a hold, or 0: no third piece
 */
struct ncs_rate {
	u64 tsc0;
	u64 out0;
	u64 tsc1;
	u64 out1;
	u64 tsc2;
	u64 out2;
	u32 mult0;
	u32 mult1;
	u32 mult2;
};

/**
 * struct ncs - the clocksource actuator
 * @latch: selects the copy of @rate that readers use
 * @rate: the two copies readers see
 * @lock: serialises the discipline and every writer
 * @next: the writer's copy of what @rate holds
 * @disc: the discipline
 * @tai: TAI - UTC, as ntpdisc reports it
 * @cs: the clocksource
 * @tsc_hz: TSC frequency, from the kernel's calibration
 * @switch_ahead: NCS_SWITCH_AHEAD_NS in TSC cycles
 * @suspend_out: counter value when the system suspended
 * @registered: @cs is registered
 * @in_use: the timekeeper runs on @cs (between enable and disable)
 * @stepping: the thread is setting the clock; the timer keeps off
 * @hold: a leap hold is published (@next has three pieces)
 * @hold_sec: the leap second the hold is for
 * @offs: the clocks' offsets from CLOCK_MONOTONIC when last seen
 * @last_second: the last CLOCK_REALTIME second the discipline ran
 * @updates: seconds run since load
 * @clock_sets: clock sets by others seen since load
 * @late_switches: rate changes published after their switch point
 * @leaps: leap seconds stepped
 * @leap_late_ns: where the last leap step landed, from its boundary
 * @foreign_mono: CLOCK_MONOTONIC at the start of the foreign-rate check
 * @foreign_raw: CLOCK_MONOTONIC_RAW at the same moment
 * @foreign_warned: the kernel's own steering was reported
 * @tsc_failed: the TSC (or we) were found unstable; @fail_work gives the
 *	timekeeper back
 * @fail_work: releases the clocksource from process context
 * @handback_due: @tsc_failed took the clocksource down, and no
 *	NTPDISC_RELEASE has come since to hand the discipline's state to the
 *	kernel's, which runs from the neutral state "ntpdisc load" left it
 * @timer: per-second timer
 * @defer: publishes a rate that came while a switch was pending
 * @thread: the stepping thread
 */
struct ncs {
	seqcount_latch_t latch;
	struct ncs_rate rate[2];

	raw_spinlock_t lock;
	struct ncs_rate next;
	struct discipline disc;
	s32 tai;
	struct clocksource cs;
	u64 tsc_hz;
	u64 switch_ahead;
	u64 suspend_out;
	bool registered;
	bool in_use;
	bool stepping;
	bool hold;
	time64_t hold_sec;
	struct ntpdisc_offsets offs;
	time64_t last_second;
	u64 updates;
	u64 clock_sets;
	u64 late_switches;
	u64 leaps;
	s64 leap_late_ns;
	ktime_t foreign_mono;
	ktime_t foreign_raw;
	bool foreign_warned;
	bool tsc_failed;
	struct work_struct fail_work;
	bool handback_due;
	struct hrtimer timer;
	struct hrtimer defer;
	struct task_struct *thread;
};

static struct ncs ncs = {
	.latch = SEQCNT_LATCH_ZERO(ncs.latch),
	.lock = __RAW_SPIN_LOCK_UNLOCKED(ncs.lock),
};

/* Serialises clock steps with each other and with the release. */
static DEFINE_MUTEX(ncs_step_lock);

static __always_inline u64 ncs_eval(const struct ncs_rate *r, u64 tsc)
{
	if ((s64)(tsc - r->tsc1) >= 0) {
		if (unlikely(r->mult2) && (s64)(tsc - r->tsc2) >= 0)
			return r->out2 + mul_u64_u32_shr(tsc - r->tsc2,
							 r->mult2, NCS_SHIFT);
		return r->out1 + mul_u64_u32_shr(tsc - r->tsc1, r->mult1,
						 NCS_SHIFT);
	}
	/* A TSC a few cycles behind on another CPU reads the start. */
	if ((s64)(tsc - r->tsc0) <= 0)
		return r->out0;
	return r->out0 + mul_u64_u32_shr(tsc - r->tsc0, r->mult0, NCS_SHIFT);
}

/* NMI-safe: a latch reader never waits for the writer. */
static u64 notrace ncs_read(struct clocksource *cs)
{
	unsigned int seq;
	u64 val;

	do {
		seq = raw_read_seqcount_latch(&ncs.latch);
		val = ncs_eval(&ncs.rate[seq & 1], rdtsc_ordered());
	} while (raw_read_seqcount_latch_retry(&ncs.latch, seq));
	return val;
}

static void ncs_write_latch(void)
{
	raw_write_seqcount_latch(&ncs.latch);
	ncs.rate[0] = ncs.next;
	raw_write_seqcount_latch(&ncs.latch);
	ncs.rate[1] = ncs.next;
}

/* The discipline's rate as a multiplier; caller holds the lock. */
static u32 ncs_disc_mult(void)
{
	u64 per_second = discipline_tick_length(&ncs.disc) * DISC_HZ;

	return div64_u64(per_second, 2 * NSEC_PER_SEC);
}

/*
 * Make @mult the rate from a point a little ahead on; caller holds the
 * lock with interrupts off. While an earlier change has not been reached
 * yet, readers on other CPUs may still be using the copy without it, so
 * nothing is published: the deferred timer publishes the latest rate once
 * that change is in force. A leap hold keeps the rate it was armed with:
 * its end publishes the discipline's rate.
 */
static void ncs_set_mult(u32 mult)
{
	u64 now = rdtsc_ordered();
	s64 ahead = ncs.next.tsc1 - now;
	u64 at;

	if (ncs.hold)
		return;
	if (ahead > 0) {
		if (!hrtimer_is_queued(&ncs.defer))
			hrtimer_start(&ncs.defer,
				      ns_to_ktime(div64_u64(ahead * NSEC_PER_SEC,
							    ncs.tsc_hz) +
						  NCS_DEFER_SLACK_NS),
				      HRTIMER_MODE_REL_HARD);
		return;
	}
	if (ncs.next.mult1 == mult)
		return;
	/* The last switch has happened: its piece is the base now. */
	ncs.next.tsc0 = ncs.next.tsc1;
	ncs.next.out0 = ncs.next.out1;
	ncs.next.mult0 = ncs.next.mult1;
	at = rdtsc_ordered() + ncs.switch_ahead;
	ncs.next.out1 = ncs.next.out0 +
			mul_u64_u32_shr(at - ncs.next.tsc0, ncs.next.mult0,
					NCS_SHIFT);
	ncs.next.tsc1 = at;
	ncs.next.mult1 = mult;
	ncs_write_latch();
	if ((s64)(rdtsc_ordered() - at) >= 0)
		ncs.late_switches++;
}

/*
 * Rebase both pieces on the counter value @out at the TSC reading @tsc;
 * a hold ends there, at the rate it was armed with.
 */
static void ncs_rebase(u64 tsc, u64 out)
{
	if (ncs.hold) {
		ncs.next.mult1 = ncs.next.mult2;
		ncs.hold = false;
	}
	ncs.next.mult2 = 0;
	ncs.next.tsc0 = tsc;
	ncs.next.out0 = out;
	ncs.next.tsc1 = tsc;
	ncs.next.out1 = out;
	ncs.next.mult0 = ncs.next.mult1;
	ncs_write_latch();
}

/* Clock time @ns as counter units (the TSC's nominal rate). */
static u64 ncs_ns_to_count(u64 ns)
{
	return mul_u64_u32_div(ns, tsc_khz, USEC_PER_SEC);
}

/*
 * Publish a leap hold for @leap_sec, from where CLOCK_REALTIME reads
 * @start_ns (ns since the epoch) to where it reads @start_ns + NCS_HOLD_NS
 * on the current line. Caller holds ncs_step_lock (a release cannot come
 * between) and the lock with interrupts off. Like a rate change it waits
 * for a pending switch and starts a switch time ahead at the soonest, so
 * a late caller gets a shorter hold. Returns 0, -EAGAIN while a switch is
 * pending, -ETIME if no hold fits before the end.
 */
static int ncs_hold_arm(time64_t leap_sec, s64 start_ns)
{
	struct system_time_snapshot snap;
	u64 start, end, tsc_h, out_h, tsc_end, soonest;
	u32 crawl;
	s64 dns;

	if ((s64)(ncs.next.tsc1 - rdtsc_ordered()) > 0)
		return -EAGAIN;
	dns = start_ns - ktime_to_ns(ntpdisc_snapshot_real(&snap));
	end = snap.cycles + ncs_ns_to_count(max_t(s64, dns + NCS_HOLD_NS, 0));
	start = snap.cycles + ncs_ns_to_count(max_t(s64, dns, 0));
	/* The current piece, inverted: the TSC where the counter is @start. */
	tsc_h = ncs.next.tsc1 + mul_u64_u32_div(start - ncs.next.out1,
						1U << NCS_SHIFT,
						ncs.next.mult1);
	soonest = rdtsc_ordered() + ncs.switch_ahead;
	if ((s64)(tsc_h - soonest) < 0)
		tsc_h = soonest;
	out_h = ncs_eval(&ncs.next, tsc_h);
	if ((s64)(end - out_h) <= 0)
		return -ETIME;
	crawl = max(ncs.next.mult1 >> NCS_HOLD_SHIFT, 1U);
	tsc_end = tsc_h + mul_u64_u32_div(end - out_h, 1U << NCS_SHIFT, crawl);

	ncs.next.tsc0 = ncs.next.tsc1;
	ncs.next.out0 = ncs.next.out1;
	ncs.next.mult0 = ncs.next.mult1;
	ncs.next.tsc1 = tsc_h;
	ncs.next.out1 = out_h;
	ncs.next.mult1 = crawl;
	ncs.next.tsc2 = tsc_end;
	ncs.next.out2 = out_h + mul_u64_u32_shr(tsc_end - tsc_h, crawl,
						NCS_SHIFT);
	ncs.next.mult2 = ncs.next.mult0;
	ncs_write_latch();
	if ((s64)(rdtsc_ordered() - tsc_h) >= 0)
		ncs.late_switches++;
	ncs.hold = true;
	ncs.hold_sec = leap_sec;
	return 0;
}

/*
 * End a hold: the counter continues from where the rate it was armed with
 * would have taken it, a jump forward by what the crawl lost (nothing if
 * it had not started). The new line is above the old one from now on, so
 * it takes effect at once. Caller holds the lock with interrupts off and
 * publishes the discipline's rate afterwards. Returns how long the clock
 * crawled, in ns.
 */
static u64 ncs_hold_end(void)
{
	u64 now = rdtsc_ordered(), held = 0, out;

	if (!ncs.hold)
		return 0;
	if ((s64)(now - ncs.next.tsc1) > 0) {
		held = now - ncs.next.tsc1;
		out = ncs.next.out1 + mul_u64_u32_shr(held, ncs.next.mult2,
						      NCS_SHIFT);
	} else {
		out = ncs_eval(&ncs.next, now);
	}
	ncs_rebase(now, out);
	return mul_u64_u32_div(held, USEC_PER_SEC, tsc_khz);
}

static int ncs_enable(struct clocksource *cs)
{
	ncs.in_use = true;
	return 0;
}

/*
 * The timekeeper has already read the counter for the last time: a hold
 * in force when someone else selects another clocksource costs the clock
 * the time the crawl lost (at most NCS_HOLD_MAX_NS). The release ends the
 * hold before it unregisters.
 */
static void ncs_disable(struct clocksource *cs)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&ncs.lock, flags);
	ncs.in_use = false;
	ncs_hold_end();
	raw_spin_unlock_irqrestore(&ncs.lock, flags);
}

/*
 * The counter under us cannot be trusted: give the timekeeper back, once,
 * from process context. Caller holds the lock.
 */
static void ncs_fail(void)
{
	if (!ncs.tsc_failed) {
		ncs.tsc_failed = true;
		schedule_work(&ncs.fail_work);
	}
}

/* The watchdog found our clocksource itself off: the same way out. */
static void ncs_mark_unstable(struct clocksource *cs)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&ncs.lock, flags);
	ncs_fail();
	raw_spin_unlock_irqrestore(&ncs.lock, flags);
}

static void ncs_suspend(struct clocksource *cs)
{
	ncs.suspend_out = ncs_read(cs);
}

/* The TSC may have restarted from zero: carry on from where we stopped. */
static void ncs_resume(struct clocksource *cs)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&ncs.lock, flags);
	ncs_rebase(rdtsc_ordered(), ncs.suspend_out);
	raw_spin_unlock_irqrestore(&ncs.lock, flags);
}

/*
 * One coherent reading: CLOCK_MONOTONIC, CLOCK_REALTIME and its second,
 * and, for the per-second check only, CLOCK_MONOTONIC_RAW right after.
 */
struct ncs_now {
	ktime_t mono;
	ktime_t real;
	ktime_t raw;
	struct ntpdisc_offsets offs;
	struct timespec64 ts;
};

static void ncs_read_clocks(struct ncs_now *now, bool raw)
{
	do {
		ntpdisc_read_offsets(&now->offs);
		now->mono = ktime_get();
		now->raw = raw ? ktime_get_raw() : 0;
	} while (!ntpdisc_offsets_still(&now->offs));
	now->real = ktime_add(now->mono, now->offs.real);
	now->ts = ktime_to_timespec64(now->real);
}

static void ncs_read_clock(struct ncs_now *now)
{
	ncs_read_clocks(now, false);
}

/*
 * The second at which an armed leap acts, or TIME64_MAX; @dir (may be
 * NULL) gets -1 for an insertion, 1 for a deletion.
 */
static time64_t ncs_leap_second(int *dir)
{
	const struct discipline *disc = &ncs.disc;
	int d = 0;

	if (disc->time_state == TIME_INS && (disc->time_status & STA_INS))
		d = -1;
	else if (disc->time_state == TIME_DEL && (disc->time_status & STA_DEL))
		d = 1;
	if (dir)
		*dir = d;
	return d ? disc->next_leap_sec : TIME64_MAX;
}

/*
 * A hold lasts no longer than its leap is armed and the timekeeper counts
 * this clocksource; a leap being stepped ends it itself. Caller holds the
 * lock with interrupts off and publishes the discipline's rate afterwards.
 */
static void ncs_hold_check(void)
{
	if (ncs.hold && !ncs.stepping &&
	    (!ncs.in_use || ncs_leap_second(NULL) != ncs.hold_sec))
		ncs_hold_end();
}

/*
 * Run the discipline up to @sec; the second of an armed leap is left to
 * the stepping thread. Caller holds the lock.
 */
static void ncs_advance_to(time64_t sec)
{
	while (ncs.last_second < sec) {
		/* Unless nobody would step it: then it passes unapplied. */
		if (ncs.in_use && ncs.last_second + 1 == ncs_leap_second(NULL))
			break;
		ncs.last_second++;
		discipline_second_overflow(&ncs.disc, ncs.last_second);
		ncs.updates++;
	}
}

/* Bring the discipline up to @now; caller holds the lock. */
static void ncs_sync(const struct ncs_now *now)
{
	s64 slept_ns, step_ns;

	if (ncs.stepping)
		return;
	step_ns = ntpdisc_offsets_moved(&ncs.offs, &now->offs, &slept_ns);
	if (slept_ns) {
		/* As the kernel's discipline, none of the seconds asleep. */
		ncs_advance_to(now->ts.tv_sec - div_s64(slept_ns +
			       NSEC_PER_SEC / 2, NSEC_PER_SEC));
		ncs.last_second = max(ncs.last_second, now->ts.tv_sec);
	}
	if (step_ns) {
		/* Someone set the clock: react as the kernel's NTP does. */
		discipline_clear(&ncs.disc);
		ncs.last_second = now->ts.tv_sec;
		ncs.clock_sets++;
	}
	ncs_advance_to(now->ts.tv_sec);
	ncs_hold_check();
}

/* Publish the discipline's rate if the timekeeper runs on us. */
static void ncs_steer(void)
{
	if (ncs.registered)
		ncs_set_mult(ncs_disc_mult());
}

static enum hrtimer_restart ncs_deferred(struct hrtimer *timer)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&ncs.lock, flags);
	ncs_steer();
	raw_spin_unlock_irqrestore(&ncs.lock, flags);
	return HRTIMER_NORESTART;
}

/*
 * In this mode the kernel's own adjtimex still steers the timekeeper, on
 * top of ntpdisc. CLOCK_MONOTONIC against CLOCK_MONOTONIC_RAW shows
 * exactly that part, since both count this clocksource. Returns true,
 * once, when it does, with @off_ns of it in @over_ns: the caller reports
 * it, since this runs under the lock.
 */
static bool ncs_check_foreign(const struct ncs_now *now, s64 *off_ns,
			      s64 *over_ns)
{
	ktime_t raw = now->raw;
	s64 d_mono, d_raw;

	if (!ncs.in_use || ncs.foreign_warned) {
		ncs.foreign_raw = 0;
		return false;
	}
	if (!ncs.foreign_raw) {
		ncs.foreign_mono = now->mono;
		ncs.foreign_raw = raw;
		return false;
	}
	d_raw = ktime_to_ns(ktime_sub(raw, ncs.foreign_raw));
	if (d_raw < NCS_FOREIGN_SECS * NSEC_PER_SEC)
		return false;
	d_mono = ktime_to_ns(ktime_sub(now->mono, ncs.foreign_mono));
	ncs.foreign_mono = now->mono;
	ncs.foreign_raw = raw;
	if (abs(d_mono - d_raw) <= div_s64(d_raw * NCS_FOREIGN_PPM, USEC_PER_SEC))
		return false;
	ncs.foreign_warned = true;
	*off_ns = d_mono - d_raw;
	*over_ns = d_raw;
	return true;
}

/*
 * The TSC under us was declared unstable (by the clocksource watchdog,
 * which checks it against another clocksource, or by the kernel's own
 * TSC checks): the clock must not run on it a second longer than it
 * takes to notice. Caller holds the lock.
 */
static void ncs_check_tsc(void)
{
	if (ncs.registered && check_tsc_unstable())
		ncs_fail();
}

static enum hrtimer_restart ncs_tick(struct hrtimer *timer)
{
	s64 foreign_ns, over_ns;
	struct ncs_now now;
	unsigned long flags;
	time64_t leap_sec;
	bool foreign;
	u64 slack;

	raw_spin_lock_irqsave(&ncs.lock, flags);
	ncs_read_clocks(&now, true);
	ncs_sync(&now);
	ncs_steer();
	foreign = ncs_check_foreign(&now, &foreign_ns, &over_ns);
	ncs_check_tsc();
	leap_sec = ncs_leap_second(NULL);
	raw_spin_unlock_irqrestore(&ncs.lock, flags);

	/* Not under the lock, raw and held in hard interrupt context. */
	if (foreign)
		pr_warn("the kernel's own discipline steers the clock too (%lld ns in %lld ns): leave its frequency and tick alone while ntpdisc steers\n",
			foreign_ns, over_ns);

	/* The thread sleeps until shortly before the step. */
	if (ncs.in_use && leap_sec != TIME64_MAX &&
	    leap_sec - now.ts.tv_sec <= 2)
		wake_up_process(ncs.thread);

	/*
	 * Keep out of the way of the step at the next boundary: this
	 * interrupt, arriving in the middle of it, would delay it.
	 */
	slack = leap_sec == now.ts.tv_sec + 1 ? NCS_TICK_LEAP_SLACK_NS :
						NCS_TICK_SLACK_NS;
	hrtimer_set_expires(timer, ktime_add_ns(now.mono, NSEC_PER_SEC -
						now.ts.tv_nsec + slack));
	return HRTIMER_RESTART;
}

/*
 * Set the clock by @delta, from process context, with ncs.stepping set by
 * the caller: the timer keeps off the discipline meanwhile, and the offset
 * afterwards is taken as ours, not as someone else's clock set. A leap
 * hold ends right after the set, once the clock has left the boundary it
 * held. Returns what do_settimeofday64() returned; @at, if not NULL, gets
 * CLOCK_REALTIME just before the step, in ns; @held, if not NULL, how long
 * the clock crawled before it, in ns.
 */
static int ncs_step(const struct timespec64 *delta, s64 *at, u64 *held)
{
	struct timespec64 ts;
	struct ncs_now now;
	unsigned long flags;
	u64 crawled;
	int ret;

	ktime_get_real_ts64(&ts);
	if (at)
		*at = timespec64_to_ns(&ts);
	ts = timespec64_add(ts, *delta);
	ret = do_settimeofday64(&ts);

	raw_spin_lock_irqsave(&ncs.lock, flags);
	crawled = ncs_hold_end();
	ncs_read_clock(&now);
	ncs.offs = now.offs;
	ncs.stepping = false;
	ncs_steer();
	raw_spin_unlock_irqrestore(&ncs.lock, flags);
	if (held)
		*held = crawled;
	return ret;
}

/*
 * Apply the leap armed for @leap_sec: run the discipline's second of the
 * leap (it turns TIME_OOP or TIME_WAIT) and step the clock by one second.
 */
static bool ncs_leap(time64_t leap_sec)
{
	struct timespec64 delta = { 0 };
	struct ncs_now now;
	unsigned long flags;
	s64 at, boundary;
	bool hold_ok;
	u64 held;
	int dir, leap;

	raw_spin_lock_irqsave(&ncs.lock, flags);
	/* A clock set since the thread looked disarms the leap. */
	ncs_read_clock(&now);
	ncs_sync(&now);
	if (!ncs.in_use || ncs_leap_second(&dir) != leap_sec) {
		raw_spin_unlock_irqrestore(&ncs.lock, flags);
		return false;
	}
	ncs_advance_to(leap_sec - 1);
	leap = discipline_second_overflow(&ncs.disc, leap_sec);
	ncs.updates++;
	ncs.tai -= leap;
	/*
	 * After an insertion the clock reads the second before the leap
	 * again, and the kernel runs the leap second once more; a deleted
	 * second's successor is never run.
	 */
	ncs.last_second = leap < 0 ? leap_sec - 1 :
			  leap > 0 ? leap_sec + 1 : leap_sec;
	ncs.stepping = leap != 0;
	hold_ok = ncs.hold && ncs.hold_sec == leap_sec;
	ncs_hold_check();
	raw_spin_unlock_irqrestore(&ncs.lock, flags);
	if (!leap)
		return true;

	delta.tv_sec = leap;
	ncs_step(&delta, &at, &held);
	boundary = leap_sec * NSEC_PER_SEC;
	raw_spin_lock_irqsave(&ncs.lock, flags);
	ncs.leaps++;
	ncs.leap_late_ns = at - boundary;
	raw_spin_unlock_irqrestore(&ncs.lock, flags);
	pr_notice("%s a leap second, stepping at %+lld ns from %s (clock held for %llu us%s)\n",
		  leap < 0 ? "inserted" : "deleted", at - boundary,
		  leap < 0 ? "00:00:00" : "23:59:59", div_u64(held, NSEC_PER_USEC),
		  hold_ok ? "" : ", no hold");
	return true;
}

/* Where CLOCK_REALTIME starts to crawl for a leap: see NCS_HOLD_SHIFT. */
static s64 ncs_hold_start(time64_t leap_sec, int dir)
{
	return leap_sec * NSEC_PER_SEC +
	       (dir < 0 ? -(s64)NCS_HOLD_NS : NCS_LEAP_DELETE_LAG_NS);
}

/*
 * The stepping thread: woken by the timer when a leap is at most two
 * seconds away, it publishes the hold a little before it starts, sleeps
 * until it starts and steps. However late it runs within the hold, the
 * clock has not reached the boundary: the step lands within the hold.
 */
static int ncs_thread_fn(void *unused)
{
	for (;;) {
		unsigned long flags;
		struct ncs_now now;
		time64_t leap_sec;
		s64 start, wait;
		ktime_t wake;
		bool held, ready, acted;
		int dir, ret;

		/* Asleep before looking: kthread_stop() cannot be missed. */
		set_current_state(TASK_INTERRUPTIBLE);
		if (kthread_should_stop())
			break;
		raw_spin_lock_irqsave(&ncs.lock, flags);
		leap_sec = ncs.in_use ? ncs_leap_second(&dir) : TIME64_MAX;
		held = ncs.hold && ncs.hold_sec == leap_sec;
		ready = ncs.last_second >= leap_sec - 1;
		ncs_read_clock(&now);
		raw_spin_unlock_irqrestore(&ncs.lock, flags);
		/*
		 * The hold is published once the timer has run the last
		 * second before the leap (and published its rate): from
		 * then on nothing but requests would change the rate, and
		 * those wait for the step. That is a second before the hold
		 * starts, so a thread that wakes late still publishes it in
		 * time; the timer wakes the thread each second.
		 */
		if (leap_sec == TIME64_MAX || leap_sec - now.ts.tv_sec > 2 ||
		    (!held && !ready)) {
			schedule();
			continue;
		}

		/* Looks again on waking: the clock may have been set. */
		start = ncs_hold_start(leap_sec, dir);
		wait = start - ktime_to_ns(now.real);
		__set_current_state(TASK_RUNNING);
		if (!held) {
			mutex_lock(&ncs_step_lock);
			raw_spin_lock_irqsave(&ncs.lock, flags);
			ret = -ENODEV;
			if (ncs.registered && ncs.in_use &&
			    ncs_leap_second(NULL) == leap_sec)
				ret = ncs_hold_arm(leap_sec, start);
			raw_spin_unlock_irqrestore(&ncs.lock, flags);
			mutex_unlock(&ncs_step_lock);
			if (ret == -EAGAIN) {
				/* A rate switch is at most this far ahead. */
				usleep_range(NCS_SWITCH_AHEAD_NS / NSEC_PER_USEC,
					     2 * NCS_SWITCH_AHEAD_NS / NSEC_PER_USEC);
				continue;
			}
			/* Too late to hold (-ETIME): step at once. */
			if (ret != -ETIME)
				continue;
		} else if (wait > 0) {
			set_current_state(TASK_INTERRUPTIBLE);
			if (kthread_should_stop())
				break;
			wake = ktime_add_ns(now.mono, wait);
			schedule_hrtimeout(&wake, HRTIMER_MODE_ABS);
			continue;
		}
		mutex_lock(&ncs_step_lock);
		acted = ncs_leap(leap_sec);
		mutex_unlock(&ncs_step_lock);
		/* Whatever kept it from acting, do not spin on it. */
		if (!acted)
			schedule_timeout_interruptible(1);
	}
	__set_current_state(TASK_RUNNING);
	return 0;
}

static int ncs_setoffset(const struct __kernel_timex *txc)
{
	struct timespec64 delta, wall_to_mono;
	struct ncs_now now;
	unsigned long flags;
	int ret;

	ret = discipline_setoffset_delta(txc, &delta);
	if (ret)
		return ret;
	if (!ncs.registered)
		return -EOPNOTSUPP;

	raw_spin_lock_irqsave(&ncs.lock, flags);
	ncs_read_clock(&now);
	ncs_sync(&now);
	wall_to_mono = ktime_to_timespec64(ktime_sub(now.mono, now.real));
	ret = discipline_setoffset_check(&now.ts, &wall_to_mono, &delta);
	ncs.stepping = !ret;
	raw_spin_unlock_irqrestore(&ncs.lock, flags);

	if (!ret)
		ret = ncs_step(&delta, NULL, NULL);

	/* Up to 6.12 the kernel clears its NTP state even when it refuses. */
	raw_spin_lock_irqsave(&ncs.lock, flags);
	if (!ret || ntpdisc_refused_set_clears_ntp())
		discipline_clear(&ncs.disc);
	ncs_read_clock(&now);
	ncs.last_second = now.ts.tv_sec;
	ncs_hold_check();
	ncs_steer();
	raw_spin_unlock_irqrestore(&ncs.lock, flags);
	return ret;
}

static int ncs_adjtimex(struct __kernel_timex *txc)
{
	struct timespec64 before, *handed_back = NULL;
	struct audit_ntp_data ad;
	struct ncs_now now;
	unsigned long flags;
	int ret;

	ret = discipline_validate(txc, ntpdisc_may_set_time);
	if (ret)
		return ret;

	if (txc->modes & ADJ_SETOFFSET) {
		/* The time handed back: before the step, where the kernel's is. */
		if (ntpdisc_time_read_before_set()) {
			ktime_get_real_ts64(&before);
			handed_back = &before;
		}
		mutex_lock(&ncs_step_lock);
		ret = ncs_setoffset(txc);
		mutex_unlock(&ncs_step_lock);
		if (ret)
			return ret;
	}

	audit_ntp_init(&ad);
	raw_spin_lock_irqsave(&ncs.lock, flags);
	ncs_read_clock(&now);
	ncs_sync(&now);
	ntpdisc_audit_snapshot(&ad, &ncs.disc, ncs.tai, txc, false);
	ret = discipline_adjtimex(&ncs.disc, txc, handed_back ?: &now.ts,
				  now.ts.tv_sec, &ncs.tai);
	ntpdisc_audit_snapshot(&ad, &ncs.disc, ncs.tai, txc, true);
	ncs_hold_check();
	ncs_steer();
	raw_spin_unlock_irqrestore(&ncs.lock, flags);
	ntpdisc_audit_log(&ad);
	return ret;
}

static void ncs_gettime(struct timespec64 *ts)
{
	ktime_get_real_ts64(ts);
}

static void ncs_output(struct ntpdisc_output *out)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&ncs.lock, flags);
	ntpdisc_fill_output(&ncs.disc, out);
	out->last_second = ncs.last_second;
	out->updates = ncs.updates;
	out->clock_sets = ncs.clock_sets;
	out->cs_mult = ncs.hold ? ncs.next.mult2 : ncs.next.mult1;
	out->cs_late_switches = ncs.late_switches;
	out->leaps = ncs.leaps;
	out->leap_step_ns = ncs.leap_late_ns;
	if (!ncs.in_use)
		out->flags |= NTPDISC_OUTPUT_RELEASED;
	if (ncs.handback_due)
		out->flags |= NTPDISC_OUTPUT_HANDBACK_DUE;
	raw_spin_unlock_irqrestore(&ncs.lock, flags);
}

static const char *ncs_unusable(void)
{
	if (!boot_cpu_has(X86_FEATURE_TSC) || !tsc_khz)
		return "this machine has no usable TSC";
	if (check_tsc_unstable())
		return "the TSC is marked unstable";
	if (!ntpdisc_cs_watchdog_has_margin())
		return "the clocksource watchdog of this kernel allows only 4000 ppm of steering";
	if (boot_cpu_has(X86_FEATURE_CONSTANT_TSC) &&
	    boot_cpu_has(X86_FEATURE_NONSTOP_TSC))
		return NULL;
	if (!testonly_ignore_tsc_invariance)
		return "the TSC is not invariant (constant_tsc and nonstop_tsc)";
	pr_warn("steer=clocksource on a TSC that is not invariant (testonly_ignore_tsc_invariance): for tests under emulation only\n");
	return NULL;
}

static void ncs_fail_fn(struct work_struct *work);

static void ncs_prepare(const struct discipline_handover *from)
{
	struct ncs_now now;

	discipline_init(&ncs.disc);
	ncs.tai = 0;
	ncs.updates = 0;
	ncs.clock_sets = 0;
	ncs.late_switches = 0;
	ncs.leaps = 0;
	ncs.leap_late_ns = 0;
	ncs.hold = false;
	ncs.foreign_raw = 0;
	ncs.foreign_warned = false;
	ncs.stepping = false;
	ncs.tsc_failed = false;
	ncs.handback_due = false;
	INIT_WORK(&ncs.fail_work, ncs_fail_fn);
	ncs.thread = NULL;
	/* Here, so that a stop after a failed start finds them. */
	hrtimer_setup(&ncs.defer, ncs_deferred, CLOCK_MONOTONIC,
		      HRTIMER_MODE_REL_HARD);
	hrtimer_setup(&ncs.timer, ncs_tick, CLOCK_MONOTONIC,
		      HRTIMER_MODE_ABS_HARD);
	ncs_read_clock(&now);
	ncs.offs = now.offs;
	ncs.last_second = now.ts.tv_sec;
	if (from) {
		discipline_adopt(&ncs.disc, from);
		ncs.disc.time_reftime = now.ts.tv_sec;
		ncs.tai = from->tai;
	}
}

/*
 * The tick wakes the thread and the thread arms the deferred timer: the
 * thread stops first, and its task stays ours until the tick, which may
 * still wake it, is cancelled. Safe after a failed start.
 */
static void ncs_stop_engine(void)
{
	unsigned long flags;

	if (ncs.thread)
		kthread_stop(ncs.thread);
	hrtimer_cancel(&ncs.timer);
	hrtimer_cancel(&ncs.defer);
	if (ncs.thread)
		put_task_struct(ncs.thread);
	ncs.thread = NULL;
	raw_spin_lock_irqsave(&ncs.lock, flags);
	ncs_hold_end();
	raw_spin_unlock_irqrestore(&ncs.lock, flags);
}

static int ncs_start(void)
{
	struct task_struct *thread;
	struct ncs_now now;
	unsigned long flags;
	u64 tsc;
	int ret;

	ncs.tsc_hz = (u64)tsc_khz * 1000;
	ncs.switch_ahead = div_u64(ncs.tsc_hz * NCS_SWITCH_AHEAD_NS,
				   NSEC_PER_SEC);

	raw_spin_lock_irqsave(&ncs.lock, flags);
	tsc = rdtsc_ordered();
	ncs.next.mult1 = ncs_disc_mult();
	ncs_rebase(tsc, tsc);
	raw_spin_unlock_irqrestore(&ncs.lock, flags);

	ncs.cs = (struct clocksource) {
		.name = "ntpdisc",
		.rating = NCS_RATING,
		.read = ncs_read,
		.mask = CLOCKSOURCE_MASK(64),
		/*
		 * Verified, so that it never becomes the watchdog the TSC
		 * is checked against: it follows the TSC, and a TSC checked
		 * against itself is never found unstable. Valid for high
		 * resolution from the start, as the TSC's own clocksource
		 * is, so that registering selects it without waiting for a
		 * first verdict of the watchdog.
		 */
		.flags = CLOCK_SOURCE_IS_CONTINUOUS | CLOCK_SOURCE_MUST_VERIFY |
			 CLOCK_SOURCE_VALID_FOR_HRES,
		.mark_unstable = ncs_mark_unstable,
		NTPDISC_CS_MARGIN_FIELD(NCS_UNCERTAINTY_NS)
		.vdso_clock_mode = VDSO_CLOCKMODE_NONE,
		.enable = ncs_enable,
		.disable = ncs_disable,
		.suspend = ncs_suspend,
		.resume = ncs_resume,
		.owner = THIS_MODULE,
	};

	thread = kthread_create(ncs_thread_fn, NULL, "ntpdisc-step");
	if (IS_ERR(thread))
		return PTR_ERR(thread);
	get_task_struct(thread);
	ncs.thread = thread;
	sched_set_fifo(thread);
	wake_up_process(thread);

	ncs_read_clock(&now);
	hrtimer_start(&ncs.timer,
		      ktime_add_ns(now.mono, NSEC_PER_SEC - now.ts.tv_nsec +
				   NCS_TICK_SLACK_NS),
		      HRTIMER_MODE_ABS_HARD);

	/* Registering selects it: it outranks every other clocksource. */
	raw_spin_lock_irqsave(&ncs.lock, flags);
	ncs.registered = true;
	raw_spin_unlock_irqrestore(&ncs.lock, flags);
	ret = clocksource_register_hz(&ncs.cs, ncs.tsc_hz);
	if (ret)
		goto err_registered;
	if (!ncs.in_use) {
		pr_err("steer=clocksource: the timekeeper did not switch to ntpdisc (is another clocksource forced through current_clocksource?)\n");
		clocksource_unregister(&ncs.cs);
		ret = -EBUSY;
		goto err_registered;
	}
	pr_info("steering through clocksource ntpdisc (TSC at %u kHz)\n",
		tsc_khz);
	return 0;

	/* The rest is ncs_stop()'s. */
err_registered:
	raw_spin_lock_irqsave(&ncs.lock, flags);
	ncs.registered = false;
	raw_spin_unlock_irqrestore(&ncs.lock, flags);
	return ret;
}

/*
 * Hand the timekeeper back to the best other clocksource, if it still has
 * ours; @failed: because the TSC failed. Caller holds ncs_step_lock.
 */
static int ncs_unregister(bool failed)
{
	unsigned long flags;
	int ret;

	if (!ncs.registered)
		return 0;
	/* The timekeeper reads the counter once more as it lets go. */
	raw_spin_lock_irqsave(&ncs.lock, flags);
	ncs_hold_end();
	raw_spin_unlock_irqrestore(&ncs.lock, flags);
	ret = clocksource_unregister(&ncs.cs);
	if (ret)
		return ret;
	raw_spin_lock_irqsave(&ncs.lock, flags);
	ncs.registered = false;
	ncs.handback_due = failed;
	raw_spin_unlock_irqrestore(&ncs.lock, flags);
	if (!failed)
		pr_info("released: the timekeeper is back on its own clocksource\n");
	return 0;
}

/*
 * NTPDISC_RELEASE, also after the TSC failed: then it is the request of
 * "ntpdisc release" that hands the discipline's state to the kernel's.
 */
static int ncs_release(void)
{
	unsigned long flags;
	int ret;

	mutex_lock(&ncs_step_lock);
	ret = ncs_unregister(false);
	if (!ret) {
		raw_spin_lock_irqsave(&ncs.lock, flags);
		ncs.handback_due = false;
		raw_spin_unlock_irqrestore(&ncs.lock, flags);
	}
	mutex_unlock(&ncs_step_lock);
	return ret;
}

static void ncs_fail_fn(struct work_struct *work)
{
	int ret;

	mutex_lock(&ncs_step_lock);
	if (ncs.registered)
		pr_warn("the TSC is unstable: handing the timekeeper back to another clocksource; the discipline answers without steering from now on, and 'ntpdisc release' gives its state to the kernel's\n");
	ret = ncs_unregister(true);
	mutex_unlock(&ncs_step_lock);
	if (ret)
		pr_err("handing the timekeeper back failed (%d): select another clocksource in current_clocksource\n",
		       ret);
}

static void ncs_stop(void)
{
	ncs_stop_engine();
	/* The tick that queues it is gone. */
	cancel_work_sync(&ncs.fail_work);
	/* rmmod only gets here once the timekeeper has let go of us. */
	if (ncs.registered)
		clocksource_unregister(&ncs.cs);
	ncs.registered = false;
}

/*
 * For the benchmark (debug.c): the clocksource while it is registered.
 * Its read stays valid after a release, until the module goes.
 */
struct clocksource *ntpdisc_cs_clocksource(void)
{
	return READ_ONCE(ncs.registered) ? &ncs.cs : NULL;
}

const struct ntpdisc_actuator ntpdisc_clocksource = {
	.name = "clocksource",
	.steer = NTPDISC_STEER_CLOCKSOURCE,
	.unusable = ncs_unusable,
	.prepare = ncs_prepare,
	.start = ncs_start,
	.stop = ncs_stop,
	.release = ncs_release,
	.adjtimex = ncs_adjtimex,
	.gettime = ncs_gettime,
	.output = ncs_output,
};
