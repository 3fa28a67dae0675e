// SPDX-License-Identifier: GPL-2.0
/*
 * Test module for the ntpdisc selftests: a cumulative ("atomic replace")
 * livepatch, as a vendor's live-patching service would load. Enabling it
 * silently disables every other livepatch, ntpdisc's included, which
 * ntpdisc must notice and report. What it patches is beside the point:
 * /proc/cmdline gains a marker, so a test can see that it is active.
 */
#include <linux/livepatch.h>
#include <linux/module.h>
#include <linux/seq_file.h>

static int test_replace_cmdline_show(struct seq_file *m, void *v)
{
	seq_puts(m, "ntpdisc-test-replace\n");
	return 0;
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
	.replace = true,
};

static int __init test_replace_init(void)
{
	return klp_enable_patch(&test_replace_patch);
}

static void __exit test_replace_exit(void)
{
}

module_init(test_replace_init);
module_exit(test_replace_exit);
MODULE_DESCRIPTION("ntpdisc selftest: an atomic-replace livepatch");
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
