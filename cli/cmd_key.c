/*
 * cmd_key.c - apikeyctl key create|list|show|enable|disable|revoke|rotate|
 * update|purge-expired.
 *
 * create and update share their settings: one option handler fills an
 * apikey_key_spec for both, and the library sends only what was set, which
 * is what makes an update leave alone whatever was not given. The one copy
 * of a new token is printed and wiped right away.
 *
 * Whether a value is acceptable (a CIDR, a rate window the daemon allows)
 * is apikeyd's call; the checks here are the ones a line can fail on its
 * own: the shape of a value, and options that contradict each other.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <apikey.h>

#include "apikeyctl.h"
#include "args.h"
#include "json.h"
#include "output.h"

enum {
	OPT_USER = ARGS_OPT_BASE,
	OPT_TENANT,
	OPT_NAME,
	OPT_PREFIX,
	OPT_EXPIRES,
	OPT_SERVICE,
	OPT_PERMISSION,
	OPT_ALLOW_USER,
	OPT_METADATA,
	OPT_NO_SERVICES,
	OPT_NO_PERMISSIONS,
	OPT_NO_ALLOW_USERS,
	OPT_GRACE,
	OPT_RATE,
	OPT_REMAINING,
	OPT_REFILL,
	OPT_ALLOW_CIDR,
	OPT_NO_RATE,
	OPT_NO_CREDITS,
	OPT_NO_REFILL,
	OPT_NO_CIDRS,
	OPT_STRICT_SYNC,
	OPT_NO_STRICT_SYNC,
	OPT_COUNT,
};

/* An option's bit in struct settings' seen. */
#define SEEN(opt)	(1UL << ((opt) - ARGS_OPT_BASE))

/* Largest credit count: what a JSON integer holds. */
#define CREDITS_MAX	((uint64_t)INT64_MAX)
/* Longest rate window: its milliseconds fit the wire's u32. */
#define RATE_WINDOW_MAX	((uint64_t)UINT32_MAX / 1000)

/* The settings create and update share; each adds its own options. */
static const struct option setting_opts[] = {
	{ "name",            required_argument, NULL, OPT_NAME },
	{ "expires",         required_argument, NULL, OPT_EXPIRES },
	{ "service",         required_argument, NULL, OPT_SERVICE },
	{ "permission",      required_argument, NULL, OPT_PERMISSION },
	{ "allow-user",      required_argument, NULL, OPT_ALLOW_USER },
	{ "metadata",        required_argument, NULL, OPT_METADATA },
	{ "rate",            required_argument, NULL, OPT_RATE },
	{ "remaining",       required_argument, NULL, OPT_REMAINING },
	{ "refill",          required_argument, NULL, OPT_REFILL },
	{ "allow-cidr",      required_argument, NULL, OPT_ALLOW_CIDR },
	{ "strict-sync",     no_argument,       NULL, OPT_STRICT_SYNC },
	{ NULL,              0,                 NULL, 0 }
};

static const struct option create_opts[] = {
	{ "user",            required_argument, NULL, OPT_USER },
	{ "tenant",          required_argument, NULL, OPT_TENANT },
	{ "prefix",          required_argument, NULL, OPT_PREFIX },
	{ "count",           required_argument, NULL, OPT_COUNT },
	{ "quiet",           no_argument,       NULL, 'q' },
	{ NULL,              0,                 NULL, 0 }
};

static const struct option update_opts[] = {
	{ "no-services",     no_argument,       NULL, OPT_NO_SERVICES },
	{ "no-permissions",  no_argument,       NULL, OPT_NO_PERMISSIONS },
	{ "no-allow-users",  no_argument,       NULL, OPT_NO_ALLOW_USERS },
	{ "no-rate",         no_argument,       NULL, OPT_NO_RATE },
	{ "no-credits",      no_argument,       NULL, OPT_NO_CREDITS },
	{ "no-refill",       no_argument,       NULL, OPT_NO_REFILL },
	{ "no-cidrs",        no_argument,       NULL, OPT_NO_CIDRS },
	{ "no-strict-sync",  no_argument,       NULL, OPT_NO_STRICT_SYNC },
	{ NULL,              0,                 NULL, 0 }
};

static const struct option list_opts[] = {
	{ "user",            required_argument, NULL, OPT_USER },
	{ "tenant",          required_argument, NULL, OPT_TENANT },
	{ NULL,              0,                 NULL, 0 }
};

