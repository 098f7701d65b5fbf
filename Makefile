# apikeyd - plain Makefile. Targets: all check asan fuzz run bench install
# uninstall clean.
# Dependencies are installed (as root) or named (otherwise) by scripts/deps.sh.

VERSION	= 0.1.0

# Installation directories; every one can be set on the command line
# (PREFIX and DESTDIR also in the environment).
# PREFIX=/usr means a distribution's own layout (Debian packages use it):
# libraries in the multiarch directory, and the PAM, unit, sysusers and
# tmpfiles directories where this system's libpam and systemd look, as
# their pkg-config files say. Any other PREFIX keeps everything under it.
PREFIX	?= /usr/local
DESTDIR	?=
ifeq ($(PREFIX),/usr)
_multiarch := $(or $(shell dpkg-architecture -qDEB_HOST_MULTIARCH \
	    2>/dev/null),$(shell $(or $(CC),cc) -print-multiarch 2>/dev/null))
_pamlib	   := $(shell pkg-config --variable=libdir pam 2>/dev/null)
_unitdir   := $(shell pkg-config --variable=systemdsystemunitdir systemd \
	    2>/dev/null)
_usersdir  := $(shell pkg-config --variable=sysusersdir systemd 2>/dev/null)
_tmpdir	   := $(shell pkg-config --variable=tmpfilesdir systemd 2>/dev/null)
SYSCONFDIR = /etc
LIBDIR	= $(PREFIX)/lib$(if $(_multiarch),/$(_multiarch))
PAMDIR	= $(or $(_pamlib),$(LIBDIR))/security
UNITDIR	= $(or $(_unitdir),$(PREFIX)/lib/systemd/system)
SYSUSERSDIR = $(or $(_usersdir),$(PREFIX)/lib/sysusers.d)
TMPFILESDIR = $(or $(_tmpdir),$(PREFIX)/lib/tmpfiles.d)
else
SYSCONFDIR = $(PREFIX)/etc
LIBDIR	= $(PREFIX)/lib
PAMDIR	= $(LIBDIR)/security
UNITDIR	= $(PREFIX)/lib/systemd/system
SYSUSERSDIR = $(PREFIX)/lib/sysusers.d
TMPFILESDIR = $(PREFIX)/lib/tmpfiles.d
endif
BINDIR	= $(PREFIX)/bin
SBINDIR	= $(PREFIX)/sbin
INCDIR	= $(PREFIX)/include
PCDIR	= $(LIBDIR)/pkgconfig
DATADIR	= $(PREFIX)/share
MANDIR	= $(DATADIR)/man
PAMCONFDIR = $(DATADIR)/pam-configs

B	?= build
CC	?= cc
SAN	?=

WARN	= -std=c11 -Wall -Wextra -Wformat=2 -Wshadow -Wpointer-arith \
	  -Wcast-qual -Wstrict-prototypes -Wmissing-prototypes \
	  -Wwrite-strings -Wvla -Wimplicit-fallthrough -Wundef \
	  -Werror=implicit-function-declaration
ifeq ($(SAN),)
HARDEN	= -O2 -D_FORTIFY_SOURCE=3 -fstack-protector-strong \
	  -fstack-clash-protection
else
HARDEN	= -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
	  -fno-sanitize-recover=undefined
endif
LDHARDEN = -Wl,-z,relro,-z,now,-z,noexecstack
DEFS	= -D_GNU_SOURCE -DAPIKEY_VERSION='"$(VERSION)"'
CFLAGS	?= -g
ALLCFLAGS = $(CFLAGS) $(WARN) $(HARDEN) $(DEFS) -MMD -MP
SANLD	= $(if $(SAN),-fsanitize=address$(,)undefined)
, := ,

PKG_DAEMON = lmdb libevent libevent_pthreads libsodium jansson zlib libsystemd \
	     libpq
PKG_CLIENT = zlib
PKG_CLI	   = jansson zlib
PKG_TEST   = criterion
pc_cflags = $(shell pkg-config --cflags $(1) 2>/dev/null)
pc_libs	  = $(shell pkg-config --libs $(1) 2>/dev/null)

