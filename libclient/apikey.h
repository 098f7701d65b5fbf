/*
 * apikey.h - libapikey, the client library of apikeyd.
 *
 * Local services verify API keys through apikeyd's verify socket with one
 * call, and administrators manage tenants and keys through its admin socket.
 * Every call talks to the daemon over a Unix socket, bounded by the client's
 * timeout; after a timeout or an I/O error the connection is dropped and the
 * next call reconnects. A client is not shared between threads: use one
 * client per thread. The library keeps no global mutable state, its sockets
 * are close-on-exec and never use fds 0-2, and it wipes every copy of a
 * token it handled.
 *
 * Functions that can fail return 0 or a negative APIKEY_E* code; output
 * pointers are written only on success. Every object a call hands out is
 * owned by the caller and freed with the matching *_free function; strings
 * returned by accessors stay valid until that object is freed.
 */
#ifndef APIKEY_H
#define APIKEY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define APIKEY_DEFAULT_SOCKET_DIR	"/run/apikeyd"
#define APIKEY_DEFAULT_TIMEOUT_MS	2000
/* The user apikeyd runs as; $APIKEY_DAEMON_USER overrides it. */
#define APIKEY_DEFAULT_DAEMON_USER	"apikeyd"

#define APIKEY_OK		0
#define APIKEY_EUNAVAIL		(-1)	/* daemon absent, refusing or too slow */
#define APIKEY_EPROTO		(-2)	/* malformed or unexpected reply */
#define APIKEY_ENOMEM		(-3)
#define APIKEY_EINVAL		(-4)	/* invalid argument */
#define APIKEY_EPERM		(-5)	/* permission denied by the daemon */
#define APIKEY_ENOTFOUND	(-6)	/* no such key, tenant, user or group */
#define APIKEY_EEXIST		(-7)	/* already exists */
#define APIKEY_ELIMIT		(-8)	/* a size or count limit was hit */
#define APIKEY_EINTERNAL	(-9)	/* daemon-side failure; see its log */
#define APIKEY_EBUSY		(-10)	/* daemon's connection limit reached */
#define APIKEY_ENOUSER		(-11)	/* authorize: user unknown to NSS */
#define APIKEY_EDENIED		(-12)	/* authorize: user may not use the key */
#define APIKEY_ENSS		(-13)	/* authorize: NSS lookup failed */
#define APIKEY_EUNTRUSTED	(-14)	/* untrusted server on the socket */
#define APIKEY_EAGAIN		(-15)	/* pipelined: no answer yet */
/*
 * Fleet mode (hosts sharing one key set through a database): a change
 * that had to go through the fleet database did not, and nothing was
 * changed. Verifies never get these.
 */
#define APIKEY_EFLEET		(-16)	/* fleet database unreachable */
#define APIKEY_ECONFLICT	(-17)	/* changed meanwhile through another
					 * host: read it again and retry */

/* Verify outcomes, in the order the daemon checks them. */
enum apikey_code {
	APIKEY_VALID = 0,
	APIKEY_MALFORMED = 1,
	APIKEY_NOT_FOUND = 2,
	APIKEY_DISABLED = 3,
	APIKEY_TENANT_DISABLED = 4,
	APIKEY_EXPIRED = 5,
	APIKEY_FORBIDDEN = 6,
	APIKEY_INSUFFICIENT_PERMISSIONS = 7,
	APIKEY_RATE_LIMITED = 8,	/* see apikey_result_retry_after_ms() */
	APIKEY_USAGE_EXCEEDED = 9,	/* no credits left */
	/*
	 * The key asks for strict sync and this host has not synced with
	 * the fleet database within its max_staleness: the key cannot be
	 * checked here now, so it fails closed. Try again later.
	 */
	APIKEY_STALE = 10,
};

enum apikey_owner_kind {
	APIKEY_OWNER_SELF = 0,	/* in requests: the calling user */
	APIKEY_OWNER_USER = 1,
	APIKEY_OWNER_TENANT = 2,
};

