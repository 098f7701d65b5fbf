/*
 * authz.c - who may manage what, exactly as the DESIGN's table says:
 *
 *   root or a member of admin_group      everything
 *   any local user                       their own user keys
 *   a member of a tenant's admin group   that tenant's keys
 *
 * A user key is the caller's when the uid matches and so does the name
 * recorded at creation: an account deleted and its uid given to another
 * leaves the old keys to the administrators. A key the caller may not
 * manage is "not found", never "not yours".
 *
 * The caller's groups are resolved once per request, before any write
 * transaction begins, so a slow directory never holds the store's write
 * lock. Every denial names the rule that was not met.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/account.h"
#include "admin_int.h"
#include "log.h"
#include "reply.h"

int
authz_caller(const struct config *cfg, const struct peer *p,
    struct caller *who)
{
	gid_t	 admin_gid;
	int	 rc;

	memset(who, 0, sizeof(*who));
	who->uid = p->uid;
	who->pid = p->pid;
	rc = account_user_by_uid(p->uid, who->name, sizeof(who->name),
	    &who->pw_gid);
	if (rc == ACCOUNT_OK) {
		who->known = 1;
		rc = account_grouplist(who->name, who->pw_gid, &who->groups,
		    &who->ngroups);
	} else if (rc == ACCOUNT_ENOTFOUND)
		rc = ACCOUNT_OK;	/* a uid without a name: no groups */
	if (rc != ACCOUNT_OK) {
		log_warnx("admin: cannot resolve uid %u through NSS",
		    (unsigned)p->uid);
		return -1;
	}
	who->admin = p->uid == 0;
	if (!who->admin && cfg->admin_group[0] != '\0') {
		rc = account_group_by_name(cfg->admin_group, &admin_gid);
		if (rc == ACCOUNT_OK)
			who->admin = authz_in_group(who, admin_gid);
		else
			log_warnx("admin_group '%s' %s", cfg->admin_group,
			    rc == ACCOUNT_ENOTFOUND ? "does not exist" :
			    "cannot be resolved");
	}
	return 0;
}

void
authz_free(struct caller *who)
{
	free(who->groups);
	who->groups = NULL;
}

int
authz_in_group(const struct caller *who, gid_t gid)
{
	int	 i;

	/* The socket's gid of an unknown uid proves nothing. */
	if (!who->known)
		return 0;
	if (who->pw_gid == gid)
		return 1;
	for (i = 0; i < who->ngroups; i++)
		if (who->groups[i] == gid)
			return 1;
	return 0;
}

static const char *
admins(const struct areq *r)
{
	static _Thread_local char buf[PROTO_ACCOUNT_MAX + 64];
	const char *g = r->a->cfg->admin_group;

	if (g[0] == '\0')
		return "root (no admin_group is configured)";
	snprintf(buf, sizeof(buf), "root or the admin group '%s'", g);
	return buf;
}

int
authz_require_admin(struct areq *r, const char *what)
{
	if (r->who.admin)
		return 0;
	reply_error(r->c, r->h, PROTO_EPERM, "permission denied: %s is "
	    "reserved to %s", what, admins(r));
	return 1;
}

int
authz_tenant_admin(const struct caller *who, const struct proto_tenant *t)
{
	return who->admin || (t->admin_group[0] != '\0' &&
	    authz_in_group(who, t->admin_gid));
}

int
authz_owns(const struct caller *who, const struct proto_owner *o)
{
	return o->kind == PROTO_OWNER_USER && o->uid == (uint32_t)who->uid &&
	    (o->user[0] == '\0' || strcmp(o->user, who->name) == 0);
}

int
authz_tenant(struct areq *r, const struct proto_tenant *t)
{
	if (authz_tenant_admin(&r->who, t))
		return 0;
	if (t->admin_group[0] == '\0')
		reply_error(r->c, r->h, PROTO_EPERM, "permission denied: "
		    "tenant '%s' has no admin group, so only %s may manage "
		    "its keys", t->name, admins(r));
	else
		reply_error(r->c, r->h, PROTO_EPERM, "permission denied: "
		    "tenant '%s' keys are managed by its admin group '%s' "
		    "or %s", t->name, t->admin_group, admins(r));
	return 1;
}

/*
 * A key the caller may not manage is answered exactly like a key that
 * does not exist, so key ids reveal nothing to those who may not see them.
 */
int
authz_key(struct areq *r, const struct store_key *k,
    const struct proto_tenant *t)
{
	const struct proto_owner *o = &k->info.owner;

	if (r->who.admin)
		return 0;
	if (o->kind == PROTO_OWNER_USER ? authz_owns(&r->who, o) :
	    t != NULL && authz_tenant_admin(&r->who, t))
		return 0;
	reply_error(r->c, r->h, PROTO_ENOTFOUND, "no key with id %s",
	    k->info.id);
	return 1;
}
