/*
 * it_fleet.c - fleet mode end to end (issue 12, "Tests" 1 to 8): two
 * apikeyd hosts, A (host 0, the harness's own daemon) and B (host 1),
 * follow one private PostgreSQL cluster (harness_fleet.h). Keys made
 * through A must reach B, revocations within a second; B must apply
 * every change in order however the writers interleave, survive the
 * database going away, a lost notification, a pruned changelog and a
 * SIGKILL in the middle of a batch; strict-sync keys fail closed on a
 * host that lost touch. Also: credits are refused in fleet mode, a host
 * with another pepper follows nothing, and a write against a record
 * changed meanwhile elsewhere is refused as a conflict.
 *
 * Changes "made directly in the database" are SQL on the tables, which
 * the schema's triggers turn into changelog rows as for any writer;
 * records put back that way are byte copies of records apikeyd wrote.
 * Every wait polls with a deadline; the only fixed waits are the ones a
 * scenario is made of (a transaction held open for 2 s, the database
 * down for 6 s), and they are timed, not slept through blindly.
 *
 * Verifies that fail (a revoked key polled until B drops it) would make
 * the daemons' failure throttling answer RATE_LIMITED instead of
 * NOT_FOUND: every host runs with throttle_failures = 0.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness_fleet.h"

#define A	0
#define B	1

/* Every host's lines (see above). */
#define CONF	"throttle_failures = 0\n"
/* A change B must pick up "within one poll": the poll plus this, for
 * the fetch, the LMDB commit and a loaded machine (2 cores, two tests
 * at once, ASan). */
#define MARGIN_MS	1000
/* Bulk creations and listings of 20,000 keys under ASan. */
#define BULK_MS		(12 * IT_DEADLINE_MS)

#define DOWN_MSG	"the fleet database cannot take this host's changes " \
	"now: nothing was changed (verifies go on; apikeyctl status and the " \
	"apikeyd log say why)"
#define CONFLICT_MSG	"changed meanwhile through another host: nothing " \
	"was changed; try again"
#define CREDITS_MSG	"usage credits (--remaining) are not available in " \
	"fleet mode yet: each host would spend them on its own (a rate " \
	"limit, --rate, works per host)"

TestSuite(fleet, .fini = fleet_teardown, .timeout = 240);

