// SPDX-License-Identifier: GPL-2.0
/*
 * ntpdisc: an alternate NTP discipline for the system clock.
 *
 * This file is the module and its character device, /dev/ntpdisc, a
 * dynamic POSIX clock: requests arrive through its ioctl or through
 * clock_adjtime() on its clock id and are handed to the actuator chosen
 * with steer=.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/cdev.h>
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/kdev_t.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/posix-clock.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>

#ifdef CONFIG_X86_TSC
#include <asm/tsc.h>
#endif

#include "compat.h"
#include "ntpdisc.h"

/* Unset: the first actuator of ntpdisc_actuators[] this machine can run. */
static char *steer;
module_param(steer, charp, 0444);
MODULE_PARM_DESC(steer,
		 "actuator: livepatch (take over the kernel's NTP code), clocksource (steer a clocksource of ntpdisc's) or none (shadow, touches no clock); unset: the first of these that this machine can run; one named that cannot run fails the load");

/*
 * The kernel discipline's state, handed over by the loader ("ntpdisc
 * load" reads it with adjtimex(2)), so that taking over is seamless.
 */
static bool handover;
module_param(handover, bool, 0444);
MODULE_PARM_DESC(handover, "start from the adopt_* values, not the boot defaults");
static long adopt_tick = DISC_TICK_USEC_DEFAULT;
module_param(adopt_tick, long, 0444);
MODULE_PARM_DESC(adopt_tick, "tick (us) to start from");
static long adopt_freq;
module_param(adopt_freq, long, 0444);
MODULE_PARM_DESC(adopt_freq, "frequency (ppm << 16) to start from");
static int adopt_status = STA_UNSYNC;
module_param(adopt_status, int, 0444);
MODULE_PARM_DESC(adopt_status, "status bits to start from");
static long adopt_constant = 2;
module_param(adopt_constant, long, 0444);
MODULE_PARM_DESC(adopt_constant, "time constant (as read back) to start from");
static long adopt_maxerror = DISC_PHASE_LIMIT;
module_param(adopt_maxerror, long, 0444);
MODULE_PARM_DESC(adopt_maxerror, "maximum error (us) to start from");
static long adopt_esterror = DISC_PHASE_LIMIT;
module_param(adopt_esterror, long, 0444);
MODULE_PARM_DESC(adopt_esterror, "estimated error (us) to start from");
static int adopt_tai;
module_param(adopt_tai, int, 0444);
MODULE_PARM_DESC(adopt_tai, "TAI - UTC (s) to start from (clocksource and shadow mode)");
static long adopt_offset_ns;
module_param(adopt_offset_ns, long, 0444);
MODULE_PARM_DESC(adopt_offset_ns, "phase still to be slewed (ns) to start from");
static long adopt_adjust_us;
module_param(adopt_adjust_us, long, 0444);
MODULE_PARM_DESC(adopt_adjust_us, "adjtime slew still to be applied (us) to start from");
static int adopt_state = TIME_ERROR;
module_param(adopt_state, int, 0444);
MODULE_PARM_DESC(adopt_state, "clock state (TIME_OK .. TIME_WAIT) to start from; TIME_ERROR: unknown");

#ifdef NTPDISC_LIVEPATCH
#define NTPDISC_STEER_LP	"livepatch, "
#else
#define NTPDISC_STEER_LP	""
#endif
#ifdef NTPDISC_CLOCKSOURCE
#define NTPDISC_STEER_CS	"clocksource, "
#else
#define NTPDISC_STEER_CS	""
#endif
#define NTPDISC_STEER_BUILT	NTPDISC_STEER_LP NTPDISC_STEER_CS "none"

/* In order of preference. */
static const struct ntpdisc_actuator *const ntpdisc_actuators[] = {
#ifdef NTPDISC_LIVEPATCH
	&ntpdisc_livepatch,
#endif
#ifdef NTPDISC_CLOCKSOURCE
	&ntpdisc_clocksource,
#endif
	&ntpdisc_shadow,
};

