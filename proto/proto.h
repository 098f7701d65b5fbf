/*
 * proto.h - the apikeyd wire protocol. This comment is its specification.
 *
 * Transport. Unix stream sockets in the socket directory:
 *   verify.sock  accepts PING and VERIFY
 *   admin.sock   accepts PING, STATUS and every management opcode
 * The daemon authorizes by SO_PEERCRED; nothing in a frame claims identity.
 * A client may pipeline requests; replies may come back out of order and are
 * matched by request id.
 *
 * Frame. All integers are big-endian.
 *   u32 length   number of bytes after this field (PROTO_HDR_LEN - 4 + body)
 *   u8  version  PROTO_VERSION
 *   u8  opcode   request opcode; a reply carries opcode | PROTO_REPLY
 *   u16 flags    replies: PROTO_F_MORE when more frames for this id follow
 *                (listings send one item per frame); requests: 0
 *   u32 id       chosen by the client, echoed in every reply frame
 *   body         typed fields, in the fixed order given below per message
 * Whole frames are bounded: requests on verify.sock by PROTO_VERIFY_REQ_MAX,
 * replies there by PROTO_VERIFY_REPLY_MAX, both directions on admin.sock by
 * PROTO_ADMIN_MAX. A longer length field is a framing error.
 *
 * Typed fields (see buf.h): a one-byte tag then the value.
 *   0x01 u8 | 0x02 u32 | 0x03 u64 |
 *   0x04 str: u32 n, n bytes, no NUL, each field has its own maximum |
 *   0x05 list: u32 count, then count str fields
 * Times are u64 seconds since the Unix epoch; 0 means "none"/"never".
 * A decoder reads exactly the fields of its message and rejects trailing
 * bytes, a wrong tag, an over-long string and a bad enum value.
 *
 * Reply body. Every reply starts with
 *   u32 status (enum proto_status), str message (empty when OK)
 * and, only when status is PROTO_OK, the fields of that reply.
 * A frame that cannot be decoded gets PROTO_EBADREQ (when its header could be
 * read) and the connection is closed; an unknown or misplaced opcode gets
 * PROTO_EUNSUPPORTED and the connection stays open.
 *
 * Messages (request fields -> reply fields):
 *   PING               -> u32 version, str daemon version
 *   STATUS             -> proto_status_info (verifies[]: PROTO_CODE_MAX + 1
 *                      u64 fields, in code order, then the fleet fields)
 *   VERIFY             proto_verify_req -> proto_verify_reply
 *   TENANT_ADD         str name, str group, str admin_group -> proto_tenant
 *   TENANT_LIST        -> one proto_tenant per MORE frame, then empty OK
 *   TENANT_SHOW        str name -> proto_tenant
 *   TENANT_SET_ENABLED str name, u8 enabled -> proto_tenant
 *   TENANT_REMOVE      str name, u8 force -> u32 keys revoked
 *   TENANT_SET_PRIVILEGED str name, u8 allowed -> proto_tenant
 *   KEY_CREATE         proto_key_create_req -> proto_key, str token
 *   KEY_LIST           proto_owner_sel -> one proto_key per MORE frame,
 *                      then empty OK
 *   KEY_SHOW           str id -> proto_key
 *   KEY_SET_ENABLED    str id, u8 enabled -> proto_key
 *   KEY_REVOKE         str id -> (nothing)
 *   KEY_UPDATE         str id, proto_key_spec -> proto_key
 *   KEY_ROTATE         str id, u64 grace seconds -> proto_key, str token
 *   KEY_PURGE_EXPIRED  -> u32 keys purged
 *   KEY_CREATE_MANY    proto_key_create_req, u32 count -> one proto_key,
 *                      str token per MORE frame, then empty OK (or an
 *                      error frame, when it stops short of count)
 *   AUDIT_LIST         u32 limit (0 = all) -> one proto_audit per MORE
 *                      frame, then empty OK
 * Composite field orders are those of the encoders (proto.c, proto_admin.c,
 * and proto_field.c for the parts several messages share), which list each
 * struct member in declaration order.
 *
 * Every body above has one codec pair, proto_enc_X and proto_dec_X,
 * declared below with the messages it serves; a request without fields,
 * "(nothing)" and the frame that ends a listing are the empty body
 * (proto_enc_empty, proto_dec_empty). Outside proto/, nothing reads or
 * writes the fields of a body itself.
 */
