// SPDX-License-Identifier: GPL-2.0
/*
 * libntpdisc-preload.so, end to end: run with LD_PRELOAD set to it, in a
 * guest, with ntpdisc loaded through the CLI (steer=clocksource and
 * steer=none). Every interposed entry point must change or read the
 * discipline behind /dev/ntpdisc and leave the kernel's own untouched;
 * everything else must reach the kernel as without the library; and with
 * no device the calls must fail with ENODEV and say so once.
 *
 * The truth is read through paths the library cannot see: the device's
 * ioctl, and the kernel's clock_adjtime through a syscall instruction of
 * our own rather than libc.
 *
 * Needs NTPDISC_KO (the module) and NTPDISC_CLI (the static ntpdisc tool);
 * the module must not be loaded when it starts. Changes the guest's clock.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "linux/ntpdisc.h"
#include "ntpdisc_cli.h"

#define TESTONLY	"testonly_ignore_tsc_invariance=1"
#define CS_FILE "/sys/devices/system/clocksource/clocksource0/current_clocksource"
#define PPM(x)		((long)((x) * 65536))
/* What the kernel's discipline is set to; no preloaded call may move it. */
#define KERNEL_FREQ	PPM(-7.25)
#define MISSING		"/nonexistent/ntpdisc"

/* The kernel's clock_adjtime, past any library. */
static long raw_clock_adjtime(clockid_t clk, struct timex *tx)
{
	long ret;

	asm volatile ("syscall"
		      : "=a" (ret)
		      : "0" ((long)SYS_clock_adjtime), "D" ((long)clk), "S" (tx)
		      : "rcx", "r11", "memory");
	return ret;
}

static int kernel_get(struct timex *tx)
{
	memset(tx, 0, sizeof(*tx));
	return raw_clock_adjtime(CLOCK_REALTIME, tx);
}

static int dev_fd = -1;

static int dev_get(struct timex *tx)
{
	memset(tx, 0, sizeof(*tx));
	return ioctl(dev_fd, NTPDISC_ADJTIMEX, tx);
}

static int dev_set(struct timex *tx)
{
	return ioctl(dev_fd, NTPDISC_ADJTIMEX, tx);
}

/*
 * Closes every descriptor of /dev/ntpdisc in this process, the library's
 * included, as a daemon's exit would: rmmod is refused while one is open.
 */
static void close_device_fds(void)
{
	char path[300], target[64];
	struct dirent *d;
	DIR *dir;
	ssize_t n;

	dir = opendir("/proc/self/fd");
	if (!dir)
		return;
	while ((d = readdir(dir))) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", d->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (!strcmp(target, NTPDISC_DEVICE_PATH))
			close(atoi(d->d_name));
	}
	closedir(dir);
	dev_fd = -1;
}

/* Whether the program's adjtimex() is the library's. */
static bool preloaded(void)
{
	void *lib = dlopen("libntpdisc-preload.so", RTLD_NOW | RTLD_NOLOAD);

	return lib && dlsym(lib, "adjtimex") == dlsym(RTLD_DEFAULT, "adjtimex");
}

typedef int (*setter_fn)(struct timex *tx);

static int via_adjtimex(struct timex *tx)
{
	return adjtimex(tx);
}

/* glibc exports __adjtimex without declaring it. */
static int via___adjtimex(struct timex *tx)
{
	int (*fn)(struct timex *tx) = dlsym(RTLD_DEFAULT, "__adjtimex");

	if (!fn) {
		errno = EFAULT;
		return -1;
	}
	return fn(tx);
}

static int via_ntp_adjtime(struct timex *tx)
{
	return ntp_adjtime(tx);
}

static int via_clock_adjtime(struct timex *tx)
{
	return clock_adjtime(CLOCK_REALTIME, tx);
}

static int via_syscall_clock_adjtime(struct timex *tx)
{
	return syscall(SYS_clock_adjtime, CLOCK_REALTIME, tx);
}

static int via_syscall_adjtimex(struct timex *tx)
{
	return syscall(SYS_adjtimex, tx);
}

static const struct {
	const char *name;
	setter_fn fn;
} setters[] = {
	{ "adjtimex", via_adjtimex },
	{ "__adjtimex", via___adjtimex },
	{ "ntp_adjtime", via_ntp_adjtime },
	{ "clock_adjtime(CLOCK_REALTIME)", via_clock_adjtime },
	{ "syscall(SYS_clock_adjtime, CLOCK_REALTIME)", via_syscall_clock_adjtime },
	{ "syscall(SYS_adjtimex)", via_syscall_adjtimex },
};

