/* SPDX-License-Identifier: GPL-2.0 */
/* TAP lines for the host unit tests of the discipline. */
#ifndef _NTPDISC_UNIT_TAP_H
#define _NTPDISC_UNIT_TAP_H

#include <stdbool.h>
#include <stdio.h>

static int test_count, test_failed;

static void check(bool cond, const char *name, long long got, long long want)
{
	test_count++;
	if (cond) {
		printf("ok %d %s\n", test_count, name);
		return;
	}
	test_failed++;
	printf("not ok %d %s\n# got %lld, want %lld\n", test_count, name,
	       got, want);
}

#define CHECK_EQ(name, got, want) do {				\
	long long __got = (got), __want = (want);			\
									\
	check(__got == __want, name, __got, __want);			\
} while (0)

#endif