const char *apikey_strerror(int err);
const char *apikey_code_name(enum apikey_code code);

/* --- connections ------------------------------------------------------ */

struct apikey_client;

/*
 * Connects to verify.sock (apikey_open) or admin.sock (apikey_open_admin).
 * path is a socket directory or a socket file; NULL means $APIKEY_SOCKET_DIR,
 * else APIKEY_DEFAULT_SOCKET_DIR. timeout_ms bounds the connect and every
 * later call (for a listing, the wait for each of its items); 0 or less
 * means APIKEY_DEFAULT_TIMEOUT_MS.
 * Caller frees with apikey_close().
 *
 * Every new connection, at open and at every reconnect, is checked before
 * a byte is sent: the process listening on the socket (SO_PEERCRED) must
 * be root, the owner of the socket's directory when that directory is not
 * writable by group or others, or the daemon user ($APIKEY_DAEMON_USER,
 * which setuid programs ignore, else APIKEY_DEFAULT_DAEMON_USER). Any
 * other gives APIKEY_EUNTRUSTED; apikey_last_error() then names the socket
 * and the server's uid (on a reconnect: a failed open returns no client,
 * so it gives the code alone). A daemon over its connection limits
 * refuses the connection with a reason: the first call gives APIKEY_EBUSY
 * and apikey_last_error() the reason.
 */
int	apikey_open(const char *path, int timeout_ms,
	    struct apikey_client **out);
int	apikey_open_admin(const char *path, int timeout_ms,
	    struct apikey_client **out);
void	apikey_close(struct apikey_client *);
/* The daemon's message for the last failed call, or "". Valid until the
 * next call on this client. */
const char *apikey_last_error(const struct apikey_client *);

/* --- tokens ------------------------------------------------------------ */

/*
 * What a front-end may learn about a token without the daemon, to tell a
 * key from a password before any round trip. A token is
 * <prefix>_<key id>_<secret><checksum>; one that is well formed is at most
 * APIKEY_TOKEN_MAX bytes long, and its key id (public, fit for a log line)
 * takes APIKEY_KEY_ID_SIZE bytes with its NUL. Neither call keeps the
 * token: the secret decoded while checking it is wiped before it returns.
 */
#define APIKEY_TOKEN_MAX	78
#define APIKEY_KEY_ID_SIZE	12

/*
 * 0 when token is shaped like an API key: prefix, key id and secret of the
 * right lengths and characters, and a matching checksum. APIKEY_EINVAL
 * otherwise, and for NULL. Says nothing about whether the key exists:
 * that takes apikey_verify().
 */
int	apikey_token_check(const char *token);
/*
 * Writes the key id of token, NUL-terminated, into buf (size bytes).
 * Returns 0; APIKEY_EINVAL when token is NULL or fails apikey_token_check(),
 * or buf is NULL; APIKEY_ELIMIT when size is below APIKEY_KEY_ID_SIZE.
 */
int	apikey_token_key_id(const char *token, char *buf, size_t size);

/* --- owners ------------------------------------------------------------ */

/*
 * Who a key belongs to, as a key and a verify result both carry it
 * (apikey_key_owner(), apikey_result_owner()): a user, by uid and the
 * user name recorded when the key was made, or a tenant, by its name and
 * the Unix group it maps onto. A view into its object, not a copy: it and
 * its strings stay valid until that object is freed, and it is never freed
 * on its own. The accessors take NULL, returning APIKEY_OWNER_SELF, "" or
 * -1.
 */
