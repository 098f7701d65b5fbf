/*
 * verify.c - apikey_verify: the one call a service or the PAM module makes
 * per login or request, plus its optional context and its result object.
 *
 * A string that is not even shaped like a key (wrong length, characters or
 * checksum) is answered here, without a round trip, so pasted garbage and
 * typos never reach the daemon. Everything else is one VERIFY frame on
 * verify.sock. The token is copied only into the request struct and the
 * send buffer, and both are wiped before the call returns. The result's
 * owner is read through the owner view (owner.c), which keys share.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

APIKEY_EXPORT struct apikey_verify_req *
apikey_verify_req_new(void)
{
	return calloc(1, sizeof(struct apikey_verify_req));
}

APIKEY_EXPORT void
apikey_verify_req_free(struct apikey_verify_req *req)
{
	free(req);
}

APIKEY_EXPORT int
apikey_verify_req_set_service(struct apikey_verify_req *req, const char *s)
{
	if (req == NULL)
		return APIKEY_EINVAL;
	return akc_copy(req->q.service, s, PROTO_SERVICE_MAX);
}

APIKEY_EXPORT int
apikey_verify_req_set_user(struct apikey_verify_req *req, const char *s)
{
	if (req == NULL)
		return APIKEY_EINVAL;
	return akc_copy(req->q.user, s, PROTO_ACCOUNT_MAX);
}

APIKEY_EXPORT int
apikey_verify_req_set_rhost(struct apikey_verify_req *req, const char *s)
{
	if (req == NULL)
		return APIKEY_EINVAL;
	return akc_copy(req->q.rhost, s, PROTO_RHOST_MAX);
}

APIKEY_EXPORT int
apikey_verify_req_set_tenant(struct apikey_verify_req *req, const char *s)
{
	if (req == NULL)
		return APIKEY_EINVAL;
	return akc_copy(req->q.tenant, s, PROTO_TENANT_MAX);
}

APIKEY_EXPORT int
apikey_verify_req_add_permission(struct apikey_verify_req *req,
    const char *perm)
{
	struct proto_perm_list	*l;

	if (req == NULL)
		return APIKEY_EINVAL;
	l = &req->q.required;
	return akc_strlist_add(&l->v[0][0], sizeof(l->v[0]), &l->n,
	    PROTO_MAX_PERMS, PROTO_PERM_MAX, perm);
}

APIKEY_EXPORT int
apikey_verify_req_set_check_only(struct apikey_verify_req *req)
{
	if (req == NULL)
		return APIKEY_EINVAL;
	req->q.check_only = 1;
	return 0;
}

/* 0 is refused rather than taken as the default: it is a caller's bug. */
APIKEY_EXPORT int
apikey_verify_req_set_cost(struct apikey_verify_req *req, uint32_t cost)
{
	if (req == NULL || cost == 0)
		return APIKEY_EINVAL;
	req->q.cost = cost;
	return 0;
}

int
akc_dec_verify_reply(struct reader *r, void *arg)
{
	struct proto_verify_reply	*rep = arg;

	if (proto_dec_verify_reply(r, rep) != 0 || rep->code > PROTO_CODE_MAX)
		return APIKEY_EPROTO;
	return 0;
}

int
akc_verify_begin(struct apikey_client *c, const char *token,
    const struct apikey_verify_req *req, struct proto_verify_reply *local)
{
	struct token		 t;
	struct secret_scope	 t_scope SECRET_SCOPE = { &t, sizeof(t) };
	struct writer		*w;
	size_t			 len;
	int			 trc;

	w = akc_begin(c, PROTO_OP_VERIFY);
	len = strnlen(token, TOKEN_MAX + 1);
	trc = len > TOKEN_MAX ? TOKEN_ELENGTH : token_parse(token, len, &t);
	if (trc != 0) {
		memset(local, 0, sizeof(*local));
		local->code = PROTO_MALFORMED;
		akc_copy(local->reason, token_strerror(trc), PROTO_REASON_MAX);
		return 1;
	}
	/* The token goes from the caller's string into the frame, and the
	 * request's other fields from req, neither copied on the way. */
	proto_enc_verify_req_token(w, token, req != NULL ? &req->q : NULL);
	return 0;
}

