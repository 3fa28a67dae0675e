// SPDX-License-Identifier: GPL-2.0
/*
 * struct timekeeper.skew_delta (7.3): the NTP code slews phase and
 * adjtime through a per-tick skew that the timekeeper drains, not through
 * the tick length (module/discipline.h, DISC_SKEW).
 */
#include <linux/timekeeper_internal.h>

void probe(struct timekeeper *tk);
void probe(struct timekeeper *tk)
{
	tk->skew_delta = 1;
}
