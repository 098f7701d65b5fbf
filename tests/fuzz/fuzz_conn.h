/*
 * fuzz_conn.h - a connection without a socket, so that a fuzz target can
 * call the daemon's request handlers (verify_handle, admin_handle) as
 * server.c does. fuzz_conn.c defines struct conn and the conn_* functions
 * of daemon/server.h in place of server.c: a target links every daemon
 * object but server.o, which would bring libevent, sockets and threads.
 *
 * Every frame a handler queues is checked at once (reply_check.h) and
 * dropped, as if the peer read it. A listing (conn_stream) runs when the
 * target calls fconn_pump, turn by turn as server.c's stream_pump runs
 * it; the output counts as full after a few KiB, so every turn boundary
 * is reached with a small store.
 */
#ifndef APIKEY_FUZZ_CONN_H
#define APIKEY_FUZZ_CONN_H

#include <stddef.h>

#include "../../daemon/server.h"

/* reply_max: the socket's reply bound. Never NULL (aborts instead). */
struct conn *fconn_new(size_t reply_max);
/* Ends a listing still running; the connection must hold no reply. */
void	fconn_free(struct conn *);
/* The request replies answer from now on; NULL: any (held replies). */
void	fconn_expect(struct conn *, const struct proto_hdr *req);
/* What server.c does with a handler's -1: read nothing more. */
void	fconn_close(struct conn *);
int	fconn_closing(const struct conn *);
/* Replies held with conn_ref() and not yet released. */
int	fconn_held(const struct conn *);
/* Runs a listing to its end (aborts if it never ends). */
void	fconn_pump(struct conn *);

#endif
