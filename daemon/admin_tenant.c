/*
 * admin_tenant.c - tenant management. A tenant maps a name onto a local
 * group, resolved through NSS when the tenant is added (before the write
 * transaction begins, so a slow directory never holds the write lock).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/account.h"
#include "admin_int.h"
#include "clock.h"
#include "policy.h"
#include "reply.h"

static int
send_tenant(struct areq *r, const struct proto_tenant *t, int more)
{
	struct reply	 rp;

	proto_enc_tenant(reply_begin(&rp, r->h, more), t);
	return reply_send(&rp, r->c, 0) == 0 ? 0 : -1;
}

/* Resolves a group name; replies and returns 1 when it cannot. */
static int
resolve_group(struct areq *r, const char *name, uint32_t *gid)
{
	gid_t	 g;
	int	 rc;

	if ((rc = account_group_by_name(name, &g)) == ACCOUNT_OK) {
		*gid = (uint32_t)g;
		return 0;
	}
	if (rc == ACCOUNT_ENOTFOUND)
		reply_error(r->c, r->h, PROTO_ENOTFOUND, "group '%s' not "
		    "found", name);
	else
		reply_error(r->c, r->h, PROTO_EINTERNAL, "cannot look up "
		    "group '%s' through NSS", name);
	return 1;
}

/*
 * Copies the tenant name a request named (arg, decoded up to
 * PROTO_TENANT_ARG_MAX) into name: 0, or 1 when it is not a valid tenant
 * name (replied EINVAL, quoting it).
 */
static int
check_name(struct areq *r, const char *arg, char name[PROTO_TENANT_MAX + 1])
{
	if (!policy_tenant_name_valid(arg)) {
		reply_error(r->c, r->h, PROTO_EINVAL, "'%s' is not a valid "
		    "tenant name ([a-z0-9][a-z0-9._-], at most %d)", arg,
		    PROTO_TENANT_MAX);
		return 1;
	}
	memcpy(name, arg, strlen(arg) + 1);
	return 0;
}

/* Loads a tenant in txn; replies and returns 1 when it does not exist. */
static int
load_tenant(struct areq *r, struct store_txn *txn, const char *name,
    struct proto_tenant *t)
{
	int	 rc;

	if ((rc = store_tenant_get(txn, name, t)) == 0)
		return 0;
	if (rc == STORE_ENOTFOUND)
		reply_error(r->c, r->h, PROTO_ENOTFOUND, "tenant '%s' not "
		    "found", name);
	else
		admin_store_fail(r, rc, "tenant lookup");
	return 1;
}

int
admin_tenant_add(struct areq *r)
{
	struct proto_tenant_add_req req;
	struct proto_tenant t, old;
	struct store_txn *txn;
	int		 rc;

	if ((rc = proto_dec_tenant_add_req(r->body, &req)) != 0)
		return admin_bad_request(r, rc);
	memset(&t, 0, sizeof(t));
	if (check_name(r, req.name, t.name) != 0)
		return 0;
	memcpy(t.group, req.group, sizeof(t.group));
	memcpy(t.admin_group, req.admin_group, sizeof(t.admin_group));
	if (authz_require_admin(r, "adding a tenant"))
		return 0;
	if (resolve_group(r, t.group, &t.gid) != 0 ||
	    (t.admin_group[0] != '\0' &&
	    resolve_group(r, t.admin_group, &t.admin_gid) != 0))
		return 0;
	t.enabled = 1;
	t.created_by = (uint32_t)r->who.uid;
	t.created_at = clock_now();

	if ((rc = store_write_begin(r->a->store, &txn)) != 0)
		return admin_store_fail(r, rc, "tenant add");
	rc = store_tenant_get(txn, t.name, &old);
	if (rc == 0) {
		admin_abort(r, txn);
		reply_error(r->c, r->h, PROTO_EEXIST, "tenant '%s' already "
		    "exists", t.name);
		return 0;
	}
	if ((rc == STORE_ENOTFOUND && (rc = store_tenant_put(txn, &t)) == 0 &&
	    (rc = admin_audit(r, txn, "tenant.add", t.name, "group %s (gid "
	    "%u) admin group %s", t.group, t.gid, t.admin_group[0] ?
	    t.admin_group : "-")) == 0))
		rc = admin_commit(r, txn);
	else
		admin_abort(r, txn);
	if (rc != 0)
		return admin_store_fail(r, rc, "tenant add");
	return send_tenant(r, &t, 0);
}

int
admin_tenant_show(struct areq *r)
{
	struct proto_tenant t;
	struct store_txn *txn;
	char		 arg[PROTO_TENANT_ARG_MAX + 1];
	char		 name[PROTO_TENANT_MAX + 1];
	int		 rc;

	if ((rc = proto_dec_tenant_name(r->body, arg)) != 0)
		return admin_bad_request(r, rc);
	if (check_name(r, arg, name) != 0)
		return 0;
	if ((rc = store_read_begin(r->a->store, &txn)) != 0)
		return admin_store_fail(r, rc, "tenant show");
	rc = load_tenant(r, txn, name, &t);
	store_end(txn);
	if (rc != 0 || authz_tenant(r, &t) != 0)
		return 0;
	return send_tenant(r, &t, 0);
}

