// SPDX-License-Identifier: GPL-2.0
/*
 * Taking the kernel's discipline over with the livepatch actuator and
 * handing it back, through the CLI a user runs ("ntpdisc load" and
 * "ntpdisc release"): the frequency carries over both ways, the clock
 * neither steps nor changes rate, twenty cycles leave nothing behind, the
 * RTC follows the discipline's synchronisation, and /dev/ntpdisc answers
 * from the state the system call changes.
 *
 * Needs NTPDISC_KO (the module) and NTPDISC_CLI (the ntpdisc tool); the
 * module must not be loaded when it starts. Changes the guest's clock.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "linux/ntpdisc.h"
#include "ntpdisc_cli.h"
#include "ntpdisc_stepwatch.h"

#define NS	1000000000LL

static long long now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * NS + ts.tv_nsec;
}

static int load(void)
{
	return nd_cli("load", getenv("NTPDISC_KO"), NULL);
}

static int release(void)
{
	return nd_cli("release", NULL);
}

static int kernel_adjtimex(struct timex *tx)
{
	return clock_adjtime(CLOCK_REALTIME, tx);
}

static void set_kernel(long freq, long tick, int status)
{
	struct timex tx = {
		.modes = ADJ_FREQUENCY | ADJ_TICK | ADJ_STATUS | ADJ_MAXERROR,
		.freq = freq, .tick = tick, .status = status,
	};

	kernel_adjtimex(&tx);
}

/*
 * CLOCK_MONOTONIC and CLOCK_MONOTONIC_RAW at one instant: MONOTONIC read
 * between two RAW reads, the narrowest of many tries, so that a stall of
 * the emulated guest between the reads does not count as rate.
 */
static void mono_raw(long long *mono, long long *raw)
{
	long long a, m, b, best = -1;
	int i;

	for (i = 0; i < 50; i++) {
		a = now_ns(CLOCK_MONOTONIC_RAW);
		m = now_ns(CLOCK_MONOTONIC);
		b = now_ns(CLOCK_MONOTONIC_RAW);
		if (best < 0 || b - a < best) {
			best = b - a;
			*mono = m;
			*raw = a + (b - a) / 2;
		}
	}
}

/* CLOCK_MONOTONIC's rate against CLOCK_MONOTONIC_RAW over @secs, in ppm. */
static double rate_ppm(int secs)
{
	long long m0, r0, m1, r1;

	mono_raw(&m0, &r0);
	sleep(secs);
	mono_raw(&m1, &r1);
	return ((double)(m1 - m0) / (r1 - r0) - 1) * 1e6;
}

static bool module_loaded(void)
{
	return access("/sys/module/ntpdisc", F_OK) == 0;
}

FIXTURE(takeover) {
	bool skip;
};

FIXTURE_SETUP(takeover)
{
	self->skip = !getenv("NTPDISC_KO") || !getenv("NTPDISC_CLI") ||
		     access("/sys/kernel/livepatch", F_OK);
	if (self->skip)
		SKIP(return, "needs NTPDISC_KO, NTPDISC_CLI and livepatch");
	ASSERT_FALSE(module_loaded());
	set_kernel(0, 10000, 0);
}

FIXTURE_TEARDOWN(takeover)
{
	if (self->skip)
		return;
	if (module_loaded())
		release();
	set_kernel(0, 10000, STA_UNSYNC);
}

