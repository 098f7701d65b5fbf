/*
 * it_pam_phases.c - pam_apikey.so when apikeyd is away or silent, and the
 * phases after authentication: the account re-check after the key was
 * revoked, expired, disabled or the user left the tenant's group (changed
 * while the driver waits between the two phases), the session's
 * environment export, setcred, close_session and chauthtok.
 *
 * Runs build/tests/pam_driver under pam_wrapper and nss_wrapper behind the
 * probe stack of harness_pam.h, so the values asserted are the module's.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include <criterion/criterion.h>

#include "harness_pam.h"
#include "harness_usage.h"

TestSuite(pam_phases, .init = itp_setup, .fini = itp_teardown,
    .timeout = 120);

/* The module's timeout in the failure tests, and the bound on a whole
 * driver run around it: correctness, not a benchmark. */
#define TIMEOUT_MS	1000
#define BOUND_MS	5000

/*
 * Stops apikeyd and listens on its verify socket without ever accepting:
 * connects succeed (the backlog), replies never come. Returns the fd.
 */
static int
silent_daemon(void)
{
	struct sockaddr_un	 sun;
	const char		*path;
	int			 fd;

	it_stop();
	if (mkdir(it_sock_dir(), 0755) == -1)
		cr_assert_eq(errno, EEXIST, "mkdir: %s", strerror(errno));
	path = it_printf("%s/verify.sock", it_sock_dir());
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	cr_assert_lt(strlen(path), sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(fd != -1, "socket: %s", strerror(errno));
	cr_assert(bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0,
	    "bind %s: %s", path, strerror(errno));
	cr_assert(listen(fd, 16) == 0, "listen: %s", strerror(errno));
	return fd;
}

/* The "env " lines right after the n-th result line of step. */
static const char *
env_after(const char *out, const char *step)
{
	const char	*line, *env = "";
	size_t		 i, n = it_line_count(out);

	for (i = 0; i < n; i++) {
		line = it_line(out, i);
		if (strncmp(line, step, strlen(step)) == 0 &&
		    line[strlen(step)] == ' ')
			break;
	}
	cr_assert_lt(i, n, "no %s in:\n%s", step, out);
	for (i++; i < n; i++) {
		line = it_line(out, i);
		if (strncmp(line, "env ", 4) != 0)
			break;
		env = it_printf("%s%s\n", env, line + 4);
	}
	return env;
}

/* --- apikeyd away or silent ----------------------------------------------- */

Test(pam_phases, daemon_stopped)
{
	const char	*tok = it_key(NULL, "--user", "alice", NULL);
	struct itp_run	 r;

	itp_probe("sshd", it_printf("timeout=%d", TIMEOUT_MS));
	itp_probe("ign", it_printf("timeout=%d ignore_authinfo_unavail",
	    TIMEOUT_MS));
	it_stop();
	itp_run(&r, tok, "sshd", "alice", "authenticate", NULL);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_AUTHINFO_UNAVAIL,
	    "%s%s", r.out, r.err);
	cr_assert_lt(r.ms, BOUND_MS);
	it_assert_has(r.err, it_printf("apikeyd unavailable at %s",
	    it_sock_dir()));
	itp_run(&r, tok, "ign", "alice", "authenticate", NULL);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_IGNORE, "%s%s",
	    r.out, r.err);
	cr_assert_lt(r.ms, BOUND_MS);
}

Test(pam_phases, daemon_never_answers)
{
	const char	*tok = it_key(NULL, "--user", "alice", NULL);
	struct itp_run	 r;
	int		 fd;

	itp_probe("sshd", it_printf("timeout=%d", TIMEOUT_MS));
	itp_probe("ign", it_printf("timeout=%d ignore_authinfo_unavail",
	    TIMEOUT_MS));
	fd = silent_daemon();
	itp_run(&r, tok, "sshd", "alice", "authenticate", NULL);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_AUTHINFO_UNAVAIL,
	    "%s%s", r.out, r.err);
	/* It waited for the reply (the timeout), then gave up. */
	cr_assert_geq(r.ms, TIMEOUT_MS - 50);
	cr_assert_lt(r.ms, BOUND_MS);
	itp_run(&r, tok, "ign", "alice", "authenticate", NULL);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_IGNORE, "%s%s",
	    r.out, r.err);
	cr_assert_geq(r.ms, TIMEOUT_MS - 50);
	cr_assert_lt(r.ms, BOUND_MS);
	close(fd);
}

