// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of the pure discipline unit (module/discipline.c),
 * built with the same source the module uses. TAP output.
 *
 * Expected values are the Linux 6.1 kernel's at HZ=250, USER_HZ=100;
 * the worked numbers were derived by hand from kernel/time/ntp.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discipline.h"

#include "unit_tap.h"

static bool privileged = true;
static int privilege_checks;

static bool host_may_set_time(void)
{
	privilege_checks++;
	return privileged;
}

struct fixture {
	struct discipline disc;
	s32 tai;
	time64_t now;		/* the timekeeper's current second */
	long nsec;		/* and how far into it requests arrive */
};

static void fixture_init(struct fixture *f)
{
	discipline_init(&f->disc);
	f->tai = 0;
	f->now = 1700000000;
	f->nsec = 500000000;
	privileged = true;
}

/* A request as do_adjtimex() makes it: checks first, then the discipline. */
static int request(struct fixture *f, struct ntpdisc_timex *tx)
{
	struct timespec64 ts = { f->now, f->nsec };
	int ret = discipline_validate(tx, host_may_set_time);

	if (ret)
		return ret;
	return discipline_adjtimex(&f->disc, tx, &ts, f->now, &f->tai);
}

static int req(struct fixture *f, unsigned int modes, struct ntpdisc_timex *tx)
{
	tx->modes = modes;
	return request(f, tx);
}

/* One second passes; a leap is applied to the clock as the kernel does. */
static int tick(struct fixture *f)
{
	int leap;

	f->now++;
	leap = discipline_second_overflow(&f->disc, f->now);
	f->now += leap;
	f->tai -= leap;
	return leap;
}

static void test_boot_state(void)
{
	struct ntpdisc_timex tx = {};
	struct fixture f;

	fixture_init(&f);
	CHECK_EQ("boot: returns TIME_ERROR", req(&f, 0, &tx), TIME_ERROR);
	CHECK_EQ("boot: status UNSYNC", tx.status, STA_UNSYNC);
	CHECK_EQ("boot: maxerror", tx.maxerror, 16000000);
	CHECK_EQ("boot: esterror", tx.esterror, 16000000);
	CHECK_EQ("boot: constant", tx.constant, 2);
	CHECK_EQ("boot: precision", tx.precision, 1);
	CHECK_EQ("boot: tolerance", tx.tolerance, 32768000);
	CHECK_EQ("boot: tick", tx.tick, 10000);
	CHECK_EQ("boot: offset", tx.offset, 0);
	CHECK_EQ("boot: freq", tx.freq, 0);
	CHECK_EQ("boot: time in us", tx.time.tv_usec, 500000);
	CHECK_EQ("boot: tick length is 4 ms",
		 discipline_tick_length(&f.disc), 4000000ULL << 32);
}

