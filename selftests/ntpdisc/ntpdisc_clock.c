// SPDX-License-Identifier: GPL-2.0
/*
 * Measuring the real system clock for the steering selftests: TSC-based
 * rate fits, phases against CLOCK_MONOTONIC_RAW, busy waits, and the
 * reset of the system clock's discipline. With NTPDISC_STEER=clocksource
 * the discipline is /dev/ntpdisc's (the system calls reach the kernel's
 * idle one) and CLOCK_MONOTONIC_RAW counts ntpdisc's steered clocksource,
 * so the unsteered reference is the device's raw counter sample.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "ntpdisc_clock.h"

bool nd_have_tsc(void)
{
#ifdef __x86_64__
	return true;
#else
	return false;
#endif
}

__u64 nd_rdtsc(void)
{
#ifdef __x86_64__
	unsigned int lo, hi;

	/* lfence: rdtsc must not move across the clock read. */
	asm volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) : : "memory");
	return ((__u64)hi << 32) | lo;
#else
	return 0;
#endif
}

__s64 nd_read_clk(const struct nd_clk *c)
{
	struct timespec ts;

	if (c->sys)
		syscall(SYS_clock_gettime, c->id, &ts);
	else
		clock_gettime(c->id, &ts);
	return (__s64)ts.tv_sec * ND_NSEC_PER_SEC + ts.tv_nsec;
}

void nd_xsample(const struct nd_clk *c, int tries, struct nd_xs *s)
{
	__u64 a, b;
	__s64 v;
	int i;

	s->width = ~0ULL;
	for (i = 0; i < tries; i++) {
		a = nd_rdtsc();
		v = nd_read_clk(c);
		b = nd_rdtsc();
		if (b - a < s->width) {
			s->width = b - a;
			s->tsc = a + (b - a) / 2;
			s->ns = v;
		}
	}
}

static void fit(const struct nd_xs *v, int n, struct nd_fit *f)
{
	long double sx = 0, sy = 0, sxx = 0, sxy = 0, x, y, d, r = 0;
	long double sl, ic, den;
	int i;

	for (i = 0; i < n; i++) {
		x = (long double)(v[i].tsc - v[0].tsc);
		y = (long double)(v[i].ns - v[0].ns);
		sx += x;
		sy += y;
		sxx += x * x;
		sxy += x * y;
	}
	den = n * sxx - sx * sx;
	sl = (n * sxy - sx * sy) / den;
	ic = (sy - sl * sx) / n;
	for (i = 0; i < n; i++) {
		x = (long double)(v[i].tsc - v[0].tsc);
		y = (long double)(v[i].ns - v[0].ns);
		d = y - (ic + sl * x);
		r += d * d;
	}
	f->slope = (double)sl;
	f->rms_ns = n > 2 ? (double)sqrtl(r / (n - 2)) : 0;
	/* Standard error of the slope, relative to it. */
	f->sigma = n > 2 ? (double)(sqrtl(r / (n - 2) * n / den) / sl) * 1e6
			 : 0;
	f->span_s = (double)(v[n - 1].ns - v[0].ns) / 1e9;
	f->n = n;
}

__u64 nd_measure(const struct nd_clk *clks, int nclk, double secs, int n,
		 struct nd_fit *fits)
{
	static struct nd_xs v[16][ND_FIT_MAX];
	__s64 t0, step;
	__u64 wmax = 0;
	int i, k;

	if (n > ND_FIT_MAX)
		n = ND_FIT_MAX;
	if (nclk > 16)
		nclk = 16;
	step = (__s64)(secs * 1e9) / (n - 1);
	t0 = nd_now_ns(CLOCK_MONOTONIC);
	for (i = 0; i < n; i++) {
		if (i)
			nd_sleep_until(CLOCK_MONOTONIC, t0 + i * step);
		for (k = 0; k < nclk; k++) {
			nd_xsample(&clks[k], 16, &v[k][i]);
			if (v[k][i].width > wmax)
				wmax = v[k][i].width;
		}
	}
	for (k = 0; k < nclk; k++)
		fit(v[k], n, &fits[k]);
	return wmax;
}

double nd_ppm(double a, double b)
{
	return (a / b - 1) * 1e6;
}

double nd_tsc_hz(const struct nd_fit *raw)
{
	return 1e9 / raw->slope;
}

double nd_mult_step_ppm(double hz)
{
	/* clocksource_register_khz(): from = kHz, to = 10^6, maxsec 600 s */
	__u64 from = (__u64)(hz / 1000 + 0.5), to = 1000000, tmp;
	unsigned int sft, sftacc = 32;

	if (!from)
		return 0;
	tmp = (600ULL * 1000 * from) >> 32;
	while (tmp) {
		tmp >>= 1;
		sftacc--;
	}
	for (sft = 32; sft > 0; sft--) {
		tmp = (to << sft) + from / 2;
		tmp /= from;
		if ((tmp >> sftacc) == 0)
			break;
	}
	return tmp ? 1e6 / (double)tmp : 0;
}

__s64 nd_phase(clockid_t clk, int tries, __s64 *raw, __s64 *val)
{
	__s64 a, b, v, best = -1;
	int i;

	for (i = 0; i < tries; i++) {
		a = nd_raw_ns();
		v = nd_now_ns(clk);
		b = nd_raw_ns();
		if (best < 0 || b - a < best) {
			best = b - a;
			*raw = a + (b - a) / 2;
			*val = v;
		}
	}
	return best;
}

void nd_spin_until(clockid_t clk, __s64 t)
{
	while (nd_now_ns(clk) < t)
		;
}