#ifndef APIKEY_PROTO_H
#define APIKEY_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "token.h"

/* 2 since issue 7: verify, status and tenant replies grew fields; 3 since
 * issue 8: status grew sockets, store size and verify counters, and a
 * stopping daemon says goodbye (ESHUTDOWN); 4: the verify request grew
 * check_only; 5 since issue 12 (fleet mode): keys and key settings grew
 * strict_sync, status the fleet fields, verify the code STALE and replies
 * the statuses EUNAVAIL and ECONFLICT. A peer of another version is
 * refused as a whole, never half understood. */
#define PROTO_VERSION		5
#define PROTO_HDR_LEN		12
#define PROTO_VERIFY_REQ_MAX	(8 * 1024)
#define PROTO_VERIFY_REPLY_MAX	(16 * 1024)
#define PROTO_ADMIN_MAX		(64 * 1024)

#define PROTO_REPLY		0x80
#define PROTO_F_MORE		0x0001

/* Field limits, in bytes without the NUL. */
#define PROTO_NAME_MAX		128	/* key name */
#define PROTO_TENANT_MAX	32	/* tenant name: [a-z0-9][a-z0-9._-]* */
#define PROTO_ACCOUNT_MAX	128	/* user and group names */
#define PROTO_SERVICE_MAX	64
#define PROTO_RHOST_MAX		255
#define PROTO_PERM_MAX		128	/* "resource:action" */
#define PROTO_METADATA_MAX	4096	/* JSON object */
#define PROTO_MESSAGE_MAX	512	/* error message in a reply */
#define PROTO_REASON_MAX	128	/* why a verify was refused */
#define PROTO_VERSTR_MAX	32
#define PROTO_ACTION_MAX	32
#define PROTO_TARGET_MAX	64
#define PROTO_DETAIL_MAX	256
#define PROTO_MAX_PERMS		32
#define PROTO_MAX_SERVICES	16
#define PROTO_MAX_USERS		32
#define PROTO_CIDR_MAX		49	/* "ffff::ffff:255.255.255.255/128" */
#define PROTO_MAX_CIDRS		16
#define PROTO_SOCKET_PATH_MAX	107	/* sizeof(sockaddr_un.sun_path) - 1 */
/*
 * A tenant name or key id naming what a request is about may be longer on
 * the wire than any valid one, up to these, so that the daemon can refuse
 * a wrong one quoting it (EINVAL) instead of as an undecodable request.
 * The id's bound stays below the shortest token (63 characters): a whole
 * key typed where its id belongs is never decoded, quoted back or logged.
 */
#define PROTO_TENANT_ARG_MAX	PROTO_ACCOUNT_MAX
#define PROTO_ID_ARG_MAX	32

enum proto_op {
	PROTO_OP_PING = 0x01,
	PROTO_OP_STATUS = 0x02,
	PROTO_OP_VERIFY = 0x10,
	PROTO_OP_TENANT_ADD = 0x20,
	PROTO_OP_TENANT_LIST = 0x21,
	PROTO_OP_TENANT_SHOW = 0x22,
	PROTO_OP_TENANT_SET_ENABLED = 0x23,
	PROTO_OP_TENANT_REMOVE = 0x24,
	PROTO_OP_TENANT_SET_PRIVILEGED = 0x25,
	PROTO_OP_KEY_CREATE = 0x30,
	PROTO_OP_KEY_LIST = 0x31,
	PROTO_OP_KEY_SHOW = 0x32,
	PROTO_OP_KEY_SET_ENABLED = 0x33,
	PROTO_OP_KEY_REVOKE = 0x34,
	PROTO_OP_KEY_UPDATE = 0x35,
	PROTO_OP_KEY_ROTATE = 0x36,
	PROTO_OP_KEY_PURGE_EXPIRED = 0x37,
	PROTO_OP_KEY_CREATE_MANY = 0x38,
	PROTO_OP_AUDIT_LIST = 0x40,
};

