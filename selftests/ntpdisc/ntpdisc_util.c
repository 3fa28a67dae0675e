// SPDX-License-Identifier: GPL-2.0
/*
 * Shared helpers for the ntpdisc selftests: the three entry points, the
 * kernel-vs-ntpdisc comparison, timing inside a second and the reset.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "ntpdisc_util.h"

/* glibc's struct timex must be the kernel's struct __kernel_timex. */
static_assert(sizeof(struct timex) == 208, "struct timex size");
static_assert(sizeof(struct ntpdisc_timex) == 208, "ntpdisc_timex size");
static_assert(offsetof(struct timex, time) ==
	      offsetof(struct ntpdisc_timex, time), "time offset");
static_assert(offsetof(struct timex, tai) ==
	      offsetof(struct ntpdisc_timex, tai), "tai offset");
static_assert(offsetof(struct timex, stbcnt) ==
	      offsetof(struct ntpdisc_timex, stbcnt), "stbcnt offset");

const char *nd_kind_name(enum nd_kind kind)
{
	switch (kind) {
	case ND_KERNEL:
		return "kernel";
	case ND_IOCTL:
		return "ioctl";
	case ND_CLOCKID:
		return "clockid";
	}
	return "?";
}

bool nd_target_is_kernel(void)
{
	const char *t = getenv("NTPDISC_SELFTEST_TARGET");

	return t && !strcmp(t, "kernel");
}

int nd_kernel_series(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return 0;
	return major * 100 + minor;
}

bool nd_tick_slew(void)
{
	return nd_kernel_series() >= 703;
}

bool nd_aux_timekeeper(void)
{
	return nd_kernel_series() >= 617;
}

bool nd_cs_refused_by_kernel(void)
{
	return nd_kernel_series() >= 700;
}

/*
 * From 7.3 the kernel slews tick by tick and a read-back of the remaining
 * slew depends on how many ticks its timekeeper has accumulated, which the
 * shadow discipline can only work out from the clock's coarse time: a
 * tick landing between the two reads, or the mult rounding, is a tick or
 * two. The rate the ticks drain was set at the second's start, from the
 * state the last call of the second before left (a time constant or an
 * offset set since does not change it): allow three ticks of the larger
 * of that and the slew the kernel reports now, plus a unit of rounding.
 */
static __s64 tick_slew_ns(const struct nd_res *r)
{
	const struct timex *t = &r->out;
	__s64 off;

	if (r->ret < 0)
		return 0;
	if ((r->in.modes & ND_ADJ_ADJTIME) == ND_ADJ_ADJTIME)
		return 500000 / ND_HZ;
	off = llabs((__s64)t->offset) * (t->status & STA_NANO ? 1 : 1000);
	if (t->constant < 0 || t->constant > 62)
		return 0;
	return (off >> (2 + t->constant)) / ND_HZ;
}

long nd_tick_slew_far;
bool nd_tick_slew_count_far;
long nd_tick_slew_behind;

static __s64 tick_slew_slack(const struct nd_res *ref, __s64 *far)
{
	static __s64 second = -1, last_ns, in_force_ns;
	__s64 per_tick_ns, sec = ref->t0 / ND_NSEC_PER_SEC;
	bool usec;

	*far = 0;
	if (!nd_tick_slew() || nd_target_is_kernel())
		return 0;
	if (sec != second) {
		in_force_ns = last_ns;
		second = sec;
	}
	last_ns = tick_slew_ns(ref);
	per_tick_ns = last_ns > in_force_ns ? last_ns : in_force_ns;
	usec = (ref->in.modes & ND_ADJ_ADJTIME) == ND_ADJ_ADJTIME ||
	       !(ref->out.status & STA_NANO);
	if (usec) {
		*far = (ND_TICK_SLEW_FAR * per_tick_ns + 999) / 1000 + 1;
		return (3 * per_tick_ns + 999) / 1000 + 1;
	}
	*far = ND_TICK_SLEW_FAR * per_tick_ns + 1;
	return 3 * per_tick_ns + 1;
}

int nd_open_entries(enum nd_kind dut_kind, struct nd_entry *ref,
		    struct nd_entry *dut)
{
	int fd;

