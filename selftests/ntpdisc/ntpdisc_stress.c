// SPDX-License-Identifier: GPL-2.0
/*
 * ntpdisc selftest: random valid adjtimex requests from several threads
 * while other threads read every clock in tight loops.
 *
 * Hammers: two threads call clock_adjtime(CLOCK_REALTIME) and adjtimex(2)
 * with random valid requests; a third does the same through /dev/ntpdisc
 * (ioctl and clock id, plus NTPDISC_GET_OUTPUT) when the device exists.
 * The requests keep the clock usable: frequency within +-500 ppm, tick
 * 9900..10100, PLL offsets within 50 ms (at most 1.25% of slew), adjtime
 * within 0.1 s. Steps only go forward, in about one call in 10^4:
 * ADJ_SETOFFSET of 0..1 ms through the system call; ADJ_TAI only upwards,
 * from one thread, in one call in 2000. Through the device ADJ_SETOFFSET
 * only in shadow mode (where it steps nothing): when ntpdisc steers, the
 * device's ADJ_SETOFFSET reads the clock and then sets it to the reading
 * plus the delta, which a stall of the emulated CPU in between turns into
 * a step back (see uapi/linux/ntpdisc.h); the system call steps in the
 * timekeeper's lock.
 * Leap flags only when the next UTC midnight is far beyond the run.
 *
 * Readers: two threads read REALTIME, MONOTONIC (vDSO and system call),
 * MONOTONIC_RAW, BOOTTIME, TAI and the COARSE clocks in a loop. No clock
 * may go back; MONOTONIC and BOOTTIME must advance at MONOTONIC_RAW's rate
 * within 5% (the requests change it by at most 2.4%).
 *
 * Except by what the timekeeper itself allows when the rate changes by
 * percents thousands of times a second, which no NTP daemon does:
 *
 *  - timekeeping_advance() reads the clocksource, then publishes the new
 *    mult from that reading. A reader on another CPU in between still
 *    extrapolates with the old mult; after the publication time goes on
 *    from the earlier reading with the new one. Slowing down by 2% over a
 *    10 us window goes back 200 ns. Seen about once in 30 s here, mostly
 *    by up to 1 us, once by 21 us and once, on 6.12 with the clocksource
 *    backend, by 57 us (the emulated CPU stalled for 1 and 2.3 ms inside
 *    that window); MONOTONIC_RAW (fixed mult) never. Held to
 *    FINE_BACK_MAX.
 *
 *  - The COARSE clocks: when the timekeeper changes its mult in the
 *    middle of a tick it moves the accumulated time back by the part of
 *    the tick already elapsed times the change (timekeeping_apply_
 *    adjustment(): xtime_nsec -= offset), and the COARSE clocks read that
 *    accumulated time: back by up to a tick (4 ms) times the change of
 *    rate, 80 us for tick 9900 to 10100, hundreds of thousands of times in
 *    30 s, on Debian's 6.1 and 6.12.117 alike. Discussed upstream in 2025
 *    ("timekeeping: Prevent coarse clocks going backwards"). Held to
 *    COARSE_BACK_MAX.
 *
 *  - From 7.x (the coarse clocks' own nanoseconds, coarse_nsec): when
 *    that correction takes xtime_nsec below zero in an adjtimex call's
 *    update of the multiplier (TK_ADV_FREQ), which accumulates no tick,
 *    timekeeping_adjust() borrows a second from xtime_sec, but coarse_nsec
 *    is only refreshed when time was accumulated: both COARSE clocks read
 *    a second back (less up to a tick) until the next tick. The plain
 *    7.3.4-rt kernel did so 51 times in 150 s here (2026-12-03). Counted
 *    apart there (COARSE_SEC_BACK), and printed.
 *
 * With the discipline replaced by ntpdisc the timekeeper is the same, and
 * so are all of them. What every clock did is printed.
 *
 * Length: 30 s, or -d SECONDS / NTPDISC_STRESS_SECONDS (1..500). The
 * system clock is put back at the end: the discipline reset, REALTIME
 * stepped back by what the run moved it against MONOTONIC.
 *
 * Only the guest's clock is changed: never run this on a real machine.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ntpdisc_clock.h"

#define DURATION_DEFAULT	30
#define DURATION_MAX		500
/* See above: a tick (4 ms at HZ=250) times 2.5% of rate change, twice. */
#define COARSE_BACK_MAX		ND_US(200)
/* See above: 2.5% of a window of up to 4 ms (an emulated CPU stalls). */
#define FINE_BACK_MAX		ND_US(100)
/* See above (7.x): a second back, less up to two ticks at HZ=250. */
#define COARSE_SEC_BACK_MIN	(ND_SEC(1) - ND_MSEC(8))
#define COARSE_SEC_BACK_MAX	(ND_SEC(1) + COARSE_BACK_MAX)
#define NREADERS		2