/* Status of a reply frame (transport and management outcome). */
enum proto_status {
	PROTO_OK = 0,
	PROTO_EBADREQ = 1,	/* undecodable request */
	PROTO_EUNSUPPORTED = 2,	/* unknown opcode, or wrong socket */
	PROTO_EPERM = 3,	/* permission denied; message names the rule */
	PROTO_ENOTFOUND = 4,	/* no such key, tenant, user or group */
	PROTO_EEXIST = 5,	/* already exists */
	PROTO_EINVAL = 6,	/* invalid argument; message says which */
	PROTO_ELIMIT = 7,	/* a size or count limit was hit */
	PROTO_EINTERNAL = 8,	/* store or daemon failure; see its log */
	PROTO_EBUSY = 9,	/* connection limit reached */
	/*
	 * Only in a frame with request id 0: the daemon is stopping (or
	 * restarting) and closes this connection. It answered every request
	 * it read before this frame and reads none after it, so a request
	 * without a reply was never acted on and may be sent again on a new
	 * connection.
	 */
	PROTO_ESHUTDOWN = 10,
	/*
	 * Fleet mode (many hosts sharing one key set through a database):
	 * a change that must go through the fleet database could not. Both
	 * are ordinary error replies to the request that asked; nothing was
	 * changed.
	 */
	PROTO_EUNAVAIL = 11,	/* the fleet database is unreachable (verifies
				 * go on) */
	PROTO_ECONFLICT = 12,	/* changed meanwhile through another host: try
				 * again */
	PROTO_STATUS_MAX = PROTO_ECONFLICT
};

/* Outcome of a verify, in check order. */
enum proto_code {
	PROTO_VALID = 0,
	PROTO_MALFORMED = 1,
	PROTO_NOT_FOUND = 2,
	PROTO_DISABLED = 3,
	PROTO_TENANT_DISABLED = 4,
	PROTO_EXPIRED = 5,
	PROTO_FORBIDDEN = 6,
	PROTO_INSUFFICIENT_PERMISSIONS = 7,
	PROTO_RATE_LIMITED = 8,		/* retry_after_ms says when to retry */
	PROTO_USAGE_EXCEEDED = 9,	/* no credits left */
	/*
	 * The key asks for strict sync and this host has not synced with
	 * the fleet database within max_staleness: it fails closed.
	 */
	PROTO_STALE = 10,
	PROTO_CODE_MAX = PROTO_STALE
};

enum proto_owner_kind {
	PROTO_OWNER_NONE = 0,	/* in a request: "the caller" */
	PROTO_OWNER_USER = 1,
	PROTO_OWNER_TENANT = 2,
};

/* Bits of proto_key_spec.set: which settings a create/update carries. */
#define PROTO_SET_NAME		0x0001
#define PROTO_SET_PREFIX	0x0002	/* create only */
#define PROTO_SET_EXPIRES	0x0004	/* expires_in 0 clears the expiry */
#define PROTO_SET_SERVICES	0x0008
#define PROTO_SET_PERMISSIONS	0x0010
#define PROTO_SET_USERS		0x0020
#define PROTO_SET_METADATA	0x0040	/* empty string clears */
#define PROTO_SET_RATE		0x0080	/* rate_max 0 removes the limit */
#define PROTO_SET_CREDITS	0x0100	/* has_credits 0 removes them */
#define PROTO_SET_REFILL	0x0200	/* refill_amount 0 removes it */
#define PROTO_SET_CIDRS		0x0400
#define PROTO_SET_STRICT_SYNC	0x0800
#define PROTO_SET_ALL		0x0fff

struct proto_hdr {
	uint8_t		version;
	uint8_t		opcode;
	uint16_t	flags;
	uint32_t	id;
};

struct proto_perm_list {
	uint32_t	n;
	char		v[PROTO_MAX_PERMS][PROTO_PERM_MAX + 1];
};

struct proto_service_list {
	uint32_t	n;
	char		v[PROTO_MAX_SERVICES][PROTO_SERVICE_MAX + 1];
};

struct proto_user_list {
	uint32_t	n;
	char		v[PROTO_MAX_USERS][PROTO_ACCOUNT_MAX + 1];
};

struct proto_cidr_list {
	uint32_t	n;
	char		v[PROTO_MAX_CIDRS][PROTO_CIDR_MAX + 1];
};

/*
 * Usage limits of a key. rate_max verifies per rate_window_ms (0: no rate
 * limit). With has_credits, each accepted verify consumes its cost from
 * remaining; with refill_amount, remaining is set back to refill_amount
 * once refill_interval seconds have passed since the last refill. cidrs,
 * when not empty, lists the source ranges a verify's rhost must be in.
 */
