/*
 * codec_all.c - see codec_all.h. One decode and one encode wrapper per
 * body of proto.h's table, all over one static message union: the
 * structs are up to 30 KiB, too large for the stack of a fuzz target
 * that runs the whole table for every frame.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/proto.h"
#include "codec_all.h"

static union {
	struct proto_status_info	st;
	struct proto_verify_req		vq;
	struct proto_verify_reply	vr;
	struct proto_tenant_add_req	ta;
	struct proto_tenant		t;
	struct proto_key_create_req	kc;
	struct proto_key_create_many_req kcm;
	struct proto_key_update_req	ku;
	struct proto_owner_sel		os;
	struct proto_key		k;
	struct proto_audit		a;
} m;

/* The plain out-parameters of the small messages. */
static char	 s_arg[PROTO_TENANT_ARG_MAX + 1];
static char	 s_token[TOKEN_MAX + 1];
static char	 s_msg[PROTO_MESSAGE_MAX + 1];
static uint8_t	 s_on;
static uint32_t	 s_u32;
static uint64_t	 s_u64;

static int
d_empty(struct reader *r)
{
	return proto_dec_empty(r);
}

static void
e_empty(struct writer *w)
{
	proto_enc_empty(w);
}

static int
d_ping(struct reader *r)
{
	return proto_dec_ping_reply(r, &s_u32, s_arg);
}

static void
e_ping(struct writer *w)
{
	proto_enc_ping_reply(w, s_u32, s_arg);
}

static int
d_status(struct reader *r)
{
	return proto_dec_status_info(r, &m.st);
}

static void
e_status(struct writer *w)
{
	proto_enc_status_info(w, &m.st);
}

static int
d_vreq(struct reader *r)
{
	return proto_dec_verify_req(r, &m.vq);
}

static void
e_vreq(struct writer *w)
{
	proto_enc_verify_req(w, &m.vq);
}

static int
d_vrep(struct reader *r)
{
	return proto_dec_verify_reply(r, &m.vr);
}

static void
e_vrep(struct writer *w)
{
	proto_enc_verify_reply(w, &m.vr);
}

static int
d_tadd(struct reader *r)
{
	return proto_dec_tenant_add_req(r, &m.ta);
}

static void
e_tadd(struct writer *w)
{
	proto_enc_tenant_add_req(w, &m.ta);
}

static int
d_tname(struct reader *r)
{
	return proto_dec_tenant_name(r, s_arg);
}

static void
e_tname(struct writer *w)
{
	proto_enc_tenant_name(w, s_arg);
}

static int
d_tswitch(struct reader *r)
{
	return proto_dec_tenant_switch(r, s_arg, &s_on);
}

static void
e_tswitch(struct writer *w)
{
	proto_enc_tenant_switch(w, s_arg, s_on);
}

static int
d_tenant(struct reader *r)
{
	return proto_dec_tenant(r, &m.t);
}

static void
e_tenant(struct writer *w)
{
	proto_enc_tenant(w, &m.t);
}

static int
d_kcmany(struct reader *r)
{
	return proto_dec_key_create_many_req(r, &m.kcm);
}

static void
e_kcmany(struct writer *w)
{
	proto_enc_key_create_many_req(w, &m.kcm);
}

static int
d_kcreate(struct reader *r)
{
	return proto_dec_key_create_req(r, &m.kc);
}

static void
e_kcreate(struct writer *w)
{
	proto_enc_key_create_req(w, &m.kc);
}

static int
d_kupdate(struct reader *r)
{
	return proto_dec_key_update_req(r, &m.ku);
}

static void
e_kupdate(struct writer *w)
{
	proto_enc_key_update_req(w, &m.ku);
}

static int
d_osel(struct reader *r)
{
	return proto_dec_owner_sel(r, &m.os);
}

static void
e_osel(struct writer *w)
{
	proto_enc_owner_sel(w, &m.os);
}

static int
d_kid(struct reader *r)
{
	return proto_dec_key_id(r, s_arg);
}

static void
e_kid(struct writer *w)
{
	proto_enc_key_id(w, s_arg);
}

static int
d_kswitch(struct reader *r)
{
	return proto_dec_key_switch(r, s_arg, &s_on);
}

