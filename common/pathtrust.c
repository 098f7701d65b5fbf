/*
 * pathtrust.c - see pathtrust.h. Run once at apikeyd's start and once per
 * new libapikey connection to a daemon that is not root, on paths of a
 * few components, so it favours plain lstat(2) calls over cleverness.
 *
 * The path is walked as written, component by component, never resolved
 * first: resolving would hide the directories a symbolic link passes
 * through, and whoever can rename one of those can swap the subtree.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pathtrust.h"

#define LINKS_MAX	8	/* links followed, one inside another */

static int
owner_ok(uid_t owner, uid_t uid)
{
	return owner == 0 || owner == uid;
}

/* Writable by others, but sticky: entries below it need checking. */
static int
open_sticky(const struct stat *st)
{
	return (st->st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    (st->st_mode & S_ISVTX) != 0;
}

/* " or to uid N", for messages. */
static const char *
also_uid(uid_t uid, char *buf, size_t size)
{
	snprintf(buf, size, " or to uid %u", (unsigned)uid);
	return buf;
}

static int
walk(const char *path, uid_t uid, int flags, int depth, char *err,
    size_t errsz)
{
	char		 cur[PATH_MAX], real[PATH_MAX], who[32];
	struct stat	 st;
	const char	*p = path, *end;
	size_t		 n, len = 1;
	int		 sticky;

	strcpy(cur, "/");
	if (lstat(cur, &st) == -1) {
		snprintf(err, errsz, "/: %s", strerror(errno));
		return -1;
	}
	if (!owner_ok(st.st_uid, uid) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(err, errsz, "/ does not belong to root alone");
		return -1;
	}
	sticky = 0;
	for (;;) {
		p += strspn(p, "/");
		if (*p == '\0')
			return 0;
		end = p + strcspn(p, "/");
		n = (size_t)(end - p);
		if (len + n + 1 >= sizeof(cur)) {
			snprintf(err, errsz, "%s: path too long", path);
			return -1;
		}
		if (len > 1)
			cur[len++] = '/';
		memcpy(cur + len, p, n);
		len += n;
		cur[len] = '\0';
		p = end;
		if (lstat(cur, &st) == -1) {
			snprintf(err, errsz, "%s: %s", cur, strerror(errno));
			return -1;
		}
		if (!owner_ok(st.st_uid, uid)) {
			snprintf(err, errsz, "%s is owned by uid %u; every "
			    "directory and link on the way must belong to "
			    "root%s", cur, (unsigned)st.st_uid, uid == 0 ? "" :
			    also_uid(uid, who, sizeof(who)));
			return -1;
		}
		if (sticky && st.st_uid != 0 &&
		    !(flags & PATHTRUST_STICKY_UID)) {
			snprintf(err, errsz, "%s is in a directory anyone may "
			    "write to, so uid %u may have made it", cur,
			    (unsigned)st.st_uid);
			return -1;
		}
		if (S_ISLNK(st.st_mode)) {
			if (depth >= LINKS_MAX || realpath(cur, real) == NULL) {
				snprintf(err, errsz, "%s: %s", cur,
				    depth >= LINKS_MAX ?
				    "too many symbolic links" : strerror(errno));
				return -1;
			}
			/* Then on through the link, as lstat goes. */
			if (walk(real, uid, flags, depth + 1, err, errsz) != 0)
				return -1;
			if (stat(cur, &st) == -1) {
				snprintf(err, errsz, "%s: %s", cur,
				    strerror(errno));
				return -1;
			}
		} else if (!S_ISDIR(st.st_mode)) {
			snprintf(err, errsz, "%s is not a directory", cur);
			return -1;
		} else if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
		    !open_sticky(&st)) {
			snprintf(err, errsz, "%s is writable by group or others "
			    "(mode %04o), so its contents could be swapped",
			    cur, (unsigned)(st.st_mode & 07777));
			return -1;
		}
		sticky = open_sticky(&st);
	}
}

int
pathtrust_walk(const char *path, uid_t uid, int flags, char *err,
    size_t errsz)
{
	if (path[0] != '/') {
		snprintf(err, errsz, "%s: not an absolute path", path);
		return -1;
	}
	return walk(path, uid, flags, 0, err, errsz);
}
