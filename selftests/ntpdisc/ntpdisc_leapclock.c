// SPDX-License-Identifier: GPL-2.0
/*
 * ntpdisc selftest: a leap second inserted or deleted on the real system
 * clock, across a UTC midnight M.
 *
 * The clock is set a few seconds before M, the discipline cleared the way
 * leap-a-day does, the TAI offset set to 37, and STA_INS (or STA_DEL)
 * written early enough to be armed for M. Then, in a tight loop across
 * the leap, the test reads CLOCK_MONOTONIC_RAW, REALTIME, TAI and
 * MONOTONIC, and adjtimex every 2 ms; two threads sleep until an
 * absolute CLOCK_REALTIME time of M + 0.5 s (clock_nanosleep TIMER_ABSTIME
 * and a CLOCK_REALTIME timerfd). Expected, as kernel/time/ntp.c and
 * timekeeping.c do it:
 *
 *  - Insertion: REALTIME steps back by exactly one second, once, when it
 *    has reached M (at the first tick after the boundary, so 00:00:00.00x
 *    is visible for up to that tick before the step), and so shows
 *    23:59:59 twice: it passes 23:59:59.5 twice. Deletion: REALTIME steps
 *    forward by one second once, as it reaches 23:59:59, which it never
 *    shows beyond that tick.
 *  - CLOCK_TAI and CLOCK_MONOTONIC never go back and never move against
 *    MONOTONIC_RAW beyond read noise; CLOCK_TAI - CLOCK_REALTIME goes from
 *    37 s to 38 s (insertion) or 36 s (deletion); adjtimex's tai too.
 *  - adjtimex returns, as (state, time - M, tai - 37): insertion
 *    (INS,-2,0) (INS,-1,0) (OOP,-1,1) (WAIT,0,1) (WAIT,1,1); deletion
 *    (DEL,-2,0) (WAIT,0,-1) (WAIT,1,-1). One sample of a known race at
 *    the step is tolerated (REALTIME is read before the timekeeper lock:
 *    see ntpdisc_leap.c).
 *
 * The clocksource backend holds its clock at the leap until its thread
 * has stepped (the counter crawls, then catches up): there REALTIME,
 * MONOTONIC and TAI lag MONOTONIC_RAW (the TSC) during the hold, by up to
 * HOLD_MAX, never lead it, and are back on it after the leap; the step is
 * measured from before the leap to after it.
 *
 * The emulated guest can stall for hundreds of milliseconds on a loaded
 * host, so steps are told from stalls by comparing REALTIME with
 * MONOTONIC_RAW, and a timer may be up to LATE_MAX late (never early).
 *  - The timers for M + 0.5 s do not fire early: they wake when REALTIME
 *    reads M + 0.5 s after the leap, i.e. 1.5 s (insertion) or -0.5 s
 *    (deletion) after M on the timeline the clock had before the leap.
 *  - Once the flag is cleared, TIME_OK at the next second.
 *
 * Only the guest's clock is changed: never run this on a real machine.
 */
#include <pthread.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ntpdisc_clock.h"

#define TAI0		37
/*
 * How long REALTIME may show the far side of the leap before the step:
 * until the next tick, a few ms, unless the emulated guest stalls; the
 * step must at least come within the leap second.
 */
#define GLITCH_MAX	ND_MSEC(900)
/* CLOCK_TAI or MONOTONIC against MONOTONIC_RAW: read noise. */
#define CONT_TOL	ND_US(20)
/*
 * The size of the leap's step: the kernel's is exact; the clocksource
 * backend's is a clock set from a thread, which loses the time between
 * reading the clock and setting it.
 */
#define CS_STEP_TOL	ND_US(200)
/*
 * The clocksource backend's leap hold: 250 us of clock time at 1/1024 of
 * the rate, at most (module/clocksource.c).
 */
#define HOLD_MAX	(ND_US(250) * 1024)

