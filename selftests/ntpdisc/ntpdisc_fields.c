// SPDX-License-Identifier: GPL-2.0
/*
 * ntpdisc selftest: fields, clamps, status bits and the return value.
 *
 * Each vector runs on the kernel and on ntpdisc within one second; the
 * kernel's result must match the value written here (from the fact sheet,
 * checked against kernel/time/ntp.c of 6.1) and ntpdisc must match the
 * kernel in every field.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ntpdisc_harness.h"

#define PLL_NANO	(ADJ_STATUS | ADJ_NANO)

static void set(struct __test_metadata *_metadata, struct _test_data_ntpdisc *self,
		const char *what, const struct timex *tx, struct nd_res *rr)
{
	struct nd_res rd;

	nd_check(_metadata, self, what, tx, rr, &rd);
	ASSERT_LE(0, rr->ret) {
		TH_LOG("%s: kernel refused: %s", what, strerror(rr->err));
	}
}

/* Set the status with maxerror 0, so that STA_UNSYNC stays as written. */
static int set_status(struct __test_metadata *_metadata,
		      struct _test_data_ntpdisc *self, unsigned int modes, int status)
{
	struct nd_res rr;
	struct timex tx;

	nd_tx_init(&tx, modes | ADJ_STATUS | ADJ_MAXERROR);
	tx.status = status;
	set(_metadata, self, "status", &tx, &rr);
	return rr.ret;
}

static const long boot_vals[] = { 0, 0, ND_PHASE_LIMIT, ND_PHASE_LIMIT, 2,
				  1, ND_TOLERANCE, 10000 };

static int check_boot(struct __test_metadata *_metadata,
		      const struct nd_entry *e)
{
	struct nd_res r;
	struct timex tx;
	__s64 t;

	nd_tx_init(&tx, 0);
	nd_call(e, &tx, &r);
	EXPECT_EQ(TIME_ERROR, r.ret);
	EXPECT_EQ(STA_UNSYNC, r.out.status);
	EXPECT_EQ(boot_vals[0], r.out.offset);
	EXPECT_EQ(boot_vals[1], r.out.freq);
	EXPECT_EQ(boot_vals[2], r.out.maxerror);
	EXPECT_EQ(boot_vals[3], r.out.esterror);
	EXPECT_EQ(boot_vals[4], r.out.constant);
	EXPECT_EQ(boot_vals[5], r.out.precision);
	EXPECT_EQ(boot_vals[6], r.out.tolerance);
	EXPECT_EQ(boot_vals[7], r.out.tick);
	EXPECT_EQ(0, r.out.tai);
	/* No CONFIG_NTP_PPS on the distro kernel: every PPS field is 0. */
	EXPECT_EQ(0, r.out.ppsfreq);
	EXPECT_EQ(0, r.out.jitter);
	EXPECT_EQ(0, r.out.shift);
	EXPECT_EQ(0, r.out.stabil);
	EXPECT_EQ(0, r.out.jitcnt);
	EXPECT_EQ(0, r.out.calcnt);
	EXPECT_EQ(0, r.out.errcnt);
	EXPECT_EQ(0, r.out.stbcnt);
	t = (__s64)r.out.time.tv_sec * ND_NSEC_PER_SEC +
	    r.out.time.tv_usec * 1000;
	EXPECT_LE(r.t0 - r.t0 % 1000, t);
	EXPECT_GE(r.t1, t);
	if (_metadata->passed)
		return 0;
	TH_LOG("boot state via %s differs", nd_kind_name(e->kind));
	return -1;
}

/*
 * Needs a guest where nobody has touched either side yet: run_guest.sh runs
 * this binary first with NTPDISC_SELFTEST_FRESH=1.
 */
