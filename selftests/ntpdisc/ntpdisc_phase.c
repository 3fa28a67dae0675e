// SPDX-License-Identifier: GPL-2.0
/*
 * ntpdisc selftest: ADJ_OFFSET (PLL) and adjtime() move the phase of the
 * real system clock as kernel/time/ntp.c says they do.
 *
 * The phase is CLOCK_REALTIME - CLOCK_MONOTONIC_RAW, read with raw before
 * and after and the narrowest of several tries kept; its drift at freq 0
 * is measured first and taken out.
 *
 * PLL, time constant 0, nanosecond mode, offset 20 ms: every second the
 * update (second_overflow()) takes a quarter of the residual offset
 * (SHIFT_PLL + constant = 2) and slews it in over the following second,
 * so after k updates the residual is 20 ms * (3/4)^k. The read-back
 * offset must follow that exactly (integer model of ntp.c). With
 * STA_FREQHOLD the frequency stays 0; without it the PLL also sets the
 * frequency (offset * secs << (32 - 2 * (SHIFT_PLL + 2 + constant)), secs
 * = seconds since the PLL was switched on), which must read back exactly
 * and adds freq * t to the phase.
 *
 * adjtime() 8 ms: 500 us in each of 16 seconds (MAX_TICKADJ), read-back
 * 8000 - 500 k us, the rate 500 ppm.
 *
 * When each second's update happens: at the first tick after the second
 * boundary, and later when the emulated guest stalls (console output
 * stalls both CPUs for up to hundreds of ms). The timekeeper applies a
 * second's new slew from that moment and never makes up for the delay, so
 * the expected phase is built from the update times observed: the test
 * polls adjtimex across each boundary until maxerror (set to 0, +500 us
 * per update) moves. The phase at any time must then be the sum of each
 * second's slew rate times how long it was in force, within PHASE_TOL_NS.
 * The delays are printed; the final phase is also checked against the
 * nominal curve (updates exactly on the boundaries), loosely.
 *
 * Only the guest's clock is changed: never run this on a real machine.
 */
#include <math.h>
#include <sys/time.h>

#include "kselftest_harness.h"
#include "ntpdisc_clock.h"

#define OFFSET_NS	20000000LL
#define NSEC_MAX	20
/*
 * Phase against the model: read noise (< 1 us) and the timekeeper's
 * quantisation, one mult step (0.125 ppm) for 15 s; plus margin.
 */
#define PHASE_TOL_NS	ND_US(10)

static const double fracs[] = { 0.5, 0.93 };
#define NFRAC	ARRAY_SIZE(fracs)

/* One per-second update as seen through adjtimex. */
struct upd {
	__s64 raw;	/* MONOTONIC_RAW when it was seen */
	__s64 real;	/* REALTIME then */
	struct timex tx;
	int ret;
};

struct run {
	__s64 raw0, phase0;	/* at the call */
	double drift;		/* ppm of the phase at rest */
	double freq_ppm;	/* frequency in force from the call on */
	__s64 sec_call;
	int n;
	struct upd u[NSEC_MAX + 2];
	__s64 c[NSEC_MAX + 2];	/* ns slewed in the second after u[k] */
	__s64 sraw[NSEC_MAX + 2][NFRAC], sph[NSEC_MAX + 2][NFRAC];
};

static __s64 phase_now(__s64 *raw)
{
	__s64 r, v;

	nd_phase(CLOCK_REALTIME, 8, &r, &v);
	if (raw)
		*raw = r;
	return v - r;
}

/* Spin until REALTIME is @frac into second @sec. */
static void spin_to(__s64 sec, double frac)
{
	nd_spin_until(CLOCK_REALTIME, ND_SEC(sec) + (__s64)(frac * 1e9));
}

static int sys_call(struct timex *tx)
{
	int ret = nd_sys_adjtimex(tx);

	return ret < 0 ? -errno : ret;
}

/*
 * Poll adjtimex (@modes: 0 or ADJ_OFFSET_SS_READ) until maxerror is no
 * longer @maxerr, i.e. a per-second update ran; at most until REALTIME
 * reaches second @until. Returns false on timeout.
 */
static bool wait_update(unsigned int modes, long maxerr, __s64 until,
			struct upd *u)
{
	__s64 prev = nd_now_ns(CLOCK_MONOTONIC_RAW), r1;

