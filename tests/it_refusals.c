/*
 * it_refusals.c - what an unprivileged user may not do, as one table:
 * every management request of proto/proto.h, made as a fixture user
 * against (a) another user's keys, (b) a tenant whose admin group the
 * caller is not in, and (c) the tenants and the audit log themselves,
 * which are root's and admin_group's.
 *
 * Each row runs in a child that drops to the caller (uid, gid, no
 * supplementary groups, as apikeyctl's setpriv does) before it connects,
 * so SO_PEERCRED names the caller, and makes the request through
 * libapikey on a fresh connection. The row gives the exact APIKEY_E* code
 * and the daemon's exact message; the rows marked cli run through
 * apikeyctl too, for its exit status and stderr. After every row the
 * store must be unchanged (harness_store.h): the same records, and
 * data.mdb the same bytes, so not even a write that changed nothing was
 * committed.
 *
 * Refusals leave no audit record: admin_audit() is called only in a
 * transaction that commits a change (daemon/admin*.c), and the README
 * audits "every change". So the whole store is compared, the audit
 * database included, with nothing left out; a refusal that began to audit
 * itself would fail here and should then be documented and compared apart.
 *
 * The caller "stranger" is uid 10099, unknown to NSS, whose process runs
 * with gid 20002 (acme-admins): the socket's gid proves nothing.
 */
#include <sys/prctl.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "harness_store.h"

static void
setup(void)
{
	it_prepare(ITS_QUIET_CONF);
	it_start();
}

TestSuite(refusals, .init = setup, .fini = it_teardown, .timeout = 180);

#define STRANGER	"stranger"
#define STRANGER_UID	10099
#define STRANGER_GID	20002

/* The requests, with their opcode names and apikeyctl's words. */
enum op {
	OP_STATUS, OP_TENANT_ADD, OP_TENANT_LIST, OP_TENANT_SHOW,
	OP_TENANT_ENABLE, OP_TENANT_DISABLE, OP_TENANT_REMOVE,
	OP_TENANT_ALLOW, OP_TENANT_DENY, OP_KEY_CREATE, OP_KEY_LIST,
	OP_KEY_SHOW, OP_KEY_ENABLE, OP_KEY_DISABLE, OP_KEY_UPDATE,
	OP_KEY_ROTATE, OP_KEY_REVOKE, OP_KEY_PURGE, OP_AUDIT_LIST,
	OP_KEY_CREATE_MANY
};

static const struct {
	const char	*wire;
	const char	*ctl[2];
} ops[] = {
	[OP_STATUS] = { "STATUS", { "status" } },
	[OP_TENANT_ADD] = { "TENANT_ADD", { "tenant", "add" } },
	[OP_TENANT_LIST] = { "TENANT_LIST", { "tenant", "list" } },
	[OP_TENANT_SHOW] = { "TENANT_SHOW", { "tenant", "show" } },
	[OP_TENANT_ENABLE] = { "TENANT_SET_ENABLED(1)",
	    { "tenant", "enable" } },
	[OP_TENANT_DISABLE] = { "TENANT_SET_ENABLED(0)",
	    { "tenant", "disable" } },
	[OP_TENANT_REMOVE] = { "TENANT_REMOVE(force)", { "tenant", "remove" } },
	[OP_TENANT_ALLOW] = { "TENANT_SET_PRIVILEGED(1)",
	    { "tenant", "allow-privileged" } },
	[OP_TENANT_DENY] = { "TENANT_SET_PRIVILEGED(0)",
	    { "tenant", "deny-privileged" } },
	[OP_KEY_CREATE] = { "KEY_CREATE", { "key", "create" } },
	[OP_KEY_LIST] = { "KEY_LIST", { "key", "list" } },
	[OP_KEY_SHOW] = { "KEY_SHOW", { "key", "show" } },
	[OP_KEY_ENABLE] = { "KEY_SET_ENABLED(1)", { "key", "enable" } },
	[OP_KEY_DISABLE] = { "KEY_SET_ENABLED(0)", { "key", "disable" } },
	[OP_KEY_UPDATE] = { "KEY_UPDATE", { "key", "update" } },
	[OP_KEY_ROTATE] = { "KEY_ROTATE", { "key", "rotate" } },
	[OP_KEY_REVOKE] = { "KEY_REVOKE", { "key", "revoke" } },
	[OP_KEY_PURGE] = { "KEY_PURGE_EXPIRED", { "key", "purge-expired" } },
	[OP_AUDIT_LIST] = { "AUDIT_LIST", { "audit" } },
	[OP_KEY_CREATE_MANY] = { "KEY_CREATE_MANY", { "key", "create" } },
};