struct apikey_owner;
/* APIKEY_OWNER_USER or APIKEY_OWNER_TENANT. */
enum apikey_owner_kind apikey_owner_kind(const struct apikey_owner *);
/* The user's name, "" when NSS had none for the uid; or the tenant's. */
const char *apikey_owner_name(const struct apikey_owner *);
/* A user key's uid; (uid_t)-1 for a tenant key. */
uid_t	apikey_owner_uid(const struct apikey_owner *);
/* A tenant key's group and its gid; "" and (gid_t)-1 for a user key. */
const char *apikey_owner_group(const struct apikey_owner *);
gid_t	apikey_owner_gid(const struct apikey_owner *);

/* --- verify ------------------------------------------------------------ */

/* Optional context of a verify. Caller frees with apikey_verify_req_free(). */
struct apikey_verify_req;
struct apikey_verify_req *apikey_verify_req_new(void);
void	apikey_verify_req_free(struct apikey_verify_req *);
int	apikey_verify_req_set_service(struct apikey_verify_req *, const char *);
int	apikey_verify_req_set_user(struct apikey_verify_req *, const char *);
int	apikey_verify_req_set_rhost(struct apikey_verify_req *, const char *);
int	apikey_verify_req_set_tenant(struct apikey_verify_req *, const char *);
/* Permissions a request or a key may name, at most. */
#define APIKEY_MAX_PERMS	32
int	apikey_verify_req_add_permission(struct apikey_verify_req *,
	    const char *resource_action);
/* Credits this verify consumes from a key that has them (default 1). */
int	apikey_verify_req_set_cost(struct apikey_verify_req *, uint32_t cost);
/*
 * Makes the request a check only: every check runs but the usage limits,
 * and nothing is used (no rate-limit slot, no credit, no recorded use); a
 * result still says how many credits are left. For checking again a key
 * already used once, as pam_apikey's account phase does after its
 * authentication: one login costs one use.
 */
int	apikey_verify_req_set_check_only(struct apikey_verify_req *);

struct apikey_result;
/*
 * Asks the daemon about token. req may be NULL. On 0, *out holds the
 * daemon's answer, valid or not: look at apikey_result_code(). A token that
 * is not even shaped like a key (see apikey_token_check()) gives
 * APIKEY_MALFORMED without a round trip.
 * Caller frees *out with apikey_result_free().
 */
int	apikey_verify(struct apikey_client *, const char *token,
	    const struct apikey_verify_req *req, struct apikey_result **out);
void	apikey_result_free(struct apikey_result *);

/* --- pipelined verify --------------------------------------------------- */

/*
 * Many verifies in flight on one client from apikey_open(), in two shapes:
 * a batch call, and a send/receive pair for event loops. Answers are
 * matched to requests by id; a verify that consumes credits is answered
 * once its use is on disk, so answers may come back in another order than
 * the requests went out. A token not shaped like a key is answered
 * MALFORMED without a round trip, as by apikey_verify().
 *
 * The client's timeout bounds the wait for progress: when requests are in
 * flight and no answer has come for timeout_ms, the connection is dropped
 * and the call fails with APIKEY_EUNAVAIL. A daemon that stops answers
 * what it read and says goodbye; the rest is sent again on a new
 * connection, unseen by the caller. Any other failure of the connection
 * drops every request not yet received: send again what is still needed.
 * While pipelined verifies are in flight, apikey_verify() on the same
 * client gives APIKEY_EINVAL.
 */
#define APIKEY_PIPELINE_MAX	1024

/*
 * Verifies tokens[0..n): reqs is NULL, or n contexts each of which may be
 * NULL. On 0, every results[i] holds the answer to tokens[i] (valid or
 * not), each freed with apikey_result_free(). The requests go out in as
 * few writes as the socket takes, at most APIKEY_PIPELINE_MAX at a time.
 * On failure every results[i] is NULL; a request that the daemon failed
 * (APIKEY_EINTERNAL: a store failure) fails the batch.
 */
int	apikey_verify_batch(struct apikey_client *, size_t n,
	    const char *const tokens[],
	    const struct apikey_verify_req *const reqs[],
	    struct apikey_result *results[]);