/* REALTIME - RAW changing by more between two clean reads: a step. */
static __s64 jump_min(void)
{
	return nd_cs_mode() ? HOLD_MAX + ND_MSEC(10) : ND_MSEC(10);
}

static __s64 step_tol(void)
{
	return nd_cs_mode() ? CS_STEP_TOL : CONT_TOL;
}

/* A timer may be this late (emulated guest on a loaded host). */
#define LATE_MAX	ND_MSEC(600)
#define MAXTUP		32
#define MAXJUMP		8
/*
 * A run that fails after the guest stalled this long (a loaded host) is
 * run again, twice at most.
 */
#define STALL_NS	ND_MSEC(50)
#define TRIES		3
/*
 * Fewer clean reads than this on either side of the leap: the host was
 * too busy to measure offsets, and a failure says nothing; try again.
 */
#define MIN_CLEAN	100

static __s64 M;		/* the midnight, s */
static __s64 off;	/* REALTIME - MONOTONIC before the leap, ns */

static __s64 mono_of(int v_ms)
{
	return ND_SEC(M) + ND_MSEC(v_ms) - off;
}

static void sleep_v(int v_ms)
{
	nd_sleep_until(CLOCK_MONOTONIC, mono_of(v_ms));
}

static int sys_call(struct timex *tx)
{
	int ret = nd_sys_adjtimex(tx);

	return ret < 0 ? -errno : ret;
}

static int write_status(int status)
{
	struct timex tx;

	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_STATUS;
	tx.status = status;
	return sys_call(&tx);
}

struct tup {
	int ret, sec, tai;
	bool opt;	/* expected, but may be missed */
};

/* What the loop across the leap saw. */
struct seen {
	long samples;
	struct tup tup[MAXTUP];
	int ntup;
	/* REALTIME - RAW changes beyond jump_min(), between clean reads */
	int njump;
	__s64 jump[MAXJUMP];
	/* REALTIME going back, or skipping over 0.5 s, between reads */
	int nback, nskip;
	__s64 edge_from, edge_to;	/* the first of those, - M */
	int passes;		/* upward passes through 23:59:59.5 */
	__s64 tai_back, mono_back;
	__s64 tai_lo, tai_hi, mono_lo, mono_hi;	/* offsets against RAW */
	__s64 off_pre, taioff_pre;	/* REALTIME - RAW, TAI - REALTIME */
	/* the first and the last clean read's offsets against RAW */
	__s64 off_first, off_last, tai_first, tai_last, mono_first, mono_last;
	__s64 taioff_post;
	bool have_pre, have_post;
	long clean_pre, clean_post;	/* clean reads before, after a jump */
	__s64 max_gap;		/* longest time between two reads */
	__s64 min_window;	/* shortest time all five reads took */
};

static void edge(struct seen *s, __s64 from, __s64 to)
{
	if (!s->nback && !s->nskip) {
		s->edge_from = from - ND_SEC(M);
		s->edge_to = to - ND_SEC(M);
	}
}

/* adjtimex: keep the timeline of (state, time - M, tai - TAI0). */
static void sample_adjtimex(struct seen *s)
{
	struct timex tx;
	struct tup t;

	memset(&tx, 0, sizeof(tx));
	t.ret = sys_call(&tx);
	t.sec = tx.time.tv_sec - M;
	t.tai = tx.tai - TAI0;
	if (s->ntup < MAXTUP &&
	    (!s->ntup || s->tup[s->ntup - 1].ret != t.ret ||
	     s->tup[s->ntup - 1].sec != t.sec ||
	     s->tup[s->ntup - 1].tai != t.tai))
		s->tup[s->ntup++] = t;
}

/*
 * A clean read: all five within 4 us, or within twice the fastest seen so
 * far where the reads are system calls on a busy host (so that a clean
 * read stays possible), but never beyond 8 us: the first reads, on cold
 * code, are slow, and the fastest seen is large then. With the
 * clocksource backend every read is a system call (its clock has no vDSO
 * mode), five of them take 5 to 9 us under emulation, so up to 12 us,
 * still below CONT_TOL.
 */
