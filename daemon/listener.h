/*
 * listener.h - the listening Unix sockets of apikeyd and the directories
 * they and the store live in.
 *
 * The socket and state directories decide who can impersonate the daemon
 * or swap its files, so they are checked, not trusted: each must be a real
 * directory (never a symbolic link), owned by root or by the user apikeyd
 * runs as, and not writable by group or others; every directory above it
 * must be owned by root or that user and not writable by others unless it
 * is sticky (/tmp). Since nobody else can then change any name on the
 * path, binding and opening by path afterwards is safe.
 */
#ifndef APIKEY_LISTENER_H
#define APIKEY_LISTENER_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Makes sure path is a directory fit for the daemon, creating it with mode
 * when missing. A private directory (the state directory) must not be
 * reachable by group or others: looser modes are tightened to 0700 through
 * the opened directory, never by path. Returns 0, or -1 with a message in
 * err.
 */
int	listener_dir(const char *path, mode_t mode, int private, char *err,
	    size_t errsz);

/*
 * Binds and listens on the socket path (mode 0666: authorization is by
 * SO_PEERCRED) and stores the descriptor in *fd. A live daemon answering on
 * path, or something there that is not a socket, is an error; a stale
 * socket is replaced. Returns 0, or -1 after logging why.
 */
int	listener_open(const char *path, int backlog, int *fd);

#endif
