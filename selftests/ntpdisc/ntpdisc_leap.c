// SPDX-License-Identifier: GPL-2.0
/*
 * ntpdisc selftest: leap seconds (fact sheet §8, second_overflow() and the
 * read path of __do_adjtimex() in kernel/time/ntp.c).
 *
 * Each scenario sets the guest clock a few seconds before a UTC midnight M,
 * clears both sides, arms STA_INS or STA_DEL and then follows a script of
 * samples (kernel and ntpdisc read within one second, away from its
 * edges), status writes and "hammer" windows: tight loops across a second
 * boundary that check the read-path emulation of the kernel (TIME_OOP with
 * tv_sec - 1 before the step has happened, and so on).
 *
 * Times in a script are on the timeline of the first pass through the
 * day (think TAI): MONOTONIC keeps running through the inserted second
 * while REALTIME goes back, so samples are scheduled on CLOCK_MONOTONIC.
 */
#include <sys/ioctl.h>

#include "ntpdisc_harness.h"

enum act { SAMPLE, STATUS, HAMMER, SETTIME, END };

struct step {
	enum act act;
	int v;		/* ms relative to M on the first-pass timeline */
	int ret;	/* SAMPLE: expected return */
	int sec;	/* SAMPLE: expected time.tv_sec - M */
	int tai;	/* SAMPLE: expected tai - tai at start */
	int status;	/* STATUS: status to write (maxerror 0) */
	__s64 leap;	/* SAMPLE: ntpdisc next_leap_sec - M, or -1 */
};

#define S(_v, _ret, _sec, _tai, _leap) \
	{ .act = SAMPLE, .v = _v, .ret = _ret, .sec = _sec, .tai = _tai, \
	  .leap = _leap }
#define ST(_v, _st)	{ .act = STATUS, .v = _v, .status = _st }
/* Hammer the boundary at @_v; @_ret is the state after it. */
#define H(_v, _ret)	{ .act = HAMMER, .v = _v, .ret = _ret }
#define NOLEAP		(-1 - (1LL << 40))
#define DAYLEAP		86400

struct hsample {
	int ret;
	__s64 sec;
	__s64 usec;
	int tai;
};

#define HAMMER_MAX	20000
#define HAMMER_MS	60

static __s64 M;	/* the midnight, seconds */
static __s64 off;	/* REALTIME - MONOTONIC at the first pass, ns */
static int tai0;

static __s64 mono_of(int v_ms)
{
	return M * ND_NSEC_PER_SEC + (__s64)v_ms * 1000 * 1000 - off;
}

static void sleep_mono(__s64 t)
{
	nd_sleep_ns(t - nd_now_ns(CLOCK_MONOTONIC));
}

static void set_realtime(struct __test_metadata *_metadata, __s64 t)
{
	struct timespec ts = {
		.tv_sec = t / ND_NSEC_PER_SEC,
		.tv_nsec = t % ND_NSEC_PER_SEC,
	};

	ASSERT_EQ(0, clock_settime(CLOCK_REALTIME, &ts));
}

static void write_status(struct __test_metadata *_metadata,
			 struct _test_data_ntpdisc *self, int status)
{
	struct nd_res rr, rd;
	struct timex tx;

	/* maxerror 0 keeps STA_UNSYNC away, so the states are visible. */
	nd_tx_init(&tx, ADJ_STATUS | ADJ_MAXERROR);
	tx.status = status;
	nd_run(_metadata, self, "status", &tx, &rr, &rd, false);
	ASSERT_LE(0, rr.ret);
}

static void sample(struct __test_metadata *_metadata,
		   struct _test_data_ntpdisc *self, const struct step *s)
{
	struct ntpdisc_output o;
	struct nd_res rr, rd;
	struct timex tx;
	char why[1024];

	nd_tx_init(&tx, 0);
	nd_call(&self->ref, &tx, &rr);
	nd_call(&self->dut, &tx, &rd);
	EXPECT_EQ(s->ret, rr.ret) {
		TH_LOG("at M%+d ms: kernel returned %d", s->v, rr.ret);
	}
	EXPECT_EQ(M + s->sec, rr.out.time.tv_sec) {
		TH_LOG("at M%+d ms: kernel time %ld", s->v,
		       rr.out.time.tv_sec);
	}
	EXPECT_EQ(tai0 + s->tai, rr.out.tai);
	if (nd_diff(&rr, &rd, why, sizeof(why))) {
		nd_log_mismatch(_metadata, "leap", &rr, &rd, why);
		TH_LOG("at M%+d ms", s->v);
		_metadata->passed = 0;
	}
	if (nd_has_output(&self->dut)) {
		ASSERT_EQ(0, nd_get_output(&self->dut, &o));
		EXPECT_EQ(s->leap == NOLEAP ? -1 : M + s->leap,
			  o.next_leap_sec) {
			TH_LOG("at M%+d ms: ntpdisc next_leap_sec", s->v);
		}
	}
}

