/*
 * it_frontends.c - what libapikey gives its front-ends (pam_apikey,
 * apikeyctl, any service) so that they need nothing but <apikey.h>: the
 * token checks (libclient/token.c), answered without a daemon, and the
 * owner view (libclient/owner.c) of keys and verify results of the real
 * apikeyd, with the superseded per-field accessors reading the same.
 *
 * The binary links libapikey.so as any program does, so every call here
 * is also proven exported. The exact return code of each case is what a
 * caller branches on, so each is asserted exactly, and an output buffer is
 * checked to be untouched whenever a call fails.
 */
#include <string.h>
#include <sys/types.h>

#include <criterion/criterion.h>

#include "harness.h"

/* A valid token, made independently with Python (see unit_token.c). */
#define KNOWN_TOKEN \
    "ak_05McJmDgrvc_003aUlTJC7tjlCTQj2uNU3MFagCXG9LRKRcwGkBIDlf149beY"
#define KNOWN_ID	"05McJmDgrvc"

/* The harness frees what it_printf and its kin made; no daemon starts. */
TestSuite(token, .fini = it_teardown, .timeout = 30);

/* apikey_token_key_id's buffer before a call, to see it left alone. */
#define UNTOUCHED	"untouched!!"

static void
assert_not_a_key(const char *tok)
{
	char	buf[APIKEY_KEY_ID_SIZE] = UNTOUCHED;

	cr_assert_eq(apikey_token_check(tok), APIKEY_EINVAL, "check(%s)",
	    tok == NULL ? "NULL" : tok);
	cr_assert_eq(apikey_token_key_id(tok, buf, sizeof(buf)),
	    APIKEY_EINVAL, "key_id(%s)", tok == NULL ? "NULL" : tok);
	cr_assert_str_eq(buf, UNTOUCHED);
}

Test(token, sizes_fit_the_format)
{
	/* <16-char prefix>_<11-char id>_<43-char secret><6-char checksum> */
	cr_assert_eq(APIKEY_TOKEN_MAX, 16 + 1 + 11 + 1 + 43 + 6);
	cr_assert_eq(APIKEY_KEY_ID_SIZE, sizeof(KNOWN_ID));
	cr_assert_eq(sizeof(UNTOUCHED), APIKEY_KEY_ID_SIZE);
}

