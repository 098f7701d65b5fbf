/*
 * it_metrics.c - the operations counters: `apikeyctl status` (text and
 * JSON) and `apikeyctl metrics` (Prometheus text exposition format 0.0.4,
 * on stdout or atomically into a file with -o), against the real daemon.
 *
 * The verify counters tell when other people log in, so only root and
 * admin_group (eve) get them; alice gets the rest of the status, and
 * `metrics` refuses her. Every count asserted is exact: the test makes a
 * known number of verifies of each outcome, including MALFORMED ones
 * sent as raw frames (libapikey answers a token that is not shaped like a
 * key itself, without asking the daemon).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include <dirent.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "../proto/proto.h"
#include "harness.h"
#include "harness_pg.h"
#include "harness_raw.h"

TestSuite(metrics, .fini = it_teardown, .timeout = 90);

#define NCODES		(APIKEY_CODE_MAX + 1)
#define DENIED_MSG	"apikeyctl: permission denied: metrics are shown " \
			"to administrators only (root and apikeyd's " \
			"admin_group)\n"

/* --- raw frames ---------------------------------------------------------- */

/*
 * Sends one VERIFY frame for token as libapikey would, but without its
 * check of the token's shape (and, with trailing, one byte too many).
 * Returns the verify code, or 0x100 + status for an error reply.
 */
static uint32_t
raw_verify(const char *token, int trailing)
{
	uint8_t		 f[ITR_VERIFY_FRAME_MAX], *reply;
	size_t		 n;
	uint32_t	 rv;
	int		 fd;

	fd = itr_connect(it_printf("%s/verify.sock", it_sock_dir()));
	itr_write(fd, f, itr_verify_frame(f, 7, token, 0, trailing));
	n = itr_read_frame(fd, &reply);
	cr_assert_gt(n, 0, "no reply");
	close(fd);
	rv = itr_verify_code(reply, n);
	free(reply);
	return rv;
}

/* --- looking at output ---------------------------------------------------- */

static void
assert_line(const char *text, const char *line)
{
	size_t	i, n = it_line_count(text);

	for (i = 0; i < n; i++)
		if (strcmp(it_line(text, i), line) == 0)
			return;
	cr_assert_fail("no line '%s' in:\n%s", line, text);
}

static json_int_t
jint(json_t *o, const char *name)
{
	json_t	*v = json_object_get(o, name);

	cr_assert(json_is_integer(v), "%s is not an integer", name);
	return json_integer_value(v);
}

/* The text without its apikeyd_uptime_seconds sample, which ticks. */
static const char *
without_uptime(const char *text)
{
	char	*out = it_keep(strdup(text)), *p;
	size_t	 skip;

	if ((p = strstr(out, "\napikeyd_uptime_seconds ")) != NULL) {
		skip = strcspn(p + 1, "\n") + 1;
		memmove(p + 1, p + 1 + skip, strlen(p + 1 + skip) + 1);
	}
	return out;
}

/* Names of the entries of dir, sorted, space-separated. */
static const char *
dir_names(const char *dir)
{
	struct dirent	**ents;
	const char	 *s = "";
	int		  i, n;

	n = scandir(dir, &ents, NULL, alphasort);
	cr_assert(n >= 0, "%s: %s", dir, strerror(errno));
	for (i = 0; i < n; i++) {
		if (strcmp(ents[i]->d_name, ".") != 0 &&
		    strcmp(ents[i]->d_name, "..") != 0)
			s = it_printf("%s%s%s", s, *s != '\0' ? " " : "",
			    ents[i]->d_name);
		free(ents[i]);
	}
	free(ents);
	return s;
}

/* --- the verifies ----------------------------------------------------------- */

/*
 * Makes verifies of known outcomes and fills want[code] with how many of
 * each the daemon answered. Root's failures here stay under the default
 * throttle (20), so none of them turns into RATE_LIMITED.
 */