Test(pam_phases, daemon_gone_before_account)
{
	const char	*tok = it_key(NULL, "--user", "alice", NULL);
	struct itp_drv	*d;
	struct itp_run	 r;

	itp_probe("sshd", it_printf("timeout=%d", TIMEOUT_MS));
	itp_probe("ign", it_printf("timeout=%d ignore_authinfo_unavail",
	    TIMEOUT_MS));
	d = itp_start(tok, "sshd", "alice", "authenticate", "pause", "acct",
	    NULL);
	itp_wait_pause(d);
	it_stop();
	itp_resume(d);
	itp_finish(d, &r);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_SUCCESS);
	cr_assert_eq(itp_rc(r.out, "acct", 0), PAM_AUTHINFO_UNAVAIL, "%s%s",
	    r.out, r.err);

	it_start();
	d = itp_start(tok, "ign", "alice", "authenticate", "pause", "acct",
	    NULL);
	itp_wait_pause(d);
	it_stop();
	itp_resume(d);
	itp_finish(d, &r);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_SUCCESS);
	cr_assert_eq(itp_rc(r.out, "acct", 0), PAM_IGNORE, "%s%s", r.out,
	    r.err);
}

/* --- account -------------------------------------------------------------- */

/*
 * authenticate, pause, acct with tok as user on "sshd" (a probe); between
 * the two phases runs change(arg). Returns the run.
 */
static struct itp_run
around_account(const char *tok, const char *user, const char *flag,
    void (*change)(const char *), const char *arg)
{
	struct itp_drv	*d;
	struct itp_run	 r;

	if (flag != NULL)
		d = itp_start(tok, flag, "sshd", user, "authenticate", "pause",
		    "acct", NULL);
	else
		d = itp_start(tok, "sshd", user, "authenticate", "pause",
		    "acct", NULL);
	itp_wait_pause(d);
	if (change != NULL)
		change(arg);
	itp_resume(d);
	itp_finish(d, &r);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_SUCCESS, "%s%s",
	    r.out, r.err);
	return r;
}

static void
do_revoke(const char *tok)
{
	it_expect(NULL, 0, NULL, "key", "revoke", it_id(tok), NULL);
}

static void
do_disable(const char *tok)
{
	it_expect(NULL, 0, NULL, "key", "disable", it_id(tok), NULL);
}

static void
do_expire(const char *tok)
{
	it_expect(NULL, 0, NULL, "key", "update", it_id(tok), "--expires",
	    "1s", NULL);
	it_wait_code(tok, NULL, APIKEY_EXPIRED);
}

static void
disable_tenant(const char *name)
{
	it_expect(NULL, 0, NULL, "tenant", "disable", name, NULL);
}

static void
leave_acme(const char *user)
{
	(void)user;
	itp_group_edit("acme:x:20001:alice\n", "acme:x:20001:\n");
}

Test(pam_phases, account_still_valid)
{
	const char	*tok = it_key(NULL, "--user", "alice", NULL);
	struct itp_run	 r;

	itp_probe("sshd", NULL);
	r = around_account(tok, "alice", NULL, NULL, NULL);
	cr_assert_eq(itp_rc(r.out, "acct", 0), PAM_SUCCESS, "%s%s", r.out,
	    r.err);
	/* The account phase asked apikeyd again. */
	itp_wait_verify_lines(2);
	cr_assert_eq(itp_verify_lines(), 2, "%s", it_log());
}

/*
 * A login's account check uses the connection its authentication opened:
 * with max_connections_per_uid = 1, the driver (root) holds root's one
 * connection while it waits between the phases, so another root client
 * is refused for it, and the account check still passes over it. Once
 * the login is done, root connects again.
 */
