// SPDX-License-Identifier: GPL-2.0
/*
 * ntpdisc selftest: errors and privileges.
 *
 * The privilege matrix runs as root and, after fork() + setuid(65534) with
 * the descriptor opened before, without CAP_SYS_TIME. Expected errors come
 * from timekeeping_validate_timex() (kernel/time/timekeeping.c, 6.1) and
 * from the POSIX clock layer (kernel/time/posix-clock.c: EACCES for
 * modes != 0 on a descriptor not open for writing).
 */
#include <fcntl.h>
#include <limits.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "ntpdisc_cli.h"
#include "ntpdisc_harness.h"

struct vec {
	const char *what;
	unsigned int modes;
	long freq;
	long tick;
	long sec;
	long usec;
	int root;	/* expected errno as root, 0 for success */
	int user;	/* expected errno without CAP_SYS_TIME */
};

/* Fact sheet §3 and §15.2/15.3; every step stays within a microsecond. */
static const struct vec vecs[] = {
	{ "read", 0, 0, 0, 0, 0, 0, 0 },
	{ "adjtime read", ADJ_OFFSET_SS_READ, 0, 0, 0, 0, 0, 0 },
	{ "adjtime", ADJ_OFFSET_SINGLESHOT, 0, 0, 0, 0, 0, EPERM },
	{ "ADJ_ADJTIME alone", 0x8000, 0, 0, 0, 0, EINVAL, EINVAL },
	{ "ADJ_ADJTIME|READONLY", 0xa000, 0, 0, 0, 0, EINVAL, EINVAL },
	{ "READONLY alone is ADJ_NANO", 0x2000, 0, 0, 0, 0, 0, EPERM },
	{ "ADJ_MICRO", ADJ_MICRO, 0, 0, 0, 0, 0, EPERM },
	{ "unused bit 0x40", 0x0040, 0, 0, 0, 0, 0, EPERM },
	{ "unused bits 0xe00", 0x0e00, 0, 0, 0, 0, 0, EPERM },
	{ "EPERM before tick range", ADJ_TICK, 0, 8999, 0, 0, EINVAL, EPERM },
	{ "tick 11001", ADJ_TICK, 0, 11001, 0, 0, EINVAL, EPERM },
	{ "tick 0", ADJ_TICK, 0, 0, 0, 0, EINVAL, EPERM },
	{ "tick -10000", ADJ_TICK, 0, -10000, 0, 0, EINVAL, EPERM },
	{ "tick 9000", ADJ_TICK, 0, 9000, 0, 0, 0, EPERM },
	{ "tick 11000", ADJ_TICK, 0, 11000, 0, 0, 0, EPERM },
	{ "tick 10000", ADJ_TICK, 0, 10000, 0, 0, 0, EPERM },
	/* The adjtime branch skips the tick check and ignores the tick. */
	{ "adjtime with tick 5", 0x8001 | ADJ_TICK, 0, 5, 0, 0, 0, EPERM },
	{ "adjtime read with tick 5", 0xa001 | ADJ_TICK, 0, 5, 0, 0, 0, 0 },
	{ "freq max", ADJ_FREQUENCY, ND_FREQ_MAX_VALID, 0, 0, 0, 0, EPERM },
	{ "freq min", ADJ_FREQUENCY, -ND_FREQ_MAX_VALID, 0, 0, 0, 0, EPERM },
	{ "freq max+1", ADJ_FREQUENCY, ND_FREQ_MAX_VALID + 1, 0, 0, 0,
	  EINVAL, EPERM },
	{ "freq min-1", ADJ_FREQUENCY, -ND_FREQ_MAX_VALID - 1, 0, 0, 0,
	  EINVAL, EPERM },
	{ "freq LONG_MAX", ADJ_FREQUENCY, LONG_MAX, 0, 0, 0, EINVAL, EPERM },
	{ "freq LONG_MIN", ADJ_FREQUENCY, LONG_MIN, 0, 0, 0, EINVAL, EPERM },
	/* The freq overflow guard runs in the adjtime branch too. */
	{ "adjtime read freq max+1", 0xa003, ND_FREQ_MAX_VALID + 1, 0, 0, 0,
	  EINVAL, EINVAL },
	{ "adjtime read freq LONG_MIN", 0xa003, LONG_MIN, 0, 0, 0,
	  EINVAL, EINVAL },
	{ "adjtime read freq 12345", 0xa003, 12345, 0, 0, 0, 0, 0 },
	{ "adjtime read + setoffset", 0xa101, 0, 0, 0, 0, 0, EPERM },
	{ "adjtime read + bad setoffset", 0xa101, 0, 0, 0, -1, EINVAL, EPERM },
	{ "setoffset usec -1", ADJ_SETOFFSET, 0, 0, 0, -1, EINVAL, EPERM },
	{ "setoffset usec 1000000", ADJ_SETOFFSET, 0, 0, 0, 1000000,
	  EINVAL, EPERM },
	{ "setoffset usec 999999999 without ADJ_NANO", ADJ_SETOFFSET, 0, 0,
	  -1, 999999999, EINVAL, EPERM },
	{ "setoffset usec -1000000", ADJ_SETOFFSET, 0, 0, 0, -1000000,
	  EINVAL, EPERM },
	{ "setoffset -1us", ADJ_SETOFFSET, 0, 0, -1, 999999, 0, EPERM },
	{ "setoffset +1us", ADJ_SETOFFSET, 0, 0, 0, 1, 0, EPERM },
	{ "setoffset 0", ADJ_SETOFFSET, 0, 0, 0, 0, 0, EPERM },
	{ "nano setoffset ns -1", ADJ_SETOFFSET | ADJ_NANO, 0, 0, 0, -1,
	  EINVAL, EPERM },
	{ "nano setoffset ns 1e9", ADJ_SETOFFSET | ADJ_NANO, 0, 0, 0,
	  1000000000, EINVAL, EPERM },
	{ "nano setoffset ns 2e9", ADJ_SETOFFSET | ADJ_NANO, 0, 0, 0,
	  2000000000, EINVAL, EPERM },
	{ "nano setoffset ns -1e9", ADJ_SETOFFSET | ADJ_NANO, 0, 0, 0,
	  -1000000000, EINVAL, EPERM },
	{ "nano setoffset -1ns", ADJ_SETOFFSET | ADJ_NANO, 0, 0, -1,
	  999999999, 0, EPERM },
	{ "nano setoffset +1ns", ADJ_SETOFFSET | ADJ_NANO, 0, 0, 0, 1,
	  0, EPERM },
	/* Every bit: adjtime branch (READONLY set), a zero step, freq 0. */
	{ "modes 0xffffffff", 0xffffffff, 0, 0, 0, 0, 0, EPERM },
	{ "modes 0xffffffff freq overflow", 0xffffffff, LONG_MAX, 0, 0, 0,
	  EINVAL, EPERM },
	{ "read after all that", 0, 0, 0, 0, 0, 0, 0 },
};

