/*
 * harness_sshd.h - the OpenSSH side of the end-to-end tests that log in
 * through a real sshd (tests/it_e2e_sshd.c, tests/it_fleet_sshd.c), on top
 * of harness_e2e.h: sshd's host key and configuration, starting it, and an
 * ssh client that types the key through sshpass.
 *
 * Call after ite_setup(). Files, under it_root(): ssh_host_ed25519_key
 * (and .pub) and sshd_config; the PAM stack, pam/sshd, is the test's to
 * write (ite_pam_service("sshd") or its own) before itsh_start(). Nothing
 * is kept here between calls, so there is nothing to reset at teardown;
 * strings come from it_printf() (harness-owned).
 */
#ifndef APIKEY_TEST_HARNESS_SSHD_H
#define APIKEY_TEST_HARNESS_SSHD_H

#include <stddef.h>

#include "harness_e2e.h"

/* What the session prints about itself: user, uid, group, the key's
 * identity pam_apikey exported, and the home it starts in. */
#define ITSH_WHOAMI	"id -un; id -u; id -gn; echo \"$APIKEY_OWNER_KIND " \
			"$APIKEY_OWNER $APIKEY_TENANT $APIKEY_ID\"; pwd"

/* Makes sshd's privilege separation directory and an ed25519 host key
 * with this comment, or fails the test. */
void	itsh_prepare(const char *comment);
/* Writes sshd_config and starts sshd (ite_server_start(), name "sshd")
 * with the PAM stack in pam/sshd; itsh_prepare() first. */
void	itsh_start(void);
/*
 * ssh -p PORT user@127.0.0.1 cmd at ssh's loglevel ("ERROR"; "INFO" shows
 * keyboard-interactive text), answering the one keyboard-interactive
 * prompt with key (through SSHPASS, never on a command line). Returns the
 * exit status (255: refused).
 */
int	itsh_login(struct ite_run *r, const char *user, const char *key,
	    const char *cmd, const char *loglevel);
/* sshd's log comes to hold want lines with a (and b, unless NULL). */
void	itsh_expect_sshd(size_t want, const char *a, const char *b);
/* The daemon's log comes to hold want verify lines of token for user
 * through sshd, answered code. */
void	itsh_expect_verifies(const char *token, const char *code,
	    const char *user, size_t want);

#endif
