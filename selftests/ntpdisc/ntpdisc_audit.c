// SPDX-License-Identifier: GPL-2.0
/*
 * ntpdisc selftest: changes through /dev/ntpdisc are audited as the
 * kernel audits adjtimex(2).
 *
 * The test becomes the audit daemon (AUDIT_SET on a NETLINK_AUDIT
 * socket), audits every system call of one child process, and has that
 * child make each change twice: on the kernel's discipline through
 * clock_adjtime(CLOCK_REALTIME), then on ntpdisc's through the ioctl,
 * both from the same state (shadow mode). Each change must bring the same
 * AUDIT_TIME_ADJNTPVAL records ("op=freq old=0 new=819200"), in the
 * event of its own system call; a read changes nothing and brings none.
 *
 * Afterwards the exit rule is deleted, and a task rule "never" (what
 * Debian's auditd starts with) keeps later processes of the guest from
 * paying for audit contexts. Skips without audit support. Only the
 * guest's state is changed: never run this on a real machine.
 */
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ntpdisc_harness.h"

#define MAXREC	256
#define MAXOPS	8

struct nl_req {
	struct nlmsghdr nh;
	union {
		struct audit_status st;
		struct audit_rule_data rule;
	};
};

/* One audited system call of the child: its serial, what it changed. */
struct event {
	unsigned long serial;
	long syscall;
	int nops;
	char ops[MAXOPS][96];
};

struct seen {
	int n;
	struct event ev[MAXREC];
};

/* Send one request and wait for its answer; 0 or -errno. */
static int nl_send(int fd, int type, const void *data, size_t len)
{
	struct nl_req req = {};
	char buf[8192];
	struct nlmsghdr *nh;
	ssize_t n;

	req.nh.nlmsg_len = NLMSG_LENGTH(len);
	req.nh.nlmsg_type = type;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	memcpy(&req.st, data, len);
	if (send(fd, &req, req.nh.nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0)
			return -errno;
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, n);
		     nh = NLMSG_NEXT(nh, n))
			if (nh->nlmsg_type == NLMSG_ERROR)
				return ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
	}
}

static int set_status(int fd, __u32 mask, __u32 enabled, __u32 pid)
{
	struct audit_status st = {};

	st.mask = mask;
	st.enabled = enabled;
	st.pid = pid;
	return nl_send(fd, AUDIT_SET, &st, sizeof(st));
}

/* An exit rule for every system call of @pid, or a task rule "never". */
static int rule(int fd, int type, bool exit_of_pid, pid_t pid)
{
	struct audit_rule_data r = {};
	int i;

	if (exit_of_pid) {
		r.flags = AUDIT_FILTER_EXIT;
		r.action = AUDIT_ALWAYS;
		r.field_count = 1;
		r.fields[0] = AUDIT_PID;
		r.values[0] = pid;
		r.fieldflags[0] = AUDIT_EQUAL;
	} else {
		r.flags = AUDIT_FILTER_TASK;
		r.action = AUDIT_NEVER;
	}
	for (i = 0; i < AUDIT_BITMASK_SIZE; i++)
		r.mask[i] = ~0U;
	return nl_send(fd, type, &r, sizeof(r));
}

static struct event *event_of(struct seen *s, unsigned long serial)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (s->ev[i].serial == serial)
			return &s->ev[i];
	if (s->n == MAXREC)
		return NULL;
	memset(&s->ev[s->n], 0, sizeof(s->ev[0]));
	s->ev[s->n].serial = serial;
	s->ev[s->n].syscall = -1;
	return &s->ev[s->n++];
}

/* Records until none came for half a second. */
static void collect(int fd, struct seen *s)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[9000], *text, *at;
	struct nlmsghdr *nh;
	unsigned long serial;
	struct event *e;
	ssize_t n;

	while (poll(&p, 1, 500) > 0) {
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			break;
		buf[n] = '\0';
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, n);
		     nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_type != AUDIT_SYSCALL &&
			    nh->nlmsg_type != AUDIT_TIME_ADJNTPVAL)
				continue;
			text = NLMSG_DATA(nh);
			text[NLMSG_PAYLOAD(nh, 0) < 8000 ? NLMSG_PAYLOAD(nh, 0) :
			     8000] = '\0';
			at = strchr(text, ':');
			if (!at || sscanf(at + 1, "%lu", &serial) != 1)
				continue;
			e = event_of(s, serial);
			if (!e)
				continue;
			at = strchr(at, ')');
			at = at ? at + 3 : text;
			if (nh->nlmsg_type == AUDIT_SYSCALL) {
				at = strstr(text, "syscall=");
				if (at)
					e->syscall = strtol(at + 8, NULL, 10);
			} else if (e->nops < MAXOPS) {
				snprintf(e->ops[e->nops++], sizeof(e->ops[0]),
					 "%s", at);
			}
		}
	}
}

