// SPDX-License-Identifier: GPL-2.0
/*
 * ntpdisc: read and set the ntpdisc discipline (or, with --kernel, the
 * kernel's own) from the command line, in the spirit of ntptime and
 * adjtimex(8).
 *
 * Exit status: 0 success, 1 the request failed, 2 invalid usage or value
 * (nothing was sent), 3 device missing (module not loaded), 4 permission.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "linux/ntpdisc.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

enum { EXIT_FAILED = 1, EXIT_USAGE, EXIT_NODEV, EXIT_PERM };

static const char *device = NTPDISC_DEVICE_PATH;
static bool use_kernel, json;
static int dev_fd = -1;

/* @str as a JSON string, quotes included. */
static void json_string(const char *str)
{
	putchar('"');
	for (; *str; str++) {
		if (*str == '"' || *str == '\\')
			printf("\\%c", *str);
		else if ((unsigned char)*str < 0x20)
			printf("\\u%04x", *str);
		else
			putchar(*str);
	}
	putchar('"');
}

/*
 * One "ntpdisc: ..." line on stderr; with --json also an error object on
 * standard output, with the errno of the failed call, if there was one.
 */
static void complain(int code, int err, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "ntpdisc: %s\n", msg);
	if (!json)
		return;
	printf("{\"error\":{\"exit_status\":%d,\"errno\":", code);
	if (err && strerrorname_np(err))
		json_string(strerrorname_np(err));
	else
		fputs("null", stdout);
	fputs(",\"message\":", stdout);
	json_string(msg);
	fputs("}}\n", stdout);
}

static noreturn void die(int code, const char *fmt, ...)
{
	int err = code == EXIT_USAGE ? 0 : errno;
	va_list ap;

	va_start(ap, fmt);
	complain(code, err, fmt, ap);
	va_end(ap);
	exit(code);
}

static void open_device(void)
{
	if (use_kernel || dev_fd >= 0)
		return;
	dev_fd = open(device, O_RDWR);
	if (dev_fd < 0 && (errno == EACCES || errno == EPERM))
		dev_fd = open(device, O_RDONLY);
	if (dev_fd < 0) {
		if (errno == ENOENT || errno == ENODEV || errno == ENXIO) {
			if (access("/sys/module/ntpdisc", F_OK))
				die(EXIT_NODEV,
				    "%s: %s: the ntpdisc module is not loaded ('ntpdisc load' loads it and takes the kernel's discipline over)",
				    device, strerror(errno));
			die(EXIT_NODEV,
			    "%s: %s, although the ntpdisc module is loaded (no devtmpfs, or another --device?)",
			    device, strerror(errno));
		}
		if (errno == EAGAIN)
			die(EXIT_NODEV, "%s: ntpdisc is still loading",
			    device);
		if (errno == EACCES || errno == EPERM)
			die(EXIT_PERM,
			    "%s: %s (reading needs access to the device node, changing needs CAP_SYS_TIME)",
			    device, strerror(errno));
		die(EXIT_FAILED, "%s: %s", device, strerror(errno));
	}
}

/* One adjtimex request to the chosen discipline; exits on failure. */
static int adjtimex_call(struct timex *tx)
{
	int ret;

	open_device();
	if (use_kernel)
		ret = clock_adjtime(CLOCK_REALTIME, tx);
	else
		ret = ioctl(dev_fd, NTPDISC_ADJTIMEX, tx);
	if (ret >= 0)
		return ret;
	if (errno == EPERM)
		die(EXIT_PERM, "changing the discipline needs CAP_SYS_TIME");
	/* The fallback of open_device() when the node is not writable. */
	if (errno == EACCES && !use_kernel)
		die(EXIT_PERM,
		    "%s is open read-only: changing the discipline needs write access to it and CAP_SYS_TIME",
		    device);
	if (errno == ENODEV && !use_kernel && !access(device, F_OK))
		die(EXIT_FAILED,
		    "%s refuses changes: its livepatch was disabled and the kernel's discipline runs (ntpdisc release, then ntpdisc load)",
		    device);
	if (errno == ENODEV)
		die(EXIT_NODEV, "%s went away (module unloaded?)", device);
	if (errno == EOPNOTSUPP && !use_kernel && (tx->modes & ADJ_TAI))
		die(EXIT_FAILED,
		    "setting TAI through %s: %s (with steer=livepatch only the system call moves CLOCK_TAI: use --kernel)",
		    device, strerror(errno));
	die(EXIT_FAILED, "%s: %s", use_kernel ? "adjtimex" : device,
	    strerror(errno));
}

static const char *const state_names[] = {
	"TIME_OK", "TIME_INS", "TIME_DEL", "TIME_OOP", "TIME_WAIT",
	"TIME_ERROR",
};