static void
make_verifies(uint64_t want[NCODES])
{
	const char	*tok, *mine;
	int		 i;

	memset(want, 0, NCODES * sizeof(want[0]));
	tok = it_key(NULL, "--name", "plain", NULL);
	for (i = 0; i < 3; i++)
		cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
	want[APIKEY_VALID] += 3;
	cr_assert_eq(it_code(it_wrong_secret(tok), NULL), APIKEY_NOT_FOUND);
	cr_assert_eq(it_code(it_with_prefix(tok, "zz"), NULL),
	    APIKEY_NOT_FOUND);
	want[APIKEY_NOT_FOUND] += 2;

	/* MALFORMED from the daemon needs a raw frame; libapikey's own
	 * MALFORMED never reaches it, and an undecodable frame gets
	 * EBADREQ, not a verify reply: neither is counted. */
	cr_assert_eq(raw_verify("ak_not_a_key", 0), PROTO_MALFORMED);
	cr_assert_eq(raw_verify(it_bad_crc(tok), 0), PROTO_MALFORMED);
	want[APIKEY_MALFORMED] += 2;
	cr_assert_eq(it_code("not-a-key", NULL), APIKEY_MALFORMED);
	cr_assert_eq(raw_verify("ak_not_a_key", 1), 0x100 + PROTO_EBADREQ);

	mine = it_key(NULL, "--name", "off", NULL);
	it_expect(NULL, 0, NULL, "key", "disable", it_id(mine), NULL);
	cr_assert_eq(it_code(mine, NULL), APIKEY_DISABLED);
	want[APIKEY_DISABLED]++;

	it_tenant("acme", "acme", "acme-admins");
	mine = it_key(NULL, "--tenant", "acme", NULL);
	it_expect(NULL, 0, NULL, "tenant", "disable", "acme", NULL);
	cr_assert_eq(it_code(mine, NULL), APIKEY_TENANT_DISABLED);
	want[APIKEY_TENANT_DISABLED]++;

	mine = it_key(NULL, "--service", "sshd", NULL);
	cr_assert_eq(it_code(mine, "svc=ftp"), APIKEY_FORBIDDEN);
	want[APIKEY_FORBIDDEN]++;

	mine = it_key(NULL, "--permission", "doc:read", NULL);
	cr_assert_eq(it_code(mine, "perm=doc:write"),
	    APIKEY_INSUFFICIENT_PERMISSIONS);
	want[APIKEY_INSUFFICIENT_PERMISSIONS]++;

	mine = it_key(NULL, "--rate", "1/1h", NULL);
	cr_assert_eq(it_code(mine, NULL), APIKEY_VALID);
	cr_assert_eq(it_code(mine, NULL), APIKEY_RATE_LIMITED);
	want[APIKEY_VALID]++;
	want[APIKEY_RATE_LIMITED]++;

	mine = it_key(NULL, "--remaining", "0", NULL);
	cr_assert_eq(it_code(mine, NULL), APIKEY_USAGE_EXCEEDED);
	want[APIKEY_USAGE_EXCEEDED]++;

	/* Every peer's verifies count, not only root's. */
	mine = it_key("alice", NULL);
	it_expect("alice", 0, NULL, "verify", mine, NULL);
	want[APIKEY_VALID]++;
}

static void
assert_json_counts(json_t *st, const uint64_t want[NCODES])
{
	json_t		*by = json_object_get(st, "verifies");
	const char	*name;
	json_t		*v;
	uint64_t	 total = 0;
	size_t		 i = 0;
	int		 c;

	cr_assert(json_is_object(by), "verifies is not an object");
	cr_assert_eq(json_object_size(by), NCODES);
	/* In code order, as the daemon checks them. */
	json_object_foreach(by, name, v) {
		cr_assert_str_eq(name, apikey_code_name((enum apikey_code)i));
		i++;
	}
	for (c = 0; c < NCODES; c++) {
		name = apikey_code_name((enum apikey_code)c);
		cr_assert_eq(jint(by, name), (json_int_t)want[c], "%s: %lld, "
		    "want %llu", name, (long long)jint(by, name),
		    (unsigned long long)want[c]);
		total += want[c];
	}
	cr_assert_eq(jint(st, "verifies_total"), (json_int_t)total);
}

/* --- tests ------------------------------------------------------------------ */

