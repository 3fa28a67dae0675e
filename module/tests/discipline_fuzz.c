// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the pure discipline unit (module/discipline.c), the
 * same source the module builds. The input is a script: each record picks
 * an operation (a request through the kernel's checks, seconds passing, a
 * clock set, a step check) and supplies its fields. After every operation
 * the state must be in its ranges; AddressSanitizer and
 * UndefinedBehaviorSanitizer catch overflow and bad accesses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discipline.h"

struct script {
	const unsigned char *p;
	size_t left;
};

static unsigned long long take(struct script *s, int bytes)
{
	unsigned long long v = 0;

	while (bytes--) {
		v <<= 8;
		if (s->left) {
			v |= *s->p++;
			s->left--;
		}
	}
	return v;
}

static bool privileged;

static bool fuzz_may_set_time(void)
{
	return privileged;
}

static void fail(const char *what, long long val)
{
	fprintf(stderr, "invariant broken: %s (%lld)\n", what, val);
	abort();
}

static void check_state(const struct discipline *d)
{
	const s64 offset_limit = ((s64)DISC_MAXPHASE << 32) / DISC_HZ;

	if (d->time_freq > DISC_MAXFREQ_SCALED ||
	    d->time_freq < -DISC_MAXFREQ_SCALED)
		fail("frequency within +-MAXFREQ", d->time_freq);
	if (d->time_offset > offset_limit || d->time_offset < -offset_limit)
		fail("offset within +-MAXPHASE", d->time_offset);
	if (d->time_state < TIME_OK || d->time_state > TIME_WAIT)
		fail("a valid state", d->time_state);
	if (d->time_maxerror < 0 || d->time_maxerror > DISC_PHASE_LIMIT)
		fail("maxerror within its clamp", d->time_maxerror);
	if (d->time_constant < 0 || d->time_constant > DISC_MAXTC)
		fail("time constant within 0..MAXTC", d->time_constant);
	if (d->tick_usec < 900000 / DISC_USER_HZ ||
	    d->tick_usec > 1100000 / DISC_USER_HZ)
		fail("tick within +-10 %", d->tick_usec);
	/* time_adjust takes any long, as the kernel's does (no clamp). */
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct script s = { data, size };
	struct ntpdisc_timex tx;
	struct discipline disc;
	time64_t now = 1795737600 - 5;	/* a UTC midnight ahead */
	long nsec = 500000000;
	s32 tai = 37;
	int ret, leap;

	discipline_init(&disc);
	while (s.left) {
		switch (take(&s, 1) % 8) {
		case 0:
		case 1:
		case 2:
			/* A request, with every field from the input. */
			memset(&tx, 0, sizeof(tx));
			tx.modes = take(&s, 2);
			tx.offset = (long long)take(&s, 8);
			tx.freq = (long long)take(&s, 8);
			tx.maxerror = (long long)take(&s, 8);
			tx.esterror = (long long)take(&s, 8);
			tx.status = (int)take(&s, 4);
			tx.constant = (long long)take(&s, 8);
			tx.tick = (long long)take(&s, 8);
			tx.time.tv_sec = (long long)take(&s, 8);
			tx.time.tv_usec = (long long)take(&s, 8);
			tx.tai = (int)take(&s, 4);
			privileged = take(&s, 1) & 1;
			ret = discipline_validate(&tx, fuzz_may_set_time);
			if (!ret) {
				struct timespec64 ts = { now, nsec };

				ret = discipline_adjtimex(&disc, &tx, &ts, now,
							  &tai);
				if (ret < TIME_OK || ret > TIME_ERROR)
					fail("adjtimex returns a state", ret);
			}
			break;
		case 3:
		case 4:
			/* Seconds pass; leaps are applied as the kernel does. */
			for (ret = take(&s, 1) % 4; ret >= 0; ret--) {
				now++;
				leap = discipline_second_overflow(&disc, now);
				if (leap < -1 || leap > 1)
					fail("a leap of one second", leap);
				now += leap;
				tai -= leap;
			}
			break;
		case 5:
			/* Someone sets the clock. */
			now += (long long)(signed char)take(&s, 1) * 1000;
			discipline_clear(&disc);
			break;
		case 6: {
			/* The checks of a step, against the fuzzed delta. */
			struct timespec64 ts = { now, nsec }, delta, w2m = {
				-now, 0 };

			memset(&tx, 0, sizeof(tx));
			tx.modes = ADJ_SETOFFSET | (take(&s, 1) & 1 ? ADJ_NANO : 0);
			tx.time.tv_sec = (long long)take(&s, 8);
			tx.time.tv_usec = (long long)take(&s, 8);
			/* Only what passed the kernel's checks gets here. */
			privileged = true;
			if (!discipline_validate(&tx, fuzz_may_set_time) &&
			    !discipline_setoffset_delta(&tx, &delta))
				discipline_setoffset_check(&ts, &w2m, &delta);
			break;
		}
		default:
			nsec = take(&s, 4) % 1000000000;
			break;
		}
		check_state(&disc);
		(void)discipline_tick_length(&disc);
		(void)discipline_next_leap(&disc);
	}
	return 0;
}
