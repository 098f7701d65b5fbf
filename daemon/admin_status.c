/*
 * admin_status.c - STATUS: what the daemon is, where it listens, how full
 * its store is and who is asking. Anyone may ask, and nothing in it is a
 * secret except the verify counters: they tell when other people log in,
 * so only root and admin_group get them (the rest get zeros and
 * has_counters 0).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "admin_int.h"
#include "fleet.h"
#include "reply.h"
#include "verify.h"

/* A socket path into buf; "" when it does not fit (sun_path bounds
 * both, so it always does). */
static void
socket_path(char *buf, size_t size, const char *path)
{
	int	 n;

	n = snprintf(buf, size, "%s", path != NULL ? path : "");
	if (n < 0 || (size_t)n >= size)
		buf[0] = '\0';
}

/* Anyone may see whether the host is in step; the error text may name
 * the database's host, so only root and admin_group read it. */
static void
fleet_fill(const struct areq *r, struct proto_status_info *st)
{
	struct fleet_status	fs;

	fleet_status(r->a->fleet, &fs);
	st->fleet = 1;
	st->fleet_connected = (uint8_t)fs.connected;
	st->fleet_last_seq = fs.last_seq;
	st->fleet_head_seq = fs.head_seq;
	st->fleet_synced_at = fs.synced_at;
	st->fleet_max_staleness = r->a->cfg->max_staleness_ms / 1000;
	st->fleet_digest = (uint8_t)(fs.digest == FLEET_DIGEST_MATCH ?
	    PROTO_DIGEST_MATCH : fs.digest == FLEET_DIGEST_MISMATCH ?
	    PROTO_DIGEST_MISMATCH : PROTO_DIGEST_UNKNOWN);
	if (r->who.admin)
		snprintf(st->fleet_error, sizeof(st->fleet_error), "%s",
		    fs.error);
}

int
admin_status(struct areq *r)
{
	struct proto_status_info st;
	struct store_audit_info ai;
	struct store_txn *txn;
	struct reply	 rp;
	int		 rc;

	if ((rc = proto_dec_empty(r->body)) != 0)
		return admin_bad_request(r, rc);
	memset(&st, 0, sizeof(st));
	if ((rc = store_read_begin(r->a->store, &txn)) != 0)
		return admin_store_fail(r, rc, "status");
	if ((rc = store_stat(txn, &st.keys, &st.tenants)) == 0)
		rc = store_audit_stat(txn, &ai);
	store_end(txn);
	if (rc == 0)
		rc = admin_map_usage(r->a, &st.map_size, &st.map_used,
		    &st.map_limit);
	if (rc == 0)
		rc = store_file_size(r->a->store, &st.store_size);
	if (rc != 0)
		return admin_store_fail(r, rc, "status");
	strcpy(st.version, APIKEY_VERSION);
	st.pid = (uint32_t)getpid();
	st.started_at = r->a->started_at;
	st.caller_uid = (uint32_t)r->who.uid;
	st.caller_admin = (uint8_t)r->who.admin;
	st.audit_entries = ai.entries;
	st.audit_pruned = ai.pruned;
	/* As bound: sockets systemd passed may be anywhere. */
	socket_path(st.verify_socket, sizeof(st.verify_socket),
	    r->a->verify_socket);
	socket_path(st.admin_socket, sizeof(st.admin_socket),
	    r->a->admin_socket);
	if (r->who.admin) {
		st.has_counters = 1;
		verify_counts(st.verifies);
	}
	if (r->a->fleet != NULL)
		fleet_fill(r, &st);
	proto_enc_status_info(reply_begin(&rp, r->h, 0), &st);
	return reply_send(&rp, r->c, 0) == 0 ? 0 : -1;
}
