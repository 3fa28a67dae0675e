# SPDX-License-Identifier: GPL-2.0
# The demo's plot (scripts/demo.sh): the clock's true error, as measured by
# ntpdisc-refclock against the unsteered counter, on a log scale from the
# first 50 ms down to the last microseconds, and the frequency correction
# the discipline ran at (tick and frequency together), against time since
# chronyd started.  The leap second is the shaded band.
#   gnuplot -e "in='demo.csv'; out='demo.png'; oop=SECS" demo-plot.gp
# oop: when the discipline entered TIME_OOP (the second 23:59:60), or -1.
set terminal pngcairo size 1000,720 font ",10"
set output out
set datafile separator ","
set key top right opaque
set grid
set xlabel "time since chronyd started (s)"
if (oop >= 0) {
	set object 1 rectangle from oop, graph 0 to oop + 1, graph 1 \
		behind fillcolor rgb "#ffe0a0" fillstyle solid noborder
	set label 1 "23:59:60" at oop + 1.2, graph 0.9
}
set multiplot layout 2,1 title "ntpdisc disciplined by chronyd: the clock starts 50 ms ahead and 80 ppm fast; a leap second at 00:00:00 UTC"
set logscale y
set format y "10^{%L}"
set ylabel "|clock - true time| (s)"
plot in using 1:(abs($2) > 1 ? abs($2) / 1e9 : 1e-9) every ::1 with lines lw 1.5 title "true error", \
	1e-4 with lines dt 2 lc rgb "red" title "100 us"
unset logscale y
set format y "%g"
# chronyd slews the first 50 ms away at up to -50000 ppm: clip to the
# range that shows the frequency settling.
set yrange [-200:200]
set ylabel "frequency correction (ppm)"
plot in using 1:7 every ::1 with lines lw 1.5 title "tick + freq (clipped to +-200)", \
	-80 with lines dt 2 lc rgb "red" title "-80 ppm: what the clock needs"
unset multiplot