static int duration = DURATION_DEFAULT;
static bool device_steps;	/* ADJ_SETOFFSET through the device */
static unsigned long long seed;
static int stop;
static __s64 leap_ok;	/* leap flags allowed */

static bool stopped(void)
{
	return __atomic_load_n(&stop, __ATOMIC_RELAXED);
}

static __u64 rnd(__u64 *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static long range(__u64 *s, long lo, long hi)
{
	return lo + (long)(rnd(s) % (__u64)(hi - lo + 1));
}

enum path { P_CLOCK_ADJTIME, P_ADJTIMEX, P_IOCTL, P_CLOCKID, NPATH };

static const char * const path_name[NPATH] = {
	"clock_adjtime", "adjtimex", "ioctl", "clockid",
};

struct hammer {
	int id;
	bool device;	/* through /dev/ntpdisc */
	bool tai;	/* the one that moves ADJ_TAI (upwards) */
	int fd;
	__u64 rnd;
	long calls[NPATH], errors, steps, tai_moves;
	int first_err, first_err_path;
	unsigned int first_err_modes;
};

/* A random request that is valid whatever the current state. */
static void make_request(struct hammer *h, struct timex *tx, bool *step)
{
	unsigned int r = range(&h->rnd, 0, 99);

	memset(tx, 0, sizeof(*tx));
	*step = false;
	if (r < 10)
		return;			/* read */
	if (r < 15) {
		tx->modes = ADJ_OFFSET_SS_READ;
		return;
	}
	if (r < 25) {
		tx->modes = ADJ_OFFSET_SINGLESHOT;
		tx->offset = range(&h->rnd, -100000, 100000);
		return;
	}
	if (r < 26 && range(&h->rnd, 0, 99) == 0 &&
	    (!h->device || device_steps)) {
		/* Forward only, rarely: the clock stays near the time. */
		tx->modes = ADJ_SETOFFSET | ADJ_NANO;
		tx->time.tv_usec = range(&h->rnd, 0, 1000000);
		*step = true;
		return;
	}
	if (rnd(&h->rnd) & 1) {
		tx->modes |= ADJ_FREQUENCY;
		tx->freq = range(&h->rnd, -500, 500) << 16;
	}
	if (rnd(&h->rnd) & 1) {
		tx->modes |= ADJ_TICK;
		tx->tick = range(&h->rnd, 9900, 10100);
	}
	if (rnd(&h->rnd) & 1) {
		tx->modes |= ADJ_STATUS;
		tx->status = (rnd(&h->rnd) & (STA_PLL | STA_FLL | STA_FREQHOLD |
					      STA_UNSYNC | STA_PPSFREQ |
					      STA_PPSTIME));
		if (leap_ok && (rnd(&h->rnd) & 3) == 0)
			tx->status |= rnd(&h->rnd) & 1 ? STA_INS : STA_DEL;
	}
	if (rnd(&h->rnd) & 1) {
		/* Micro- or nanoseconds: 50 ms or 50 us at most. */
		tx->modes |= ADJ_OFFSET;
		tx->offset = range(&h->rnd, -50000, 50000);
	}
	if (rnd(&h->rnd) & 1) {
		tx->modes |= ADJ_MAXERROR | ADJ_ESTERROR;
		tx->maxerror = range(&h->rnd, 0, 16000000);
		tx->esterror = range(&h->rnd, 0, 16000000);
	}
	if (rnd(&h->rnd) & 1) {
		tx->modes |= ADJ_TIMECONST;
		tx->constant = range(&h->rnd, 0, 10);
	}
	switch (range(&h->rnd, 0, 3)) {
	case 0:
		tx->modes |= ADJ_NANO;
		break;
	case 1:
		tx->modes |= ADJ_MICRO;
		break;
	default:
		break;
	}
}

static int call(struct hammer *h, enum path p, struct timex *tx)
{
	/* The clocksource backend's discipline is the device's. */
	if (nd_cs_mode() && (p == P_ADJTIMEX || p == P_CLOCK_ADJTIME))
		return nd_sys_adjtimex(tx);
	switch (p) {
	case P_ADJTIMEX:
		return adjtimex(tx);
	case P_IOCTL:
		return ioctl(h->fd, NTPDISC_ADJTIMEX, tx);
	case P_CLOCKID:
		return syscall(SYS_clock_adjtime, NTPDISC_FD_TO_CLOCKID(h->fd),
			       tx);
	default:
		return syscall(SYS_clock_adjtime, CLOCK_REALTIME, tx);
	}
}

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;
	struct ntpdisc_output o;
	struct timex tx;
	enum path p;
	bool step;
	int tai = -1, ret;

	while (!stopped()) {
		p = h->device ? P_IOCTL + (rnd(&h->rnd) & 1) :
				(enum path)(rnd(&h->rnd) & 1);
		if (h->tai && range(&h->rnd, 0, 1999) == 0) {
			/* Upwards only: CLOCK_TAI steps forward. */
			memset(&tx, 0, sizeof(tx));
			if (tai < 0 && nd_sys_adjtimex(&tx) >= 0)
				tai = tx.tai;
			memset(&tx, 0, sizeof(tx));
			tx.modes = ADJ_TAI;
			tx.constant = ++tai;
			h->tai_moves++;
		} else {
			make_request(h, &tx, &step);
			if (step)
				h->steps++;
		}
		if (h->device && (rnd(&h->rnd) & 7) == 0) {
			if (ioctl(h->fd, NTPDISC_GET_OUTPUT, &o) < 0 &&
			    !h->errors++)
				h->first_err = errno;
			continue;
		}
		h->calls[p]++;
		ret = call(h, p, &tx);
		if (ret < 0 && !h->errors++) {
			h->first_err = errno;
			h->first_err_path = p;
			h->first_err_modes = tx.modes;
		}
	}
	return NULL;
}

