/*
 * seeds.c - writes the seed inputs of the fuzz targets whose valid inputs
 * must be computed: frames made by proto's encoders, records made by the
 * store's encoders, tokens with their checksums. `make fuzz` runs it into
 * $(B)/fuzz/seeds/<target>/ before each run, so the seeds always speak
 * the protocol and the record formats of the tree being fuzzed; the
 * hand-made inputs in tests/fuzz/corpus/<target>/ are added to them.
 *
 * Usage: seeds DIR (DIR/frames, DIR/record and DIR/token must exist).
 *
 * A frames seed is fuzz_frames' input: one control byte (peer, socket,
 * maintenance: see fuzz_frames.c), then the frames one connection sends.
 * The tokens are the fixture keys' (fixture.h), so verify seeds reach
 * every outcome and admin seeds name keys and tenants that exist.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemon/store_record.h"
#include "../../proto/proto.h"
#include "fixture.h"

/* fuzz_frames' control byte: peer index, then these bits. */
#define C_ADMIN		0x08
#define C_MAINTAIN	0x10
#define C_SMALL		0x20
/* Peer indexes into fx_peers. */
#define P_ROOT		0
#define P_SYS		1
#define P_DAEMON	2
#define P_NOBODY	3
#define P_UNKNOWN	4

#define NOW		1700000000ULL

static const char	*outdir;
static uint8_t		 buf[8 * PROTO_ADMIN_MAX];
static size_t		 len;
static struct writer	 fw;
static uint32_t		 next_id;

static void
die(const char *what)
{
	fprintf(stderr, "seeds: %s\n", what);
	exit(1);
}

static void
put_file(const char *target, const char *name, const void *p, size_t n)
{
	char	 path[1024];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(p, 1, n, f) != n ||
	    fclose(f) != 0)
		die(path);
}

/* --- frames ------------------------------------------------------------- */

static void
input(uint8_t control)
{
	buf[0] = control;
	len = 1;
	next_id = 1;
}

/* Begins a frame in the tail of the input; its body follows in fw. */
static struct writer *
fb(uint8_t opcode)
{
	proto_frame_init(&fw, buf + len, sizeof(buf) - len, opcode, 0,
	    next_id++);
	return &fw;
}

static void
fe(void)
{
	if (proto_frame_end(&fw) != 0)
		die("a seed frame does not fit");
	len += fw.len;
}

static void
done(const char *name)
{
	put_file("frames", name, buf, len);
}

static void
verify(const char *token, const char *service, const char *user,
    const char *rhost, const char *perm, uint8_t check_only)
{
	static struct proto_verify_req q;

	memset(&q, 0, sizeof(q));
	snprintf(q.token, sizeof(q.token), "%s", token);
	snprintf(q.service, sizeof(q.service), "%s", service);
	snprintf(q.user, sizeof(q.user), "%s", user);
	snprintf(q.rhost, sizeof(q.rhost), "%s", rhost);
	if (perm != NULL) {
		q.required.n = 1;
		snprintf(q.required.v[0], sizeof(q.required.v[0]), "%s", perm);
	}
	q.cost = 1;
	q.check_only = check_only;
	proto_enc_verify_req(fb(PROTO_OP_VERIFY), &q);
	fe();
}

