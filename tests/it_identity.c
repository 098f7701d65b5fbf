/*
 * it_identity.c - keys reaching the wrong account, and what a key id or a
 * name tells or carries: findings 8, 9, 11 and 12 of the security review
 * and its checks on uid reuse and unknown uids.
 *
 * Logins go through the real pam_apikey.so under pam_wrapper (the PAM
 * driver has NSS files of its own, which a test may edit); management
 * goes through apikeyctl as fixture users, or as bare uids, through
 * setpriv. Each test would fail against the code before the fix; the
 * comment on each says how.
 */
#include <string.h>

#include <security/pam_appl.h>

#include <criterion/criterion.h>

#include "harness_pam.h"

#define DENIED	"apikeyctl: permission denied: "

TestSuite(privileged, .init = itp_setup, .fini = itp_teardown,
    .timeout = 90);
TestSuite(uid_reuse, .init = itp_setup, .fini = itp_teardown,
    .timeout = 90);
TestSuite(identity, .init = it_setup, .fini = it_teardown, .timeout = 90);

/*
 * Finding 8. root is a member of group root (its primary group): a key of
 * a tenant mapped onto it used to log root in. Now only once root allows
 * privileged logins on that tenant, and not after it denies them again.
 */
Test(privileged, tenant_key_never_logs_in_root_unless_allowed)
{
	const char *tok;
	struct it_run r;

	it_tenant("wheel", "root", NULL);
	tok = it_key(NULL, "--tenant", "wheel", NULL);
	itp_probe("sshd", NULL);
	cr_assert_eq(itp_auth("sshd", "root", tok), PAM_AUTH_ERR);
	cr_assert_eq(it_ctl(&r, NULL, tok, "verify", "-", "--user", "root",
	    NULL), 1, "%s%s", r.out, r.err);
	it_assert_has(r.out, "FORBIDDEN: user 'root' may not use this key");

	it_expect(NULL, 0, NULL, "tenant", "allow-privileged", "wheel", NULL);
	it_assert_has(it_expect(NULL, 0, NULL, "tenant", "show", "wheel",
	    NULL), "allow_privileged: yes");
	cr_assert_eq(itp_auth("sshd", "root", tok), PAM_SUCCESS);
	it_expect(NULL, 0, NULL, "tenant", "deny-privileged", "wheel", NULL);
	cr_assert_eq(itp_auth("sshd", "root", tok), PAM_AUTH_ERR);
}

/*
 * Finding 8 as the review found it: the tenant's admin (bob) makes a key,
 * and a member of the daemon's admin group (eve) is in the tenant's
 * group. The key used to log eve in; now it logs in the other members
 * only, until root says otherwise. bob cannot say otherwise.
 */
Test(privileged, tenant_admin_cannot_mint_an_admin_login)
{
	const char *tok;

	it_tenant("acme", "acme", "acme-admins");
	tok = it_key("bob", "--tenant", "acme", NULL);
	itp_group_edit("acme:x:20001:alice", "acme:x:20001:alice,eve");
	itp_probe("sshd", NULL);
	cr_assert_eq(itp_auth("sshd", "alice", tok), PAM_SUCCESS);
	cr_assert_eq(itp_auth("sshd", "eve", tok), PAM_AUTH_ERR);
	it_expect("bob", 4, DENIED, "tenant", "allow-privileged", "acme",
	    NULL);
	cr_assert_eq(itp_auth("sshd", "eve", tok), PAM_AUTH_ERR);
	it_expect(NULL, 0, NULL, "tenant", "allow-privileged", "acme", NULL);
	cr_assert_eq(itp_auth("sshd", "eve", tok), PAM_SUCCESS);
}

/*
 * Uid reuse. alice's account is deleted and uid 10001 given to mallory.
 * alice's key used to log mallory in (only the uid was compared); now the
 * user name recorded with the key must match too, and mallory cannot see
 * or manage the key (it is "not found" to her). Root still can.
 */
Test(uid_reuse, old_key_does_not_serve_the_new_account)
{
	struct it_ctl_opt o = { 0 };
	const char *tok = it_key("alice", NULL), *id = it_id(tok);
	const char *list[] = { "key", "list", NULL };
	const char *show[] = { "key", "show", id, NULL };
	struct it_run r;

	itp_probe("sshd", NULL);
	cr_assert_eq(itp_auth("sshd", "alice", tok), PAM_SUCCESS);
	itp_passwd_edit("alice:x:10001", "mallory:x:10001");
	it_nss_edit("passwd", "alice:x:10001", "mallory:x:10001");
	cr_assert_eq(itp_auth("sshd", "mallory", tok), PAM_AUTH_ERR);

	o.ids = 1;
	o.uid = 10001;
	o.gid = 10001;
	cr_assert_eq(it_ctlv(&r, &o, list), 0, "%s", r.err);
	cr_assert_eq(it_line_count(r.out), 1, "mallory sees:\n%s", r.out);
	cr_assert_eq(it_ctlv(&r, &o, show), 5);
	cr_assert_str_eq(r.err, it_printf("apikeyctl: no key with id %s\n",
	    id));
	it_assert_has(it_expect(NULL, 0, NULL, "key", "show", id, NULL),
	    "alice");
}

/*
 * A uid NSS does not know has no groups. The daemon used to take the
 * socket's gid for its primary group: uid 30000 with gid 20002
 * (acme-admins) could manage acme's keys, and with gid 20010
 * (apikey-admins) everything.
 */
