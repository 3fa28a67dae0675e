// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of the discipline's 7.3 model (DISC_SKEW): the phase and
 * adjtime slews as a per-tick skew that the timekeeper drains, built from
 * module/discipline.c with -DNTPDISC_HAVE_TIMEKEEPER_SKEW_DELTA. TAP.
 *
 * Expected values were worked out by hand from 7.3.4's kernel/time/ntp.c
 * (second_overflow(), ntp_drain_skew()) and timekeeping.c (one drain per
 * tick, of the skew the last second_overflow() set), at HZ=250.
 */
#include <stdlib.h>
#include <string.h>

#include "discipline.h"
#include "unit_tap.h"

#if !DISC_SKEW
#error "build with -DNTPDISC_HAVE_TIMEKEEPER_SKEW_DELTA"
#endif

#define TICK_US		(1000000 / DISC_HZ)
/* 1 us of adjtime per tick, in skew units (ns << 32 / HZ). */
#define SKEW_US		(((s64)1000 << 32) / DISC_HZ)

static bool may(void)
{
	return true;
}

static struct discipline disc;
static s32 tai;
static const time64_t now = 1700000000;

static int call(unsigned int modes, long offset, struct __kernel_timex *tx)
{
	struct timespec64 ts = { now, 0 };

	memset(tx, 0, sizeof(*tx));
	tx->modes = modes;
	tx->offset = offset;
	if (discipline_validate(tx, may))
		return -1;
	return discipline_adjtimex(&disc, tx, &ts, now, &tai);
}

static long adjtime_left(void)
{
	struct __kernel_timex tx;

	call(ADJ_OFFSET_SS_READ, 0, &tx);
	return tx.offset;
}

static long offset_left(void)
{
	struct __kernel_timex tx;

	call(0, 0, &tx);
	return tx.offset;
}

/* @n ticks, one drain each of the current skew; returns what was claimed. */
static s64 ticks(int n)
{
	s64 claimed = 0;

	while (n--)
		claimed += discipline_drain_skew(&disc, disc.skew_delta, 0);
	return claimed;
}

static void test_adjtime(void)
{
	struct __kernel_timex tx;

	discipline_init(&disc);
	call(ADJ_OFFSET_SINGLESHOT, 5000, &tx);
	CHECK_EQ("adjtime: nothing slews before the second", disc.skew_delta, 0);
	CHECK_EQ("adjtime: tick length is the base only",
		 discipline_tick_length(&disc), disc.tick_length_base);
	discipline_second_overflow(&disc, now + 1);
	/* 500 us/s over 250 ticks: 2 us a tick. */
	CHECK_EQ("adjtime: skew 2 us a tick", disc.skew_delta, 2 * SKEW_US);
	CHECK_EQ("adjtime: not debited at the second", adjtime_left(), 5000);
	CHECK_EQ("adjtime: one tick claims its skew", ticks(1), 2 * SKEW_US);
	CHECK_EQ("adjtime: reads 2 us less after a tick", adjtime_left(), 4998);
	ticks(DISC_HZ - 1);
	CHECK_EQ("adjtime: 500 us less after a second", adjtime_left(), 4500);
	CHECK_EQ("adjtime: nothing left over in the fraction",
		 disc.time_adjust_frac, 0);
	/* The cap holds however many ticks are drained at once. */
	CHECK_EQ("adjtime: 4 ticks at once, the cap of 4",
		 discipline_drain_skew(&disc, disc.skew_delta * 16, 2),
		 8 * SKEW_US);
	CHECK_EQ("adjtime: 8 us of it taken", adjtime_left(), 4492);
	/* A skew of the other sign claims no adjtime. */
	CHECK_EQ("adjtime: the other direction claims nothing",
		 discipline_drain_skew(&disc, -2 * SKEW_US, 0), 0);
	/* A new request drops what was taken out for delivery. */
	discipline_drain_skew(&disc, SKEW_US / 2, 0);
	CHECK_EQ("adjtime: half a us in the fraction", disc.time_adjust_frac,
		 (s64)500 << 32);
	call(ADJ_OFFSET_SINGLESHOT, 30, &tx);
	CHECK_EQ("adjtime: the old slew reads back", tx.offset, 4491);
	CHECK_EQ("adjtime: the fraction goes with it", disc.time_adjust_frac, 0);
	discipline_second_overflow(&disc, now + 2);
	/* 30 us within the second: 30 us / 250 a tick. */
	CHECK_EQ("adjtime: a short one at its own rate", disc.skew_delta,
		 ((s64)30000 << 32) / DISC_HZ / DISC_HZ);
	ticks(DISC_HZ);
	CHECK_EQ("adjtime: 30 us done in a second", adjtime_left(), 0);
	/*
	 * Each tick delivered a little under 30 us / 250 (the skew is
	 * rounded down): the rest, under a nanosecond, goes at one unit a
	 * tick.
	 */
	CHECK_EQ("adjtime: a sub-ns rest in the fraction",
		 disc.time_adjust_frac, (s64)30000 * (1LL << 32) -
		 (((s64)30000 << 32) / DISC_HZ / DISC_HZ) * DISC_HZ * DISC_HZ);
	discipline_second_overflow(&disc, now + 3);
	CHECK_EQ("adjtime: the rest slews at one unit", disc.skew_delta, 1);
	ticks(DISC_HZ);
	CHECK_EQ("adjtime: and is gone", disc.time_adjust_frac, 0);
	discipline_second_overflow(&disc, now + 4);
	CHECK_EQ("adjtime: done, no skew", disc.skew_delta, 0);
}