/* --- helpers -------------------------------------------------------------- */

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
revoke_on(int i, const char *token)
{
	fleet_expect(i, NULL, 0, NULL, "key", "revoke", it_id(token),
	    (const char *)NULL);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The ids of acme's keys on host i, sorted bytewise, one a line. */
static const char *
ids_on(int i, size_t *count)
{
	struct apikey_client *c = NULL;
	struct apikey_key_list *l = NULL;
	const char **ids;
	char *text, *p;
	size_t n, k, len = 0;
	int rc;

	rc = apikey_open_admin(fleet_sockdir(i), BULK_MS, &c);
	cr_assert_eq(rc, 0, "apikey_open_admin: %s", apikey_strerror(rc));
	rc = apikey_key_list(c, APIKEY_OWNER_TENANT, "acme", &l);
	cr_assert_eq(rc, 0, "key list on host %d: %s (%s)", i,
	    apikey_strerror(rc), apikey_last_error(c));
	n = apikey_key_list_count(l);
	ids = calloc(n + 1, sizeof(*ids));
	cr_assert_not_null(ids, "out of memory");
	for (k = 0; k < n; k++) {
		ids[k] = apikey_key_id(apikey_key_list_get(l, k));
		len += strlen(ids[k]) + 1;
	}
	qsort(ids, n, sizeof(*ids), cmp_str);
	text = calloc(1, len + 1);
	cr_assert_not_null(text, "out of memory");
	for (k = 0, p = text; k < n; k++)
		p += sprintf(p, "%s%s", k > 0 ? "\n" : "", ids[k]);
	free(ids);
	apikey_key_list_free(l);
	apikey_close(c);
	if (count != NULL)
		*count = n;
	return it_keep(text);
}

/* The database's key ids, in the same form. */
static const char *
ids_in_db(const char *where)
{
	return pg_sql("SELECT id FROM apikeyd.keys %s ORDER BY id",
	    where != NULL ? where : "");
}

/* The first line where two listings differ, for a failure message. */
static const char *
first_difference(const char *x, const char *y)
{
	size_t i;

	for (i = 0; it_line(x, i) != NULL || it_line(y, i) != NULL; i++)
		if (it_line(x, i) == NULL || it_line(y, i) == NULL ||
		    strcmp(it_line(x, i), it_line(y, i)) != 0)
			return it_printf("line %zu: \"%s\" vs \"%s\"", i,
			    it_line(x, i) != NULL ? it_line(x, i) : "(end)",
			    it_line(y, i) != NULL ? it_line(y, i) : "(end)");
	return "none";
}

static void
assert_same_ids(const char *host, const char *db, const char *what)
{
	if (strcmp(host, db) == 0)
		return;
	cr_assert_fail("%s: the host's keys differ from the database's; "
	    "first difference at %s", what, first_difference(host, db));
}

/* --- 1. bootstrap --------------------------------------------------------- */

#define BOOT_KEYS	10000
#define BOOT_SAMPLE	50

/*
 * A fresh host loads a snapshot of 10,000 keys, and holds what the
 * database holds: the same key ids, a digest that matches at the same
 * seq, and keys that verify. Then drift no changelog row tells of (a row
 * deleted behind the triggers' back) is caught by the next digest
 * comparison, which loads a snapshot again.
 */
Test(fleet, bootstrap_a_fresh_host_loads_10000_keys)
{
	const struct fleet_opt o = { .nhosts = 2, .start = 1,
	    .conf_extra = CONF "fleet_digest_interval = 1s\n" };
	const char **tok, *db, *mine, *gone;
	struct fleet_st st;
	json_t *f;
	uint64_t head;
	size_t n, i, k, from;

	fleet_start_opt(&o);
	fleet_tenant(A, "acme", "acme");
	tok = fleet_create_many(A, "acme", BOOT_KEYS, BULK_MS);
	head = fleet_head();
	/* One tenant row and a row per key, each a change. */
	cr_assert_eq(head, BOOT_KEYS + 1);
	fleet_wait_synced(A, IT_DEADLINE_MS);

	fleet_host_start(B);
	fleet_wait_synced(B, BULK_MS);
	fleet_log_wait(B, 0, it_printf("fleet: loaded the database's snapshot "
	    "at seq %" PRIu64 ": 1 tenants, %d keys", head, BOOT_KEYS),
	    IT_DEADLINE_MS);
	st = fleet_status(B);
	cr_assert_eq(st.keys, BOOT_KEYS);
	cr_assert_eq(st.tenants, 1);
	fleet_wait_digest_match(B);
	f = fleet_status_json(B, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(f, "digest")),
	    "match");
	cr_assert_eq(json_integer_value(json_object_get(f, "last_seq")),
	    (json_int_t)head);
	cr_assert_eq(json_integer_value(json_object_get(f, "lag")), 0);
	cr_assert(json_is_true(json_object_get(f, "connected")));
	cr_assert(json_is_null(json_object_get(f, "error")));
	/* The contents, key by key. */
	db = ids_in_db(NULL);
	mine = ids_on(B, &n);
	cr_assert_eq(n, BOOT_KEYS);
	assert_same_ids(mine, db, "host B after its snapshot");
	cr_assert_eq(fleet_code(B, tok[0], NULL), APIKEY_VALID);
	cr_assert_eq(fleet_code(B, tok[BOOT_KEYS - 1], NULL), APIKEY_VALID);
	srand((unsigned)time(NULL));
	for (i = 0; i < BOOT_SAMPLE; i++) {
		k = (size_t)rand() % BOOT_KEYS;
		cr_assert_eq(fleet_code(B, tok[k], NULL), APIKEY_VALID,
		    "key %zu (%s) on host B", k, it_id(tok[k]));
	}

	/* Drift: a row deleted with the triggers off leaves no changelog
	 * row and no notification; only the digest tells. */
	gone = tok[BOOT_KEYS / 2];
	from = strlen(fleet_log(B));
	pg_sql("ALTER TABLE apikeyd.keys DISABLE TRIGGER USER; DELETE FROM "
	    "apikeyd.keys WHERE id = '%s'; ALTER TABLE apikeyd.keys ENABLE "
	    "TRIGGER USER", it_id(gone));
	cr_assert_eq(fleet_head(), head);
	fleet_log_wait(B, from, it_printf("fleet: this host's records differ "
	    "from the database's at seq %" PRIu64 ": loading a snapshot", head),
	    3 * IT_DEADLINE_MS);
	fleet_log_wait(B, from, it_printf("fleet: loaded the database's "
	    "snapshot at seq %" PRIu64 ": 1 tenants, %d keys", head,
	    BOOT_KEYS - 1), IT_DEADLINE_MS);
	cr_assert_eq(fleet_code(B, gone, NULL), APIKEY_NOT_FOUND);
	cr_assert_eq(fleet_code(B, tok[0], NULL), APIKEY_VALID);
	fleet_wait_digest_match(B);
	assert_same_ids(ids_on(B, NULL), ids_in_db(NULL), "host B after the "
	    "drift was repaired");
}

/* --- 2. revocation -------------------------------------------------------- */

#define REVOCATIONS	200
/* The bound: NOT_FOUND on B within 1 s of the revoke on A. */
#define REVOKE_BOUND_US	(1000 * 1000)

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/*
 * 200 times: a key made through A (untimed) until B verifies it, then
 * revoked through A, timed from the revoke request until B answers
 * NOT_FOUND, B polled about every half millisecond.
 */