/* The frequency carries over both ways; the clock neither steps nor lurches. */
TEST_F_TIMEOUT(takeover, handover_both_ways, 120)
{
	struct nd_step_watch watch;
	double before, during, again, after;
	struct timex tx = { 0 };
	int fd, i;

	set_kernel(50 * 65536, 10000, 0);
	/* The timekeeper works off its error after a change: let it settle. */
	before = rate_ppm(2);
	for (i = 0; i < 5 && fabs(before - (during = rate_ppm(2))) > 3; i++)
		before = during;

	nd_step_watch_start(&watch);
	ASSERT_EQ(0, load());
	fd = open(NTPDISC_DEVICE_PATH, O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_LE(0, ioctl(fd, NTPDISC_ADJTIMEX, &tx));
	close(fd);
	EXPECT_EQ(50 * 65536, tx.freq);
	EXPECT_EQ(10000, tx.tick);
	during = rate_ppm(2);

	tx.modes = ADJ_FREQUENCY;
	tx.freq = -20 * 65536;
	ASSERT_LE(0, kernel_adjtimex(&tx));
	ASSERT_EQ(0, release());
	nd_step_watch_stop(&watch);
	ASSERT_FALSE(module_loaded());

	memset(&tx, 0, sizeof(tx));
	ASSERT_LE(0, kernel_adjtimex(&tx));
	EXPECT_EQ(-20 * 65536, tx.freq);
	/* As before the load: the timekeeper settles after a change. */
	after = rate_ppm(2);
	for (i = 0; i < 5 && fabs(after - (again = rate_ppm(2))) > 3; i++)
		after = again;

	fprintf(stderr, "# rate before %.2f, under ntpdisc %.2f, after %.2f ppm\n",
		before, during, after);
	fprintf(stderr, "# largest step %lld ns in %ld samples\n",
		watch.max_jump_ns, watch.samples);
	/* Emulation noise is a few ppm over 2 s: the differences count. */
	EXPECT_GT(10.0, fabs(during - before));
	EXPECT_GT(10.0, fabs(after - before + 70.0));
	EXPECT_LT(1000, watch.samples);
	EXPECT_GT(100000, watch.max_jump_ns);
}

/*
 * A takeover during a running adjtime slew and PLL phase slew (time
 * constant 10, frequency held, so the rate is nearly constant): the slews
 * go on in ntpdisc's discipline, and the clock's rate is the same after
 * the load as before it.
 */
TEST_F_TIMEOUT(takeover, slews_carry_over, 120)
{
	struct timex tx = {
		.modes = ADJ_STATUS | ADJ_TIMECONST | ADJ_OFFSET,
		.status = STA_PLL | STA_FREQHOLD, .constant = 10,
		.offset = 400000,
	};
	struct timex adj = { .modes = ADJ_OFFSET_SINGLESHOT, .offset = 200000 };
	double before, during;
	int fd;

	ASSERT_LE(0, kernel_adjtimex(&tx));
	ASSERT_LE(0, kernel_adjtimex(&adj));
	sleep(1);
	before = rate_ppm(2);
	ASSERT_EQ(0, load());
	during = rate_ppm(2);

	fd = open(NTPDISC_DEVICE_PATH, O_RDONLY);
	ASSERT_LE(0, fd);
	memset(&adj, 0, sizeof(adj));
	adj.modes = ADJ_OFFSET_SS_READ;
	EXPECT_EQ(-1, ioctl(fd, NTPDISC_ADJTIMEX, &adj));
	close(fd);
	fd = open(NTPDISC_DEVICE_PATH, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_LE(0, ioctl(fd, NTPDISC_ADJTIMEX, &adj));
	memset(&tx, 0, sizeof(tx));
	ASSERT_LE(0, ioctl(fd, NTPDISC_ADJTIMEX, &tx));
	close(fd);
	fprintf(stderr, "# rate before the load %.2f ppm, after %.2f ppm; adjtime left %ld us, offset %ld\n",
		before, during, adj.offset, tx.offset);
	/* 500 ppm of adjtime and 98 ppm of phase slew. */
	EXPECT_LT(450.0, before);
	EXPECT_GT(10.0, fabs(during - before));
	EXPECT_LT(0, adj.offset);
	EXPECT_LT(0, tx.offset);
	EXPECT_EQ(0, release());
}

/* Sets the clock to @secs before the next UTC midnight. */
static void before_midnight(int secs)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 86400 - ts.tv_sec % 86400 - secs;
	ts.tv_nsec = 0;
	clock_settime(CLOCK_REALTIME, &ts);
}

/*
 * A leap armed in the kernel: a load this close before it that the
 * livepatch transition could straddle it (3 s, 10 s) is refused and
 * leaves nothing; 60 s before, the load goes ahead, the leap stays armed
 * and is inserted exactly once, at midnight.
 */
TEST_F_TIMEOUT(takeover, load_before_a_leap, 180)
{
	static const int refused[] = { 3, 10 };
	/* Synchronised for long enough: a clock set makes maxerror 16 s. */
	struct timex tx = { .modes = ADJ_STATUS | ADJ_MAXERROR,
			    .status = STA_INS, .maxerror = 1000 };
	long long real_mono0, real_mono1, t0 = now_ns(CLOCK_MONOTONIC);
	long long keep = now_ns(CLOCK_REALTIME) - now_ns(CLOCK_MONOTONIC), t;
	struct timex tai = { 0 };
	struct ntpdisc_output out;
	struct timespec ts;
	int i, fd, state = -1;

	ASSERT_LE(0, kernel_adjtimex(&tai));
	for (i = 0; i < 2; i++) {
		before_midnight(refused[i]);
		ASSERT_LE(0, kernel_adjtimex(&tx));
		EXPECT_NE(0, load());
		EXPECT_FALSE(module_loaded());
	}
	before_midnight(60);
	ASSERT_LE(0, kernel_adjtimex(&tx));
	ASSERT_EQ(0, load());
	real_mono0 = now_ns(CLOCK_REALTIME) - now_ns(CLOCK_MONOTONIC);
	fd = open(NTPDISC_DEVICE_PATH, O_RDONLY);
	ASSERT_LE(0, fd);
	memset(&tx, 0, sizeof(tx));
	sleep(1);
	EXPECT_EQ(TIME_INS, ioctl(fd, NTPDISC_ADJTIMEX, &tx));
	/* Until 3 s past midnight, counting the second inserted. */
	while (now_ns(CLOCK_MONOTONIC) - t0 < 200 * NS) {
		memset(&tx, 0, sizeof(tx));
		state = ioctl(fd, NTPDISC_ADJTIMEX, &tx);
		if (tx.time.tv_sec % 86400 >= 3 && tx.time.tv_sec % 86400 < 60)
			break;
		usleep(200000);
	}
	real_mono1 = now_ns(CLOCK_REALTIME) - now_ns(CLOCK_MONOTONIC);
	EXPECT_EQ(0, ioctl(fd, NTPDISC_GET_OUTPUT, &out));
	close(fd);
	fprintf(stderr, "# after the leap: state %d, CLOCK_REALTIME - CLOCK_MONOTONIC moved %.6f s\n",
		state, (real_mono1 - real_mono0) / 1e9);
	EXPECT_EQ(TIME_WAIT, state);
	/* One second set back, and not two. */
	EXPECT_GT(1000000LL, llabs(real_mono1 - real_mono0 + NS));
	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_STATUS;
	tx.status = STA_UNSYNC;
	EXPECT_LE(0, kernel_adjtimex(&tx));
	EXPECT_EQ(0, release());
	/* The clock and TAI offset as they were, for the tests after. */
	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_TAI;
	tx.constant = tai.tai;
	kernel_adjtimex(&tx);
	t = now_ns(CLOCK_MONOTONIC) + keep;
	ts.tv_sec = t / NS;
	ts.tv_nsec = t % NS;
	clock_settime(CLOCK_REALTIME, &ts);
}

/*
 * Twenty cycles (NTPDISC_TAKEOVER_CYCLES): each load and release works,
 * nothing is left behind.
 */
TEST_F_TIMEOUT(takeover, twenty_cycles, 300)
{
	const char *env = getenv("NTPDISC_TAKEOVER_CYCLES");
	int i, n = env ? atoi(env) : 20;

	ksft_print_msg("%d load/release cycles\n", n);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, load()) TH_LOG("load %d", i);
		ASSERT_EQ(0, access("/sys/kernel/livepatch/ntpdisc", F_OK));
		ASSERT_EQ(0, release()) TH_LOG("release %d", i);
		ASSERT_FALSE(module_loaded());
		ASSERT_NE(0, access("/sys/kernel/livepatch/ntpdisc", F_OK));
		ASSERT_NE(0, access("/sys/class/ntpdisc", F_OK));
		ASSERT_NE(0, access(NTPDISC_DEVICE_PATH, F_OK));
	}
}