static void
verify_seeds(void)
{
	struct fx_key other;
	char	 tok[TOKEN_MAX + 1], name[64];
	size_t	 i;
	int	 j;

	for (i = 0; i < FX_NKEYS; i++) {
		fx_token(&fx_keys[i], fx_keys[i].seed, tok);
		input(P_DAEMON);
		verify(tok, "sshd", "daemon", "10.1.2.3", NULL, 0);
		snprintf(name, sizeof(name), "verify-%s", fx_keys[i].id);
		done(name);
	}
	/* Restrictions met, then each one missed. */
	fx_token(&fx_keys[1], fx_keys[1].seed, tok);
	input(P_ROOT);
	verify(tok, "sshd", "daemon", "10.0.0.5", "db:read", 0);
	verify(tok, "ftp", "daemon", "10.0.0.5", "db:read", 0);
	verify(tok, "sshd", "daemon", "192.168.0.1", "logs:write", 0);
	verify(tok, "login", "daemon", "::1", "db:write", 1);
	done("verify-restricted");
	/*
	 * Tokens that parse but match nothing: an id not in the store, a
	 * stored id with another secret, and the right secret under
	 * another prefix. Mutations cannot make these: the checksum would
	 * no longer match.
	 */
	other = fx_keys[0];
	other.id = "FzKey000099";
	fx_token(&other, 0x99, tok);
	input(P_DAEMON);
	verify(tok, "sshd", "daemon", "", NULL, 0);
	done("verify-unknown-id");
	fx_token(&fx_keys[0], fx_keys[0].seed + 1, tok);
	input(P_DAEMON);
	verify(tok, "sshd", "daemon", "", NULL, 0);
	done("verify-wrong-secret");
	other = fx_keys[0];
	other.prefix = "zz";
	fx_token(&other, other.seed, tok);
	input(P_DAEMON);
	verify(tok, "sshd", "daemon", "", NULL, 0);
	done("verify-wrong-prefix");
	/* Credits to commit into a store already past its limit. */
	fx_token(&fx_keys[2], fx_keys[2].seed, tok);
	input(C_SMALL | P_SYS);
	verify(tok, "sshd", "nobody", "", NULL, 0);
	done("verify-small-map");
	/* The old secret of a rotated key, in its grace. */
	fx_token(&fx_keys[5], fx_keys[5].prev_seed, tok);
	input(P_NOBODY);
	verify(tok, "", "", "", NULL, 0);
	done("verify-grace");
	/* Credits and a rate limit: held replies, then refusals. */
	fx_token(&fx_keys[2], fx_keys[2].seed, tok);
	input(P_SYS);
	for (j = 0; j < 5; j++)
		verify(tok, "sshd", "nobody", "", NULL, j == 4);
	done("verify-credits");
	/* Failures until the source is throttled. */
	input(P_UNKNOWN);
	for (j = 0; j < 5; j++)
		verify("ak_notAKey_atall", "sshd", "root", "203.0.113.9", NULL,
		    0);
	done("verify-throttle");
	/* What verify.sock refuses or answers itself. */
	input(P_ROOT);
	proto_enc_empty(fb(PROTO_OP_PING));
	fe();
	proto_enc_empty(fb(PROTO_OP_STATUS));
	fe();
	proto_enc_key_id(fb(PROTO_OP_KEY_SHOW), fx_keys[0].id);
	fe();
	done("verify-other-ops");
	input(P_ROOT);
	proto_enc_empty(fb(PROTO_OP_PING | PROTO_REPLY));
	fe();
	done("verify-reply-opcode");
}

static void
spec(struct proto_key_spec *s, int tenant)
{
	memset(s, 0, sizeof(*s));
	s->set = PROTO_SET_NAME | PROTO_SET_EXPIRES | PROTO_SET_SERVICES |
	    PROTO_SET_PERMISSIONS | PROTO_SET_METADATA | PROTO_SET_RATE |
	    PROTO_SET_CREDITS | PROTO_SET_REFILL | PROTO_SET_CIDRS |
	    PROTO_SET_STRICT_SYNC;
	strcpy(s->name, "seed key");
	s->expires_in = 86400;
	s->services.n = 1;
	strcpy(s->services.v[0], "sshd");
	s->permissions.n = 2;
	strcpy(s->permissions.v[0], "db:read");
	strcpy(s->permissions.v[1], "logs:*");
	strcpy(s->metadata, "{\"team\":\"seed\",\"n\":[1,2]}");
	s->limits.rate_max = 10;
	s->limits.rate_window_ms = 1000;
	s->limits.has_credits = 1;
	s->limits.remaining = 100;
	s->limits.refill_amount = 100;
	s->limits.refill_interval = 3600;
	s->limits.cidrs.n = 1;
	strcpy(s->limits.cidrs.v[0], "192.0.2.0/24");
	s->strict_sync = 1;
	if (tenant) {
		s->set |= PROTO_SET_PREFIX | PROTO_SET_USERS;
		strcpy(s->prefix, "svc");
		s->allowed_users.n = 1;
		strcpy(s->allowed_users.v[0], "daemon");
	}
}

/* Each admin request once, as frames of the input begun. */
static void
admin_frames_tenants(void)
{
	struct proto_tenant_add_req ta;

	proto_enc_empty(fb(PROTO_OP_STATUS));
	fe();
	memset(&ta, 0, sizeof(ta));
	strcpy(ta.name, "newt");
	strcpy(ta.group, "users");
	strcpy(ta.admin_group, "nogroup");
	proto_enc_tenant_add_req(fb(PROTO_OP_TENANT_ADD), &ta);
	fe();
	proto_enc_empty(fb(PROTO_OP_TENANT_LIST));
	fe();
	proto_enc_tenant_name(fb(PROTO_OP_TENANT_SHOW), "acme");
	fe();
	proto_enc_tenant_switch(fb(PROTO_OP_TENANT_SET_ENABLED), "off", 1);
	fe();
	proto_enc_tenant_switch(fb(PROTO_OP_TENANT_SET_PRIVILEGED), "acme", 0);
	fe();
	proto_enc_tenant_switch(fb(PROTO_OP_TENANT_REMOVE), "newt", 1);
	fe();
	proto_enc_audit_list_req(fb(PROTO_OP_AUDIT_LIST), 0);
	fe();
}

