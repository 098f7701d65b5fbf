/*
 * admin.h - management requests on admin.sock: tenants, keys, audit and
 * status. They run on the admin thread, may block in NSS, and each
 * mutation is one durable write transaction that also appends its audit
 * record.
 */
#ifndef APIKEY_ADMIN_H
#define APIKEY_ADMIN_H

#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "keys.h"
#include "server.h"
#include "store.h"

/*
 * The admin group's gid as verify replies carry it: ADMIN_GID_KNOWN | gid,
 * or 0 while admin_group is unset or unknown to NSS. Written by the admin
 * thread, read by the verify thread.
 */
#define ADMIN_GID_KNOWN	(1ULL << 32)

struct admin {
	struct store		*store;		/* borrowed */
	const struct pepper	*pepper;	/* borrowed */
	const struct config	*cfg;		/* borrowed */
	uint64_t		 started_at;
	_Atomic uint64_t	*admin_gid;	/* borrowed, shared with verify */
	/* The paths served, as bound (borrowed from the server). */
	const char		*verify_socket;
	const char		*admin_socket;
	/* Fleet mode: management writes go to its database first; NULL on
	 * a single host. Borrowed. */
	struct fleet		*fleet;
	/* Fleet mode: each uid's changes a minute (fleet_writes_per_uid).
	 * Borrowed, shared with verify. */
	struct limits		*limits;
	/* Maintenance: where the scan for expired keys goes on next time. */
	char			 purge_after[TOKEN_ID_LEN + 1];
};

/* A server_handler; arg is a struct admin. */
int	admin_handle(void *arg, struct conn *, const struct peer *,
	    const struct proto_hdr *, struct reader *body);

/*
 * The daemon's own housekeeping, run on the admin thread every
 * maintenance_interval (arg is a struct admin): it purges keys expired for
 * longer than expired_key_grace, prunes the audit log to audit_max_entries
 * and audit_max_age, and looks up admin_group's gid again. Each step works
 * in bounded batches, so it never holds the store's write lock for long.
 */
void	admin_maintain(void *arg);
/* Resolves admin_group into *a->admin_gid (NSS: not on the verify path). */
void	admin_refresh_gid(struct admin *);

#endif
