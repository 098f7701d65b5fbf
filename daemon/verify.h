/*
 * verify.h - the VERIFY request, served on verify.sock's thread. It reads
 * the store in one read transaction, never writes and never calls NSS:
 * the reply carries the owner so the caller decides about local users.
 * A verify that consumes credits is answered once the ledger committed
 * the consumption; every other verify is answered at once.
 */
#ifndef APIKEY_VERIFY_H
#define APIKEY_VERIFY_H

#include <stdatomic.h>
#include <stdint.h>

#include "keys.h"
#include "ledger.h"
#include "limits.h"
#include "server.h"
#include "store.h"

struct verifier {
	struct store		*store;		/* borrowed */
	const struct pepper	*pepper;	/* borrowed */
	struct limits		*limits;	/* borrowed; verify thread's */
	struct ledger		*ledger;	/* borrowed */
	_Atomic uint64_t	*admin_gid;	/* borrowed; see admin.h */
	uint64_t		 throttle_backoff_ms;	/* for the log */
};

/* A server_handler; arg is a struct verifier. */
int	verify_handle(void *arg, struct conn *, const struct peer *,
	    const struct proto_hdr *, struct reader *body);

/*
 * Verify replies sent since start, by the code the client received (after
 * throttling), into out[code]. The counters are the process's, not a
 * verifier's: there is one verify thread. Any thread may read them.
 */
void	verify_counts(uint64_t out[PROTO_CODE_MAX + 1]);

#endif
