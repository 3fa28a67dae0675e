// SPDX-License-Identifier: GPL-2.0
/*
 * ntpdisc selftest: what happens second by second (second_overflow() and
 * ntp_update_offset() in kernel/time/ntp.c): phase slewing, PLL and FLL
 * frequency updates, maxerror growth, and a long differential run.
 *
 * Besides kernel == ntpdisc, the kernel's read-back is checked against
 * the kernel's own arithmetic redone here (nd_shift_right() and friends).
 */
#include <limits.h>
#include <sys/ioctl.h>

#include "ntpdisc_harness.h"

#define SHIFT_PLL	2

static void run_ok(struct __test_metadata *_metadata,
		   struct _test_data_ntpdisc *self, const char *what,
		   const struct timex *tx, struct nd_res *rr, bool once)
{
	struct nd_res rd;

	nd_run(_metadata, self, what, tx, rr, &rd, once);
	ASSERT_LE(0, rr->ret) {
		TH_LOG("%s: %s", what, strerror(rr->err));
	}
}

/* PLL on, given units and time constant, synchronised (maxerror 0). */
static __s64 pll_on(struct __test_metadata *_metadata,
		    struct _test_data_ntpdisc *self, bool nano, long tc,
		    int extra)
{
	struct nd_res rr;
	struct timex tx;

	nd_tx_init(&tx, ADJ_STATUS | ADJ_TIMECONST | ADJ_MAXERROR |
		   (nano ? ADJ_NANO : ADJ_MICRO));
	tx.status = STA_PLL | extra;
	tx.constant = tc;
	run_ok(_metadata, self, "PLL on", &tx, &rr, false);
	return rr.t0 / ND_NSEC_PER_SEC;
}

/*
 * The phase term of the running second was fixed at its start from the
 * residual then; a new ADJ_OFFSET replaces the residual, not the term.
 */
#define ANY_DELTA	LLONG_MIN

static void check_output(struct __test_metadata *_metadata,
			 struct _test_data_ntpdisc *self, __s64 time_offset,
			 __s64 delta, __s64 time_freq)
{
	struct ntpdisc_output o;

	if (!nd_has_output(&self->dut))
		return;
	ASSERT_EQ(0, nd_get_output(&self->dut, &o));
	EXPECT_EQ(time_offset, o.time_offset);
	EXPECT_EQ(delta == ANY_DELTA ? o.phase_adj : delta, o.phase_adj);
	EXPECT_EQ(time_freq, o.time_freq);
	EXPECT_EQ(o.tick_length_base + o.phase_adj + o.adjtime_adj,
		  o.tick_length);
	EXPECT_EQ(((1000000000ULL << 32) + time_freq) / ND_HZ,
		  o.tick_length_base);
}

static void phase_slew(struct __test_metadata *_metadata,
		       struct _test_data_ntpdisc *self, bool nano, long tc,
		       long offset, const long *table, int seconds)
{
	long itc = nano ? tc : tc + 4;
	struct nd_res rr, rd;
	__s64 off, delta, ns;
	struct timex tx;
	int i;

	nd_sleep_to_frac(ND_MS(300));
	pll_on(_metadata, self, nano, tc, 0);
	nd_tx_init(&tx, ADJ_OFFSET);
	tx.offset = offset;
	run_ok(_metadata, self, "offset", &tx, &rr, false);
	/* Enabled in the same second: secs == 0, no frequency change. */
	EXPECT_EQ(0, rr.out.freq);
	ns = nano ? offset : offset * 1000;
	off = (ns * (1LL << 32)) / ND_HZ;
	EXPECT_EQ(nd_offset_readback(off, nano), rr.out.offset);
	check_output(_metadata, self, off, 0, 0);
	for (i = 0; i < seconds; i++) {
		delta = nd_shift_right(off, SHIFT_PLL + itc);
		nd_read_next(_metadata, self, "slewing", &rr, &rd);
		if (nd_tick_slew()) {
			/*
			 * 7.3 on: the second's share goes tick by tick, as far
			 * into the second as the read was (about 400 ms, later
			 * when the guest stalled), give or take two ticks. The
			 * slew makes the clock's second shorter or longer in
			 * ticks, by the slew's rate, and the share with them.
			 */
			double rate = (double)delta * ND_HZ / 4294967296.0 / 1e9;
			double share = (double)delta * (1 - rate);
			__s64 into = rr.t0 % ND_NSEC_PER_SEC;
			__s64 want = nd_offset_readback(off - (__s64)(share * into /
								ND_NSEC_PER_SEC), nano);
			__s64 slack = 2 * llabs(nd_offset_readback(delta / ND_HZ,
								   nano)) + 2;

			EXPECT_GE(slack, llabs(rr.out.offset - want)) {
				TH_LOG("second %d: %ld, expected %lld +- %lld",
				       i + 1, rr.out.offset, (long long)want,
				       (long long)slack);
			}
			off -= (__s64)share;
			continue;
		}
		off -= delta;
		EXPECT_EQ(nd_offset_readback(off, nano), rr.out.offset) {
			TH_LOG("second %d", i + 1);
		}
		if (table)
			EXPECT_EQ(table[i], rr.out.offset);
		check_output(_metadata, self, off, delta, 0);
	}
}