/* ntp_gettime proper: <sys/timex.h> turns a call into ntp_gettimex. */
static int call_ntp_gettime(struct ntptimeval *ntv)
{
	int (*fn)(struct ntptimeval *ntv) = dlsym(RTLD_DEFAULT, "ntp_gettime");

	return fn ? fn(ntv) : -2;
}

FIXTURE(preload) {
	struct timex kernel0;
};

FIXTURE_VARIANT(preload) {
	const char *steer;
	const char *extra;
	const char *cs;
};

FIXTURE_VARIANT_ADD(preload, clocksource) {
	.steer = "steer=clocksource", .extra = TESTONLY, .cs = "ntpdisc",
};

FIXTURE_VARIANT_ADD(preload, none) {
	.steer = "steer=none", .extra = NULL, .cs = NULL,
};

FIXTURE_SETUP(preload)
{
	struct timex tx = { .modes = ADJ_FREQUENCY | ADJ_STATUS,
			    .freq = KERNEL_FREQ, .status = STA_UNSYNC };
	char cs[64] = "";
	FILE *f;

	/* Nothing touches the clock unless run as the guest runs it. */
	if (!getenv("NTPDISC_KO") || !getenv("NTPDISC_CLI"))
		SKIP(return, "NTPDISC_KO and NTPDISC_CLI are needed");
	ASSERT_TRUE(preloaded()) {
		TH_LOG("adjtimex is not the library's: LD_PRELOAD is not in effect");
	}
	ASSERT_EQ(0, nd_cli("load", getenv("NTPDISC_KO"), variant->steer,
			    variant->extra, NULL));
	/* The kernel's discipline, distinct from anything set below. */
	ASSERT_LE(0, raw_clock_adjtime(CLOCK_REALTIME, &tx));
	dev_fd = open(NTPDISC_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, dev_fd);
	if (variant->cs) {
		f = fopen(CS_FILE, "r");
		ASSERT_NE(NULL, f);
		ASSERT_NE(NULL, fgets(cs, sizeof(cs), f));
		fclose(f);
		cs[strcspn(cs, "\n")] = '\0';
		ASSERT_STREQ(variant->cs, cs);
	}
	ASSERT_LE(0, kernel_get(&self->kernel0));
}

FIXTURE_TEARDOWN(preload)
{
	struct timex tx = { .modes = ADJ_FREQUENCY, .freq = 0 };

	if (!getenv("NTPDISC_KO") || !getenv("NTPDISC_CLI"))
		return;
	close_device_fds();
	if (access("/sys/module/ntpdisc", F_OK) == 0)
		nd_cli("release", NULL);
	raw_clock_adjtime(CLOCK_REALTIME, &tx);
}

/* Each setter moves the device's frequency and not the kernel's. */
TEST_F(preload, setters_reach_device)
{
	struct timex tx, dev, ker;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(setters); i++) {
		long want = PPM(11.5 + 3 * i);

		memset(&tx, 0, sizeof(tx));
		tx.modes = ADJ_FREQUENCY;
		tx.freq = want;
		EXPECT_LE(0, setters[i].fn(&tx)) {
			TH_LOG("%s: %s", setters[i].name, strerror(errno));
		}
		ASSERT_LE(0, dev_get(&dev));
		ASSERT_LE(0, kernel_get(&ker));
		EXPECT_EQ(want, dev.freq) {
			TH_LOG("%s: device freq %ld, want %ld",
			       setters[i].name, dev.freq, want);
		}
		EXPECT_EQ(KERNEL_FREQ, ker.freq) {
			TH_LOG("%s: kernel freq moved to %ld", setters[i].name,
			       ker.freq);
		}
		/* A read through it returns the device's value too. */
		memset(&tx, 0, sizeof(tx));
		EXPECT_LE(0, setters[i].fn(&tx));
		EXPECT_EQ(want, tx.freq);
	}
}

