/*
 * metadata.c - checks metadata JSON on create and update (management path
 * only; verify returns the stored text untouched).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "../proto/proto.h"
#include "metadata.h"

int
metadata_valid(const char *s, char *msg, size_t msgsz)
{
	json_error_t	 err;
	json_t		*j;
	int		 rc = 0;

	if (s[0] == '\0')
		return 0;
	if (strlen(s) > PROTO_METADATA_MAX) {
		snprintf(msg, msgsz, "metadata is longer than %d bytes",
		    PROTO_METADATA_MAX);
		return -1;
	}
	/* DECODE_ANY: let scalars parse, to reject them by name below. */
	j = json_loads(s, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
	if (j == NULL) {
		snprintf(msg, msgsz, "metadata is not valid JSON: %s "
		    "(at character %d)", err.text, err.position);
		return -1;
	}
	if (!json_is_object(j)) {
		snprintf(msg, msgsz, "metadata must be a JSON object");
		rc = -1;
	}
	json_decref(j);
	return rc;
}
