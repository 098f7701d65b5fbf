/*
 * admin.c - libapikey's management calls on admin.sock for daemon status,
 * tenants and the audit log, and the helpers every management call shares
 * (admin_key.c has the key calls).
 *
 * These calls are rare (an administrator, apikeyctl, a provisioning
 * script), so each is one plain round trip that decodes straight into the
 * objects of objects.c. Listings arrive one item per frame and are
 * collected in a growable array.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Makes room for one more item of size sz in *v (n used, *cap allocated);
 * 0 or APIKEY_ENOMEM, and *v, *cap change only on success. */
static int
grow(void **v, size_t n, size_t *cap, size_t sz)
{
	size_t	 ncap;
	void	*nv;

	if (n < *cap)
		return 0;
	ncap = *cap == 0 ? 16 : *cap * 2;
	if (ncap > SIZE_MAX / sz)
		return APIKEY_ENOMEM;
	if ((nv = realloc(*v, ncap * sz)) == NULL)
		return APIKEY_ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

int
akc_check_str(const char *s, size_t max)
{
	if (s == NULL || *s == '\0' || strnlen(s, max + 1) > max)
		return APIKEY_EINVAL;
	return 0;
}

int
akc_dec_count(struct reader *r, void *arg)
{
	return proto_dec_count(r, arg) == 0 ? 0 : APIKEY_EPROTO;
}

int
akc_call_object(struct apikey_client *c, akc_decode_fn fn, size_t size,
    void **out)
{
	void	*obj;
	int	 rc;

	if ((obj = calloc(1, size)) == NULL)
		return APIKEY_ENOMEM;
	if ((rc = akc_call(c, fn, obj, 0)) != 0) {
		free(obj);
		return rc;
	}
	if (out != NULL)
		*out = obj;
	else
		free(obj);
	return 0;
}

/* akc_decode_fn for one item of a listing: arg is the struct akc_list. */
static int
dec_list_item(struct reader *r, void *arg)
{
	struct akc_list	*l = arg;
	int		 rc;

	if (grow(&l->v, l->n, &l->cap, l->size) != 0)
		return APIKEY_ENOMEM;
	if ((rc = l->dec(r, (char *)l->v + l->n * l->size)) != 0)
		return rc;
	l->n++;
	return 0;
}

int
akc_call_list(struct apikey_client *c, struct akc_list *l, akc_decode_fn dec,
    size_t size)
{
	l->size = size;
	l->dec = dec;
	return akc_call(c, dec_list_item, l, AKC_LIST);
}

static int
dec_status(struct reader *r, void *arg)
{
	struct apikey_status	*st = arg;

	return proto_dec_status_info(r, &st->s) == 0 ? 0 : APIKEY_EPROTO;
}

static int
dec_tenant(struct reader *r, void *arg)
{
	struct apikey_tenant	*t = arg;

	return proto_dec_tenant(r, &t->t) == 0 ? 0 : APIKEY_EPROTO;
}

static int
dec_audit(struct reader *r, void *arg)
{
	struct apikey_audit	*a = arg;

	return proto_dec_audit(r, &a->a) == 0 ? 0 : APIKEY_EPROTO;
}

APIKEY_EXPORT int
apikey_status(struct apikey_client *c, struct apikey_status **out)
{
	struct apikey_status	*st = NULL;
	int			 rc;

	if ((rc = akc_enter_out(c, AKC_ADMIN, out)) != 0)
		return rc;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return APIKEY_ENOMEM;
	proto_enc_empty(akc_begin(c, PROTO_OP_STATUS));
	if ((rc = akc_call(c, dec_status, st, 0)) != 0)
		goto out;
	*out = st;
	st = NULL;	/* transferred */
 out:
	free(st);
	return rc;
}

/* Sends a request already built by the caller and returns one tenant. */
static int
call_tenant(struct apikey_client *c, struct apikey_tenant **out)
{
	void	*t;
	int	 rc;

	rc = akc_call_object(c, dec_tenant, sizeof(struct apikey_tenant),
	    out != NULL ? &t : NULL);
	if (rc == 0 && out != NULL)
		*out = t;
	return rc;
}

/* call_tenant_named's on for TENANT_SHOW, the request without a switch. */
#define NO_SWITCH	(-1)

/* A request naming tenant name, with a switch (0 or 1) unless on is
 * NO_SWITCH, answered with the tenant. */
static int
call_tenant_named(struct apikey_client *c, uint8_t op, const char *name,
    int on, struct apikey_tenant **out)
{
	struct writer	*w;

	if (akc_check_str(name, PROTO_TENANT_MAX) != 0)
		return APIKEY_EINVAL;
	w = akc_begin(c, op);
	if (on == NO_SWITCH)
		proto_enc_tenant_name(w, name);
	else
		proto_enc_tenant_switch(w, name, (uint8_t)on);
	return call_tenant(c, out);
}

APIKEY_EXPORT int
apikey_tenant_add(struct apikey_client *c, const char *name,
    const char *group, const char *admin_group, struct apikey_tenant **out)
{
	struct proto_tenant_add_req req;
	int		 rc;

	if ((rc = akc_enter(c, AKC_ADMIN)) != 0)
		return rc;
	if (admin_group == NULL)
		admin_group = "";
	memset(&req, 0, sizeof(req));
	if (akc_copy_name(req.name, name, PROTO_TENANT_MAX) != 0 ||
	    akc_copy_name(req.group, group, PROTO_ACCOUNT_MAX) != 0 ||
	    akc_copy(req.admin_group, admin_group, PROTO_ACCOUNT_MAX) != 0)
		return APIKEY_EINVAL;
	proto_enc_tenant_add_req(akc_begin(c, PROTO_OP_TENANT_ADD), &req);
	return call_tenant(c, out);
}

APIKEY_EXPORT int
apikey_tenant_list(struct apikey_client *c, struct apikey_tenant_list **out)
{
	struct apikey_tenant_list	*l;
	int				 rc;

	if ((rc = akc_enter_out(c, AKC_ADMIN, out)) != 0)
		return rc;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return APIKEY_ENOMEM;
	proto_enc_empty(akc_begin(c, PROTO_OP_TENANT_LIST));
	if ((rc = akc_call_list(c, &l->items, dec_tenant,
	    sizeof(struct apikey_tenant))) != 0) {
		apikey_tenant_list_free(l);
		return rc;
	}
	*out = l;
	return 0;
}

APIKEY_EXPORT int
apikey_tenant_show(struct apikey_client *c, const char *name,
    struct apikey_tenant **out)
{
	int	 rc;

	if ((rc = akc_enter_out(c, AKC_ADMIN, out)) != 0)
		return rc;
	return call_tenant_named(c, PROTO_OP_TENANT_SHOW, name, NO_SWITCH,
	    out);
}

APIKEY_EXPORT int
apikey_tenant_set_enabled(struct apikey_client *c, const char *name,
    int enabled, struct apikey_tenant **out)
{
	int	 rc;

	if ((rc = akc_enter(c, AKC_ADMIN)) != 0)
		return rc;
	return call_tenant_named(c, PROTO_OP_TENANT_SET_ENABLED, name,
	    enabled != 0, out);
}

APIKEY_EXPORT int
apikey_tenant_set_privileged(struct apikey_client *c, const char *name,
    int allowed, struct apikey_tenant **out)
{
	int	 rc;

	if ((rc = akc_enter(c, AKC_ADMIN)) != 0)
		return rc;
	return call_tenant_named(c, PROTO_OP_TENANT_SET_PRIVILEGED, name,
	    allowed != 0, out);
}

APIKEY_EXPORT int
apikey_tenant_remove(struct apikey_client *c, const char *name, int force,
    unsigned *keys_revoked)
{
	uint32_t	 n;
	int		 rc;

	if ((rc = akc_enter(c, AKC_ADMIN)) != 0)
		return rc;
	if (akc_check_str(name, PROTO_TENANT_MAX) != 0)
		return APIKEY_EINVAL;
	proto_enc_tenant_switch(akc_begin(c, PROTO_OP_TENANT_REMOVE), name,
	    force != 0);
	if ((rc = akc_call(c, akc_dec_count, &n, 0)) != 0)
		return rc;
	if (keys_revoked != NULL)
		*keys_revoked = n;
	return 0;
}

APIKEY_EXPORT int
apikey_audit_list(struct apikey_client *c, unsigned limit,
    struct apikey_audit_list **out)
{
	struct apikey_audit_list	*l;
	int				 rc;

	if ((rc = akc_enter_out(c, AKC_ADMIN, out)) != 0)
		return rc;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return APIKEY_ENOMEM;
	proto_enc_audit_list_req(akc_begin(c, PROTO_OP_AUDIT_LIST),
	    (uint32_t)limit);
	if ((rc = akc_call_list(c, &l->items, dec_audit,
	    sizeof(struct apikey_audit))) != 0) {
		apikey_audit_list_free(l);
		return rc;
	}
	*out = l;
	return 0;
}