static void test_validation(void)
{
	static const struct {
		unsigned int modes;
		long long tick, freq, usec;
		bool priv;
		int want;
	} v[] = {
		{ 0, 0, 0, 0, false, 0 },
		{ 0xa001, 0, 0, 0, false, 0 },
		{ 0x8001, 0, 0, 0, false, -EPERM },
		{ 0x8000, 0, 0, 0, false, -EINVAL },
		{ 0xa000, 0, 0, 0, false, -EINVAL },
		{ 0x2000, 0, 0, 0, false, -EPERM },
		{ ADJ_TICK, 8999, 0, 0, false, -EPERM },
		{ 0x0040, 0, 0, 0, false, -EPERM },
		{ 0xa101, 0, 0, 0, false, -EPERM },
		{ 0xa003, 0, LLONG_MAX, 0, false, -EINVAL },
		{ 0xa003, 0, 12345, 0, false, 0 },
		{ ADJ_TICK, 8999, 0, 0, true, -EINVAL },
		{ ADJ_TICK, 11001, 0, 0, true, -EINVAL },
		{ ADJ_TICK, 9000, 0, 0, true, 0 },
		{ ADJ_TICK, 11000, 0, 0, true, 0 },
		{ ADJ_FREQUENCY, 0, 140737488355LL, 0, true, 0 },
		{ ADJ_FREQUENCY, 0, -140737488355LL, 0, true, 0 },
		{ ADJ_FREQUENCY, 0, 140737488356LL, 0, true, -EINVAL },
		{ ADJ_FREQUENCY, 0, -140737488356LL, 0, true, -EINVAL },
		{ ADJ_SETOFFSET, 0, 0, -1, true, -EINVAL },
		{ ADJ_SETOFFSET, 0, 0, 999999, true, 0 },
		{ ADJ_SETOFFSET, 0, 0, 1000000, true, -EINVAL },
		{ ADJ_SETOFFSET | ADJ_NANO, 0, 0, 999999999, true, 0 },
		{ ADJ_SETOFFSET | ADJ_NANO, 0, 0, 1000000000, true, -EINVAL },
		{ ADJ_SETOFFSET | ADJ_NANO, 0, 0, -1, true, -EINVAL },
		{ ADJ_SETOFFSET | 0x8001, 0, 0, 0, true, 0 },
	};
	unsigned int i;
	char name[96];

	for (i = 0; i < ARRAY_SIZE(v); i++) {
		struct ntpdisc_timex tx = {
			.modes = v[i].modes, .tick = v[i].tick,
			.freq = v[i].freq, .time.tv_usec = v[i].usec,
		};

		privileged = v[i].priv;
		snprintf(name, sizeof(name), "validate: modes %#x %s",
			 v[i].modes, v[i].priv ? "privileged" : "unprivileged");
		CHECK_EQ(name, discipline_validate(&tx, host_may_set_time),
			 v[i].want);
	}

	/* capable() is asked where the kernel asks, no more often. */
	{
		struct ntpdisc_timex tx = { .modes = ADJ_SETOFFSET };

		privileged = true;
		privilege_checks = 0;
		discipline_validate(&tx, host_may_set_time);
		CHECK_EQ("validate: SETOFFSET asks twice", privilege_checks, 2);
		tx.modes = 0;
		privilege_checks = 0;
		discipline_validate(&tx, host_may_set_time);
		CHECK_EQ("validate: a read asks never", privilege_checks, 0);
	}
}

/* What a refused change must cover: everything but the two reads. */
static void test_changes(void)
{
	static const struct {
		unsigned int modes;
		bool changes;
	} v[] = {
		{ 0, false },
		{ 0xa001, false },	/* ADJ_OFFSET_SS_READ */
		{ 0x8001, true },	/* ADJ_OFFSET_SINGLESHOT */
		{ ADJ_FREQUENCY, true },
		{ ADJ_NANO, true },
		{ ADJ_SETOFFSET, true },
		{ ADJ_TAI, true },
	};
	unsigned int i;
	char name[64];

	for (i = 0; i < ARRAY_SIZE(v); i++) {
		struct ntpdisc_timex tx = { .modes = v[i].modes };

		snprintf(name, sizeof(name), "changes: modes %#x", v[i].modes);
		CHECK_EQ(name, discipline_changes(&tx), v[i].changes);
	}
}

static void test_setoffset_check(void)
{
	struct timespec64 now = { 1000, 500000000 };
	struct timespec64 wtm = { -900, 0 };	/* monotonic is 100.5 s */
	struct timespec64 d;

	d = (struct timespec64){ -50, 0 };
	CHECK_EQ("setoffset: step back within range",
		 discipline_setoffset_check(&now, &wtm, &d), 0);
	d = (struct timespec64){ -900, 0 };
	CHECK_EQ("setoffset: to exactly monotonic",
		 discipline_setoffset_check(&now, &wtm, &d), 0);
	d = (struct timespec64){ -901, 999999999 };
	CHECK_EQ("setoffset: before monotonic",
		 discipline_setoffset_check(&now, &wtm, &d), -EINVAL);
	d = (struct timespec64){ 1LL << 62, 0 };
	CHECK_EQ("setoffset: beyond settod limit",
		 discipline_setoffset_check(&now, &wtm, &d), -EINVAL);
	d = (struct timespec64){ LLONG_MAX, 999999999 };
	CHECK_EQ("setoffset: wrapping step",
		 discipline_setoffset_check(&now, &wtm, &d), -EINVAL);

	{
		struct ntpdisc_timex tx = { .modes = ADJ_SETOFFSET,
					    .time = { -3, 250000 } };

		CHECK_EQ("setoffset: us delta accepted",
			 discipline_setoffset_delta(&tx, &d), 0);
		CHECK_EQ("setoffset: us delta in ns", d.tv_nsec, 250000000);
		CHECK_EQ("setoffset: us delta seconds", d.tv_sec, -3);
	}
}

