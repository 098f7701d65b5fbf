/*
 * verify.h - the VERIFY request, served on verify.sock's threads. It reads
 * the store in one read transaction, never writes and never calls NSS:
 * the reply carries the owner so the caller decides about local users.
 * A verify that consumes credits is answered once the ledger committed
 * the consumption; every other verify is answered at once.
 */
#ifndef APIKEY_VERIFY_H
#define APIKEY_VERIFY_H

#include <sys/types.h>
#include <stdatomic.h>
#include <stdint.h>

#include "clock.h"
#include "keys.h"
#include "ledger.h"
#include "limits.h"
#include "server.h"
#include "store.h"

struct verify_ctx;

/*
 * Everything a verify needs; one per verify thread. The store, pepper,
 * limits and ledger are shared by all of them (each is safe to share).
 */
struct fleet;

struct verifier {
	struct store		*store;		/* borrowed */
	const struct pepper	*pepper;	/* borrowed */
	struct limits		*limits;	/* borrowed */
	struct ledger		*ledger;	/* borrowed */
	size_t			 lane;		/* this thread's, in the ledger */
	_Atomic uint64_t	*admin_gid;	/* borrowed; see admin.h */
	uint64_t		 throttle_backoff_ms;	/* for the log */
	/* borrowed: clock_system in apikeyd, a manual clock in tests */
	const struct clock	*clock;
	/* borrowed: the one context this thread's requests reuse */
	struct verify_ctx	*ctx;
	/* Fleet mode (NULL on a single host): strict keys fail closed when
	 * the host last synced longer than max_staleness_ms ago (0: off). */
	const struct fleet	*fleet;		/* borrowed */
	uint64_t		 max_staleness_ms;
};

/* Credits reserved: when needed is 1, the reply may go only once op is
 * committed (ledger_consume), or op must be given back (ledger_cancel). */
struct verify_hold {
	int			 needed;
	uint64_t		 cost;
	struct ledger_hold	*op;
};

/*
 * One verify, passed explicitly from step to step: the request in, the
 * reply out, and the records read on the way. It is about 32 KiB, so
 * each verify thread keeps one (struct verifier's ctx) and reuses it for
 * every request instead of putting it on the stack or allocating it.
 */
struct verify_ctx {
	/* In; set by the caller of verify_run. */
	struct proto_verify_req	 req;	/* holds the token: verify_handle wipes it */
	uid_t			 uid;	/* the peer's, for failure throttling */
	/* Out; written by verify_run. */
	struct proto_verify_reply rep;
	struct verify_hold	 hold;
	/* This failure made the source begin backing off (to log). */
	int			 throttle_began;
	/* The id of the key asked about, for the log even when it is not
	 * found; "-" for a token that did not parse (it may be a password). */
	char			 log_id[TOKEN_ID_LEN + 1];
	/* Scratch of verify_run: the key and its tenant. */
	struct store_key	 key;
	struct proto_tenant	 tenant;
};

/*
 * Runs the verify of x->req for peer uid x->uid at v's clock, filling
 * x->rep, x->hold and x->throttle_began; logs nothing about the peer and
 * needs no connection. Returns PROTO_OK, or PROTO_EINTERNAL when the store
 * failed (logged): then the request gets an error instead of x->rep. A
 * VALID reply takes a rate slot and notes the use with the ledger; a
 * reply with x->hold.needed must not be sent before the consumption
 * reserved in x->hold.op is committed (verify_handle hands both to the
 * ledger).
 */
int	verify_run(const struct verifier *v, struct verify_ctx *x);

/* A server_handler; arg is a struct verifier, whose ctx it uses. */
int	verify_handle(void *arg, struct conn *, const struct peer *,
	    const struct proto_hdr *, struct reader *body);

/*
 * Verify replies sent since start, by the code the client received (after
 * throttling), into out[code]. The counters are the process's, summed
 * over the verify threads. Any thread may read them.
 */
void	verify_counts(uint64_t out[PROTO_CODE_MAX + 1]);

#endif
