/*
 * admin_int.h - shared by the admin_*.c handlers and authz.c; not used
 * outside the admin thread.
 */
#ifndef APIKEY_ADMIN_INT_H
#define APIKEY_ADMIN_INT_H

#include <sys/types.h>

#include "admin.h"

/* Who is asking: peer credentials plus what NSS says about that uid. */
struct caller {
	uid_t	 uid;
	pid_t	 pid;
	char	 name[PROTO_ACCOUNT_MAX + 1];	/* "" if unknown to NSS */
	gid_t	 pw_gid;
	gid_t	*groups;	/* all its groups; owned, freed by authz_free */
	int	 ngroups;
	int	 admin;		/* root or in the configured admin group */
};

/* One management request being answered. */
struct areq {
	struct admin		*a;
	struct conn		*c;
	const struct proto_hdr	*h;
	struct reader		*body;
	struct caller		 who;
};

/* authz.c: the DESIGN's authorization table. authz_* functions that take
 * an areq reply EPERM themselves and return 1 when the caller may not. */
int	authz_caller(const struct config *, const struct peer *,
	    struct caller *);
void	authz_free(struct caller *);
int	authz_in_group(const struct caller *, gid_t);
int	authz_require_admin(struct areq *, const char *what);
int	authz_tenant(struct areq *, const struct proto_tenant *);
int	authz_key(struct areq *, const struct store_key *,
	    const struct proto_tenant *);

/* admin.c: replies and bookkeeping shared by the handlers. */
int	admin_bad_request(struct areq *, int rc);
int	admin_store_fail(struct areq *, int rc, const char *what);
int	admin_audit(struct areq *, struct store_txn *, const char *action,
	    const char *target, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));
/* Reads a key id field into id: 0, or -1 when malformed (replied; close),
 * or 1 when not a key id (replied EINVAL). */
int	admin_read_id(struct areq *, char id[TOKEN_ID_LEN + 1]);

int	admin_status(struct areq *);
int	admin_audit_list(struct areq *);
int	admin_tenant_add(struct areq *);
int	admin_tenant_list(struct areq *);
int	admin_tenant_show(struct areq *);
int	admin_tenant_set_enabled(struct areq *);
int	admin_tenant_remove(struct areq *);
int	admin_key_create(struct areq *);
int	admin_key_list(struct areq *);
int	admin_key_show(struct areq *);
int	admin_key_set_enabled(struct areq *);
int	admin_key_revoke(struct areq *);
int	admin_key_update(struct areq *);
int	admin_key_rotate(struct areq *);
int	admin_key_purge_expired(struct areq *);

#endif