/* The changes, each made on the kernel and then on ntpdisc. */
static void changes(struct timex *tx, int i)
{
	memset(tx, 0, sizeof(*tx));
	switch (i) {
	case 0:
		tx->modes = ADJ_FREQUENCY;
		tx->freq = 819200;	/* 12.5 ppm */
		break;
	case 1:
		tx->modes = ADJ_STATUS | ADJ_MAXERROR;
		tx->status = STA_PLL;
		break;
	case 2:
		tx->modes = ADJ_OFFSET;
		tx->offset = 1000;
		break;
	case 3:
		tx->modes = ADJ_TICK;
		tx->tick = 10001;
		break;
	case 4:
		tx->modes = ADJ_OFFSET_SINGLESHOT;
		tx->offset = 5000;
		break;
	case 5:
		tx->modes = 0;	/* a read: nothing to audit */
		break;
	}
}

#define NCHANGES	6

/* The child: wait for the go, then every change on both. */
static int child(int go, int fd)
{
	struct timex tx;
	char c;
	int i;

	if (read(go, &c, 1) != 1)
		return 1;
	for (i = 0; i < NCHANGES; i++) {
		nd_sleep_next_frac(100 * 1000 * 1000LL);
		changes(&tx, i);
		if (syscall(SYS_clock_adjtime, CLOCK_REALTIME, &tx) < 0)
			return 2;
		changes(&tx, i);
		if (ioctl(fd, NTPDISC_ADJTIMEX, &tx) < 0)
			return 3;
	}
	return 0;
}

TEST_F(ntpdisc, changes_audited_as_the_system_call)
{
	struct event *k[NCHANGES] = {}, *d[NCHANGES] = {};
	static struct seen s;
	int nl, go[2], status, i, j, nk = 0, nd = 0, ret;
	pid_t pid;

	if (nd_target_is_kernel())
		SKIP(return, "compares ntpdisc with the kernel");
	nl = socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT);
	if (nl < 0)
		SKIP(return, "no audit netlink: %s", strerror(errno));
	ret = set_status(nl, AUDIT_STATUS_ENABLED | AUDIT_STATUS_PID, 1,
			 getpid());
	if (ret)
		SKIP(return, "cannot become the audit daemon: %s",
		     strerror(-ret));
	/* Left by an earlier run, it would keep the child unaudited. */
	rule(nl, AUDIT_DEL_RULE, false, 0);

	/* Created now, with audit on: the child gets an audit context. */
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(child(go[0], self->dut.fd));
	ret = rule(nl, AUDIT_ADD_RULE, true, pid);
	EXPECT_EQ(0, ret) {
		TH_LOG("adding the exit rule: %s", strerror(-ret));
	}
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	collect(nl, &s);

	EXPECT_EQ(0, rule(nl, AUDIT_DEL_RULE, true, pid));
	/* Later processes get no audit context at all. */
	ret = rule(nl, AUDIT_ADD_RULE, false, 0);
	EXPECT_TRUE(!ret || ret == -EEXIST);
	EXPECT_EQ(0, set_status(nl, AUDIT_STATUS_ENABLED | AUDIT_STATUS_PID,
				0, 0));
	close(nl);

	/* In call order: clock_adjtime, ioctl, clock_adjtime, ... */
	for (i = 0; i < s.n; i++) {
		if (s.ev[i].syscall == SYS_clock_adjtime && nk < NCHANGES)
			k[nk++] = &s.ev[i];
		else if (s.ev[i].syscall == SYS_ioctl && nd < NCHANGES)
			d[nd++] = &s.ev[i];
	}
	ASSERT_EQ(NCHANGES, nk);
	ASSERT_EQ(NCHANGES, nd);
	for (i = 0; i < NCHANGES; i++) {
		for (j = 0; j < k[i]->nops; j++)
			TH_LOG("change %d: kernel  %s", i, k[i]->ops[j]);
		for (j = 0; j < d[i]->nops; j++)
			TH_LOG("change %d: ntpdisc %s", i, d[i]->ops[j]);
		EXPECT_EQ(k[i]->nops, d[i]->nops);
		for (j = 0; j < k[i]->nops && j < d[i]->nops; j++)
			EXPECT_STREQ(k[i]->ops[j], d[i]->ops[j]);
	}
	/* Some changes are recorded at all, a read is not. */
	EXPECT_LT(0, k[0]->nops);
	EXPECT_EQ(0, k[NCHANGES - 1]->nops);
}

TEST_HARNESS_MAIN
