/*
 * it_e2e_sshd.c - end to end through OpenSSH: a real sshd on 127.0.0.1,
 * its PAM service "sshd" supplied by pam_wrapper, authenticates
 * keyboard-interactive logins through pam_apikey.so against the harness's
 * apikeyd; the OpenSSH client types the key through sshpass.
 *
 * A tenant key logs in a member of the tenant's group (member list or
 * primary group) and the command runs as that user with the key's identity
 * in its environment; a non-member, a revoked key, and a daemon that is
 * gone or silent are denied, the last two within the module's timeout.
 * With stacks of their own (suite e2e_sshd_stack): pam_apikey as the only
 * account module admits a member, and a key disabled between
 * authentication and the account phase (by a pam_exec.so hook) is refused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "harness.h"
#include "harness_e2e.h"
#include "harness_pam.h"
#include "harness_sshd.h"

static const char *token;

/* Everything but the PAM stack and sshd: the daemon, the host key, the
 * tenant acme and its key. */
static void
prepare(void)
{
	ite_setup();
	itsh_prepare("e2e");
	it_tenant("acme", "acme", NULL);
	token = it_key(NULL, "--tenant", "acme", "--name", "e2e", NULL);
}

static void
setup(void)
{
	prepare();
	ite_pam_service("sshd");
	itsh_start();
}

static void
teardown(void)
{
	ite_teardown();
	token = NULL;
}

TestSuite(e2e_sshd, .init = setup, .fini = teardown, .timeout = 180);

/* Logs user in with the test's key and checks who the session runs as. */
static void
login_ok(const char *user, const char *group)
{
	struct ite_run r;

	itsh_login(&r, user, token, ITSH_WHOAMI, "ERROR");
	cr_assert_eq(r.status, 0, "ssh %s: exit %d\nstdout:\n%s\nstderr:\n%s"
	    "\nsshd log:\n%s", user, r.status, r.out, r.err,
	    ite_server_log());
	cr_assert_str_eq(r.out, it_printf("%s\n%u\n%s\ntenant acme acme %s\n"
	    "%s\n", user, (unsigned)it_uid(user), group, it_id(token),
	    ite_home(user)), "stderr:\n%s", r.err);
}

/* Waits for sshd to be done with user's refused connection. */
static void
wait_refused(const char *user)
{
	itsh_expect_sshd(1, it_printf("Connection closed by authenticating "
	    "user %s 127.0.0.1 port ", user), NULL);
}

Test(e2e_sshd, member_logs_in_as_itself)
{
	login_ok("alice", "alice");
	itsh_expect_sshd(1, "Accepted keyboard-interactive/pam for alice from "
	    "127.0.0.1 port ", NULL);
	/* authenticate, then the account re-check */
	itsh_expect_verifies(token, "VALID", "alice", 2);
	ite_finish();
}

Test(e2e_sshd, primary_group_member_logs_in)
{
	login_ok("carol", "acme");
	itsh_expect_verifies(token, "VALID", "carol", 2);
	ite_finish();
}

Test(e2e_sshd, non_member_denied)
{
	struct ite_run r;

	itsh_login(&r, "dave", token, "id -un", "ERROR");
	cr_assert_eq(r.status, 255, "ssh dave: exit %d\nstdout:\n%s\nstderr:"
	    "\n%s", r.status, r.out, r.err);
	cr_assert_str_eq(r.out, "");
	wait_refused("dave");
	/* The key is valid: the module refused dave, who is not in acme. */
	itsh_expect_verifies(token, "VALID", "dave", 1);
	itsh_expect_sshd(1, "PAM: Authentication failure for dave from "
	    "127.0.0.1", NULL);
	itsh_expect_sshd(1, "Failed keyboard-interactive/pam for dave from "
	    "127.0.0.1 port ", NULL);
	itsh_expect_sshd(0, "Accepted ", NULL);
	ite_finish();
}

Test(e2e_sshd, revoked_key_denied)
{
	struct ite_run r;

	login_ok("alice", "alice");
	it_expect(NULL, 0, NULL, "key", "revoke", it_id(token), NULL);
	itsh_login(&r, "alice", token, "id -un", "ERROR");
	cr_assert_eq(r.status, 255, "ssh: exit %d\nstdout:\n%s\nstderr:\n%s",
	    r.status, r.out, r.err);
	cr_assert_str_eq(r.out, "");
	wait_refused("alice");
	itsh_expect_verifies(token, "NOT_FOUND", "alice", 1);
	itsh_expect_sshd(1, "PAM: Authentication failure for alice from "
	    "127.0.0.1", NULL);
	itsh_expect_sshd(1, "Accepted keyboard-interactive/pam for alice ",
	    NULL);
	ite_finish();
}

