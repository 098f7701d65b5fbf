# mk/valgrind.mk - `make valgrind`, included by the Makefile: the PAM
# module's tests and libapikey's under valgrind's memcheck, built plain
# into $(B) (valgrind cannot run what ASan built). Any memory error, or a
# definite or indirect leak, fails the target; "possibly lost" blocks and
# memory still reachable at exit are not errors.
#
# - The PAM tests (VG_PAM_TESTS) run natively, with APIKEY_VALGRIND=1: the
#   harness starts every pam_driver, the PAM application that loads
#   pam_apikey.so (and the libapikey inside it) under pam_wrapper, under
#   valgrind, and fails the test when the driver's valgrind log reports
#   an error (tests/harness_pam.c).
# - The libapikey tests (VG_LIB_TESTS) run whole under valgrind.
#   Criterion runs each test in a worker it starts by fork and exec of the
#   same binary, and the integration harness first re-executes itself
#   under nss_wrapper: --trace-children=yes follows both. The programs the
#   tests start (apikeyd, apikeyctl, pam_driver, setpriv, mdb_dump, ...)
#   are not followed (VG_SKIP): they are not the library's test programs
#   (pam_driver has the run above), and valgrind would slow the daemon
#   past the tests' deadlines. Each process logs to
#   $(VG_LOG)/BINARY.PID.log; every log whose ERROR SUMMARY is not 0 is
#   printed and fails the target, whatever the exit statuses said.
#
# Suppressions, each with its reason, are in tests/valgrind.supp.

VALGRIND	?= valgrind
VG_LOG		 = $(B)/valgrind
VG_SUPP		 = $(CURDIR)/tests/valgrind.supp
VG_OPTS		 = --error-exitcode=1 --leak-check=full \
		   --show-leak-kinds=definite,indirect \
		   --errors-for-leak-kinds=definite,indirect \
		   --num-callers=30 --keep-debuginfo=yes --vgdb=no \
		   --suppressions=$(VG_SUPP)
VG_SKIP		 = /usr/*,/bin/*,/sbin/*,*/apikeyd,*/apikeyctl,*/pam_driver
VG_PAM_TESTS	 = $(B)/tests/it_pam $(B)/tests/it_pam_phases
VG_LIB_TESTS	 = $(B)/tests/unit_client $(B)/tests/unit_pipeline \
		   $(B)/tests/it_verify $(B)/tests/it_pipeline \
		   $(B)/tests/it_bulk $(B)/tests/it_rotate \
		   $(B)/tests/it_refusals $(B)/tests/it_authorize

valgrind:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory SAN= test-build
	@rm -rf $(VG_LOG) && mkdir -p $(VG_LOG)
	@rc=0; \
	echo "== PAM tests, every pam_driver under valgrind"; \
	APIKEY_BUILD=$(abspath $(B)) APIKEY_VALGRIND=1 \
	    APIKEY_VALGRIND_SUPP=$(VG_SUPP) \
	    scripts/run-tests.sh $(VG_PAM_TESTS) || rc=1; \
	for t in $(VG_LIB_TESTS); do \
	    echo "== valgrind $$t"; \
	    APIKEY_BUILD=$(abspath $(B)) $(VALGRIND) $(VG_OPTS) \
	        --trace-children=yes --trace-children-skip='$(VG_SKIP)' \
	        --log-file=$(VG_LOG)/$${t##*/}.%p.log $$t || rc=1; \
	done; \
	for f in $(VG_LOG)/*.log; do \
	    if grep -q 'ERROR SUMMARY: [1-9]' $$f; then \
	        echo "== valgrind errors: $$f"; cat $$f; rc=1; \
	    fi; \
	done; \
	if [ $$rc -eq 0 ]; then echo "valgrind: no errors"; \
	else echo "valgrind: FAILED"; fi; \
	exit $$rc
