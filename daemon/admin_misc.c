/*
 * admin_misc.c - STATUS and AUDIT_LIST: read-only views of the daemon.
 */
#include <string.h>
#include <unistd.h>

#include "admin_int.h"
#include "reply.h"

int
admin_status(struct areq *r)
{
	struct proto_status_info st;
	struct store_txn *txn;
	struct writer	*w;
	int		 rc;

	if ((rc = rd_end(r->body)) != 0)
		return admin_bad_request(r, rc);
	memset(&st, 0, sizeof(st));
	if ((rc = store_read_begin(r->a->store, &txn)) != 0)
		return admin_store_fail(r, rc, "status");
	rc = store_stat(txn, &st.keys, &st.tenants);
	store_end(txn);
	if (rc != 0)
		return admin_store_fail(r, rc, "status");
	strcpy(st.version, APIKEY_VERSION);
	st.pid = (uint32_t)getpid();
	st.started_at = r->a->started_at;
	st.caller_uid = (uint32_t)r->who.uid;
	st.caller_admin = (uint8_t)r->who.admin;
	w = reply_begin(r->h, 0);
	proto_enc_status_info(w, &st);
	return reply_send(r->c, 0) == 0 ? 0 : -1;
}

static int
send_audit(const struct proto_audit *a, void *arg)
{
	struct areq	*r = arg;

	proto_enc_audit(reply_begin(r->h, 1), a);
	(void)reply_send(r->c, 0);	/* a failure marks the conn closing */
	return 0;
}

int
admin_audit_list(struct areq *r)
{
	struct store_txn *txn;
	uint32_t	 limit;
	int		 rc;

	if ((rc = rd_u32(r->body, &limit)) != 0 ||
	    (rc = rd_end(r->body)) != 0)
		return admin_bad_request(r, rc);
	if (authz_require_admin(r, "reading the audit log"))
		return 0;
	if ((rc = store_read_begin(r->a->store, &txn)) != 0)
		return admin_store_fail(r, rc, "audit list");
	rc = store_audit_foreach(txn, limit, send_audit, r);
	store_end(txn);
	if (rc != 0)
		return admin_store_fail(r, rc, "audit list");
	reply_begin(r->h, 0);
	return reply_send(r->c, 0) == 0 ? 0 : -1;
}
