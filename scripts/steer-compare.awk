# SPDX-License-Identifier: GPL-2.0
#
# The steering selftests' measurements, one column per backend, from the
# guest's TAP log (selftests/ntpdisc/run_guest.sh runs the same binaries
# once per backend in NTPDISC_STEER):
#
#   awk -f scripts/steer-compare.awk output/guest-tap.log

function keep(key, val) {
	if (!(key in seen)) {
		seen[key] = 1
		order[++nkeys] = key
	}
	got[mode, key] = val
}

/steering phase: NTPDISC_STEER=/ {
	mode = $0
	sub(/.*NTPDISC_STEER=/, "", mode)
	sub(/:.*/, "", mode)
	if (!(mode in modeseen)) {
		modeseen[mode] = 1
		modes[++nmodes] = mode
	}
}

/^# selftests: ntpdisc: / { test = $4 }
/ RUN +steer\./ {
	tcase = $0
	sub(/.*RUN +steer\./, "", tcase)
	sub(/ .*/, "", tcase)
}

# ntpdisc_steer: "<state>  expect <ppm> ppm: REALTIME <ppm> ..."
mode != "" && test == "ntpdisc_steer" && / expect .* ppm: REALTIME / {
	line = $0
	sub(/^(# )+/, "", line)
	key = line
	sub(/ +expect .*/, "", key)
	val = line
	sub(/.* REALTIME /, "", val)
	sub(/ .*/, "", val)
	keep((tcase != "" ? tcase ": " : "rate, ") key " (ppm)", val)
}

# ntpdisc_phase: "<what>: N samples, worst phase error X us ..."
mode != "" && test == "ntpdisc_phase" && /samples, worst phase error/ {
	line = $0
	sub(/^(# )+/, "", line)
	key = line
	sub(/:.*/, "", key)
	val = line
	sub(/.*worst phase error /, "", val)
	sub(/ .*/, "", val)
	keep("phase, " key ": worst error (us)", val)
}
mode != "" && test == "ntpdisc_phase" && /slew rate .* ppm over/ {
	val = $0
	sub(/.*slew rate /, "", val)
	sub(/ .*/, "", val)
	keep("adjtime slew rate (ppm, 500 wanted)", val)
}

# ntpdisc_leapclock
mode != "" && test == "ntpdisc_leapclock" && /(insert|delete): M = / {
	leap = /insert/ ? "insert" : "delete"
}
mode != "" && test == "ntpdisc_leapclock" && /REALTIME stepped .* against/ {
	val = $0
	sub(/.*stepped /, "", val)
	sub(/ .*/, "", val)
	keep("leap " leap ": step (s)", val)
}
mode != "" && test == "ntpdisc_leapclock" && /the far side of the leap showed for/ {
	val = $0
	sub(/.*showed for /, "", val)
	sub(/ .*/, "", val)
	keep("leap " leap ": far side shown (ms)", val)
}
mode != "" && test == "ntpdisc_leapclock" && /TAI - REALTIME: / {
	val = $0
	sub(/.*TAI - REALTIME: /, "", val)
	sub(/ s before, /, " -> ", val)
	sub(/ s after.*/, "", val)
	keep("leap " leap ": TAI - REALTIME (s)", val)
}

END {
	if (!nmodes || !nkeys)
		exit 0
	printf "%-44s", "measurement"
	for (m = 1; m <= nmodes; m++)
		printf " %22s", modes[m]
	printf "\n"
	for (k = 1; k <= nkeys; k++) {
		printf "%-44s", order[k]
		for (m = 1; m <= nmodes; m++) {
			v = (modes[m], order[k]) in got ? got[modes[m], order[k]] : "-"
			printf " %22s", v
		}
		printf "\n"
	}
}
