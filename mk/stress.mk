# mk/stress.mk - `make stress`, included by the Makefile: the long load
# and fault runs of issue 10, too long for `make check`. They are built
# and run as `make asan` builds and runs the suite (build-asan, SAN=1,
# the same ASAN/LSAN/UBSAN settings), so a leak, an overflow or undefined
# behaviour under minutes of load fails them too.
#
#   tests/stress_soak.c   STRESS_SECONDS (default 180) of mixed verifies,
#                         management writes, rotations and purges from
#                         several uids: no leak at the end, resident
#                         memory flat after warm-up, the store whole,
#                         every acknowledged change present.
#   tests/stress_crash.c  repeated SIGKILLs during a long stream of
#                         writes: after each, every acknowledged write
#                         is in the store and the store is whole.
#
# The binaries are Criterion programs linked like the integration tests
# (tests/it_*.c); they are named stress_* so that `make check` leaves them
# out.

STRESS_SECONDS	?= 180
STRESS_SRC	 = $(wildcard tests/stress_*.c)
STRESS_BIN	 = $(patsubst tests/%.c,$(B)/tests/%,$(STRESS_SRC))

.PHONY: stress-build stress-run

stress:
	@scripts/deps.sh test
	@ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=1:abort_on_error=0 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(MAKE) --no-print-directory B=build-asan SAN=1 stress-run

stress-build: build $(STRESS_BIN)

# Verbosity 1 shows each test's log lines: the memory samples, the
# counts of writes checked, the seeds that repeat a run.
stress-run: stress-build
	@APIKEY_BUILD=$(abspath $(B)) STRESS_SECONDS=$(STRESS_SECONDS) \
	  CRITERION_VERBOSITY_LEVEL=1 scripts/run-tests.sh $(STRESS_BIN)

$(B)/tests/stress_%: $(B)/obj/tests/stress_%.o $(ITLIB_OBJ) $(B)/libapikey.so
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(HARDEN) -pie $(SANLD) -o $@ $(filter %.o,$^) \
	    -L$(B) -lapikey -Wl,-rpath,$(abspath $(B)) \
	    $(call pc_libs,$(PKG_TEST) jansson) -lpthread
