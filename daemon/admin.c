/*
 * admin.c - dispatch of admin.sock requests and what the handlers share:
 * error replies, store-failure mapping and audit records. Each request
 * resolves its caller through NSS first, then runs its handler.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"
#include "clock.h"
#include "fleet.h"
#include "limits.h"
#include "log.h"
#include "reply.h"

struct route {
	uint8_t	 op;
	int	(*fn)(struct areq *);
};

static const struct route routes[] = {
	{ PROTO_OP_STATUS, admin_status },
	{ PROTO_OP_TENANT_ADD, admin_tenant_add },
	{ PROTO_OP_TENANT_LIST, admin_tenant_list },
	{ PROTO_OP_TENANT_SHOW, admin_tenant_show },
	{ PROTO_OP_TENANT_SET_ENABLED, admin_tenant_set_enabled },
	{ PROTO_OP_TENANT_REMOVE, admin_tenant_remove },
	{ PROTO_OP_TENANT_SET_PRIVILEGED, admin_tenant_set_privileged },
	{ PROTO_OP_KEY_CREATE, admin_key_create },
	{ PROTO_OP_KEY_LIST, admin_key_list },
	{ PROTO_OP_KEY_SHOW, admin_key_show },
	{ PROTO_OP_KEY_SET_ENABLED, admin_key_set_enabled },
	{ PROTO_OP_KEY_REVOKE, admin_key_revoke },
	{ PROTO_OP_KEY_UPDATE, admin_key_update },
	{ PROTO_OP_KEY_ROTATE, admin_key_rotate },
	{ PROTO_OP_KEY_PURGE_EXPIRED, admin_key_purge_expired },
	{ PROTO_OP_AUDIT_LIST, admin_audit_list },
	{ PROTO_OP_KEY_CREATE_MANY, admin_key_create_many },
};

int
admin_handle(void *arg, struct conn *c, const struct peer *p,
    const struct proto_hdr *h, struct reader *body)
{
	struct areq	 r;
	size_t		 i;
	int		 rc;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (routes[i].op == h->opcode)
			break;
	if (i == sizeof(routes) / sizeof(routes[0])) {
		reply_error(c, h, PROTO_EUNSUPPORTED, "%s is not served on "
		    "admin.sock", proto_op_name(h->opcode));
		return 0;
	}
	memset(&r, 0, sizeof(r));
	r.a = arg;
	r.c = c;
	r.h = h;
	r.body = body;
	if (authz_caller(r.a->cfg, p, &r.who) != 0) {
		reply_error(c, h, PROTO_EINTERNAL, "cannot resolve uid %u "
		    "through NSS", (unsigned)p->uid);
		return 0;
	}
	rc = routes[i].fn(&r);
	admin_drop_logs(&r);
	authz_free(&r.who);
	return rc;
}

void
admin_drop_logs(struct areq *r)
{
	size_t	 i;

	for (i = 0; i < r->nlogs; i++)
		free(r->logs[i]);
	free(r->logs);
	r->logs = NULL;
	r->nlogs = r->caplogs = r->lostlogs = 0;
}

int
admin_bad_request(struct areq *r, int rc)
{
	if (conn_log_ok(r->c))
		log_warnx("admin: malformed %s from uid %u pid %d: %s",
		    proto_op_name(r->h->opcode), (unsigned)r->who.uid,
		    (int)r->who.pid, proto_strerror(rc));
	reply_error(r->c, r->h, PROTO_EBADREQ, "malformed %s request: %s",
	    proto_op_name(r->h->opcode), proto_strerror(rc));
	return -1;
}

int
admin_store_fail(struct areq *r, int rc, const char *what)
{
	if (rc == STORE_EFULL) {
		log_warnx("admin: %s: key store is full; raise map_size",
		    what);
		reply_error(r->c, r->h, PROTO_ELIMIT, "the key store is full "
		    "(raise map_size in apikeyd.conf)");
		return 0;
	}
	/* Nothing was written (the transaction is gone): a full disk is the
	 * administrator's to fix, and the store is as it was. */
	if (rc == STORE_ENOSPC) {
		log_warnx("admin: %s: %s (No space left on device): nothing "
		    "was changed; free space there", what, store_strerror(rc));
		reply_error(r->c, r->h, PROTO_ELIMIT, "no space left on the "
		    "device of apikeyd's state directory: nothing was changed "
		    "(an administrator must free space there)");
		return 0;
	}
	/* Fleet mode: fleet_first logged the database's side. */
	if (rc == ADMIN_EFLEET || rc == ADMIN_EUNKNOWN) {
		reply_error(r->c, r->h, PROTO_EUNAVAIL, rc == ADMIN_EFLEET ?
		    "the fleet database cannot take this host's changes now: "
		    "nothing was changed (verifies go on; apikeyctl status "
		    "and the apikeyd log say why)" : "the fleet "
		    "database did not confirm the commit: the change may or "
		    "may not have been made; look before trying again");
		return 0;
	}
	if (rc == ADMIN_ECONFLICT) {
		reply_error(r->c, r->h, PROTO_ECONFLICT, "changed meanwhile "
		    "through another host: nothing was changed; try again");
		return 0;
	}
	if (rc == ADMIN_EWRITES) {
		log_debug("admin: %s: uid %u reached fleet_writes_per_uid (%u "
		    "changes a minute)", what, (unsigned)r->who.uid,
		    r->a->cfg->fleet_writes_per_uid);
		reply_error(r->c, r->h, PROTO_ELIMIT, "too many changes through "
		    "the fleet database: fleet_writes_per_uid allows %u a minute "
		    "for each user; nothing was changed; try again in %llu s",
		    r->a->cfg->fleet_writes_per_uid,
		    (unsigned long long)((r->retry_ms + 999) / 1000));
		return 0;
	}
	log_warnx("admin: %s: %s", what, store_strerror(rc));
	reply_error(r->c, r->h, PROTO_EINTERNAL, "key store failure during "
	    "%s; see the apikeyd log", what);
	return 0;
}

