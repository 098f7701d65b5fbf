/*
 * unit_metadata.c - metadata validation (daemon/metadata.c): "" or a JSON
 * object of at most PROTO_METADATA_MAX bytes without duplicate keys. The
 * messages are what apikeyctl shows the user, so their wording is checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../daemon/metadata.h"
#include "../proto/proto.h"

static char	msg[PROTO_MESSAGE_MAX];

static void
is_valid(const char *s)
{
	strcpy(msg, "untouched");
	cr_expect_eq(metadata_valid(s, msg, sizeof(msg)), 0,
	    "rejected '%s': %s", s, msg);
	cr_expect_str_eq(msg, "untouched");
}

/* Expects rejection with a message containing want. */
static void
is_invalid(const char *s, const char *want)
{
	msg[0] = '\0';
	cr_expect_eq(metadata_valid(s, msg, sizeof(msg)), -1,
	    "accepted '%s'", s);
	cr_expect_not_null(strstr(msg, want), "'%s': message '%s' lacks '%s'",
	    s, msg, want);
}

/* An object {"a":"xxx..."} of exactly len bytes (len >= 8). */
static char *
object_of_len(size_t len)
{
	char	*s = malloc(len + 1);

	cr_assert_not_null(s);
	cr_assert_geq(len, 8);
	memcpy(s, "{\"a\":\"", 6);
	memset(s + 6, 'x', len - 8);
	memcpy(s + len - 2, "\"}", 3);
	cr_assert_eq(strlen(s), len);
	return s;
}

Test(metadata, empty_string_is_valid)
{
	is_valid("");
}

Test(metadata, objects_are_valid)
{
	is_valid("{}");
	is_valid("{\"a\":1,\"b\":[1,2],\"c\":{\"d\":null}}");
	is_valid(" {\n\t\"team\": \"caf\xc3\xa9\", \"n\": -1.5e3 }\n");
	is_valid("{\"a\":{\"a\":1}}");	/* same key at another level */
}

Test(metadata, array_at_top_level)
{
	is_invalid("[]", "metadata must be a JSON object");
	is_invalid("[1,2]", "metadata must be a JSON object");
	is_invalid("[{\"a\":1}]", "metadata must be a JSON object");
}

Test(metadata, scalars_at_top_level)
{
	is_invalid("\"text\"", "metadata must be a JSON object");
	is_invalid("42", "metadata must be a JSON object");
	is_invalid("-1.5", "metadata must be a JSON object");
	is_invalid("null", "metadata must be a JSON object");
	is_invalid("true", "metadata must be a JSON object");
}

Test(metadata, invalid_json)
{
	is_invalid("{", "not valid JSON");
	is_invalid("{\"a\":}", "not valid JSON");
	is_invalid("{'a':1}", "not valid JSON");
	is_invalid("{\"a\":1,}", "not valid JSON");
	is_invalid("{} {}", "not valid JSON");
	is_invalid("{} x", "not valid JSON");
	is_invalid("hello", "not valid JSON");
	is_invalid("   ", "not valid JSON");
	is_invalid("{\"a\":\"\xff\"}", "not valid JSON");	/* bad UTF-8 */
}

Test(metadata, duplicate_keys)
{
	is_invalid("{\"a\":1,\"a\":2}", "duplicate");
	is_invalid("{\"x\":{\"b\":1,\"b\":1}}", "duplicate");
}

Test(metadata, size_limit)
{
	char	*s;
	char	 want[64];

	s = object_of_len(PROTO_METADATA_MAX);
	is_valid(s);
	free(s);

	s = object_of_len(PROTO_METADATA_MAX + 1);
	snprintf(want, sizeof(want), "metadata is longer than %d bytes",
	    PROTO_METADATA_MAX);
	is_invalid(s, want);
	cr_expect_str_eq(msg, want);
	free(s);

	s = object_of_len(3 * PROTO_METADATA_MAX);
	is_invalid(s, want);
	free(s);
}

Test(metadata, message_truncated_to_buffer)
{
	char	 small[12];

	memset(small, 'z', sizeof(small));
	cr_expect_eq(metadata_valid("{", small, sizeof(small)), -1);
	cr_expect_str_eq(small, "metadata is");
}