enum {
	R_REAL, R_REAL_SYS, R_MONO, R_MONO_SYS, R_RAW, R_BOOT, R_TAI,
	R_REAL_COARSE, R_MONO_COARSE, NR
};

static const struct nd_clk rclk[NR] = {
	[R_REAL] = { CLOCK_REALTIME, false, "REALTIME" },
	[R_REAL_SYS] = { CLOCK_REALTIME, true, "REALTIME(syscall)" },
	[R_MONO] = { CLOCK_MONOTONIC, false, "MONOTONIC" },
	[R_MONO_SYS] = { CLOCK_MONOTONIC, true, "MONOTONIC(syscall)" },
	[R_RAW] = { CLOCK_MONOTONIC_RAW, false, "MONOTONIC_RAW" },
	[R_BOOT] = { CLOCK_BOOTTIME, false, "BOOTTIME" },
	[R_TAI] = { CLOCK_TAI, false, "TAI" },
	[R_REAL_COARSE] = { CLOCK_REALTIME_COARSE, false, "REALTIME_COARSE" },
	[R_MONO_COARSE] = { CLOCK_MONOTONIC_COARSE, false, "MONOTONIC_COARSE" },
};

static bool coarse_sec_back;

struct reader {
	long loops;
	__s64 back[NR];		/* worst step back */
	long nback[NR];
	long nsec_back[NR];	/* 7.x's coarse second back, not in back[] */
	double rate_lo, rate_hi;	/* MONOTONIC / RAW over >= 10 ms */
	int bad_rate;
};