TEST(boot_state)
{
	struct nd_entry e = { .kind = ND_KERNEL, .fd = -1 };
	struct ntpdisc_output o;
	__s64 now;
	int fd, i;

	if (!getenv("NTPDISC_SELFTEST_FRESH"))
		SKIP(return, "only right after boot and insmod (NTPDISC_SELFTEST_FRESH=1)");
	check_boot(_metadata, &e);
	if (nd_target_is_kernel())
		return;

	fd = open(NTPDISC_DEVICE_PATH, O_RDWR);
	ASSERT_LE(0, fd);
	e.fd = fd;
	e.kind = ND_IOCTL;
	check_boot(_metadata, &e);
	e.kind = ND_CLOCKID;
	check_boot(_metadata, &e);

	ASSERT_EQ(0, nd_get_output(&e, &o));
	EXPECT_EQ(1000000000ULL << 32, o.second_length);
	EXPECT_EQ((1000000000ULL << 32) / ND_HZ, o.tick_length_base);
	EXPECT_EQ(o.tick_length_base, o.tick_length);
	EXPECT_EQ(0, o.phase_adj);
	EXPECT_EQ(0, o.adjtime_adj);
	EXPECT_EQ(0, o.time_offset);
	EXPECT_EQ(0, o.time_freq);
	EXPECT_EQ(0, o.time_adjust);
	EXPECT_EQ(-1, o.next_leap_sec);
	EXPECT_EQ(TIME_OK, o.time_state);
	EXPECT_EQ(ND_HZ, o.hz);
	EXPECT_EQ(NTPDISC_STEER_NONE, o.steer);
	EXPECT_EQ(0, o.flags);
	for (i = 0; i < ARRAY_SIZE(o.reserved); i++)
		EXPECT_EQ(0, o.reserved[i]);
	now = nd_now_ns(CLOCK_REALTIME) / ND_NSEC_PER_SEC;
	EXPECT_LE(now - 2, o.last_second);
	EXPECT_GE(now, o.last_second);
	close(fd);
}

/* Read-back of ADJ_OFFSET: HZ-scaled remainder, truncated (fact sheet §5). */
TEST_F(ntpdisc, offset_readback)
{
	static const struct { long in, nano, usec; } v[] = {
		{ 1, 0, 1 }, { 2, 1, 2 }, { 3, 2, 3 }, { 100, 99, 100 },
		{ 249, 248, 249 }, { 250, 250, 250 }, { 999, 998, 999 },
		{ 1000, 1000, 1000 }, { -1, 0, -1 }, { -5, -4, -5 },
		{ -999, -998, -999 }, { 123456789, 123456788, 500000 },
		{ 500000000, 500000000, 500000 },
		{ 500000001, 500000000, 500000 },
		{ -500000001, -500000000, -500000 },
		{ 499999, 499998, 499999 }, { -500001, -500000, -500000 },
		{ 1000000, 1000000, 500000 },
		{ LONG_MAX, 500000000, 500000 },
		{ LONG_MIN, -500000000, -500000 },
	};
	struct nd_res rr;
	struct timex tx;
	unsigned int i;
	int nano;

	for (nano = 1; nano >= 0; nano--) {
		set_status(_metadata, self, nano ? ADJ_NANO : ADJ_MICRO,
			   STA_PLL);
		for (i = 0; i < ARRAY_SIZE(v); i++) {
			long exp = nano ? v[i].nano : v[i].usec;
			__s64 ns = v[i].in;

			nd_tx_init(&tx, ADJ_OFFSET);
			tx.offset = v[i].in;
			set(_metadata, self, "offset", &tx, &rr);
			/* The model must agree with the table. */
			if (!nano)
				ns = v[i].in > 1000000 ? 1000000 :
				     v[i].in < -1000000 ? -1000000 : v[i].in;
			if (!nano)
				ns *= 1000;
			ns = ns > 500000000 ? 500000000 :
			     ns < -500000000 ? -500000000 : ns;
			EXPECT_EQ(exp, nd_offset_readback((ns * (1LL << 32)) / ND_HZ,
							  nano));
			EXPECT_EQ(exp, rr.out.offset) {
				TH_LOG("%s offset %ld", nano ? "ns" : "us",
				       v[i].in);
			}
			/* Just enabled: no time has passed, freq unchanged. */
			EXPECT_EQ(0, rr.out.freq);
		}
	}
}

/* Without STA_PLL, ADJ_OFFSET is accepted and ignored. */
TEST_F(ntpdisc, offset_needs_pll)
{
	struct nd_res rr;
	struct timex tx;

	nd_tx_init(&tx, ADJ_OFFSET | ADJ_NANO);
	tx.offset = 400000;
	set(_metadata, self, "offset without PLL", &tx, &rr);
	EXPECT_EQ(0, rr.out.offset);
	EXPECT_EQ(0, rr.out.freq);
	EXPECT_EQ(STA_UNSYNC | STA_NANO, rr.out.status);
}

