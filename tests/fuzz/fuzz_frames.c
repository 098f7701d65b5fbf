/*
 * fuzz_frames.c - libFuzzer target: what a peer writes on verify.sock or
 * admin.sock, through every message decoder and through the daemon's own
 * dispatch.
 *
 * Input. Byte 0 says who is asking and where: bits 0-2 pick the peer's
 * uid (fixture.h: root, an admin by admin_group, a key owner, a tenant's
 * admin, a uid NSS does not know), bit 3 the socket (set: admin.sock),
 * bit 4 runs the daemon's maintenance (admin_maintain) after the frames,
 * bit 5 gives the store a map so small that the fixture nearly fills it
 * to its limit; the other bits are ignored. The rest is the byte stream
 * of one connection: at most FRAMES_MAX frames are cut from it as
 * server.c's conn_frames cuts them, each into a buffer of its own size,
 * so that a read past a frame's end is caught. Each frame's body goes
 * through codec_all.h (every decoder, with its encoder as the check),
 * then to the daemon's own dispatch (daemon/frame.c: PING, reply opcodes
 * and undecodable frames answered there, the rest by verify_handle or
 * admin_handle). Every reply is checked as a client reads it
 * (reply_check.h).
 *
 * State. LLVMFuzzerInitialize makes a temporary directory (in /dev/shm
 * when it can: LMDB syncs every commit) with the pepper, once. Every
 * input gets a fresh store in it, holding only the fixture's tenants and
 * keys, fresh rate and failure tables and a fresh ledger, all closed and
 * the store files deleted after the input. So an input never depends on
 * the ones before it (a crash reproduces from its file alone), and the
 * store never holds more than FRAMES_MAX requests wrote into it. Held
 * verify replies (keys with credits) are completed as the verify thread
 * completes them, once the ledger's commit thread wakes the target.
 *
 * Not driven: server.c itself, whose read loop is tied to libevent; only
 * its cutting of frames (proto_frame_peek) is repeated in dispatch()
 * below. Everything a frame meets after that (frame.c, the handlers,
 * replies, store, ledger, limits, NSS lookups and logging) is the
 * daemon's own objects.
 */
#include <sys/stat.h>

#include <errno.h>
#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/account.h"
#include "../../common/secret.h"
#include "../../daemon/admin.h"
#include "../../daemon/clock.h"
#include "../../daemon/config.h"
#include "../../daemon/frame.h"
#include "../../daemon/keys.h"
#include "../../daemon/ledger.h"
#include "../../daemon/limits.h"
#include "../../daemon/log.h"
#include "../../daemon/reply.h"
#include "../../daemon/store.h"
#include "../../daemon/verify.h"
#include "codec_all.h"
#include "fixture.h"
#include "fuzz.h"
#include "fuzz_conn.h"

#define FRAMES_MAX	16
#define MAP_SIZE	(8u * 1024 * 1024)
/*
 * A map the fixture (about 36 KiB) fills nearly to its limit, which is
 * half of so small a map (admin.c), so that a write or two reach the
 * reserve and a few more a full store.
 */
#define MAP_SMALL	(80u * 1024)
#define HELD_WAIT_MS	10000
#define IN_ADMIN	0x08
#define IN_MAINTAIN	0x10
#define IN_SMALL	0x20

static char			 dir[64];
static char			 storedir[80];
static struct pepper		*pepper;
static struct config		 cfg;
static _Atomic uint64_t		 admin_gid;
static struct admin		 adm;
static struct verifier		 ver;
static struct store		*store;
static struct limits		*limits;
static struct ledger		*ledger;

/* The ledger's wake, counted under a mutex the target waits on. */
static pthread_mutex_t		 wake_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t		 wake_cv;
static int			 woken;

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "fuzz_frames: %s: %s\n", what, why);
	abort();
}

static void
wake(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&wake_mu);
	woken++;
	pthread_cond_signal(&wake_cv);
	pthread_mutex_unlock(&wake_mu);
}

/* Completes the held replies whose credits are committed: with wait, it
 * waits for the commit thread first (HELD_WAIT_MS at most). */