/*
 * What a request is about, set up by make_fixture(): users and tenants
 * by name, keys by id. Tenants: acme (group acme, admin group
 * acme-admins: bob), beta (group beta: dave; no admin group), gamma
 * (group beta, admin group acme-admins, disabled, privileged logins
 * allowed). Each owner has an enabled key and a disabled one ("off"), so
 * that enabling and disabling would both change something; alice and beta
 * also own a key that has expired, for the purges.
 */
enum target {
	T_NONE, T_SELF, T_ALICE, T_ACME, T_BETA, T_GAMMA, T_ZETA,
	T_ALICE_KEY, T_ALICE_OFF, T_ACME_KEY, T_ACME_OFF, T_BETA_KEY,
	T_BETA_OFF, T_MAX
};

static const char *const target_name[T_MAX] = {
	"", "own keys", "user alice", "tenant acme", "tenant beta",
	"tenant gamma", "new tenant zeta", "alice's key",
	"alice's disabled key",
	"acme's key", "acme's disabled key", "beta's key", "beta's disabled key"
};

/* The string a target is sent as, filled by make_fixture(). */
static const char *arg[T_MAX];

#define ADMINS		"root or the admin group 'apikey-admins'"
#define ONLY_ADMINS(what) \
	"permission denied: " what " is reserved to " ADMINS
#define ACME_ONLY	"permission denied: tenant 'acme' keys are managed " \
	"by its admin group 'acme-admins' or " ADMINS
#define BETA_ONLY	"permission denied: tenant 'beta' has no admin " \
	"group, so only " ADMINS " may manage its keys"
/* Followed by the key's id: what a key that does not exist gets. */
#define NOKEY		"no key with id "
#define NONAME		"uid 10099 has no user name (NSS does not know " \
	"it), and a key must record its owner's"

/*
 * One request and what the caller must see: want is the APIKEY_E* code
 * (0: answered), sees the daemon's message (apikey_last_error()) for a
 * refusal and, for a request answered, what it gave away: the names or
 * ids listed, space-separated, "purged N" or "counters N".
 */
struct row {
	enum op		 op;
	enum target	 target;
	const char	*caller;
	int		 want;
	const char	*sees;
	int		 cli;		/* also through apikeyctl */
};

