/*
 * config.c - parses apikeyd.conf. The file is small and read once, so the
 * parser favours exact error messages over speed: every rejected line is
 * reported with its file name and line number, and an unknown key is an
 * error (a typo must not silently leave a default in place).
 */
#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fleet.h"

#define CONFIG_LINE_MAX	4096
#define DAY_MS		(24ULL * 3600 * 1000)

void
config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->state_dir, CONFIG_DEFAULT_STATE);
	strcpy(c->socket_dir, CONFIG_DEFAULT_SOCKETS);
	c->map_size = (size_t)1 << 30;
	c->verify_threads = CONFIG_AUTO;
	c->max_connections = 1024;
	c->max_connections_per_uid = 64;
	c->throttle_failures = 20;
	c->throttle_window_ms = 60 * 1000;
	c->throttle_backoff_ms = 60 * 1000;
	c->usage_flush_ms = 10 * 1000;
	c->max_keys_per_user = 1000;
	c->max_keys_per_tenant = 1000;
	c->map_reserve_pct = 10;
	c->audit_max_entries = 100000;
	c->audit_max_age_ms = 365ULL * DAY_MS;
	c->expired_grace_ms = 30ULL * DAY_MS;
	c->maintenance_ms = 60 * 1000;
	c->read_timeout_ms = 5 * 1000;
	c->idle_timeout_ms = 60 * 1000;
	c->reserved_connections = CONFIG_AUTO;
	c->rate_windows = 256 * 1024;
	c->throttle_sources = 64 * 1024;
	c->log_lines = 20;
	c->log_window_ms = 60 * 1000;
	c->fleet_poll_ms = 2 * 1000;
	c->fleet_timeout_ms = 1500;	/* under apikeyctl's 2 s */
	c->fleet_digest_ms = 60 * 60 * 1000;
	c->fleet_writes_per_uid = 2000;
}

/* The CPUs this process may run on (its affinity: a unit's CPUAffinity=
 * or a container's cpuset), at least 1. */
