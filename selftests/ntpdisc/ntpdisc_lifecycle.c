// SPDX-License-Identifier: GPL-2.0
/*
 * The module's life cycle where it can go wrong: a load that fails while
 * others open the device, unloads while the RTC update and the stepping
 * thread are busy, the livepatch disabled behind ntpdisc's back, the
 * actuator picked without steer=, and a descriptor opened read-only.
 * Every test checks the kernel log for splats and the taint for oopses
 * and warnings.
 *
 * Needs NTPDISC_KO (the module) and NTPDISC_CLI (the ntpdisc tool); the
 * module must not be loaded when it starts. NTPDISC_LIFECYCLE_CYCLES sets
 * the number of load/unload cycles of the cycling tests (default 200),
 * NTPDISC_LIFECYCLE_LP_CYCLES and _CS_CYCLES that of one backend.
 * Changes the guest's clock.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/rtc.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "linux/ntpdisc.h"
#include "ntpdisc_cli.h"
#include "ntpdisc_clock.h"
#include "ntpdisc_stepwatch.h"

#define NS		1000000000LL
#define LP_DIR		"/sys/kernel/livepatch/ntpdisc"
#define CS_FILE		"/sys/devices/system/clocksource/clocksource0/current_clocksource"
#define TESTONLY_TSC	"testonly_ignore_tsc_invariance=1"
#define LP_RTC_BUSY	"steer=livepatch handover=1 adopt_status=0 testonly_rtc_period_ms=1"

static long long now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * NS + ts.tv_nsec;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000 };

	nanosleep(&ts, NULL);
}

static bool loaded(void)
{
	return !access("/sys/module/ntpdisc", F_OK);
}

/* finit_module(NTPDISC_KO, @params): 0 or -errno. */
static int mod_load(const char *params)
{
	int fd = open(getenv("NTPDISC_KO"), O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params, 0) ? -errno : 0;
	close(fd);
	return ret;
}

/*
 * Where the kernel leaves the clocksource actuator no room (7.x's
 * watchdog), an explicit steer=clocksource must fail the load, with
 * EOPNOTSUPP, and leave nothing loaded; the caller then skips.
 */
static bool cs_refused(struct __test_metadata *_metadata)
{
	if (!nd_cs_refused_by_kernel())
		return false;
	EXPECT_EQ(-EOPNOTSUPP, mod_load("steer=clocksource " TESTONLY_TSC));
	EXPECT_FALSE(loaded());
	return true;
}

/* rmmod, again while a descriptor pins the module: 0 or -errno. */
static int mod_unload(void)
{
	int i;

	for (i = 0; i < 2000; i++) {
		if (!syscall(SYS_delete_module, "ntpdisc", O_NONBLOCK))
			return 0;
		if (errno != EWOULDBLOCK && errno != EAGAIN)
			return -errno;
		sleep_ms(5);
	}
	return -EBUSY;
}

static bool wait_gone(const char *path, int ms)
{
	for (; ms > 0 && !access(path, F_OK); ms -= 10)
		sleep_ms(10);
	return access(path, F_OK);
}

static bool write_file(const char *path, const char *val)
{
	FILE *f = fopen(path, "w");

	return f && fputs(val, f) >= 0 && !fclose(f);
}

static int read_int(const char *path)
{
	FILE *f = fopen(path, "r");
	int v = -1;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static bool lp_settle(void)
{
	int i;

	for (i = 0; i < 3000 && read_int(LP_DIR "/transition") == 1; i++)
		sleep_ms(10);
	return read_int(LP_DIR "/transition") != 1;
}

/* Disable the patch as a user would, and wait until it is gone. */
static bool lp_disable(void)
{
	if (!lp_settle() || !write_file(LP_DIR "/enabled", "0"))
		return false;
	return wait_gone(LP_DIR, 30000);
}

/* Whether the module under test has the livepatch actuator. */
static bool have_livepatch(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "grep -qa livepatch=Y '%s'",
		 getenv("NTPDISC_KO"));
	return !system(cmd);
}

static int kernel_taint(void)
{
	/* D (an oops) and W (a warning). */
	return read_int("/proc/sys/kernel/tainted") & (128 | 512);
}