struct proto_limits {
	uint32_t	rate_max;
	uint32_t	rate_window_ms;
	uint8_t		has_credits;
	uint64_t	remaining;
	uint64_t	refill_amount;
	uint64_t	refill_interval;
	struct proto_cidr_list cidrs;
};

/* What the daemon has counted: credits left and use, for display. */
struct proto_usage {
	uint64_t	remaining;
	uint64_t	last_refill_at;
	uint64_t	last_used;	/* 0: never */
	uint64_t	use_count;
};

/*
 * Who owns a key. User keys fill uid and user (the name at creation time);
 * tenant keys fill tenant, group and gid (group and gid from the tenant).
 */
struct proto_owner {
	uint8_t		kind;
	uint32_t	uid;
	char		user[PROTO_ACCOUNT_MAX + 1];
	char		tenant[PROTO_TENANT_MAX + 1];
	char		group[PROTO_ACCOUNT_MAX + 1];
	uint32_t	gid;
};

/* Owner selector for KEY_LIST: kind NONE means the caller's own keys. */
struct proto_owner_sel {
	uint8_t		kind;
	char		user[PROTO_ACCOUNT_MAX + 1];
	char		tenant[PROTO_TENANT_MAX + 1];
};

/* A key as management replies show it. Never holds a hash or a secret. */
struct proto_key {
	char		id[TOKEN_ID_LEN + 1];
	char		prefix[TOKEN_PREFIX_MAX + 1];
	char		name[PROTO_NAME_MAX + 1];
	struct proto_owner owner;
	uint8_t		enabled;
	uint32_t	created_by;
	uint64_t	created_at;
	uint64_t	updated_at;
	uint64_t	expires_at;
	uint64_t	grace_until;	/* previous secret valid until */
	struct proto_service_list services;
	struct proto_perm_list permissions;
	struct proto_user_list allowed_users;
	char		metadata[PROTO_METADATA_MAX + 1];
	struct proto_limits limits;	/* limits.remaining: as configured */
	struct proto_usage usage;
	/*
	 * 1: verifies fail with STALE when this host has not synced with the
	 * fleet database within max_staleness (fleet mode only; no effect on
	 * a single host).
	 */
	uint8_t		strict_sync;
};

/* Settings for create and update; set says which are present. */
struct proto_key_spec {
	uint32_t	set;
	char		name[PROTO_NAME_MAX + 1];
	char		prefix[TOKEN_PREFIX_MAX + 1];
	uint64_t	expires_in;	/* seconds from now; 0 = never */
	struct proto_service_list services;
	struct proto_perm_list permissions;
	struct proto_user_list allowed_users;
	char		metadata[PROTO_METADATA_MAX + 1];
	struct proto_limits limits;
	uint8_t		strict_sync;	/* 0 or 1 */
};

struct proto_key_create_req {
	struct proto_owner_sel owner;
	struct proto_key_spec spec;
};

/* Most keys one KEY_CREATE_MANY may ask for. */
#define PROTO_CREATE_MANY_MAX	1000000

struct proto_key_create_many_req {
	struct proto_key_create_req create;
	uint32_t	count;			/* checked by the daemon */
};

struct proto_key_update_req {
	char		id[PROTO_ID_ARG_MAX + 1];	/* checked by the daemon */
	struct proto_key_spec spec;
};

/* TENANT_ADD's request; the daemon checks the name's syntax. */
struct proto_tenant_add_req {
	char		name[PROTO_TENANT_ARG_MAX + 1];
	char		group[PROTO_ACCOUNT_MAX + 1];
	char		admin_group[PROTO_ACCOUNT_MAX + 1];	/* "" for none */
};

struct proto_tenant {
	char		name[PROTO_TENANT_MAX + 1];
	char		group[PROTO_ACCOUNT_MAX + 1];
	uint32_t	gid;
	char		admin_group[PROTO_ACCOUNT_MAX + 1];	/* may be "" */
	uint32_t	admin_gid;
	uint8_t		enabled;
	uint32_t	created_by;
	uint64_t	created_at;
	uint32_t	keys;		/* number of keys it owns */
	uint8_t		allow_privileged; /* its keys may log in root and admins */
};

