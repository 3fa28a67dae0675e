// SPDX-License-Identifier: GPL-2.0
/*
 * struct clocksource.uncertainty_margin (5.13): how far the watchdog lets
 * a clocksource drift before calling it unstable.
 */
#include <linux/clocksource.h>

void probe(struct clocksource *cs);
void probe(struct clocksource *cs)
{
	cs->uncertainty_margin = 1;
}
