/*
 * token.c - what a front-end may learn about a token without the daemon:
 * whether it is shaped like an API key, and its key id. pam_apikey asks
 * this of every password it is given, to pass a password on to the next
 * module without a round trip and without logging it; so the answer is
 * proto/token.c's parse, one bounded strnlen and no allocation.
 *
 * The parse decodes the secret into a struct on the stack, which is wiped
 * on every way out: these calls never keep any part of a token but its id.
 */
#include <string.h>

#include "internal.h"

/* The public sizes are the token format's. */
_Static_assert(APIKEY_TOKEN_MAX == TOKEN_MAX,
    "APIKEY_TOKEN_MAX differs from TOKEN_MAX");
_Static_assert(APIKEY_KEY_ID_SIZE == TOKEN_ID_LEN + 1,
    "APIKEY_KEY_ID_SIZE differs from TOKEN_ID_LEN + 1");
/* And the protocol's, for what front-ends pass on. */
_Static_assert(APIKEY_MAX_PERMS == PROTO_MAX_PERMS,
    "APIKEY_MAX_PERMS differs from PROTO_MAX_PERMS");

/* Parses token into *t, which the caller wipes whatever this returns. */
static int
token_get(const char *token, struct token *t)
{
	if (token == NULL)
		return APIKEY_EINVAL;
	/* A longer string is not a key: read no further than one byte past. */
	if (token_parse(token, strnlen(token, TOKEN_MAX + 1), t) != TOKEN_OK)
		return APIKEY_EINVAL;
	return 0;
}

APIKEY_EXPORT int
apikey_token_check(const char *token)
{
	struct token	t;
	struct secret_scope t_scope SECRET_SCOPE = { &t, sizeof(t) };

	return token_get(token, &t);
}

APIKEY_EXPORT int
apikey_token_key_id(const char *token, char *buf, size_t size)
{
	struct token	t;
	struct secret_scope t_scope SECRET_SCOPE = { &t, sizeof(t) };
	int		rc;

	if ((rc = token_get(token, &t)) != 0 || buf == NULL)
		rc = APIKEY_EINVAL;
	else if (size < APIKEY_KEY_ID_SIZE)
		rc = APIKEY_ELIMIT;
	else
		memcpy(buf, t.id, APIKEY_KEY_ID_SIZE);
	return rc;
}