static void
admin_frames_keys(void)
{
	static struct proto_key_create_req kc;
	static struct proto_key_create_many_req kcm;
	static struct proto_key_update_req ku;
	struct proto_owner_sel os;

	memset(&kc, 0, sizeof(kc));
	spec(&kc.spec, 0);
	proto_enc_key_create_req(fb(PROTO_OP_KEY_CREATE), &kc);
	fe();
	kc.owner.kind = PROTO_OWNER_TENANT;
	strcpy(kc.owner.tenant, "acme");
	spec(&kc.spec, 1);
	proto_enc_key_create_req(fb(PROTO_OP_KEY_CREATE), &kc);
	fe();
	kcm.create = kc;
	kcm.count = 3;
	proto_enc_key_create_many_req(fb(PROTO_OP_KEY_CREATE_MANY), &kcm);
	fe();
	memset(&os, 0, sizeof(os));
	proto_enc_owner_sel(fb(PROTO_OP_KEY_LIST), &os);
	fe();
	os.kind = PROTO_OWNER_TENANT;
	strcpy(os.tenant, "acme");
	proto_enc_owner_sel(fb(PROTO_OP_KEY_LIST), &os);
	fe();
	proto_enc_key_id(fb(PROTO_OP_KEY_SHOW), fx_keys[1].id);
	fe();
	proto_enc_key_switch(fb(PROTO_OP_KEY_SET_ENABLED), fx_keys[3].id, 1);
	fe();
	memset(&ku, 0, sizeof(ku));
	strcpy(ku.id, fx_keys[1].id);
	spec(&ku.spec, 0);
	proto_enc_key_update_req(fb(PROTO_OP_KEY_UPDATE), &ku);
	fe();
	proto_enc_key_rotate_req(fb(PROTO_OP_KEY_ROTATE), fx_keys[5].id,
	    3600);
	fe();
	proto_enc_key_id(fb(PROTO_OP_KEY_REVOKE), fx_keys[0].id);
	fe();
	proto_enc_empty(fb(PROTO_OP_KEY_PURGE_EXPIRED));
	fe();
}

static void
admin_seeds(void)
{
	static const struct {
		uint8_t		 peer;
		const char	*name;
	} peers[] = {
		{ P_ROOT, "root" }, { P_SYS, "sys" }, { P_DAEMON, "daemon" },
		{ P_NOBODY, "nobody" }, { P_UNKNOWN, "unknown" },
	};
	static struct proto_key_create_req kc;
	struct proto_owner_sel os;
	char	 name[64];
	size_t	 i, j;

	for (i = 0; i < sizeof(peers) / sizeof(peers[0]); i++) {
		input(C_ADMIN | peers[i].peer);
		admin_frames_tenants();
		snprintf(name, sizeof(name), "admin-tenants-%s", peers[i].name);
		done(name);
		input(C_ADMIN | peers[i].peer);
		admin_frames_keys();
		snprintf(name, sizeof(name), "admin-keys-%s", peers[i].name);
		done(name);
	}
	/* Maintenance after a few writes: purges the expired key. */
	input(C_ADMIN | C_MAINTAIN | P_ROOT);
	admin_frames_tenants();
	done("admin-maintain");
	/*
	 * Creates in a small map: the reserve, then a full store. Four fit
	 * fuzz_frames' -max_len (run.sh), and two fill the map.
	 */
	for (i = 0; i < 2; i++) {
		input(C_ADMIN | C_SMALL | (i == 0 ? P_ROOT : P_DAEMON));
		for (j = 0; j < 4; j++) {
			memset(&kc, 0, sizeof(kc));
			spec(&kc.spec, 0);
			memset(kc.spec.metadata, ' ', PROTO_METADATA_MAX - 2);
			memcpy(kc.spec.metadata, "{}", 2);
			proto_enc_key_create_req(fb(PROTO_OP_KEY_CREATE), &kc);
			fe();
		}
		snprintf(name, sizeof(name), "admin-small-map-%s",
		    i == 0 ? "root" : "daemon");
		done(name);
	}
	/* A listing of the caller's own user keys. */
	input(C_ADMIN | P_DAEMON);
	memset(&os, 0, sizeof(os));
	os.kind = PROTO_OWNER_USER;
	strcpy(os.user, "daemon");
	proto_enc_owner_sel(fb(PROTO_OP_KEY_LIST), &os);
	fe();
	proto_enc_audit_list_req(fb(PROTO_OP_AUDIT_LIST), 2);
	fe();
	done("admin-list-own");
}

