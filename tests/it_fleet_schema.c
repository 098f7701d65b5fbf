/*
 * it_fleet_schema.c - sql/schema.sql alone (issue 12), in a private
 * PostgreSQL cluster (harness_pg.h), without apikeyd: what the triggers
 * append to the changelog and notify, the refusals, retention, the digest,
 * and the property the fleet's readers rest on: a reader that polls
 * "seq > last" never moves past a seq that commits later.
 *
 * Records are arbitrary bytes here; the schema never looks inside them.
 * Concurrent writers are psql sessions held open (pg_session_*), and a
 * writer that must wait is seen waiting on the writers' advisory lock in
 * pg_locks, never assumed to after a sleep.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "harness_pg.h"

extern char **environ;

static void
setup(void)
{
	pg_start(NULL);
}

TestSuite(fleet_schema, .init = setup, .fini = pg_teardown, .timeout = 90);

/* The changelog, a row a line: seq|kind|id|record in hex ("-": NULL). */
static const char *
changelog(void)
{
	return pg_sql("SELECT seq, kind, id, coalesce(encode(record, 'hex'), "
	    "'-') FROM apikeyd.changelog ORDER BY seq");
}

/* The keys, a row a line: id|version, in id order. */
static const char *
key_versions(void)
{
	return pg_sql("SELECT id, version FROM apikeyd.keys ORDER BY id");
}

static void
put_key(const char *id, const char *hex)
{
	pg_sql("INSERT INTO apikeyd.keys (id, record) VALUES ('%s', "
	    "'\\x%s')", id, hex);
}

static void
put_tenant(const char *id, const char *hex)
{
	pg_sql("INSERT INTO apikeyd.tenants (id, group_name, record) VALUES "
	    "('%s', '%s', '\\x%s')", id, id, hex);
}

/* Asserts that the session ran what it was sent without an error. */
static void
sync_ok(struct pg_session *s)
{
	const char *out = pg_session_sync(s, IT_DEADLINE_MS);

	cr_assert_str_eq(out, "", "session printed:\n%s", out);
}

/* Waits until session s waits for the writers' advisory lock. */
static void
wait_blocked(const struct pg_session *s)
{
	pg_wait_sql(it_printf("SELECT count(*) FROM pg_locks WHERE locktype = "
	    "'advisory' AND classid = 0 AND objid = %d AND objsubid = 1 AND "
	    "NOT granted AND pid = %d", PG_WRITER_LOCK,
	    pg_session_backend(s)), "1", IT_DEADLINE_MS);
}

/*
 * Two writers: a inserts key "a" and holds its transaction open, then b
 * is sent its insert of key "b" and its commit (which may wait for a).
 */
static void
two_writers(struct pg_session *a, struct pg_session *b)
{
	pg_session_send(a, "BEGIN; INSERT INTO apikeyd.keys (id, record) "
	    "VALUES ('a', '\\x0a');");
	sync_ok(a);
	pg_session_send(b, "BEGIN; INSERT INTO apikeyd.keys (id, record) "
	    "VALUES ('b', '\\x0b'); COMMIT;");
}

/*
 * A fleet host's reader: polls the changelog past *last, as apikeyd
 * does, and appends every seq it applies to applied ("1,2,"), moving
 * *last past it. Returns the number of rows it applied.
 */
static int
poll_changelog(long long *last, char *applied, size_t size)
{
	const char *rows = pg_sql("SELECT seq FROM apikeyd.changelog WHERE "
	    "seq > %lld ORDER BY seq", *last);
	size_t n;
	int k = 0;

	for (; *rows != '\0'; k++) {
		*last = strtoll(rows, NULL, 10);
		n = strlen(applied);
		snprintf(applied + n, size - n, "%lld,", *last);
		rows += strcspn(rows, "\n");
		rows += *rows == '\n';
	}
	return k;
}

/* --- what a write leaves ------------------------------------------------ */

