/*
 * cmd_misc.c - apikeyctl status and apikeyctl audit: read-only questions
 * to the admin socket about the daemon itself.
 */
#include <limits.h>
#include <stdint.h>

#include <apikey.h>

#include "apikeyctl.h"
#include "args.h"
#include "output.h"

int
cmd_status(struct ctl *ctl, int argc, char **argv)
{
	struct apikey_status	*st = NULL;
	struct args		 a;
	int			 rc, err;

	if ((rc = ctl_admin_only(&a, ctl, argc, argv, 0, "")) != -1)
		return rc;
	if ((err = apikey_status(ctl->client, &st)) != 0)
		return ctl_fail(ctl, err);
	rc = ctl_printed(out_status(ctl->json, st));
	apikey_status_free(st);
	return rc;
}

int
cmd_audit(struct ctl *ctl, int argc, char **argv)
{
	enum { OPT_LIMIT = ARGS_OPT_BASE };
	static const struct option opts[] = {
		{ "limit",	required_argument,	NULL,	OPT_LIMIT },
		{ NULL,		0,			NULL,	0 }
	};
	struct apikey_audit_list	*list = NULL;
	struct args			 a;
	uint64_t			 limit = 0;	/* all */
	int				 ch, rc, err;

	args_init(&a, ctl, argc, argv, 0, NULL, opts);
	while ((ch = args_next(&a)) > 0) {
		if (ch == OPT_LIMIT && args_number_value(&a, "--limit",
		    UINT_MAX, &limit) == -1)
			return CTL_EXIT_USAGE;
	}
	if (ch != ARGS_END)
		return args_finish(&a, ch);
	if (args_positionals(&a, 0, 0, "") == -1)
		return CTL_EXIT_USAGE;

	if ((rc = ctl_connect(ctl, 1)) != 0)
		return rc;
	if ((err = apikey_audit_list(ctl->client, (unsigned)limit,
	    &list)) != 0)
		return ctl_fail(ctl, err);
	rc = ctl_printed(out_audit(ctl->json, list));
	apikey_audit_list_free(list);
	return rc;
}