Test(pam_phases, account_reuses_the_authentication_connection)
{
	const char		*tok = it_key(NULL, "--user", "alice", NULL);
	struct apikey_client	*c = NULL;
	struct apikey_result	*res = NULL;
	struct itp_drv		*d;
	struct itp_run		 r;
	FILE			*f;

	cr_assert_not_null(f = fopen(it_conf_path(), "a"));
	fputs("max_connections_per_uid = 1\n", f);
	cr_assert_eq(fclose(f), 0);
	it_restart();
	itp_probe("sshd", NULL);
	d = itp_start(tok, "sshd", "alice", "authenticate", "pause", "acct",
	    NULL);
	itp_wait_pause(d);
	cr_assert_eq(apikey_open(it_sock_dir(), 2000, &c), 0);
	cr_assert_eq(apikey_verify(c, tok, NULL, &res), APIKEY_EBUSY);
	cr_assert_str_eq(apikey_last_error(c), "too many connections from "
	    "uid 0 to verify.sock (max_connections_per_uid = 1)");
	apikey_close(c);
	itp_resume(d);
	itp_finish(d, &r);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_SUCCESS, "%s%s",
	    r.out, r.err);
	cr_assert_eq(itp_rc(r.out, "acct", 0), PAM_SUCCESS, "%s%s", r.out,
	    r.err);
	it_wait_code(tok, NULL, APIKEY_VALID);
}

Test(pam_phases, one_login_is_one_use)
{
	/*
	 * The account phase checks the key again without using it: a key
	 * allowed one verify an hour, with 5 credits, logs in once (it
	 * failed at the account phase, rate limited, when both phases used
	 * it) and has 4 credits left, not 3.
	 */
	const char	*tok = it_key(NULL, "--user", "alice", "--rate", "1/1h",
	    "--remaining", "5", NULL);
	struct itp_run	 r;

	itp_probe("sshd", NULL);
	r = around_account(tok, "alice", NULL, NULL, NULL);
	cr_assert_eq(itp_rc(r.out, "acct", 0), PAM_SUCCESS, "%s%s", r.out,
	    r.err);
	itp_wait_verify_lines(2);
	cr_assert_eq(itu_remaining(tok), 4);
	/* The hour's one use is spent: the next login is refused. */
	itp_run(&r, tok, "sshd", "alice", "authenticate", NULL);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_AUTH_ERR, "%s%s",
	    r.out, r.err);
}

Test(pam_phases, account_after_revocation)
{
	const char	*tok = it_key(NULL, "--user", "alice", NULL);
	struct itp_run	 r;

	itp_probe("sshd", NULL);
	r = around_account(tok, "alice", NULL, do_revoke, tok);
	cr_assert_eq(itp_rc(r.out, "acct", 0), PAM_AUTH_ERR, "%s%s", r.out,
	    r.err);
	it_assert_has(r.out, "error Your API key has been revoked.\nacct ");
	it_assert_has(r.err, it_printf("account check failed for user 'alice'"
	    " service sshd rhost -: key %s NOT_FOUND", it_id(tok)));
}

Test(pam_phases, account_after_revocation_silent)
{
	const char	*tok = it_key(NULL, "--user", "alice", NULL);
	struct itp_run	 r;

	itp_probe("sshd", NULL);
	r = around_account(tok, "alice", "-s", do_revoke, tok);
	cr_assert_eq(itp_rc(r.out, "acct", 0), PAM_AUTH_ERR, "%s%s", r.out,
	    r.err);
	/* PAM_SILENT: nothing told through the conversation. */
	it_assert_lacks(r.out, "error ");
}

Test(pam_phases, account_after_expiry)
{
	const char	*tok = it_key(NULL, "--user", "alice", NULL);
	struct itp_run	 r;

	itp_probe("sshd", NULL);
	r = around_account(tok, "alice", NULL, do_expire, tok);
	cr_assert_eq(itp_rc(r.out, "acct", 0), PAM_ACCT_EXPIRED, "%s%s", r.out,
	    r.err);
	it_assert_has(r.out, "error Your API key has expired.\nacct ");
}

Test(pam_phases, account_after_disable)
{
	const char	*tok = it_key(NULL, "--user", "alice", NULL);
	struct itp_run	 r;

	itp_probe("sshd", NULL);
	r = around_account(tok, "alice", NULL, do_disable, tok);
	cr_assert_eq(itp_rc(r.out, "acct", 0), PAM_AUTH_ERR, "%s%s", r.out,
	    r.err);
	it_assert_has(r.out, "error Your API key is disabled.\nacct ");
}

