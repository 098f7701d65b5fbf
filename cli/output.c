/*
 * output.c - apikeyctl's text output, and the switch to JSON.
 *
 * Single objects print as `field: value` lines, field names as in the JSON
 * documents and `-` for none; listings print as tables (grid.c). Times
 * are UTC, ISO 8601. Names and details come from other users through the
 * daemon, so anything but printable UTF-8 is shown as \xNN rather than
 * sent to a terminal.
 */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include <apikey.h>

#include "../common/text.h"
#include "grid.h"
#include "json.h"
#include "output.h"
#include "view.h"

#define TIME_LEN	sizeof("YYYY-MM-DDTHH:MM:SSZ")
#define NUM_LEN		24	/* a 64-bit number and its NUL */
#define PER_LEN		(2 * NUM_LEN + 3)	/* NUM/NUMms */

/* --- text primitives ----------------------------------------------- */

/*
 * Writes s, "-" when empty. Names come from other users: anything that is
 * not printable UTF-8 (controls, C1, bidi overrides, broken sequences) is
 * shown as \xNN, as the daemon's log shows it, never sent to the terminal.
 */
static void
put_text(const char *s)
{
	size_t	 len;

	if (s == NULL || *s == '\0')
		s = "-";
	while (*s != '\0') {
		if ((len = text_char_len(s)) == 0) {
			printf("\\x%02x", (unsigned)(unsigned char)*s++);
			continue;
		}
		fwrite(s, 1, len, stdout);
		s += len;
	}
}

static const char *
time_text(time_t t, const char *none, char buf[TIME_LEN])
{
	struct tm tm;

	if (t == 0)
		return none;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, TIME_LEN, "%jd", (intmax_t)t);
	return buf;
}

/* "100/60s": a rate limit, in seconds when the window is whole ones. */
static const char *
rate_text(const struct apikey_key *k, char buf[PER_LEN])
{
	uint32_t max = apikey_key_rate_max(k);
	uint32_t ms = apikey_key_rate_window_ms(k);

	if (max == 0)
		return "-";
	if (ms % 1000 == 0)
		snprintf(buf, PER_LEN, "%" PRIu32 "/%" PRIu32 "s", max,
		    ms / 1000);
	else
		snprintf(buf, PER_LEN, "%" PRIu32 "/%" PRIu32 "ms", max, ms);
	return buf;
}

/* "1000/86400s": a refill of the credits. */
static const char *
refill_text(const struct apikey_key *k, char buf[PER_LEN])
{
	uint64_t amount = apikey_key_refill_amount(k);

	if (amount == 0)
		return "-";
	snprintf(buf, PER_LEN, "%" PRIu64 "/%" PRIu64 "s", amount,
	    apikey_key_refill_interval(k));
	return buf;
}

/* The credits left, "-" for a key without credits (no limit). */
static const char *
remaining_text(const struct apikey_key *k, char buf[NUM_LEN])
{
	if (!apikey_key_has_credits(k))
		return "-";
	snprintf(buf, NUM_LEN, "%" PRIu64, apikey_key_remaining(k));
	return buf;
}

static void
field(const char *name, const char *value)
{
	printf("%s: ", name);
	put_text(value);
	putchar('\n');
}

static void
field_num(const char *name, uintmax_t n)
{
	printf("%s: %ju\n", name, n);
}

static void
field_yesno(const char *name, int b)
{
	field(name, b ? "yes" : "no");
}

static void
field_time(const char *name, time_t t, const char *none)
{
	char buf[TIME_LEN];

	field(name, time_text(t, none, buf));
}

static void
field_list(const char *name, const struct out_list *l)
{
	size_t i;

	printf("%s: ", name);
	if (l->n == 0)
		put_text(NULL);
	for (i = 0; i < l->n; i++) {
		if (i > 0)
			fputs(", ", stdout);
		put_text(l->get(l->obj, i));
	}
	putchar('\n');
}

static void
field_owner(const struct apikey_owner *o)
{
	fputs("owner: ", stdout);
	if (apikey_owner_kind(o) == APIKEY_OWNER_TENANT) {
		fputs("tenant ", stdout);
		put_text(apikey_owner_name(o));
		fputs(" (group ", stdout);
		put_text(apikey_owner_group(o));
		printf(", gid %ju)\n", (uintmax_t)apikey_owner_gid(o));
	} else {
		fputs("user ", stdout);
		put_text(apikey_owner_name(o));
		printf(" (uid %ju)\n", (uintmax_t)apikey_owner_uid(o));
	}
}