static void
e_kswitch(struct writer *w)
{
	proto_enc_key_switch(w, s_arg, s_on);
}

static int
d_krotate(struct reader *r)
{
	return proto_dec_key_rotate_req(r, s_arg, &s_u64);
}

static void
e_krotate(struct writer *w)
{
	proto_enc_key_rotate_req(w, s_arg, s_u64);
}

static int
d_key(struct reader *r)
{
	return proto_dec_key(r, &m.k);
}

static void
e_key(struct writer *w)
{
	proto_enc_key(w, &m.k);
}

static int
d_ktoken(struct reader *r)
{
	return proto_dec_key_token(r, &m.k, s_token);
}

static void
e_ktoken(struct writer *w)
{
	proto_enc_key_token(w, &m.k, s_token);
}

static int
d_count(struct reader *r)
{
	return proto_dec_count(r, &s_u32);
}

static void
e_count(struct writer *w)
{
	proto_enc_count(w, s_u32);
}

static int
d_alist(struct reader *r)
{
	return proto_dec_audit_list_req(r, &s_u32);
}

static void
e_alist(struct writer *w)
{
	proto_enc_audit_list_req(w, s_u32);
}

static int
d_audit(struct reader *r)
{
	return proto_dec_audit(r, &m.a);
}

static void
e_audit(struct writer *w)
{
	proto_enc_audit(w, &m.a);
}

static int
d_head(struct reader *r)
{
	return proto_dec_reply_head(r, &s_u32, s_msg);
}

static void
e_head(struct writer *w)
{
	proto_enc_reply_head(w, s_u32, s_msg);
}

static const struct codec {
	const char	*name;
	int		(*dec)(struct reader *);
	void		(*enc)(struct writer *);
} codecs[] = {
	{ "empty", d_empty, e_empty },
	{ "ping_reply", d_ping, e_ping },
	{ "status_info", d_status, e_status },
	{ "verify_req", d_vreq, e_vreq },
	{ "verify_reply", d_vrep, e_vrep },
	{ "tenant_add_req", d_tadd, e_tadd },
	{ "tenant_name", d_tname, e_tname },
	{ "tenant_switch", d_tswitch, e_tswitch },
	{ "tenant", d_tenant, e_tenant },
	{ "key_create_req", d_kcreate, e_kcreate },
	{ "key_create_many_req", d_kcmany, e_kcmany },
	{ "key_update_req", d_kupdate, e_kupdate },
	{ "owner_sel", d_osel, e_osel },
	{ "key_id", d_kid, e_kid },
	{ "key_switch", d_kswitch, e_kswitch },
	{ "key_rotate_req", d_krotate, e_krotate },
	{ "key", d_key, e_key },
	{ "key_token", d_ktoken, e_ktoken },
	{ "count", d_count, e_count },
	{ "audit_list_req", d_alist, e_alist },
	{ "audit", d_audit, e_audit },
};

static void
mismatch(const char *name, const char *what)
{
	fprintf(stderr, "codec_all: %s: %s\n", name, what);
	abort();
}

/*
 * Decodes p with c and checks that the result encodes to the very bytes
 * consumed. Returns how many that was, 0 when c refused them.
 */
static size_t
round_trip(const struct codec *c, const uint8_t *p, size_t len)
{
	static uint8_t	 out[PROTO_ADMIN_MAX];
	struct reader	 r;
	struct writer	 w;

	rd_init(&r, p, len);
	if (c->dec(&r) != 0)
		return 0;
	wr_init(&w, out, sizeof(out));
	c->enc(&w);
	if (wr_error(&w) != 0)
		mismatch(c->name, "the encoder refuses what was decoded");
	if (w.len != r.off || memcmp(out, p, w.len) != 0)
		mismatch(c->name, "decoded bytes encode differently");
	return r.off;
}

void
codec_all(const uint8_t *body, size_t len)
{
	static const struct codec head = { "reply_head", d_head, e_head };
	size_t	 i, off;

	for (i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		(void)round_trip(&codecs[i], body, len);
	/* A reply: its head, then each body after it. */
	if ((off = round_trip(&head, body, len)) > 0) {
		for (i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
			(void)round_trip(&codecs[i], body + off, len - off);
	}
}
