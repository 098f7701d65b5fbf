/*
 * unit_policy.c - the verify decision and the syntax rules (daemon/policy.c).
 *
 * The records are large (a key holds its metadata and three lists), so each
 * test gets heap copies from the fixture: an enabled user key without
 * restrictions, an enabled tenant "acme" and an empty verify request. A test
 * changes only the fields it is about, so every refusal is caused by the one
 * rule under test; the check-order tests then stack several faults on one
 * key and remove them one at a time.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../daemon/policy.h"
#include "../proto/proto.h"

#define NOW	1700000000ULL

static struct store_key		*k;
static struct proto_tenant	*t;
static struct proto_verify_req	*req;
static char			 reason[PROTO_REASON_MAX + 1];

static void
setup(void)
{
	k = calloc(1, sizeof(*k));
	t = calloc(1, sizeof(*t));
	req = calloc(1, sizeof(*req));
	cr_assert_not_null(k);
	cr_assert_not_null(t);
	cr_assert_not_null(req);

	strcpy(k->info.id, "AAAAAAAAAAB");
	strcpy(k->info.prefix, "ak");
	strcpy(k->info.name, "ci");
	k->info.owner.kind = PROTO_OWNER_USER;
	k->info.owner.uid = 1000;
	strcpy(k->info.owner.user, "alice");
	k->info.enabled = 1;
	k->info.created_at = NOW - 100;

	strcpy(t->name, "acme");
	strcpy(t->group, "acme-devs");
	t->gid = 2000;
	t->enabled = 1;

	memset(reason, 'x', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
}

static void
teardown(void)
{
	free(k);
	free(t);
	free(req);
}

TestSuite(policy, .init = setup, .fini = teardown);

static void
make_tenant_key(const char *tenant)
{
	k->info.owner.kind = PROTO_OWNER_TENANT;
	k->info.owner.uid = 0;
	k->info.owner.user[0] = '\0';
	strcpy(k->info.owner.tenant, tenant);
	strcpy(k->info.owner.group, "acme-devs");
	k->info.owner.gid = 2000;
}

static void
add_perm(struct proto_perm_list *l, const char *s)
{
	cr_assert_lt(l->n, PROTO_MAX_PERMS);
	cr_assert_lt(strlen(s), sizeof(l->v[0]));
	strcpy(l->v[l->n++], s);
}

static void
add_service(struct proto_service_list *l, const char *s)
{
	cr_assert_lt(l->n, PROTO_MAX_SERVICES);
	cr_assert_lt(strlen(s), sizeof(l->v[0]));
	strcpy(l->v[l->n++], s);
}

static void
add_user(struct proto_user_list *l, const char *s)
{
	cr_assert_lt(l->n, PROTO_MAX_USERS);
	cr_assert_lt(strlen(s), sizeof(l->v[0]));
	strcpy(l->v[l->n++], s);
}

/* Runs policy_verify with the tenant pointer tp and the fixture's request. */
static int
verify(const struct proto_tenant *tp, uint64_t now)
{
	return policy_verify(k, tp, req, now, reason, sizeof(reason));
}

static void
expect(int got, int want, const char *want_reason)
{
	cr_expect_eq(got, want, "code %s (%d), want %s (%d)",
	    proto_code_name((uint32_t)got), got,
	    proto_code_name((uint32_t)want), want);
	cr_expect_str_eq(reason, want_reason);
}

/* ------------------------------------------------------------------ */
/* Outcomes one at a time */

Test(policy, valid_user_key_clears_reason)
{
	expect(verify(NULL, NOW), PROTO_VALID, "");
}

Test(policy, valid_tenant_key)
{
	make_tenant_key("acme");
	expect(verify(t, NOW), PROTO_VALID, "");
}

Test(policy, user_key_ignores_tenant_argument)
{
	t->enabled = 0;
	expect(verify(t, NOW), PROTO_VALID, "");
}

Test(policy, disabled)
{
	k->info.enabled = 0;
	expect(verify(NULL, NOW), PROTO_DISABLED, "key is disabled");
}

Test(policy, tenant_key_without_tenant_is_not_found)
{
	make_tenant_key("acme");
	expect(verify(NULL, NOW), PROTO_NOT_FOUND, "tenant no longer exists");
}

Test(policy, tenant_disabled)
{
	make_tenant_key("acme");
	t->enabled = 0;
	expect(verify(t, NOW), PROTO_TENANT_DISABLED,
	    "tenant 'acme' is disabled");
}

Test(policy, expired_exactly_at_expiry)
{
	k->info.expires_at = NOW;
	expect(verify(NULL, NOW), PROTO_EXPIRED, "key expired");
}

Test(policy, expired_after_expiry)
{
	k->info.expires_at = NOW;
	expect(verify(NULL, NOW + 1), PROTO_EXPIRED, "key expired");
	expect(verify(NULL, UINT64_MAX), PROTO_EXPIRED, "key expired");
}

Test(policy, valid_one_second_before_expiry)
{
	k->info.expires_at = NOW;
	expect(verify(NULL, NOW - 1), PROTO_VALID, "");
}

Test(policy, expires_at_zero_never_expires)
{
	k->info.expires_at = 0;
	expect(verify(NULL, UINT64_MAX), PROTO_VALID, "");
}

Test(policy, service_not_in_list)
{
	add_service(&k->info.services, "sshd");
	add_service(&k->info.services, "vsftpd");
	strcpy(req->service, "login");
	expect(verify(NULL, NOW), PROTO_FORBIDDEN,
	    "service 'login' is not allowed");
}

Test(policy, no_service_given_while_list_set)
{
	add_service(&k->info.services, "sshd");
	cr_expect_eq(verify(NULL, NOW), PROTO_FORBIDDEN);
	cr_expect_not_null(strstr(reason, "service"), "reason: %s", reason);
}

Test(policy, service_in_list)
{
	add_service(&k->info.services, "sshd");
	add_service(&k->info.services, "vsftpd");
	strcpy(req->service, "vsftpd");
	expect(verify(NULL, NOW), PROTO_VALID, "");
}

Test(policy, service_is_case_sensitive_and_exact)
{
	add_service(&k->info.services, "sshd");
	strcpy(req->service, "SSHD");
	cr_expect_eq(verify(NULL, NOW), PROTO_FORBIDDEN);
	strcpy(req->service, "ssh");
	cr_expect_eq(verify(NULL, NOW), PROTO_FORBIDDEN);
	strcpy(req->service, "sshd2");
	cr_expect_eq(verify(NULL, NOW), PROTO_FORBIDDEN);
}

Test(policy, any_service_when_list_empty)
{
	strcpy(req->service, "anything");
	expect(verify(NULL, NOW), PROTO_VALID, "");
}

Test(policy, expected_tenant_vs_user_key)
{
	strcpy(req->tenant, "acme");
	expect(verify(NULL, NOW), PROTO_FORBIDDEN,
	    "key does not belong to tenant 'acme'");
}

Test(policy, expected_tenant_vs_other_tenant_key)
{
	make_tenant_key("other");
	strcpy(t->name, "other");
	strcpy(req->tenant, "acme");
	expect(verify(t, NOW), PROTO_FORBIDDEN,
	    "key does not belong to tenant 'acme'");
}

Test(policy, expected_tenant_matches)
{
	make_tenant_key("acme");
	strcpy(req->tenant, "acme");
	expect(verify(t, NOW), PROTO_VALID, "");
}