/* --- objects ------------------------------------------------------- */

static void
print_key(const struct apikey_key *k)
{
	struct out_list		l;
	char			buf[PER_LEN];

	field("id", apikey_key_id(k));
	field("prefix", apikey_key_prefix(k));
	field("name", apikey_key_name(k));
	field_owner(apikey_key_owner(k));
	field_yesno("enabled", apikey_key_enabled(k));
	field_num("created_by", apikey_key_created_by(k));
	field_time("created_at", apikey_key_created_at(k), "-");
	field_time("updated_at", apikey_key_updated_at(k), "-");
	field_time("expires_at", apikey_key_expires_at(k), "never");
	field_time("grace_until", apikey_key_grace_until(k), "-");
	out_key_services(k, &l);
	field_list("services", &l);
	out_key_permissions(k, &l);
	field_list("permissions", &l);
	out_key_allowed_users(k, &l);
	field_list("allowed_users", &l);
	field("metadata", apikey_key_metadata(k));
	/* Only fleet mode gives it a meaning: no line for what is off. */
	if (apikey_key_strict_sync(k))
		field_yesno("strict_sync", 1);
	field("rate_limit", rate_text(k, buf));
	field("remaining", remaining_text(k, buf));
	field("refill", refill_text(k, buf));
	/* The daemon keeps the time when credits go; it means nothing then. */
	field_time("last_refill_at", apikey_key_has_credits(k) ?
	    apikey_key_last_refill_at(k) : 0, "-");
	out_key_cidrs(k, &l);
	field_list("allowed_cidrs", &l);
	field_time("last_used", apikey_key_last_used(k), "never");
	field_num("use_count", apikey_key_use_count(k));
}

static void
print_tenant(const struct apikey_tenant *t)
{
	const char *admin = apikey_tenant_admin_group(t);

	field("name", apikey_tenant_name(t));
	field("group", apikey_tenant_group(t));
	field_num("gid", apikey_tenant_gid(t));
	field("admin_group", admin);
	if (*admin != '\0')
		field_num("admin_gid", apikey_tenant_admin_gid(t));
	else
		field("admin_gid", NULL);
	field_yesno("enabled", apikey_tenant_enabled(t));
	field_yesno("allow_privileged", apikey_tenant_allow_privileged(t));
	field_num("created_by", apikey_tenant_created_by(t));
	field_time("created_at", apikey_tenant_created_at(t), "-");
	field_num("keys", apikey_tenant_key_count(t));
}

int
out_key(int json, const struct apikey_key *k)
{
	if (json)
		return jout_key(k);
	print_key(k);
	return 0;
}

int
out_key_token(int json, int quiet, const struct apikey_key *k,
    const char *token)
{
	if (quiet) {
		printf("%s\n", token);
		return 0;
	}
	if (json)
		return jout_key_token(k, token);
	print_key(k);
	printf("token: %s\n", token);
	/* After the token, so a terminal shows it right below. */
	fflush(stdout);
	fputs("Store this token now: it is shown only once.\n", stderr);
	return 0;
}

int
out_key_token_item(int json, int quiet, size_t i, const struct apikey_key *k,
    const char *token)
{
	if (json)
		return jout_key_token_item(i, k, token);
	if (quiet)
		printf("%s\n", token);
	else
		printf("%s %s\n", apikey_key_id(k), token);
	return 0;
}

void
out_key_token_end(int json, int quiet, size_t n)
{
	if (json)
		jout_key_token_end(n);
	fflush(stdout);
	if (!json && !quiet && n > 0)
		fputs("Store these tokens now: each is shown only once.\n",
		    stderr);
}

/* Whether any key of l asks for strict sync. */
static int
any_strict_sync(const struct apikey_key_list *l)
{
	size_t	i, n = apikey_key_list_count(l);

	for (i = 0; i < n; i++)
		if (apikey_key_strict_sync(apikey_key_list_get(l, i)))
			return 1;
	return 0;
}

