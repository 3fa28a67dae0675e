// SPDX-License-Identifier: GPL-2.0
/*
 * The clocksource actuator (steer=clocksource): the portable way to steer.
 *
 * ntpdisc registers a clocksource of its own that reads the TSC and
 * scales it by the rate the discipline asks for. The timekeeper, whose own
 * NTP code is left neutral, turns those counts into CLOCK_MONOTONIC and
 * CLOCK_REALTIME, so the clock runs at ntpdisc's rate. Leap seconds and
 * ADJ_SETOFFSET are clock sets done from a high-priority kernel thread.
 *
 * The read path is a latch (two copies, readers take the one not being
 * written), so a reader in NMI context never waits for the writer. A rate
 * change only takes effect at a switch point a little in the future,
 * which both copies know before any CPU reaches it: every reader computes
 * the same value for the same TSC reading, so the counter never goes back.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/clocksource.h>
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/printk.h>
#include <linux/sched.h>
#include <linux/seqlock.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>

#include <asm/cpufeature.h>
#include <asm/msr.h>
#include <asm/tsc.h>

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
 * Stepping over the widest rate the discipline can set (tick +-10 %,
 * frequency, phase and adjtime slew) for half a second, the watchdog's
 * interval: the watchdog compares other clocksources with this one.
 */
#define NCS_UNCERTAINTY_NS	(60 * NSEC_PER_MSEC)
/* Per-second timer: a little after each CLOCK_REALTIME boundary. */
#define NCS_TICK_SLACK_NS	1000
#define NCS_TICK_LEAP_SLACK_NS	(2 * NSEC_PER_MSEC)
/*
 * Leap steps: an insertion aims this much before 00:00:00, plus what the
 * path to the step takes (measured, at most NCS_LEAP_MAX_EARLY_NS), so
 * that it lands before the boundary; a deletion this much after 23:59:59.
 * The thread sleeps until NCS_LEAP_WAKE_NS before that and spins the rest
 * (wake-ups in an emulated guest can be milliseconds late).
 */
#define NCS_LEAP_INSERT_LEAD_NS	(100 * NSEC_PER_USEC)
#define NCS_LEAP_MAX_EARLY_NS	NSEC_PER_MSEC
#define NCS_LEAP_DELETE_LAG_NS	(20 * NSEC_PER_USEC)
#define NCS_LEAP_WAKE_NS	(30 * NSEC_PER_MSEC)
/* The kernel's own discipline changing our rate by more is reported. */
#define NCS_FOREIGN_PPM		2
#define NCS_FOREIGN_SECS	8

/**
 * struct ncs_rate - the counter as a function of the TSC, in two pieces
 * @tsc0: start of the first piece
 * @out0: counter value at @tsc0
 * @mult0: rate of the first piece, 1 << NCS_SHIFT being nominal
 * @tsc1: switch point, where the second piece starts
 * @out1: counter value at @tsc1, on the first piece's line
 * @mult1: rate from @tsc1 on
 */
