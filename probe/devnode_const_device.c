// SPDX-License-Identifier: GPL-2.0
/* struct class.devnode takes a const struct device (6.2). */
#include <linux/device.h>

static char *probe_devnode(const struct device *dev, umode_t *mode)
{
	return NULL;
}

void probe(struct class *class);
void probe(struct class *class)
{
	class->devnode = probe_devnode;
}