Test(metrics, counts_every_verify_by_its_final_code)
{
	uint64_t	 want[NCODES];
	const char	*out;
	json_t		*st;
	int		 c;

	it_setup();
	st = it_json(it_expect(NULL, 0, NULL, "status", "--json", NULL));
	cr_assert_eq(jint(st, "verifies_total"), 0);

	make_verifies(want);
	st = it_json(it_expect(NULL, 0, NULL, "status", "--json", NULL));
	assert_json_counts(st, want);
	cr_assert_eq(want[APIKEY_VALID], 5);
	cr_assert_eq(jint(st, "verifies_total"), 15);

	/* The text shows the same, every code in order, zeros included. */
	out = it_expect(NULL, 0, NULL, "status", NULL);
	cr_assert_str_eq(it_field(out, "verifies_total"), "15");
	for (c = 0; c < NCODES; c++)
		cr_assert_str_eq(it_field(out, it_printf("verifies_%s",
		    apikey_code_name((enum apikey_code)c))),
		    it_printf("%llu", (unsigned long long)want[c]));
	cr_assert_str_eq(it_field(out, "verifies_EXPIRED"), "0");
	it_assert_has(out, "verifies_total: 15\nverifies_VALID: 5\n"
	    "verifies_MALFORMED: 2\nverifies_NOT_FOUND: 2\n"
	    "verifies_DISABLED: 1\nverifies_TENANT_DISABLED: 1\n"
	    "verifies_EXPIRED: 0\nverifies_FORBIDDEN: 1\n"
	    "verifies_INSUFFICIENT_PERMISSIONS: 1\n"
	    "verifies_RATE_LIMITED: 1\nverifies_USAGE_EXCEEDED: 1\n"
	    "verifies_STALE: 0\n");

	/* And metrics, line for line. */
	out = it_expect(NULL, 0, NULL, "metrics", NULL);
	assert_line(out, "apikeyd_verifies_total{code=\"VALID\"} 5");
	assert_line(out, "apikeyd_verifies_total{code=\"MALFORMED\"} 2");
	assert_line(out, "apikeyd_verifies_total{code=\"NOT_FOUND\"} 2");
	assert_line(out, "apikeyd_verifies_total{code=\"DISABLED\"} 1");
	assert_line(out, "apikeyd_verifies_total{code=\"TENANT_DISABLED\"} 1");
	assert_line(out, "apikeyd_verifies_total{code=\"EXPIRED\"} 0");
	assert_line(out, "apikeyd_verifies_total{code=\"FORBIDDEN\"} 1");
	assert_line(out,
	    "apikeyd_verifies_total{code=\"INSUFFICIENT_PERMISSIONS\"} 1");
	assert_line(out, "apikeyd_verifies_total{code=\"RATE_LIMITED\"} 1");
	assert_line(out, "apikeyd_verifies_total{code=\"USAGE_EXCEEDED\"} 1");
	assert_line(out, "apikeyd_verifies_total{code=\"STALE\"} 0");
	assert_line(out, "apikeyd_info{version=\"" APIKEY_VERSION "\"} 1");
	assert_line(out, it_printf("apikeyd_keys %lld",
	    (long long)jint(st, "keys")));
	assert_line(out, "apikeyd_keys 8");
	assert_line(out, "apikeyd_tenants 1");
	assert_line(out, it_printf("apikeyd_start_time_seconds %lld",
	    (long long)jint(st, "started_at")));
	assert_line(out, it_printf("apikeyd_map_size_bytes %lld",
	    (long long)jint(st, "map_size")));
	assert_line(out, it_printf("apikeyd_map_limit_bytes %lld",
	    (long long)jint(st, "map_limit")));
	assert_line(out, it_printf("apikeyd_audit_entries %lld",
	    (long long)jint(st, "audit_entries")));
	assert_line(out, "apikeyd_audit_pruned_total 0");
}

/* RATE_LIMITED is counted as the client got it: after throttling. */
Test(metrics, throttled_failures_count_as_rate_limited)
{
	const char	*tok;
	json_t		*st, *by;

	it_prepare("throttle_failures = 2\n");
	it_start();
	tok = it_key(NULL, NULL);
	cr_assert_eq(it_code(it_wrong_secret(tok), "rhost=192.0.2.7"),
	    APIKEY_NOT_FOUND);
	cr_assert_eq(it_code(it_wrong_secret(tok), "rhost=192.0.2.7"),
	    APIKEY_NOT_FOUND);
	cr_assert_eq(it_code(it_wrong_secret(tok), "rhost=192.0.2.7"),
	    APIKEY_RATE_LIMITED);
	cr_assert_eq(it_code(tok, "rhost=192.0.2.7"), APIKEY_VALID);
	st = it_json(it_expect(NULL, 0, NULL, "status", "--json", NULL));
	by = json_object_get(st, "verifies");
	cr_assert_eq(jint(by, "NOT_FOUND"), 2);
	cr_assert_eq(jint(by, "RATE_LIMITED"), 1);
	cr_assert_eq(jint(by, "VALID"), 1);
	cr_assert_eq(jint(st, "verifies_total"), 4);
}

