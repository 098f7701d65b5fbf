/*
 * cmd_tenant.c - apikeyctl tenant add|list|show|enable|disable|remove and
 * allow-privileged|deny-privileged.
 *
 * Tenants map a name onto a local group; the daemon checks the group and
 * who may manage it, so these commands only carry the request and print
 * what came back.
 */
#include <apikey.h>

#include "apikeyctl.h"
#include "args.h"
#include "output.h"

int
cmd_tenant_add(struct ctl *ctl, int argc, char **argv)
{
	enum { OPT_GROUP = ARGS_OPT_BASE, OPT_ADMIN_GROUP, OPT_PRIVILEGED };
	static const struct option opts[] = {
		{ "group",	 required_argument, NULL, OPT_GROUP },
		{ "admin-group", required_argument, NULL, OPT_ADMIN_GROUP },
		{ "allow-privileged", no_argument,  NULL, OPT_PRIVILEGED },
		{ NULL,		 0,		    NULL, 0 }
	};
	struct apikey_tenant	*t = NULL;
	struct args		 a;
	const char		*group = NULL, *admin_group = NULL;
	int			 ch, rc, err, privileged = 0;

	args_init(&a, ctl, argc, argv, 0, NULL, opts);
	while ((ch = args_next(&a)) > 0) {
		if (ch == OPT_GROUP)
			group = a.arg;
		else if (ch == OPT_ADMIN_GROUP)
			admin_group = a.arg;
		else if (ch == OPT_PRIVILEGED)
			privileged = 1;
	}
	if (ch != ARGS_END)
		return args_finish(&a, ch);
	if (args_positionals(&a, 1, 1, "NAME") == -1)
		return CTL_EXIT_USAGE;
	if (group == NULL)
		return args_usage(&a, "missing --group GROUP");

	if ((rc = ctl_connect(ctl, 1)) != 0)
		return rc;
	if ((err = apikey_tenant_add(ctl->client, a.pos[0], group,
	    admin_group, &t)) != 0)
		return ctl_fail(ctl, err);
	/* A second request: until it lands the tenant is the safer kind. */
	if (privileged) {
		apikey_tenant_free(t);
		t = NULL;
		if ((err = apikey_tenant_set_privileged(ctl->client, a.pos[0],
		    1, &t)) != 0)
			return ctl_fail(ctl, err);
	}
	rc = ctl_printed(out_tenant(ctl->json, t));
	apikey_tenant_free(t);
	return rc;
}

int
cmd_tenant_list(struct ctl *ctl, int argc, char **argv)
{
	struct apikey_tenant_list	*list = NULL;
	struct args			 a;
	int				 rc, err;

	if ((rc = ctl_admin_only(&a, ctl, argc, argv, 0, "")) != -1)
		return rc;
	if ((err = apikey_tenant_list(ctl->client, &list)) != 0)
		return ctl_fail(ctl, err);
	rc = ctl_printed(out_tenant_list(ctl->json, list));
	apikey_tenant_list_free(list);
	return rc;
}

int
cmd_tenant_show(struct ctl *ctl, int argc, char **argv)
{
	struct apikey_tenant	*t = NULL;
	struct args		 a;
	int			 rc, err;

	if ((rc = ctl_admin_only(&a, ctl, argc, argv, 1, "NAME")) != -1)
		return rc;
	if ((err = apikey_tenant_show(ctl->client, a.pos[0], &t)) != 0)
		return ctl_fail(ctl, err);
	rc = ctl_printed(out_tenant(ctl->json, t));
	apikey_tenant_free(t);
	return rc;
}

static int
tenant_set_enabled(struct ctl *ctl, int argc, char **argv, int enabled)
{
	struct apikey_tenant	*t = NULL;
	struct args		 a;
	int			 rc, err;

	if ((rc = ctl_admin_only(&a, ctl, argc, argv, 1, "NAME")) != -1)
		return rc;
	if ((err = apikey_tenant_set_enabled(ctl->client, a.pos[0], enabled,
	    &t)) != 0)
		return ctl_fail(ctl, err);
	rc = ctl_printed(out_tenant_done(ctl->json,
	    enabled ? "enabled" : "disabled", t));
	apikey_tenant_free(t);
	return rc;
}

static int
tenant_set_privileged(struct ctl *ctl, int argc, char **argv, int allowed)
{
	struct apikey_tenant	*t = NULL;
	struct args		 a;
	int			 rc, err;

	if ((rc = ctl_admin_only(&a, ctl, argc, argv, 1, "NAME")) != -1)
		return rc;
	if ((err = apikey_tenant_set_privileged(ctl->client, a.pos[0],
	    allowed, &t)) != 0)
		return ctl_fail(ctl, err);
	rc = ctl_printed(out_tenant_done(ctl->json, allowed ?
	    "allowed privileged logins for" : "denied privileged logins for",
	    t));
	apikey_tenant_free(t);
	return rc;
}

int
cmd_tenant_allow_privileged(struct ctl *ctl, int argc, char **argv)
{
	return tenant_set_privileged(ctl, argc, argv, 1);
}

int
cmd_tenant_deny_privileged(struct ctl *ctl, int argc, char **argv)
{
	return tenant_set_privileged(ctl, argc, argv, 0);
}

int
cmd_tenant_enable(struct ctl *ctl, int argc, char **argv)
{
	return tenant_set_enabled(ctl, argc, argv, 1);
}

int
cmd_tenant_disable(struct ctl *ctl, int argc, char **argv)
{
	return tenant_set_enabled(ctl, argc, argv, 0);
}

int
cmd_tenant_remove(struct ctl *ctl, int argc, char **argv)
{
	enum { OPT_FORCE = ARGS_OPT_BASE };
	static const struct option opts[] = {
		{ "force",	no_argument,	NULL,	OPT_FORCE },
		{ NULL,		0,		NULL,	0 }
	};
	struct args	a;
	unsigned	revoked = 0;
	int		ch, rc, err, force = 0;

	args_init(&a, ctl, argc, argv, 0, NULL, opts);
	while ((ch = args_next(&a)) > 0)
		if (ch == OPT_FORCE)
			force = 1;
	if (ch != ARGS_END)
		return args_finish(&a, ch);
	if (args_positionals(&a, 1, 1, "NAME") == -1)
		return CTL_EXIT_USAGE;

	if ((rc = ctl_connect(ctl, 1)) != 0)
		return rc;
	if ((err = apikey_tenant_remove(ctl->client, a.pos[0], force,
	    &revoked)) != 0)
		return ctl_fail(ctl, err);
	return ctl_printed(out_tenant_removed(ctl->json, a.pos[0], revoked));
}
