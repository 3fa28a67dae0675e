// SPDX-License-Identifier: GPL-2.0
/*
 * ntpdisc selftest: the simulator against the guest kernel.
 *
 * tools/ntpdisc-sim -R writes a trace of short simulated runs: a daemon
 * polling an oscillator and feeding ADJ_OFFSET to the discipline, PLL and
 * FLL, micro and nano, with a read in every second it does not poll, and
 * what each call answered in the simulation. Here every call is made
 * again, in the second of the run it belongs to, on the guest kernel's own
 * discipline and on ntpdisc: the kernel's answers must equal the
 * simulator's field for field (or the simulator is not modelling the
 * kernel), and ntpdisc's the kernel's.
 *
 * From 7.3 the kernel slews tick by tick, which the simulator does not
 * model: there only ntpdisc is compared with the kernel. The ioctl
 * variant replays the odd-numbered runs, the clock id variant the others.
 *
 *   NTPDISC_SIMTRACE=<file>  the trace (default ntpdisc_simtrace.txt here,
 *                            as "make payload" installs it)
 */
#include <stdlib.h>
#include <time.h>

#include "ntpdisc_harness.h"

#define TRACE_DEFAULT	"ntpdisc_simtrace.txt"
#define MAX_CALLS	4096
#define CALL_AT		ND_MS(300)	/* into each second */
#define SEG_TRIES	3

struct trace_call {
	bool compare;		/* "req"; "pre" answers depend on the past */
	long sec;		/* into the run */
	struct timex in;
	int ret;
	struct timex out;	/* the fields that are compared */
};

struct trace_seg {
	char name[96];
	int first, n;		/* calls[first .. first + n) */
};

static struct trace_call calls[MAX_CALLS];
static struct trace_seg segs[64];
static int ncalls, nsegs;

static int load_trace(const char *path, char *err, size_t len)
{
	long long v[16];
	char line[512], kind[8];
	unsigned int modes;
	FILE *f = fopen(path, "r");
	int lineno = 0;

	if (!f) {
		snprintf(err, len, "%s: %s (the trace comes from \"make payload\")",
			 path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		struct trace_call *c = &calls[ncalls];
		long sec;
		int n;

		lineno++;
		if (!strncmp(line, "seg ", 4)) {
			if (nsegs == ARRAY_SIZE(segs))
				break;
			line[strcspn(line, "\n")] = 0;
			snprintf(segs[nsegs].name, sizeof(segs[0].name), "%.90s",
				 line + 4);
			segs[nsegs].first = ncalls;
			segs[nsegs++].n = 0;
			continue;
		}
		/* kind, second, modes, 7 request fields -> ret, 7 answers */
		n = sscanf(line, "%7s %ld %x %lld %lld %lld %lld %lld %lld %lld"
			   " -> %lld %lld %lld %lld %lld %lld %lld %lld",
			   kind, &sec, &modes, &v[0], &v[1], &v[2], &v[3],
			   &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10],
			   &v[11], &v[12], &v[13], &v[14]);
		if (n != 18 || !nsegs || ncalls == MAX_CALLS ||
		    (strcmp(kind, "req") && strcmp(kind, "pre"))) {
			snprintf(err, len, "%s:%d: not a trace line", path,
				 lineno);
			fclose(f);
			return -1;
		}
		c->compare = !strcmp(kind, "req");
		c->sec = sec;
		nd_tx_init(&c->in, modes);
		c->in.offset = v[0];
		c->in.freq = v[1];
		c->in.maxerror = v[2];
		c->in.esterror = v[3];
		c->in.status = v[4];
		c->in.constant = v[5];
		c->in.tick = v[6];
		c->ret = v[7];
		c->out.offset = v[8];
		c->out.freq = v[9];
		c->out.maxerror = v[10];
		c->out.esterror = v[11];
		c->out.status = v[12];
		c->out.constant = v[13];
		c->out.tick = v[14];
		segs[nsegs - 1].n++;
		ncalls++;
	}
	fclose(f);
	if (!ncalls)
		snprintf(err, len, "%s: no calls", path);
	return ncalls ? 0 : -1;
}

static int field_diff(const char *name, long long got, long long want,
		      char *buf, size_t len)
{
	size_t used = strlen(buf);

	if (got == want)
		return 0;
	snprintf(buf + used, len - used, " %s %lld (sim %lld)", name, got,
		 want);
	return 1;
}