Test(metrics, status_shows_sockets_store_and_uptime)
{
	struct stat	 sb1, sb2;
	const char	*out, *data;
	json_t		*st;
	time_t		 now;
	regex_t		 re;

	it_setup();
	it_key(NULL, NULL);
	data = it_printf("%s/data.mdb", it_state_dir());
	cr_assert_eq(stat(data, &sb1), 0);
	st = it_json(it_expect(NULL, 0, NULL, "status", "--json", NULL));
	cr_assert_eq(stat(data, &sb2), 0);
	now = it_time();
	cr_assert_str_eq(json_string_value(json_object_get(st,
	    "verify_socket")), it_printf("%s/verify.sock", it_sock_dir()));
	cr_assert_str_eq(json_string_value(json_object_get(st,
	    "admin_socket")), it_printf("%s/admin.sock", it_sock_dir()));
	cr_assert_gt(jint(st, "store_size"), 0);
	cr_assert_geq(jint(st, "store_size"), jint(st, "map_used"));
	if (sb1.st_size == sb2.st_size)	/* no usage flush in between */
		cr_assert_eq(jint(st, "store_size"), sb1.st_size);
	cr_assert_geq(jint(st, "uptime"), 0);
	cr_assert_leq(jint(st, "uptime"), now - jint(st, "started_at") + 1);

	out = it_expect(NULL, 0, NULL, "status", NULL);
	cr_assert_str_eq(it_field(out, "verify_socket"),
	    it_printf("%s/verify.sock", it_sock_dir()));
	cr_assert_str_eq(it_field(out, "admin_socket"),
	    it_printf("%s/admin.sock", it_sock_dir()));
	cr_assert_not_null(it_field(out, "store_size"));
	cr_assert_eq(regcomp(&re, "^([0-9]+d )?([0-9]+h )?([0-9]+m )?[0-9]+s$",
	    REG_EXTENDED | REG_NOSUB), 0);
	cr_assert_eq(regexec(&re, it_field(out, "uptime"), 0, NULL, 0), 0,
	    "uptime: %s", it_field(out, "uptime"));
	regfree(&re);
	cr_assert_eq(regcomp(&re, "^[0-9]+ \\([0-9]+%\\)$", REG_EXTENDED |
	    REG_NOSUB), 0);
	cr_assert_eq(regexec(&re, it_field(out, "map_used"), 0, NULL, 0), 0);
	cr_assert_eq(regexec(&re, it_field(out, "map_limit"), 0, NULL, 0), 0);
	regfree(&re);
	/* 1 GiB, 10% held back. */
	cr_assert_str_eq(it_field(out, "map_limit"), "966367644 (90%)");
}