static const struct { int bit; const char *name; } status_bits[] = {
	{ STA_PLL, "PLL" }, { STA_PPSFREQ, "PPSFREQ" },
	{ STA_PPSTIME, "PPSTIME" }, { STA_FLL, "FLL" }, { STA_INS, "INS" },
	{ STA_DEL, "DEL" }, { STA_UNSYNC, "UNSYNC" },
	{ STA_FREQHOLD, "FREQHOLD" }, { STA_PPSSIGNAL, "PPSSIGNAL" },
	{ STA_PPSJITTER, "PPSJITTER" }, { STA_PPSWANDER, "PPSWANDER" },
	{ STA_PPSERROR, "PPSERROR" }, { STA_CLOCKERR, "CLOCKERR" },
	{ STA_NANO, "NANO" }, { STA_MODE, "MODE" }, { STA_CLK, "CLK" },
};

static void status_string(int status, char *buf, size_t len)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(status_bits); i++)
		if (status & status_bits[i].bit)
			used += snprintf(buf + used, len - used, "%s%s",
					 used ? "," : "", status_bits[i].name);
}

static const char *steer_name(__u32 steer)
{
	switch (steer) {
	case NTPDISC_STEER_LIVEPATCH:
		return "livepatch";
	case NTPDISC_STEER_CLOCKSOURCE:
		return "clocksource";
	case NTPDISC_STEER_NONE:
		return "none";
	}
	return "unknown";
}

/* Who steers the clock, from the device ("" for the kernel's). */
static const char *steering(void)
{
	struct ntpdisc_output out;

	if (use_kernel || ioctl(dev_fd, NTPDISC_GET_OUTPUT, &out))
		return "";
	if (out.flags & NTPDISC_OUTPUT_HANDBACK_DUE)
		return "none (TSC unstable: 'ntpdisc release' hands over)";
	if (out.flags & NTPDISC_OUTPUT_RELEASED)
		return out.steer == NTPDISC_STEER_LIVEPATCH ?
		       "none (livepatch disabled)" : "none (released)";
	if (out.flags & NTPDISC_OUTPUT_STALLED)
		return "none (livepatch no longer called)";
	return steer_name(out.steer);
}

static void print_status(const struct timex *tx, int state)
{
	bool nano = tx->status & STA_NANO;
	char bits[256];

	status_string(tx->status, bits, sizeof(bits));
	if (json) {
		printf("{\"source\":\"%s\",\"state\":%d,", use_kernel ?
		       "kernel" : "ntpdisc", state);
		if (!use_kernel)
			printf("\"steer\":\"%s\",", steering());
		printf("\"state_name\":\"%s\",\"status\":%d,", state_names[state],
		       tx->status);
		printf("\"status_bits\":\"%s\",\"offset\":%ld,", bits, tx->offset);
		printf("\"offset_unit\":\"%s\",\"freq\":%ld,", nano ? "ns" : "us",
		       tx->freq);
		printf("\"freq_ppm\":%.6f,\"maxerror\":%ld,", tx->freq / 65536.0,
		       tx->maxerror);
		printf("\"esterror\":%ld,\"constant\":%ld,", tx->esterror,
		       tx->constant);
		printf("\"precision\":%ld,\"tolerance\":%ld,", tx->precision,
		       tx->tolerance);
		printf("\"tick\":%ld,\"tai\":%d,", tx->tick, tx->tai);
		printf("\"time_sec\":%ld,\"time_frac\":%ld}\n", tx->time.tv_sec,
		       tx->time.tv_usec);
		return;
	}
	printf("source:    %s\n", use_kernel ? "kernel adjtimex" : device);
	if (!use_kernel)
		printf("steering:  %s\n", steering());
	printf("state:     %s (%d)\n", state_names[state], state);
	printf("status:    %#06x %s\n", tx->status, bits);
	printf("time:      %ld.%0*ld\n", tx->time.tv_sec, nano ? 9 : 6,
	       tx->time.tv_usec);
	printf("offset:    %ld %s\n", tx->offset, nano ? "ns" : "us");
	printf("frequency: %.6f ppm (%ld)\n", tx->freq / 65536.0, tx->freq);
	printf("maxerror:  %ld us\n", tx->maxerror);
	printf("esterror:  %ld us\n", tx->esterror);
	printf("constant:  %ld\n", tx->constant);
	printf("tick:      %ld us\n", tx->tick);
	printf("tai:       %d s\n", tx->tai);
	printf("tolerance: %.3f ppm, precision %ld\n",
	       tx->tolerance / 65536.0, tx->precision);
}

static long long parse_ll(const char *what, const char *arg, long long lo,
			  long long hi)
{
	char *end;
	long long val;

	errno = 0;
	val = strtoll(arg, &end, 0);
	if (errno || end == arg || *end)
		die(EXIT_USAGE, "%s: '%s' is not an integer", what, arg);
	if (val < lo || val > hi)
		die(EXIT_USAGE, "%s: %lld is outside %lld..%lld", what, val,
		    lo, hi);
	return val;
}

static double parse_double(const char *what, const char *arg, double lo,
			   double hi)
{
	char *end;
	double val;

	errno = 0;
	val = strtod(arg, &end);
	if (errno || end == arg || *end)
		die(EXIT_USAGE, "%s: '%s' is not a number", what, arg);
	if (!(val >= lo && val <= hi))
		die(EXIT_USAGE, "%s: %g is outside %g..%g", what, val, lo, hi);
	return val;
}

