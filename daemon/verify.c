/*
 * verify.c - answers VERIFY. This is the hot path: one token parse, one
 * LMDB read transaction (renewed, not allocated), one keyed hash and a few
 * string compares. Each step gets the one struct verify_ctx of the
 * request (verify.h), reused from request to request rather than put on
 * the stack, since with the request, reply and records it is about 32 KiB;
 * nothing is allocated unless a reply must wait for the ledger.
 *
 * A wrong secret, or the right one under another prefix, answers
 * NOT_FOUND exactly like an unknown id, and costs the same keyed hash, so
 * a caller cannot learn which key ids exist. Check order: format, lookup,
 * secret and prefix, the checks of policy.c, then the rate limit and the
 * credits, the only checks with state; a verify refused earlier takes no
 * rate slot and no credit.
 *
 * Failure throttling comes last and only ever turns a failure into
 * RATE_LIMITED: a source (the peer uid with the remote host it names)
 * that failed too often gets RATE_LIMITED for failing tokens while it
 * backs off, but a token that verifies is answered as always. A 256-bit
 * secret cannot be guessed, so the throttle is there for the daemon's
 * logs, not against guessing, and nobody's failures (a user naming root's
 * remote host, failed su attempts, a relay for many clients) can refuse
 * somebody else's valid key. Log lines about a peer go through its
 * budget (conn_log_ok). Nothing derived from a token that failed to parse
 * is ever logged: it may be a mistyped password.
 *
 * The time is the verifier's clock (clock.h): wall-clock seconds for
 * expiry, the grace of a rotated secret and refills, which are stored
 * times; monotonic milliseconds for rate windows and back-off. Unit tests
 * set it.
 *
 * Every verify reply is counted by the code it carries, once it is final
 * (count_reply), for STATUS. A request that does not decode gets EBADREQ,
 * not a verify reply, and is not counted; a reply held for the ledger is
 * counted when it is built, even if its commit then fails.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/secret.h"
#include "admin.h"
#include "clock.h"
#include "fleet.h"
#include "log.h"
#include "policy.h"
#include "reply.h"
#include "verify.h"

/*
 * Verify replies by final code, for STATUS on the admin thread. Each is a
 * tally read now and then, never a synchronisation point: relaxed.
 */
static _Atomic uint64_t				verifies[PROTO_CODE_MAX + 1];

/*
 * A verify reply waiting for its credits to be committed: made by
 * hold_reply, handed to the ledger, and freed by held_done once the
 * ledger calls it back. It keeps its connection with conn_ref().
 */
struct held {
	struct conn	*c;
	struct proto_hdr req;
	size_t		 len;
	uint8_t		 frame[];
};

/* Compares against the current hash, then the previous one in grace. */
static int
secret_matches(const struct verifier *v, const struct verify_ctx *x,
    const struct token *tok, uint64_t now)
{
	uint8_t	 h[KEYS_HASH_LEN];
	struct secret_scope h_scope SECRET_SCOPE = { h, sizeof(h) };
	int	 ok;

	keys_hash(v->pepper, tok, h);
	ok = keys_equal(h, x->key.hash);
	if (!ok && x->key.info.grace_until > now)
		ok = keys_equal(h, x->key.prev_hash);
	return ok;
}

/*
 * An unknown id costs the keyed hash that a wrong secret costs, so the
 * time of a NOT_FOUND does not tell the two apart.
 */
static void
dummy_hash(const struct verifier *v, const struct token *tok)
{
	static const uint8_t	 none[KEYS_HASH_LEN];
	uint8_t			 h[KEYS_HASH_LEN];
	struct secret_scope	 h_scope SECRET_SCOPE = { h, sizeof(h) };

	keys_hash(v->pepper, tok, h);
	(void)keys_equal(h, none);
}

/*
 * An empty reply: every field proto_enc_verify_reply sends, and nothing
 * else. The reply is about 13 KB, almost all of it string arrays, and the
 * encoder reads a string up to its NUL and a list up to its n, so the
 * bytes past those are never seen and are left as they are.
 */
/* A field added to the reply must be cleared here: the size changes. */
_Static_assert(sizeof(struct proto_verify_reply) == 12984,
    "a new field of proto_verify_reply: clear it in reply_clear()");