Test(fleet, a_revocation_reaches_another_host_within_a_second)
{
	static int64_t lat[REVOCATIONS];
	struct apikey_client *c = NULL;
	struct apikey_key *key;
	const char *token;
	char *tok;
	int64_t t0, t;
	enum apikey_code code;
	int i, rc;

	fleet_start(2, CONF);
	fleet_tenant(A, "acme", "acme");
	rc = apikey_open_admin(fleet_sockdir(A), IT_DEADLINE_MS, &c);
	cr_assert_eq(rc, 0, "apikey_open_admin: %s", apikey_strerror(rc));
	for (i = 0; i < REVOCATIONS; i++) {
		tok = NULL;
		key = NULL;
		rc = apikey_key_create(c, APIKEY_OWNER_TENANT, "acme", NULL,
		    &key, &tok);
		cr_assert_eq(rc, 0, "key create %d: %s (%s)", i,
		    apikey_strerror(rc), apikey_last_error(c));
		token = it_printf("%s", tok);
		apikey_token_free(tok);
		(void)fleet_wait_code(B, token, NULL, APIKEY_VALID,
		    IT_DEADLINE_MS);
		t0 = now_us();
		rc = apikey_key_revoke(c, apikey_key_id(key));
		cr_assert_eq(rc, 0, "key revoke %d: %s (%s)", i,
		    apikey_strerror(rc), apikey_last_error(c));
		apikey_key_free(key);
		for (;;) {
			code = fleet_code(B, token, NULL);
			t = now_us() - t0;
			if (code == APIKEY_NOT_FOUND)
				break;
			cr_assert_eq(code, APIKEY_VALID, "revocation %d: B "
			    "answers %s", i, apikey_code_name(code));
			cr_assert_lt(t, 10 * REVOKE_BOUND_US, "revocation %d: "
			    "B still answers VALID after %lld ms", i,
			    (long long)(t / 1000));
			/* Poll spacing only. */
			nanosleep(&(struct timespec){ 0, 500 * 1000 }, NULL);
		}
		lat[i] = t;
	}
	apikey_close(c);
	qsort(lat, REVOCATIONS, sizeof(lat[0]), cmp_i64);
	/* Nearest rank: p50 the 100th of 200, p99 the 198th. */
	fprintf(stderr, "it_fleet: revocation latency over %d: p50 %.1f ms, "
	    "p99 %.1f ms, max %.1f ms\n", REVOCATIONS,
	    (double)lat[REVOCATIONS / 2 - 1] / 1000,
	    (double)lat[(REVOCATIONS * 99 + 99) / 100 - 1] / 1000,
	    (double)lat[REVOCATIONS - 1] / 1000);
	for (i = 0; i < REVOCATIONS; i++)
		cr_assert_lt(lat[i], REVOKE_BOUND_US, "a revocation took %lld "
		    "ms to reach host B", (long long)(lat[i] / 1000));
}

/* --- 3. no gap ------------------------------------------------------------ */

/*
 * Two writers in the database at once: the first holds its transaction
 * open for 2 s with its key row written (so its seq is drawn), the
 * second commits its own meanwhile, or would, if the writers' lock did
 * not make it wait. B must apply both, the first's seq before the
 * second's, and skip neither. The rows are apikeyd's own records of two
 * keys made through A and revoked since, put back byte for byte.
 */
Test(fleet, concurrent_writers_leave_no_gap)
{
	const char *t1, *t2, *id1, *id2, *rec1, *rec2, *out;
	struct pg_session *s1, *s2;
	uint64_t seq1, seq2, before;
	struct fleet_st st;
	int64_t held;

	fleet_start(2, CONF "fleet_digest_interval = 1s\n");
	fleet_tenant(A, "acme", "acme");
	t1 = fleet_key_acme(A, NULL, NULL);
	t2 = fleet_key_acme(A, NULL, NULL);
	id1 = it_id(t1);
	id2 = it_id(t2);
	rec1 = pg_sql("SELECT encode(record, 'hex') FROM apikeyd.keys WHERE "
	    "id = '%s'", id1);
	rec2 = pg_sql("SELECT encode(record, 'hex') FROM apikeyd.keys WHERE "
	    "id = '%s'", id2);
	cr_assert(strlen(rec1) > 0 && strlen(rec2) > 0);
	revoke_on(A, t1);
	revoke_on(A, t2);
	fleet_wait_synced(B, IT_DEADLINE_MS);
	cr_assert_eq(fleet_code(B, t1, NULL), APIKEY_NOT_FOUND);
	cr_assert_eq(fleet_code(B, t2, NULL), APIKEY_NOT_FOUND);
	before = fleet_head();

	s1 = pg_session_open();
	s2 = pg_session_open();
	pg_session_send(s1, "BEGIN;");
	pg_session_send(s1, "INSERT INTO apikeyd.keys (id, record) VALUES "
	    "('%s', decode('%s', 'hex'));", id1, rec1);
	pg_session_send(s1, "SELECT version FROM apikeyd.keys WHERE id = "
	    "'%s';", id1);
	out = pg_session_sync(s1, IT_DEADLINE_MS);
	seq1 = strtoull(out, NULL, 10);
	cr_assert_gt(seq1, before, "first writer: \"%s\"", out);
	held = it_now_ms();
	pg_session_send(s2, "INSERT INTO apikeyd.keys (id, record) VALUES "
	    "('%s', decode('%s', 'hex'));", id2, rec2);
	pg_wait_sql(it_printf("SELECT count(*) FROM pg_locks WHERE locktype = "
	    "'advisory' AND classid = 0 AND objid = %d AND objsubid = 1 AND "
	    "NOT granted AND pid = %d", PG_WRITER_LOCK,
	    pg_session_backend(s2)), "1", IT_DEADLINE_MS);
	/* The first writer stays open for 2 s: B must stay behind it. */
	while (it_now_ms() - held < 2000) {
		st = fleet_status(B);
		cr_assert_lt(st.last_seq, seq1, "B moved to seq %" PRIu64
		    " past the open writer's %" PRIu64, st.last_seq, seq1);
		cr_assert_eq(fleet_code(B, t1, NULL), APIKEY_NOT_FOUND);
		cr_assert_eq(fleet_code(B, t2, NULL), APIKEY_NOT_FOUND);
		it_msleep(50);
	}
	pg_session_send(s1, "COMMIT;");
	pg_session_quiet(s1);
	pg_session_quiet(s2);
	seq2 = pg_u64(pg_sql("SELECT version FROM apikeyd.keys WHERE id = '%s'",
	    id2));
	cr_assert_gt(seq2, seq1);
	cr_assert_str_eq(pg_sql("SELECT string_agg(id, ',' ORDER BY seq) FROM "
	    "apikeyd.changelog WHERE seq > %" PRIu64, before),
	    it_printf("%s,%s", id1, id2));

	fleet_wait_applied(B, seq2, IT_DEADLINE_MS);
	cr_assert_eq(fleet_code(B, t1, NULL), APIKEY_VALID);
	cr_assert_eq(fleet_code(B, t2, NULL), APIKEY_VALID);
	fleet_wait_applied(A, seq2, IT_DEADLINE_MS);
	cr_assert_eq(fleet_code(A, t1, NULL), APIKEY_VALID);
	cr_assert_eq(fleet_code(A, t2, NULL), APIKEY_VALID);
	fleet_wait_digest_match(B);
	assert_same_ids(ids_on(B, NULL), ids_in_db(NULL), "host B");
	cr_assert_eq(pg_session_close(s1), 0);
	cr_assert_eq(pg_session_close(s2), 0);
}