/* The ioctl and clock_adjtime() share one layout with the kernel's. */
static_assert(sizeof(struct ntpdisc_timex) == sizeof(struct __kernel_timex));
static_assert(offsetof(struct ntpdisc_timex, status) ==
	      offsetof(struct __kernel_timex, status));
static_assert(offsetof(struct ntpdisc_timex, time) ==
	      offsetof(struct __kernel_timex, time));
static_assert(offsetof(struct ntpdisc_timex, stbcnt) ==
	      offsetof(struct __kernel_timex, stbcnt));
static_assert(offsetof(struct ntpdisc_timex, tai) ==
	      offsetof(struct __kernel_timex, tai));

/*
 * The kernel's PPS discipline is not reproduced; it never coexists with
 * tickless kernels, which is every distribution kernel.
 */
#ifdef CONFIG_NTP_PPS
#error "ntpdisc does not implement the kernel PPS discipline (CONFIG_NTP_PPS)"
#endif

/**
 * struct ntpdisc_dev - the /dev/ntpdisc clock
 * @clock: the POSIX clock, whose character device it is
 * @dev: its device; frees this structure on the last reference
 * @actuator: where requests go
 * @node: the child device that carries the device number and node
 * @live: the actuator runs; until then opening the device fails
 */
struct ntpdisc_dev {
	struct posix_clock clock;
	struct device dev;
	const struct ntpdisc_actuator *actuator;
	struct device *node;
	bool live;
};

static dev_t ntpdisc_devt;
static struct class *ntpdisc_class;
static struct ntpdisc_dev *ntpdisc_dev;

/**
 * ntpdisc_may_set_time() - the privilege check of adjtimex(2)
 *
 * Return: true if the caller holds CAP_SYS_TIME.
 */
bool ntpdisc_may_set_time(void)
{
	return capable(CAP_SYS_TIME);
}

/**
 * ntpdisc_fill_output() - report a discipline's output
 * @disc: the discipline, held still by the caller
 * @out: filled in, except for what only the actuator knows
 */
void ntpdisc_fill_output(const struct discipline *disc,
			 struct ntpdisc_output *out)
{
	out->tick_length = discipline_tick_length(disc);
	out->tick_length_base = disc->tick_length_base;
	out->second_length = discipline_second_length(disc);
	out->phase_adj = disc->phase_adj;
	out->adjtime_adj = disc->adjtime_adj;
	out->time_offset = disc->time_offset;
	out->time_freq = disc->time_freq;
	out->time_adjust = disc->time_adjust;
	out->next_leap_sec = disc->next_leap_sec == TIME64_MAX ?
			     -1 : disc->next_leap_sec;
	out->time_state = disc->time_state;
	out->hz = DISC_HZ;
}

/**
 * ntpdisc_audit_snapshot() - note what the audit log records of a change
 * @ad: the audit record being built, from audit_ntp_init()
 * @disc: the discipline, held still by the caller
 * @tai: the TAI offset the request works on
 * @txc: the request; only one that changes something is recorded
 * @after: false before the request is applied, true after
 *
 * The same values, at the same points, as the kernel's adjtimex code
 * records for AUDIT_TIME_ADJNTPVAL: the adjtime() remainder for adjtime,
 * else offset, frequency, status, TAI offset and tick.
 */
void ntpdisc_audit_snapshot(struct audit_ntp_data *ad,
			    const struct discipline *disc, s32 tai,
			    const struct __kernel_timex *txc, bool after)
{
	void (*set)(struct audit_ntp_data *, enum audit_ntp_type, long long) =
		after ? audit_ntp_set_new : audit_ntp_set_old;

	if (txc->modes & DISC_ADJ_ADJTIME) {
		if (!(txc->modes & DISC_ADJ_READONLY))
			set(ad, AUDIT_NTP_ADJUST, disc->time_adjust);
		return;
	}
	if (!txc->modes)
		return;
	set(ad, AUDIT_NTP_OFFSET, disc->time_offset);
	set(ad, AUDIT_NTP_FREQ, disc->time_freq);
	set(ad, AUDIT_NTP_STATUS, disc->time_status);
	set(ad, AUDIT_NTP_TAI, tai);
	set(ad, AUDIT_NTP_TICK, disc->tick_usec);
}

