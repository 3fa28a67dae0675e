# SPDX-License-Identifier: GPL-2.0
#
# Count test results in a log holding TAP streams: flat ones (one stream
# per binary, one after the other) and the kselftest runner's nested
# layout ("# "-prefixed subtests, then one "ok N selftests: ..." line per
# binary).  Other lines (make, kernel messages) are ignored.
#
# Leaf results count as passed / failed / skipped.  A binary-level result
# only adds a failure when it failed without a failing subtest (crash,
# bad exit).  A stream with fewer results than its plan, or results and
# no plan, adds a failure: something did not run to the end.
#
# Prints problems as "tap: ..." lines, then "TAPCOUNT pass fail skip
# missing", where missing (part of fail) is the planned results not seen.

BEGIN {
	maxd = 0
	pass = fail = skip = nmissing = 0
}

function close_stream(d,    missing) {
	if (!open[d])
		return
	open[d] = 0
	if (plan[d] < 0 && nres[d] > 0) {
		print "tap: results without a plan (stream cut short?)"
		fail_at(d)
	} else if (plan[d] >= 0 && nres[d] < plan[d]) {
		missing = plan[d] - nres[d]
		printf "tap: %d of %d planned results missing\n", missing, plan[d]
		fail += missing - 1
		nmissing += missing
		fail_at(d)
	} else if (plan[d] < 0 && nres[d] == 0) {
		print "tap: stream with neither plan nor results"
		fail_at(d)
	}
}

function open_stream(d,    k) {
	for (k = d; k <= maxd; k++)
		close_stream(k)
	open[d] = 1
	plan[d] = -1
	nres[d] = 0
	nfail[d] = 0
	if (d > maxd)
		maxd = d
}

# Count one failure, visible to every enclosing stream.
function fail_at(d,    k) {
	fail++
	for (k = 0; k <= d; k++)
		nfail[k]++
}

{
	sub(/\r$/, "")
	line = $0
	d = 0
	while (substr(line, 1, 2) == "# ") {
		line = substr(line, 3)
		d++
	}
}

line ~ /^TAP version [0-9]+/ {
	open_stream(d)
	next
}

line ~ /^1\.\.[0-9]+/ {
	if (!open[d])
		open_stream(d)
	split(line, a, /[. ]+/)
	plan[d] = a[2] + 0
	next
}

line ~ /^(not )?ok [0-9]+/ {
	if (!open[d])
		open_stream(d)
	nres[d]++
	if (open[d + 1]) {
		# Summary of a nested stream: one binary.
		close_stream(d + 1)
		if (line ~ /^not ok/ && nfail[d + 1] == 0) {
			print "tap: " line
			fail_at(d)
		}
		next
	}
	if (line ~ /# *[Ss][Kk][Ii][Pp]/)
		skip++
	else if (line ~ /^not ok/ && line !~ /# *TODO/) {
		print "tap: " line
		fail_at(d)
	} else
		pass++
	next
}

END {
	for (k = maxd; k >= 0; k--)
		close_stream(k)
	printf "TAPCOUNT %d %d %d %d\n", pass, fail, skip, nmissing
}