/* Near-valid framing: each is refused by the server's framing. */
static void
framing_seeds(void)
{
	input(P_ROOT);
	proto_enc_empty(fb(PROTO_OP_PING));
	fe();
	buf[1 + 4] = PROTO_VERSION + 1;
	done("frame-bad-version");
	input(C_ADMIN | P_ROOT);
	proto_enc_key_id(fb(PROTO_OP_KEY_SHOW), fx_keys[0].id);
	fe();
	len -= 3;
	buf[1 + 3] -= 3;
	done("frame-cut-field");
	input(P_ROOT);
	proto_enc_empty(fb(PROTO_OP_PING));
	fe();
	buf[1 + 1] = 0x7f;	/* a length far over the verify bound */
	done("frame-too-long");
	input(C_ADMIN | P_ROOT);
	proto_enc_empty(fb(0x7e));
	fe();
	proto_enc_tenant_name(fb(PROTO_OP_TENANT_SHOW), "Not A Tenant!");
	fe();
	proto_enc_key_id(fb(PROTO_OP_KEY_SHOW), "ak_FzKey000001_notanid");
	fe();
	done("admin-unknown-op-bad-names");
}

/* --- records ------------------------------------------------------------- */

static void
record_seeds(void)
{
	static struct store_key k;
	static uint8_t	 b[KEY_REC_MAX];
	struct proto_tenant t;
	struct proto_audit a;
	struct store_usage u;
	char		 name[64];
	size_t		 i, n;

	for (i = 0; i < FX_NKEYS; i++) {
		fx_key_record(&fx_keys[i], NOW, &k);
		memset(k.hash, (int)i + 1, sizeof(k.hash));
		if (rec_enc_key(&k, b, sizeof(b), &n) != 0)
			die("a fixture key does not encode");
		snprintf(name, sizeof(name), "key-%s", fx_keys[i].id);
		put_file("record", name, b, n);
	}
	/*
	 * Versions 2 and 1 of key 0: the same without strict_sync (u8), which
	 * ends the record, and also without the limits before it. Key 0 has
	 * none, so they are u32 u32 u8 u64 u64 u64 and an empty list:
	 * 5 + 5 + 2 + 3 * 9 + 5 bytes.
	 */
	fx_key_record(&fx_keys[0], NOW, &k);
	if (rec_enc_key(&k, b, sizeof(b), &n) != 0 || n < 2 + 44)
		die("key 0 does not encode");
	b[1] = 2;
	put_file("record", "key-v2", b, n - 2);
	b[1] = 1;
	put_file("record", "key-v1", b, n - 2 - 44);
	for (i = 0; i < FX_NTENANTS; i++) {
		fx_tenant_record(&fx_tenants[i], NOW, 100, 65534, &t);
		if (rec_enc_tenant(&t, b, sizeof(b), &n) != 0)
			die("a fixture tenant does not encode");
		snprintf(name, sizeof(name), "tenant-%s", fx_tenants[i].name);
		put_file("record", name, b, n);
	}
	/* Version 1 of the last tenant: without allow_privileged (u8). */
	b[1] = 1;
	put_file("record", "tenant-v1", b, n - 2);
	memset(&a, 0, sizeof(a));
	a.time = NOW;
	strcpy(a.action, "key.create");
	strcpy(a.target, fx_keys[0].id);
	strcpy(a.detail, "name 'seed' owner uid 0");
	if (rec_enc_audit(&a, b, sizeof(b), &n) != 0)
		die("the audit seed does not encode");
	put_file("record", "audit", b, n);
	memset(&u, 0, sizeof(u));
	u.remaining = 3;
	u.last_refill_at = NOW;
	u.gen = 7;
	if (rec_enc_usage(&u, b, sizeof(b), &n) != 0)
		die("the usage seed does not encode");
	put_file("record", "usage", b, n);
	if (rec_enc_schema(1, b, sizeof(b), &n) != 0)
		die("the schema seed does not encode");
	put_file("record", "schema", b, n);
	if (rec_enc_counter(12345, b, sizeof(b), &n) != 0)
		die("the counter seed does not encode");
	put_file("record", "counter", b, n);
}

/* --- tokens -------------------------------------------------------------- */

static void
token_seeds(void)
{
	char	 tok[TOKEN_MAX + 1], name[64];
	size_t	 i;

	for (i = 0; i < FX_NKEYS; i++) {
		fx_token(&fx_keys[i], fx_keys[i].seed, tok);
		snprintf(name, sizeof(name), "token-%s", fx_keys[i].id);
		put_file("token", name, tok, strlen(tok));
	}
	/* The checksum of the first, one digit off. */
	fx_token(&fx_keys[0], fx_keys[0].seed, tok);
	tok[strlen(tok) - 1] ^= 1;
	put_file("token", "token-bad-checksum", tok, strlen(tok));
}

int
main(int argc, char **argv)
{
	if (argc != 2)
		die("usage: seeds DIR");
	outdir = argv[1];
	verify_seeds();
	admin_seeds();
	framing_seeds();
	record_seeds();
	token_seeds();
	return 0;
}