/* The counters tell who logs in when: not for alice; eve is an admin. */
Test(metrics, counters_only_for_administrators)
{
	uint64_t	 want[NCODES];
	struct it_run	 r;
	const char	*out;
	json_t		*st;

	it_setup();
	make_verifies(want);

	st = it_json(it_expect("alice", 0, NULL, "status", "--json", NULL));
	cr_assert(json_is_false(json_object_get(st, "caller_admin")));
	cr_assert(json_is_null(json_object_get(st, "verifies")));
	cr_assert(json_is_null(json_object_get(st, "verifies_total")));
	/* The rest of the status is for everyone. */
	cr_assert_str_eq(json_string_value(json_object_get(st,
	    "verify_socket")), it_printf("%s/verify.sock", it_sock_dir()));
	cr_assert_gt(jint(st, "store_size"), 0);
	cr_assert_eq(jint(st, "keys"), 8);

	out = it_expect("alice", 0, NULL, "status", NULL);
	cr_assert_str_eq(it_field(out, "verifies"),
	    "shown to administrators only");
	it_assert_lacks(out, "verifies_");
	cr_assert_str_eq(it_field(out, "admin_socket"),
	    it_printf("%s/admin.sock", it_sock_dir()));

	cr_assert_eq(it_ctl(&r, "alice", NULL, "metrics", NULL), 4);
	cr_assert_str_eq(r.err, DENIED_MSG);
	cr_assert_str_eq(r.out, "");
	cr_assert_eq(mkdir(it_path("prom"), 0777), 0);
	cr_assert_eq(chmod(it_path("prom"), 0777), 0);
	cr_assert_eq(it_ctl(&r, "alice", NULL, "metrics", "-o",
	    it_path("prom/apikeyd.prom"), NULL), 4);
	cr_assert_str_eq(r.err, DENIED_MSG);
	cr_assert_str_eq(dir_names(it_path("prom")), "");

	st = it_json(it_expect("eve", 0, NULL, "status", "--json", NULL));
	cr_assert(json_is_true(json_object_get(st, "caller_admin")));
	assert_json_counts(st, want);
	out = it_expect("eve", 0, NULL, "metrics", NULL);
	assert_line(out, "apikeyd_verifies_total{code=\"VALID\"} 5");
	out = it_expect("eve", 0, NULL, "status", NULL);
	cr_assert_str_eq(it_field(out, "verifies_total"), "15");
	cr_assert_null(it_field(out, "verifies"));
}

/* --- the exposition format ------------------------------------------------- */

#define NAME_RE		"[a-zA-Z_:][a-zA-Z0-9_:]*"
#define LABEL_RE	"[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\\n]|\\\\[\\\\\"n])*\""
#define VALUE_RE	"(-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?|NaN|[+-]Inf)"

struct family {
	char	name[64];
	char	type[16];
	int	help, types, samples;
};

/* The text format 0.0.4, as node_exporter's textfile collector parses
 * it, for what we print (counters and gauges); the fleet families come
 * only from a daemon in fleet mode. */