static void *reader_thread(void *arg)
{
	struct reader *r = arg;
	__s64 v[NR], last[NR], raw0 = 0, mono0 = 0, boot0 = 0, d, ra, rb;
	double rate;
	int k;

	r->rate_lo = 2;
	r->rate_hi = 0;
	for (k = 0; k < NR; k++)
		last[k] = nd_read_clk(&rclk[k]);
	while (!stopped()) {
		for (k = 0; k < NR; k++)
			v[k] = nd_read_clk(&rclk[k]);
		for (k = 0; k < NR; k++) {
			d = last[k] - v[k];
			if (d >= COARSE_SEC_BACK_MIN &&
			    d <= COARSE_SEC_BACK_MAX && coarse_sec_back &&
			    (k == R_REAL_COARSE || k == R_MONO_COARSE)) {
				r->nsec_back[k]++;
			} else if (d > 0) {
				r->nback[k]++;
				if (d > r->back[k])
					r->back[k] = d;
			}
			last[k] = v[k];
		}
		r->loops++;
		/*
		 * The rate, every 10 ms: MONOTONIC and BOOTTIME between two
		 * reads of MONOTONIC_RAW, used only when those came within
		 * 20 us (the thread was not preempted in between).
		 */
		if (raw0 && v[R_RAW] - raw0 < ND_MSEC(10))
			continue;
		ra = nd_now_ns(CLOCK_MONOTONIC_RAW);
		v[R_MONO] = nd_now_ns(CLOCK_MONOTONIC);
		v[R_BOOT] = nd_now_ns(CLOCK_BOOTTIME);
		rb = nd_now_ns(CLOCK_MONOTONIC_RAW);
		if (rb - ra > ND_US(20))
			continue;
		v[R_RAW] = ra + (rb - ra) / 2;
		if (raw0) {
			d = v[R_RAW] - raw0;
			rate = (double)(v[R_MONO] - mono0) / (double)d;
			if (rate < r->rate_lo)
				r->rate_lo = rate;
			if (rate > r->rate_hi)
				r->rate_hi = rate;
			if (llabs(v[R_MONO] - mono0 - d) > d / 20 + ND_US(40) ||
			    llabs(v[R_BOOT] - boot0 - d) > d / 20 + ND_US(40))
				r->bad_rate++;
		}
		raw0 = v[R_RAW];
		mono0 = v[R_MONO];
		boot0 = v[R_BOOT];
	}
	return NULL;
}

FIXTURE(stress) {
	__s64 off0;	/* REALTIME - MONOTONIC at the start */
	int fd;
};

FIXTURE_SETUP(stress)
{
	self->fd = -1;
	ASSERT_EQ(0, nd_sys_reset());
	self->off0 = nd_now_ns(CLOCK_REALTIME) - nd_now_ns(CLOCK_MONOTONIC);
}

FIXTURE_TEARDOWN(stress)
{
	struct nd_entry dev = { .kind = ND_IOCTL, .fd = self->fd };
	struct timespec ts;
	__s64 t;

	EXPECT_EQ(0, nd_sys_reset());
	if (self->fd >= 0) {
		/* Shadow mode keeps a state of its own. */
		nd_reset(&dev);
		close(self->fd);
	}
	t = nd_now_ns(CLOCK_MONOTONIC) + self->off0;
	ts.tv_sec = t / ND_NSEC_PER_SEC;
	ts.tv_nsec = t % ND_NSEC_PER_SEC;
	EXPECT_EQ(0, clock_settime(CLOCK_REALTIME, &ts));
}

