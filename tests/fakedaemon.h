/*
 * fakedaemon.h - a fake apikeyd for libapikey's unit tests (unit_client.c,
 * unit_pipeline.c): a thread serving a Unix socket in a temporary
 * directory, scripted per accepted connection (answer well, answer with a
 * wrong id, wrong opcode or garbage, stay silent, hang up, say goodbye,
 * answer out of order). Functions assert (Criterion) instead of returning
 * errors.
 */
#ifndef APIKEY_TEST_FAKEDAEMON_H
#define APIKEY_TEST_FAKEDAEMON_H

#include <sys/types.h>

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "../libclient/internal.h"

/* A valid token, made independently with Python (see unit_token.c). */
#define KNOWN_TOKEN \
    "ak_05McJmDgrvc_003aUlTJC7tjlCTQj2uNU3MFagCXG9LRKRcwGkBIDlf149beY"
#define KNOWN_ID	"05McJmDgrvc"

#define TIMEOUT_MS	200

#define OTHER_UID	10001	/* a local user, neither root nor a daemon */
#define NOBODY_UID	65534	/* "nobody" in the machine's passwd */

/* What apikeyd says when it refuses a connection over its limits. */
#define BUSY_MSG \
    "too many connections from uid 10001 (max_connections_per_uid = 64)"

enum fake_mode {
	FAKE_GOOD,		/* a proper reply to every frame */
	FAKE_SILENT,		/* read frames, never answer */
	FAKE_WRONG_ID,		/* reply with id + 1 */
	FAKE_WRONG_OP,		/* reply with another opcode */
	FAKE_GARBAGE_LEN,	/* a length field over the maximum */
	FAKE_GARBAGE_BODY,	/* a well-framed, undecodable body */
	FAKE_EPERM,		/* reply EPERM with a message */
	FAKE_EUNAVAIL,		/* reply EUNAVAIL (fleet database), the same */
	FAKE_ECONFLICT,		/* reply ECONFLICT, the same */
	FAKE_OLD_VERSION,	/* a good reply of the protocol before */
	FAKE_HANGUP,		/* close at once, then signal done_fd */
	FAKE_BUSY,		/* refuse with an id-0 EBUSY frame at once,
				 * close, then signal done_fd */
	FAKE_BUSY_LATE,		/* the same once the request starts to
				 * arrive, without reading it */
	FAKE_GOAWAY,		/* a stopping daemon: say goodbye (id-0
				 * ESHUTDOWN) instead of answering */
	FAKE_GOOD_GOAWAY,	/* answer, with the goodbye right behind */
	FAKE_GOAWAY_IDLE,	/* goodbye at once, close, signal done_fd */
	FAKE_GOAWAY_ID,		/* an ESHUTDOWN reply with the request's id */
	/* For pipelined verifies; their VERIFY replies carry the request's
	 * id as the credits remaining, so a test can tell them apart. */
	FAKE_ECHO,		/* a reply to every frame, in order */
	FAKE_REVERSE,		/* the frames of each read, answered last
				 * first */
	FAKE_ECHO_ONE_GOAWAY,	/* answer the first frame, then goodbye and
				 * close, leaving the rest unread */
	FAKE_TWICE,		/* every reply twice */
	FAKE_GOOD_TWO,		/* a proper reply to the first two frames
				 * (of all connections), then silence */
};

/* The fleet host a good STATUS reply describes: last synced this many
 * seconds ago, and its last failure, with a byte that is not UTF-8. */
#define FAKE_SYNCED_AGO		2
#define FAKE_FLEET_ERROR	"could not connect to server: \xff"

/* What a stopping apikeyd says. */
#define GOAWAY_MSG	"apikeyd is stopping"
/* Fleet mode's refusals of a change, as a fake words them. */
#define FLEET_DOWN_MSG	"the fleet database is unreachable: nothing was changed"
#define CONFLICT_MSG	"key 05McJmDgrvc was changed meanwhile through " \
	"another host: nothing was changed; try again"

#define FAKE_MAXCONN	4

struct fake {
	char		 parent[64];	/* "" or a root 0755 directory above */
	char		 dir[96];
	char		 path[128];
	int		 lfd;
	int		 done_fd[2];	/* a byte per hangup or refusal */
	enum fake_mode	 modes[FAKE_MAXCONN];
	int		 nconn;
	pthread_t	 th;
	int		 frames;	/* frames received, all connections */
	size_t		 bytes[FAKE_MAXCONN];	/* received, per connection */
	uint8_t		 lastop;
};


int64_t	mono_ms(void);
/* Ends the frame in w and writes it to fd (to a client gone: nothing). */
void	send_frame(int fd, struct writer *w);
/* A proper reply to h: a VALID verify of KNOWN_ID (41 credits left), the
 * status of a fleet host, two audit entries, a created key with
 * KNOWN_TOKEN, else EUNSUPPORTED. */
void	reply_good(int fd, const struct proto_hdr *h);
/* A stopping daemon's goodbye: status ESHUTDOWN under id. */
void	send_goaway(int fd, uint32_t id);
/* apikeyd's refusal of a connection over its limits (BUSY_MSG). */
void	send_busy(int fd);

/*
 * Binds f's socket at f->path and, with listen_too, listens on it as uid
 * (a child drops to another uid for the listen(), which SO_PEERCRED
 * reports).
 */
void	fake_bind(struct fake *f, uid_t uid, int listen_too);
/*
 * Makes f's directory, owned by dir_uid with mode dir_mode, and its socket
 * there, listened on by uid. The directory is made in a root 0755
 * directory of its own in /tmp, unless in_tmp: then right in /tmp.
 */
void	fake_listen_in(struct fake *f, const char *name, uid_t uid,
	    uid_t dir_uid, mode_t dir_mode, int in_tmp);
void	fake_listen_as(struct fake *f, const char *name, uid_t uid,
	    uid_t dir_uid, mode_t dir_mode);
/* A root-owned socket in a new directory in /tmp. */
void	fake_listen(struct fake *f, const char *name, int listen_too);
/* Serves the next n connections of f's socket with the given modes. */
void	fake_run(struct fake *f, int n, const enum fake_mode *m);
/* fake_listen() then fake_run(). */
void	fake_start(struct fake *f, const char *name, int n,
	    const enum fake_mode *m);
/* Waits for a hangup or refusal of a connection (done_fd). */
void	fake_wait_hangup(struct fake *f);
/* Waits for the server to finish (the client must have closed first),
 * then removes its socket and directories. */
void	fake_stop(struct fake *f, int started);

#endif