	for (;;) {
		memset(&u->tx, 0, sizeof(u->tx));
		u->tx.modes = modes;
		u->ret = sys_call(&u->tx);
		r1 = nd_now_ns(CLOCK_MONOTONIC_RAW);
		if (u->ret >= 0 && u->tx.maxerror != maxerr) {
			u->raw = prev + (r1 - prev) / 2;
			u->real = nd_now_ns(CLOCK_REALTIME);
			return true;
		}
		prev = r1;
		if (nd_now_ns(CLOCK_REALTIME) >= ND_SEC(until))
			return false;
	}
}

/* Phase at rest, from one update on (no earlier slew left), 0.7 s. */
static double rest_drift(struct __test_metadata *_metadata)
{
	__s64 r0, r1, p0, p1, sec;
	struct timex tx;
	struct upd u;

	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_MAXERROR;
	tx.maxerror = 0;
	EXPECT_LE(0, sys_call(&tx));
	sec = tx.time.tv_sec;
	EXPECT_TRUE(wait_update(0, tx.maxerror, sec + 3, &u));
	sec = u.real / ND_NSEC_PER_SEC;
	spin_to(sec, 0.1);
	p0 = phase_now(&r0);
	spin_to(sec, 0.8);
	p1 = phase_now(&r1);
	return (double)(p1 - p0) / (double)(r1 - r0) * 1e6;
}

/* Phase moved since the call, drift taken out. */
static double moved_ns(const struct run *r, __s64 raw, __s64 ph)
{
	return (double)(ph - r->phase0) -
	       r->drift * (double)(raw - r->raw0) / 1e6;
}

/*
 * Expected phase at @raw: each second's slew c[k] in force from update k
 * to update k + 1 (observed times), plus the frequency from the call.
 */
static double model_ns(const struct run *r, __s64 raw)
{
	double a = r->freq_ppm * (double)(raw - r->raw0) / 1e6;
	int k;

	for (k = 1; k <= r->n && r->u[k].raw <= raw; k++) {
		__s64 end = k < r->n && r->u[k + 1].raw <= raw ?
			    r->u[k + 1].raw : raw;

		a += (double)r->c[k] * (double)(end - r->u[k].raw) / 1e9;
	}
	return a;
}

/* The same with every update exactly on its second boundary. */
static double nominal_ns(const struct run *r, __s64 raw, __s64 real)
{
	double a = r->freq_ppm * (double)(raw - r->raw0) / 1e6;
	__s64 sec = real / ND_NSEC_PER_SEC - r->sec_call;
	double f = nd_frac_ns(real) / 1e9;
	int k;

	for (k = 1; k < sec && k <= r->n; k++)
		a += (double)r->c[k];
	if (sec >= 1 && sec <= r->n)
		a += r->c[sec] * f;
	return a;
}

/*
 * Follow @n updates after the call: the update, then a phase sample at
 * each of fracs[] into that second. Output is kept until the end.
 */
static void follow(struct __test_metadata *_metadata, struct run *r,
		   unsigned int modes, long maxerr)
{
	int k, i;

	for (k = 1; k <= r->n; k++) {
		ASSERT_TRUE(wait_update(modes, maxerr, r->sec_call + k + 2,
					&r->u[k]));
		maxerr = r->u[k].tx.maxerror;
		for (i = 0; i < (int)NFRAC; i++) {
			spin_to(r->u[k].real / ND_NSEC_PER_SEC, fracs[i]);
			r->sph[k][i] = phase_now(&r->sraw[k][i]);
		}
	}
}

/*
 * Compare every sample with the model; print the curve. Returns the
 * number of failures.
 */
static int check_curve(struct __test_metadata *_metadata, const struct run *r,
		       const char *what)
{
	double moved, want, err, worst = 0, dmax = 0, dsum = 0, d;
	int k, i, bad = 0;

	for (k = 1; k <= r->n; k++) {
		d = nd_frac_ns(r->u[k].real) / 1e6;
		if (r->u[k].real / ND_NSEC_PER_SEC != r->sec_call + k) {
			nd_log("FAIL: %s: update %d came in second +%lld", what,
			       k, (long long)(r->u[k].real / ND_NSEC_PER_SEC -
					      r->sec_call));
			bad++;
		}
		dsum += d;
		if (d > dmax)
			dmax = d;
		for (i = 0; i < (int)NFRAC; i++) {
			moved = moved_ns(r, r->sraw[k][i], r->sph[k][i]);
			want = model_ns(r, r->sraw[k][i]);
			err = moved - want;
			if (fabs(err) > fabs(worst))
				worst = err;
			if (fabs(err) > PHASE_TOL_NS) {
				nd_log("FAIL: %s: +%d.%02d s: phase moved %.1f us, model %.1f us",
				       what, k, (int)(fracs[i] * 100),
				       moved / 1e3, want / 1e3);
				bad++;
			}
		}
		nd_log("  +%2d s: update +%5.2f ms, phase %9.1f us, model %9.1f us (%+5.2f)",
		       k, d, moved / 1e3, want / 1e3, err / 1e3);
	}
	nd_log("%s: updates %.2f ms after the boundary on average, at most %.2f ms",
	       what, dsum / r->n, dmax);
	nd_log("%s: worst phase error %+.2f us (tolerance %.0f us)", what,
	       worst / 1e3, PHASE_TOL_NS / 1e3);
	return bad;
}

