// SPDX-License-Identifier: GPL-2.0
/*
 * ntpdisc-bench: the guest half of "make bench" (scripts/bench.sh).
 *
 *   ntpdisc-bench [-p PHASE] ctl ROUNDS BATCH
 *	ns per call of adjtimex on ntpdisc (ioctl NTPDISC_ADJTIMEX and
 *	clock_adjtime() on the device's clock id) against
 *	clock_adjtime(CLOCK_REALTIME), for a read (modes 0) and a write
 *	(ADJ_FREQUENCY with the value already set, so nothing moves)
 *   ntpdisc-bench [-p PHASE] read ROUNDS BATCH
 *	ns per clock_gettime(CLOCK_MONOTONIC and CLOCK_REALTIME), through
 *	the C library (vDSO when the clocksource allows it) and through the
 *	system call
 *   ntpdisc-bench [-p PHASE] dbg REQUEST
 *	one request to /sys/kernel/debug/ntpdisc/bench ("update N", ...)
 *   ntpdisc-bench [-p PHASE] dbgerr [cs]
 *	the errno of each malformed request to that file, as TAP
 *
 * Each round times BATCH calls of every variant, in an order that rotates
 * from round to round, so that a host stall or a drift of the emulated
 * guest's speed hits all variants alike. Results are "BENCH key value"
 * lines: the median, quartiles, 10th percentile and minimum over the
 * rounds, in ns per call (the low ones are what is left when the host
 * lets the emulated CPU run undisturbed), and
 * for ctl the median of the per-round ratios to the system call with a
 * distribution-free 95% confidence interval.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include "linux/ntpdisc.h"

#define MAX_ROUNDS	10000
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define DBG_PATH	"/sys/kernel/debug/ntpdisc/bench"

static const char *phase = "run";

static void die(const char *what)
{
	fprintf(stderr, "ntpdisc-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now_ns(void)
{
	struct timespec ts;

	/* Unsteered by any discipline, so the same ruler in every phase. */
	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Sorts @v; quantile @q by nearest rank. */
static double quantile(double *v, int n, double q)
{
	int i = (int)lround(q * (n - 1));

	qsort(v, n, sizeof(*v), cmp_double);
	return v[i];
}

static void report(const char *key, double *v, int n)
{
	printf("BENCH %s.%s.median %.2f\n", phase, key, quantile(v, n, 0.5));
	printf("BENCH %s.%s.p10 %.2f\n", phase, key, quantile(v, n, 0.1));
	printf("BENCH %s.%s.min %.2f\n", phase, key, quantile(v, n, 0));
	printf("BENCH %s.%s.q1 %.2f\n", phase, key, quantile(v, n, 0.25));
	printf("BENCH %s.%s.q3 %.2f\n", phase, key, quantile(v, n, 0.75));
	printf("BENCH %s.%s.n %d\n", phase, key, n);
}

/*
 * Median of @v with the order statistics that bound it with at least 95%
 * confidence whatever the distribution (normal approximation of the
 * binomial: n/2 -+ 0.98 sqrt(n)).
 */
static void report_ratio(const char *key, double *v, int n)
{
	double h = 0.98 * sqrt(n);
	int lo = (int)floor(n / 2.0 - h), hi = (int)ceil(n / 2.0 + h) - 1;

	if (lo < 0)
		lo = 0;
	if (hi > n - 1)
		hi = n - 1;
	qsort(v, n, sizeof(*v), cmp_double);
	printf("BENCH %s.%s.median %.4f\n", phase, key, v[n / 2]);
	printf("BENCH %s.%s.ci_lo %.4f\n", phase, key, v[lo]);
	printf("BENCH %s.%s.ci_hi %.4f\n", phase, key, v[hi]);
}

enum { V_SYS, V_IOCTL, V_CLOCKID, NV };
static const char * const vname[NV] = { "syscall", "ioctl", "clockid" };

static int call(int v, int fd, struct timex *tx)
{
	switch (v) {
	case V_SYS:
		return clock_adjtime(CLOCK_REALTIME, tx);
	case V_IOCTL:
		return ioctl(fd, NTPDISC_ADJTIMEX, tx);
	default:
		return clock_adjtime(NTPDISC_FD_TO_CLOCKID(fd), tx);
	}
}

