/*
 * admin_int.h - shared by the admin_*.c handlers and authz.c; not used
 * outside the admin thread.
 */
#ifndef APIKEY_ADMIN_INT_H
#define APIKEY_ADMIN_INT_H

#include <sys/types.h>

#include "admin.h"

/*
 * Who is asking: peer credentials plus what NSS says about that uid. A uid
 * NSS does not know has no name and no groups at all: the socket's gid is
 * not taken for its primary group, since nothing vouches for it.
 */
struct caller {
	uid_t	 uid;
	pid_t	 pid;
	char	 name[PROTO_ACCOUNT_MAX + 1];	/* "" if unknown to NSS */
	int	 known;		/* NSS knows the uid: pw_gid, groups valid */
	gid_t	 pw_gid;
	gid_t	*groups;	/* all its groups; owned, freed by authz_free */
	int	 ngroups;
	int	 admin;		/* root or in the configured admin group */
};

/* One management request being answered (or, with c NULL, one run of the
 * daemon's own maintenance, which never replies). */
struct areq {
	struct admin		*a;
	struct conn		*c;
	const struct proto_hdr	*h;
	struct reader		*body;
	struct caller		 who;
	/* Log lines of audit records, written once their commit lands. */
	char			**logs;
	size_t			 nlogs, caplogs;
	size_t			 lostlogs;	/* no memory to keep them */
	int			 tight;		/* map past its limit: see
						   admin_space_check */
	int			 quiet;		/* akey_create_one: the
						   caller audits */
	uint64_t		 retry_ms;	/* with ADMIN_EWRITES */
};

/* authz.c: the DESIGN's authorization table. authz_* functions that take
 * an areq reply EPERM themselves and return 1 when the caller may not. */
int	authz_caller(const struct config *, const struct peer *,
	    struct caller *);
void	authz_free(struct caller *);
/* A copy of src that owns its own groups (a request outliving its turn,
 * such as a stream); -1 when out of memory. */
int	authz_dup(struct caller *dst, const struct caller *src);
int	authz_in_group(const struct caller *, gid_t);
int	authz_require_admin(struct areq *, const char *what);
int	authz_tenant(struct areq *, const struct proto_tenant *);
int	authz_key(struct areq *, const struct store_key *,
	    const struct proto_tenant *);

/* admin_commit's outcomes in fleet mode, beside the store's codes; each
 * means nothing was changed here. */
#define ADMIN_EFLEET	(-100)	/* the fleet database is unreachable */
#define ADMIN_ECONFLICT	(-101)	/* changed meanwhile through another host */
#define ADMIN_EUNKNOWN	(-102)	/* the database's commit is unconfirmed */
#define ADMIN_EWRITES	(-103)	/* fleet_writes_per_uid reached; retry_ms
				   says when the caller may write again */

/* admin.c: replies and bookkeeping shared by the handlers. */
int	admin_bad_request(struct areq *, int rc);
int	admin_store_fail(struct areq *, int rc, const char *what);
/*
 * Appends an audit record to txn and keeps its log line for admin_commit.
 * When the map is tight (r->tight), the oldest record makes room for it,
 * so ordinary requests never grow the log into the reserve.
 */
int	admin_audit(struct areq *, struct store_txn *, const char *action,
	    const char *target, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));
/*
 * Commits txn, then logs what the request changed; a failed commit logs
 * the failure instead, so the log never reports a change that did not
 * happen. Returns the store code. admin_abort ends txn and drops the lines.
 * In fleet mode the key and tenant changes go to the fleet database
 * first, and txn commits only once it took them (or fails with an
 * ADMIN_E* code above).
 */
int	admin_commit(struct areq *, struct store_txn *);
void	admin_abort(struct areq *, struct store_txn *);
/* Frees the kept lines (admin_handle does it after every request). */
void	admin_drop_logs(struct areq *);
/*
 * Whether an ordinary write (a non-admin creating or changing, as opposed
 * to disabling or deleting) may go ahead: above the map limit
 * (map_reserve) it is refused with ELIMIT (replied; returns 1). Sets
 * r->tight for any caller when the map is past the limit.
 */
int	admin_space_check(struct areq *, int ordinary);
/* The map's size, use and limit, as STATUS shows them. */
int	admin_map_usage(struct admin *, uint64_t *size, uint64_t *used,
	    uint64_t *limit);
/* Copies the key id a request named (arg, decoded up to
 * PROTO_ID_ARG_MAX) into id: 0, or 1 when it is not a key id (replied
 * EINVAL, quoting it). */
int	admin_check_id(struct areq *, const char *arg,
	    char id[TOKEN_ID_LEN + 1]);

int	admin_status(struct areq *);
int	admin_audit_list(struct areq *);
int	admin_tenant_add(struct areq *);
int	admin_tenant_list(struct areq *);
int	admin_tenant_show(struct areq *);
int	admin_tenant_set_enabled(struct areq *);
int	admin_tenant_remove(struct areq *);
int	admin_key_create(struct areq *);
int	admin_key_create_many(struct areq *);
int	admin_key_list(struct areq *);
int	admin_key_show(struct areq *);
int	admin_key_set_enabled(struct areq *);
int	admin_key_revoke(struct areq *);
int	admin_key_update(struct areq *);
int	admin_key_rotate(struct areq *);
int	admin_key_purge_expired(struct areq *);
int	admin_tenant_set_privileged(struct areq *);

/* The caller may manage this tenant's keys (admin or its admin group). */
int	authz_tenant_admin(const struct caller *, const struct proto_tenant *);
/* The caller owns this user key: its uid, and its name unless the key
 * has none recorded (a reused uid does not inherit old keys). */
int	authz_owns(const struct caller *, const struct proto_owner *);

#endif