struct ncs_rate {
	u64 tsc0;
	u64 out0;
	u64 tsc1;
	u64 out1;
	u32 mult0;
	u32 mult1;
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
 * @offs_real: CLOCK_REALTIME - CLOCK_MONOTONIC when last seen
 * @last_second: the last CLOCK_REALTIME second the discipline ran
 * @updates: seconds run since load
 * @clock_sets: clock sets by others seen since load
 * @late_switches: rate changes published after their switch point
 * @leaps: leap seconds stepped
 * @leap_late_ns: where the last leap step landed, from its boundary
 * @leap_spun_ns: where the stepping thread stopped waiting, likewise
 * @foreign_mono: CLOCK_MONOTONIC at the start of the foreign-rate check
 * @foreign_raw: CLOCK_MONOTONIC_RAW at the same moment
 * @foreign_warned: the kernel's own steering was reported
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
	ktime_t offs_real;
	time64_t last_second;
	u64 updates;
	u64 clock_sets;
	u64 late_switches;
	u64 leaps;
	s64 leap_late_ns;
	s64 leap_spun_ns;
	ktime_t foreign_mono;
	ktime_t foreign_raw;
	bool foreign_warned;
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
	if ((s64)(tsc - r->tsc1) >= 0)
		return r->out1 + mul_u64_u32_shr(tsc - r->tsc1, r->mult1,
						 NCS_SHIFT);
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
 * that change is in force.
 */
static void ncs_set_mult(u32 mult)
{
	u64 now = rdtsc_ordered();
	s64 ahead = ncs.next.tsc1 - now;
	u64 at;

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

/* Rebase both pieces on the counter value @out at the TSC reading @tsc. */
static void ncs_rebase(u64 tsc, u64 out)
{
	ncs.next.tsc0 = tsc;
	ncs.next.out0 = out;
	ncs.next.tsc1 = tsc;
	ncs.next.out1 = out;
	ncs.next.mult0 = ncs.next.mult1;
	ncs_write_latch();
}

static int ncs_enable(struct clocksource *cs)
{
	ncs.in_use = true;
	return 0;
}

static void ncs_disable(struct clocksource *cs)
{
	ncs.in_use = false;
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
	struct timespec64 ts;
};

static void ncs_read_clocks(struct ncs_now *now, bool raw)
{
	do {
		now->mono = ktime_get();
		now->raw = raw ? ktime_get_raw() : 0;
		now->real = ktime_mono_to_any(now->mono, TK_OFFS_REAL);
	} while (ktime_compare(ktime_mono_to_any(0, TK_OFFS_REAL),
			       ktime_sub(now->real, now->mono)));
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
	ktime_t offs_real = ktime_sub(now->real, now->mono);

	if (ncs.stepping)
		return;
	if (ktime_compare(offs_real, ncs.offs_real)) {
		/* Someone set the clock: react as the kernel's NTP does. */
		ncs.offs_real = offs_real;
		discipline_clear(&ncs.disc);
		ncs.last_second = now->ts.tv_sec;
		ncs.clock_sets++;
	}
	ncs_advance_to(now->ts.tv_sec);
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
 * exactly that part, since both count this clocksource.
 */
static void ncs_check_foreign(const struct ncs_now *now)
{
	ktime_t raw = now->raw;
	s64 d_mono, d_raw;

	if (!ncs.in_use || ncs.foreign_warned) {
		ncs.foreign_raw = 0;
		return;
	}
	if (!ncs.foreign_raw) {
		ncs.foreign_mono = now->mono;
		ncs.foreign_raw = raw;
		return;
	}
	d_raw = ktime_to_ns(ktime_sub(raw, ncs.foreign_raw));
	if (d_raw < NCS_FOREIGN_SECS * NSEC_PER_SEC)
		return;
	d_mono = ktime_to_ns(ktime_sub(now->mono, ncs.foreign_mono));
	ncs.foreign_mono = now->mono;
	ncs.foreign_raw = raw;
	if (abs(d_mono - d_raw) > div_s64(d_raw * NCS_FOREIGN_PPM, USEC_PER_SEC)) {
		ncs.foreign_warned = true;
		pr_warn("the kernel's own discipline steers the clock too (%lld ns in %lld ns): leave its frequency and tick alone while ntpdisc steers\n",
			d_mono - d_raw, d_raw);
	}
}

static enum hrtimer_restart ncs_tick(struct hrtimer *timer)
{
	struct ncs_now now;
	unsigned long flags;
	time64_t leap_sec;
	u64 slack;

	raw_spin_lock_irqsave(&ncs.lock, flags);
	ncs_read_clocks(&now, true);
	ncs_sync(&now);
	ncs_steer();
	ncs_check_foreign(&now);
	leap_sec = ncs_leap_second(NULL);
	raw_spin_unlock_irqrestore(&ncs.lock, flags);

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
 * afterwards is taken as ours, not as someone else's clock set. Returns
 * what do_settimeofday64() returned; @at, if not NULL, gets CLOCK_REALTIME
 * just before the step, in ns. A @rehearsal sets nothing.
 */
static int ncs_step(const struct timespec64 *delta, s64 *at, bool rehearsal)
{
	struct timespec64 ts;
	struct ncs_now now;
	unsigned long flags;
	int ret = 0;

	ktime_get_real_ts64(&ts);
	if (at)
		*at = timespec64_to_ns(&ts);
	ts = timespec64_add(ts, *delta);
	if (!rehearsal)
		ret = do_settimeofday64(&ts);

	raw_spin_lock_irqsave(&ncs.lock, flags);
	ncs_read_clock(&now);
	if (!rehearsal) {
		ncs.offs_real = ktime_sub(now.real, now.mono);
		ncs.stepping = false;
	}
	raw_spin_unlock_irqrestore(&ncs.lock, flags);
	return ret;
}

/*
 * Apply the leap armed for @leap_sec: run the discipline's second of the
 * leap (it turns TIME_OOP or TIME_WAIT) and step the clock by one second.
 * A @rehearsal runs the same code and changes nothing: an emulator
 * translates code on its first run, which would delay the real step by
 * hundreds of microseconds.
 */
static bool ncs_leap(time64_t leap_sec, bool rehearsal)
{
	struct timespec64 delta = { 0 };
	struct discipline disc;
	struct ncs_now now;
	unsigned long flags;
	s64 at, boundary;
	int dir, leap;

	raw_spin_lock_irqsave(&ncs.lock, flags);
	/* A clock set since the thread looked disarms the leap. */
	ncs_read_clock(&now);
	ncs_sync(&now);
	if (!ncs.in_use || ncs_leap_second(&dir) != leap_sec) {
		raw_spin_unlock_irqrestore(&ncs.lock, flags);
		return false;
	}
	if (!rehearsal)
		ncs_advance_to(leap_sec - 1);
	disc = ncs.disc;
	leap = discipline_second_overflow(&disc, leap_sec);
	if (!rehearsal) {
		ncs.disc = disc;
		ncs.updates++;
		ncs.tai -= leap;
		/*
		 * After an insertion the clock reads the second before the
		 * leap again, and the kernel runs the leap second once more;
		 * a deleted second's successor is never run.
		 */
		ncs.last_second = leap < 0 ? leap_sec - 1 :
				  leap > 0 ? leap_sec + 1 : leap_sec;
		ncs.stepping = leap != 0;
	}
	raw_spin_unlock_irqrestore(&ncs.lock, flags);
	if (!leap)
		return !rehearsal;

	delta.tv_sec = leap;
	ncs_step(&delta, &at, rehearsal);
	if (rehearsal)
		return false;
	boundary = leap_sec * NSEC_PER_SEC;
	raw_spin_lock_irqsave(&ncs.lock, flags);
	ncs.leaps++;
	ncs.leap_late_ns = at - boundary;
	raw_spin_unlock_irqrestore(&ncs.lock, flags);
	pr_notice("%s a leap second, stepping at %+lld ns from %s (spin ended %+lld)\n",
		  leap < 0 ? "inserted" : "deleted", at - boundary,
		  leap < 0 ? "00:00:00" : "23:59:59", ncs.leap_spun_ns);
	return true;
}

/*
 * The stepping thread: woken by the timer when a leap is at most two
 * seconds away, it sleeps until just before the step and spins the rest,
 * so that the step lands within microseconds of its goal.
 */
static int ncs_thread_fn(void *unused)
{
	while (!kthread_should_stop()) {
		unsigned long flags;
		struct ncs_now now;
		time64_t leap_sec;
		s64 goal, wait, took;
		ktime_t wake;
		bool acted;
		int dir;

		set_current_state(TASK_INTERRUPTIBLE);
		raw_spin_lock_irqsave(&ncs.lock, flags);
		leap_sec = ncs.in_use ? ncs_leap_second(&dir) : TIME64_MAX;
		ncs_read_clock(&now);
		raw_spin_unlock_irqrestore(&ncs.lock, flags);
		if (leap_sec == TIME64_MAX || leap_sec - now.ts.tv_sec > 2) {
			schedule();
			continue;
		}

		goal = leap_sec * NSEC_PER_SEC +
		       (dir < 0 ? -NCS_LEAP_INSERT_LEAD_NS :
				  NCS_LEAP_DELETE_LAG_NS);
		wait = goal - ktime_to_ns(now.real) - NCS_LEAP_WAKE_NS;
		if (wait > 0) {
			/* Looks again on waking: the clock may have been set. */
			wake = ktime_add_ns(now.mono, wait);
			schedule_hrtimeout(&wake, HRTIMER_MODE_ABS);
			continue;
		}
		__set_current_state(TASK_RUNNING);
		/*
		 * Rehearse twice. The first run shows how long the path to
		 * the step takes when its code is cold, which is about what
		 * the real step will take in an emulator, where the branches
		 * of the real step are still cold; an insertion starts that
		 * much earlier. Both warm the code up.
		 */
		mutex_lock(&ncs_step_lock);
		took = ktime_get_real_ns();
		ncs_leap(leap_sec, true);
		took = ktime_get_real_ns() - took;
		ncs_leap(leap_sec, true);
		mutex_unlock(&ncs_step_lock);
		if (dir < 0)
			goal -= clamp_t(s64, took, 0, NCS_LEAP_MAX_EARLY_NS);
		while (ktime_get_real_ns() < goal && !kthread_should_stop())
			cpu_relax();
		ncs.leap_spun_ns = ktime_get_real_ns() - leap_sec * NSEC_PER_SEC;
		mutex_lock(&ncs_step_lock);
		acted = ncs_leap(leap_sec, false);
		mutex_unlock(&ncs_step_lock);
		/* Whatever kept it from acting, do not spin on it. */
		if (!acted)
			schedule_timeout_interruptible(1);
	}
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
		ret = ncs_step(&delta, NULL, false);

	/* The kernel clears its NTP state even when it refuses the step. */
	raw_spin_lock_irqsave(&ncs.lock, flags);
	discipline_clear(&ncs.disc);
	ncs_read_clock(&now);
	ncs.last_second = now.ts.tv_sec;
	ncs_steer();
	raw_spin_unlock_irqrestore(&ncs.lock, flags);
	return ret;
}

static int ncs_adjtimex(struct __kernel_timex *txc)
{
	struct ncs_now now;
	unsigned long flags;
	int ret;

	ret = discipline_validate(txc, ntpdisc_may_set_time);
	if (ret)
		return ret;

	if (txc->modes & ADJ_SETOFFSET) {
		mutex_lock(&ncs_step_lock);
		ret = ncs_setoffset(txc);
		mutex_unlock(&ncs_step_lock);
		if (ret)
			return ret;
	}

	raw_spin_lock_irqsave(&ncs.lock, flags);
	ncs_read_clock(&now);
	ncs_sync(&now);
	ret = discipline_adjtimex(&ncs.disc, txc, &now.ts, now.ts.tv_sec,
				  &ncs.tai);
	ncs_steer();
	raw_spin_unlock_irqrestore(&ncs.lock, flags);
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
	out->cs_mult = ncs.next.mult1;
	out->cs_late_switches = ncs.late_switches;
	out->leaps = ncs.leaps;
	out->leap_step_ns = ncs.leap_late_ns;
	if (!ncs.in_use)
		out->flags |= NTPDISC_OUTPUT_RELEASED;
	raw_spin_unlock_irqrestore(&ncs.lock, flags);
}

static bool ncs_usable(void)
{
	if (!boot_cpu_has(X86_FEATURE_TSC) || !tsc_khz) {
		pr_err("steer=clocksource: this machine has no usable TSC; the discipline runs in shadow mode\n");
		return false;
	}
	if (check_tsc_unstable()) {
		pr_err("steer=clocksource: the TSC is marked unstable; the discipline runs in shadow mode\n");
		return false;
	}
	if (boot_cpu_has(X86_FEATURE_CONSTANT_TSC) &&
	    boot_cpu_has(X86_FEATURE_NONSTOP_TSC))
		return true;
	if (!testonly_ignore_tsc_invariance) {
		pr_err("steer=clocksource: the TSC is not invariant; the discipline runs in shadow mode\n");
		return false;
	}
	pr_warn("steer=clocksource on a TSC that is not invariant (testonly_ignore_tsc_invariance): for tests under emulation only\n");
	return true;
}

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
	ncs.foreign_raw = 0;
	ncs.foreign_warned = false;
	ncs.stepping = false;
	ncs_read_clock(&now);
	ncs.offs_real = ktime_sub(now.real, now.mono);
	ncs.last_second = now.ts.tv_sec;
	if (from) {
		discipline_adopt(&ncs.disc, from);
		ncs.disc.time_reftime = now.ts.tv_sec;
		ncs.tai = from->tai;
	}
}

static void ncs_stop_engine(void)
{
	hrtimer_cancel(&ncs.timer);
	hrtimer_cancel(&ncs.defer);
	kthread_stop(ncs.thread);
}

static int ncs_start(void)
{
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
		.flags = CLOCK_SOURCE_IS_CONTINUOUS,
		.uncertainty_margin = NCS_UNCERTAINTY_NS,
		.vdso_clock_mode = VDSO_CLOCKMODE_NONE,
		.enable = ncs_enable,
		.disable = ncs_disable,
		.suspend = ncs_suspend,
		.resume = ncs_resume,
		.owner = THIS_MODULE,
	};

	hrtimer_init(&ncs.defer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	ncs.defer.function = ncs_deferred;

	ncs.thread = kthread_run(ncs_thread_fn, NULL, "ntpdisc-step");
	if (IS_ERR(ncs.thread))
		return PTR_ERR(ncs.thread);
	sched_set_fifo(ncs.thread);

	ncs_read_clock(&now);
	hrtimer_init(&ncs.timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_HARD);
	ncs.timer.function = ncs_tick;
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
		goto err_engine;
	if (!ncs.in_use) {
		pr_err("steer=clocksource: the timekeeper did not switch to ntpdisc (is another clocksource forced through current_clocksource?)\n");
		clocksource_unregister(&ncs.cs);
		ret = -EBUSY;
		goto err_engine;
	}
	pr_info("steering through clocksource ntpdisc (TSC at %u kHz)\n",
		tsc_khz);
	return 0;

err_engine:
	raw_spin_lock_irqsave(&ncs.lock, flags);
	ncs.registered = false;
	raw_spin_unlock_irqrestore(&ncs.lock, flags);
	ncs_stop_engine();
	return ret;
}

/* Hand the timekeeper back to the best other clocksource. */
static int ncs_release(void)
{
	unsigned long flags;
	int ret = 0;

	mutex_lock(&ncs_step_lock);
	if (ncs.registered) {
		ret = clocksource_unregister(&ncs.cs);
		if (!ret) {
			raw_spin_lock_irqsave(&ncs.lock, flags);
			ncs.registered = false;
			raw_spin_unlock_irqrestore(&ncs.lock, flags);
			pr_info("released: the timekeeper is back on its own clocksource\n");
		}
	}
	mutex_unlock(&ncs_step_lock);
	return ret;
}

static void ncs_stop(void)
{
	ncs_stop_engine();
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
	.usable = ncs_usable,
	.prepare = ncs_prepare,
	.start = ncs_start,
	.stop = ncs_stop,
	.release = ncs_release,
	.adjtimex = ncs_adjtimex,
	.gettime = ncs_gettime,
	.output = ncs_output,
};