FIXTURE(phase) {
	int unused;
};

FIXTURE_SETUP(phase)
{
	ASSERT_EQ(0, nd_sys_reset());
}

FIXTURE_TEARDOWN(phase)
{
	nd_log_flush();
	EXPECT_EQ(0, nd_sys_reset());
}

/* kernel/time/ntp.c at HZ=250: the residual after k updates. */
static __s64 model_time_offset(__s64 offset_ns, int k)
{
	__s64 to = (offset_ns << 32) / ND_HZ;

	while (k-- > 0)
		to -= nd_shift_right(to, 2);
	return to;
}

static __s64 model_readback(__s64 offset_ns, int k)
{
	return nd_offset_readback(model_time_offset(offset_ns, k), true);
}

static void pll_run(struct __test_metadata *_metadata, bool freqhold,
		    int nsec)
{
	static struct run r;
	const char *what = freqhold ? "PLL+FREQHOLD" : "PLL";
	struct timex tx;
	__s64 sec_on, p1, raw1, want_freq, last_raw, last_real;
	double moved, nominal;
	int k, ret, bad = 0;

	memset(&r, 0, sizeof(r));
	r.n = nsec;
	/* PLL on, nanoseconds, time constant 0, synchronised. */
	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_STATUS | ADJ_NANO | ADJ_TIMECONST | ADJ_MAXERROR |
		   ADJ_ESTERROR;
	tx.status = STA_PLL | STA_NANO | (freqhold ? STA_FREQHOLD : 0);
	tx.constant = 0;
	ASSERT_EQ(TIME_OK, sys_call(&tx));
	sec_on = tx.time.tv_sec;

	r.drift = rest_drift(_metadata);

	/* ADJ_OFFSET 0.3 s into the second two after the PLL went on. */
	spin_to(sec_on + 2, 0.3);
	r.phase0 = phase_now(&r.raw0);
	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_OFFSET;
	tx.offset = OFFSET_NS;
	ret = sys_call(&tx);
	p1 = phase_now(&raw1);
	ASSERT_EQ(TIME_OK, ret);
	r.phase0 = (r.phase0 + p1) / 2;
	r.raw0 = (r.raw0 + raw1) / 2;
	r.sec_call = tx.time.tv_sec;
	r.freq_ppm = tx.freq / 65536.0;
	EXPECT_EQ(OFFSET_NS, tx.offset);
	if (freqhold) {
		want_freq = 0;
	} else {
		__s64 secs = r.sec_call - sec_on;

		if (secs > 8)
			secs = 8;
		want_freq = nd_freq_readback((OFFSET_NS * secs) <<
					     (32 - 2 * (2 + 2 + 0)));
	}
	nd_logb("%s: ADJ_OFFSET %lld ns at +%.3f s; drift at rest %+.4f ppm",
		what, OFFSET_NS, nd_frac_ns(tx.time.tv_usec) / 1e9, r.drift);
	nd_logb("%s: freq read back %ld (%.4f ppm), expected %lld", what,
		tx.freq, r.freq_ppm, (long long)want_freq);
	EXPECT_EQ(want_freq, tx.freq);

	follow(_metadata, &r, 0, tx.maxerror);
	last_raw = r.sraw[nsec][NFRAC - 1];
	last_real = nd_now_ns(CLOCK_REALTIME);
	nd_log_flush();

	for (k = 1; k <= nsec; k++) {
		__s64 want = model_readback(OFFSET_NS, k);

		r.c[k] = model_readback(OFFSET_NS, k - 1) - want;
		if (r.u[k].ret != TIME_OK || r.u[k].tx.offset != want ||
		    r.u[k].tx.freq != want_freq) {
			nd_log("FAIL: update %d: state %d offset %ld (model %lld) freq %ld",
			       k, r.u[k].ret, r.u[k].tx.offset,
			       (long long)want, r.u[k].tx.freq);
			bad++;
		}
	}
	bad += check_curve(_metadata, &r, what);

	/* Most of the 20 ms is in, and near the nominal curve. */
	moved = moved_ns(&r, last_raw, r.sph[nsec][NFRAC - 1]) -
		r.freq_ppm * (double)(last_raw - r.raw0) / 1e6;
	nominal = nominal_ns(&r, last_raw, last_real) -
		  r.freq_ppm * (double)(last_raw - r.raw0) / 1e6;
	nd_log("after %d s: %.3f ms of %.3f ms applied (%.1f%%), nominal %.3f ms",
	       nsec, moved / 1e6, OFFSET_NS / 1e6, moved * 100 / OFFSET_NS,
	       nominal / 1e6);
	EXPECT_LT(OFFSET_NS * 0.95, moved);
	EXPECT_GT(OFFSET_NS + PHASE_TOL_NS, moved);
	EXPECT_GT(OFFSET_NS * 0.02, fabs(moved - nominal));
	EXPECT_EQ(0, bad);
}