Test(policy, allowed_users_user_absent)
{
	make_tenant_key("acme");
	add_user(&k->info.allowed_users, "bob");
	expect(verify(t, NOW), PROTO_FORBIDDEN, "key is limited to certain users and no user was given");
}

Test(policy, allowed_users_not_listed)
{
	make_tenant_key("acme");
	add_user(&k->info.allowed_users, "bob");
	add_user(&k->info.allowed_users, "carol");
	strcpy(req->user, "mallory");
	expect(verify(t, NOW), PROTO_FORBIDDEN,
	    "user 'mallory' is not allowed");
}

Test(policy, allowed_users_listed)
{
	make_tenant_key("acme");
	add_user(&k->info.allowed_users, "bob");
	add_user(&k->info.allowed_users, "carol");
	strcpy(req->user, "carol");
	expect(verify(t, NOW), PROTO_VALID, "");
}

Test(policy, allowed_users_empty_means_everyone)
{
	make_tenant_key("acme");
	strcpy(req->user, "anyone");
	expect(verify(t, NOW), PROTO_VALID, "");
}

Test(policy, missing_permission)
{
	add_perm(&k->info.permissions, "repo:read");
	add_perm(&req->required, "deploy:run");
	expect(verify(NULL, NOW), PROTO_INSUFFICIENT_PERMISSIONS,
	    "permission 'deploy:run' not granted");
}

Test(policy, permission_required_from_key_without_any)
{
	add_perm(&req->required, "repo:read");
	expect(verify(NULL, NOW), PROTO_INSUFFICIENT_PERMISSIONS,
	    "permission 'repo:read' not granted");
}

Test(policy, wildcard_grants_action)
{
	add_perm(&k->info.permissions, "res:*");
	add_perm(&req->required, "res:read");
	expect(verify(NULL, NOW), PROTO_VALID, "");
}

Test(policy, wildcard_does_not_cross_resources)
{
	add_perm(&k->info.permissions, "res:*");
	add_perm(&req->required, "other:read");
	expect(verify(NULL, NOW), PROTO_INSUFFICIENT_PERMISSIONS,
	    "permission 'other:read' not granted");
}

Test(policy, wildcard_does_not_grant_resource_prefix)
{
	add_perm(&k->info.permissions, "res:*");
	add_perm(&req->required, "resource:read");
	cr_expect_eq(verify(NULL, NOW), PROTO_INSUFFICIENT_PERMISSIONS);
	req->required.n = 0;
	add_perm(&req->required, "re:read");
	cr_expect_eq(verify(NULL, NOW), PROTO_INSUFFICIENT_PERMISSIONS);
}

Test(policy, action_does_not_grant_other_action)
{
	add_perm(&k->info.permissions, "res:read");
	add_perm(&req->required, "res:write");
	expect(verify(NULL, NOW), PROTO_INSUFFICIENT_PERMISSIONS,
	    "permission 'res:write' not granted");
}

Test(policy, exact_permission)
{
	add_perm(&k->info.permissions, "res:read");
	add_perm(&req->required, "res:read");
	expect(verify(NULL, NOW), PROTO_VALID, "");
}

Test(policy, several_required_all_needed)
{
	add_perm(&k->info.permissions, "repo:read");
	add_perm(&k->info.permissions, "ci:*");
	add_perm(&req->required, "repo:read");
	add_perm(&req->required, "ci:run");
	add_perm(&req->required, "repo:write");
	expect(verify(NULL, NOW), PROTO_INSUFFICIENT_PERMISSIONS,
	    "permission 'repo:write' not granted");

	add_perm(&k->info.permissions, "repo:write");
	expect(verify(NULL, NOW), PROTO_VALID, "");
}

Test(policy, no_required_permissions_is_valid)
{
	add_perm(&k->info.permissions, "repo:read");
	expect(verify(NULL, NOW), PROTO_VALID, "");
}

Test(policy, reason_truncated_to_buffer)
{
	char	small[8];

	k->info.enabled = 0;
	memset(small, 'x', sizeof(small));
	cr_expect_eq(policy_verify(k, NULL, req, NOW, small, sizeof(small)),
	    PROTO_DISABLED);
	cr_expect_str_eq(small, "key is ");
}

/* ------------------------------------------------------------------ */
/* Check order: the first failing rule wins */

Test(policy, check_order_user_key)
{
	k->info.enabled = 0;
	k->info.expires_at = NOW - 10;
	add_service(&k->info.services, "sshd");
	strcpy(req->service, "ftp");
	add_perm(&req->required, "repo:read");

	cr_expect_eq(verify(NULL, NOW), PROTO_DISABLED);
	k->info.enabled = 1;
	cr_expect_eq(verify(NULL, NOW), PROTO_EXPIRED);
	k->info.expires_at = 0;
	cr_expect_eq(verify(NULL, NOW), PROTO_FORBIDDEN);
	strcpy(req->service, "sshd");
	cr_expect_eq(verify(NULL, NOW), PROTO_INSUFFICIENT_PERMISSIONS);
	add_perm(&k->info.permissions, "repo:read");
	expect(verify(NULL, NOW), PROTO_VALID, "");
}

Test(policy, check_order_tenant_key)
{
	make_tenant_key("acme");
	k->info.enabled = 0;
	t->enabled = 0;
	k->info.expires_at = NOW;
	add_service(&k->info.services, "sshd");
	strcpy(req->service, "ftp");
	add_user(&k->info.allowed_users, "bob");
	strcpy(req->user, "mallory");
	add_perm(&req->required, "repo:read");

	expect(verify(t, NOW), PROTO_DISABLED, "key is disabled");
	/* A missing tenant is not reported before the key's own state. */
	expect(verify(NULL, NOW), PROTO_DISABLED, "key is disabled");
	k->info.enabled = 1;
	expect(verify(t, NOW), PROTO_TENANT_DISABLED,
	    "tenant 'acme' is disabled");
	t->enabled = 1;
	expect(verify(t, NOW), PROTO_EXPIRED, "key expired");
	k->info.expires_at = NOW + 1;
	expect(verify(t, NOW), PROTO_FORBIDDEN,
	    "service 'ftp' is not allowed");
	strcpy(req->service, "sshd");
	expect(verify(t, NOW), PROTO_FORBIDDEN,
	    "user 'mallory' is not allowed");
	strcpy(req->user, "bob");
	expect(verify(t, NOW), PROTO_INSUFFICIENT_PERMISSIONS,
	    "permission 'repo:read' not granted");
	add_perm(&k->info.permissions, "repo:*");
	expect(verify(t, NOW), PROTO_VALID, "");
}

Test(policy, check_order_restrictions)
{
	/* service, then expected tenant, then allowed users */
	make_tenant_key("acme");
	add_service(&k->info.services, "sshd");
	add_user(&k->info.allowed_users, "bob");
	strcpy(req->service, "ftp");
	strcpy(req->tenant, "other");
	strcpy(req->user, "mallory");

	expect(verify(t, NOW), PROTO_FORBIDDEN,
	    "service 'ftp' is not allowed");
	strcpy(req->service, "sshd");
	expect(verify(t, NOW), PROTO_FORBIDDEN,
	    "key does not belong to tenant 'other'");
	strcpy(req->tenant, "acme");
	expect(verify(t, NOW), PROTO_FORBIDDEN,
	    "user 'mallory' is not allowed");
	strcpy(req->user, "bob");
	expect(verify(t, NOW), PROTO_VALID, "");
}

