// SPDX-License-Identifier: GPL-2.0
/*
 * ntpdisc-sim: the discipline (module/discipline.c, the module's own
 * source) driving a simulated oscillator, on the host.
 *
 * The oscillator has a constant frequency error, a random-walk wander of
 * its frequency and white phase noise on each measurement. A daemon polls
 * it every POLL seconds and feeds the measured offset to the discipline
 * with ADJ_OFFSET, in PLL or FLL mode, as ntpd's kernel mode does. Every
 * simulated second runs the discipline's second and lets the clock run at
 * the rate it then sets.
 *
 * For each poll interval and time constant of the grid it reports how long
 * the clock takes to come within 1 ms and within 10 us for good, and the
 * RMS and largest error over the second half of the run; as a table, as
 * CSV (-o FILE), and with -t FILE the trajectory of one run.
 *
 * With -R FILE it instead appends to FILE a trace of one short run (-T
 * seconds, the first poll interval and time constant): every request the
 * daemon makes, a read in each second without one, and what each answered.
 * The selftest ntpdisc_simtrace replays the trace against the guest
 * kernel's own discipline, second for second, and must get the same
 * answers: otherwise the simulator does not model the kernel.
 *
 * usage: ntpdisc-sim [-d days] [-f ppm] [-w ppm/sqrt(s)] [-n ns]
 *                    [-p polls] [-c consts] [-m pll|fll] [-u] [-s seed]
 *                    [-o grid.csv] [-t trajectory.csv] [-R trace -T secs]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "discipline.h"

struct params {
	double days;
	double freq_ppm;	/* constant frequency error */
	double wander;		/* random walk, ppm per sqrt(s) */
	double noise_ns;	/* white phase noise of a measurement, rms */
	bool fll;
	bool micro;		/* ADJ_MICRO instead of ADJ_NANO */
	unsigned long long seed;
};

struct result {
	double t_1ms, t_10us;	/* s; -1 if never for good */
	double rms_ns, max_ns;	/* second half */
	double freq_ppm;	/* the discipline's at the end */
};

static unsigned long long rng;

static double uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return ((rng >> 11) + 0.5) / 9007199254740992.0;
}

static double gauss(void)
{
	return sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform());
}

static bool always(void)
{
	return true;
}

/*
 * One line per call: second, the request's fields, then the answer's
 * return value and fields (the order ntpdisc_simtrace reads them in).
 * "pre" marks a call whose answer depends on the state before the run,
 * which the replay cannot know: it is made but not compared.
 */
static void trace_call(FILE *trace, const char *kind, long t,
		       const struct ntpdisc_timex *in, int ret,
		       const struct ntpdisc_timex *out)
{
	fprintf(trace, "%s %ld %#x %lld %lld %lld %lld %d %lld %lld"
		" -> %d %lld %lld %lld %lld %d %lld %lld\n",
		kind, t, in->modes, in->offset, in->freq, in->maxerror,
		in->esterror, in->status, in->constant, in->tick, ret,
		out->offset, out->freq, out->maxerror, out->esterror,
		out->status, out->constant, out->tick);
}

static void request_as(struct discipline *d, struct ntpdisc_timex *tx,
		       time64_t now, FILE *trace, const char *kind, long t)
{
	struct timespec64 ts = { now, 0 };
	struct ntpdisc_timex in = *tx;
	s32 tai = 0;
	int ret;

	ret = discipline_validate(tx, always);
	if (!ret)
		ret = discipline_adjtimex(d, tx, &ts, now, &tai);
	if (trace)
		trace_call(trace, kind, t, &in, ret, tx);
}

static void request(struct discipline *d, struct ntpdisc_timex *tx,
		    time64_t now, FILE *trace, long t)
{
	request_as(d, tx, now, trace, "req", t);
}

/* The discipline's rate this second, relative to nominal. */
static double disc_rate(const struct discipline *d)
{
	return (double)discipline_tick_length(d) * DISC_HZ /
	       (double)((u64)NSEC_PER_SEC << 32) - 1;
}

