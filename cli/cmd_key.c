/*
 * cmd_key.c - apikeyctl key create|list|show|enable|disable|revoke|rotate|
 * update|purge-expired.
 *
 * create and update share their settings: one option handler fills an
 * apikey_key_spec for both, and the library sends only what was set, which
 * is what makes an update leave alone whatever was not given. The one copy
 * of a new token is printed and wiped right away.
 */
#include <string.h>

#include "../libclient/apikey.h"
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
};

/* The settings create and update share; each adds its own options. */
static const struct option setting_opts[] = {
	{ "name",            required_argument, NULL, OPT_NAME },
	{ "expires",         required_argument, NULL, OPT_EXPIRES },
	{ "service",         required_argument, NULL, OPT_SERVICE },
	{ "permission",      required_argument, NULL, OPT_PERMISSION },
	{ "allow-user",      required_argument, NULL, OPT_ALLOW_USER },
	{ "metadata",        required_argument, NULL, OPT_METADATA },
	{ NULL,              0,                 NULL, 0 }
};

static const struct option create_opts[] = {
	{ "user",            required_argument, NULL, OPT_USER },
	{ "tenant",          required_argument, NULL, OPT_TENANT },
	{ "prefix",          required_argument, NULL, OPT_PREFIX },
	{ "quiet",           no_argument,       NULL, 'q' },
	{ NULL,              0,                 NULL, 0 }
};

static const struct option update_opts[] = {
	{ "no-services",     no_argument,       NULL, OPT_NO_SERVICES },
	{ "no-permissions",  no_argument,       NULL, OPT_NO_PERMISSIONS },
	{ "no-allow-users",  no_argument,       NULL, OPT_NO_ALLOW_USERS },
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

/* The lists a spec holds, as bits, and their option names. */
#define LIST_SERVICES		0x01
#define LIST_PERMISSIONS	0x02
#define LIST_ALLOWED_USERS	0x04
static const char *const list_opt[] = { "service", "permission", "allow-user" };

/* The settings of a key create or key update, as they are scanned. */
struct settings {
	struct apikey_key_spec	*spec;
	int			 update;
	int			 given;		/* settings seen */
	unsigned		 added;		/* LIST_* given items */
	unsigned		 cleared;	/* LIST_* given --no-* */
};

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

/*
 * Applies one create or update option ch to s->spec. Returns -1 to go on,
 * else the exit status.
 */
static int
setting(const struct args *a, struct settings *s, int ch)
{
	const char	*opt;
	int		 err;

	s->given++;
	switch (ch) {
	case OPT_NAME:
		opt = "--name";
		err = apikey_key_spec_set_name(s->spec, a->arg);
		break;
	case OPT_PREFIX:
		opt = "--prefix";
		err = apikey_key_spec_set_prefix(s->spec, a->arg);
		break;
	case OPT_EXPIRES:
		opt = "--expires";
		if ((err = set_expires(a, s)) > 0)
			return err;	/* a usage error, printed */
		break;
	case OPT_SERVICE:
		opt = "--service";
		s->added |= LIST_SERVICES;
		err = apikey_key_spec_add_service(s->spec, a->arg);
		break;
	case OPT_PERMISSION:
		opt = "--permission";
		s->added |= LIST_PERMISSIONS;
		err = apikey_key_spec_add_permission(s->spec, a->arg);
		break;
	case OPT_ALLOW_USER:
		opt = "--allow-user";
		s->added |= LIST_ALLOWED_USERS;
		err = apikey_key_spec_add_allowed_user(s->spec, a->arg);
		break;
	case OPT_NO_SERVICES:
		opt = "--no-services";
		s->cleared |= LIST_SERVICES;
		err = apikey_key_spec_clear_services(s->spec);
		break;
	case OPT_NO_PERMISSIONS:
		opt = "--no-permissions";
		s->cleared |= LIST_PERMISSIONS;
		err = apikey_key_spec_clear_permissions(s->spec);
		break;
	case OPT_NO_ALLOW_USERS:
		opt = "--no-allow-users";
		s->cleared |= LIST_ALLOWED_USERS;
		err = apikey_key_spec_clear_allowed_users(s->spec);
		break;
	case OPT_METADATA:
		opt = "--metadata";
		if (*a->arg != '\0' && !jout_is_object(a->arg))
			return args_usage(a,
			    "--metadata must be a JSON object");
		/* '' clears it in an update; a new key has none anyway. */
		err = *a->arg == '\0' && !s->update ? 0 :
		    apikey_key_spec_set_metadata(s->spec, a->arg);
		break;
	default:
		/* not reached: the option tables hold nothing else */
		return args_usage(a, "unexpected option");
	}
	return err == 0 ? -1 : ctl_fail_value(opt, err);
}

/* After the scan: -1 to go on, else the exit status. */
static int
check_settings(const struct args *a, const struct settings *s)
{
	size_t i;

	for (i = 0; i < sizeof(list_opt) / sizeof(list_opt[0]); i++)
		if (s->added & s->cleared & (1U << i))
			return args_usage(a, "--%s and --no-%ss exclude each "
			    "other", list_opt[i], list_opt[i]);
	if (s->update && s->given == 0)
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

int
cmd_key_create(struct ctl *ctl, int argc, char **argv)
{
	struct settings		 s = { 0 };
	struct apikey_key	*key = NULL;
	struct args		 a;
	enum apikey_owner_kind	 kind = APIKEY_OWNER_SELF;
	const char		*user = NULL, *tenant = NULL, *owner = NULL;
	char			*token = NULL;
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
		else if ((rc = setting(&a, &s, ch)) != -1)
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