/* "+PLL,-UNSYNC": bits to set and to clear, by name. */
static void parse_status(const char *arg, int *set, int *clear)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	size_t i;

	*set = *clear = 0;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		int *into = tok[0] == '-' ? clear : set;
		const char *name = tok + (tok[0] == '-' || tok[0] == '+');

		for (i = 0; i < ARRAY_SIZE(status_bits); i++)
			if (!strcasecmp(name, status_bits[i].name))
				break;
		if (i == ARRAY_SIZE(status_bits))
			die(EXIT_USAGE, "status: unknown bit '%s'", name);
		if (status_bits[i].bit & 0xff00)
			die(EXIT_USAGE, "status: %s is read-only", name);
		*into |= status_bits[i].bit;
	}
	free(copy);
}

static int read_state(struct timex *tx)
{
	memset(tx, 0, sizeof(*tx));
	return adjtimex_call(tx);
}

static void cmd_watch(int count)
{
	struct timex tx;
	char bits[256];
	int i, state;

	printf("%-10s %-10s %-22s %12s %12s %9s %3s %4s\n", "time", "state",
	       "status", "offset", "freq(ppm)", "maxerr", "tc", "tai");
	for (i = 0; count <= 0 || i < count; i++) {
		state = read_state(&tx);
		status_string(tx.status, bits, sizeof(bits));
		printf("%-10ld %-10s %-22s %12ld %12.6f %9ld %3ld %4d\n",
		       tx.time.tv_sec % 86400, state_names[state], bits,
		       tx.offset, tx.freq / 65536.0, tx.maxerror, tx.constant,
		       tx.tai);
		fflush(stdout);
		if (count <= 0 || i + 1 < count)
			sleep(1);
	}
}

static void cmd_output(void)
{
	struct ntpdisc_output out;

	if (use_kernel)
		die(EXIT_USAGE, "output: only ntpdisc reports its output");
	open_device();
	if (ioctl(dev_fd, NTPDISC_GET_OUTPUT, &out))
		die(EXIT_FAILED, "output: %s", strerror(errno));
	printf("tick length:   %.6f ns (base %.6f ns, HZ %u)\n",
	       out.tick_length / 4294967296.0,
	       out.tick_length_base / 4294967296.0, out.hz);
	printf("second length: %.6f ns\n", out.second_length / 4294967296.0);
	printf("phase term:    %.3f ns per tick\n", out.phase_adj / 4294967296.0);
	printf("adjtime term:  %.3f ns per tick\n",
	       out.adjtime_adj / 4294967296.0);
	printf("next leap:     %lld\n", (long long)out.next_leap_sec);
	printf("updates:       %llu, clock sets seen %llu\n",
	       (unsigned long long)out.updates,
	       (unsigned long long)out.clock_sets);
}

static void cmd_sample(void)
{
	struct ntpdisc_sample sm;

	if (use_kernel)
		die(EXIT_USAGE, "sample: only ntpdisc takes samples");
	open_device();
	if (ioctl(dev_fd, NTPDISC_GET_SAMPLE, &sm))
		die(EXIT_FAILED, "sample: %s", strerror(errno));
	if (json) {
		printf("{\"raw_ns\": %llu, \"monotonic_ns\": %lld, ",
		       (unsigned long long)sm.raw_ns, (long long)sm.mono_ns);
		printf("\"realtime_ns\": %lld, \"width_ns\": %u}\n",
		       (long long)sm.real_ns, sm.width_ns);
		return;
	}
	printf("raw counter: %llu.%09llu s\n",
	       (unsigned long long)sm.raw_ns / 1000000000,
	       (unsigned long long)sm.raw_ns % 1000000000);
	printf("monotonic:   %lld.%09lld s\n", (long long)sm.mono_ns / 1000000000,
	       (long long)sm.mono_ns % 1000000000);
	printf("realtime:    %lld.%09lld s\n", (long long)sm.real_ns / 1000000000,
	       (long long)sm.real_ns % 1000000000);
	printf("width:       %u ns\n", sm.width_ns);
}