static void
check_exposition(const char *text, int fleet)
{
	static const char *const fleet_expected[][2] = {
		{ "apikeyd_fleet_connected", "gauge" },
		{ "apikeyd_fleet_last_seq", "gauge" },
		{ "apikeyd_fleet_lag", "gauge" },
		{ "apikeyd_fleet_last_sync_time_seconds", "gauge" },
		{ "apikeyd_fleet_digest_mismatch", "gauge" },
	};
	static const char *const expected[][2] = {
		{ "apikeyd_info", "gauge" },
		{ "apikeyd_start_time_seconds", "gauge" },
		{ "apikeyd_uptime_seconds", "gauge" },
		{ "apikeyd_keys", "gauge" },
		{ "apikeyd_tenants", "gauge" },
		{ "apikeyd_store_size_bytes", "gauge" },
		{ "apikeyd_map_size_bytes", "gauge" },
		{ "apikeyd_map_used_bytes", "gauge" },
		{ "apikeyd_map_limit_bytes", "gauge" },
		{ "apikeyd_audit_entries", "gauge" },
		{ "apikeyd_audit_pruned_total", "counter" },
		{ "apikeyd_verifies_total", "counter" },
	};
#define NEXPECTED	(sizeof(expected) / sizeof(expected[0]))
#define NFLEET_EXPECTED	(sizeof(fleet_expected) / sizeof(fleet_expected[0]))
	const char *const *want[NEXPECTED + NFLEET_EXPECTED];
	struct family	 fam[32];
	size_t		 nexp;
	regex_t		 sample, help, type;
	regmatch_t	 m[2];
	const char	*line;
	char		 name[64];
	size_t		 i, j, n = it_line_count(text), nfam = 0;
	int		 cur = -1;

	cr_assert(n > 0 && text[strlen(text) - 1] == '\n',
	    "the text must end with a newline");
	cr_assert_eq(regcomp(&sample, "^(" NAME_RE ")(\\{" LABEL_RE "(,"
	    LABEL_RE ")*,?\\})? " VALUE_RE "( -?[0-9]+)?$", REG_EXTENDED), 0);
	cr_assert_eq(regcomp(&help, "^# HELP (" NAME_RE ") [^\n]*$",
	    REG_EXTENDED), 0);
	cr_assert_eq(regcomp(&type, "^# TYPE (" NAME_RE ") "
	    "(counter|gauge|histogram|summary|untyped)$", REG_EXTENDED), 0);
	memset(fam, 0, sizeof(fam));
	for (i = 0; i < n; i++) {
		line = it_line(text, i);
		cr_assert_neq(line[0], '\0', "empty line %zu", i);
		if (regexec(&help, line, 2, m, 0) == 0 ||
		    regexec(&type, line, 2, m, 0) == 0) {
			snprintf(name, sizeof(name), "%.*s",
			    (int)(m[1].rm_eo - m[1].rm_so), line + m[1].rm_so);
			for (j = 0; j < nfam; j++)
				if (strcmp(fam[j].name, name) == 0)
					break;
			if (j == nfam) {
				cr_assert_lt(nfam, 32);
				snprintf(fam[nfam++].name, sizeof(fam[0].name),
				    "%s", name);
			}
			/* Both before the family's first sample. */
			cr_assert_eq(fam[j].samples, 0, "%s", line);
			if (line[2] == 'H')
				fam[j].help++;
			else {
				fam[j].types++;
				snprintf(fam[j].type, sizeof(fam[j].type),
				    "%s", line + m[1].rm_eo + 1);
			}
			cur = (int)j;
			continue;
		}
		cr_assert_neq(line[0], '#', "stray comment: %s", line);
		cr_assert_eq(regexec(&sample, line, 2, m, 0), 0,
		    "not a sample line: %s", line);
		/* Counters and gauges: the sample is named as its family,
		 * whose lines are all together. */
		cr_assert(cur >= 0, "sample before any family: %s", line);
		cr_assert_eq((size_t)(m[1].rm_eo - m[1].rm_so),
		    strlen(fam[cur].name), "%s", line);
		cr_assert_eq(strncmp(line, fam[cur].name,
		    strlen(fam[cur].name)), 0, "%s", line);
		fam[cur].samples++;
	}
	regfree(&sample);
	regfree(&help);
	regfree(&type);

	/* The fleet families go after the audit ones, before the verify
	 * counters (the last expected family). */
	nexp = 0;
	for (i = 0; i + 1 < NEXPECTED; i++)
		want[nexp++] = expected[i];
	for (i = 0; fleet && i < NFLEET_EXPECTED; i++)
		want[nexp++] = fleet_expected[i];
	want[nexp++] = expected[NEXPECTED - 1];
	cr_assert_eq(nfam, nexp);
	for (i = 0; i < nfam; i++) {
		cr_assert_str_eq(fam[i].name, want[i][0]);
		cr_assert_str_eq(fam[i].type, want[i][1], "%s", fam[i].name);
		cr_assert_eq(fam[i].help, 1, "%s: %d HELP lines", fam[i].name,
		    fam[i].help);
		cr_assert_eq(fam[i].types, 1, "%s: %d TYPE lines",
		    fam[i].name, fam[i].types);
		cr_assert_eq(fam[i].samples, strcmp(fam[i].name,
		    "apikeyd_verifies_total") == 0 ? NCODES : 1, "%s",
		    fam[i].name);
	}
}

Test(metrics, exposition_format)
{
	uint64_t	want[NCODES];

	it_setup();
	check_exposition(it_expect(NULL, 0, NULL, "metrics", NULL), 0);
	make_verifies(want);
	check_exposition(it_expect(NULL, 0, NULL, "metrics", NULL), 0);
	check_exposition(it_expect("eve", 0, NULL, "metrics", NULL), 0);
	/* No JSON form, and no arguments. */
	it_expect(NULL, 2, "apikeyctl: metrics has no JSON form: it prints "
	    "the Prometheus text format\n", "metrics", "--json", NULL);
	it_expect(NULL, 2, NULL, "metrics", "extra", NULL);
	it_expect(NULL, 2, "apikeyctl: option '-o' needs a value",
	    "metrics", "-o", NULL);
}