Test(fleet_schema, a_write_appends_its_whole_record_and_version)
{
	put_key("k1", "0102ff");
	cr_assert_str_eq(changelog(), "1|k|k1|0102ff");
	cr_assert_str_eq(pg_sql("SELECT version, encode(record, 'hex') FROM "
	    "apikeyd.keys"), "1|0102ff");
	/* The version is the change's seq, whatever the writer says. */
	pg_sql("UPDATE apikeyd.keys SET record = '\\x03', version = 99 "
	    "WHERE id = 'k1'");
	put_tenant("acme", "04");
	cr_assert_str_eq(changelog(), "1|k|k1|0102ff\n2|k|k1|03\n"
	    "3|t|acme|04");
	cr_assert_str_eq(pg_sql("SELECT version FROM apikeyd.keys"), "2");
	cr_assert_str_eq(pg_sql("SELECT version, group_name, encode(record, "
	    "'hex') FROM apikeyd.tenants"), "3|acme|04");
	/* Two rows in one statement: two changes. */
	pg_sql("UPDATE apikeyd.keys SET record = '\\x05'; INSERT INTO "
	    "apikeyd.keys (id, record) VALUES ('k2', '\\x06'), "
	    "('k3', '\\x07')");
	cr_assert_str_eq(pg_sql("SELECT seq, id, encode(record, 'hex') FROM "
	    "apikeyd.changelog WHERE seq > 3 ORDER BY seq"),
	    "4|k1|05\n5|k2|06\n6|k3|07");
	cr_assert_str_eq(key_versions(), "k1|4\nk2|5\nk3|6");
}

Test(fleet_schema, a_delete_appends_a_tombstone)
{
	put_key("k1", "01");
	put_tenant("t1", "02");
	pg_sql("DELETE FROM apikeyd.keys WHERE id = 'k1'");
	pg_sql("DELETE FROM apikeyd.tenants WHERE id = 't1'");
	cr_assert_str_eq(changelog(), "1|k|k1|01\n2|t|t1|02\n3|k|k1|-\n"
	    "4|t|t1|-");
	cr_assert_str_eq(pg_sql("SELECT count(*) FROM apikeyd.changelog "
	    "WHERE record IS NULL"), "2");
	cr_assert_str_eq(pg_sql("SELECT (SELECT count(*) FROM apikeyd.keys) "
	    "+ (SELECT count(*) FROM apikeyd.tenants)"), "0");
}

/* Whether line is psql's report of a notification of seq on apikeyd. */
static int
notified(const char *line, int seq)
{
	const char *want = it_printf("Asynchronous notification \"apikeyd\" "
	    "with payload \"%d\" received from server process with PID ",
	    seq);

	return strncmp(line, want, strlen(want)) == 0;
}

/*
 * Each committed change notifies channel apikeyd with its seq; a rolled
 * back one does not. psql prints a notification after the statement that
 * follows it, hence the SELECT before the sync.
 */
Test(fleet_schema, a_committed_write_notifies_its_seq)
{
	struct pg_session *l = pg_session_open();
	const char *out;

	pg_session_send(l, "LISTEN apikeyd;");
	sync_ok(l);
	put_key("k1", "01");
	pg_sql("BEGIN; INSERT INTO apikeyd.keys (id, record) VALUES ('k2', "
	    "'\\x02'); ROLLBACK");
	pg_sql("DELETE FROM apikeyd.keys WHERE id = 'k1'");
	cr_assert_str_eq(pg_sql("SELECT string_agg(seq::text, ',' ORDER BY "
	    "seq) FROM apikeyd.changelog"), "1,3");
	pg_session_send(l, "SELECT 'after';");
	out = pg_session_sync(l, IT_DEADLINE_MS);
	cr_assert_eq(it_line_count(out), 3, "got:\n%s", out);
	cr_assert_str_eq(it_line(out, 0), "after");
	cr_assert(notified(it_line(out, 1), 1), "got:\n%s", out);
	cr_assert(notified(it_line(out, 2), 3), "got:\n%s", out);
	cr_assert_eq(pg_session_close(l), 0);
}

/*
 * INSERT ... ON CONFLICT fires BEFORE INSERT for a row it then drops or
 * updates instead: only the row that lands is logged, and the seqs drawn
 * for the others are holes.
 */
Test(fleet_schema, insert_on_conflict_logs_only_what_lands)
{
	put_key("a", "01");
	pg_sql("INSERT INTO apikeyd.keys (id, record) VALUES ('a', '\\x02') "
	    "ON CONFLICT DO NOTHING");
	cr_assert_str_eq(changelog(), "1|k|a|01");
	cr_assert_str_eq(pg_sql("SELECT version, encode(record, 'hex') FROM "
	    "apikeyd.keys"), "1|01");
	pg_sql("INSERT INTO apikeyd.keys (id, record) VALUES ('a', '\\x03') "
	    "ON CONFLICT (id) DO UPDATE SET record = '\\x04'");
	cr_assert_str_eq(changelog(), "1|k|a|01\n4|k|a|04");
	cr_assert_str_eq(pg_sql("SELECT version, encode(record, 'hex') FROM "
	    "apikeyd.keys"), "4|04");
}