/* The RTC's reading in seconds since the epoch, LLONG_MIN without one. */
static long long rtc_read(void)
{
	FILE *f = fopen("/sys/class/rtc/rtc0/since_epoch", "r");
	long long rtc;

	if (!f)
		return LLONG_MIN;
	if (fscanf(f, "%lld", &rtc) != 1)
		rtc = LLONG_MIN;
	fclose(f);
	return rtc;
}

/* CLOCK_REALTIME's second minus the RTC's, each truncated: +-1 is noise. */
static long long rtc_lag(void)
{
	long long rtc = rtc_read();

	return now_ns(CLOCK_REALTIME) / NS - rtc;
}

/*
 * How far the RTC is ahead of CLOCK_REALTIME, in ns, to a few ms: the RTC
 * is polled until its second changes, and the change is dated by the
 * REALTIME reads around the two polls that bracket it. A bracket wider
 * than 20 ms (the emulated guest stalled) dates nothing, and the next
 * second is tried. LLONG_MIN if no second could be dated.
 */
static long long rtc_offset_ns(void)
{
	long long before, after, prev, rtc;
	int tries, polls;

	for (tries = 0; tries < 5; tries++) {
		before = now_ns(CLOCK_REALTIME);
		prev = rtc_read();
		for (polls = 0; polls < 1500; polls++) {
			usleep(1000);
			after = now_ns(CLOCK_REALTIME);
			rtc = rtc_read();
			if (rtc != prev)
				break;
			before = after;
		}
		after = now_ns(CLOCK_REALTIME);
		if (rtc != prev && after - before < 20000000)
			return rtc * NS - (before + after) / 2;
	}
	return LLONG_MIN;
}