/* What the kernel answered, against what the simulation answered. */
static int sim_diff(const struct trace_call *c, const struct nd_res *r,
		    char *buf, size_t len)
{
	const struct timex *o = &r->out;

	buf[0] = 0;
	return field_diff("ret", r->ret, c->ret, buf, len) +
	       field_diff("offset", o->offset, c->out.offset, buf, len) +
	       field_diff("freq", o->freq, c->out.freq, buf, len) +
	       field_diff("maxerror", o->maxerror, c->out.maxerror, buf, len) +
	       field_diff("esterror", o->esterror, c->out.esterror, buf, len) +
	       field_diff("status", o->status, c->out.status, buf, len) +
	       field_diff("constant", o->constant, c->out.constant, buf, len) +
	       field_diff("tick", o->tick, c->out.tick, buf, len);
}

static void sleep_until(__s64 t)
{
	struct timespec ts = { t / ND_NSEC_PER_SEC, t % ND_NSEC_PER_SEC };

	while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

/*
 * Replay one run. Returns the number of differences, or -1 when a call
 * missed its second (the guest stalled): the run must be made again, since
 * the per-second updates no longer line up with the simulation's.
 */
static int replay(struct __test_metadata *_metadata,
		  struct _test_data_ntpdisc *self, const struct trace_seg *s)
{
	bool once = self->dut.kind == ND_KERNEL;
	struct nd_res rr, rd;
	char why[1024], in[256];
	__s64 base;
	int i, bad = 0;

	nd_reset_both(_metadata, self);
	base = (nd_now_ns(CLOCK_REALTIME) / ND_NSEC_PER_SEC + 1) *
	       ND_NSEC_PER_SEC;
	for (i = s->first; i < s->first + s->n; i++) {
		const struct trace_call *c = &calls[i];
		__s64 at = base + c->sec * ND_NSEC_PER_SEC;

		sleep_until(at + CALL_AT);
		nd_call(&self->ref, &c->in, &rr);
		if (once)
			rd = rr;
		else
			nd_call(&self->dut, &c->in, &rd);
		if (rr.t0 < at + ND_MS(50) ||
		    rd.t1 > at + ND_MS(950)) {
			TH_LOG("%s: second %ld: calls ran %lld..%lld ms into it, run again",
			       s->name, c->sec, (long long)(rr.t0 - at) / 1000000,
			       (long long)(rd.t1 - at) / 1000000);
			return -1;
		}
		if (!once && nd_diff(&rr, &rd, why, sizeof(why))) {
			nd_log_mismatch(_metadata, s->name, &rr, &rd, why);
			bad++;
		}
		/* The simulator slews second by second, as 6.1 to 7.2 do. */
		if (c->compare && !nd_tick_slew() &&
		    sim_diff(c, &rr, why, sizeof(why))) {
			nd_format_tx(&c->in, in, sizeof(in));
			TH_LOG("%s: second %ld: kernel differs from the simulator:%s\n#  call: %s",
			       s->name, c->sec, why, in);
			bad++;
		}
		if (bad >= 5)
			break;
	}
	return bad;
}

TEST_F_TIMEOUT(ntpdisc, simtrace, 600)
{
	const char *path = getenv("NTPDISC_SIMTRACE");
	char err[512];
	int i, tries, bad, total = 0;

	if (!path)
		path = TRACE_DEFAULT;
	if (!ncalls && load_trace(path, err, sizeof(err))) {
		TH_LOG("%s", err);
		ASSERT_TRUE(0);
	}
	for (i = 0; i < nsegs; i++) {
		/*
		 * The entry points meet the same discipline: each variant
		 * replays every other segment, and the two all of them.
		 */
		if (i % 2 != (variant->kind == ND_CLOCKID))
			continue;
		for (tries = 0; tries < SEG_TRIES; tries++) {
			bad = replay(_metadata, self, &segs[i]);
			if (bad >= 0)
				break;
		}
		ASSERT_GT(SEG_TRIES, tries);
		TH_LOG("%s: %d calls over %ld s, %d differences", segs[i].name,
		       segs[i].n, calls[segs[i].first + segs[i].n - 1].sec,
		       bad);
		total += bad;
	}
	EXPECT_EQ(0, total);
}

TEST_HARNESS_MAIN