static __s64 clean_window(__s64 fastest)
{
	__s64 cap = nd_cs_mode() ? ND_US(12) : ND_US(8);

	return fastest * 2 < ND_US(4) ? ND_US(4) :
	       fastest * 2 > cap ? cap : fastest * 2;
}

/*
 * The tight loop, from first-pass @from_ms to @to_ms. Offsets against
 * MONOTONIC_RAW come only from clean reads (clean_window()); the order of
 * REALTIME values from every read.
 */
static void watch(struct seen *s, int from_ms, int to_ms)
{
	__s64 end = mono_of(to_ms), raw, raw2, real, tai, mono, adv;
	__s64 half = ND_SEC(M) - ND_MSEC(500), ladj = 0, o, goff = 0;
	__s64 lreal = 0, ltai = 0, lmono = 0, lraw = 0, lraw2 = 0, adv2;
	bool first = true, gfirst = true;

	memset(s, 0, sizeof(*s));
	sleep_v(from_ms);
	do {
		raw = nd_raw_ns();
		real = nd_now_ns(CLOCK_REALTIME);
		tai = nd_now_ns(CLOCK_TAI);
		mono = nd_now_ns(CLOCK_MONOTONIC);
		raw2 = nd_raw_ns();
		s->samples++;
		/*
		 * REALTIME's advance beyond MONOTONIC_RAW's: a step. Against
		 * the RAW read before and the one after, the smaller: a stall
		 * between two reads is not a step.
		 */
		adv = (real - lreal) - (raw - lraw);
		adv2 = (real - lreal) - (raw2 - lraw2);
		if (llabs(adv2) < llabs(adv))
			adv = adv2;
		if (!first && raw - lraw > s->max_gap)
			s->max_gap = raw - lraw;
		if (!first) {
			if (real < lreal) {
				edge(s, lreal, real);
				s->nback++;
			} else if (adv > ND_MSEC(500)) {
				edge(s, lreal, real);
				s->nskip++;
			}
			if (ltai - tai > s->tai_back)
				s->tai_back = ltai - tai;
			if (lmono - mono > s->mono_back)
				s->mono_back = lmono - mono;
			/* Going through it, not stepping over it. */
			if (lreal < half && real >= half &&
			    llabs(adv) < ND_MSEC(10))
				s->passes++;
		}
		lraw = raw;
		lraw2 = raw2;
		lreal = real;
		ltai = tai;
		lmono = mono;
		first = false;
		if (!s->min_window || raw2 - raw < s->min_window)
			s->min_window = raw2 - raw;
		if (raw2 - raw < clean_window(s->min_window)) {
			o = real - raw;
			if (gfirst) {
				s->tai_lo = tai - raw;
				s->tai_hi = s->tai_lo;
				s->mono_lo = mono - raw;
				s->mono_hi = s->mono_lo;
				s->off_first = o;
				s->tai_first = tai - raw;
				s->mono_first = mono - raw;
			} else if (llabs(o - goff) > jump_min()) {
				if (s->njump < MAXJUMP)
					s->jump[s->njump] = o - goff;
				s->njump++;
			}
			if (tai - raw < s->tai_lo)
				s->tai_lo = tai - raw;
			if (tai - raw > s->tai_hi)
				s->tai_hi = tai - raw;
			if (mono - raw < s->mono_lo)
				s->mono_lo = mono - raw;
			if (mono - raw > s->mono_hi)
				s->mono_hi = mono - raw;
			if (!s->njump) {
				s->clean_pre++;
				s->off_pre = o;
				s->taioff_pre = tai - real;
				s->have_pre = true;
			} else {
				s->clean_post++;
				s->taioff_post = tai - real;
				s->have_post = true;
			}
			s->off_last = o;
			s->tai_last = tai - raw;
			s->mono_last = mono - raw;
			goff = o;
			gfirst = false;
		}
		if (raw - ladj >= ND_MSEC(2)) {
			sample_adjtimex(s);
			ladj = raw;
		}
	} while (mono < end);
}