/* adjtime(3): a single-shot slew pending on the device only. */
TEST_F(preload, adjtime_reaches_device)
{
	struct timeval delta = { .tv_sec = 0, .tv_usec = 250000 }, old;
	struct timex dev, ker = { .modes = ADJ_OFFSET_SS_READ };

	ASSERT_EQ(0, adjtime(&delta, NULL));
	memset(&dev, 0, sizeof(dev));
	dev.modes = ADJ_OFFSET_SS_READ;
	ASSERT_LE(0, dev_set(&dev));
	EXPECT_LT(200000, dev.offset);
	EXPECT_GE(250000, dev.offset);
	ASSERT_LE(0, raw_clock_adjtime(CLOCK_REALTIME, &ker));
	EXPECT_EQ(0, ker.offset);
	ASSERT_EQ(0, adjtime(NULL, &old));
	EXPECT_EQ(0, old.tv_sec);
	EXPECT_LT(200000, old.tv_usec);
	delta.tv_usec = 0;
	ASSERT_EQ(0, adjtime(&delta, NULL));
}

/* ntp_gettime and ntp_gettimex report the device's errors and state. */
TEST_F(preload, gettime_reads_device)
{
	struct timex dev = { .modes = ADJ_MAXERROR | ADJ_ESTERROR | ADJ_STATUS,
			     .maxerror = 123456, .esterror = 4321,
			     .status = 0 };
	struct ntptimeval ntv;
	struct timespec now;
	int i, st;

	ASSERT_EQ(TIME_OK, dev_set(&dev));
	for (i = 0; i < 2; i++) {
		const char *name = i ? "ntp_gettimex" : "ntp_gettime";

		memset(&ntv, 0x55, sizeof(ntv));
		st = i ? ntp_gettimex(&ntv) : call_ntp_gettime(&ntv);
		clock_gettime(CLOCK_REALTIME, &now);
		/* The kernel's discipline is unsynchronised: TIME_ERROR. */
		EXPECT_EQ(TIME_OK, st) {
			TH_LOG("%s returned %d", name, st);
		}
		/* maxerror grows by 500 us each second. */
		EXPECT_LE(123456, ntv.maxerror);
		EXPECT_GT(123456 + 5000, ntv.maxerror) {
			TH_LOG("%s: maxerror %ld", name, ntv.maxerror);
		}
		EXPECT_EQ(4321, ntv.esterror);
		EXPECT_GE(1, labs(now.tv_sec - ntv.time.tv_sec));
		ASSERT_LE(0, dev_get(&dev));
		EXPECT_EQ(dev.tai, ntv.tai);
		if (i) {
			EXPECT_EQ(0, ntv.__glibc_reserved1 | ntv.__glibc_reserved2 |
				  ntv.__glibc_reserved3 | ntv.__glibc_reserved4);
		}
	}
	dev.modes = ADJ_STATUS;
	dev.status = STA_UNSYNC;
	ASSERT_LE(0, dev_set(&dev));
}

/* Other clocks and other system calls are the kernel's, arguments intact. */
TEST_F(preload, others_pass_through)
{
	struct timex tx, raw;
	struct timespec a, b;
	long r1, r2;
	int e1;
	void *p;

	/* The device's own clock id is another clock: it passes. */
	memset(&tx, 0, sizeof(tx));
	EXPECT_LE(0, clock_adjtime(NTPDISC_FD_TO_CLOCKID(dev_fd), &tx));
	/* Clocks that cannot be adjusted fail exactly as they do raw. */
	memset(&tx, 0, sizeof(tx));
	memset(&raw, 0, sizeof(raw));
	r1 = clock_adjtime(CLOCK_MONOTONIC, &tx);
	e1 = errno;
	r2 = raw_clock_adjtime(CLOCK_MONOTONIC, &raw);
	EXPECT_EQ(-1, r1);
	EXPECT_EQ(-e1, r2);
	r1 = syscall(SYS_clock_adjtime, CLOCK_MONOTONIC, &tx);
	EXPECT_EQ(-1, r1);
	EXPECT_EQ(-e1, -errno);
	/* CLOCK_TAI: the kernel's answer, not the device's. */
	memset(&tx, 0, sizeof(tx));
	r1 = clock_adjtime(CLOCK_TAI, &tx);
	e1 = errno;
	r2 = raw_clock_adjtime(CLOCK_TAI, &raw);
	EXPECT_EQ(-1, r1);
	EXPECT_EQ(-e1, r2);
	/* Unrelated system calls, up to six arguments. */
	EXPECT_EQ(getpid(), syscall(SYS_getpid));
	EXPECT_EQ(0, syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &a));
	clock_gettime(CLOCK_MONOTONIC, &b);
	EXPECT_GE(1, labs(b.tv_sec - a.tv_sec));
	p = (void *)syscall(SYS_mmap, NULL, 8192, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 1, 8192);
	EXPECT_EQ(0, munmap(p, 8192));
	/* The kernel's own discipline is where the setup left it. */
	ASSERT_LE(0, kernel_get(&tx));
	EXPECT_EQ(KERNEL_FREQ, tx.freq);
	EXPECT_EQ(self->kernel0.status, tx.status);
}

