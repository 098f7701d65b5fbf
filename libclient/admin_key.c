/*
 * admin_key.c - libapikey's key management calls on admin.sock: create,
 * list, show, enable, revoke, update, rotate and purge.
 *
 * Create and rotate are the only replies that carry a token: it goes into
 * a secret_alloc'd copy for the caller (apikey_token_free wipes it), and
 * every other copy (stack, send and receive buffers) is wiped before the
 * call returns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int
dec_key(struct reader *r, void *arg)
{
	struct apikey_key	*k = arg;

	return proto_dec_key(r, &k->k) == 0 ? 0 : APIKEY_EPROTO;
}

/* A create or rotate reply: proto_key, then str token. */
struct key_token {
	struct proto_key	*key;
	char			 token[TOKEN_MAX + 1];
};

/* The token must parse and carry the key's id. */
static int
dec_key_token(struct reader *r, void *arg)
{
	struct key_token	*kt = arg;
	struct token		 t;
	struct secret_scope	 t_scope SECRET_SCOPE = { &t, sizeof(t) };
	int			 ok;

	if (proto_dec_key_token(r, kt->key, kt->token) != 0)
		return APIKEY_EPROTO;
	ok = token_parse(kt->token, strlen(kt->token), &t) == 0 &&
	    strcmp(t.id, kt->key->id) == 0;
	return ok ? 0 : APIKEY_EPROTO;
}

/*
 * Key ids go to the daemon as typed, up to the length its error message
 * can quote, so that a mistyped id gets the daemon's explanation. A whole
 * key typed where its id belongs (revoking a leaked key, say) is never
 * sent or quoted: the caller is told its id instead.
 */
static int
check_id(struct apikey_client *c, const char *id)
{
	char	 kid[APIKEY_KEY_ID_SIZE];
	char	 msg[128];

	if (id != NULL && apikey_token_key_id(id, kid, sizeof(kid)) == 0) {
		(void)snprintf(msg, sizeof(msg), "that is a whole key, not a "
		    "key id: its key id is %s (the key was not sent)", kid);
		akc_set_error(c, msg);
		return APIKEY_EINVAL;
	}
	if (akc_check_str(id, PROTO_ID_ARG_MAX) != 0) {
		akc_set_error(c, "not a key id (a key id is 11 base62 "
		    "characters)");
		return APIKEY_EINVAL;
	}
	return 0;
}

/* Fills an owner selector from the public kind and name. */
static int
owner_sel(struct proto_owner_sel *sel, enum apikey_owner_kind kind,
    const char *owner)
{
	memset(sel, 0, sizeof(*sel));
	switch (kind) {
	case APIKEY_OWNER_SELF:
		if (owner != NULL && *owner != '\0')
			return APIKEY_EINVAL;
		sel->kind = PROTO_OWNER_NONE;
		return 0;
	case APIKEY_OWNER_USER:
		sel->kind = PROTO_OWNER_USER;
		return akc_copy_name(sel->user, owner, PROTO_ACCOUNT_MAX);
	case APIKEY_OWNER_TENANT:
		sel->kind = PROTO_OWNER_TENANT;
		return akc_copy_name(sel->tenant, owner, PROTO_TENANT_MAX);
	default:
		return APIKEY_EINVAL;
	}
}

/* Sends a request already built by the caller and returns one key. */
static int
call_key(struct apikey_client *c, struct apikey_key **out)
{
	void	*k;
	int	 rc;

	rc = akc_call_object(c, dec_key, sizeof(struct apikey_key),
	    out != NULL ? &k : NULL);
	if (rc == 0 && out != NULL)
		*out = k;
	return rc;
}