static void
reply_clear(struct proto_verify_reply *rep)
{
	rep->code = PROTO_VALID;
	rep->reason[0] = '\0';
	rep->key_id[0] = '\0';
	rep->name[0] = '\0';
	memset(&rep->owner, 0, sizeof(rep->owner));
	rep->permissions.n = 0;
	rep->allowed_users.n = 0;
	rep->metadata[0] = '\0';
	rep->expires_at = 0;
	rep->retry_after_ms = 0;
	rep->has_credits = 0;
	rep->remaining = 0;
	rep->allow_privileged = 0;
	rep->has_admin_gid = 0;
	rep->admin_gid = 0;
}

/* Copies a string up to its NUL: the arrays are mostly empty space.
 * Both are size bytes, and the source was NUL-terminated by its decoder;
 * strnlen keeps a copy in bounds all the same. */
static void
copy_str(char *dst, const char *src, size_t size)
{
	size_t	 n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Copies n rows of stride bytes, each up to its NUL. */
static void
copy_rows(char *dst, const char *src, size_t stride, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		copy_str(dst + (size_t)i * stride, src + (size_t)i * stride,
		    stride);
}

static void
fill_reply(const struct verifier *v, struct verify_ctx *x,
    const struct proto_tenant *t)
{
	const struct proto_key *k = &x->key.info;
	struct proto_verify_reply *rep = &x->rep;
	uint64_t	 admin_gid;

	copy_str(rep->key_id, k->id, sizeof(rep->key_id));
	copy_str(rep->name, k->name, sizeof(rep->name));
	rep->owner = k->owner;
	if (t != NULL) {
		copy_str(rep->owner.group, t->group, sizeof(rep->owner.group));
		rep->owner.gid = t->gid;
	}
	rep->permissions.n = k->permissions.n;
	copy_rows(rep->permissions.v[0], k->permissions.v[0],
	    sizeof(rep->permissions.v[0]), k->permissions.n);
	rep->allowed_users.n = k->allowed_users.n;
	copy_rows(rep->allowed_users.v[0], k->allowed_users.v[0],
	    sizeof(rep->allowed_users.v[0]), k->allowed_users.n);
	copy_str(rep->metadata, k->metadata, sizeof(rep->metadata));
	rep->expires_at = k->expires_at;
	/* What apikey_authorize_user needs to keep root and the admins out
	 * of tenant keys that were not meant for them. */
	admin_gid = atomic_load(v->admin_gid);
	rep->allow_privileged = t != NULL && t->allow_privileged;
	rep->has_admin_gid = (admin_gid & ADMIN_GID_KNOWN) != 0;
	rep->admin_gid = (uint32_t)admin_gid;
}

/* The reply for credits that are not there. */
static void
credits_short(struct verify_ctx *x)
{
	struct proto_verify_reply *rep = &x->rep;

	rep->code = PROTO_USAGE_EXCEEDED;
	snprintf(rep->reason, sizeof(rep->reason), "%llu credit%s left, %llu "
	    "needed", (unsigned long long)rep->remaining,
	    rep->remaining == 1 ? "" : "s", (unsigned long long)x->hold.cost);
}

/* A failure of the ledger: logged, and the verify gets an error. */
static int
credits_failed(const struct verify_ctx *x, int rc)
{
	if (rc == -1)
		log_warnx("verify: key %s: too many keys have credits waiting "
		    "to be committed", x->log_id);
	else
		log_warnx("verify: key %s: reading its credits: %s",
		    x->log_id, store_strerror(rc));
	return PROTO_EINTERNAL;
}

/*
 * The stateful checks, after policy_verify said VALID: a rate slot, then
 * the credits, reserved with the ledger. Returns PROTO_OK (x->rep says
 * what they decided), or PROTO_EINTERNAL.
 */
static int
limits_check(const struct verifier *v, struct verify_ctx *x, uint64_t now,
    uint64_t now_ms)
{
	const struct proto_limits *lim = &x->key.info.limits;
	struct proto_verify_reply *rep = &x->rep;
	char		 owner[LIMITS_OWNER_MAX];
	int		 rc;

	if (lim->rate_max > 0 && (rc = limits_rate_take(v->limits,
	    x->key.info.id, limits_owner(&x->key.info.owner, owner),
	    lim->rate_max, lim->rate_window_ms, now_ms,
	    &rep->retry_after_ms)) != 0) {
		rep->code = PROTO_RATE_LIMITED;
		if (rc == LIMITS_EFULL)
			snprintf(rep->reason, sizeof(rep->reason), "too many "
			    "rate windows in use by this key's owner; retry "
			    "later");
		else
			snprintf(rep->reason, sizeof(rep->reason), "rate limit "
			    "of %u per %u ms reached", lim->rate_max,
			    lim->rate_window_ms);
		return PROTO_OK;
	}
	if (!lim->has_credits)
		return PROTO_OK;
	x->hold.cost = x->req.cost != 0 ? x->req.cost : 1;
	rep->has_credits = 1;
	rc = ledger_reserve(v->ledger, x->key.info.id, lim, now, x->hold.cost,
	    &rep->remaining, &x->hold.op);
	if (rc == LEDGER_SHORT)
		credits_short(x);
	else if (rc != 0)
		return credits_failed(x, rc);
	else
		x->hold.needed = 1;
	return PROTO_OK;
}

/*
 * A check-only verify uses nothing: no rate slot, no credit, no recorded
 * use. It still says what is left, as a verify would before its own cost.
 */
static int
credits_peek(const struct verifier *v, struct verify_ctx *x, uint64_t now)
{
	const struct proto_limits *lim = &x->key.info.limits;
	int		 rc;

	if (!lim->has_credits)
		return PROTO_OK;
	x->rep.has_credits = 1;
	if ((rc = ledger_reserve(v->ledger, x->key.info.id, lim, now, 0,
	    &x->rep.remaining, NULL)) != 0)
		return credits_failed(x, rc);
	return PROTO_OK;
}

/* Reads the key and its tenant in one read transaction (the credits are
 * the ledger's to read). Returns 0, STORE_ENOTFOUND, or a store error. */
static int
load(const struct verifier *v, struct verify_ctx *x, const struct token *tok,
    uint64_t now, const struct proto_tenant **t)
{
	struct store_txn *txn;
	int		 rc, match;

	*t = NULL;
	if ((rc = store_read_begin(v->store, &txn)) != 0)
		return rc;
	rc = store_key_get(txn, tok->id, &x->key);
	if (rc == STORE_ENOTFOUND)
		dummy_hash(v, tok);
	/* The prefix is part of the key: "prod_" re-labelled "ak_" with a
	 * new checksum is not the same key. */
	match = rc == 0 && secret_matches(v, x, tok, now) &&
	    strcmp(tok->prefix, x->key.info.prefix) == 0;
	if (rc == 0 && !match)
		rc = STORE_ENOTFOUND;
	if (rc == 0 && x->key.info.owner.kind == PROTO_OWNER_TENANT) {
		rc = store_tenant_get(txn, x->key.info.owner.tenant,
		    &x->tenant);
		if (rc == 0)
			*t = &x->tenant;
		else if (rc == STORE_ENOTFOUND)
			rc = 0;		/* policy_verify: tenant is gone */
	}
	store_end(txn);
	return rc;
}

/*
 * Failure throttling, after the verify ran (see the file comment): a
 * source backing off gets RATE_LIMITED for a failing token, and its
 * failures are not counted again; a token that verifies always passes,
 * so no party's failures can refuse another party's valid key.
 */
static void
throttle(const struct verifier *v, struct verify_ctx *x, uint64_t now_ms)
{
	struct proto_verify_reply *rep = &x->rep;
	uint64_t	 retry;
	int		 rc;

	/* Refusals of a valid secret by rate, credits or staleness are not
	 * failures. */
	if (rep->code == PROTO_VALID || rep->code == PROTO_RATE_LIMITED ||
	    rep->code == PROTO_USAGE_EXCEEDED || rep->code == PROTO_STALE)
		return;
	rc = limits_failure(v->limits, x->uid, x->req.rhost, now_ms, &retry);
	if (rc == LIMITS_THROTTLED) {
		/* Nothing of the key goes out with a throttled reply. */
		reply_clear(rep);
		rep->code = PROTO_RATE_LIMITED;
		rep->retry_after_ms = retry;
		snprintf(rep->reason, sizeof(rep->reason), "too many failed "
		    "verifies from this source; retry later");
		return;
	}
	x->throttle_began = rc;
}

/*
 * Fleet mode: a key that asks for strict sync fails closed while this
 * host has not been in step with the fleet database for max_staleness
 * (it may have missed the key's revocation); other keys go on.
 */
static void
stale(const struct verifier *v, struct verify_ctx *x, uint64_t now_ms)
{
	uint64_t	synced;

	if (!x->key.info.strict_sync || v->fleet == NULL ||
	    v->max_staleness_ms == 0)
		return;
	/* Synced after now_ms was read is in step too. */
	synced = fleet_synced_ms(v->fleet);
	if (synced != 0 && (synced >= now_ms ||
	    now_ms - synced <= v->max_staleness_ms))
		return;
	x->rep.code = PROTO_STALE;
	if (synced == 0)
		snprintf(x->rep.reason, sizeof(x->rep.reason), "strict sync: "
		    "this host has not synced with the fleet database yet");
	else
		snprintf(x->rep.reason, sizeof(x->rep.reason), "strict sync: "
		    "this host last synced with the fleet database %u s ago "
		    "(max_staleness %u s)", (unsigned)((now_ms - synced) /
		    1000), (unsigned)(v->max_staleness_ms / 1000));
}

int
verify_run(const struct verifier *v, struct verify_ctx *x)
{
	struct proto_verify_reply *rep = &x->rep;
	struct token	 tok;
	struct secret_scope tok_scope SECRET_SCOPE = { &tok, sizeof(tok) };
	const struct proto_tenant *t;
	uint64_t	 now_ms, now;
	int		 rc;

	now_ms = v->clock->now_ms(v->clock);
	now = v->clock->now(v->clock);
	reply_clear(rep);
	memset(&x->hold, 0, sizeof(x->hold));
	x->throttle_began = 0;
	strcpy(x->log_id, "-");
	if ((rc = token_parse(x->req.token, strlen(x->req.token), &tok)) !=
	    0) {
		rep->code = PROTO_MALFORMED;
		snprintf(rep->reason, sizeof(rep->reason), "%s",
		    token_strerror(rc));
		goto out;
	}
	memcpy(x->log_id, tok.id, sizeof(x->log_id));
	rc = load(v, x, &tok, now, &t);
	if (rc == STORE_ENOTFOUND) {
		rep->code = PROTO_NOT_FOUND;
		snprintf(rep->reason, sizeof(rep->reason), "no such key");
		goto out;
	}
	if (rc != 0) {
		log_warnx("verify: key %s: %s", x->log_id, store_strerror(rc));
		return PROTO_EINTERNAL;
	}
	rep->code = (uint32_t)policy_verify(&x->key, t, &x->req, now,
	    rep->reason, sizeof(rep->reason));
	if (rep->code == PROTO_VALID)
		stale(v, x, now_ms);
	fill_reply(v, x, t);
	if (rep->code == PROTO_VALID && x->req.check_only)
		rc = credits_peek(v, x, now);
	else if (rep->code == PROTO_VALID)
		rc = limits_check(v, x, now, now_ms);
	if (rc != PROTO_OK)
		return rc;
	if (rep->code == PROTO_VALID && !x->req.check_only)
		ledger_note_use(v->ledger, x->key.info.id, now);
out:
	throttle(v, x, now_ms);
	return PROTO_OK;
}

static int
request_printable(const struct proto_verify_req *req)
{
	uint32_t	 i;

	if (!policy_text_valid(req->service) ||
	    !policy_text_valid(req->user) || !policy_text_valid(req->rhost) ||
	    !policy_text_valid(req->tenant))
		return 0;
	for (i = 0; i < req->required.n; i++)
		if (!policy_text_valid(req->required.v[i]))
			return 0;
	return 1;
}

/* Counts a verify reply whose code is final: called once the reply is
 * sent, or handed to the ledger to be sent. */
static void
count_reply(uint32_t code)
{
	if (code <= PROTO_CODE_MAX)
		atomic_fetch_add_explicit(&verifies[code], 1,
		    memory_order_relaxed);
}

void
verify_counts(uint64_t out[PROTO_CODE_MAX + 1])
{
	size_t	 i;

	for (i = 0; i <= PROTO_CODE_MAX; i++)
		out[i] = atomic_load_explicit(&verifies[i],
		    memory_order_relaxed);
}

static void
log_outcome(const struct verifier *v, const struct verify_ctx *x,
    struct conn *c, const struct peer *p)
{
	const struct proto_verify_req *req = &x->req;

	if (x->throttle_began && conn_log_ok(c))
		log_warnx("verify: throttling failures of uid %u for remote "
		    "host '%s' for %llu ms", (unsigned)p->uid, req->rhost,
		    (unsigned long long)v->throttle_backoff_ms);
	if (x->rep.code == PROTO_VALID) {
		log_debug("verify: VALID key %s peer uid %u pid %d service "
		    "'%s' user '%s' rhost '%s'", x->log_id, (unsigned)p->uid,
		    (int)p->pid, req->service, req->user, req->rhost);
		return;
	}
	/* log_id stays "-" for a token that did not parse: it may be a
	 * mistyped password. Each uid gets a budget of these lines. */
	if (!conn_log_ok(c))
		return;
	log_info("verify: %s key %s peer uid %u pid %d service '%s' user '%s' "
	    "rhost '%s': %s", proto_code_name(x->rep.code), x->log_id,
	    (unsigned)p->uid, (int)p->pid, req->service, req->user,
	    req->rhost, x->rep.reason);
}

/* Called back by the ledger: the credits are on disk, or they failed. */
static void
held_done(void *arg, int rc)
{
	struct held	*hd = arg;

	if (rc == 0)
		(void)conn_send(hd->c, hd->frame, hd->len);
	else
		reply_error(hd->c, &hd->req, PROTO_EINTERNAL, "the use of "
		    "credits could not be recorded; see the apikeyd log");
	conn_push(hd->c);
	conn_unref(hd->c);
	free(hd);
}

/*
 * Hands the reply begun in r to the ledger with x's consumption, to be
 * sent once that is committed. Returns 0, or -1 when out of memory (or
 * the reply does not fit a frame), having given the credits back; r is
 * finished either way.
 */
static int
hold_reply(const struct verifier *v, const struct verify_ctx *x,
    struct reply *r, struct conn *c)
{
	const struct verify_hold *hold = &x->hold;
	const uint8_t	*frame;
	struct held	*hd;
	size_t		 len;

	if ((frame = reply_end(r, &len)) == NULL ||
	    (hd = malloc(sizeof(*hd) + len)) == NULL) {
		ledger_cancel(v->ledger, hold->op);
		return -1;
	}
	hd->c = c;
	hd->req = r->req;
	hd->len = len;
	memcpy(hd->frame, frame, len);
	/* held_done runs on this thread (lane), never before we return. */
	ledger_consume(v->ledger, hold->op, v->lane, held_done, hd);
	conn_ref(c);
	return 0;
}

int
verify_handle(void *arg, struct conn *c, const struct peer *p,
    const struct proto_hdr *h, struct reader *body)
{
	const struct verifier *v = arg;
	struct verify_ctx *x = v->ctx;
	/* The ctx lives on to the next request; the token goes with this
	 * one, whichever way it ends. */
	struct secret_scope token_scope SECRET_SCOPE =
			    { x->req.token, sizeof(x->req.token) };
	struct reply	 r;
	const char	*why;
	int		 rc;

	if (h->opcode != PROTO_OP_VERIFY) {
		reply_error(c, h, PROTO_EUNSUPPORTED, "%s is not served on "
		    "verify.sock", proto_op_name(h->opcode));
		return 0;
	}
	rc = proto_dec_verify_req(body, &x->req);
	why = rc != 0 ? proto_strerror(rc) : !request_printable(&x->req) ?
	    "a text field is not valid UTF-8 or holds control characters" :
	    NULL;
	if (why != NULL) {
		if (conn_log_ok(c))
			log_warnx("verify: malformed request from uid %u pid "
			    "%d: %s", (unsigned)p->uid, (int)p->pid, why);
		reply_error(c, h, PROTO_EBADREQ, "malformed VERIFY request: %s",
		    why);
		return -1;
	}
	x->uid = p->uid;
	rc = verify_run(v, x);
	if (rc != PROTO_OK) {
		reply_error(c, h, (uint32_t)rc, "key store failure; see the "
		    "apikeyd log");
		return 0;
	}
	log_outcome(v, x, c, p);
	proto_enc_verify_reply(reply_begin(&r, h, 0), &x->rep);
	if (!x->hold.needed) {
		count_reply(x->rep.code);
		return reply_send(&r, c, 0) == 0 ? 0 : -1;
	}
	if (hold_reply(v, x, &r, c) != 0)
		reply_error(c, h, PROTO_EINTERNAL, "out of memory");
	else
		count_reply(x->rep.code);
	return 0;
}
