/*
 * admin.c - dispatch of admin.sock requests and what the handlers share:
 * error replies, store-failure mapping and audit records. Each request
 * resolves its caller through NSS first, then runs its handler.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "admin_int.h"
#include "clock.h"
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
	{ PROTO_OP_KEY_CREATE, admin_key_create },
	{ PROTO_OP_KEY_LIST, admin_key_list },
	{ PROTO_OP_KEY_SHOW, admin_key_show },
	{ PROTO_OP_KEY_SET_ENABLED, admin_key_set_enabled },
	{ PROTO_OP_KEY_REVOKE, admin_key_revoke },
	{ PROTO_OP_KEY_UPDATE, admin_key_update },
	{ PROTO_OP_KEY_ROTATE, admin_key_rotate },
	{ PROTO_OP_KEY_PURGE_EXPIRED, admin_key_purge_expired },
	{ PROTO_OP_AUDIT_LIST, admin_audit_list },
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
	authz_free(&r.who);
	return rc;
}

int
admin_bad_request(struct areq *r, int rc)
{
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
	log_warnx("admin: %s: %s", what, store_strerror(rc));
	reply_error(r->c, r->h, PROTO_EINTERNAL, "key store failure during "
	    "%s; see the apikeyd log", what);
	return 0;
}

int
admin_audit(struct areq *r, struct store_txn *txn, const char *action,
    const char *target, const char *fmt, ...)
{
	struct proto_audit a;
	va_list		 ap;

	memset(&a, 0, sizeof(a));
	a.time = clock_now();
	a.uid = (uint32_t)r->who.uid;
	a.pid = (uint32_t)r->who.pid;
	snprintf(a.action, sizeof(a.action), "%s", action);
	snprintf(a.target, sizeof(a.target), "%s", target);
	va_start(ap, fmt);
	vsnprintf(a.detail, sizeof(a.detail), fmt, ap);
	va_end(ap);
	log_info("%s %s by uid %u pid %d: %s", action, target,
	    (unsigned)r->who.uid, (int)r->who.pid, a.detail);
	return store_audit_append(txn, &a);
}

int
admin_read_id(struct areq *r, char id[TOKEN_ID_LEN + 1])
{
	char	 buf[PROTO_TARGET_MAX + 1];
	int	 rc;

	if ((rc = rd_str(r->body, buf, PROTO_TARGET_MAX)) != 0)
		return admin_bad_request(r, rc);
	if (!token_id_valid(buf)) {
		reply_error(r->c, r->h, PROTO_EINVAL, "'%s' is not a key id "
		    "(%d base62 characters)", buf, TOKEN_ID_LEN);
		return 1;
	}
	memcpy(id, buf, TOKEN_ID_LEN + 1);
	return 0;
}