static const struct row rows[] = {
	/* (c) Tenants and the audit log: root and admin_group only, not
	 * even a tenant's own admins. */
	{ OP_TENANT_ADD, T_ZETA, "bob", APIKEY_EPERM,
	    ONLY_ADMINS("adding a tenant"), 1 },
	{ OP_TENANT_ADD, T_ZETA, STRANGER, APIKEY_EPERM,
	    ONLY_ADMINS("adding a tenant"), 0 },
	{ OP_TENANT_DISABLE, T_ACME, "bob", APIKEY_EPERM,
	    ONLY_ADMINS("enabling or disabling a tenant"), 1 },
	{ OP_TENANT_ENABLE, T_GAMMA, "bob", APIKEY_EPERM,
	    ONLY_ADMINS("enabling or disabling a tenant"), 0 },
	{ OP_TENANT_REMOVE, T_ACME, "bob", APIKEY_EPERM,
	    ONLY_ADMINS("removing a tenant"), 0 },
	{ OP_TENANT_REMOVE, T_BETA, "dave", APIKEY_EPERM,
	    ONLY_ADMINS("removing a tenant"), 1 },
	{ OP_TENANT_ALLOW, T_ACME, "bob", APIKEY_EPERM,
	    ONLY_ADMINS("allowing or denying privileged logins"), 0 },
	{ OP_TENANT_DENY, T_GAMMA, "bob", APIKEY_EPERM,
	    ONLY_ADMINS("allowing or denying privileged logins"), 1 },
	{ OP_AUDIT_LIST, T_NONE, "bob", APIKEY_EPERM,
	    ONLY_ADMINS("reading the audit log"), 1 },
	{ OP_AUDIT_LIST, T_NONE, STRANGER, APIKEY_EPERM,
	    ONLY_ADMINS("reading the audit log"), 0 },
	/* Listings and status answer, with only what is the caller's. */
	{ OP_TENANT_LIST, T_NONE, "alice", 0, "", 0 },
	{ OP_TENANT_LIST, T_NONE, "bob", 0, "acme gamma", 0 },
	{ OP_STATUS, T_NONE, "dave", 0, "counters 0", 0 },

	/* (b) A tenant whose admin group the caller is not in: members,
	 * another tenant's admin, a stranger with the admin group's gid. */
	{ OP_TENANT_SHOW, T_ACME, "alice", APIKEY_EPERM, ACME_ONLY, 1 },
	{ OP_TENANT_SHOW, T_BETA, "bob", APIKEY_EPERM, BETA_ONLY, 0 },
	{ OP_KEY_CREATE, T_ACME, "alice", APIKEY_EPERM, ACME_ONLY, 0 },
	{ OP_KEY_CREATE, T_ACME, "carol", APIKEY_EPERM, ACME_ONLY, 0 },
	{ OP_KEY_CREATE, T_ACME, STRANGER, APIKEY_EPERM, ACME_ONLY, 0 },
	{ OP_KEY_CREATE, T_BETA, "bob", APIKEY_EPERM, BETA_ONLY, 1 },
	{ OP_KEY_CREATE_MANY, T_ACME, "alice", APIKEY_EPERM, ACME_ONLY, 1 },
	{ OP_KEY_CREATE_MANY, T_BETA, "bob", APIKEY_EPERM, BETA_ONLY, 0 },
	{ OP_KEY_LIST, T_ACME, "carol", APIKEY_EPERM, ACME_ONLY, 0 },
	{ OP_KEY_LIST, T_BETA, "dave", APIKEY_EPERM, BETA_ONLY, 0 },
	{ OP_KEY_SHOW, T_ACME_KEY, "alice", APIKEY_ENOTFOUND, NOKEY, 0 },
	{ OP_KEY_ENABLE, T_ACME_OFF, "alice", APIKEY_ENOTFOUND, NOKEY, 0 },
	{ OP_KEY_DISABLE, T_ACME_KEY, "carol", APIKEY_ENOTFOUND, NOKEY, 0 },
	{ OP_KEY_UPDATE, T_ACME_KEY, "alice", APIKEY_ENOTFOUND, NOKEY, 0 },
	{ OP_KEY_ROTATE, T_ACME_KEY, "alice", APIKEY_ENOTFOUND, NOKEY, 0 },
	{ OP_KEY_REVOKE, T_ACME_KEY, STRANGER, APIKEY_ENOTFOUND, NOKEY, 0 },
	{ OP_KEY_SHOW, T_BETA_KEY, "bob", APIKEY_ENOTFOUND, NOKEY, 0 },
	{ OP_KEY_ENABLE, T_BETA_OFF, "bob", APIKEY_ENOTFOUND, NOKEY, 0 },
	{ OP_KEY_DISABLE, T_BETA_KEY, "dave", APIKEY_ENOTFOUND, NOKEY, 0 },
	{ OP_KEY_UPDATE, T_BETA_KEY, "bob", APIKEY_ENOTFOUND, NOKEY, 0 },
	{ OP_KEY_ROTATE, T_BETA_KEY, "dave", APIKEY_ENOTFOUND, NOKEY, 0 },
	{ OP_KEY_REVOKE, T_BETA_KEY, "bob", APIKEY_ENOTFOUND, NOKEY, 1 },
	/* bob administers acme and gamma; beta's expired key stays. */
	{ OP_KEY_PURGE, T_NONE, "bob", 0, "purged 0", 0 },

	/* (a) Another user's keys, tenant admins included. */
	{ OP_KEY_CREATE, T_ALICE, "dave", APIKEY_EPERM,
	    ONLY_ADMINS("managing another user's keys"), 1 },
	{ OP_KEY_CREATE_MANY, T_ALICE, "dave", APIKEY_EPERM,
	    ONLY_ADMINS("managing another user's keys"), 1 },
	{ OP_KEY_LIST, T_ALICE, "bob", APIKEY_EPERM,
	    ONLY_ADMINS("managing another user's keys"), 0 },
	{ OP_KEY_SHOW, T_ALICE_KEY, "dave", APIKEY_ENOTFOUND, NOKEY, 0 },
	{ OP_KEY_SHOW, T_ALICE_KEY, STRANGER, APIKEY_ENOTFOUND, NOKEY, 0 },
	{ OP_KEY_ENABLE, T_ALICE_OFF, "dave", APIKEY_ENOTFOUND, NOKEY, 0 },
	{ OP_KEY_DISABLE, T_ALICE_KEY, "dave", APIKEY_ENOTFOUND, NOKEY, 0 },
	{ OP_KEY_UPDATE, T_ALICE_KEY, "dave", APIKEY_ENOTFOUND, NOKEY, 0 },
	{ OP_KEY_ROTATE, T_ALICE_KEY, "bob", APIKEY_ENOTFOUND, NOKEY, 1 },
	{ OP_KEY_REVOKE, T_ALICE_KEY, "dave", APIKEY_ENOTFOUND, NOKEY, 0 },
	/* A change that would change nothing tells no more. */
	{ OP_KEY_ENABLE, T_ALICE_KEY, "dave", APIKEY_ENOTFOUND, NOKEY, 0 },
	{ OP_KEY_DISABLE, T_ALICE_OFF, "bob", APIKEY_ENOTFOUND, NOKEY, 0 },
	{ OP_KEY_LIST, T_SELF, "dave", 0, "", 0 },
	/* alice's expired key is hers to purge, not dave's. */
	{ OP_KEY_PURGE, T_NONE, "dave", 0, "purged 0", 0 },
	/* A uid NSS does not know owns nothing and may make nothing. */
	{ OP_KEY_CREATE, T_SELF, STRANGER, APIKEY_EINVAL, NONAME, 1 },
	{ OP_KEY_CREATE_MANY, T_SELF, STRANGER, APIKEY_EINVAL, NONAME, 0 },
	{ OP_KEY_LIST, T_SELF, STRANGER, APIKEY_EINVAL, NONAME, 0 },
};

