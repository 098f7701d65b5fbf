/*
 * pathtrust.h - whether anyone but root and one uid could change what a
 * directory path names. apikeyd asks it of the directories above its state
 * and socket directories (the uid is its own); libapikey asks it of the
 * socket directory of a daemon that is not root (the uid is the daemon's),
 * before it believes that the directory's owner is who serves the socket.
 */
#ifndef APIKEY_PATHTRUST_H
#define APIKEY_PATHTRUST_H

#include <stddef.h>
#include <sys/types.h>

/*
 * A sticky directory that others may write (as /tmp) does not stop the
 * walk when the entry below it belongs to root or, with this flag, to uid:
 * in a sticky directory only an entry's owner can rename it. Without the
 * flag the entry must belong to root, since uid could have made it there.
 */
#define PATHTRUST_STICKY_UID	0x1

/*
 * Walks path (absolute) from / as it is written: every directory on the
 * way, path included, must belong to root or uid and not be writable by
 * group or others (but see the sticky rule above); every symbolic link on
 * the way must belong to root or uid, and the place it leads to is walked
 * the same way. Returns 0, or -1 with the reason in err.
 */
int	pathtrust_walk(const char *path, uid_t uid, int flags, char *err,
	    size_t errsz);

#endif