/* Keeps a log line until the commit; counts it when memory is short. */
static void
keep_log(struct areq *r, const char *line)
{
	char	**v;
	size_t	  cap;

	if (r->nlogs == r->caplogs) {
		cap = r->caplogs ? r->caplogs * 2 : 4;
		if ((v = reallocarray(r->logs, cap, sizeof(*v))) == NULL) {
			r->lostlogs++;
			return;
		}
		r->logs = v;
		r->caplogs = cap;
	}
	if ((r->logs[r->nlogs] = strdup(line)) == NULL)
		r->lostlogs++;
	else
		r->nlogs++;
}

int
admin_audit(struct areq *r, struct store_txn *txn, const char *action,
    const char *target, const char *fmt, ...)
{
	struct proto_audit a;
	char		 line[PROTO_ACTION_MAX + PROTO_TARGET_MAX +
			    PROTO_DETAIL_MAX + 64];
	uint32_t	 n;
	va_list		 ap;
	int		 rc;

	memset(&a, 0, sizeof(a));
	a.time = clock_now();
	a.uid = (uint32_t)r->who.uid;
	a.pid = (uint32_t)r->who.pid;
	snprintf(a.action, sizeof(a.action), "%s", action);
	snprintf(a.target, sizeof(a.target), "%s", target);
	va_start(ap, fmt);
	vsnprintf(a.detail, sizeof(a.detail), fmt, ap);
	va_end(ap);
	if (r->tight && (rc = store_audit_prune(txn, 0, UINT64_MAX, 1,
	    &n)) != 0)
		return rc;
	if ((rc = store_audit_append(txn, &a)) != 0)
		return rc;
	/* Within the count limit at every append, not only at maintenance. */
	if (r->a->cfg->audit_max_entries > 0 && (rc = store_audit_prune(txn,
	    r->a->cfg->audit_max_entries, 0, 2, &n)) != 0)
		return rc;
	snprintf(line, sizeof(line), "%s %s by uid %u pid %d: %s", action,
	    target, (unsigned)r->who.uid, (int)r->who.pid, a.detail);
	keep_log(r, line);
	return 0;
}

/* Once the database has a change it is made, for every host. */
static void
made_elsewhere(int rc)
{
	log_warnx("admin: the change is made in the fleet database, but this "
	    "host could not store it now (%s): it comes through the follow "
	    "path", store_strerror(rc));
}

/*
 * Fleet mode: the changes txn made go to the database first, and their
 * new versions into txn. The follow path brings the same changes back
 * later, and skips them by version. 0 (*sent: whether the database took
 * changes; 2 when it did but txn could not take their versions, and was
 * ended), or an error with txn ended.
 */