TEST_F(ntpdisc, freq_roundtrip)
{
	static const struct { long in, out; } v[] = {
		{ 0, 0 }, { 1, 1 }, { -1, -1 }, { 65536, 65536 },
		{ -65536, -65536 }, { 32767999, 32767999 },
		{ 32768000, 32768000 }, { -32768000, -32768000 },
		{ 32768001, 32768000 }, { -32768001, -32768000 },
		{ ND_FREQ_MAX_VALID, 32768000 },
		{ -ND_FREQ_MAX_VALID, -32768000 },
	};
	struct nd_res rr;
	struct timex tx;
	unsigned int i, seed = 1;
	long f;

	for (i = 0; i < ARRAY_SIZE(v); i++) {
		nd_tx_init(&tx, ADJ_FREQUENCY);
		tx.freq = v[i].in;
		set(_metadata, self, "freq", &tx, &rr);
		EXPECT_EQ(v[i].out, rr.out.freq);
	}
	/* A spread over the range: every value must come back exactly. */
	for (i = 0; i < 600; i++) {
		f = (long)(rand_r(&seed) % 65536001) - 32768000;
		nd_tx_init(&tx, ADJ_FREQUENCY);
		tx.freq = f;
		set(_metadata, self, "freq sweep", &tx, &rr);
		EXPECT_EQ(f, rr.out.freq);
		EXPECT_EQ(f, nd_freq_readback(f * ND_PPM_SCALE));
		if (!_metadata->passed)
			break;
	}
}

TEST_F(ntpdisc, error_clamps)
{
	static const struct { long in, out; } v[] = {
		{ -1, 0 }, { 0, 0 }, { 1, 1 }, { 15999999, 15999999 },
		{ 16000000, 16000000 }, { 16000001, 16000000 },
		{ LONG_MAX, 16000000 }, { LONG_MIN, 0 },
	};
	struct nd_res rr;
	struct timex tx;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(v); i++) {
		nd_tx_init(&tx, ADJ_MAXERROR | ADJ_ESTERROR);
		tx.maxerror = v[i].in;
		tx.esterror = v[i].in;
		set(_metadata, self, "max+esterror", &tx, &rr);
		EXPECT_EQ(v[i].out, rr.out.maxerror);
		EXPECT_EQ(v[i].out, rr.out.esterror);
		/* Each one leaves the other alone. */
		nd_tx_init(&tx, ADJ_ESTERROR);
		tx.esterror = 7;
		tx.maxerror = 8;
		set(_metadata, self, "esterror", &tx, &rr);
		EXPECT_EQ(7, rr.out.esterror);
		EXPECT_EQ(v[i].out, rr.out.maxerror);
		nd_tx_init(&tx, ADJ_MAXERROR);
		tx.esterror = 9;
		tx.maxerror = v[i].in;
		set(_metadata, self, "maxerror", &tx, &rr);
		EXPECT_EQ(7, rr.out.esterror);
		EXPECT_EQ(v[i].out, rr.out.maxerror);
	}
}

TEST_F(ntpdisc, time_constant)
{
	static const struct { long in, usec, nano; } v[] = {
		{ -3, 4, 0 }, { 0, 4, 0 }, { 1, 5, 1 }, { 2, 6, 2 },
		{ 6, 10, 6 }, { 7, 10, 7 }, { 10, 10, 10 }, { 11, 10, 10 },
		{ LONG_MAX, 10, 10 }, { LONG_MIN, 4, 0 },
	};
	struct nd_res rr;
	struct timex tx;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(v); i++) {
		nd_tx_init(&tx, ADJ_TIMECONST | ADJ_MICRO);
		tx.constant = v[i].in;
		set(_metadata, self, "constant us", &tx, &rr);
		EXPECT_EQ(v[i].usec, rr.out.constant);
		/* ADJ_NANO is processed before ADJ_TIMECONST. */
		nd_tx_init(&tx, ADJ_TIMECONST | ADJ_NANO);
		tx.constant = v[i].in;
		set(_metadata, self, "constant ns", &tx, &rr);
		EXPECT_EQ(v[i].nano, rr.out.constant);
		/* ADJ_MICRO wins over ADJ_NANO. */
		nd_tx_init(&tx, ADJ_TIMECONST | ADJ_NANO | ADJ_MICRO);
		tx.constant = v[i].in;
		set(_metadata, self, "constant ns+us", &tx, &rr);
		EXPECT_EQ(v[i].usec, rr.out.constant);
		EXPECT_EQ(0, rr.out.status & STA_NANO);
	}
}