/* Fact sheet §9.2: 1 ms at tc 0 decays by 3/4 each second. */
TEST_F(ntpdisc, phase_slew_nano)
{
	static const long table[] = { 750000, 562500, 421875, 316406,
				      237304 };

	phase_slew(_metadata, self, true, 0, 1000000, table, 5);
}

/* Microsecond mode: constant 0 means 4 inside, so 1/64 per second. */
TEST_F(ntpdisc, phase_slew_usec)
{
	phase_slew(_metadata, self, false, 0, -300000, NULL, 4);
}

/* The PLL term: offset * secs / 2^(8 + 2 tc), secs clamped to 2^(3 + tc). */
static __s64 pll_term(__s64 ns, __s64 secs, long tc)
{
	if (secs > 1 << (SHIFT_PLL + 1 + tc))
		secs = 1 << (SHIFT_PLL + 1 + tc);
	return (ns * secs) << (32 - 2 * (SHIFT_PLL + 2 + tc));
}

static __s64 fll_term(__s64 ns, __s64 secs, bool fll)
{
	if (secs < 256 || (!fll && secs <= 2048))
		return 0;
	return (ns << 30) / secs;
}

static __s64 clamp_freq(__s64 f)
{
	return f > ND_MAXFREQ_SCALED ? ND_MAXFREQ_SCALED :
	       f < -ND_MAXFREQ_SCALED ? -ND_MAXFREQ_SCALED : f;
}

TEST_F_TIMEOUT(ntpdisc, pll_frequency, 60)
{
	struct nd_res rr;
	struct timex tx;
	__s64 s0, secs, f = 0;

	nd_sleep_to_frac(ND_MS(300));
	s0 = pll_on(_metadata, self, true, 0, 0);

	/* Three seconds later: no clamp. */
	nd_sleep_next_frac(ND_MS(300));
	nd_sleep_next_frac(ND_MS(300));
	nd_sleep_next_frac(ND_MS(300));
	nd_tx_init(&tx, ADJ_OFFSET);
	tx.offset = 1000000;
	run_ok(_metadata, self, "offset", &tx, &rr, false);
	secs = rr.t0 / ND_NSEC_PER_SEC - s0;
	EXPECT_EQ(3, secs);
	f = clamp_freq(f + pll_term(1000000, secs, 0));
	EXPECT_EQ(nd_freq_readback(f), rr.out.freq);
	EXPECT_EQ(0, rr.out.status & STA_MODE);
	check_output(_metadata, self, (1000000LL << 32) / ND_HZ, 0, f);

	/* Ten seconds later: secs is clamped to 8 at tc 0. */
	s0 = rr.t0 / ND_NSEC_PER_SEC;
	nd_sleep_ns(ND_MS(9700));
	nd_sleep_to_frac(ND_MS(300));
	nd_tx_init(&tx, ADJ_OFFSET);
	tx.offset = -400000;
	run_ok(_metadata, self, "offset", &tx, &rr, false);
	secs = rr.t0 / ND_NSEC_PER_SEC - s0;
	EXPECT_LE(10, secs);
	f = clamp_freq(f + pll_term(-400000, secs, 0));
	EXPECT_EQ(nd_freq_readback(f), rr.out.freq);
	check_output(_metadata, self, -(400000LL << 32) / ND_HZ, ANY_DELTA,
		     f);

	/* STA_FREQHOLD: the phase is taken, the frequency is not. */
	nd_tx_init(&tx, ADJ_STATUS);
	tx.status = STA_PLL | STA_FREQHOLD;
	run_ok(_metadata, self, "freqhold", &tx, &rr, false);
	nd_sleep_next_frac(ND_MS(300));
	nd_sleep_next_frac(ND_MS(300));
	nd_tx_init(&tx, ADJ_OFFSET);
	tx.offset = 2000000;
	run_ok(_metadata, self, "offset", &tx, &rr, false);
	EXPECT_EQ(nd_freq_readback(f), rr.out.freq);
	EXPECT_EQ(2000000, rr.out.offset);
	check_output(_metadata, self, (2000000LL << 32) / ND_HZ, ANY_DELTA,
		     f);
}

