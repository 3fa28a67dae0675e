/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Measuring the real system clock for the steering selftests
 * (ntpdisc_steer, _phase, _step, _leapclock, _stress).
 *
 * These tests talk only to the system clock through the system calls
 * (clock_adjtime(CLOCK_REALTIME), adjtimex(2), settimeofday(2), ...) and
 * measure what the clocks do. They pass against the plain kernel, whose
 * own discipline steers the clock, and must pass unchanged when ntpdisc
 * steers it (steer=livepatch).
 *
 * Rates are measured against the raw TSC read from user space: every clock
 * reading is taken between two rdtsc and the narrowest of several tries
 * wins; a straight line through the samples of a window gives the clock's
 * nanoseconds per TSC cycle. Rates of two states are compared as a ratio,
 * so the TSC frequency (calibrated against CLOCK_MONOTONIC_RAW and only
 * printed) cancels out. Phases are measured against CLOCK_MONOTONIC_RAW,
 * which no adjtimex call may change.
 */
#ifndef NTPDISC_CLOCK_H
#define NTPDISC_CLOCK_H

#include <stdbool.h>
#include <sys/timex.h>
#include <sys/time.h>
#include <time.h>

#include <linux/types.h>

#include "ntpdisc_util.h"

#ifndef CLOCK_TAI
#define CLOCK_TAI	11
#endif

/* One clock to measure: its id, whether to bypass the vDSO, a name. */
struct nd_clk {
	clockid_t id;
	bool sys;
	const char *name;
};

/* One reading of @c in ns, through the vDSO or the system call. */
__s64 nd_read_clk(const struct nd_clk *c);

/* A clock reading and the TSC at its middle. */
struct nd_xs {
	__u64 tsc;
	__s64 ns;
	__u64 width;	/* TSC cycles between the two rdtsc */
};

/* Straight line through the samples of one clock in one window. */
struct nd_fit {
	double slope;	/* clock ns per TSC cycle */
	double sigma;	/* standard error of the slope, relative (ppm) */
	double rms_ns;	/* residual of the samples around the line */
	double span_s;	/* window length, seconds of this clock */
	int n;
};

#define ND_FIT_MAX	64

bool nd_have_tsc(void);
__u64 nd_rdtsc(void);
/* Read @c between two rdtsc; the narrowest of @tries. */
void nd_xsample(const struct nd_clk *c, int tries, struct nd_xs *s);
/*
 * Sample every clock of @clks @n times (n <= ND_FIT_MAX), evenly over
 * @secs seconds, and fit each. Returns the largest read width seen, in
 * TSC cycles.
 */
__u64 nd_measure(const struct nd_clk *clks, int nclk, double secs, int n,
		 struct nd_fit *fits);
/* (a / b - 1) in ppm. */
double nd_ppm(double a, double b);
/* TSC frequency in Hz, from a fit of CLOCK_MONOTONIC_RAW. */
double nd_tsc_hz(const struct nd_fit *raw);
/*
 * The relative size of one step of the clocksource's mult for a TSC of
 * @hz, as the kernel picks mult and shift for it (clocks_calc_mult_shift()
 * with 600 s): the timekeeper's rate moves in these steps.
 */
double nd_mult_step_ppm(double hz);

/*
 * Phase of @clk against CLOCK_MONOTONIC_RAW: @clk - raw, both in ns, with
 * raw read before and after @clk and the narrowest of @tries kept. @raw
 * gets the raw time, @val the clock's; returns the width in ns.
 */
__s64 nd_phase(clockid_t clk, int tries, __s64 *raw, __s64 *val);

/* Busy-wait (keeps this CPU's tick running) until @clk reaches @t ns. */
void nd_spin_until(clockid_t clk, __s64 t);
void nd_sleep_until(clockid_t clk, __s64 t);

/*
 * NTPDISC_STEER=clocksource: ntpdisc steers its own clocksource. Its
 * discipline is reached through the device, and CLOCK_MONOTONIC_RAW
 * follows the steered rate (a documented cost of that backend).
 */
bool nd_cs_mode(void);
/*
 * An unsteered clock in ns: CLOCK_MONOTONIC_RAW, or with the clocksource
 * backend the raw TSC time of /dev/ntpdisc's NTPDISC_GET_SAMPLE.
 */
__s64 nd_raw_ns(void);

/*
 * The system clock's adjtimex: clock_adjtime(CLOCK_REALTIME), or with the
 * clocksource backend clock_adjtime() on /dev/ntpdisc's clock id.
 */
int nd_sys_adjtimex(struct timex *tx);
/* adjtime(3) on that discipline; 0 or -1 with errno. */
int nd_sys_adjtime(const struct timeval *delta, struct timeval *old);
/* Read the state (modes 0); returns the state or -errno. */
int nd_sys_read(struct timex *tx);
/* Set freq (ppm) and tick through clock_adjtime; 0 or -errno. */
int nd_sys_freq_tick(double ppm, long tick);

/*
 * Put the system clock's discipline into the known state (nd_reset() on
 * the system call path), now and when the process exits normally (the
 * harness parent), so a failed or killed test leaves no steering behind.
 */
int nd_sys_reset(void);
void nd_reset_at_exit(void);

/* The first line of @path without its newline; empty if unreadable. */
void nd_read_line(const char *path, char *buf, size_t len);

/* Print what is being measured: clocksource, ntpdisc, TSC. */
void nd_print_context(const char *prog);
/* /dev/ntpdisc is loaded and steers the system clock (not shadow mode). */
bool nd_ntpdisc_steers(void);

/* Diagnostic line, "# " prefixed, unbuffered (the harness forks). */
void nd_log(const char *fmt, ...);
/*
 * The same, kept in memory until nd_log_flush(): console output stalls
 * the emulated guest (and its tick) for up to hundreds of milliseconds,
 * so nothing is printed while a measurement runs.
 */
void nd_logb(const char *fmt, ...);
void nd_log_flush(void);

#define ND_US(x)	((__s64)(x) * 1000)
#define ND_MSEC(x)	((__s64)(x) * 1000 * 1000)
#define ND_SEC(x)	((__s64)(x) * ND_NSEC_PER_SEC)

#endif /* NTPDISC_CLOCK_H */
