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
#define CONFIG_SERVICE_USERS_MAX 16	/* names in service_users */
#define CONFIG_AUTO		UINT_MAX	/* a count derived from others */
#define CONFIG_DEFAULT_STATE	"/var/lib/apikeyd"
#define CONFIG_DEFAULT_SOCKETS	"/run/apikeyd"
#define CONFIG_VERIFY_THREADS_AUTO 8	/* the most the default takes */
#define CONFIG_VERIFY_THREADS_MAX 64
#define CONFIG_FLEET_URL_MAX	1023

struct config {
	char	state_dir[PATH_MAX];
	char	socket_dir[PATH_MAX];
	char	admin_group[PROTO_ACCOUNT_MAX + 1];	/* "" = root only */
	int	debug;
	size_t	map_size;
	unsigned verify_threads;	/* event loops serving verify.sock;
					   CONFIG_AUTO: the CPUs we may run
					   on, at most 8 */
	unsigned max_connections;
	unsigned max_connections_per_uid;
	unsigned throttle_failures;	/* 0: no failure throttling */
	uint64_t throttle_window_ms;
	uint64_t throttle_backoff_ms;
	uint64_t usage_flush_ms;	/* last-used and use count writes */

	/* Limits that keep one local user from starving the others. */
	unsigned max_keys_per_user;	/* 0: no limit; root, admins exempt */
	unsigned max_keys_per_tenant;	/* 0: no limit; root, admins exempt */
	unsigned map_reserve_pct;	/* map share only deletes and admins use */
	unsigned audit_max_entries;	/* 0: no limit */
	uint64_t audit_max_age_ms;	/* 0: keep forever */
	uint64_t expired_grace_ms;	/* 0: never purge expired keys */
	uint64_t maintenance_ms;	/* how often purges and pruning run */
	uint64_t read_timeout_ms;	/* to finish a frame once begun */
	uint64_t idle_timeout_ms;	/* 0: idle connections stay */
	unsigned reserved_connections;	/* per socket, for root and services;
					   CONFIG_AUTO: max_connections / 16 */
	char	 service_users[1024];	/* names or uids, space/comma separated */
	unsigned rate_windows;		/* in-memory rate windows, all keys */
	unsigned throttle_sources;	/* in-memory failure counters */
	unsigned log_lines;		/* per uid and log_window; 0: no limit */
	uint64_t log_window_ms;

	/* Fleet mode (fleet.h): on when fleet_url is set. */
	char	 fleet_url[CONFIG_FLEET_URL_MAX + 1];	/* libpq conninfo */
	uint64_t fleet_poll_ms;		/* changelog poll, besides NOTIFY */
	uint64_t fleet_timeout_ms;	/* connecting, and each statement */
	uint64_t fleet_digest_ms;	/* digest comparison; 0: never */
	uint64_t max_staleness_ms;	/* strict keys fail past it; 0: off */
	unsigned fleet_writes_per_uid;	/* records a minute; 0: no limit;
					   root, admins exempt */
};

void	config_defaults(struct config *);
/* Checks options against each other once all are set, and fills in the
 * derived ones. Returns 0, or -1 with a message in err. */
int	config_finish(struct config *c, char *err, size_t errsz);
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