static const char usage_text[] =
	"usage: ntpdisc [OPTION...] COMMAND [ARG...] [OPTION...]\n"
	"       ntpdisc --version | --help | COMMAND --help\n"
	"options: --kernel (the kernel's adjtimex, not the device),\n"
	"  --device=PATH (default " NTPDISC_DEVICE_PATH ", or $NTPDISC_DEVICE),\n"
	"  --json (one JSON object, errors included), -h, -V; \"--\" ends them\n"
	"commands:\n"
	"  status                    every field, decoded\n"
	"  set FIELD VALUE ...       freq PPM | tick US | constant N |\n"
	"                            maxerror US | esterror US | tai S |\n"
	"                            status +BIT,-BIT | offset N (ns\n"
	"                            with nano, else us) | nano | micro\n"
	"  adjtime US                single-shot slew (adjtime(3))\n"
	"  step SECONDS              step the clock (ADJ_SETOFFSET)\n"
	"  leap insert|delete|cancel arm or disarm a leap second\n"
	"  watch [COUNT]             one line per second\n"
	"  output                    what the discipline steers\n"
	"  sample                    raw counter, monotonic, realtime\n"
	"  load [MODULE.ko] [steer=S] [PARAM=V ...]\n"
	"                            load ntpdisc, taking the kernel's\n"
	"                            discipline over (default: the\n"
	"                            installed module, through modprobe,\n"
	"                            else ./ntpdisc.ko;\n"
	"                            steer=livepatch|clocksource|none,\n"
	"                            default the best that can run here)\n"
	"  release [--keep]          hand the discipline back to the\n"
	"                            kernel and unload (--keep: no rmmod)\n"
	"  help                      this text\n"
	"exit status: 0 done, 1 the request failed, 2 invalid usage or value\n"
	"(nothing was sent), 3 no device (module not loaded), 4 permission\n"
	"(changing needs write access to the device and CAP_SYS_TIME, load\n"
	"and release CAP_SYS_MODULE)\n";

static noreturn void show_help(void)
{
	fputs(usage_text, stdout);
	exit(0);
}

static noreturn void show_version(void)
{
	printf("ntpdisc %s\n", NTPDISC_VERSION);
	exit(0);
}

/* Says what is wrong with the command line, and where help is. */
static noreturn void usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	complain(EXIT_USAGE, 0, fmt, ap);
	va_end(ap);
	fputs("Try 'ntpdisc --help' for more information.\n", stderr);
	exit(EXIT_USAGE);
}

/*
 * "ntpdisc COMMAND --help": the lines of the usage text that describe
 * COMMAND, which start with it, and the indented ones that go on from it.
 */
static noreturn void show_command_help(const char *cmd)
{
	size_t len = strlen(cmd);
	const char *line = usage_text, *end;
	bool in = false, found = false;

	for (; *line; line = end + 1) {
		end = strchr(line, '\n');
		if (!end)
			break;
		if (!strncmp(line, "  ", 2) && line[2] != ' ')
			in = !strncmp(line + 2, cmd, len) &&
			     (line[2 + len] == ' ' || line + 2 + len == end);
		else if (line[0] != ' ')
			in = false;
		if (in) {
			if (!found)
				printf("usage: ntpdisc [OPTION...] ");
			fwrite(line + (found ? 0 : 2), 1, end - line + 1 -
			       (found ? 0 : 2), stdout);
			found = true;
		}
	}
	if (!found)
		usage("unknown command '%s'", cmd);
	exit(0);
}

static const struct option options[] = {
	{ "kernel", no_argument, NULL, 'k' },
	{ "json", no_argument, NULL, 'j' },
	{ "device", required_argument, NULL, 'd' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ }
};

/* An option, before the command or after it; false if @c is not one. */
static bool take_option(int c, const char *arg, const char *cmd)
{
	switch (c) {
	case 'k':
		use_kernel = true;
		return true;
	case 'j':
		json = true;
		return true;
	case 'd':
		device = arg;
		return true;
	case 'h':
		if (cmd)
			show_command_help(cmd);
		show_help();
	case 'V':
		show_version();
	}
	return false;
}

/*
 * The options after the command, wherever they are, out of its arguments
 * (which may be negative numbers, so getopt() cannot have them); "--"
 * ends them. Returns the new argument count.
 */
static int take_late_options(int argc, char **argv)
{
	int i, kept = 1;

	for (i = 1; i < argc; i++) {
		const struct option *o;
		const char *a = argv[i], *val = NULL;
		size_t len;

		if (!strcmp(a, "--")) {
			while (++i < argc)
				argv[kept++] = argv[i];
			break;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "-V")) {
			take_option(a[1], NULL, argv[0]);
			continue;
		}
		for (o = options; o->name; o++) {
			len = strlen(o->name);
			if (strncmp(a, "--", 2) || strncmp(a + 2, o->name, len))
				continue;
			if (a[2 + len] == '=' && o->has_arg)
				val = a + 3 + len;
			else if (a[2 + len])
				continue;
			break;
		}
		if (!o->name) {
			argv[kept++] = argv[i];
			continue;
		}
		if (o->has_arg && !val) {
			if (i + 1 >= argc)
				usage("option '--%s' needs a value", o->name);
			val = argv[++i];
		}
		take_option(o->val, val, argv[0]);
	}
	return kept;
}