/* A thread sleeping until REALTIME M + 0.5 s, one way or another. */
struct waker {
	bool timerfd;
	__s64 raw, real;
	int ret, err;
};

static void *waker_thread(void *arg)
{
	struct waker *w = arg;
	struct timespec ts = { .tv_sec = M, .tv_nsec = 500000000 };
	struct itimerspec its = { .it_value = ts };
	struct timex tx;
	__u64 n;
	int fd;

	if (w->timerfd) {
		fd = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC);
		if (fd < 0 || timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) ||
		    read(fd, &n, sizeof(n)) != sizeof(n))
			w->err = errno;
		if (fd >= 0)
			close(fd);
	} else {
		w->err = clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts,
					 NULL);
	}
	w->raw = nd_raw_ns();
	w->real = nd_now_ns(CLOCK_REALTIME);
	memset(&tx, 0, sizeof(tx));
	w->ret = sys_call(&tx);
	return NULL;
}

static const char *state_name(int s)
{
	static const char * const names[] = {
		"OK", "INS", "DEL", "OOP", "WAIT", "ERROR",
	};

	return s >= 0 && s <= 5 ? names[s] : "?";
}

static bool same(const struct tup *a, const struct tup *b)
{
	return a->ret == b->ret && a->sec == b->sec && a->tai == b->tai;
}

/*
 * Compare the adjtimex timeline with @want, in order: optional entries
 * may be missing, and one sample equal to @race may be in between.
 * Returns the failures.
 */
static int check_tuples(const struct seen *s, const struct tup *want, int n,
			struct tup race)
{
	char buf[512];
	size_t len = 0;
	int i, j, pos = -1, races = 0, bad = 0;

	for (i = 0; i < s->ntup; i++) {
		const struct tup *t = &s->tup[i];

		len += snprintf(buf + len, sizeof(buf) - len, " (%s,%d,%d)",
				state_name(t->ret), t->sec, t->tai);
		if (len >= sizeof(buf))
			len = sizeof(buf) - 1;
		for (j = pos + 1; j < n; j++) {
			if (same(t, &want[j]))
				break;
			if (!want[j].opt) {
				j = n;
				break;
			}
		}
		if (j < n) {
			pos = j;
			continue;
		}
		/* The race, and the state before it again. */
		if (!races && same(t, &race)) {
			races++;
			continue;
		}
		if (races && pos >= 0 && same(t, &want[pos]))
			continue;
		bad++;
	}
	for (j = pos + 1; j < n; j++)
		if (!want[j].opt)
			bad++;
	nd_log("adjtimex (state, time - M, tai - %d):%s", TAI0, buf);
	if (races)
		nd_log("adjtimex: tolerated one sample of the read/step race");
	if (bad) {
		nd_log("FAIL: adjtimex timeline: %d samples or states not as expected",
		       bad);
		bad = 1;
	}
	return bad;
}

FIXTURE(leap) {
	__s64 rt0, m0;
};

FIXTURE_SETUP(leap)
{
	self->rt0 = nd_now_ns(CLOCK_REALTIME);
	self->m0 = nd_now_ns(CLOCK_MONOTONIC);
	ASSERT_EQ(0, nd_sys_reset());
}

FIXTURE_TEARDOWN(leap)
{
	struct timespec ts;
	__s64 t;

	nd_log_flush();
	EXPECT_EQ(0, nd_sys_reset());
	/* The wall clock back where it would have been. */
	t = self->rt0 + nd_now_ns(CLOCK_MONOTONIC) - self->m0;
	ts.tv_sec = t / ND_NSEC_PER_SEC;
	ts.tv_nsec = t % ND_NSEC_PER_SEC;
	EXPECT_EQ(0, clock_settime(CLOCK_REALTIME, &ts));
}

