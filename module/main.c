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

#include <linux/capability.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/kdev_t.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/posix-clock.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#ifdef CONFIG_X86_TSC
#include <asm/tsc.h>
#endif

#include "ntpdisc.h"

#ifdef NTPDISC_LIVEPATCH
static char *steer = "livepatch";
#else
static char *steer = "none";
#endif
module_param(steer, charp, 0444);
MODULE_PARM_DESC(steer,
		 "actuator: livepatch (take over the kernel's NTP code, the default where built), clocksource (steer a clocksource of ntpdisc's) or none (shadow, touches no clock)");

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
 */
struct ntpdisc_dev {
	struct posix_clock clock;
	struct device dev;
	const struct ntpdisc_actuator *actuator;
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

static long ntpdisc_ioctl_adjtimex(const struct ntpdisc_actuator *actuator,
				   void __user *arg)
{
	struct __kernel_timex txc;
	int ret;

	if (copy_from_user(&txc, arg, sizeof(txc)))
		return -EFAULT;
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

static long ntpdisc_ioctl_release(const struct ntpdisc_actuator *actuator)
{
	if (!actuator->release)
		return -EOPNOTSUPP;
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

	switch (cmd) {
	case NTPDISC_ADJTIMEX:
		return ntpdisc_ioctl_adjtimex(actuator, (void __user *)arg);
	case NTPDISC_GET_OUTPUT:
		return ntpdisc_ioctl_output(actuator, (void __user *)arg);
	case NTPDISC_RELEASE:
		return ntpdisc_ioctl_release(actuator);
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
};

#if NTPDISC_KSERIES >= 0x0602
static char *ntpdisc_devnode(const struct device *dev, umode_t *mode)
#else
static char *ntpdisc_devnode(struct device *dev, umode_t *mode)
#endif
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

static const struct ntpdisc_actuator *ntpdisc_find_actuator(const char *name)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(ntpdisc_actuators); i++)
		if (sysfs_streq(name, ntpdisc_actuators[i]->name))
			return ntpdisc_actuators[i];
	return NULL;
}

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
	nd->dev.devt = ntpdisc_devt;
	nd->dev.class = ntpdisc_class;
	nd->dev.release = ntpdisc_dev_release;
	ret = dev_set_name(&nd->dev, "ntpdisc");
	if (ret)
		goto err_put;

	ret = posix_clock_register(&nd->clock, &nd->dev);
	if (ret)
		goto err_put;

	ntpdisc_dev = nd;
	return 0;

err_put:
	put_device(&nd->dev);
	return ret;
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
	};

	actuator = ntpdisc_find_actuator(steer);
	if (!actuator) {
		pr_err("steer=%s is not built for this kernel (built: %s)\n",
		       steer, NTPDISC_STEER_BUILT);
		return -EINVAL;
	}
	/* The discipline still answers, steering nothing. */
	if (actuator->usable && !actuator->usable())
		actuator = &ntpdisc_shadow;

	ret = alloc_chrdev_region(&ntpdisc_devt, 0, 1, "ntpdisc");
	if (ret)
		return ret;

#if NTPDISC_KSERIES >= 0x0604
	ntpdisc_class = class_create("ntpdisc");
#else
	ntpdisc_class = class_create(THIS_MODULE, "ntpdisc");
#endif
	if (IS_ERR(ntpdisc_class)) {
		ret = PTR_ERR(ntpdisc_class);
		goto err_region;
	}
	ntpdisc_class->devnode = ntpdisc_devnode;

	/* The discipline is ready before anyone can reach it. */
	actuator->prepare(handover ? &from : NULL);

	ret = ntpdisc_create_device(actuator);
	if (ret)
		goto err_class;

	/* Last: a livepatch, once enabled, cannot be undone from here. */
	ret = actuator->start();
	if (ret)
		goto err_device;

	ntpdisc_debug_init();
	pr_info("loaded, steer=%s\n", actuator->name);
	return 0;

err_device:
	posix_clock_unregister(&ntpdisc_dev->clock);
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
	posix_clock_unregister(&ntpdisc_dev->clock);
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
#ifdef NTPDISC_LIVEPATCH
/* Marks the module as a livepatch: loading it taints the kernel (K). */
MODULE_INFO(livepatch, "Y");
#endif
