# mk/bench.mk - `make bench`, included by the Makefile: issue 11's
# benchmark. It builds apikeyd, libapikey, pam_apikey.so and the bench
# tool (bench/*.c, built on libapikey's public API like any service),
# then bench/run.sh starts a private apikeyd on temporary state and
# socket directories, runs $(B)/apikey-bench against it, prints its
# tables and stops the daemon, whatever happens.
#
#   make bench                    100,000 keys, 5 s per scenario
#   make bench BENCH_KEYS=1M      a million keys
#   make bench BENCH_ARGS='--scenario valid,echo'   (apikey-bench --help)
#   make bench BENCH_CONF='usage_flush_interval = 1s'  more daemon settings
#
# Speed is not a test: `make check` runs only tests/it_bench.c, which
# checks that the bench counts only right answers and fails on a wrong one.
# bench/peers.sh runs the same bench beside Redis and PostgreSQL.

BENCH_KEYS	?= 100000
BENCH_SECONDS	?= 5
BENCH_ARGS	?=
BENCH_CONF	?=
BENCH_SRC	 = $(wildcard bench/*.c)
BENCH_OBJ	 = $(call obj,$(BENCH_SRC))

.PHONY: bench-build

bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory bench-build
	@BENCH_CONF='$(BENCH_CONF)' bench/run.sh $(B) --keys $(BENCH_KEYS) \
	    --seconds $(BENCH_SECONDS) $(BENCH_ARGS)

bench-build: $(B)/apikeyd $(B)/libapikey.so $(B)/pam_apikey.so \
    $(B)/apikey-bench

# Built as a user of the library is: <apikey.h> and -lapikey only.
$(BENCH_OBJ): ALLCFLAGS += -Ilibclient

$(B)/apikey-bench: $(BENCH_OBJ) $(B)/libapikey.so
	$(CC) $(CFLAGS) $(HARDEN) -pie $(LDHARDEN) $(SANLD) -o $@ \
	    $(BENCH_OBJ) -L$(B) -lapikey -Wl,-rpath,$(abspath $(B)) \
	    -lpam -lpthread $(call pc_libs,zlib)

# tests/it_bench.c runs the bench, whose PAM loop loads pam_apikey.so.
$(B)/tests/it_bench: $(B)/apikey-bench $(B)/pam_apikey.so