/**
 * ntpdisc_audit_log() - audit a change made through /dev/ntpdisc
 * @ad: the record that ntpdisc_audit_snapshot() built
 *
 * One AUDIT_TIME_ADJNTPVAL record per value that changed, in the format
 * of the kernel's, in the caller's audit event (the ioctl or
 * clock_adjtime() call), when that event is audited at all. The kernel
 * keeps such records in the task's audit context until the system call
 * ends, which a module cannot reach; they are written at once instead.
 * Process context; not under a spinlock.
 */
void ntpdisc_audit_log(const struct audit_ntp_data *ad)
{
#ifdef CONFIG_AUDITSYSCALL
	static const char * const names[AUDIT_NTP_NVALS] = {
		[AUDIT_NTP_OFFSET] = "offset",
		[AUDIT_NTP_FREQ] = "freq",
		[AUDIT_NTP_STATUS] = "status",
		[AUDIT_NTP_TAI] = "tai",
		[AUDIT_NTP_TICK] = "tick",
		[AUDIT_NTP_ADJUST] = "adjust",
	};
	int i;

	if (audit_dummy_context())
		return;
	for (i = 0; i < AUDIT_NTP_NVALS; i++)
		if (ad->vals[i].oldval != ad->vals[i].newval)
			audit_log(audit_context(), GFP_KERNEL,
				  AUDIT_TIME_ADJNTPVAL,
				  "op=%s old=%lli new=%lli", names[i],
				  ad->vals[i].oldval, ad->vals[i].newval);
#endif
}

/**
 * ntpdisc_read_offsets() - read the clocks' offsets from CLOCK_MONOTONIC
 * @offs: gets CLOCK_REALTIME's and CLOCK_BOOTTIME's offsets
 *
 * Two reads: a clock set or a resume may come between them, which
 * ntpdisc_offsets_still() tells.
 */
void ntpdisc_read_offsets(struct ntpdisc_offsets *offs)
{
	offs->real = ktime_mono_to_any(0, TK_OFFS_REAL);
	offs->boot = ktime_mono_to_any(0, TK_OFFS_BOOT);
}

/**
 * ntpdisc_offsets_still() - whether offsets read earlier still hold
 * @offs: what ntpdisc_read_offsets() gave
 *
 * Return: true if neither offset has moved since, so that clocks read in
 * between are on one side of any clock set or resume.
 */
bool ntpdisc_offsets_still(const struct ntpdisc_offsets *offs)
{
	struct ntpdisc_offsets now;

	ntpdisc_read_offsets(&now);
	return !ktime_compare(now.real, offs->real) &&
	       !ktime_compare(now.boot, offs->boot);
}

/**
 * ntpdisc_offsets_moved() - tell a clock set from a suspend
 * @seen: the offsets when last looked at; updated to @now
 * @now: the offsets now
 * @slept_ns: gets the time spent asleep since @seen, 0 if none
 *
 * A resume moves CLOCK_REALTIME and CLOCK_BOOTTIME against
 * CLOCK_MONOTONIC by the same time asleep, which is no clock set for the
 * kernel's discipline. A set, or a leap, moves CLOCK_REALTIME alone.
 *
 * Return: how far CLOCK_REALTIME was stepped beyond any sleep, in ns.
 */
s64 ntpdisc_offsets_moved(struct ntpdisc_offsets *seen,
			  const struct ntpdisc_offsets *now, s64 *slept_ns)
{
	s64 slept = ktime_to_ns(ktime_sub(now->boot, seen->boot));
	s64 step = ktime_to_ns(ktime_sub(now->real, seen->real)) - slept;

	*seen = *now;
	*slept_ns = slept;
	return step;
}

static struct ntpdisc_dev *to_ntpdisc_dev(struct posix_clock *clock)
{
	return container_of(clock, struct ntpdisc_dev, clock);
}

static int ntpdisc_clock_adjtime(struct posix_clock *clock,
				 struct __kernel_timex *txc)
{
	return to_ntpdisc_dev(clock)->actuator->adjtimex(txc);
}