/* The kernel log from now on. */
static int kmsg_mark(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/*
 * Reads the log since kmsg_mark() to its end. Returns the number of
 * splats (WARN, BUG, oops, lockdep, KASAN, a hung task) and tells in
 * @found whether a line contained @want. Closes @fd.
 */
static int kmsg_scan(int fd, const char *want, bool *found)
{
	static const char *const splats[] = {
		"WARNING:", "BUG:", "Oops", "general protection",
		"possible circular locking", "possible recursive locking",
		"KASAN", "blocked for more than", "list_add corruption",
		"list_del corruption", "refcount_t:", "UBSAN",
	};
	char rec[4096];
	int bad = 0;
	ssize_t n;
	size_t i;

	if (found)
		*found = false;
	if (fd < 0)
		return 0;
	while ((n = read(fd, rec, sizeof(rec) - 1)) > 0 ||
	       (n < 0 && errno == EPIPE)) {
		if (n <= 0)
			continue;
		rec[n] = '\0';
		for (i = 0; i < ARRAY_SIZE(splats); i++)
			if (strstr(rec, splats[i])) {
				bad++;
				printf("# kernel: %s", strchr(rec, ';') ?
				       strchr(rec, ';') + 1 : rec);
			}
		if (want && found && strstr(rec, want))
			*found = true;
	}
	close(fd);
	return bad;
}

/* One line every 10 cycles, so that a hang shows where it stopped. */
static void progress(int i, long long t0)
{
	if (i % 10 == 0) {
		printf("#   cycle %d, %.1f s\n", i,
		       (now_ns(CLOCK_MONOTONIC) - t0) / 1e9);
		fflush(stdout);
	}
}

static int cycles(const char *var)
{
	const char *env = getenv(var);

	if (!env)
		env = getenv("NTPDISC_LIFECYCLE_CYCLES");
	return env ? atoi(env) : 200;
}

static int kernel_reset(void)
{
	struct timex tx = {
		.modes = ADJ_STATUS | ADJ_FREQUENCY | ADJ_TICK | ADJ_OFFSET |
			 ADJ_MAXERROR | ADJ_ESTERROR,
		.status = STA_UNSYNC, .tick = 10000,
		.maxerror = 16000000, .esterror = 16000000,
	};

	return clock_adjtime(CLOCK_REALTIME, &tx);
}

/*
 * CLOCK_REALTIME moved back to where it would be, had the test not set
 * it: from CLOCK_MONOTONIC and the offset at the start.
 */
struct clock_keeper {
	long long real_minus_mono;
};

static void keeper_start(struct clock_keeper *k)
{
	k->real_minus_mono = now_ns(CLOCK_REALTIME) - now_ns(CLOCK_MONOTONIC);
}

static void keeper_restore(struct clock_keeper *k)
{
	long long t = now_ns(CLOCK_MONOTONIC) + k->real_minus_mono;
	struct timespec ts = { t / NS, t % NS };

	clock_settime(CLOCK_REALTIME, &ts);
}

/* Set CLOCK_REALTIME to @sec_of_day (plus @ns) of the current day. */
static void set_time_of_day(long sec_of_day, long ns)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec = ts.tv_sec - ts.tv_sec % 86400 + sec_of_day;
	ts.tv_nsec = ns;
	clock_settime(CLOCK_REALTIME, &ts);
}

/*
 * A process (thread) using the device as hard as it can: open, read,
 * change the status to synchronised (which starts the RTC update), close.
 */
struct hammer {
	pthread_t thread;
	int stop;
	long opens;
	long changes;
};

static void *hammer_fn(void *arg)
{
	struct hammer *h = arg;

	while (!__atomic_load_n(&h->stop, __ATOMIC_RELAXED)) {
		struct timex tx = { .modes = ADJ_STATUS, .status = 0 };
		int fd = open(NTPDISC_DEVICE_PATH, O_RDWR | O_CLOEXEC);

		if (fd < 0) {
			sched_yield();
			continue;
		}
		__atomic_add_fetch(&h->opens, 1, __ATOMIC_RELAXED);
		if (ioctl(fd, NTPDISC_ADJTIMEX, &tx) >= 0)
			__atomic_add_fetch(&h->changes, 1, __ATOMIC_RELAXED);
		close(fd);
	}
	return NULL;
}

