/*
 * store_fleet.h - the key store's side of fleet mode (daemon/fleet.c owns
 * the database side). Two things:
 *
 * The journal. With it on, each write transaction records the key and
 * tenant records it writes or deletes, encoded, with the version of the
 * record it replaced. Management sends them to the fleet database first
 * (admin_commit), then stores their new versions in the same transaction
 * and commits. A write transaction with changes nobody took refuses to
 * commit, so nothing reaches LMDB past the database by mistake.
 *
 * The follow path. It applies the database's changelog rows in a write
 * transaction that records nothing, with the last seq applied, so a crash
 * never leaves the two apart; a row older than what the store holds for
 * that record is skipped, so applying a change twice does no harm.
 *
 * Versions are kept in their own database, "fleet": 'k' + key id or
 * 't' + tenant name -> typed u64, the changelog seq that wrote the record.
 */
#ifndef APIKEY_STORE_FLEET_H
#define APIKEY_STORE_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define STORE_FLEET_KEY		'k'
#define STORE_FLEET_TENANT	't'
#define STORE_FLEET_ID_MAX	PROTO_TENANT_MAX	/* > TOKEN_ID_LEN */
#define STORE_GID_NONE		UINT32_MAX	/* a group this host lacks */

struct store_change {
	char		 kind;				/* 'k' or 't' */
	char		 id[STORE_FLEET_ID_MAX + 1];	/* key id or name */
	char		 group[PROTO_ACCOUNT_MAX + 1];	/* tenants: group */
	uint8_t		*rec;		/* owned; NULL for a deletion */
	size_t		 len;
	uint64_t	 version;	/* of the record replaced; 0: none */
	uint64_t	 new_version;	/* set once the database took it */
};

/* Turns the journal on for write transactions begun after; before any
 * thread writes. */
void	store_fleet_journal(struct store *, int on);
/*
 * Hands over the changes write txn recorded (*out NULL and *n 0 when
 * none); free them with store_changes_free. STORE_EIO when one could not
 * be recorded (out of memory): the txn must not commit then.
 */
int	store_fleet_changes(struct store_txn *, struct store_change **out,
	    size_t *n);
void	store_changes_free(struct store_change *, size_t n);
/* Stores the new versions of changes the database took. */
int	store_fleet_versions(struct store_txn *, const struct store_change *,
	    size_t n);

/* A write transaction for the follow path: it records nothing. */
int	store_fleet_begin(struct store *, struct store_txn **out);
/* Resolves a group name on this host: 0 (*gid set), 1 when the host has
 * no such group, -1 when the lookup failed (NSS down); *gid is written
 * only on 0. */
typedef int (*store_gid_fn)(const char *group, uint32_t *gid, void *arg);
/*
 * Applies one changelog row (rec NULL: a deletion) unless the store holds
 * that record at version seq or newer. A tenant's groups are resolved
 * through fn; one this host lacks gets STORE_GID_NONE, which no one is
 * in, and one NSS failed to look up keeps the gid the store held.
 * A record that does not decode is STORE_ECORRUPT, and the store's copy
 * is deleted: a change it cannot read must not leave an older key working.
 * Its version is kept, marked unreadable, so that the digest still matches
 * (store_fleet_unreadable counts them until the next wipe).
 */
int	store_fleet_apply(struct store_txn *, char kind, const char *id,
	    const void *rec, size_t len, uint64_t seq, store_gid_fn fn,
	    void *arg);
/*
 * Resolves every tenant's groups again and stores the gids that changed
 * (a group made on this host after its tenant arrived); *changed: how
 * many tenants.
 */
int	store_fleet_regroup(struct store_txn *, store_gid_fn fn, void *arg,
	    unsigned *changed);
/* Empties keys, tenants and their versions, for a snapshot to fill. */
int	store_fleet_wipe(struct store_txn *);
/* Deletes the usage records of keys that no longer exist. */
int	store_fleet_sweep_usage(struct store_txn *);
/* The last changelog seq applied; *loaded 0 while the store has never
 * loaded a snapshot (a single-host store, or a new one). */
int	store_fleet_seq(struct store_txn *, uint64_t *seq, int *loaded);
int	store_fleet_set_seq(struct store_txn *, uint64_t seq);
/* Records marked unreadable since the last wipe: a snapshot may read them
 * (an apikeyd upgraded since). */
int	store_fleet_unreadable(struct store_txn *, uint64_t *n);
/*
 * The digest lines of the records held, in order: kind, id, ':', version,
 * newline, as apikeyd.digest() in sql/schema.sql makes them. 1 when a
 * record is newer than upto (this host wrote it and the follow path has
 * not reached it yet): the lines are not those of any snapshot then.
 */
typedef int (*store_line_fn)(const char *line, size_t len, void *arg);
int	store_fleet_lines(struct store_txn *, uint64_t upto, store_line_fn,
	    void *arg);

#endif