static const struct option rotate_opts[] = {
	{ "grace",           required_argument, NULL, OPT_GRACE },
	{ "quiet",           no_argument,       NULL, 'q' },
	{ NULL,              0,                 NULL, 0 }
};

/* Options of an update that contradict each other. */
static const struct {
	int	set, clear;
} conflicts[] = {
	{ OPT_SERVICE,		OPT_NO_SERVICES },
	{ OPT_PERMISSION,	OPT_NO_PERMISSIONS },
	{ OPT_ALLOW_USER,	OPT_NO_ALLOW_USERS },
	{ OPT_ALLOW_CIDR,	OPT_NO_CIDRS },
	{ OPT_RATE,		OPT_NO_RATE },
	{ OPT_REMAINING,	OPT_NO_CREDITS },
	{ OPT_REFILL,		OPT_NO_REFILL },
	{ OPT_REFILL,		OPT_NO_CREDITS },
	{ OPT_STRICT_SYNC,	OPT_NO_STRICT_SYNC },
};

/* The settings of a key create or key update, as they are scanned. */
struct settings {
	struct apikey_key_spec	*spec;
	int			 update;
	unsigned long		 seen;		/* SEEN() of the options */
};

/* The long name of a create or update option, for messages. */
static const char *
setting_name(int val)
{
	static const struct option *const tables[] = {
		setting_opts, create_opts, update_opts
	};
	const struct option	*o;
	size_t			 i;

	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		for (o = tables[i]; o->name != NULL; o++)
			if (o->val == val)
				return o->name;
	return "?";
}

/* The spec's APIKEY_E* code (0 or negative), or CTL_EXIT_USAGE after a
 * usage error. */
static int
set_expires(const struct args *a, struct settings *s)
{
	uint64_t secs;

	if (strcmp(a->arg, "never") == 0)
		secs = 0;
	else if (args_duration_value(a, "--expires", &secs) == -1)
		return CTL_EXIT_USAGE;
	else if (secs == 0)	/* a key that expires as it is made */
		return args_usage(a, "--expires: '%s' is no time at all%s",
		    a->arg, s->update ? "; to clear the expiry use never" : "");
	return apikey_key_spec_set_expires_in(s->spec, secs);
}

/* --rate N/DURATION, as set_expires. */
static int
set_rate(const struct args *a, struct settings *s)
{
	uint64_t n, secs;

	if (args_per_value(a, "--rate", "N/DURATION, e.g. 100/1m",
	    UINT32_MAX, RATE_WINDOW_MAX, &n, &secs) == -1)
		return CTL_EXIT_USAGE;
	return apikey_key_spec_set_rate(s->spec, (uint32_t)n,
	    (uint32_t)(secs * 1000));
}

/* --refill AMOUNT/INTERVAL, as set_expires. */
static int
set_refill(const struct args *a, struct settings *s)
{
	uint64_t n, secs;

	if (args_per_value(a, "--refill", "AMOUNT/INTERVAL, e.g. 1000/1d",
	    CREDITS_MAX, ARGS_DURATION_MAX, &n, &secs) == -1)
		return CTL_EXIT_USAGE;
	return apikey_key_spec_set_refill(s->spec, n, secs);
}

/* --remaining N, as set_expires. */
static int
set_credits(const struct args *a, struct settings *s)
{
	uint64_t n;

	if (args_number_value(a, "--remaining", CREDITS_MAX, &n) == -1)
		return CTL_EXIT_USAGE;
	return apikey_key_spec_set_credits(s->spec, n);
}

/* --no-credits: a refill without credits would mean nothing, so it goes
 * too, and saying so on the wire leaves nothing to the daemon's guess. */
static int
clear_credits(struct settings *s)
{
	int err;

	if ((err = apikey_key_spec_clear_credits(s->spec)) != 0)
		return err;
	return apikey_key_spec_set_refill(s->spec, 0, 0);
}

/*
 * Applies one create or update option ch to s->spec. Returns -1 to go on,
 * else the exit status.
 */