static void vec_tx(const struct vec *v, struct timex *tx)
{
	nd_tx_init(tx, v->modes);
	tx->freq = v->freq;
	tx->tick = v->tick;
	tx->time.tv_sec = v->sec;
	tx->time.tv_usec = v->usec;
}

/* Returns the number of failures; logs each one. */
static int run_matrix(struct __test_metadata *_metadata,
		      struct _test_data_ntpdisc *self, bool root)
{
	struct nd_res rr, rd;
	char why[1024];
	struct timex tx;
	unsigned int i;
	int bad = 0, n, exp;

	for (i = 0; i < ARRAY_SIZE(vecs); i++) {
		exp = root ? vecs[i].root : vecs[i].user;
		vec_tx(&vecs[i], &tx);
		if (!nd_pair(&self->ref, &self->dut, &tx, &rr, &rd))
			nd_pair(&self->ref, &self->dut, &tx, &rr, &rd);
		if (exp ? rr.ret != -1 || rr.err != exp : rr.ret < 0) {
			TH_LOG("%s: %s: kernel ret %d errno %d, expected %d",
			       root ? "root" : "user", vecs[i].what, rr.ret,
			       rr.err, exp);
			bad++;
		}
		n = nd_diff(&rr, &rd, why, sizeof(why));
		if (n) {
			nd_log_mismatch(_metadata, vecs[i].what, &rr, &rd,
					why);
			bad++;
		}
	}
	/*
	 * The last frequency written is "freq min" (clamped); 0xa003 and
	 * the adjtime branch of 0xffffffff must not have changed it.
	 */
	nd_tx_init(&tx, 0);
	nd_pair(&self->ref, &self->dut, &tx, &rr, &rd);
	exp = root ? -32768000 : 0;
	if (rr.out.freq != exp || rd.out.freq != exp) {
		TH_LOG("adjtime with ADJ_FREQUENCY changed freq: %ld / %ld",
		       rr.out.freq, rd.out.freq);
		bad++;
	}
	return bad;
}