void nd_sleep_until(clockid_t clk, __s64 t)
{
	struct timespec ts = {
		.tv_sec = t / ND_NSEC_PER_SEC,
		.tv_nsec = t % ND_NSEC_PER_SEC,
	};

	while (clock_nanosleep(clk, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

bool nd_cs_mode(void)
{
	static int mode = -1;
	const char *steer;

	if (mode < 0) {
		steer = getenv("NTPDISC_STEER");
		mode = steer && !strcmp(steer, "clocksource");
	}
	return mode;
}

/* The device, opened once for the whole test (read-write: it steers). */
static int cs_fd(void)
{
	static int fd = -1;

	if (fd < 0)
		fd = open(NTPDISC_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	return fd;
}

__s64 nd_raw_ns(void)
{
	struct ntpdisc_sample sm;

	if (!nd_cs_mode())
		return nd_now_ns(CLOCK_MONOTONIC_RAW);
	if (ioctl(cs_fd(), NTPDISC_GET_SAMPLE, &sm))
		return -1;
	return (__s64)sm.raw_ns;
}

int nd_sys_adjtimex(struct timex *tx)
{
	int fd;

	if (!nd_cs_mode())
		return syscall(SYS_clock_adjtime, CLOCK_REALTIME, tx);
	fd = cs_fd();
	if (fd < 0)
		return -1;
	return syscall(SYS_clock_adjtime, NTPDISC_FD_TO_CLOCKID(fd), tx);
}

int nd_sys_adjtime(const struct timeval *delta, struct timeval *old)
{
	struct timex tx;

	if (!nd_cs_mode())
		return adjtime(delta, old);
	/* What glibc's adjtime() sends, to the device. */
	memset(&tx, 0, sizeof(tx));
	if (delta) {
		tx.modes = ADJ_OFFSET_SINGLESHOT;
		tx.offset = delta->tv_sec * 1000000 + delta->tv_usec;
	} else {
		tx.modes = ADJ_OFFSET_SS_READ;
	}
	if (nd_sys_adjtimex(&tx) < 0)
		return -1;
	if (old) {
		old->tv_sec = tx.offset / 1000000;
		old->tv_usec = tx.offset % 1000000;
		if (old->tv_usec < 0) {
			old->tv_usec += 1000000;
			old->tv_sec--;
		}
	}
	return 0;
}

int nd_sys_read(struct timex *tx)
{
	int ret;

	memset(tx, 0, sizeof(*tx));
	ret = nd_sys_adjtimex(tx);
	return ret < 0 ? -errno : ret;
}

int nd_sys_freq_tick(double ppm, long tick)
{
	struct timex tx;

	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_FREQUENCY | ADJ_TICK;
	tx.freq = (long)llround(ppm * 65536);
	tx.tick = tick;
	return nd_sys_adjtimex(&tx) < 0 ? -errno : 0;
}

int nd_sys_reset(void)
{
	const struct nd_entry kernel = { .kind = ND_KERNEL, .fd = -1 };
	const struct nd_entry dev = { .kind = ND_CLOCKID, .fd = cs_fd() };

	return nd_reset(nd_cs_mode() ? &dev : &kernel);
}

static pid_t reset_owner;

static void reset_at_exit(void)
{
	int ret;

	if (getpid() != reset_owner)
		return;
	ret = nd_sys_reset();
	if (ret)
		nd_log("exit: resetting the system clock's discipline: %s",
		       strerror(-ret));
}

void nd_reset_at_exit(void)
{
	if (reset_owner)
		return;
	reset_owner = getpid();
	atexit(reset_at_exit);
}

void nd_log(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "# %s\n", buf);
}

static char logbuf[64 * 1024];
static size_t loglen;

void nd_logb(const char *fmt, ...)
{
	va_list ap;
	int n;

	if (loglen + 2 >= sizeof(logbuf))
		return;
	memcpy(logbuf + loglen, "# ", 2);
	loglen += 2;
	va_start(ap, fmt);
	n = vsnprintf(logbuf + loglen, sizeof(logbuf) - loglen - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	loglen += n;
	if (loglen > sizeof(logbuf) - 2)
		loglen = sizeof(logbuf) - 2;
	logbuf[loglen++] = '\n';
}

void nd_log_flush(void)
{
	if (loglen)
		fwrite(logbuf, 1, loglen, stderr);
	loglen = 0;
}

void nd_read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	buf[0] = '\0';
	if (f) {
		if (!fgets(buf, len, f))
			buf[0] = '\0';
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = '\0';
}

static int ntpdisc_output(struct ntpdisc_output *o)
{
	int fd = open(NTPDISC_DEVICE_PATH, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	memset(o, 0, sizeof(*o));
	ret = ioctl(fd, NTPDISC_GET_OUTPUT, o) < 0 ? -errno : 0;
	close(fd);
	return ret;
}

bool nd_ntpdisc_steers(void)
{
	struct ntpdisc_output o;

	return !ntpdisc_output(&o) && o.steer != NTPDISC_STEER_NONE;
}

void nd_print_context(const char *prog)
{
	struct ntpdisc_output o;
	char cs[64];
	int ret;

	nd_read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource",
		  cs, sizeof(cs));
	ret = ntpdisc_output(&o);
	if (ret)
		nd_log("%s: clocksource %s; /dev/ntpdisc: %s: the kernel's own discipline steers",
		       prog, cs, strerror(-ret));
	else
		nd_log("%s: clocksource %s; /dev/ntpdisc: steer %u (%s), %llu updates",
		       prog, cs, o.steer,
		       o.steer == NTPDISC_STEER_NONE ?
		       "shadow: the kernel's own discipline steers" :
		       "ntpdisc steers the system clock",
		       (unsigned long long)o.updates);
}