static int ntpdisc_clock_gettime(struct posix_clock *clock,
				 struct timespec64 *ts)
{
	to_ntpdisc_dev(clock)->actuator->gettime(ts);
	return 0;
}

static int ntpdisc_clock_getres(struct posix_clock *clock,
				struct timespec64 *ts)
{
	*ts = ns_to_timespec64(hrtimer_resolution);
	return 0;
}

/*
 * A load that fails frees the module however many descriptors are open,
 * so none may exist before it is sure to succeed.
 */
static int ntpdisc_open(struct posix_clock_context *pccontext, fmode_t mode)
{
	return READ_ONCE(to_ntpdisc_dev(pccontext->clk)->live) ? 0 : -EAGAIN;
}

/* As clock_adjtime() on the clock id: changes need a writable descriptor. */
static long ntpdisc_ioctl_adjtimex(const struct ntpdisc_actuator *actuator,
				   fmode_t mode, void __user *arg)
{
	struct __kernel_timex txc;
	int ret;

	if (copy_from_user(&txc, arg, sizeof(txc)))
		return -EFAULT;
	if (txc.modes && !(mode & FMODE_WRITE))
		return -EACCES;
	ret = actuator->adjtimex(&txc);
	/* As clock_adjtime(): the result is written back only on success. */
	if (ret >= 0 && copy_to_user(arg, &txc, sizeof(txc)))
		return -EFAULT;
	return ret;
}

static long ntpdisc_ioctl_output(const struct ntpdisc_actuator *actuator,
				 void __user *arg)
{
	struct ntpdisc_output out;

	memset(&out, 0, sizeof(out));
	actuator->output(&out);
	out.steer = actuator->steer;
	if (copy_to_user(arg, &out, sizeof(out)))
		return -EFAULT;
	return 0;
}

static long ntpdisc_ioctl_release(const struct ntpdisc_actuator *actuator,
				  fmode_t mode)
{
	if (!actuator->release)
		return -EOPNOTSUPP;
	if (!(mode & FMODE_WRITE))
		return -EACCES;
	if (!ntpdisc_may_set_time())
		return -EPERM;
	return actuator->release();
}

/*
 * The hardware counter beside the system clocks, for measuring steering.
 * Interrupts are off so the reading's width is only the reading.
 */
static long ntpdisc_ioctl_sample(void __user *arg)
{
#ifdef CONFIG_X86_TSC
	struct ntpdisc_sample sample;
	unsigned long flags;
	ktime_t mono, offs;
	u64 t0, t1;

	if (!tsc_khz)
		return -EOPNOTSUPP;
	memset(&sample, 0, sizeof(sample));
	do {
		offs = ktime_mono_to_any(0, TK_OFFS_REAL);
		local_irq_save(flags);
		t0 = rdtsc_ordered();
		mono = ktime_get();
		t1 = rdtsc_ordered();
		local_irq_restore(flags);
	} while (ktime_compare(offs, ktime_mono_to_any(0, TK_OFFS_REAL)));
	sample.raw_ns = mul_u64_u32_div(t0 + (t1 - t0) / 2, USEC_PER_SEC,
					tsc_khz);
	sample.mono_ns = ktime_to_ns(mono);
	sample.real_ns = ktime_to_ns(ktime_add(mono, offs));
	sample.width_ns = mul_u64_u32_div(t1 - t0, USEC_PER_SEC, tsc_khz);
	if (copy_to_user(arg, &sample, sizeof(sample)))
		return -EFAULT;
	return 0;
#else
	return -EOPNOTSUPP;
#endif
}

