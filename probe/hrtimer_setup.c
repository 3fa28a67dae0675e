// SPDX-License-Identifier: GPL-2.0
/* hrtimer_setup() (6.13): the callback is given with the clock and mode. */
#include <linux/hrtimer.h>

static enum hrtimer_restart probe_fn(struct hrtimer *timer)
{
	return HRTIMER_NORESTART;
}

void probe(struct hrtimer *timer);
void probe(struct hrtimer *timer)
{
	hrtimer_setup(timer, probe_fn, CLOCK_MONOTONIC, HRTIMER_MODE_ABS);
}