/* ------------------------------------------------------------------ */
/* policy_permission_granted */

Test(policy, granted_direct)
{
	struct proto_perm_list *have = &k->info.permissions;

	cr_expect_eq(policy_permission_granted(have, "a:b"), 0);
	add_perm(have, "a:b");
	add_perm(have, "c:*");
	cr_expect_eq(policy_permission_granted(have, "a:b"), 1);
	cr_expect_eq(policy_permission_granted(have, "a:c"), 0);
	cr_expect_eq(policy_permission_granted(have, "c:anything"), 1);
	cr_expect_eq(policy_permission_granted(have, "c:*"), 1);
	cr_expect_eq(policy_permission_granted(have, "cc:x"), 0);
	cr_expect_eq(policy_permission_granted(have, "a"), 0);
	cr_expect_eq(policy_permission_granted(have, "A:b"), 0);
	/* A concrete action does not grant the wildcard. */
	cr_expect_eq(policy_permission_granted(have, "a:*"), 0);
}

/* ------------------------------------------------------------------ */
/* Syntax rules */

Test(policy, tenant_name_valid)
{
	cr_expect_eq(policy_tenant_name_valid("acme"), 1);
	cr_expect_eq(policy_tenant_name_valid("a"), 1);
	cr_expect_eq(policy_tenant_name_valid("0x"), 1);
	cr_expect_eq(policy_tenant_name_valid("9"), 1);
	cr_expect_eq(policy_tenant_name_valid("a.b-c_d"), 1);
	cr_expect_eq(policy_tenant_name_valid("a-"), 1);
	cr_expect_eq(policy_tenant_name_valid(
	    "abcdefghijklmnopqrstuvwxyz012345"), 1);	/* 32 */
}

Test(policy, tenant_name_invalid)
{
	cr_expect_eq(policy_tenant_name_valid(""), 0);
	cr_expect_eq(policy_tenant_name_valid(
	    "abcdefghijklmnopqrstuvwxyz0123456"), 0);	/* 33 */
	cr_expect_eq(policy_tenant_name_valid("Acme"), 0);
	cr_expect_eq(policy_tenant_name_valid("acMe"), 0);
	cr_expect_eq(policy_tenant_name_valid("-a"), 0);
	cr_expect_eq(policy_tenant_name_valid(".a"), 0);
	cr_expect_eq(policy_tenant_name_valid("_a"), 0);
	cr_expect_eq(policy_tenant_name_valid("a b"), 0);
	cr_expect_eq(policy_tenant_name_valid("a/b"), 0);
	cr_expect_eq(policy_tenant_name_valid("a:b"), 0);
	cr_expect_eq(policy_tenant_name_valid("caf\xc3\xa9"), 0);
	cr_expect_eq(policy_tenant_name_valid("a\n"), 0);
}

