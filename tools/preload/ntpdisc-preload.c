// SPDX-License-Identifier: GPL-2.0
/*
 * libntpdisc-preload.so: with LD_PRELOAD, a dynamically linked program's
 * adjustments of the system clock go to /dev/ntpdisc instead of the kernel.
 *
 * Interposed: adjtimex, __adjtimex, ntp_adjtime, adjtime, ntp_gettime,
 * ntp_gettimex, clock_adjtime(CLOCK_REALTIME) and syscall(2) for
 * SYS_adjtimex and SYS_clock_adjtime(CLOCK_REALTIME). glibc implements all
 * of the former on top of its own internal clock_adjtime, which a preload
 * cannot reach, so each public entry point is wrapped on its own. On
 * x86-64 glibc 2.36 (Debian 12) time_t is 64 bits and there are no
 * separate __clock_adjtime64/__adjtimex64 exports to cover; 32-bit
 * targets, which have them, are not supported.
 *
 * Everything else (clock_adjtime on other clocks, settimeofday,
 * clock_settime, other system calls) goes to the next definition in the
 * lookup order, untouched: a clock set reaches the discipline through the
 * kernel as for any other caller.
 *
 * The device is reached with clock_adjtime() on its POSIX clock id rather
 * than an ioctl, because chronyd's seccomp filter (-F 1, Debian's default)
 * kills a process on an unknown ioctl but allows clock_adjtime. It is
 * opened in the constructor, while a daemon still runs as root and before
 * systemd-style sandboxes or privilege drops apply. NTPDISC_DEVICE
 * overrides the path.
 *
 * If the device cannot be opened, the intercepted calls fail with ENODEV
 * and one message on stderr: the kernel's own discipline is never used
 * behind the caller's back. Each later call tries to open it again, so a
 * module loaded after the program started is picked up, and so is a
 * descriptor the program closed (daemons that close every descriptor
 * while detaching); the open then needs the node writable for the user
 * the program runs as by then. The module cannot be unloaded while the
 * library holds the device open.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include "linux/ntpdisc.h"

#define EXPORT __attribute__((visibility("default")))

static int (*next_clock_adjtime)(clockid_t clk, struct timex *tx);
static long (*next_syscall)(long nr, ...);

static pthread_mutex_t dev_lock = PTHREAD_MUTEX_INITIALIZER;
static int dev_fd = -1;
static dev_t dev_rdev;
static int dev_errno;
static int warned;

static const char *dev_path(void)
{
	const char *p = getenv("NTPDISC_DEVICE");

	return p && *p ? p : NTPDISC_DEVICE_PATH;
}

static void resolve(void)
{
	if (!next_clock_adjtime)
		next_clock_adjtime = dlsym(RTLD_NEXT, "clock_adjtime");
	if (!next_syscall)
		next_syscall = dlsym(RTLD_NEXT, "syscall");
}

/* Called with dev_lock held. */
static void dev_open_locked(void)
{
	int fd;

	if (dev_fd >= 0)
		return;
	fd = open(dev_path(), O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		struct stat st;

		dev_fd = fd;
		dev_rdev = fstat(fd, &st) ? 0 : st.st_rdev;
		warned = 0;
	} else {
		dev_errno = errno;
	}
}

__attribute__((constructor)) static void ntpdisc_preload_init(void)
{
	resolve();
	pthread_mutex_lock(&dev_lock);
	dev_open_locked();
	pthread_mutex_unlock(&dev_lock);
}

/*
 * The clock id of the open device, or -1 with errno = ENODEV after saying
 * once on stderr why.
 */
static clockid_t dev_clock(void)
{
	clockid_t clk = -1;

	pthread_mutex_lock(&dev_lock);
	dev_open_locked();
	if (dev_fd >= 0) {
		clk = NTPDISC_FD_TO_CLOCKID(dev_fd);
	} else if (!warned) {
		warned = 1;
		fprintf(stderr,
			"libntpdisc-preload: %s: %s (is the ntpdisc module loaded?); clock adjustments fail with ENODEV\n",
			dev_path(), strerror(dev_errno));
	}
	pthread_mutex_unlock(&dev_lock);
	if (clk == -1)
		errno = ENODEV;
	return clk;
}

/*
 * After a failed call on @clk: whether the descriptor is no longer usable,
 * either because the module went away (ENODEV from the POSIX clock layer)
 * or because the program closed it (EINVAL: the id names no clock, or a
 * different file now). Forgets it so that the next call opens afresh; a
 * descriptor the program has taken over is not ours to close.
 */
