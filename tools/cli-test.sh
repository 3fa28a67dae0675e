#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The CLI's command line, on the host, as TAP: option parsing, exit
# statuses and the JSON of errors.
#
#   cli-test.sh PATH/TO/ntpdisc
#
# Every call names a device that does not exist and none says --kernel:
# nothing here can reach a discipline, this machine's clock included.
set -u

cli=$1
nodev=/nonexistent/ntpdisc
n=0 nfail=0
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

# matches PATTERN FILE: an empty PATTERN asks nothing of FILE.
matches() {
	[ -z "$1" ] || grep -Eq -- "$1" "$2"
}

# t DESCRIPTION STATUS STDOUT-PATTERN STDERR-PATTERN ARG...: one check.
t() {
	what=$1 want=$2 opat=$3 epat=$4
	shift 4
	"$cli" "$@" >"$out" 2>"$err"
	rc=$?
	n=$((n + 1))
	if [ "$rc" = "$want" ] && matches "$opat" "$out" &&
		matches "$epat" "$err"; then
		echo "ok $n - $what"
		return
	fi
	echo "not ok $n - $what"
	echo "# ntpdisc $*: exit $rc (want $want)"
	sed 's/^/# stdout: /' "$out"
	sed 's/^/# stderr: /' "$err"
	nfail=$((nfail + 1))
}

echo "TAP version 13"
t "version" 0 '^ntpdisc [0-9]+\.[0-9]+' '' -V
t "help" 0 '^usage: ntpdisc \[OPTION' '' --help
t "a command's help" 0 '^usage: ntpdisc \[OPTION\.\.\.\] step SECONDS' '' step --help
t "a command's help, other lines not" 0 '^usage: ntpdisc \[OPTION\.\.\.\] release' '' release -h
t "unknown command: short hint" 2 '' "^Try 'ntpdisc --help'" bogus
t "unknown option" 2 '' "unknown option '-x'" -x status
t "option without its value" 2 '' "'--device' needs a value" status --device
t "no command" 2 '' 'no command given' --json
t "--device=PATH before the command" 3 '' "^ntpdisc: $nodev" --device=$nodev status
t "--device PATH after the command" 3 '' "^ntpdisc: $nodev" status --device $nodev
t "a negative value is not an option" 3 '' "^ntpdisc: $nodev" set freq -3 --device=$nodev
t "-- ends the options" 2 '' "set --json: missing value" --device=$nodev set -- --json
t "error as JSON, errno named" 3 '^\{"error":\{"exit_status":3,"errno":"ENOENT","message":"' '' \
	status --json --device=$nodev
t "usage error as JSON, errno null" 2 '^\{"error":\{"exit_status":2,"errno":null,' '' \
	--json set freq 900 --device=$nodev
echo "1..$n"
echo "# cli: $((n - nfail)) passed, $nfail failed"
[ "$nfail" = 0 ]