/* Sends a create or rotate request and returns the key and its token. */
static int
call_key_token(struct apikey_client *c, struct apikey_key **key_out,
    char **token_out)
{
	struct key_token	 kt;
	struct secret_scope	 kt_scope SECRET_SCOPE = { &kt, sizeof(kt) };
	struct apikey_key	*k = NULL;
	char			*tok = NULL;
	size_t			 len;
	int			 rc;

	memset(&kt, 0, sizeof(kt));
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		rc = APIKEY_ENOMEM;
		goto out;
	}
	kt.key = &k->k;
	if ((rc = akc_call(c, dec_key_token, &kt, 0)) != 0)
		goto out;
	/*
	 * The daemon has already made the key: failing now would lose its
	 * only token, so the token is copied before anything else can fail.
	 */
	len = strlen(kt.token) + 1;
	if (token_out != NULL && (tok = secret_alloc(len)) == NULL) {
		rc = APIKEY_ENOMEM;
		goto out;
	}
	if (tok != NULL)
		memcpy(tok, kt.token, len);
	if (key_out != NULL) {
		*key_out = k;
		k = NULL;	/* transferred */
	}
	if (token_out != NULL) {
		*token_out = tok;
		tok = NULL;	/* transferred */
	}
 out:
	apikey_token_free(tok);
	free(k);
	return rc;
}

APIKEY_EXPORT int
apikey_key_create(struct apikey_client *c, enum apikey_owner_kind kind,
    const char *owner, const struct apikey_key_spec *spec,
    struct apikey_key **key_out, char **token_out)
{
	struct proto_key_create_req	*req;
	struct writer			*w;
	int				 rc;

	if ((rc = akc_enter(c, AKC_ADMIN)) != 0)
		return rc;
	if ((req = calloc(1, sizeof(*req))) == NULL)
		return APIKEY_ENOMEM;
	if ((rc = owner_sel(&req->owner, kind, owner)) != 0)
		goto out;
	if (spec != NULL)
		req->spec = spec->s;
	w = akc_begin(c, PROTO_OP_KEY_CREATE);
	proto_enc_key_create_req(w, req);
	rc = call_key_token(c, key_out, token_out);
 out:
	free(req);
	return rc;
}

struct many {
	apikey_key_fn	 fn;
	void		*arg;
	uint32_t	 made;
	struct apikey_key k;
	char		 token[TOKEN_MAX + 1];
};

/* One key of a KEY_CREATE_MANY stream: checked like a single create's,
 * handed to the caller, its token wiped. */
static int
dec_many_item(struct reader *r, void *arg)
{
	struct many		*m = arg;
	struct key_token	 kt;
	int			 rc;

	kt.key = &m->k.k;
	rc = dec_key_token(r, &kt);
	if (rc == 0) {
		memcpy(m->token, kt.token, sizeof(m->token));
		m->made++;
		m->fn(m->arg, &m->k, m->token);
	}
	secret_wipe(&kt, sizeof(kt));
	secret_wipe(m->token, sizeof(m->token));
	return rc;
}

APIKEY_EXPORT int
apikey_key_create_many(struct apikey_client *c, enum apikey_owner_kind kind,
    const char *owner, const struct apikey_key_spec *spec, uint32_t count,
    apikey_key_fn fn, void *arg, uint32_t *made)
{
	struct proto_key_create_many_req *req = NULL;
	struct many			*m = NULL;
	struct writer			*w;
	int				 rc;

	if (made != NULL)
		*made = 0;
	if ((rc = akc_enter(c, AKC_ADMIN)) != 0)
		return rc;
	if (fn == NULL || count == 0 || count > APIKEY_CREATE_MANY_MAX)
		return APIKEY_EINVAL;
	if ((req = calloc(1, sizeof(*req))) == NULL ||
	    (m = secret_alloc(sizeof(*m))) == NULL) {
		rc = APIKEY_ENOMEM;
		goto out;
	}
	if ((rc = owner_sel(&req->create.owner, kind, owner)) != 0)
		goto out;
	if (spec != NULL)
		req->create.spec = spec->s;
	req->count = count;
	m->fn = fn;
	m->arg = arg;
	w = akc_begin(c, PROTO_OP_KEY_CREATE_MANY);
	proto_enc_key_create_many_req(w, req);
	rc = akc_call(c, dec_many_item, m, AKC_LIST);
	if (made != NULL)
		*made = m->made;
 out:
	secret_free(m);
	free(req);
	return rc;
}