/*
 * Fill @hr and @hd with alternate samples of both sides across the
 * boundary at @v_ms (only @hr for one side); returns the count per side.
 */
static int hammer_run(const struct nd_entry *ref, const struct nd_entry *dut,
		      int v_ms, struct hsample *hr, struct hsample *hd)
{
	__s64 end = mono_of(v_ms + HAMMER_MS);
	struct hsample *h;
	struct timex tx;
	int n = 0, k;

	sleep_mono(mono_of(v_ms - HAMMER_MS));
	while (n < HAMMER_MAX && nd_now_ns(CLOCK_MONOTONIC) < end) {
		for (k = 0; k < (dut ? 2 : 1); k++) {
			h = k ? &hd[n] : &hr[n];
			nd_tx_init(&tx, 0);
			h->ret = nd_adjtimex(k ? dut : ref, &tx);
			h->sec = tx.time.tv_sec;
			h->usec = tx.time.tv_usec;
			h->tai = tx.tai;
		}
		n++;
	}
	return n;
}

/*
 * Across the boundary: first the state before it, then @after; the time
 * reported plus the TAI offset never goes back; tv_sec is what the kernel
 * shows for the state (TIME_OOP: M-1, the inserted second).
 */
static int check_hammer(struct __test_metadata *_metadata, const char *who,
			const struct step *s, int before, int bsec, int btai,
			int asec, int atai, const struct hsample *h, int n)
{
	__s64 last = 0, t;
	int i, seen_after = 0, seen_before = 0, races = 0, bad = 0;

	for (i = 0; i < n; i++) {
		bool is_before = h[i].ret == before && h[i].sec == M + bsec &&
				 h[i].tai == tai0 + btai;
		bool is_after = h[i].ret == s->ret && h[i].sec == M + asec &&
				h[i].tai == tai0 + atai;

		/*
		 * Fact sheet §7 (derived race): REALTIME is sampled before
		 * the lock, so one call may return TIME_WAIT with 00:00:00
		 * just as the tick steps the clock back. Allow it once.
		 */
		bool ins_race = before == TIME_INS &&
				h[i].ret == TIME_WAIT && h[i].sec == M &&
				i + 1 < n && h[i + 1].ret == TIME_OOP;
		/*
		 * Its mirror at a deletion: sampled at 23:59:59.0 just before
		 * the tick steps forward, answered after it: TIME_WAIT with
		 * the old second and the new TAI offset.
		 */
		bool del_race = before == TIME_DEL &&
				h[i].ret == TIME_WAIT && h[i].sec == M - 1 &&
				h[i].tai == tai0 - 1 && i + 1 < n &&
				h[i + 1].ret == TIME_WAIT && h[i + 1].sec == M;

		if ((ins_race || del_race) && h[i].usec < 20000 && !races) {
			races++;
			TH_LOG("%s: tolerated the read/step race at %d",
			       who, i);
			continue;
		}
		if (!(is_before && !seen_after) && !is_after) {
			if (bad++ < 5)
				TH_LOG("%s: M%+d ms hammer %d/%d: %d {%lld,%lld} tai%+d",
				       who, s->v, i, n, h[i].ret,
				       (long long)(h[i].sec - M),
				       (long long)h[i].usec, h[i].tai - tai0);
		}
		seen_before |= is_before;
		seen_after |= is_after;
		t = (h[i].sec + h[i].tai) * 1000000 + h[i].usec;
		if (i && t < last && bad++ < 5)
			TH_LOG("%s: sample %d: time+tai went back %lld us",
			       who, i, (long long)(last - t));
		last = t;
	}
	if (!seen_before || !seen_after) {
		TH_LOG("%s: hammer M%+d ms: %d samples, before %d after %d",
		       who, s->v, n, seen_before, seen_after);
		bad++;
	}
	return bad;
}

