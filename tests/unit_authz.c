/*
 * unit_authz.c - who may manage what (daemon/authz.c), the DESIGN's table:
 *
 *   root or a member of admin_group      everything
 *   any local user                       their own user keys
 *   a member of a tenant's admin group   that tenant's keys
 *
 * The decisions (authz.h) are tested on callers built by hand, with the
 * exact denial a client would be shown. authz_caller, which asks NSS, is
 * tested against this machine's own users: root, a system user found in
 * the passwd database, and a uid nobody has.
 */
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../daemon/authz.h"
#include "../daemon/config.h"

#define ALICE		10001
#define ACME_GID	20001
#define ACME_ADMINS	20002

static struct config	 cfg;
static char		 msg[PROTO_MESSAGE_MAX + 1];

static void
setup(void)
{
	config_defaults(&cfg);
	strcpy(cfg.admin_group, "apikey-admins");
	msg[0] = '\0';
}

TestSuite(authz, .init = setup);

/* A caller NSS knows (known), with a primary group and extra groups. */
static struct caller
caller(uid_t uid, const char *name, gid_t pw_gid, gid_t *groups, int n)
{
	struct caller	 who;

	memset(&who, 0, sizeof(who));
	who.uid = uid;
	snprintf(who.name, sizeof(who.name), "%s", name);
	who.known = 1;
	who.pw_gid = pw_gid;
	who.groups = groups;
	who.ngroups = n;
	return who;
}

static struct proto_tenant
tenant(const char *name, const char *admin_group, gid_t admin_gid)
{
	struct proto_tenant t;

	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "%s", name);
	snprintf(t.group, sizeof(t.group), "%s", name);
	t.gid = ACME_GID;
	snprintf(t.admin_group, sizeof(t.admin_group), "%s", admin_group);
	t.admin_gid = admin_gid;
	t.enabled = 1;
	return t;
}

static struct store_key
user_key(uid_t uid, const char *user)
{
	struct store_key k;

	memset(&k, 0, sizeof(k));
	strcpy(k.info.id, "AbCdEfGhIjK");
	k.info.owner.kind = PROTO_OWNER_USER;
	k.info.owner.uid = uid;
	snprintf(k.info.owner.user, sizeof(k.info.owner.user), "%s", user);
	return k;
}

static struct store_key
tenant_key(const char *name)
{
	struct store_key k;

	memset(&k, 0, sizeof(k));
	strcpy(k.info.id, "ZyXwVuTsRqP");
	k.info.owner.kind = PROTO_OWNER_TENANT;
	snprintf(k.info.owner.tenant, sizeof(k.info.owner.tenant), "%s",
	    name);
	return k;
}

/* --- groups and ownership ------------------------------------------------ */

Test(authz, in_group_by_primary_and_extra_groups)
{
	gid_t		 extra[] = { 5, ACME_ADMINS };
	struct caller	 who = caller(ALICE, "alice", ACME_GID, extra, 2);

	cr_assert_eq(authz_in_group(&who, ACME_GID), 1);
	cr_assert_eq(authz_in_group(&who, ACME_ADMINS), 1);
	cr_assert_eq(authz_in_group(&who, 5), 1);
	cr_assert_eq(authz_in_group(&who, 6), 0);
	/* The socket's gid of a uid NSS does not know proves nothing. */
	who.known = 0;
	cr_assert_eq(authz_in_group(&who, ACME_GID), 0);
	cr_assert_eq(authz_in_group(&who, ACME_ADMINS), 0);
}

Test(authz, owns_by_uid_and_recorded_name)
{
	struct caller	 who = caller(ALICE, "alice", ALICE, NULL, 0);
	struct store_key mine = user_key(ALICE, "alice");
	struct store_key old = user_key(ALICE, "");
	struct store_key reused = user_key(ALICE, "alfred");
	struct store_key bobs = user_key(ALICE + 1, "alice");
	struct store_key t = tenant_key("acme");

	cr_assert_eq(authz_owns(&who, &mine.info.owner), 1);
	/* Keys made before names were recorded go by the uid. */
	cr_assert_eq(authz_owns(&who, &old.info.owner), 1);
	/* A uid given to a new account inherits nothing. */
	cr_assert_eq(authz_owns(&who, &reused.info.owner), 0);
	cr_assert_eq(authz_owns(&who, &bobs.info.owner), 0);
	cr_assert_eq(authz_owns(&who, &t.info.owner), 0);
}

