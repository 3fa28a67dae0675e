/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel interfaces that differ between the kernels ntpdisc builds
 * for, in one place. Kbuild probes each of them (probe/NAME.c) and defines
 * NTPDISC_HAVE_* in compat_probed.h; the rest of the module uses the
 * newest form, and older kernels get it from here.
 */
#ifndef _NTPDISC_COMPAT_H
#define _NTPDISC_COMPAT_H

#include <linux/clocksource.h>
#include <linux/device.h>
#include <linux/hrtimer.h>
#include <linux/timekeeping.h>

#include "compat_probed.h"

#ifndef NTPDISC_HAVE_HRTIMER_SETUP
/* 6.13 folded the callback into the initialisation. */
static inline void hrtimer_setup(struct hrtimer *timer,
				 enum hrtimer_restart (*function)(struct hrtimer *),
				 clockid_t clock_id, enum hrtimer_mode mode)
{
	hrtimer_init(timer, clock_id, mode);
	timer->function = function;
}
#endif

/*
 * The clocksource counter and CLOCK_REALTIME at one instant: @snap's
 * cycles and the returned time.
 */
static inline ktime_t ntpdisc_snapshot_real(struct system_time_snapshot *snap)
{
#ifdef NTPDISC_HAVE_KTIME_GET_SNAPSHOT_ID
	ktime_get_snapshot_id(CLOCK_REALTIME, snap);
	return snap->systime;
#else
	ktime_get_snapshot(snap);
	return snap->real;
#endif
}

/*
 * Whether the clocksource watchdog takes a per-clocksource margin, and
 * the initialiser that gives it. Without it (the watchdog of 7.x) a
 * verified clocksource is held to within 4000 ppm of the watchdog's
 * frequency, which a steered clock leaves at its first large request.
 */
#ifdef NTPDISC_HAVE_CLOCKSOURCE_UNCERTAINTY_MARGIN
#define NTPDISC_CS_MARGIN_FIELD(ns)	.uncertainty_margin = (ns),
#else
#define NTPDISC_CS_MARGIN_FIELD(ns)
#endif

static inline bool ntpdisc_cs_watchdog_has_margin(void)
{
#ifdef NTPDISC_HAVE_CLOCKSOURCE_UNCERTAINTY_MARGIN
	return true;
#else
	return false;
#endif
}

/* A class's devnode callback named @name; its device is const from 6.2. */
#ifdef NTPDISC_HAVE_DEVNODE_CONST_DEVICE
#define NTPDISC_DEVNODE(name) char *(name)(const struct device *dev, umode_t *mode)
#else
#define NTPDISC_DEVNODE(name) char *(name)(struct device *dev, umode_t *mode)
#endif

#ifdef NTPDISC_HAVE_CLASS_CREATE_NAME_ONLY
#define ntpdisc_class_create(name)	class_create(name)
#else
#define ntpdisc_class_create(name)	class_create(THIS_MODULE, name)
#endif

/*
 * Behaviour of the kernel's own NTP code that the discipline has to copy,
 * by what changed with it (Documentation/ntpdisc.rst, "Kernel series").
 *
 * The timekeeper of the auxiliary clocks (6.17, probed as CLOCK_AUX)
 * reworked do_adjtimex(): a clock set that the timekeeper refuses no
 * longer clears the NTP state (up to 6.12 its error path does), and the
 * time handed back is read before an ADJ_SETOFFSET step, not after.
 */
static inline bool ntpdisc_refused_set_clears_ntp(void)
{
#ifdef NTPDISC_HAVE_CLOCK_AUX
	return false;
#else
	return true;
#endif
}

static inline bool ntpdisc_time_read_before_set(void)
{
#ifdef NTPDISC_HAVE_CLOCK_AUX
	return true;
#else
	return false;
#endif
}

#endif /* _NTPDISC_COMPAT_H */
