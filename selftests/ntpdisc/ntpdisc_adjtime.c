// SPDX-License-Identifier: GPL-2.0
/*
 * ntpdisc selftest: adjtime() semantics (ADJ_OFFSET_SINGLESHOT and
 * ADJ_OFFSET_SS_READ). The slew is 500 us per second, starting at the
 * first second boundary after the call (second_overflow() in
 * kernel/time/ntp.c); the value is in microseconds whatever STA_NANO says.
 * From 7.3 the slew goes tick by tick from that boundary on, so a read
 * 400 ms into a second sees 200 us of that second's slew gone too: the
 * values expected there are given beside 6.1's, within two ticks of slew.
 */
#include <limits.h>
#include <sys/ioctl.h>

#include "ntpdisc_harness.h"

/* Write an adjtime value now (middle of a second); returns the old one. */
static long adj_set(struct __test_metadata *_metadata,
		    struct _test_data_ntpdisc *self, unsigned int modes, long val)
{
	struct nd_res rr, rd;
	struct timex tx;

	nd_tx_init(&tx, ADJ_OFFSET_SINGLESHOT | modes);
	tx.offset = val;
	nd_run(_metadata, self, "adjtime", &tx, &rr, &rd, true);
	EXPECT_LE(0, rr.ret);
	return rr.out.offset;
}

/* Read the remaining adjtime value, now or in the middle of next second. */
static long adj_read(struct __test_metadata *_metadata,
		     struct _test_data_ntpdisc *self, bool next)
{
	struct nd_res rr, rd;
	struct timex tx;

	nd_tx_init(&tx, ADJ_OFFSET_SS_READ);
	if (next)
		nd_sleep_next_frac(ND_MS(400));
	nd_run(_metadata, self, "adjtime read", &tx, &rr, &rd, false);
	EXPECT_LE(0, rr.ret);
	return rr.out.offset;
}

/* Two ticks of adjtime's 500 us/s, and a microsecond of rounding. */
#define TICK_SLEW_SLACK	5

/* What is left: @v61 on a kernel that slews per second, else about @v73. */
static void expect_left(struct __test_metadata *_metadata, long v61,
			long v73, long got)
{
	if (!nd_tick_slew()) {
		EXPECT_EQ(v61, got);
		return;
	}
	EXPECT_LE(v73 - TICK_SLEW_SLACK, got);
	EXPECT_GE(v73 + TICK_SLEW_SLACK, got);
}

static void countdown(struct __test_metadata *_metadata,
		      struct _test_data_ntpdisc *self, int sign)
{
	static const long seq[] = { 734, 234, 0, 0 };
	static const long seq73[] = { 1034, 534, 140, 0 };
	unsigned int i;

	nd_sleep_to_frac(ND_MS(300));
	EXPECT_EQ(0, adj_set(_metadata, self, 0, sign * 1234));
	EXPECT_EQ(sign * 1234, adj_read(_metadata, self, false));
	for (i = 0; i < ARRAY_SIZE(seq); i++)
		expect_left(_metadata, sign * seq[i], sign * seq73[i],
			    adj_read(_metadata, self, true));
}

TEST_F(ntpdisc, countdown)
{
	countdown(_metadata, self, 1);
}

TEST_F(ntpdisc, countdown_negative)
{
	countdown(_metadata, self, -1);
}

/*
 * A new value replaces the old one and returns what was left of it. From
 * 7.3 the rest of the second goes on at the rate set at its start, and
 * only towards zero: -300 waits for the next boundary.
 */
TEST_F(ntpdisc, replace)
{
	nd_sleep_to_frac(ND_MS(300));
	EXPECT_EQ(0, adj_set(_metadata, self, 0, 1234));
	expect_left(_metadata, 734, 1034, adj_read(_metadata, self, true));
	expect_left(_metadata, 734, 1034, adj_set(_metadata, self, 0, 2000));
	expect_left(_metadata, 1500, 1500, adj_read(_metadata, self, true));
	expect_left(_metadata, 1000, 1000, adj_read(_metadata, self, true));
	expect_left(_metadata, 1000, 1000, adj_set(_metadata, self, 0, -300));
	expect_left(_metadata, 0, -180, adj_read(_metadata, self, true));
	expect_left(_metadata, 0, -180, adj_set(_metadata, self, 0, 0));
}

/* Microseconds even in nano mode; no range limit; big values slew 500/s. */
TEST_F(ntpdisc, units_and_range)
{
	static const long big[] = { 10000000, LONG_MAX, LONG_MIN, -501 };
	struct nd_res rr, rd;
	struct timex tx;
	unsigned int i;

	nd_tx_init(&tx, ADJ_NANO);
	nd_check(_metadata, self, "nano", &tx, &rr, &rd);
	nd_sleep_to_frac(ND_MS(300));
	EXPECT_EQ(0, adj_set(_metadata, self, 0, 500));
	EXPECT_EQ(500, adj_read(_metadata, self, false));
	expect_left(_metadata, 0, 300, adj_read(_metadata, self, true));
	for (i = 0; i < ARRAY_SIZE(big); i++) {
		long left;

		adj_set(_metadata, self, 0, big[i]);
		left = adj_read(_metadata, self, true);
		if (!nd_tick_slew()) {
			EXPECT_EQ(big[i] > 0 ? big[i] - 500 : big[i] + 500,
				  left);
			continue;
		}
		/*
		 * 7.3: 200 us of the next second's slew, and what the rest
		 * of this one took at its rate, up to 300 us, if that was
		 * towards zero.
		 */
		if (big[i] > 0) {
			EXPECT_GE(big[i] - 200 + TICK_SLEW_SLACK, left);
			EXPECT_LE(big[i] - 500 - TICK_SLEW_SLACK, left);
		} else {
			EXPECT_LE(big[i] + 200 - TICK_SLEW_SLACK, left);
			EXPECT_GE(big[i] + 500 + TICK_SLEW_SLACK, left);
		}
	}
	adj_set(_metadata, self, 0, 0);
}

