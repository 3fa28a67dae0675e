// SPDX-License-Identifier: GPL-2.0
/*
 * A 32-bit program on the 64-bit kernel (built -m32, without
 * _TIME_BITS=64): glibc's struct timex is then 128 bytes of 32-bit longs.
 * clock_adjtime() on the clock id takes it (the kernel converts, as for
 * CLOCK_REALTIME); the ioctls take ntpdisc's fixed 64-bit layouts. Every
 * buffer sits between guard words that must come back untouched, and
 * what one entry point sets the other reads back.
 *
 * Needs ntpdisc loaded (any actuator). Changes the discipline's frequency
 * and restores it.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "linux/ntpdisc.h"

#define GUARD	0x5a5a5a5a5a5a5a5aULL

#define GUARDED(type)			\
	struct {			\
		__u64 before;		\
		type val;		\
		__u64 after;		\
	}

FIXTURE(compat) {
	int fd;
	long freq0;
};

FIXTURE_SETUP(compat)
{
	struct timex tx = { 0 };

	if (sizeof(long) != 4)
		SKIP(return, "not a 32-bit build");
	self->fd = open(NTPDISC_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	ASSERT_LE(0, clock_adjtime(NTPDISC_FD_TO_CLOCKID(self->fd), &tx));
	self->freq0 = tx.freq;
}

FIXTURE_TEARDOWN(compat)
{
	struct timex tx = { .modes = ADJ_FREQUENCY, .freq = self->freq0 };

	if (self->fd >= 0) {
		clock_adjtime(NTPDISC_FD_TO_CLOCKID(self->fd), &tx);
		close(self->fd);
	}
}

TEST_F(compat, layouts)
{
	/* What the 32-bit glibc and the kernel's 64-bit ABI look like. */
	EXPECT_EQ(128, sizeof(struct timex));
	EXPECT_EQ(208, sizeof(struct ntpdisc_timex));
	EXPECT_EQ(144, sizeof(struct ntpdisc_output));
	EXPECT_EQ(40, sizeof(struct ntpdisc_sample));
}

/* glibc's 32-bit struct timex through the clock id, the ioctl reading back. */
TEST_F(compat, clock_adjtime_sets_ioctl_reads)
{
	GUARDED(struct timex) g = { GUARD, { 0 }, GUARD };
	GUARDED(struct ntpdisc_timex) n = { GUARD, { 0 }, GUARD };

	g.val.modes = ADJ_FREQUENCY;
	g.val.freq = 12 << 16;
	EXPECT_LE(0, clock_adjtime(NTPDISC_FD_TO_CLOCKID(self->fd), &g.val));
	EXPECT_EQ(GUARD, g.before);
	EXPECT_EQ(GUARD, g.after);

	EXPECT_LE(0, ioctl(self->fd, NTPDISC_ADJTIMEX, &n.val));
	EXPECT_EQ(GUARD, n.before);
	EXPECT_EQ(GUARD, n.after);
	EXPECT_EQ(12 << 16, n.val.freq);
	EXPECT_EQ(g.val.tick, n.val.tick);
	EXPECT_EQ(g.val.status, n.val.status);
	EXPECT_EQ(g.val.constant, n.val.constant);
	EXPECT_EQ(g.val.tolerance, n.val.tolerance);
}

/* The ioctl sets, glibc's struct timex reads back. */
TEST_F(compat, ioctl_sets_clock_adjtime_reads)
{
	GUARDED(struct ntpdisc_timex) n = { GUARD, { 0 }, GUARD };
	GUARDED(struct timex) g = { GUARD, { 0 }, GUARD };

	n.val.modes = ADJ_FREQUENCY;
	n.val.freq = -(7 << 16);
	EXPECT_LE(0, ioctl(self->fd, NTPDISC_ADJTIMEX, &n.val));
	EXPECT_EQ(GUARD, n.before);
	EXPECT_EQ(GUARD, n.after);
	EXPECT_EQ(-(7 << 16), n.val.freq);

	EXPECT_LE(0, clock_adjtime(NTPDISC_FD_TO_CLOCKID(self->fd), &g.val));
	EXPECT_EQ(GUARD, g.before);
	EXPECT_EQ(GUARD, g.after);
	EXPECT_EQ(-(7 << 16), g.val.freq);
}

TEST_F(compat, output_and_sample)
{
	GUARDED(struct ntpdisc_output) o = { GUARD, { 0 }, GUARD };
	GUARDED(struct ntpdisc_sample) s = { GUARD, { 0 }, GUARD };
	struct timespec ts;

	EXPECT_EQ(0, ioctl(self->fd, NTPDISC_GET_OUTPUT, &o.val));
	EXPECT_EQ(GUARD, o.before);
	EXPECT_EQ(GUARD, o.after);
	EXPECT_LT(0, o.val.hz);
	EXPECT_EQ(0, ioctl(self->fd, NTPDISC_GET_SAMPLE, &s.val));
	EXPECT_EQ(GUARD, s.before);
	EXPECT_EQ(GUARD, s.after);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* The sample's CLOCK_MONOTONIC is from a moment ago. */
	EXPECT_GE((long long)ts.tv_sec * 1000000000LL + ts.tv_nsec,
		  (long long)s.val.mono_ns);
	EXPECT_LT(0, (long long)s.val.mono_ns);
}

TEST_HARNESS_MAIN