static int
setting(const struct args *a, struct settings *s, int ch)
{
	char	opt[32];
	int	err;

	if (ch < ARGS_OPT_BASE || ch > OPT_NO_STRICT_SYNC)
		/* not reached: the option tables hold nothing else */
		return args_usage(a, "unexpected option");
	s->seen |= SEEN(ch);
	snprintf(opt, sizeof(opt), "--%s", setting_name(ch));
	switch (ch) {
	case OPT_NAME:
		err = apikey_key_spec_set_name(s->spec, a->arg);
		break;
	case OPT_PREFIX:
		err = apikey_key_spec_set_prefix(s->spec, a->arg);
		break;
	case OPT_EXPIRES:
		err = set_expires(a, s);
		break;
	case OPT_SERVICE:
		err = apikey_key_spec_add_service(s->spec, a->arg);
		break;
	case OPT_PERMISSION:
		err = apikey_key_spec_add_permission(s->spec, a->arg);
		break;
	case OPT_ALLOW_USER:
		err = apikey_key_spec_add_allowed_user(s->spec, a->arg);
		break;
	case OPT_ALLOW_CIDR:
		err = apikey_key_spec_add_cidr(s->spec, a->arg);
		break;
	case OPT_RATE:
		err = set_rate(a, s);
		break;
	case OPT_REMAINING:
		err = set_credits(a, s);
		break;
	case OPT_REFILL:
		err = set_refill(a, s);
		break;
	case OPT_NO_SERVICES:
		err = apikey_key_spec_clear_services(s->spec);
		break;
	case OPT_NO_PERMISSIONS:
		err = apikey_key_spec_clear_permissions(s->spec);
		break;
	case OPT_NO_ALLOW_USERS:
		err = apikey_key_spec_clear_allowed_users(s->spec);
		break;
	case OPT_NO_CIDRS:
		err = apikey_key_spec_clear_cidrs(s->spec);
		break;
	case OPT_NO_RATE:
		err = apikey_key_spec_set_rate(s->spec, 0, 0);
		break;
	case OPT_NO_CREDITS:
		err = clear_credits(s);
		break;
	case OPT_NO_REFILL:
		err = apikey_key_spec_set_refill(s->spec, 0, 0);
		break;
	case OPT_STRICT_SYNC:
	case OPT_NO_STRICT_SYNC:
		err = apikey_key_spec_set_strict_sync(s->spec,
		    ch == OPT_STRICT_SYNC);
		break;
	case OPT_METADATA:
		if (*a->arg != '\0' && !jout_is_object(a->arg))
			return args_usage(a,
			    "--metadata must be a JSON object");
		/* '' clears it in an update; a new key has none anyway. */
		err = *a->arg == '\0' && !s->update ? 0 :
		    apikey_key_spec_set_metadata(s->spec, a->arg);
		break;
	default:
		return args_usage(a, "unexpected option");
	}
	if (err > 0)
		return err;	/* a usage error, printed */
	return err == 0 ? -1 : ctl_fail_value(opt, err);
}

/* After the scan: -1 to go on, else the exit status. */
static int
check_settings(const struct args *a, const struct settings *s)
{
	size_t i;

	for (i = 0; i < sizeof(conflicts) / sizeof(conflicts[0]); i++)
		if ((s->seen & SEEN(conflicts[i].set)) &&
		    (s->seen & SEEN(conflicts[i].clear)))
			return args_usage(a, "--%s and --%s exclude each other",
			    setting_name(conflicts[i].set),
			    setting_name(conflicts[i].clear));
	/* An update may refill the credits the key already has. */
	if (!s->update && (s->seen & SEEN(OPT_REFILL)) &&
	    !(s->seen & SEEN(OPT_REMAINING)))
		return args_usage(a, "--refill needs --remaining");
	if (s->update && s->seen == 0)
		return args_usage(a, "nothing to update: give a setting");
	return -1;
}

/* --user, --tenant or neither: -1 to go on, else the exit status. */
static int
pick_owner(const struct args *a, const char *user, const char *tenant,
    enum apikey_owner_kind *kind, const char **owner)
{
	if (user != NULL && tenant != NULL)
		return args_usage(a, "--user and --tenant exclude each other");
	*kind = user != NULL ? APIKEY_OWNER_USER :
	    tenant != NULL ? APIKEY_OWNER_TENANT : APIKEY_OWNER_SELF;
	*owner = user != NULL ? user : tenant;
	return -1;
}

/* key create --count: each key printed as it arrives. */
struct created {
	struct ctl	*ctl;
	int		 quiet;
	size_t		 n;
	int		 failed;
};

static void
print_created(void *arg, const struct apikey_key *k, const char *token)
{
	struct created	*cr = arg;

	if (out_key_token_item(cr->ctl->json, cr->quiet, cr->n++, k,
	    token) != 0)
		cr->failed = 1;
}

