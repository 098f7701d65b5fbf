/*
 * store_record.h - the key store's on-disk record formats: encoders and
 * decoders for key, tenant, audit, usage and meta records and the audit
 * sequence key. Used only by store.c, which moves the bytes in and out of LMDB; the
 * formats themselves are described in store_record.c.
 */
#ifndef APIKEY_STORE_RECORD_H
#define APIKEY_STORE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/token.h"
#include "store.h"

/* Encoded sizes of typed fields, for the record buffers below. */
#define F_U8		2
#define F_U32		5
#define F_U64		9
#define F_STR(max)	(5 + (max))
#define F_LIST(n, max)	(5 + (n) * F_STR(max))

#define KEY_REC_MAX	(F_U8 + 2 * STORE_HASH_LEN + F_STR(TOKEN_ID_LEN) + \
	F_STR(TOKEN_PREFIX_MAX) + F_STR(PROTO_NAME_MAX) + F_U8 + F_U32 + \
	F_STR(PROTO_ACCOUNT_MAX) + F_STR(PROTO_TENANT_MAX) + \
	F_STR(PROTO_ACCOUNT_MAX) + F_U32 + F_U8 + F_U32 + 4 * F_U64 + \
	F_LIST(PROTO_MAX_SERVICES, PROTO_SERVICE_MAX) + \
	F_LIST(PROTO_MAX_PERMS, PROTO_PERM_MAX) + \
	F_LIST(PROTO_MAX_USERS, PROTO_ACCOUNT_MAX) + \
	F_STR(PROTO_METADATA_MAX) + \
	2 * F_U32 + F_U8 + 3 * F_U64 + \
	F_LIST(PROTO_MAX_CIDRS, PROTO_CIDR_MAX) + F_U8)
#define TENANT_REC_MAX	(F_U8 + F_STR(PROTO_TENANT_MAX) + \
	F_STR(PROTO_ACCOUNT_MAX) + F_U32 + F_STR(PROTO_ACCOUNT_MAX) + F_U32 + \
	F_U8 + F_U32 + F_U64 + F_U8)
#define AUDIT_REC_MAX	(F_U8 + F_U64 + 2 * F_U32 + \
	F_STR(PROTO_ACTION_MAX) + F_STR(PROTO_TARGET_MAX) + \
	F_STR(PROTO_DETAIL_MAX))
#define USAGE_REC_MAX	(F_U8 + 4 * F_U64 + F_U32)
#define SCHEMA_REC_MAX	F_U32
#define COUNTER_REC_MAX	F_U64
#define SEQ_KEY_LEN	8	/* u64 audit sequence number, big-endian */

/*
 * Encoders write the record into buf (size bytes) and set *len. A record
 * that would not decode again (a string without its NUL, a list over its
 * maximum, a bad owner) or does not fit is STORE_ECORRUPT.
 */
int	rec_enc_key(const struct store_key *, uint8_t *buf, size_t size,
	    size_t *len);
int	rec_enc_tenant(const struct proto_tenant *, uint8_t *buf, size_t size,
	    size_t *len);
int	rec_enc_audit(const struct proto_audit *, uint8_t *buf, size_t size,
	    size_t *len);
int	rec_enc_usage(const struct store_usage *, uint8_t *buf, size_t size,
	    size_t *len);
int	rec_enc_schema(uint32_t schema, uint8_t *buf, size_t size,
	    size_t *len);
void	rec_enc_seq(uint64_t seq, uint8_t out[SEQ_KEY_LEN]);
/* A meta counter (audit entries pruned): a bare typed u64, like schema. */
int	rec_enc_counter(uint64_t n, uint8_t *buf, size_t size, size_t *len);

/*
 * Decoders: any failure is STORE_ECORRUPT. The record decoders zero *out
 * first, but for rec_dec_key, which writes every field a reader sees (each
 * string up to its NUL, each list up to its n) and leaves the rest of its
 * 15 KB alone; on failure its *out is unspecified. The schema and sequence
 * decoders write *out only on success. rec_dec_key reads every key record
 * version; out->info.usage is zero.
 */
int	rec_dec_key(const void *, size_t, struct store_key *out);
int	rec_dec_tenant(const void *, size_t, struct proto_tenant *out);
/* An audit entry: its sequence number key and its record value. */
int	rec_dec_audit(const void *key, size_t keylen, const void *, size_t,
	    struct proto_audit *out);
int	rec_dec_usage(const void *, size_t, struct store_usage *out);
int	rec_dec_schema(const void *, size_t, uint32_t *out);
int	rec_dec_seq(const void *, size_t, uint64_t *out);
int	rec_dec_counter(const void *, size_t, uint64_t *out);

#endif
