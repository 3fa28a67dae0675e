// SPDX-License-Identifier: GPL-2.0
/*
 * ntpdisc: in-kernel cost measurements for "make bench".
 *
 * /sys/kernel/debug/ntpdisc/bench (root only). Write one request:
 *
 *   update N    the discipline's per-second update, N times
 *   csread N    the ntpdisc clocksource's read (steer=clocksource only)
 *   tscread N   a bare ordered TSC read, the TSC clocksource's own cost
 *
 * with 1 <= N <= 10000000; read back one line with the median and the
 * minimum over batches of the time per iteration, in picoseconds.
 *
 * The update runs on a private discipline set up like a synced PLL, so
 * the live discipline is never touched and no lock is taken: the
 * measurement cannot disturb the clock it is measuring. The batches run
 * with preemption disabled, and the median discards batches that an
 * interrupt or a host stall (the test guest is emulated) made longer.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/clocksource.h>
#include <linux/debugfs.h>
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#ifdef CONFIG_X86_TSC
#include <asm/msr.h>
#endif

#include "ntpdisc.h"

#define DBG_BATCH	1000U
#define DBG_MAX_ITERS	10000000U
/* Longest request line, e.g. "tscread 10000000\n", with room to spare. */
#define DBG_MAX_WRITE	32

enum dbg_what { DBG_NONE, DBG_UPDATE, DBG_CSREAD, DBG_TSCREAD };

static const char * const dbg_names[] = {
	[DBG_UPDATE] = "update",
	[DBG_CSREAD] = "csread",
	[DBG_TSCREAD] = "tscread",
};

static struct dentry *dbg_dir;
/* Serialises requests; the last result is kept for the reader. */
static DEFINE_MUTEX(dbg_lock);
static char dbg_result[128];

/* Results go here so that the compiler keeps every iteration. */
static u64 dbg_sink;

/* A synced PLL with a residual offset: the per-second update's full path. */
static void dbg_update_template(struct discipline *disc)
{
	struct __kernel_timex txc = {
		.modes = ADJ_STATUS | ADJ_OFFSET | ADJ_FREQUENCY |
			 ADJ_TIMECONST | ADJ_MAXERROR | ADJ_ESTERROR,
		.status = STA_PLL,
		.offset = 500,
		.freq = 10 << 16,
		.constant = 4,
		.maxerror = 1000,
		.esterror = 100,
	};
	struct timespec64 ts = { .tv_sec = 1000000 };
	s32 tai = 0;

	discipline_init(disc);
	discipline_adjtimex(disc, &txc, &ts, ts.tv_sec, &tai);
}

static u64 dbg_batch(enum dbg_what what, unsigned int n,
		     const struct discipline *tmpl, struct discipline *scratch,
		     time64_t *secs, struct clocksource *cs)
{
	u64 t0, t1, acc = 0;
	unsigned int i;

	if (what == DBG_UPDATE)
		*scratch = *tmpl;

	preempt_disable();
	t0 = ktime_get_ns();
	switch (what) {
	case DBG_UPDATE:
		for (i = 0; i < n; i++)
			acc += discipline_second_overflow(scratch, (*secs)++);
		acc += scratch->time_offset;
		break;
	case DBG_CSREAD:
		for (i = 0; i < n; i++)
			acc += cs->read(cs);
		break;
	case DBG_TSCREAD:
#ifdef CONFIG_X86_TSC
		for (i = 0; i < n; i++)
			acc += rdtsc_ordered();
#endif
		break;
	default:
		break;
	}
	t1 = ktime_get_ns();
	preempt_enable();

	WRITE_ONCE(dbg_sink, dbg_sink + acc);
	return t1 - t0;
}