/* --- 4. database down ----------------------------------------------------- */

/* Waits until host i says it lost the database. */
static void
wait_disconnected(int i)
{
	int64_t end = it_now_ms() + IT_DEADLINE_MS;
	struct fleet_st st;

	for (;;) {
		st = fleet_status(i);
		if (!st.connected && st.error[0] != '\0')
			return;
		cr_assert(it_now_ms() < end, "host %d: connected %d, error "
		    "\"%s\" with the database down", i, st.connected,
		    st.error);
		it_msleep(20);
	}
}

/*
 * The database stops: verifies go on on both hosts, management writes
 * fail with the documented message and change nothing. Then changes made
 * directly in the database while B was cut off reach B within a poll:
 * once with B running through the outage (it reconnects), once with B
 * stopped across it (it starts on the old state and catches up).
 */
Test(fleet, database_down_verifies_go_on_and_writes_fail_cleanly)
{
	const char *ta, *tb, *tc, *td, *err;
	json_t *f;
	int64_t ms;
	int h;

	fleet_start(2, CONF);
	fleet_tenant(A, "acme", "acme");
	ta = fleet_key_acme(A, NULL, NULL);
	tb = fleet_key_acme(B, NULL, NULL);
	tc = fleet_key_acme(A, NULL, NULL);
	td = fleet_key_acme(B, NULL, NULL);
	fleet_wait_synced(A, IT_DEADLINE_MS);
	fleet_wait_synced(B, IT_DEADLINE_MS);

	pg_stop();
	for (h = A; h <= B; h++) {
		cr_assert_eq(fleet_code(h, ta, NULL), APIKEY_VALID);
		cr_assert_eq(fleet_code(h, tb, NULL), APIKEY_VALID);
		cr_assert_eq(fleet_code(h, tc, NULL), APIKEY_VALID);
	}
	fleet_expect(A, NULL, 3, DOWN_MSG, "key", "create", "-q", "--tenant",
	    "acme", (const char *)NULL);
	fleet_expect(B, NULL, 3, DOWN_MSG, "key", "revoke", it_id(ta),
	    (const char *)NULL);
	fleet_expect(B, NULL, 3, DOWN_MSG, "tenant", "add", "beta", "--group",
	    "beta", (const char *)NULL);
	/* Nothing changed anywhere. */
	for (h = A; h <= B; h++) {
		cr_assert_eq(fleet_code(h, ta, NULL), APIKEY_VALID);
		fleet_expect(h, NULL, 5, NULL, "tenant", "show", "beta",
		    (const char *)NULL);
	}
	wait_disconnected(A);
	wait_disconnected(B);
	f = fleet_status_json(B, NULL);
	cr_assert(json_is_false(json_object_get(f, "connected")));
	err = json_string_value(json_object_get(f, "error"));
	cr_assert(err != NULL && *err != '\0', "no error in B's status");
	it_assert_has(fleet_log(A), "admin: fleet database: ");
	cr_assert_eq(fleet_code(B, ta, NULL), APIKEY_VALID);

	/* B runs through the outage; the database comes back and a change
	 * is made there at once, before or after B reconnected. */
	pg_restart();
	pg_sql("DELETE FROM apikeyd.keys WHERE id = '%s'", it_id(tc));
	ms = fleet_wait_code(B, tc, NULL, APIKEY_NOT_FOUND,
	    FLEET_POLL_MS + MARGIN_MS);
	fprintf(stderr, "it_fleet: a change made as the database came back "
	    "reached the running host B in %lld ms\n", (long long)ms);
	fleet_wait_synced(B, IT_DEADLINE_MS);
	cr_assert_eq(fleet_code(B, tb, NULL), APIKEY_VALID);

	/* B is stopped across an outage; the change is made once the
	 * database is back, B starts after it. */
	fleet_host_stop(B);
	pg_stop();
	cr_assert_eq(fleet_code(A, td, NULL), APIKEY_VALID);
	pg_restart();
	pg_sql("DELETE FROM apikeyd.keys WHERE id = '%s'", it_id(td));
	fleet_host_start(B);
	ms = fleet_wait_code(B, td, NULL, APIKEY_NOT_FOUND,
	    FLEET_POLL_MS + MARGIN_MS);
	fprintf(stderr, "it_fleet: a change made while host B was stopped "
	    "reached it %lld ms after its sockets were ready\n",
	    (long long)ms);
	fleet_wait_synced(B, IT_DEADLINE_MS);
	fleet_wait_synced(A, IT_DEADLINE_MS);
	cr_assert_eq(fleet_code(A, td, NULL), APIKEY_NOT_FOUND);
	cr_assert_eq(fleet_code(B, ta, NULL), APIKEY_VALID);
	/* Writes go again, through either host. */
	(void)fleet_wait_code(A, fleet_key_acme(B, NULL, NULL), NULL, APIKEY_VALID,
	    IT_DEADLINE_MS);
	revoke_on(A, ta);
	(void)fleet_wait_code(B, ta, NULL, APIKEY_NOT_FOUND, IT_DEADLINE_MS);
}