static long ntpdisc_ioctl(struct posix_clock_context *pccontext,
			  unsigned int cmd, unsigned long arg)
{
	const struct ntpdisc_actuator *actuator =
		to_ntpdisc_dev(pccontext->clk)->actuator;
	fmode_t mode = pccontext->fp->f_mode;

	switch (cmd) {
	case NTPDISC_ADJTIMEX:
		return ntpdisc_ioctl_adjtimex(actuator, mode,
					      (void __user *)arg);
	case NTPDISC_GET_OUTPUT:
		return ntpdisc_ioctl_output(actuator, (void __user *)arg);
	case NTPDISC_RELEASE:
		return ntpdisc_ioctl_release(actuator, mode);
	case NTPDISC_GET_SAMPLE:
		return ntpdisc_ioctl_sample((void __user *)arg);
	default:
		return -ENOTTY;
	}
}

static const struct posix_clock_operations ntpdisc_clock_ops = {
	.owner = THIS_MODULE,
	.clock_adjtime = ntpdisc_clock_adjtime,
	.clock_gettime = ntpdisc_clock_gettime,
	.clock_getres = ntpdisc_clock_getres,
	.ioctl = ntpdisc_ioctl,
	.open = ntpdisc_open,
};

static NTPDISC_DEVNODE(ntpdisc_devnode)
{
	/* Reading the discipline is for everyone, as adjtimex(2) is. */
	if (mode)
		*mode = 0644;
	return NULL;
}

static void ntpdisc_dev_release(struct device *dev)
{
	kfree(container_of(dev, struct ntpdisc_dev, dev));
}

/*
 * The actuator steer= names, or the first one this machine can run. One
 * named that cannot run is an error: a load that succeeded and steered
 * nothing would be worse.
 */
static const struct ntpdisc_actuator *ntpdisc_pick_actuator(void)
{
	const struct ntpdisc_actuator *actuator;
	const char *why;
	int i;

	for (i = 0; i < ARRAY_SIZE(ntpdisc_actuators); i++) {
		actuator = ntpdisc_actuators[i];
		if (steer && !sysfs_streq(steer, actuator->name))
			continue;
		why = actuator->unusable ? actuator->unusable() : NULL;
		if (!why)
			return actuator;
		if (steer) {
			pr_err("steer=%s cannot run here: %s; load without steer= to use the best actuator that can, or with steer=none\n",
			       steer, why);
			return ERR_PTR(-EOPNOTSUPP);
		}
		pr_info("not steering with %s: %s\n", actuator->name, why);
	}
	pr_err("steer=%s is not built for this kernel (built: %s)\n", steer,
	       NTPDISC_STEER_BUILT);
	return ERR_PTR(-EINVAL);
}

/*
 * posix_clock_register() sets the character device's owner only after
 * making it live: an open in between would take no module reference and
 * drop one at close, and the next rmmod would hit a refcount gone below
 * zero (a BUG). So the clock is registered on a device without a number,
 * which it leaves alone, and the character device, its owner set, is
 * added here, with its node on a child device: nobody can open it before
 * it is complete.
 */
static int ntpdisc_create_device(const struct ntpdisc_actuator *actuator)
{
	struct ntpdisc_dev *nd;
	int ret;

	nd = kzalloc(sizeof(*nd), GFP_KERNEL);
	if (!nd)
		return -ENOMEM;

	nd->actuator = actuator;
	nd->clock.ops = ntpdisc_clock_ops;
	device_initialize(&nd->dev);
	nd->dev.class = ntpdisc_class;
	nd->dev.release = ntpdisc_dev_release;
	ret = dev_set_name(&nd->dev, "ntpdisc-clock");
	if (ret)
		goto err_put;

	ret = posix_clock_register(&nd->clock, &nd->dev);
	if (ret)
		goto err_put;

	cdev_set_parent(&nd->clock.cdev, &nd->dev.kobj);
	ret = cdev_add(&nd->clock.cdev, ntpdisc_devt, 1);
	if (ret)
		goto err_clock;
	nd->node = device_create(ntpdisc_class, &nd->dev, ntpdisc_devt, NULL,
				 "ntpdisc");
	if (IS_ERR(nd->node)) {
		ret = PTR_ERR(nd->node);
		goto err_cdev;
	}

	ntpdisc_dev = nd;
	return 0;

err_cdev:
	cdev_del(&nd->clock.cdev);
err_clock:
	posix_clock_unregister(&nd->clock);
	return ret;
err_put:
	put_device(&nd->dev);
	return ret;
}