#define NROWS	(sizeof(rows) / sizeof(rows[0]))

static void
caller_ids(const char *caller, uid_t *uid, gid_t *gid)
{
	if (strcmp(caller, STRANGER) == 0) {
		*uid = STRANGER_UID;
		*gid = STRANGER_GID;
	} else {
		*uid = it_uid(caller);
		*gid = it_gid(caller);
	}
}

static const char *
row_name(const struct row *r)
{
	return it_printf("%s on %s as %s", ops[r->op].wire,
	    r->target == T_NONE ? "-" : target_name[r->target], r->caller);
}

static const char *
expected_sees(const struct row *r)
{
	if (strcmp(r->sees, NOKEY) == 0)
		return it_printf("%s%s", NOKEY, arg[r->target]);
	return r->sees;
}

/* --- the fixture ---------------------------------------------------------- */

static const char *
key_off(enum apikey_owner_kind kind, const char *owner)
{
	struct apikey_key *k = NULL;
	const char *tok = it_key_lib(kind, owner, NULL, NULL);

	cr_assert_eq(apikey_key_set_enabled(it_aclient(), it_id(tok), 0, &k),
	    0);
	apikey_key_free(k);
	return tok;
}

static const char *
key_expiring(enum apikey_owner_kind kind, const char *owner)
{
	struct apikey_key_spec *spec = apikey_key_spec_new();
	const char *tok;

	cr_assert_eq(apikey_key_spec_set_expires_in(spec, 1), 0);
	tok = it_key_lib(kind, owner, spec, NULL);
	apikey_key_spec_free(spec);
	return tok;
}