/* Logs alice in while apikeyd cannot answer; returns how long the denial
 * took. */
static int64_t
denied_unavailable(void)
{
	struct ite_run r;

	itsh_login(&r, "alice", token, "id -un", "ERROR");
	cr_assert_eq(r.status, 255, "ssh: exit %d\nstdout:\n%s\nstderr:\n%s",
	    r.status, r.out, r.err);
	cr_assert_str_eq(r.out, "");
	wait_refused("alice");
	/* pam_wrapper shows the module's LOG_ERR lines on sshd's stderr. */
	itsh_expect_sshd(1, it_printf("apikeyd unavailable at %s: ",
	    it_sock_dir()), "(user 'alice' service sshd rhost 127.0.0.1)");
	itsh_expect_sshd(1, "PAM: Authentication service cannot retrieve "
	    "authentication info for alice from 127.0.0.1", NULL);
	return r.ms;
}

Test(e2e_sshd, daemon_stopped_denied_within_timeout)
{
	int64_t ms;

	login_ok("alice", "alice");
	it_stop();
	ms = denied_unavailable();
	cr_log_info("denied in %lld ms", (long long)ms);
	cr_assert_lt(ms, ITE_PAM_TIMEOUT_MS + ITE_SLACK_MS, "took %lld ms",
	    (long long)ms);
	ite_finish();
}

Test(e2e_sshd, daemon_silent_denied_after_timeout)
{
	int64_t ms;

	login_ok("alice", "alice");
	/* Connections still queue on its socket; no answer ever comes. */
	ite_daemon_freeze();
	ms = denied_unavailable();
	cr_log_info("denied in %lld ms", (long long)ms);
	ite_daemon_thaw();
	cr_assert_geq(ms, ITE_PAM_TIMEOUT_MS, "took %lld ms", (long long)ms);
	/* timeout= bounds the connect and the request each. */
	cr_assert_lt(ms, 2 * ITE_PAM_TIMEOUT_MS + ITE_SLACK_MS,
	    "took %lld ms", (long long)ms);
	ite_finish();
}

/* --- stacks of their own ---------------------------------------------------
 *
 * These tests write sshd's PAM file themselves, before sshd starts, so
 * that what they protect does not hang on ite_pam_service()'s stack.
 *
 * Where the account phase runs: OpenSSH (9.2p1 here) runs
 * keyboard-interactive PAM authentication in a child of the monitor
 * (auth-pam.c, sshpam_thread(), a fork: portable OpenSSH does not use
 * threads for it), and that child calls pam_authenticate() and then
 * do_pam_account(), i.e. pam_acct_mgmt(), on the same handle before it
 * reports back; the monitor only reads the outcome. So the account check
 * runs in the process where pam_apikey's authentication succeeded, and
 * what the auth stack runs after pam_apikey runs between the two
 * verifies. The daemon's log shows it: both verify lines of a login name
 * the same peer pid.
 *
 * What these tests cannot see: pam_apikey's own notices ("account check
 * failed for user ..."). That child empties its environment before
 * pam_authenticate() (environ[0] = NULL, keeping TZ only), so pam_wrapper
 * there reads no PAM_WRAPPER_DEBUGLEVEL and passes only LOG_ERR and worse
 * to sshd's log. The daemon's verify lines, sshd's own lines and what ssh
 * prints take their place.
 */

TestSuite(e2e_sshd_stack, .init = prepare, .fini = teardown,
    .timeout = 180);

/* Writes pam/sshd: auth as given (whole lines), then pam_apikey.so alone
 * in the account section, and a session pam_permit.so accepts. */
static void
write_stack(const char *auth)
{
	ite_write(it_path("pam/sshd"), it_printf(
	    "# written by tests/it_e2e_sshd.c\n"
	    "%s"
	    "account  required    %s\n"
	    "session  required    pam_permit.so\n",
	    auth, ite_pam_apikey()), 0644);
}

