/*
 * admin_purge.c - removing expired keys, on request (KEY_PURGE_EXPIRED)
 * and on the daemon's own maintenance timer, and the rest of that timer's
 * housekeeping: audit retention and the admin group's gid.
 *
 * A user's purge walks only what the user may manage, through the owner
 * index: their own keys and those of the tenants they administer. It used
 * to scan every key of every user inside one write transaction; another
 * user's 100,000 expired keys then cost 10 s and 2 GB and held up every
 * other write. Now all purging runs in turns: a read transaction looks at
 * up to SCAN_BATCH keys and collects up to PURGE_BATCH expired ones, then
 * a short write transaction re-checks and deletes those, and so on. No
 * write transaction is ever long, and nothing is held between turns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/account.h"
#include "admin_int.h"
#include "clock.h"
#include "log.h"
#include "reply.h"

#define PURGE_BATCH	256	/* keys deleted per write transaction */
#define SCAN_BATCH	1024	/* keys looked at per read transaction */
#define MAINT_SCAN	(64 * 1024)	/* keys maintenance looks at per run */
#define PRUNE_BATCH	1000	/* audit entries deleted per transaction */
#define PRUNE_TURNS	100	/* prune transactions per maintenance run */

/* The walk callback's "enough for this turn". */
#define SCAN_PAUSE	1

struct scan {
	struct areq	*r;
	uint64_t	 now;		/* seconds */
	uint64_t	 grace;		/* seconds after expiry */
	int		 mine_only;	/* skip user keys the caller lost */
	char		 after[TOKEN_ID_LEN + 1];
	char		 ids[PURGE_BATCH][TOKEN_ID_LEN + 1];
	size_t		 n;
	size_t		 seen;		/* this turn */
	size_t		 examined;	/* in all */
	uint32_t	 purged;
};

static int
expired(const struct proto_key *k, uint64_t now, uint64_t grace)
{
	return k->expires_at != 0 && now >= k->expires_at &&
	    now - k->expires_at >= grace;
}

static int
collect(const struct store_key *k, void *arg)
{
	struct scan	*s = arg;

	if (s->n == PURGE_BATCH || s->seen >= SCAN_BATCH)
		return SCAN_PAUSE;
	s->seen++;
	s->examined++;
	memcpy(s->after, k->info.id, sizeof(s->after));
	if (!expired(&k->info, s->now, s->grace) ||
	    (s->mine_only && !authz_owns(&s->r->who, &k->info.owner)))
		return 0;
	memcpy(s->ids[s->n++], k->info.id, sizeof(s->ids[0]));
	return 0;
}

/* Deletes the keys collected, each checked again in the write
 * transaction (it may have been renewed since the read). */
static int
purge_batch(struct scan *s)
{
	struct store_key k;
	struct store_txn *txn;
	uint32_t	 n = 0;
	size_t		 i;
	int		 rc;

	if ((rc = store_write_begin(s->r->a->store, &txn)) != 0)
		return rc;
	for (i = 0; i < s->n; i++) {
		if ((rc = store_key_get(txn, s->ids[i], &k)) == STORE_ENOTFOUND)
			continue;
		if (rc == 0 && !expired(&k.info, s->now, s->grace))
			continue;
		if (rc != 0 || (rc = store_key_del(txn, s->ids[i])) != 0 ||
		    (rc = admin_audit(s->r, txn, "key.purge", s->ids[i],
		    "expired %llus ago%s", (unsigned long long)(s->now -
		    k.info.expires_at), s->r->c == NULL ?
		    ", past expired_key_grace" : "")) != 0)
			break;
		n++;
	}
	if (rc != 0 && rc != STORE_ENOTFOUND) {
		admin_abort(s->r, txn);
		return rc;
	}
	if ((rc = admin_commit(s->r, txn)) == 0)
		s->purged += n;
	return rc;
}

/*
 * One read turn of a walk, then its deletions. kind 0 walks every key,
 * else one owner's. Returns 1 when the walk has more, 0 at its end, or a
 * store error.
 */
static int
scan_turn(struct scan *s, uint8_t kind, uint32_t uid, const char *tenant)
{
	struct store_txn *txn;
	int		 rc, more;

	s->n = 0;
	s->seen = 0;
	if ((rc = store_read_begin(s->r->a->store, &txn)) != 0)
		return rc;
	rc = kind == 0 ? store_key_foreach_after(txn, s->after, collect, s) :
	    store_key_foreach_owner_after(txn, kind, uid, tenant, s->after,
	    collect, s);
	store_end(txn);
	if (rc < 0)
		return rc;
	more = rc == SCAN_PAUSE;
	if (s->n > 0 && (rc = purge_batch(s)) != 0)
		return rc;
	return more;
}

static int
scan_all(struct scan *s, uint8_t kind, uint32_t uid, const char *tenant)
{
	int	 rc;

	s->after[0] = '\0';
	while ((rc = scan_turn(s, kind, uid, tenant)) == 1)
		;
	return rc;
}

/* The names of the tenants the caller administers. */
struct names {
	struct areq	*r;
	char		(*v)[PROTO_TENANT_MAX + 1];
	size_t		 n, cap;
};

static int
add_tenant(const struct proto_tenant *t, void *arg)
{
	struct names	*nm = arg;
	void		*p;

	if (!authz_tenant_admin(&nm->r->who, t))
		return 0;
	if (nm->n == nm->cap) {
		nm->cap = nm->cap ? nm->cap * 2 : 8;
		if ((p = reallocarray(nm->v, nm->cap, sizeof(*nm->v))) == NULL)
			return STORE_EIO;
		nm->v = p;
	}
	memcpy(nm->v[nm->n++], t->name, sizeof(t->name));
	return 0;
}

/* A non-admin's purge: their own keys, then their tenants' keys. */
static int
purge_owned(struct scan *s)
{
	struct names	 nm = { s->r, NULL, 0, 0 };
	struct store_txn *txn;
	size_t		 i;
	int		 rc;

	s->mine_only = 1;
	if ((rc = scan_all(s, PROTO_OWNER_USER, (uint32_t)s->r->who.uid,
	    NULL)) != 0)
		return rc;
	s->mine_only = 0;
	if ((rc = store_read_begin(s->r->a->store, &txn)) != 0)
		return rc;
	rc = store_tenant_foreach(txn, add_tenant, &nm);
	store_end(txn);
	for (i = 0; rc == 0 && i < nm.n; i++)
		rc = scan_all(s, PROTO_OWNER_TENANT, 0, nm.v[i]);
	free(nm.v);
	return rc;
}

int
admin_key_purge_expired(struct areq *r)
{
	struct reply	 rp;
	struct scan	*s;
	int		 rc;

	if ((rc = proto_dec_empty(r->body)) != 0)
		return admin_bad_request(r, rc);
	if (admin_space_check(r, 0))
		return 0;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		reply_error(r->c, r->h, PROTO_EINTERNAL, "out of memory");
		return 0;
	}
	s->r = r;
	s->now = clock_now();
	rc = r->who.admin ? scan_all(s, 0, 0, NULL) : purge_owned(s);
	log_debug("purge: uid %u examined %zu keys, purged %u",
	    (unsigned)r->who.uid, s->examined, s->purged);
	if (rc != 0) {
		/* The turns committed so far stay purged. */
		free(s);
		return admin_store_fail(r, rc, "purge");
	}
	proto_enc_count(reply_begin(&rp, r->h, 0), s->purged);
	free(s);
	return reply_send(&rp, r->c, 0) == 0 ? 0 : -1;
}

/* --- maintenance --------------------------------------------------------- */

void
admin_refresh_gid(struct admin *a)
{
	gid_t	 gid;
	uint64_t v = 0;

	if (a->cfg->admin_group[0] != '\0' &&
	    account_group_by_name(a->cfg->admin_group, &gid) == ACCOUNT_OK)
		v = ADMIN_GID_KNOWN | (uint64_t)gid;
	atomic_store(a->admin_gid, v);
}

/*
 * Keys expired for longer than expired_key_grace, MAINT_SCAN keys per run
 * at most, going on where the last run stopped, so a large store is
 * covered over a few runs without one long stall.
 */
static void
maintain_purge(struct areq *r)
{
	struct scan	*s;
	int		 rc = 1;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return;
	s->r = r;
	s->now = clock_now();
	s->grace = r->a->cfg->expired_grace_ms / 1000;
	memcpy(s->after, r->a->purge_after, sizeof(s->after));
	while (s->examined < MAINT_SCAN && (rc = scan_turn(s, 0, 0,
	    NULL)) == 1)
		;
	if (rc < 0)
		log_warnx("maintenance: purging expired keys: %s",
		    store_strerror(rc));
	/* At the end (or on an error) the next run starts over. */
	if (rc == 1)
		memcpy(r->a->purge_after, s->after, sizeof(s->after));
	else
		r->a->purge_after[0] = '\0';
	if (s->purged > 0)
		log_info("maintenance: purged %u keys expired for longer than "
		    "expired_key_grace (%zu looked at)", s->purged,
		    s->examined);
	free(s);
}

/* Audit entries beyond audit_max_entries or older than audit_max_age. */
static void
maintain_audit(struct areq *r)
{
	const struct config *cfg = r->a->cfg;
	struct store_txn *txn;
	uint64_t	 before = 0, now = clock_now(), total = 0;
	uint32_t	 n = 0;
	int		 i, rc = 0;

	if (cfg->audit_max_age_ms != 0 && now > cfg->audit_max_age_ms / 1000)
		before = now - cfg->audit_max_age_ms / 1000;
	if (cfg->audit_max_entries == 0 && before == 0)
		return;
	for (i = 0; i < PRUNE_TURNS; i++) {
		if ((rc = store_write_begin(r->a->store, &txn)) != 0)
			break;
		if ((rc = store_audit_prune(txn, cfg->audit_max_entries,
		    before, PRUNE_BATCH, &n)) != 0) {
			store_end(txn);
			break;
		}
		if (n == 0) {
			store_end(txn);
			break;
		}
		if ((rc = store_commit(txn)) != 0)
			break;
		total += n;
		if (n < PRUNE_BATCH)
			break;
	}
	if (rc != 0)
		log_warnx("maintenance: audit retention: %s",
		    store_strerror(rc));
	if (total > 0)
		log_info("maintenance: pruned %llu audit entries "
		    "(audit_max_entries, audit_max_age)",
		    (unsigned long long)total);
}

void
admin_maintain(void *arg)
{
	struct admin	*a = arg;
	struct areq	 r;
	uint64_t	 size, used, limit;

	memset(&r, 0, sizeof(r));
	r.a = a;
	r.who.uid = 0;
	r.who.pid = getpid();
	r.who.admin = 1;
	r.who.known = 1;
	if (admin_map_usage(a, &size, &used, &limit) == 0)
		r.tight = used >= limit;
	admin_refresh_gid(a);
	if (a->cfg->expired_grace_ms != 0)
		maintain_purge(&r);
	maintain_audit(&r);
	admin_drop_logs(&r);
}
