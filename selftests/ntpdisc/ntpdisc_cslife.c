// SPDX-License-Identifier: GPL-2.0
/*
 * The clocksource actuator's life cycle, through the CLI a user runs
 * ("ntpdisc load ... steer=clocksource", "ntpdisc release"): the
 * timekeeper switches to ntpdisc's clocksource and back without a step of
 * CLOCK_MONOTONIC, the frequency carries over both ways, rmmod is refused
 * until the clock is released, fifty cycles leave no memory behind, and a
 * TSC that is not invariant is refused (the load fails).
 *
 * The reference is the TSC read from user space, calibrated against
 * CLOCK_MONOTONIC_RAW before anything is loaded: once ntpdisc's
 * clocksource is current, MONOTONIC_RAW counts it and is steered too.
 *
 * Needs NTPDISC_KO (the module) and NTPDISC_CLI (the ntpdisc tool); the
 * module must not be loaded when it starts. Changes the guest's clock.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "ntpdisc_cli.h"
#include "ntpdisc_clock.h"

#define CS_FILE "/sys/devices/system/clocksource/clocksource0/current_clocksource"
/* Allowed for emulation only; the tests run under emulation. */
#define TESTONLY "testonly_ignore_tsc_invariance=1"
#define CYCLES	50

static double tsc_hz;

static __s64 tsc_ns(void)
{
	return (__s64)(nd_rdtsc() / tsc_hz * 1e9);
}

/* @clk and the TSC at one instant: the narrowest of many tries. */
static void pair(clockid_t clk, __u64 *tsc, __s64 *ns)
{
	const struct nd_clk c = { clk, false, "" };
	struct nd_xs s;

	nd_xsample(&c, 50, &s);
	*tsc = s.tsc;
	*ns = s.ns;
}

/* The TSC's frequency, from 2 s of CLOCK_MONOTONIC_RAW. */
static void calibrate(void)
{
	__s64 r0, r1;
	__u64 t0, t1;

	pair(CLOCK_MONOTONIC_RAW, &t0, &r0);
	nd_sleep_ns(ND_SEC(2));
	pair(CLOCK_MONOTONIC_RAW, &t1, &r1);
	tsc_hz = (double)(t1 - t0) / ((r1 - r0) / 1e9);
}

static int load(void)
{
	return nd_cli("load", getenv("NTPDISC_KO"), "steer=clocksource", TESTONLY,
		      NULL);
}

static int release(void)
{
	return nd_cli("release", NULL);
}

static bool module_loaded(void)
{
	return access("/sys/module/ntpdisc", F_OK) == 0;
}

static void current_cs(char *buf, size_t len)
{
	nd_read_line(CS_FILE, buf, len);
}

static void set_kernel(long freq, long tick, int status)
{
	struct timex tx = {
		.modes = ADJ_FREQUENCY | ADJ_TICK | ADJ_STATUS,
		.freq = freq, .tick = tick, .status = status,
	};

	clock_adjtime(CLOCK_REALTIME, &tx);
}

/* CLOCK_MONOTONIC's rate against the TSC over @secs, in ppm. */
static double rate_ppm(int secs)
{
	__s64 m0, m1;
	__u64 t0, t1;

	pair(CLOCK_MONOTONIC, &t0, &m0);
	nd_sleep_ns(ND_SEC(secs));
	pair(CLOCK_MONOTONIC, &t1, &m1);
	return ((double)(m1 - m0) / ((t1 - t0) / tsc_hz * 1e9) - 1) * 1e6;
}

/*
 * CLOCK_MONOTONIC - TSC time in a tight loop: the largest change between
 * two samples beyond what 1000 ppm of rate explains is a step. Samples
 * whose reads were interrupted are dropped.
 */
struct step_watch {
	pthread_t thread;
	int stop;
	__s64 max_jump_ns;
	long samples;
};

