/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tests that load and release ntpdisc do it as a user does, through the
 * CLI ($NTPDISC_CLI), so that its load and release paths are tested too.
 */
#ifndef NTPDISC_CLI_H
#define NTPDISC_CLI_H

#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define ND_CLI_MAX_ARGS	8

/*
 * Runs the CLI with the arguments up to the first NULL (an unset variable
 * passed as an argument ends the list there), its standard output
 * discarded. Returns its exit status, or -1 if it did not exit.
 */
static inline int nd_cli(const char *arg, ...)
{
	const char *tool = getenv("NTPDISC_CLI");
	char *argv[ND_CLI_MAX_ARGS + 2] = { (char *)tool };
	int argc = 1, status;
	va_list ap;
	pid_t pid;

	va_start(ap, arg);
	for (; arg && argc <= ND_CLI_MAX_ARGS; arg = va_arg(ap, const char *))
		argv[argc++] = (char *)arg;
	va_end(ap);
	if (!tool || arg)
		return -1;

	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		execv(tool, argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#endif