Test(policy, permission_valid)
{
	char	longest[PROTO_PERM_MAX + 1];

	cr_expect_eq(policy_permission_valid("repo:read"), 1);
	cr_expect_eq(policy_permission_valid("Repo.X:write-all"), 1);
	cr_expect_eq(policy_permission_valid("repo:*"), 1);
	cr_expect_eq(policy_permission_valid("a:b"), 1);
	cr_expect_eq(policy_permission_valid("r_1:a.b"), 1);

	memset(longest, 'r', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	longest[10] = ':';
	cr_expect_eq(strlen(longest), PROTO_PERM_MAX);
	cr_expect_eq(policy_permission_valid(longest), 1);
}

Test(policy, permission_invalid)
{
	char	toolong[PROTO_PERM_MAX + 2];

	cr_expect_eq(policy_permission_valid(""), 0);
	cr_expect_eq(policy_permission_valid("repo"), 0);
	cr_expect_eq(policy_permission_valid(":read"), 0);
	cr_expect_eq(policy_permission_valid("repo:"), 0);
	cr_expect_eq(policy_permission_valid(":"), 0);
	cr_expect_eq(policy_permission_valid("*:read"), 0);
	cr_expect_eq(policy_permission_valid("*:*"), 0);
	cr_expect_eq(policy_permission_valid("repo:re ad"), 0);
	cr_expect_eq(policy_permission_valid("re po:read"), 0);
	cr_expect_eq(policy_permission_valid("repo:**"), 0);
	cr_expect_eq(policy_permission_valid("repo:r*"), 0);
	cr_expect_eq(policy_permission_valid("repo:read\n"), 0);
	cr_expect_eq(policy_permission_valid("repo:caf\xc3\xa9"), 0);
	/* Exactly one colon. */
	cr_expect_eq(policy_permission_valid("a:b:c"), 0);
	cr_expect_eq(policy_permission_valid("a::b"), 0);
	cr_expect_eq(policy_permission_valid("a:*:b"), 0);

	memset(toolong, 'r', sizeof(toolong) - 1);
	toolong[sizeof(toolong) - 1] = '\0';
	toolong[10] = ':';
	cr_expect_eq(strlen(toolong), PROTO_PERM_MAX + 1);
	cr_expect_eq(policy_permission_valid(toolong), 0);
}

Test(policy, service_valid)
{
	char	s[PROTO_SERVICE_MAX + 2];

	cr_expect_eq(policy_service_valid("sshd"), 1);
	cr_expect_eq(policy_service_valid("A.b_c-d"), 1);
	cr_expect_eq(policy_service_valid("web@eu+1"), 1);
	cr_expect_eq(policy_service_valid("0"), 1);

	memset(s, 's', PROTO_SERVICE_MAX);
	s[PROTO_SERVICE_MAX] = '\0';
	cr_expect_eq(policy_service_valid(s), 1);
	s[PROTO_SERVICE_MAX] = 's';
	s[PROTO_SERVICE_MAX + 1] = '\0';
	cr_expect_eq(policy_service_valid(s), 0);

	cr_expect_eq(policy_service_valid(""), 0);
	cr_expect_eq(policy_service_valid("a b"), 0);
	cr_expect_eq(policy_service_valid("a/b"), 0);
	cr_expect_eq(policy_service_valid("a:b"), 0);
	cr_expect_eq(policy_service_valid("a*"), 0);
	cr_expect_eq(policy_service_valid("a\t"), 0);
	cr_expect_eq(policy_service_valid("caf\xc3\xa9"), 0);
}

/*
 * policy_text_valid: one row per edge of the UTF-8 decoder and of the set
 * of refused characters. Strings are written as bytes so that each row
 * shows exactly what a client would send.
 */
static const struct text_case {
	const char	*s;
	int		 want;
	const char	*why;
} text_cases[] = {
	{ "", 1, "empty" },
	{ " ", 1, "space" },
	{ "hello, world ~!", 1, "printable ASCII" },
	{ "back\\slash", 1, "backslash" },
	{ "caf\xc3\xa9", 1, "2-byte U+00E9" },
	{ "\xc2\xa0", 1, "U+00A0 NBSP, first after C1" },
	{ "\xdf\xbf", 1, "U+07FF, last 2-byte" },
	{ "\xe0\xa0\x80", 1, "U+0800, first 3-byte" },
	{ "5 \xe2\x82\xac", 1, "3-byte U+20AC" },
	{ "\xed\x9f\xbf", 1, "U+D7FF, before the surrogates" },
	{ "\xee\x80\x80", 1, "U+E000, after the surrogates" },
	{ "\xef\xbf\xbd", 1, "U+FFFD" },
	{ "\xf0\x90\x80\x80", 1, "U+10000, first 4-byte" },
	{ "\xf0\x9f\x98\x80", 1, "4-byte U+1F600" },
	{ "\xf4\x8f\xbf\xbf", 1, "U+10FFFF, last" },
	{ "a\xe2\x80\x8e" "b", 1, "U+200E LRM" },
	{ "\xd7\x90\xe2\x80\x8f" "1", 1, "U+200F RLM" },
	{ "\xd8\xb9\xd8\x9c", 1, "U+061C ALM" },
	{ "\xe2\x80\xa7", 1, "U+2027, before LS" },
	{ "\xe2\x80\xaf", 1, "U+202F, after RLO" },
	{ "\xe2\x81\xa5", 1, "U+2065, before LRI" },
	{ "\xe2\x81\xaa", 1, "U+206A, after PDI" },

	{ "a\tb", 0, "tab" },
	{ "a\nb", 0, "newline" },
	{ "a\r", 0, "CR" },
	{ "\x01", 0, "U+0001" },
	{ "\x1b[31m", 0, "ESC" },
	{ "x\x1f", 0, "U+001F" },
	{ "a\x7f", 0, "DEL" },
	{ "\xc2\x80", 0, "U+0080, first C1" },
	{ "\xc2\x85", 0, "U+0085 NEL" },
	{ "\xc2\x9b", 0, "U+009B CSI" },
	{ "\xc2\x9f", 0, "U+009F, last C1" },
	{ "\x85", 0, "raw 0x85" },
	{ "a\x9b" "31m", 0, "raw 0x9b" },
	{ "\x80\xff", 0, "stray continuation, 0xff" },
	{ "\xbf", 0, "stray continuation 0xbf" },
	{ "caf\xe9", 0, "Latin-1" },
	{ "\xc0\xaf", 0, "overlong '/' in 2 bytes" },
	{ "\xc1\xbf", 0, "overlong U+007F" },
	{ "\xc0\x80", 0, "overlong NUL" },
	{ "\xe0\x80\xaf", 0, "overlong '/' in 3 bytes" },
	{ "\xe0\x9f\xbf", 0, "overlong U+07FF" },
	{ "\xf0\x80\x80\xaf", 0, "overlong '/' in 4 bytes" },
	{ "\xf0\x8f\xbf\xbf", 0, "overlong U+FFFF" },
	{ "\xed\xa0\x80", 0, "U+D800, first surrogate" },
	{ "\xed\xbf\xbf", 0, "U+DFFF, last surrogate" },
	{ "\xed\xa0\xbd\xed\xb8\x80", 0, "CESU-8 surrogate pair" },
	{ "\xf4\x90\x80\x80", 0, "U+110000" },
	{ "\xf5\x80\x80\x80", 0, "lead 0xf5" },
	{ "\xf8\x88\x80\x80\x80", 0, "5-byte form" },
	{ "\xfe", 0, "0xfe" },
	{ "\xff", 0, "0xff" },
	{ "ab\xc3", 0, "2-byte cut at the end" },
	{ "ab\xe2\x82", 0, "3-byte cut at the end" },
	{ "ab\xe2", 0, "3-byte lead alone at the end" },
	{ "ab\xf0\x9f\x98", 0, "4-byte cut at the end" },
	{ "\xe2\x82" "a", 0, "3-byte cut by ASCII" },
	{ "\xc3\xc3\xa9", 0, "lead followed by a lead" },
	{ "\xe2\x80\xaa", 0, "U+202A LRE" },
	{ "\xe2\x80\xab", 0, "U+202B RLE" },
	{ "\xe2\x80\xac", 0, "U+202C PDF" },
	{ "\xe2\x80\xad", 0, "U+202D LRO" },
	{ "txt\xe2\x80\xae" "gpj.exe", 0, "U+202E RLO" },
	{ "\xe2\x81\xa6", 0, "U+2066 LRI" },
	{ "\xe2\x81\xa7", 0, "U+2067 RLI" },
	{ "\xe2\x81\xa8", 0, "U+2068 FSI" },
	{ "\xe2\x81\xa9", 0, "U+2069 PDI" },
	{ "a\xe2\x80\xa8" "b", 0, "U+2028 LS" },
	{ "a\xe2\x80\xa9" "b", 0, "U+2029 PS" },
};

Test(policy, text_valid)
{
	size_t	 i;

	for (i = 0; i < sizeof(text_cases) / sizeof(text_cases[0]); i++)
		cr_expect_eq(policy_text_valid(text_cases[i].s),
		    text_cases[i].want, "%s: got %d", text_cases[i].why,
		    !text_cases[i].want);
}

Test(policy, text_valid_bad_byte_anywhere)
{
	static const size_t at[] = { 0, 2, 3, 4 };	/* between characters */
	char	 s[8];
	size_t	 i;

	/* A raw C1 byte before, between and after good characters. */
	for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		memcpy(s, "\xc3\xa9" "ab", 5);
		memmove(s + at[i] + 1, s + at[i], 5 - at[i]);
		s[at[i]] = '\x85';
		cr_expect_eq(policy_text_valid(s), 0, "0x85 at %zu", at[i]);
		/* The same string without it is fine. */
		memmove(s + at[i], s + at[i] + 1, 5 - at[i]);
		cr_expect_eq(policy_text_valid(s), 1);
	}
}

Test(policy, text_valid_every_code_point)
{
	char		 s[5];
	uint32_t	 cp;
	int		 want;

	/* Encode every scalar value the standard way: accepted unless it
	 * is one of the refused ones. */
	for (cp = 1; cp <= 0x10ffff; cp++) {
		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		if (cp < 0x80) {
			s[0] = (char)cp;
			s[1] = '\0';
		} else if (cp < 0x800) {
			s[0] = (char)(0xc0 | cp >> 6);
			s[1] = (char)(0x80 | (cp & 0x3f));
			s[2] = '\0';
		} else if (cp < 0x10000) {
			s[0] = (char)(0xe0 | cp >> 12);
			s[1] = (char)(0x80 | (cp >> 6 & 0x3f));
			s[2] = (char)(0x80 | (cp & 0x3f));
			s[3] = '\0';
		} else {
			s[0] = (char)(0xf0 | cp >> 18);
			s[1] = (char)(0x80 | (cp >> 12 & 0x3f));
			s[2] = (char)(0x80 | (cp >> 6 & 0x3f));
			s[3] = (char)(0x80 | (cp & 0x3f));
			s[4] = '\0';
		}
		want = !(cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
		    (cp >= 0x2028 && cp <= 0x202e) ||
		    (cp >= 0x2066 && cp <= 0x2069));
		if (policy_text_valid(s) != want) {
			cr_expect_fail("U+%04X: want %d", (unsigned)cp, want);
			break;
		}
	}
}

/* ------------------------------------------------------------------ */
/* policy_spec_valid */