static int run_leap(struct __test_metadata *_metadata,
		    FIXTURE_DATA(leap) * self, bool insert, __s64 *stall,
		    long *clean)
{
	static struct seen s;
	const int dir = insert ? 1 : -1;
	/* A stall may delay the arming, or end the loop early. */
	static const struct tup ins[] = {
		{ TIME_OK, -2, 0, true }, { TIME_INS, -2, 0, true },
		{ TIME_INS, -1, 0 }, { TIME_OOP, -1, 1 }, { TIME_WAIT, 0, 1 },
		{ TIME_WAIT, 1, 1 }, { TIME_WAIT, 2, 1, true },
	};
	static const struct tup del[] = {
		{ TIME_OK, -2, 0, true }, { TIME_DEL, -2, 0 },
		{ TIME_WAIT, 0, -1 }, { TIME_WAIT, 1, -1 },
		{ TIME_WAIT, 2, -1, true }, { TIME_WAIT, 3, -1, true },
	};
	struct waker w[2] = { { .timerfd = false }, { .timerfd = true } };
	pthread_t th[2];
	struct timespec ts;
	struct timex tx;
	__s64 t, want_raw, tai_range, mono_range, step;
	int i, ret, passes, bad = 0;

	/* 23:59:56.7 before the next midnight of the current clock. */
	M = (self->rt0 / ND_NSEC_PER_SEC / 86400 + 1) * 86400;
	t = ND_SEC(M) - ND_MSEC(3300);
	ts.tv_sec = t / ND_NSEC_PER_SEC;
	ts.tv_nsec = t % ND_NSEC_PER_SEC;
	ASSERT_EQ(0, clock_settime(CLOCK_REALTIME, &ts));
	off = nd_now_ns(CLOCK_REALTIME) - nd_now_ns(CLOCK_MONOTONIC);

	/* leap-a-day: clear, then the flag; TAI offset 37, synchronised. */
	ASSERT_EQ(0, nd_sys_reset());
	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_TAI | ADJ_STATUS | ADJ_MAXERROR;
	tx.constant = TAI0;
	ASSERT_EQ(TIME_OK, sys_call(&tx));
	sleep_v(-2600);
	ASSERT_EQ(TIME_OK, write_status(insert ? STA_INS : STA_DEL));
	sleep_v(-1900);
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, waker_thread, &w[i]));

	watch(&s, -1600, insert ? 3000 : 1600);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);

	*stall = s.max_gap;
	*clean = s.clean_pre < s.clean_post ? s.clean_pre : s.clean_post;
	/* Clear the flag: TIME_OK from the next second. */
	ret = write_status(0);
	if (ret != TIME_WAIT) {
		nd_log("FAIL: clearing the flag returned %d, not TIME_WAIT", ret);
		bad++;
	}
	nd_sleep_next_frac(ND_MSEC(300));
	memset(&tx, 0, sizeof(tx));
	ret = sys_call(&tx);

	nd_log("%s: M = %lld; %ld samples in the loop, %ld and %ld clean before and after the step (fastest %lld ns)",
	       insert ? "insert" : "delete", (long long)M, s.samples,
	       s.clean_pre, s.clean_post, (long long)s.min_window);
	/*
	 * The kernel steps at the first tick after the boundary; the
	 * clocksource backend steps an insertion within the 250 us of clock
	 * time before it, so the clock reads the end of 23:59:58 again for
	 * that long.
	 */
	bad += check_tuples(&s, insert ? ins : del,
			    insert ? ARRAY_SIZE(ins) : ARRAY_SIZE(del),
			    !insert ? (struct tup){ TIME_WAIT, -1, -1 } :
			    nd_cs_mode() ? (struct tup){ TIME_OOP, -2, 1 } :
					   (struct tup){ TIME_WAIT, 0, 1 });
	nd_log("after clearing the flag: state %s, tai %d", state_name(ret),
	       tx.tai);
	if (ret != TIME_OK || tx.tai != TAI0 + dir) {
		nd_log("FAIL: expected OK, tai %d", TAI0 + dir);
		bad++;
	}

	/* REALTIME: one step of -1 s (+1 s), at the leap. */
	for (i = 0; i < s.njump && i < MAXJUMP; i++)
		nd_log("REALTIME stepped %+.9f s against MONOTONIC_RAW",
		       s.jump[i] / 1e9);
	nd_log("REALTIME went back %d times, skipped ahead %d times, passed 23:59:59.5 %d times",
	       s.nback, s.nskip, s.passes);
	/* Across the hold, for the clocksource backend. */
	step = nd_cs_mode() ? s.off_last - s.off_first : s.jump[0];
	if (nd_cs_mode())
		nd_log("REALTIME - RAW: %+.9f s from the first read to the last",
		       step / 1e9);
	if (s.njump != 1 ||
	    llabs(step + dir * ND_NSEC_PER_SEC) > step_tol()) {
		nd_log("FAIL: expected one REALTIME step of %+d s", -dir);
		bad++;
	}
	/*
	 * A deletion shows 23:59:59 until the tick that steps: if a stall of
	 * the timekeeping CPU made that last half a second, it is passed.
	 */
	passes = insert ? 2 : s.edge_from >= -ND_MSEC(500) ? 1 : 0;
	if (s.nback != (insert ? 1 : 0) || s.nskip != (insert ? 0 : 1) ||
	    s.passes != passes) {
		nd_log("FAIL: expected %d step back, %d ahead, %d passes through 23:59:59.5",
		       insert ? 1 : 0, insert ? 0 : 1, passes);
		nd_log("REALTIME went from M%+.6f s to M%+.6f s", s.edge_from / 1e9,
		       s.edge_to / 1e9);
		bad++;
	} else {
		/* The far side of the leap shows until the tick steps. */
		__s64 at = insert ? 0 : -ND_NSEC_PER_SEC;

		nd_log("REALTIME went from M%+.6f s to M%+.6f s", s.edge_from / 1e9,
		       s.edge_to / 1e9);
		nd_log("the far side of the leap showed for %.3f ms",
		       (s.edge_from - at) / 1e6);
		if (s.edge_from < at - ND_MSEC(5) ||
		    s.edge_from >= at + GLITCH_MAX) {
			nd_log("FAIL: the step was not at the leap");
			bad++;
		}
	}

	/* TAI and MONOTONIC: continuous. TAI - REALTIME: 37 s, then 37 +- 1. */
	tai_range = s.tai_hi - s.tai_lo;
	mono_range = s.mono_hi - s.mono_lo;
	nd_log("against MONOTONIC_RAW: TAI moved %lld ns, MONOTONIC %lld ns",
	       (long long)tai_range, (long long)mono_range);
	nd_log("largest step back: TAI %lld ns, MONOTONIC %lld ns",
	       (long long)s.tai_back, (long long)s.mono_back);
	nd_log("TAI - REALTIME: %+.6f s before, %+.6f s after",
	       s.taioff_pre / 1e9, s.taioff_post / 1e9);
	if (nd_cs_mode()) {
		/*
		 * A module cannot move the timekeeper's TAI offset: the
		 * stepped leap steps CLOCK_TAI too (documented). The hold
		 * makes the clocks lag RAW, never lead it, and ends caught up.
		 */
		nd_log("MONOTONIC - RAW: %+lld ns at the end, lag %lld ns, lead %lld ns at most",
		       (long long)(s.mono_last - s.mono_first),
		       (long long)(s.mono_first - s.mono_lo),
		       (long long)(s.mono_hi - s.mono_first));
		if (s.mono_back ||
		    llabs(s.mono_last - s.mono_first) > CONT_TOL ||
		    s.mono_hi - s.mono_first > CONT_TOL ||
		    s.mono_first - s.mono_lo > HOLD_MAX + CONT_TOL ||
		    llabs(s.tai_last - s.tai_first +
			  dir * ND_NSEC_PER_SEC) > step_tol()) {
			nd_log("FAIL: CLOCK_MONOTONIC not continuous, or CLOCK_TAI not stepped with REALTIME");
			bad++;
		}
		if (!s.have_pre || !s.have_post ||
		    llabs(s.taioff_post - s.taioff_pre) > CONT_TOL) {
			nd_log("FAIL: TAI - REALTIME should not change with the clocksource backend");
			bad++;
		}
	} else {
		if (tai_range > CONT_TOL || mono_range > CONT_TOL ||
		    s.tai_back || s.mono_back) {
			nd_log("FAIL: CLOCK_TAI or CLOCK_MONOTONIC not continuous");
			bad++;
		}
		if (!s.have_pre || !s.have_post ||
		    llabs(s.taioff_pre - ND_SEC(TAI0)) > CONT_TOL ||
		    llabs(s.taioff_post - ND_SEC(TAI0 + dir)) > CONT_TOL) {
			nd_log("FAIL: TAI - REALTIME should go from %d s to %d s",
			       TAI0, TAI0 + dir);
			bad++;
		}
	}

	/*
	 * The timers: on the pre-leap timeline at M + 1.5 s (M - 0.5 s);
	 * that is before the hold, for the clocksource backend.
	 */
	want_raw = ND_SEC(M) + ND_MSEC(insert ? 1500 : -500) -
		   (nd_cs_mode() ? s.off_first : s.off_pre);
	if (!s.have_pre)
		bad++;
	for (i = 0; i < 2; i++) {
		const char *name = w[i].timerfd ? "timerfd(REALTIME, ABSTIME)" :
					"clock_nanosleep(REALTIME, ABSTIME)";

		nd_log("%s for M+0.5 s: woke at REALTIME M%+.6f s, state %s",
		       name, (w[i].real - ND_SEC(M)) / 1e9,
		       state_name(w[i].ret));
		nd_log("  %+.3f ms after M+0.5 s on the leap-corrected timeline",
		       (w[i].raw - want_raw) / 1e6);
		if (w[i].err || w[i].raw < want_raw - ND_US(100) ||
		    w[i].raw > want_raw + LATE_MAX ||
		    w[i].real < ND_SEC(M) + ND_MSEC(500) ||
		    w[i].ret != TIME_WAIT) {
			nd_log("FAIL: %s: %s", name,
			       w[i].err ? strerror(w[i].err) :
			       w[i].raw < want_raw ? "early" : "late or wrong state");
			bad++;
		}
	}
	if (s.max_gap > STALL_NS)
		nd_log("the guest stalled for up to %.0f ms", s.max_gap / 1e6);
	return bad;
}

static void leap_test(struct __test_metadata *_metadata,
		      FIXTURE_DATA(leap) * self, bool insert)
{
	__s64 stall;
	int tries, bad;
	long clean;

	for (tries = 1; tries <= TRIES; tries++) {
		stall = 0;
		clean = 0;
		bad = run_leap(_metadata, self, insert, &stall, &clean);
		nd_log_flush();
		if (!bad || tries == TRIES)
			break;
		if (stall >= STALL_NS)
			nd_log("the guest stalled for %.0f ms: trying again (%d of %d)",
			       stall / 1e6, tries + 1, TRIES);
		else if (clean < MIN_CLEAN)
			nd_log("only %ld clean reads on one side of the leap: trying again (%d of %d)",
			       clean, tries + 1, TRIES);
		else
			break;
	}
	EXPECT_EQ(0, bad);
}

TEST_F_TIMEOUT(leap, insert, 90)
{
	nd_print_context("leapclock");
	leap_test(_metadata, self, true);
}

TEST_F_TIMEOUT(leap, delete, 90)
{
	leap_test(_metadata, self, false);
}

static void __attribute__((constructor)) leap_init(void)
{
	nd_reset_at_exit();
}

TEST_HARNESS_MAIN
