/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A thread that watches CLOCK_MONOTONIC for steps against
 * CLOCK_MONOTONIC_RAW while a test loads, releases or unloads ntpdisc:
 * MONOTONIC read between two RAW reads in a tight loop; the largest change
 * of MONOTONIC - RAW between two clean samples (reads close together,
 * samples close together) beyond 1000 ppm of the interval is a step.
 * Samples whose reads were interrupted are dropped, since emulation can
 * stall any of them.
 */
#ifndef NTPDISC_STEPWATCH_H
#define NTPDISC_STEPWATCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct nd_step_watch {
	pthread_t thread;
	int stop;
	long long max_jump_ns;
	long samples;
};

static inline long long nd_watch_now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline void *nd_step_watch_fn(void *arg)
{
	struct nd_step_watch *w = arg;
	long long prev = 0, prev_raw = 0;
	bool have = false;

	while (!__atomic_load_n(&w->stop, __ATOMIC_RELAXED)) {
		long long r0 = nd_watch_now_ns(CLOCK_MONOTONIC_RAW);
		long long m = nd_watch_now_ns(CLOCK_MONOTONIC);
		long long r1 = nd_watch_now_ns(CLOCK_MONOTONIC_RAW);
		long long diff, jump;

		if (r1 - r0 > 20000) {
			have = false;
			continue;
		}
		diff = m - (r0 + r1) / 2;
		if (have && r0 - prev_raw < 2000000) {
			jump = llabs(diff - prev) - (r0 - prev_raw) / 1000;
			if (jump > w->max_jump_ns)
				w->max_jump_ns = jump;
		}
		prev = diff;
		prev_raw = r0;
		have = true;
		w->samples++;
	}
	return NULL;
}

static inline void nd_step_watch_start(struct nd_step_watch *w)
{
	memset(w, 0, sizeof(*w));
	pthread_create(&w->thread, NULL, nd_step_watch_fn, w);
}

static inline void nd_step_watch_stop(struct nd_step_watch *w)
{
	__atomic_store_n(&w->stop, 1, __ATOMIC_RELAXED);
	pthread_join(w->thread, NULL);
}

#endif
