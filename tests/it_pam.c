/*
 * it_pam.c - pam_apikey.so's authenticate phase through real PAM stacks:
 * which keys authenticate whom (user keys, tenant keys by member list and
 * by primary group, membership changes seen at once, users unknown to
 * NSS), the keys apikeyd rejects, stacking above a password module, the
 * module's arguments, its shape as a shared object, and token hygiene in
 * every log.
 *
 * Each case runs build/tests/pam_driver under pam_wrapper and nss_wrapper
 * against the test's own apikeyd (see harness_pam.h). The probe stack
 * turns the module's own return value into the stack's, so every
 * assertion names the exact PAM value the module returned.
 */
#include <dlfcn.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include <criterion/criterion.h>

#include "harness_pam.h"

TestSuite(pam, .init = itp_setup, .fini = itp_teardown, .timeout = 120);

/* A "sshd" probe service with the base arguments only. */
static void
sshd_probe(void)
{
	itp_probe("sshd", NULL);
}

/* --- which keys authenticate whom ----------------------------------------- */

Test(pam, user_key_authenticates_its_owner_only)
{
	const char	*alice = it_key(NULL, "--user", "alice", NULL);
	const char	*bob = it_key(NULL, "--user", "bob", NULL);

	sshd_probe();
	cr_assert_eq(itp_auth("sshd", "alice", alice), PAM_SUCCESS);
	cr_assert_eq(itp_auth("sshd", "bob", bob), PAM_SUCCESS);
	cr_assert_eq(itp_auth("sshd", "bob", alice), PAM_AUTH_ERR);
	cr_assert_eq(itp_auth("sshd", "alice", bob), PAM_AUTH_ERR);
	cr_assert_eq(itp_auth("sshd", "root", alice), PAM_AUTH_ERR);
}

Test(pam, user_key_created_by_its_owner)
{
	/* Created by alice herself (owner from SO_PEERCRED). */
	const char	*tok = it_key("alice", NULL);

	sshd_probe();
	cr_assert_eq(itp_auth("sshd", "alice", tok), PAM_SUCCESS);
	cr_assert_eq(itp_auth("sshd", "dave", tok), PAM_AUTH_ERR);
}

Test(pam, tenant_key_authenticates_members)
{
	const char	*tok;

	it_tenant("acme", "acme", "acme-admins");
	tok = it_key(NULL, "--tenant", "acme", NULL);
	sshd_probe();
	/* alice: acme's member list (a supplementary group). */
	cr_assert_eq(itp_auth("sshd", "alice", tok), PAM_SUCCESS);
	/* carol: primary gid 20001 only. */
	cr_assert_eq(itp_auth("sshd", "carol", tok), PAM_SUCCESS);
	/* dave: beta only; bob: acme-admins administers, is no member. */
	cr_assert_eq(itp_auth("sshd", "dave", tok), PAM_AUTH_ERR);
	cr_assert_eq(itp_auth("sshd", "bob", tok), PAM_AUTH_ERR);
	cr_assert_eq(itp_auth("sshd", "root", tok), PAM_AUTH_ERR);
}

Test(pam, tenant_membership_changes_apply_at_once)
{
	const char	*tok;

	it_tenant("acme", "acme", NULL);
	tok = it_key(NULL, "--tenant", "acme", NULL);
	sshd_probe();
	cr_assert_eq(itp_auth("sshd", "alice", tok), PAM_SUCCESS);
	cr_assert_eq(itp_auth("sshd", "dave", tok), PAM_AUTH_ERR);

	/* alice leaves acme: the key stops working for her only. */
	itp_group_edit("acme:x:20001:alice\n", "acme:x:20001:\n");
	cr_assert_eq(itp_auth("sshd", "alice", tok), PAM_AUTH_ERR);
	cr_assert_eq(itp_auth("sshd", "carol", tok), PAM_SUCCESS);

	/* dave joins: works for him without touching the key. */
	itp_group_edit("acme:x:20001:\n", "acme:x:20001:dave\n");
	cr_assert_eq(itp_auth("sshd", "dave", tok), PAM_SUCCESS);
	cr_assert_eq(itp_auth("sshd", "alice", tok), PAM_AUTH_ERR);
	cr_assert_eq(itp_auth("sshd", "carol", tok), PAM_SUCCESS);
	/* The daemon's view of the key never changed. */
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
}