/* Run @fn in a child without CAP_SYS_TIME; returns its failure count. */
static int as_user(struct __test_metadata *_metadata,
		   struct _test_data_ntpdisc *self,
		   int (*fn)(struct __test_metadata *,
			     FIXTURE_DATA(ntpdisc) *))
{
	int status;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		/* setuid() from root to non-root drops every capability. */
		if (setgid(65534) || setuid(65534)) {
			TH_LOG("setuid: %s", strerror(errno));
			_exit(1);
		}
		status = fn(_metadata, self);
		_exit(status > 255 ? 255 : status);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return 1;
	return WEXITSTATUS(status);
}

static int user_matrix(struct __test_metadata *_metadata,
		       struct _test_data_ntpdisc *self)
{
	return run_matrix(_metadata, self, false);
}

TEST_F(ntpdisc, privileged_matrix)
{
	EXPECT_EQ(0, run_matrix(_metadata, self, true));
}

TEST_F(ntpdisc, unprivileged_matrix)
{
	EXPECT_EQ(0, as_user(_metadata, self, user_matrix));
}

/* Expect @ret / @err from one call; log otherwise. */
static int expect_call(struct __test_metadata *_metadata,
		       const struct nd_entry *e, unsigned int modes,
		       int err, const char *what)
{
	struct nd_res r;
	struct timex tx;

	nd_tx_init(&tx, modes);
	nd_call(e, &tx, &r);
	if (err ? r.ret == -1 && r.err == err : r.ret >= 0)
		return 0;
	TH_LOG("%s via %s modes 0x%x: ret %d errno %d (%s), expected %s",
	       what, nd_kind_name(e->kind), modes, r.ret, r.err,
	       strerror(r.err), err ? strerror(err) : "success");
	return 1;
}

static int rdonly_checks(struct __test_metadata *_metadata, bool root)
{
	struct nd_entry io = { .kind = ND_IOCTL }, clk = { .kind = ND_CLOCKID };
	int bad = 0, fd;

	fd = open(NTPDISC_DEVICE_PATH, O_RDONLY);
	if (fd < 0) {
		TH_LOG("open O_RDONLY: %s", strerror(errno));
		return 1;
	}
	io.fd = fd;
	clk.fd = fd;
	bad += expect_call(_metadata, &clk, 0, 0, "rdonly");
	/* The POSIX clock layer refuses before ntpdisc sees the call. */
	bad += expect_call(_metadata, &clk, ADJ_OFFSET_SS_READ, EACCES,
			   "rdonly");
	bad += expect_call(_metadata, &clk, 0x8000, EACCES, "rdonly");
	bad += expect_call(_metadata, &clk, ADJ_MAXERROR, EACCES, "rdonly");
	/* The ioctl answers as clock_adjtime() on the clock id does. */
	bad += expect_call(_metadata, &io, 0, 0, "rdonly");
	bad += expect_call(_metadata, &io, ADJ_OFFSET_SS_READ, EACCES,
			   "rdonly");
	bad += expect_call(_metadata, &io, 0x8000, EACCES, "rdonly");
	bad += expect_call(_metadata, &io, ADJ_MAXERROR | ADJ_ESTERROR,
			   EACCES, "rdonly");
	bad += expect_call(_metadata, &io, ADJ_OFFSET_SINGLESHOT, EACCES,
			   "rdonly");
	close(fd);
	if (!root) {
		/* Device mode 0644, owned by root. */
		fd = open(NTPDISC_DEVICE_PATH, O_RDWR);
		if (fd >= 0 || errno != EACCES) {
			TH_LOG("user open O_RDWR: fd %d errno %d", fd, errno);
			bad++;
		}
		if (fd >= 0)
			close(fd);
	}
	return bad;
}

/* The CLI's exit status for a change it may not make (ntpdisc(8)). */
#define ND_CLI_EXIT_PERM	4

static int user_rdonly(struct __test_metadata *_metadata,
		       struct _test_data_ntpdisc *self)
{
	int bad = rdonly_checks(_metadata, false), ret;

	/*
	 * Without write access the CLI falls back to a read-only descriptor;
	 * a change through it is a permission failure, not a failed request.
	 */
	if (getenv("NTPDISC_CLI")) {
		ret = nd_cli("set", "maxerror", "1000", NULL);
		if (ret != ND_CLI_EXIT_PERM) {
			TH_LOG("user 'ntpdisc set maxerror 1000': exit %d, expected %d",
			       ret, ND_CLI_EXIT_PERM);
			bad++;
		}
	}
	return bad;
}