static void test_frequency(void)
{
	struct ntpdisc_timex tx = {};
	struct fixture f;
	long long freq, bad = 0;

	fixture_init(&f);
	for (freq = -32768000; freq <= 32768000; freq++) {
		tx.freq = freq;
		req(&f, ADJ_FREQUENCY, &tx);
		if (tx.freq != freq && !bad)
			bad = freq ? freq : 1;
	}
	CHECK_EQ("freq: every value in range reads back exactly", bad, 0);

	tx.freq = 32768001;
	req(&f, ADJ_FREQUENCY, &tx);
	CHECK_EQ("freq: clamped to +500 ppm", tx.freq, 32768000);
	tx.freq = -140737488355LL;
	req(&f, ADJ_FREQUENCY, &tx);
	CHECK_EQ("freq: clamped to -500 ppm", tx.freq, -32768000);

	tx.freq = 65536000;	/* 1000 ppm, clamped */
	req(&f, ADJ_FREQUENCY, &tx);
	CHECK_EQ("freq: second length at +500 ppm",
		 discipline_second_length(&f.disc),
		 (1000500000ULL << 32));
	tx.tick = 9000;
	tx.freq = 0;
	req(&f, ADJ_TICK | ADJ_FREQUENCY, &tx);
	CHECK_EQ("tick: 9000 us makes a 0.9 s second",
		 discipline_tick_length(&f.disc), (900000000ULL << 32) / 250);
}

static void test_constant_and_tai(void)
{
	static const struct { long long in; bool nano; long want; } v[] = {
		{ -3, false, 4 }, { 0, false, 4 }, { 2, false, 6 },
		{ 6, false, 10 }, { 7, false, 10 }, { LLONG_MAX, false, 10 },
		{ LLONG_MIN, false, 4 }, { -3, true, 0 }, { 2, true, 2 },
		{ 11, true, 10 },
	};
	struct ntpdisc_timex tx = {};
	struct fixture f;
	unsigned int i;
	char name[64];

	fixture_init(&f);
	for (i = 0; i < ARRAY_SIZE(v); i++) {
		tx.constant = v[i].in;
		req(&f, ADJ_TIMECONST | (v[i].nano ? ADJ_NANO : ADJ_MICRO),
		    &tx);
		snprintf(name, sizeof(name), "constant: %lld in %s mode",
			 v[i].in, v[i].nano ? "nano" : "micro");
		CHECK_EQ(name, tx.constant, v[i].want);
	}

	req(&f, ADJ_MICRO, &tx);
	tx.constant = 37;
	req(&f, ADJ_TAI, &tx);
	CHECK_EQ("tai: 37 set", tx.tai, 37);
	tx.constant = -1;
	CHECK_EQ("tai: -1 accepted", req(&f, ADJ_TAI, &tx), TIME_ERROR);
	CHECK_EQ("tai: -1 ignored", tx.tai, 37);
	tx.constant = 100001;
	req(&f, ADJ_TAI, &tx);
	CHECK_EQ("tai: 100001 ignored", tx.tai, 37);
	tx.constant = 100000;
	req(&f, ADJ_TAI, &tx);
	CHECK_EQ("tai: 100000 set", tx.tai, 100000);
	tx.constant = 0;
	req(&f, ADJ_TAI, &tx);
	CHECK_EQ("tai: 0 set", tx.tai, 0);
	tx.constant = 37;
	req(&f, ADJ_TAI | ADJ_TIMECONST, &tx);
	CHECK_EQ("tai+constant: tai shares the field", tx.tai, 37);
	CHECK_EQ("tai+constant: constant clamped", tx.constant, 10);
}

