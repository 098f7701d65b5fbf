/*
 * config.h - apikeyd's settings: built-in defaults, then the config file
 * (`key = value` lines, # comments), then the command line. Read once at
 * start-up; the struct is then read-only.
 */
#ifndef APIKEY_CONFIG_H
#define APIKEY_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "../proto/proto.h"

#define CONFIG_DEFAULT_FILE	"/etc/apikeyd/apikeyd.conf"
#define CONFIG_DEFAULT_STATE	"/var/lib/apikeyd"
#define CONFIG_DEFAULT_SOCKETS	"/run/apikeyd"

struct config {
	char	state_dir[PATH_MAX];
	char	socket_dir[PATH_MAX];
	char	admin_group[PROTO_ACCOUNT_MAX + 1];	/* "" = root only */
	int	debug;
	size_t	map_size;
	unsigned max_connections;
	unsigned max_connections_per_uid;
	unsigned throttle_failures;	/* 0: no failure throttling */
	uint64_t throttle_window_ms;
	uint64_t throttle_backoff_ms;
	uint64_t usage_flush_ms;	/* last-used and use count writes */
};

void	config_defaults(struct config *);
/*
 * Reads path into c. A missing file is an error only when required (given
 * with -c). On error, writes a message naming the file and line into err
 * and returns -1.
 */
int	config_load(struct config *c, const char *path, int required,
	    char *err, size_t errsz);
/* Sets one option by name, as from the file; for the command line too. */
int	config_set(struct config *c, const char *key, const char *value,
	    char *err, size_t errsz);

#endif