static struct hsample hr[HAMMER_MAX], hd[HAMMER_MAX];

static void hammer(struct __test_metadata *_metadata,
		   struct _test_data_ntpdisc *self, const struct step *s,
		   const struct step *prev)
{
	int bsec = prev->sec + (s->v - prev->v) / 1000;
	int asec, atai, n;

	/* Where the clock is after the boundary, from the next sample. */
	asec = s[1].sec - (s[1].v - s->v) / 1000;
	atai = s[1].tai;
	n = hammer_run(&self->ref, self->dut.kind == ND_KERNEL ? NULL :
		       &self->dut, s->v, hr, hd);
	EXPECT_EQ(0, check_hammer(_metadata, "kernel", s, prev->ret, bsec,
				  prev->tai, asec, atai, hr, n));
	if (self->dut.kind != ND_KERNEL)
		EXPECT_EQ(0, check_hammer(_metadata, "ntpdisc", s, prev->ret,
					  bsec, prev->tai, asec, atai, hd, n));
}

static void run_script(struct __test_metadata *_metadata,
		       struct _test_data_ntpdisc *self, int start_ms,
		       const struct step *script)
{
	__s64 rt0, m0, now;
	const struct step *s, *prev = NULL;
	struct timex tx;

	rt0 = nd_now_ns(CLOCK_REALTIME);
	m0 = nd_now_ns(CLOCK_MONOTONIC);
	M = (rt0 / ND_NSEC_PER_SEC / 86400 + 1) * 86400;
	/* Put REALTIME at M + start_ms, 200 ms into that second. */
	set_realtime(_metadata, M * ND_NSEC_PER_SEC +
		     (__s64)start_ms * 1000 * 1000);
	now = nd_now_ns(CLOCK_MONOTONIC);
	off = nd_now_ns(CLOCK_REALTIME) - now;
	/* settimeofday did ntp_clear; now the leap-a-day style clear. */
	nd_reset_both(_metadata, self);
	write_status(_metadata, self, 0);
	nd_tx_init(&tx, 0);
	ASSERT_LE(0, nd_adjtimex(&self->ref, &tx));
	tai0 = tx.tai;

	for (s = script; s->act != END; s++) {
		if (s->act != HAMMER)
			sleep_mono(mono_of(s->v));
		switch (s->act) {
		case SAMPLE:
			sample(_metadata, self, s);
			prev = s;
			break;
		case STATUS:
			write_status(_metadata, self, s->status);
			break;
		case SETTIME:
			/* A 1 ms step forward: any set is an ntp_clear. */
			set_realtime(_metadata,
				     nd_now_ns(CLOCK_REALTIME) + ND_MS(1));
			break;
		case HAMMER:
			hammer(_metadata, self, s, prev);
			break;
		case END:
			break;
		}
	}
	/* Put the wall clock back where it would have been. */
	set_realtime(_metadata, rt0 + nd_now_ns(CLOCK_MONOTONIC) - m0);
}

/*
 * Insert: STA_INS written at 23:59:58.6 is armed by the boundary that
 * starts 23:59:59 (the last one that can); TIME_INS, then the inserted
 * second 23:59:59 again as TIME_OOP with tai + 1, then TIME_WAIT until
 * STA_INS is cleared, TIME_OK one second after that.
 */
TEST_F_TIMEOUT(ntpdisc, insert, 60)
{
	static const struct step script[] = {
		S(-2750, TIME_OK, -3, 0, NOLEAP),
		S(-2250, TIME_OK, -3, 0, NOLEAP),
		S(-1750, TIME_OK, -2, 0, NOLEAP),
		ST(-1400, STA_INS),
		S(-1250, TIME_OK, -2, 0, NOLEAP),
		S(-750, TIME_INS, -1, 0, 0),
		S(-250, TIME_INS, -1, 0, 0),
		H(0, TIME_OOP),
		S(250, TIME_OOP, -1, 1, 0),
		S(750, TIME_OOP, -1, 1, 0),
		H(1000, TIME_WAIT),
		S(1250, TIME_WAIT, 0, 1, NOLEAP),
		S(1750, TIME_WAIT, 0, 1, NOLEAP),
		S(2250, TIME_WAIT, 1, 1, NOLEAP),
		ST(2400, 0),
		S(2750, TIME_WAIT, 1, 1, NOLEAP),
		S(3250, TIME_OK, 2, 1, NOLEAP),
		{ .act = END },
	};

	run_script(_metadata, self, -2800, script);
}

