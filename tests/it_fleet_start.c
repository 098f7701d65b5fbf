/*
 * it_fleet_start.c - fleet mode (issue 12) at start-up: a store holding
 * keys of a single host is refused, since the first snapshot would
 * replace them, and nothing in it or in the database is touched. (The
 * digest comparison that catches other drift is in it_fleet.c.)
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