static int cmd_set(int argc, char **argv)
{
	struct timex tx = { 0 };
	int set = 0, clear = 0, i;

	if (argc < 1)
		usage("set: nothing to set");
	for (i = 0; i < argc; i++) {
		const char *field = argv[i];

		if (!strcmp(field, "nano")) {
			tx.modes |= ADJ_NANO;
			continue;
		}
		if (!strcmp(field, "micro")) {
			tx.modes |= ADJ_MICRO;
			continue;
		}
		if (i + 1 >= argc)
			die(EXIT_USAGE, "set %s: missing value", field);
		if (!strcmp(field, "freq")) {
			tx.modes |= ADJ_FREQUENCY;
			tx.freq = parse_double("freq (ppm)", argv[++i],
					       -500, 500) * 65536.0;
		} else if (!strcmp(field, "tick")) {
			tx.modes |= ADJ_TICK;
			tx.tick = parse_ll("tick (us)", argv[++i], 9000, 11000);
		} else if (!strcmp(field, "constant")) {
			tx.modes |= ADJ_TIMECONST;
			tx.constant = parse_ll("constant", argv[++i], 0, 10);
		} else if (!strcmp(field, "maxerror")) {
			tx.modes |= ADJ_MAXERROR;
			tx.maxerror = parse_ll("maxerror (us)", argv[++i], 0,
					       16000000);
		} else if (!strcmp(field, "esterror")) {
			tx.modes |= ADJ_ESTERROR;
			tx.esterror = parse_ll("esterror (us)", argv[++i], 0,
					       16000000);
		} else if (!strcmp(field, "tai")) {
			tx.modes |= ADJ_TAI;
			tx.constant = parse_ll("tai (s)", argv[++i], 0, 100000);
		} else if (!strcmp(field, "offset")) {
			tx.modes |= ADJ_OFFSET;
			tx.offset = parse_ll("offset", argv[++i], -500000000,
					     500000000);
		} else if (!strcmp(field, "status")) {
			parse_status(argv[++i], &set, &clear);
			tx.modes |= ADJ_STATUS;
		} else {
			die(EXIT_USAGE, "set: unknown field '%s'", field);
		}
	}
	if ((tx.modes & ADJ_TAI) && (tx.modes & ADJ_TIMECONST))
		die(EXIT_USAGE, "set: tai and constant share one field; set them separately");
	if ((tx.modes & ADJ_NANO) && (tx.modes & ADJ_MICRO))
		die(EXIT_USAGE, "set: nano and micro exclude each other");
	if (!tx.modes)
		die(EXIT_USAGE, "set: nothing to set");
	/* The bits not named keep their value: read them only now. */
	if (tx.modes & ADJ_STATUS) {
		struct timex cur;

		read_state(&cur);
		tx.status = (cur.status | set) & ~clear;
	}
	return adjtimex_call(&tx);
}

static int cmd_leap(const char *what)
{
	struct timex tx;
	int bit = 0;

	if (!strcmp(what, "insert"))
		bit = STA_INS;
	else if (!strcmp(what, "delete"))
		bit = STA_DEL;
	else if (strcmp(what, "cancel"))
		die(EXIT_USAGE, "leap: '%s' is not insert, delete or cancel",
		    what);
	read_state(&tx);
	tx.modes = ADJ_STATUS;
	tx.status = (tx.status & ~(STA_INS | STA_DEL)) | bit;
	return adjtimex_call(&tx);
}

#define LIVEPATCH_DIR	"/sys/kernel/livepatch/ntpdisc"
#define LEAP_GUARD_SEC	2

/* Taking over or letting go must not straddle a leap second. */
static void refuse_near_leap(const struct timex *tx, int state)
{
	struct timespec now;
	long into_day;

	if (!(tx->status & (STA_INS | STA_DEL)) && state != TIME_OOP)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	into_day = now.tv_sec % 86400;
	if (into_day < LEAP_GUARD_SEC || into_day >= 86400 - 1 - LEAP_GUARD_SEC)
		die(EXIT_FAILED, "a leap second is due within %d s; try again after it",
		    LEAP_GUARD_SEC);
}

static bool read_sysfs_int(const char *path, int *val)
{
	FILE *f = fopen(path, "r");
	bool ok;

	if (!f)
		return false;
	ok = fscanf(f, "%d", val) == 1;
	fclose(f);
	return ok;
}

/* Wait up to @secs for a livepatch transition to end. */
static bool wait_transition(int secs)
{
	int i, busy;

	for (i = 0; i < secs * 10; i++) {
		if (!read_sysfs_int(LIVEPATCH_DIR "/transition", &busy) ||
		    !busy)
			return true;
		usleep(100000);
	}
	return false;
}

/*
 * With steer=clocksource the kernel's discipline keeps running under
 * ntpdisc's and would add its frequency, tick and residual slews on top:
 * make it neutral. ADJ_SETOFFSET of zero is the one request that clears
 * its residual phase and adjtime (ntp_clear()) without moving the clock.
 */
static void neutralise_kernel(void)
{
	struct timex tx = { 0 };

	use_kernel = true;
	tx.modes = ADJ_SETOFFSET | ADJ_NANO;
	adjtimex_call(&tx);
	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_STATUS | ADJ_FREQUENCY | ADJ_TICK | ADJ_MICRO;
	tx.status = STA_UNSYNC;
	tx.freq = 0;
	tx.tick = (1000000 + sysconf(_SC_CLK_TCK) / 2) / sysconf(_SC_CLK_TCK);
	adjtimex_call(&tx);
	use_kernel = false;
}

