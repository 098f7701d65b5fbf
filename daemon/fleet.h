/*
 * fleet.h - fleet mode: many hosts share one key set through PostgreSQL
 * (sql/schema.sql; docs/decisions.md, "Fleet mode"). fleet.c,
 * fleet_sync.c and fleet_write.c, sharing fleet_int.h, and fleet_url.c
 * are the only files that include libpq; nothing here is called on a
 * verify loop but fleet_synced_ms.
 *
 * A thread of its own follows the database's changelog into the store:
 * it loads a snapshot into an empty store, then applies each change with
 * the last seq applied in one LMDB transaction, woken by NOTIFY and by a
 * poll every fleet_poll_interval, and compares digests now and then.
 * Management writes go to the database first (fleet_write, on the admin
 * thread, through its own connection).
 */
#ifndef APIKEY_FLEET_H
#define APIKEY_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "keys.h"
#include "store.h"
#include "store_fleet.h"

#define FLEET_OK	0
#define FLEET_EUNAVAIL	(-1)	/* the database cannot be reached or
				   failed: nothing was changed */
#define FLEET_ECONFLICT	(-2)	/* a record changed meanwhile elsewhere */
#define FLEET_EUNKNOWN	(-3)	/* the commit's outcome is unknown */

#define FLEET_DIGEST_UNKNOWN	0
#define FLEET_DIGEST_MATCH	1
#define FLEET_DIGEST_MISMATCH	2

struct fleet;

struct fleet_status {
	int		connected;
	uint64_t	last_seq;	/* applied here */
	uint64_t	head_seq;	/* seen in the database */
	uint64_t	synced_at;	/* unix seconds; 0: never */
	int		digest;		/* FLEET_DIGEST_* */
	char		error[256];	/* the last failure; "" once it passed */
};

/*
 * Whether url is a connection string libpq accepts and that carries no
 * password (a password comes from a passfile): 0, or -1 with a message.
 */
int	fleet_check_url(const char *url, char *err, size_t errsz);
/*
 * Starts the follow thread. The store must be empty or one that fleet
 * mode loaded before: a store with keys of a single host is refused
 * (-1 with a message), since a snapshot would replace them. cfg, store
 * and pepper outlive the fleet. Turns the store's journal on.
 */
int	fleet_open(const struct config *, struct store *,
	    const struct pepper *, struct fleet **out, char *err,
	    size_t errsz);
/* Stops and joins the thread, closes the connections; NULL is fine. */
void	fleet_close(struct fleet *);
/*
 * Admin thread: writes the changes of one management transaction to the
 * database in one transaction, each against the version the store held
 * (but an administrator's deletions: admin), and sets their new_version.
 * FLEET_OK, or an error with a message for the log in err. At most
 * fleet_timeout from the first statement to the commit.
 */
int	fleet_write(struct fleet *, struct store_change *, size_t n,
	    int admin, char *err, size_t errsz);
/* Asks the follow thread to look at the changelog now. */
void	fleet_kick(struct fleet *);
void	fleet_status(struct fleet *, struct fleet_status *out);
/* When the host last knew it was in step with the database (monotonic
 * milliseconds, clock.h; 0: never). Any thread; a relaxed atomic read. */
uint64_t fleet_synced_ms(const struct fleet *);

#endif
