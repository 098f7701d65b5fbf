/*
 * store_int.h - what the files of the key store share: store.c (the
 * environment, transactions and records), store_walk.c (cursor walks and
 * listings), store_audit.c (the audit log and its retention) and
 * store_fleet.c (fleet mode's journal and follow path). These four are
 * the only files that include <lmdb.h>; nothing else includes
 * this header.
 */
#ifndef APIKEY_STORE_INT_H
#define APIKEY_STORE_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "store.h"

/* "t:" + tenant name, or "u:" + a u32 in decimal. */
#define OWNER_KEY_MAX	(2 + PROTO_TENANT_MAX + 1)

struct slot;

struct store_change;

/*
 * A transaction. In fleet mode (journal set) a write transaction records
 * the key and tenant changes it makes in chg (store_fleet.c); jfail: one
 * could not be recorded.
 */
struct store_txn {
	struct slot		*slot;
	MDB_txn			*txn;
	int			 write;
	int			 journal;
	int			 jfail;
	struct store_change	*chg;
	size_t			 nchg, capchg;
};

/*
 * One thread's state for one store. rtxn is the cached read transaction,
 * reset while no read is in progress; busy is set while t is handed out.
 * rcur is a cached owner-index cursor for read transactions (a tenant
 * lookup counts the tenant's keys), renewed on its first use in each one.
 */
struct slot {
	struct slot	*prev;
	struct slot	*next;
	struct store	*s;
	MDB_txn		*rtxn;
	MDB_cursor	*rcur;
	int		 rcur_live;
	int		 busy;
	struct store_txn t;
};

struct store {
	MDB_env		*env;
	MDB_dbi		 meta;
	MDB_dbi		 tenants;
	MDB_dbi		 keys;
	MDB_dbi		 owners;
	MDB_dbi		 audit;
	MDB_dbi		 usage;
	MDB_dbi		 fleet;		/* record versions (store_fleet.c) */
	int		 journal;	/* fleet mode: see store_fleet.h */
	pthread_key_t	 tls;
	pthread_mutex_t	 lock;		/* protects slots */
	struct slot	*slots;
};

/*
 * A cursor walk: each entry goes to a visit function, which decodes it and
 * calls the caller's callback. The union holds that callback, typed.
 */
struct walk {
	struct store_txn	*t;
	MDB_cursor		*c;
	MDB_val			 k, v;
	union {
		store_key_cb	 key;
		store_tenant_cb	 tenant;
		store_audit_cb	 audit;
	} cb;
	void			*arg;
};

typedef int (*visit_fn)(struct walk *);

/* store.c */
int	map_err(int rc);
void	set_val(MDB_val *v, const void *p, size_t n);
int	owner_key(uint8_t kind, uint32_t uid, const char *tenant,
	    char buf[OWNER_KEY_MAX], MDB_val *k);
int	id_key(const char *id, MDB_val *k);
int	tenant_key(const char *name, MDB_val *k);
int	txn_ok(const struct store_txn *t);
int	txn_writable(const struct store_txn *t);
int	count_owner(struct store_txn *t, const MDB_val *okey, uint32_t *count);
int	tenant_load(struct store_txn *t, const MDB_val *v,
	    struct proto_tenant *tn);

/* store_audit.c: typed u64 counters in the meta database; a missing one
 * reads as 0. */
int	meta_get(struct store_txn *t, const char *name, uint64_t *n);
int	meta_put(struct store_txn *t, const char *name, uint64_t n);

/* store_fleet.c: records a change in a journaled write txn (rec NULL: a
 * deletion); frees what a txn recorded. */
int	journal_note(struct store_txn *t, char kind, const char *id,
	    const char *group, const uint8_t *rec, size_t len);
void	journal_drop(struct store_txn *t);

/* store_walk.c */
int	walk_open(struct store_txn *t, MDB_dbi dbi, struct walk *w);
int	walk_run(struct walk *w, int rc, MDB_cursor_op op, visit_fn visit);

#endif