/*
 * A known starting state that any kernel discipline can be put in too:
 * no adjtime slew, no phase, no frequency, nominal tick, zero errors, the
 * mode and time constant of the run.
 */
static void reset(struct discipline *d, const struct params *p,
		  int constant, time64_t now, FILE *trace)
{
	struct ntpdisc_timex tx;

	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_OFFSET_SINGLESHOT;
	request_as(d, &tx, now, trace, "pre", 0);
	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_STATUS | ADJ_TIMECONST | ADJ_OFFSET | ADJ_FREQUENCY |
		   ADJ_MAXERROR | ADJ_ESTERROR | ADJ_TICK |
		   (p->micro ? ADJ_MICRO : ADJ_NANO);
	tx.status = STA_PLL | (p->fll ? STA_FLL : 0);
	tx.constant = constant;
	tx.tick = USEC_PER_SEC / USER_HZ;
	request(d, &tx, now, trace, 0);
}

static void simulate(const struct params *p, int poll, int constant,
		     long secs, FILE *traj, FILE *trace, struct result *r)
{
	long half = secs / 2, t, n = 0;
	time64_t now = 1700000000;
	struct ntpdisc_timex tx;
	struct discipline d;
	double theta = 0.010;	/* clock - true time, s: 10 ms to start */
	double f = p->freq_ppm / 1e6, sum2 = 0, max = 0, e;

	rng = p->seed ? p->seed : 1;
	r->t_1ms = 0;
	r->t_10us = 0;
	discipline_init(&d);
	if (trace)
		fprintf(trace, "seg poll %d constant %d %s %s seed %llu\n",
			poll, constant, p->micro ? "micro" : "nano",
			p->fll ? "fll" : "pll", p->seed);
	reset(&d, p, constant, now, trace);

	for (t = 1; t <= secs; t++) {
		now++;
		discipline_second_overflow(&d, now);
		f += p->wander / 1e6 * gauss();
		theta += f + disc_rate(&d);
		if (t % poll == 0) {
			double m = -(theta + p->noise_ns / 1e9 * gauss());

			memset(&tx, 0, sizeof(tx));
			tx.modes = ADJ_OFFSET | ADJ_MAXERROR | ADJ_ESTERROR |
				   (p->micro ? ADJ_MICRO : ADJ_NANO);
			tx.offset = llround(m * (p->micro ? 1e6 : 1e9));
			request(&d, &tx, now, trace, t);
		} else if (trace) {
			memset(&tx, 0, sizeof(tx));
			request(&d, &tx, now, trace, t);
		}
		e = fabs(theta);
		if (e >= 0.001)
			r->t_1ms = -1;
		else if (r->t_1ms < 0 || !r->t_1ms)
			r->t_1ms = t;
		if (e >= 0.00001)
			r->t_10us = -1;
		else if (r->t_10us < 0 || !r->t_10us)
			r->t_10us = t;
		if (t > half) {
			sum2 += theta * theta;
			if (e > max)
				max = e;
			n++;
		}
		if (traj && (t < 256 || t % 16 == 0))
			fprintf(traj, "%ld,%.9f,%.6f\n", t, theta,
				(double)d.time_freq / 65536.0 / 65536.0 / 1000);
	}
	r->rms_ns = n ? sqrt(sum2 / n) * 1e9 : 0;
	r->max_ns = max * 1e9;
	r->freq_ppm = (double)d.time_freq / 4294967296.0 / 1000;
}

static int parse_list(const char *s, int *v, int max)
{
	int n = 0;

	while (*s && n < max) {
		v[n++] = atoi(s);
		s = strchr(s, ',');
		if (!s)
			break;
		s++;
	}
	return n;
}

