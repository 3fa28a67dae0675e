# SPDX-License-Identifier: GPL-2.0
# The simulator's trajectory (ntpdisc-sim -t) as a PNG: the clock's true
# offset and the discipline's frequency, against time on a log scale so
# that the first minute's convergence and days of steady state both show.
#   gnuplot -e "in='trajectory.csv'; out='trajectory.png'; title='...'" ntpdisc-sim.gp
if (!exists("title")) title = "ntpdisc-sim"
set terminal pngcairo size 1000,700 font ",10"
set output out
set datafile separator ","
set key autotitle columnhead
set multiplot layout 2,1 title title
set grid
set logscale x
set xlabel "time (s)"
set format x "10^{%L}"
set logscale y
set ylabel "|offset| (s)"
set format y "10^{%L}"
plot in using 1:(abs($2) > 1e-9 ? abs($2) : 1e-9) with lines lw 1 title "|clock - true time|", \
	1e-3 with lines dt 2 title "1 ms", 1e-5 with lines dt 3 title "10 us"
unset logscale y
set format y "%g"
set ylabel "frequency (ppm)"
plot in using 1:3 with lines lw 1 title "discipline frequency"
unset multiplot