Test(pam, tenant_key_allowed_users)
{
	const char	*tok;

	it_tenant("acme", "acme", NULL);
	tok = it_key(NULL, "--tenant", "acme", "--allow-user", "carol", NULL);
	sshd_probe();
	cr_assert_eq(itp_auth("sshd", "carol", tok), PAM_SUCCESS);
	/* A member, but not on the list. */
	cr_assert_eq(itp_auth("sshd", "alice", tok), PAM_AUTH_ERR);
}

Test(pam, user_unknown_to_nss)
{
	const char	*user, *tenant;

	it_tenant("acme", "acme", NULL);
	user = it_key(NULL, "--user", "alice", NULL);
	tenant = it_key(NULL, "--tenant", "acme", NULL);
	sshd_probe();
	cr_assert_eq(itp_auth("sshd", "nosuchuser", user), PAM_USER_UNKNOWN);
	cr_assert_eq(itp_auth("sshd", "nosuchuser", tenant),
	    PAM_USER_UNKNOWN);
}

/* --- keys apikeyd rejects ------------------------------------------------- */

Test(pam, revoked_key)
{
	const char	*tok = it_key(NULL, "--user", "alice", NULL);

	sshd_probe();
	cr_assert_eq(itp_auth("sshd", "alice", tok), PAM_SUCCESS);
	it_expect(NULL, 0, NULL, "key", "revoke", it_id(tok), NULL);
	cr_assert_eq(itp_auth("sshd", "alice", tok), PAM_AUTH_ERR);
}

Test(pam, expired_key)
{
	const char	*tok = it_key(NULL, "--user", "alice", "--expires",
	    "1s", NULL);

	sshd_probe();
	it_wait_code(tok, NULL, APIKEY_EXPIRED);
	cr_assert_eq(itp_auth("sshd", "alice", tok), PAM_AUTH_ERR);
}

Test(pam, disabled_key)
{
	const char	*tok = it_key(NULL, "--user", "alice", NULL);

	sshd_probe();
	it_expect(NULL, 0, NULL, "key", "disable", it_id(tok), NULL);
	cr_assert_eq(itp_auth("sshd", "alice", tok), PAM_AUTH_ERR);
	it_expect(NULL, 0, NULL, "key", "enable", it_id(tok), NULL);
	cr_assert_eq(itp_auth("sshd", "alice", tok), PAM_SUCCESS);
}

Test(pam, wrong_service)
{
	const char	*tok = it_key(NULL, "--user", "alice", "--service",
	    "ftp", NULL);

	sshd_probe();
	itp_probe("ftp", NULL);
	cr_assert_eq(itp_auth("sshd", "alice", tok), PAM_AUTH_ERR);
	cr_assert_eq(itp_auth("ftp", "alice", tok), PAM_SUCCESS);
}

Test(pam, tenant_disabled)
{
	const char	*tok;

	it_tenant("acme", "acme", NULL);
	tok = it_key(NULL, "--tenant", "acme", NULL);
	sshd_probe();
	it_expect(NULL, 0, NULL, "tenant", "disable", "acme", NULL);
	cr_assert_eq(itp_auth("sshd", "alice", tok), PAM_AUTH_ERR);
	it_expect(NULL, 0, NULL, "tenant", "enable", "acme", NULL);
	cr_assert_eq(itp_auth("sshd", "alice", tok), PAM_SUCCESS);
}

Test(pam, wrong_secret)
{
	const char	*tok = it_key(NULL, "--user", "alice", NULL);

	sshd_probe();
	/* Shaped like a key with a valid checksum: apikeyd decides. */
	cr_assert_eq(itp_auth("sshd", "alice", it_wrong_secret(tok)),
	    PAM_AUTH_ERR);
}