TEST_F_TIMEOUT(phase, pll_freqhold, 60)
{
	nd_print_context("phase");
	pll_run(_metadata, true, 12);
}

TEST_F_TIMEOUT(phase, pll, 60)
{
	pll_run(_metadata, false, 12);
}

/*
 * adjtime(3) (glibc: adjtimex ADJ_OFFSET_SINGLESHOT) of 8 ms: 500 us in
 * each of 16 seconds, then nothing.
 */
TEST_F_TIMEOUT(phase, adjtime_singleshot, 60)
{
	struct timeval delta = { .tv_sec = 0, .tv_usec = 8000 }, old;
	static struct run r;
	struct timex tx;
	__s64 p1, raw1, want;
	double rate4, moved;
	int k, bad = 0;

	memset(&r, 0, sizeof(r));
	r.n = 17;
	r.drift = rest_drift(_metadata);
	spin_to(nd_now_ns(CLOCK_REALTIME) / ND_NSEC_PER_SEC + 1, 0.3);
	r.phase0 = phase_now(&r.raw0);
	ASSERT_EQ(0, adjtime(&delta, &old));
	p1 = phase_now(&raw1);
	r.sec_call = nd_now_ns(CLOCK_REALTIME) / ND_NSEC_PER_SEC;
	r.phase0 = (r.phase0 + p1) / 2;
	r.raw0 = (r.raw0 + raw1) / 2;
	EXPECT_EQ(0, old.tv_sec);
	EXPECT_EQ(0, old.tv_usec);
	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_OFFSET_SS_READ;
	ASSERT_LE(0, sys_call(&tx));
	EXPECT_EQ(8000, tx.offset);
	nd_logb("adjtime 8000 us at +%.3f s (read back %ld us); drift at rest %+.4f ppm",
		nd_frac_ns(nd_now_ns(CLOCK_REALTIME)) / 1e9, tx.offset,
		r.drift);

	follow(_metadata, &r, ADJ_OFFSET_SS_READ, tx.maxerror);
	nd_log_flush();

	for (k = 1; k <= r.n; k++) {
		want = k <= 16 ? 8000 - 500 * k : 0;
		r.c[k] = k <= 16 ? ND_US(500) : 0;
		if (r.u[k].tx.offset != want) {
			nd_log("FAIL: update %d: %ld us left, expected %lld", k,
			       r.u[k].tx.offset, (long long)want);
			bad++;
		}
	}
	bad += check_curve(_metadata, &r, "adjtime");

	/* The rate over the first updates, and the whole 8 ms. */
	rate4 = (double)(r.sph[4][NFRAC - 1] - r.sph[1][0]) /
		(double)(r.sraw[4][NFRAC - 1] - r.sraw[1][0]) * 1e6 - r.drift;
	moved = moved_ns(&r, r.sraw[r.n][NFRAC - 1], r.sph[r.n][NFRAC - 1]);
	nd_log("slew rate %.4f ppm over +1..+4 s (expected 500)", rate4);
	nd_log("%.1f us slewed in all (8000 if updates were on the boundaries)",
	       moved / 1e3);
	EXPECT_GT(0.5, fabs(rate4 - 500));
	EXPECT_GT(ND_US(8000) * 0.02, fabs(moved - ND_US(8000)));
	EXPECT_EQ(0, bad);
	/* Nothing left: adjtime(NULL, &old) reads 0. */
	ASSERT_EQ(0, adjtime(NULL, &old));
	EXPECT_EQ(0, old.tv_sec);
	EXPECT_EQ(0, old.tv_usec);
}

static void __attribute__((constructor)) phase_init(void)
{
	nd_reset_at_exit();
}

TEST_HARNESS_MAIN