/* Waits until the daemon is connected, has synced and applied seq. */
static void
fleet_status_until(json_int_t seq)
{
	json_t	*st, *fl;
	int64_t	 deadline = it_now_ms() + IT_DEADLINE_MS;

	for (;;) {
		st = it_json(it_expect(NULL, 0, NULL, "--json", "status",
		    NULL));
		fl = json_object_get(st, "fleet");
		cr_assert(json_is_object(fl), "no fleet object in status");
		if (json_is_true(json_object_get(fl, "connected")) &&
		    json_is_integer(json_object_get(fl, "synced_at")) &&
		    jint(fl, "last_seq") == seq)
			return;
		cr_assert_lt(it_now_ms(), deadline, "the host never reached "
		    "seq %lld in step", (long long)seq);
		it_msleep(20);
	}
}

static void
fleet_fini(void)
{
	pg_teardown();
	it_teardown();
}

/* Fleet mode adds its families, and its numbers are the status's. */
Test(metrics, fleet_families_in_fleet_mode, .fini = fleet_fini)
{
	const char		*out, *p;
	unsigned long long	 synced;

	pg_start(NULL);
	it_prepare(it_printf("fleet_url = %s\nfleet_poll_interval = 300ms\n",
	    pg_conninfo()));
	it_start();
	/* In step first (writes wait for that only briefly), then the tenant
	 * comes back through the follow path as seq 1. */
	fleet_status_until(0);
	it_expect(NULL, 0, NULL, "tenant", "add", "acme", "--group", "acme",
	    NULL);
	fleet_status_until(1);
	out = it_expect(NULL, 0, NULL, "metrics", NULL);
	check_exposition(out, 1);
	assert_line(out, "apikeyd_fleet_connected 1");
	assert_line(out, "apikeyd_fleet_last_seq 1");
	assert_line(out, "apikeyd_fleet_lag 0");
	assert_line(out, "apikeyd_fleet_digest_mismatch 0");
	/* In step moments ago, in wall-clock seconds. */
	p = strstr(out, "\napikeyd_fleet_last_sync_time_seconds ");
	cr_assert_not_null(p, "no sync time in:\n%s", out);
	cr_assert_eq(sscanf(p, "\napikeyd_fleet_last_sync_time_seconds %llu",
	    &synced), 1);
	cr_assert(synced > 0 && synced <= (unsigned long long)time(NULL),
	    "sync time %llu", synced);
}

/* --- -o FILE --------------------------------------------------------------- */

Test(metrics, output_file_is_replaced_whole)
{
	const char	*dir, *file, *out;
	struct it_run	 r;
	struct stat	 sb;
	FILE		*f;

	it_setup();
	dir = it_path("prom");
	file = it_printf("%s/apikeyd.prom", dir);
	cr_assert_eq(mkdir(dir, 0755), 0);

	cr_assert_eq(it_ctl(&r, NULL, NULL, "metrics", "-o", file, NULL), 0,
	    "%s", r.err);
	cr_assert_str_eq(r.out, "");
	cr_assert_str_eq(r.err, "");
	cr_assert_eq(stat(file, &sb), 0);
	cr_assert_eq(sb.st_mode & 07777, 0644, "mode %o", sb.st_mode & 07777);
	cr_assert_str_eq(dir_names(dir), "apikeyd.prom");
	out = it_expect(NULL, 0, NULL, "metrics", NULL);
	cr_assert_str_eq(without_uptime(it_read_file(file, NULL)),
	    without_uptime(out));
	check_exposition(it_read_file(file, NULL), 0);

	/* An old file, of another mode, is replaced (--output too). */
	cr_assert_not_null(f = fopen(file, "w"));
	fputs("stale\n", f);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(file, 0600), 0);
	it_key(NULL, NULL);
	it_expect(NULL, 0, NULL, "metrics", "--output", file, NULL);
	cr_assert_eq(stat(file, &sb), 0);
	cr_assert_eq(sb.st_mode & 07777, 0644);
	assert_line(it_read_file(file, NULL), "apikeyd_keys 1");
	it_assert_lacks(it_read_file(file, NULL), "stale");
	cr_assert_str_eq(dir_names(dir), "apikeyd.prom");

	/* An administrator who is not root writes where she may. */
	cr_assert_eq(chown(dir, it_uid("eve"), it_gid("eve")), 0);
	it_expect("eve", 0, NULL, "metrics", "-o", file, NULL);
	cr_assert_eq(stat(file, &sb), 0);
	cr_assert_eq(sb.st_uid, it_uid("eve"));
	cr_assert_eq(sb.st_mode & 07777, 0644);
	cr_assert_str_eq(dir_names(dir), "apikeyd.prom");
}

