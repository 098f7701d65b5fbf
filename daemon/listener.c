/*
 * listener.c - the directories apikeyd keeps its sockets and store in, and
 * the listening sockets themselves. Runs once, at start-up, before any
 * thread exists (umask is process-wide).
 *
 * A weak directory was a real attack: with a socket directory others could
 * write to, a racer swapped the socket path for a symbolic link between
 * bind() and chmod(), and a planted state-directory link made the daemon
 * chmod a root directory and write the store and pepper into it; a fake
 * server in such a directory logged root in. So nothing here follows a
 * symbolic link in the last component or changes a mode by path: a new
 * directory gets its mode through its own descriptor, and a socket gets
 * 0666 from the umask in force at bind(). The directories above are
 * checked too, as the path is written (a symbolic link on the way is
 * followed and the place it leads to checked as well), because whoever
 * can rename an ancestor can replace the whole subtree.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/pathtrust.h"
#include "listener.h"
#include "log.h"

static int
owner_trusted(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* Checks the directories holding path, as written. */
static int
parent_trusted(const char *path, char *err, size_t errsz)
{
	char	 parent[PATH_MAX], *slash;
	size_t	 n = strlen(path);

	if (n >= sizeof(parent)) {
		snprintf(err, errsz, "%s: path too long", path);
		return -1;
	}
	memcpy(parent, path, n + 1);
	while (n > 1 && parent[n - 1] == '/')
		parent[--n] = '\0';
	if ((slash = strrchr(parent, '/')) == NULL) {
		snprintf(err, errsz, "%s: not an absolute path", path);
		return -1;
	}
	if (slash == parent)
		slash[1] = '\0';
	else
		*slash = '\0';
	/* Entries of ours in /tmp are safe: only we may rename them. */
	return pathtrust_walk(parent, geteuid(), PATHTRUST_STICKY_UID, err,
	    errsz);
}

int
listener_dir(const char *path, mode_t mode, int private, char *err,
    size_t errsz)
{
	struct stat	 lst, st;
	int		 fd = -1, created = 0, rc = -1;

	if (path[0] != '/') {
		snprintf(err, errsz, "%s: not an absolute path", path);
		return -1;
	}
	if (parent_trusted(path, err, errsz) != 0)
		return -1;
	if (mkdir(path, mode) == 0)
		created = 1;
	else if (errno != EEXIST) {
		snprintf(err, errsz, "mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	if (lstat(path, &lst) == -1) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISLNK(lst.st_mode)) {
		snprintf(err, errsz, "%s is a symbolic link; configure the "
		    "directory itself", path);
		return -1;
	}
	if (!S_ISDIR(lst.st_mode)) {
		snprintf(err, errsz, "%s is not a directory", path);
		return -1;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) == -1) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (st.st_dev != lst.st_dev || st.st_ino != lst.st_ino) {
		snprintf(err, errsz, "%s changed while it was checked", path);
		goto out;
	}
	if (!owner_trusted(st.st_uid)) {
		snprintf(err, errsz, "%s is owned by uid %u; it must belong to "
		    "root or to the user apikeyd runs as (uid %u)", path,
		    (unsigned)st.st_uid, (unsigned)geteuid());
		goto out;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(err, errsz, "%s is writable by group or others (mode "
		    "%04o); remove that with chmod go-w", path,
		    (unsigned)(st.st_mode & 07777));
		goto out;
	}
	/* umask(077) trimmed a new directory; an old private one may be
	 * readable by others. Either way, through the descriptor. */
	if (created && (st.st_mode & 07777) != mode) {
		if (fchmod(fd, mode) == -1) {
			snprintf(err, errsz, "chmod %s: %s", path,
			    strerror(errno));
			goto out;
		}
	} else if (private && (st.st_mode & 077) != 0) {
		log_warnx("%s was mode %04o; setting 0700", path,
		    (unsigned)(st.st_mode & 07777));
		if (fchmod(fd, 0700) == -1) {
			snprintf(err, errsz, "chmod %s: %s", path,
			    strerror(errno));
			goto out;
		}
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	return rc;
}

int
listener_open(const char *path, int backlog, int *out)
{
	struct sockaddr_un sun;
	struct stat	 st;
	mode_t		 old;
	int		 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_warnx("%s: socket path too long", path);
		return -1;
	}
	strcpy(sun.sun_path, path);

	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_warnx("%s exists and is not a socket; remove it",
			    path);
			return -1;
		}
		/* A live daemon answers; a stale socket file refuses. */
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd == -1) {
			log_warn("socket");
			return -1;
		}
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(fd);
			log_warnx("%s: another apikeyd is already listening",
			    path);
			return -1;
		}
		close(fd);
		if (unlink(path) == -1 && errno != ENOENT) {
			log_warn("unlink %s", path);
			return -1;
		}
	} else if (errno != ENOENT) {
		log_warn("%s", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		log_warn("socket");
		return -1;
	}
	/* Everyone may connect (authorization is by SO_PEERCRED): 0666
	 * comes from the umask at bind(), so nothing is chmod-ed by path. */
	old = umask(0111);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		log_warn("bind %s", path);
		close(fd);
		return -1;
	}
	umask(old);
	if (listen(fd, backlog) == -1) {
		log_warn("listen %s", path);
		close(fd);
		unlink(path);
		return -1;
	}
	*out = fd;
	return 0;
}