PROTO_SRC  = $(wildcard proto/*.c common/*.c)
DAEMON_SRC = $(filter-out daemon/main.c,$(wildcard daemon/*.c))
CLIENT_SRC = $(wildcard libclient/*.c)
CLI_SRC	   = $(wildcard cli/*.c)
PAM_SRC	   = $(wildcard pam_module/*.c)
UNIT_SRC   = $(wildcard tests/unit_*.c)
IT_SRC	   = $(wildcard tests/it_*.c)
ITLIB_SRC  = $(wildcard tests/harness*.c)

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))
pic = $(patsubst %.c,$(B)/pic/%.o,$(1))

PROTO_OBJ  = $(call obj,$(PROTO_SRC))
DAEMON_OBJ = $(call obj,$(DAEMON_SRC))
CLIENT_PIC = $(call pic,$(PROTO_SRC) $(CLIENT_SRC))
CLI_OBJ	   = $(call obj,$(CLI_SRC))
PAM_PIC	   = $(call pic,$(PAM_SRC))
ITLIB_OBJ  = $(call obj,$(ITLIB_SRC))
UNIT_BIN   = $(patsubst tests/%.c,$(B)/tests/%,$(UNIT_SRC))
IT_BIN	   = $(patsubst tests/%.c,$(B)/tests/%,$(IT_SRC))

SONAME	= libapikey.so.1
BINS	= $(B)/apikeyd $(B)/apikeyctl $(B)/libapikey.so $(B)/apikey.pc \
	  $(B)/pam_apikey.so \
	  $(B)/examples/verify_key $(B)/examples/verify_batch

.PHONY: all build check test-build test-run asan fuzz run install \
	install-files uninstall clean deps valgrind stress bench

all:
	@scripts/deps.sh build
	@$(MAKE) --no-print-directory build

build: $(BINS)

$(B)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) -fPIE $(call pc_cflags,$(PKG_DAEMON) $(PKG_TEST)) -c $< -o $@

$(B)/pic/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) -fPIC -fvisibility=hidden $(call pc_cflags,$(PKG_CLIENT)) -c $< -o $@

# The PAM module and apikeyctl include <apikey.h> as any user of the library
# does; in the tree it is libclient's (tests/it_install.c builds the module
# against the installed one).
$(PAM_PIC) $(CLI_OBJ): ALLCFLAGS += -Ilibclient

$(B)/apikeyd: $(B)/obj/daemon/main.o $(DAEMON_OBJ) $(PROTO_OBJ)
	$(CC) $(CFLAGS) $(HARDEN) -pie $(LDHARDEN) $(SANLD) -o $@ $^ \
	    $(call pc_libs,$(PKG_DAEMON)) -lpthread

$(B)/$(SONAME): $(CLIENT_PIC) libclient/libapikey.map
	$(CC) $(CFLAGS) $(HARDEN) -shared -Wl,-soname,$(SONAME) \
	    -Wl,--version-script=libclient/libapikey.map -Wl,--no-undefined \
	    $(LDHARDEN) $(SANLD) -o $@ $(CLIENT_PIC) $(call pc_libs,$(PKG_CLIENT))

$(B)/libapikey.so: $(B)/$(SONAME)
	ln -sf $(SONAME) $@

# apikeyctl links libapikey's objects statically, so an installed apikeyctl
# never depends on a library search path.
$(B)/apikeyctl: $(CLI_OBJ) $(CLIENT_PIC)
	$(CC) $(CFLAGS) $(HARDEN) -pie $(LDHARDEN) $(SANLD) -o $@ $^ \
	    $(call pc_libs,$(PKG_CLI))

# pam_apikey.so links libapikey's objects statically, so an installed module
# never depends on a library search path; it exports only pam_sm_*.
$(B)/pam_apikey.so: $(PAM_PIC) $(CLIENT_PIC) pam_module/pam_apikey.map
	$(CC) $(CFLAGS) $(HARDEN) -shared \
	    -Wl,--version-script=pam_module/pam_apikey.map -Wl,--no-undefined \
	    $(LDHARDEN) $(SANLD) -o $@ $(PAM_PIC) $(CLIENT_PIC) \
	    -lpam $(call pc_libs,$(PKG_CLIENT))

$(B)/apikey.pc: libclient/apikey.pc.in Makefile
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCDIR@|$(INCDIR)|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@

# The README's libapikey examples, built as a user of the library would.
$(B)/examples/%: examples/%.c $(B)/libapikey.so
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(HARDEN) -Ilibclient -pie $(SANLD) -o $@ $< \
	    -L$(B) -lapikey -Wl,-rpath,$(abspath $(B))

# Unit tests link the module objects; integration tests link libapikey.so
# and drive the real apikeyd and apikeyctl binaries.
$(B)/tests/unit_%: $(B)/obj/tests/unit_%.o $(B)/obj/tests/unitlib.o \
    $(DAEMON_OBJ) $(PROTO_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(HARDEN) -pie $(SANLD) -o $@ $^ \
	    $(call pc_libs,$(PKG_DAEMON) $(PKG_TEST)) -lpthread

# libclient's unit tests link its objects too, and those of the fake
# daemon some of them talk to (tests/fakedaemon.c).
$(B)/tests/unit_client $(B)/tests/unit_authorize $(B)/tests/unit_pipeline: \
    $(call obj,$(CLIENT_SRC))
$(B)/tests/unit_client $(B)/tests/unit_pipeline: $(B)/obj/tests/fakedaemon.o

# apikeyctl's scanner and value parsers need only libc and Criterion.
$(B)/tests/unit_cli_args: $(B)/obj/tests/unit_cli_args.o $(B)/obj/cli/args.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(HARDEN) -pie $(SANLD) -o $@ $^ \
	    $(call pc_libs,$(PKG_TEST))

# The PAM tests' application (tests/pam_driver.c), run by tests/it_pam*.c
# under pam_wrapper and never as a test itself; built like the tests, with
# the module's sanitizers, since it loads pam_apikey.so.
$(B)/tests/pam_driver: $(B)/obj/tests/pam_driver.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(HARDEN) -pie $(LDHARDEN) $(SANLD) -o $@ $^ -lpam

$(B)/tests/it_pam $(B)/tests/it_pam_phases $(B)/tests/it_fleet_sshd: \
    $(B)/tests/pam_driver $(B)/pam_apikey.so

# The connection tests' misbehaving client (tests/hostile.c), run by
# tests/it_connections.c and tests/it_verify_threads.c as a fixture user
# and never as a test itself; it speaks the wire protocol through proto/'s
# objects.
$(B)/tests/hostile: $(B)/obj/tests/hostile.o $(PROTO_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(HARDEN) -pie $(LDHARDEN) $(SANLD) -o $@ $^ \
	    $(call pc_libs,$(PKG_CLIENT))

$(B)/tests/it_connections: $(B)/tests/hostile $(B)/tests/pam_driver \
    $(B)/pam_apikey.so
$(B)/tests/it_verify_threads: $(B)/tests/hostile

# The memory test's libapikey client (tests/memscan_client.c), run by
# tests/it_memory.c and never as a test itself; linked against libapikey.so
# as a service would be.
$(B)/tests/memscan_client: $(B)/obj/tests/memscan_client.o $(B)/libapikey.so
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(HARDEN) -pie $(LDHARDEN) $(SANLD) -o $@ \
	    $(filter %.o,$^) -L$(B) -lapikey -Wl,-rpath,$(abspath $(B))

$(B)/tests/it_memory: $(B)/tests/memscan_client

$(B)/tests/it_%: $(B)/obj/tests/it_%.o $(ITLIB_OBJ) $(B)/libapikey.so
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(HARDEN) -pie $(SANLD) -o $@ $(filter %.o,$^) \
	    -L$(B) -lapikey -Wl,-rpath,$(abspath $(B)) \
	    $(call pc_libs,$(PKG_TEST) jansson) -lpthread

test-build: build $(UNIT_BIN) $(IT_BIN)

# Each binary prints Criterion's summary; the script adds the totals.
test-run: test-build
	@APIKEY_BUILD=$(abspath $(B)) scripts/run-tests.sh $(UNIT_BIN) $(IT_BIN)

check:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory test-run

asan:
	@scripts/deps.sh test
	@ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=1:abort_on_error=0 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(MAKE) --no-print-directory B=build-asan SAN=1 test-run

RUNDIR = $(CURDIR)/run
run:
	@scripts/deps.sh build
	@$(MAKE) --no-print-directory build
	@mkdir -p $(RUNDIR)
	./$(B)/apikeyd --foreground -c $(CURDIR)/etc/apikeyd-dev.conf \
	    --state-dir $(RUNDIR)/state --socket-dir $(RUNDIR)/sock

# The files apikeyd installs, besides the binaries and the library.
UNITS	 = apikeyd.service apikeyd.socket apikeyd-admin.socket
MANPAGES = $(wildcard man/*.[0-9])
CONF	 = $(DESTDIR)$(SYSCONFDIR)/apikeyd/apikeyd.conf
# The daemon reads /etc/apikeyd/apikeyd.conf unless told otherwise, so a
# unit installed for another SYSCONFDIR names its config file.
UNIT_SED = -e 's|@SBINDIR@|$(SBINDIR)|g' $(if $(filter-out /etc,$(SYSCONFDIR)),\
	   -e 's|^\(ExecStart=.*/apikeyd .*\)$$|\1 -c $(SYSCONFDIR)/apikeyd/apikeyd.conf|')