static void
make_fixture(void)
{
	struct apikey_tenant *t = NULL;
	const char *old[2];
	size_t i;

	it_tenant("acme", "acme", "acme-admins");
	it_tenant("beta", "beta", NULL);
	it_tenant("gamma", "beta", "acme-admins");
	cr_assert_eq(apikey_tenant_set_enabled(it_aclient(), "gamma", 0, &t),
	    0);
	apikey_tenant_free(t);
	cr_assert_eq(apikey_tenant_set_privileged(it_aclient(), "gamma", 1,
	    &t), 0);
	apikey_tenant_free(t);
	arg[T_NONE] = arg[T_SELF] = "";
	arg[T_ALICE] = "alice";
	arg[T_ACME] = "acme";
	arg[T_BETA] = "beta";
	arg[T_GAMMA] = "gamma";
	arg[T_ZETA] = "zeta";
	arg[T_ALICE_KEY] = it_id(it_key_lib(APIKEY_OWNER_USER, "alice", NULL,
	    NULL));
	arg[T_ALICE_OFF] = it_id(key_off(APIKEY_OWNER_USER, "alice"));
	arg[T_ACME_KEY] = it_id(it_key_lib(APIKEY_OWNER_TENANT, "acme", NULL,
	    NULL));
	arg[T_ACME_OFF] = it_id(key_off(APIKEY_OWNER_TENANT, "acme"));
	arg[T_BETA_KEY] = it_id(it_key_lib(APIKEY_OWNER_TENANT, "beta", NULL,
	    NULL));
	arg[T_BETA_OFF] = it_id(key_off(APIKEY_OWNER_TENANT, "beta"));
	old[0] = key_expiring(APIKEY_OWNER_USER, "alice");
	old[1] = key_expiring(APIKEY_OWNER_TENANT, "beta");
	for (i = 0; i < 2; i++)
		it_wait_code(old[i], NULL, APIKEY_EXPIRED);
}

/* --- one request as the caller, through libapikey ------------------------- */

struct outcome {
	int		 opened;	/* apikey_open_admin()'s code */
	int		 rc;
	char		 sees[600];
};

/* The owner a KEY_CREATE or KEY_LIST names for a target. */
static enum apikey_owner_kind
owner_kind(enum target t)
{
	return t == T_SELF ? APIKEY_OWNER_SELF : t == T_ALICE ?
	    APIKEY_OWNER_USER : APIKEY_OWNER_TENANT;
}

/* Appends an item's name to o->sees, space-separated. */
static void
seen(struct outcome *o, const char *name)
{
	size_t	 n = strlen(o->sees);

	snprintf(o->sees + n, sizeof(o->sees) - n, "%s%s", n ? " " : "",
	    name);
}

/* KEY_CREATE_MANY's callback: any key made is a refusal that failed. */
static void
made_one(void *out, const struct apikey_key *k, const char *token)
{
	struct outcome	*o = out;

	(void)token;
	seen(o, apikey_key_id(k));
}

/*
 * Makes the request on c. Runs in the child: no Criterion, no harness;
 * whatever the daemon grants is freed, and a token wiped.
 */
static void
request(struct apikey_client *c, enum op op, const char *a,
    enum apikey_owner_kind kind, struct outcome *o)
{
	struct apikey_key_spec *spec = NULL;
	struct apikey_tenant_list *tl = NULL;
	struct apikey_audit_list *al = NULL;
	struct apikey_key_list *kl = NULL;
	struct apikey_status *st = NULL;
	struct apikey_tenant *t = NULL;
	struct apikey_key *k = NULL;
	char *tok = NULL;
	unsigned n = 0;
	size_t i;