/*
 * The RTC is written while, and only while, the discipline is synced, with
 * the time the system clock has when the RTC ticks. The RTC may stand
 * anywhere when the test starts (earlier tests set the clock), so the
 * test steps the clock 1000 s away from it: a write shows at once.
 */
TEST_F_TIMEOUT(takeover, rtc_follows_sync, 60)
{
	long long lag0, lag, start, waited_ms, off;
	struct timespec ts;
	struct timex tx = { 0 };

	if (rtc_read() == LLONG_MIN)
		SKIP(return, "no rtc0");
	/* Neither the kernel nor ntpdisc may write the RTC until asked. */
	set_kernel(0, 10000, STA_UNSYNC);
	ASSERT_EQ(0, load());
	lag0 = rtc_lag();
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 1000;
	ASSERT_EQ(0, clock_settime(CLOCK_REALTIME, &ts));
	/* A write is due within a second of being wanted: 2 s would show it. */
	sleep(2);
	lag = rtc_lag();
	EXPECT_GE(1, llabs(lag - lag0 - 1000))
		TH_LOG("an unsynchronised clock went to the RTC: lag %lld s, %lld s before",
		       lag, lag0);

	tx.modes = ADJ_STATUS | ADJ_MAXERROR;
	ASSERT_LE(0, kernel_adjtimex(&tx));
	start = now_ns(CLOCK_MONOTONIC);
	/*
	 * The write waits for the RTC's moment in the second, so it is due
	 * within a second; 10 s leaves room for a guest starved by its host.
	 */
	do {
		usleep(10000);
		lag = rtc_lag();
		waited_ms = (now_ns(CLOCK_MONOTONIC) - start) / 1000000;
	} while (llabs(lag) > 1 && waited_ms < 10000);
	ASSERT_GE(1, llabs(lag))
		TH_LOG("no RTC write %lld ms after the sync: it lags %lld s",
		       waited_ms, lag);
	off = rtc_offset_ns();
	ksft_print_msg("RTC lag %lld s; written %lld ms after the sync; then %+lld ms ahead\n",
		       lag0, waited_ms,
		       off == LLONG_MIN ? off : off / 1000000);
	ASSERT_NE(LLONG_MIN, off) TH_LOG("the RTC's second could not be dated");
	/*
	 * An RTC that restarts its second at the write, as the MC146818 does
	 * after a divider reset, ticks with the clock, a little late by the
	 * write's latency. One that keeps its phase, as QEMU's does when Linux
	 * skips the reset (AMD CPUs), is up to half a second off either way.
	 * A value a second ahead or behind is wrong on both.
	 */
	EXPECT_GT(600 * 1000000LL, off)
		TH_LOG("the RTC is %lld ms ahead", off / 1000000);
	EXPECT_LT(-750 * 1000000LL, off)
		TH_LOG("the RTC is %lld ms behind", -off / 1000000);

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec -= 1000;
	ASSERT_EQ(0, clock_settime(CLOCK_REALTIME, &ts));
	ASSERT_EQ(0, release());
}

