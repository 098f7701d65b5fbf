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
 * lock. Every denial names the rule that was not met. The decisions
 * (authz.h) are apart from the replies, so that tests need no connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/account.h"
#include "admin_int.h"
#include "authz.h"
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
authz_dup(struct caller *dst, const struct caller *src)
{
	*dst = *src;
	dst->groups = NULL;
	if (src->ngroups <= 0)
		return 0;
	if ((dst->groups = calloc((size_t)src->ngroups, sizeof(gid_t))) ==
	    NULL)
		return -1;
	memcpy(dst->groups, src->groups, (size_t)src->ngroups *
	    sizeof(gid_t));
	return 0;
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

/* Who may do everything, as the denials name them. */
static const char *
admins(const struct config *cfg, char *buf, size_t size)
{
	if (cfg->admin_group[0] == '\0')
		return "root (no admin_group is configured)";
	snprintf(buf, size, "root or the admin group '%s'", cfg->admin_group);
	return buf;
}

uint32_t
authz_admin_check(const struct config *cfg, const struct caller *who,
    const char *what, char *msg, size_t msgsz)
{
	char	 buf[PROTO_ACCOUNT_MAX + 64];

	if (who->admin)
		return 0;
	snprintf(msg, msgsz, "permission denied: %s is reserved to %s", what,
	    admins(cfg, buf, sizeof(buf)));
	return PROTO_EPERM;
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

uint32_t
authz_tenant_check(const struct config *cfg, const struct caller *who,
    const struct proto_tenant *t, char *msg, size_t msgsz)
{
	char	 buf[PROTO_ACCOUNT_MAX + 64];

	if (authz_tenant_admin(who, t))
		return 0;
	if (t->admin_group[0] == '\0')
		snprintf(msg, msgsz, "permission denied: tenant '%s' has no "
		    "admin group, so only %s may manage its keys", t->name,
		    admins(cfg, buf, sizeof(buf)));
	else
		snprintf(msg, msgsz, "permission denied: tenant '%s' keys are "
		    "managed by its admin group '%s' or %s", t->name,
		    t->admin_group, admins(cfg, buf, sizeof(buf)));
	return PROTO_EPERM;
}

/*
 * A key the caller may not manage is answered exactly like a key that
 * does not exist, so key ids reveal nothing to those who may not see them.
 */
uint32_t
authz_key_check(const struct caller *who, const struct store_key *k,
    const struct proto_tenant *t, char *msg, size_t msgsz)
{
	const struct proto_owner *o = &k->info.owner;

	if (who->admin)
		return 0;
	if (o->kind == PROTO_OWNER_USER ? authz_owns(who, o) :
	    t != NULL && authz_tenant_admin(who, t))
		return 0;
	snprintf(msg, msgsz, "no key with id %s", k->info.id);
	return PROTO_ENOTFOUND;
}

/* --- the same, replying ------------------------------------------------ */

/* Answers r with a denial; returns 1 as the authz_* functions do. */
static int
deny(struct areq *r, uint32_t status, const char *msg)
{
	reply_error(r->c, r->h, status, "%s", msg);
	return 1;
}

int
authz_require_admin(struct areq *r, const char *what)
{
	char		 msg[PROTO_MESSAGE_MAX + 1];
	uint32_t	 st;

	st = authz_admin_check(r->a->cfg, &r->who, what, msg, sizeof(msg));
	return st == 0 ? 0 : deny(r, st, msg);
}

int
authz_tenant(struct areq *r, const struct proto_tenant *t)
{
	char		 msg[PROTO_MESSAGE_MAX + 1];
	uint32_t	 st;

	st = authz_tenant_check(r->a->cfg, &r->who, t, msg, sizeof(msg));
	return st == 0 ? 0 : deny(r, st, msg);
}

int
authz_key(struct areq *r, const struct store_key *k,
    const struct proto_tenant *t)
{
	char		 msg[PROTO_MESSAGE_MAX + 1];
	uint32_t	 st;

	st = authz_key_check(&r->who, k, t, msg, sizeof(msg));
	return st == 0 ? 0 : deny(r, st, msg);
}