/* --- 5. lost notification ------------------------------------------------- */

/* The pids of host i's database sessions, "1,2" ("" for none). */
static const char *
backends(int i)
{
	return pg_sql("SELECT coalesce(string_agg(pid::text, ',' ORDER BY "
	    "pid), '') FROM pg_stat_activity WHERE application_name = '%s'",
	    fleet_app_name(i));
}

/*
 * B's session is killed (pg_terminate_backend) and the next change,
 * through A, still reaches B within a poll. Then a change whose
 * notification never goes out at all (the writer's pg_notify is a
 * function that does nothing, first in its search_path): B's poll alone
 * must find it.
 */
Test(fleet, a_lost_notification_is_covered_by_the_poll)
{
	const char *t1, *t2, *t3, *old, *now, *out;
	struct pg_session *s;
	uint64_t head;
	int64_t ms, end;

	fleet_start(2, CONF);
	fleet_tenant(A, "acme", "acme");
	t1 = fleet_key_acme(A, NULL, NULL);
	t2 = fleet_key_acme(A, NULL, NULL);
	t3 = fleet_key_acme(A, NULL, NULL);
	fleet_wait_synced(B, IT_DEADLINE_MS);

	old = backends(B);
	cr_assert_neq(*old, '\0', "host B has no database session");
	cr_assert_str_eq(pg_sql("SELECT bool_and(pg_terminate_backend(pid)) "
	    "FROM pg_stat_activity WHERE application_name = '%s'",
	    fleet_app_name(B)), "t");
	revoke_on(A, t1);
	ms = fleet_wait_code(B, t1, NULL, APIKEY_NOT_FOUND,
	    FLEET_POLL_MS + MARGIN_MS);
	fprintf(stderr, "it_fleet: the change after B's session was killed "
	    "reached B in %lld ms\n", (long long)ms);
	fleet_log_wait(B, 0, "terminating connection due to administrator "
	    "command", IT_DEADLINE_MS);
	/* B has a session again, a new one. */
	end = it_now_ms() + IT_DEADLINE_MS;
	while (*(now = backends(B)) == '\0' || strcmp(now, old) == 0) {
		cr_assert(it_now_ms() < end, "host B's sessions: \"%s\", "
		    "before the kill \"%s\"", now, old);
		it_msleep(20);
	}
	fleet_wait_synced(B, IT_DEADLINE_MS);

	/* A notification that never comes. */
	s = pg_session_open();
	pg_session_send(s, "LISTEN apikeyd;");
	pg_session_quiet(s);
	pg_sql("CREATE FUNCTION apikeyd.pg_notify(text, text) RETURNS void "
	    "LANGUAGE sql AS 'SELECT'");
	pg_sql("SET search_path TO apikeyd, pg_catalog; DELETE FROM "
	    "apikeyd.keys WHERE id = '%s'", it_id(t2));
	head = fleet_head();
	ms = fleet_wait_code(B, t2, NULL, APIKEY_NOT_FOUND,
	    FLEET_POLL_MS + MARGIN_MS);
	fprintf(stderr, "it_fleet: a change without a notification reached B "
	    "in %lld ms (poll %d ms)\n", (long long)ms, FLEET_POLL_MS);
	fleet_wait_applied(B, head, IT_DEADLINE_MS);
	pg_session_send(s, "SELECT 1;");
	out = pg_session_sync(s, IT_DEADLINE_MS);
	cr_assert_str_eq(out, "1\n", "the listener got:\n%s", out);
	/* The listener hears an ordinary change: the silence was the
	 * writer's, not the listener's. */
	revoke_on(A, t3);
	head = fleet_head();
	pg_session_send(s, "SELECT 1;");
	out = pg_session_sync(s, IT_DEADLINE_MS);
	it_assert_has(out, it_printf("Asynchronous notification \"apikeyd\" "
	    "with payload \"%" PRIu64 "\" received", head));
	(void)fleet_wait_code(B, t3, NULL, APIKEY_NOT_FOUND, IT_DEADLINE_MS);
	cr_assert_eq(pg_session_close(s), 0);
}

/* --- 6. retention --------------------------------------------------------- */

/*
 * B is stopped; changes are made through A and the changelog pruned past
 * B's last seq. B, started, sees the horizon past it, loads a snapshot,
 * and holds what the database holds.
 */
