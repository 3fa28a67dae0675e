// SPDX-License-Identifier: GPL-2.0
/*
 * ntpdisc-refclock: a reference time source no daemon can fool.
 *
 * True time is derived from a counter the discipline never steers
 * (CLOCK_MONOTONIC_RAW with steer=livepatch, the raw counter of
 * NTPDISC_GET_SAMPLE with steer=clocksource, whose clocksource also
 * moves CLOCK_MONOTONIC_RAW):
 *
 *   true(raw) = real0 - offset + (raw - raw0) * (1 - ppm * 1e-6)
 *
 * so that, left alone, the system clock starts OFFSET ahead of true time
 * and gains PPM. With -L, true time has a leap second at the end of the
 * UTC day before the given midnight: the reference announces it to the
 * daemons that day, and its POSIX time repeats a second after it, as the
 * kernel's does, so that the true error stays continuous across it.
 *
 * Several times a second the tool hands (system time, true time) pairs to
 * chronyd (refclock SOCK) and to ntpd (SHM refclock), and logs the
 * clock's true error with the discipline's state as CSV. The error is
 * measured here, from the counter, whatever the daemon believes.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linux/ntpdisc.h>

#define NSEC_PER_SEC	1000000000LL

/* chrony's refclock_sock.c sample; magic is "SOCK". */
struct sock_sample {
	struct timeval tv;
	double offset;
	int pulse;
	int leap;
	int pad;
	int magic;
};

#define SOCK_MAGIC	0x534f434b

/* The NTP SHM segment (ntpsec docs/driver_shm.adoc), key "NTP0" + unit. */
struct shm_time {
	int mode;
	int count;
	time_t clock_sec;
	int clock_usec;
	time_t recv_sec;
	int recv_usec;
	int leap;
	int precision;
	int nsamples;
	int valid;
	unsigned int clock_nsec;
	unsigned int recv_nsec;
	int dummy[8];
};

#define SHM_KEY_BASE	0x4e545030

static int stop;

static void on_signal(int sig)
{
	(void)sig;
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
}

static int64_t clk_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

struct reader {
	int fd;			/* /dev/ntpdisc, or -1 */
	int use_sample;		/* raw counter from NTPDISC_GET_SAMPLE */
};

/*
 * One (raw, realtime) pair at one instant. Bracketing realtime between two
 * raw reads and keeping the narrowest of a few tries bounds what a
 * preemption in between can do to the pair.
 */
static int read_pair(const struct reader *r, int64_t *raw, int64_t *real)
{
	int64_t a, b, v, best = -1;
	int i;

	if (r->use_sample) {
		struct ntpdisc_sample s, bs;

		for (i = 0; i < 4; i++) {
			if (ioctl(r->fd, NTPDISC_GET_SAMPLE, &s))
				return -1;
			if (best < 0 || s.width_ns < best) {
				best = s.width_ns;
				bs = s;
			}
		}
		*raw = (int64_t)bs.raw_ns;
		*real = bs.real_ns;
		return 0;
	}
	for (i = 0; i < 4; i++) {
		a = clk_ns(CLOCK_MONOTONIC_RAW);
		v = clk_ns(CLOCK_REALTIME);
		b = clk_ns(CLOCK_MONOTONIC_RAW);
		if (best < 0 || b - a < best) {
			best = b - a;
			*raw = a + (b - a) / 2;
			*real = v;
		}
	}
	return 0;
}

static const char *state_name(int st)
{
	static const char * const names[] = {
		"TIME_OK", "TIME_INS", "TIME_DEL", "TIME_OOP", "TIME_WAIT",
		"TIME_ERROR",
	};

	return st >= 0 && st <= 5 ? names[st] : "?";
}

static void help(const char *prog)
{
	fprintf(stderr,
		"%s [options]\n"
		"  -o MS      system clock starts MS ahead of true time (50)\n"
		"  -f PPM     system clock gains PPM against true time (80)\n"
		"  -s PATH    send samples to chronyd's refclock SOCK at PATH\n"
		"  -m UNIT    publish samples in NTP SHM segment UNIT\n"
		"  -r HZ      samples per second (4)\n"
		"  -l FILE    CSV log of the true error and the discipline\n"
		"  -t SECS    stop after SECS (default: until SIGTERM)\n"
		"  -b MODE    raw counter: mono-raw or sample (default from\n"
		"             /sys/module/ntpdisc/parameters/steer)\n"
		"  -p SECS    print a progress line every SECS (0: never), and\n"
		"             every sample within 2 s of a leap second\n"
		"  -c US      say once when the true error stays below US for 5 s\n"
		"  -L EPOCH   a leap second inserted before the midnight EPOCH\n"
		"  -D PATH    discipline device (" NTPDISC_DEVICE_PATH ")\n",
		prog);
	exit(2);
}