TEST_F(ntpdisc, tai)
{
	static const struct { long in; int out; } v[] = {
		{ 37, 37 }, { -1, 37 }, { 100001, 37 }, { (1L << 32) + 5, 37 },
		{ 0, 0 }, { 100000, 100000 }, { LONG_MIN, 100000 }, { 1, 1 },
	};
	struct nd_res rr;
	struct timex tx;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(v); i++) {
		nd_tx_init(&tx, ADJ_TAI);
		tx.constant = v[i].in;
		set(_metadata, self, "tai", &tx, &rr);
		EXPECT_EQ(v[i].out, rr.out.tai) {
			TH_LOG("ADJ_TAI %ld", v[i].in);
		}
		/* ADJ_TAI alone leaves the time constant alone. */
		EXPECT_EQ(2, rr.out.constant);
	}
	/* One field for both: constant 37 is tai 37 and time constant 10. */
	nd_tx_init(&tx, ADJ_TAI | ADJ_TIMECONST);
	tx.constant = 37;
	set(_metadata, self, "tai+tc", &tx, &rr);
	EXPECT_EQ(37, rr.out.tai);
	EXPECT_EQ(10, rr.out.constant);
}

TEST_F(ntpdisc, status_bits)
{
	/* In this order: each vector starts from the state the last left. */
	static const struct { unsigned int modes; int in, out, ret; } v[] = {
		/* The read-only bits cannot be written. */
		{ 0, 0xff00, 0, TIME_OK },
		{ 0, STA_UNSYNC, STA_UNSYNC, TIME_ERROR },
		/* PPS bits without a PPS kernel do not make TIME_ERROR. */
		{ 0, STA_PPSFREQ | STA_PPSTIME | STA_FLL | STA_FREQHOLD,
		  STA_PPSFREQ | STA_PPSTIME | STA_FLL | STA_FREQHOLD, TIME_OK },
		{ ADJ_NANO, STA_PLL, STA_PLL | STA_NANO, TIME_OK },
		{ ADJ_NANO | ADJ_MICRO, STA_PLL, STA_PLL, TIME_OK },
		{ 0, STA_PLL | STA_NANO, STA_PLL, TIME_OK },
		{ ADJ_NANO, STA_PLL | STA_CLOCKERR, STA_PLL | STA_NANO,
		  TIME_OK },
		/* Bits above the 16 defined ones are stored as they are. */
		{ 0, STA_PLL | 0x10000, STA_PLL | STA_NANO | 0x10000, TIME_OK },
		{ 0, STA_PLL | INT_MIN,
		  STA_PLL | STA_NANO | INT_MIN, TIME_OK },
		{ ADJ_NANO, STA_PLL | STA_INS | STA_DEL,
		  STA_PLL | STA_INS | STA_DEL | STA_NANO, TIME_OK },
		{ ADJ_NANO, -1, (-1 & ~0xff00) | STA_NANO, TIME_ERROR },
		/* PLL 1 -> 0 keeps exactly the written bits, NANO is gone. */
		{ 0, STA_FLL, STA_FLL, TIME_OK },
		{ ADJ_NANO, STA_PLL, STA_PLL | STA_NANO, TIME_OK },
		{ ADJ_NANO, 0, STA_NANO, TIME_OK },
		{ 0, 0, STA_NANO, TIME_OK },
		{ ADJ_MICRO, STA_UNSYNC, STA_UNSYNC, TIME_ERROR },
	};
	struct nd_res rr;
	struct timex tx;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(v); i++) {
		nd_tx_init(&tx, ADJ_STATUS | ADJ_MAXERROR | v[i].modes);
		tx.status = v[i].in;
		set(_metadata, self, "status", &tx, &rr);
		EXPECT_EQ(v[i].out, rr.out.status) {
			TH_LOG("vector %u: modes 0x%x status 0x%x", i,
			       v[i].modes, v[i].in);
		}
		EXPECT_EQ(v[i].ret, rr.ret);
	}
	/* ADJ_NANO / ADJ_MICRO without ADJ_STATUS. */
	nd_tx_init(&tx, ADJ_NANO);
	set(_metadata, self, "nano", &tx, &rr);
	EXPECT_EQ(STA_UNSYNC | STA_NANO, rr.out.status);
	nd_tx_init(&tx, ADJ_MICRO);
	set(_metadata, self, "micro", &tx, &rr);
	EXPECT_EQ(STA_UNSYNC, rr.out.status);
}

