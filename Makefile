# SPDX-License-Identifier: GPL-2.0
#
# ntpdisc: out-of-tree module, host unit tests, kselftests and the QEMU
# test bed they run in.  Module tests only ever run in a throwaway guest.
#
#   make [all|module]  build ntpdisc.ko against the guest kernel's headers
#   make unit          host unit tests of the discipline unit (both of
#                      its kernel models) and of the CLI's command line
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
#   make check-all     make check plus the kernel's timers selftests on
#                      6.1 and 6.12, the -rt guests and longer life-cycle
#                      runs (2 hours)
#   make tools         the ntpdisc CLI (static), the preload library and
#                      the reference clock of the client runs
#   make clients       chronyd, ntpd, adjtimex, ntptime on ntpdisc in a
#                      guest, both backends (scripts/clients-run.sh)
#   make demo          chronyd disciplines a guest clock through ntpdisc,
#                      then a leap second; table, summary, plot
#   make guest P=DIR   boot a guest on payload DIR (see scripts/guest-run.sh)
#   make deb           the Debian packages ntpdisc-dkms, ntpdisc-tools
#                      (output/deb; scripts/pkg-run.sh tests them in a guest)
#   make install       module (updates/, depmod), CLI, library, man pages,
#                      systemd unit; DESTDIR, PREFIX (/usr/local). uninstall
#   make man           the man pages (build/man, rst2man)
#   make setup         install what the test bed needs (root)
#   make clean
#
#   make module-kver KVER=<release>
#                      the module for another guest kernel, in a scratch
#                      copy: build/<release>/ntpdisc.ko
#
# KVER=<release> picks the guest kernel, KSERIES=6.1|6.12|7.3 the newest
# release of a Debian series instead (scripts/guest-kver.sh; 7.3 needs
# "scripts/testbed-setup.sh 7.3" first); KDIR is its
# build tree: the installed headers, else those scripts/testbed-setup.sh
# unpacked into .cache/kernel/<release>.  GUEST_TIMEOUT (seconds) bounds
# each guest run.

# In the test bed (.cache/kernel, from make setup) the guest kernel; on
# any other machine the running one.
ifeq ($(origin KVER),undefined)
ifneq ($(wildcard $(CURDIR)/.cache/kernel),)
KVER := $(shell scripts/guest-kver.sh $(KSERIES) 2>/dev/null)
else
KVER := $(shell uname -r)
endif
endif
KDIR ?= $(or $(patsubst %/Makefile,%,$(wildcard /lib/modules/$(KVER)/build/Makefile)),$(CURDIR)/.cache/kernel/$(KVER)/usr/src/linux-headers-$(KVER))
GUEST_TIMEOUT ?= 1500

CACHE := $(CURDIR)/.cache
KSRC := $(CACHE)/linux-source-6.1
KSFT_INC := $(KSRC)/tools/testing/selftests
CHECKPATCH := $(KSRC)/scripts/checkpatch.pl
OUT := $(CURDIR)/output

# What the module is built from: a scratch copy, the DKMS source tree.
MODULE_SRC := Kbuild VERSION module probe uapi
NTPDISC_VERSION := $(shell cat VERSION)