/* The ioctl reads what the system call set; TAI only moves by the latter. */
TEST_F(takeover, device_shares_the_state)
{
	struct timex sys = { 0 }, dev = { 0 };
	long long tai_ns;
	int fd;

	ASSERT_EQ(0, load());
	fd = open(NTPDISC_DEVICE_PATH, O_RDWR);
	ASSERT_LE(0, fd);

	sys.modes = ADJ_FREQUENCY | ADJ_STATUS | ADJ_TIMECONST | ADJ_ESTERROR;
	sys.freq = 1234567;
	sys.status = STA_PLL | STA_FLL;
	sys.constant = 5;
	sys.esterror = 4321;
	ASSERT_LE(0, kernel_adjtimex(&sys));
	ASSERT_LE(0, ioctl(fd, NTPDISC_ADJTIMEX, &dev));
	EXPECT_EQ(sys.freq, dev.freq);
	EXPECT_EQ(sys.status, dev.status);
	EXPECT_EQ(sys.constant, dev.constant);
	EXPECT_EQ(sys.esterror, dev.esterror);

	memset(&dev, 0, sizeof(dev));
	dev.modes = ADJ_MAXERROR;
	dev.maxerror = 777;
	ASSERT_LE(0, ioctl(fd, NTPDISC_ADJTIMEX, &dev));
	memset(&sys, 0, sizeof(sys));
	ASSERT_LE(0, kernel_adjtimex(&sys));
	EXPECT_LE(777, sys.maxerror);
	EXPECT_GE(777 + 1000, sys.maxerror);

	memset(&dev, 0, sizeof(dev));
	dev.modes = ADJ_TAI;
	dev.constant = 37;
	EXPECT_EQ(-1, ioctl(fd, NTPDISC_ADJTIMEX, &dev));
	EXPECT_EQ(EOPNOTSUPP, errno);

	memset(&sys, 0, sizeof(sys));
	sys.modes = ADJ_TAI;
	sys.constant = 37;
	ASSERT_LE(0, kernel_adjtimex(&sys));
	EXPECT_EQ(37, sys.tai);
	tai_ns = now_ns(CLOCK_TAI) - now_ns(CLOCK_REALTIME);
	EXPECT_GT(100000000LL, llabs(tai_ns - 37 * NS));
	memset(&dev, 0, sizeof(dev));
	ASSERT_LE(0, ioctl(fd, NTPDISC_ADJTIMEX, &dev));
	EXPECT_EQ(37, dev.tai);

	sys.modes = ADJ_TAI;
	sys.constant = 0;
	kernel_adjtimex(&sys);
	close(fd);
	ASSERT_EQ(0, release());
}

/*
 * Every clock set reaches the discipline as the kernel's ntp_clear(),
 * through the system call as through the device, and is counted in
 * clock_sets as the other actuators count theirs.
 */
TEST_F(takeover, clock_sets_counted)
{
	struct timex step = { .modes = ADJ_SETOFFSET | ADJ_NANO };
	struct timex step_dev = step;
	struct ntpdisc_output o1, o2;
	struct timespec ts;
	int fd;

	ASSERT_EQ(0, load());
	fd = open(NTPDISC_DEVICE_PATH, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, NTPDISC_GET_OUTPUT, &o1));
	ASSERT_EQ(0, clock_gettime(CLOCK_REALTIME, &ts));
	ASSERT_EQ(0, clock_settime(CLOCK_REALTIME, &ts));
	/*
	 * A zero step: a set that leaves the clock where it is. Each call
	 * has its own request: adjtimex(2) writes the time into the one it
	 * is given, which would then be a step by all of it.
	 */
	ASSERT_LE(0, kernel_adjtimex(&step));
	ASSERT_LE(0, ioctl(fd, NTPDISC_ADJTIMEX, &step_dev));
	ASSERT_EQ(0, ioctl(fd, NTPDISC_GET_OUTPUT, &o2));
	TH_LOG("clock_sets %llu -> %llu",
	       (unsigned long long)o1.clock_sets,
	       (unsigned long long)o2.clock_sets);
	EXPECT_EQ(o1.clock_sets + 3, o2.clock_sets);
	close(fd);
	ASSERT_EQ(0, release());
}

/*
 * Shadow mode, loaded by the CLI, starts from the kernel's state, its TAI
 * offset included: it must answer as the kernel does from the first call.
 */
TEST_F(takeover, shadow_starts_from_the_kernel)
{
	struct timex sys = { 0 }, dev = { 0 };
	int fd, ret;

	sys.modes = ADJ_FREQUENCY | ADJ_TAI;
	sys.freq = -654321;
	sys.constant = 37;
	ASSERT_LE(0, kernel_adjtimex(&sys));
	ret = nd_cli("load", getenv("NTPDISC_KO"), "steer=none", NULL);
	sys.modes = ADJ_TAI;
	sys.constant = 0;
	if (ret) {
		kernel_adjtimex(&sys);
		ASSERT_EQ(0, ret);
	}
	fd = open(NTPDISC_DEVICE_PATH, O_RDWR);
	if (fd >= 0) {
		EXPECT_LE(0, ioctl(fd, NTPDISC_ADJTIMEX, &dev));
		close(fd);
	}
	kernel_adjtimex(&sys);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-654321, dev.freq);
	EXPECT_EQ(37, dev.tai);
	ASSERT_EQ(0, release());
}