int
out_key_list(int json, const struct apikey_key_list *l)
{
	static const char *const head[] = {
		"ID", "NAME", "OWNER", "ENABLED", "EXPIRES", "REMAINING",
		"STRICT-SYNC"
	};
	const struct apikey_key		*k;
	const struct apikey_owner	*o;
	const char			*row[7];
	/* The last column only when a key has strict sync: most stores,
	 * all but fleets, never do. */
	struct grid			 g = { .ncols = any_strict_sync(l) ?
					    7 : 6 };
	char				 owner[256], tbuf[TIME_LEN];
	char				 nbuf[NUM_LEN];
	size_t				 i, n = apikey_key_list_count(l);
	int				 rc;

	if (json)
		return jout_key_list(l);
	rc = grid_add(&g, head);
	for (i = 0; rc == 0 && i < n; i++) {
		k = apikey_key_list_get(l, i);
		o = apikey_key_owner(k);
		if (apikey_owner_kind(o) == APIKEY_OWNER_TENANT)
			snprintf(owner, sizeof(owner), "tenant:%s",
			    apikey_owner_name(o));
		else if (*apikey_owner_name(o) != '\0')
			snprintf(owner, sizeof(owner), "user:%s",
			    apikey_owner_name(o));
		else	/* a uid without a name in NSS */
			snprintf(owner, sizeof(owner), "uid:%ju",
			    (uintmax_t)apikey_owner_uid(o));
		row[0] = apikey_key_id(k);
		row[1] = apikey_key_name(k);
		row[2] = owner;
		row[3] = apikey_key_enabled(k) ? "yes" : "no";
		row[4] = time_text(apikey_key_expires_at(k), "never", tbuf);
		row[5] = remaining_text(k, nbuf);
		row[6] = apikey_key_strict_sync(k) ? "yes" : "no";
		rc = grid_add(&g, row);
	}
	return grid_done(&g, rc);
}

int
out_key_done(int json, const char *verb, const struct apikey_key *k)
{
	if (json)
		return jout_key_done(k);
	printf("%s key %s\n", verb, apikey_key_id(k));
	return 0;
}

int
out_key_revoked(int json, const char *id)
{
	if (json)
		return jout_key_revoked(id);
	printf("revoked key %s\n", id);
	return 0;
}

int
out_keys_purged(int json, unsigned n)
{
	if (json)
		return jout_keys_purged(n);
	printf("purged %u expired %s\n", n, n == 1 ? "key" : "keys");
	return 0;
}

int
out_tenant(int json, const struct apikey_tenant *t)
{
	if (json)
		return jout_tenant(t);
	print_tenant(t);
	return 0;
}

int
out_tenant_list(int json, const struct apikey_tenant_list *l)
{
	static const char *const head[] = {
		"NAME", "GROUP", "GID", "ADMIN-GROUP", "ENABLED", "KEYS"
	};
	const struct apikey_tenant	*t;
	const char			*row[6];
	struct grid			 g = { .ncols = 6 };
	char				 gid[NUM_LEN], keys[NUM_LEN];
	size_t				 i, n = apikey_tenant_list_count(l);
	int				 rc;

	if (json)
		return jout_tenant_list(l);
	rc = grid_add(&g, head);
	for (i = 0; rc == 0 && i < n; i++) {
		t = apikey_tenant_list_get(l, i);
		snprintf(gid, sizeof(gid), "%ju",
		    (uintmax_t)apikey_tenant_gid(t));
		snprintf(keys, sizeof(keys), "%u", apikey_tenant_key_count(t));
		row[0] = apikey_tenant_name(t);
		row[1] = apikey_tenant_group(t);
		row[2] = gid;
		row[3] = apikey_tenant_admin_group(t);
		row[4] = apikey_tenant_enabled(t) ? "yes" : "no";
		row[5] = keys;
		rc = grid_add(&g, row);
	}
	return grid_done(&g, rc);
}

int
out_tenant_done(int json, const char *verb, const struct apikey_tenant *t)
{
	if (json)
		return jout_tenant_done(t);
	printf("%s tenant ", verb);
	put_text(apikey_tenant_name(t));
	putchar('\n');
	return 0;
}