static struct proto_key_spec *
good_spec(void)
{
	struct proto_key_spec *sp = calloc(1, sizeof(*sp));

	cr_assert_not_null(sp);
	sp->set = PROTO_SET_ALL;
	strcpy(sp->name, "deploy key \xc3\xa9");
	strcpy(sp->prefix, "ak");
	sp->expires_in = 30ULL * 24 * 3600;
	add_service(&sp->services, "sshd");
	add_service(&sp->services, "vsftpd");
	add_perm(&sp->permissions, "repo:read");
	add_perm(&sp->permissions, "ci:*");
	strcpy(sp->metadata, "{}");
	return sp;
}

static void
spec_fails(const struct proto_key_spec *sp, uint8_t kind, const char *want)
{
	char	msg[PROTO_MESSAGE_MAX];

	msg[0] = '\0';
	cr_expect_eq(policy_spec_valid(sp, kind, msg, sizeof(msg)), -1);
	cr_expect_str_eq(msg, want);
}

static void
spec_ok(const struct proto_key_spec *sp, uint8_t kind)
{
	char	msg[PROTO_MESSAGE_MAX];

	strcpy(msg, "untouched");
	cr_expect_eq(policy_spec_valid(sp, kind, msg, sizeof(msg)), 0,
	    "msg: %s", msg);
}

Test(policy, spec_all_good)
{
	struct proto_key_spec *sp = good_spec();

	spec_ok(sp, PROTO_OWNER_USER);
	add_user(&sp->allowed_users, "bob");
	spec_ok(sp, PROTO_OWNER_TENANT);
	free(sp);
}

static const char bad_name_msg[] = "key name is not valid UTF-8 or contains "
    "control characters";

Test(policy, spec_bad_name)
{
	struct proto_key_spec *sp = good_spec();

	strcpy(sp->name, "a\nb");
	spec_fails(sp, PROTO_OWNER_USER, bad_name_msg);
	strcpy(sp->name, "a\xc2\x9b" "2J");
	spec_fails(sp, PROTO_OWNER_USER, bad_name_msg);
	strcpy(sp->name, "caf\xe9");
	spec_fails(sp, PROTO_OWNER_USER, bad_name_msg);
	strcpy(sp->name, "txt\xe2\x80\xae" "gpj.exe");
	spec_fails(sp, PROTO_OWNER_USER, bad_name_msg);
	strcpy(sp->name, "");
	spec_ok(sp, PROTO_OWNER_USER);
	free(sp);
}

Test(policy, spec_bad_prefix)
{
	struct proto_key_spec *sp = good_spec();

	strcpy(sp->prefix, "AK");
	spec_fails(sp, PROTO_OWNER_USER,
	    "prefix 'AK' is not 1-16 of [a-z0-9]");
	strcpy(sp->prefix, "");
	spec_fails(sp, PROTO_OWNER_USER,
	    "prefix '' is not 1-16 of [a-z0-9]");
	strcpy(sp->prefix, "a_b");
	spec_fails(sp, PROTO_OWNER_USER,
	    "prefix 'a_b' is not 1-16 of [a-z0-9]");
	strcpy(sp->prefix, "abcdefghijklmnop");	/* 16 */
	spec_ok(sp, PROTO_OWNER_USER);
	free(sp);
}

Test(policy, spec_expiry_limit)
{
	struct proto_key_spec *sp = good_spec();

	sp->expires_in = 100ULL * 365 * 24 * 3600;
	spec_ok(sp, PROTO_OWNER_USER);
	sp->expires_in = 0;		/* never */
	spec_ok(sp, PROTO_OWNER_USER);
	sp->expires_in = 101ULL * 365 * 24 * 3600;
	spec_fails(sp, PROTO_OWNER_USER,
	    "expiry is more than 100 years away");
	sp->expires_in = UINT64_MAX;
	spec_fails(sp, PROTO_OWNER_USER,
	    "expiry is more than 100 years away");
	free(sp);
}

Test(policy, spec_bad_service)
{
	struct proto_key_spec *sp = good_spec();

	add_service(&sp->services, "bad service");
	spec_fails(sp, PROTO_OWNER_USER,
	    "service 'bad service' is not a valid service name");
	free(sp);
}

Test(policy, spec_bad_permission)
{
	struct proto_key_spec *sp = good_spec();

	add_perm(&sp->permissions, "repo");
	spec_fails(sp, PROTO_OWNER_USER,
	    "permission 'repo' is not resource:action");
	sp->permissions.n--;
	add_perm(&sp->permissions, "a:b:c");
	spec_fails(sp, PROTO_OWNER_USER,
	    "permission 'a:b:c' is not resource:action");
	free(sp);
}

Test(policy, spec_allowed_users_on_user_key)
{
	struct proto_key_spec *sp = good_spec();

	add_user(&sp->allowed_users, "bob");
	spec_fails(sp, PROTO_OWNER_USER,
	    "allowed users apply to tenant keys only");
	/* Clearing the list is fine for any key. */
	sp->allowed_users.n = 0;
	spec_ok(sp, PROTO_OWNER_USER);
	free(sp);
}

Test(policy, spec_unset_fields_not_checked)
{
	struct proto_key_spec *sp = good_spec();

	strcpy(sp->name, "a\nb");
	strcpy(sp->prefix, "BAD_");
	sp->expires_in = UINT64_MAX;
	add_service(&sp->services, "bad service");
	add_perm(&sp->permissions, "nocolon");
	add_user(&sp->allowed_users, "bob");
	strcpy(sp->metadata, "not json");

	sp->set = 0;
	spec_ok(sp, PROTO_OWNER_USER);
	/* Metadata is metadata.c's business, not policy's. */
	sp->set = PROTO_SET_METADATA;
	spec_ok(sp, PROTO_OWNER_USER);
	/* Each bit turns on exactly its own check. */
	sp->set = PROTO_SET_NAME;
	spec_fails(sp, PROTO_OWNER_USER, bad_name_msg);
	sp->set = PROTO_SET_PREFIX;
	spec_fails(sp, PROTO_OWNER_USER,
	    "prefix 'BAD_' is not 1-16 of [a-z0-9]");
	sp->set = PROTO_SET_EXPIRES;
	spec_fails(sp, PROTO_OWNER_USER,
	    "expiry is more than 100 years away");
	sp->set = PROTO_SET_SERVICES;
	spec_fails(sp, PROTO_OWNER_USER,
	    "service 'bad service' is not a valid service name");
	sp->set = PROTO_SET_PERMISSIONS;
	spec_fails(sp, PROTO_OWNER_USER,
	    "permission 'nocolon' is not resource:action");
	sp->set = PROTO_SET_USERS;
	spec_fails(sp, PROTO_OWNER_USER,
	    "allowed users apply to tenant keys only");
	spec_ok(sp, PROTO_OWNER_TENANT);
	free(sp);
}

/* ------------------------------------------------------------------ */
/* Source address ranges (issue 4) */

static void
add_cidr(struct proto_cidr_list *l, const char *s)
{
	cr_assert_lt(l->n, PROTO_MAX_CIDRS);
	cr_assert_lt(strlen(s), sizeof(l->v[0]));
	strcpy(l->v[l->n++], s);
}

/* 1 when rhost is inside the single range cidr. */
static int
match1(const char *cidr, const char *rhost)
{
	struct proto_cidr_list	 l;

	memset(&l, 0, sizeof(l));
	add_cidr(&l, cidr);
	return policy_cidr_match(&l, rhost);
}