	switch (op) {
	case OP_STATUS:
		if ((o->rc = apikey_status(c, &st)) == 0)
			snprintf(o->sees, sizeof(o->sees), "counters %d",
			    apikey_status_has_counters(st));
		break;
	case OP_TENANT_ADD:
		o->rc = apikey_tenant_add(c, a, "dave", NULL, &t);
		break;
	case OP_TENANT_LIST:
		o->rc = apikey_tenant_list(c, &tl);
		for (i = 0; o->rc == 0 && i < apikey_tenant_list_count(tl); i++)
			seen(o, apikey_tenant_name(apikey_tenant_list_get(tl,
			    i)));
		break;
	case OP_TENANT_SHOW:
		o->rc = apikey_tenant_show(c, a, &t);
		break;
	case OP_TENANT_ENABLE:
	case OP_TENANT_DISABLE:
		o->rc = apikey_tenant_set_enabled(c, a, op == OP_TENANT_ENABLE,
		    &t);
		break;
	case OP_TENANT_REMOVE:
		o->rc = apikey_tenant_remove(c, a, 1, &n);
		break;
	case OP_TENANT_ALLOW:
	case OP_TENANT_DENY:
		o->rc = apikey_tenant_set_privileged(c, a,
		    op == OP_TENANT_ALLOW, &t);
		break;
	case OP_KEY_CREATE:
		o->rc = apikey_key_create(c, kind, *a ? a : NULL, NULL, &k,
		    &tok);
		break;
	case OP_KEY_CREATE_MANY:
		o->rc = apikey_key_create_many(c, kind, *a ? a : NULL, NULL, 3,
		    made_one, o, NULL);
		break;
	case OP_KEY_LIST:
		o->rc = apikey_key_list(c, kind, *a ? a : NULL, &kl);
		for (i = 0; o->rc == 0 && i < apikey_key_list_count(kl); i++)
			seen(o, apikey_key_id(apikey_key_list_get(kl, i)));
		break;
	case OP_KEY_SHOW:
		o->rc = apikey_key_show(c, a, &k);
		break;
	case OP_KEY_ENABLE:
	case OP_KEY_DISABLE:
		o->rc = apikey_key_set_enabled(c, a, op == OP_KEY_ENABLE, &k);
		break;
	case OP_KEY_UPDATE:
		o->rc = (spec = apikey_key_spec_new()) == NULL ? APIKEY_ENOMEM :
		    apikey_key_spec_set_name(spec, "renamed");
		if (o->rc == 0)
			o->rc = apikey_key_update(c, a, spec, &k);
		break;
	case OP_KEY_ROTATE:
		o->rc = apikey_key_rotate(c, a, 3600, &k, &tok);
		break;
	case OP_KEY_REVOKE:
		o->rc = apikey_key_revoke(c, a);
		break;
	case OP_KEY_PURGE:
		if ((o->rc = apikey_key_purge_expired(c, &n)) == 0)
			snprintf(o->sees, sizeof(o->sees), "purged %u", n);
		break;
	case OP_AUDIT_LIST:
		o->rc = apikey_audit_list(c, 0, &al);
		for (i = 0; o->rc == 0 && i < apikey_audit_list_count(al); i++)
			seen(o, apikey_audit_action(apikey_audit_list_get(al,
			    i)));
		break;
	}
	if (o->rc != 0)
		snprintf(o->sees, sizeof(o->sees), "%s", apikey_last_error(c));
	apikey_token_free(tok);
	apikey_key_free(k);
	apikey_key_spec_free(spec);
	apikey_key_list_free(kl);
	apikey_tenant_free(t);
	apikey_tenant_list_free(tl);
	apikey_audit_list_free(al);
	apikey_status_free(st);
}

/*
 * Runs row r in a child that is the caller, and returns what it saw. The
 * child dies with the test (asked after the uid change, which clears the
 * request) and reports on a pipe; the parent waits for both with a
 * deadline.
 */
static void
run_as_caller(const struct row *r, struct outcome *o)
{
	const char	*dir = it_sock_dir();
	pid_t		 parent = getpid(), pid;
	struct pollfd	 pfd;
	struct apikey_client *c;
	uid_t		 uid;
	gid_t		 gid;
	int		 p[2], st;

	caller_ids(r->caller, &uid, &gid);
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0, "pipe: %s", strerror(errno));
	cr_assert_neq(pid = fork(), -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		close(p[0]);
		if (setgroups(0, NULL) == -1 || setresgid(gid, gid, gid) ==
		    -1 || setresuid(uid, uid, uid) == -1 ||
		    prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    getppid() != parent)
			_exit(2);
		memset(o, 0, sizeof(*o));
		o->opened = apikey_open_admin(dir, IT_DEADLINE_MS, &c);
		if (o->opened == 0) {
			request(c, r->op, arg[r->target],
			    owner_kind(r->target), o);
			apikey_close(c);
		}
		_exit(write(p[1], o, sizeof(*o)) == (ssize_t)sizeof(*o) ?
		    0 : 3);
	}
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	cr_assert_eq(poll(&pfd, 1, IT_DEADLINE_MS), 1, "%s: no answer within "
	    "%d ms", row_name(r), IT_DEADLINE_MS);
	cr_assert_eq(read(p[0], o, sizeof(*o)), (ssize_t)sizeof(*o),
	    "%s: the child failed", row_name(r));
	close(p[0]);
	st = it_proc_wait(pid, IT_DEADLINE_MS);
	cr_assert_eq(st, 0, "%s: the child exited %d", row_name(r), st);
	cr_assert_eq(o->opened, 0, "%s: cannot connect: %s", row_name(r),
	    apikey_strerror(o->opened));
	o->sees[sizeof(o->sees) - 1] = '\0';
}

