/*
 * internal.h - what the files of libapikey share and nothing else sees.
 *
 * client.c owns the connection and the request/reply round trip; verify.c,
 * admin.c and authorize.c build on it. Everything here has hidden
 * visibility (the objects are built with -fvisibility=hidden); only
 * functions marked APIKEY_EXPORT leave the shared object, and the version
 * script lets through nothing but apikey_*.
 */
#ifndef APIKEY_INTERNAL_H
#define APIKEY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../common/secret.h"
#include "../proto/buf.h"
#include "../proto/proto.h"
#include "../proto/token.h"
#include "apikey.h"

#define APIKEY_EXPORT	__attribute__((visibility("default")))

/* Room for a socket path: sizeof(sockaddr_un.sun_path) on Linux. */
#define AKC_PATH_MAX		108
/* Most items one listing may return; guards against a runaway daemon. */
#define AKC_LIST_MAX		1000000

/* Which socket a call belongs to. */
enum akc_role {
	AKC_ANY,
	AKC_VERIFY,
	AKC_ADMIN,
};

struct apikey_client {
	int		 fd;		/* -1 while disconnected */
	int		 admin;		/* 1: admin.sock, 0: verify.sock */
	int		 timeout_ms;
	/* The connection's calls so far, and whether its socket now blocks
	 * for a reply (for at most timeout_ms - 1: client.c). */
	unsigned	 calls;
	int		 blocking;
	uint32_t	 next_id;
	char		 path[AKC_PATH_MAX];

	/* The request being built: set by akc_begin, used by akc_call. */
	uint8_t		 op;
	uint32_t	 id;
	struct writer	 w;

	uint8_t		*tx;		/* txcap bytes, one request frame */
	size_t		 txcap;
	uint8_t		*rx;		/* rxcap bytes = largest reply frame */
	size_t		 rxcap;
	size_t		 rxlen;

	char		 last_error[PROTO_MESSAGE_MAX + 1];

	/* Pipelined verifies (pipeline.c); NULL until the first. */
	struct akc_pipe	*pipe;
};

/*
 * The public objects wrap the decoded wire structs; verify.c, admin.c,
 * keyspec.c, objects.c and authorize.c all reach into them.
 */
/* The token member of q stays empty: the token is a verify argument. */
struct apikey_verify_req {
	struct proto_verify_req	q;
};

struct apikey_result {
	struct proto_verify_reply r;
};

struct apikey_status {
	struct proto_status_info s;
};

struct apikey_tenant {
	struct proto_tenant	t;
};

struct apikey_key {
	struct proto_key	k;
};

struct apikey_audit {
	struct proto_audit	a;
};

struct apikey_key_spec {
	struct proto_key_spec	s;
};

/*
 * Decodes the body of one OK reply frame after its head, with the
 * proto_dec_* of the message: the fields of a plain reply, or one item of
 * a listing. Returns 0, APIKEY_EPROTO when the bytes do not decode, or
 * APIKEY_ENOMEM.
 */
typedef int	(*akc_decode_fn)(struct reader *, void *arg);

/*
 * The items of a listing: n public objects of size bytes each in v, which
 * has room for cap and grows as the frames arrive; dec decodes one item in
 * place. Each public list type is one of these.
 */
struct akc_list {
	void		*v;
	size_t		 n, cap;
	size_t		 size;
	akc_decode_fn	 dec;
};

struct apikey_tenant_list {
	struct akc_list		items;	/* of struct apikey_tenant */
};

struct apikey_key_list {
	struct akc_list		items;	/* of struct apikey_key */
};

struct apikey_audit_list {
	struct akc_list		items;	/* of struct apikey_audit */
};

/* akc_call flags. */
/* Not an APIKEY_E* code: the daemon said goodbye (ESHUTDOWN) before it
 * read the request, which may be sent again on a new connection, at most
 * AKC_GOAWAY_TRIES times in all. */
#define AKC_EGOAWAY		(-1000)
#define AKC_GOAWAY_TRIES	3
#define AKC_LIST	0x01	/* reply is a listing: one item per MORE frame */

/*
 * Starts a public call: checks c, clears the last error and checks that
 * the client's socket takes this kind of call. Returns 0 or APIKEY_EINVAL.
 */
int	akc_enter(struct apikey_client *c, enum akc_role role);
/* akc_enter for a call whose result pointer out is required. */
int	akc_enter_out(struct apikey_client *c, enum akc_role role,
	    const void *out);
/* Starts a request frame in the client's send buffer; returns the writer
 * for the proto_enc_* of the request's body (proto/ alone writes fields). */