/* --- no gap --------------------------------------------------------------- */

/*
 * Writer a inserts and holds its transaction open; writer b inserts and
 * commits meanwhile. b's insert waits on the advisory lock until a
 * commits, so a reader polling past its last seq sees a's row (seq 1)
 * no later than b's (seq 2), and applies both.
 */
Test(fleet_schema, a_reader_never_sees_a_later_seq_first)
{
	struct pg_session *a = pg_session_open(), *b = pg_session_open();
	char applied[64] = "";
	long long last = 0;
	int64_t end;
	int i;

	two_writers(a, b);
	wait_blocked(b);
	/* While a holds: nothing to apply, however often the reader looks. */
	for (i = 0; i < 20; i++)
		cr_assert_eq(poll_changelog(&last, applied, sizeof(applied)),
		    0, "applied %s while writer a held seq 1", applied);
	wait_blocked(b);
	pg_session_send(a, "COMMIT;");
	end = it_now_ms() + IT_DEADLINE_MS;
	while (strcmp(applied, "1,2,") != 0) {
		poll_changelog(&last, applied, sizeof(applied));
		cr_assert(strncmp(applied, "1,2,", strlen(applied)) == 0,
		    "the reader applied %s", applied);
		cr_assert(it_now_ms() < end, "applied only %s", applied);
	}
	sync_ok(a);
	sync_ok(b);
	/* Commit order is seq order. */
	cr_assert_str_eq(pg_sql("SELECT string_agg(seq::text, ',' ORDER BY "
	    "pg_xact_commit_timestamp(xmin)), count(DISTINCT "
	    "pg_xact_commit_timestamp(xmin)) FROM apikeyd.changelog"),
	    "1,2|2");
	cr_assert_str_eq(key_versions(), "a|1\nb|2");
	cr_assert_eq(pg_session_close(a), 0);
	cr_assert_eq(pg_session_close(b), 0);
}

/*
 * The same writers with the lock taken out of log_change(): b commits
 * seq 2 while a still holds seq 1, the reader applies 2 and moves past 1
 * for good. What the lock prevents, and proof that the test above would
 * see it.
 */
Test(fleet_schema, without_the_lock_a_reader_skips_a_seq)
{
	struct pg_session *a = pg_session_open(), *b = pg_session_open();
	char applied[64] = "";
	long long last = 0;

	pg_sql("DO $$ BEGIN EXECUTE (SELECT format('CREATE OR REPLACE "
	    "FUNCTION apikeyd.log_change() RETURNS trigger LANGUAGE plpgsql "
	    "AS %%L', replace(prosrc, 'PERFORM pg_advisory_xact_lock(%d);', "
	    "'')) FROM pg_proc WHERE oid = 'apikeyd.log_change'::regproc); "
	    "END $$", PG_WRITER_LOCK);
	cr_assert_str_eq(pg_sql("SELECT prosrc LIKE '%%advisory%%' FROM "
	    "pg_proc WHERE oid = 'apikeyd.log_change'::regproc"), "f");
	two_writers(a, b);
	sync_ok(b);
	cr_assert_eq(poll_changelog(&last, applied, sizeof(applied)), 1);
	pg_session_send(a, "COMMIT;");
	sync_ok(a);
	cr_assert_eq(poll_changelog(&last, applied, sizeof(applied)), 0);
	cr_assert_str_eq(applied, "2,");
	cr_assert_str_eq(pg_sql("SELECT string_agg(seq::text, ',' ORDER BY "
	    "seq) FROM apikeyd.changelog"), "1,2");
	cr_assert_eq(pg_session_close(a), 0);
	cr_assert_eq(pg_session_close(b), 0);
}

/*
 * A writer that rolls back releases the lock without committing its seq:
 * the writer waiting behind it goes on, and readers pass the hole.
 */
