// SPDX-License-Identifier: GPL-2.0
/*
 * Test module for the ntpdisc selftests: another livepatch, as a vendor's
 * live-patching service would load. By default a cumulative ("atomic
 * replace") one: enabling it silently disables every other livepatch,
 * ntpdisc's included, which ntpdisc must notice and report. What it
 * patches is beside the point: /proc/cmdline gains a marker, so a test can
 * see that it is active.
 *
 * With replace=0 it stacks on top of the others instead, and patches
 * ntp_clear() (which then does nothing): one of ntpdisc's functions taken
 * over while ntpdisc's patch stays enabled.
 */
#include <linux/livepatch.h>
#include <linux/module.h>
#include <linux/seq_file.h>

static bool replace = true;
module_param(replace, bool, 0444);
MODULE_PARM_DESC(replace, "atomic replace (1) or stack on ntp_clear (0)");

static int test_replace_cmdline_show(struct seq_file *m, void *v)
{
	seq_puts(m, "ntpdisc-test-replace\n");
	return 0;
}

static void test_replace_ntp_clear(void)
{
}

static struct klp_func test_replace_funcs[] = {
	{ .old_name = "cmdline_proc_show",
	  .new_func = test_replace_cmdline_show },
	{ }
};

static struct klp_object test_replace_objs[] = {
	{ .funcs = test_replace_funcs },
	{ }
};

static struct klp_patch test_replace_patch = {
	.mod = THIS_MODULE,
	.objs = test_replace_objs,
};

static int __init test_replace_init(void)
{
	test_replace_patch.replace = replace;
	if (!replace) {
		test_replace_funcs[0].old_name = "ntp_clear";
		test_replace_funcs[0].new_func = test_replace_ntp_clear;
	}
	return klp_enable_patch(&test_replace_patch);
}

static void __exit test_replace_exit(void)
{
}

module_init(test_replace_init);
module_exit(test_replace_exit);
MODULE_DESCRIPTION("ntpdisc selftest: another livepatch, replacing or stacked");
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
