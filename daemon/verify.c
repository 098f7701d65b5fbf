/*
 * verify.c - answers VERIFY. This is the hot path: one token parse, one
 * LMDB read transaction (renewed, not allocated), one keyed hash and a few
 * string compares. The request, reply and record are thread-local rather
 * than on the stack because together they are about 40 KiB.
 *
 * A wrong secret answers NOT_FOUND, exactly like an unknown id, so a
 * caller cannot learn which key ids exist. Nothing derived from a token
 * that failed to parse is ever logged: it may be a mistyped password.
 */
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "policy.h"
#include "reply.h"
#include "verify.h"

static _Thread_local struct proto_verify_req	req;
static _Thread_local struct proto_verify_reply	rep;
static _Thread_local struct store_key		key;
static _Thread_local struct proto_tenant	tenant;
/* The id of the key asked about, for the log even when it is not found. */
static _Thread_local char			log_id[TOKEN_ID_LEN + 1];

/* Compares against the current hash, then the previous one in grace. */
static int
secret_matches(const struct verifier *v, const struct token *tok,
    uint64_t now)
{
	uint8_t	 h[KEYS_HASH_LEN];
	int	 ok;

	keys_hash(v->pepper, tok, h);
	ok = keys_equal(h, key.hash);
	if (!ok && key.info.grace_until > now)
		ok = keys_equal(h, key.prev_hash);
	keys_wipe(h, sizeof(h));
	return ok;
}

static void
fill_reply(const struct proto_tenant *t)
{
	const struct proto_key *k = &key.info;

	memcpy(rep.key_id, k->id, sizeof(rep.key_id));
	memcpy(rep.name, k->name, sizeof(rep.name));
	rep.owner = k->owner;
	if (t != NULL) {
		memcpy(rep.owner.group, t->group, sizeof(rep.owner.group));
		rep.owner.gid = t->gid;
	}
	rep.permissions = k->permissions;
	rep.allowed_users = k->allowed_users;
	memcpy(rep.metadata, k->metadata, sizeof(rep.metadata));
	rep.expires_at = k->expires_at;
}

/* Fills rep; returns a proto_status (not OK only for store failures). */
static int
verify_run(const struct verifier *v)
{
	struct store_txn *txn;
	struct token	 tok;
	const struct proto_tenant *t = NULL;
	uint64_t	 now = clock_now();
	int		 rc, match;

	memset(&rep, 0, sizeof(rep));
	strcpy(log_id, "-");
	if ((rc = token_parse(req.token, strlen(req.token), &tok)) != 0) {
		rep.code = PROTO_MALFORMED;
		snprintf(rep.reason, sizeof(rep.reason), "%s",
		    token_strerror(rc));
		return PROTO_OK;
	}
	memcpy(log_id, tok.id, sizeof(log_id));
	if ((rc = store_read_begin(v->store, &txn)) != 0) {
		token_wipe(&tok);
		log_warnx("verify: %s", store_strerror(rc));
		return PROTO_EINTERNAL;
	}
	rc = store_key_get(txn, tok.id, &key);
	match = rc == 0 && secret_matches(v, &tok, now);
	token_wipe(&tok);
	if (rc != 0 && rc != STORE_ENOTFOUND) {
		store_end(txn);
		log_warnx("verify: key %s: %s", log_id, store_strerror(rc));
		return PROTO_EINTERNAL;
	}
	if (!match) {
		store_end(txn);
		rep.code = PROTO_NOT_FOUND;
		snprintf(rep.reason, sizeof(rep.reason), "no such key");
		return PROTO_OK;
	}
	if (key.info.owner.kind == PROTO_OWNER_TENANT) {
		rc = store_tenant_get(txn, key.info.owner.tenant, &tenant);
		if (rc == 0)
			t = &tenant;
		else if (rc != STORE_ENOTFOUND) {
			store_end(txn);
			log_warnx("verify: tenant %s: %s",
			    key.info.owner.tenant, store_strerror(rc));
			return PROTO_EINTERNAL;
		}
	}
	store_end(txn);
	rep.code = (uint32_t)policy_verify(&key, t, &req, now, rep.reason,
	    sizeof(rep.reason));
	fill_reply(t);
	return PROTO_OK;
}

static int
request_printable(void)
{
	uint32_t	 i;

	if (!policy_text_valid(req.service) || !policy_text_valid(req.user) ||
	    !policy_text_valid(req.rhost) || !policy_text_valid(req.tenant))
		return 0;
	for (i = 0; i < req.required.n; i++)
		if (!policy_text_valid(req.required.v[i]))
			return 0;
	return 1;
}

static void
log_outcome(const struct peer *p)
{
	if (rep.code == PROTO_VALID) {
		log_debug("verify: VALID key %s peer uid %u pid %d service "
		    "'%s' user '%s' rhost '%s'", log_id, (unsigned)p->uid,
		    (int)p->pid, req.service, req.user, req.rhost);
		return;
	}
	/* log_id stays "-" for a token that did not parse: it may be a
	 * mistyped password. */
	log_info("verify: %s key %s peer uid %u pid %d service '%s' user '%s' "
	    "rhost '%s': %s", proto_code_name(rep.code), log_id,
	    (unsigned)p->uid,
	    (int)p->pid, req.service, req.user, req.rhost, rep.reason);
}

int
verify_handle(void *arg, struct conn *c, const struct peer *p,
    const struct proto_hdr *h, struct reader *body)
{
	const struct verifier *v = arg;
	struct writer	*w;
	int		 rc;

	if (h->opcode != PROTO_OP_VERIFY) {
		reply_error(c, h, PROTO_EUNSUPPORTED, "%s is not served on "
		    "verify.sock", proto_op_name(h->opcode));
		return 0;
	}
	rc = proto_dec_verify_req(body, &req);
	if (rc == 0 && !request_printable())
		rc = PROTO_EVALUE;
	if (rc != 0) {
		keys_wipe(&req, sizeof(req));
		log_warnx("verify: malformed request from uid %u pid %d: %s",
		    (unsigned)p->uid, (int)p->pid, proto_strerror(rc));
		reply_error(c, h, PROTO_EBADREQ, "malformed VERIFY request: %s",
		    proto_strerror(rc));
		return -1;
	}
	rc = verify_run(v);
	keys_wipe(req.token, sizeof(req.token));
	if (rc != PROTO_OK) {
		reply_error(c, h, (uint32_t)rc, "key store failure; see the "
		    "apikeyd log");
		return 0;
	}
	log_outcome(p);
	w = reply_begin(h, 0);
	proto_enc_verify_reply(w, &rep);
	return reply_send(c, 0) == 0 ? 0 : -1;
}