Test(pam, required_permissions)
{
	const char	*tok = it_key(NULL, "--user", "alice", "--permission",
	    "doc:read", NULL);

	itp_probe("read", "require_permission=doc:read");
	itp_probe("write", "require_permission=doc:read "
	    "require_permission=doc:write");
	cr_assert_eq(itp_auth("read", "alice", tok), PAM_SUCCESS);
	cr_assert_eq(itp_auth("write", "alice", tok), PAM_AUTH_ERR);
}

/* --- stacking ------------------------------------------------------------- */

#define PASSWORD	"correct horse battery staple"

/*
 * Service name: auth is pam_apikey (base arguments and args), the probe's
 * marker, then pam_matrix with ROOT/passdb (user:password:service), which
 * knows PASSWORD for alice on the services "login" and "login-strict".
 */
static void
matrix_service(const char *name, const char *args)
{
	itp_write(it_path("passdb"), "alice:" PASSWORD ":login\n"
	    "alice:" PASSWORD ":login-strict\n");
	itp_service(name, it_printf(
	    "auth [success=done ignore=ignore default=die] %s %s%s%s\n"
	    "auth optional %s apikey-ignored-auth\n"
	    "auth required %s passdb=%s\n%s",
	    itp_module(), itp_base_args(), args != NULL ? " " : "",
	    args != NULL ? args : "", itp_pam_lib("pam_echo.so"),
	    itp_matrix_module(), it_path("passdb"),
	    itp_probe_lines("account", NULL)));
}

Test(pam, password_is_left_to_the_next_module)
{
	struct itp_run	 r;

	matrix_service("login", NULL);
	itp_run(&r, PASSWORD, "login", "alice", "authenticate", "acct", NULL);
	/* pam_apikey returned PAM_IGNORE, so pam_matrix decided. */
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_IGNORE, "%s",
	    r.out);
	cr_assert_eq(itp_raw_rc(r.out, "authenticate", 0), PAM_SUCCESS);
	it_assert_has(r.out, "prompt Password: ");
	/* Not authenticated by pam_apikey: the account phase ignores it. */
	cr_assert_eq(itp_rc(r.out, "acct", 0), PAM_IGNORE, "%s", r.out);

	itp_run(&r, "wrong password", "login", "alice", "authenticate", NULL);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_IGNORE);
	cr_assert_eq(itp_raw_rc(r.out, "authenticate", 0), PAM_AUTH_ERR);
}

Test(pam, password_with_strict)
{
	struct itp_run	 r;

	matrix_service("login-strict", "strict");
	itp_run(&r, PASSWORD, "login-strict", "alice", "authenticate", NULL);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_AUTH_ERR, "%s",
	    r.out);
	/* The stack ended at pam_apikey. */
	it_assert_lacks(r.out, "apikey-ignored");
	it_assert_lacks(r.out, "prompt Password: ");
	it_assert_has(r.err, "not an API key");
}

Test(pam, key_in_a_password_stack)
{
	const char	*tok = it_key(NULL, "--user", "alice", NULL);
	struct itp_run	 r;

	matrix_service("login", NULL);
	itp_run(&r, tok, "login", "alice", "authenticate", NULL);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_SUCCESS, "%s",
	    r.out);
	it_assert_lacks(r.out, "prompt Password: ");
	/* A rejected key is PAM_AUTH_ERR, not left to pam_matrix. */
	itp_run(&r, tok, "login", "bob", "authenticate", NULL);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_AUTH_ERR);
	it_assert_lacks(r.out, "prompt Password: ");
}