/* --- the same through apikeyctl ------------------------------------------- */

static int
exit_status(int err)
{
	switch (err) {
	case 0:
		return 0;
	case APIKEY_EPERM:
		return 4;
	case APIKEY_ENOTFOUND:
		return 5;
	default:	/* EINVAL, ELIMIT */
		return 7;
	}
}

static void
run_ctl(const struct row *r, struct it_run *run)
{
	const char	*args[12];
	struct it_ctl_opt o = { 0 };
	const char	*a = arg[r->target];
	size_t		 n = 0;

	args[n++] = ops[r->op].ctl[0];
	if (ops[r->op].ctl[1] != NULL)
		args[n++] = ops[r->op].ctl[1];
	if (r->op == OP_KEY_CREATE || r->op == OP_KEY_LIST ||
	    r->op == OP_KEY_CREATE_MANY) {
		if (r->target != T_SELF) {
			args[n++] = r->target == T_ALICE ? "--user" :
			    "--tenant";
			args[n++] = a;
		}
	} else if (r->target != T_NONE)
		args[n++] = a;
	if (r->op == OP_TENANT_ADD) {
		args[n++] = "--group";
		args[n++] = "dave";
	} else if (r->op == OP_TENANT_REMOVE)
		args[n++] = "--force";
	else if (r->op == OP_KEY_UPDATE) {
		args[n++] = "--name";
		args[n++] = "renamed";
	} else if (r->op == OP_KEY_ROTATE) {
		args[n++] = "--grace";
		args[n++] = "1h";
	} else if (r->op == OP_KEY_CREATE_MANY) {
		args[n++] = "--count";
		args[n++] = "3";
	}
	args[n] = NULL;
	o.ids = 1;
	caller_ids(r->caller, &o.uid, &o.gid);
	it_ctlv(run, &o, args);
}

/* --- the table ------------------------------------------------------------ */

Test(refusals, every_management_request_of_an_unprivileged_user)
{
	struct its_store base;
	struct outcome	 o;
	struct it_run	 run;
	const char	*name, *want;
	size_t		 i;
	int		 t;

	make_fixture();
	its_snapshot(&base);
	/* The dump sees the keys, so an unchanged one means something. */
	for (t = T_ALICE_KEY; t < T_MAX; t++)
		it_assert_has(base.dump, arg[t]);

	for (i = 0; i < NROWS; i++) {
		name = row_name(&rows[i]);
		want = expected_sees(&rows[i]);
		run_as_caller(&rows[i], &o);
		cr_expect_eq(o.rc, rows[i].want, "%s: got %s (\"%s\"), "
		    "expected %s", name, apikey_strerror(o.rc), o.sees,
		    apikey_strerror(rows[i].want));
		cr_expect_str_eq(o.sees, want, "%s: saw \"%s\", expected "
		    "\"%s\"", name, o.sees, want);
		its_assert_unchanged(&base, name);
	}

	/* apikeyctl says the same, with the exit status of docs/cli.md. */
	for (i = 0; i < NROWS; i++) {
		if (!rows[i].cli)
			continue;
		name = it_printf("apikeyctl: %s", row_name(&rows[i]));
		run_ctl(&rows[i], &run);
		cr_expect_eq(run.status, exit_status(rows[i].want), "%s: exit "
		    "%d, stderr: %s", name, run.status, run.err);
		cr_expect_str_eq(run.err, it_printf("apikeyctl: %s\n",
		    expected_sees(&rows[i])), "%s: stderr: %s", name, run.err);
		cr_expect_str_eq(run.out, "", "%s: stdout: %s", name, run.out);
		its_assert_unchanged(&base, name);
	}
}