TEST_F(ntpdisc, readonly_descriptor)
{
	struct stat st;

	if (self->dut.kind == ND_KERNEL)
		SKIP(return, "a POSIX clock layer rule: needs the device");
	ASSERT_EQ(0, stat(NTPDISC_DEVICE_PATH, &st));
	EXPECT_EQ(0644, st.st_mode & 07777);
	EXPECT_EQ(0, st.st_uid);
	EXPECT_EQ(0, rdonly_checks(_metadata, true));
	EXPECT_EQ(0, as_user(_metadata, self, user_rdonly));
}

static int call_ptr(const struct nd_entry *e, void *p)
{
	errno = 0;
	return nd_adjtimex(e, p) < 0 ? errno : 0;
}

TEST_F(ntpdisc, efault)
{
	long page = sysconf(_SC_PAGESIZE);
	struct timex tx;
	char *m;

	m = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, m);
	ASSERT_EQ(0, munmap(m + 2 * page, page));
	nd_tx_init(&tx, 0);

	EXPECT_EQ(EFAULT, call_ptr(&self->ref, (void *)1));
	EXPECT_EQ(EFAULT, call_ptr(&self->dut, (void *)1));
	EXPECT_EQ(EFAULT, call_ptr(&self->dut, NULL));
	/* The structure runs into an unmapped page. */
	memcpy(m + 2 * page - 100, &tx, 100);
	EXPECT_EQ(EFAULT, call_ptr(&self->ref, m + 2 * page - 100));
	EXPECT_EQ(EFAULT, call_ptr(&self->dut, m + 2 * page - 100));
	/* Readable but not writable: the copy back fails. */
	memcpy(m + page, &tx, sizeof(tx));
	ASSERT_EQ(0, mprotect(m + page, page, PROT_READ));
	EXPECT_EQ(EFAULT, call_ptr(&self->ref, m + page));
	EXPECT_EQ(EFAULT, call_ptr(&self->dut, m + page));
	if (nd_has_output(&self->dut)) {
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->dut.fd, NTPDISC_GET_OUTPUT, 1));
		EXPECT_EQ(EFAULT, errno);
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->dut.fd, NTPDISC_GET_OUTPUT, m + page));
		EXPECT_EQ(EFAULT, errno);
	}
	munmap(m, 2 * page);
}

TEST_F(ntpdisc, enotty)
{
	struct ntpdisc_output o;
	struct timex tx;
	struct termios t;
	int fd = self->dut.fd;

	if (self->dut.kind == ND_KERNEL)
		SKIP(return, "needs the device");
	nd_tx_init(&tx, 0);
	errno = 0;
	EXPECT_EQ(-1, ioctl(fd, _IOWR(NTPDISC_IOC_MAGIC, 0x03,
				      struct ntpdisc_timex), &tx));
	EXPECT_EQ(ENOTTY, errno);
	/* Right number, wrong size or direction: a different command. */
	errno = 0;
	EXPECT_EQ(-1, ioctl(fd, _IOW(NTPDISC_IOC_MAGIC, 0x01,
				     struct ntpdisc_timex), &tx));
	EXPECT_EQ(ENOTTY, errno);
	errno = 0;
	EXPECT_EQ(-1, ioctl(fd, _IOWR(NTPDISC_IOC_MAGIC, 0x01, __u64), &tx));
	EXPECT_EQ(ENOTTY, errno);
	errno = 0;
	EXPECT_EQ(-1, ioctl(fd, _IOWR(NTPDISC_IOC_MAGIC, 0x02,
				      struct ntpdisc_output), &o));
	EXPECT_EQ(ENOTTY, errno);
	errno = 0;
	EXPECT_EQ(-1, ioctl(fd, TCGETS, &t));
	EXPECT_EQ(ENOTTY, errno);
	/* And the real ones work. */
	EXPECT_LE(0, ioctl(fd, NTPDISC_ADJTIMEX, &tx));
	EXPECT_EQ(0, ioctl(fd, NTPDISC_GET_OUTPUT, &o));
}

/* GET_OUTPUT needs no privilege, even on a read-only descriptor. */
TEST_F(ntpdisc, output_unprivileged)
{
	struct ntpdisc_output o;
	int fd;

	if (self->dut.kind == ND_KERNEL)
		SKIP(return, "needs the device");
	fd = open(NTPDISC_DEVICE_PATH, O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, ioctl(fd, NTPDISC_GET_OUTPUT, &o));
	EXPECT_EQ(ND_HZ, o.hz);
	close(fd);
}

TEST_HARNESS_MAIN
