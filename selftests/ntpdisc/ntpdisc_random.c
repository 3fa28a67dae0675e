// SPDX-License-Identifier: GPL-2.0
/*
 * ntpdisc selftest: random differential calls.
 *
 * Random sequences of adjtimex calls (weighted modes including invalid
 * ones, extreme field values) go to the kernel first and then to ntpdisc
 * within the same second; return value, errno and every field must agree.
 * Between bursts the test waits across one to three second boundaries so
 * that the per-second updates are compared as well. The clock id variant
 * runs the sequence of the next seed: 10,000 calls by default, no two
 * alike, through the two entry points.
 *
 *   NTPDISC_SELFTEST_SEED=<n>   seed of the ioctl variant (default below,
 *                               always printed)
 *   NTPDISC_SELFTEST_CALLS=<n>  calls per variant (default 5000)
 *   NTPDISC_SELFTEST_MINIMIZE=<s>  on a mismatch, spend up to s seconds
 *                               shrinking the calls since the last common
 *                               state to a minimal reproducer (default 0:
 *                               print the last calls only)
 *   ./ntpdisc_random -s <seed> -n <calls> -m <s>   the same, as options
 *
 * ADJ_SETOFFSET only ever steps the guest clock by less than a second.
 */
#include <limits.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "ntpdisc_harness.h"

#define DEFAULT_SEED	20261125UL
#define DEFAULT_CALLS	5000
#define BURST		200
#define HISTORY		8

static unsigned long seed = DEFAULT_SEED;
static unsigned long run_seed;	/* this variant's */
static long ncalls = DEFAULT_CALLS;
static long minimize_s;
static __u64 rng;

/*
 * Everything done since both sides were last put in the common state:
 * calls, and waits across second boundaries (their per-second updates
 * are part of what is compared). The minimizer replays subsets of it.
 */
struct step {
	int waits;		/* > 0: cross that many boundaries, no call */
	struct timex tx;
};

static struct step *steps;
static long nsteps;