/* Time of day of @real; 23:59:60 while the discipline is in TIME_OOP. */
static void utc_of_day(int64_t real, int st, char *buf, size_t len)
{
	int64_t sec = real / NSEC_PER_SEC, tod = sec % 86400;
	int s = (int)(tod % 60), ms = (int)(real % NSEC_PER_SEC / 1000000);

	if (st == 3 && tod == 86399)	/* TIME_OOP: the repeated second */
		s = 60;
	snprintf(buf, len, "%02d:%02d:%02d.%03d", (int)(tod / 3600),
		 (int)(tod / 60 % 60), s, ms);
}

static int steer_is_clocksource(void)
{
	char buf[32] = "";
	FILE *f = fopen("/sys/module/ntpdisc/parameters/steer", "r");

	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return strncmp(buf, "clocksource", 11) == 0;
}

int main(int argc, char **argv)
{
	double offset_ms = 50, ppm = 80, hz = 4, duration = 0, every = 0;
	double conv_us = 0, conv_since = -1;
	int64_t leap_at = 0, unleaped;
	int last_st = -2, announced = 0, ann_leap;
	const char *sock_path = NULL, *log_path = NULL;
	const char *dev = NTPDISC_DEVICE_PATH, *mode = NULL;
	int shm_unit = -1, sock = -1, c;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct shm_time *shm = NULL;
	struct reader rd = { .fd = -1 };
	int64_t raw0, real0, true0, raw, real, truth, err;
	double next_print = 0;
	FILE *log = NULL;
	struct sigaction sa = { .sa_handler = on_signal };

	while ((c = getopt(argc, argv, "o:f:s:m:r:l:t:b:p:c:L:D:h")) != -1) {
		switch (c) {
		case 'o':
			offset_ms = atof(optarg);
			break;
		case 'f':
			ppm = atof(optarg);
			break;
		case 's':
			sock_path = optarg;
			break;
		case 'm':
			shm_unit = atoi(optarg);
			break;
		case 'r':
			hz = atof(optarg);
			break;
		case 'l':
			log_path = optarg;
			break;
		case 't':
			duration = atof(optarg);
			break;
		case 'b':
			mode = optarg;
			break;
		case 'p':
			every = atof(optarg);
			break;
		case 'c':
			conv_us = atof(optarg);
			break;
		case 'L':
			leap_at = strtoll(optarg, NULL, 0) * NSEC_PER_SEC;
			break;
		case 'D':
			dev = optarg;
			break;
		default:
			help(argv[0]);
		}
	}
	if (optind != argc || hz <= 0 || hz > 100)
		help(argv[0]);

	rd.fd = open(dev, O_RDONLY);
	if (!mode)
		mode = steer_is_clocksource() ? "sample" : "mono-raw";
	if (!strcmp(mode, "sample")) {
		if (rd.fd < 0) {
			fprintf(stderr, "refclock: %s: %s\n", dev, strerror(errno));
			return 1;
		}
		rd.use_sample = 1;
	} else if (strcmp(mode, "mono-raw")) {
		help(argv[0]);
	}

	if (sock_path) {
		if (strlen(sock_path) >= sizeof(sun.sun_path)) {
			fprintf(stderr, "refclock: socket path too long\n");
			return 2;
		}
		strcpy(sun.sun_path, sock_path);
		sock = socket(AF_UNIX, SOCK_DGRAM, 0);
		if (sock < 0) {
			perror("refclock: socket");
			return 1;
		}
	}
	if (shm_unit >= 0) {
		/* Units 0 and 1 are root's only, as ntpd expects them. */
		int id = shmget(SHM_KEY_BASE + shm_unit, sizeof(*shm),
				IPC_CREAT | (shm_unit < 2 ? 0600 : 0666));
		void *p = id < 0 ? (void *)-1 : shmat(id, NULL, 0);

		if (p == (void *)-1) {
			perror("refclock: shm");
			return 1;
		}
		shm = p;
		memset(shm, 0, sizeof(*shm));
	}
	if (log_path) {
		log = fopen(log_path, "w");
		if (!log) {
			perror(log_path);
			return 1;
		}
		fputs("elapsed_s,true_err_ns,state,status,freq_ppm,tick,", log);
		fputs("eff_ppm,offset,constant,maxerror,esterror\n", log);
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	if (read_pair(&rd, &raw0, &real0)) {
		perror("refclock: sample");
		return 1;
	}
	true0 = real0 - (int64_t)llround(offset_ms * 1e6);
	printf("refclock: %s counter, clock %+.3f ms and %+.3f ppm off true time, %g Hz\n",
	       rd.use_sample ? "NTPDISC_GET_SAMPLE" : "CLOCK_MONOTONIC_RAW",
	       offset_ms, ppm, hz);
	if (every > 0)
		printf("%9s  %-12s  %14s  %13s  %s\n", "elapsed", "UTC",
		       "true error", "frequency", "state");
	fflush(stdout);

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		struct ntpdisc_timex tx = { 0 };
		struct timespec nap;
		double el, eff = 0;
		int64_t d, tv_ns;
		int st = -1;

		if (read_pair(&rd, &raw, &real))
			break;
		d = raw - raw0;
		unleaped = true0 + d - (int64_t)llround((double)d * ppm / 1e6);
		/* Announced all day before it, like a leap bit of NTP. */
		ann_leap = leap_at && unleaped < leap_at &&
			   leap_at - unleaped <= 86400 * NSEC_PER_SEC;
		truth = unleaped;
		if (leap_at && unleaped >= leap_at)
			truth -= NSEC_PER_SEC;
		err = real - truth;
		el = d / 1e9;

		if (sock >= 0) {
			struct sock_sample s = { .magic = SOCK_MAGIC };

			s.leap = ann_leap;	/* chrony's LEAP_InsertSecond */
			s.tv.tv_sec = real / NSEC_PER_SEC;
			s.tv.tv_usec = real % NSEC_PER_SEC / 1000;
			/* Relative to tv itself, so its truncation costs nothing. */
			tv_ns = s.tv.tv_sec * NSEC_PER_SEC + s.tv.tv_usec * 1000;
			s.offset = (truth - tv_ns) / 1e9;
			/* chronyd may not be up yet, or restarting: not an error. */
			sendto(sock, &s, sizeof(s), 0, (struct sockaddr *)&sun,
			       sizeof(sun));
		}
		if (shm) {
			/* Mode 1: count brackets the write so a reader can tell. */
			shm->mode = 1;
			__atomic_add_fetch(&shm->count, 1, __ATOMIC_SEQ_CST);
			shm->clock_sec = truth / NSEC_PER_SEC;
			shm->clock_nsec = truth % NSEC_PER_SEC;
			shm->clock_usec = shm->clock_nsec / 1000;
			shm->recv_sec = real / NSEC_PER_SEC;
			shm->recv_nsec = real % NSEC_PER_SEC;
			shm->recv_usec = shm->recv_nsec / 1000;
			shm->leap = ann_leap;	/* NTP's LEAP_ADDSECOND */
			shm->precision = -20;
			__atomic_add_fetch(&shm->count, 1, __ATOMIC_SEQ_CST);
			__atomic_store_n(&shm->valid, 1, __ATOMIC_SEQ_CST);
		}
		if (rd.fd >= 0) {
			st = ioctl(rd.fd, NTPDISC_ADJTIMEX, &tx);
			/* tick is in us per 1/USER_HZ: 1 us of 10000 is 100 ppm. */
			eff = tx.freq / 65536.0 + (tx.tick - 10000) * 100.0;
		}
		if (log) {
			fprintf(log, "%.3f,%lld,%s,0x%04x,%.4f,%lld,%.4f,%lld,%lld,%lld,%lld\n",
				el, (long long)err, state_name(st), tx.status,
				tx.freq / 65536.0, (long long)tx.tick, eff,
				(long long)tx.offset, (long long)tx.constant,
				(long long)tx.maxerror, (long long)tx.esterror);
			fflush(log);
		}
		if (conv_us > 0 && !announced) {
			if (llabs(err) >= conv_us * 1e3) {
				conv_since = -1;
			} else if (conv_since < 0) {
				conv_since = el;
			} else if (el - conv_since >= 5) {
				printf("refclock: the error has stayed below %g us since %.1f s\n",
				       conv_us, conv_since);
				announced = 1;
			}
		}
		if (every > 0 && rd.fd >= 0 && last_st >= -1 && st != last_st)
			printf("refclock: the discipline's state is now %s\n",
			       state_name(st));
		last_st = st;
		if (every > 0 && (el >= next_print ||
				  (leap_at && llabs(unleaped - leap_at) < 2 * NSEC_PER_SEC))) {
			char tod[24];

			utc_of_day(real, st, tod, sizeof(tod));
			printf("%7.2f s  %-12s  %+11.3f us  %+9.3f ppm  %s\n",
			       el, tod, err / 1e3, eff, state_name(st));
			if (el >= next_print)
				next_print = el + every;
		}
		fflush(stdout);
		if (duration > 0 && el >= duration)
			break;
		nap.tv_sec = (time_t)(1 / hz);
		nap.tv_nsec = (long)((1 / hz - (double)nap.tv_sec) * 1e9);
		nanosleep(&nap, NULL);
	}
	if (sock_path)
		close(sock);
	if (shm)
		shmdt(shm);
	if (log)
		fclose(log);
	return 0;
}