Test(authz, tenant_admin_by_its_admin_group)
{
	gid_t		 g[] = { ACME_ADMINS };
	struct caller	 bob = caller(ALICE + 1, "bob", ALICE + 1, g, 1);
	struct caller	 alice = caller(ALICE, "alice", ACME_GID, NULL, 0);
	struct proto_tenant acme = tenant("acme", "acme-admins", ACME_ADMINS);
	struct proto_tenant none = tenant("beta", "", ACME_ADMINS);

	cr_assert_eq(authz_tenant_admin(&bob, &acme), 1);
	/* Members of the tenant's own group do not administer it. */
	cr_assert_eq(authz_tenant_admin(&alice, &acme), 0);
	/* Without an admin group, a stale gid means nothing. */
	cr_assert_eq(authz_tenant_admin(&bob, &none), 0);
	bob.known = 0;
	cr_assert_eq(authz_tenant_admin(&bob, &acme), 0);
	alice.admin = 1;
	cr_assert_eq(authz_tenant_admin(&alice, &acme), 1);
	cr_assert_eq(authz_tenant_admin(&alice, &none), 1);
}

/* --- denials ------------------------------------------------------------- */

Test(authz, admin_only_names_who_may)
{
	struct caller	 who = caller(ALICE, "alice", ALICE, NULL, 0);

	cr_assert_eq(authz_admin_check(&cfg, &who, "removing a tenant", msg,
	    sizeof(msg)), PROTO_EPERM);
	cr_assert_str_eq(msg, "permission denied: removing a tenant is "
	    "reserved to root or the admin group 'apikey-admins'");
	cfg.admin_group[0] = '\0';
	cr_assert_eq(authz_admin_check(&cfg, &who, "adding a tenant", msg,
	    sizeof(msg)), PROTO_EPERM);
	cr_assert_str_eq(msg, "permission denied: adding a tenant is "
	    "reserved to root (no admin_group is configured)");
	who.admin = 1;
	msg[0] = '\0';
	cr_assert_eq(authz_admin_check(&cfg, &who, "adding a tenant", msg,
	    sizeof(msg)), 0);
	cr_assert_str_eq(msg, "", "nothing written when allowed");
}

Test(authz, tenant_denials_name_the_rule)
{
	gid_t		 g[] = { ACME_ADMINS };
	struct caller	 bob = caller(ALICE + 1, "bob", ALICE + 1, g, 1);
	struct caller	 alice = caller(ALICE, "alice", ALICE, NULL, 0);
	struct proto_tenant acme = tenant("acme", "acme-admins", ACME_ADMINS);
	struct proto_tenant beta = tenant("beta", "", 0);

	cr_assert_eq(authz_tenant_check(&cfg, &bob, &acme, msg, sizeof(msg)),
	    0);
	cr_assert_eq(authz_tenant_check(&cfg, &alice, &acme, msg,
	    sizeof(msg)), PROTO_EPERM);
	cr_assert_str_eq(msg, "permission denied: tenant 'acme' keys are "
	    "managed by its admin group 'acme-admins' or root or the admin "
	    "group 'apikey-admins'");
	cr_assert_eq(authz_tenant_check(&cfg, &bob, &beta, msg, sizeof(msg)),
	    PROTO_EPERM);
	cr_assert_str_eq(msg, "permission denied: tenant 'beta' has no admin "
	    "group, so only root or the admin group 'apikey-admins' may "
	    "manage its keys");
}