static double time_calls(int v, int fd, int batch, bool write, long freq)
{
	struct timex tx;
	double t0, t1;
	int i;

	t0 = now_ns();
	for (i = 0; i < batch; i++) {
		memset(&tx, 0, sizeof(tx));
		if (write) {
			tx.modes = ADJ_FREQUENCY;
			tx.freq = freq;
		}
		if (call(v, fd, &tx) < 0)
			die(vname[v]);
	}
	t1 = now_ns();
	return (t1 - t0) / batch;
}

static int cmd_ctl(int rounds, int batch)
{
	static double ns[2][NV][MAX_ROUNDS], ratio[2][NV][MAX_ROUNDS];
	long freq[NV];
	struct timex tx;
	char key[64];
	int fd, r, k, v, w;

	fd = open(NTPDISC_DEVICE_PATH, O_RDWR);
	if (fd < 0)
		die(NTPDISC_DEVICE_PATH);
	/* A write sets what each side already has: the clock is not moved. */
	for (v = 0; v < NV; v++) {
		memset(&tx, 0, sizeof(tx));
		if (call(v, fd, &tx) < 0)
			die(vname[v]);
		freq[v] = tx.freq;
	}
	for (r = 0; r < rounds; r++) {
		for (w = 0; w < 2; w++) {
			for (k = 0; k < NV; k++) {
				v = (r + k) % NV;
				ns[w][v][r] = time_calls(v, fd, batch, w, freq[v]);
			}
			for (v = 1; v < NV; v++)
				ratio[w][v][r] = ns[w][v][r] / ns[w][V_SYS][r];
		}
	}
	close(fd);
	for (w = 0; w < 2; w++) {
		for (v = 0; v < NV; v++) {
			snprintf(key, sizeof(key), "ctl.%s.%s",
				 w ? "write" : "read", vname[v]);
			report(key, ns[w][v], rounds);
			if (v == V_SYS)
				continue;
			snprintf(key, sizeof(key), "ctl.%s.%s_ratio",
				 w ? "write" : "read", vname[v]);
			report_ratio(key, ratio[w][v], rounds);
		}
	}
	return 0;
}

enum { R_MONO, R_REAL, R_MONO_SYS, R_REAL_SYS, NR };
static const char * const rname[NR] = {
	"mono", "real", "mono_sys", "real_sys",
};

static double time_reads(int v, int batch)
{
	clockid_t id = (v == R_MONO || v == R_MONO_SYS) ? CLOCK_MONOTONIC :
							 CLOCK_REALTIME;
	struct timespec ts;
	double t0, t1;
	int i;

	t0 = now_ns();
	if (v == R_MONO || v == R_REAL) {
		for (i = 0; i < batch; i++)
			clock_gettime(id, &ts);
	} else {
		for (i = 0; i < batch; i++)
			syscall(SYS_clock_gettime, id, &ts);
	}
	t1 = now_ns();
	return (t1 - t0) / batch;
}

static int cmd_read(int rounds, int batch)
{
	const struct timespec gap = { .tv_nsec = 2000000 };
	static double ns[NR][MAX_ROUNDS];
	char key[64];
	int r, k, v;

	for (r = 0; r < rounds; r++) {
		for (k = 0; k < NR; k++) {
			v = (r + k) % NR;
			ns[v][r] = time_reads(v, batch);
		}
		/*
		 * A round takes microseconds: spread the rounds out, so that
		 * a burst of work elsewhere on the emulator's host (or on the
		 * other vCPU) cannot cover all of them.
		 */
		nanosleep(&gap, NULL);
	}
	for (v = 0; v < NR; v++) {
		snprintf(key, sizeof(key), "read.%s", rname[v]);
		report(key, ns[v], rounds);
	}
	return 0;
}

/* Write @req to the debug file; 0 and the answer in @out, or -errno. */
static int dbg_request(const char *req, char *out, size_t len)
{
	ssize_t n;
	int fd, err;

	fd = open(DBG_PATH, O_RDWR);
	if (fd < 0)
		return -errno;
	n = write(fd, req, strlen(req));
	err = n < 0 ? -errno : 0;
	if (!err) {
		n = pread(fd, out, len - 1, 0);
		if (n < 0)
			err = -errno;
		else
			out[n] = '\0';
	}
	close(fd);
	return err;
}