	ref->kind = ND_KERNEL;
	ref->fd = -1;
	dut->kind = ND_KERNEL;
	dut->fd = -1;
	if (nd_target_is_kernel())
		return 0;

	fd = open(NTPDISC_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dut->kind = dut_kind;
	dut->fd = fd;
	return 0;
}

void nd_close_entries(struct nd_entry *ref, struct nd_entry *dut)
{
	if (dut->fd >= 0)
		close(dut->fd);
	dut->fd = -1;
	ref->fd = -1;
}

/* Raw syscall: glibc's clock_adjtime() could one day add its own logic. */
static int raw_clock_adjtime(clockid_t clk, struct timex *tx)
{
	return syscall(SYS_clock_adjtime, clk, tx);
}

int nd_adjtimex(const struct nd_entry *e, struct timex *tx)
{
	switch (e->kind) {
	case ND_KERNEL:
		return raw_clock_adjtime(CLOCK_REALTIME, tx);
	case ND_IOCTL:
		return ioctl(e->fd, NTPDISC_ADJTIMEX, tx);
	case ND_CLOCKID:
		return raw_clock_adjtime(NTPDISC_FD_TO_CLOCKID(e->fd), tx);
	}
	errno = EINVAL;
	return -1;
}

__s64 nd_now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (__s64)ts.tv_sec * ND_NSEC_PER_SEC + ts.tv_nsec;
}

void nd_call(const struct nd_entry *e, const struct timex *in,
	     struct nd_res *r)
{
	r->in = *in;
	r->out = *in;
	r->t0 = nd_now_ns(CLOCK_REALTIME);
	errno = 0;
	r->ret = nd_adjtimex(e, &r->out);
	r->err = r->ret < 0 ? errno : 0;
	r->t1 = nd_now_ns(CLOCK_REALTIME);
}

bool nd_has_output(const struct nd_entry *e)
{
	return e->kind != ND_KERNEL;
}

int nd_get_output(const struct nd_entry *e, struct ntpdisc_output *o)
{
	memset(o, 0xa5, sizeof(*o));
	if (ioctl(e->fd, NTPDISC_GET_OUTPUT, o) < 0)
		return -errno;
	return 0;
}

void nd_tx_init(struct timex *tx, unsigned int modes)
{
	/*
	 * The padding gets a pattern: the kernel hands the caller's padding
	 * back untouched and so must ntpdisc.
	 */
	memset(tx, 0xa5, sizeof(*tx));
	tx->modes = modes;
	tx->offset = 0;
	tx->freq = 0;
	tx->maxerror = 0;
	tx->esterror = 0;
	tx->status = 0;
	tx->constant = 0;
	tx->precision = 0;
	tx->tolerance = 0;
	tx->time.tv_sec = 0;
	tx->time.tv_usec = 0;
	tx->tick = 0;
	tx->ppsfreq = 0;
	tx->jitter = 0;
	tx->shift = 0;
	tx->stabil = 0;
	tx->jitcnt = 0;
	tx->calcnt = 0;
	tx->errcnt = 0;
	tx->stbcnt = 0;
	tx->tai = 0;
}

__s64 nd_frac_ns(__s64 t)
{
	__s64 f = t % ND_NSEC_PER_SEC;

	return f < 0 ? f + ND_NSEC_PER_SEC : f;
}