int
out_tenant_removed(int json, const char *name, unsigned keys_revoked)
{
	if (json)
		return jout_tenant_removed(name, keys_revoked);
	printf("removed tenant %s (%u %s revoked)\n", name, keys_revoked,
	    keys_revoked == 1 ? "key" : "keys");
	return 0;
}

uint64_t
out_uptime(const struct apikey_status *s)
{
	time_t	now = time(NULL), start = apikey_status_started_at(s);

	return now > start ? (uint64_t)(now - start) : 0;
}

uint64_t
out_fleet_lag(const struct apikey_status *s)
{
	uint64_t head = apikey_status_fleet_head_seq(s);
	uint64_t last = apikey_status_fleet_last_seq(s);

	return head > last ? head - last : 0;
}

const char *
out_fleet_digest(const struct apikey_status *s)
{
	switch (apikey_status_fleet_digest(s)) {
	case APIKEY_FLEET_DIGEST_MATCH:
		return "match";
	case APIKEY_FLEET_DIGEST_MISMATCH:
		return "mismatch";
	default:
		return "unknown";
	}
}

/*
 * "fleet: connected, last_seq 1234, lag 0, synced 2 s ago (max staleness
 * 5 s), digest match", and the last failure on a line of its own. A
 * single host prints neither.
 */
static void
print_fleet(const struct apikey_status *s)
{
	time_t		now = time(NULL), at = apikey_status_fleet_synced_at(s);
	uint64_t	max = apikey_status_fleet_max_staleness(s);

	if (!apikey_status_fleet(s))
		return;
	printf("fleet: %s, last_seq %" PRIu64 ", lag %" PRIu64 ", ",
	    apikey_status_fleet_connected(s) ? "connected" : "disconnected",
	    apikey_status_fleet_last_seq(s), out_fleet_lag(s));
	if (at == 0)
		fputs("never synced", stdout);
	else
		printf("synced %jd s ago", (intmax_t)(now > at ? now - at : 0));
	if (max > 0)
		printf(" (max staleness %" PRIu64 " s)", max);
	if (apikey_status_fleet_digest(s) != APIKEY_FLEET_DIGEST_UNKNOWN)
		printf(", digest %s", out_fleet_digest(s));
	putchar('\n');
	if (*apikey_status_fleet_error(s) != '\0')
		field("fleet_error", apikey_status_fleet_error(s));
}

/* "3d 4h 5m 6s", from the largest unit that is not zero. */
static const char *
uptime_text(uint64_t t, char buf[64])
{
	uint64_t d = t / 86400, h = t / 3600 % 24, m = t / 60 % 60;

	if (d > 0)
		snprintf(buf, 64, "%" PRIu64 "d %" PRIu64 "h %" PRIu64 "m %"
		    PRIu64 "s", d, h, m, t % 60);
	else if (h > 0)
		snprintf(buf, 64, "%" PRIu64 "h %" PRIu64 "m %" PRIu64 "s", h,
		    m, t % 60);
	else if (m > 0)
		snprintf(buf, 64, "%" PRIu64 "m %" PRIu64 "s", m, t % 60);
	else
		snprintf(buf, 64, "%" PRIu64 "s", t);
	return buf;
}

/* "N (P%)": bytes and their share of the map. */
static void
field_share(const char *name, uint64_t n, uint64_t size)
{
	printf("%s: %ju (%ju%%)\n", name, (uintmax_t)n,
	    size > 0 ? (uintmax_t)(n * 100 / size) : (uintmax_t)0);
}

