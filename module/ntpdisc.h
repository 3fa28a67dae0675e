/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ntpdisc internals shared by the device and the actuators.
 *
 * An actuator owns one discipline and decides what its output does to the
 * system clock. The device only moves requests between user space and the
 * selected actuator.
 */
#ifndef _NTPDISC_NTPDISC_H
#define _NTPDISC_NTPDISC_H

#include <linux/ktime.h>
#include <linux/time64.h>
#include <linux/timex.h>
#include <linux/types.h>

#include "discipline.h"
#include "linux/ntpdisc.h"

/**
 * struct ntpdisc_actuator - one way of acting on the discipline's output
 * @name: the value of the steer= module parameter that selects it
 * @steer: NTPDISC_STEER_* reported in struct ntpdisc_output
 * @unusable: optional; why this machine cannot run the actuator, or NULL
 *	if it can. A steer= that names it then fails the load; without
 *	steer= the next actuator is tried
 * @prepare: set up the discipline, from @from when the loader handed the
 *	kernel's discipline over, else from the boot defaults; touches
 *	nothing else and cannot fail
 * @start: take over; called once at load, after the device exists but
 *	before anyone can open it, as the last step that may fail
 * @stop: let go; undoes @start completely, also a @start that failed
 * @release: optional; stop steering but keep answering, so that the
 *	module can be removed; NTPDISC_RELEASE
 * @adjtimex: adjtimex(2) on the discipline, checks and privileges
 *	included; returns the clock state or a negative errno
 * @gettime: the discipline's CLOCK_REALTIME
 * @output: fill in what the discipline currently steers
 */
struct ntpdisc_actuator {
	const char *name;
	u32 steer;
	const char *(*unusable)(void);
	void (*prepare)(const struct discipline_handover *from);
	int (*start)(void);
	void (*stop)(void);
	int (*release)(void);
	int (*adjtimex)(struct __kernel_timex *txc);
	void (*gettime)(struct timespec64 *ts);
	void (*output)(struct ntpdisc_output *out);
};

extern const struct ntpdisc_actuator ntpdisc_shadow;
#ifdef NTPDISC_LIVEPATCH
extern const struct ntpdisc_actuator ntpdisc_livepatch;
#endif
#ifdef NTPDISC_CLOCKSOURCE
extern const struct ntpdisc_actuator ntpdisc_clocksource;
#endif

bool ntpdisc_may_set_time(void);

struct audit_ntp_data;
void ntpdisc_audit_snapshot(struct audit_ntp_data *ad,
			    const struct discipline *disc, s32 tai,
			    const struct __kernel_timex *txc, bool after);
void ntpdisc_audit_log(const struct audit_ntp_data *ad);

/**
 * struct ntpdisc_offsets - the clocks' offsets from CLOCK_MONOTONIC
 * @real: CLOCK_REALTIME - CLOCK_MONOTONIC
 * @boot: CLOCK_BOOTTIME - CLOCK_MONOTONIC: the time spent asleep
 */
struct ntpdisc_offsets {
	ktime_t real;
	ktime_t boot;
};

void ntpdisc_read_offsets(struct ntpdisc_offsets *offs);
bool ntpdisc_offsets_still(const struct ntpdisc_offsets *offs);
s64 ntpdisc_offsets_moved(struct ntpdisc_offsets *seen,
			  const struct ntpdisc_offsets *now, s64 *slept_ns);

/* The benchmark's debugfs file (debug.c) and what it may measure. */
void ntpdisc_debug_init(void);
void ntpdisc_debug_exit(void);
#ifdef NTPDISC_CLOCKSOURCE
struct clocksource *ntpdisc_cs_clocksource(void);
#else
static inline struct clocksource *ntpdisc_cs_clocksource(void)
{
	return NULL;
}
#endif
void ntpdisc_fill_output(const struct discipline *disc,
			 struct ntpdisc_output *out);

#endif /* _NTPDISC_NTPDISC_H */
