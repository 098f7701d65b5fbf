/*
 * admin.h - management requests on admin.sock: tenants, keys, audit and
 * status. They run on the admin thread, may block in NSS, and each
 * mutation is one durable write transaction that also appends its audit
 * record.
 */
#ifndef APIKEY_ADMIN_H
#define APIKEY_ADMIN_H

#include <stdint.h>

#include "config.h"
#include "keys.h"
#include "server.h"
#include "store.h"

struct admin {
	struct store		*store;		/* borrowed */
	const struct pepper	*pepper;	/* borrowed */
	const struct config	*cfg;		/* borrowed */
	uint64_t		 started_at;
};

/* A server_handler; arg is a struct admin. */
int	admin_handle(void *arg, struct conn *, const struct peer *,
	    const struct proto_hdr *, struct reader *body);

#endif