static int dev_lost(clockid_t clk, int err)
{
	struct stat st;
	int lost = 0;

	pthread_mutex_lock(&dev_lock);
	if (dev_fd < 0 || NTPDISC_FD_TO_CLOCKID(dev_fd) != clk)
		goto out;
	if (err == ENODEV) {
		close(dev_fd);
		lost = 1;
	} else if (err == EINVAL) {
		lost = fstat(dev_fd, &st) || !S_ISCHR(st.st_mode) ||
		       st.st_rdev != dev_rdev;
	}
	if (lost) {
		dev_fd = -1;
		dev_errno = ENODEV;
	}
out:
	pthread_mutex_unlock(&dev_lock);
	return lost;
}

static int dev_adjtimex(struct timex *tx)
{
	clockid_t clk;
	int ret;

	resolve();
	clk = dev_clock();
	if (clk == -1)
		return -1;
	ret = next_clock_adjtime(clk, tx);
	if (ret < 0 && dev_lost(clk, errno)) {
		clk = dev_clock();
		if (clk == -1)
			return -1;
		ret = next_clock_adjtime(clk, tx);
	}
	return ret;
}

EXPORT int adjtimex(struct timex *tx)
{
	return dev_adjtimex(tx);
}

EXPORT int __adjtimex(struct timex *tx)
{
	return dev_adjtimex(tx);
}

EXPORT int ntp_adjtime(struct timex *tx)
{
	return dev_adjtimex(tx);
}

EXPORT int clock_adjtime(clockid_t clk, struct timex *tx)
{
	resolve();
	if (clk == CLOCK_REALTIME)
		return dev_adjtimex(tx);
	return next_clock_adjtime(clk, tx);
}

/*
 * adjtime(3) as glibc defines it: a single-shot slew in microseconds,
 * refused beyond what the kernel's int offset field can carry.
 */
EXPORT int adjtime(const struct timeval *delta, struct timeval *olddelta)
{
	const long long lim = INT_MAX / 1000000 - 2;
	struct timex tx = { 0 };
	long long sec, usec;

	if (delta) {
		sec = delta->tv_sec + delta->tv_usec / 1000000;
		usec = delta->tv_usec % 1000000;
		if (sec > lim || sec < -lim) {
			errno = EINVAL;
			return -1;
		}
		tx.modes = ADJ_OFFSET_SINGLESHOT;
		tx.offset = sec * 1000000 + usec;
	} else {
		tx.modes = ADJ_OFFSET_SS_READ;
	}
	if (dev_adjtimex(&tx) < 0)
		return -1;
	if (olddelta) {
		olddelta->tv_sec = tx.offset / 1000000;
		olddelta->tv_usec = tx.offset % 1000000;
	}
	return 0;
}

/*
 * As glibc: the time field is copied as the discipline returns it
 * (nanoseconds in tv_usec when STA_NANO is set), and the result is the
 * clock state. glibc's <sys/timex.h> redirects ntp_gettime() to the
 * ntp_gettimex symbol, so programs built against it call the latter;
 * the plain symbol stays for older binaries. Both are defined under
 * their link names to get past that redirection.
 */
static int dev_gettime(struct ntptimeval *ntv)
{
	struct timex tx = { .modes = 0 };
	int ret;

	ret = dev_adjtimex(&tx);
	ntv->time = tx.time;
	ntv->maxerror = tx.maxerror;
	ntv->esterror = tx.esterror;
	ntv->tai = tx.tai;
	return ret;
}

EXPORT int preload_ntp_gettime(struct ntptimeval *ntv) __asm__("ntp_gettime");
EXPORT int preload_ntp_gettime(struct ntptimeval *ntv)
{
	return dev_gettime(ntv);
}

EXPORT int preload_ntp_gettimex(struct ntptimeval *ntv) __asm__("ntp_gettimex");
EXPORT int preload_ntp_gettimex(struct ntptimeval *ntv)
{
	int ret = dev_gettime(ntv);

	ntv->__glibc_reserved1 = 0;
	ntv->__glibc_reserved2 = 0;
	ntv->__glibc_reserved3 = 0;
	ntv->__glibc_reserved4 = 0;
	return ret;
}

/*
 * syscall(2) reads six argument registers whatever the number; passing
 * six longs on keeps every other call intact.
 */
EXPORT long syscall(long nr, ...)
{
	long a[6];
	va_list ap;
	int i;

	va_start(ap, nr);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);

	resolve();
	if (nr == SYS_adjtimex)
		return dev_adjtimex((struct timex *)a[0]);
	if (nr == SYS_clock_adjtime && (clockid_t)a[0] == CLOCK_REALTIME)
		return dev_adjtimex((struct timex *)a[1]);
	return next_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
