/*
 * proto_int.h - shared by proto.c and proto_admin.c, and seen by nothing
 * outside proto/: the composite fields of proto_field.c that several
 * messages contain (an owner, a key's settings, the string lists), and the
 * checked string and enum readers every decoder uses. Callers use the
 * message codecs of proto.h instead.
 *
 * Each pf_put_* appends to a writer and fails it (sticky, like buf.c's
 * writer) rather than send what no decoder would accept; each pf_get_*
 * returns 0 or a negative BUF_E* / PROTO_E* code and leaves the rest of
 * the decoder's struct to the decoder.
 */
#ifndef APIKEY_PROTO_INT_H
#define APIKEY_PROTO_INT_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* Fails w with err unless it already failed. */
void	pf_fail(struct writer *, int err);

/* A string held in a char array of size bytes (maximum size - 1). */
void	pf_put_str(struct writer *, const char *s, size_t size);
int	pf_get_str(struct reader *, char *s, size_t size);
/* A string given as a pointer: at most max bytes. */
void	pf_put_cstr(struct writer *, const char *s, size_t max);

/* A u8 or u32 enum or flag whose valid values are 0..max. */
int	pf_get_u8_max(struct reader *, uint8_t *, uint8_t max);
int	pf_get_u32_max(struct reader *, uint32_t *, uint32_t max);

void	pf_put_perms(struct writer *, const struct proto_perm_list *);
int	pf_get_perms(struct reader *, struct proto_perm_list *);
void	pf_put_services(struct writer *, const struct proto_service_list *);
int	pf_get_services(struct reader *, struct proto_service_list *);
void	pf_put_users(struct writer *, const struct proto_user_list *);
int	pf_get_users(struct reader *, struct proto_user_list *);

void	pf_put_limits(struct writer *, const struct proto_limits *);
int	pf_get_limits(struct reader *, struct proto_limits *);
void	pf_put_usage(struct writer *, const struct proto_usage *);
int	pf_get_usage(struct reader *, struct proto_usage *);
void	pf_put_owner(struct writer *, const struct proto_owner *);
int	pf_get_owner(struct reader *, struct proto_owner *);
void	pf_put_owner_sel(struct writer *, const struct proto_owner_sel *);
int	pf_get_owner_sel(struct reader *, struct proto_owner_sel *);
void	pf_put_spec(struct writer *, const struct proto_key_spec *);
int	pf_get_spec(struct reader *, struct proto_key_spec *);

#endif