TEST_F_TIMEOUT(stress, hammer, DURATION_MAX + 60)
{
	struct hammer h[3];
	struct reader r[NREADERS];
	pthread_t th[3 + NREADERS];
	int nh = 2, i, k, bad = 0;
	__s64 now, to_midnight, t0, off1;
	long total = 0;

	nd_print_context("stress");
	coarse_sec_back = nd_kernel_series() >= 700;
	now = nd_now_ns(CLOCK_REALTIME) / ND_NSEC_PER_SEC;
	to_midnight = 86400 - now % 86400;
	leap_ok = to_midnight > duration + 120 && now % 86400 > 60;
	self->fd = open(NTPDISC_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	device_steps = !nd_ntpdisc_steers();
	nd_log("%d s, seed %llu, %d hammer threads%s, %d readers; leap flags %s",
	       duration, seed, self->fd >= 0 ? 3 : 2,
	       self->fd >= 0 ? " (one on /dev/ntpdisc)" : " (no /dev/ntpdisc)",
	       NREADERS, leap_ok ? "included" : "left out (midnight too close)");
	if (self->fd >= 0)
		nd_log("ADJ_SETOFFSET through /dev/ntpdisc: %s", device_steps ?
		       "yes (shadow mode)" : "no (ntpdisc steers: not atomic)");

	memset(h, 0, sizeof(h));
	memset(r, 0, sizeof(r));
	for (i = 0; i < 3; i++) {
		h[i].id = i;
		h[i].rnd = seed * 3 + i + 1;
		h[i].fd = self->fd;
		h[i].device = i == 2;
		h[i].tai = i == 0;
	}
	if (self->fd >= 0)
		nh = 3;
	t0 = nd_now_ns(CLOCK_MONOTONIC_RAW);
	for (i = 0; i < NREADERS; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, reader_thread, &r[i]));
	for (i = 0; i < nh; i++)
		ASSERT_EQ(0, pthread_create(&th[NREADERS + i], NULL,
					    hammer_thread, &h[i]));
	nd_sleep_ns(ND_SEC(duration));
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < NREADERS + nh; i++)
		pthread_join(th[i], NULL);
	off1 = nd_now_ns(CLOCK_REALTIME) - nd_now_ns(CLOCK_MONOTONIC);
	nd_log("ran %.1f s; REALTIME moved %+.6f s against MONOTONIC",
	       (nd_now_ns(CLOCK_MONOTONIC_RAW) - t0) / 1e9,
	       (off1 - self->off0) / 1e9);

	for (i = 0; i < nh; i++) {
		long n = 0;

		for (k = 0; k < NPATH; k++)
			n += h[i].calls[k];
		total += n;
		nd_log("hammer %d: %ld calls (%s %ld, %s %ld), %ld errors",
		       i, n, path_name[h[i].device ? P_IOCTL : P_CLOCK_ADJTIME],
		       h[i].calls[h[i].device ? P_IOCTL : P_CLOCK_ADJTIME],
		       path_name[h[i].device ? P_CLOCKID : P_ADJTIMEX],
		       h[i].calls[h[i].device ? P_CLOCKID : P_ADJTIMEX],
		       h[i].errors);
		nd_log("hammer %d: %ld forward steps, %ld TAI moves", i,
		       h[i].steps, h[i].tai_moves);
		if (h[i].errors) {
			nd_log("FAIL: hammer %d: first error %s (%s, modes 0x%x)",
			       i, strerror(h[i].first_err),
			       path_name[h[i].first_err_path],
			       h[i].first_err_modes);
			bad++;
		}
	}
	if (total < duration * 100) {
		nd_log("FAIL: only %ld calls", total);
		bad++;
	}
	for (i = 0; i < NREADERS; i++) {
		nd_log("reader %d: %ld loops over %d clocks; MONOTONIC/RAW rate %.5f .. %.5f",
		       i, r[i].loops, NR, r[i].rate_lo, r[i].rate_hi);
		if (r[i].bad_rate) {
			nd_log("FAIL: reader %d: MONOTONIC or BOOTTIME off by > 5%% %d times",
			       i, r[i].bad_rate);
			bad++;
		}
		for (k = 0; k < NR; k++) {
			if (r[i].nsec_back[k])
				nd_log("reader %d: %s went a second back %ld times (the kernel's coarse_nsec, see above)",
				       i, rclk[k].name, r[i].nsec_back[k]);
		}
		for (k = 0; k < NR; k++) {
			__s64 lim = k == R_REAL_COARSE || k == R_MONO_COARSE ?
				    COARSE_BACK_MAX : k == R_RAW ? 0 :
				    FINE_BACK_MAX;

			if (!r[i].nback[k])
				continue;
			nd_log("%sreader %d: %s went back %ld times, by up to %lld ns",
			       r[i].back[k] > lim ? "FAIL: " : "", i,
			       rclk[k].name, r[i].nback[k],
			       (long long)r[i].back[k]);
			if (r[i].back[k] > lim)
				bad++;
		}
		if (r[i].loops < duration * 1000) {
			nd_log("FAIL: reader %d: only %ld loops", i,
			       r[i].loops);
			bad++;
		}
	}
	EXPECT_EQ(0, bad);
}

static void __attribute__((constructor)) stress_init(void)
{
	nd_reset_at_exit();
}

/* The harness's main, with the options of this test taken out first. */
#define main nd_harness_main
TEST_HARNESS_MAIN
#undef main

int main(int argc, char **argv)
{
	const char *e = getenv("NTPDISC_STRESS_SECONDS");
	int i, n = 1;

	seed = (unsigned long long)nd_now_ns(CLOCK_MONOTONIC_RAW);
	if (e && *e)
		duration = atoi(e);
	e = getenv("NTPDISC_STRESS_SEED");
	if (e && *e)
		seed = strtoull(e, NULL, 0);
	for (i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-d") || !strcmp(argv[i], "--duration")) &&
		    i + 1 < argc) {
			duration = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "-s") && i + 1 < argc) {
			seed = strtoull(argv[++i], NULL, 0);
		} else {
			argv[n++] = argv[i];
		}
	}
	argv[n] = NULL;
	if (duration < 1 || duration > DURATION_MAX) {
		fprintf(stderr, "%s: duration must be 1..%d s\n", argv[0],
			DURATION_MAX);
		return 2;
	}
	return nd_harness_main(n, argv);
}