/* No new opens once this starts; open descriptors keep @nd. */
static void ntpdisc_remove_device(struct ntpdisc_dev *nd)
{
	device_destroy(ntpdisc_class, ntpdisc_devt);
	cdev_del(&nd->clock.cdev);
	posix_clock_unregister(&nd->clock);
}

/*
 * Undo ntpdisc_create_device() within a load that fails. The module is
 * freed as soon as this returns, whatever references it has, so nothing
 * may be left to run in it: an opener that lost the race to
 * ntpdisc_open() still holds the character device and the module for a
 * moment (it drops the module last), and the device's release, which is
 * code of ours, must run here rather than when that opener lets go.
 */
static void ntpdisc_destroy_unused_device(void)
{
	struct ntpdisc_dev *nd = ntpdisc_dev;

	get_device(&nd->dev);
	ntpdisc_remove_device(nd);
	/* The loader itself holds one reference during init. */
	while (module_refcount(THIS_MODULE) > 1)
		usleep_range(1000, 2000);
	put_device(&nd->dev);
	ntpdisc_dev = NULL;
}

static int __init ntpdisc_init(void)
{
	const struct ntpdisc_actuator *actuator;
	int ret;

	struct discipline_handover from = {
		.tick_usec = adopt_tick,
		.freq = adopt_freq,
		.status = adopt_status,
		.constant = adopt_constant,
		.maxerror = adopt_maxerror,
		.esterror = adopt_esterror,
		.tai = adopt_tai,
		.offset_ns = adopt_offset_ns,
		.adjust_us = adopt_adjust_us,
		.state = adopt_state,
		.now_sec = ktime_get_real_seconds(),
	};

	actuator = ntpdisc_pick_actuator();
	if (IS_ERR(actuator))
		return PTR_ERR(actuator);

	ret = alloc_chrdev_region(&ntpdisc_devt, 0, 1, "ntpdisc");
	if (ret)
		return ret;

	ntpdisc_class = ntpdisc_class_create("ntpdisc");
	if (IS_ERR(ntpdisc_class)) {
		ret = PTR_ERR(ntpdisc_class);
		goto err_region;
	}
	ntpdisc_class->devnode = ntpdisc_devnode;

	actuator->prepare(handover ? &from : NULL);

	ret = ntpdisc_create_device(actuator);
	if (ret)
		goto err_class;

	/* The last step that may fail: a livepatch, once enabled, stays. */
	ret = actuator->start();
	if (ret)
		goto err_start;

	WRITE_ONCE(ntpdisc_dev->live, true);
	ntpdisc_debug_init();
	pr_info("%s loaded, steer=%s%s\n", NTPDISC_VERSION, actuator->name,
		steer ? "" : " (the best this machine can run)");
	return 0;

err_start:
	actuator->stop();
	ntpdisc_destroy_unused_device();
err_class:
	class_destroy(ntpdisc_class);
err_region:
	unregister_chrdev_region(ntpdisc_devt, 1);
	return ret;
}

static void __exit ntpdisc_exit(void)
{
	const struct ntpdisc_actuator *actuator = ntpdisc_dev->actuator;

	/*
	 * Open descriptors pin the module, so no request is in flight;
	 * the device goes first so that none can start.
	 */
	ntpdisc_debug_exit();
	ntpdisc_remove_device(ntpdisc_dev);
	actuator->stop();
	class_destroy(ntpdisc_class);
	unregister_chrdev_region(ntpdisc_devt, 1);
	pr_info("unloaded\n");
}

module_init(ntpdisc_init);
module_exit(ntpdisc_exit);

MODULE_DESCRIPTION("Alternate NTP clock discipline with an adjtimex(2) device");
MODULE_AUTHOR("The ntpdisc developers");
MODULE_LICENSE("GPL");
MODULE_VERSION(NTPDISC_VERSION);
#ifdef NTPDISC_LIVEPATCH
/* Marks the module as a livepatch: loading it taints the kernel (K). */
MODULE_INFO(livepatch, "Y");
#endif
