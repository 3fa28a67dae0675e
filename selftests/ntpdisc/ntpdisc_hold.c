// SPDX-License-Identifier: GPL-2.0
/*
 * Helper of run_guest.sh: hold /dev/ntpdisc open while somebody tries to
 * remove the module. The open descriptor pins the module (the POSIX
 * clock's character device is owned by it), so the removal must be
 * refused and every entry point must go on working; the last close then
 * lets the module go.
 *
 * usage: ntpdisc_hold READY_FILE GO_FILE
 * Creates READY_FILE once the descriptor works, waits for GO_FILE (the
 * removal has been tried by then), checks, exits 0 if all was as expected.
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

static int expect_working(const char *what, long ret)
{
	if (ret >= 0) {
		printf("# hold: %s: still works\n", what);
		return 0;
	}
	printf("# hold: %s: %s, expected the device to keep working\n",
	       what, strerror(errno));
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
	bad += expect_working("ioctl ADJTIMEX",
			      ioctl(fd, NTPDISC_ADJTIMEX, &tx));
	bad += expect_working("ioctl GET_OUTPUT",
			      ioctl(fd, NTPDISC_GET_OUTPUT, &o));
	bad += expect_working("clock_adjtime read",
			      syscall(SYS_clock_adjtime, clk, &tx));
	bad += expect_working("clock_gettime", clock_gettime(clk, &ts));
	bad += expect_working("clock_getres", clock_getres(clk, &ts));
	if (close(fd)) {
		printf("# hold: close: %s\n", strerror(errno));
		bad++;
	}
	return bad ? 1 : 0;
}