/* Fact sheet §15.7: PLL off wipes the read-only bits and the leap state. */
TEST_F(ntpdisc, pll_off_wipe)
{
	struct nd_res rr, rd;
	struct timex tx;

	set_status(_metadata, self, ADJ_NANO, STA_PLL | STA_INS);
	/* Let one second boundary arm the insert: state TIME_INS. */
	nd_read_next(_metadata, self, "armed", &rr, &rd);
	EXPECT_EQ(TIME_INS, rr.ret);
	EXPECT_EQ(STA_PLL | STA_INS | STA_NANO, rr.out.status);

	nd_tx_init(&tx, ADJ_STATUS | ADJ_MAXERROR);
	set(_metadata, self, "PLL off", &tx, &rr);
	EXPECT_EQ(0, rr.out.status);
	EXPECT_EQ(TIME_OK, rr.ret);

	set_status(_metadata, self, ADJ_NANO, STA_PLL | STA_INS);
	nd_tx_init(&tx, ADJ_STATUS | ADJ_NANO | ADJ_MAXERROR);
	set(_metadata, self, "PLL off + nano", &tx, &rr);
	EXPECT_EQ(STA_NANO, rr.out.status);
	EXPECT_EQ(TIME_OK, rr.ret);

	/* Not armed any more: the next second stays TIME_OK. */
	nd_read_next(_metadata, self, "after wipe", &rr, &rd);
	EXPECT_EQ(TIME_OK, rr.ret);
}

/* STA_UNSYNC makes TIME_ERROR whatever the state; leap states show. */
TEST_F(ntpdisc, return_value)
{
	struct nd_res rr, rd;

	EXPECT_EQ(TIME_ERROR, set_status(_metadata, self, 0,
					 STA_INS | STA_UNSYNC));
	nd_read_next(_metadata, self, "INS+UNSYNC", &rr, &rd);
	EXPECT_EQ(TIME_ERROR, rr.ret);
	EXPECT_EQ(TIME_INS, set_status(_metadata, self, 0, STA_INS));
	nd_read_next(_metadata, self, "INS", &rr, &rd);
	EXPECT_EQ(TIME_INS, rr.ret);
	/* Switching INS -> DEL goes through TIME_OK for one second. */
	EXPECT_EQ(TIME_INS, set_status(_metadata, self, 0, STA_DEL));
	nd_read_next(_metadata, self, "INS->DEL", &rr, &rd);
	EXPECT_EQ(TIME_OK, rr.ret);
	nd_read_next(_metadata, self, "DEL", &rr, &rd);
	EXPECT_EQ(TIME_DEL, rr.ret);
	EXPECT_EQ(TIME_ERROR, set_status(_metadata, self, 0,
					 STA_DEL | STA_UNSYNC));
}

TEST_F(ntpdisc, tick_precision_tolerance)
{
	static const long ticks[] = { 9000, 11000, 9999, 10001, 10000 };
	struct nd_res rr;
	struct timex tx;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ticks); i++) {
		nd_tx_init(&tx, ADJ_TICK);
		tx.tick = ticks[i];
		/* Written values that the kernel ignores must stay ignored. */
		tx.precision = 77;
		tx.tolerance = 77;
		tx.ppsfreq = 77;
		tx.jitter = 77;
		tx.shift = 77;
		tx.stabil = 77;
		tx.jitcnt = 77;
		tx.calcnt = 77;
		tx.errcnt = 77;
		tx.stbcnt = 77;
		tx.tai = 77;
		set(_metadata, self, "tick", &tx, &rr);
		EXPECT_EQ(ticks[i], rr.out.tick);
		EXPECT_EQ(1, rr.out.precision);
		EXPECT_EQ(ND_TOLERANCE, rr.out.tolerance);
		EXPECT_EQ(0, rr.out.ppsfreq);
		EXPECT_EQ(0, rr.out.jitter);
		EXPECT_EQ(0, rr.out.shift);
		EXPECT_EQ(0, rr.out.stabil);
		EXPECT_EQ(0, rr.out.jitcnt + rr.out.calcnt + rr.out.errcnt +
			  rr.out.stbcnt);
		EXPECT_EQ(0, rr.out.tai);
	}
}

