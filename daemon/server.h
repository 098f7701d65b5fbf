/*
 * server.h - apikeyd's sockets and event loops. server.c is the only file
 * that knows libevent.
 *
 * Two Unix stream sockets: verify.sock is served by verify_threads event
 * loops, the first on the calling thread, which must never block;
 * admin.sock by one more thread, since management requests resolve users
 * and groups through NSS, which may block. Each loop owns its connections,
 * so handlers run without locks; a verify handler's arg is its loop's
 * own. Handlers get whole, length-checked frames and answer with
 * conn_send().
 *
 * Connections are held to account, per socket whichever loop serves them:
 * a frame must be finished within read_timeout, an idle connection goes
 * after idle_timeout, each uid has max_connections_per_uid, and the last
 * reserved_connections slots are
 * kept for root and the service users. A refused connection is told why in
 * an EBUSY frame (request id 0) before it is closed.
 */
#ifndef APIKEY_SERVER_H
#define APIKEY_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../proto/proto.h"
#include "config.h"

struct conn;
struct server;

/*
 * The peer of a connection. uid is its effective uid, which authorizes
 * everything. ruid is its real uid, which connection slots and log lines
 * are charged to: a setuid program such as su runs as root for a user,
 * and must not spend root's share.
 */
struct peer {
	uid_t	uid;
	uid_t	ruid;
	gid_t	gid;
	pid_t	pid;
};

/*
 * Handles one request frame. body reads the fields after the header.
 * Returns 0 to keep the connection, -1 to close it once its replies are
 * written (a malformed request).
 */
typedef int (*server_handler)(void *arg, struct conn *, const struct peer *,
    const struct proto_hdr *, struct reader *body);

/*
 * Serves on lfds[0] (verify) and lfds[1] (admin), listening sockets passed
 * by the service manager, which the server closes but never unlinks; for
 * each that is -1 it binds its own in socket_dir (refusing if a live daemon
 * answers there). Verify loop i calls verify(vargs[i], ...): vargs holds
 * config's verify_threads args (borrowed). Root and the uids in reserved
 * (n of them, copied) may use the connection slots that config's
 * reserved_connections keeps from everyone else.
 */
int	server_open(const struct config *, const uid_t *reserved, size_t n,
	    const int lfds[2], server_handler verify, void *const *vargs,
	    server_handler admin, void *aarg, struct server **out);
/* Blocks the signals server_run() handles, until it handles them. */
void	server_block_signals(void);
/*
 * Starts the other loops' threads, tells the service manager it is ready,
 * then runs the first verify loop until SIGTERM or SIGINT, feeding the
 * service manager's watchdog while every verify loop turns. A stop
 * drains: every request read is answered, then each connection gets an
 * ESHUTDOWN frame (proto.h), within SERVER_DRAIN_TIMEOUT; a second signal
 * stops at once. Returns once every loop has stopped: 0 on a clean stop,
 * -1 if it could not start serving, or 1 if a thread did not stop in time
 * (the admin thread may still be inside the store: the caller must exit
 * without server_close()).
 */
int	server_run(struct server *);
/* The path the verify (admin 0) or admin socket is bound to, as the
 * service manager or the server bound it; owned by the server. */
const char *server_socket_path(const struct server *, int admin);
/* Closes the sockets, unlinks its own, and frees everything. */
void	server_close(struct server *);

/*
 * A reply held past its request (until credits are committed) keeps the
 * connection with conn_ref(); if the peer goes away meanwhile, conn_send()
 * on it fails and conn_unref() frees it.
 */
void	conn_ref(struct conn *);
void	conn_unref(struct conn *);
/* Writes queued replies at the end of this loop turn, once for all those
 * queued meanwhile: for replies sent outside a request. */
void	conn_push(struct conn *);

/* Runs fn(arg) on verify loop `loop` soon after server_signal_raise(),
 * which is safe from any thread. Freed by server_close(). */
struct server_signal;
int	server_signal_new(struct server *, size_t loop, void (*fn)(void *),
	    void *arg, struct server_signal **out);
void	server_signal_raise(struct server_signal *);

/*
 * Runs fn(arg) on the admin thread every period_ms (first after one
 * period), for maintenance that must not race management requests.
 */
int	server_every(struct server *, uint64_t period_ms, void (*fn)(void *),
	    void *arg);

/*
 * A reply of many frames, produced as the peer reads them: fn(c, arg)
 * queues some frames and returns 1 while more remain, 0 when it sent the
 * last one, or -1 to close the connection. It is called whenever the
 * connection's output is below its low-water mark, so a peer that stops
 * reading holds a bounded amount of memory. No further request of the
 * connection is read until the stream ends. free_fn(arg) runs once, when
 * the stream ends or the connection goes. Returns -1 (free_fn called) if
 * the connection is closing.
 */
int	conn_stream(struct conn *, int (*fn)(struct conn *, void *),
	    void (*free_fn)(void *), void *arg);
/* 1 while the connection's output is at or above the low-water mark: a
 * stream should return and wait to be called again. */
int	conn_full(const struct conn *);

/*
 * 1 when a line about this connection's peer may be logged now: each uid
 * gets log_lines_per_uid lines per log_window on each socket (all its
 * loops together), so one user cannot flood the log. A suppressed count
 * is reported first.
 */
int	conn_log_ok(struct conn *);

/* Queues bytes for the peer; the data is copied. -1 if the peer is gone. */
int	conn_send(struct conn *, const void *, size_t);
/* As conn_send, for frames holding a token: every copy is wiped once
 * written or dropped. */
int	conn_send_secret(struct conn *, const void *, size_t);

#endif
