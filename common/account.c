/*
 * account.c - NSS lookups with the reentrant calls and buffers that grow on
 * ERANGE, since directory entries (large LDAP groups) can exceed any fixed
 * size. Used rarely (management requests, one PAM login), so clarity wins
 * over caching.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "account.h"

#define ACCOUNT_BUF_START	1024
#define ACCOUNT_BUF_MAX		(4 * 1024 * 1024)
#define ACCOUNT_GROUPS_MAX	65536

/* Calls getpw*_r/getgr*_r through fn with a growing buffer. */
struct lookup {
	int	(*fn)(struct lookup *, char *, size_t, void **);
	const char *name;
	uid_t	 id;
	union {
		struct passwd	pw;
		struct group	gr;
	} u;
};

static int
pw_by_name(struct lookup *l, char *buf, size_t sz, void **res)
{
	return getpwnam_r(l->name, &l->u.pw, buf, sz, (struct passwd **)res);
}

static int
pw_by_uid(struct lookup *l, char *buf, size_t sz, void **res)
{
	return getpwuid_r(l->id, &l->u.pw, buf, sz, (struct passwd **)res);
}

static int
gr_by_name(struct lookup *l, char *buf, size_t sz, void **res)
{
	return getgrnam_r(l->name, &l->u.gr, buf, sz, (struct group **)res);
}

static int
gr_by_gid(struct lookup *l, char *buf, size_t sz, void **res)
{
	return getgrgid_r((gid_t)l->id, &l->u.gr, buf, sz,
	    (struct group **)res);
}

/*
 * On ACCOUNT_OK, *bufp holds the strings the entry points to; free it. A
 * caller that needs only the entry's numbers passes bufp NULL, and the
 * strings are freed here.
 */
static int
run_lookup(struct lookup *l, char **bufp)
{
	size_t	 sz = ACCOUNT_BUF_START;
	char	*buf = NULL, *nbuf;
	void	*res = NULL;
	int	 rc;

	for (;;) {
		if ((nbuf = realloc(buf, sz)) == NULL) {
			free(buf);
			return ACCOUNT_EFAIL;
		}
		buf = nbuf;
		rc = l->fn(l, buf, sz, &res);
		if (rc != ERANGE || sz >= ACCOUNT_BUF_MAX)
			break;
		sz *= 2;
	}
	if (rc == 0 && res != NULL) {
		if (bufp != NULL)
			*bufp = buf;
		else
			free(buf);
		return ACCOUNT_OK;
	}
	free(buf);
	/* glibc reports "no such entry" as 0 with a NULL result, or as one
	 * of these errnos depending on the backend. */
	if (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF ||
	    rc == EPERM)
		return ACCOUNT_ENOTFOUND;
	return ACCOUNT_EFAIL;
}

int
account_user_by_name(const char *name, uid_t *uid, gid_t *gid)
{
	struct lookup	l = { .fn = pw_by_name, .name = name };
	int		rc;

	if ((rc = run_lookup(&l, NULL)) != ACCOUNT_OK)
		return rc;
	*uid = l.u.pw.pw_uid;
	*gid = l.u.pw.pw_gid;
	return ACCOUNT_OK;
}

int
account_user_by_uid(uid_t uid, char *name, size_t namesz, gid_t *gid)
{
	struct lookup	 l = { .fn = pw_by_uid, .id = uid };
	char		*buf;
	int		 rc;

	if ((rc = run_lookup(&l, &buf)) != ACCOUNT_OK)
		return rc;
	if (strlen(l.u.pw.pw_name) >= namesz)
		rc = ACCOUNT_ESPACE;
	else {
		strcpy(name, l.u.pw.pw_name);
		*gid = l.u.pw.pw_gid;
	}
	free(buf);
	return rc;
}

int
account_group_by_name(const char *name, gid_t *gid)
{
	struct lookup	l = { .fn = gr_by_name, .name = name };
	int		rc;

	if ((rc = run_lookup(&l, NULL)) != ACCOUNT_OK)
		return rc;
	*gid = l.u.gr.gr_gid;
	return ACCOUNT_OK;
}

static int
listed_in_group(const char *user, gid_t gid)
{
	struct lookup	 l = { .fn = gr_by_gid, .id = (uid_t)gid };
	char		*buf, **m;
	int		 rc, found = 0;

	if ((rc = run_lookup(&l, &buf)) == ACCOUNT_ENOTFOUND)
		return 0;
	if (rc != ACCOUNT_OK)
		return rc;
	for (m = l.u.gr.gr_mem; m != NULL && *m != NULL; m++) {
		if (strcmp(*m, user) == 0) {
			found = 1;
			break;
		}
	}
	free(buf);
	return found;
}

int
account_grouplist(const char *user, gid_t user_gid, gid_t **out, int *nout)
{
	gid_t	*groups = NULL, *ng;
	int	 n = 64, want;

	for (;;) {
		if ((ng = reallocarray(groups, (size_t)n, sizeof(*ng))) ==
		    NULL) {
			free(groups);
			return ACCOUNT_EFAIL;
		}
		groups = ng;
		want = n;
		if (getgrouplist(user, user_gid, groups, &want) != -1)
			break;
		/* -1 with a larger want: the array was too small. */
		if (want <= n || want > ACCOUNT_GROUPS_MAX) {
			free(groups);
			return ACCOUNT_EFAIL;
		}
		n = want;
	}
	*out = groups;
	*nout = want;
	return ACCOUNT_OK;
}

static int
in_grouplist(const char *user, gid_t user_gid, gid_t gid)
{
	gid_t	*groups;
	int	 n, i, rc, found = 0;

	if ((rc = account_grouplist(user, user_gid, &groups, &n)) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		if (groups[i] == gid) {
			found = 1;
			break;
		}
	}
	free(groups);
	return found;
}

int
account_in_group(const char *user, gid_t user_gid, gid_t gid)
{
	int	 rc;

	if (user_gid == gid)
		return 1;
	if ((rc = listed_in_group(user, gid)) != 0)
		return rc;
	return in_grouplist(user, user_gid, gid);
}
