/*
 * fuzz_metadata.c - libFuzzer target: the metadata JSON check
 * (daemon/metadata.c), which every KEY_CREATE and KEY_UPDATE runs on the
 * text a user sent before it is stored.
 *
 * The wire carries no NUL in a string (buf.h), so the input is cut at its
 * first NUL and given as a C string, up to a little past
 * PROTO_METADATA_MAX so that the length check is reached. Checks: "" is
 * valid, text over the maximum is not, and a refusal always comes with a
 * terminated message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/proto.h"
#include "../../daemon/metadata.h"
#include "fuzz.h"

#define TEXT_MAX	(PROTO_METADATA_MAX + 16)

static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_metadata: %s\n", what);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s, msg[256];
	size_t	 n;
	int	 rc;

	n = size < TEXT_MAX ? size : TEXT_MAX;
	/* Exactly n + 1 bytes: a read past the NUL is caught. */
	if ((s = malloc(n + 1)) == NULL)
		fail("out of memory");
	memcpy(s, data, n);
	s[n] = '\0';
	memset(msg, 0, sizeof(msg));
	rc = metadata_valid(s, msg, sizeof(msg));
	if (s[0] == '\0' && rc != 0)
		fail("the empty text is refused");
	if (strlen(s) > PROTO_METADATA_MAX && rc == 0)
		fail("text over PROTO_METADATA_MAX is accepted");
	if (rc != 0 && (msg[0] == '\0' || memchr(msg, '\0', sizeof(msg)) ==
	    NULL))
		fail("a refusal without a message");
	free(s);
	return 0;
}