static void test_status(void)
{
	struct ntpdisc_timex tx = {};
	struct fixture f;

	fixture_init(&f);
	tx.status = STA_PLL | STA_INS;
	req(&f, ADJ_STATUS | ADJ_NANO, &tx);
	CHECK_EQ("status: PLL|INS with NANO", tx.status,
		 STA_PLL | STA_INS | STA_NANO);
	tx.status = 0;
	CHECK_EQ("status: PLL off returns TIME_OK", req(&f, ADJ_STATUS, &tx),
		 TIME_OK);
	CHECK_EQ("status: PLL off wipes read-only bits", tx.status, 0);

	tx.status = STA_PLL;
	req(&f, ADJ_STATUS | ADJ_NANO, &tx);
	tx.status = 0;
	req(&f, ADJ_STATUS | ADJ_NANO, &tx);
	CHECK_EQ("status: NANO in the same call survives", tx.status,
		 STA_NANO);
	req(&f, ADJ_NANO | ADJ_MICRO, &tx);
	CHECK_EQ("status: MICRO wins over NANO", tx.status, 0);

	tx.status = 0xff00 | STA_FLL;
	req(&f, ADJ_STATUS, &tx);
	CHECK_EQ("status: read-only bits cannot be written", tx.status,
		 STA_FLL);
	tx.status = STA_UNSYNC;
	CHECK_EQ("status: UNSYNC gives TIME_ERROR", req(&f, ADJ_STATUS, &tx),
		 TIME_ERROR);

	/* Without the PLL an offset is accepted and ignored. */
	tx.status = 0;
	req(&f, ADJ_STATUS, &tx);
	tx.offset = 1000;
	CHECK_EQ("offset: ignored without PLL", req(&f, ADJ_OFFSET, &tx),
		 TIME_OK);
	CHECK_EQ("offset: still 0", tx.offset, 0);
}

static void test_offset_readback(void)
{
	static const struct { long long in, want; bool nano; } v[] = {
		{ 1, 0, true }, { 2, 1, true }, { 3, 2, true },
		{ 100, 99, true }, { 249, 248, true }, { 250, 250, true },
		{ 999, 998, true }, { 1000, 1000, true }, { -1, 0, true },
		{ -999, -998, true }, { 123456789, 123456788, true },
		{ 600000000, 500000000, true }, { 1000, 1000, false },
		{ -1, -1, false }, { -5, -5, false },
		{ 2000000, 500000, false }, { LLONG_MIN, -500000, false },
	};
	struct ntpdisc_timex tx = {};
	struct fixture f;
	unsigned int i;
	char name[64];

	fixture_init(&f);
	tx.status = STA_PLL;
	req(&f, ADJ_STATUS, &tx);
	for (i = 0; i < ARRAY_SIZE(v); i++) {
		tx.offset = v[i].in;
		req(&f, ADJ_OFFSET | (v[i].nano ? ADJ_NANO : ADJ_MICRO), &tx);
		snprintf(name, sizeof(name), "offset: %lld %s reads back",
			 v[i].in, v[i].nano ? "ns" : "us");
		CHECK_EQ(name, tx.offset, v[i].want);
	}
}

static void test_pll_fll(void)
{
	static const struct {
		int secs, tc, status; long long want; bool mode;
	} v[] = {
		{ 0, 0, 0, 0, false },
		{ 16, 0, 0, 2048000, false },
		{ 300, 0, STA_FLL, 2102613, true },
		{ 3000, 0, 0, 2053461, true },
		{ 64, 6, 0, 4000, false },
		{ 300, 0, STA_FREQHOLD, 0, false },
	};
	unsigned int i;
	char name[80];

	for (i = 0; i < ARRAY_SIZE(v); i++) {
		struct ntpdisc_timex tx = {};
		struct fixture f;

		fixture_init(&f);
		tx.status = STA_PLL | v[i].status;
		tx.constant = v[i].tc;
		req(&f, ADJ_STATUS | ADJ_NANO | ADJ_TIMECONST, &tx);
		f.now += v[i].secs;
		tx.offset = 1000000;
		req(&f, ADJ_OFFSET, &tx);
		snprintf(name, sizeof(name),
			 "pll: 1 ms after %d s, tc %d, status %#x: freq",
			 v[i].secs, v[i].tc, v[i].status);
		CHECK_EQ(name, tx.freq, v[i].want);
		snprintf(name, sizeof(name),
			 "pll: 1 ms after %d s, tc %d, status %#x: STA_MODE",
			 v[i].secs, v[i].tc, v[i].status);
		CHECK_EQ(name, !!(tx.status & STA_MODE), v[i].mode);
	}
}

