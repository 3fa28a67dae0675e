/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fixture every ntpdisc test uses: "ref" is the guest kernel, "dut" is
 * ntpdisc through the ioctl (variant "ioctl") or its clock id (variant
 * "clockid"), or the kernel again with NTPDISC_SELFTEST_TARGET=kernel.
 * Both sides are reset to the same known state before and after each test.
 *
 * Hard-coded expectations are checked on the kernel's result (so a wrong
 * expectation shows up in kernel-target mode) and the device must then
 * match the kernel field by field (nd_diff()).
 */
#ifndef NTPDISC_HARNESS_H
#define NTPDISC_HARNESS_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kselftest_harness.h"
#include "ntpdisc_util.h"

FIXTURE(ntpdisc) {
	struct nd_entry ref;
	struct nd_entry dut;
};

FIXTURE_VARIANT(ntpdisc) {
	enum nd_kind kind;
};

FIXTURE_VARIANT_ADD(ntpdisc, ioctl) {
	.kind = ND_IOCTL,
};

FIXTURE_VARIANT_ADD(ntpdisc, clockid) {
	.kind = ND_CLOCKID,
};

static inline void nd_reset_both(struct __test_metadata *_metadata,
				 struct _test_data_ntpdisc *self)
{
	ASSERT_EQ(0, nd_reset(&self->ref));
	if (self->dut.kind != ND_KERNEL)
		ASSERT_EQ(0, nd_reset(&self->dut));
}

FIXTURE_SETUP(ntpdisc)
{
	int ret = nd_open_entries(variant->kind, &self->ref, &self->dut);

	if (ret)
		TH_LOG("open %s: %s", NTPDISC_DEVICE_PATH, strerror(-ret));
	ASSERT_EQ(0, ret);
	nd_reset_both(_metadata, self);
}

FIXTURE_TEARDOWN(ntpdisc)
{
	nd_reset_both(_metadata, self);
	nd_close_entries(&self->ref, &self->dut);
}

static inline void nd_log_mismatch(struct __test_metadata *_metadata,
				   const char *what, const struct nd_res *rr,
				   const struct nd_res *rd, const char *why)
{
	char in[256], a[512], b[512];

	nd_format_tx(&rr->in, in, sizeof(in));
	nd_format_res(rr, a, sizeof(a));
	nd_format_res(rd, b, sizeof(b));
	TH_LOG("MISMATCH %s\n#  call:    %s\n#  kernel:  %s\n#  ntpdisc: %s\n#  diff:   %s",
	       what, in, a, b, why);
}

/*
 * Run @in on both sides inside one second and check they agree. Only for
 * calls whose repetition is harmless: a pair that could not be kept in one
 * second is run again.
 */
static inline int nd_check(struct __test_metadata *_metadata,
			   struct _test_data_ntpdisc *self, const char *what,
			   const struct timex *in, struct nd_res *rr,
			   struct nd_res *rd)
{
	char why[1024];
	int tries, n;

	for (tries = 0; tries < 3; tries++) {
		if (nd_pair(&self->ref, &self->dut, in, rr, rd))
			break;
		TH_LOG("%s: pair crossed a second boundary, again", what);
	}
	EXPECT_GT(3, tries);
	n = nd_diff(rr, rd, why, sizeof(why));
	if (n)
		nd_log_mismatch(_metadata, what, rr, rd, why);
	EXPECT_EQ(0, n);
	return n;
}

/*
 * Run @in once on each side, for calls that must not be repeated: the
 * caller has put us in the middle of a second. In kernel-target mode a
 * call whose second run on the same kernel would differ (@once: the FLL,
 * anything the caller cannot model) is only made once; the "device"
 * result is then the kernel's and there is nothing to compare.
 */
static inline int nd_run(struct __test_metadata *_metadata,
			 struct _test_data_ntpdisc *self, const char *what,
			 const struct timex *in, struct nd_res *rr,
			 struct nd_res *rd, bool once)
{
	char why[1024];
	int n = 0;

	nd_call(&self->ref, in, rr);
	if (once && self->dut.kind == ND_KERNEL)
		*rd = *rr;
	else
		nd_call(&self->dut, in, rd);
	if (!nd_same_window(rr->t0, rd->t1, 50 * 1000 * 1000LL,
			    950 * 1000 * 1000LL))
		TH_LOG("%s: ran at %lld..%lld ns into the second", what,
		       (long long)nd_frac_ns(rr->t0),
		       (long long)nd_frac_ns(rd->t1));
	EXPECT_TRUE(nd_same_window(rr->t0, rd->t1, 50 * 1000 * 1000LL,
				   950 * 1000 * 1000LL));
	if (!(once && self->dut.kind == ND_KERNEL))
		n = nd_diff(rr, rd, why, sizeof(why));
	if (n)
		nd_log_mismatch(_metadata, what, rr, rd, why);
	EXPECT_EQ(0, n);
	return n;
}

/* Read both sides (modes 0) in the middle of the next second. */
static inline int nd_read_next(struct __test_metadata *_metadata,
			       struct _test_data_ntpdisc *self, const char *what,
			       struct nd_res *rr, struct nd_res *rd)
{
	struct timex tx;

	nd_tx_init(&tx, 0);
	nd_sleep_next_frac(400 * 1000 * 1000LL);
	return nd_run(_metadata, self, what, &tx, rr, rd, false);
}

#define ND_MS(x)	((__s64)(x) * 1000 * 1000)

#endif /* NTPDISC_HARNESS_H */