/*
 * The FLL needs 256 s between updates. time_reftime is REALTIME seconds
 * and a clock step does not touch it (ntp_clear() leaves it), so stepping
 * the guest clock forward makes those seconds pass at once.
 */
static void step_clock(struct __test_metadata *_metadata, __s64 ns)
{
	struct timespec ts;
	__s64 t = nd_now_ns(CLOCK_REALTIME) + ns;

	ts.tv_sec = t / ND_NSEC_PER_SEC;
	ts.tv_nsec = t % ND_NSEC_PER_SEC;
	ASSERT_EQ(0, clock_settime(CLOCK_REALTIME, &ts));
}

static void fll_case(struct __test_metadata *_metadata,
		     struct _test_data_ntpdisc *self, int extra, __s64 step,
		     long exp_freq)
{
	struct ntpdisc_output o1, o2;
	struct nd_res rr;
	struct timex tx;
	__s64 s0, secs, f;

	nd_sleep_to_frac(ND_MS(300));
	s0 = pll_on(_metadata, self, true, 0, extra);
	if (nd_has_output(&self->dut))
		ASSERT_EQ(0, nd_get_output(&self->dut, &o1));
	step_clock(_metadata, step * ND_NSEC_PER_SEC);
	nd_tx_init(&tx, ADJ_OFFSET);
	tx.offset = 1000000;
	/* Once: a second run on the same kernel would see secs == 0. */
	run_ok(_metadata, self, "FLL offset", &tx, &rr, true);
	secs = rr.t0 / ND_NSEC_PER_SEC - s0;
	EXPECT_EQ(step, secs);
	f = clamp_freq(fll_term(1000000, secs, extra & STA_FLL) +
		       pll_term(1000000, secs, 0));
	EXPECT_EQ(nd_freq_readback(f), rr.out.freq);
	EXPECT_EQ(exp_freq, rr.out.freq);
	EXPECT_EQ(STA_MODE, rr.out.status & STA_MODE);
	/* The step was an ntp_clear: UNSYNC and maxerror 16 s. */
	EXPECT_EQ(STA_UNSYNC, rr.out.status & STA_UNSYNC);
	EXPECT_EQ(ND_PHASE_LIMIT, rr.out.maxerror);
	check_output(_metadata, self, (1000000LL << 32) / ND_HZ, 0, f);
	if (nd_has_output(&self->dut)) {
		ASSERT_EQ(0, nd_get_output(&self->dut, &o2));
		EXPECT_EQ(o1.clock_sets + 1, o2.clock_sets);
	}

	/* Right after: secs 0, STA_MODE cleared, frequency kept. */
	run_ok(_metadata, self, "offset again", &tx, &rr, false);
	EXPECT_EQ(0, rr.out.status & STA_MODE);
	EXPECT_EQ(nd_freq_readback(f), rr.out.freq);

	step_clock(_metadata, -step * ND_NSEC_PER_SEC);
}

/* Fact sheet §9.2 table: FLL+PLL at 300 s with STA_FLL. */
TEST_F(ntpdisc, fll_by_clock_step)
{
	fll_case(_metadata, self, STA_FLL, 300, 2102613);
}