static void
expect_match(const char *cidr, const char *rhost, int want)
{
	cr_expect_eq(match1(cidr, rhost), want, "%s in %s: %d, want %d",
	    rhost, cidr, !want, want);
}

Test(policy, cidr_valid_accepts)
{
	const char	*ok[] = {
		"10.0.0.0/8", "192.0.2.7", "0.0.0.0/0", "192.0.2.7/32",
		"2001:db8::/32", "::/0", "::1/128", "::ffff:10.0.0.0/104",
		"::", "::1", "2001:db8::1", "192.0.2.0/24", "10.16.0.0/20",
		"2001:db8::/65", "255.255.255.255/32", "fe80::/10",
		/* Host bits set under the prefix are allowed. */
		"10.1.2.3/8",
		/* The longest form: exactly PROTO_CIDR_MAX characters. */
		"0000:0000:0000:0000:0000:ffff:255.255.255.255/128",
	};
	size_t		 i;

	cr_expect_eq(strlen(ok[sizeof(ok) / sizeof(ok[0]) - 1]),
	    PROTO_CIDR_MAX);
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cr_expect_eq(policy_cidr_valid(ok[i]), 1, "rejected %s", ok[i]);
}

Test(policy, cidr_valid_rejects)
{
	const char	*bad[] = {
		"10.0.0.0/33", "::/129", "10.0.0.0/", "/8", "10.0.0.0/08",
		"10.0.0.0/-1", "300.0.0.0/8", "host.example", "", "10.0.0.0/8/8",
		"/", "10.0.0.0/+8", "10.0.0.0/ 8", " 10.0.0.0/8", "10.0.0.0/8 ",
		"10.0.0.0/8x", "10.0.0/8", "10.0.0.0.0/8", "010.0.0.0/8",
		"10.0.0.0/00", "::/0129", "2001:db8:::/32", "2001:db8::/32/",
		"10.0.0.0/99999999999999999999", "10.0.0.0/4294967304",
		"fe80::1%eth0", "fe80::1%eth0/64", "localhost", "10.0.0.0\n",
		"0x0a000000/8",
	};
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(policy_cidr_valid(bad[i]), 0, "accepted '%s'",
		    bad[i]);
}