/*
 * Queues a verify of token (req may be NULL) and writes what the socket
 * takes without waiting; *id (never 0) names its answer. APIKEY_ELIMIT
 * when APIKEY_PIPELINE_MAX requests are outstanding, counted from the
 * oldest not yet received. Connects when there is no connection. An
 * error other than APIKEY_ELIMIT and APIKEY_EINVAL means the connection
 * failed: every request not yet received is gone.
 */
int	apikey_verify_send(struct apikey_client *, const char *token,
	    const struct apikey_verify_req *req, uint32_t *id);
/*
 * Hands out one answer that has arrived: *id is its request's and *out
 * the answer (caller frees). Waits up to wait_ms for one (0: not at all;
 * -1: the client's timeout), writing what is still queued meanwhile.
 * APIKEY_EAGAIN: no answer yet, or nothing in flight. An error with *id
 * set is that request's alone (the daemon failed it); with *id 0 the
 * connection failed, and every request not yet received is gone.
 */
int	apikey_verify_recv(struct apikey_client *, int wait_ms, uint32_t *id,
	    struct apikey_result **out);
/* Requests sent or queued whose answers have not been received. */
size_t	apikey_verify_pending(const struct apikey_client *);
/*
 * For an event loop (poll, epoll, libevent, libuv): the socket to watch,
 * -1 when there is none, and what to watch it for (0 when nothing is in
 * flight). Both may change after any call on the client: it reconnects
 * when a daemon restarts. When the socket is ready, call
 * apikey_verify_recv(c, 0, ...) until APIKEY_EAGAIN. Do the same after
 * sending, before waiting: some answers need no round trip (a malformed
 * token), and one recv may bring several. The client's timeout is
 * noticed by recv: call it at least that often while requests are in
 * flight.
 */
#define APIKEY_WANT_READ	0x1
#define APIKEY_WANT_WRITE	0x2
int	apikey_fd(const struct apikey_client *);
int	apikey_events(const struct apikey_client *);

enum apikey_code apikey_result_code(const struct apikey_result *);
const char *apikey_result_reason(const struct apikey_result *);	/* "" */
const char *apikey_result_key_id(const struct apikey_result *);
const char *apikey_result_name(const struct apikey_result *);
/* Owned by res; see "owners" above. */
const struct apikey_owner *apikey_result_owner(const struct apikey_result *);
size_t	apikey_result_permission_count(const struct apikey_result *);
const char *apikey_result_permission(const struct apikey_result *, size_t);
size_t	apikey_result_allowed_user_count(const struct apikey_result *);
const char *apikey_result_allowed_user(const struct apikey_result *, size_t);
const char *apikey_result_metadata(const struct apikey_result *);	/* "" */
time_t	apikey_result_expires_at(const struct apikey_result *);	/* 0: never */
/* RATE_LIMITED: milliseconds until a retry can succeed; else 0. */
uint64_t apikey_result_retry_after_ms(const struct apikey_result *);
/* 1 when the key has usage credits; then remaining is what is left. */
int	apikey_result_has_credits(const struct apikey_result *);
uint64_t apikey_result_remaining(const struct apikey_result *);

/*
 * May the local user username use this verified key? A user key: only its
 * owner, by uid and by the user name recorded when the key was made (a
 * reused uid does not inherit keys). A tenant key: members of the tenant's
 * group by primary gid, by the group's member list or by getgrouplist(),
 * narrowed by the key's allowed-users list; never root or a member of the
 * daemon's admin_group unless the tenant allows privileged logins
 * (apikeyctl tenant allow-privileged). Runs NSS in the calling process.
 * Returns 0, APIKEY_EDENIED, APIKEY_ENOUSER, APIKEY_ENSS, or APIKEY_EINVAL
 * when the result is not APIKEY_VALID.
 */
int	apikey_authorize_user(const struct apikey_result *, const char *username);

/* --- management (admin socket) ------------------------------------------ */