/* Fact sheet §9.2 table: FLL forced above 2048 s even without STA_FLL. */
TEST_F(ntpdisc, fll_forced)
{
	fll_case(_metadata, self, 0, 3000, 2053461);
}

/* Fact sheet §9.1: +500 us per second; past 16 s it clamps and unsyncs. */
TEST_F(ntpdisc, maxerror_growth)
{
	struct nd_res rr, rd;
	struct timex tx;
	int i;

	nd_sleep_to_frac(ND_MS(300));
	nd_tx_init(&tx, ADJ_STATUS | ADJ_MAXERROR);
	run_ok(_metadata, self, "sync", &tx, &rr, false);
	for (i = 1; i <= 3; i++) {
		nd_read_next(_metadata, self, "growth", &rr, &rd);
		EXPECT_EQ(500 * i, rr.out.maxerror);
		EXPECT_EQ(TIME_OK, rr.ret);
	}
	nd_tx_init(&tx, ADJ_MAXERROR);
	tx.maxerror = 15999000;
	run_ok(_metadata, self, "near limit", &tx, &rr, false);
	nd_read_next(_metadata, self, "limit-500", &rr, &rd);
	EXPECT_EQ(15999500, rr.out.maxerror);
	EXPECT_EQ(TIME_OK, rr.ret);
	nd_read_next(_metadata, self, "limit", &rr, &rd);
	EXPECT_EQ(ND_PHASE_LIMIT, rr.out.maxerror);
	EXPECT_EQ(TIME_OK, rr.ret);
	nd_read_next(_metadata, self, "past limit", &rr, &rd);
	EXPECT_EQ(ND_PHASE_LIMIT, rr.out.maxerror);
	EXPECT_EQ(TIME_ERROR, rr.ret);
	EXPECT_EQ(STA_UNSYNC, rr.out.status);
}

/*
 * Everything at once, compared second by second: PLL phase and
 * frequency, adjtime, a frequency offset and the TAI offset; then the PLL
 * is switched off and the residual phase must go on slewing (§9.1).
 */
TEST_F_TIMEOUT(ntpdisc, differential_seconds, 60)
{
	struct nd_res rr, rd;
	struct timex tx;
	__s64 off;
	long itc = 1;
	int i;

	nd_sleep_to_frac(ND_MS(300));
	pll_on(_metadata, self, true, itc, 0);
	nd_tx_init(&tx, ADJ_FREQUENCY | ADJ_TAI | ADJ_ESTERROR);
	tx.freq = 1000000;
	tx.constant = 5;
	tx.esterror = 1234;
	run_ok(_metadata, self, "freq", &tx, &rr, false);
	nd_tx_init(&tx, ADJ_OFFSET_SINGLESHOT);
	tx.offset = 3000;
	run_ok(_metadata, self, "adjtime", &tx, &rr, true);
	nd_sleep_next_frac(ND_MS(300));
	nd_tx_init(&tx, ADJ_OFFSET);
	tx.offset = -2000000;
	run_ok(_metadata, self, "offset", &tx, &rr, false);
	off = -(2000000LL << 32) / ND_HZ;
	/*
	 * From 7.3 the opposed adjtime and phase slews settle against each
	 * other tick by tick: the kernel is the only oracle there.
	 */
	for (i = 0; i < 5; i++) {
		off -= nd_shift_right(off, SHIFT_PLL + itc);
		nd_read_next(_metadata, self, "PLL on", &rr, &rd);
		if (!nd_tick_slew())
			EXPECT_EQ(nd_offset_readback(off, true), rr.out.offset);
		EXPECT_EQ(5, rr.out.tai);
		EXPECT_EQ(TIME_OK, rr.ret);
	}
	nd_tx_init(&tx, ADJ_STATUS | ADJ_NANO);
	run_ok(_metadata, self, "PLL off", &tx, &rr, false);
	EXPECT_EQ(STA_NANO, rr.out.status);
	for (i = 0; i < 4; i++) {
		off -= nd_shift_right(off, SHIFT_PLL + itc);
		nd_read_next(_metadata, self, "PLL off", &rr, &rd);
		if (!nd_tick_slew())
			EXPECT_EQ(nd_offset_readback(off, true), rr.out.offset);
	}
}

TEST_HARNESS_MAIN
