/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared helpers for the ntpdisc selftests.
 *
 * Every test talks to two sides through the same "entry" abstraction:
 * the reference is always the guest kernel (clock_adjtime(CLOCK_REALTIME)),
 * the device under test is ntpdisc through the ioctl or through
 * clock_adjtime() on its dynamic clock id. Setting the environment variable
 * NTPDISC_SELFTEST_TARGET=kernel makes the device under test the kernel as
 * well, so that every expectation in these tests can be checked against the
 * kernel before (and independently of) the module.
 */
#ifndef NTPDISC_UTIL_H
#define NTPDISC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/timex.h>
#include <time.h>

#include <linux/types.h>

#include "linux/ntpdisc.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* Values of the Debian 6.1 amd64 guest kernel (HZ=250, USER_HZ=100). */
#define ND_HZ			250
#define ND_PHASE_LIMIT		16000000L	/* NTP_PHASE_LIMIT, us */
#define ND_TOLERANCE		32768000L	/* MAXFREQ_SCALED / PPM_SCALE */
#define ND_FREQ_MAX_VALID	140737488355LL	/* LLONG_MAX / PPM_SCALE */
#define ND_PPM_SCALE		65536000LL	/* 1000 << 16 */
#define ND_MAXFREQ_SCALED	(500000LL << 32)
#define ND_MAX_TICKADJ_SCALED	((500LL * 1000 << 32) / ND_HZ)
#define ND_NSEC_PER_SEC		1000000000LL

#ifndef ADJ_OFFSET_SS_READ
#define ADJ_OFFSET_SS_READ	0xa001
#endif
/* Kernel-internal spellings of the adjtime bits (include/linux/timex.h). */
#define ND_ADJ_ADJTIME		0x8000
#define ND_ADJ_OFFSET_READONLY	0x2000

enum nd_kind {
	ND_KERNEL,	/* clock_adjtime(CLOCK_REALTIME) */
	ND_IOCTL,	/* ioctl(fd, NTPDISC_ADJTIMEX) */
	ND_CLOCKID,	/* clock_adjtime(NTPDISC_FD_TO_CLOCKID(fd)) */
};

struct nd_entry {
	enum nd_kind kind;
	int fd;
};

/* One call: input, output, return value, errno and when it ran. */
struct nd_res {
	struct timex in;
	struct timex out;
	int ret;
	int err;
	__s64 t0;	/* CLOCK_REALTIME ns just before the call */
	__s64 t1;	/* CLOCK_REALTIME ns just after the call */
};

const char *nd_kind_name(enum nd_kind kind);
bool nd_target_is_kernel(void);
/* The kernel slews tick by tick (7.3 on), not second by second. */
bool nd_tick_slew(void);
/*
 * From 6.17 (the timekeeper of the auxiliary clocks): ADJ_SETOFFSET hands
 * back the time from before its step, and a refused step leaves the NTP
 * state alone.
 */
bool nd_aux_timekeeper(void);
/*
 * From 7.x the clocksource watchdog has no per-clocksource margin and
 * holds a verified clocksource to 4000 ppm: ntpdisc's clocksource
 * actuator refuses to load there (EOPNOTSUPP), by design.
 */
bool nd_cs_refused_by_kernel(void);
/* The running kernel's series as major * 100 + minor (601, 612, 703), or 0. */
int nd_kernel_series(void);

/* Open the device (O_RDWR) and build the entries of the variant. */
int nd_open_entries(enum nd_kind dut_kind, struct nd_entry *ref,
		    struct nd_entry *dut);
void nd_close_entries(struct nd_entry *ref, struct nd_entry *dut);

/* Raw call: returns what the syscall/ioctl returned, errno untouched. */
int nd_adjtimex(const struct nd_entry *e, struct timex *tx);
/* Filled call: copies @in, runs it and records everything in @r. */
void nd_call(const struct nd_entry *e, const struct timex *in,
	     struct nd_res *r);
int nd_get_output(const struct nd_entry *e, struct ntpdisc_output *o);
bool nd_has_output(const struct nd_entry *e);

/* A timex filled with a padding pattern, so untouched bytes are checked. */
void nd_tx_init(struct timex *tx, unsigned int modes);

/*
 * Compare the device's result with the kernel's for the same input.
 * Returns the number of differences and describes them in @buf.
 * In kernel-target mode the reference result is first adjusted for the
 * effect of running the very same call twice on one kernel (adjtime
 * returns what the first call wrote, ADJ_SETOFFSET steps twice).
 */
int nd_diff(const struct nd_res *ref, const struct nd_res *dut,
	    char *buf, size_t len);
/*
 * 7.3 on, shadow: with nd_tick_slew_count_far set, nd_diff() takes an
 * offset read-back more than three but at most ND_TICK_SLEW_FAR ticks of
 * slew off the kernel's as a match, and counts it in nd_tick_slew_far:
 * after the timekeeper gathered a run of ticks in one go the shadow can
 * count them differently (Documentation/ntpdisc.rst, "Kernel series").
 */
#define ND_TICK_SLEW_FAR	16
extern long nd_tick_slew_far;
extern bool nd_tick_slew_count_far;
/*
 * 7.3 on, shadow: pairs (nd_pair()) during which the timekeeper caught up
 * with more than two ticks at once, after a stall of the guest. The
 * kernel's side then drained those ticks from the state its call left
 * (an adjtimex call that sets the frequency or tick accumulates them
 * after its change), the shadow from the state before its call, and the
 * two read-backs of a running slew part for good.
 */
extern long nd_tick_slew_behind;
/* Print a call and its result in a form that can be pasted into a test. */
void nd_format_tx(const struct timex *tx, char *buf, size_t len);
void nd_format_res(const struct nd_res *r, char *buf, size_t len);

/* Time helpers; all CLOCK_REALTIME unless stated. */
__s64 nd_now_ns(clockid_t clk);
__s64 nd_frac_ns(__s64 t);
/* Sleep to @frac_ns into the current second if still ahead, else the next. */
void nd_sleep_to_frac(__s64 frac_ns);
/* Sleep to @frac_ns into the next second. */
void nd_sleep_next_frac(__s64 frac_ns);
void nd_sleep_ns(__s64 ns);
/* True when @t0 and @t1 lie in one second and inside [lo, hi] of it. */
bool nd_same_window(__s64 t0, __s64 t1, __s64 lo, __s64 hi);

/*
 * Run @in on the kernel, then on the device, inside one second and away
 * from its edges. Sleeps to the middle of the next second first when the
 * current one is too far gone. Returns false when the pair could not be
 * kept inside one second (the guest stalled); the results are still
 * filled in.
 */
bool nd_pair(const struct nd_entry *ref, const struct nd_entry *dut,
	     const struct timex *in, struct nd_res *rr, struct nd_res *rd);

/*
 * Put one side into the known state the tests start from: PLL off (which
 * also forces TIME_OK and disarms a leap), status STA_UNSYNC, microsecond
 * mode, offset/adjtime 0, freq 0, tick 10000, constant 2 (the boot value),
 * maxerror = esterror = 16 s, tai 0. Returns 0 or -errno of the failing
 * call.
 */
int nd_reset(const struct nd_entry *e);

/* The kernel's arithmetic, for model checks (kernel/time/ntp.c, HZ=250). */
__s64 nd_shift_right(__s64 x, int s);
__s64 nd_offset_readback(__s64 time_offset, bool nano);
__s64 nd_freq_readback(__s64 time_freq);

#endif /* NTPDISC_UTIL_H */