struct apikey_status;
struct apikey_tenant;
struct apikey_key;
struct apikey_audit;
struct apikey_tenant_list;
struct apikey_key_list;
struct apikey_audit_list;

int	apikey_status(struct apikey_client *, struct apikey_status **out);
void	apikey_status_free(struct apikey_status *);
const char *apikey_status_version(const struct apikey_status *);
pid_t	apikey_status_pid(const struct apikey_status *);
time_t	apikey_status_started_at(const struct apikey_status *);
uint64_t apikey_status_keys(const struct apikey_status *);
uint64_t apikey_status_tenants(const struct apikey_status *);
uid_t	apikey_status_caller_uid(const struct apikey_status *);
int	apikey_status_caller_admin(const struct apikey_status *);
/* The key store's map: its size, the bytes in use, and the use above which
 * only deletes and administrators may write (map_reserve). */
uint64_t apikey_status_map_size(const struct apikey_status *);
uint64_t apikey_status_map_used(const struct apikey_status *);
uint64_t apikey_status_map_limit(const struct apikey_status *);
/* Audit log entries kept, and those dropped by retention since creation. */
uint64_t apikey_status_audit_entries(const struct apikey_status *);
uint64_t apikey_status_audit_pruned(const struct apikey_status *);
/* The paths of the daemon's verify and admin sockets. */
const char *apikey_status_verify_socket(const struct apikey_status *);
const char *apikey_status_admin_socket(const struct apikey_status *);
/* Bytes of the key store's data file on disk. */
uint64_t apikey_status_store_size(const struct apikey_status *);
/*
 * Verify replies the daemon sent since it started, by code (the code the
 * client got, after failure throttling), and their sum. They tell when
 * other people log in, so the daemon gives them to root and members of
 * its admin_group only: for anyone else apikey_status_has_counters() is 0
 * and every count is 0. Loop over the codes from APIKEY_VALID to
 * APIKEY_CODE_MAX; a code past it counts 0. A token the library refused
 * as APIKEY_MALFORMED never reached the daemon and is not counted.
 */
#define APIKEY_CODE_MAX	APIKEY_STALE
int	apikey_status_has_counters(const struct apikey_status *);
uint64_t apikey_status_verifies(const struct apikey_status *,
	    enum apikey_code);
uint64_t apikey_status_verifies_total(const struct apikey_status *);
/*
 * Fleet mode: 1 when the daemon follows a fleet database (fleet_url),
 * and then how far it has come. On a single host every other fleet
 * accessor gives 0 (or "", or APIKEY_FLEET_DIGEST_UNKNOWN).
 */
int	apikey_status_fleet(const struct apikey_status *);
/* 1 while the daemon's session following the database is up. */
int	apikey_status_fleet_connected(const struct apikey_status *);
/* The highest changelog sequence number applied on this host, and the
 * highest seen in the database: their difference is the lag. */
uint64_t apikey_status_fleet_last_seq(const struct apikey_status *);
uint64_t apikey_status_fleet_head_seq(const struct apikey_status *);
/* When this host last synced with the database; 0: never. */
time_t	apikey_status_fleet_synced_at(const struct apikey_status *);
/* Seconds without a sync after which strict-sync keys fail as
 * APIKEY_STALE; 0: never. */
uint64_t apikey_status_fleet_max_staleness(const struct apikey_status *);
/* The last comparison of this host's keys with the database's. */
enum apikey_fleet_digest {
	APIKEY_FLEET_DIGEST_UNKNOWN = 0,	/* not compared yet */
	APIKEY_FLEET_DIGEST_MATCH = 1,
	APIKEY_FLEET_DIGEST_MISMATCH = 2,
};
enum apikey_fleet_digest apikey_status_fleet_digest(
	    const struct apikey_status *);
/* The daemon's last failure with the database, "" for none, at most
 * APIKEY_FLEET_ERROR_MAX bytes; given to root and members of its
 * admin_group only ("" for anyone else). */
