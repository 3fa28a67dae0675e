/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel types and helpers that module/discipline.c uses, mapped for
 * host programs (unit tests, simulator, fuzzer), so that the very same
 * discipline source runs at host speed.
 */
#ifndef _NTPDISC_HOST_KERNEL_H
#define _NTPDISC_HOST_KERNEL_H

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/timex.h>

#include "linux/ntpdisc.h"

#ifndef HZ
#define HZ		250	/* Debian's amd64 kernels */
#endif
#define USER_HZ		100
#define BITS_PER_LONG	(__SIZEOF_LONG__ * 8)

typedef __s64 s64;
typedef __u64 u64;
typedef __s32 s32;
typedef __u32 u32;
typedef __s64 time64_t;

/* The uapi layout of struct __kernel_timex, under the kernel's name. */
#define __kernel_timex	ntpdisc_timex

struct timespec64 {
	time64_t tv_sec;
	long tv_nsec;
};

#define S64_MAX		__INT64_MAX__
#define S64_MIN		(-__INT64_MAX__ - 1)
#define TIME64_MAX	__INT64_MAX__
#define KTIME_MAX	__INT64_MAX__
#define NSEC_PER_USEC	1000L
#define USEC_PER_SEC	1000000L
#define NSEC_PER_SEC	1000000000L
#define KTIME_SEC_MAX	(KTIME_MAX / NSEC_PER_SEC)

#define ARRAY_SIZE(arr)	(sizeof(arr) / sizeof((arr)[0]))

/* glibc names STA_RONLY differently on older releases; pin the value. */
#undef STA_RONLY
#define STA_RONLY	0xff00

#define min(a, b) ({ __auto_type __a = (a); __auto_type __b = (b); \
		     __a < __b ? __a : __b; })
#define max(a, b) ({ __auto_type __a = (a); __auto_type __b = (b); \
		     __a > __b ? __a : __b; })
#define min_t(type, a, b)	min((type)(a), (type)(b))
#define clamp(val, lo, hi)	min(max(val, lo), hi)
#define clamp_t(type, val, lo, hi) \
	clamp((type)(val), (type)(lo), (type)(hi))

static inline u64 div_u64(u64 dividend, u32 divisor)
{
	return dividend / divisor;
}

static inline s64 div_s64(s64 dividend, s32 divisor)
{
	return dividend / divisor;
}

static inline s64 div64_long(s64 dividend, long divisor)
{
	return dividend / divisor;
}

static inline s64 div64_s64(s64 dividend, s64 divisor)
{
	return dividend / divisor;
}

static inline u64 div64_u64(u64 dividend, u64 divisor)
{
	return dividend / divisor;
}

#endif /* _NTPDISC_HOST_KERNEL_H */