static unsigned
cpus_usable(void)
{
	cpu_set_t	 set;
	long		 n;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

int
config_finish(struct config *c, char *err, size_t errsz)
{
	if (c->verify_threads == CONFIG_AUTO) {
		c->verify_threads = cpus_usable();
		if (c->verify_threads > CONFIG_VERIFY_THREADS_AUTO)
			c->verify_threads = CONFIG_VERIFY_THREADS_AUTO;
	}
	if (c->reserved_connections == CONFIG_AUTO)
		c->reserved_connections = c->max_connections / 16;
	else if (c->reserved_connections >= c->max_connections) {
		snprintf(err, errsz, "reserved_connections (%u) must be below "
		    "max_connections (%u)", c->reserved_connections,
		    c->max_connections);
		return -1;
	}
	if (c->fleet_url[0] != '\0' &&
	    fleet_check_url(c->fleet_url, err, errsz) != 0)
		return -1;
	if (c->max_staleness_ms != 0 && c->fleet_url[0] == '\0') {
		snprintf(err, errsz, "max_staleness needs fleet_url: a single "
		    "host has nothing to be stale against");
		return -1;
	}
	if (c->max_staleness_ms != 0 &&
	    c->max_staleness_ms <= c->fleet_poll_ms) {
		snprintf(err, errsz, "max_staleness must be longer than "
		    "fleet_poll_interval, or every host would be stale between "
		    "two polls");
		return -1;
	}
	return 0;
}

/*
 * Parses "250ms", "30s", "5m", "1h" (a bare number is seconds), and with
 * days also "30d" and "2w", into milliseconds from min to max.
 */
static int
parse_duration(const char *s, int days, uint64_t min, uint64_t max,
    uint64_t *out)
{
	char			*end;
	unsigned long long	 v, mult;

	errno = 0;
	if (!isdigit((unsigned char)*s))
		return -1;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (strcmp(end, "ms") == 0)
		mult = 1;
	else if (strcmp(end, "s") == 0 || *end == '\0')
		mult = 1000;
	else if (strcmp(end, "m") == 0)
		mult = 60 * 1000;
	else if (strcmp(end, "h") == 0)
		mult = 3600 * 1000;
	else if (days && strcmp(end, "d") == 0)
		mult = DAY_MS;
	else if (days && strcmp(end, "w") == 0)
		mult = 7 * DAY_MS;
	else
		return -1;
	if (v > max / mult || v * mult < min)
		return -1;
	*out = v * mult;
	return 0;
}

/* Parses "123", "64K", "512M", "1G" (powers of 1024). */
static int
parse_size(const char *s, size_t *out)
{
	char			*end;
	unsigned long long	 v, mult = 1;

	errno = 0;
	if (!isdigit((unsigned char)*s))
		return -1;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	switch (*end) {
	case 'K': case 'k': mult = 1ULL << 10; end++; break;
	case 'M': case 'm': mult = 1ULL << 20; end++; break;
	case 'G': case 'g': mult = 1ULL << 30; end++; break;
	case 'T': case 't': mult = 1ULL << 40; end++; break;
	default: break;
	}
	if (*end != '\0' || v > SIZE_MAX / mult)
		return -1;
	*out = (size_t)(v * mult);
	return 0;
}

static int
parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	char		*end;
	unsigned long	 v;

	errno = 0;
	if (!isdigit((unsigned char)*s))
		return -1;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int
set_path(const char *key, char *dst, size_t dstsz, const char *value,
    char *err, size_t errsz)
{
	if (value[0] != '/')
		snprintf(err, errsz, "%s must be an absolute path", key);
	else if (strlen(value) >= dstsz)
		snprintf(err, errsz, "%s is too long", key);
	else {
		strcpy(dst, value);
		return 0;
	}
	return -1;
}

/* Options that are a count: the smallest value, where it goes, and what
 * the error message adds. */
static const struct count_opt {
	const char	*name;
	unsigned	 min;
	unsigned	 max;
	size_t		 offset;
	const char	*hint;
} count_opts[] = {
	{ "verify_threads", 1, CONFIG_VERIFY_THREADS_MAX,
	    offsetof(struct config, verify_threads), "" },
	{ "max_connections", 1, 1000000,
	    offsetof(struct config, max_connections), "" },
	{ "max_connections_per_uid", 1, 1000000,
	    offsetof(struct config, max_connections_per_uid), "" },
	{ "throttle_failures", 0, 1000000,
	    offsetof(struct config, throttle_failures),
	    " (0 turns throttling off)" },
	{ "fleet_writes_per_uid", 0, 1000000,
	    offsetof(struct config, fleet_writes_per_uid), " (0: no limit)" },
	{ "max_keys_per_user", 0, 1000000,
	    offsetof(struct config, max_keys_per_user), " (0: no limit)" },
	{ "max_keys_per_tenant", 0, 1000000,
	    offsetof(struct config, max_keys_per_tenant), " (0: no limit)" },
	{ "audit_max_entries", 0, 100000000,
	    offsetof(struct config, audit_max_entries), " (0: no limit)" },
	{ "reserved_connections", 0, 1000000,
	    offsetof(struct config, reserved_connections), "" },
	{ "rate_windows", 16, 16 * 1024 * 1024,
	    offsetof(struct config, rate_windows), "" },
	{ "throttle_sources", 16, 16 * 1024 * 1024,
	    offsetof(struct config, throttle_sources), "" },
	{ "log_lines_per_uid", 0, 1000000,
	    offsetof(struct config, log_lines), " (0: no limit)" },
};

static const struct count_opt *
find_count(const char *key)
{
	size_t	 i;

	for (i = 0; i < sizeof(count_opts) / sizeof(count_opts[0]); i++)
		if (strcmp(count_opts[i].name, key) == 0)
			return &count_opts[i];
	return NULL;
}

/*
 * Options that are a duration in milliseconds: short ones from 1 ms to a
 * day (idle_timeout may also be 0), long ones in days up to ten years,
 * or "off".
 */
enum { DUR_SHORT, DUR_SHORT_OR_0, DUR_LONG };

static const struct duration_opt {
	const char	*name;
	int		 kind;
	uint64_t	 min;		/* DUR_LONG: smallest value but off */
	size_t		 offset;
	const char	*off;		/* DUR_LONG: what "off" means */
} duration_opts[] = {
	{ "throttle_window", DUR_SHORT, 1,
	    offsetof(struct config, throttle_window_ms), NULL },
	{ "throttle_backoff", DUR_SHORT, 1,
	    offsetof(struct config, throttle_backoff_ms), NULL },
	{ "usage_flush_interval", DUR_SHORT, 1,
	    offsetof(struct config, usage_flush_ms), NULL },
	{ "read_timeout", DUR_SHORT, 1,
	    offsetof(struct config, read_timeout_ms), NULL },
	{ "idle_timeout", DUR_SHORT_OR_0, 1,
	    offsetof(struct config, idle_timeout_ms), NULL },
	{ "maintenance_interval", DUR_SHORT, 1,
	    offsetof(struct config, maintenance_ms), NULL },
	{ "log_window", DUR_SHORT, 1,
	    offsetof(struct config, log_window_ms), NULL },
	{ "fleet_poll_interval", DUR_SHORT, 1,
	    offsetof(struct config, fleet_poll_ms), NULL },
	{ "fleet_timeout", DUR_SHORT, 1,
	    offsetof(struct config, fleet_timeout_ms), NULL },
	{ "fleet_digest_interval", DUR_SHORT_OR_0, 1,
	    offsetof(struct config, fleet_digest_ms), NULL },
	{ "max_staleness", DUR_SHORT_OR_0, 1,
	    offsetof(struct config, max_staleness_ms), NULL },
	{ "audit_max_age", DUR_LONG, 3600 * 1000,
	    offsetof(struct config, audit_max_age_ms), "keep forever" },
	{ "expired_key_grace", DUR_LONG, 1000,
	    offsetof(struct config, expired_grace_ms),
	    "never purge automatically" },
};

static const struct duration_opt *
find_duration(const char *key)
{
	size_t	 i;

	for (i = 0; i < sizeof(duration_opts) / sizeof(duration_opts[0]); i++)
		if (strcmp(duration_opts[i].name, key) == 0)
			return &duration_opts[i];
	return NULL;
}

static int
set_duration(struct config *c, const struct duration_opt *d,
    const char *value, char *err, size_t errsz)
{
	uint64_t	*dst = (uint64_t *)(void *)((char *)c + d->offset);
	uint64_t	 v;

	switch (d->kind) {
	case DUR_LONG:
		if (strcmp(value, "off") == 0) {
			*dst = 0;
			return 0;
		}
		if (parse_duration(value, 1, d->min, 3650 * DAY_MS, &v) == 0) {
			*dst = v;
			return 0;
		}
		snprintf(err, errsz, "%s must be off (%s) or a duration from "
		    "%s to 3650d (e.g. 12h, 30d, 52w)", d->name, d->off,
		    d->min >= 3600 * 1000 ? "1h" : "1s");
		return -1;
	case DUR_SHORT_OR_0:
		if (strcmp(value, "0") == 0) {
			*dst = 0;
			return 0;
		}
		__attribute__((fallthrough));
	default:
		if (parse_duration(value, 0, d->min, DAY_MS, &v) == 0) {
			*dst = v;
			return 0;
		}
		snprintf(err, errsz, "%s must be a duration from 1ms to 24h%s "
		    "(e.g. 250ms, 30s, 5m)", d->name,
		    d->kind == DUR_SHORT_OR_0 ? ", or 0 for none" : "");
		return -1;
	}
}

/* "10" or "10%": a share of the map from 1 to 50 percent. */
static int
parse_percent(const char *s, unsigned *out)
{
	char		 buf[16];
	size_t		 n = strlen(s);

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n + 1);
	if (buf[n - 1] == '%')
		buf[n - 1] = '\0';
	return parse_uint(buf, 1, 50, out);
}

