// SPDX-License-Identifier: GPL-2.0
/*
 * CLOCK_AUX (6.17): the timekeeper reworked for auxiliary clocks. Its
 * do_adjtimex() reads the time it hands back before an ADJ_SETOFFSET step
 * and no longer clears the NTP state when the step is refused; the
 * discipline has to follow (module/compat.h).
 */
#include <uapi/linux/time.h>

#ifndef CLOCK_AUX
#error "no auxiliary clocks"
#endif

int probe(void);
int probe(void)
{
	return CLOCK_AUX;
}