/*
 * After "ntpdisc release" the calls fail; nothing falls back. (Release
 * hands the device's frequency to the kernel, so the kernel's value is
 * taken after it.)
 */
TEST_F(preload, unload_gives_enodev)
{
	struct timex tx = { .modes = ADJ_FREQUENCY, .freq = PPM(33) };
	struct timex ker0, ker1;

	/* The library has it open from the setup's calls. */
	EXPECT_LE(0, adjtimex(&tx));
	close_device_fds();
	ASSERT_EQ(0, nd_cli("release", NULL));
	ASSERT_LE(0, kernel_get(&ker0));
	tx.freq = PPM(55);
	errno = 0;
	EXPECT_EQ(-1, adjtimex(&tx));
	EXPECT_EQ(ENODEV, errno);
	errno = 0;
	EXPECT_EQ(-1, syscall(SYS_adjtimex, &tx));
	EXPECT_EQ(ENODEV, errno);
	errno = 0;
	EXPECT_EQ(-1, clock_adjtime(CLOCK_REALTIME, &tx));
	EXPECT_EQ(ENODEV, errno);
	ASSERT_LE(0, kernel_get(&ker1));
	EXPECT_EQ(ker0.freq, ker1.freq);
}

/*
 * Child side of missing_device: NTPDISC_DEVICE names nothing. Prints one
 * line per entry point, "name rc errno".
 */
static int missing_child(void)
{
	struct timex tx = { .modes = ADJ_FREQUENCY, .freq = PPM(44) };
	struct timeval tv = { 0, 1000 };
	struct ntptimeval ntv;
	size_t i;
	int r;

	for (i = 0; i < ARRAY_SIZE(setters); i++) {
		errno = 0;
		r = setters[i].fn(&tx);
		printf("%d %d\n", r, errno);
	}
	errno = 0;
	r = adjtime(&tv, NULL);
	printf("%d %d\n", r, errno);
	errno = 0;
	r = call_ntp_gettime(&ntv);
	printf("%d %d\n", r, errno);
	errno = 0;
	r = ntp_gettimex(&ntv);
	printf("%d %d\n", r, errno);
	return 0;
}

/* Reads all of @fd into @buf; returns its length. */
static size_t slurp(int fd, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;

	while (n + 1 < len && (r = read(fd, buf + n, len - 1 - n)) > 0)
		n += r;
	buf[n] = '\0';
	return n;
}

TEST(missing_device)
{
	int out[2], err[2], status, lines = 0, n = 0, r, e;
	char obuf[1024], ebuf[1024], *s;
	struct timex ker;
	pid_t pid;

	ASSERT_TRUE(preloaded());
	ASSERT_LE(0, kernel_get(&ker));
	ASSERT_EQ(0, pipe(out));
	ASSERT_EQ(0, pipe(err));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		setenv("NTPDISC_DEVICE", MISSING, 1);
		execl("/proc/self/exe", "ntpdisc_preload_test", "--missing-child",
		      (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	slurp(out[0], obuf, sizeof(obuf));
	slurp(err[0], ebuf, sizeof(ebuf));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (s = obuf; sscanf(s, "%d %d", &r, &e) == 2; s = strchr(s, '\n') + 1) {
		EXPECT_EQ(-1, r);
		EXPECT_EQ(ENODEV, e);
		n++;
	}
	EXPECT_EQ(ARRAY_SIZE(setters) + 3, n) {
		TH_LOG("child output: %s", obuf);
	}
	for (s = ebuf; *s; s++)
		lines += *s == '\n';
	EXPECT_EQ(1, lines) {
		TH_LOG("stderr: %s", ebuf);
	}
	EXPECT_NE(NULL, strstr(ebuf, MISSING));
	EXPECT_NE(NULL, strstr(ebuf, "libntpdisc-preload"));
	/* Nothing reached the kernel instead. */
	{
		struct timex now;

		ASSERT_LE(0, kernel_get(&now));
		EXPECT_EQ(ker.freq, now.freq);
	}
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--missing-child"))
		return missing_child();
	return test_harness_run(argc, argv);
}