struct writer *akc_begin(struct apikey_client *c, uint8_t opcode);
/*
 * Sends the request built since akc_begin and reads its reply, within one
 * timeout. On an OK reply calls fn on the body (fn NULL: the body must be
 * empty); with AKC_LIST calls fn once per item. Returns 0 or an APIKEY_E*
 * code; the daemon's message is left in c->last_error (for
 * APIKEY_EUNTRUSTED, one naming the socket and its server's uid). A
 * (re)connect checks the server before the request goes out. Both buffers
 * are wiped before it returns, so tokens do not linger in them.
 */
int	akc_call(struct apikey_client *c, akc_decode_fn fn, void *arg,
	    int flags);
/* Sets c->last_error to a library message (not from the daemon). */
void	akc_set_error(struct apikey_client *c, const char *msg);

/* The connection, for pipeline.c; client.c has the details of each. */
int64_t	akc_now_ms(void);
/* Milliseconds left before deadline (CLOCK_MONOTONIC ms), 0 once past. */
int	akc_left_ms(int64_t deadline);
/* Waits for events on fd until the deadline: 0 or APIKEY_EUNAVAIL. */
int	akc_wait_fd(int fd, short events, int64_t deadline);
/* Connects and checks who serves the socket: 0 or an APIKEY_E* code. */
int	akc_connect(struct apikey_client *c, int64_t deadline);
/* Closes the connection and wipes what was received. */
void	akc_disconnect(struct apikey_client *c);
/* The APIKEY_E* code of a reply status (AKC_EGOAWAY for ESHUTDOWN). */
int	akc_status_error(uint32_t status);
/* A frame refusing the whole connection (id 0): its APIKEY_E* code with
 * the daemon's message in last_error, else 0. */
int	akc_refusal(struct apikey_client *c, const uint8_t *frame, size_t len);

/* Verify (verify.c). */
/*
 * Begins the VERIFY request for token in c's send buffer (akc_begin: it
 * takes a request id) and returns 0; or, for a token not shaped like a
 * key, returns 1 with *local set to the MALFORMED answer, and no request.
 */
int	akc_verify_begin(struct apikey_client *c, const char *token,
	    const struct apikey_verify_req *req,
	    struct proto_verify_reply *local);
/* akc_decode_fn of a verify reply, into a struct proto_verify_reply. */
int	akc_dec_verify_reply(struct reader *, void *arg);
/* Whether pipelined verifies are in flight or waiting to be received. */
int	akc_pipe_busy(const struct apikey_client *c);
/* Frees c's pipeline, wiping the requests it held (apikey_close). */
void	akc_pipe_free(struct apikey_client *c);

/* Copies s into dst (room for max + 1); APIKEY_EINVAL if s is NULL or
 * longer than max bytes. dst is written only on success. */
int	akc_copy(char *dst, const char *s, size_t max);
/* The same for a name, which must not be empty either. */
int	akc_copy_name(char *dst, const char *s, size_t max);
/*
 * Appends the name s to a wire string list: maxn rows of stride bytes from
 * base, *n of them used, each at most maxlen bytes. APIKEY_EINVAL for a bad
 * name, APIKEY_ELIMIT when the list is full.
 */
int	akc_strlist_add(char *base, size_t stride, uint32_t *n, size_t maxn,
	    size_t maxlen, const char *s);

/* Shared by the management calls (admin.c). */
/* 0 if s is a non-empty string of at most max bytes, else APIKEY_EINVAL. */
int	akc_check_str(const char *s, size_t max);
/* akc_decode_fn for a reply that is one u32 count. */
int	akc_dec_count(struct reader *, void *arg);
/*
 * akc_call for a reply that is one object: fn decodes it into a new zeroed
 * object of size bytes. On 0, *out holds it (caller frees), or, with out
 * NULL, it is freed at once.
 */
int	akc_call_object(struct apikey_client *c, akc_decode_fn fn, size_t size,
	    void **out);
/*
 * akc_call for a listing into l, which the caller zeroed: dec decodes each
 * item, an object of size bytes. On failure l keeps the items that came;
 * akc_list_free frees them.
 */
int	akc_call_list(struct apikey_client *c, struct akc_list *l,
	    akc_decode_fn dec, size_t size);
/* Item i of l, or NULL past its end. */
const void *akc_list_get(const struct akc_list *l, size_t i);
void	akc_list_free(struct akc_list *l);

static inline time_t
akc_time(uint64_t t)
{
	return t > (uint64_t)INT64_MAX ? (time_t)INT64_MAX : (time_t)t;
}

#endif
