/*
 * fuzz_token.c - libFuzzer target: the key-token parser (proto/token.c),
 * which every verify, libapikey and the PAM module run on whatever a user
 * typed, password or key.
 *
 * The input is the token's bytes, not NUL-terminated (token_parse takes
 * a length). Checks: a token that parses is canonical - token_format of
 * its parts gives back exactly the input - and its parts pass the
 * validators libapikey and the daemon use on their own. The validators
 * also run on the raw input, NUL-terminated, for their own sake.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/secret.h"
#include "../../proto/token.h"
#include "fuzz.h"

static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_token: %s\n", what);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 out[TOKEN_MAX + 1], s[TOKEN_MAX + 2];
	struct token	 t;
	struct secret_scope t_scope SECRET_SCOPE = { &t, sizeof(t) };
	size_t		 n;

	/* The validators take C strings, as the daemon gives them. */
	n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;
	memcpy(s, data, n);
	s[n] = '\0';
	(void)token_id_valid(s);
	(void)token_prefix_valid(s);

	if (token_parse((const char *)data, size, &t) != TOKEN_OK)
		return 0;
	if (!token_prefix_valid(t.prefix) || !token_id_valid(t.id))
		fail("a parsed token has an invalid prefix or id");
	if (token_format(t.prefix, t.id, t.secret, out, sizeof(out)) !=
	    TOKEN_OK)
		fail("a parsed token does not format");
	if (strlen(out) != size || memcmp(out, data, size) != 0)
		fail("a parsed token formats to other bytes");
	return 0;
}