static void test_phase_decay(void)
{
	static const long long want[] = {
		1000000, 750000, 562500, 421875, 316406, 237304,
	};
	struct ntpdisc_timex tx = {};
	struct fixture f;
	unsigned int i;
	char name[64];
	u64 base;

	fixture_init(&f);
	tx.status = STA_PLL;
	tx.constant = 0;
	req(&f, ADJ_STATUS | ADJ_NANO | ADJ_TIMECONST, &tx);
	tx.offset = 1000000;
	req(&f, ADJ_OFFSET, &tx);
	base = f.disc.tick_length_base;
	for (i = 0; i < ARRAY_SIZE(want); i++) {
		req(&f, 0, &tx);
		snprintf(name, sizeof(name), "phase: offset after %u s", i);
		CHECK_EQ(name, tx.offset, want[i]);
		tick(&f);
	}
	/* The first second slewed a quarter of 1 ms over its 250 ticks. */
	fixture_init(&f);
	tx.status = STA_PLL;
	req(&f, ADJ_STATUS | ADJ_NANO | ADJ_TIMECONST, &tx);
	tx.offset = 1000000;
	req(&f, ADJ_OFFSET, &tx);
	tick(&f);
	CHECK_EQ("phase: first second's term per tick",
		 discipline_tick_length(&f.disc) - base,
		 (250000ULL << 32) / 250);
}

static void test_adjtime(void)
{
	struct ntpdisc_timex tx = {};
	struct fixture f;
	u64 base;

	fixture_init(&f);
	base = f.disc.tick_length_base;
	tx.offset = 1234;
	req(&f, 0x8001, &tx);
	CHECK_EQ("adjtime: returns the previous value", tx.offset, 0);
	req(&f, 0xa001, &tx);
	CHECK_EQ("adjtime: SS_READ reads 1234", tx.offset, 1234);
	tick(&f);
	req(&f, 0xa001, &tx);
	CHECK_EQ("adjtime: 734 after 1 s", tx.offset, 734);
	CHECK_EQ("adjtime: slews 500 us/s",
		 discipline_tick_length(&f.disc) - base,
		 (500000ULL << 32) / 250);
	tick(&f);
	req(&f, 0xa001, &tx);
	CHECK_EQ("adjtime: 234 after 2 s", tx.offset, 234);
	tick(&f);
	req(&f, 0xa001, &tx);
	CHECK_EQ("adjtime: 0 after 3 s", tx.offset, 0);
	CHECK_EQ("adjtime: last 234 us in one second",
		 discipline_tick_length(&f.disc) - base, 936ULL << 32);
	tick(&f);
	CHECK_EQ("adjtime: done", discipline_tick_length(&f.disc), base);

	tx.offset = -1234;
	req(&f, 0x8001, &tx);
	tick(&f);
	req(&f, 0xa001, &tx);
	CHECK_EQ("adjtime: -734 after 1 s", tx.offset, -734);
	tx.offset = 100;
	req(&f, 0x8001, &tx);
	CHECK_EQ("adjtime: replacing returns the remainder", tx.offset, -734);
	tx.offset = 5;
	req(&f, 0x8001 | ADJ_NANO, &tx);
	CHECK_EQ("adjtime: other bits do not matter", tx.offset, 100);

	discipline_clear(&f.disc);
	req(&f, 0xa001, &tx);
	CHECK_EQ("adjtime: clear cancels it", tx.offset, 0);
}

