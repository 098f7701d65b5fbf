/*
 * it_fleet_start.c - fleet mode (issue 12) where a host and the database
 * do not start from the same place: a store holding keys of a single host
 * is refused (the first snapshot would replace them), and nothing in it or
 * in the database is touched; a database made anew under a running host is
 * loaded again. (The digest comparison that catches other drift is in
 * it_fleet.c.)
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "harness_fleet.h"

TestSuite(fleet_start, .timeout = 120);

static void
write_text(const char *path, const char *text)
{
	FILE	*f;

	cr_assert_not_null(f = fopen(path, "w"), "%s", path);
	cr_assert_eq(fputs(text, f) >= 0 && fclose(f) == 0, 1, "%s", path);
}

Test(fleet_start, a_single_host_store_is_refused, .fini = fleet_teardown)
{
	const char	*token, *conf, *args[] = { "-f", "-d", "-c", NULL,
			    "--state-dir", NULL, "--socket-dir", NULL, NULL };

	/* A single host with a key. */
	it_setup();
	it_tenant("acme", "acme", NULL);
	token = it_key(NULL, "--tenant", "acme", NULL);
	it_stop();

	/* The same state directory in fleet mode: refused at start. */
	pg_start(NULL);
	conf = it_read_file(it_conf_path(), NULL);
	write_text(it_conf_path(), it_printf("%sfleet_url = %s\n", conf,
	    pg_conninfo()));
	args[3] = it_conf_path();
	args[5] = it_state_dir();
	args[7] = it_sock_dir();
	it_spawn_daemon(args);
	cr_assert_eq(it_wait_daemon_exit(IT_DEADLINE_MS), 1);
	it_log_wait(it_printf("fleet_url is set, but the store in %s holds 1 "
	    "keys and 1 tenants of a single host, which the fleet's snapshot "
	    "would replace: start fleet mode on an empty state directory "
	    "(README, Fleet)", it_state_dir()), IT_DEADLINE_MS);
	cr_assert_str_eq(pg_sql("SELECT count(*) FROM apikeyd.changelog"),
	    "0");

	/* Nothing was lost: as a single host again, the key works. */
	write_text(it_conf_path(), conf);
	it_start();
	cr_assert_eq(it_code(token, NULL), APIKEY_VALID);
}

/*
 * The database made anew under a running host (or restored from an older
 * backup): its changelog ends before the seq the host applied, so "seq >
 * last_seq" would never bring anything again. The host notices and loads
 * the new database's snapshot; what it held is gone with the old one.
 */
Test(fleet_start, a_database_made_anew_is_loaded_again, .fini = fleet_teardown)
{
	const char	*token, *err;
	uint64_t	 seq;

	fleet_start(1, NULL);
	fleet_tenant(0, "acme", "acme");
	token = it_key(NULL, "--tenant", "acme", NULL);
	seq = fleet_head();
	fleet_wait_applied(0, seq, IT_DEADLINE_MS);

	pg_sql("DROP SCHEMA apikeyd CASCADE");
	cr_assert_eq(pg_load_schema_try("postgres", &err), 0, "%s", err);
	fleet_log_wait(0, 0, it_printf("fleet: the database's changelog ends "
	    "at seq 0, before seq %llu which this host applied (a new or "
	    "restored database?): loading a snapshot", (unsigned long long)seq),
	    IT_DEADLINE_MS);
	fleet_wait_code(0, token, NULL, APIKEY_NOT_FOUND, IT_DEADLINE_MS);
	fleet_wait_synced(0, IT_DEADLINE_MS);
	cr_assert_eq(fleet_status(0).tenants, 0);
	/* And the new database works: its first change arrives. */
	fleet_expect(0, NULL, 0, NULL, "tenant", "add", "beta", "--group",
	    "beta", (const char *)NULL);
	fleet_wait_applied(0, 1, IT_DEADLINE_MS);
	cr_assert_eq(fleet_status(0).tenants, 1);
}

/*
 * Every host applies each change: one host's user may make at most
 * fleet_writes_per_uid of them a minute. A refused request changes
 * nothing anywhere; root is not counted.
 */
Test(fleet_start, a_users_changes_through_the_fleet_are_bounded,
    .fini = fleet_teardown)
{
	const char	*msg = "apikeyctl: too many changes through the fleet "
			    "database: fleet_writes_per_uid allows 3 a minute "
			    "for each user; nothing was changed; try again in ";
	struct it_run	 r;
	int		 i;

	fleet_start(1, "fleet_writes_per_uid = 3\n");
	for (i = 0; i < 3; i++)
		fleet_expect(0, "alice", 0, NULL, "key", "create", "--name",
		    it_printf("k%d", i), (const char *)NULL);
	cr_assert_eq(fleet_ctl(0, &r, "alice", "key", "create", "--name", "k3",
	    (const char *)NULL), 7);
	cr_assert(strncmp(r.err, msg, strlen(msg)) == 0, "stderr: %s", r.err);
	/* Nothing of it reached the database, and no host has it. */
	cr_assert_str_eq(pg_sql("SELECT count(*) FROM apikeyd.keys"), "3");
	cr_assert_eq(fleet_status(0).keys, 3);
	/* Root answers for its own: not counted. */
	for (i = 0; i < 4; i++)
		fleet_expect(0, NULL, 0, NULL, "tenant", "add",
		    it_printf("t%d", i), "--group", "acme", (const char *)NULL);
	/* bob has a window of his own. */
	fleet_expect(0, "bob", 0, NULL, "key", "create", (const char *)NULL);
}
