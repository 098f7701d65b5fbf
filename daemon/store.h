/*
 * store.h - the LMDB key store. store.c, store_walk.c and store_audit.c
 * (sharing store_int.h) are the only files that include <lmdb.h>;
 * everything else sees these functions.
 *
 * One environment in the state directory with named databases: tenants,
 * keys, an owner index (list a user's or tenant's keys without a scan) and
 * an append-only audit log. Records carry a version byte so the schema can
 * grow. Management requests use one write transaction each, durable on
 * commit; verify uses a read transaction, which the store keeps per thread
 * and renews, so a verify costs no allocation.
 *
 * Threads: a transaction belongs to the thread that began it. One write
 * transaction runs at a time (LMDB serialises writers); readers never wait.
 */
#ifndef APIKEY_STORE_H
#define APIKEY_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/proto.h"

#define STORE_HASH_LEN	32

#define STORE_OK	0
#define STORE_ENOTFOUND	(-1)
#define STORE_EEXIST	(-2)
#define STORE_EFULL	(-3)	/* map size reached */
#define STORE_ECORRUPT	(-4)	/* record failed to decode */
#define STORE_EIO	(-5)	/* any other LMDB or system failure */
#define STORE_EBUSY	(-6)	/* this thread already has a transaction */
#define STORE_ENOSPC	(-7)	/* the file system is full (or over quota) */

/*
 * A key record. For tenant keys owner.group and owner.gid are not stored:
 * they come from the tenant record. prev_hash is valid while
 * info.grace_until is in the future.
 */
struct store_key {
	struct proto_key info;
	uint8_t		hash[STORE_HASH_LEN];
	uint8_t		prev_hash[STORE_HASH_LEN];
};

/*
 * Credits and use counters of a key, kept in their own database so that
 * the usage writer never rewrites a key record. gen changes whenever a
 * management request sets the credits: consumption counted against an
 * older setting is then dropped rather than applied to the new one.
 */
struct store_usage {
	uint64_t	remaining;
	uint64_t	last_refill_at;
	uint64_t	last_used;
	uint64_t	use_count;
	uint32_t	gen;
};

struct store;
struct store_txn;

/* Opens (creating if needed) the environment in dir, which must exist.
 * The data file is created mode 0600. Caller frees with store_close(). */
int	store_open(const char *dir, size_t map_size, struct store **out);
void	store_close(struct store *);

/* The txn is owned by the store; end it with store_commit or store_end. */
int	store_read_begin(struct store *, struct store_txn **out);
int	store_write_begin(struct store *, struct store_txn **out);
/* Commits a write txn (a read txn just ends). The txn is gone after. */
int	store_commit(struct store_txn *);
/* Aborts a write txn or releases a read txn. NULL is allowed. */
void	store_end(struct store_txn *);
/* LMDB's transaction id: a read txn sees every write txn whose id is at
 * most its own, and none after. */
uint64_t store_txn_id(const struct store_txn *);

/* Decodes into *out as it reads, so *out is unspecified after
 * STORE_ECORRUPT (no caller reads it then); after any other error it is
 * untouched. Fields past a string's NUL or a list's n are not cleared. */
int	store_key_get(struct store_txn *, const char *id, struct store_key *out);
/* Whether key id exists: 0, STORE_ENOTFOUND or a store error; nothing is
 * decoded. */
int	store_key_exists(struct store_txn *, const char *id);
/* Inserts or replaces by info.id; a new key is added to the owner index.
 * The owner of an existing key must not change. */
int	store_key_put(struct store_txn *, const struct store_key *);
/* Removes the key, its owner index entry and its usage record. */
int	store_key_del(struct store_txn *, const char *id);

/* A key's usage record; STORE_ENOTFOUND when it has none yet. */
int	store_usage_get(struct store_txn *, const char *id,
	    struct store_usage *out);
int	store_usage_put(struct store_txn *, const char *id,
	    const struct store_usage *);

/* Callbacks return 0 to go on; any other value stops the walk and is
 * returned (a positive one can mean "enough for now": store errors are
 * negative). The record is only valid during the call. Do not modify the
 * store from inside a walk: collect ids, then act. */
typedef int (*store_key_cb)(const struct store_key *, void *arg);
typedef int (*store_tenant_cb)(const struct proto_tenant *, void *arg);
typedef int (*store_audit_cb)(const struct proto_audit *, void *arg);

/* Keys of one owner: kind PROTO_OWNER_USER with uid, or _TENANT with name. */
int	store_key_foreach_owner(struct store_txn *, uint8_t kind, uint32_t uid,
	    const char *tenant, store_key_cb, void *arg);
int	store_key_count_owner(struct store_txn *, uint8_t kind, uint32_t uid,
	    const char *tenant, uint32_t *count);
/*
 * The same walk, and one of all keys, starting after the entry named by
 * after (a key id, or a tenant name; NULL or "" for the beginning), so a
 * long walk can go on in a later transaction where an earlier one
 * stopped.
 */
int	store_key_foreach_owner_after(struct store_txn *, uint8_t kind,
	    uint32_t uid, const char *tenant, const char *after, store_key_cb,
	    void *arg);
int	store_key_foreach_after(struct store_txn *, const char *after,
	    store_key_cb, void *arg);

/* store_tenant_get fills info.keys from the owner index. */
int	store_tenant_get(struct store_txn *, const char *name,
	    struct proto_tenant *out);
int	store_tenant_put(struct store_txn *, const struct proto_tenant *);
int	store_tenant_del(struct store_txn *, const char *name);
int	store_tenant_foreach(struct store_txn *, store_tenant_cb, void *arg);
int	store_tenant_foreach_after(struct store_txn *, const char *after,
	    store_tenant_cb, void *arg);

/* Appends a; the store assigns a->seq. */
int	store_audit_append(struct store_txn *, struct proto_audit *a);
/* Walks the entries from sequence number seq on, oldest first. */
int	store_audit_foreach_from(struct store_txn *, uint64_t seq,
	    store_audit_cb, void *arg);

struct store_audit_info {
	uint64_t	entries;
	uint64_t	first_seq;	/* 0 when the log is empty */
	uint64_t	last_seq;
	uint64_t	pruned;		/* entries retention has deleted */
};
int	store_audit_stat(struct store_txn *, struct store_audit_info *out);
/*
 * Retention: deletes the oldest entries while more than max_entries (0: no
 * limit) are kept or they are older than before (seconds; 0: no age
 * limit), at most batch of them, counting them as pruned. *n: how many.
 */
int	store_audit_prune(struct store_txn *, uint64_t max_entries,
	    uint64_t before, uint32_t batch, uint32_t *n);

int	store_stat(struct store_txn *, uint64_t *keys, uint64_t *tenants);
/*
 * The map's size and the bytes in use: every page up to the last one
 * written, less the pages on LMDB's free list (which writers reuse).
 * Opens a read transaction of its own; any thread.
 */
int	store_map_usage(struct store *, uint64_t *size, uint64_t *used);
/* The size of the data file on disk, in bytes (fstat of LMDB's own
 * descriptor, so a path swapped in meanwhile is not what gets measured). */
int	store_file_size(struct store *, uint64_t *size);
const char *store_strerror(int);

#endif
