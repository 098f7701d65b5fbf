/*
 * fleet_url.c - the check of fleet_url, on its own: config.c calls it
 * while reading the configuration, so that a password in the file is
 * refused before anything starts, and this file is all of fleet mode that
 * config.c's users (the config fuzzer among them) need to link. With
 * fleet.c, fleet_sync.c and fleet_write.c, the only files that use libpq.
 */
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "fleet.h"

int
fleet_check_url(const char *url, char *err, size_t errsz)
{
	PQconninfoOption	*opts, *o;
	char			*msg = NULL;
	int			 rc = 0;

	if ((opts = PQconninfoParse(url, &msg)) == NULL) {
		/* libpq's message: its first line. */
		snprintf(err, errsz, "fleet_url: %.*s", msg != NULL ?
		    (int)strcspn(msg, "\n") : 13, msg != NULL ? msg :
		    "out of memory");
		PQfreemem(msg);
		return -1;
	}
	for (o = opts; o->keyword != NULL; o++) {
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL &&
		    o->val[0] != '\0') {
			snprintf(err, errsz, "fleet_url must not hold a "
			    "password: put it in a password file (passfile= "
			    "in fleet_url, mode 0600; see README, Fleet)");
			rc = -1;
		}
	}
	PQconninfoFree(opts);
	return rc;
}