APIKEY_EXPORT int
apikey_key_list(struct apikey_client *c, enum apikey_owner_kind kind,
    const char *owner, struct apikey_key_list **out)
{
	struct proto_owner_sel	 sel;
	struct apikey_key_list	*l;
	struct writer		*w;
	int			 rc;

	if ((rc = akc_enter_out(c, AKC_ADMIN, out)) != 0)
		return rc;
	if (owner_sel(&sel, kind, owner) != 0)
		return APIKEY_EINVAL;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return APIKEY_ENOMEM;
	w = akc_begin(c, PROTO_OP_KEY_LIST);
	proto_enc_owner_sel(w, &sel);
	if ((rc = akc_call_list(c, &l->items, dec_key,
	    sizeof(struct apikey_key))) != 0) {
		apikey_key_list_free(l);
		return rc;
	}
	*out = l;
	return 0;
}

APIKEY_EXPORT int
apikey_key_show(struct apikey_client *c, const char *id,
    struct apikey_key **out)
{
	int	 rc;

	if ((rc = akc_enter_out(c, AKC_ADMIN, out)) != 0)
		return rc;
	if ((rc = check_id(c, id)) != 0)
		return rc;
	proto_enc_key_id(akc_begin(c, PROTO_OP_KEY_SHOW), id);
	return call_key(c, out);
}

APIKEY_EXPORT int
apikey_key_set_enabled(struct apikey_client *c, const char *id, int enabled,
    struct apikey_key **out)
{
	int	 rc;

	if ((rc = akc_enter(c, AKC_ADMIN)) != 0)
		return rc;
	if ((rc = check_id(c, id)) != 0)
		return rc;
	proto_enc_key_switch(akc_begin(c, PROTO_OP_KEY_SET_ENABLED), id,
	    enabled != 0);
	return call_key(c, out);
}

APIKEY_EXPORT int
apikey_key_revoke(struct apikey_client *c, const char *id)
{
	int	 rc;

	if ((rc = akc_enter(c, AKC_ADMIN)) != 0)
		return rc;
	if ((rc = check_id(c, id)) != 0)
		return rc;
	proto_enc_key_id(akc_begin(c, PROTO_OP_KEY_REVOKE), id);
	/* The reply is the empty body, which akc_call checks itself. */
	return akc_call(c, NULL, NULL, 0);
}

APIKEY_EXPORT int
apikey_key_update(struct apikey_client *c, const char *id,
    const struct apikey_key_spec *spec, struct apikey_key **out)
{
	struct proto_key_update_req	*req;
	struct writer			*w;
	int				 rc;

	if ((rc = akc_enter(c, AKC_ADMIN)) != 0)
		return rc;
	if ((rc = check_id(c, id)) != 0)
		return rc;
	if ((req = calloc(1, sizeof(*req))) == NULL)
		return APIKEY_ENOMEM;
	akc_copy(req->id, id, PROTO_ID_ARG_MAX);
	if (spec != NULL)
		req->spec = spec->s;
	w = akc_begin(c, PROTO_OP_KEY_UPDATE);
	proto_enc_key_update_req(w, req);
	free(req);
	return call_key(c, out);
}

APIKEY_EXPORT int
apikey_key_rotate(struct apikey_client *c, const char *id,
    uint64_t grace_seconds, struct apikey_key **key_out, char **token_out)
{
	int	 rc;

	if ((rc = akc_enter(c, AKC_ADMIN)) != 0)
		return rc;
	if ((rc = check_id(c, id)) != 0)
		return rc;
	proto_enc_key_rotate_req(akc_begin(c, PROTO_OP_KEY_ROTATE), id,
	    grace_seconds);
	return call_key_token(c, key_out, token_out);
}

APIKEY_EXPORT int
apikey_key_purge_expired(struct apikey_client *c, unsigned *purged)
{
	uint32_t	n;
	int		rc;

	if ((rc = akc_enter(c, AKC_ADMIN)) != 0)
		return rc;
	proto_enc_empty(akc_begin(c, PROTO_OP_KEY_PURGE_EXPIRED));
	if ((rc = akc_call(c, akc_dec_count, &n, 0)) != 0)
		return rc;
	if (purged != NULL)
		*purged = n;
	return 0;
}

APIKEY_EXPORT void
apikey_token_free(char *token)
{
	secret_free(token);
}