static void test_maxerror(void)
{
	struct ntpdisc_timex tx = {};
	struct fixture f;
	int i;

	fixture_init(&f);
	tx.maxerror = 0;
	tx.status = 0;
	req(&f, ADJ_MAXERROR | ADJ_STATUS, &tx);
	for (i = 0; i < 3; i++)
		tick(&f);
	req(&f, 0, &tx);
	CHECK_EQ("maxerror: grows 500 us/s", tx.maxerror, 1500);

	tx.maxerror = 15999000;
	req(&f, ADJ_MAXERROR, &tx);
	tick(&f);
	tick(&f);
	CHECK_EQ("maxerror: at the limit still synced", req(&f, 0, &tx),
		 TIME_OK);
	tick(&f);
	CHECK_EQ("maxerror: beyond the limit TIME_ERROR", req(&f, 0, &tx),
		 TIME_ERROR);
	CHECK_EQ("maxerror: clamped", tx.maxerror, 16000000);
	CHECK_EQ("maxerror: UNSYNC set", tx.status, STA_UNSYNC);

	tx.maxerror = LLONG_MAX;
	tx.esterror = -1;
	req(&f, ADJ_MAXERROR | ADJ_ESTERROR, &tx);
	CHECK_EQ("maxerror: clamped on write", tx.maxerror, 16000000);
	CHECK_EQ("esterror: clamped on write", tx.esterror, 0);
}

/* leap-a-day's clear_time_state, then a flag, at @start. */
static void leap_setup(struct fixture *f, time64_t start, int flag)
{
	struct ntpdisc_timex tx = {};

	fixture_init(f);
	f->tai = 36;
	f->now = start;
	tx.status = STA_PLL;
	req(f, ADJ_STATUS, &tx);
	tx.maxerror = 0;
	req(f, ADJ_MAXERROR, &tx);
	tx.status = 0;
	req(f, ADJ_STATUS, &tx);
	tx.status = flag;
	req(f, ADJ_STATUS, &tx);
}

static void test_leap_insert(void)
{
	const time64_t m = 1719792000;	/* 2024-07-01 00:00:00 UTC */
	struct ntpdisc_timex tx = {};
	struct fixture f;
	int leap;

	leap_setup(&f, m - 10, STA_INS);
	req(&f, 0, &tx);
	CHECK_EQ("insert: status exactly STA_INS", tx.status, STA_INS);
	CHECK_EQ("insert: TIME_OK before the next second", req(&f, 0, &tx),
		 TIME_OK);
	tick(&f);
	CHECK_EQ("insert: TIME_INS", req(&f, 0, &tx), TIME_INS);
	CHECK_EQ("insert: next leap", discipline_next_leap(&f.disc), m);
	while (f.now < m - 1)
		tick(&f);
	CHECK_EQ("insert: 23:59:59 still TIME_INS", req(&f, 0, &tx), TIME_INS);

	/* Past the boundary, before the tick that applies the leap. */
	f.now = m;
	CHECK_EQ("insert: read path says TIME_OOP", req(&f, 0, &tx), TIME_OOP);
	CHECK_EQ("insert: read path time", tx.time.tv_sec, m - 1);
	CHECK_EQ("insert: read path tai", tx.tai, 37);
	f.now = m - 1;

	leap = tick(&f);
	CHECK_EQ("insert: leap -1 at midnight", leap, -1);
	CHECK_EQ("insert: clock set back", f.now, m - 1);
	CHECK_EQ("insert: TIME_OOP in 23:59:60", req(&f, 0, &tx), TIME_OOP);
	CHECK_EQ("insert: tai incremented", tx.tai, 37);
	CHECK_EQ("insert: time 23:59:59", tx.time.tv_sec, m - 1);
	CHECK_EQ("insert: no next leap after OOP",
		 discipline_next_leap(&f.disc), TIME64_MAX);

	/* The boundary after 23:59:60, before its tick. */
	f.now = m;
	CHECK_EQ("insert: read path says TIME_WAIT", req(&f, 0, &tx),
		 TIME_WAIT);
	f.now = m - 1;
	tick(&f);
	CHECK_EQ("insert: TIME_WAIT at 00:00:00", req(&f, 0, &tx), TIME_WAIT);
	CHECK_EQ("insert: time 00:00:00", tx.time.tv_sec, m);
	tick(&f);
	CHECK_EQ("insert: TIME_WAIT while the flag stays", req(&f, 0, &tx),
		 TIME_WAIT);
	tx.status = 0;
	CHECK_EQ("insert: clearing the flag keeps TIME_WAIT",
		 req(&f, ADJ_STATUS, &tx), TIME_WAIT);
	tick(&f);
	CHECK_EQ("insert: TIME_OK a second later", req(&f, 0, &tx), TIME_OK);
}