static int dbg_cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static int dbg_run(enum dbg_what what, unsigned int iters)
{
	unsigned int nb = DIV_ROUND_UP(iters, DBG_BATCH), b, n, left = iters;
	struct discipline *tmpl = NULL, *scratch = NULL;
	struct clocksource *cs = NULL;
	time64_t secs = 1000001;
	u64 *ps, med, min;

	/*
	 * Taken once: a release meanwhile leaves the clocksource's read
	 * working until the module goes, which this file's removal waits for.
	 */
	if (what == DBG_CSREAD) {
		cs = ntpdisc_cs_clocksource();
		if (!cs)
			return -EOPNOTSUPP;
	}
	ps = kvmalloc_array(nb, sizeof(*ps), GFP_KERNEL);
	if (!ps)
		return -ENOMEM;
	if (what == DBG_UPDATE) {
		tmpl = kmalloc(sizeof(*tmpl), GFP_KERNEL);
		scratch = kmalloc(sizeof(*scratch), GFP_KERNEL);
		if (!tmpl || !scratch) {
			kfree(tmpl);
			kfree(scratch);
			kvfree(ps);
			return -ENOMEM;
		}
		dbg_update_template(tmpl);
	}

	for (b = 0; b < nb; b++) {
		n = min(left, DBG_BATCH);
		/* Picoseconds per iteration of this batch. */
		ps[b] = div_u64(dbg_batch(what, n, tmpl, scratch, &secs, cs) *
				1000, n);
		left -= n;
		cond_resched();
		if (fatal_signal_pending(current))
			break;
	}
	kfree(tmpl);
	kfree(scratch);
	if (b < nb) {
		kvfree(ps);
		return -EINTR;
	}

	sort(ps, nb, sizeof(*ps), dbg_cmp_u64, NULL);
	med = ps[nb / 2];
	min = ps[0];
	kvfree(ps);
	scnprintf(dbg_result, sizeof(dbg_result),
		  "%s iterations=%u batches=%u median_ps=%llu min_ps=%llu\n",
		  dbg_names[what], iters, nb, med, min);
	return 0;
}

static int dbg_parse(const char *buf, enum dbg_what *what,
		     unsigned int *iters)
{
	const char *arg;
	size_t len;
	int w, ret;

	arg = strchr(buf, ' ');
	if (!arg)
		return -EINVAL;
	len = arg - buf;
	for (w = DBG_UPDATE; w <= DBG_TSCREAD; w++)
		if (strlen(dbg_names[w]) == len && !strncmp(buf, dbg_names[w], len))
			break;
	if (w > DBG_TSCREAD)
		return -EINVAL;
	/* kstrtouint() takes one trailing newline and nothing else. */
	ret = kstrtouint(arg + 1, 10, iters);
	if (ret)
		return ret;
	if (*iters < 1 || *iters > DBG_MAX_ITERS)
		return -ERANGE;
	*what = w;
	return 0;
}

static ssize_t dbg_write(struct file *file, const char __user *ubuf,
			 size_t count, loff_t *ppos)
{
	char buf[DBG_MAX_WRITE];
	enum dbg_what what;
	unsigned int iters;
	int ret;

	if (*ppos || !count || count >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';

	ret = dbg_parse(buf, &what, &iters);
	if (ret)
		return ret;
	if (what == DBG_TSCREAD && !IS_ENABLED(CONFIG_X86_TSC))
		return -EOPNOTSUPP;

	if (mutex_lock_interruptible(&dbg_lock))
		return -EINTR;
	ret = dbg_run(what, iters);
	mutex_unlock(&dbg_lock);
	return ret ? ret : count;
}

static ssize_t dbg_read(struct file *file, char __user *ubuf, size_t count,
			loff_t *ppos)
{
	char buf[sizeof(dbg_result)];

	if (mutex_lock_interruptible(&dbg_lock))
		return -EINTR;
	strscpy(buf, dbg_result, sizeof(buf));
	mutex_unlock(&dbg_lock);
	return simple_read_from_buffer(ubuf, count, ppos, buf, strlen(buf));
}

static const struct file_operations dbg_fops = {
	.owner = THIS_MODULE,
	.read = dbg_read,
	.write = dbg_write,
	.llseek = default_llseek,
};

/**
 * ntpdisc_debug_init() - create /sys/kernel/debug/ntpdisc/bench
 *
 * A missing debugfs is no reason to fail the load, so errors are only
 * reported.
 */
void ntpdisc_debug_init(void)
{
	strscpy(dbg_result, "none\n", sizeof(dbg_result));
	dbg_dir = debugfs_create_dir("ntpdisc", NULL);
	debugfs_create_file("bench", 0600, dbg_dir, NULL, &dbg_fops);
}

/**
 * ntpdisc_debug_exit() - remove the debug files
 *
 * Waits for a measurement in progress to end.
 */
void ntpdisc_debug_exit(void)
{
	debugfs_remove_recursive(dbg_dir);
	dbg_dir = NULL;
}