static void test_phase(void)
{
	struct __kernel_timex tx;
	s64 off, chunk;
	int i;

	discipline_init(&disc);
	call(ADJ_STATUS, 0, &tx);
	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_STATUS | ADJ_NANO;
	tx.status = STA_PLL;
	discipline_validate(&tx, may);
	discipline_adjtimex(&disc, &tx, &(struct timespec64){ now, 0 }, now,
			    &tai);
	call(ADJ_OFFSET, 1000000, &tx);	/* 1 ms, nanoseconds */
	off = ((s64)1000000 << 32) / DISC_HZ;
	CHECK_EQ("phase: the offset as 6.1 stores it", disc.time_offset, off);
	discipline_second_overflow(&disc, now + 1);
	chunk = off >> (DISC_SHIFT_PLL + 2);
	CHECK_EQ("phase: skew of the exponential share",
		 disc.skew_delta, chunk / DISC_HZ);
	CHECK_EQ("phase: not debited at the second", disc.time_offset, off);
	CHECK_EQ("phase: reads back whole until a tick", offset_left(), 1000000);
	ticks(DISC_HZ);
	CHECK_EQ("phase: a second of ticks takes the share",
		 disc.time_offset, off - chunk / DISC_HZ * DISC_HZ);
	/* A tiny remainder is delivered whole, one unit a tick, to zero. */
	disc.time_offset = 5;
	discipline_second_overflow(&disc, now + 2);
	CHECK_EQ("phase: a rounding-size rest skews 1", disc.skew_delta, 1);
	for (i = 0; i < 5; i++)
		ticks(1);
	CHECK_EQ("phase: and ends at zero", disc.time_offset, 0);
	CHECK_EQ("phase: beyond zero nothing is claimed", ticks(1), 0);
}

static void test_opposed(void)
{
	struct __kernel_timex tx;
	s64 before;

	discipline_init(&disc);
	disc.time_status = STA_PLL | STA_NANO;
	disc.time_constant = 0;
	disc.time_offset = 100 * SKEW_US;	/* +100 us of phase */
	call(ADJ_OFFSET_SINGLESHOT, -20, &tx);	/* -20 us of adjtime */
	before = disc.time_offset;
	discipline_second_overflow(&disc, now + 1);
	/*
	 * Phase share 100/4 = 25 us, adjtime share -20 us: 20 us of each
	 * cancel, moved between them without moving the clock; 5 us net.
	 */
	CHECK_EQ("opposed: 20 us leave the phase", disc.time_offset,
		 before - 20 * SKEW_US);
	CHECK_EQ("opposed: and the adjtime", adjtime_left(), 0);
	CHECK_EQ("opposed: no fraction left", disc.time_adjust_frac, 0);
	CHECK_EQ("opposed: skew of the net 5 us",
		 disc.skew_delta, 5 * SKEW_US / DISC_HZ);
}

static void test_clear(void)
{
	struct __kernel_timex tx;

	discipline_init(&disc);
	call(ADJ_OFFSET_SINGLESHOT, 5000, &tx);
	discipline_second_overflow(&disc, now + 1);
	discipline_drain_skew(&disc, SKEW_US / 2, 0);
	discipline_clear(&disc);
	CHECK_EQ("clear: skew 0", disc.skew_delta, 0);
	CHECK_EQ("clear: fraction 0", disc.time_adjust_frac, 0);
	CHECK_EQ("clear: adjtime 0", adjtime_left(), 0);
}

int main(void)
{
	printf("TAP version 13\n");
	test_adjtime();
	test_phase();
	test_opposed();
	test_clear();
	printf("1..%d\n", test_count);
	printf("# %d passed, %d failed\n", test_count - test_failed,
	       test_failed);
	return test_failed ? 1 : 0;
}