Test(fleet, a_host_behind_the_retention_horizon_loads_a_snapshot)
{
	const char *kept, *gone, *fresh, *msg;
	uint64_t bseq, horizon;
	size_t from;

	fleet_start(2, CONF);
	fleet_tenant(A, "acme", "acme");
	kept = fleet_key_acme(A, NULL, NULL);
	gone = fleet_key_acme(A, NULL, NULL);
	fleet_wait_synced(B, IT_DEADLINE_MS);
	bseq = fleet_status(B).last_seq;
	fleet_host_stop(B);

	fresh = fleet_key_acme(A, NULL, NULL);
	revoke_on(A, gone);
	cr_assert_gt(pg_u64(pg_sql("SELECT apikeyd.prune_changelog('0 "
	    "seconds')")), 0);
	horizon = pg_u64(pg_sql("SELECT pruned_through FROM apikeyd.horizon"));
	cr_assert_gt(horizon, bseq);
	cr_assert_str_eq(pg_sql("SELECT count(*) FROM apikeyd.changelog WHERE "
	    "seq <= %" PRIu64, horizon), "0");

	from = strlen(fleet_log(B));
	fleet_host_start(B);
	msg = it_printf("fleet: the changelog was pruned past seq %" PRIu64
	    ", which this host applied last: loading a snapshot", bseq);
	fleet_log_wait(B, fleet_log_wait(B, from, msg, IT_DEADLINE_MS),
	    it_printf("fleet: loaded the database's snapshot at seq %" PRIu64
	    ": 1 tenants, 2 keys", horizon), IT_DEADLINE_MS);
	fleet_wait_synced(B, IT_DEADLINE_MS);
	cr_assert_eq(fleet_code(B, fresh, NULL), APIKEY_VALID);
	cr_assert_eq(fleet_code(B, kept, NULL), APIKEY_VALID);
	cr_assert_eq(fleet_code(B, gone, NULL), APIKEY_NOT_FOUND);
	assert_same_ids(ids_on(B, NULL), ids_in_db(NULL), "host B");
	/* And it follows from there. */
	revoke_on(A, kept);
	(void)fleet_wait_code(B, kept, NULL, APIKEY_NOT_FOUND, IT_DEADLINE_MS);
}

/* --- 7. crash ------------------------------------------------------------- */

#define CRASH_KEYS	20000

/*
 * B, stopped, falls 20,000 changes behind; it is started and killed with
 * SIGKILL while it applies them, then started again with the database
 * down, so it cannot move on: the last seq it reports and the keys it
 * holds must agree exactly (every key of a change up to that seq, none
 * after). With the database back it catches up, digests matching.
 */
Test(fleet, a_host_killed_while_applying_a_batch_keeps_seq_and_keys_together)
{
	const char *mine, *want;
	struct fleet_st st;
	uint64_t old, head, seen = 0;
	int64_t end;
	size_t n;

	fleet_start(2, CONF "fleet_digest_interval = 1s\n");
	fleet_tenant(A, "acme", "acme");
	fleet_wait_synced(B, IT_DEADLINE_MS);
	old = fleet_status(B).last_seq;
	fleet_host_stop(B);
	(void)fleet_create_many(A, "acme", CRASH_KEYS, BULK_MS);
	head = fleet_head();
	cr_assert_eq(head, old + CRASH_KEYS);

	/* B starts with the database down, so that it starts applying only
	 * once watched: then the database comes back. */
	pg_stop();
	fleet_host_start(B);
	pg_restart();
	end = it_now_ms() + BULK_MS;
	for (;;) {
		st = fleet_status(B);
		if (st.last_seq > old && st.last_seq < head) {
			seen = st.last_seq;
			fleet_host_kill(B);
			break;
		}
		cr_assert_lt(st.last_seq, head, "B applied all %d changes "
		    "before the test saw it in the middle", CRASH_KEYS);
		cr_assert(it_now_ms() < end, "B did not start applying");
		nanosleep(&(struct timespec){ 0, 200 * 1000 }, NULL);
	}
	fprintf(stderr, "it_fleet: host B killed at seq %" PRIu64 " or "
	    "later, of %" PRIu64 "..%" PRIu64 "\n", seen, old, head);

	/* Started again, cut off from the database: what it holds is what
	 * it had committed. */
	pg_stop();
	fleet_host_start(B);
	st = fleet_status(B);
	cr_assert_geq(st.last_seq, seen);
	cr_assert_leq(st.last_seq, head);
	mine = ids_on(B, &n);
	cr_assert_eq(fleet_status(B).last_seq, st.last_seq, "B moved with "
	    "the database down");
	pg_restart();
	want = ids_in_db(it_printf("WHERE version <= %" PRIu64, st.last_seq));
	cr_assert_eq(n, st.last_seq - old, "B holds %zu keys at seq %" PRIu64
	    " (the changes from %" PRIu64 " on are its keys)", n, st.last_seq,
	    old);
	assert_same_ids(mine, want, "host B after the SIGKILL");
	fprintf(stderr, "it_fleet: after the restart host B holds %zu keys "
	    "at seq %" PRIu64 "\n", n, st.last_seq);

	fleet_wait_synced(B, BULK_MS);
	fleet_wait_digest_match(B);
	assert_same_ids(ids_on(B, &n), ids_in_db(NULL), "host B caught up");
	cr_assert_eq(n, CRASH_KEYS);
}

/* --- 8. staleness --------------------------------------------------------- */

#define STALE_AFTER_MS	5000
#define DOWN_FOR_MS	6000

/*
 * max_staleness 5 s, the database down for 6 s: B's strict-sync key
 * fails closed as STALE (not before 5 s after B's last sync could have
 * been), its other key goes on; the database back, the strict key
 * verifies again.
 */
