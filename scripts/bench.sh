#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make bench: ntpdisc's costs and step accuracy beside the kernel's own,
# measured in one run of the test guest (scripts/bench-guest.sh is its
# guest half), printed as a table with the checks as TAP lines, and
# written to output/bench/bench.json and bench.csv.
#
#   BENCH_QUICK=1   the short form for CI (no leaps or steps, fewer
#                   rounds, a shorter trace): under 3 minutes
#   BENCH_REPORT=F  only redo the report from the console log F of an
#                   earlier run, no build and no guest
#   GUEST_TIMEOUT   bounds the guest run (seconds)
#
# Exit status: 0 when every check passed, 1 when one failed, 2 when the
# run itself failed. The numbers depend on the host and on what else runs
# on it: the guest is emulated (TCG).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
quick=${BENCH_QUICK:-0}
out=output/bench
payload=output/bench-payload
make=${MAKE:-make}
mkdir -p "$out"

if [ -n "${BENCH_REPORT:-}" ]; then
	log=$BENCH_REPORT
	guest_rc=0
else
	$make --no-print-directory module tools selftests >"$out/build.log" 2>&1 ||
		{ tail -n 30 "$out/build.log"; echo "bench: build failed" >&2; exit 2; }
	$make --no-print-directory -C tools/bench OUT="$top/build/bench" \
		>>"$out/build.log" 2>&1 ||
		{ tail -n 30 "$out/build.log"; echo "bench: build failed" >&2; exit 2; }
	rm -rf "$payload"
	mkdir -p "$payload"
	cp ntpdisc.ko build/tools/ntpdisc build/bench/ntpdisc-bench \
		selftests/ntpdisc/ntpdisc_leapclock selftests/ntpdisc/ntpdisc_step \
		"$payload/"
	cp scripts/bench-guest.sh "$payload/run.sh"
	echo "BENCH_QUICK=$quick" >"$payload/bench.conf"
	if [ "$quick" = 1 ]; then
		timeout=${GUEST_TIMEOUT:-300}
	else
		timeout=${GUEST_TIMEOUT:-600}
	fi
	log=$out/console.log
	echo "bench: booting the guest (quick=$quick, at most ${timeout} s)"
	guest_rc=0
	scripts/guest-run.sh --timeout "$timeout" --log "$log" "$payload" \
		>"$out/guest.out" 2>&1 || guest_rc=$?
fi

[ -s "$log" ] || { echo "bench: no console log $log" >&2; exit 2; }

# Everything the report needs, as "key value" lines.
kv=$out/results.kv
tr -d '\r' <"$log" | sed -n 's/^BENCH \([^ ]*\) \([^ ]*\)$/\1 \2/p' >"$kv"
# function_graph durations (us): the median and count per phase/function.
tr -d '\r' <"$log" | sed -n 's/^FTRACE //p' | sort -k1,1 -k2,2 -k3,3n |
	awk '{ k = $1 ".ftrace." $2; v[k, ++n[k]] = $3 }
	END { for (k in n) { printf "%s.median_us %s\n", k, v[k, int((n[k] + 1) / 2)]
		printf "%s.n %d\n", k, n[k] } }' >>"$kv"
# Sections of the module file.
if size -A ntpdisc.ko >/dev/null 2>&1; then
	size -A ntpdisc.ko | awk '
		$1 ~ /^\.text/ || $1 ~ /^\.noinstr/ || $1 == ".init.text" || $1 == ".exit.text" { t += $2 }
		$1 ~ /^\.rodata/ || $1 ~ /^__/ || $1 ~ /^\.altinstr/ || $1 ~ /^\.orc/ { r += $2 }
		$1 ~ /^\.data/ || $1 == ".gnu.linkonce.this_module" { d += $2 }
		$1 == ".bss" { b += $2 }
		END { printf "ko.text_bytes %d\nko.rodata_bytes %d\nko.data_bytes %d\nko.bss_bytes %d\n", t, r, d, b }' >>"$kv"
fi
echo "guest.exit $guest_rc" >>"$kv"
# The run's own mode (BENCH_REPORT may look at either kind).
quick=$(sed -n 's/^meta\.quick //p' "$kv" | head -n 1)
quick=${quick:-0}

meta() {
	tr -d '\r' <"$log" | sed -n "s/^BENCH-META $1 //p" | head -n 1
}
host_cpu=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)
cpus=$(meta cpus)
machine="QEMU TCG on ${host_cpu:-unknown CPU}, ${cpus:-?} vCPUs"
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
kernel=$(meta kernel)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)

awk -v date="$date" -v machine="$machine" -v kernel="$kernel" \
	-v commit="$commit" -v quick="$quick" -v json="$out/bench.json" \
	-v csv="$out/bench.csv" -f scripts/bench-report.awk "$kv"