static __u64 rnd(void)
{
	/* xorshift64*: the same sequence on every libc. */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static long pick(const long *v, int n)
{
	return v[rnd() % n];
}

static long rnd_range(long lo, long hi)
{
	return lo + (long)(rnd() % (__u64)(hi - lo + 1));
}

static long r_offset(void)
{
	static const long v[] = { 0, 1, -1, 999, -999, 1000, -1000, 500000,
				  -500000, 500000000, -500000000, 1000000,
				  -1000000, 123456789, LONG_MAX, LONG_MIN };

	return rnd() % 3 ? pick(v, ARRAY_SIZE(v)) : rnd_range(-2000000000L, 2000000000L);
}

static long r_freq(void)
{
	static const long v[] = { 0, 1, -1, 65536, 32768000, -32768000,
				  32768001, -32768001, ND_FREQ_MAX_VALID,
				  -ND_FREQ_MAX_VALID, ND_FREQ_MAX_VALID + 1,
				  -ND_FREQ_MAX_VALID - 1, LONG_MAX, LONG_MIN };

	return rnd() % 2 ? pick(v, ARRAY_SIZE(v)) : rnd_range(-40000000L, 40000000L);
}

static long r_error(void)
{
	static const long v[] = { 0, 1, -1, 15999999, 16000000, 16000001,
				  15999000, LONG_MAX, LONG_MIN };

	return rnd() % 2 ? pick(v, ARRAY_SIZE(v)) : rnd_range(0, 17000000);
}

static int r_status(void)
{
	static const int v[] = { 0, STA_PLL, STA_PLL | STA_NANO, STA_UNSYNC,
				 STA_PLL | STA_UNSYNC, STA_PLL | STA_FREQHOLD,
				 STA_PLL | STA_FLL, STA_INS, STA_DEL,
				 STA_PLL | STA_INS, STA_INS | STA_DEL,
				 STA_PPSFREQ | STA_PPSTIME, 0xff00, -1,
				 0x10000 | STA_PLL };

	return rnd() % 3 ? v[rnd() % ARRAY_SIZE(v)] :
	       (int)(rnd() & 0xffff);
}

static long r_constant(void)
{
	static const long v[] = { -3, -1, 0, 1, 2, 3, 4, 6, 7, 10, 11, 37,
				  100000, 100001, LONG_MAX, LONG_MIN };

	return pick(v, ARRAY_SIZE(v));
}

static long r_tick(void)
{
	static const long v[] = { 9000, 9001, 9999, 10000, 10001, 11000,
				  8999, 11001, 0, -1 };

	return rnd() % 2 ? pick(v, ARRAY_SIZE(v)) : rnd_range(8900, 11100);
}

static void r_setoffset(struct timex *tx)
{
	static const long bad[] = { -1, 1000000, 1000000000, -1000000000 };
	long max = (tx->modes & ADJ_NANO) ? 1000000000 : 1000000;

	/* A step of less than a second either way: the clock stays sane. */
	tx->time.tv_sec = rnd() % 2 ? -1 : 0;
	tx->time.tv_usec = rnd() % 5 ? rnd_range(0, max - 1) : pick(bad, ARRAY_SIZE(bad));
}

static const unsigned int normal_bits[] = {
	ADJ_OFFSET, ADJ_FREQUENCY, ADJ_MAXERROR, ADJ_ESTERROR, ADJ_STATUS,
	ADJ_TIMECONST, ADJ_TAI, ADJ_NANO, ADJ_MICRO, ADJ_TICK,
};

static unsigned int r_modes(void)
{
	unsigned int w = rnd() % 100, m = 0, i;

	if (w < 10)
		return 0;
	if (w < 15)
		return ADJ_OFFSET_SS_READ;
	if (w < 24)
		return ADJ_OFFSET_SINGLESHOT;
	if (w < 28)		/* adjtime with other bits (ignored) */
		return ADJ_OFFSET_SINGLESHOT | (rnd() & 0x60ff);
	if (w < 31)
		return rnd() % 2 ? 0x8000 : 0xa000;
	if (w < 35)		/* any bits, but only small steps */
		return (unsigned int)rnd();
	if (w < 38)
		return ADJ_SETOFFSET | (rnd() % 2 ? ADJ_NANO : 0) |
		       (rnd() % 2 ? ADJ_STATUS : 0);
	if (w < 41)
		return 0x0040 | 0x0200 | 0x0400 | 0x0800;
	for (i = 0; i < ARRAY_SIZE(normal_bits); i++)
		if (rnd() % 4 == 0)
			m |= normal_bits[i];
	return m;
}

static void r_call(struct timex *tx)
{
	nd_tx_init(tx, r_modes());
	tx->offset = r_offset();
	tx->freq = r_freq();
	tx->maxerror = r_error();
	tx->esterror = r_error();
	tx->status = r_status();
	tx->constant = r_constant();
	tx->tick = r_tick();
	/* Rarely let the overflow guard see a huge freq with adjtime. */
	if (tx->modes & 0x8000 && rnd() % 4)
		tx->freq = rnd_range(-1000, 1000);
	if (tx->modes & ADJ_SETOFFSET)
		r_setoffset(tx);
}

static void dump_history(struct __test_metadata *_metadata,
			 const struct timex *hist, long idx)
{
	char buf[256];
	long i;

	TH_LOG("reproducer: NTPDISC_SELFTEST_SEED=%lu (-n %ld; its ioctl variant), call #%ld:",
	       run_seed, ncalls, idx);
	for (i = idx - HISTORY + 1 < 0 ? 0 : idx - HISTORY + 1; i <= idx;
	     i++) {
		nd_format_tx(&hist[i % HISTORY], buf, sizeof(buf));
		TH_LOG("  #%ld %s", i, buf);
	}
}

static int check_output(const struct nd_entry *e)
{
	struct ntpdisc_output o;

	if (!nd_has_output(e))
		return 0;
	if (nd_get_output(e, &o))
		return 1;
	return o.tick_length != o.tick_length_base + o.phase_adj +
				o.adjtime_adj ||
	       o.tick_length_base != o.second_length / ND_HZ;
}

static void wait_boundaries(int n)
{
	for (; n > 0; n--)
		nd_sleep_next_frac(ND_MS(150));
}

/*
 * Replay the kept steps from the common state. True when ntpdisc and the
 * kernel disagree on any call; calls that a stalled guest pushed across a
 * boundary prove nothing and are not counted.
 */
static bool replay_mismatches(struct __test_metadata *_metadata,
			      struct _test_data_ntpdisc *self,
			      const bool *keep)
{
	struct nd_res rr, rd;
	char why[1024];
	long i;

	nd_reset_both(_metadata, self);
	for (i = 0; i < nsteps; i++) {
		if (!keep[i])
			continue;
		if (steps[i].waits) {
			wait_boundaries(steps[i].waits);
			continue;
		}
		if (nd_pair(&self->ref, &self->dut, &steps[i].tx, &rr, &rd) &&
		    nd_diff(&rr, &rd, why, sizeof(why)))
			return true;
	}
	return false;
}

/*
 * Delta debugging, simplified: drop ever smaller runs of steps while the
 * mismatch stays, until single steps cannot be dropped or time is up.
 */
static void minimize(struct __test_metadata *_metadata,
		     struct _test_data_ntpdisc *self)
{
	__s64 end = nd_now_ns(CLOCK_MONOTONIC) + minimize_s * ND_NSEC_PER_SEC;
	bool *keep = calloc(nsteps, sizeof(*keep));
	bool *trial = calloc(nsteps, sizeof(*trial));
	long i, j, chunk, kept = nsteps, replays = 0, dropped;
	char buf[256];
	bool done = false;

	if (!keep || !trial) {
		TH_LOG("shrinking: out of memory");
		goto out;
	}
	for (i = 0; i < nsteps; i++)
		keep[i] = true;
	if (!replay_mismatches(_metadata, self, keep)) {
		TH_LOG("shrinking: the %ld steps since the last common state do not repeat the mismatch",
		       nsteps);
		TH_LOG("shrinking: it depends on timing; the calls above are all there is");
		goto out;
	}
	for (chunk = (nsteps + 1) / 2; chunk >= 1 && !done; chunk /= 2) {
		for (i = 0; i < nsteps && !done; i += chunk) {
			memcpy(trial, keep, nsteps * sizeof(*keep));
			for (j = i, dropped = 0; j < i + chunk && j < nsteps; j++) {
				dropped += trial[j];
				trial[j] = false;
			}
			if (!dropped || dropped == kept)
				continue;
			replays++;
			if (replay_mismatches(_metadata, self, trial)) {
				memcpy(keep, trial, nsteps * sizeof(*keep));
				kept -= dropped;
			}
			done = nd_now_ns(CLOCK_MONOTONIC) > end;
		}
		if (chunk == 1)
			break;
	}
	TH_LOG("minimal reproducer (%s): %ld of %ld steps, %ld replays",
	       done ? "time is up, may not be minimal" : "no single step can go",
	       kept, nsteps, replays);
	TH_LOG("  after nd_reset() of both sides:");
	for (i = 0; i < nsteps; i++) {
		if (!keep[i])
			continue;
		if (steps[i].waits) {
			TH_LOG("  wait: %d second boundaries", steps[i].waits);
			continue;
		}
		nd_format_tx(&steps[i].tx, buf, sizeof(buf));
		TH_LOG("  call: %s", buf);
	}
out:
	free(keep);
	free(trial);
}

TEST_F_TIMEOUT(ntpdisc, random, 600)
{
	long i, compared = 0, errors = 0, skipped = 0, mism = 0, outbad = 0;
	long once = 0, far = 0, stalled = 0, behind = 0;
	int ndiff;
	struct timex hist[HISTORY], tx;
	struct nd_res rr, rd;
	char why[1024];
	__s64 t0 = nd_now_ns(CLOCK_MONOTONIC);
	int k;

	run_seed = seed + (variant->kind == ND_CLOCKID);
	rng = run_seed * 0x9e3779b97f4a7c15ULL + 1;
	TH_LOG("seed %lu, %ld calls", run_seed, ncalls);
	nd_tick_slew_count_far = true;
	/* One step per call, and one per wait between bursts. */
	steps = calloc(ncalls + ncalls / BURST + 1, sizeof(*steps));
	ASSERT_NE(NULL, steps);
	nsteps = 0;
	for (i = 0; i < ncalls; i++) {
		if (i && i % BURST == 0) {
			/* Let one to three per-second updates happen. */
			k = rnd() % 3 + 1;
			wait_boundaries(k);
			steps[nsteps++].waits = k;
			nd_tx_init(&tx, 0);
			hist[i % HISTORY] = tx;
		} else {
			r_call(&tx);
			hist[i % HISTORY] = tx;
		}
		/*
		 * Kernel-target mode runs each call twice on one kernel. That
		 * is the same as once except for ADJ_OFFSET with the PLL on,
		 * whose frequency step depends on the time since the last
		 * one, and ADJ_SETOFFSET, which steps twice: such calls go to
		 * the kernel once and are not compared.
		 */
		if (nd_target_is_kernel() &&
		    (((tx.modes & ADJ_OFFSET) && !(tx.modes & ND_ADJ_ADJTIME)) ||
		     (tx.modes & ADJ_SETOFFSET))) {
			nd_call(&self->ref, &tx, &rr);
			once++;
			continue;
		}
		steps[nsteps].waits = 0;
		steps[nsteps++].tx = tx;
		if (!nd_pair(&self->ref, &self->dut, &tx, &rr, &rd)) {
			skipped++;
			continue;
		}
		compared++;
		if (rr.ret < 0)
			errors++;
		ndiff = nd_diff(&rr, &rd, why, sizeof(why));
		if (ndiff == 1 && !strncmp(why, " offset:", 8) &&
		    nd_tick_slew_behind > behind) {
			/* Parted by a stall (ntpdisc_util.h): proves nothing. */
			if (stalled++ < 3)
				TH_LOG("call #%ld: parted by a stall:%s", i, why);
		} else if (ndiff) {
			mism++;
			if (mism <= 5) {
				nd_log_mismatch(_metadata, "random", &rr, &rd,
						why);
				dump_history(_metadata, hist, i);
				if (minimize_s > 0 && !nd_target_is_kernel())
					minimize(_metadata, self);
			}
		}
		/*
		 * Start again from a common state after the two parted: once
		 * for each time, not for every call that shows it.
		 */
		if (ndiff || nd_tick_slew_far > far) {
			nd_reset_both(_metadata, self);
			nsteps = 0;
			behind = nd_tick_slew_behind;
		}
		far = nd_tick_slew_far;
		if (check_output(&self->dut) && outbad++ < 3)
			TH_LOG("call #%ld: ntpdisc output inconsistent", i);
	}
	TH_LOG("compared %ld calls (%ld errors), %ld skipped, %ld once, %ld parted by a stall, %ld mismatches, %.1f s",
	       compared, errors, skipped, once, stalled, mism,
	       (nd_now_ns(CLOCK_MONOTONIC) - t0) / 1e9);
	free(steps);
	steps = NULL;
	EXPECT_EQ(0, mism);
	EXPECT_EQ(0, outbad);
	/* 7.3's shadow: now and then, not more (ntpdisc_util.h). */
	if (nd_tick_slew_far)
		TH_LOG("%ld offset read-backs %d ticks of slew or less off the kernel's",
		       nd_tick_slew_far, ND_TICK_SLEW_FAR);
	EXPECT_GE(ncalls / 100, nd_tick_slew_far);
	/* A few pairs may be cut or parted by a stalled guest, not more. */
	EXPECT_GE(ncalls / 50, skipped + stalled);
}

/* What TEST_HARNESS_MAIN would add; this file has its own main(). */
static void __attribute__((constructor)) __constructor_order_last(void)
{
	if (!__constructor_order)
		__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD;
}

int main(int argc, char **argv)
{
	const char *e;
	int opt;

	e = getenv("NTPDISC_SELFTEST_SEED");
	if (e)
		seed = strtoul(e, NULL, 0);
	e = getenv("NTPDISC_SELFTEST_CALLS");
	if (e)
		ncalls = strtol(e, NULL, 0);
	e = getenv("NTPDISC_SELFTEST_MINIMIZE");
	if (e)
		minimize_s = strtol(e, NULL, 0);
	while ((opt = getopt(argc, argv, "s:n:m:")) != -1) {
		switch (opt) {
		case 's':
			seed = strtoul(optarg, NULL, 0);
			break;
		case 'n':
			ncalls = strtol(optarg, NULL, 0);
			break;
		case 'm':
			minimize_s = strtol(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [-s seed] [-n calls] [-m seconds]\n",
				argv[0]);
			return KSFT_FAIL;
		}
	}
	if (ncalls < 1 || minimize_s < 0) {
		fprintf(stderr, "ntpdisc_random: calls >= 1, minimize seconds >= 0\n");
		return KSFT_FAIL;
	}
	printf("# ntpdisc_random: seed %lu, %ld calls per variant\n", seed,
	       ncalls);
	return test_harness_run(argc, argv);
}