/* Where in text the first line at or after from holding a and (unless
 * NULL) b starts; fails the test if there is none. */
static const char *
log_line(const char *text, const char *from, const char *a, const char *b)
{
	const char *line = ite_find_line(from, a, b, NULL);

	if (line == NULL)
		cr_assert_fail("no line with \"%s\"%s%s%s in:\n%s", a,
		    b != NULL ? " and \"" : "", b != NULL ? b : "",
		    b != NULL ? "\"" : "", text);
	return line;
}

/* The pid in "... peer uid U pid PID ..." or "... by uid U pid PID ...",
 * on the daemon's log line that starts at line. */
static long
peer_pid(const char *line)
{
	const char *p = strstr(line, " pid "), *e = strchr(line, '\n');
	long pid;

	cr_assert(p != NULL && (e == NULL || p < e) &&
	    sscanf(p, " pid %ld", &pid) == 1 && pid > 0,
	    "no peer pid on the line %.*s", e != NULL ? (int)(e - line) :
	    (int)strlen(line), line);
	return pid;
}

/*
 * Asserts that the daemon's log holds, in this order, a verify of the
 * test's key for alice answered VALID (authentication), the disabling of
 * key id by another process (the hook; skipped when id is NULL), and a
 * verify of the key answered code (the account check), from the same
 * process as the first.
 */
static void
expect_auth_then_account(const char *id, const char *code)
{
	const char *log = it_log(), *auth, *acct, *dis;
	const char *who = " service 'sshd' user 'alice' rhost '127.0.0.1'";

	auth = log_line(log, log, it_printf("verify: VALID key %s ",
	    it_id(token)), who);
	acct = log_line(log, strchr(auth, '\n') + 1, it_printf(
	    "verify: %s key %s ", code, it_id(token)), who);
	if (id != NULL) {
		dis = log_line(log, auth, it_printf("key.disable %s by uid 0 ",
		    id), NULL);
		cr_assert(dis < acct, "the account check came before the key "
		    "was disabled:\n%s", log);
		cr_assert_neq(peer_pid(dis), peer_pid(auth));
	}
	cr_assert_eq(peer_pid(auth), peer_pid(acct), "authentication and "
	    "the account check came from two processes:\n%s", log);
}

/*
 * The README's sshd stack, with nothing after the key but pam_deny.so (no
 * password fallback), and pam_apikey.so the only account module. Where its
 * authentication did not run, the account check answers PAM_IGNORE, and
 * libpam turns an account stack that only ignores into PAM_PERM_DENIED.
 * The member logging in shows that in sshd's keyboard-interactive child
 * the module answers, and answers PAM_SUCCESS.
 */
Test(e2e_sshd_stack, account_phase_alone_admits_a_member)
{
	write_stack(it_printf(
	    "auth     sufficient  %s export_env\n"
	    "auth     required    pam_deny.so\n", ite_pam_apikey()));
	itsh_start();
	login_ok("alice", "alice");
	itsh_expect_sshd(1, "Accepted keyboard-interactive/pam for alice from "
	    "127.0.0.1 port ", NULL);
	/* authenticate, then the account check: it asked the daemon */
	itsh_expect_verifies(token, "VALID", "alice", 2);
	expect_auth_then_account(NULL, "VALID");
	ite_finish();
}


/* 'text' for sh; the harness's paths and settings hold no quote. */
static const char *
sh_quote(const char *text)
{
	cr_assert_null(strchr(text, '\''), "quote in %s", text);
	return it_printf("'%s'", text);
}

/* export NAME='value' for sh, or nothing when this process has no NAME. */
static const char *
sh_pass_env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL ? it_printf("export %s=%s\n", name, sh_quote(v)) :
	    "";
}

/*
 * Starts sshd with a stack that pauses between authentication and the
 * account phase: pam_exec.so, reached only after pam_apikey.so succeeded
 * (anything else ends the auth stack), runs a hook that disables the key
 * id with apikeyctl, as root (as sshd runs it), then appends "PAM_TYPE
 * PAM_SERVICE PAM_USER" to hook.ran. A hook that fails fails the auth
 * stack. pam_exec.so passes no environment but PAM's: the hook sets what
 * apikeyctl needs (the servers' NSS files, which sshd's private /tmp
 * shows; the sanitizers' settings under make asan).
 */
