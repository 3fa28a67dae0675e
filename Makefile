# SPDX-License-Identifier: GPL-2.0
#
# ntpdisc: out-of-tree module, host unit tests, kselftests and the QEMU
# test bed they run in.  Module tests only ever run in a throwaway guest.
#
#   make [all|module]  build ntpdisc.ko against the guest kernel's headers
#   make unit          host unit tests of the discipline unit
#   make selftests     static kselftest binaries for the guest
#   make timers-selftests  the kernel's own timers selftests, unmodified,
#                      static, from the linux-source tree (build/timers)
#   make timers MODE=plain|ntpdisc|preload [TESTS="..."]
#                      boot a guest on them (scripts/timers-run.sh)
#   make lint          checkpatch --strict, and a W=1 build under sparse
#   make bench         costs beside the kernel's own, one guest run
#                      (scripts/bench.sh; BENCH_QUICK=1: the short form)
#   make fuzz          differential fuzzing in a guest (scripts/fuzz.sh)
#   make fuzz-host     the discipline under libFuzzer on the host
#   make sim           the discipline simulator (output/sim)
#   make check         setup, lint, unit, module, selftests, guest run;
#                      ends in one "N passed, N failed" line
#   make tools         the ntpdisc CLI (static), the preload library and
#                      the reference clock of the client runs
#   make clients       chronyd, ntpd, adjtimex, ntptime on ntpdisc in a
#                      guest, both backends (scripts/clients-run.sh)
#   make demo          chronyd disciplines a guest clock through ntpdisc,
#                      then a leap second; table, summary, plot
#   make guest P=DIR   boot a guest on payload DIR (see scripts/guest-run.sh)
#   make setup         install what the test bed needs (root)
#   make clean
#
#   make module-kver KVER=<release>
#                      the module for another guest kernel, in a scratch
#                      copy: build/<release>/ntpdisc.ko
#
# KVER=<release> picks the guest kernel, KSERIES=6.1|6.12 the newest
# release of a Debian series instead (scripts/guest-kver.sh); KDIR is its
# build tree: the installed headers, else those scripts/testbed-setup.sh
# unpacked into .cache/kernel/<release>.  GUEST_TIMEOUT (seconds) bounds
# each guest run.

ifeq ($(origin KVER),undefined)
KVER := $(shell scripts/guest-kver.sh $(KSERIES) 2>/dev/null)
endif
KDIR ?= $(or $(patsubst %/Makefile,%,$(wildcard /lib/modules/$(KVER)/build/Makefile)),$(CURDIR)/.cache/kernel/$(KVER)/usr/src/linux-headers-$(KVER))
GUEST_TIMEOUT ?= 1500

CACHE := $(CURDIR)/.cache
KSRC := $(CACHE)/linux-source-6.1
KSFT_INC := $(KSRC)/tools/testing/selftests
CHECKPATCH := $(KSRC)/scripts/checkpatch.pl
OUT := $(CURDIR)/output