Test(metrics, output_file_failures_leave_nothing_behind)
{
	const char	*dir, *file;
	struct it_run	 r;

	it_setup();
	dir = it_path("ro");
	file = it_printf("%s/apikeyd.prom", dir);
	cr_assert_eq(mkdir(dir, 0755), 0);

	/* eve may read the metrics but not write root's directory. */
	cr_assert_eq(it_ctl(&r, "eve", NULL, "metrics", "-o", file, NULL), 8);
	cr_assert_str_eq(r.err, it_printf("apikeyctl: cannot write %s: "
	    "Permission denied\n", file));
	cr_assert_str_eq(r.out, "");
	cr_assert_str_eq(dir_names(dir), "");

	cr_assert_eq(it_ctl(&r, NULL, NULL, "metrics", "-o",
	    it_path("none/apikeyd.prom"), NULL), 8);
	cr_assert_str_eq(r.err, it_printf("apikeyctl: cannot write %s: "
	    "No such file or directory\n", it_path("none/apikeyd.prom")));

	/* A directory in the way: the rename fails, the new file goes. */
	cr_assert_eq(mkdir(it_path("ro/sub"), 0755), 0);
	cr_assert_eq(mkdir(it_path("ro/sub/x"), 0755), 0);
	cr_assert_eq(it_ctl(&r, NULL, NULL, "metrics", "-o",
	    it_path("ro/sub"), NULL), 8);
	cr_assert_str_eq(r.err, it_printf("apikeyctl: cannot write %s: "
	    "Is a directory\n", it_path("ro/sub")));
	cr_assert_str_eq(dir_names(dir), "sub");
	cr_assert_str_eq(dir_names(it_path("ro/sub")), "x");
	it_expect(NULL, 2, "apikeyctl: --output needs a file name\n",
	    "metrics", "-o", "", NULL);
}

/* --- libapikey ------------------------------------------------------------ */

Test(metrics, library_accessors)
{
	struct apikey_status	*st = NULL;
	const char		*tok;
	uint64_t		 sum = 0;
	int			 c;

	it_setup();
	tok = it_key(NULL, NULL);
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
	cr_assert_eq(it_code(it_wrong_secret(tok), NULL), APIKEY_NOT_FOUND);
	cr_assert_eq(apikey_status(it_aclient(), &st), 0);
	cr_assert_eq(apikey_status_has_counters(st), 1);
	cr_assert_str_eq(apikey_status_verify_socket(st),
	    it_printf("%s/verify.sock", it_sock_dir()));
	cr_assert_str_eq(apikey_status_admin_socket(st),
	    it_printf("%s/admin.sock", it_sock_dir()));
	cr_assert_gt(apikey_status_store_size(st), 0);
	cr_assert_eq(apikey_status_verifies(st, APIKEY_VALID), 1);
	cr_assert_eq(apikey_status_verifies(st, APIKEY_NOT_FOUND), 1);
	for (c = APIKEY_VALID; c <= APIKEY_CODE_MAX; c++)
		sum += apikey_status_verifies(st, (enum apikey_code)c);
	cr_assert_eq(apikey_status_verifies_total(st), sum);
	cr_assert_eq(sum, 2);
	/* Past the last code, and no object: 0 or "", never a crash. */
	cr_assert_eq(apikey_status_verifies(st,
	    (enum apikey_code)(APIKEY_CODE_MAX + 1)), 0);
	cr_assert_eq(apikey_status_verifies(st, (enum apikey_code)-1), 0);
	apikey_status_free(st);
	cr_assert_eq(apikey_status_has_counters(NULL), 0);
	cr_assert_eq(apikey_status_verifies(NULL, APIKEY_VALID), 0);
	cr_assert_eq(apikey_status_verifies_total(NULL), 0);
	cr_assert_eq(apikey_status_store_size(NULL), 0);
	cr_assert_str_eq(apikey_status_verify_socket(NULL), "");
	cr_assert_str_eq(apikey_status_admin_socket(NULL), "");
}