Test(fleet_schema, a_rolled_back_seq_is_a_hole_readers_pass)
{
	struct pg_session *a = pg_session_open(), *b = pg_session_open();
	char applied[64] = "";
	long long last = 0;

	put_key("k0", "00");
	cr_assert_eq(poll_changelog(&last, applied, sizeof(applied)), 1);
	two_writers(a, b);
	wait_blocked(b);
	pg_session_send(a, "ROLLBACK;");
	sync_ok(a);
	sync_ok(b);
	cr_assert_eq(poll_changelog(&last, applied, sizeof(applied)), 1);
	cr_assert_str_eq(applied, "1,3,");
	cr_assert_str_eq(changelog(), "1|k|k0|00\n3|k|b|0b");
	cr_assert_str_eq(key_versions(), "b|3\nk0|1");
	cr_assert_eq(pg_session_close(a), 0);
	cr_assert_eq(pg_session_close(b), 0);
}

/* --- refusals ------------------------------------------------------------- */

Test(fleet_schema, ids_never_change_and_truncate_is_refused)
{
	const char *err;

	put_key("a", "01");
	put_tenant("t", "02");
	cr_assert_eq(pg_sql_try(NULL, &err, "UPDATE apikeyd.keys SET id = "
	    "'b' WHERE id = 'a'"), 1);
	it_assert_has(err, "ERROR:  apikeyd: a keys id never changes");
	cr_assert_eq(pg_sql_try(NULL, &err, "UPDATE apikeyd.tenants SET id = "
	    "'u'"), 1);
	it_assert_has(err, "ERROR:  apikeyd: a tenants id never changes");
	cr_assert_eq(pg_sql_try(NULL, &err, "TRUNCATE apikeyd.keys"), 1);
	it_assert_has(err, "ERROR:  apikeyd: delete rows instead of "
	    "truncating keys");
	cr_assert_eq(pg_sql_try(NULL, &err, "TRUNCATE apikeyd.tenants"), 1);
	it_assert_has(err, "ERROR:  apikeyd: delete rows instead of "
	    "truncating tenants");
	cr_assert_str_eq(changelog(), "1|k|a|01\n2|t|t|02");
	cr_assert_str_eq(pg_sql("SELECT id, version FROM apikeyd.keys"),
	    "a|1");
	cr_assert_str_eq(pg_sql("SELECT id, version FROM apikeyd.tenants"),
	    "t|2");
}

/* --- retention ------------------------------------------------------------ */

Test(fleet_schema, prune_deletes_old_rows_and_moves_the_horizon)
{
	put_key("k1", "01");
	put_key("k2", "02");
	put_tenant("t1", "03");
	cr_assert_str_eq(pg_sql("SELECT pruned_through FROM "
	    "apikeyd.horizon"), "0");
	cr_assert_str_eq(pg_sql("SELECT apikeyd.prune_changelog('7 days')"),
	    "0");
	/* Rows 1 and 2 two days old: a day's retention takes them. */
	pg_sql("UPDATE apikeyd.changelog SET at = now() - interval '2 days' "
	    "WHERE seq <= 2");
	cr_assert_str_eq(pg_sql("SELECT apikeyd.prune_changelog('1 day')"),
	    "2");
	cr_assert_str_eq(pg_sql("SELECT pruned_through FROM "
	    "apikeyd.horizon"), "2");
	cr_assert_str_eq(changelog(), "3|t|t1|03");
	cr_assert_str_eq(pg_sql("SELECT apikeyd.prune_changelog('0 "
	    "seconds')"), "1");
	cr_assert_str_eq(pg_sql("SELECT pruned_through FROM "
	    "apikeyd.horizon"), "3");
	cr_assert_str_eq(changelog(), "");
	/* Nothing left to prune: nothing moves. */
	cr_assert_str_eq(pg_sql("SELECT apikeyd.prune_changelog('0 "
	    "seconds')"), "0");
	cr_assert_str_eq(pg_sql("SELECT pruned_through FROM "
	    "apikeyd.horizon"), "3");
	/* The tables keep their rows; new changes go on from the seq. */
	cr_assert_str_eq(pg_sql("SELECT string_agg(id || ':' || version, ',' "
	    "ORDER BY id) FROM apikeyd.keys"), "k1:1,k2:2");
	put_key("k3", "04");
	cr_assert_str_eq(changelog(), "4|k|k3|04");
}

/* --- digest ----------------------------------------------------------------- */