static void hammer_start(struct hammer *h)
{
	memset(h, 0, sizeof(*h));
	pthread_create(&h->thread, NULL, hammer_fn, h);
}

static void hammer_stop(struct hammer *h)
{
	__atomic_store_n(&h->stop, 1, __ATOMIC_RELAXED);
	pthread_join(h->thread, NULL);
}

FIXTURE(lifecycle) {
	int kmsg;
	int taint;
	struct clock_keeper keeper;
};

FIXTURE_SETUP(lifecycle)
{
	if (loaded())
		SKIP(return, "ntpdisc is already loaded");
	ASSERT_NE(NULL, getenv("NTPDISC_KO"));
	ASSERT_LE(0, kernel_reset());
	keeper_start(&self->keeper);
	self->taint = kernel_taint();
	self->kmsg = kmsg_mark();
}

FIXTURE_TEARDOWN(lifecycle)
{
	if (loaded()) {
		if (!access(LP_DIR, F_OK))
			lp_disable();
		nd_cli("release", NULL);
		mod_unload();
	}
	kernel_reset();
	keeper_restore(&self->keeper);
}

static void expect_clean(struct __test_metadata *_metadata,
			 FIXTURE_DATA(lifecycle) *self, const char *want)
{
	bool found;

	EXPECT_EQ(0, kmsg_scan(self->kmsg, want, &found));
	self->kmsg = -1;
	if (want) {
		if (!found)
			TH_LOG("no kernel log line with '%s'", want);
		EXPECT_TRUE(found);
	}
	EXPECT_EQ(self->taint, kernel_taint());
}

/*
 * A load whose start fails (a leap second 2 s away, the livepatch's
 * guard), while two threads open and use the device as fast as they can:
 * the load fails with EBUSY and leaves nothing behind, and no descriptor
 * is ever opened on the failing module (its memory is freed whatever
 * descriptors are open). The status the openers would set is
 * synchronised, which would start the RTC update.
 */
TEST_F_TIMEOUT(lifecycle, failed_start_vs_openers, 300)
{
	struct hammer h[2];
	int i, ret, n = 20;

	if (!have_livepatch())
		SKIP(return, "no livepatch actuator in this module");
	hammer_start(&h[0]);
	hammer_start(&h[1]);
	for (i = 0; i < n; i++) {
		/* 23:59:57.5: a leap at midnight is 2.5 s away. */
		set_time_of_day(86397, 500000000);
		ret = mod_load("steer=livepatch handover=1 adopt_status=16");
		if (ret != -EBUSY) {
			TH_LOG("load %d: %s, not EBUSY", i, strerror(-ret));
			break;
		}
		if (loaded() || !access(NTPDISC_DEVICE_PATH, F_OK)) {
			TH_LOG("load %d: module or device left behind", i);
			break;
		}
	}
	hammer_stop(&h[0]);
	hammer_stop(&h[1]);
	TH_LOG("%d failed loads, %ld + %ld opens of the failing module",
	       i, h[0].opens, h[1].opens);
	EXPECT_EQ(n, i);
	EXPECT_EQ(0, h[0].opens + h[1].opens);
	keeper_restore(&self->keeper);
	expect_clean(_metadata, self, "a leap second is due");
}