/* The adjtime branch processes no other mode bit. */
TEST_F(ntpdisc, other_modes_ignored)
{
	struct nd_res rr, rd;
	struct timex tx;

	nd_sleep_to_frac(ND_MS(300));
	nd_tx_init(&tx, ADJ_OFFSET_SINGLESHOT | ADJ_FREQUENCY | ADJ_STATUS |
		   ADJ_MAXERROR | ADJ_TIMECONST | ADJ_TAI | ADJ_NANO);
	tx.offset = 77;
	tx.freq = 12345;
	tx.status = STA_PLL;
	tx.maxerror = 3;
	tx.constant = 7;
	nd_run(_metadata, self, "adjtime+modes", &tx, &rr, &rd, true);
	/* ADJ_NANO is 0x2000: with ADJ_ADJTIME it reads as READONLY. */
	EXPECT_EQ(0, rr.out.offset);
	EXPECT_EQ(0, rr.out.freq);
	EXPECT_EQ(STA_UNSYNC, rr.out.status);
	EXPECT_EQ(ND_PHASE_LIMIT, rr.out.maxerror);
	EXPECT_EQ(2, rr.out.constant);
	EXPECT_EQ(0, rr.out.tai);
	EXPECT_EQ(0, adj_read(_metadata, self, false));

	tx.modes &= ~ADJ_NANO;
	nd_run(_metadata, self, "adjtime+modes", &tx, &rr, &rd, true);
	EXPECT_EQ(0, rr.out.offset);
	EXPECT_EQ(0, rr.out.freq);
	EXPECT_EQ(STA_UNSYNC, rr.out.status);
	EXPECT_EQ(77, adj_read(_metadata, self, false));
	adj_set(_metadata, self, 0, 0);
}

/* ntp_clear (here: ADJ_SETOFFSET of 0) cancels adjtime. */
TEST_F(ntpdisc, cleared_by_setoffset)
{
	struct nd_res rr, rd;
	struct timex tx;

	nd_sleep_to_frac(ND_MS(300));
	adj_set(_metadata, self, 0, 1234);
	nd_tx_init(&tx, ADJ_SETOFFSET);
	nd_run(_metadata, self, "setoffset 0", &tx, &rr, &rd, false);
	EXPECT_EQ(0, adj_read(_metadata, self, false));

	/* With both: the step clears first, then adjtime is stored. */
	adj_set(_metadata, self, 0, 1234);
	nd_tx_init(&tx, ADJ_OFFSET_SINGLESHOT | ADJ_SETOFFSET);
	tx.offset = 700;
	nd_run(_metadata, self, "adjtime+setoffset", &tx, &rr, &rd, false);
	EXPECT_EQ(0, rr.out.offset);
	EXPECT_EQ(TIME_ERROR, rr.ret);
	EXPECT_EQ(700, adj_read(_metadata, self, false));
	expect_left(_metadata, 200, 500, adj_read(_metadata, self, true));
}

/* What the slew does to ntpdisc's tick length, second by second. */
TEST_F(ntpdisc, slew_output)
{
	static const struct { long left; __s64 adj; } seq[] = {
		{ 734, ND_MAX_TICKADJ_SCALED },
		{ 234, ND_MAX_TICKADJ_SCALED },
		{ 0, (234LL * 1000 / ND_HZ) << 32 },
		{ 0, 0 },
	};
	struct ntpdisc_output o;
	unsigned int i;

	if (!nd_has_output(&self->dut))
		SKIP(return, "NTPDISC_GET_OUTPUT needs the device");
	if (nd_tick_slew())
		SKIP(return, "7.3 on slews tick by tick: no per-second adjtime term");
	nd_sleep_to_frac(ND_MS(300));
	adj_set(_metadata, self, 0, 1234);
	ASSERT_EQ(0, nd_get_output(&self->dut, &o));
	EXPECT_EQ(1234, o.time_adjust);
	EXPECT_EQ(0, o.adjtime_adj);
	for (i = 0; i < ARRAY_SIZE(seq); i++) {
		EXPECT_EQ(seq[i].left, adj_read(_metadata, self, true));
		ASSERT_EQ(0, nd_get_output(&self->dut, &o));
		EXPECT_EQ(seq[i].left, o.time_adjust);
		EXPECT_EQ(seq[i].adj, o.adjtime_adj);
		EXPECT_EQ(o.tick_length_base + o.phase_adj + o.adjtime_adj,
			  o.tick_length);
		EXPECT_EQ(0, o.phase_adj);
	}
	/* -1 us: truncated to -4 ns per tick in one second. */
	adj_set(_metadata, self, 0, -1);
	EXPECT_EQ(0, adj_read(_metadata, self, true));
	ASSERT_EQ(0, nd_get_output(&self->dut, &o));
	EXPECT_EQ(-(4LL << 32), o.adjtime_adj);
}

TEST_HARNESS_MAIN