Test(pam_phases, account_after_tenant_disabled)
{
	const char	*tok;
	struct itp_run	 r;

	it_tenant("acme", "acme", NULL);
	tok = it_key(NULL, "--tenant", "acme", NULL);
	itp_probe("sshd", NULL);
	r = around_account(tok, "carol", NULL, disable_tenant, "acme");
	cr_assert_eq(itp_rc(r.out, "acct", 0), PAM_AUTH_ERR, "%s%s", r.out,
	    r.err);
	it_assert_has(r.out, "error Your API key's tenant is disabled.\n");
}

Test(pam_phases, account_after_leaving_the_group)
{
	const char	*tok;
	struct itp_run	 r;

	it_tenant("acme", "acme", NULL);
	tok = it_key(NULL, "--tenant", "acme", NULL);
	itp_probe("sshd", NULL);
	/* Same process: nss_wrapper sees the file change (mtime). */
	r = around_account(tok, "alice", NULL, leave_acme, NULL);
	cr_assert_eq(itp_rc(r.out, "acct", 0), PAM_AUTH_ERR, "%s%s", r.out,
	    r.err);
	it_assert_has(r.out, "error Your account may no longer use this API "
	    "key.\nacct ");
	it_assert_has(r.err, "user 'alice' is not a member of tenant acme's "
	    "group 'acme'");
	/* carol is still in (primary group). */
	r = around_account(tok, "carol", NULL, NULL, NULL);
	cr_assert_eq(itp_rc(r.out, "acct", 0), PAM_SUCCESS);
}

Test(pam_phases, account_without_our_authentication)
{
	const char	*alice = it_key(NULL, "--user", "alice", NULL);
	struct itp_run	 r;

	itp_probe("sshd", NULL);
	/* No authenticate on this handle at all. */
	itp_run(&r, NULL, "sshd", "alice", "acct", NULL);
	cr_assert_eq(itp_rc(r.out, "acct", 0), PAM_IGNORE, "%s%s", r.out,
	    r.err);
	/* Authentication ran here and failed. */
	itp_run(&r, alice, "sshd", "bob", "authenticate", "acct", NULL);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_AUTH_ERR);
	cr_assert_eq(itp_rc(r.out, "acct", 0), PAM_IGNORE, "%s%s", r.out,
	    r.err);
	/* A later success on the same handle counts. */
	itp_run(&r, alice, "sshd", "alice", "acct", "authenticate", "acct",
	    NULL);
	cr_assert_eq(itp_rc(r.out, "acct", 0), PAM_IGNORE);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_SUCCESS);
	cr_assert_eq(itp_rc(r.out, "acct", 1), PAM_SUCCESS);
}

/* --- session, setcred and the rest ---------------------------------------- */

Test(pam_phases, session_exports_user_key)
{
	const char	*tok = it_key(NULL, "--user", "alice", NULL);
	struct itp_run	 r;

	itp_service("sshd", it_printf("%s%s%s", itp_probe_lines("auth", NULL),
	    itp_probe_lines("account", NULL),
	    itp_probe_lines("session", "export_env")));
	itp_run(&r, tok, "sshd", "alice", "authenticate", "env", "acct",
	    "open_session", "close_session", NULL);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_SUCCESS);
	cr_assert_eq(itp_rc(r.out, "open_session", 0), PAM_SUCCESS, "%s%s",
	    r.out, r.err);
	/* Nothing before the session: export_env is on the session line. */
	cr_assert_str_eq(env_after(r.out, "authenticate"), "");
	cr_assert_str_eq(env_after(r.out, "open_session"), it_printf(
	    "APIKEY_ID=%s\nAPIKEY_OWNER_KIND=user\nAPIKEY_OWNER=alice\n",
	    it_id(tok)));
	cr_assert_eq(itp_rc(r.out, "close_session", 0), PAM_SUCCESS);
}