/*
 * A handover carries the slews in progress and the leap state: an armed
 * leap acts at the same midnight, one already done (TIME_WAIT with the
 * flag still set) is not armed again for the next.
 */
static void test_adopt(void)
{
	const time64_t m = 1719792000;
	struct discipline_handover from = {
		.tick_usec = 10000, .status = STA_INS | STA_NANO | STA_PLL,
		.constant = 2, .maxerror = 1000, .esterror = 10,
		.offset_ns = 123456789, .adjust_us = -4321, .state = TIME_INS,
	};
	struct ntpdisc_timex tx = {};
	struct fixture f;
	int i, leaps = 0;

	fixture_init(&f);
	f.now = m - 100;
	from.now_sec = f.now;
	discipline_adopt(&f.disc, &from);
	CHECK_EQ("adopt: TIME_INS kept", req(&f, 0, &tx), TIME_INS);
	CHECK_EQ("adopt: offset in ns", tx.offset, 123456789);
	CHECK_EQ("adopt: the same midnight", discipline_next_leap(&f.disc), m);
	CHECK_EQ("adopt: adjtime left", req(&f, ADJ_OFFSET_SS_READ, &tx),
		 TIME_INS);
	CHECK_EQ("adopt: adjtime in us", tx.offset, -4321);
	for (i = 0; i < 200; i++)
		leaps += tick(&f) != 0;
	CHECK_EQ("adopt: one leap", leaps, 1);

	fixture_init(&f);
	f.now = m + 5;
	from.now_sec = f.now;
	from.state = TIME_WAIT;
	discipline_adopt(&f.disc, &from);
	CHECK_EQ("adopt: TIME_WAIT kept", req(&f, 0, &tx), TIME_WAIT);
	for (i = 0, leaps = 0; i < 2 * 86400; i++)
		leaps += tick(&f) != 0;
	CHECK_EQ("adopt: after a leap, none the next day", leaps, 0);

	fixture_init(&f);
	from.state = TIME_ERROR;
	discipline_adopt(&f.disc, &from);
	CHECK_EQ("adopt: unknown state is TIME_OK", f.disc.time_state, TIME_OK);
}

static void test_leap_delete(void)
{
	const time64_t m = 1719792000;
	struct ntpdisc_timex tx = {};
	struct fixture f;
	int leap = 0;

	leap_setup(&f, m - 10, STA_DEL);
	tick(&f);
	CHECK_EQ("delete: TIME_DEL", req(&f, 0, &tx), TIME_DEL);
	CHECK_EQ("delete: not reported as next insertion",
		 discipline_next_leap(&f.disc), TIME64_MAX);
	while (f.now < m - 2)
		tick(&f);
	CHECK_EQ("delete: 23:59:58 TIME_DEL", req(&f, 0, &tx), TIME_DEL);
	f.now = m - 1;
	CHECK_EQ("delete: read path says TIME_WAIT", req(&f, 0, &tx),
		 TIME_WAIT);
	CHECK_EQ("delete: read path time", tx.time.tv_sec, m);
	CHECK_EQ("delete: read path tai", tx.tai, 35);
	f.now = m - 2;
	leap = tick(&f);
	CHECK_EQ("delete: leap +1 at 23:59:59", leap, 1);
	CHECK_EQ("delete: TIME_WAIT at 00:00:00", req(&f, 0, &tx), TIME_WAIT);
	CHECK_EQ("delete: time", tx.time.tv_sec, m);
	CHECK_EQ("delete: tai decremented", tx.tai, 35);
}