static void
start_with_hook(const char *id)
{
	const char *hook = it_path("hook.sh");
	const char *pam_exec = itp_pam_lib("pam_exec.so");

	cr_assert(access(pam_exec, R_OK) == 0, "%s: %s (libpam-modules)",
	    pam_exec, strerror(errno));
	ite_write(hook, it_printf(
	    "#!/bin/sh\n"
	    "# written by tests/it_e2e_sshd.c, run by pam_exec.so in sshd\n"
	    "set -e\n"
	    "exec >>%s 2>&1\n"
	    "export PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"
	    "export NSS_WRAPPER_PASSWD=%s NSS_WRAPPER_GROUP=%s\n"
	    "%s%s%s"
	    "%s --socket-dir %s key disable %s\n"
	    "echo \"$PAM_TYPE $PAM_SERVICE $PAM_USER\" >>%s\n",
	    sh_quote(it_path("hook.log")), sh_quote(ite_passwd()),
	    sh_quote(ite_group()), sh_pass_env("LD_PRELOAD"),
	    sh_pass_env("ASAN_OPTIONS"), sh_pass_env("UBSAN_OPTIONS"),
	    sh_quote(ite_apikeyctl()), sh_quote(it_sock_dir()), id,
	    sh_quote(it_path("hook.ran"))), 0755);
	write_stack(it_printf(
	    "auth     [success=ok default=die]  %s export_env\n"
	    "auth     required    %s quiet %s\n",
	    ite_pam_apikey(), pam_exec, hook));
	itsh_start();
}

/* What the hook left: it ran to its end once, in alice's authentication
 * (not again in pam_setcred()). */
static void
expect_hook_ran(void)
{
	const char *ran = it_path("hook.ran"), *log = it_path("hook.log");

	cr_assert(access(ran, F_OK) == 0, "the hook did not run to its end; "
	    "its output:\n%s\nsshd log:\n%s", access(log, F_OK) == 0 ?
	    it_read_file(log, NULL) : "(none)", ite_server_log());
	cr_assert_str_eq(it_read_file(ran, NULL), "auth sshd alice\n");
}

/*
 * The key is disabled after pam_apikey.so accepted it and before the
 * account phase: the account check verifies it again, gets DISABLED, and
 * refuses the login, telling the user why.
 */
Test(e2e_sshd_stack, key_disabled_after_auth_refused_by_account_phase)
{
	struct ite_run r;

	start_with_hook(it_id(token));
	/* INFO: ssh shows keyboard-interactive text at that level. */
	itsh_login(&r, "alice", token, "id -un", "INFO");
	cr_assert_eq(r.status, 255, "ssh: exit %d\nstdout:\n%s\nstderr:\n%s"
	    "\nsshd log:\n%s", r.status, r.out, r.err, ite_server_log());
	cr_assert_str_eq(r.out, "");
	/* The account check's message, which sshd passes on. */
	it_assert_has(r.err, "\nYour API key is disabled.\n");
	it_assert_has(r.err, "alice@127.0.0.1: Permission denied "
	    "(keyboard-interactive).");
	wait_refused("alice");
	expect_hook_ran();
	itsh_expect_verifies(token, "VALID", "alice", 1);
	itsh_expect_verifies(token, "DISABLED", "alice", 1);
	expect_auth_then_account(it_id(token), "DISABLED");
	itsh_expect_sshd(1, "Failed keyboard-interactive/pam for alice from "
	    "127.0.0.1 port ", NULL);
	itsh_expect_sshd(0, "Accepted ", NULL);
	ite_finish();
}

/*
 * The control of the test above: the same stack, but the hook disables
 * another key of the tenant, and the member logs in; so what refuses
 * above is the account check seeing the key disabled.
 */
Test(e2e_sshd_stack, other_key_disabled_after_auth_admits_a_member)
{
	const char *other;

	other = it_key(NULL, "--tenant", "acme", "--name", "other", NULL);
	start_with_hook(it_id(other));
	login_ok("alice", "alice");
	expect_hook_ran();
	cr_assert_eq(it_code(other, "svc=sshd user=alice"), APIKEY_DISABLED);
	itsh_expect_verifies(token, "VALID", "alice", 2);
	expect_auth_then_account(it_id(other), "VALID");
	itsh_expect_sshd(1, "Accepted keyboard-interactive/pam for alice from "
	    "127.0.0.1 port ", NULL);
	ite_finish();
}
