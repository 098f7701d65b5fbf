/*
 * authorize.c - may this local user use that verified key?
 *
 * The daemon never resolves group membership on its verify path (NSS may
 * block on LDAP or SSSD), so the verify reply carries the owner and this
 * check runs in the calling process, which already has NSS set up: a PAM
 * module inside sshd, or a service. A user key serves only its owner's uid.
 * A tenant key serves members of the tenant's group, narrowed by the key's
 * allowed-users list when that is not empty. Membership is decided by
 * common/account.c, the code apikeyd's management path uses too, so the
 * daemon and the library agree on who is in a group: primary gid, then the
 * group's member list, then getgrouplist(), as linux-pam's
 * pam_modutil_user_in_group does. It uses only the reentrant NSS calls, so
 * this check is thread-safe and keeps no state.
 *
 * Two rules guard against keys reaching the wrong account. A user key also
 * needs the user name recorded when it was made, since a deleted account's
 * uid may be given to someone else. And a tenant key never serves root or
 * a member of the daemon's admin group unless root allowed that on the
 * tenant (the verify reply says so, and carries the admin group's gid).
 */
#include <string.h>

#include "../common/account.h"
#include "internal.h"

static int
is_allowed_user(const struct proto_user_list *l, const char *username)
{
	uint32_t	i;

	if (l->n == 0)
		return 1;
	for (i = 0; i < l->n && i < PROTO_MAX_USERS; i++)
		if (strcmp(l->v[i], username) == 0)
			return 1;
	return 0;
}

/*
 * 1 when the user is root or a member of the daemon's admin group, 0 when
 * not, <0 when NSS failed. A tenant's keys serve such users only when root
 * allowed it on the tenant: otherwise a tenant admin who got root into the
 * tenant's group would hold a root login.
 */
static int
privileged(const struct proto_verify_reply *r, const char *username,
    uid_t uid, gid_t gid)
{
	if (uid == 0)
		return 1;
	if (!r->has_admin_gid)
		return 0;
	return account_in_group(username, gid, (gid_t)r->admin_gid);
}

APIKEY_EXPORT int
apikey_authorize_user(const struct apikey_result *res, const char *username)
{
	const struct proto_verify_reply	*r;
	uid_t				 uid;
	gid_t				 gid;
	int				 rc;

	if (res == NULL || username == NULL || *username == '\0')
		return APIKEY_EINVAL;
	r = &res->r;
	if (r->code != PROTO_VALID)
		return APIKEY_EINVAL;
	rc = account_user_by_name(username, &uid, &gid);
	if (rc == ACCOUNT_ENOTFOUND)
		return APIKEY_ENOUSER;
	if (rc != ACCOUNT_OK)
		return APIKEY_ENSS;

	switch (r->owner.kind) {
	case PROTO_OWNER_USER:
		/* The name recorded at creation must match too: an account
		 * that got a deleted account's uid is not its owner. */
		if (uid != (uid_t)r->owner.uid || (r->owner.user[0] != '\0' &&
		    strcmp(r->owner.user, username) != 0))
			return APIKEY_EDENIED;
		return 0;
	case PROTO_OWNER_TENANT:
		if (!is_allowed_user(&r->allowed_users, username))
			return APIKEY_EDENIED;
		if (!r->allow_privileged &&
		    (rc = privileged(r, username, uid, gid)) != 0)
			return rc == 1 ? APIKEY_EDENIED : APIKEY_ENSS;
		rc = account_in_group(username, gid, (gid_t)r->owner.gid);
		if (rc == 1)
			return 0;
		return rc == 0 ? APIKEY_EDENIED : APIKEY_ENSS;
	default:
		/* Not an owner this version knows how to grant: refuse. */
		return APIKEY_EDENIED;
	}
}