/*
 * One switch of a tenant, admins only: enabled, or allow_privileged. Loads
 * the tenant in a write transaction, sets the flag, audits and commits.
 */
static int
tenant_switch(struct areq *r, const char *what, const char *action_on,
    const char *action_off, size_t offset)
{
	struct proto_tenant t;
	struct store_txn *txn;
	char		 arg[PROTO_TENANT_ARG_MAX + 1];
	char		 name[PROTO_TENANT_MAX + 1];
	uint8_t		 on;
	int		 rc;

	if ((rc = proto_dec_tenant_switch(r->body, arg, &on)) != 0)
		return admin_bad_request(r, rc);
	if (check_name(r, arg, name) != 0)
		return 0;
	if (authz_require_admin(r, what))
		return 0;
	if ((rc = store_write_begin(r->a->store, &txn)) != 0)
		return admin_store_fail(r, rc, what);
	if (load_tenant(r, txn, name, &t) != 0) {
		admin_abort(r, txn);
		return 0;
	}
	*((uint8_t *)&t + offset) = on;
	if ((rc = store_tenant_put(txn, &t)) == 0 &&
	    (rc = admin_audit(r, txn, on ? action_on : action_off, t.name,
	    "%s", on ? action_on : action_off)) == 0)
		rc = admin_commit(r, txn);
	else
		admin_abort(r, txn);
	if (rc != 0)
		return admin_store_fail(r, rc, what);
	return send_tenant(r, &t, 0);
}

int
admin_tenant_set_enabled(struct areq *r)
{
	return tenant_switch(r, "enabling or disabling a tenant",
	    "tenant.enable", "tenant.disable",
	    offsetof(struct proto_tenant, enabled));
}

/*
 * Whether the tenant's keys may log in root and admin_group's members.
 * Off by default: otherwise a tenant admin who got root into the tenant's
 * group could mint a root login.
 */
int
admin_tenant_set_privileged(struct areq *r)
{
	return tenant_switch(r, "allowing or denying privileged logins",
	    "tenant.allow-privileged", "tenant.deny-privileged",
	    offsetof(struct proto_tenant, allow_privileged));
}

struct id_list {
	char	(*ids)[TOKEN_ID_LEN + 1];
	size_t	 n;
	size_t	 cap;
};

static int
collect_id(const struct store_key *k, void *arg)
{
	struct id_list	*l = arg;
	void		*p;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		if ((p = reallocarray(l->ids, l->cap, sizeof(*l->ids))) == NULL)
			return STORE_EIO;
		l->ids = p;
	}
	memcpy(l->ids[l->n++], k->info.id, TOKEN_ID_LEN + 1);
	return 0;
}

int
admin_tenant_remove(struct areq *r)
{
	struct proto_tenant t;
	struct store_txn *txn;
	struct id_list	 ids = { NULL, 0, 0 };
	struct reply	 rp;
	char		 arg[PROTO_TENANT_ARG_MAX + 1];
	char		 name[PROTO_TENANT_MAX + 1];
	uint8_t		 force;
	size_t		 i;
	int		 rc;

	if ((rc = proto_dec_tenant_switch(r->body, arg, &force)) != 0)
		return admin_bad_request(r, rc);
	if (check_name(r, arg, name) != 0)
		return 0;
	if (authz_require_admin(r, "removing a tenant"))
		return 0;
	if ((rc = store_write_begin(r->a->store, &txn)) != 0)
		return admin_store_fail(r, rc, "tenant remove");
	if (load_tenant(r, txn, name, &t) != 0) {
		admin_abort(r, txn);
		return 0;
	}
	if (t.keys > 0 && !force) {
		admin_abort(r, txn);
		reply_error(r->c, r->h, PROTO_EINVAL, "tenant '%s' still owns "
		    "%u key%s; revoke them first or use --force", t.name,
		    t.keys, t.keys == 1 ? "" : "s");
		return 0;
	}
	/* The tenant and all its keys go in one transaction. */
	rc = store_key_foreach_owner(txn, PROTO_OWNER_TENANT, 0, t.name,
	    collect_id, &ids);
	for (i = 0; rc == 0 && i < ids.n; i++)
		if ((rc = store_key_del(txn, ids.ids[i])) == 0)
			rc = admin_audit(r, txn, "key.revoke", ids.ids[i],
			    "with tenant %s", t.name);
	if (rc == 0 && (rc = store_tenant_del(txn, t.name)) == 0 &&
	    (rc = admin_audit(r, txn, "tenant.remove", t.name, "%zu key%s "
	    "revoked", ids.n, ids.n == 1 ? "" : "s")) == 0)
		rc = admin_commit(r, txn);
	else
		admin_abort(r, txn);
	free(ids.ids);
	if (rc != 0)
		return admin_store_fail(r, rc, "tenant remove");
	proto_enc_count(reply_begin(&rp, r->h, 0), (uint32_t)ids.n);
	return reply_send(&rp, r->c, 0) == 0 ? 0 : -1;
}
