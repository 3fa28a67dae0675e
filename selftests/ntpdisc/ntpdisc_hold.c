// SPDX-License-Identifier: GPL-2.0
/*
 * Helper of run_guest.sh: hold /dev/ntpdisc open while the module is
 * removed, then check that every entry point fails cleanly with ENODEV
 * (the POSIX clock layer marks the clock a zombie on unregister) and that
 * the last close is harmless.
 *
 * usage: ntpdisc_hold READY_FILE GO_FILE
 * Creates READY_FILE once the descriptor works, waits for GO_FILE (the
 * module is gone by then), checks, exits 0 if everything was as expected.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include "linux/ntpdisc.h"

static int expect_enodev(const char *what, long ret)
{
	if (ret == -1 && errno == ENODEV) {
		printf("# hold: %s: ENODEV\n", what);
		return 0;
	}
	printf("# hold: %s: ret %ld errno %d (%s), expected ENODEV\n", what,
	       ret, ret < 0 ? errno : 0, ret < 0 ? strerror(errno) : "-");
	return 1;
}

int main(int argc, char **argv)
{
	struct ntpdisc_output o;
	struct timespec ts;
	struct timex tx;
	clockid_t clk;
	int fd, i, bad = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: %s READY_FILE GO_FILE\n", argv[0]);
		return 2;
	}
	fd = open(NTPDISC_DEVICE_PATH, O_RDWR);
	if (fd < 0) {
		printf("# hold: open: %s\n", strerror(errno));
		return 1;
	}
	clk = NTPDISC_FD_TO_CLOCKID(fd);
	memset(&tx, 0, sizeof(tx));
	if (ioctl(fd, NTPDISC_ADJTIMEX, &tx) < 0 ||
	    syscall(SYS_clock_adjtime, clk, &tx) < 0) {
		printf("# hold: device not working: %s\n", strerror(errno));
		return 1;
	}
	close(open(argv[1], O_WRONLY | O_CREAT, 0644));
	for (i = 0; i < 600 && access(argv[2], F_OK); i++)
		usleep(100 * 1000);
	if (i == 600) {
		printf("# hold: never told to go on\n");
		return 1;
	}

	memset(&tx, 0, sizeof(tx));
	errno = 0;
	bad += expect_enodev("ioctl ADJTIMEX",
			     ioctl(fd, NTPDISC_ADJTIMEX, &tx));
	errno = 0;
	bad += expect_enodev("ioctl GET_OUTPUT",
			     ioctl(fd, NTPDISC_GET_OUTPUT, &o));
	errno = 0;
	bad += expect_enodev("clock_adjtime read",
			     syscall(SYS_clock_adjtime, clk, &tx));
	tx.modes = ADJ_MAXERROR;
	errno = 0;
	bad += expect_enodev("clock_adjtime write",
			     syscall(SYS_clock_adjtime, clk, &tx));
	errno = 0;
	bad += expect_enodev("clock_gettime", clock_gettime(clk, &ts));
	errno = 0;
	bad += expect_enodev("clock_getres", clock_getres(clk, &ts));
	/* The last reference: release must not call into the gone module. */
	if (close(fd)) {
		printf("# hold: close: %s\n", strerror(errno));
		bad++;
	}
	/* A new open finds no device. */
	fd = open(NTPDISC_DEVICE_PATH, O_RDWR);
	if (fd >= 0 || errno != ENOENT) {
		printf("# hold: open after rmmod: fd %d errno %d\n", fd, errno);
		bad++;
	}
	return bad ? 1 : 0;
}