static void sleep_abs(clockid_t clk, __s64 t)
{
	struct timespec ts = {
		.tv_sec = t / ND_NSEC_PER_SEC,
		.tv_nsec = t % ND_NSEC_PER_SEC,
	};

	while (clock_nanosleep(clk, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

void nd_sleep_to_frac(__s64 frac_ns)
{
	__s64 now = nd_now_ns(CLOCK_REALTIME);
	__s64 base = now - nd_frac_ns(now);

	if (nd_frac_ns(now) >= frac_ns)
		base += ND_NSEC_PER_SEC;
	sleep_abs(CLOCK_REALTIME, base + frac_ns);
}

void nd_sleep_next_frac(__s64 frac_ns)
{
	__s64 now = nd_now_ns(CLOCK_REALTIME);

	sleep_abs(CLOCK_REALTIME, now - nd_frac_ns(now) + ND_NSEC_PER_SEC +
		  frac_ns);
}

void nd_sleep_ns(__s64 ns)
{
	sleep_abs(CLOCK_MONOTONIC, nd_now_ns(CLOCK_MONOTONIC) + ns);
}

bool nd_same_window(__s64 t0, __s64 t1, __s64 lo, __s64 hi)
{
	if (t0 - nd_frac_ns(t0) != t1 - nd_frac_ns(t1))
		return false;
	return nd_frac_ns(t0) >= lo && nd_frac_ns(t1) <= hi;
}

#define PAIR_LO		(100 * 1000 * 1000LL)
#define PAIR_LATEST	(800 * 1000 * 1000LL)
#define PAIR_HI		(900 * 1000 * 1000LL)

bool nd_pair(const struct nd_entry *ref, const struct nd_entry *dut,
	     const struct timex *in, struct nd_res *rr, struct nd_res *rd)
{
	__s64 f = nd_frac_ns(nd_now_ns(CLOCK_REALTIME));

	/*
	 * Both sides run their per-second update shortly after each second
	 * boundary (the kernel at the first tick, ntpdisc from an hrtimer),
	 * so a pair is only comparable well inside one second.
	 */
	__s64 c0, f0, c1, f1;
	bool watch = nd_tick_slew() && !nd_target_is_kernel();

	if (f < PAIR_LO || f > PAIR_LATEST)
		nd_sleep_to_frac(300 * 1000 * 1000LL);
	if (watch) {
		c0 = nd_now_ns(CLOCK_REALTIME_COARSE);
		f0 = nd_now_ns(CLOCK_REALTIME);
	}
	nd_call(ref, in, rr);
	nd_call(dut, in, rd);
	if (watch) {
		f1 = nd_now_ns(CLOCK_REALTIME);
		c1 = nd_now_ns(CLOCK_REALTIME_COARSE);
		/* The accumulated time caught up by more than it moved. */
		if ((c1 - c0) - (f1 - f0) > 2 * ND_NSEC_PER_SEC / ND_HZ)
			nd_tick_slew_behind++;
	}
	/*
	 * The kernel's call may have stepped the clock (ADJ_SETOFFSET):
	 * what matters is that it started inside a second and that no
	 * boundary of the clock as it is now lies between the two calls.
	 */
	return nd_same_window(rr->t0, rr->t0, PAIR_LO / 2, PAIR_HI) &&
	       nd_same_window(rr->t1, rd->t1, PAIR_LO / 2, PAIR_HI);
}

static int set_one(const struct nd_entry *e, unsigned int modes,
		   void (*fill)(struct timex *tx))
{
	struct timex tx;

	nd_tx_init(&tx, modes);
	if (fill)
		fill(&tx);
	if (nd_adjtimex(e, &tx) < 0)
		return -errno;
	return 0;
}

static void fill_pll(struct timex *tx)
{
	tx->status = STA_PLL;
}

static void fill_zero(struct timex *tx)
{
	tx->offset = 0;
	tx->freq = 0;
	tx->tick = 10000;
	tx->maxerror = ND_PHASE_LIMIT;
	tx->esterror = ND_PHASE_LIMIT;
}

static void fill_unsync_tc(struct timex *tx)
{
	tx->status = STA_UNSYNC;
	tx->constant = 2;
}

int nd_reset(const struct nd_entry *e)
{
	int ret;

	/* PLL on, so that ADJ_OFFSET 0 below zeroes the residual phase. */
	ret = set_one(e, ADJ_STATUS, fill_pll);
	if (!ret)
		ret = set_one(e, ADJ_OFFSET | ADJ_FREQUENCY | ADJ_TICK |
			      ADJ_MAXERROR | ADJ_ESTERROR, fill_zero);
	/*
	 * PLL 1 -> 0 forces TIME_OK, disarms any leap and wipes every
	 * read-only bit; ADJ_NANO then lets the time constant be set to its
	 * boot value 2 (microsecond mode would add 4).
	 */
	if (!ret)
		ret = set_one(e, ADJ_STATUS | ADJ_NANO | ADJ_TIMECONST,
			      fill_unsync_tc);
	/* Back to microseconds; tai 0 (ADJ_TAI reads tx.constant == 0). */
	if (!ret)
		ret = set_one(e, ADJ_MICRO | ADJ_TAI, NULL);
	/* Cancel any adjtime() slew. */
	if (!ret)
		ret = set_one(e, ADJ_OFFSET_SINGLESHOT, NULL);
	return ret;
}

__s64 nd_shift_right(__s64 x, int s)
{
	return x < 0 ? -((-x) >> s) : x >> s;
}

__s64 nd_offset_readback(__s64 time_offset, bool nano)
{
	__s64 ns = nd_shift_right(time_offset * ND_HZ, 32);

	return nano ? ns : ns / 1000;
}

__s64 nd_freq_readback(__s64 time_freq)
{
	/* PPM_SCALE_INV = 2^51 / PPM_SCALE + 1 */
	const __s64 inv = (1LL << 51) / ND_PPM_SCALE + 1;

	return nd_shift_right((time_freq >> 19) * inv, 32);
}

#define APPEND(...) do { \
	size_t __u = strlen(buf); \
	if (__u < len) \
		snprintf(buf + __u, len - __u, __VA_ARGS__); \
} while (0)

void nd_format_tx(const struct timex *tx, char *buf, size_t len)
{
	buf[0] = '\0';
	APPEND("modes=0x%x offset=%ld freq=%ld", tx->modes, tx->offset,
	       tx->freq);
	APPEND(" maxerror=%ld esterror=%ld", tx->maxerror, tx->esterror);
	APPEND(" status=0x%x constant=%ld", tx->status, tx->constant);
	APPEND(" time={%ld,%ld} tick=%ld", tx->time.tv_sec, tx->time.tv_usec,
	       tx->tick);
}

void nd_format_res(const struct nd_res *r, char *buf, size_t len)
{
	buf[0] = '\0';
	if (r->ret < 0) {
		APPEND("ret=-1 errno=%d (%s)", r->err, strerror(r->err));
		return;
	}
	APPEND("ret=%d offset=%ld freq=%ld", r->ret, r->out.offset,
	       r->out.freq);
	APPEND(" maxerror=%ld esterror=%ld", r->out.maxerror,
	       r->out.esterror);
	APPEND(" status=0x%x constant=%ld", r->out.status, r->out.constant);
	APPEND(" precision=%ld tolerance=%ld", r->out.precision,
	       r->out.tolerance);
	APPEND(" time={%ld,%ld} tick=%ld tai=%d", r->out.time.tv_sec,
	       r->out.time.tv_usec, r->out.tick, r->out.tai);
}

struct field {
	const char *name;
	size_t off;
	size_t size;
};

static const struct field fields[] = {
	{ "modes", offsetof(struct timex, modes), 4 },
	{ "offset", offsetof(struct timex, offset), 8 },
	{ "freq", offsetof(struct timex, freq), 8 },
	{ "maxerror", offsetof(struct timex, maxerror), 8 },
	{ "esterror", offsetof(struct timex, esterror), 8 },
	{ "status", offsetof(struct timex, status), 4 },
	{ "constant", offsetof(struct timex, constant), 8 },
	{ "precision", offsetof(struct timex, precision), 8 },
	{ "tolerance", offsetof(struct timex, tolerance), 8 },
	{ "tick", offsetof(struct timex, tick), 8 },
	{ "ppsfreq", offsetof(struct timex, ppsfreq), 8 },
	{ "jitter", offsetof(struct timex, jitter), 8 },
	{ "shift", offsetof(struct timex, shift), 4 },
	{ "stabil", offsetof(struct timex, stabil), 8 },
	{ "jitcnt", offsetof(struct timex, jitcnt), 8 },
	{ "calcnt", offsetof(struct timex, calcnt), 8 },
	{ "errcnt", offsetof(struct timex, errcnt), 8 },
	{ "stbcnt", offsetof(struct timex, stbcnt), 8 },
	{ "tai", offsetof(struct timex, tai), 4 },
};

static __s64 field_val(const struct timex *tx, const struct field *f)
{
	__s32 v32;
	__s64 v64;

	if (f->size == 4) {
		memcpy(&v32, (const char *)tx + f->off, 4);
		return v32;
	}
	memcpy(&v64, (const char *)tx + f->off, 8);
	return v64;
}

static __s64 tx_time_ns(const struct timex *tx)
{
	__s64 sub = tx->time.tv_usec;

	if (!(tx->status & STA_NANO))
		sub *= 1000;
	return (__s64)tx->time.tv_sec * ND_NSEC_PER_SEC + sub;
}

static __s64 setoffset_ns(const struct timex *in)
{
	__s64 sub = in->time.tv_usec;

	if (!(in->modes & ADJ_NANO))
		sub *= 1000;
	return (__s64)in->time.tv_sec * ND_NSEC_PER_SEC + sub;
}

int nd_diff(const struct nd_res *ref, const struct nd_res *dut,
	    char *buf, size_t len)
{
	struct timex exp = ref->out, got = dut->out;
	__s64 step = 0, steps = 1, slack, d;
	unsigned int i;
	int n = 0;

	buf[0] = '\0';
	if (ref->ret != dut->ret || ref->err != dut->err) {
		APPEND(" ret/errno: kernel %d/%d ntpdisc %d/%d;", ref->ret,
		       ref->err, dut->ret, dut->err);
		n++;
	}
	if (dut->ret < 0 || ref->ret < 0) {
		/* A failed call leaves the caller's structure as it was. */
		if (dut->ret < 0 && memcmp(&dut->out, &dut->in, sizeof(got))) {
			APPEND(" failed call modified the timex;");
			n++;
		}
		return n;
	}

	if (ref->in.modes & ADJ_SETOFFSET)
		step = setoffset_ns(&ref->in);
	if (nd_target_is_kernel()) {
		/* Same call twice on one kernel: the second sees the first. */
		if ((ref->in.modes & ND_ADJ_ADJTIME) &&
		    !(ref->in.modes & ND_ADJ_OFFSET_READONLY) &&
		    !(ref->in.modes & ADJ_SETOFFSET))
			exp.offset = ref->in.offset;
		steps = 2;
	}

	for (i = 0; i < ARRAY_SIZE(fields); i++) {
		__s64 a = field_val(&exp, &fields[i]);
		__s64 b = field_val(&got, &fields[i]);

		if (fields[i].off == offsetof(struct timex, offset)) {
			__s64 far, near = tick_slew_slack(ref, &far);

			if (llabs(a - b) <= near)
				continue;
			if (nd_tick_slew_count_far && llabs(a - b) <= far) {
				nd_tick_slew_far++;
				continue;
			}
		}
		if (a != b) {
			APPEND(" %s: kernel %lld ntpdisc %lld;", fields[i].name,
			       (long long)a, (long long)b);
			n++;
		}
	}

	/*
	 * The two sides read CLOCK_REALTIME microseconds apart: the device's
	 * time must lie between the kernel's and the end of the device call,
	 * give or take one unit of truncation. Successful ADJ_SETOFFSET steps
	 * are taken out of the window (one by the kernel, and in
	 * kernel-target mode a second one by the "device"); where the time
	 * handed back is read before the step, each side's own is not in it.
	 */
	slack = (got.status & STA_NANO) ? 1 : 1000;
	d = tx_time_ns(&got) - tx_time_ns(&exp) -
	    (nd_aux_timekeeper() ? 1 : steps - 1) * step;
	if (d < -slack || d > dut->t1 - ref->t0 - steps * step + slack) {
		APPEND(" time: kernel {%ld,%ld} ntpdisc {%ld,%ld} (%+lld ns, window %lld ns);",
		       exp.time.tv_sec, exp.time.tv_usec, got.time.tv_sec,
		       got.time.tv_usec, (long long)d,
		       (long long)(dut->t1 - ref->t0));
		n++;
	}

	/* Padding and reserved words: both must hand back the input's. */
	exp.time = got.time;
	for (i = 0; i < ARRAY_SIZE(fields); i++)
		memcpy((char *)&exp + fields[i].off,
		       (char *)&got + fields[i].off, fields[i].size);
	exp.offset = got.offset;
	if (memcmp(&exp, &got, sizeof(got))) {
		APPEND(" padding/reserved bytes differ;");
		n++;
	}
	return n;
}