#define APIKEY_FLEET_ERROR_MAX	256
const char *apikey_status_fleet_error(const struct apikey_status *);

/* Tenants. admin_group may be NULL. */
int	apikey_tenant_add(struct apikey_client *, const char *name,
	    const char *group, const char *admin_group,
	    struct apikey_tenant **out);
int	apikey_tenant_list(struct apikey_client *,
	    struct apikey_tenant_list **out);
int	apikey_tenant_show(struct apikey_client *, const char *name,
	    struct apikey_tenant **out);
int	apikey_tenant_set_enabled(struct apikey_client *, const char *name,
	    int enabled, struct apikey_tenant **out);
/*
 * Whether the tenant's keys may log in root and members of the daemon's
 * admin group (by default they may not, even when those are members of the
 * tenant's group): apikey_authorize_user() refuses them otherwise.
 */
int	apikey_tenant_set_privileged(struct apikey_client *, const char *name,
	    int allowed, struct apikey_tenant **out);
/* Without force, a tenant that still owns keys is not removed. */
int	apikey_tenant_remove(struct apikey_client *, const char *name,
	    int force, unsigned *keys_revoked);

void	apikey_tenant_free(struct apikey_tenant *);
const char *apikey_tenant_name(const struct apikey_tenant *);
const char *apikey_tenant_group(const struct apikey_tenant *);
gid_t	apikey_tenant_gid(const struct apikey_tenant *);
const char *apikey_tenant_admin_group(const struct apikey_tenant *); /* "" */
gid_t	apikey_tenant_admin_gid(const struct apikey_tenant *);
int	apikey_tenant_enabled(const struct apikey_tenant *);
int	apikey_tenant_allow_privileged(const struct apikey_tenant *);
uid_t	apikey_tenant_created_by(const struct apikey_tenant *);
time_t	apikey_tenant_created_at(const struct apikey_tenant *);
unsigned apikey_tenant_key_count(const struct apikey_tenant *);

size_t	apikey_tenant_list_count(const struct apikey_tenant_list *);
/* Owned by the list. */
const struct apikey_tenant *apikey_tenant_list_get(
	    const struct apikey_tenant_list *, size_t i);
void	apikey_tenant_list_free(struct apikey_tenant_list *);

/*
 * Settings for key create and update; only what was set is sent, so an
 * update changes just those settings. Caller frees with
 * apikey_key_spec_free().
 */
struct apikey_key_spec;
struct apikey_key_spec *apikey_key_spec_new(void);
void	apikey_key_spec_free(struct apikey_key_spec *);
int	apikey_key_spec_set_name(struct apikey_key_spec *, const char *);
int	apikey_key_spec_set_prefix(struct apikey_key_spec *, const char *);
/* Seconds from now; 0 means never expires (and clears it in an update). */
int	apikey_key_spec_set_expires_in(struct apikey_key_spec *, uint64_t);
int	apikey_key_spec_add_service(struct apikey_key_spec *, const char *);
int	apikey_key_spec_add_permission(struct apikey_key_spec *, const char *);
int	apikey_key_spec_add_allowed_user(struct apikey_key_spec *,
	    const char *);
/* Mark a list as set even when empty, so an update clears it. */
int	apikey_key_spec_clear_services(struct apikey_key_spec *);
int	apikey_key_spec_clear_permissions(struct apikey_key_spec *);
int	apikey_key_spec_clear_allowed_users(struct apikey_key_spec *);
/* A JSON object of at most 4096 bytes; "" clears it in an update. */
int	apikey_key_spec_set_metadata(struct apikey_key_spec *, const char *);
/* At most max verifies per window_ms; max 0 removes the rate limit. */
int	apikey_key_spec_set_rate(struct apikey_key_spec *, uint32_t max,
	    uint32_t window_ms);