static bool wait_gone(const char *path, int secs)
{
	int i;

	for (i = 0; i < secs * 10 && !access(path, F_OK); i++)
		usleep(100000);
	return access(path, F_OK) != 0;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY), ret;

	if (fd < 0)
		return -1;
	ret = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
	close(fd);
	return ret;
}

/*
 * An atomic-replace livepatch disables ntpdisc's without a word: ntpdisc
 * must notice that the kernel no longer runs it and say so.
 */
TEST_F_TIMEOUT(takeover, replaced_by_another_livepatch, 120)
{
	const char *other = getenv("NTPDISC_TEST_REPLACE_KO");
	const char *dir = "/sys/kernel/livepatch/ntpdisc_test_replace";
	struct ntpdisc_output out;
	int fd, mod;

	if (!other)
		SKIP(return, "needs NTPDISC_TEST_REPLACE_KO");
	ASSERT_EQ(0, load());
	fd = open(NTPDISC_DEVICE_PATH, O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, NTPDISC_GET_OUTPUT, &out));
	EXPECT_EQ(0, out.flags & NTPDISC_OUTPUT_STALLED);

	mod = open(other, O_RDONLY);
	ASSERT_LE(0, mod);
	ASSERT_EQ(0, syscall(SYS_finit_module, mod, "", 0));
	close(mod);
	ASSERT_TRUE(wait_gone("/sys/kernel/livepatch/ntpdisc", 30));
	sleep(7);
	ASSERT_EQ(0, ioctl(fd, NTPDISC_GET_OUTPUT, &out));
	EXPECT_EQ(NTPDISC_OUTPUT_STALLED, out.flags & NTPDISC_OUTPUT_STALLED);
	close(fd);

	ASSERT_EQ(0, write_file("/sys/kernel/livepatch/ntpdisc_test_replace/enabled",
				"0"));
	ASSERT_TRUE(wait_gone(dir, 30));
	EXPECT_EQ(0, syscall(SYS_delete_module, "ntpdisc_test_replace",
			     O_NONBLOCK));
	EXPECT_EQ(0, release());
}

/* "1" from a sysfs file of one digit. */
static bool sysfs_is_one(const char *path)
{
	char c = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return false;
	if (read(fd, &c, 1) != 1)
		c = 0;
	close(fd);
	return c == '1';
}

/*
 * Another livepatch stacked on top of ntpdisc's for one of its functions
 * (here ntp_clear) runs instead of ntpdisc's while ntpdisc's patch stays
 * enabled and its watchdog still sees every second: ntpdisc must notice
 * that too, and stop saying so once the other patch is gone.
 */
TEST_F_TIMEOUT(takeover, stacked_on_by_another_livepatch, 120)
{
	const char *other = getenv("NTPDISC_TEST_REPLACE_KO");
	const char *dir = "/sys/kernel/livepatch/ntpdisc_test_replace";
	struct ntpdisc_output out;
	int fd, mod, i;

	if (!other)
		SKIP(return, "needs NTPDISC_TEST_REPLACE_KO");
	ASSERT_EQ(0, load());
	fd = open(NTPDISC_DEVICE_PATH, O_RDONLY);
	ASSERT_LE(0, fd);

	mod = open(other, O_RDONLY);
	ASSERT_LE(0, mod);
	ASSERT_EQ(0, syscall(SYS_finit_module, mod, "replace=0", 0));
	close(mod);
	for (i = 0; i < 300 &&
	     sysfs_is_one("/sys/kernel/livepatch/ntpdisc_test_replace/transition");
	     i++)
		usleep(100000);
	sleep(3);
	EXPECT_TRUE(sysfs_is_one("/sys/kernel/livepatch/ntpdisc/enabled"));
	ASSERT_EQ(0, ioctl(fd, NTPDISC_GET_OUTPUT, &out));
	EXPECT_EQ(NTPDISC_OUTPUT_STALLED, out.flags & NTPDISC_OUTPUT_STALLED);

	ASSERT_EQ(0, write_file("/sys/kernel/livepatch/ntpdisc_test_replace/enabled",
				"0"));
	ASSERT_TRUE(wait_gone(dir, 30));
	EXPECT_EQ(0, syscall(SYS_delete_module, "ntpdisc_test_replace",
			     O_NONBLOCK));
	sleep(3);
	ASSERT_EQ(0, ioctl(fd, NTPDISC_GET_OUTPUT, &out));
	EXPECT_EQ(0, out.flags & NTPDISC_OUTPUT_STALLED);
	close(fd);
	EXPECT_EQ(0, release());
}

TEST_HARNESS_MAIN