/* Names or uids separated by spaces or commas, each a plausible name. */
static int
set_service_users(struct config *c, const char *value, char *err,
    size_t errsz)
{
	const char	*p = value;
	size_t		 n, count = 0;

	while (*p != '\0') {
		n = strcspn(p, " \t,");
		if (n > PROTO_ACCOUNT_MAX) {
			snprintf(err, errsz, "service_users: a name is longer "
			    "than %d bytes", PROTO_ACCOUNT_MAX);
			return -1;
		}
		if (n > 0 && ++count > CONFIG_SERVICE_USERS_MAX) {
			snprintf(err, errsz, "service_users: at most %d names",
			    CONFIG_SERVICE_USERS_MAX);
			return -1;
		}
		p += n;
		p += strspn(p, " \t,");
	}
	if (strlen(value) >= sizeof(c->service_users)) {
		snprintf(err, errsz, "service_users is too long");
		return -1;
	}
	strcpy(c->service_users, value);
	return 0;
}

int
config_set(struct config *c, const char *key, const char *value, char *err,
    size_t errsz)
{
	const struct count_opt *n;
	const struct duration_opt *d;
	unsigned	 u;
	size_t		 size;

	if (strcmp(key, "state_dir") == 0)
		return set_path(key, c->state_dir, sizeof(c->state_dir), value,
		    err, errsz);
	if (strcmp(key, "socket_dir") == 0)
		return set_path(key, c->socket_dir, sizeof(c->socket_dir),
		    value, err, errsz);
	if (strcmp(key, "admin_group") == 0) {
		if (strlen(value) <= PROTO_ACCOUNT_MAX) {
			strcpy(c->admin_group, value);
			return 0;
		}
		snprintf(err, errsz, "admin_group is too long");
	} else if (strcmp(key, "log_level") == 0) {
		if (strcmp(value, "info") == 0 || strcmp(value, "debug") == 0) {
			c->debug = strcmp(value, "debug") == 0;
			return 0;
		}
		snprintf(err, errsz, "log_level must be info or debug");
	} else if (strcmp(key, "map_size") == 0) {
		if (parse_size(value, &size) == 0 && size >= ((size_t)1 << 20)) {
			c->map_size = size;
			return 0;
		}
		snprintf(err, errsz, "map_size must be a size of at least 1M "
		    "(e.g. 512M, 4G)");
	} else if (strcmp(key, "map_reserve") == 0) {
		if (parse_percent(value, &u) == 0) {
			c->map_reserve_pct = u;
			return 0;
		}
		snprintf(err, errsz, "map_reserve must be a percentage from 1%% "
		    "to 50%%");
	} else if (strcmp(key, "service_users") == 0) {
		return set_service_users(c, value, err, errsz);
	} else if (strcmp(key, "fleet_url") == 0) {
		if (strlen(value) <= CONFIG_FLEET_URL_MAX) {
			strcpy(c->fleet_url, value);
			return 0;
		}
		snprintf(err, errsz, "fleet_url is longer than %d bytes",
		    CONFIG_FLEET_URL_MAX);
	} else if ((n = find_count(key)) != NULL) {
		if (parse_uint(value, n->min, n->max, &u) == 0) {
			*(unsigned *)(void *)((char *)c + n->offset) = u;
			return 0;
		}
		snprintf(err, errsz, "%s must be %u-%u%s", key, n->min, n->max,
		    n->hint);
	} else if ((d = find_duration(key)) != NULL) {
		return set_duration(c, d, value, err, errsz);
	} else
		snprintf(err, errsz, "unknown option '%s'", key);
	return -1;
}

static char *
trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int
config_load(struct config *c, const char *path, int required, char *err,
    size_t errsz)
{
	FILE	*f;
	char	 line[CONFIG_LINE_MAX], why[256];
	char	*p, *eq, *key, *value;
	int	 lineno = 0, rc = -1;

	if ((f = fopen(path, "re")) == NULL) {
		if (errno == ENOENT && !required)
			return 0;
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errsz, "%s:%d: line too long", path,
			    lineno);
			goto out;
		}
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		p = trim(line);
		if (*p == '\0')
			continue;
		if ((eq = strchr(p, '=')) == NULL) {
			snprintf(err, errsz, "%s:%d: expected 'key = value'",
			    path, lineno);
			goto out;
		}
		*eq = '\0';
		key = trim(p);
		value = trim(eq + 1);
		if (config_set(c, key, value, why, sizeof(why)) == -1) {
			snprintf(err, errsz, "%s:%d: %s", path, lineno, why);
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(err, errsz, "%s: read error", path);
		goto out;
	}
	rc = 0;
out:
	fclose(f);
	return rc;
}
