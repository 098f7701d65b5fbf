/*
 * account.h - local users and groups through NSS, shared by apikeyd's
 * management path and libapikey's authorization helper so that both decide
 * group membership the same way: primary gid, then the group's member list,
 * then getgrouplist() (as linux-pam's pam_modutil_user_in_group does).
 *
 * These calls may block (LDAP, SSSD): never call them on the daemon's
 * verify path. Names are copied into caller buffers; nothing is retained.
 */
#ifndef APIKEY_ACCOUNT_H
#define APIKEY_ACCOUNT_H

#include <stddef.h>
#include <sys/types.h>

#define ACCOUNT_OK		0
#define ACCOUNT_ENOTFOUND	(-1)
#define ACCOUNT_EFAIL		(-2)	/* NSS lookup failed */
#define ACCOUNT_ESPACE		(-3)	/* name does not fit the buffer */

int	account_user_by_name(const char *name, uid_t *uid, gid_t *gid);
int	account_user_by_uid(uid_t uid, char *name, size_t namesz, gid_t *gid);
int	account_group_by_name(const char *name, gid_t *gid);
/* Every group of the user (name, primary gid), by getgrouplist(). The
 * caller frees *groups with free(). */
int	account_grouplist(const char *user, gid_t user_gid, gid_t **groups,
	    int *n);
/* 1 when the user (name, primary gid) is in gid, 0 when not, or <0. */
int	account_in_group(const char *user, gid_t user_gid, gid_t gid);

#endif