/* A key the caller may not manage is "not found", never "not yours". */
Test(authz, keys_of_others_are_not_found)
{
	gid_t		 g[] = { ACME_ADMINS };
	struct caller	 alice = caller(ALICE, "alice", ALICE, NULL, 0);
	struct caller	 bob = caller(ALICE + 1, "bob", ALICE + 1, g, 1);
	struct caller	 root = caller(0, "root", 0, NULL, 0);
	struct store_key mine = user_key(ALICE, "alice");
	struct store_key tk = tenant_key("acme");
	struct proto_tenant acme = tenant("acme", "acme-admins", ACME_ADMINS);

	root.admin = 1;
	cr_assert_eq(authz_key_check(&alice, &mine, NULL, msg, sizeof(msg)),
	    0);
	cr_assert_eq(authz_key_check(&bob, &mine, NULL, msg, sizeof(msg)),
	    PROTO_ENOTFOUND);
	cr_assert_str_eq(msg, "no key with id AbCdEfGhIjK");
	cr_assert_eq(authz_key_check(&bob, &tk, &acme, msg, sizeof(msg)), 0);
	cr_assert_eq(authz_key_check(&alice, &tk, &acme, msg, sizeof(msg)),
	    PROTO_ENOTFOUND);
	cr_assert_str_eq(msg, "no key with id ZyXwVuTsRqP");
	/* A tenant that is gone leaves its keys to the administrators. */
	cr_assert_eq(authz_key_check(&bob, &tk, NULL, msg, sizeof(msg)),
	    PROTO_ENOTFOUND);
	cr_assert_eq(authz_key_check(&root, &tk, NULL, msg, sizeof(msg)), 0);
	cr_assert_eq(authz_key_check(&root, &mine, NULL, msg, sizeof(msg)),
	    0);
}

/* --- the caller, through NSS ------------------------------------------- */

static struct caller
resolve(uid_t uid)
{
	struct peer	 p = { uid, uid, 0, 4242 };
	struct caller	 who;

	cr_assert_eq(authz_caller(&cfg, &p, &who), 0);
	cr_assert_eq(who.uid, uid);
	cr_assert_eq(who.pid, 4242);
	return who;
}

Test(authz, caller_root_is_admin_without_admin_group)
{
	struct caller	 who;

	cfg.admin_group[0] = '\0';
	who = resolve(0);
	cr_assert_eq(who.known, 1);
	cr_assert_str_eq(who.name, "root");
	cr_assert_eq(who.admin, 1);
	authz_free(&who);
	cr_assert_null(who.groups);
}

/* A uid nobody has: no name, no groups, whatever the socket says. */
Test(authz, caller_unknown_uid_has_nothing)
{
	struct caller	 who;
	uid_t		 uid = 3999999000u;

	while (getpwuid(uid) != NULL)
		uid++;
	who = resolve(uid);
	cr_assert_eq(who.known, 0);
	cr_assert_str_eq(who.name, "");
	cr_assert_eq(who.ngroups, 0);
	cr_assert_eq(who.admin, 0);
	authz_free(&who);
}

/* A system user is an admin exactly when admin_group is its group. */
Test(authz, caller_admin_by_admin_group)
{
	struct passwd	*pw;
	struct group	*gr = NULL;
	struct caller	 who;
	uid_t		 uid = 0;
	gid_t		 gid = 0;
	char		 group[PROTO_ACCOUNT_MAX + 1] = "";

	setpwent();
	while ((pw = getpwent()) != NULL) {
		if (pw->pw_uid != 0 && (gr = getgrgid(pw->pw_gid)) != NULL &&
		    strlen(gr->gr_name) < sizeof(group)) {
			uid = pw->pw_uid;
			gid = pw->pw_gid;
			strcpy(group, gr->gr_name);
			break;
		}
	}
	endpwent();
	if (group[0] == '\0')
		cr_skip_test("no user with a named primary group here");

	snprintf(cfg.admin_group, sizeof(cfg.admin_group), "%s", group);
	who = resolve(uid);
	cr_assert_eq(who.known, 1);
	cr_assert_eq(who.pw_gid, gid);
	cr_assert_eq(authz_in_group(&who, gid), 1);
	cr_assert_eq(who.admin, 1, "uid %u in admin_group '%s'",
	    (unsigned)uid, group);
	authz_free(&who);

	strcpy(cfg.admin_group, "no-such-group-for-apikeyd");
	who = resolve(uid);
	cr_assert_eq(who.admin, 0);
	authz_free(&who);
	cfg.admin_group[0] = '\0';
	who = resolve(uid);
	cr_assert_eq(who.admin, 0);
	authz_free(&who);
}