Test(fleet, strict_sync_keys_fail_closed_on_a_stale_host)
{
	const char *strict, *normal;
	struct it_run r;
	json_t *f;
	int64_t down, t, stale_at = -1;
	enum apikey_code c;

	fleet_start(2, CONF "max_staleness = 5s\n");
	fleet_tenant(A, "acme", "acme");
	strict = fleet_key_acme(A, "--strict-sync", NULL);
	normal = fleet_key_acme(A, NULL, NULL);
	fleet_wait_synced(B, IT_DEADLINE_MS);
	cr_assert_eq(fleet_code(B, strict, NULL), APIKEY_VALID);
	f = fleet_status_json(B, NULL);
	cr_assert_eq(json_integer_value(json_object_get(f, "max_staleness")),
	    5);

	down = it_now_ms();
	pg_stop();
	/* B's last sync was about a poll before the stop, at most. */
	while ((t = it_now_ms() - down) < DOWN_FOR_MS) {
		c = fleet_code(B, strict, NULL);
		if (c == APIKEY_STALE && stale_at < 0)
			stale_at = t;
		if (stale_at < 0)
			cr_assert_eq(c, APIKEY_VALID, "strict key at %lld ms: "
			    "%s", (long long)t, apikey_code_name(c));
		else
			cr_assert_eq(c, APIKEY_STALE, "strict key at %lld ms, "
			    "stale since %lld: %s", (long long)t,
			    (long long)stale_at, apikey_code_name(c));
		cr_assert_eq(fleet_code(B, normal, NULL), APIKEY_VALID);
		it_msleep(20);
	}
	/* A poll late by half a second on a loaded machine is no fault. */
	cr_assert_geq(stale_at, STALE_AFTER_MS - FLEET_POLL_MS - 500,
	    "STALE %lld ms after the database stopped", (long long)stale_at);
	cr_assert_eq(fleet_code(B, strict, NULL), APIKEY_STALE);
	cr_assert_eq(fleet_code(A, strict, NULL), APIKEY_STALE);
	cr_assert_eq(fleet_code(B, normal, NULL), APIKEY_VALID);
	fprintf(stderr, "it_fleet: the strict key turned STALE %lld ms after "
	    "the database stopped (max_staleness %d ms)\n",
	    (long long)stale_at, STALE_AFTER_MS);
	/* apikeyctl: no verdict on the key, so "unavailable". */
	cr_assert_eq(fleet_ctl(B, &r, NULL, "verify", strict,
	    (const char *)NULL), 3, "verify: %s%s", r.out, r.err);
	it_assert_has(r.out, "STALE: strict sync: this host last synced with "
	    "the fleet database ");
	cr_assert_eq(fleet_ctl(B, &r, NULL, "verify", normal,
	    (const char *)NULL), 0, "verify: %s%s", r.out, r.err);

	pg_restart();
	(void)fleet_wait_code(B, strict, NULL, APIKEY_VALID, IT_DEADLINE_MS);
	(void)fleet_wait_code(A, strict, NULL, APIKEY_VALID, IT_DEADLINE_MS);
	cr_assert_eq(fleet_code(B, normal, NULL), APIKEY_VALID);
}

/* --- what fleet mode refuses ---------------------------------------------- */

/* Credits would be spent on each host on its own: refused, on create and
 * on update, through either host, and nothing reaches the database. */
Test(fleet, credits_are_refused)
{
	const char *t;
	uint64_t head;

	fleet_start(2, CONF);
	fleet_tenant(A, "acme", "acme");
	t = fleet_key_acme(A, NULL, NULL);
	head = fleet_head();
	fleet_expect(A, NULL, 7, CREDITS_MSG, "key", "create", "-q",
	    "--tenant", "acme", "--remaining", "10", (const char *)NULL);
	fleet_expect(B, NULL, 7, CREDITS_MSG, "key", "create", "-q",
	    "--tenant", "acme", "--remaining", "10", "--refill", "10/1d",
	    (const char *)NULL);
	fleet_expect(B, NULL, 7, CREDITS_MSG, "key", "update", it_id(t),
	    "--remaining", "5", (const char *)NULL);
	cr_assert_eq(fleet_head(), head);
	cr_assert_str_eq(pg_sql("SELECT count(*) FROM apikeyd.keys"), "1");
	(void)fleet_wait_code(B, t, NULL, APIKEY_VALID, IT_DEADLINE_MS);
}

/*
 * A host whose pepper is not the fleet's follows nothing and writes
 * nothing: its status says why (to root; to others nothing), its
 * management writes fail, the fleet's keys are unknown there.
 */