static int
create_many(struct ctl *ctl, enum apikey_owner_kind kind, const char *owner,
    const struct apikey_key_spec *spec, uint32_t count, int quiet)
{
	struct created	 cr = { ctl, quiet, 0, 0 };
	int		 err;

	err = apikey_key_create_many(ctl->client, kind, owner, spec, count,
	    print_created, &cr, NULL);
	out_key_token_end(ctl->json, quiet, cr.n);
	if (err != 0)
		return ctl_fail(ctl, err);
	return ctl_printed(cr.failed ? -1 : 0);
}

int
cmd_key_create(struct ctl *ctl, int argc, char **argv)
{
	struct settings		 s = { 0 };
	struct apikey_key	*key = NULL;
	struct args		 a;
	enum apikey_owner_kind	 kind = APIKEY_OWNER_SELF;
	const char		*user = NULL, *tenant = NULL, *owner = NULL;
	char			*token = NULL;
	uint64_t		 count = 0;
	int			 ch, rc, err, quiet = 0;

	if ((s.spec = apikey_key_spec_new()) == NULL)
		return ctl_printed(-1);
	args_init(&a, ctl, argc, argv, 0, "q", create_opts);
	args_add_options(&a, setting_opts);
	while ((ch = args_next(&a)) > 0) {
		if (ch == OPT_USER)
			user = a.arg;
		else if (ch == OPT_TENANT)
			tenant = a.arg;
		else if (ch == 'q')
			quiet = 1;
		else if (ch == OPT_COUNT) {
			if (args_number_value(&a, "--count",
			    APIKEY_CREATE_MANY_MAX, &count) == -1) {
				rc = CTL_EXIT_USAGE;
				goto out;
			}
			if (count == 0) {
				rc = args_usage(&a, "--count: must be at "
				    "least 1");
				goto out;
			}
		} else if ((rc = setting(&a, &s, ch)) != -1)
			goto out;
	}
	if (ch != ARGS_END) {
		rc = args_finish(&a, ch);
		goto out;
	}
	if (args_positionals(&a, 0, 0, "") == -1) {
		rc = CTL_EXIT_USAGE;
		goto out;
	}
	if ((rc = check_settings(&a, &s)) != -1 ||
	    (rc = pick_owner(&a, user, tenant, &kind, &owner)) != -1)
		goto out;

	if ((rc = ctl_connect(ctl, 1)) != 0)
		goto out;
	if (count > 0) {
		rc = create_many(ctl, kind, owner, s.spec, (uint32_t)count,
		    quiet);
		goto out;
	}
	if ((err = apikey_key_create(ctl->client, kind, owner, s.spec, &key,
	    &token)) != 0) {
		rc = ctl_fail(ctl, err);
		goto out;
	}
	rc = ctl_printed(out_key_token(ctl->json, quiet, key, token));
 out:
	apikey_token_free(token);
	apikey_key_free(key);
	apikey_key_spec_free(s.spec);
	return rc;
}

int
cmd_key_update(struct ctl *ctl, int argc, char **argv)
{
	struct settings		 s = { .update = 1 };
	struct apikey_key	*key = NULL;
	struct args		 a;
	int			 ch, rc, err;

	if ((s.spec = apikey_key_spec_new()) == NULL)
		return ctl_printed(-1);
	args_init(&a, ctl, argc, argv, 0, NULL, update_opts);
	args_add_options(&a, setting_opts);
	while ((ch = args_next(&a)) > 0)
		if ((rc = setting(&a, &s, ch)) != -1)
			goto out;
	if (ch != ARGS_END) {
		rc = args_finish(&a, ch);
		goto out;
	}
	if (args_positionals(&a, 1, 1, "ID") == -1) {
		rc = CTL_EXIT_USAGE;
		goto out;
	}
	if ((rc = check_settings(&a, &s)) != -1)
		goto out;

	if ((rc = ctl_connect(ctl, 1)) != 0)
		goto out;
	if ((err = apikey_key_update(ctl->client, a.pos[0], s.spec,
	    &key)) != 0) {
		rc = ctl_fail(ctl, err);
		goto out;
	}
	rc = ctl_printed(out_key(ctl->json, key));
 out:
	apikey_key_free(key);
	apikey_key_spec_free(s.spec);
	return rc;
}