/* Set the RTC a day behind the system clock: 0 or -errno. */
static int rtc_set_behind(void)
{
	time_t t = time(NULL) - 86400;
	struct rtc_time rt = { 0 };
	struct tm tm;
	int fd, ret;

	gmtime_r(&t, &tm);
	rt.tm_sec = tm.tm_sec;
	rt.tm_min = tm.tm_min;
	rt.tm_hour = tm.tm_hour;
	rt.tm_mday = tm.tm_mday;
	rt.tm_mon = tm.tm_mon;
	rt.tm_year = tm.tm_year;
	fd = open("/dev/rtc0", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = ioctl(fd, RTC_SET_TIME, &rt) ? -errno : 0;
	close(fd);
	return ret;
}

/* Whether someone has written the system time into the RTC since. */
static bool rtc_written(void)
{
	long long rtc = -1;
	FILE *f = fopen("/sys/class/rtc/rtc0/since_epoch", "r");

	if (f) {
		if (fscanf(f, "%lld", &rtc) != 1)
			rtc = -1;
		fclose(f);
	}
	return llabs(rtc - (long long)time(NULL)) < 10;
}

/*
 * The RTC update's timer and work re-arm each other every millisecond
 * (testonly_rtc_period_ms) while the discipline is synchronised; the
 * livepatch is disabled and the module removed at a random moment of
 * that, with another thread using the device meanwhile. No cycle may
 * leave either behind: the next RTC write would run in freed memory.
 * The RTC starts each cycle a day off, so that the writes are seen.
 */
TEST_F_TIMEOUT(lifecycle, livepatch_rtc_unload_cycles, 3600)
{
	int i, ret = 0, n = cycles("NTPDISC_LIFECYCLE_LP_CYCLES"), written = 0;
	struct nd_step_watch w;
	long long t0 = now_ns(CLOCK_MONOTONIC);
	struct hammer h;

	if (!have_livepatch())
		SKIP(return, "no livepatch actuator in this module");
	if (access("/sys/class/rtc/rtc0", F_OK))
		SKIP(return, "no RTC");
	nd_step_watch_start(&w);
	hammer_start(&h);
	srand(1);
	for (i = 0; i < n; i++) {
		progress(i, t0);
		ret = rtc_set_behind();
		if (ret)
			break;
		ret = mod_load(LP_RTC_BUSY);
		if (ret)
			break;
		ret = -EIO;
		if (!lp_settle())
			break;
		sleep_ms(rand() % 20);
		if (!lp_disable())
			break;
		ret = mod_unload();
		if (ret)
			break;
		written += rtc_written();
	}
	hammer_stop(&h);
	nd_step_watch_stop(&w);
	TH_LOG("%d of %d cycles in %.1f s, %ld opens, %ld changes through the device",
	       i, n, (now_ns(CLOCK_MONOTONIC) - t0) / 1e9, h.opens, h.changes);
	TH_LOG("largest CLOCK_MONOTONIC step %lld ns, RTC written in %d cycles",
	       w.max_jump_ns, written);
	if (ret)
		TH_LOG("cycle %d: %s", i, strerror(-ret));
	EXPECT_EQ(n, i);
	EXPECT_LE(n / 4 + 1, written);
	EXPECT_LT(0, h.changes);
	EXPECT_GT(100000, w.max_jump_ns);
	/* The RTC writes must not be left running: give one a chance. */
	sleep_ms(100);
	expect_clean(_metadata, self, NULL);
}

/*
 * Loads and unloads of the clocksource actuator as fast as they go, so
 * that kthread_stop() lands while the stepping thread is still on its
 * way to sleep, and, at every other load, with a leap armed a second
 * ahead, so that the tick wakes it as the unload begins. Each unload must return (a lost wake-up
 * would hang rmmod for good).
 */
TEST_F_TIMEOUT(lifecycle, clocksource_thread_stop_cycles, 3600)
{
	long long t0 = now_ns(CLOCK_MONOTONIC), worst = 0, c0;
	int i, fd, ret = 0, n = cycles("NTPDISC_LIFECYCLE_CS_CYCLES");

	if (cs_refused(_metadata))
		SKIP(return, "steer=clocksource refused on this kernel, as it must be");
	for (i = 0; i < n; i++) {
		progress(i, t0);
		c0 = now_ns(CLOCK_MONOTONIC);
		/* Loaded at 23:59:58.9: the tick at 23:59:59 wakes it. */
		if (i & 1)
			set_time_of_day(86398, 900000000);
		ret = mod_load(i & 1 ?
			       "steer=clocksource " TESTONLY_TSC " handover=1 adopt_status=16" :
			       "steer=clocksource " TESTONLY_TSC);
		if (ret)
			break;
		fd = open(NTPDISC_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		ret = fd < 0 ? -errno : ioctl(fd, NTPDISC_RELEASE) ? -errno : 0;
		if (fd >= 0)
			close(fd);
		if (ret)
			break;
		ret = mod_unload();
		if (ret)
			break;
		if (i & 1)
			keeper_restore(&self->keeper);
		if (now_ns(CLOCK_MONOTONIC) - c0 > worst)
			worst = now_ns(CLOCK_MONOTONIC) - c0;
	}
	keeper_restore(&self->keeper);
	TH_LOG("%d of %d cycles in %.1f s, slowest %.3f s", i, n,
	       (now_ns(CLOCK_MONOTONIC) - t0) / 1e9, worst / 1e9);
	if (ret)
		TH_LOG("cycle %d: %s", i, strerror(-ret));
	EXPECT_EQ(n, i);
	expect_clean(_metadata, self, NULL);
}

/*
 * "echo 0 > /sys/kernel/livepatch/ntpdisc/enabled" without "ntpdisc
 * release": the kernel's discipline runs again, from its own state of
 * before the load; the device still answers reads from ntpdisc's and
 * refuses changes with ENODEV, reports itself released, and the module
 * goes with a plain rmmod.
 */
TEST_F_TIMEOUT(lifecycle, livepatch_manual_disable, 120)
{
	struct timex set = { .modes = ADJ_FREQUENCY, .freq = 25 << 16 };
	struct timex rd = { 0 }, krd = { 0 };
	struct ntpdisc_output out;
	struct timex k10 = { .modes = ADJ_FREQUENCY, .freq = 10 << 16 };
	int fd;

	if (!have_livepatch())
		SKIP(return, "no livepatch actuator in this module");
	ASSERT_LE(0, clock_adjtime(CLOCK_REALTIME, &k10));
	ASSERT_EQ(0, nd_cli("load", getenv("NTPDISC_KO"), NULL));
	fd = open(NTPDISC_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_LE(0, ioctl(fd, NTPDISC_ADJTIMEX, &set));
	ASSERT_TRUE(lp_disable());

	EXPECT_LE(0, ioctl(fd, NTPDISC_ADJTIMEX, &rd));
	EXPECT_EQ(25 << 16, rd.freq);
	set.freq = 30 << 16;
	EXPECT_EQ(-1, ioctl(fd, NTPDISC_ADJTIMEX, &set));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(0, ioctl(fd, NTPDISC_GET_OUTPUT, &out));
	EXPECT_TRUE(out.flags & NTPDISC_OUTPUT_RELEASED);
	close(fd);

	/* The kernel's own code answers again, from where it stood. */
	EXPECT_LE(0, clock_adjtime(CLOCK_REALTIME, &krd));
	EXPECT_EQ(10 << 16, krd.freq);
	EXPECT_EQ(0, mod_unload());
	expect_clean(_metadata, self, "livepatch disabled");
}

/*
 * Without steer= the module takes the best actuator this machine can run
 * and says which; the device reports it.
 */
TEST_F_TIMEOUT(lifecycle, steer_unset_picks_best, 120)
{
	struct ntpdisc_output out;
	__u32 want = have_livepatch() ? NTPDISC_STEER_LIVEPATCH :
					NTPDISC_STEER_NONE;
	int fd;

	ASSERT_EQ(0, mod_load(""));
	fd = open(NTPDISC_DEVICE_PATH, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, NTPDISC_GET_OUTPUT, &out));
	close(fd);
	/* Under emulation the TSC is not invariant: no clocksource. */
	EXPECT_EQ(want, out.steer);
	if (want == NTPDISC_STEER_LIVEPATCH)
		EXPECT_TRUE(lp_disable());
	EXPECT_EQ(0, mod_unload());
	expect_clean(_metadata, self, "(the best this machine can run)");
}

/*
 * A descriptor opened read-only changes nothing, through the ioctl as
 * through clock_adjtime() on the clock id: EACCES, as the POSIX clock
 * layer answers.
 */
TEST_F_TIMEOUT(lifecycle, readonly_descriptor, 60)
{
	static const unsigned int modes[] = {
		ADJ_FREQUENCY, ADJ_OFFSET_SS_READ, ADJ_OFFSET_SINGLESHOT,
		ADJ_STATUS, ADJ_SETOFFSET,
	};
	struct timex tx;
	size_t i;
	int fd, a, b, ea, eb;

	ASSERT_EQ(0, mod_load("steer=none"));
	fd = open(NTPDISC_DEVICE_PATH, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	memset(&tx, 0, sizeof(tx));
	EXPECT_LE(0, ioctl(fd, NTPDISC_ADJTIMEX, &tx));
	for (i = 0; i < ARRAY_SIZE(modes); i++) {
		memset(&tx, 0, sizeof(tx));
		tx.modes = modes[i];
		a = ioctl(fd, NTPDISC_ADJTIMEX, &tx);
		ea = errno;
		memset(&tx, 0, sizeof(tx));
		tx.modes = modes[i];
		b = clock_adjtime(NTPDISC_FD_TO_CLOCKID(fd), &tx);
		eb = errno;
		TH_LOG("modes %#x: ioctl %d (%s), clock_adjtime %d (%s)",
		       modes[i], a, strerror(ea), b, strerror(eb));
		EXPECT_EQ(-1, a);
		EXPECT_EQ(EACCES, ea);
		EXPECT_EQ(-1, b);
		EXPECT_EQ(EACCES, eb);
	}
	close(fd);
	EXPECT_EQ(0, mod_unload());
	expect_clean(_metadata, self, NULL);
}

/*
 * The TSC declared unstable while ntpdisc's clocksource, which reads it,
 * is current: within a second or two the timekeeper is back on another
 * clocksource, without a step, the kernel log says why, and the device
 * answers without steering; "ntpdisc release" then gives the kernel's
 * discipline ntpdisc's state. Last of all: the TSC stays unstable until
 * the guest reboots.
 */
TEST_F_TIMEOUT(lifecycle, clocksource_tsc_unstable, 120)
{
	struct timex k3 = { .modes = ADJ_FREQUENCY, .freq = 3 << 16 };
	struct timex set = { .modes = ADJ_FREQUENCY, .freq = 7 << 16 };
	struct nd_step_watch w;
	struct ntpdisc_output out;
	struct timex tx = { 0 }, krd = { 0 };
	char cs[64];
	int i, fd;

	if (cs_refused(_metadata))
		SKIP(return, "steer=clocksource refused on this kernel, as it must be");
	ASSERT_LE(0, clock_adjtime(CLOCK_REALTIME, &k3));
	ASSERT_EQ(0, mod_load("steer=clocksource " TESTONLY_TSC));
	nd_read_line(CS_FILE, cs, sizeof(cs));
	ASSERT_STREQ("ntpdisc", cs);
	fd = open(NTPDISC_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_LE(0, ioctl(fd, NTPDISC_ADJTIMEX, &set));
	close(fd);
	nd_step_watch_start(&w);
	sleep_ms(500);
	ASSERT_TRUE(write_file("/sys/module/ntpdisc/parameters/testonly_mark_tsc_unstable",
			       "1"));
	for (i = 0; i < 50; i++) {
		nd_read_line(CS_FILE, cs, sizeof(cs));
		if (strcmp(cs, "ntpdisc"))
			break;
		sleep_ms(100);
	}
	sleep_ms(500);
	nd_step_watch_stop(&w);
	TH_LOG("clocksource %s after %d00 ms; largest CLOCK_MONOTONIC step %lld ns",
	       cs, i, w.max_jump_ns);
	EXPECT_STRNE("ntpdisc", cs);
	EXPECT_GT(100000, w.max_jump_ns);
	fd = open(NTPDISC_DEVICE_PATH, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, ioctl(fd, NTPDISC_GET_OUTPUT, &out));
	EXPECT_TRUE(out.flags & NTPDISC_OUTPUT_RELEASED);
	EXPECT_TRUE(out.flags & NTPDISC_OUTPUT_HANDBACK_DUE);
	EXPECT_LE(0, ioctl(fd, NTPDISC_ADJTIMEX, &tx));
	close(fd);
	/* The kernel's ran on from where it stood: 3 ppm, not ntpdisc's 7. */
	EXPECT_EQ(0, nd_cli("release", NULL));
	EXPECT_LE(0, clock_adjtime(CLOCK_REALTIME, &krd));
	TH_LOG("kernel freq after release: %ld (ntpdisc had %ld)",
	       krd.freq, set.freq);
	EXPECT_EQ(set.freq, krd.freq);
	EXPECT_TRUE(wait_gone("/sys/module/ntpdisc", 5000));
	expect_clean(_metadata, self, "the TSC is unstable: handing the timekeeper back");
}

TEST_HARNESS_MAIN
