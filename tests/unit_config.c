/*
 * unit_config.c - the apikeyd.conf parser (daemon/config.c).
 *
 * Each test writes its configuration text to a fresh mkstemp file (removed
 * afterwards), loads it over the defaults and checks the resulting struct
 * or the exact "FILE:LINE: message" error. Numeric limits are checked at
 * their edges.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "../daemon/config.h"

static char		 path[64];
static char		 dir[64];
static struct config	*c;
static char		 err[1024];

static void
setup(void)
{
	path[0] = '\0';
	snprintf(dir, sizeof(dir), "/tmp/unit_config.XXXXXX");
	cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	c = calloc(1, sizeof(*c));
	cr_assert_not_null(c);
	config_defaults(c);
	err[0] = '\0';
}

static void
teardown(void)
{
	if (path[0] != '\0')
		unlink(path);
	rmdir(dir);
	free(c);
}

TestSuite(config, .init = setup, .fini = teardown);

/* Writes text to a new file whose name is left in path. */
static void
write_conf(const char *text)
{
	size_t	 len = strlen(text);
	int	 fd;

	if (path[0] != '\0')
		unlink(path);
	snprintf(path, sizeof(path), "/tmp/unit_config.conf.XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	cr_assert_eq(close(fd), 0);
}

static int
load(const char *text)
{
	write_conf(text);
	return config_load(c, path, 1, err, sizeof(err));
}

static void
load_ok(const char *text)
{
	int	 rc = load(text);

	cr_assert_eq(rc, 0, "config_load: %d: %s", rc, err);
}

/* Loads text and expects exactly "path:line: msg". */
static void
load_fails(const char *text, int line, const char *msg)
{
	char	 want[sizeof(err)];

	cr_expect_eq(load(text), -1, "accepted: %s", text);
	snprintf(want, sizeof(want), "%s:%d: %s", path, line, msg);
	cr_expect_str_eq(err, want);
}

static void
expect_defaults(const struct config *cf)
{
	cr_expect_str_eq(cf->state_dir, "/var/lib/apikeyd");
	cr_expect_str_eq(cf->socket_dir, "/run/apikeyd");
	cr_expect_eq(cf->map_size, (size_t)1 << 30);
	cr_expect_eq(cf->max_connections, 1024);
	cr_expect_eq(cf->max_connections_per_uid, 64);
	cr_expect_str_eq(cf->admin_group, "");
	cr_expect_eq(cf->debug, 0);
}

/* ------------------------------------------------------------------ */
/* Defaults and every key */

Test(config, defaults)
{
	struct config	*d = malloc(sizeof(*d));

	cr_assert_not_null(d);
	memset(d, 0xa5, sizeof(*d));
	config_defaults(d);
	expect_defaults(d);
	cr_expect_str_eq(CONFIG_DEFAULT_STATE, "/var/lib/apikeyd");
	cr_expect_str_eq(CONFIG_DEFAULT_SOCKETS, "/run/apikeyd");
	free(d);
}

Test(config, empty_file_keeps_defaults)
{
	load_ok("");
	expect_defaults(c);
}

Test(config, comments_and_blank_lines_keep_defaults)
{
	load_ok("# apikeyd.conf\n\n   \n\t\n  # indented comment\n#state_dir = /x\n");
	expect_defaults(c);
}

Test(config, every_key)
{
	load_ok("state_dir = /srv/apikeyd/state\n"
	    "socket_dir = /srv/apikeyd/run\n"
	    "admin_group = keyadmins\n"
	    "log_level = debug\n"
	    "map_size = 4G\n"
	    "max_connections = 200\n"
	    "max_connections_per_uid = 7\n");
	cr_expect_str_eq(c->state_dir, "/srv/apikeyd/state");
	cr_expect_str_eq(c->socket_dir, "/srv/apikeyd/run");
	cr_expect_str_eq(c->admin_group, "keyadmins");
	cr_expect_eq(c->debug, 1);
	cr_expect_eq(c->map_size, (size_t)4 << 30);
	cr_expect_eq(c->max_connections, 200);
	cr_expect_eq(c->max_connections_per_uid, 7);
}

Test(config, log_level_info_resets_debug)
{
	load_ok("log_level = debug\nlog_level = info\n");
	cr_expect_eq(c->debug, 0);
}

Test(config, later_line_wins)
{
	load_ok("max_connections = 5\nmax_connections = 6\n");
	cr_expect_eq(c->max_connections, 6);
}

Test(config, admin_group_empty_means_root_only)
{
	load_ok("admin_group = wheel\nadmin_group =\n");
	cr_expect_str_eq(c->admin_group, "");
}

Test(config, map_size_suffixes)
{
	load_ok("map_size = 1048576\n");
	cr_expect_eq(c->map_size, (size_t)1 << 20);
	load_ok("map_size = 2048K\n");
	cr_expect_eq(c->map_size, (size_t)2 << 20);
	load_ok("map_size = 2048k\n");
	cr_expect_eq(c->map_size, (size_t)2 << 20);
	load_ok("map_size = 1M\n");
	cr_expect_eq(c->map_size, (size_t)1 << 20);
	load_ok("map_size = 512m\n");
	cr_expect_eq(c->map_size, (size_t)512 << 20);
	load_ok("map_size = 3G\n");
	cr_expect_eq(c->map_size, (size_t)3 << 30);
	load_ok("map_size = 1g\n");
	cr_expect_eq(c->map_size, (size_t)1 << 30);
	load_ok("map_size = 2T\n");
	cr_expect_eq(c->map_size, (size_t)2 << 40);
	load_ok("map_size = 1t\n");
	cr_expect_eq(c->map_size, (size_t)1 << 40);
}

Test(config, connection_limits_edges)
{
	load_ok("max_connections = 1\nmax_connections_per_uid = 1\n");
	cr_expect_eq(c->max_connections, 1);
	cr_expect_eq(c->max_connections_per_uid, 1);
	load_ok("max_connections = 1000000\n"
	    "max_connections_per_uid = 1000000\n");
	cr_expect_eq(c->max_connections, 1000000);
	cr_expect_eq(c->max_connections_per_uid, 1000000);
}

/* ------------------------------------------------------------------ */
/* Layout: comments, whitespace */

Test(config, trailing_comment)
{
	load_ok("state_dir = /srv/state # where the keys live\n"
	    "log_level = debug#no space\n");
	cr_expect_str_eq(c->state_dir, "/srv/state");
	cr_expect_eq(c->debug, 1);
}

Test(config, whitespace_around_equals)
{
	load_ok("map_size=2G\n"
	    "  \tmax_connections\t=\t12 \t\n"
	    "max_connections_per_uid =3\n"
	    "socket_dir= /srv/sock   \n");
	cr_expect_eq(c->map_size, (size_t)2 << 30);
	cr_expect_eq(c->max_connections, 12);
	cr_expect_eq(c->max_connections_per_uid, 3);
	cr_expect_str_eq(c->socket_dir, "/srv/sock");
}

Test(config, crlf_line_endings)
{
	load_ok("state_dir = /srv/state\r\nlog_level = debug\r\n");
	cr_expect_str_eq(c->state_dir, "/srv/state");
	cr_expect_eq(c->debug, 1);
}

Test(config, last_line_without_newline)
{
	load_ok("max_connections = 9");
	cr_expect_eq(c->max_connections, 9);
}

Test(config, value_keeps_inner_spaces)
{
	load_ok("state_dir = /srv/my keys\n");
	cr_expect_str_eq(c->state_dir, "/srv/my keys");
}

/* ------------------------------------------------------------------ */
/* Errors name the file and the line */

Test(config, unknown_key)
{
	load_fails("# c\nstate_dir = /x\nstate_dri = /y\n", 3,
	    "unknown option 'state_dri'");
}

Test(config, unknown_key_is_case_sensitive)
{
	load_fails("State_Dir = /x\n", 1, "unknown option 'State_Dir'");
}

Test(config, empty_key)
{
	load_fails("= /x\n", 1, "unknown option ''");
}

Test(config, missing_equals)
{
	load_fails("\n\nstate_dir /x\n", 3, "expected 'key = value'");
	load_fails("log_level\n", 1, "expected 'key = value'");
}

Test(config, equals_only_in_comment)
{
	load_fails("log_level # = debug\n", 1, "expected 'key = value'");
}

Test(config, relative_paths)
{
	load_fails("state_dir = var/lib/apikeyd\n", 1,
	    "state_dir must be an absolute path");
	load_fails("socket_dir = run\n", 1,
	    "socket_dir must be an absolute path");
	load_fails("state_dir =\n", 1, "state_dir must be an absolute path");
	load_fails("socket_dir = ./x\n", 1,
	    "socket_dir must be an absolute path");
}

Test(config, path_too_long)
{
	char	*v = malloc(PATH_MAX + 1);

	/*
	 * Through config_set (the command line): a file line is at most
	 * 4094 characters, shorter than PATH_MAX.
	 */
	cr_assert_not_null(v);
	memset(v, 'p', PATH_MAX);
	v[0] = '/';
	v[PATH_MAX] = '\0';
	cr_expect_eq(config_set(c, "state_dir", v, err, sizeof(err)), -1);
	cr_expect_not_null(strstr(err, "state_dir"), "err: %s", err);
	cr_expect_str_eq(c->state_dir, "/var/lib/apikeyd");

	v[PATH_MAX - 1] = '\0';
	cr_expect_eq(config_set(c, "state_dir", v, err, sizeof(err)), 0);
	cr_expect_eq(strlen(c->state_dir), PATH_MAX - 1);
	free(v);
}

Test(config, admin_group_too_long)
{
	char	 text[64 + PROTO_ACCOUNT_MAX + 1];
	size_t	 n;

	n = (size_t)snprintf(text, sizeof(text), "admin_group = ");
	memset(text + n, 'g', PROTO_ACCOUNT_MAX + 1);
	strcpy(text + n + PROTO_ACCOUNT_MAX + 1, "\n");
	load_fails(text, 1, "admin_group is too long");
	cr_expect_str_eq(c->admin_group, "");

	strcpy(text + n + PROTO_ACCOUNT_MAX, "\n");
	load_ok(text);
	cr_expect_eq(strlen(c->admin_group), PROTO_ACCOUNT_MAX);
}

Test(config, bad_log_level)
{
	const char	*msg = "log_level must be info or debug";

	load_fails("log_level = verbose\n", 1, msg);
	load_fails("log_level = DEBUG\n", 1, msg);
	load_fails("log_level =\n", 1, msg);
	cr_expect_eq(c->debug, 0);
}

static const char map_msg[] = "map_size must be a size of at least 1M "
    "(e.g. 512M, 4G)";

Test(config, map_size_below_1m)
{
	load_fails("map_size = 1048575\n", 1, map_msg);
	load_fails("map_size = 1023K\n", 1, map_msg);
	load_fails("map_size = 0\n", 1, map_msg);
	load_fails("map_size = 0G\n", 1, map_msg);
}

Test(config, map_size_garbage)
{
	load_fails("map_size = abc\n", 1, map_msg);
	load_fails("map_size =\n", 1, map_msg);
	load_fails("map_size = G\n", 1, map_msg);
	load_fails("map_size = 1.5G\n", 1, map_msg);
	load_fails("map_size = 1GB\n", 1, map_msg);
	load_fails("map_size = 1 G\n", 1, map_msg);
	load_fails("map_size = 4P\n", 1, map_msg);
	load_fails("map_size = -1M\n", 1, map_msg);
	load_fails("map_size = +1M\n", 1, map_msg);
	load_fails("map_size = 0x100000\n", 1, map_msg);
}

Test(config, map_size_overflow)
{
	/* Beyond unsigned long long. */
	load_fails("map_size = 18446744073709551616\n", 1, map_msg);
	/* 2^24 T = 2^64 overflows size_t only after the multiplication. */
	load_fails("map_size = 16777216T\n", 1, map_msg);
	load_fails("map_size = 18014398509481984K\n", 1, map_msg);
	load_ok("map_size = 16777215T\n");
	cr_expect_eq(c->map_size, (size_t)16777215 << 40);
}

Test(config, map_size_failure_keeps_value)
{
	/* Out-parameters are written only on success (STYLE.md). */
	cr_expect_eq(config_set(c, "map_size", "512K", err, sizeof(err)), -1);
	cr_expect_str_eq(err, map_msg);
	cr_expect_eq(c->map_size, (size_t)1 << 30,
	    "map_size changed to %zu by a rejected value", c->map_size);
}

Test(config, max_connections_bad)
{
	const char	*msg = "max_connections must be 1-1000000";

	load_fails("max_connections = 0\n", 1, msg);
	load_fails("max_connections = abc\n", 1, msg);
	load_fails("max_connections =\n", 1, msg);
	load_fails("max_connections = -1\n", 1, msg);
	load_fails("max_connections = 1000001\n", 1, msg);
	load_fails("max_connections = 4294967297\n", 1, msg);
	load_fails("max_connections = 99999999999999999999999\n", 1, msg);
	load_fails("max_connections = 10x\n", 1, msg);
	load_fails("max_connections = 1K\n", 1, msg);
	cr_expect_eq(c->max_connections, 1024);
}

Test(config, max_connections_per_uid_bad)
{
	const char	*msg = "max_connections_per_uid must be 1-1000000";

	load_fails("max_connections_per_uid = 0\n", 1, msg);
	load_fails("max_connections_per_uid = many\n", 1, msg);
	load_fails("max_connections_per_uid = 1000001\n", 1, msg);
	cr_expect_eq(c->max_connections_per_uid, 64);
}

Test(config, error_stops_at_first_bad_line)
{
	load_fails("max_connections = 0\nfoo = bar\n", 1,
	    "max_connections must be 1-1000000");
}

/* ------------------------------------------------------------------ */
/* Files */

Test(config, missing_file_not_required)
{
	char	 p[128];

	snprintf(p, sizeof(p), "%s/absent.conf", dir);
	strcpy(err, "untouched");
	cr_expect_eq(config_load(c, p, 0, err, sizeof(err)), 0);
	cr_expect_str_eq(err, "untouched");
	expect_defaults(c);
}

Test(config, missing_file_required)
{
	char	 p[128], want[256];

	snprintf(p, sizeof(p), "%s/absent.conf", dir);
	cr_expect_eq(config_load(c, p, 1, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: %s", p, strerror(ENOENT));
	cr_expect_str_eq(err, want);
	expect_defaults(c);
}

Test(config, directory_is_an_error_even_if_not_required)
{
	char	 want[256];

	cr_expect_eq(config_load(c, dir, 0, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: read error", dir);
	cr_expect_str_eq(err, want);
}

/* A line of n characters plus newline after a first, short line. */
static char *
long_line_text(size_t n)
{
	char	*text = malloc(n + 64);
	size_t	 k;

	cr_assert_not_null(text);
	k = (size_t)snprintf(text, n + 64, "log_level = info\n# ");
	memset(text + k, 'x', n - 2);
	strcpy(text + k + n - 2, "\nlog_level = debug\n");
	return text;
}

Test(config, over_long_line)
{
	char	*text = long_line_text(5000);

	load_fails(text, 2, "line too long");
	free(text);
}

Test(config, longest_line_accepted)
{
	/* The buffer is 4096 bytes: 4094 characters, newline and NUL. */
	char	*text = long_line_text(4094);

	load_ok(text);
	cr_expect_eq(c->debug, 1);
	free(text);

	text = long_line_text(4095);
	load_fails(text, 2, "line too long");
	free(text);
}

Test(config, config_set_directly)
{
	cr_expect_eq(config_set(c, "max_connections", "5", err, sizeof(err)),
	    0);
	cr_expect_eq(c->max_connections, 5);
	cr_expect_eq(config_set(c, "nope", "5", err, sizeof(err)), -1);
	cr_expect_str_eq(err, "unknown option 'nope'");
	cr_expect_eq(config_set(c, "socket_dir", "rel", err, sizeof(err)), -1);
	cr_expect_str_eq(err, "socket_dir must be an absolute path");
	cr_expect_str_eq(c->socket_dir, "/run/apikeyd");
}

/* ------------------------------------------------------------------ */
/* Failure throttling and usage flushing (issue 4) */

static const char dur_tail[] = " must be a duration from 1ms to 24h "
    "(e.g. 250ms, 30s, 5m)";

Test(config, throttle_defaults)
{
	struct config	*d = malloc(sizeof(*d));

	cr_assert_not_null(d);
	memset(d, 0xa5, sizeof(*d));
	config_defaults(d);
	cr_expect_eq(d->throttle_failures, 20);
	cr_expect_eq(d->throttle_window_ms, 60000);
	cr_expect_eq(d->throttle_backoff_ms, 60000);
	cr_expect_eq(d->usage_flush_ms, 10000);
	free(d);
}

Test(config, throttle_defaults_survive_other_keys)
{
	load_ok("max_connections = 5\n");
	cr_expect_eq(c->throttle_failures, 20);
	cr_expect_eq(c->throttle_window_ms, 60000);
	cr_expect_eq(c->throttle_backoff_ms, 60000);
	cr_expect_eq(c->usage_flush_ms, 10000);
}

Test(config, throttle_every_key)
{
	load_ok("throttle_failures = 5\n"
	    "throttle_window = 250ms\n"
	    "throttle_backoff = 5m\n"
	    "usage_flush_interval = 30\n");
	cr_expect_eq(c->throttle_failures, 5);
	cr_expect_eq(c->throttle_window_ms, 250);
	cr_expect_eq(c->throttle_backoff_ms, 300000);
	cr_expect_eq(c->usage_flush_ms, 30000);
	/* The other settings keep their defaults. */
	expect_defaults(c);
}

/* Sets key = value through the file and returns the milliseconds. */
static uint64_t
duration(const char *key, const char *value)
{
	char	 text[256];

	snprintf(text, sizeof(text), "%s = %s\n", key, value);
	load_ok(text);
	if (strcmp(key, "throttle_window") == 0)
		return c->throttle_window_ms;
	if (strcmp(key, "throttle_backoff") == 0)
		return c->throttle_backoff_ms;
	return c->usage_flush_ms;
}

Test(config, duration_units)
{
	const char	*keys[] = { "throttle_window", "throttle_backoff",
	    "usage_flush_interval" };
	size_t		 i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		cr_expect_eq(duration(keys[i], "250ms"), 250, "%s", keys[i]);
		cr_expect_eq(duration(keys[i], "1ms"), 1, "%s", keys[i]);
		cr_expect_eq(duration(keys[i], "30s"), 30000, "%s", keys[i]);
		cr_expect_eq(duration(keys[i], "30"), 30000, "%s", keys[i]);
		cr_expect_eq(duration(keys[i], "5m"), 300000, "%s", keys[i]);
		cr_expect_eq(duration(keys[i], "1h"), 3600000, "%s", keys[i]);
	}
}

Test(config, duration_upper_edge)
{
	/* 24 h in every unit is accepted; a millisecond more is not. */
	cr_expect_eq(duration("throttle_window", "24h"), 86400000);
	cr_expect_eq(duration("throttle_window", "1440m"), 86400000);
	cr_expect_eq(duration("throttle_window", "86400"), 86400000);
	cr_expect_eq(duration("throttle_window", "86400s"), 86400000);
	cr_expect_eq(duration("throttle_window", "86400000ms"), 86400000);
}

Test(config, duration_rejected)
{
	const char	*keys[] = { "throttle_window", "throttle_backoff",
	    "usage_flush_interval" };
	const char	*bad[] = { "0", "0ms", "0s", "0h", "25h", "1d", "abc",
	    "10x", "", "-1", "+5", "1.5s", "1 s", "5 m", "10S", "10MS", "1H",
	    "ms", "s", "1441m", "86401", "86401s", "86400001ms",
	    "99999999999999999999", "18446744073709551615ms", "0x10", "5ms5",
	    "1hh" };
	char		 text[256], msg[256];
	size_t		 i, j;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(msg, sizeof(msg), "%s%s", keys[i], dur_tail);
		for (j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
			/* A line before the bad one: the line number counts. */
			snprintf(text, sizeof(text), "# ok\n%s = %s\n",
			    keys[i], bad[j]);
			load_fails(text, 2, msg);
		}
	}
	/* Rejected values leave the defaults. */
	cr_expect_eq(c->throttle_window_ms, 60000);
	cr_expect_eq(c->throttle_backoff_ms, 60000);
	cr_expect_eq(c->usage_flush_ms, 10000);
}

Test(config, duration_failure_keeps_value)
{
	cr_expect_eq(config_set(c, "throttle_backoff", "90s", err,
	    sizeof(err)), 0);
	cr_expect_eq(c->throttle_backoff_ms, 90000);
	cr_expect_eq(config_set(c, "throttle_backoff", "25h", err,
	    sizeof(err)), -1);
	cr_expect_str_eq(err, "throttle_backoff must be a duration from 1ms "
	    "to 24h (e.g. 250ms, 30s, 5m)");
	cr_expect_eq(c->throttle_backoff_ms, 90000);
	/* Each key sets only its own field. */
	cr_expect_eq(c->throttle_window_ms, 60000);
	cr_expect_eq(c->usage_flush_ms, 10000);
}

static const char fail_msg[] = "throttle_failures must be 0-1000000 "
    "(0 turns throttling off)";

Test(config, throttle_failures_range)
{
	load_ok("throttle_failures = 0\n");
	cr_expect_eq(c->throttle_failures, 0);
	load_ok("throttle_failures = 1\n");
	cr_expect_eq(c->throttle_failures, 1);
	load_ok("throttle_failures = 1000000\n");
	cr_expect_eq(c->throttle_failures, 1000000);
}

Test(config, throttle_failures_bad)
{
	load_fails("\n\nthrottle_failures = 1000001\n", 3, fail_msg);
	load_fails("throttle_failures = -1\n", 1, fail_msg);
	load_fails("throttle_failures = abc\n", 1, fail_msg);
	load_fails("throttle_failures =\n", 1, fail_msg);
	load_fails("throttle_failures = 10x\n", 1, fail_msg);
	load_fails("throttle_failures = 4294967316\n", 1, fail_msg);
	load_fails("throttle_failures = 20s\n", 1, fail_msg);
	cr_expect_eq(c->throttle_failures, 20);
}

/* ------------------------------------------------------------------ */
/* The limits that keep one user from starving the others */

Test(config, limit_defaults)
{
	char	 msg[256];

	cr_expect_eq(c->max_keys_per_user, 1000);
	cr_expect_eq(c->max_keys_per_tenant, 1000);
	cr_expect_eq(c->map_reserve_pct, 10);
	cr_expect_eq(c->audit_max_entries, 100000);
	cr_expect_eq(c->audit_max_age_ms, 365ULL * 24 * 3600 * 1000);
	cr_expect_eq(c->expired_grace_ms, 30ULL * 24 * 3600 * 1000);
	cr_expect_eq(c->maintenance_ms, 60000);
	cr_expect_eq(c->read_timeout_ms, 5000);
	cr_expect_eq(c->idle_timeout_ms, 60000);
	cr_expect_eq(c->reserved_connections, CONFIG_AUTO);
	cr_expect_str_eq(c->service_users, "");
	cr_expect_eq(c->rate_windows, 256 * 1024);
	cr_expect_eq(c->throttle_sources, 64 * 1024);
	cr_expect_eq(c->log_lines, 20);
	cr_expect_eq(c->log_window_ms, 60000);
	/* The reserve defaults to a sixteenth of the connections. */
	cr_assert_eq(config_finish(c, msg, sizeof(msg)), 0);
	cr_expect_eq(c->reserved_connections, 64);
}

Test(config, limit_every_key)
{
	load_ok("max_keys_per_user = 0\nmax_keys_per_tenant = 50\n"
	    "map_reserve = 25%\naudit_max_entries = 0\n"
	    "audit_max_age = off\nexpired_key_grace = 2w\n"
	    "maintenance_interval = 250ms\nread_timeout = 2s\n"
	    "idle_timeout = 0\nreserved_connections = 8\n"
	    "service_users = www-data, 998 nginx\nrate_windows = 16\n"
	    "throttle_sources = 1000\nlog_lines_per_uid = 0\n"
	    "log_window = 5m\n");
	cr_expect_eq(c->max_keys_per_user, 0);
	cr_expect_eq(c->max_keys_per_tenant, 50);
	cr_expect_eq(c->map_reserve_pct, 25);
	cr_expect_eq(c->audit_max_entries, 0);
	cr_expect_eq(c->audit_max_age_ms, 0);
	cr_expect_eq(c->expired_grace_ms, 14ULL * 24 * 3600 * 1000);
	cr_expect_eq(c->maintenance_ms, 250);
	cr_expect_eq(c->read_timeout_ms, 2000);
	cr_expect_eq(c->idle_timeout_ms, 0);
	cr_expect_eq(c->reserved_connections, 8);
	cr_expect_str_eq(c->service_users, "www-data, 998 nginx");
	cr_expect_eq(c->rate_windows, 16);
	cr_expect_eq(c->throttle_sources, 1000);
	cr_expect_eq(c->log_lines, 0);
	cr_expect_eq(c->log_window_ms, 300000);
}

Test(config, map_reserve_edges)
{
	static const char msg[] = "map_reserve must be a percentage from 1% "
	    "to 50%";

	load_ok("map_reserve = 1\n");
	cr_expect_eq(c->map_reserve_pct, 1);
	load_ok("map_reserve = 50%\n");
	cr_expect_eq(c->map_reserve_pct, 50);
	load_fails("map_reserve = 0\n", 1, msg);
	load_fails("map_reserve = 51%\n", 1, msg);
	load_fails("map_reserve = 10%%\n", 1, msg);
	load_fails("map_reserve = %\n", 1, msg);
	load_fails("map_reserve = ten\n", 1, msg);
	cr_expect_eq(c->map_reserve_pct, 50);
}

Test(config, long_durations)
{
	static const char age[] = "audit_max_age must be off (keep forever) "
	    "or a duration from 1h to 3650d (e.g. 12h, 30d, 52w)";
	static const char grace[] = "expired_key_grace must be off (never "
	    "purge automatically) or a duration from 1s to 3650d (e.g. 12h, "
	    "30d, 52w)";

	load_ok("audit_max_age = 1h\n");
	cr_expect_eq(c->audit_max_age_ms, 3600000);
	load_ok("audit_max_age = 3650d\n");
	cr_expect_eq(c->audit_max_age_ms, 3650ULL * 24 * 3600 * 1000);
	load_ok("expired_key_grace = 1\n");
	cr_expect_eq(c->expired_grace_ms, 1000);
	load_ok("expired_key_grace = off\n");
	cr_expect_eq(c->expired_grace_ms, 0);
	load_fails("audit_max_age = 59m\n", 1, age);
	load_fails("audit_max_age = 3651d\n", 1, age);
	load_fails("audit_max_age = 0\n", 1, age);
	load_fails("audit_max_age = 1y\n", 1, age);
	load_fails("expired_key_grace = 500ms\n", 1, grace);
	load_fails("expired_key_grace = never\n", 1, grace);
	/* Days are only for the long ones. */
	load_fails("read_timeout = 1d\n", 1, "read_timeout must be a duration "
	    "from 1ms to 24h (e.g. 250ms, 30s, 5m)");
	load_fails("read_timeout = 0\n", 1, "read_timeout must be a duration "
	    "from 1ms to 24h (e.g. 250ms, 30s, 5m)");
	load_fails("idle_timeout = 25h\n", 1, "idle_timeout must be a duration "
	    "from 1ms to 24h, or 0 for none (e.g. 250ms, 30s, 5m)");
}

Test(config, service_users_bounds)
{
	char	 text[2048];
	size_t	 i, n = 0;

	for (i = 0; i < 17; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%su%zu",
		    i == 0 ? "service_users = " : ",", i);
	snprintf(text + n, sizeof(text) - n, "\n");
	load_fails(text, 1, "service_users: at most 16 names");
	memset(text, 'a', 200);
	memcpy(text, "service_users = ", 16);
	text[200] = '\n';
	text[201] = '\0';
	load_fails(text, 1, "service_users: a name is longer than 128 bytes");
	load_ok("service_users =\n");
	cr_expect_str_eq(c->service_users, "");
}

Test(config, reserved_connections_below_max)
{
	char	 msg[256];

	load_ok("max_connections = 10\nreserved_connections = 10\n");
	cr_assert_eq(config_finish(c, msg, sizeof(msg)), -1);
	cr_expect_str_eq(msg, "reserved_connections (10) must be below "
	    "max_connections (10)");
	load_ok("reserved_connections = 9\n");
	cr_assert_eq(config_finish(c, msg, sizeof(msg)), 0);
	cr_expect_eq(c->reserved_connections, 9);
	config_defaults(c);
	load_ok("max_connections = 15\n");
	cr_assert_eq(config_finish(c, msg, sizeof(msg)), 0);
	cr_expect_eq(c->reserved_connections, 0);
}

/* --- fleet mode ------------------------------------------------------------ */

Test(config, fleet_defaults_and_keys)
{
	char	 msg[256];

	cr_expect_str_eq(c->fleet_url, "");
	cr_expect_eq(c->fleet_poll_ms, 2000);
	cr_expect_eq(c->fleet_timeout_ms, 1500);
	cr_expect_eq(c->fleet_digest_ms, 60 * 60 * 1000);
	cr_expect_eq(c->max_staleness_ms, 0);
	cr_expect_eq(c->fleet_writes_per_uid, 2000);
	load_ok("fleet_url = postgresql://apikeyd@db.example.org/apikeyd?"
	    "sslmode=verify-full&passfile=/etc/apikeyd/pgpass\n"
	    "fleet_poll_interval = 500ms\n"
	    "fleet_timeout = 3s\n"
	    "fleet_digest_interval = 0\n"
	    "max_staleness = 10s\n"
	    "fleet_writes_per_uid = 0\n");
	cr_expect_str_eq(c->fleet_url, "postgresql://apikeyd@db.example.org/"
	    "apikeyd?sslmode=verify-full&passfile=/etc/apikeyd/pgpass");
	cr_expect_eq(c->fleet_poll_ms, 500);
	cr_expect_eq(c->fleet_timeout_ms, 3000);
	cr_expect_eq(c->fleet_digest_ms, 0);
	cr_expect_eq(c->max_staleness_ms, 10000);
	cr_expect_eq(c->fleet_writes_per_uid, 0);
	cr_assert_eq(config_finish(c, msg, sizeof(msg)), 0, "%s", msg);
	/* key=value form and a service name are libpq's too. */
	load_ok("fleet_url = host=/run/postgresql dbname=apikeyd\n");
	cr_assert_eq(config_finish(c, msg, sizeof(msg)), 0, "%s", msg);
	load_ok("fleet_url = service=apikeyd\n");
	cr_assert_eq(config_finish(c, msg, sizeof(msg)), 0, "%s", msg);
}

/* A password belongs in a passfile: the config file is not one. */
Test(config, fleet_url_with_password_refused)
{
	static const char *const urls[] = {
		"postgresql://apikeyd:s3cret@db.example.org/apikeyd",
		"host=db.example.org dbname=apikeyd password=s3cret",
		"postgresql://db.example.org/apikeyd?password=s3cret",
	};
	char	 msg[256];
	size_t	 i;

	for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		config_defaults(c);
		cr_assert_eq(config_set(c, "fleet_url", urls[i], msg,
		    sizeof(msg)), 0);
		cr_assert_eq(config_finish(c, msg, sizeof(msg)), -1, "%s",
		    urls[i]);
		cr_expect_str_eq(msg, "fleet_url must not hold a password: put "
		    "it in a password file (passfile= in fleet_url, mode 0600; "
		    "see README, Fleet)");
	}
}

Test(config, fleet_url_libpq_rejects)
{
	char	 msg[256];

	cr_assert_eq(config_set(c, "fleet_url", "host=db dbname", msg,
	    sizeof(msg)), 0);
	cr_assert_eq(config_finish(c, msg, sizeof(msg)), -1);
	cr_expect_str_eq(msg, "fleet_url: missing \"=\" after \"dbname\" in "
	    "connection info string");
}

Test(config, max_staleness_needs_a_fleet_and_a_longer_poll)
{
	char	 msg[256];

	load_ok("max_staleness = 5s\n");
	cr_assert_eq(config_finish(c, msg, sizeof(msg)), -1);
	cr_expect_str_eq(msg, "max_staleness needs fleet_url: a single host "
	    "has nothing to be stale against");
	load_ok("fleet_url = service=apikeyd\nfleet_poll_interval = 5s\n");
	cr_assert_eq(config_finish(c, msg, sizeof(msg)), -1);
	cr_expect_str_eq(msg, "max_staleness must be longer than "
	    "fleet_poll_interval, or every host would be stale between two "
	    "polls");
	load_ok("fleet_poll_interval = 4s\n");
	cr_assert_eq(config_finish(c, msg, sizeof(msg)), 0, "%s", msg);
}

Test(config, fleet_bad_values)
{
	char	 big[CONFIG_FLEET_URL_MAX + 64];

	load_fails("fleet_poll_interval = 0\n", 1, "fleet_poll_interval must "
	    "be a duration from 1ms to 24h (e.g. 250ms, 30s, 5m)");
	load_fails("max_staleness = soon\n", 1, "max_staleness must be a "
	    "duration from 1ms to 24h, or 0 for none (e.g. 250ms, 30s, 5m)");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "fleet_url = ", 12);
	big[CONFIG_FLEET_URL_MAX + 13] = '\n';
	big[CONFIG_FLEET_URL_MAX + 14] = '\0';
	load_fails(big, 1, "fleet_url is longer than 1023 bytes");
}