APIKEY_EXPORT int
apikey_verify(struct apikey_client *c, const char *token,
    const struct apikey_verify_req *req, struct apikey_result **out)
{
	struct apikey_result	*res = NULL;
	int			 rc;

	if ((rc = akc_enter(c, AKC_VERIFY)) != 0)
		goto out;
	if (token == NULL || out == NULL) {
		rc = APIKEY_EINVAL;
		goto out;
	}
	if (akc_pipe_busy(c)) {
		akc_set_error(c, "pipelined verifies are in flight on this "
		    "client: receive them first");
		rc = APIKEY_EINVAL;
		goto out;
	}
	/*
	 * Not calloc: the result is 13 KB, and every field of it that an
	 * accessor reads is written either way, by akc_verify_begin for a
	 * malformed token, or by the decoder, which writes every field of a
	 * reply it accepts (proto.c). A result that got neither is freed.
	 */
	if ((res = malloc(sizeof(*res))) == NULL) {
		rc = APIKEY_ENOMEM;
		goto out;
	}
	if (akc_verify_begin(c, token, req, &res->r) == 0 &&
	    (rc = akc_call(c, akc_dec_verify_reply, &res->r, 0)) != 0)
		goto out;
	*out = res;
	res = NULL;	/* transferred */
	rc = 0;
 out:
	free(res);
	return rc;
}

APIKEY_EXPORT void
apikey_result_free(struct apikey_result *res)
{
	free(res);
}

APIKEY_EXPORT enum apikey_code
apikey_result_code(const struct apikey_result *res)
{
	return res == NULL ? APIKEY_MALFORMED : (enum apikey_code)res->r.code;
}

APIKEY_EXPORT const char *
apikey_result_reason(const struct apikey_result *res)
{
	return res == NULL ? "" : res->r.reason;
}

APIKEY_EXPORT const char *
apikey_result_key_id(const struct apikey_result *res)
{
	return res == NULL ? "" : res->r.key_id;
}

APIKEY_EXPORT const char *
apikey_result_name(const struct apikey_result *res)
{
	return res == NULL ? "" : res->r.name;
}

APIKEY_EXPORT size_t
apikey_result_permission_count(const struct apikey_result *res)
{
	return res == NULL ? 0 : res->r.permissions.n;
}

APIKEY_EXPORT const char *
apikey_result_permission(const struct apikey_result *res, size_t i)
{
	if (res == NULL || i >= res->r.permissions.n)
		return NULL;
	return res->r.permissions.v[i];
}

APIKEY_EXPORT size_t
apikey_result_allowed_user_count(const struct apikey_result *res)
{
	return res == NULL ? 0 : res->r.allowed_users.n;
}

APIKEY_EXPORT const char *
apikey_result_allowed_user(const struct apikey_result *res, size_t i)
{
	if (res == NULL || i >= res->r.allowed_users.n)
		return NULL;
	return res->r.allowed_users.v[i];
}

APIKEY_EXPORT const char *
apikey_result_metadata(const struct apikey_result *res)
{
	return res == NULL ? "" : res->r.metadata;
}

APIKEY_EXPORT time_t
apikey_result_expires_at(const struct apikey_result *res)
{
	return res == NULL ? 0 : akc_time(res->r.expires_at);
}

/* Only a RATE_LIMITED answer has a retry time, whatever the reply said. */
APIKEY_EXPORT uint64_t
apikey_result_retry_after_ms(const struct apikey_result *res)
{
	if (res == NULL || res->r.code != PROTO_RATE_LIMITED)
		return 0;
	return res->r.retry_after_ms;
}

APIKEY_EXPORT int
apikey_result_has_credits(const struct apikey_result *res)
{
	return res == NULL ? 0 : res->r.has_credits != 0;
}

APIKEY_EXPORT uint64_t
apikey_result_remaining(const struct apikey_result *res)
{
	return res == NULL || !res->r.has_credits ? 0 : res->r.remaining;
}
