// SPDX-License-Identifier: GPL-2.0
/* ktime_get_snapshot_id() and system_time_snapshot.systime (6.17). */
#include <linux/timekeeping.h>

ktime_t probe(struct system_time_snapshot *snap);
ktime_t probe(struct system_time_snapshot *snap)
{
	ktime_get_snapshot_id(CLOCK_REALTIME, snap);
	return snap->systime;
}