Test(pam, non_keys_never_reach_apikeyd)
{
	const char	*tok = it_key(NULL, "--user", "alice", NULL);
	size_t		 before;

	sshd_probe();
	before = itp_verify_lines();
	cr_assert_eq(itp_auth("sshd", "alice", PASSWORD), PAM_IGNORE);
	/* A broken checksum is no key either, nor an empty answer. */
	cr_assert_eq(itp_auth("sshd", "alice", it_bad_crc(tok)), PAM_IGNORE);
	cr_assert_eq(itp_auth("sshd", "alice", ""), PAM_IGNORE);
	/* A key after them: its verify line is the only new one. */
	cr_assert_eq(itp_auth("sshd", "alice", tok), PAM_SUCCESS);
	itp_wait_verify_lines(before + 1);
	cr_assert_eq(itp_verify_lines(), before + 1, "log:\n%s", it_log());
	it_assert_has(it_log(), it_printf("verify: VALID key %s", it_id(tok)));
}

/* --- arguments ------------------------------------------------------------ */

Test(pam, bad_arguments_are_a_service_error)
{
	const char	*tok = it_key(NULL, "--user", "alice", NULL);
	struct itp_run	 r;

	itp_probe("t0", "timeout=0");
	itp_probe("tbig", "timeout=600001");
	itp_probe("perm", "require_permission=nocolon");
	itp_probe("sock", "socket=");
	cr_assert_eq(itp_auth("t0", "alice", tok), PAM_SERVICE_ERR);
	cr_assert_eq(itp_auth("tbig", "alice", tok), PAM_SERVICE_ERR);
	cr_assert_eq(itp_auth("perm", "alice", tok), PAM_SERVICE_ERR);
	cr_assert_eq(itp_auth("sock", "alice", tok), PAM_SERVICE_ERR);

	/* An unknown argument is logged and ignored. */
	itp_probe("unknown", "frobnicate");
	itp_run(&r, tok, "unknown", "alice", "authenticate", NULL);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_SUCCESS);
	it_assert_has(r.err, "frobnicate");
}

Test(pam, prompt_and_socket_path)
{
	const char	*tok = it_key(NULL, "--user", "alice", NULL);
	struct itp_run	 r;

	/* socket= may name the verify socket itself. */
	itp_service("p", it_printf("auth required %s socket=%s/verify.sock "
	    "nodelay [prompt=Key please: ]\n", itp_module(), it_sock_dir()));
	itp_run(&r, tok, "p", "alice", "authenticate", NULL);
	cr_assert_eq(itp_raw_rc(r.out, "authenticate", 0), PAM_SUCCESS, "%s%s",
	    r.out, r.err);
	cr_assert_str_eq(it_line(r.out, 0), "prompt Key please: ");
}

Test(pam, rhost_reaches_apikeyd)
{
	const char	*tok = it_key(NULL, "--user", "alice", NULL);
	struct itp_run	 r;

	sshd_probe();
	itp_run(&r, tok, "-r", "192.0.2.7", "sshd", "alice", "authenticate",
	    NULL);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_SUCCESS);
	itp_wait_verify_lines(1);
	it_assert_has(it_log(), "rhost '192.0.2.7'");
	it_assert_has(r.err, "rhost 192.0.2.7");
	/* A control character cannot be logged or sent. */
	itp_run(&r, tok, "-r", "192.0.2.7\nx", "sshd", "alice",
	    "authenticate", NULL);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_AUTH_ERR);
}

/* --- the shared object ---------------------------------------------------- */

Test(pam, exports_only_pam_sm)
{
	static const char *const want[] = {
		"pam_sm_acct_mgmt", "pam_sm_authenticate", "pam_sm_chauthtok",
		"pam_sm_close_session", "pam_sm_open_session", "pam_sm_setcred",
	};
	const char	*argv[] = { "/usr/bin/nm", "-D", "--defined-only",
	    itp_module(), NULL };
	const char	*line, *sym;
	struct itp_run	 r;
	size_t		 i, n, found = 0;

	itp_exec(&r, argv);
	cr_assert_eq(r.status, 0, "nm: %s", r.err);
	n = it_line_count(r.out);
	cr_assert_gt(n, 0);
	for (i = 0; i < n; i++) {
		line = it_line(r.out, i);
		/* "ADDRESS T NAME" */
		sym = strrchr(line, ' ');
		cr_assert_not_null(sym, "nm line: %s", line);
		sym++;
		cr_assert_eq(strncmp(sym, "pam_sm_", 7), 0,
		    "pam_apikey.so exports %s", sym);
		cr_assert_eq(line[strlen(line) - strlen(sym) - 2], 'T',
		    "not a function: %s", line);
		found++;
	}
	cr_assert_eq(found, sizeof(want) / sizeof(want[0]), "nm:\n%s", r.out);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		it_assert_has(r.out, it_printf(" %s\n", want[i]));
}