int
cmd_key_list(struct ctl *ctl, int argc, char **argv)
{
	struct apikey_key_list	*list = NULL;
	struct args		 a;
	enum apikey_owner_kind	 kind = APIKEY_OWNER_SELF;
	const char		*user = NULL, *tenant = NULL, *owner = NULL;
	int			 ch, rc, err;

	args_init(&a, ctl, argc, argv, 0, NULL, list_opts);
	while ((ch = args_next(&a)) > 0) {
		if (ch == OPT_USER)
			user = a.arg;
		else if (ch == OPT_TENANT)
			tenant = a.arg;
	}
	if (ch != ARGS_END)
		return args_finish(&a, ch);
	if (args_positionals(&a, 0, 0, "") == -1)
		return CTL_EXIT_USAGE;
	if ((rc = pick_owner(&a, user, tenant, &kind, &owner)) != -1)
		return rc;

	if ((rc = ctl_connect(ctl, 1)) != 0)
		return rc;
	if ((err = apikey_key_list(ctl->client, kind, owner, &list)) != 0)
		return ctl_fail(ctl, err);
	rc = ctl_printed(out_key_list(ctl->json, list));
	apikey_key_list_free(list);
	return rc;
}

int
cmd_key_rotate(struct ctl *ctl, int argc, char **argv)
{
	struct apikey_key	*key = NULL;
	struct args		 a;
	uint64_t		 grace = 0;	/* the old secret dies now */
	char			*token = NULL;
	int			 ch, rc, err, quiet = 0;

	args_init(&a, ctl, argc, argv, 0, "q", rotate_opts);
	while ((ch = args_next(&a)) > 0) {
		if (ch == 'q')
			quiet = 1;
		else if (ch == OPT_GRACE &&
		    args_duration_value(&a, "--grace", &grace) == -1)
			return CTL_EXIT_USAGE;
	}
	if (ch != ARGS_END)
		return args_finish(&a, ch);
	if (args_positionals(&a, 1, 1, "ID") == -1)
		return CTL_EXIT_USAGE;

	if ((rc = ctl_connect(ctl, 1)) != 0)
		return rc;
	if ((err = apikey_key_rotate(ctl->client, a.pos[0], grace, &key,
	    &token)) != 0)
		return ctl_fail(ctl, err);
	rc = ctl_printed(out_key_token(ctl->json, quiet, key, token));
	apikey_token_free(token);
	apikey_key_free(key);
	return rc;
}

int
cmd_key_show(struct ctl *ctl, int argc, char **argv)
{
	struct apikey_key	*key = NULL;
	struct args		 a;
	int			 rc, err;

	if ((rc = ctl_admin_only(&a, ctl, argc, argv, 1, "ID")) != -1)
		return rc;
	if ((err = apikey_key_show(ctl->client, a.pos[0], &key)) != 0)
		return ctl_fail(ctl, err);
	rc = ctl_printed(out_key(ctl->json, key));
	apikey_key_free(key);
	return rc;
}

static int
key_set_enabled(struct ctl *ctl, int argc, char **argv, int enabled)
{
	struct apikey_key	*key = NULL;
	struct args		 a;
	int			 rc, err;

	if ((rc = ctl_admin_only(&a, ctl, argc, argv, 1, "ID")) != -1)
		return rc;
	if ((err = apikey_key_set_enabled(ctl->client, a.pos[0], enabled,
	    &key)) != 0)
		return ctl_fail(ctl, err);
	rc = ctl_printed(out_key_done(ctl->json,
	    enabled ? "enabled" : "disabled", key));
	apikey_key_free(key);
	return rc;
}

int
cmd_key_enable(struct ctl *ctl, int argc, char **argv)
{
	return key_set_enabled(ctl, argc, argv, 1);
}

int
cmd_key_disable(struct ctl *ctl, int argc, char **argv)
{
	return key_set_enabled(ctl, argc, argv, 0);
}

int
cmd_key_revoke(struct ctl *ctl, int argc, char **argv)
{
	struct args	a;
	int		rc, err;

	if ((rc = ctl_admin_only(&a, ctl, argc, argv, 1, "ID")) != -1)
		return rc;
	if ((err = apikey_key_revoke(ctl->client, a.pos[0])) != 0)
		return ctl_fail(ctl, err);
	return ctl_printed(out_key_revoked(ctl->json, a.pos[0]));
}

int
cmd_key_purge_expired(struct ctl *ctl, int argc, char **argv)
{
	struct args	a;
	unsigned	purged = 0;
	int		rc, err;

	if ((rc = ctl_admin_only(&a, ctl, argc, argv, 0, "")) != -1)
		return rc;
	if ((err = apikey_key_purge_expired(ctl->client, &purged)) != 0)
		return ctl_fail(ctl, err);
	return ctl_printed(out_keys_purged(ctl->json, purged));
}