/* The request carries the token: wipe the struct after use. */
struct proto_verify_req {
	char		token[TOKEN_MAX + 1];
	char		service[PROTO_SERVICE_MAX + 1];
	char		user[PROTO_ACCOUNT_MAX + 1];
	char		rhost[PROTO_RHOST_MAX + 1];
	char		tenant[PROTO_TENANT_MAX + 1];
	struct proto_perm_list required;
	uint32_t	cost;		/* credits to consume; 0 means 1 */
	/*
	 * 1: check the key without using it. Every check but the usage
	 * limits runs; no rate slot or credit is taken, no use is
	 * recorded. For a re-check of a key already used once, such as
	 * PAM's account phase after its authentication.
	 */
	uint8_t		check_only;
};

/*
 * Key fields are filled once the secret matched (so for every code but
 * MALFORMED and NOT_FOUND); reason says why a key was refused.
 */
struct proto_verify_reply {
	uint32_t	code;
	char		reason[PROTO_REASON_MAX + 1];
	char		key_id[TOKEN_ID_LEN + 1];
	char		name[PROTO_NAME_MAX + 1];
	struct proto_owner owner;
	struct proto_perm_list permissions;
	struct proto_user_list allowed_users;	/* tenant keys; empty: all */
	char		metadata[PROTO_METADATA_MAX + 1];
	uint64_t	expires_at;
	uint64_t	retry_after_ms;	/* RATE_LIMITED */
	uint8_t		has_credits;
	uint64_t	remaining;	/* credits left after this verify */
	/*
	 * For the caller's authorization check (apikey_authorize_user): a
	 * tenant key serves root and members of the daemon's admin group only
	 * when its tenant allows it.
	 */
	uint8_t		allow_privileged;
	uint8_t		has_admin_gid;	/* admin_group is configured and known */
	uint32_t	admin_gid;
};

/* The last comparison of this host's keys with the fleet database's. */
enum proto_fleet_digest {
	PROTO_DIGEST_UNKNOWN = 0,	/* not compared yet */
	PROTO_DIGEST_MATCH = 1,
	PROTO_DIGEST_MISMATCH = 2,
	PROTO_DIGEST_MAX = PROTO_DIGEST_MISMATCH
};

struct proto_status_info {
	char		version[PROTO_VERSTR_MAX + 1];
	uint32_t	pid;
	uint64_t	started_at;
	uint64_t	keys;
	uint64_t	tenants;
	uint32_t	caller_uid;
	uint8_t		caller_admin;
	uint64_t	map_size;	/* bytes the store may grow to */
	uint64_t	map_used;	/* bytes in use (pages not on the free list) */
	uint64_t	map_limit;	/* above this only deletes and admins write */
	uint64_t	audit_entries;
	uint64_t	audit_pruned;	/* entries dropped by retention so far */
	char		verify_socket[PROTO_SOCKET_PATH_MAX + 1];
	char		admin_socket[PROTO_SOCKET_PATH_MAX + 1];
	uint64_t	store_size;	/* bytes of the data file on disk */
	/*
	 * The verify counters tell who logs in when, so they go to root and
	 * admin_group only: for anyone else has_counters is 0 and verifies
	 * is all zeros. verifies[code]: verify replies with that final code
	 * (after throttling) since the daemon started.
	 */
	uint8_t		has_counters;
	uint64_t	verifies[PROTO_CODE_MAX + 1];
	/*
	 * Fleet mode: all zero (and fleet_error "") on a single host.
	 * fleet_error may name the database's host, so it goes to root and
	 * admin_group only, like the counters.
	 */
	uint8_t		fleet;			/* 1 when fleet_url is set */
	uint8_t		fleet_connected;	/* the follow session is up */
	uint64_t	fleet_last_seq;		/* highest changelog seq applied
						 * here */
	uint64_t	fleet_head_seq;		/* highest seq seen in the
						 * database */
	uint64_t	fleet_synced_at;	/* last successful sync; 0: never */
	uint64_t	fleet_max_staleness;	/* seconds; 0: off */
	uint8_t		fleet_digest;		/* enum proto_fleet_digest */
	char		fleet_error[PROTO_DETAIL_MAX + 1]; /* last failure, "" */
};