Test(pam, loads_with_rtld_now)
{
	void	*h;
	size_t	 i;
	static const char *const syms[] = {
		"pam_sm_authenticate", "pam_sm_setcred", "pam_sm_acct_mgmt",
		"pam_sm_open_session", "pam_sm_close_session",
		"pam_sm_chauthtok",
	};

	h = dlopen(itp_module(), RTLD_NOW | RTLD_LOCAL);
	cr_assert_not_null(h, "dlopen: %s", dlerror());
	for (i = 0; i < sizeof(syms) / sizeof(syms[0]); i++)
		cr_assert_not_null(dlsym(h, syms[i]), "%s", syms[i]);
	/* libapikey is linked in statically and hidden. */
	cr_assert_null(dlsym(h, "apikey_open"));
	cr_assert_null(dlsym(h, "token_parse"));
	cr_assert_eq(dlclose(h), 0);
}

Test(pam, needs_no_daemon_libraries)
{
	const char	*argv[] = { "/usr/bin/readelf", "-d", itp_module(),
	    NULL };
	static const char *const banned[] = {
		"liblmdb", "libsodium", "libevent", "libjansson", "libapikey",
	};
	struct itp_run	 r;
	size_t		 i;

	itp_exec(&r, argv);
	cr_assert_eq(r.status, 0, "readelf: %s", r.err);
	it_assert_has(r.out, "(NEEDED)");
	it_assert_has(r.out, "[libpam.so.0]");
	for (i = 0; i < sizeof(banned) / sizeof(banned[0]); i++)
		it_assert_lacks(r.out, banned[i]);
}

/* --- hygiene -------------------------------------------------------------- */

Test(pam, logs_name_the_key_never_the_token)
{
	const char	*tok, *ttok, *all;
	struct itp_run	 r;

	it_tenant("acme", "acme", NULL);
	tok = it_key(NULL, "--user", "alice", NULL);
	ttok = it_key(NULL, "--tenant", "acme", NULL);
	itp_probe("sshd", "debug");
	matrix_service("login", "debug");

	itp_run(&r, tok, "-r", "198.51.100.1", "sshd", "alice", "authenticate",
	    "acct", "open_session", "close_session", NULL);
	all = r.err;
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_SUCCESS);
	/* pam_syslog output is captured: the success line names the key. */
	it_assert_has(r.err, it_printf("authentication succeeded for user "
	    "'alice' with key %s (user alice) service sshd rhost "
	    "198.51.100.1", it_id(tok)));
	itp_run(&r, ttok, "sshd", "dave", "authenticate", NULL);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_AUTH_ERR);
	it_assert_has(r.err, it_printf("key %s: user 'dave' is not a member "
	    "of tenant acme's group 'acme'", it_id(ttok)));
	all = it_printf("%s%s", all, r.err);
	itp_run(&r, it_wrong_secret(tok), "sshd", "alice", "authenticate",
	    NULL);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_AUTH_ERR);
	all = it_printf("%s%s", all, r.err);
	itp_run(&r, PASSWORD, "login", "alice", "authenticate", NULL);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_IGNORE);
	all = it_printf("%s%s", all, r.err);

	/* Nothing derived from a password, not even under debug. */
	it_assert_lacks(all, "correct horse");
	it_assert_lacks(it_log(), "correct horse");
	it_note_token(it_wrong_secret(tok));
	it_assert_no_token("pam_syslog output", all);
	it_assert_no_token("the daemon's log", it_log());
}