/* Fact sheet §15.14: ADJ_SETOFFSET clears first, ADJ_STATUS comes after. */
TEST_F(ntpdisc, setoffset_then_status)
{
	struct nd_res rr, rd;
	struct timex tx;

	set_status(_metadata, self, ADJ_NANO, STA_PLL);
	nd_tx_init(&tx, ADJ_MAXERROR | ADJ_ESTERROR | ADJ_OFFSET);
	tx.maxerror = 5;
	tx.esterror = 6;
	tx.offset = 300000;
	set(_metadata, self, "sync", &tx, &rr);
	EXPECT_EQ(300000, rr.out.offset);

	nd_tx_init(&tx, ADJ_SETOFFSET | ADJ_STATUS);
	tx.status = STA_PLL;
	/* A zero step: the clock stays, the NTP state is cleared. */
	nd_sleep_to_frac(ND_MS(300));
	nd_run(_metadata, self, "setoffset+status", &tx, &rr, &rd, false);
	EXPECT_EQ(TIME_OK, rr.ret);
	EXPECT_EQ(STA_PLL | STA_NANO, rr.out.status);
	EXPECT_EQ(ND_PHASE_LIMIT, rr.out.maxerror);
	EXPECT_EQ(ND_PHASE_LIMIT, rr.out.esterror);
	EXPECT_EQ(0, rr.out.offset);

	/* maxerror at the limit: the next second sets STA_UNSYNC again. */
	nd_read_next(_metadata, self, "after", &rr, &rd);
	EXPECT_EQ(TIME_ERROR, rr.ret);
	EXPECT_EQ(STA_PLL | STA_NANO | STA_UNSYNC, rr.out.status);
}

/* One ADJ_SETOFFSET of @us microseconds, on the kernel and on ntpdisc. */
static void step_both(struct __test_metadata *_metadata,
		      struct _test_data_ntpdisc *self, long us)
{
	struct nd_res rr, rd;
	struct timex tx;

	nd_tx_init(&tx, ADJ_SETOFFSET);
	tx.time.tv_sec = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
	tx.time.tv_usec = us - tx.time.tv_sec * 1000000;
	nd_call(&self->ref, &tx, &rr);
	EXPECT_LE(0, rr.ret);
	if (self->dut.kind != ND_KERNEL) {
		nd_call(&self->dut, &tx, &rd);
		EXPECT_EQ(rr.ret, rd.ret);
	}
}

/*
 * The clock set back across a second boundary crosses it again as it
 * runs on, and the kernel runs that second's update once more (here it
 * arms the deletion); a second set right after must not make ntpdisc
 * lose that update. Found by the differential fuzzer (seed 1796179764).
 */
TEST_F(ntpdisc, setoffset_back_then_boundary)
{
	struct nd_res rr, rd;
	struct timex tx;

	/* Armed within this second: the kernel's state is still TIME_OK. */
	nd_sleep_next_frac(ND_MS(100));
	EXPECT_EQ(TIME_OK, set_status(_metadata, self, 0, STA_DEL));
	nd_sleep_to_frac(ND_MS(200));
	step_both(_metadata, self, -500000);
	/* Through the boundary again, nothing asked of either side. */
	nd_sleep_ns(ND_MS(450));
	step_both(_metadata, self, 100000);
	/* The state, with the error bits that would hide it cleared. */
	nd_tx_init(&tx, ADJ_STATUS | ADJ_MAXERROR);
	nd_run(_metadata, self, "status", &tx, &rr, &rd, false);
	EXPECT_EQ(TIME_DEL, rr.ret);
	/* Give back the 0.4 s; the fixture's reset follows. */
	nd_tx_init(&tx, ADJ_SETOFFSET);
	tx.time.tv_usec = 400000;
	nd_call(&self->ref, &tx, &rr);
}

/*
 * ADJ_SETOFFSET that fails in the injection (new REALTIME before
 * MONOTONIC) still clears the NTP state on 6.1 and 6.12 (fact sheet §3
 * step 7, timekeeping_inject_offset's "error:" path), not on 7.3, which
 * restores the timekeeper instead; one that fails validation never does.
 */