static int cmd_dbg(const char *req)
{
	char buf[256], what[32], *p;
	unsigned long long med, min;
	unsigned int iters, nb;
	int err;

	err = dbg_request(req, buf, sizeof(buf));
	if (err) {
		fprintf(stderr, "ntpdisc-bench: %s: %s\n", req, strerror(-err));
		return 1;
	}
	p = strchr(buf, '\n');
	if (p)
		*p = '\0';
	if (sscanf(buf, "%31s iterations=%u batches=%u median_ps=%llu min_ps=%llu",
		   what, &iters, &nb, &med, &min) != 5) {
		fprintf(stderr, "ntpdisc-bench: unexpected answer '%s'\n", buf);
		return 1;
	}
	printf("BENCH %s.kernel.%s.median %.3f\n", phase, what, med / 1000.0);
	printf("BENCH %s.kernel.%s.min %.3f\n", phase, what, min / 1000.0);
	printf("BENCH %s.kernel.%s.n %u\n", phase, what, iters);
	return 0;
}

/* Every malformed request gets its errno; the answer stays readable. */
static int cmd_dbgerr(bool have_cs)
{
	static const struct {
		const char *req;
		int err;
	} cases[] = {
		{ "", -EINVAL },
		{ "update", -EINVAL },
		{ "update ", -EINVAL },
		{ "update x", -EINVAL },
		{ "update -1", -EINVAL },
		{ "update 1 2", -EINVAL },
		{ "bogus 10", -EINVAL },
		{ "updat 10", -EINVAL },
		{ "update 0", -ERANGE },
		{ "update 10000001", -ERANGE },
		{ "update 99999999999999999999", -ERANGE },
		{ "update 1000000000000000000000000000000000000", -EINVAL },
		{ "update 10\n", 0 },
		{ "tscread 10", 0 },
	};
	char buf[256];
	int i, err, want, bad = 0;

	for (i = 0; i < (int)ARRAY_SIZE(cases); i++) {
		err = dbg_request(cases[i].req, buf, sizeof(buf));
		if (err != cases[i].err) {
			printf("# debugfs '%s': %s, expected %s\n", cases[i].req,
			       strerror(-err), strerror(-cases[i].err));
			bad++;
		}
	}
	want = have_cs ? 0 : -EOPNOTSUPP;
	err = dbg_request("csread 10", buf, sizeof(buf));
	if (err != want) {
		printf("# debugfs 'csread 10': %s, expected %s\n",
		       strerror(-err), strerror(-want));
		bad++;
	}
	printf("BENCH %s.dbgerr.failures %d\n", phase, bad);
	return bad != 0;
}

static void usage(void)
{
	fputs("ntpdisc-bench [-p PHASE] ctl|read ROUNDS BATCH\n"
	      "ntpdisc-bench [-p PHASE] dbg REQUEST\n"
	      "ntpdisc-bench [-p PHASE] dbgerr [cs]\n", stderr);
	exit(2);
}

static int count(const char *s, int max)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*end || v < 1 || v > max)
		usage();
	return (int)v;
}

int main(int argc, char **argv)
{
	int i = 1;

	if (argc > 2 && !strcmp(argv[1], "-p")) {
		phase = argv[2];
		i = 3;
	}
	argc -= i;
	argv += i;
	if (argc < 1)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[0], "ctl") && argc == 3)
		return cmd_ctl(count(argv[1], MAX_ROUNDS),
			       count(argv[2], 1000000));
	if (!strcmp(argv[0], "read") && argc == 3)
		return cmd_read(count(argv[1], MAX_ROUNDS),
				count(argv[2], 10000000));
	if (!strcmp(argv[0], "dbg") && argc == 2)
		return cmd_dbg(argv[1]);
	if (!strcmp(argv[0], "dbgerr") && argc <= 2)
		return cmd_dbgerr(argc == 2 && !strcmp(argv[1], "cs"));
	usage();
	return 2;
}