Test(policy, cidr_valid_rejects_too_long)
{
	char	 s[1024];

	/* One character past the maximum, in a form that is otherwise good. */
	strcpy(s, "0000:0000:0000:0000:0000:ffff:255.255.255.255/128");
	memmove(s + 1, s, strlen(s) + 1);
	s[0] = '0';
	cr_expect_eq(strlen(s), PROTO_CIDR_MAX + 1);
	cr_expect_eq(policy_cidr_valid(s), 0);
	/* Far longer than any buffer in the parser. */
	memset(s, '1', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	cr_expect_eq(policy_cidr_valid(s), 0);
	strcpy(s, "10.0.0.0/");
	memset(s + 9, '0', 500);
	strcpy(s + 509, "8");
	cr_expect_eq(policy_cidr_valid(s), 0);
}

Test(policy, cidr_match_v4_zero_prefix)
{
	expect_match("0.0.0.0/0", "1.2.3.4", 1);
	expect_match("0.0.0.0/0", "0.0.0.0", 1);
	expect_match("0.0.0.0/0", "255.255.255.255", 1);
	expect_match("0.0.0.0/0", "::ffff:10.1.2.3", 1);
	expect_match("0.0.0.0/0", "::ffff:0:0", 1);
	/* An IPv4 range never covers native IPv6. */
	expect_match("0.0.0.0/0", "2001:db8::1", 0);
	expect_match("0.0.0.0/0", "::1", 0);
	expect_match("0.0.0.0/0", "::", 0);
	expect_match("0.0.0.0/0", "::10.1.2.3", 0);
	/* Nor does a different-but-nonzero /0 network. */
	expect_match("10.0.0.0/0", "192.0.2.1", 1);
	expect_match("10.0.0.0/0", "2001:db8::1", 0);
}

Test(policy, cidr_match_v6_zero_prefix)
{
	expect_match("::/0", "2001:db8::1", 1);
	expect_match("::/0", "::", 1);
	expect_match("::/0", "::1", 1);
	expect_match("::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1);
	expect_match("::/0", "1.2.3.4", 1);
	expect_match("::/0", "::ffff:1.2.3.4", 1);
	expect_match("2001:db8::/0", "10.0.0.1", 1);
}

Test(policy, cidr_match_host_ranges)
{
	expect_match("192.0.2.7/32", "192.0.2.7", 1);
	expect_match("192.0.2.7/32", "::ffff:192.0.2.7", 1);
	expect_match("192.0.2.7/32", "192.0.2.6", 0);
	expect_match("192.0.2.7/32", "192.0.2.8", 0);
	expect_match("192.0.2.7/32", "193.0.2.7", 0);
	/* Without a prefix: a single address. */
	expect_match("192.0.2.7", "192.0.2.7", 1);
	expect_match("192.0.2.7", "192.0.2.6", 0);
	expect_match("2001:db8::1/128", "2001:db8::1", 1);
	expect_match("2001:db8::1/128", "2001:db8:0:0:0:0:0:1", 1);
	expect_match("2001:db8::1/128", "2001:DB8::1", 1);
	expect_match("2001:db8::1/128", "2001:db8::2", 0);
	expect_match("2001:db8::1/128", "2001:db8::", 0);
	expect_match("2001:db8::1/128", "3001:db8::1", 0);
	expect_match("2001:db8::1", "2001:db8::1", 1);
	expect_match("2001:db8::1", "2001:db8::1:1", 0);
	expect_match("::1/128", "::1", 1);
	expect_match("::1/128", "127.0.0.1", 0);
	expect_match("127.0.0.1", "::1", 0);
}

Test(policy, cidr_match_31_and_127)
{
	expect_match("192.0.2.4/31", "192.0.2.4", 1);
	expect_match("192.0.2.4/31", "192.0.2.5", 1);
	expect_match("192.0.2.4/31", "192.0.2.3", 0);
	expect_match("192.0.2.4/31", "192.0.2.6", 0);
	expect_match("2001:db8::4/127", "2001:db8::4", 1);
	expect_match("2001:db8::4/127", "2001:db8::5", 1);
	expect_match("2001:db8::4/127", "2001:db8::3", 0);
	expect_match("2001:db8::4/127", "2001:db8::6", 0);
}

Test(policy, cidr_match_non_octet_prefixes)
{
	expect_match("10.16.0.0/20", "10.16.0.0", 1);
	expect_match("10.16.0.0/20", "10.16.15.255", 1);
	expect_match("10.16.0.0/20", "10.16.16.0", 0);
	expect_match("10.16.0.0/20", "10.15.255.255", 0);
	expect_match("10.16.0.0/20", "::ffff:10.16.7.1", 1);
	expect_match("128.0.0.0/1", "200.1.1.1", 1);
	expect_match("128.0.0.0/1", "127.255.255.255", 0);
	expect_match("2001:db8::8000:0:0:0/65", "2001:db8::8000:0:0:0", 1);
	expect_match("2001:db8::8000:0:0:0/65",
	    "2001:db8::ffff:ffff:ffff:ffff", 1);
	expect_match("2001:db8::8000:0:0:0/65",
	    "2001:db8::7fff:ffff:ffff:ffff", 0);
	expect_match("2001:db8::8000:0:0:0/65", "2001:db8:0:1:8000::", 0);
	expect_match("2001:db8::/32", "2001:db8:ffff::1", 1);
	expect_match("2001:db8::/32", "2001:db9::1", 0);
}

Test(policy, cidr_match_v4_mapped)
{
	expect_match("10.0.0.0/8", "::ffff:10.1.2.3", 1);
	expect_match("10.0.0.0/8", "::FFFF:10.1.2.3", 1);
	expect_match("10.0.0.0/8", "::ffff:a01:203", 1);
	expect_match("10.0.0.0/8", "::ffff:11.1.2.3", 0);
	expect_match("10.0.0.0/8", "10.1.2.3", 1);
	expect_match("10.0.0.0/8", "11.1.2.3", 0);
	/* The same bytes outside ::ffff:0:0/96 are not IPv4. */
	expect_match("10.0.0.0/8", "::10.1.2.3", 0);
	expect_match("10.0.0.0/8", "a00::", 0);
	/* A mapped range written in IPv6 covers both spellings. */
	expect_match("::ffff:10.0.0.0/104", "10.1.2.3", 1);
	expect_match("::ffff:10.0.0.0/104", "::ffff:10.1.2.3", 1);
	expect_match("::ffff:10.0.0.0/104", "11.1.2.3", 0);
	expect_match("::ffff:0:0/96", "198.51.100.1", 1);
	expect_match("::ffff:0:0/96", "2001:db8::1", 0);
	/* A native IPv6 range does not cover IPv4. */
	expect_match("2001:db8::/32", "32.1.13.184", 0);
}

Test(policy, cidr_match_hostnames_and_empty_never)
{
	const char	*ranges[] = { "0.0.0.0/0", "::/0", "127.0.0.1",
	    "::1" };
	const char	*hosts[] = { "", "localhost", "host.example",
	    "192.0.2.1.example", "192.0.2.1 ", " 192.0.2.1", "192.0.2",
	    "fe80::1%eth0", "[::1]", "192.0.2.1/32" };
	size_t		 i, j;

	for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		for (j = 0; j < sizeof(hosts) / sizeof(hosts[0]); j++)
			expect_match(ranges[i], hosts[j], 0);
}

Test(policy, cidr_match_lists)
{
	struct proto_cidr_list	 l;

	memset(&l, 0, sizeof(l));
	/* An empty list matches nothing (policy_verify skips the check). */
	cr_expect_eq(policy_cidr_match(&l, "10.0.0.1"), 0);
	add_cidr(&l, "192.0.2.0/24");
	add_cidr(&l, "2001:db8::/32");
	add_cidr(&l, "10.0.0.0/8");
	cr_expect_eq(policy_cidr_match(&l, "10.0.0.1"), 1);
	cr_expect_eq(policy_cidr_match(&l, "192.0.2.200"), 1);
	cr_expect_eq(policy_cidr_match(&l, "2001:db8::7"), 1);
	cr_expect_eq(policy_cidr_match(&l, "198.51.100.1"), 0);
	cr_expect_eq(policy_cidr_match(&l, "2001:db9::7"), 0);
	/* Only the first n entries count. */
	l.n = 1;
	cr_expect_eq(policy_cidr_match(&l, "10.0.0.1"), 0);
}

Test(policy, verify_cidr_outside)
{
	add_cidr(&k->info.limits.cidrs, "10.0.0.0/8");
	add_cidr(&k->info.limits.cidrs, "2001:db8::/32");
	strcpy(req->rhost, "198.51.100.7");
	expect(verify(NULL, NOW), PROTO_FORBIDDEN,
	    "source address '198.51.100.7' is not allowed");
	strcpy(req->rhost, "2001:db9::1");
	expect(verify(NULL, NOW), PROTO_FORBIDDEN,
	    "source address '2001:db9::1' is not allowed");
	strcpy(req->rhost, "gateway.example");
	expect(verify(NULL, NOW), PROTO_FORBIDDEN,
	    "source address 'gateway.example' is not allowed");
}

Test(policy, verify_cidr_without_rhost)
{
	add_cidr(&k->info.limits.cidrs, "0.0.0.0/0");
	add_cidr(&k->info.limits.cidrs, "::/0");
	expect(verify(NULL, NOW), PROTO_FORBIDDEN,
	    "key is limited to certain source addresses and no remote host "
	    "was given");
}

Test(policy, verify_cidr_inside)
{
	add_cidr(&k->info.limits.cidrs, "10.0.0.0/8");
	add_cidr(&k->info.limits.cidrs, "2001:db8::/32");
	strcpy(req->rhost, "10.9.8.7");
	expect(verify(NULL, NOW), PROTO_VALID, "");
	strcpy(req->rhost, "::ffff:10.9.8.7");
	expect(verify(NULL, NOW), PROTO_VALID, "");
	strcpy(req->rhost, "2001:db8::42");
	expect(verify(NULL, NOW), PROTO_VALID, "");
}

Test(policy, verify_no_cidrs_any_rhost)
{
	strcpy(req->rhost, "not even an address");
	expect(verify(NULL, NOW), PROTO_VALID, "");
	req->rhost[0] = '\0';
	expect(verify(NULL, NOW), PROTO_VALID, "");
}

Test(policy, verify_cidr_tenant_key)
{
	make_tenant_key("acme");
	add_cidr(&k->info.limits.cidrs, "192.0.2.0/24");
	strcpy(req->rhost, "192.0.3.1");
	expect(verify(t, NOW), PROTO_FORBIDDEN,
	    "source address '192.0.3.1' is not allowed");
	strcpy(req->rhost, "192.0.2.1");
	expect(verify(t, NOW), PROTO_VALID, "");
}

Test(policy, check_order_restrictions_before_cidr)
{
	add_service(&k->info.services, "sshd");
	strcpy(req->service, "ftp");
	add_cidr(&k->info.limits.cidrs, "10.0.0.0/8");
	strcpy(req->rhost, "198.51.100.7");

	expect(verify(NULL, NOW), PROTO_FORBIDDEN,
	    "service 'ftp' is not allowed");
	req->service[0] = '\0';
	expect(verify(NULL, NOW), PROTO_FORBIDDEN,
	    "key is limited to certain services and no service was given");
	strcpy(req->service, "sshd");
	expect(verify(NULL, NOW), PROTO_FORBIDDEN,
	    "source address '198.51.100.7' is not allowed");
	strcpy(req->rhost, "10.0.0.7");
	expect(verify(NULL, NOW), PROTO_VALID, "");
}

Test(policy, check_order_users_and_tenant_before_cidr)
{
	make_tenant_key("acme");
	add_user(&k->info.allowed_users, "bob");
	strcpy(req->user, "mallory");
	strcpy(req->tenant, "other");
	add_cidr(&k->info.limits.cidrs, "10.0.0.0/8");

	expect(verify(t, NOW), PROTO_FORBIDDEN,
	    "key does not belong to tenant 'other'");
	strcpy(req->tenant, "acme");
	expect(verify(t, NOW), PROTO_FORBIDDEN,
	    "user 'mallory' is not allowed");
	strcpy(req->user, "bob");
	expect(verify(t, NOW), PROTO_FORBIDDEN,
	    "key is limited to certain source addresses and no remote host "
	    "was given");
}

Test(policy, check_order_cidr_before_permissions)
{
	add_cidr(&k->info.limits.cidrs, "10.0.0.0/8");
	strcpy(req->rhost, "198.51.100.7");
	add_perm(&req->required, "repo:write");

	expect(verify(NULL, NOW), PROTO_FORBIDDEN,
	    "source address '198.51.100.7' is not allowed");
	req->rhost[0] = '\0';
	expect(verify(NULL, NOW), PROTO_FORBIDDEN,
	    "key is limited to certain source addresses and no remote host "
	    "was given");
	strcpy(req->rhost, "10.1.1.1");
	expect(verify(NULL, NOW), PROTO_INSUFFICIENT_PERMISSIONS,
	    "permission 'repo:write' not granted");
	add_perm(&k->info.permissions, "repo:*");
	expect(verify(NULL, NOW), PROTO_VALID, "");
}

Test(policy, check_order_state_before_cidr)
{
	add_cidr(&k->info.limits.cidrs, "10.0.0.0/8");
	strcpy(req->rhost, "198.51.100.7");
	k->info.enabled = 0;
	k->info.expires_at = NOW;

	expect(verify(NULL, NOW), PROTO_DISABLED, "key is disabled");
	k->info.enabled = 1;
	expect(verify(NULL, NOW), PROTO_EXPIRED, "key expired");
	k->info.expires_at = 0;
	expect(verify(NULL, NOW), PROTO_FORBIDDEN,
	    "source address '198.51.100.7' is not allowed");
}

Test(policy, verify_ignores_rate_and_credits)
{
	/* Stateful limits are verify.c's; the pure policy passes them. */
	k->info.limits.rate_max = 1;
	k->info.limits.rate_window_ms = 1000;
	k->info.limits.has_credits = 1;
	k->info.limits.remaining = 0;
	expect(verify(NULL, NOW), PROTO_VALID, "");
}

/* ------------------------------------------------------------------ */
/* policy_spec_valid: usage limits */

Test(policy, spec_bad_cidr)
{
	struct proto_key_spec *sp = good_spec();

	add_cidr(&sp->limits.cidrs, "10.0.0.0/8");
	add_cidr(&sp->limits.cidrs, "2001:db8::/32");
	spec_ok(sp, PROTO_OWNER_USER);
	add_cidr(&sp->limits.cidrs, "10.0.0.0/33");
	spec_fails(sp, PROTO_OWNER_USER,
	    "'10.0.0.0/33' is not an IPv4 or IPv6 address or range");
	strcpy(sp->limits.cidrs.v[2], "host.example");
	spec_fails(sp, PROTO_OWNER_USER,
	    "'host.example' is not an IPv4 or IPv6 address or range");
	strcpy(sp->limits.cidrs.v[2], "");
	spec_fails(sp, PROTO_OWNER_USER,
	    "'' is not an IPv4 or IPv6 address or range");
	/* Without the bit, the list is not looked at. */
	sp->set &= ~(uint32_t)PROTO_SET_CIDRS;
	spec_ok(sp, PROTO_OWNER_USER);
	free(sp);
}

Test(policy, spec_full_cidr_list)
{
	struct proto_key_spec *sp = good_spec();
	char		 s[32];
	int		 i;

	for (i = 0; i < PROTO_MAX_CIDRS; i++) {
		snprintf(s, sizeof(s), "10.%d.0.0/16", i);
		add_cidr(&sp->limits.cidrs, s);
	}
	spec_ok(sp, PROTO_OWNER_USER);
	strcpy(sp->limits.cidrs.v[PROTO_MAX_CIDRS - 1], "10.0.0.0/08");
	spec_fails(sp, PROTO_OWNER_USER,
	    "'10.0.0.0/08' is not an IPv4 or IPv6 address or range");
	free(sp);
}

static const char rate_msg[] = "rate limit window must be between 1 ms and "
    "1 day";

Test(policy, spec_rate_window)
{
	struct proto_key_spec *sp = good_spec();

	sp->limits.rate_max = 100;
	sp->limits.rate_window_ms = 0;
	spec_fails(sp, PROTO_OWNER_USER, rate_msg);
	sp->limits.rate_window_ms = 24U * 3600 * 1000 + 1;
	spec_fails(sp, PROTO_OWNER_USER, rate_msg);
	sp->limits.rate_window_ms = UINT32_MAX;
	spec_fails(sp, PROTO_OWNER_USER, rate_msg);
	sp->limits.rate_window_ms = 24U * 3600 * 1000;
	spec_ok(sp, PROTO_OWNER_USER);
	sp->limits.rate_window_ms = 1;
	spec_ok(sp, PROTO_OWNER_USER);
	/* rate_max 0 removes the limit: the window does not matter. */
	sp->limits.rate_max = 0;
	sp->limits.rate_window_ms = 0;
	spec_ok(sp, PROTO_OWNER_USER);
	sp->limits.rate_window_ms = UINT32_MAX;
	spec_ok(sp, PROTO_OWNER_USER);
	/* Without the bit, not checked. */
	sp->limits.rate_max = 5;
	sp->set &= ~(uint32_t)PROTO_SET_RATE;
	spec_ok(sp, PROTO_OWNER_USER);
	free(sp);
}

static const char refill_msg[] = "refill interval must be between 1 second "
    "and 100 years";

Test(policy, spec_refill_interval)
{
	struct proto_key_spec *sp = good_spec();

	sp->limits.has_credits = 1;
	sp->limits.remaining = 10;
	sp->limits.refill_amount = 10;
	sp->limits.refill_interval = 0;
	spec_fails(sp, PROTO_OWNER_USER, refill_msg);
	sp->limits.refill_interval = UINT64_MAX;
	spec_fails(sp, PROTO_OWNER_USER, refill_msg);
	sp->limits.refill_interval = 101ULL * 366 * 24 * 3600;
	spec_fails(sp, PROTO_OWNER_USER, refill_msg);
	sp->limits.refill_interval = 1;
	spec_ok(sp, PROTO_OWNER_USER);
	sp->limits.refill_interval = 100ULL * 366 * 24 * 3600;
	spec_ok(sp, PROTO_OWNER_USER);
	/* refill_amount 0 removes the refill: the interval does not matter. */
	sp->limits.refill_amount = 0;
	sp->limits.refill_interval = 0;
	spec_ok(sp, PROTO_OWNER_USER);
	/* Without the bit, not checked. */
	sp->limits.refill_amount = 10;
	sp->set &= ~(uint32_t)PROTO_SET_REFILL;
	spec_ok(sp, PROTO_OWNER_USER);
	free(sp);
}

Test(policy, spec_limit_checks_in_order)
{
	struct proto_key_spec *sp = good_spec();

	add_cidr(&sp->limits.cidrs, "nope");
	sp->limits.rate_max = 1;
	sp->limits.refill_amount = 1;
	spec_fails(sp, PROTO_OWNER_USER,
	    "'nope' is not an IPv4 or IPv6 address or range");
	sp->limits.cidrs.n = 0;
	spec_fails(sp, PROTO_OWNER_USER, rate_msg);
	sp->limits.rate_window_ms = 1000;
	spec_fails(sp, PROTO_OWNER_USER, refill_msg);
	sp->limits.refill_interval = 3600;
	spec_ok(sp, PROTO_OWNER_USER);
	free(sp);
}