PC_SED	 = -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	   -e 's|@INCDIR@|$(INCDIR)|g' -e 's|@VERSION@|$(VERSION)|g'

# Libraries and modules are 0644, as Debian installs them: the loader maps
# them and never needs the execute bit. An existing config file is never
# replaced, since it holds the administrator's settings: the new default
# goes beside it as apikeyd.conf.new (unless the two are the same).
# install-files installs what is in $(B) without building anything.
install: build
	@$(MAKE) --no-print-directory install-files

install-files:
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) \
	    $(DESTDIR)$(INCDIR) $(DESTDIR)$(PCDIR) $(DESTDIR)$(PAMDIR) \
	    $(DESTDIR)$(UNITDIR)/apikeyd.service.d $(DESTDIR)$(SYSUSERSDIR) \
	    $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(SYSCONFDIR)/apikeyd \
	    $(DESTDIR)$(PAMCONFDIR) $(DESTDIR)$(DATADIR)/apikeyd
	install -m 0755 $(B)/apikeyd $(DESTDIR)$(SBINDIR)/apikeyd
	install -m 0755 $(B)/apikeyctl $(DESTDIR)$(BINDIR)/apikeyctl
	install -m 0644 $(B)/$(SONAME) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sfn $(SONAME) $(DESTDIR)$(LIBDIR)/libapikey.so
	install -m 0644 libclient/apikey.h $(DESTDIR)$(INCDIR)/apikey.h
	sed $(PC_SED) libclient/apikey.pc.in > $(DESTDIR)$(PCDIR)/apikey.pc
	chmod 0644 $(DESTDIR)$(PCDIR)/apikey.pc
	install -m 0644 $(B)/pam_apikey.so $(DESTDIR)$(PAMDIR)/pam_apikey.so
	install -m 0644 pam_module/pam-configs/apikey \
	    $(DESTDIR)$(PAMCONFDIR)/apikey
	for u in $(UNITS); do \
	    sed $(UNIT_SED) systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u && \
	    chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	    if grep -n '@[A-Z]*@' $(DESTDIR)$(UNITDIR)/$$u; then \
	        echo "$$u: placeholder left" >&2; exit 1; fi; \
	done
	install -m 0644 systemd/apikeyd.service.d/network.conf \
	    $(DESTDIR)$(UNITDIR)/apikeyd.service.d/network.conf
	install -m 0644 systemd/apikeyd.sysusers \
	    $(DESTDIR)$(SYSUSERSDIR)/apikeyd.conf
	install -m 0644 systemd/apikeyd.tmpfiles \
	    $(DESTDIR)$(TMPFILESDIR)/apikeyd.conf
	install -m 0644 sql/schema.sql $(DESTDIR)$(DATADIR)/apikeyd/schema.sql
	for f in $(MANPAGES); do \
	    d=$(DESTDIR)$(MANDIR)/man$${f##*.}; \
	    install -d $$d && install -m 0644 $$f $$d/ || exit 1; \
	done
	@if [ ! -e $(CONF) ] && [ ! -L $(CONF) ]; then \
	    echo "install -m 0644 etc/apikeyd.conf $(CONF)"; \
	    install -m 0644 etc/apikeyd.conf $(CONF); \
	elif cmp -s etc/apikeyd.conf $(CONF); then \
	    echo "$(CONF) is up to date"; \
	else \
	    echo "install -m 0644 etc/apikeyd.conf $(CONF).new"; \
	    install -m 0644 etc/apikeyd.conf $(CONF).new; \
	    echo "NOTE: $(CONF) exists and was kept; the new default" \
	        "is $(CONF).new: merge it by hand"; \
	fi

# Removes what install-files put there. A config file that differs from
# etc/apikeyd.conf holds someone's settings and is kept.
# A PAM stack that names a missing module under "required" fails every
# login, root's included. So the pam-auth-update profile is withdrawn
# first (on the real system), and while any PAM file still uses the module
# being removed (by name, for the system's PAM directory, or by path),
# nothing is removed.
PAMD	  = $(DESTDIR)/etc/pam.d
PAM_REF	  = $(if $(filter /usr,$(PREFIX)),pam_apikey\.so,$(PAMDIR)/pam_apikey\.so)
pam_users = grep -lsE '^[[:space:]]*[^\#[:space:]].*$(PAM_REF)' $(PAMD)/* \
	    $(DESTDIR)/etc/pam.conf

uninstall:
	@if [ -z "$(DESTDIR)" ] && [ -f $(PAMCONFDIR)/apikey ] && \
	    command -v pam-auth-update >/dev/null 2>&1; then \
	    echo "pam-auth-update --package --remove apikey"; \
	    pam-auth-update --package --remove apikey || exit 1; \
	fi
	@if [ -n "$$($(pam_users))" ]; then \
	    echo "make uninstall: PAM still uses pam_apikey.so in:" >&2; \
	    $(pam_users) >&2; \
	    echo "take it out of them first: a PAM stack that names a" \
	        "missing module fails every login. Nothing was removed." >&2; \
	    exit 1; \
	fi
	rm -f $(DESTDIR)$(SBINDIR)/apikeyd $(DESTDIR)$(BINDIR)/apikeyctl \
	    $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libapikey.so \
	    $(DESTDIR)$(INCDIR)/apikey.h $(DESTDIR)$(PCDIR)/apikey.pc \
	    $(DESTDIR)$(PAMDIR)/pam_apikey.so $(DESTDIR)$(PAMCONFDIR)/apikey \
	    $(addprefix $(DESTDIR)$(UNITDIR)/,$(UNITS)) \
	    $(DESTDIR)$(UNITDIR)/apikeyd.service.d/network.conf \
	    $(DESTDIR)$(SYSUSERSDIR)/apikeyd.conf \
	    $(DESTDIR)$(TMPFILESDIR)/apikeyd.conf $(CONF).new \
	    $(DESTDIR)$(DATADIR)/apikeyd/schema.sql
	for f in $(MANPAGES); do \
	    rm -f $(DESTDIR)$(MANDIR)/man$${f##*.}/$${f##*/}; done
	@if [ -e $(CONF) ] && ! cmp -s etc/apikeyd.conf $(CONF); then \
	    echo "NOTE: $(CONF) differs from etc/apikeyd.conf: kept"; \
	else \
	    echo "rm -f $(CONF)"; rm -f $(CONF); \
	fi
	for d in $(DESTDIR)$(UNITDIR)/apikeyd.service.d \
	    $(DESTDIR)$(SYSCONFDIR)/apikeyd $(DESTDIR)$(DATADIR)/apikeyd; do \
	    if [ -d $$d ]; then rmdir --ignore-fail-on-non-empty $$d; fi; \
	done

clean:
	rm -rf build build-asan

include mk/fuzz.mk
include mk/stress.mk
include mk/valgrind.mk
include mk/bench.mk
-include $(shell find $(B) -name '*.d' 2>/dev/null)
.SECONDARY:
