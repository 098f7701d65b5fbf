/*
 * unit_verify.c - the verify decision (verify_run in daemon/verify.c) over
 * a real store, pepper, limits and ledger in a temporary directory, with a
 * manual clock (clock.h): each test sets the wall-clock seconds and the
 * monotonic milliseconds it needs, so expiry, the grace of a rotated
 * secret, refills, rate windows and back-off are reached exactly, without
 * sleeping. Keys are written to the store directly, as the admin thread
 * would have written them.
 *
 * verify_run needs no connection: a test fills the context's request,
 * runs it and reads the reply, the credits to hold and the throttle flag.
 * Credits are committed through the ledger, whose wake function here
 * signals the test, which then completes them as the verify thread would.
 */
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../common/secret.h"
#include "../daemon/admin.h"
#include "../daemon/clock.h"
#include "../daemon/keys.h"
#include "../daemon/ledger.h"
#include "../daemon/limits.h"
#include "../daemon/store.h"
#include "../daemon/verify.h"
#include "../proto/token.h"
#include "unitlib.h"

#define MAP_SIZE	(16u * 1024 * 1024)
#define T0		1700000000ULL		/* wall clock, seconds */
#define MS0		5000000ULL		/* monotonic, ms */
#define UID		1000
/* Throttling: 3 failures per 10 s window, then 5 s of back-off. */
#define FAIL_MAX	3
#define FAIL_WINDOW	10000ULL
#define FAIL_BACKOFF	5000ULL

static char			 tmpdir[64];
static struct store		*st;
static struct pepper		*pep;
static struct limits		*lim;
static struct ledger		*led;
static struct clock_manual	 clk;
static struct verify_ctx	*x;
static struct verifier		 v;
static _Atomic uint64_t		 admin_gid;

/* Held verifies called back by the ledger (done), and their status. */
static int			 done_calls;
static int			 done_rc;

static void
done(void *arg, int rc)
{
	(void)arg;
	done_calls++;
	done_rc = rc;
}

/* Waits for the commit thread's wake (10 s at most), then completes. */
static void
await_commit(void)
{
	unit_wake_wait();
	ledger_complete(led, 0);
}

/* Opens the ledger with one lane (0), as apikeyd with one verify thread. */
static void
open_ledger(void)
{
	void	*wake_args[1] = { NULL };

	/* Uses are written at close only, unless a test closes early. */
	cr_assert_eq(ledger_open(st, 3600 * 1000, 1, unit_wake, wake_args,
	    &led), 0);
	v.ledger = led;
}

/* Hands the credits the last verify reserved to the ledger, as
 * verify_handle does, to be committed and called back (done). */
static void
hand_over(void)
{
	cr_assert_eq(x->hold.needed, 1);
	ledger_consume(led, x->hold.op, 0, done, NULL);
	x->hold.needed = 0;
	x->hold.op = NULL;
}

/* Gives back credits the last verify reserved and the test did not hand
 * over, as verify_handle does when the reply cannot be made. */
static void
give_back(void)
{
	if (x->hold.needed)
		ledger_cancel(led, x->hold.op);
	x->hold.needed = 0;
	x->hold.op = NULL;
}

static void
setup(void)
{
	struct limits_conf lc = { FAIL_MAX, FAIL_WINDOW, FAIL_BACKOFF, 0, 0 };

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/unit_verify.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
	cr_assert_eq(keys_init(), 0);
	cr_assert_eq(keys_pepper_load(tmpdir, &pep), 0);
	cr_assert_eq(store_open(tmpdir, MAP_SIZE, &st), 0);
	cr_assert_eq(limits_new(&lc, &lim), 0);
	unit_wake_init();
	cr_assert_not_null(x = calloc(1, sizeof(*x)));
	clock_manual_init(&clk, T0, MS0);
	atomic_store(&admin_gid, ADMIN_GID_KNOWN | 4242);
	memset(&v, 0, sizeof(v));
	open_ledger();
	v.store = st;
	v.pepper = pep;
	v.limits = lim;
	v.admin_gid = &admin_gid;
	v.throttle_backoff_ms = FAIL_BACKOFF;
	v.clock = &clk.clock;
	v.ctx = x;
}

static void
teardown(void)
{
	give_back();
	ledger_close(led);
	free(x);
	limits_free(lim);
	store_close(st);
	keys_pepper_free(pep);
	unit_rmtree(tmpdir);
}

TestSuite(verify_run, .init = setup, .fini = teardown, .timeout = 60);

/* --- fixtures -------------------------------------------------------- */

/*
 * A new enabled user key of uid UID named "k", made at T0, with a fresh
 * secret: its token goes to token (TOKEN_MAX + 1 bytes). Not stored yet.
 */
static void
key_new(struct store_key *k, char *token)
{
	memset(k, 0, sizeof(*k));
	keys_new_id(k->info.id);
	cr_assert_eq(keys_new_secret(pep, TOKEN_DEFAULT_PREFIX, k->info.id,
	    token, TOKEN_MAX + 1, k->hash), 0);
	strcpy(k->info.prefix, TOKEN_DEFAULT_PREFIX);
	strcpy(k->info.name, "k");
	k->info.owner.kind = PROTO_OWNER_USER;
	k->info.owner.uid = UID;
	strcpy(k->info.owner.user, "alice");
	k->info.enabled = 1;
	k->info.created_at = T0;
}

static void
key_put(const struct store_key *k)
{
	struct store_txn *txn;

	cr_assert_eq(store_write_begin(st, &txn), 0);
	cr_assert_eq(store_key_put(txn, k), 0);
	cr_assert_eq(store_commit(txn), 0);
}

static void
tenant_put(const char *name, int enabled)
{
	struct proto_tenant t;
	struct store_txn *txn;

	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "%s", name);
	snprintf(t.group, sizeof(t.group), "%s-group", name);
	t.gid = 20001;
	t.enabled = (uint8_t)enabled;
	t.created_at = T0;
	cr_assert_eq(store_write_begin(st, &txn), 0);
	cr_assert_eq(store_tenant_put(txn, &t), 0);
	cr_assert_eq(store_commit(txn), 0);
}

static void
tenant_del(const char *name)
{
	struct store_txn *txn;

	cr_assert_eq(store_write_begin(st, &txn), 0);
	cr_assert_eq(store_tenant_del(txn, name), 0);
	cr_assert_eq(store_commit(txn), 0);
}

static struct store_usage
usage_get(const char *id)
{
	struct store_usage u;
	struct store_txn *txn;

	memset(&u, 0, sizeof(u));
	cr_assert_eq(store_read_begin(st, &txn), 0);
	cr_assert_eq(store_usage_get(txn, id, &u), 0);
	store_end(txn);
	return u;
}

/* A user key with credits: remaining now, refilled to refill every
 * interval seconds (0: never), generation 1. Stored with its usage. */
static void
credit_key(struct store_key *k, char *token, uint64_t remaining,
    uint64_t refill, uint64_t interval)
{
	key_new(k, token);
	k->info.limits.has_credits = 1;
	k->info.limits.remaining = remaining;
	k->info.limits.refill_amount = refill;
	k->info.limits.refill_interval = interval;
	key_put(k);
	unit_usage_put(st, k->info.id, remaining, T0, 1);
}

/* Verifies token as uid (from no remote host unless rhost) with cost. */
static uint32_t
run_as(uid_t uid, const char *token, const char *rhost, uint32_t cost)
{
	memset(&x->req, 0, sizeof(x->req));
	snprintf(x->req.token, sizeof(x->req.token), "%s", token);
	snprintf(x->req.rhost, sizeof(x->req.rhost), "%s", rhost);
	x->req.cost = cost;
	x->uid = uid;
	give_back();
	cr_assert_eq(verify_run(&v, x), PROTO_OK);
	return x->rep.code;
}

/*
 * Verifies token as uid UID, from a remote host of its own each time, so
 * that refusals in a test about something else never add up to failure
 * throttling (the throttle test names its sources).
 */
static uint32_t
run(const char *token)
{
	static unsigned	 n;
	char		 rhost[32];

	snprintf(rhost, sizeof(rhost), "src%u", n++);
	return run_as(UID, token, rhost, 0);
}

static void
expect_code(const char *token, uint32_t want)
{
	uint32_t	 got = run(token);

	cr_assert_eq(got, want, "got %s (%s), want %s", proto_code_name(got),
	    x->rep.reason, proto_code_name(want));
}

/* --- outcomes ---------------------------------------------------------- */

Test(verify_run, valid_fills_the_reply)
{
	struct store_key k;
	char		 tok[TOKEN_MAX + 1];

	key_new(&k, tok);
	k.info.expires_at = T0 + 3600;
	strcpy(k.info.permissions.v[0], "doc:read");
	k.info.permissions.n = 1;
	strcpy(k.info.metadata, "{\"team\":\"ops\"}");
	key_put(&k);
	expect_code(tok, PROTO_VALID);
	cr_assert_str_eq(x->rep.reason, "");
	cr_assert_str_eq(x->rep.key_id, k.info.id);
	cr_assert_str_eq(x->rep.name, "k");
	cr_assert_eq(x->rep.owner.kind, PROTO_OWNER_USER);
	cr_assert_eq(x->rep.owner.uid, UID);
	cr_assert_str_eq(x->rep.owner.user, "alice");
	cr_assert_eq(x->rep.permissions.n, 1);
	cr_assert_str_eq(x->rep.metadata, "{\"team\":\"ops\"}");
	cr_assert_eq(x->rep.expires_at, T0 + 3600);
	cr_assert_eq(x->rep.has_credits, 0);
	cr_assert_eq(x->rep.has_admin_gid, 1);
	cr_assert_eq(x->rep.admin_gid, 4242);
	cr_assert_eq(x->rep.allow_privileged, 0);
	cr_assert_eq(x->hold.needed, 0);
	cr_assert_eq(x->throttle_began, 0);
	cr_assert_str_eq(x->log_id, k.info.id);
	/* Until admin_group is known, the reply says so. */
	atomic_store(&admin_gid, 0);
	expect_code(tok, PROTO_VALID);
	cr_assert_eq(x->rep.has_admin_gid, 0);
}

Test(verify_run, malformed_logs_no_id)
{
	struct store_key k;
	char		 tok[TOKEN_MAX + 1];

	key_new(&k, tok);
	key_put(&k);
	/* One character short: the checksum no longer matches. */
	tok[strlen(tok) - 1] = '\0';
	expect_code(tok, PROTO_MALFORMED);
	cr_assert_str_eq(x->log_id, "-");
	cr_assert_str_eq(x->rep.key_id, "");
	expect_code("hunter2", PROTO_MALFORMED);
	cr_assert_str_eq(x->log_id, "-");
}

Test(verify_run, unknown_wrong_secret_and_prefix_are_not_found)
{
	struct store_key k, other;
	struct token	 t;
	char		 tok[TOKEN_MAX + 1], never[TOKEN_MAX + 1];
	char		 relabel[TOKEN_MAX + 1], wrong[TOKEN_MAX + 1];
	uint8_t		 h[KEYS_HASH_LEN];

	key_new(&k, tok);
	key_put(&k);
	key_new(&other, never);			/* never stored */
	/* The right id with another secret. */
	cr_assert_eq(keys_new_secret(pep, "ak", k.info.id, wrong,
	    sizeof(wrong), h), 0);
	/* The right secret under another prefix, with a good checksum. */
	cr_assert_eq(token_parse(tok, strlen(tok), &t), 0);
	cr_assert_eq(token_format("prod", t.id, t.secret, relabel,
	    sizeof(relabel)), 0);
	secret_wipe(&t, sizeof(t));

	expect_code(never, PROTO_NOT_FOUND);
	cr_assert_str_eq(x->rep.reason, "no such key");
	cr_assert_str_eq(x->log_id, other.info.id);
	expect_code(wrong, PROTO_NOT_FOUND);
	cr_assert_str_eq(x->rep.key_id, "", "no key details for a failure");
	expect_code(relabel, PROTO_NOT_FOUND);
	expect_code(tok, PROTO_VALID);
}

/*
 * Expiry is at expires_at exactly, on the wall clock: the key is VALID
 * the second before and EXPIRED from then on; a clock stepped back makes
 * it VALID again, since expiry is about the time of day.
 */
Test(verify_run, expires_at_the_second_on_the_wall_clock)
{
	struct store_key k;
	char		 tok[TOKEN_MAX + 1];

	key_new(&k, tok);
	k.info.expires_at = T0 + 100;
	key_put(&k);
	clk.now = T0 + 99;
	expect_code(tok, PROTO_VALID);
	clk.now = T0 + 100;
	expect_code(tok, PROTO_EXPIRED);
	cr_assert_str_eq(x->rep.reason, "key expired");
	/* A refused key still names itself, with its expiry. */
	cr_assert_str_eq(x->rep.key_id, k.info.id);
	cr_assert_eq(x->rep.expires_at, T0 + 100);
	/* The monotonic clock has nothing to do with it. */
	clk.now_ms += 365ULL * 24 * 3600 * 1000;
	clk.now = T0 + 99;
	expect_code(tok, PROTO_VALID);
	clk.now = T0 + 10 * 365 * 24 * 3600ULL;
	expect_code(tok, PROTO_EXPIRED);
	/* No expiry: never. */
	k.info.expires_at = 0;
	key_put(&k);
	expect_code(tok, PROTO_VALID);
}

/* The same against the system clock: a key whose expiry has passed. */
Test(verify_run, system_clock_is_the_wall_clock)
{
	struct store_key k, later;
	char		 tok[TOKEN_MAX + 1], ltok[TOKEN_MAX + 1];
	uint64_t	 now = clock_now();

	v.clock = &clock_system;
	key_new(&k, tok);
	k.info.expires_at = now - 10;
	key_put(&k);
	key_new(&later, ltok);
	later.info.expires_at = now + 3600;
	key_put(&later);
	expect_code(tok, PROTO_EXPIRED);
	expect_code(ltok, PROTO_VALID);
}

Test(verify_run, disabled_comes_before_expiry)
{
	struct store_key k;
	char		 tok[TOKEN_MAX + 1];

	key_new(&k, tok);
	k.info.enabled = 0;
	k.info.expires_at = T0 + 1;
	key_put(&k);
	expect_code(tok, PROTO_DISABLED);
	cr_assert_str_eq(x->rep.reason, "key is disabled");
	clk.now = T0 + 2;
	expect_code(tok, PROTO_DISABLED);
	k.info.enabled = 1;
	key_put(&k);
	expect_code(tok, PROTO_EXPIRED);
	clk.now = T0;
	expect_code(tok, PROTO_VALID);
}

/* Order: enabled, then tenant enabled, then expiry. */
Test(verify_run, tenant_disabled_comes_after_enabled_before_expiry)
{
	struct store_key k, off, old;
	char		 tok[TOKEN_MAX + 1], otok[TOKEN_MAX + 1];
	char		 xtok[TOKEN_MAX + 1];

	tenant_put("acme", 1);
	key_new(&k, tok);
	key_new(&off, otok);
	key_new(&old, xtok);
	k.info.owner.kind = off.info.owner.kind = old.info.owner.kind =
	    PROTO_OWNER_TENANT;
	strcpy(k.info.owner.tenant, "acme");
	strcpy(off.info.owner.tenant, "acme");
	strcpy(old.info.owner.tenant, "acme");
	off.info.enabled = 0;
	old.info.expires_at = T0 + 10;
	key_put(&k);
	key_put(&off);
	key_put(&old);
	clk.now = T0 + 10;

	expect_code(tok, PROTO_VALID);
	/* The owner's group comes from the tenant record. */
	cr_assert_eq(x->rep.owner.kind, PROTO_OWNER_TENANT);
	cr_assert_str_eq(x->rep.owner.tenant, "acme");
	cr_assert_str_eq(x->rep.owner.group, "acme-group");
	cr_assert_eq(x->rep.owner.gid, 20001);
	expect_code(xtok, PROTO_EXPIRED);

	tenant_put("acme", 0);
	expect_code(tok, PROTO_TENANT_DISABLED);
	cr_assert_str_eq(x->rep.reason, "tenant 'acme' is disabled");
	expect_code(otok, PROTO_DISABLED);
	expect_code(xtok, PROTO_TENANT_DISABLED);

	tenant_put("acme", 1);
	expect_code(xtok, PROTO_EXPIRED);
	/* A tenant that is gone takes its keys with it. */
	tenant_del("acme");
	expect_code(tok, PROTO_NOT_FOUND);
	cr_assert_str_eq(x->rep.reason, "tenant no longer exists");
}

/* Expiry comes before the restrictions (service, then permissions). */
Test(verify_run, expiry_comes_before_restrictions)
{
	struct store_key k;
	char		 tok[TOKEN_MAX + 1];

	key_new(&k, tok);
	strcpy(k.info.services.v[0], "sshd");
	k.info.services.n = 1;
	k.info.expires_at = T0 + 5;
	key_put(&k);
	memset(&x->req, 0, sizeof(x->req));
	strcpy(x->req.token, tok);
	strcpy(x->req.service, "su");
	x->uid = UID;
	give_back();
	cr_assert_eq(verify_run(&v, x), PROTO_OK);
	cr_assert_eq(x->rep.code, PROTO_FORBIDDEN);
	clk.now = T0 + 5;
	give_back();
	cr_assert_eq(verify_run(&v, x), PROTO_OK);
	cr_assert_eq(x->rep.code, PROTO_EXPIRED);
	strcpy(x->req.service, "sshd");
	strcpy(x->req.rhost, "elsewhere");	/* not throttled */
	give_back();
	cr_assert_eq(verify_run(&v, x), PROTO_OK);
	cr_assert_eq(x->rep.code, PROTO_EXPIRED);
}

/* A rotated key's previous secret works until grace_until, not at it. */
Test(verify_run, previous_secret_until_grace_ends)
{
	struct store_key k;
	char		 old[TOKEN_MAX + 1], cur[TOKEN_MAX + 1];

	key_new(&k, old);
	memcpy(k.prev_hash, k.hash, sizeof(k.hash));
	cr_assert_eq(keys_new_secret(pep, "ak", k.info.id, cur, sizeof(cur),
	    k.hash), 0);
	k.info.grace_until = T0 + 60;
	key_put(&k);
	clk.now = T0 + 59;
	expect_code(old, PROTO_VALID);
	expect_code(cur, PROTO_VALID);
	clk.now = T0 + 60;
	expect_code(old, PROTO_NOT_FOUND);
	expect_code(cur, PROTO_VALID);
}

/* --- credits ----------------------------------------------------------- */

Test(verify_run, credits_are_held_until_committed)
{
	struct store_key k;
	char		 tok[TOKEN_MAX + 1];

	credit_key(&k, tok, 3, 0, 0);
	cr_assert_eq(run_as(UID, tok, "", 2), PROTO_VALID);
	cr_assert_eq(x->rep.has_credits, 1);
	cr_assert_eq(x->rep.remaining, 1);
	cr_assert_eq(x->hold.cost, 2);
	/* The reply goes to the ledger; until it is committed, the credits
	 * are in flight and nobody else may spend them. */
	hand_over();
	cr_assert_eq(run_as(UID, tok, "", 2), PROTO_USAGE_EXCEEDED);
	cr_assert_str_eq(x->rep.reason, "1 credit left, 2 needed");
	cr_assert_eq(x->rep.remaining, 1);
	cr_assert_eq(x->hold.needed, 0);
	await_commit();
	cr_assert_eq(done_calls, 1);
	cr_assert_eq(done_rc, 0);
	cr_assert_eq(usage_get(k.info.id).remaining, 1);
	/* A cost of 0 means 1. */
	cr_assert_eq(run_as(UID, tok, "", 0), PROTO_VALID);
	cr_assert_eq(x->hold.cost, 1);
	cr_assert_eq(x->rep.remaining, 0);
}

/*
 * The commit has landed but the verify loop has not yet run
 * ledger_complete: the stored credits already count the consumption, so
 * the last credit is still there for the next verify.
 */
Test(verify_run, committed_credits_are_not_counted_twice)
{
	struct store_key k;
	char		 tok[TOKEN_MAX + 1];

	credit_key(&k, tok, 2, 0, 0);
	cr_assert_eq(run_as(UID, tok, "", 1), PROTO_VALID);
	hand_over();
	unit_wake_wait();
	cr_assert_eq(done_calls, 0);
	cr_assert_eq(usage_get(k.info.id).remaining, 1);
	cr_assert_eq(run_as(UID, tok, "", 1), PROTO_VALID, "%s",
	    x->rep.reason);
	cr_assert_eq(x->rep.remaining, 0);
	hand_over();
	cr_assert_eq(run_as(UID, tok, "", 1), PROTO_USAGE_EXCEEDED);
	ledger_complete(led, 0);
	await_commit();
	cr_assert_eq(done_calls, 2);
	cr_assert_eq(usage_get(k.info.id).remaining, 0);
}

Test(verify_run, credits_without_a_usage_record_are_none)
{
	struct store_key k;
	char		 tok[TOKEN_MAX + 1];

	key_new(&k, tok);
	k.info.limits.has_credits = 1;
	key_put(&k);
	expect_code(tok, PROTO_USAGE_EXCEEDED);
	cr_assert_str_eq(x->rep.reason, "0 credits left, 1 needed");
	cr_assert_eq(x->hold.needed, 0);
}

/*
 * A refill is due refill_interval seconds after the last one, by the wall
 * clock: not a second earlier. The verify that finds it due holds a
 * consumption that refills first, and the ledger stores the refill time.
 */
Test(verify_run, refill_at_a_set_time)
{
	struct store_key k;
	char		 tok[TOKEN_MAX + 1];

	credit_key(&k, tok, 0, 5, 3600);
	clk.now = T0 + 3599;
	expect_code(tok, PROTO_USAGE_EXCEEDED);
	cr_assert_eq(x->rep.remaining, 0);
	clk.now = T0 + 3600;
	expect_code(tok, PROTO_VALID);
	cr_assert_eq(x->rep.remaining, 4);
	hand_over();
	await_commit();
	cr_assert_eq(usage_get(k.info.id).remaining, 4);
	cr_assert_eq(usage_get(k.info.id).last_refill_at, T0 + 3600);
	/* The next one counts from the new refill time. */
	clk.now = T0 + 7199;
	expect_code(tok, PROTO_VALID);
	cr_assert_eq(x->rep.remaining, 3);
	hand_over();
	await_commit();
	cr_assert_eq(usage_get(k.info.id).remaining, 3);
	cr_assert_eq(usage_get(k.info.id).last_refill_at, T0 + 3600);
	clk.now = T0 + 7200;
	expect_code(tok, PROTO_VALID);
	cr_assert_eq(x->rep.remaining, 4);
	hand_over();
	await_commit();
	cr_assert_eq(usage_get(k.info.id).remaining, 4);
	cr_assert_eq(usage_get(k.info.id).last_refill_at, T0 + 7200);
}

/* --- rate limits ------------------------------------------------------- */

/* A fixed window from the first verify, on the monotonic clock. */
Test(verify_run, rate_limit_window_on_the_monotonic_clock)
{
	struct store_key k;
	char		 tok[TOKEN_MAX + 1];

	key_new(&k, tok);
	k.info.limits.rate_max = 2;
	k.info.limits.rate_window_ms = 1000;
	key_put(&k);
	expect_code(tok, PROTO_VALID);
	clk.now_ms += 100;
	expect_code(tok, PROTO_VALID);
	clk.now_ms += 300;
	expect_code(tok, PROTO_RATE_LIMITED);
	cr_assert_eq(x->rep.retry_after_ms, 600);
	cr_assert_str_eq(x->rep.reason, "rate limit of 2 per 1000 ms reached");
	/* Being refused is not a failure: no throttling for it. */
	cr_assert_eq(x->throttle_began, 0);
	/* A step of the wall clock changes nothing. */
	clk.now += 86400;
	expect_code(tok, PROTO_RATE_LIMITED);
	clk.now_ms = MS0 + 999;
	expect_code(tok, PROTO_RATE_LIMITED);
	cr_assert_eq(x->rep.retry_after_ms, 1);
	clk.now_ms = MS0 + 1000;
	expect_code(tok, PROTO_VALID);
}

/* A verify refused earlier takes no rate slot; a refused one no credit. */
Test(verify_run, refusals_take_no_slot_and_no_credit)
{
	struct store_key k;
	char		 tok[TOKEN_MAX + 1];

	credit_key(&k, tok, 10, 0, 0);
	k.info.limits.rate_max = 1;
	k.info.limits.rate_window_ms = 1000;
	k.info.enabled = 0;
	key_put(&k);
	expect_code(tok, PROTO_DISABLED);
	expect_code(tok, PROTO_DISABLED);
	cr_assert_eq(x->hold.needed, 0);
	k.info.enabled = 1;
	key_put(&k);
	expect_code(tok, PROTO_VALID);
	cr_assert_eq(x->hold.needed, 1);
	expect_code(tok, PROTO_RATE_LIMITED);
	cr_assert_eq(x->hold.needed, 0);
	cr_assert_eq(x->rep.has_credits, 0);
}

/* --- failure throttling ---------------------------------------------- */

Test(verify_run, failures_throttle_the_source_but_never_a_valid_key)
{
	struct store_key k, gone;
	char		 tok[TOKEN_MAX + 1], bad[TOKEN_MAX + 1];
	int		 i;

	key_new(&k, tok);
	key_put(&k);
	key_new(&gone, bad);				/* never stored */
	for (i = 1; i <= FAIL_MAX; i++) {
		cr_assert_eq(run_as(UID, bad, "h1", 0), PROTO_NOT_FOUND);
		/* Set once, by the failure that starts the back-off. */
		cr_assert_eq(x->throttle_began, i == FAIL_MAX, "failure %d",
		    i);
	}
	cr_assert_eq(run_as(UID, bad, "h1", 0), PROTO_RATE_LIMITED);
	cr_assert_str_eq(x->rep.reason,
	    "too many failed verifies from this source; retry later");
	cr_assert_eq(x->rep.retry_after_ms, FAIL_BACKOFF);
	cr_assert_eq(x->throttle_began, 0);
	/* Malformed tokens are failures too. */
	cr_assert_eq(run_as(UID, "nonsense", "h1", 0), PROTO_RATE_LIMITED);
	/* A valid key is answered as if there were no throttle. */
	cr_assert_eq(run_as(UID, tok, "h1", 0), PROTO_VALID);
	/* Other sources are not throttled: another host, another uid. */
	cr_assert_eq(run_as(UID, bad, "h2", 0), PROTO_NOT_FOUND);
	cr_assert_eq(run_as(UID + 1, bad, "h1", 0), PROTO_NOT_FOUND);
	/* The back-off is monotonic time. */
	clk.now_ms += FAIL_BACKOFF - 1;
	cr_assert_eq(run_as(UID, bad, "h1", 0), PROTO_RATE_LIMITED);
	cr_assert_eq(x->rep.retry_after_ms, 1);
	clk.now_ms += 1;
	cr_assert_eq(run_as(UID, bad, "h1", 0), PROTO_NOT_FOUND);
}

/* --- uses ---------------------------------------------------------------- */

/* A VALID verify notes the use at the wall-clock time; a refusal not. */
Test(verify_run, valid_verifies_note_their_use)
{
	struct store_key k;
	char		 tok[TOKEN_MAX + 1];
	struct store_usage u;

	key_new(&k, tok);
	k.info.expires_at = T0 + 100;
	key_put(&k);
	clk.now = T0 + 7;
	expect_code(tok, PROTO_VALID);
	clk.now = T0 + 9;
	expect_code(tok, PROTO_VALID);
	clk.now = T0 + 100;
	expect_code(tok, PROTO_EXPIRED);
	give_back();
	ledger_close(led);				/* writes the uses */
	open_ledger();
	u = usage_get(k.info.id);
	cr_assert_eq(u.last_used, T0 + 9);
	cr_assert_eq(u.use_count, 2);
}

/* --- check only ------------------------------------------------------------ */

/*
 * A check-only verify (pam_apikey's account phase, after authenticate
 * used the key) runs every check but the usage limits and uses nothing:
 * no rate slot, no credit, no recorded use. It still says what is left.
 */
Test(verify_run, check_only_uses_nothing)
{
	struct store_key k;
	char		 tok[TOKEN_MAX + 1];
	struct store_usage u;
	int		 i;

	credit_key(&k, tok, 1, 0, 0);
	k.info.limits.rate_max = 1;
	k.info.limits.rate_window_ms = 1000;
	k.info.expires_at = T0 + 100;
	key_put(&k);
	clk.now = T0 + 5;
	for (i = 0; i < 3; i++) {
		memset(&x->req, 0, sizeof(x->req));
		snprintf(x->req.token, sizeof(x->req.token), "%s", tok);
		x->req.check_only = 1;
		x->uid = UID;
		give_back();
		cr_assert_eq(verify_run(&v, x), PROTO_OK);
		cr_assert_eq(x->rep.code, PROTO_VALID, "%s", x->rep.reason);
		cr_assert_eq(x->hold.needed, 0);
		cr_assert_eq(x->rep.has_credits, 1);
		cr_assert_eq(x->rep.remaining, 1);
	}
	/* The one rate slot and the one credit are still there. */
	cr_assert_eq(run_as(UID, tok, "", 0), PROTO_VALID);
	cr_assert_eq(x->hold.needed, 1);
	cr_assert_eq(x->rep.remaining, 0);
	/* Every other check still runs. */
	clk.now = T0 + 100;
	memset(&x->req, 0, sizeof(x->req));
	snprintf(x->req.token, sizeof(x->req.token), "%s", tok);
	x->req.check_only = 1;
	give_back();
	cr_assert_eq(verify_run(&v, x), PROTO_OK);
	cr_assert_eq(x->rep.code, PROTO_EXPIRED);
	/* Only the one real use was noted. */
	ledger_close(led);
	open_ledger();
	u = usage_get(k.info.id);
	cr_assert_eq(u.use_count, 1);
	cr_assert_eq(u.last_used, T0 + 5);
}