/* SHA-256 of text in hex, by sha256sum: independent of PostgreSQL. */
static const char *
sha256_hex(const char *text)
{
	const char *path = it_printf("%s/digest-input", pg_dir()), *hex;
	struct it_out o = { .fd = -1 };
	int fd, p[2], status;
	size_t len = strlen(text);
	pid_t pid;

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert(fd != -1, "open %s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid = it_proc_spawn((const char *const[]){ "sha256sum", NULL },
	    environ, (const int[3]){ fd, p[1], -1 }, NULL);
	close(fd);
	close(p[1]);
	o.fd = p[0];
	cr_assert_eq(it_proc_read(&o, 1, it_now_ms() + IT_DEADLINE_MS, NULL,
	    NULL), 0, "sha256sum did not finish");
	status = it_proc_wait(pid, IT_DEADLINE_MS);
	cr_assert_eq(status, 0, "sha256sum: status %d", status);
	cr_assert(o.buf != NULL && strlen(o.buf) > 64 && o.buf[64] == ' ',
	    "sha256sum printed %s", o.buf != NULL ? o.buf : "nothing");
	o.buf[64] = '\0';
	hex = it_printf("%s", o.buf);
	free(o.buf);
	return hex;
}

/*
 * One line per row, kind, id, ':', version and a newline, keys first,
 * each table in bytewise id order ("B" before "a", "\xc3\xa9" last).
 */
Test(fleet_schema, digest_is_sha256_of_the_row_lines)
{
	const char *q = "SELECT encode(apikeyd.digest(), 'hex')";

	cr_assert_str_eq(pg_sql("%s", q), sha256_hex(""));
	cr_assert_str_eq(pg_sql("%s", q), "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855");
	put_key("b", "01");
	put_key("a", "02");
	put_key("B", "03");
	put_key("\xc3\xa9", "04");
	put_tenant("zeta", "05");
	put_tenant("acme", "06");
	pg_sql("UPDATE apikeyd.keys SET record = '\\x07' WHERE id = 'a'");
	pg_sql("DELETE FROM apikeyd.tenants WHERE id = 'zeta'");
	put_tenant("zeta", "09");
	cr_assert_str_eq(pg_sql("%s", q), sha256_hex("kB:3\nka:7\nkb:1\n"
	    "k\xc3\xa9:4\ntacme:6\ntzeta:9\n"));
}

/* --- loading -------------------------------------------------------------- */

/* Into a fresh database once; a second load fails whole, changing
 * nothing (psql -1: one transaction). */
Test(fleet_schema, the_schema_loads_once)
{
	const char *err;

	cr_assert_str_eq(pg_sql("SELECT string_agg(version::text, ','), "
	    "(SELECT pruned_through FROM apikeyd.horizon) FROM "
	    "apikeyd.schema_version"), "1|0");
	pg_sql("CREATE DATABASE fresh");
	cr_assert_eq(pg_load_schema_try("fresh", &err), 0, "%s", err);
	cr_assert_eq(pg_load_schema_try("fresh", &err), 3);
	it_assert_has(err, "ERROR:  schema \"apikeyd\" already exists");
	cr_assert_eq(pg_load_schema_try("postgres", &err), 3);
	it_assert_has(err, "ERROR:  schema \"apikeyd\" already exists");
	cr_assert_str_eq(pg_sql("SELECT string_agg(version::text, ',') FROM "
	    "apikeyd.schema_version"), "1");
	cr_assert_str_eq(pg_sql("SELECT count(*) FROM pg_trigger WHERE "
	    "tgrelid = 'apikeyd.keys'::regclass AND NOT tgisinternal"), "3");
	cr_assert_str_eq(pg_sql("SELECT count(*) FROM apikeyd.horizon"), "1");
}

/* --- the harness itself --------------------------------------------------- */

/* What the fleet tests build on: the database away, then back with its
 * data. */
Test(fleet_schema, the_harness_stops_and_restarts_the_server)
{
	const char *err;

	put_key("k1", "01");
	pg_stop();
	cr_assert_eq(pg_sql_try(NULL, &err, "SELECT 1"), 2);
	it_assert_has(err, "No such file or directory");
	pg_restart();
	pg_wait_sql("SELECT id FROM apikeyd.keys", "k1", IT_DEADLINE_MS);
	put_key("k2", "02");
	cr_assert_str_eq(changelog(), "1|k|k1|01\n2|k|k2|02");
}