int
out_status(int json, const struct apikey_status *s)
{
	uint64_t	size = apikey_status_map_size(s);
	char		buf[64], name[64];
	int		c;

	if (json)
		return jout_status(s);
	field("version", apikey_status_version(s));
	field_num("pid", (uintmax_t)apikey_status_pid(s));
	field_time("started_at", apikey_status_started_at(s), "-");
	field("uptime", uptime_text(out_uptime(s), buf));
	field("verify_socket", apikey_status_verify_socket(s));
	field("admin_socket", apikey_status_admin_socket(s));
	field_num("keys", apikey_status_keys(s));
	field_num("tenants", apikey_status_tenants(s));
	field_num("caller_uid", apikey_status_caller_uid(s));
	field_yesno("caller_admin", apikey_status_caller_admin(s));
	field_num("store_size", apikey_status_store_size(s));
	field_num("map_size", size);
	field_share("map_used", apikey_status_map_used(s), size);
	field_share("map_limit", apikey_status_map_limit(s), size);
	field_num("audit_entries", apikey_status_audit_entries(s));
	field_num("audit_pruned", apikey_status_audit_pruned(s));
	print_fleet(s);
	if (!apikey_status_has_counters(s)) {
		field("verifies", "shown to administrators only");
		return 0;
	}
	field_num("verifies_total", apikey_status_verifies_total(s));
	for (c = APIKEY_VALID; c <= APIKEY_CODE_MAX; c++) {
		snprintf(name, sizeof(name), "verifies_%s",
		    apikey_code_name((enum apikey_code)c));
		field_num(name, apikey_status_verifies(s,
		    (enum apikey_code)c));
	}
	return 0;
}

int
out_audit(int json, const struct apikey_audit_list *l)
{
	static const char *const head[] = {
		"SEQ", "TIME", "UID", "PID", "ACTION", "TARGET", "DETAIL"
	};
	const struct apikey_audit	*e;
	const char			*row[7];
	struct grid			 g = { .ncols = 7 };
	char				 seq[NUM_LEN], uid[NUM_LEN];
	char				 pid[NUM_LEN], tbuf[TIME_LEN];
	size_t				 i, n = apikey_audit_list_count(l);
	int				 rc;

	if (json)
		return jout_audit(l);
	rc = grid_add(&g, head);
	for (i = 0; rc == 0 && i < n; i++) {
		e = apikey_audit_list_get(l, i);
		snprintf(seq, sizeof(seq), "%" PRIu64, apikey_audit_seq(e));
		snprintf(uid, sizeof(uid), "%ju",
		    (uintmax_t)apikey_audit_uid(e));
		snprintf(pid, sizeof(pid), "%jd",
		    (intmax_t)apikey_audit_pid(e));
		row[0] = seq;
		row[1] = time_text(apikey_audit_time(e), "-", tbuf);
		row[2] = uid;
		row[3] = pid;
		row[4] = apikey_audit_action(e);
		row[5] = apikey_audit_target(e);
		row[6] = apikey_audit_detail(e);
		rc = grid_add(&g, row);
	}
	return grid_done(&g, rc);
}

int
out_verify_passed(const struct apikey_result *r, const char *user, int authz)
{
	if (apikey_result_code(r) != APIKEY_VALID)
		return 0;
	return user == NULL || authz == 0;
}

int
out_verify(int json, const struct apikey_result *r, const char *user,
    int authz)
{
	enum apikey_code	 code = apikey_result_code(r);
	const char		*reason = apikey_result_reason(r);
	struct out_list		 l;

	if (json)
		return jout_verify(r, user == NULL ? -1 :
		    out_verify_passed(r, user, authz));

	/* The first line is the verdict, so a script can read just that. */
	if (code == APIKEY_VALID && user != NULL && authz == APIKEY_ENOUSER)
		printf("FORBIDDEN: unknown user '%s'\n", user);
	else if (code == APIKEY_VALID && user != NULL && authz != 0)
		printf("FORBIDDEN: user '%s' may not use this key\n", user);
	else if (*reason != '\0') {
		printf("%s: ", apikey_code_name(code));
		put_text(reason);
		putchar('\n');
	} else
		printf("%s\n", apikey_code_name(code));
	if (code == APIKEY_RATE_LIMITED)
		field_num("retry_after_ms", apikey_result_retry_after_ms(r));

	if (*apikey_result_key_id(r) != '\0') {
		field("id", apikey_result_key_id(r));
		field("name", apikey_result_name(r));
		field_owner(apikey_result_owner(r));
		out_result_permissions(r, &l);
		field_list("permissions", &l);
		out_result_allowed_users(r, &l);
		field_list("allowed_users", &l);
		field("metadata", apikey_result_metadata(r));
		field_time("expires_at", apikey_result_expires_at(r), "never");
	}
	if (apikey_result_has_credits(r))
		field_num("remaining", apikey_result_remaining(r));
	if (user != NULL)
		field_yesno("authorized", out_verify_passed(r, user, authz));
	return 0;
}