/* Usage credits: each accepted verify consumes its cost. */
int	apikey_key_spec_set_credits(struct apikey_key_spec *,
	    uint64_t remaining);
int	apikey_key_spec_clear_credits(struct apikey_key_spec *);
/* Set remaining back to amount every interval_s seconds; 0 removes it. */
int	apikey_key_spec_set_refill(struct apikey_key_spec *, uint64_t amount,
	    uint64_t interval_s);
/* Source ranges ("10.0.0.0/8", "2001:db8::/32", "192.0.2.7"). */
int	apikey_key_spec_add_cidr(struct apikey_key_spec *, const char *);
int	apikey_key_spec_clear_cidrs(struct apikey_key_spec *);
/*
 * Strict sync (on 1, off 0): in fleet mode, verifies of the key fail as
 * APIKEY_STALE while the host has not synced with the fleet database
 * within max_staleness. No effect on a single host.
 */
int	apikey_key_spec_set_strict_sync(struct apikey_key_spec *, int on);

/*
 * Creates a key owned by the caller (kind SELF, owner NULL), by the user
 * named owner, or by the tenant named owner. spec may be NULL. *token_out
 * receives the only copy of the full token: free it with apikey_token_free(),
 * which wipes it, and never with free().
 */
int	apikey_key_create(struct apikey_client *, enum apikey_owner_kind kind,
	    const char *owner, const struct apikey_key_spec *spec,
	    struct apikey_key **key_out, char **token_out);
/* Lists keys owned by the caller (SELF), a user, or a tenant. */
int	apikey_key_list(struct apikey_client *, enum apikey_owner_kind kind,
	    const char *owner, struct apikey_key_list **out);
int	apikey_key_show(struct apikey_client *, const char *id,
	    struct apikey_key **out);
int	apikey_key_set_enabled(struct apikey_client *, const char *id,
	    int enabled, struct apikey_key **out);
int	apikey_key_revoke(struct apikey_client *, const char *id);
int	apikey_key_update(struct apikey_client *, const char *id,
	    const struct apikey_key_spec *spec, struct apikey_key **out);
/* New secret, same id and settings; the old one stays valid for grace. */
int	apikey_key_rotate(struct apikey_client *, const char *id,
	    uint64_t grace_seconds, struct apikey_key **key_out,
	    char **token_out);
int	apikey_key_purge_expired(struct apikey_client *, unsigned *purged);
/*
 * Creates count keys (1 to APIKEY_CREATE_MANY_MAX) of one owner with one
 * spec, as count apikey_key_create() calls would, but in batches of one
 * transaction each: for seeding a store or migrating many keys. fn(arg,
 * key, token) is called for each key as it arrives; both are valid only
 * during the call, and the token is wiped after it. *made (may be NULL)
 * says how many keys fn saw. On an error after some keys were made, those
 * exist: fn has seen each of them.
 */
#define APIKEY_CREATE_MANY_MAX	1000000
typedef void (*apikey_key_fn)(void *arg, const struct apikey_key *key,
	    const char *token);
int	apikey_key_create_many(struct apikey_client *,
	    enum apikey_owner_kind kind, const char *owner,
	    const struct apikey_key_spec *spec, uint32_t count,
	    apikey_key_fn fn, void *arg, uint32_t *made);
void	apikey_token_free(char *token);