Test(pam_phases, session_exports_tenant_key)
{
	const char	*tok;
	struct itp_run	 r;

	it_tenant("acme", "acme", NULL);
	tok = it_key(NULL, "--tenant", "acme", NULL);
	itp_service("sshd", it_printf("%s%s%s", itp_probe_lines("auth", NULL),
	    itp_probe_lines("account", NULL),
	    itp_probe_lines("session", "export_env")));
	itp_run(&r, tok, "sshd", "carol", "authenticate", "acct",
	    "open_session", NULL);
	cr_assert_eq(itp_rc(r.out, "open_session", 0), PAM_SUCCESS, "%s%s",
	    r.out, r.err);
	cr_assert_str_eq(env_after(r.out, "open_session"), it_printf(
	    "APIKEY_ID=%s\nAPIKEY_OWNER_KIND=tenant\nAPIKEY_OWNER=acme\n"
	    "APIKEY_TENANT=acme\n", it_id(tok)));
}

Test(pam_phases, export_env_on_the_auth_line)
{
	const char	*tok;
	struct itp_run	 r;

	it_tenant("acme", "acme", NULL);
	tok = it_key(NULL, "--tenant", "acme", NULL);
	itp_service("sshd", it_printf("%s%s%s",
	    itp_probe_lines("auth", "export_env"),
	    itp_probe_lines("account", NULL),
	    itp_probe_lines("session", NULL)));
	/* sshd's keyboard-interactive child: the environment is all that
	 * travels to the session. */
	itp_run(&r, tok, "sshd", "alice", "authenticate", "env", NULL);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_SUCCESS);
	cr_assert_str_eq(env_after(r.out, "authenticate"), it_printf(
	    "APIKEY_ID=%s\nAPIKEY_OWNER_KIND=tenant\nAPIKEY_OWNER=acme\n"
	    "APIKEY_TENANT=acme\n", it_id(tok)));
}

Test(pam_phases, session_without_export_or_authentication)
{
	const char	*tok = it_key(NULL, "--user", "alice", NULL);
	struct itp_run	 r;

	itp_probe("sshd", NULL);
	itp_service("exp", it_printf("%s%s", itp_probe_lines("auth", NULL),
	    itp_probe_lines("session", "export_env")));
	/* No export_env: nothing to do. */
	itp_run(&r, tok, "sshd", "alice", "authenticate", "open_session",
	    NULL);
	cr_assert_eq(itp_rc(r.out, "open_session", 0), PAM_IGNORE);
	cr_assert_str_eq(env_after(r.out, "open_session"), "");
	/* export_env, but not authenticated by this module. */
	itp_run(&r, tok, "exp", "bob", "authenticate", "open_session", NULL);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_AUTH_ERR);
	cr_assert_eq(itp_rc(r.out, "open_session", 0), PAM_IGNORE);
	cr_assert_str_eq(env_after(r.out, "open_session"), "");
}

/*
 * libpam replays a module's authenticate result to choose the control
 * action of its setcred, and its open_session result for its
 * close_session; so these run without the earlier step where the
 * module's own value is to be seen through the probe.
 */
Test(pam_phases, setcred_close_session_chauthtok)
{
	const char	*tok = it_key(NULL, "--user", "alice", NULL);
	struct itp_run	 r;

	itp_probe("sshd", NULL);
	itp_service("only", it_printf("auth required %s %s\n", itp_module(),
	    itp_base_args()));
	itp_run(&r, tok, "sshd", "alice", "authenticate", "setcred",
	    "close_session", "chauthtok", NULL);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_SUCCESS);
	cr_assert_eq(itp_raw_rc(r.out, "setcred", 0), PAM_SUCCESS);
	cr_assert_eq(itp_rc(r.out, "close_session", 0), PAM_SUCCESS, "%s%s",
	    r.out, r.err);
	/* Keys are rotated with apikeyctl, never through PAM. */
	cr_assert_eq(itp_rc(r.out, "chauthtok", 0), PAM_IGNORE, "%s", r.out);

	/* Authenticated in another process (sshd's keyboard-interactive
	 * child) or never (cron): setcred must not fail the stack, where
	 * PAM_IGNORE from the only module would. */
	itp_run(&r, NULL, "only", "alice", "setcred", NULL);
	cr_assert_eq(itp_raw_rc(r.out, "setcred", 0), PAM_SUCCESS);

	/* Authentication failed here: nothing to close. */
	itp_run(&r, tok, "sshd", "bob", "authenticate", "close_session", NULL);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_AUTH_ERR);
	cr_assert_eq(itp_rc(r.out, "close_session", 0), PAM_IGNORE);
}