/*
 * Delete: STA_DEL at 23:59:57.6 is armed by the boundary that starts
 * 23:59:58 (the last one that can); 23:59:59 never happens, tai - 1.
 */
TEST_F_TIMEOUT(ntpdisc, delete, 60)
{
	static const struct step script[] = {
		S(-3750, TIME_OK, -4, 0, NOLEAP),
		S(-3250, TIME_OK, -4, 0, NOLEAP),
		S(-2750, TIME_OK, -3, 0, NOLEAP),
		ST(-2400, STA_DEL),
		S(-2250, TIME_OK, -3, 0, NOLEAP),
		S(-1750, TIME_DEL, -2, 0, -1),
		S(-1250, TIME_DEL, -2, 0, -1),
		H(-1000, TIME_WAIT),
		S(-750, TIME_WAIT, 0, -1, NOLEAP),
		S(-250, TIME_WAIT, 0, -1, NOLEAP),
		S(250, TIME_WAIT, 1, -1, NOLEAP),
		ST(400, 0),
		S(750, TIME_WAIT, 1, -1, NOLEAP),
		S(1250, TIME_OK, 2, -1, NOLEAP),
		{ .act = END },
	};

	run_script(_metadata, self, -3800, script);
}

/*
 * Too late for today: STA_INS written at 23:59:59.5 is seen first by the
 * boundary at midnight, which arms the next day's midnight. No OOP.
 * Clearing STA_INS in TIME_INS gives TIME_OK at the next second.
 */
TEST_F_TIMEOUT(ntpdisc, insert_too_late, 60)
{
	static const struct step script[] = {
		S(-1750, TIME_OK, -2, 0, NOLEAP),
		S(-750, TIME_OK, -1, 0, NOLEAP),
		ST(-500, STA_INS),
		S(-250, TIME_OK, -1, 0, NOLEAP),
		S(250, TIME_INS, 0, 0, DAYLEAP),
		S(750, TIME_INS, 0, 0, DAYLEAP),
		S(1250, TIME_INS, 1, 0, DAYLEAP),
		ST(1400, 0),
		S(1500, TIME_INS, 1, 0, DAYLEAP),
		S(2250, TIME_OK, 2, 0, NOLEAP),
		{ .act = END },
	};

	run_script(_metadata, self, -1800, script);
}

/* STA_DEL written at 23:59:58.5 arms tomorrow: 23:59:59 does happen. */
TEST_F_TIMEOUT(ntpdisc, delete_too_late, 60)
{
	static const struct step script[] = {
		S(-2750, TIME_OK, -3, 0, NOLEAP),
		S(-1750, TIME_OK, -2, 0, NOLEAP),
		ST(-1500, STA_DEL),
		S(-1250, TIME_OK, -2, 0, NOLEAP),
		S(-750, TIME_DEL, -1, 0, DAYLEAP - 1),
		S(-250, TIME_DEL, -1, 0, DAYLEAP - 1),
		S(250, TIME_DEL, 0, 0, DAYLEAP - 1),
		ST(400, 0),
		S(750, TIME_DEL, 0, 0, DAYLEAP - 1),
		S(1250, TIME_OK, 1, 0, NOLEAP),
		{ .act = END },
	};

	run_script(_metadata, self, -2800, script);
}

/*
 * Setting the clock while TIME_INS disarms the leap (ntp_clear) but
 * leaves the state: TIME_INS goes on past midnight and no second is
 * inserted. Writing STA_INS again does not re-arm (§8.5).
 */
TEST_F_TIMEOUT(ntpdisc, settime_disarms, 60)
{
	static const struct step script[] = {
		ST(-2700, STA_INS),
		S(-1750, TIME_INS, -2, 0, 0),
		{ .act = SETTIME, .v = -1600 },
		ST(-1500, STA_INS),
		S(-1250, TIME_INS, -2, 0, NOLEAP),
		S(-250, TIME_INS, -1, 0, NOLEAP),
		S(250, TIME_INS, 0, 0, NOLEAP),
		S(750, TIME_INS, 0, 0, NOLEAP),
		ST(900, 0),
		S(1250, TIME_OK, 1, 0, NOLEAP),
		{ .act = END },
	};

	run_script(_metadata, self, -2800, script);
}

TEST_HARNESS_MAIN