static void *step_watch_fn(void *arg)
{
	struct step_watch *w = arg;
	__s64 prev = 0, prev_t = 0;
	bool have = false;

	while (!__atomic_load_n(&w->stop, __ATOMIC_RELAXED)) {
		__s64 t0 = tsc_ns();
		__s64 m = nd_now_ns(CLOCK_MONOTONIC);
		__s64 t1 = tsc_ns();
		__s64 diff, jump;

		if (t1 - t0 > ND_US(20)) {
			have = false;
			continue;
		}
		diff = m - (t0 + t1) / 2;
		if (have && t0 - prev_t < ND_MSEC(2)) {
			jump = llabs(diff - prev) - (t0 - prev_t) / 1000;
			if (jump > w->max_jump_ns)
				w->max_jump_ns = jump;
		}
		prev = diff;
		prev_t = t0;
		have = true;
		w->samples++;
	}
	return NULL;
}

static void step_watch_start(struct step_watch *w)
{
	memset(w, 0, sizeof(*w));
	pthread_create(&w->thread, NULL, step_watch_fn, w);
}

static void step_watch_stop(struct step_watch *w)
{
	__atomic_store_n(&w->stop, 1, __ATOMIC_RELAXED);
	pthread_join(w->thread, NULL);
}

/* A /proc/meminfo field, in kB. */
static long meminfo(const char *field)
{
	char line[256];
	size_t n = strlen(field);
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':') {
			v = atol(line + n + 1);
			break;
		}
	fclose(f);
	return v;
}

static int drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	int ret;

	if (fd < 0)
		return -1;
	sync();
	ret = write(fd, "3", 1) == 1 ? 0 : -1;
	close(fd);
	return ret;
}

FIXTURE(cslife) {
	bool skip;
};

FIXTURE_SETUP(cslife)
{
	self->skip = !getenv("NTPDISC_KO") || !getenv("NTPDISC_CLI") ||
		     !nd_have_tsc();
	if (self->skip)
		SKIP(return, "needs NTPDISC_KO, NTPDISC_CLI and a TSC");
	ASSERT_FALSE(module_loaded());
	set_kernel(0, 10000, STA_UNSYNC);
	if (!tsc_hz)
		calibrate();
}

FIXTURE_TEARDOWN(cslife)
{
	if (self->skip)
		return;
	if (module_loaded())
		release();
	set_kernel(0, 10000, STA_UNSYNC);
}

/*
 * The frequency carries over both ways, the switch of clocksource does
 * not step CLOCK_MONOTONIC, and rmmod waits for the release.
 */