Test(identity, unknown_uid_gets_no_group_from_its_socket)
{
	struct it_ctl_opt o = { 0 };
	const char *create[] = { "key", "create", "--tenant", "acme", NULL };
	const char *add[] = { "tenant", "add", "zeta", "--group", "beta",
	    NULL };
	const char *status[] = { "--json", "status", NULL };
	const char *mine[] = { "key", "create", NULL };
	struct it_run r;

	it_tenant("acme", "acme", "acme-admins");
	o.ids = 1;
	o.uid = 30000;
	o.gid = 20002;
	cr_assert_eq(it_ctlv(&r, &o, create), 4, "%s", r.err);
	it_assert_has(r.err, DENIED);
	o.gid = 20010;
	cr_assert_eq(it_ctlv(&r, &o, add), 4, "%s", r.err);
	it_assert_has(r.err, DENIED);
	cr_assert_eq(it_ctlv(&r, &o, status), 0, "%s", r.err);
	cr_assert(json_is_false(json_object_get(it_json(r.out),
	    "caller_admin")));
	it_expect(NULL, 5, NULL, "tenant", "show", "zeta", NULL);
	/*
	 * Nor may it make keys of its own: they would record no name and,
	 * matched by uid alone, serve whoever gets the uid next (review
	 * follow-up of the uid reuse check).
	 */
	cr_assert_eq(it_ctlv(&r, &o, mine), 7, "%s", r.err);
	cr_assert_str_eq(r.err, "apikeyctl: uid 30000 has no user name (NSS "
	    "does not know it), and a key must record its owner's\n");
}

/*
 * Finding 11. `key show` of someone else's key used to answer EPERM,
 * naming the tenant and its admin group, and ENOTFOUND for ids that do
 * not exist. Now every per-key command answers both alike.
 */
Test(identity, foreign_key_id_answers_like_a_missing_one)
{
	static const char *const cmds[][4] = {
		{ "show", NULL }, { "enable", NULL }, { "disable", NULL },
		{ "revoke", NULL }, { "rotate", "-q", NULL },
		{ "update", "--name", "x", NULL },
	};
	const char *mine = it_id(it_key("alice", NULL));
	const char *tenants, *gone = it_id(it_key("alice", NULL));
	const char *ids[3];
	struct it_run r;
	size_t i, j;

	it_tenant("acme", "acme", "acme-admins");
	tenants = it_id(it_key(NULL, "--tenant", "acme", NULL));
	it_expect(NULL, 0, NULL, "key", "revoke", gone, NULL);
	ids[0] = mine;
	ids[1] = tenants;
	ids[2] = gone;
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		for (j = 0; j < 3; j++) {
			/* carol is in acme, not an admin of it. */
			cr_assert_eq(it_ctl(&r, j == 1 ? "carol" : "bob", NULL,
			    "key", cmds[i][0], ids[j], cmds[i][1], cmds[i][2],
			    NULL), 5, "key %s %s: %s", cmds[i][0], ids[j],
			    r.err);
			cr_assert_str_eq(r.err, it_printf("apikeyctl: no key "
			    "with id %s\n", ids[j]));
		}
	/* Nothing changed. */
	it_expect("alice", 0, NULL, "key", "show", mine, NULL);
	it_expect(NULL, 0, NULL, "key", "show", tenants, NULL);
}

/*
 * Finding 9. A "prod_" key re-labelled "ak_", with a recomputed checksum,
 * used to verify VALID: the prefix was not part of the key. It is now.
 */
Test(identity, prefix_is_part_of_the_key)
{
	const char *tok = it_key(NULL, "--prefix", "prod", NULL);
	const char *moved = it_with_prefix(tok, "ak");

	cr_assert_eq(strncmp(moved, "ak_", 3), 0);
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
	cr_assert_eq(it_code(moved, NULL), APIKEY_NOT_FOUND);
	cr_assert_eq(it_code(it_with_prefix(tok, "prod2"), NULL),
	    APIKEY_NOT_FOUND);
}

/*
 * Finding 12. C1 control characters (U+0080-009F, as UTF-8 or as raw
 * bytes), invalid UTF-8 and bidi overrides used to pass the text filters
 * into names, and from there into logs and other users' terminals.
 */
Test(identity, names_are_utf8_without_controls)
{
	static const char *const bad[] = {
		"a\xc2\x85" "b",	/* NEL, a C1 control */
		"a\x9b" "31m",		/* a raw CSI byte */
		"a\xe2\x80\xae" "b",	/* RIGHT-TO-LEFT OVERRIDE */
		"a\xc0\xaf",		/* overlong '/' */
		"a\x1b[2J",		/* ESC */
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		it_expect("alice", 7, "apikeyctl: key name is not valid UTF-8 "
		    "or contains control characters", "key", "create",
		    "--name", bad[i], NULL);
	it_assert_has(it_expect("alice", 0, NULL, "key", "show",
	    it_id(it_key("alice", "--name", "caf\xc3\xa9 \xe2\x82\xac",
	    NULL)), NULL), "caf\xc3\xa9 \xe2\x82\xac");
	/* A verify naming a C1 control is refused before it is looked at. */
	it_expect("alice", 8, "apikeyctl: malformed VERIFY request: a text "
	    "field is not valid UTF-8 or holds control characters", "verify",
	    "ak_05McJmDgrvc_003aUlTJC7tjlCTQj2uNU3MFagCXG9LRKRcwGkBIDlf149beY",
	    "--service", "x\xc2\x9b" "y", NULL);
	it_assert_lacks(it_log(), "\xc2\x9b");
}