Test(token, valid_token_and_its_id)
{
	char	buf[APIKEY_KEY_ID_SIZE] = UNTOUCHED;
	char	big[64];

	cr_assert_eq(apikey_token_check(KNOWN_TOKEN), 0);
	cr_assert_eq(apikey_token_key_id(KNOWN_TOKEN, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, KNOWN_ID);
	/* A larger buffer gets the id and its NUL, nothing more. */
	memset(big, 'x', sizeof(big));
	cr_assert_eq(apikey_token_key_id(KNOWN_TOKEN, big, sizeof(big)), 0);
	cr_assert_str_eq(big, KNOWN_ID);
	cr_assert_eq(big[APIKEY_KEY_ID_SIZE], 'x');
}

Test(token, longest_token_is_a_key)
{
	const char	*tok = it_with_prefix(KNOWN_TOKEN, "abcdefghij012345");
	char		 buf[APIKEY_KEY_ID_SIZE];

	cr_assert_eq(strlen(tok), APIKEY_TOKEN_MAX);
	cr_assert_eq(apikey_token_check(tok), 0);
	cr_assert_eq(apikey_token_key_id(tok, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, KNOWN_ID);
	/* One more prefix character is too long, checksum or not. */
	assert_not_a_key(it_with_prefix(KNOWN_TOKEN, "abcdefghij0123456"));
	assert_not_a_key(it_printf("%sx", tok));
}

Test(token, bad_checksum_is_einval)
{
	assert_not_a_key(it_bad_crc(KNOWN_TOKEN));
}

Test(token, wrong_shape_is_einval)
{
	/* No underscores, a third one, a bad prefix, id or secret. */
	assert_not_a_key("ak-05McJmDgrvc-003aUlTJC7tjlCTQj2uNU3MFagCXG9LRKRcw"
	    "GkBIDlf149beY");
	assert_not_a_key(KNOWN_TOKEN "_x");
	assert_not_a_key("AK_05McJmDgrvc_003aUlTJC7tjlCTQj2uNU3MFagCXG9LRKRcw"
	    "GkBIDlf149beY");
	assert_not_a_key("ak_05McJmDgrv_003aUlTJC7tjlCTQj2uNU3MFagCXG9LRKRcw"
	    "GkBIDlf149beY");
	assert_not_a_key("ak_05McJmDgrvc_003aUlTJC7tjlCTQj2uNU3MFagCXG9LRKRc"
	    "GkBIDlf149beY");
	/* What a password looks like, and nothing at all. */
	assert_not_a_key("correct horse battery staple");
	assert_not_a_key("");
}

Test(token, null_is_einval)
{
	char	buf[APIKEY_KEY_ID_SIZE] = UNTOUCHED;

	assert_not_a_key(NULL);
	cr_assert_eq(apikey_token_key_id(KNOWN_TOKEN, NULL, sizeof(buf)),
	    APIKEY_EINVAL);
	cr_assert_eq(apikey_token_key_id(NULL, NULL, 0), APIKEY_EINVAL);
}

Test(token, tiny_buffer_is_elimit)
{
	char	buf[APIKEY_KEY_ID_SIZE] = UNTOUCHED;

	cr_assert_eq(apikey_token_key_id(KNOWN_TOKEN, buf,
	    APIKEY_KEY_ID_SIZE - 1), APIKEY_ELIMIT);
	cr_assert_str_eq(buf, UNTOUCHED);
	cr_assert_eq(apikey_token_key_id(KNOWN_TOKEN, buf, 0), APIKEY_ELIMIT);
	cr_assert_str_eq(buf, UNTOUCHED);
	/* Not a key comes first: a caller learns nothing from the size. */
	cr_assert_eq(apikey_token_key_id(it_bad_crc(KNOWN_TOKEN), buf, 1),
	    APIKEY_EINVAL);
	cr_assert_str_eq(buf, UNTOUCHED);
}

TestSuite(owner, .init = it_setup, .fini = it_teardown, .timeout = 90);

Test(owner, null_views)
{
	cr_assert_null(apikey_key_owner(NULL));
	cr_assert_null(apikey_result_owner(NULL));
	cr_assert_eq(apikey_owner_kind(NULL), APIKEY_OWNER_SELF);
	cr_assert_str_eq(apikey_owner_name(NULL), "");
	cr_assert_eq(apikey_owner_uid(NULL), (uid_t)-1);
	cr_assert_str_eq(apikey_owner_group(NULL), "");
	cr_assert_eq(apikey_owner_gid(NULL), (gid_t)-1);
}

static void
assert_user_owner(const struct apikey_owner *o)
{
	cr_assert_not_null(o);
	cr_assert_eq(apikey_owner_kind(o), APIKEY_OWNER_USER);
	cr_assert_str_eq(apikey_owner_name(o), "alice");
	cr_assert_eq(apikey_owner_uid(o), 10001);
	cr_assert_str_eq(apikey_owner_group(o), "");
	cr_assert_eq(apikey_owner_gid(o), (gid_t)-1);
}

static void
assert_tenant_owner(const struct apikey_owner *o)
{
	cr_assert_not_null(o);
	cr_assert_eq(apikey_owner_kind(o), APIKEY_OWNER_TENANT);
	cr_assert_str_eq(apikey_owner_name(o), "acme");
	cr_assert_eq(apikey_owner_uid(o), (uid_t)-1);
	cr_assert_str_eq(apikey_owner_group(o), "acme");
	cr_assert_eq(apikey_owner_gid(o), 20001);
}

Test(owner, user_key_and_its_verify_result)
{
	struct apikey_key	*key;
	struct apikey_result	*res;
	const char		*tok;

	tok = it_key_lib(APIKEY_OWNER_USER, "alice", NULL, &key);
	assert_user_owner(apikey_key_owner(key));
	cr_assert_eq(apikey_key_owner_kind(key), APIKEY_OWNER_USER);
	cr_assert_eq(apikey_key_uid(key), 10001);
	cr_assert_str_eq(apikey_key_user(key), "alice");
	cr_assert_str_eq(apikey_key_tenant(key), "");
	cr_assert_str_eq(apikey_key_group(key), "");
	cr_assert_eq(apikey_key_gid(key), (gid_t)-1);

	res = it_verify(tok, NULL);
	cr_assert_eq(apikey_result_code(res), APIKEY_VALID);
	assert_user_owner(apikey_result_owner(res));
	cr_assert_eq(apikey_result_owner_kind(res), APIKEY_OWNER_USER);
	cr_assert_eq(apikey_result_uid(res), 10001);
	cr_assert_str_eq(apikey_result_user(res), "alice");
	cr_assert_str_eq(apikey_result_tenant(res), "");
	cr_assert_str_eq(apikey_result_group(res), "");
	cr_assert_eq(apikey_result_gid(res), (gid_t)-1);
	apikey_result_free(res);
	apikey_key_free(key);
}

Test(owner, tenant_key_and_its_verify_result)
{
	struct apikey_key	*key;
	struct apikey_result	*res;
	const char		*tok;

	it_tenant("acme", "acme", NULL);
	tok = it_key_lib(APIKEY_OWNER_TENANT, "acme", NULL, &key);
	assert_tenant_owner(apikey_key_owner(key));
	cr_assert_eq(apikey_key_owner_kind(key), APIKEY_OWNER_TENANT);
	cr_assert_eq(apikey_key_uid(key), (uid_t)-1);
	cr_assert_str_eq(apikey_key_user(key), "");
	cr_assert_str_eq(apikey_key_tenant(key), "acme");
	cr_assert_str_eq(apikey_key_group(key), "acme");
	cr_assert_eq(apikey_key_gid(key), 20001);

	res = it_verify(tok, NULL);
	cr_assert_eq(apikey_result_code(res), APIKEY_VALID);
	assert_tenant_owner(apikey_result_owner(res));
	cr_assert_eq(apikey_result_owner_kind(res), APIKEY_OWNER_TENANT);
	cr_assert_eq(apikey_result_uid(res), (uid_t)-1);
	cr_assert_str_eq(apikey_result_user(res), "");
	cr_assert_str_eq(apikey_result_tenant(res), "acme");
	cr_assert_str_eq(apikey_result_group(res), "acme");
	cr_assert_eq(apikey_result_gid(res), 20001);
	apikey_result_free(res);
	apikey_key_free(key);
}

/* A key of a listing has its view too, valid as long as the list, and
 * asking again gives the same view, not a copy. */
Test(owner, listed_keys_have_views)
{
	struct apikey_key_list	*l;
	const struct apikey_key	*k;

	(void)it_key_lib(APIKEY_OWNER_USER, "alice", NULL, NULL);
	cr_assert_eq(apikey_key_list(it_aclient(), APIKEY_OWNER_USER, "alice",
	    &l), 0);
	cr_assert_eq(apikey_key_list_count(l), 1);
	k = apikey_key_list_get(l, 0);
	assert_user_owner(apikey_key_owner(k));
	cr_assert_eq(apikey_key_owner(k), apikey_key_owner(k));
	apikey_key_list_free(l);
}