struct proto_audit {
	uint64_t	seq;
	uint64_t	time;
	uint32_t	uid;
	uint32_t	pid;
	char		action[PROTO_ACTION_MAX + 1];	/* e.g. "key.create" */
	char		target[PROTO_TARGET_MAX + 1];	/* key id or tenant */
	char		detail[PROTO_DETAIL_MAX + 1];
};

/*
 * Framing. proto_frame_peek looks at avail buffered bytes: returns 0 and sets
 * *framelen to the whole frame size once one is complete, 1 if more bytes are
 * needed, or a negative PROTO_E* code if the length is over max or under the
 * header size. proto_frame_open checks the version and hands back the header
 * and a reader over the body.
 */
#define PROTO_EFRAME	(-100)	/* bad length field */
#define PROTO_EVERSION	(-101)	/* unknown version */

int	proto_frame_peek(const uint8_t *p, size_t avail, size_t max,
	    size_t *framelen);
int	proto_frame_open(const uint8_t *frame, size_t len, struct proto_hdr *,
	    struct reader *body);
/*
 * The header of the frame starting at p, whatever its length and version
 * say, for answering a frame that peek or open refused; 0, or PROTO_EFRAME
 * when fewer than PROTO_HDR_LEN bytes are there.
 */
int	proto_frame_hdr(const uint8_t *p, size_t avail, struct proto_hdr *);
/* Starts a frame in w (header with a placeholder length). */
void	proto_frame_begin(struct writer *w, uint8_t opcode, uint16_t flags,
	    uint32_t id);
/* Sets w up over buf (size bytes, owned by the caller) and starts a frame
 * there, as proto_frame_begin. */
void	proto_frame_init(struct writer *w, void *buf, size_t size,
	    uint8_t opcode, uint16_t flags, uint32_t id);
/* Patches the length; returns 0, or a BUF_E* code if w overflowed. */
int	proto_frame_end(struct writer *w);

/* Reply head: status and message, first in every reply body. */
void	proto_enc_reply_head(struct writer *, uint32_t status,
	    const char *message);
int	proto_dec_reply_head(struct reader *, uint32_t *status,
	    char message[PROTO_MESSAGE_MAX + 1]);

/*
 * Message codecs, one pair per body of the table at the top. Encoders
 * append to w and fail it (check proto_frame_end) rather than write a
 * string or list over its maximum; decoders read the whole body, end with
 * the trailing-bytes check, and return 0 or a negative BUF_E* / PROTO_E*
 * code. On failure a decoder's struct is unspecified, while plain
 * out-parameters (names, ids, switches, counts) are written only on
 * success. Switches (u8 enabled, allowed, force) are 0 or 1 on the wire;
 * anything else is PROTO_EVALUE.
 */
#define PROTO_EVALUE	(-102)	/* enum or flag out of range */

/* Requests of PING, STATUS, TENANT_LIST and KEY_PURGE_EXPIRED; the reply
 * of KEY_REVOKE; the last frame of a listing. */
void	proto_enc_empty(struct writer *);
int	proto_dec_empty(struct reader *);

/* PING reply. */
void	proto_enc_ping_reply(struct writer *, uint32_t version,
	    const char *verstr);
int	proto_dec_ping_reply(struct reader *, uint32_t *version,
	    char verstr[PROTO_VERSTR_MAX + 1]);

/* STATUS reply. */
void	proto_enc_status_info(struct writer *, const struct proto_status_info *);
int	proto_dec_status_info(struct reader *, struct proto_status_info *);

/*
 * VERIFY request and reply. proto_enc_verify_req_token encodes token with
 * the other fields of fields (whose token is not read; NULL: all empty),
 * so that a client need not copy its request to put a token in. A decode
 * writes every field (strings up to their NUL, lists up to their n) and
 * only those: the bytes after are left as they were.
 */
void	proto_enc_verify_req(struct writer *, const struct proto_verify_req *);
void	proto_enc_verify_req_token(struct writer *, const char *token,
	    const struct proto_verify_req *fields);
int	proto_dec_verify_req(struct reader *, struct proto_verify_req *);
void	proto_enc_verify_reply(struct writer *,
	    const struct proto_verify_reply *);
int	proto_dec_verify_reply(struct reader *, struct proto_verify_reply *);

/* TENANT_ADD request. */
void	proto_enc_tenant_add_req(struct writer *,
	    const struct proto_tenant_add_req *);