TEST_F_TIMEOUT(cslife, handover_both_ways, 120)
{
	double before, during, steered, after;
	struct step_watch watch;
	struct timex tx = { 0 };
	char cs0[64], cs[64];
	int fd, i;

	current_cs(cs0, sizeof(cs0));
	ASSERT_LE(0, clock_adjtime(CLOCK_REALTIME, &tx));
	nd_log("kernel: status %#x offset %ld freq %ld tick %ld constant %ld",
	       tx.status, tx.offset, tx.freq, tx.tick, tx.constant);
	set_kernel(50 * 65536, 10000, 0);
	/* The timekeeper works off its error after a change: let it settle. */
	before = rate_ppm(2);
	for (i = 0; i < 5 && fabs(before - (during = rate_ppm(2))) > 3; i++)
		before = during;

	step_watch_start(&watch);
	ASSERT_EQ(0, load());
	current_cs(cs, sizeof(cs));
	EXPECT_STREQ("ntpdisc", cs);
	fd = open(NTPDISC_DEVICE_PATH, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_LE(0, ioctl(fd, NTPDISC_ADJTIMEX, &tx));
	EXPECT_EQ(50 * 65536, tx.freq);
	EXPECT_EQ(10000, tx.tick);
	/* The kernel's own discipline was made neutral. */
	memset(&tx, 0, sizeof(tx));
	ASSERT_LE(0, clock_adjtime(CLOCK_REALTIME, &tx));
	EXPECT_EQ(0, tx.freq);
	during = rate_ppm(2);

	/* The timekeeper holds the module while it runs on its clocksource. */
	EXPECT_NE(0, syscall(SYS_delete_module, "ntpdisc", O_NONBLOCK));
	EXPECT_TRUE(module_loaded());

	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_FREQUENCY;
	tx.freq = -20 * 65536;
	ASSERT_LE(0, ioctl(fd, NTPDISC_ADJTIMEX, &tx));
	steered = rate_ppm(2);
	close(fd);

	ASSERT_EQ(0, release());
	step_watch_stop(&watch);
	ASSERT_FALSE(module_loaded());
	current_cs(cs, sizeof(cs));
	EXPECT_STREQ(cs0, cs);

	memset(&tx, 0, sizeof(tx));
	ASSERT_LE(0, clock_adjtime(CLOCK_REALTIME, &tx));
	EXPECT_EQ(-20 * 65536, tx.freq);
	after = rate_ppm(2);

	nd_log("clocksource %s -> %s -> %s", cs0, "ntpdisc", cs);
	nd_log("rate before %.2f, under ntpdisc %.2f, set to -20 there %.2f, after %.2f ppm",
	       before, during, steered, after);
	nd_log("largest step of MONOTONIC against the TSC %lld ns in %ld samples",
	       (long long)watch.max_jump_ns, watch.samples);
	/* Emulation noise is a few ppm over 2 s. */
	EXPECT_GT(5.0, fabs(during - before));
	EXPECT_GT(5.0, fabs(steered + 20.0));
	EXPECT_GT(5.0, fabs(after + 20.0));
	EXPECT_LT(1000, watch.samples);
	EXPECT_GT(100000, watch.max_jump_ns);
}

/* Fifty load/release/unload cycles: each works, no memory is kept. */
TEST_F_TIMEOUT(cslife, fifty_cycles, 600)
{
	long slab0, slab1, free0, free1;
	struct step_watch watch;
	char cs[64];
	int i, bad = 0;

	/* One cycle first: the first load allocates for good (sysfs, kallsyms). */
	ASSERT_EQ(0, load());
	ASSERT_EQ(0, release());
	drop_caches();
	slab0 = meminfo("Slab");
	free0 = meminfo("MemFree");

	step_watch_start(&watch);
	for (i = 0; i < CYCLES && !bad; i++) {
		if (load()) {
			nd_log("cycle %d: load failed", i);
			bad++;
			break;
		}
		current_cs(cs, sizeof(cs));
		if (strcmp(cs, "ntpdisc")) {
			nd_log("cycle %d: current clocksource %s", i, cs);
			bad++;
		}
		if (release() || module_loaded()) {
			nd_log("cycle %d: release failed", i);
			bad++;
		}
	}
	step_watch_stop(&watch);
	drop_caches();
	slab1 = meminfo("Slab");
	free1 = meminfo("MemFree");
	nd_log("%d cycles: Slab %ld -> %ld kB, MemFree %ld -> %ld kB",
	       i, slab0, slab1, free0, free1);
	nd_log("largest step of MONOTONIC against the TSC %lld ns in %ld samples",
	       (long long)watch.max_jump_ns, watch.samples);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(CYCLES, i);
	/* A leak of even 1 kB per cycle would show as 50 kB. */
	EXPECT_GT(256, slab1 - slab0);
	EXPECT_GT(2048, free0 - free1);
	EXPECT_GT(100000, watch.max_jump_ns);
}

/* Whether /proc/cpuinfo calls the TSC invariant. */
static bool tsc_invariant(void)
{
	return !system("grep -qw constant_tsc /proc/cpuinfo && grep -qw nonstop_tsc /proc/cpuinfo");
}

/*
 * Without the test-only override, a TSC that is not invariant (as under
 * emulation) cannot carry the clock: steer=clocksource, asked for by
 * name, fails the load with EOPNOTSUPP and one kernel log line that says
 * why, and leaves the clocksource alone; "ntpdisc load steer=clocksource"
 * fails too. A load that succeeded and steered nothing would be worse.
 */
TEST_F_TIMEOUT(cslife, refuses_variant_tsc, 60)
{
	char cs0[64], cs[64], rec[1024];
	bool said = false;
	int fd, kmsg, ret, err;
	ssize_t n;

	if (!access("/sys/module/ntpdisc", F_OK))
		SKIP(return, "module already loaded");
	if (tsc_invariant())
		SKIP(return, "this TSC is invariant");
	current_cs(cs0, sizeof(cs0));
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ASSERT_LE(0, kmsg);
	lseek(kmsg, 0, SEEK_END);
	fd = open(getenv("NTPDISC_KO"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ret = syscall(SYS_finit_module, fd, "steer=clocksource", 0);
	err = errno;
	close(fd);
	while ((n = read(kmsg, rec, sizeof(rec) - 1)) > 0 ||
	       (n < 0 && errno == EPIPE))
		if (n > 0) {
			rec[n] = '\0';
			said |= !!strstr(rec, "steer=clocksource cannot run here: "
					 "the TSC is not invariant");
		}
	close(kmsg);
	current_cs(cs, sizeof(cs));
	nd_log("without %s: load %d (%s), clocksource %s", TESTONLY, ret,
	       strerror(err), cs);
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(EOPNOTSUPP, err);
	EXPECT_TRUE(said);
	EXPECT_STREQ(cs0, cs);
	EXPECT_NE(0, access("/sys/module/ntpdisc", F_OK));
	EXPECT_NE(0, access(NTPDISC_DEVICE_PATH, F_OK));
	if (!ret)
		syscall(SYS_delete_module, "ntpdisc", O_NONBLOCK);
	/* The CLI says so too, with the kernel's reason. */
	EXPECT_EQ(1, nd_cli("load", getenv("NTPDISC_KO"), "steer=clocksource",
			    NULL));
	if (!access("/sys/module/ntpdisc", F_OK))
		release();
}

/* ns per clock_gettime(@clk): the median of 15 batches of 20000 calls. */
static double read_cost(clockid_t clk)
{
	double batch[15], t;
	struct timespec ts;
	__s64 a;
	int i, j;

	for (i = 0; i < 15; i++) {
		a = nd_now_ns(CLOCK_MONOTONIC_RAW);
		for (j = 0; j < 20000; j++)
			clock_gettime(clk, &ts);
		batch[i] = (nd_now_ns(CLOCK_MONOTONIC_RAW) - a) / 20000.0;
	}
	for (i = 1; i < 15; i++)
		for (j = i; j > 0 && batch[j - 1] > batch[j]; j--) {
			t = batch[j];
			batch[j] = batch[j - 1];
			batch[j - 1] = t;
		}
	return batch[7];
}

/*
 * The cost of the backend: the vDSO cannot read ntpdisc's clocksource,
 * so every clock_gettime becomes a system call. Measured side by side.
 */
TEST_F_TIMEOUT(cslife, read_cost, 120)
{
	static const struct { clockid_t id; const char *name; } clks[] = {
		{ CLOCK_MONOTONIC, "MONOTONIC" },
		{ CLOCK_REALTIME, "REALTIME" },
		{ CLOCK_MONOTONIC_RAW, "MONOTONIC_RAW" },
	};
	double own[3], ours[3];
	char cs0[64];
	int k;

	current_cs(cs0, sizeof(cs0));
	for (k = 0; k < 3; k++)
		own[k] = read_cost(clks[k].id);
	ASSERT_EQ(0, load());
	for (k = 0; k < 3; k++)
		ours[k] = read_cost(clks[k].id);
	ASSERT_EQ(0, release());
	for (k = 0; k < 3; k++) {
		nd_log("clock_gettime(%s): %.1f ns with %s, %.1f ns with ntpdisc: ratio %.2f",
		       clks[k].name, own[k], cs0, ours[k], ours[k] / own[k]);
		/* Sanity: a read is a system call, not a stall. */
		EXPECT_GT(50000.0, ours[k]);
		EXPECT_LT(0.0, own[k]);
	}
}

TEST_HARNESS_MAIN
