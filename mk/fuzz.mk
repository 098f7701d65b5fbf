# mk/fuzz.mk - `make fuzz`, included by the Makefile: the libFuzzer targets
# of tests/fuzz/ (see tests/fuzz/README.md), built by clang with ASan and
# UBSan into $(B)/fuzz/, then each run for FUZZ_SECONDS (default 60) after
# its regression inputs, by tests/fuzz/run.sh. Any crash, leak or
# sanitizer report fails `make fuzz` and names the reproducer.
#
# The project's code is compiled again for this, apart from $(B)/obj: with
# -fsanitize=fuzzer-no-link (coverage for the fuzzer) and the sanitizers;
# only the targets link libFuzzer itself (-fsanitize=fuzzer).

FUZZ_CC		?= clang
FUZZ_SECONDS	?= 60
FUZZ_TARGETS	 = frames record token config metadata
FZ		 = $(B)/fuzz
FUZZ_SAN	 = -fsanitize=address,undefined \
		   -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS	 = -g -O1 $(WARN) $(DEFS) $(FUZZ_SAN) -MMD -MP

fzobj = $(patsubst %.c,$(FZ)/obj/%.o,$(1))

# Everything but server.c, whose conn_* functions tests/fuzz/fuzz_conn.c
# provides instead.
FUZZ_DAEMON_OBJ	= $(call fzobj,$(filter-out daemon/server.c,\
		  $(DAEMON_SRC)))
FUZZ_PROTO_OBJ	= $(call fzobj,$(PROTO_SRC))
FUZZ_FRAMES_OBJ	= $(call fzobj,$(addprefix tests/fuzz/,fuzz_frames.c \
		  fuzz_conn.c reply_check.c codec_all.c fixture.c))
FUZZ_BINS	= $(addprefix $(FZ)/fuzz_,$(FUZZ_TARGETS))

.PHONY: fuzz-build

fuzz:
	@scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory fuzz-build
	@rc=0; for t in $(FUZZ_TARGETS); do \
	    tests/fuzz/run.sh $$t $(FZ) $(FUZZ_SECONDS) || rc=1; \
	done; exit $$rc

fuzz-build: $(FUZZ_BINS) $(FZ)/seeds/.made

$(FZ)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link \
	    $(call pc_cflags,$(PKG_DAEMON)) -c $< -o $@

$(FZ)/fuzz_frames: $(FUZZ_FRAMES_OBJ) $(FUZZ_DAEMON_OBJ) $(FUZZ_PROTO_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ \
	    $(call pc_libs,$(PKG_DAEMON)) -lpthread

# The small targets link proto/ and common/ whole (zlib is token.c's),
# and the one daemon file they fuzz.
$(FZ)/fuzz_record: $(call fzobj,tests/fuzz/fuzz_record.c \
    daemon/store_record.c) $(FUZZ_PROTO_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ \
	    $(call pc_libs,zlib)

$(FZ)/fuzz_token: $(call fzobj,tests/fuzz/fuzz_token.c) $(FUZZ_PROTO_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ \
	    $(call pc_libs,zlib)

# config.c checks fleet_url through libpq (daemon/fleet_url.c).
$(FZ)/fuzz_config: $(call fzobj,tests/fuzz/fuzz_config.c daemon/config.c \
    daemon/fleet_url.c) $(FUZZ_PROTO_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ \
	    $(call pc_libs,zlib libpq)

$(FZ)/fuzz_metadata: $(call fzobj,tests/fuzz/fuzz_metadata.c \
    daemon/metadata.c) $(FUZZ_PROTO_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ \
	    $(call pc_libs,jansson zlib)

# The seed generator links the same objects, without libFuzzer.
$(FZ)/seeds/seeds: $(call fzobj,tests/fuzz/seeds.c tests/fuzz/fixture.c \
    daemon/store_record.c) $(FUZZ_PROTO_OBJ)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_SAN) -o $@ $^ $(call pc_libs,zlib)

# Seeds are made afresh whenever the generator changes.
$(FZ)/seeds/.made: $(FZ)/seeds/seeds
	rm -rf $(FZ)/seeds/frames $(FZ)/seeds/record $(FZ)/seeds/token
	mkdir -p $(FZ)/seeds/frames $(FZ)/seeds/record $(FZ)/seeds/token
	$(FZ)/seeds/seeds $(FZ)/seeds
	@touch $@