int	proto_dec_tenant_add_req(struct reader *,
	    struct proto_tenant_add_req *);
/* TENANT_SHOW request. */
void	proto_enc_tenant_name(struct writer *, const char *name);
int	proto_dec_tenant_name(struct reader *,
	    char name[PROTO_TENANT_ARG_MAX + 1]);
/* TENANT_SET_ENABLED (enabled), TENANT_SET_PRIVILEGED (allowed) and
 * TENANT_REMOVE (force) requests: a name and a switch. */
void	proto_enc_tenant_switch(struct writer *, const char *name, uint8_t on);
int	proto_dec_tenant_switch(struct reader *,
	    char name[PROTO_TENANT_ARG_MAX + 1], uint8_t *on);
/* Reply of every tenant request but TENANT_REMOVE; TENANT_LIST's items. */
void	proto_enc_tenant(struct writer *, const struct proto_tenant *);
int	proto_dec_tenant(struct reader *, struct proto_tenant *);

/* KEY_CREATE and KEY_UPDATE requests. */
void	proto_enc_key_create_req(struct writer *,
	    const struct proto_key_create_req *);
int	proto_dec_key_create_req(struct reader *, struct proto_key_create_req *);
/* KEY_CREATE_MANY request; its items are proto_key_token's. */
void	proto_enc_key_create_many_req(struct writer *,
	    const struct proto_key_create_many_req *);
int	proto_dec_key_create_many_req(struct reader *,
	    struct proto_key_create_many_req *);
void	proto_enc_key_update_req(struct writer *,
	    const struct proto_key_update_req *);
int	proto_dec_key_update_req(struct reader *, struct proto_key_update_req *);
/* KEY_LIST request. */
void	proto_enc_owner_sel(struct writer *, const struct proto_owner_sel *);
int	proto_dec_owner_sel(struct reader *, struct proto_owner_sel *);
/* KEY_SHOW and KEY_REVOKE requests. */
void	proto_enc_key_id(struct writer *, const char *id);
int	proto_dec_key_id(struct reader *, char id[PROTO_ID_ARG_MAX + 1]);
/* KEY_SET_ENABLED request. */
void	proto_enc_key_switch(struct writer *, const char *id, uint8_t enabled);
int	proto_dec_key_switch(struct reader *, char id[PROTO_ID_ARG_MAX + 1],
	    uint8_t *enabled);
/* KEY_ROTATE request: grace in seconds. */
void	proto_enc_key_rotate_req(struct writer *, const char *id,
	    uint64_t grace);
int	proto_dec_key_rotate_req(struct reader *, char id[PROTO_ID_ARG_MAX + 1],
	    uint64_t *grace);
/* Reply of KEY_SHOW, KEY_SET_ENABLED and KEY_UPDATE; KEY_LIST's items. */
void	proto_enc_key(struct writer *, const struct proto_key *);
int	proto_dec_key(struct reader *, struct proto_key *);
/* KEY_CREATE and KEY_ROTATE replies: the key, then the token (wiped on
 * failure). */
void	proto_enc_key_token(struct writer *, const struct proto_key *,
	    const char *token);
int	proto_dec_key_token(struct reader *, struct proto_key *,
	    char token[TOKEN_MAX + 1]);

/* TENANT_REMOVE (keys revoked) and KEY_PURGE_EXPIRED (keys purged)
 * replies. */
void	proto_enc_count(struct writer *, uint32_t n);
int	proto_dec_count(struct reader *, uint32_t *n);

/* AUDIT_LIST request (limit 0: all) and its items. */
void	proto_enc_audit_list_req(struct writer *, uint32_t limit);
int	proto_dec_audit_list_req(struct reader *, uint32_t *limit);
void	proto_enc_audit(struct writer *, const struct proto_audit *);
int	proto_dec_audit(struct reader *, struct proto_audit *);

/* Names for logs and the CLI; never NULL. */
const char *proto_code_name(uint32_t code);	/* "VALID", "NOT_FOUND" ... */
const char *proto_status_name(uint32_t status);	/* "OK", "EPERM" ... */
const char *proto_op_name(uint8_t opcode);	/* "VERIFY" ... */
const char *proto_strerror(int err);		/* PROTO_E* and BUF_E* */

#endif