TEST_F(ntpdisc, setoffset_failures)
{
	struct timespec rt, mono;
	struct nd_res rr, rd;
	struct timex tx;

	/* Synchronised, so that a clear is visible. */
	nd_tx_init(&tx, ADJ_STATUS | ADJ_MAXERROR);
	tx.maxerror = 0;
	set(_metadata, self, "sync", &tx, &rr);
	EXPECT_EQ(TIME_OK, rr.ret);

	nd_tx_init(&tx, ADJ_SETOFFSET);
	tx.time.tv_usec = 1000000;
	nd_run(_metadata, self, "bad usec", &tx, &rr, &rd, false);
	EXPECT_EQ(-1, rr.ret);
	EXPECT_EQ(EINVAL, rr.err);
	nd_read_next(_metadata, self, "after bad usec", &rr, &rd);
	EXPECT_EQ(TIME_OK, rr.ret);

	nd_sleep_to_frac(ND_MS(300));
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	nd_tx_init(&tx, ADJ_SETOFFSET);
	tx.time.tv_sec = -(rt.tv_sec - mono.tv_sec) - 10;
	nd_run(_metadata, self, "before monotonic", &tx, &rr, &rd, false);
	EXPECT_EQ(-1, rr.ret);
	EXPECT_EQ(EINVAL, rr.err);

	/* Past TIME_SETTOD_SEC_MAX (2232-04-18). */
	nd_tx_init(&tx, ADJ_SETOFFSET | ADJ_NANO);
	tx.time.tv_sec = 8277292036L - rt.tv_sec + 10;
	nd_run(_metadata, self, "past settod max", &tx, &rr, &rd, false);
	EXPECT_EQ(-1, rr.ret);
	EXPECT_EQ(EINVAL, rr.err);

	nd_tx_init(&tx, 0);
	nd_run(_metadata, self, "after failed inject", &tx, &rr, &rd, false);
	if (nd_aux_timekeeper()) {
		EXPECT_EQ(TIME_OK, rr.ret);
		EXPECT_EQ(0, rr.out.status);
	} else {
		EXPECT_EQ(TIME_ERROR, rr.ret);
		EXPECT_EQ(STA_UNSYNC, rr.out.status);
		EXPECT_EQ(ND_PHASE_LIMIT, rr.out.maxerror);
	}
}

/* clock_gettime() on the clock id is CLOCK_REALTIME in shadow mode. */
TEST_F(ntpdisc, clock_gettime)
{
	clockid_t clk = CLOCK_REALTIME;
	struct timespec ts;
	__s64 t0, t, t1;
	int i;

	if (self->dut.kind != ND_KERNEL)
		clk = NTPDISC_FD_TO_CLOCKID(self->dut.fd);
	for (i = 0; i < 100; i++) {
		t0 = nd_now_ns(CLOCK_REALTIME);
		ASSERT_EQ(0, clock_gettime(clk, &ts));
		t1 = nd_now_ns(CLOCK_REALTIME);
		t = (__s64)ts.tv_sec * ND_NSEC_PER_SEC + ts.tv_nsec;
		ASSERT_LE(t0, t);
		ASSERT_GE(t1, t);
	}
}

/* ntpdisc's own output follows tick and freq at once (§9.3). */
TEST_F(ntpdisc, output_frequency)
{
	static const struct { long tick, freq; } v[] = {
		{ 10000, 0 }, { 10000, 65536 }, { 10000, -32768000 },
		{ 9000, 32768000 }, { 11000, -1 }, { 10000, 40000000 },
	};
	struct ntpdisc_output o;
	struct nd_res rr;
	struct timex tx;
	unsigned int i;
	__s64 f;
	__u64 sl;

	if (!nd_has_output(&self->dut))
		SKIP(return, "NTPDISC_GET_OUTPUT needs the device");
	for (i = 0; i < ARRAY_SIZE(v); i++) {
		nd_tx_init(&tx, ADJ_TICK | ADJ_FREQUENCY);
		tx.tick = v[i].tick;
		tx.freq = v[i].freq;
		set(_metadata, self, "tick+freq", &tx, &rr);
		ASSERT_EQ(0, nd_get_output(&self->dut, &o));
		f = v[i].freq * ND_PPM_SCALE;
		f = f > ND_MAXFREQ_SCALED ? ND_MAXFREQ_SCALED :
		    f < -ND_MAXFREQ_SCALED ? -ND_MAXFREQ_SCALED : f;
		sl = ((__u64)v[i].tick * 1000 * 100 << 32) + f;
		EXPECT_EQ(f, o.time_freq);
		EXPECT_EQ(sl, o.second_length);
		EXPECT_EQ(sl / ND_HZ, o.tick_length_base);
		EXPECT_EQ(o.tick_length_base + o.phase_adj + o.adjtime_adj,
			  o.tick_length);
	}
}

TEST_HARNESS_MAIN