Test(fleet, a_host_with_another_pepper_refuses_to_follow)
{
	const struct fleet_opt o = { .nhosts = 2, .start = 1,
	    .conf_extra = CONF };
	unsigned char pep[32];
	const char *t, *want;
	struct fleet_st st;
	int64_t end;
	json_t *f;
	size_t i;

	fleet_start_opt(&o);
	fleet_tenant(A, "acme", "acme");
	t = fleet_key_acme(A, NULL, NULL);
	for (i = 0; i < sizeof(pep); i++)
		pep[i] = (unsigned char)(0xa5 ^ i);
	fleet_host_pepper(B, pep);
	fleet_host_start(B);
	want = it_printf("this host's pepper (%s/pepper) is not the fleet's: "
	    "no key of the fleet would verify here. Copy the pepper file of a "
	    "fleet host here and restart (README, Fleet); not following",
	    fleet_state_dir(B));
	end = it_now_ms() + IT_DEADLINE_MS;
	while (strcmp((st = fleet_status(B)).error, want) != 0) {
		cr_assert(it_now_ms() < end, "B's fleet error: \"%s\"",
		    st.error);
		it_msleep(20);
	}
	cr_assert_eq(st.connected, 0);
	cr_assert_eq(st.last_seq, 0);
	cr_assert_eq(st.synced_at, 0);
	cr_assert_eq(st.keys + st.tenants, 0);
	f = fleet_status_json(B, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(f, "error")), want);
	f = fleet_status_json(B, "alice");
	cr_assert(json_is_null(json_object_get(f, "error")), "alice sees "
	    "B's fleet error");
	it_assert_has(fleet_log(B), want);
	cr_assert_eq(fleet_code(B, t, NULL), APIKEY_NOT_FOUND);
	/* A host whose first pass failed refuses at once, within
	 * apikeyctl's default timeout. */
	fleet_expect(B, NULL, 3, DOWN_MSG, "tenant", "add", "beta", "--group",
	    "beta", (const char *)NULL);
	/* The fleet's check value is host A's still; A goes on. */
	cr_assert_str_eq(pg_sql("SELECT count(*) FROM apikeyd.pepper"), "1");
	cr_assert_str_eq(pg_sql("SELECT count(*) FROM apikeyd.tenants"), "1");
	cr_assert_eq(fleet_code(A, fleet_key_acme(A, NULL, NULL), NULL), APIKEY_VALID);
}

/*
 * A write against a record another writer changed meanwhile: A's
 * `key disable` waits on the writers' lock while a transaction in the
 * database updates the key; once that commits, A's update matches no
 * row at the version A read, and A refuses (exit 9) with nothing
 * changed. Once A has the newer record, the same request passes.
 */
Test(fleet, a_write_against_a_record_changed_elsewhere_is_a_conflict)
{
	const char *t, *err;
	struct pg_session *s;
	pid_t pid;

	fleet_start(2, CONF);
	fleet_tenant(A, "acme", "acme");
	t = fleet_key_acme(A, NULL, NULL);
	fleet_wait_synced(B, IT_DEADLINE_MS);
	s = pg_session_open();
	pg_session_send(s, "BEGIN;");
	pg_session_send(s, "UPDATE apikeyd.keys SET record = record WHERE id = "
	    "'%s';", it_id(t));
	pg_session_quiet(s);
	/* Through A, the harness's daemon: it_ctl_spawn() runs against it. */
	pid = it_ctl_spawn(NULL, "key", "disable", it_id(t),
	    (const char *)NULL);
	pg_wait_sql(it_printf("SELECT count(*) FROM pg_locks l JOIN "
	    "pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' AND "
	    "l.objid = %d AND NOT l.granted AND a.application_name = '%s'",
	    PG_WRITER_LOCK, fleet_app_name(A)), "1", IT_DEADLINE_MS);
	pg_session_send(s, "COMMIT;");
	pg_session_quiet(s);
	cr_assert_eq(it_ctl_reap(pid, IT_DEADLINE_MS), 9);
	err = it_read_file(it_path("bg-0.err"), NULL);
	it_assert_has(err, CONFLICT_MSG);
	cr_assert_eq(fleet_code(A, t, NULL), APIKEY_VALID);
	fleet_wait_synced(A, IT_DEADLINE_MS);
	fleet_expect(A, NULL, 0, NULL, "key", "disable", it_id(t),
	    (const char *)NULL);
	(void)fleet_wait_code(B, t, NULL, APIKEY_DISABLED, IT_DEADLINE_MS);
	cr_assert_eq(pg_session_close(s), 0);
}

/*
 * The harness's own daemon as host B, as the end-to-end tests need it
 * (their servers' PAM module asks it_sock_dir()): started first on a
 * single host, it is restarted into the fleet on an emptied state
 * directory, takes host A's pepper, and verifies through harness.h's
 * helpers what was made through A.
 */
Test(fleet, the_harness_daemon_may_be_host_b)
{
	const struct fleet_opt o = { .nhosts = 2, .harness_host = B,
	    .conf_extra = CONF };
	const char *t;
	size_t len;

	it_setup();
	fleet_start_opt(&o);
	cr_assert_str_eq(fleet_sockdir(B), it_sock_dir());
	cr_assert_neq(fleet_host_pid(A), it_daemon_pid());
	cr_assert_eq(fleet_host_pid(B), it_daemon_pid());
	cr_assert_eq(memcmp(it_read_file(it_printf("%s/pepper",
	    fleet_state_dir(A)), &len), it_read_file(it_printf("%s/pepper",
	    it_state_dir()), NULL), 32), 0);
	cr_assert_eq(len, 32);
	fleet_tenant(A, "acme", "acme");
	t = fleet_key_acme(A, NULL, NULL);
	fleet_wait_synced(B, IT_DEADLINE_MS);
	cr_assert_eq(it_code(t, NULL), APIKEY_VALID);
	it_expect(NULL, 0, NULL, "key", "revoke", it_id(t), (const char *)NULL);
	(void)fleet_wait_code(A, t, NULL, APIKEY_NOT_FOUND, IT_DEADLINE_MS);
}