int main(int argc, char **argv)
{
	struct params p = {
		.days = 2, .freq_ppm = 50, .wander = 0.0001, .noise_ns = 1000,
		.seed = 20261125,
	};
	int polls[16] = { 16, 64, 256, 1024 }, npoll = 4;
	int consts[16] = { 0, 2, 4, 6 }, nconst = 4;
	const char *csv = NULL, *trajfile = NULL, *tracefile = NULL;
	FILE *out = NULL, *traj = NULL, *trace;
	long trace_secs = 16;
	struct result r;
	int c, i, j;

	while ((c = getopt(argc, argv, "d:f:w:n:p:c:m:us:o:t:R:T:")) != -1) {
		switch (c) {
		case 'd':
			p.days = atof(optarg);
			break;
		case 'f':
			p.freq_ppm = atof(optarg);
			break;
		case 'w':
			p.wander = atof(optarg);
			break;
		case 'n':
			p.noise_ns = atof(optarg);
			break;
		case 'p':
			npoll = parse_list(optarg, polls, 16);
			break;
		case 'c':
			nconst = parse_list(optarg, consts, 16);
			break;
		case 'm':
			p.fll = !strcmp(optarg, "fll");
			break;
		case 'u':
			p.micro = true;
			break;
		case 's':
			p.seed = strtoull(optarg, NULL, 0);
			break;
		case 'o':
			csv = optarg;
			break;
		case 't':
			trajfile = optarg;
			break;
		case 'R':
			tracefile = optarg;
			break;
		case 'T':
			trace_secs = atol(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [-d days] [-f ppm] [-w ppm/sqrt(s)] [-n ns]\n"
				"\t[-p polls] [-c consts] [-m pll|fll] [-u] [-s seed]\n"
				"\t[-o grid.csv] [-t trajectory.csv] [-R trace -T secs]\n",
				argv[0]);
			return 2;
		}
	}
	if (fabs(p.freq_ppm) > 500 || p.days <= 0 || npoll < 1 || nconst < 1) {
		fprintf(stderr, "ntpdisc-sim: frequency error within +-500 ppm, days > 0\n");
		return 2;
	}
	if (tracefile) {
		if (trace_secs < 1 || trace_secs > 3600) {
			fprintf(stderr, "ntpdisc-sim: -T between 1 and 3600 s\n");
			return 2;
		}
		trace = fopen(tracefile, "a");
		if (!trace) {
			perror(tracefile);
			return 1;
		}
		simulate(&p, polls[0], consts[0], trace_secs, NULL, trace, &r);
		return fclose(trace) ? 1 : 0;
	}
	if (csv) {
		out = fopen(csv, "w");
		if (!out) {
			perror(csv);
			return 1;
		}
	}
	if (trajfile) {
		traj = fopen(trajfile, "w");
		if (!traj) {
			perror(trajfile);
			return 1;
		}
	}
	printf("# %.1f days, frequency error %+.1f ppm, wander %g ppm/sqrt(s), noise %.0f ns, %s, %s, seed %llu\n",
	       p.days, p.freq_ppm, p.wander, p.noise_ns, p.fll ? "FLL" : "PLL",
	       p.micro ? "micro" : "nano", p.seed);
	printf("%6s %5s %12s %12s %12s %12s %10s\n", "poll", "const",
	       "to 1 ms (s)", "to 10 us (s)", "rms (ns)", "max (ns)",
	       "freq (ppm)");
	if (out)
		fprintf(out, "poll,constant,mode,t_1ms_s,t_10us_s,rms_ns,max_ns,freq_ppm\n");
	if (traj)
		fprintf(traj, "t_s,offset_s,freq_ppm\n");
	for (i = 0; i < npoll; i++)
		for (j = 0; j < nconst; j++) {
			simulate(&p, polls[i], consts[j],
				 (long)(p.days * 86400),
				 i == 0 && j == 0 ? traj : NULL, NULL, &r);
			printf("%6d %5d %12.0f %12.0f %12.1f %12.1f %+10.4f\n",
			       polls[i], consts[j], r.t_1ms, r.t_10us,
			       r.rms_ns, r.max_ns, r.freq_ppm);
			if (out)
				fprintf(out, "%d,%d,%s,%.0f,%.0f,%.1f,%.1f,%.6f\n",
					polls[i], consts[j],
					p.fll ? "fll" : "pll", r.t_1ms,
					r.t_10us, r.rms_ns, r.max_ns,
					r.freq_ppm);
		}
	if (out)
		fclose(out);
	if (traj)
		fclose(traj);
	return 0;
}