static int
fleet_first(struct areq *r, struct store_txn *txn, int *sent)
{
	struct store_change	*v;
	size_t			 n;
	char			 err[512] = "";
	int			 rc;

	*sent = 0;
	if ((rc = store_fleet_changes(txn, &v, &n)) != 0) {
		store_end(txn);
		return rc;
	}
	if (n == 0)
		return 0;	/* the audit log is this host's own */
	/* Every host applies each change: one host's user must not keep the
	 * fleet busy. Root and admin_group answer for their own. */
	if (!r->who.admin && r->a->limits != NULL &&
	    r->a->cfg->fleet_writes_per_uid != 0 &&
	    limits_writes_take(r->a->limits, r->who.uid, n > UINT32_MAX ?
	    UINT32_MAX : (uint32_t)n, r->a->cfg->fleet_writes_per_uid,
	    clock_now_ms(), &r->retry_ms) != 0) {
		store_changes_free(v, n);
		store_end(txn);
		return ADMIN_EWRITES;
	}
	switch (fleet_write(r->a->fleet, v, n, r->who.admin, err,
	    sizeof(err))) {
	case FLEET_OK:
		*sent = 1;
		rc = store_fleet_versions(txn, v, n);
		break;
	case FLEET_ECONFLICT:
		rc = ADMIN_ECONFLICT;
		break;
	case FLEET_EUNKNOWN:
		rc = ADMIN_EUNKNOWN;
		break;
	default:
		rc = ADMIN_EFLEET;
		break;
	}
	store_changes_free(v, n);
	if (rc == ADMIN_ECONFLICT)
		log_info("admin: %s: nothing was changed", err);
	else if (rc != 0 && !*sent)
		log_warnx("admin: fleet database: %s", err);
	else if (rc != 0) {
		made_elsewhere(rc);
		*sent = 2;
	}
	if (rc != 0)
		store_end(txn);
	return *sent ? 0 : rc;
}

/*
 * Commits txn, in fleet mode after the database took its changes. Once the
 * database has them the change is made, for every host: a failure to
 * store it here is logged, not replied (a new key's token would be lost),
 * and the follow path brings it when the store can take it.
 */
static int
commit(struct areq *r, struct store_txn *txn)
{
	int	rc, sent = 0;

	if (r->a->fleet != NULL && (rc = fleet_first(r, txn, &sent)) != 0)
		return rc;
	if (sent == 2)
		return 0;
	if ((rc = store_commit(txn)) != 0 && sent) {
		made_elsewhere(rc);
		rc = 0;
	}
	return rc;
}

int
admin_commit(struct areq *r, struct store_txn *txn)
{
	size_t	 i;
	int	 rc;

	if ((rc = commit(r, txn)) == 0) {
		for (i = 0; i < r->nlogs; i++)
			log_info("%s", r->logs[i]);
		if (r->lostlogs > 0)
			log_info("(and %zu more changes by uid %u)",
			    r->lostlogs, (unsigned)r->who.uid);
	} else if (r->nlogs > 0)
		log_warnx("not done, the commit failed (%s): %s%s",
		    rc == ADMIN_EFLEET ? "fleet database unreachable" :
		    rc == ADMIN_ECONFLICT ? "changed through another host" :
		    rc == ADMIN_EUNKNOWN ? "fleet database commit unconfirmed" :
		    rc == ADMIN_EWRITES ? "fleet_writes_per_uid reached" :
		    store_strerror(rc), r->logs[0], r->nlogs + r->lostlogs > 1 ?
		    " (and the rest of the request)" : "");
	admin_drop_logs(r);
	return rc;
}

void
admin_abort(struct areq *r, struct store_txn *txn)
{
	store_end(txn);
	admin_drop_logs(r);
}

/* At least this much of the map is kept for deletes and admins. */
#define RESERVE_MIN	(256 * 1024)

int
admin_map_usage(struct admin *a, uint64_t *size, uint64_t *used,
    uint64_t *limit)
{
	uint64_t	 reserve;
	int		 rc;

	if ((rc = store_map_usage(a->store, size, used)) != 0)
		return rc;
	reserve = *size / 100 * a->cfg->map_reserve_pct;
	if (reserve < RESERVE_MIN)
		reserve = RESERVE_MIN;
	if (reserve > *size / 2)
		reserve = *size / 2;
	*limit = *size - reserve;
	return 0;
}

int
admin_space_check(struct areq *r, int ordinary)
{
	uint64_t	 size, used, limit;
	int		 rc;

	if ((rc = admin_map_usage(r->a, &size, &used, &limit)) != 0) {
		admin_store_fail(r, rc, "map usage");
		return 1;
	}
	r->tight = used >= limit;
	if (!r->tight || !ordinary || r->who.admin)
		return 0;
	if (conn_log_ok(r->c))
		log_warnx("admin: %s by uid %u refused: the key store is %llu%% "
		    "full", proto_op_name(r->h->opcode), (unsigned)r->who.uid,
		    (unsigned long long)(used * 100 / size));
	reply_error(r->c, r->h, PROTO_ELIMIT, "the key store is %llu%% full: "
	    "until an administrator frees space or raises map_size, only "
	    "deletes, disables and administrators may write",
	    (unsigned long long)(used * 100 / size));
	return 1;
}

int
admin_check_id(struct areq *r, const char *arg, char id[TOKEN_ID_LEN + 1])
{
	if (!token_id_valid(arg)) {
		reply_error(r->c, r->h, PROTO_EINVAL, "'%s' is not a key id "
		    "(%d base62 characters)", arg, TOKEN_ID_LEN);
		return 1;
	}
	memcpy(id, arg, TOKEN_ID_LEN + 1);
	return 0;
}