void	apikey_key_free(struct apikey_key *);
const char *apikey_key_id(const struct apikey_key *);
const char *apikey_key_prefix(const struct apikey_key *);
const char *apikey_key_name(const struct apikey_key *);
/* Owned by the key; see "owners" above. */
const struct apikey_owner *apikey_key_owner(const struct apikey_key *);
int	apikey_key_enabled(const struct apikey_key *);
uid_t	apikey_key_created_by(const struct apikey_key *);
time_t	apikey_key_created_at(const struct apikey_key *);
time_t	apikey_key_updated_at(const struct apikey_key *);
time_t	apikey_key_expires_at(const struct apikey_key *);	/* 0: never */
time_t	apikey_key_grace_until(const struct apikey_key *);	/* 0: none */
size_t	apikey_key_service_count(const struct apikey_key *);
const char *apikey_key_service(const struct apikey_key *, size_t i);
size_t	apikey_key_permission_count(const struct apikey_key *);
const char *apikey_key_permission(const struct apikey_key *, size_t i);
size_t	apikey_key_allowed_user_count(const struct apikey_key *);
const char *apikey_key_allowed_user(const struct apikey_key *, size_t i);
const char *apikey_key_metadata(const struct apikey_key *);	/* "" */
uint32_t apikey_key_rate_max(const struct apikey_key *);	/* 0: none */
uint32_t apikey_key_rate_window_ms(const struct apikey_key *);
int	apikey_key_has_credits(const struct apikey_key *);
uint64_t apikey_key_remaining(const struct apikey_key *);
uint64_t apikey_key_refill_amount(const struct apikey_key *);	/* 0: none */
uint64_t apikey_key_refill_interval(const struct apikey_key *);
time_t	apikey_key_last_refill_at(const struct apikey_key *);
size_t	apikey_key_cidr_count(const struct apikey_key *);
const char *apikey_key_cidr(const struct apikey_key *, size_t i);
time_t	apikey_key_last_used(const struct apikey_key *);	/* 0: never */
uint64_t apikey_key_use_count(const struct apikey_key *);
int	apikey_key_strict_sync(const struct apikey_key *);	/* 0 or 1 */

size_t	apikey_key_list_count(const struct apikey_key_list *);
const struct apikey_key *apikey_key_list_get(const struct apikey_key_list *,
	    size_t i);	/* owned by the list */
void	apikey_key_list_free(struct apikey_key_list *);

/* The newest limit entries of the audit log, oldest first (0: all). */
int	apikey_audit_list(struct apikey_client *, unsigned limit,
	    struct apikey_audit_list **out);
size_t	apikey_audit_list_count(const struct apikey_audit_list *);
const struct apikey_audit *apikey_audit_list_get(
	    const struct apikey_audit_list *, size_t i);	/* owned by list */
void	apikey_audit_list_free(struct apikey_audit_list *);
uint64_t apikey_audit_seq(const struct apikey_audit *);
time_t	apikey_audit_time(const struct apikey_audit *);
uid_t	apikey_audit_uid(const struct apikey_audit *);
pid_t	apikey_audit_pid(const struct apikey_audit *);
const char *apikey_audit_action(const struct apikey_audit *);
const char *apikey_audit_target(const struct apikey_audit *);
const char *apikey_audit_detail(const struct apikey_audit *);

/* --- superseded -------------------------------------------------------- */

/*
 * The owner accessors from before the owner view, kept so that programs
 * built against libapikey.so.1 go on working; new code uses the view.
 * Each reads the view: apikey_key_uid(k) is
 * apikey_owner_uid(apikey_key_owner(k)), and so on; _user and _tenant are
 * apikey_owner_name() for a key of that kind, and "" for the other kind.
 */
enum apikey_owner_kind apikey_result_owner_kind(const struct apikey_result *);
uid_t	apikey_result_uid(const struct apikey_result *);
const char *apikey_result_user(const struct apikey_result *);
const char *apikey_result_tenant(const struct apikey_result *);
const char *apikey_result_group(const struct apikey_result *);
gid_t	apikey_result_gid(const struct apikey_result *);
enum apikey_owner_kind apikey_key_owner_kind(const struct apikey_key *);
uid_t	apikey_key_uid(const struct apikey_key *);
const char *apikey_key_user(const struct apikey_key *);
const char *apikey_key_tenant(const struct apikey_key *);
const char *apikey_key_group(const struct apikey_key *);
gid_t	apikey_key_gid(const struct apikey_key *);

#ifdef __cplusplus
}
#endif

#endif