LINT_FILES := $(wildcard module/*.c module/*.h) uapi/linux/ntpdisc.h

all: module

module: kdir
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

# Objects of two kernels must not mix in one tree.
module-kver: kdir
	rm -rf build/$(KVER)
	mkdir -p build/$(KVER)
	cp -r Kbuild module uapi build/$(KVER)/
	find build/$(KVER) \( -name '*.o' -o -name '.*.cmd' -o -name '*.ko' \
		-o -name '*.mod' -o -name '*.mod.c' \) -delete
	$(MAKE) -C $(KDIR) M=$(CURDIR)/build/$(KVER) modules

kdir:
	@test -n "$(KVER)" -a -d "$(KDIR)" || \
		{ echo "no kernel build tree '$(KDIR)': run 'make setup'" >&2; exit 1; }

unit:
	$(MAKE) -C module/tests run

# The discipline simulator on the host: a grid of poll intervals and time
# constants, as a table and CSV in output/sim (SIM_ARGS for more options),
# and the first run's trajectory as CSV and PNG (gnuplot).
sim:
	$(MAKE) -C tools OUT=$(CURDIR)/build/tools sim
	mkdir -p $(OUT)/sim
	build/tools/ntpdisc-sim $(SIM_ARGS) -o $(OUT)/sim/grid.csv \
		-t $(OUT)/sim/trajectory.csv | tee $(OUT)/sim/grid.txt
	gnuplot -e "in='$(OUT)/sim/trajectory.csv'; out='$(OUT)/sim/trajectory.png'" \
		-e "title='$$(head -n1 $(OUT)/sim/grid.txt | sed "s/^# //; s/'//g"), first grid run'" \
		tools/ntpdisc-sim.gp
	@echo "sim: output/sim/grid.txt grid.csv trajectory.csv trajectory.png"

# The discipline under libFuzzer on the host (clang): FUZZ_SECONDS (60).
fuzz-host:
	$(MAKE) -C module/tests fuzz FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60)

selftests:
	$(MAKE) -C selftests/ntpdisc KSFT_INC=$(KSFT_INC)

# ntpdisc's costs and step accuracy beside the kernel's own, in one guest
# run (scripts/bench.sh): a table, TAP checks, output/bench/bench.json and
# bench.csv. BENCH_QUICK=1: the short form CI runs (about 70 s).
bench:
	+@MAKE="$(MAKE)" scripts/bench.sh

# The preload library's test in a guest (tools/preload/test.sh).
preload-test: module tools
	tools/preload/test.sh

# Differential fuzzing in a guest, ntpdisc against the guest kernel
# (scripts/fuzz.sh: FUZZ_MINUTES, FUZZ_SEED, FUZZ_SEQUENCES, FUZZ_CALLS).
fuzz: module selftests
	scripts/fuzz.sh

# The kernel's tools/testing/selftests/timers tests that use adjtimex,
# plus the helpers change_skew and skew_consistency run, built from the
# unmodified 6.1 sources with the flags of their own Makefile, -static
# added.  valid-adjtimex defines its own clock_adjtime(), which a static
# libc also has: the linker keeps the test's (the first) definition.
TIMERS_SRC := $(KSFT_INC)/timers
TIMERS_OUT := $(CURDIR)/build/timers
TIMERS_PROGS := valid-adjtimex set-tai adjtick freq-step raw_skew \
	leap-a-day leapcrash change_skew skew_consistency \
	inconsistency-check nanosleep
TIMERS_BINS := $(addprefix $(TIMERS_OUT)/,$(TIMERS_PROGS))
TIMERS_CFLAGS := -O3 -Wl,-no-as-needed -Wall -static \
	-Wl,--allow-multiple-definition
MODE ?= plain

timers-selftests: $(TIMERS_BINS)

# The same, dynamically linked, for runs through libntpdisc-preload.so
# (scripts/timers-run.sh preload builds them too, if missing).
TIMERS_DYN_BINS := $(addprefix $(CURDIR)/build/timers-dyn/,$(TIMERS_PROGS))

timers-selftests-dyn: $(TIMERS_DYN_BINS)

$(TIMERS_DYN_BINS): $(CURDIR)/build/timers-dyn/%: $(TIMERS_SRC)/%.c $(KSFT_INC)/kselftest.h
	@mkdir -p $(dir $@)
	$(CC) -O3 -Wl,-no-as-needed -Wall -o $@ $< -lrt -lpthread -lm

$(TIMERS_BINS): $(TIMERS_OUT)/%: $(TIMERS_SRC)/%.c $(KSFT_INC)/kselftest.h
	@mkdir -p $(TIMERS_OUT)
	$(CC) $(TIMERS_CFLAGS) -o $@ $< -lrt -lpthread -lm

timers: timers-selftests $(if $(filter ntpdisc preload,$(MODE)),module) \
	$(if $(filter preload,$(MODE)),tools timers-selftests-dyn)
	scripts/timers-run.sh $(MODE) $(TESTS)

# checkpatch as for a submission, then a fresh W=1 build with sparse in a
# scratch copy (C=1 only checks what recompiles, and W=1 objects must not
# mix with the normal ones).  Any warning fails; make -k lint runs both.
# checkpatch runs in build/ because it leaves a CamelCase cache in its cwd.
lint: lint-checkpatch lint-sparse

lint-checkpatch:
	@test -x $(CHECKPATCH) || { echo "no checkpatch: run 'make setup'" >&2; exit 1; }
	@mkdir -p build
	cd build && $(CHECKPATCH) --strict --no-tree --quiet --show-types \
		-f $(addprefix $(CURDIR)/,$(LINT_FILES))

lint-sparse: kdir
	rm -rf build/lint
	mkdir -p build/lint
	cp -r Kbuild module uapi build/lint/
	find build/lint \( -name '*.o' -o -name '.*.cmd' \) -delete
	$(MAKE) -C $(KDIR) M=$(CURDIR)/build/lint C=1 CHECK=sparse W=1 modules \
		2>&1 | tee build/lint/build.log
	@! grep -Ei 'warning|error' build/lint/build.log

check:
	+@MAKE="$(MAKE)" GUEST_TIMEOUT=$(GUEST_TIMEOUT) scripts/check.sh

# The selftests' own test module (an atomic-replace livepatch), per kernel.
test-module-kver: kdir
	rm -rf build/$(KVER)-test_replace
	mkdir -p build/$(KVER)-test_replace
	cp selftests/ntpdisc/test_replace/Kbuild \
		selftests/ntpdisc/test_replace/*.c build/$(KVER)-test_replace/
	$(MAKE) -C $(KDIR) M=$(CURDIR)/build/$(KVER)-test_replace modules

# The simulator's trace that ntpdisc_simtrace replays on the guest kernel:
# short runs of PLL and FLL, nano and micro, at fixed seeds.
SIMTRACE := $(CURDIR)/build/tools/ntpdisc_simtrace.txt
SIMTRACE_RUNS := "-p 1 -c 0 -T 16 -s 1" "-u -p 2 -c 1 -T 16 -s 2" \
	"-m fll -p 3 -c 0 -T 12 -s 3" "-u -f -300 -n 20000 -p 1 -c 3 -T 10 -s 4"

simtrace:
	$(MAKE) -C tools OUT=$(CURDIR)/build/tools sim
	rm -f $(SIMTRACE)
	for a in $(SIMTRACE_RUNS); do \
		build/tools/ntpdisc-sim $$a -R $(SIMTRACE) || exit 1; done

# Payload for the selftests: module, static test binaries, the CLI and the
# test module, the simulator's trace, guest runner.
payload: module selftests tools test-module-kver simtrace
	rm -rf $(OUT)/payload
	$(MAKE) -C selftests/ntpdisc KSFT_INC=$(KSFT_INC) \
		DESTDIR=$(OUT)/payload/tests install
	cp $(SIMTRACE) $(OUT)/payload/tests/
	cp ntpdisc.ko $(OUT)/payload/
	cp build/tools/ntpdisc \
		build/$(KVER)-test_replace/ntpdisc_test_replace.ko \
		$(OUT)/payload/tests/
	cp scripts/payload-run.sh $(OUT)/payload/run.sh

guest:
	@test -n "$(P)" || { echo "usage: make guest P=PAYLOAD_DIR" >&2; exit 2; }
	scripts/guest-run.sh --timeout $(GUEST_TIMEOUT) $(P)

tools:
	$(MAKE) -C tools OUT=$(CURDIR)/build/tools
	$(MAKE) -C tools/refclock OUT=$(CURDIR)/build/tools

# Debian's chronyd, ntpd, adjtimex and ntptime on ntpdisc in a guest, with
# both backends (scripts/clients-run.sh; about 25 minutes).
clients: module tools
	scripts/clients-run.sh --steer livepatch
	scripts/clients-run.sh --steer clocksource

# The demo: chronyd disciplining the guest clock through ntpdisc, a leap
# second, a plot (scripts/demo.sh; its guest half is scripts/demo-guest.sh).
demo:
	+@MAKE="$(MAKE)" scripts/demo.sh

setup:
	scripts/testbed-setup.sh

clean:
	-test -z "$(KVER)" -o ! -d "$(KDIR)" || $(MAKE) -C $(KDIR) M=$(CURDIR) clean
	-$(MAKE) -C module/tests clean
	-$(MAKE) -C selftests/ntpdisc clean
	-$(MAKE) -C tools OUT=$(CURDIR)/build/tools clean
	-$(MAKE) -C tools/refclock OUT=$(CURDIR)/build/tools clean
	rm -rf build $(OUT)

.PHONY: all module clients preload-test timers-selftests-dyn module-kver test-module-kver kdir unit bench fuzz fuzz-host sim simtrace selftests timers-selftests timers tools lint lint-checkpatch lint-sparse check payload guest demo setup clean
