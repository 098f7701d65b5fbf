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
	if (rd_u32(r, arg) != 0 || rd_end(r) != 0)
		return APIKEY_EPROTO;
	return 0;
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
	akc_begin(c, PROTO_OP_STATUS);
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

/*
 * Checks the tenant name and begins request op with it as the first field;
 * *w takes the fields after it.
 */
static int
begin_tenant(struct apikey_client *c, uint8_t op, const char *name,
    struct writer **w)
{
	if (akc_check_str(name, PROTO_TENANT_MAX) != 0)
		return APIKEY_EINVAL;
	*w = akc_begin(c, op);
	wr_str(*w, name);
	return 0;
}

APIKEY_EXPORT int
apikey_tenant_add(struct apikey_client *c, const char *name,
    const char *group, const char *admin_group, struct apikey_tenant **out)
{
	struct writer	*w;
	int		 rc;

	if ((rc = akc_enter(c, AKC_ADMIN)) != 0)
		return rc;
	if (admin_group == NULL)
		admin_group = "";
	if (akc_check_str(name, PROTO_TENANT_MAX) != 0 ||
	    akc_check_str(group, PROTO_ACCOUNT_MAX) != 0 ||
	    strnlen(admin_group, PROTO_ACCOUNT_MAX + 1) > PROTO_ACCOUNT_MAX)
		return APIKEY_EINVAL;
	w = akc_begin(c, PROTO_OP_TENANT_ADD);
	wr_str(w, name);
	wr_str(w, group);
	wr_str(w, admin_group);
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
	akc_begin(c, PROTO_OP_TENANT_LIST);
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
	struct writer	*w;
	int		 rc;

	if ((rc = akc_enter_out(c, AKC_ADMIN, out)) != 0)
		return rc;
	if ((rc = begin_tenant(c, PROTO_OP_TENANT_SHOW, name, &w)) != 0)
		return rc;
	return call_tenant(c, out);
}

APIKEY_EXPORT int
apikey_tenant_set_enabled(struct apikey_client *c, const char *name,
    int enabled, struct apikey_tenant **out)
{
	struct writer	*w;
	int		 rc;

	if ((rc = akc_enter(c, AKC_ADMIN)) != 0)
		return rc;
	if ((rc = begin_tenant(c, PROTO_OP_TENANT_SET_ENABLED, name, &w)) != 0)
		return rc;
	wr_u8(w, enabled != 0);
	return call_tenant(c, out);
}

APIKEY_EXPORT int
apikey_tenant_set_privileged(struct apikey_client *c, const char *name,
    int allowed, struct apikey_tenant **out)
{
	struct writer	*w;
	int		 rc;

	if ((rc = akc_enter(c, AKC_ADMIN)) != 0)
		return rc;
	if ((rc = begin_tenant(c, PROTO_OP_TENANT_SET_PRIVILEGED, name,
	    &w)) != 0)
		return rc;
	wr_u8(w, allowed != 0);
	return call_tenant(c, out);
}

APIKEY_EXPORT int
apikey_tenant_remove(struct apikey_client *c, const char *name, int force,
    unsigned *keys_revoked)
{
	struct writer	*w;
	uint32_t	 n;
	int		 rc;

	if ((rc = akc_enter(c, AKC_ADMIN)) != 0)
		return rc;
	if ((rc = begin_tenant(c, PROTO_OP_TENANT_REMOVE, name, &w)) != 0)
		return rc;
	wr_u8(w, force != 0);
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
	struct writer			*w;
	int				 rc;

	if ((rc = akc_enter_out(c, AKC_ADMIN, out)) != 0)
		return rc;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return APIKEY_ENOMEM;
	w = akc_begin(c, PROTO_OP_AUDIT_LIST);
	wr_u32(w, (uint32_t)limit);
	if ((rc = akc_call_list(c, &l->items, dec_audit,
	    sizeof(struct apikey_audit))) != 0) {
		apikey_audit_list_free(l);
		return rc;
	}
	*out = l;
	return 0;
}