static void test_leap_deadlines(void)
{
	const time64_t m = 1719792000;
	struct ntpdisc_timex tx = {};
	struct fixture f;

	leap_setup(&f, m - 2, STA_INS);
	tick(&f);
	CHECK_EQ("deadline: INS seen at 23:59:59 arms tonight",
		 discipline_next_leap(&f.disc), m);
	leap_setup(&f, m - 1, STA_INS);
	tick(&f);
	CHECK_EQ("deadline: INS seen at 00:00:00 arms tomorrow",
		 discipline_next_leap(&f.disc), m + 86400);
	leap_setup(&f, m - 3, STA_DEL);
	tick(&f);
	CHECK_EQ("deadline: DEL seen at 23:59:58 arms tonight",
		 f.disc.next_leap_sec, m - 1);
	leap_setup(&f, m - 2, STA_DEL);
	tick(&f);
	CHECK_EQ("deadline: DEL seen at 23:59:59 arms tomorrow",
		 f.disc.next_leap_sec, m - 1 + 86400);

	leap_setup(&f, m - 5, STA_INS | STA_DEL);
	tick(&f);
	CHECK_EQ("both flags: insertion wins", req(&f, 0, &tx), TIME_INS);

	leap_setup(&f, m - 5, STA_INS);
	tick(&f);
	tx.status = 0;
	req(&f, ADJ_STATUS, &tx);
	CHECK_EQ("clear INS: TIME_INS until the next second", req(&f, 0, &tx),
		 TIME_INS);
	tick(&f);
	CHECK_EQ("clear INS: TIME_OK after it", req(&f, 0, &tx), TIME_OK);

	leap_setup(&f, m - 5, STA_INS);
	tick(&f);
	discipline_clear(&f.disc);
	while (f.now < m + 2)
		CHECK_EQ("clear while armed: no leap happens", tick(&f), 0);
	CHECK_EQ("clear while armed: state stays TIME_INS",
		 f.disc.time_state, TIME_INS);

	leap_setup(&f, m - 3, STA_INS);
	while (f.now < m - 1)
		tick(&f);
	tick(&f);
	tx.status = STA_PLL | STA_INS;
	req(&f, ADJ_STATUS, &tx);
	tx.status = STA_INS;
	CHECK_EQ("PLL off in TIME_OOP: TIME_OK at once",
		 req(&f, ADJ_STATUS, &tx), TIME_OK);
}

/* Invariants over long random runs: nothing overflows or leaves its range. */
static void test_random_invariants(void)
{
	const s64 offset_limit = ((s64)DISC_MAXPHASE << 32) / DISC_HZ;
	struct ntpdisc_timex tx;
	struct fixture f;
	unsigned int seed = 12345;
	long bad = 0, i;

	fixture_init(&f);
	srand(seed);
	for (i = 0; i < 2000000; i++) {
		unsigned int modes = (unsigned int)rand() & 0xffff;

		memset(&tx, 0, sizeof(tx));
		tx.modes = modes;
		tx.offset = (long long)((unsigned long long)rand() << 33) ^ rand();
		tx.freq = (rand() % 70000000) - 35000000;
		tx.maxerror = (long long)((unsigned long long)rand() << 32) ^
			      rand();
		tx.esterror = rand() - RAND_MAX / 2;
		tx.status = rand();
		tx.constant = (rand() % 40) - 20;
		tx.tick = 8900 + rand() % 2200;
		tx.time.tv_usec = rand() % 1000000;
		if (!(rand() % 4))
			tick(&f);
		if (!(rand() % 1000))
			f.now += rand() % 5000;
		request(&f, &tx);
		if (f.disc.time_freq > DISC_MAXFREQ_SCALED ||
		    f.disc.time_freq < -DISC_MAXFREQ_SCALED ||
		    f.disc.time_offset > offset_limit ||
		    f.disc.time_offset < -offset_limit ||
		    f.disc.time_state < TIME_OK ||
		    f.disc.time_state > TIME_WAIT ||
		    f.disc.time_maxerror < 0 ||
		    f.disc.time_maxerror > DISC_PHASE_LIMIT ||
		    f.disc.time_constant < 0 ||
		    f.disc.time_constant > DISC_MAXTC)
			bad++;
	}
	printf("# random: seed %u, %ld requests\n", seed, i);
	CHECK_EQ("random: state stays within its ranges", bad, 0);
}

int main(void)
{
	printf("TAP version 13\n");
	test_boot_state();
	test_validation();
	test_changes();
	test_setoffset_check();
	test_frequency();
	test_constant_and_tai();
	test_status();
	test_offset_readback();
	test_pll_fll();
	test_phase_decay();
	test_adjtime();
	test_maxerror();
	test_leap_insert();
	test_adopt();
	test_leap_delete();
	test_leap_deadlines();
	test_random_invariants();
	printf("1..%d\n", test_count);
	printf("# %d passed, %d failed\n", test_count - test_failed,
	       test_failed);
	return test_failed ? 1 : 0;
}