LINT_FILES := $(filter-out module/compat_probed.h,$(wildcard module/*.c module/*.h probe/*.c)) uapi/linux/ntpdisc.h

all: module

module: kdir
	scripts/kbuild.sh $(KDIR) M=$(CURDIR) modules

# Objects of two kernels must not mix in one tree.
module-kver: kdir
	rm -rf build/$(KVER)
	mkdir -p build/$(KVER)
	cp -r $(MODULE_SRC) build/$(KVER)/
	find build/$(KVER) \( -name '*.o' -o -name '.*.cmd' -o -name '*.ko' \
		-o -name '*.mod' -o -name '*.mod.c' -o -name compat_probed.h \) -delete
	scripts/kbuild.sh $(KDIR) M=$(CURDIR)/build/$(KVER) modules

kdir:
	@test -n "$(KVER)" -a -d "$(KDIR)" || { \
		echo "no kernel build tree for $(KVER) ('$(KDIR)')" >&2; \
		if [ -d $(CURDIR)/.cache/kernel ]; then \
			echo "run 'make setup'" >&2; \
		else \
			echo "install its headers: apt install linux-headers-$(KVER)" >&2; \
		fi; exit 1; }

unit:
	$(MAKE) -C module/tests run
	$(MAKE) -C tools OUT=$(CURDIR)/build/tools
	tools/cli-test.sh build/tools/ntpdisc

# The discipline simulator on the host: a grid of poll intervals and time
# constants, as a table and CSV in output/sim (SIM_ARGS for more options),
# and the first run's trajectory as CSV and PNG (gnuplot).
sim:
	@command -v gnuplot >/dev/null || { echo "sim: gnuplot is missing: apt install gnuplot-nox (or make setup)" >&2; exit 1; }
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
	cp -r $(MODULE_SRC) build/lint/
	find build/lint \( -name '*.o' -o -name '.*.cmd' -o -name compat_probed.h \) -delete
	scripts/kbuild.sh $(KDIR) M=$(CURDIR)/build/lint C=1 CHECK=sparse W=1 modules \
		2>&1 | tee build/lint/build.log
	@! grep -Ei 'warning|error' build/lint/build.log

check:
	+@MAKE="$(MAKE)" GUEST_TIMEOUT=$(GUEST_TIMEOUT) scripts/check.sh

# make check, and what does not fit into CI's 90 minutes or does not pass
# every time yet: the kernel's timers selftests on 6.1 and 6.12, the
# PREEMPT_RT guests (6.12-rt and 7.3-rt: stress and life cycle with the
# livepatch), 7.3's differential suite, 200 livepatch life-cycle cycles.
check-all:
	+@MAKE="$(MAKE)" GUEST_TIMEOUT=$(GUEST_TIMEOUT) CHECK_TIMERS=1 \
		CHECK_TIMERS_KSERIES="6.1 6.12" CHECK_RT_KSERIES="6.12 7.3" \
		CHECK_TICK_DIFFERENTIAL=1 \
		NTPDISC_LIFECYCLE_LP_CYCLES=200 \
		scripts/check.sh

# The selftests' own test module (an atomic-replace livepatch), per kernel.
test-module-kver: kdir
	rm -rf build/$(KVER)-test_replace
	mkdir -p build/$(KVER)-test_replace
	cp selftests/ntpdisc/test_replace/Kbuild \
		selftests/ntpdisc/test_replace/*.c build/$(KVER)-test_replace/
	scripts/kbuild.sh $(KDIR) M=$(CURDIR)/build/$(KVER)-test_replace modules

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
	echo "$(if $(NTPDISC_LIFECYCLE_LP_CYCLES),NTPDISC_LIFECYCLE_LP_CYCLES=$(NTPDISC_LIFECYCLE_LP_CYCLES))" \
		>$(OUT)/payload/env

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

# Installing without DKMS or a package (see README): the module into
# /lib/modules/$(KVER)/updates through the kernel's modules_install (which
# runs depmod), the CLI, the preload library, the man pages and the
# systemd unit, under DESTDIR and PREFIX. The drop-ins of the time daemons
# and the udev rule change how those daemons run: they are installed
# beside the library, in $(PREFIX)/share/ntpdisc, for the admin to copy.
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
LIBDIR ?= $(PREFIX)/lib
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share/ntpdisc
UNITDIR ?= $(PREFIX)/lib/systemd/system
INST := $(CURDIR)/build/install
PRELOAD_LIB := $(LIBDIR)/libntpdisc-preload.so
DROPINS := chrony.service.d ntpsec.service.d systemd-timesyncd.service.d \
	   modules-load.d modprobe.d udev

install: install-module install-tools

print-module-src:
	@echo $(MODULE_SRC)

# Unsigned: the kernel's signing key is not in its headers (on Secure Boot,
# DKMS signs with its own key, see README). Debian's headers have no
# System.map, so kbuild skips depmod: run here.
install-module: module
	scripts/kbuild.sh $(KDIR) M=$(CURDIR) INSTALL_MOD_PATH=$(DESTDIR) \
		INSTALL_MOD_DIR=updates CONFIG_MODULE_SIG_ALL= modules_install
	test -n "$(DESTDIR)" || depmod -a $(KVER)

# The CLI and the library for a real system: dynamic, unlike the test
# bed's static CLI.
install-build:
	$(MAKE) -C tools OUT=$(INST) LDFLAGS="$(filter-out -static,$(LDFLAGS))" \
		$(INST)/ntpdisc $(INST)/libntpdisc-preload.so
	$(MAKE) --no-print-directory man

# Man pages from Documentation/man (rst2man: python3-docutils).
MAN_PAGES := $(patsubst Documentation/man/%.rst,build/man/%,$(wildcard Documentation/man/*.rst))
man: $(MAN_PAGES)
build/man/%: Documentation/man/%.rst VERSION
	@command -v rst2man >/dev/null || { echo "man: rst2man is missing: apt install python3-docutils" >&2; exit 1; }
	@mkdir -p build/man
	sed 's/^:Version: .*/:Version: $(NTPDISC_VERSION)/' $< | rst2man --strict >$@

install-tools: install-build
	install -D -m 0755 $(INST)/ntpdisc $(DESTDIR)$(SBINDIR)/ntpdisc
	install -D -m 0644 $(INST)/libntpdisc-preload.so $(DESTDIR)$(PRELOAD_LIB)
	for m in $(notdir $(MAN_PAGES)); do \
		install -D -m 0644 build/man/$$m \
			$(DESTDIR)$(MANDIR)/man$${m##*.}/$$m || exit 1; done
	install -d $(DESTDIR)$(UNITDIR)
	sed 's|@SBINDIR@|$(SBINDIR)|g' tools/systemd/ntpdisc.service.in \
		>$(DESTDIR)$(UNITDIR)/ntpdisc.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/ntpdisc.service
	for d in $(DROPINS); do \
		for f in tools/preload/systemd/$$d/*; do \
			install -d $(DESTDIR)$(DATADIR)/$$d && \
			sed 's|/usr/local/lib/libntpdisc-preload.so|$(PRELOAD_LIB)|' \
				$$f >$(DESTDIR)$(DATADIR)/$$d/$${f##*/} || exit 1; \
		done; done

uninstall:
	rm -f $(DESTDIR)/lib/modules/$(KVER)/updates/ntpdisc.ko*
	test -n "$(DESTDIR)" || depmod -a $(KVER)
	rm -f $(DESTDIR)$(SBINDIR)/ntpdisc $(DESTDIR)$(PRELOAD_LIB) \
		$(DESTDIR)$(UNITDIR)/ntpdisc.service \
		$(addprefix $(DESTDIR)$(MANDIR)/man,$(foreach m,$(notdir $(MAN_PAGES)),$(subst .,,$(suffix $(m)))/$(m)))
	rm -rf $(DESTDIR)$(DATADIR)

# The Debian packages ntpdisc-dkms and ntpdisc-tools (debian/), built by
# dpkg-buildpackage, which writes beside the tree: moved to output/deb.
DEBS := ntpdisc-dkms_$(NTPDISC_VERSION)_all.deb \
	ntpdisc-tools_$(NTPDISC_VERSION)_amd64.deb \
	ntpdisc-tools-dbgsym_$(NTPDISC_VERSION)_amd64.deb \
	ntpdisc_$(NTPDISC_VERSION)_amd64.buildinfo \
	ntpdisc_$(NTPDISC_VERSION)_amd64.changes
deb:
	dpkg-buildpackage -us -uc -b
	mkdir -p $(OUT)/deb
	cd .. && mv $(DEBS) $(OUT)/deb/
	debian/rules clean
	@echo "deb: $(addprefix output/deb/,$(filter %.deb,$(DEBS)))"

setup:
	scripts/testbed-setup.sh

clean:
	-test -z "$(KVER)" -o ! -d "$(KDIR)" || scripts/kbuild.sh $(KDIR) M=$(CURDIR) clean
	-$(MAKE) -C module/tests clean
	-$(MAKE) -C selftests/ntpdisc clean
	-$(MAKE) -C tools OUT=$(CURDIR)/build/tools clean
	-$(MAKE) -C tools/refclock OUT=$(CURDIR)/build/tools clean
	rm -rf build $(OUT)

.PHONY: deb print-module-src install install-module install-build install-tools uninstall man all module check-all clients preload-test timers-selftests-dyn module-kver test-module-kver kdir unit bench fuzz fuzz-host sim simtrace selftests timers-selftests timers tools lint lint-checkpatch lint-sparse check payload guest demo setup clean