static void
complete(struct conn *c, int wait)
{
	struct timespec	 ts;
	int		 rc = 0, n;

	clock_deadline(&ts, HELD_WAIT_MS);
	pthread_mutex_lock(&wake_mu);
	while (wait && woken == 0 && rc == 0)
		rc = pthread_cond_timedwait(&wake_cv, &wake_mu, &ts);
	n = woken;
	woken = 0;
	pthread_mutex_unlock(&wake_mu);
	if (rc != 0)
		die("held replies", "the ledger did not commit in 10 s");
	if (n > 0) {
		/* Held replies answer requests before the current one. */
		fconn_expect(c, NULL);
		ledger_complete(ledger, 0);
	}
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
cleanup(void)
{
	if (dir[0] != '\0')
		(void)nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* --- the fixture ---------------------------------------------------------- */

/* The fixture's key f, with the hashes of its secrets. */
static void
fixture_key(const struct fx_key *f, uint64_t now, struct store_key *k)
{
	struct token	 t;
	struct secret_scope t_scope SECRET_SCOPE = { &t, sizeof(t) };

	fx_key_record(f, now, k);
	memset(&t, 0, sizeof(t));
	memcpy(t.prefix, k->info.prefix, sizeof(t.prefix));
	memcpy(t.id, k->info.id, sizeof(t.id));
	fx_secret(f->seed, t.secret);
	keys_hash(pepper, &t, k->hash);
	if (f->prev_seed != 0) {
		fx_secret(f->prev_seed, t.secret);
		keys_hash(pepper, &t, k->prev_hash);
	}
}

static uint32_t
group_gid(const char *name, gid_t fallback)
{
	gid_t	 gid;

	if (name[0] == '\0')
		return 0;
	return account_group_by_name(name, &gid) == ACCOUNT_OK ?
	    (uint32_t)gid : (uint32_t)fallback;
}

static void
fixture_put(void)
{
	struct store_txn *txn;
	struct store_key k;
	struct store_usage u;
	struct proto_tenant t;
	uint64_t	 now = clock_now();
	size_t		 i;
	int		 rc;

	if ((rc = store_write_begin(store, &txn)) != 0)
		die("fixture", store_strerror(rc));
	for (i = 0; i < FX_NTENANTS; i++) {
		fx_tenant_record(&fx_tenants[i], now,
		    group_gid(fx_tenants[i].group, 100),
		    group_gid(fx_tenants[i].admin_group, 65534), &t);
		if ((rc = store_tenant_put(txn, &t)) != 0)
			die("fixture tenant", store_strerror(rc));
	}
	for (i = 0; i < FX_NKEYS; i++) {
		fixture_key(&fx_keys[i], now, &k);
		if ((rc = store_key_put(txn, &k)) != 0)
			die("fixture key", store_strerror(rc));
		if (!fx_keys[i].credits)
			continue;
		memset(&u, 0, sizeof(u));
		u.remaining = k.info.limits.remaining;
		u.last_refill_at = now;
		u.gen = 1;
		if ((rc = store_usage_put(txn, k.info.id, &u)) != 0)
			die("fixture usage", store_strerror(rc));
	}
	secret_wipe(&k, sizeof(k));
	if ((rc = store_commit(txn)) != 0)
		die("fixture commit", store_strerror(rc));
}

/* --- the daemon's state, fresh for each input ----------------------------- */

static void
state_open(size_t map_size)
{
	struct limits_conf lc = { 3, 10000, 5000, 64, 64 };
	void		*wake_args[1] = { NULL };
	int		 rc;

	pthread_mutex_lock(&wake_mu);
	woken = 0;
	pthread_mutex_unlock(&wake_mu);
	if ((rc = store_open(storedir, map_size, &store)) != 0)
		die("store_open", store_strerror(rc));
	fixture_put();
	if (limits_new(&lc, &limits) != 0)
		die("limits_new", "out of memory");
	/* Uses are written when the ledger closes, after the input. */
	if (ledger_open(store, 3600 * 1000, 1, wake, wake_args, &ledger) != 0)
		die("ledger_open", "failed");
	ver.store = store;
	ver.limits = limits;
	ver.ledger = ledger;
	adm.store = store;
	memset(adm.purge_after, 0, sizeof(adm.purge_after));
}

static void
state_close(void)
{
	char	 path[sizeof(storedir) + 16];

	ledger_close(ledger);
	limits_free(limits);
	store_close(store);
	snprintf(path, sizeof(path), "%s/data.mdb", storedir);
	(void)unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", storedir);
	(void)unlink(path);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*base;
	char		 err[256];
	int		 rc;

	(void)argc;
	(void)argv;
	log_init(1, 0);
	if (access("/dev/shm", W_OK) == 0)
		base = "/dev/shm";
	else if ((base = getenv("TMPDIR")) == NULL || strlen(base) > 32)
		base = "/tmp";
	snprintf(dir, sizeof(dir), "%s/apikeyd-fuzz.XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		dir[0] = '\0';
		die("mkdtemp", strerror(errno));
	}
	atexit(cleanup);
	snprintf(storedir, sizeof(storedir), "%s/store", dir);
	if (mkdir(storedir, 0700) != 0)
		die("mkdir", strerror(errno));
	if (clock_cond_init(&wake_cv) != 0)
		die("clock_cond_init", "failed");
	if ((rc = keys_init()) != 0 ||
	    (rc = keys_pepper_load(dir, &pepper)) != 0)
		die("pepper", keys_strerror(rc));

	config_defaults(&cfg);
	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s", dir);
	snprintf(cfg.admin_group, sizeof(cfg.admin_group), "%s",
	    FX_ADMIN_GROUP);
	cfg.map_size = MAP_SIZE;
	/* Small limits, so that a few frames reach them. */
	cfg.max_keys_per_user = 3;
	cfg.max_keys_per_tenant = 3;
	cfg.audit_max_entries = 8;
	if (config_finish(&cfg, err, sizeof(err)) != 0)
		die("config", err);

	ver.pepper = pepper;
	ver.admin_gid = &admin_gid;
	ver.throttle_backoff_ms = 5000;
	ver.clock = &clock_system;
	if ((ver.ctx = calloc(1, sizeof(*ver.ctx))) == NULL)
		die("calloc", "out of memory");
	adm.pepper = pepper;
	adm.cfg = &cfg;
	adm.started_at = clock_now();
	adm.admin_gid = &admin_gid;
	adm.verify_socket = "/run/apikeyd/verify.sock";
	adm.admin_socket = "/run/apikeyd/admin.sock";
	admin_refresh_gid(&adm);
	return 0;
}

/* --- dispatch, as server.c's conn_frames does it ------------------------ */

/*
 * The reply a refused frame gets echoes what header it has (frame.c's
 * frame_refuse): expect that, then let the daemon's code answer.
 */
static void
refuse(struct conn *c, const uint8_t *p, size_t avail, int rc)
{
	struct proto_hdr h;

	if (proto_frame_hdr(p, avail, &h) == 0)
		h.opcode &= (uint8_t)~PROTO_REPLY;
	else
		memset(&h, 0, sizeof(h));
	fconn_expect(c, &h);
	frame_refuse(c, p, avail, rc);
}

/*
 * A KEY_CREATE_MANY that decodes and asks for more than FUZZ_MANY_MAX
 * keys asks for fewer here: a million keys per input would make each run
 * take minutes and tell the fuzzer nothing the first turns did not. The
 * count is the last field, so a frame that decodes ends with it. Counts
 * the daemon refuses (0, over PROTO_CREATE_MANY_MAX) stay as they are.
 */
#define FUZZ_MANY_MAX	40

static void
tame_create_many(uint8_t *f, size_t flen, const struct proto_hdr *h)
{
	struct proto_key_create_many_req *q;
	struct reader	 r;
	uint32_t	 n;

	if (h->opcode != PROTO_OP_KEY_CREATE_MANY ||
	    (q = malloc(sizeof(*q))) == NULL)
		return;
	rd_init(&r, f + PROTO_HDR_LEN, flen - PROTO_HDR_LEN);
	if (proto_dec_key_create_many_req(&r, q) == 0 &&
	    q->count > FUZZ_MANY_MAX && q->count <= PROTO_CREATE_MANY_MAX) {
		n = q->count % FUZZ_MANY_MAX + 1;
		f[flen - 4] = (uint8_t)(n >> 24);
		f[flen - 3] = (uint8_t)(n >> 16);
		f[flen - 2] = (uint8_t)(n >> 8);
		f[flen - 1] = (uint8_t)n;
	}
	free(q);
}

/* One whole frame, in a buffer of exactly its size: to the daemon's own
 * dispatch (frame.c), as server.c hands it over. */
static void
frame(struct conn *c, int admin, const struct peer *p, uint8_t *f,
    size_t flen)
{
	struct proto_hdr h;
	struct reader	 body;
	int		 rc;

	if ((rc = proto_frame_open(f, flen, &h, &body)) != 0) {
		refuse(c, f, flen, rc);
		fconn_close(c);
		return;
	}
	tame_create_many(f, flen, &h);
	codec_all(f + PROTO_HDR_LEN, flen - PROTO_HDR_LEN);
	fconn_expect(c, &h);
	if (frame_dispatch(c, p, f, flen, admin ? admin_handle :
	    verify_handle, admin ? (void *)&adm : (void *)&ver) != 0)
		fconn_close(c);
	/* A listing answers before the next frame is read. */
	fconn_pump(c);
}

static void
dispatch(struct conn *c, int admin, const struct peer *p, const uint8_t *in,
    size_t len)
{
	size_t		 max, off = 0, flen;
	uint8_t		*f;
	int		 n, rc;

	max = admin ? PROTO_ADMIN_MAX : PROTO_VERIFY_REQ_MAX;
	for (n = 0; n < FRAMES_MAX && !fconn_closing(c); n++) {
		rc = proto_frame_peek(in + off, len - off, max, &flen);
		if (rc == 1)
			break;
		if (rc != 0) {
			refuse(c, in + off, len - off, rc);
			fconn_close(c);
			break;
		}
		if ((f = malloc(flen)) == NULL)
			die("malloc", "out of memory");
		memcpy(f, in + off, flen);
		frame(c, admin, p, f, flen);
		secret_wipe(f, flen);
		free(f);
		off += flen;
		complete(c, 0);
	}
	while (fconn_held(c) > 0)
		complete(c, 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct peer	 p;
	struct conn	*c;
	int		 admin;

	if (size < 1)
		return 0;
	admin = (data[0] & IN_ADMIN) != 0;
	memset(&p, 0, sizeof(p));
	p.uid = p.ruid = (uid_t)fx_peers[data[0] % FX_NPEERS];
	p.gid = (gid_t)p.uid;
	p.pid = getpid();
	state_open(data[0] & IN_SMALL ? MAP_SMALL : MAP_SIZE);
	c = fconn_new(admin ? PROTO_ADMIN_MAX : PROTO_VERIFY_REPLY_MAX);
	dispatch(c, admin, &p, data + 1, size - 1);
	if (data[0] & IN_MAINTAIN)
		admin_maintain(&adm);
	fconn_free(c);
	state_close();
	return 0;
}
