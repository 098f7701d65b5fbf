/*
 * config.c - parses apikeyd.conf. The file is small and read once, so the
 * parser favours exact error messages over speed: every rejected line is
 * reported with its file name and line number, and an unknown key is an
 * error (a typo must not silently leave a default in place).
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define CONFIG_LINE_MAX	4096

void
config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->state_dir, CONFIG_DEFAULT_STATE);
	strcpy(c->socket_dir, CONFIG_DEFAULT_SOCKETS);
	c->map_size = (size_t)1 << 30;
	c->max_connections = 1024;
	c->max_connections_per_uid = 64;
	c->throttle_failures = 20;
	c->throttle_window_ms = 60 * 1000;
	c->throttle_backoff_ms = 60 * 1000;
	c->usage_flush_ms = 10 * 1000;
}

/* Parses "250ms", "30s", "5m", "1h" (a bare number is seconds) into
 * milliseconds between 1 ms and a day. */
static int
parse_duration(const char *s, uint64_t *out)
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
	else
		return -1;
	if (v == 0 || v > 24ULL * 3600 * 1000 / mult)
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
	size_t		 offset;
	const char	*hint;
} count_opts[] = {
	{ "max_connections", 1, offsetof(struct config, max_connections), "" },
	{ "max_connections_per_uid", 1,
	    offsetof(struct config, max_connections_per_uid), "" },
	{ "throttle_failures", 0, offsetof(struct config, throttle_failures),
	    " (0 turns throttling off)" },
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

/* Options that are a duration in milliseconds. */
static uint64_t *
find_duration(struct config *c, const char *key)
{
	if (strcmp(key, "throttle_window") == 0)
		return &c->throttle_window_ms;
	if (strcmp(key, "throttle_backoff") == 0)
		return &c->throttle_backoff_ms;
	if (strcmp(key, "usage_flush_interval") == 0)
		return &c->usage_flush_ms;
	return NULL;
}

int
config_set(struct config *c, const char *key, const char *value, char *err,
    size_t errsz)
{
	const struct count_opt *n;
	uint64_t	*d;
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
	} else if ((n = find_count(key)) != NULL) {
		if (parse_uint(value, n->min, 1000000, &u) == 0) {
			*(unsigned *)(void *)((char *)c + n->offset) = u;
			return 0;
		}
		snprintf(err, errsz, "%s must be %u-1000000%s", key, n->min,
		    n->hint);
	} else if ((d = find_duration(c, key)) != NULL) {
		if (parse_duration(value, d) == 0)
			return 0;
		snprintf(err, errsz, "%s must be a duration from 1ms to 24h "
		    "(e.g. 250ms, 30s, 5m)", key);
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