/* The kernel log from now on, to tell what the module said at load. */
static int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/* Print ntpdisc's kernel log lines since kmsg_open() on @out. */
static void kmsg_show(int fd, FILE *out)
{
	char rec[2048];
	ssize_t n;

	if (fd < 0)
		return;
	/* EPIPE: records were overwritten meanwhile; read on. */
	while ((n = read(fd, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		char *msg;

		if (n <= 0)
			continue;
		rec[n] = '\0';
		msg = strchr(rec, ';');
		if (!msg || strncmp(++msg, "ntpdisc: ", 9))
			continue;
		msg[strcspn(msg, "\n")] = '\0';
		fprintf(out, "  kernel: %s\n", msg);
	}
	close(fd);
}

/*
 * The kernel's slews in progress: the phase offset in ns (read in
 * nanosecond mode, which is switched on for the read and back off if it
 * was off) and the adjtime remainder in us.
 */
static void kernel_slews(const struct timex *now, long long *offset_ns,
			 long *adjust_us)
{
	struct timex tx = { .modes = ADJ_NANO };

	if (now->status & STA_NANO) {
		*offset_ns = now->offset;
	} else {
		adjtimex_call(&tx);
		*offset_ns = tx.offset;
		memset(&tx, 0, sizeof(tx));
		tx.modes = ADJ_MICRO;
		adjtimex_call(&tx);
	}
	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_OFFSET_SS_READ;
	adjtimex_call(&tx);
	*adjust_us = tx.offset;
}

/*
 * Whether modprobe knows ntpdisc for the running kernel: installed by
 * DKMS, the package or "make install", and listed by depmod.
 */
static bool module_installed(void)
{
	char path[PATH_MAX], line[PATH_MAX + 64], *colon, *base;
	struct utsname u;
	bool found = false;
	FILE *f;

	if (uname(&u))
		return false;
	snprintf(path, sizeof(path), "/lib/modules/%s/modules.dep", u.release);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		base = strrchr(line, '/');
		base = base ? base + 1 : line;
		found = !strncmp(base, "ntpdisc.ko", 10);
	}
	fclose(f);
	return found;
}

/* modprobe ntpdisc PARAMS, so that /etc/modprobe.d applies; its status. */
static int run_modprobe(const char *params)
{
	char buf[1024], *argv[64], *tok, *save;
	int argc = 0, status;
	pid_t pid;

	argv[argc++] = "modprobe";
	argv[argc++] = "ntpdisc";
	snprintf(buf, sizeof(buf), "%s", params);
	for (tok = strtok_r(buf, " ", &save); tok && argc < 63;
	     tok = strtok_r(NULL, " ", &save))
		argv[argc++] = tok;
	argv[argc] = NULL;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die(EXIT_FAILED, "fork: %s", strerror(errno));
	if (!pid) {
		execvp("modprobe", argv);
		fprintf(stderr, "ntpdisc: modprobe: %s (install kmod)\n",
			strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		die(EXIT_FAILED, "waiting for modprobe: %s", strerror(errno));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void cmd_load(int argc, char **argv)
{
	const char *path = NULL, *steer = NULL;
	struct ntpdisc_output out;
	char params[1024], extra[512] = "";
	long long offset_ns;
	long adjust_us;
	struct timex tx;
	int i, fd, kmsg, state;

	for (i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "steer=", 6)) {
			steer = argv[i] + 6;
		} else if (strchr(argv[i], '=')) {
			/* Any other module parameter goes along. */
			if (strlen(extra) + strlen(argv[i]) + 2 > sizeof(extra))
				die(EXIT_USAGE, "too many module parameters");
			strcat(extra, " ");
			strcat(extra, argv[i]);
		} else {
			path = argv[i];
		}
	}

	/* The kernel's own discipline, which ntpdisc continues. */
	use_kernel = true;
	state = read_state(&tx);
	refuse_near_leap(&tx, state);
	kernel_slews(&tx, &offset_ns, &adjust_us);
	/* Without steer= the module picks the best actuator that can run. */
	snprintf(params, sizeof(params),
		 "%s%s%shandover=1 adopt_tick=%ld adopt_freq=%ld adopt_status=%d adopt_constant=%ld adopt_maxerror=%ld adopt_esterror=%ld adopt_tai=%d adopt_offset_ns=%lld adopt_adjust_us=%ld adopt_state=%d%s",
		 steer ? "steer=" : "", steer ? steer : "", steer ? " " : "",
		 tx.tick, tx.freq, tx.status, tx.constant, tx.maxerror,
		 tx.esterror, tx.tai, offset_ns, adjust_us, state, extra);

	/* No file named: the installed module, as modprobe finds it. */
	if (!path && !access("/sys/module/ntpdisc", F_OK))
		die(EXIT_FAILED, "ntpdisc is already loaded");
	if (!path && module_installed()) {
		kmsg = kmsg_open();
		if (run_modprobe(params)) {
			fprintf(stderr, "ntpdisc: modprobe ntpdisc failed; the kernel said:\n");
			kmsg_show(kmsg, stderr);
			exit(EXIT_FAILED);
		}
		goto loaded;
	}
	if (!path && access("ntpdisc.ko", F_OK))
		die(EXIT_FAILED,
		    "no ntpdisc module for this kernel: install ntpdisc-dkms (or run 'make install' in the source tree), or name the ntpdisc.ko to load");
	if (!path)
		path = "ntpdisc.ko";
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(EXIT_FAILED, "%s: %s", path, strerror(errno));
	kmsg = kmsg_open();
	if (syscall(SYS_finit_module, fd, params, 0)) {
		int err = errno;

		if (err == EEXIST)
			die(EXIT_FAILED, "ntpdisc is already loaded");
		if (err == EPERM)
			die(EXIT_PERM, "loading %s: %s (needs CAP_SYS_MODULE)",
			    path, strerror(err));
		fprintf(stderr, "ntpdisc: loading %s: %s; the kernel said:\n",
			path, strerror(err));
		kmsg_show(kmsg, stderr);
		exit(EXIT_FAILED);
	}
	close(fd);
loaded:
	use_kernel = false;
	/* devtmpfs creates the node a moment after the load. */
	for (i = 0; i < 50 && access(device, F_OK); i++)
		usleep(20000);
	open_device();
	if (ioctl(dev_fd, NTPDISC_GET_OUTPUT, &out))
		die(EXIT_FAILED, "output: %s", strerror(errno));
	if (out.steer == NTPDISC_STEER_LIVEPATCH && !wait_transition(30))
		die(EXIT_FAILED, "the livepatch transition has not finished after 30 s");
	if (out.steer == NTPDISC_STEER_CLOCKSOURCE)
		neutralise_kernel();
	printf("ntpdisc loaded (steer=%s%s), continuing from the kernel's discipline:\n",
	       steer_name(out.steer), steer ? "" : ", the best this machine can run");
	printf("  tick %ld, freq %.6f ppm, status %#x, constant %ld\n",
	       tx.tick, tx.freq / 65536.0, tx.status, tx.constant);
	kmsg_show(kmsg, stdout);
}

/* Set the kernel's own discipline to what ntpdisc leaves behind. */
static void hand_back(const struct timex *from, long adjust_us)
{
	struct timex tx = { 0 };

	/* In nanosecond mode the constant is written as it reads back. */
	tx.modes = ADJ_STATUS | ADJ_NANO | ADJ_TIMECONST | ADJ_FREQUENCY |
		   ADJ_TICK | ADJ_MAXERROR | ADJ_ESTERROR;
	tx.status = from->status & ~STA_RONLY;
	tx.constant = from->constant;
	tx.freq = from->freq;
	tx.tick = from->tick;
	tx.maxerror = from->maxerror;
	tx.esterror = from->esterror;
	adjtimex_call(&tx);
	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_TAI;
	tx.constant = from->tai;
	adjtimex_call(&tx);
	if (!(from->status & STA_NANO)) {
		memset(&tx, 0, sizeof(tx));
		tx.modes = ADJ_MICRO;
		adjtimex_call(&tx);
	}
	/* An adjtime() slew in progress goes on in the kernel. */
	if (adjust_us) {
		memset(&tx, 0, sizeof(tx));
		tx.modes = ADJ_OFFSET_SINGLESHOT;
		tx.offset = adjust_us;
		adjtimex_call(&tx);
	}
}

static void cmd_release(bool keep)
{
	struct timex tx, adj = { 0 };
	struct ntpdisc_output out;
	int i, state, enabled;
	FILE *f;

	state = read_state(&tx);
	if (ioctl(dev_fd, NTPDISC_GET_OUTPUT, &out))
		die(EXIT_FAILED, "output: %s", strerror(errno));
	adj.modes = ADJ_OFFSET_SS_READ;
	adjtimex_call(&adj);
	close(dev_fd);
	dev_fd = -1;

	if (out.steer == NTPDISC_STEER_LIVEPATCH &&
	    read_sysfs_int(LIVEPATCH_DIR "/enabled", &enabled) && enabled) {
		refuse_near_leap(&tx, state);
		if (!wait_transition(30))
			die(EXIT_FAILED, "a livepatch transition is still running");
		f = fopen(LIVEPATCH_DIR "/enabled", "w");
		if (!f || fputs("0", f) < 0 || fclose(f))
			die(EXIT_FAILED, "disabling the livepatch: %s",
			    strerror(errno));
		/* The patch is gone once its directory is. */
		for (i = 0; i < 300 && !access(LIVEPATCH_DIR, F_OK); i++)
			usleep(100000);
		if (i == 300)
			die(EXIT_FAILED, "the livepatch is still there after 30 s");
		use_kernel = true;
		hand_back(&tx, adj.offset);
		printf("kernel discipline resumed: freq %.6f ppm, tick %ld, status %#x\n",
		       tx.freq / 65536.0, tx.tick, tx.status);
	}
	if (out.steer == NTPDISC_STEER_LIVEPATCH &&
	    (out.flags & NTPDISC_OUTPUT_RELEASED)) {
		/* Disabled by hand: the kernel's ran on from its old state. */
		use_kernel = true;
		hand_back(&tx, adj.offset);
		printf("livepatch was disabled without a release; kernel discipline set to ntpdisc's last state: ");
		printf("freq %.6f ppm, tick %ld, status %#x\n",
		       tx.freq / 65536.0, tx.tick, tx.status);
	}
	/* After a TSC failure the kernel's still runs from neutral. */
	if (out.steer == NTPDISC_STEER_CLOCKSOURCE &&
	    (!(out.flags & NTPDISC_OUTPUT_RELEASED) ||
	     (out.flags & NTPDISC_OUTPUT_HANDBACK_DUE))) {
		refuse_near_leap(&tx, state);
		open_device();
		if (ioctl(dev_fd, NTPDISC_RELEASE))
			die(errno == EPERM ? EXIT_PERM : EXIT_FAILED,
			    "releasing the clocksource: %s", strerror(errno));
		close(dev_fd);
		dev_fd = -1;
		use_kernel = true;
		hand_back(&tx, adj.offset);
		printf("clocksource handed back; ");
		printf("kernel discipline resumed: freq %.6f ppm, tick %ld, status %#x\n",
		       tx.freq / 65536.0, tx.tick, tx.status);
	}
	if (keep)
		return;
	if (syscall(SYS_delete_module, "ntpdisc", O_NONBLOCK))
		die(errno == EPERM ? EXIT_PERM : EXIT_FAILED,
		    "rmmod ntpdisc: %s%s", strerror(errno),
		    errno == EWOULDBLOCK ? " (is /dev/ntpdisc still open?)" :
		    errno == EPERM ? " (needs CAP_SYS_MODULE)" : "");
	printf("ntpdisc unloaded\n");
}

static void cmd_step(const char *arg, struct timex *tx)
{
	double secs = parse_double("step (s)", arg, -1e9, 1e9);
	long long ns = (long long)(secs * 1e9);

	memset(tx, 0, sizeof(*tx));
	tx->modes = ADJ_SETOFFSET | ADJ_NANO;
	tx->time.tv_sec = ns / 1000000000;
	tx->time.tv_usec = ns % 1000000000;
	if (tx->time.tv_usec < 0) {
		tx->time.tv_usec += 1000000000;
		tx->time.tv_sec--;
	}
	adjtimex_call(tx);
}

int main(int argc, char **argv)
{
	struct timex tx;
	int i, c, state;

	/* Before the command; "+": the command and its arguments stay. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hV", options, NULL)) != -1) {
		if (c == ':')
			usage("option '%s' needs a value", argv[optind - 1]);
		if (!take_option(c, optarg, NULL))
			usage("unknown option '%s'", argv[optind - 1]);
	}
	if (optind >= argc)
		usage("no command given");
	argc -= optind;
	argv += optind;
	argc = take_late_options(argc, argv);
	if (getenv("NTPDISC_DEVICE") && device == (const char *)NTPDISC_DEVICE_PATH)
		device = getenv("NTPDISC_DEVICE");
	if (!strcmp(argv[0], "watch") && argc <= 2) {
		cmd_watch(argc == 2 ? parse_ll("count", argv[1], 0, INT_MAX) :
			  0);
		return 0;
	}
	if (!strcmp(argv[0], "output") && argc == 1) {
		cmd_output();
		return 0;
	}
	if (!strcmp(argv[0], "sample") && argc == 1) {
		cmd_sample();
		return 0;
	}
	if (!strcmp(argv[0], "load")) {
		cmd_load(argc - 1, argv + 1);
		return 0;
	}
	if (!strcmp(argv[0], "release") && argc <= 2) {
		if (argc == 2 && strcmp(argv[1], "--keep"))
			usage("release: '%s' is not --keep", argv[1]);
		cmd_release(argc == 2);
		return 0;
	}
	if (!strcmp(argv[0], "adjtime") && argc == 2) {
		memset(&tx, 0, sizeof(tx));
		tx.modes = ADJ_OFFSET_SINGLESHOT;
		tx.offset = parse_ll("adjtime (us)", argv[1], -2145000000LL,
				     2145000000LL);
		adjtimex_call(&tx);
		printf("previous adjtime remainder: %ld us\n", tx.offset);
		return 0;
	}

	if (!strcmp(argv[0], "status") && argc == 1) {
		state = read_state(&tx);
	} else if (!strcmp(argv[0], "set")) {
		cmd_set(argc - 1, argv + 1);
		state = read_state(&tx);
	} else if (!strcmp(argv[0], "step") && argc == 2) {
		cmd_step(argv[1], &tx);
		state = read_state(&tx);
	} else if (!strcmp(argv[0], "leap") && argc == 2) {
		cmd_leap(argv[1]);
		state = read_state(&tx);
	} else if (!strcmp(argv[0], "help")) {
		show_help();
	} else {
		static const char *const known[] = {
			"status", "set", "adjtime", "step", "leap", "watch",
			"output", "sample", "load", "release",
		};

		for (i = 0; i < (int)ARRAY_SIZE(known); i++)
			if (!strcmp(argv[0], known[i]))
				usage("%s: wrong number of arguments", argv[0]);
		usage("unknown command '%s'", argv[0]);
	}
	print_status(&tx, state);
	return 0;
}
