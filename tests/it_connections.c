/*
 * it_connections.c - what a local user can do to apikeyd's connections,
 * and what the daemon does about it (findings 4 and 6 of the security
 * review): listings are streamed under back-pressure, pipelined requests
 * are all answered and matched by id, a peer that does not read its
 * replies stops being read, a partial frame and an idle connection are
 * closed after their timeouts, connections are capped per uid and per
 * socket with a reserve that keeps root's (PAM's) logins going, a refused
 * or undecodable connection is told why before it is closed, and the log
 * about one uid stays within its budget.
 *
 * The misbehaving clients are build/tests/hostile (see tests/hostile.c),
 * run as fixture users through setpriv. It makes its connections one
 * after another and reports on each before making the next, so which of
 * them a daemon at its limits refuses does not depend on timing; each
 * test starts the next hostile only once the last one said "ready".
 *
 * Each test says in a comment why it fails on a daemon without the fix.
 */
#include <sys/resource.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include <criterion/criterion.h>

#include "harness_pam.h"

/* A hostile's report on its connections comes within this. */
#define REPORT_MS	(3 * IT_DEADLINE_MS)

static void
fini(void)
{
	it_prog_end_all();
	itp_teardown();
}

/*
 * One timeout for all: the listing test makes 2,000 keys, a commit each
 * (5 s here, more on a slow disk). A test's own .timeout would do, but
 * Criterion 2.4.1's runner then leaks 48 bytes, which fails the ASan run.
 */
TestSuite(connections, .fini = fini, .timeout = 240);

static const char *
sock(const char *name)
{
	return it_printf("%s/%s.sock", it_sock_dir(), name);
}

/*
 * Runs hostile SOCK MODE N as user as and waits for its report; *report
 * gets the lines before "ready". The program keeps its connections until
 * it_prog_end().
 */
static struct it_prog *
hostile(const char *as, const char *sockname, const char *mode, int n,
    const char **report)
{
	struct it_prog	*p;

	p = it_prog_start(as, "tests/hostile", sock(sockname), mode,
	    it_printf("%d", n), NULL);
	*report = it_prog_until(p, "ready", REPORT_MS);
	return p;
}

/* Lines of report that are "C what" for some connection number C. */
static int
count(const char *report, const char *what)
{
	const char	*line = report, *p, *nl;
	size_t		 n = strlen(what);
	int		 c = 0;

	for (; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl == NULL)
			nl = line + strlen(line);
		p = line + strspn(line, "0123456789");
		if (p > line && *p == ' ' && (size_t)(nl - p - 1) == n &&
		    memcmp(p + 1, what, n) == 0)
			c++;
		if (*nl == '\0')
			break;
	}
	return c;
}

/* Lines of text that contain both a and b. */
static int
count_log(const char *text, const char *a, const char *b)
{
	const char	*line = text, *nl;
	char		*copy;
	int		 c = 0;

	for (; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl == NULL)
			nl = line + strlen(line);
		copy = strndup(line, (size_t)(nl - line));
		cr_assert_not_null(copy, "out of memory");
		if (strstr(copy, a) != NULL && strstr(copy, b) != NULL)
			c++;
		free(copy);
		if (*nl == '\0')
			break;
	}
	return c;
}

/* "C closed MS" of connection c in report: MS, or -1. */
static long
closed_ms(const char *report, int c)
{
	const char	*p = strstr(report, it_printf("%d closed ", c));

	if (p == NULL || (p != report && p[-1] != '\n'))
		return -1;
	return strtol(p + strlen(it_printf("%d closed ", c)), NULL, 10);
}

/* The number after "C what " on a line of report, or -1 if none. */
static long long
report_value(const char *report, int c, const char *what)
{
	const char	*head = it_printf("%d %s ", c, what);
	const char	*p;

	for (p = report; (p = strstr(p, head)) != NULL; p++)
		if (p == report || p[-1] == '\n')
			return strtoll(p + strlen(head), NULL, 10);
	return -1;
}

/* Asserts that report is exactly n_open "open" and n_busy "ebusy why". */
static void
assert_report(const char *who, const char *report, int n_open, int n_busy,
    const char *why)
{
	int	 o = count(report, "open");
	int	 b = why != NULL ? count(report, it_printf("ebusy %s", why)) : 0;

	cr_assert(o == n_open && b == n_busy && it_line_count(report) ==
	    (size_t)(n_open + n_busy), "%s: expected %d open and %d refused "
	    "with \"%s\", got:\n%s", who, n_open, n_busy, why != NULL ? why :
	    "", report);
}

/* --- finding 4: listings under back-pressure --------------------------- */

#define LIST_KEYS	2000
#define LIST_CONNS	64

/*
 * Each connection of the listing test holds, inside the daemon, at most
 * STREAM_LOW (64 KiB) of queued output plus the one item frame that
 * crossed the mark (a key here is ~1.2 KB; at most PROTO_ADMIN_MAX, 64
 * KiB), a PROTO_ADMIN_MAX input buffer, its struct conn and its listing
 * state: under 200 KiB. What the peer has not read past that sits in the
 * kernel's socket buffers, which are not the daemon's RSS. 64 of them stay
 * under 12.5 MiB; the bound adds a third for the allocator. Under
 * AddressSanitizer every freed block stays resident in the quarantine (256
 * MiB by default), so each byte that passed through an output buffer
 * counts, about 200 KiB more per connection (what the kernel took); plus
 * redzones and shadow memory: a bound of three times as much.
 */
#if defined(__SANITIZE_ADDRESS__)
#define LIST_RSS_BOUND_KB	(3 * LIST_CONNS * 256)
#else
#define LIST_RSS_BOUND_KB	(LIST_CONNS * 256)
#endif

/* Creates n keys for alice, each with ~1 KB of metadata; returns the
 * token of the first. */
static const char *
make_alice_keys(int n)
{
	struct apikey_key_spec *spec = apikey_key_spec_new();
	char		 meta[1100], *token = NULL;
	const char	*first = NULL;
	int64_t		 t0 = it_now_ms();
	int		 i, rc;

	cr_assert_not_null(spec);
	snprintf(meta, sizeof(meta), "{\"pad\":\"%01000d\"}", 0);
	cr_assert_eq(apikey_key_spec_set_metadata(spec, meta), 0);
	/* it_key_lib notes each token and the harness holds 256: only the
	 * first is kept (and checked for in the log). */
	for (i = 0; i < n; i++) {
		rc = apikey_key_create(it_aclient(), APIKEY_OWNER_USER,
		    "alice", spec, NULL, &token);
		cr_assert_eq(rc, 0, "key %d: %s: %s", i, apikey_strerror(rc),
		    apikey_last_error(it_aclient()));
		if (first == NULL) {
			it_note_token(token);
			first = it_printf("%s", token);
		}
		apikey_token_free(token);
	}
	apikey_key_spec_free(spec);
	cr_log_info("created %d keys in %lld ms", n,
	    (long long)(it_now_ms() - t0));
	return first;
}

static void
assert_root_lists_alice(void)
{
	struct apikey_key_list *l = NULL;
	int64_t		 t0 = it_now_ms();
	int		 rc;

	rc = apikey_key_list(it_aclient(), APIKEY_OWNER_USER, "alice", &l);
	cr_assert_eq(rc, 0, "key list: %s: %s", apikey_strerror(rc),
	    apikey_last_error(it_aclient()));
	cr_assert_eq(apikey_key_list_count(l), LIST_KEYS);
	apikey_key_list_free(l);
	cr_log_info("root listed alice's %d keys in %lld ms", LIST_KEYS,
	    (long long)(it_now_ms() - t0));
}

/*
 * 64 connections of alice each ask for her 2,000 keys (~2.4 MB of
 * frames) and never read. Without back-pressure the daemon produces every
 * listing into its output buffers at once: with the mark disabled
 * (conn_full() never true) VmRSS grew by 140 MB here, against 4.7 MB with
 * it (the review measured 11 MB -> 1.28 GB with bigger listings). Root is
 * still served meanwhile: a listing blocks neither the admin thread nor
 * the verify socket.
 */
Test(connections, listing_stops_at_its_mark_when_never_read)
{
	struct apikey_status *st = NULL;
	const char	*tok, *report;
	struct it_prog	*h;
	long		 rss0, anon0, rss1, anon1, rss2;

	it_prepare("max_keys_per_user = 0\n");
	it_start();
	tok = make_alice_keys(LIST_KEYS);
	/* A listing of our own first, so that the store's pages and the
	 * allocator's arenas are in the baseline. */
	assert_root_lists_alice();
	rss0 = it_daemon_kb("VmRSS");
	anon0 = it_daemon_kb("RssAnon");

	h = hostile("alice", "admin", "list", LIST_CONNS, &report);
	cr_assert(count(report, "open") == LIST_CONNS &&
	    count(report, "streaming") == LIST_CONNS, "not every listing "
	    "began:\n%s", report);
	/* Every listing has begun; a request after them on the same
	 * thread is answered once the daemon has done all it will do for
	 * them until they read. */
	cr_assert_eq(apikey_status(it_aclient(), &st), 0);
	apikey_status_free(st);
	rss1 = it_daemon_kb("VmRSS");
	anon1 = it_daemon_kb("RssAnon");
	cr_log_info("%d unread listings of %d keys: VmRSS %ld -> %ld kB "
	    "(+%ld), RssAnon %ld -> %ld kB (+%ld); bound +%d kB",
	    LIST_CONNS, LIST_KEYS, rss0, rss1, rss1 - rss0, anon0, anon1,
	    anon1 - anon0, LIST_RSS_BOUND_KB);
	cr_assert_lt(rss1 - rss0, LIST_RSS_BOUND_KB, "VmRSS grew by %ld kB "
	    "with %d unread listings (bound %d kB)", rss1 - rss0, LIST_CONNS,
	    LIST_RSS_BOUND_KB);

	/* Root meanwhile: a whole listing and a verify. */
	assert_root_lists_alice();
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
	rss2 = it_daemon_kb("VmRSS");
	cr_log_info("after root's listing and verify: VmRSS %ld kB (+%ld)",
	    rss2, rss2 - rss0);
	cr_assert_lt(rss2 - rss0, LIST_RSS_BOUND_KB);
	cr_assert_eq(it_prog_end(h, IT_DEADLINE_MS), 0);
}

/* --- pipelining and unread replies ---------------------------------------- */

#define PIPE_N		64
#define PIPE_CREDITS	1000

/*
 * 64 requests written at once, PINGs and VERIFYs of a key with credits,
 * are all answered, each matched to its request by id (proto.h: replies
 * may come back out of order). A VERIFY that consumes a credit is answered
 * once the ledger has committed it, while the PINGs read with it are
 * answered at once, so replies overtake earlier ones; and every VERIFY
 * consumed exactly one credit. On admin.sock the replies come in order. A
 * daemon that handled only the first frame of a read, or answered a
 * request twice or under another id, fails "answered 64".
 */
Test(connections, pipelined_requests_are_answered_by_id)
{
	struct apikey_key_spec *spec = apikey_key_spec_new();
	struct apikey_key *k = NULL;
	struct it_prog	*v, *a;
	const char	*report, *tok, *want;
	long long	 reordered;

	it_setup();
	cr_assert_not_null(spec);
	cr_assert_eq(apikey_key_spec_set_credits(spec, PIPE_CREDITS), 0);
	tok = it_key_lib(APIKEY_OWNER_USER, "alice", spec, NULL);
	apikey_key_spec_free(spec);

	v = hostile("alice", "verify", "idle", 1, &report);
	assert_report("alice", report, 1, 0, NULL);
	it_prog_say(v, "pipe %d %s", PIPE_N, tok);
	report = it_prog_until(v, "done", REPORT_MS);
	want = it_printf("0 piped %d answered %d reordered ", PIPE_N, PIPE_N);
	cr_assert(strncmp(report, want, strlen(want)) == 0 &&
	    it_line_count(report) == 1, "verify.sock: %s", report);
	reordered = report_value(report, 0, it_printf("piped %d answered %d "
	    "reordered", PIPE_N, PIPE_N));
	cr_log_info("%d pipelined requests: %lld replies overtook an earlier "
	    "one", PIPE_N, reordered);
	cr_assert_gt(reordered, 0, "every VERIFY of a key with credits "
	    "waits for its commit, the PINGs behind it do not");
	cr_assert_eq(apikey_key_show(it_aclient(), it_id(tok), &k), 0);
	cr_assert_eq(apikey_key_remaining(k), PIPE_CREDITS - PIPE_N / 2);
	apikey_key_free(k);

	a = hostile("alice", "admin", "idle", 1, &report);
	assert_report("alice on admin.sock", report, 1, 0, NULL);
	it_prog_say(a, "pipe %d", PIPE_N);
	cr_assert_str_eq(it_prog_until(a, "done", REPORT_MS), it_printf("0 "
	    "piped %d answered %d reordered 0\n", PIPE_N, PIPE_N));
	cr_assert_eq(it_prog_end(v, IT_DEADLINE_MS), 0);
	cr_assert_eq(it_prog_end(a, IT_DEADLINE_MS), 0);
}

#define FLOOD_CONNS	8
/*
 * What the daemon may take from a peer that pipelines PINGs and never
 * reads: requests until its output passes the mark (256 KiB of ~37-byte
 * replies to 12-byte PINGs: ~85 KiB), one input frame, and what the
 * kernel buffers each way (a few hundred KiB with Linux's defaults); under
 * 1 MiB, bounded at 8. Without the pause it takes all hostile sends, up
 * to its 64 MiB cap.
 */
#define FLOOD_TAKEN_MAX		(8LL * 1024 * 1024)
/*
 * Inside the daemon each such connection holds its output up to the mark
 * plus one reply, its input buffer and its struct conn: under 300 KiB,
 * bounded at 512. AddressSanitizer keeps every freed output chunk in its
 * quarantine (what the kernel took, ~200 KiB more) and adds redzones: a
 * bound of three times as much, as for the listings.
 */
#if defined(__SANITIZE_ADDRESS__)
#define FLOOD_RSS_BOUND_KB	(3 * FLOOD_CONNS * 512)
#else
#define FLOOD_RSS_BOUND_KB	(FLOOD_CONNS * 512)
#endif

/*
 * Eight connections pipeline PINGs and read no reply. Each time, once its
 * unread output passes the mark the daemon stops reading the connection:
 * hostile's writes stall after what the bound above allows, and the
 * daemon's memory grows by less than the bound. Others are served
 * meanwhile. Once hostile reads, the daemon reads again and answers every
 * PING, in order: the pause lost nothing. Without the pause (paused never
 * set) the daemon reads on and buffers every reply: no connection
 * stalls, and RSS grows by hundreds of MB.
 */
Test(connections, unread_replies_stop_the_reading)
{
	const char	*report, *tok;
	struct it_prog	*h;
	long long	 taken, pings;
	long		 rss0, rss1;
	int		 i;

	it_setup();
	tok = it_key(NULL, "--user", "alice", NULL);
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
	rss0 = it_daemon_kb("VmRSS");
	h = hostile("alice", "verify", "idle", FLOOD_CONNS, &report);
	assert_report("alice", report, FLOOD_CONNS, 0, NULL);

	it_prog_say(h, "flood");
	report = it_prog_until(h, "done", REPORT_MS);
	for (i = 0; i < FLOOD_CONNS; i++) {
		taken = report_value(report, i, "stalled");
		cr_assert(taken > 0 && taken < FLOOD_TAKEN_MAX, "connection "
		    "%d: the daemon should stop reading it after less than "
		    "%lld bytes of PINGs:\n%s", i, FLOOD_TAKEN_MAX, report);
	}
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
	rss1 = it_daemon_kb("VmRSS");
	cr_log_info("%d connections not reading their replies: VmRSS %ld -> "
	    "%ld kB (+%ld), bound +%d kB; report:\n%s", FLOOD_CONNS, rss0,
	    rss1, rss1 - rss0, FLOOD_RSS_BOUND_KB, report);
	cr_assert_lt(rss1 - rss0, FLOOD_RSS_BOUND_KB, "VmRSS grew by %ld kB "
	    "(bound %d kB)", rss1 - rss0, FLOOD_RSS_BOUND_KB);

	it_prog_say(h, "drain");
	report = it_prog_until(h, "done", REPORT_MS);
	for (i = 0; i < FLOOD_CONNS; i++) {
		pings = report_value(report, i, "drained");
		cr_assert(pings > 0 && strstr(report, it_printf("%d drained "
		    "%lld of %lld\n", i, pings, pings)) != NULL, "connection "
		    "%d: not every PING answered in order:\n%s", i, report);
	}
	cr_assert_eq(it_prog_end(h, IT_DEADLINE_MS), 0);
}

/* --- finding 6: timeouts --------------------------------------------------- */

/*
 * Three bytes of a frame, then nothing. Before the fix such a connection
 * was held forever: hostile would report "0 open" when its 10 s wait
 * ended. Now it is closed once read_timeout (300 ms) has passed since the
 * bytes arrived, never sooner (the daemon starts counting when it has read
 * them, after hostile began sending them, on the same monotonic clock),
 * and the log says why. An idle connection beside it, with no frame
 * begun, is not touched by read_timeout (idle_timeout is off here). The
 * upper bound is only hostile's wait: a loaded machine may be slow.
 */
Test(connections, partial_frame_closed_after_read_timeout)
{
	const char	*report, *line;
	struct it_prog	*idle, *hold;
	long		 ms;

	it_prepare("read_timeout = 300ms\nidle_timeout = 0\n");
	it_start();
	idle = hostile("alice", "verify", "idle", 1, &report);
	assert_report("idle", report, 1, 0, NULL);
	hold = hostile("alice", "verify", "hold", 1, &report);
	assert_report("hold", report, 1, 0, NULL);

	it_prog_say(hold, "wait %d", IT_DEADLINE_MS);
	report = it_prog_until(hold, "done", REPORT_MS);
	ms = closed_ms(report, 0);
	cr_log_info("partial frame closed after %ld ms (read_timeout 300 ms)",
	    ms);
	cr_assert(ms >= 300 && ms <= IT_DEADLINE_MS, "the partial frame's "
	    "connection: %s", report);
	line = it_printf("verify: uid 10001 pid %d: frame not finished "
	    "within read_timeout; closing", (int)it_prog_pid(hold));
	it_log_wait(line, IT_DEADLINE_MS);

	/* Idle longer than read_timeout, and still served. */
	it_prog_say(idle, "ping");
	report = it_prog_until(idle, "done", REPORT_MS);
	cr_assert_str_eq(report, "0 pong\n");
	cr_assert_eq(count_log(it_log(), "frame not finished",
	    it_printf("pid %d:", (int)it_prog_pid(idle))), 0);
	cr_assert_eq(it_prog_end(idle, IT_DEADLINE_MS), 0);
	cr_assert_eq(it_prog_end(hold, IT_DEADLINE_MS), 0);
}

/*
 * A connection that does nothing after its first PING. Before the fix it
 * held its slot forever ("0 open" after the wait). Now idle_timeout (400
 * ms) closes it, counted from the daemon's last write (the PING answer),
 * so never sooner than 400 ms after hostile sent the PING.
 */
Test(connections, idle_connection_closed_after_idle_timeout)
{
	const char	*report;
	struct it_prog	*h;
	long		 ms;

	it_prepare("idle_timeout = 400ms\n");
	it_start();
	h = hostile("alice", "verify", "idle", 1, &report);
	assert_report("idle", report, 1, 0, NULL);
	it_prog_say(h, "wait %d", IT_DEADLINE_MS);
	report = it_prog_until(h, "done", REPORT_MS);
	ms = closed_ms(report, 0);
	cr_log_info("idle connection closed after %ld ms (idle_timeout 400 "
	    "ms)", ms);
	cr_assert(ms >= 400 && ms <= IT_DEADLINE_MS, "the idle connection: "
	    "%s", report);
	it_log_wait(it_printf("verify: uid 10001 pid %d: idle past "
	    "idle_timeout; closing", (int)it_prog_pid(h)), IT_DEADLINE_MS);
	cr_assert_eq(it_prog_end(h, IT_DEADLINE_MS), 0);
}

/* One call on a client of its own, on verify.sock or admin.sock. */
static void
round_trip(int admin, const char *tok)
{
	struct apikey_client *c = NULL;
	struct apikey_status *st = NULL;
	struct apikey_result *res = NULL;

	if (admin) {
		cr_assert_eq(apikey_open_admin(it_sock_dir(), 5000, &c), 0);
		cr_assert_eq(apikey_status(c, &st), 0);
		apikey_status_free(st);
	} else {
		cr_assert_eq(apikey_open(it_sock_dir(), 5000, &c), 0);
		res = it_verify_on(c, tok, NULL);
		apikey_result_free(res);
	}
	apikey_close(c);
}

/*
 * libapikey keeps its connection between calls. Once the daemon has
 * closed it for idleness, the next call must reconnect by itself rather
 * than fail: a PAM module or a service holding a client for hours would
 * otherwise see errors after every quiet minute. Fails on a daemon
 * without idle_timeout (the log line never comes) and on a library that
 * does not reconnect (the second calls fail).
 */
Test(connections, client_reconnects_after_idle_close)
{
	struct apikey_status *st = NULL;
	const char	*tok;
	int		 rc;

	it_prepare("idle_timeout = 300ms\n");
	it_start();
	tok = it_key(NULL, "--user", "alice", NULL);
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
	cr_assert_eq(apikey_status(it_aclient(), &st), 0);
	apikey_status_free(st);
	it_log_wait(it_printf("verify: uid 0 pid %d: idle past idle_timeout; "
	    "closing", (int)getpid()), IT_DEADLINE_MS);
	it_log_wait(it_printf("admin: uid 0 pid %d: idle past idle_timeout; "
	    "closing", (int)getpid()), IT_DEADLINE_MS);
	/*
	 * The daemon logs, then closes. A round trip on each socket from
	 * another client is served by the same thread after that close, so
	 * the calls below meet a connection already closed, not one closing
	 * under them.
	 */
	round_trip(0, tok);
	round_trip(1, tok);
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
	rc = apikey_status(it_aclient(), &st);
	cr_assert_eq(rc, 0, "status after the idle close: %s (%s)",
	    apikey_strerror(rc), apikey_last_error(it_aclient()));
	apikey_status_free(st);
}

/* --- finding 6: connection slots -------------------------------------------- */

#define SLOTS_CONF \
	"max_connections = 32\nmax_connections_per_uid = 8\n" \
	"reserved_connections = 4\nidle_timeout = 0\n"
#define RESERVED "apikeyd's last 4 connections on verify.sock are " \
	"reserved for root and service_users"
#define MAXED	"apikeyd has reached max_connections (32) on verify.sock"
#define PER_UID	"too many connections from uid 10001 to verify.sock " \
	"(max_connections_per_uid = 4)"

/* apikeyctl verify as user as, refused: exit 3 and the daemon's reason. */
static void
assert_ctl_refused(const char *as, const char *tok, const char *why)
{
	struct it_run	 r;
	int		 i;

	/* Several times: the refusal may reach libapikey during
	 * apikey_open() or during the verify; either way the user must be
	 * told the daemon's reason. */
	for (i = 0; i < 5; i++) {
		it_ctl(&r, as, it_printf("%s\n", tok), "verify", NULL);
		cr_assert(r.status == 3 && strstr(r.err, it_printf(
		    "apikeyctl: %s\n", why)) != NULL, "run %d: apikeyctl "
		    "verify as %s: exit %d, expected 3 with \"apikeyctl: "
		    "%s\"; stderr:\n%s", i, as, r.status, why, r.err);
	}
}

/*
 * Sixteen local accounts at 64 connections each used to take all 1024
 * slots, and root's PAM login was refused. Here five users at 8 each
 * (max_connections_per_uid) meet max_connections = 32 with 4 reserved:
 * alice, bob and carol get 8 each, dave the last 4 unreserved slots, and
 * everyone after is refused with an EBUSY frame naming the reserve. Root
 * still verifies through libapikey, apikeyctl and the PAM module. Without
 * the fix there is no reserve (all 40 would be admitted, or at a hard cap
 * root refused too) and a refused peer got no frame, only a hang-up.
 */
Test(connections, reserved_slots_keep_root_verifying)
{
	static const char *const users[] = { "alice", "bob", "carol" };
	struct it_prog	*h[6];
	const char	*report, *tok;
	struct it_run	 r;
	size_t		 i;

	it_prepare(SLOTS_CONF);
	it_start();
	itp_init();
	tok = it_key(NULL, "--user", "alice", NULL);

	for (i = 0; i < 3; i++) {
		h[i] = hostile(users[i], "verify", "idle", 8, &report);
		assert_report(users[i], report, 8, 0, NULL);
	}
	h[3] = hostile("dave", "verify", "idle", 8, &report);
	assert_report("dave", report, 4, 4, RESERVED);
	h[4] = hostile("eve", "verify", "idle", 8, &report);
	assert_report("eve", report, 0, 8, RESERVED);
	it_log_wait(it_printf("verify: refusing uid 10005 pid %d: "
	    RESERVED "\n", (int)it_prog_pid(h[4])), IT_DEADLINE_MS);

	/* Root, in the reserve: libapikey, apikeyctl, a PAM login. */
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
	cr_assert_eq(it_ctl(&r, NULL, it_printf("%s\n", tok), "verify",
	    NULL), 0, "apikeyctl verify as root: %s", r.err);
	itp_probe("sshd", NULL);
	cr_assert_eq(itp_auth("sshd", "alice", tok), PAM_SUCCESS);

	/* alice, once more: still refused, in the frame and by apikeyctl. */
	h[5] = hostile("alice", "verify", "idle", 1, &report);
	assert_report("alice again", report, 0, 1, RESERVED);
	assert_ctl_refused("alice", tok, RESERVED);
	for (i = 0; i < 6; i++)
		cr_assert_eq(it_prog_end(h[i], IT_DEADLINE_MS), 0);
}

/*
 * Review follow-up. read_timeout is for a frame begun and not finished.
 * A pipelining client whose writes all end inside the next frame used to
 * be closed once read_timeout had passed since the first partial frame,
 * although every request was answered; the clock now restarts whenever a
 * frame is finished.
 */
Test(connections, pipelining_client_is_not_a_slow_one)
{
	struct it_prog	*h;
	const char	*report;

	it_prepare("read_timeout = 300ms\n");
	it_start();
	h = hostile("alice", "verify", "idle", 1, &report);
	cr_assert_str_eq(report, "0 open\n");
	it_prog_say(h, "drip 1500");
	cr_assert_str_eq(it_prog_until(h, "done", REPORT_MS), "0 alive\n");
	cr_assert_eq(it_prog_end(h, IT_DEADLINE_MS), 0);
}

/*
 * Review follow-up. A connection behind a listing it never reads, with
 * another request waiting unread, used to count as busy forever: the
 * daemon stops reading while the listing waits, so the request stayed
 * in the socket, and "input waiting" kept idle_timeout from firing. Now
 * only the peer reading counts then, and the connection is closed.
 */
Test(connections, unread_listing_is_closed_after_idle_timeout)
{
	struct it_prog	*h;
	const char	*report;

	it_prepare("idle_timeout = 1s\n");
	it_start();
	/* More than the socket buffer and the output mark hold. */
	make_alice_keys(400);
	h = hostile("alice", "admin", "list", 1, &report);
	cr_assert_str_eq(report, "0 open\n0 streaming\n");
	it_log_wait(it_printf("admin: uid %u pid %d: idle past idle_timeout; "
	    "closing\n", (unsigned)it_uid("alice"), (int)it_prog_pid(h)),
	    IT_DEADLINE_MS);
	cr_assert_eq(it_prog_end(h, IT_DEADLINE_MS), 0);
}

/*
 * Review follow-up. A setuid-root program (su) connects with effective uid
 * 0 on behalf of the user who ran it, who can stop it while it holds the
 * connection. Were connections charged to the effective uid, alice could
 * spend root's per-uid share and the reserve with stopped su processes,
 * and sshd's logins would find no slot. They are charged to the real uid.
 */
Test(connections, setuid_connections_are_charged_to_the_user)
{
	struct it_prog	*h[3];
	const char	*report, *tok;
	size_t		 i;

	it_prepare(SLOTS_CONF);
	it_start();
	itp_init();
	tok = it_key(NULL, "--user", "alice", NULL);
	h[0] = hostile("su:alice", "verify", "idle", 9, &report);
	assert_report("alice's su", report, 8, 1, it_printf("too many "
	    "connections from uid %u to verify.sock "
	    "(max_connections_per_uid = 8)", (unsigned)it_uid("alice")));
	/* The user's own slots are the ones spent. */
	h[1] = hostile("alice", "verify", "idle", 1, &report);
	assert_report("alice", report, 0, 1, it_printf("too many connections "
	    "from uid %u to verify.sock (max_connections_per_uid = 8)",
	    (unsigned)it_uid("alice")));
	/* Root has spent nothing: six of its eight for hostile, one for
	 * the harness's client, one for the PAM login. */
	h[2] = hostile("root", "verify", "idle", 6, &report);
	assert_report("root", report, 6, 0, NULL);
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
	itp_probe("sshd", NULL);
	cr_assert_eq(itp_auth("sshd", "alice", tok), PAM_SUCCESS);
	for (i = 0; i < 3; i++)
		cr_assert_eq(it_prog_end(h[i], IT_DEADLINE_MS), 0);
}

/*
 * Review follow-up. Both sockets may hold max_connections each; with the
 * process's descriptors fewer than that, accept() used to fail for
 * everyone once users held them all, root included, before any reserve
 * applied. The daemon now raises its limit where it can and otherwise
 * serves fewer connections, so the reserve still holds. (200 descriptors:
 * (200 - 64) / 2 = 68 per socket, 4 of them reserved; one verify loop, as
 * each loop past the first takes two descriptors more.)
 */
Test(connections, descriptor_limit_keeps_the_reserve)
{
	static const char reserved[] = "apikeyd's last 4 connections on "
	    "verify.sock are reserved for root and service_users";
	struct rlimit	 rl = { 200, 200 };
	struct it_prog	*h[3];
	const char	*report, *tok;
	size_t		 i;

	/* Inherited by the daemon, the only process this test runs. */
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	it_prepare("max_connections_per_uid = 64\nverify_threads = 1\n");
	it_start();
	it_log_wait("max_connections 1024 needs 2112 file descriptors, but "
	    "the limit is 200: serving 68 connections per socket (raise "
	    "LimitNOFILE)\n", IT_DEADLINE_MS);
	tok = it_key(NULL, "--user", "alice", NULL);
	h[0] = hostile("alice", "verify", "idle", 64, &report);
	assert_report("alice", report, 64, 0, NULL);
	h[1] = hostile("bob", "admin", "idle", 64, &report);
	assert_report("bob", report, 64, 0, NULL);
	h[2] = hostile("carol", "verify", "idle", 4, &report);
	assert_report("carol", report, 0, 4, reserved);
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
	it_expect(NULL, 0, NULL, "status", NULL);
	for (i = 0; i < 3; i++)
		cr_assert_eq(it_prog_end(h[i], IT_DEADLINE_MS), 0);
}

/*
 * A uid named in service_users may take the reserved slots, others may
 * not; past max_connections nobody may. Without service_users honoured,
 * bob would be refused like alice.
 */
Test(connections, service_users_may_use_reserved_slots)
{
	static const char *const users[] = { "alice", "carol", "dave" };
	struct it_prog	*h[6];
	const char	*report;
	size_t		 i;

	it_prepare(SLOTS_CONF "service_users = bob\n");
	it_start();
	for (i = 0; i < 3; i++) {
		h[i] = hostile(users[i], "verify", "idle", 8, &report);
		assert_report(users[i], report, 8, 0, NULL);
	}
	h[3] = hostile("eve", "verify", "idle", 8, &report);
	assert_report("eve", report, 4, 4, RESERVED);
	h[4] = hostile("alice", "verify", "idle", 1, &report);
	assert_report("alice again", report, 0, 1, RESERVED);
	h[5] = hostile("bob", "verify", "idle", 5, &report);
	assert_report("bob", report, 4, 1, MAXED);
	it_log_wait(it_printf("verify: refusing uid 10002 pid %d: " MAXED
	    "\n", (int)it_prog_pid(h[5])), IT_DEADLINE_MS);
	for (i = 0; i < 6; i++)
		cr_assert_eq(it_prog_end(h[i], IT_DEADLINE_MS), 0);
}

/*
 * The (max_connections_per_uid + 1)-th connection of a uid gets the EBUSY
 * frame with the per-uid message, on that socket only; other uids still
 * connect, libapikey reports the refusal as APIKEY_EBUSY with the
 * daemon's message, and the slots come back when the connections go.
 * Without the fix nothing caps a uid: alice's fifth connection is
 * admitted.
 */
Test(connections, per_uid_cap_refuses_with_ebusy)
{
	struct apikey_client *c[5] = { 0 };
	struct apikey_result *res = NULL;
	struct it_prog	*a, *b, *adm;
	const char	*report, *tok;
	struct it_run	 r;
	int64_t		 end;
	int		 i, rc;

	it_prepare("max_connections_per_uid = 4\n");
	it_start();
	tok = it_key(NULL, "--user", "alice", NULL);
	a = hostile("alice", "verify", "idle", 5, &report);
	assert_report("alice", report, 4, 1, PER_UID);
	cr_assert(strstr(report, "4 ebusy " PER_UID "\n") != NULL, "%s",
	    report);
	it_log_wait(it_printf("verify: refusing uid 10001 pid %d: " PER_UID
	    "\n", (int)it_prog_pid(a)), IT_DEADLINE_MS);
	b = hostile("bob", "verify", "idle", 1, &report);
	assert_report("bob", report, 1, 0, NULL);
	adm = hostile("alice", "admin", "idle", 1, &report);
	assert_report("alice on admin.sock", report, 1, 0, NULL);
	assert_ctl_refused("alice", tok, PER_UID);

	/* Root is capped per uid as well; libapikey tells why. */
	for (i = 0; i < 4; i++) {
		cr_assert_eq(apikey_open(it_sock_dir(), 5000, &c[i]), 0);
		res = it_verify_on(c[i], tok, NULL);
		apikey_result_free(res);
	}
	rc = apikey_open(it_sock_dir(), 5000, &c[4]);
	if (rc == 0) {
		res = NULL;
		rc = apikey_verify(c[4], tok, NULL, &res);
		cr_assert_eq(rc, APIKEY_EBUSY, "fifth client: %s",
		    apikey_strerror(rc));
		cr_assert_str_eq(apikey_last_error(c[4]), "too many "
		    "connections from uid 0 to verify.sock "
		    "(max_connections_per_uid = 4)");
	} else
		cr_assert_eq(rc, APIKEY_EBUSY, "fifth open: %s",
		    apikey_strerror(rc));
	for (i = 0; i < 5; i++)
		apikey_close(c[i]);

	/* alice's slots come back once her connections are gone. */
	cr_assert_eq(it_prog_end(a, IT_DEADLINE_MS), 0);
	end = it_now_ms() + IT_DEADLINE_MS;
	while (it_ctl(&r, "alice", it_printf("%s\n", tok), "verify",
	    NULL) != 0) {
		cr_assert(r.status == 3 && it_now_ms() < end, "apikeyctl "
		    "verify as alice after her connections closed: exit %d: "
		    "%s", r.status, r.err);
		it_msleep(20);
	}
	cr_assert_eq(it_prog_end(b, IT_DEADLINE_MS), 0);
	cr_assert_eq(it_prog_end(adm, IT_DEADLINE_MS), 0);
}

/* --- undecodable frames and the log budget --------------------------------- */

#define BAD_VERSION	"0 frame op=0x81 id=1 flags=0 status=1 undecodable " \
	"frame: unsupported protocol version\n0 eof\n"
#define BAD_LENGTH	"0 frame op=0x81 id=1 flags=0 status=1 undecodable " \
	"frame: bad frame length\n0 eof\n"

/*
 * A frame of an unknown version, or with a length over the maximum, gets
 * an EBADREQ reply echoing its opcode and id, then the connection is
 * closed (proto.h); the daemon says so in its log, and a bystander's
 * connection and root's verifies go on. Before the fix such a connection
 * was closed without a word ("0 eof" alone).
 */
Test(connections, bad_frame_gets_ebadreq_then_close)
{
	struct it_prog	*idle, *h;
	const char	*report, *tok;

	it_setup();
	tok = it_key(NULL, "--user", "alice", NULL);
	idle = hostile("bob", "verify", "idle", 1, &report);
	assert_report("bob", report, 1, 0, NULL);

	h = hostile("alice", "verify", "badver", 1, &report);
	cr_assert_str_eq(report, BAD_VERSION);
	it_log_wait(it_printf("verify: uid 10001 pid %d: bad frame "
	    "(unsupported protocol version); closing", (int)it_prog_pid(h)),
	    IT_DEADLINE_MS);
	cr_assert_eq(it_prog_end(h, IT_DEADLINE_MS), 0);
	h = hostile("alice", "verify", "badlen", 1, &report);
	cr_assert_str_eq(report, BAD_LENGTH);
	cr_assert_eq(it_prog_end(h, IT_DEADLINE_MS), 0);
	h = hostile("alice", "admin", "badlen", 1, &report);
	cr_assert_str_eq(report, BAD_LENGTH);
	it_log_wait(it_printf("admin: uid 10001 pid %d: bad frame "
	    "(bad frame length); closing", (int)it_prog_pid(h)),
	    IT_DEADLINE_MS);
	cr_assert_eq(it_prog_end(h, IT_DEADLINE_MS), 0);

	it_prog_say(idle, "ping");
	cr_assert_str_eq(it_prog_until(idle, "done", REPORT_MS), "0 pong\n");
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
	cr_assert_eq(it_prog_end(idle, IT_DEADLINE_MS), 0);
}

#define FLOOD		200
#define FLOOD_LINES	5
#define FLOOD_WINDOW_MS	2000

/*
 * 200 undecodable frames from alice, one connection each. With
 * log_lines_per_uid = 5 per 2 s window, the log gets 5 "bad frame" lines
 * about uid 10001 per window the flood touched (one, unless the machine
 * is very slow), and once the window is over the next line about her
 * says how many were suppressed. Without the budget all 200 are logged.
 */
Test(connections, log_budget_holds_under_flood)
{
	const char	*report, *line, *log;
	struct it_prog	*h;
	int64_t		 t0, took, end;
	long		 windows, lines, suppressed;

	it_prepare(it_printf("log_lines_per_uid = %d\nlog_window = %dms\n",
	    FLOOD_LINES, FLOOD_WINDOW_MS));
	it_start();
	t0 = it_now_ms();
	h = hostile("alice", "verify", "badver", FLOOD, &report);
	took = it_now_ms() - t0;
	cr_assert_eq(count(report, "eof"), FLOOD, "%s", report);
	cr_assert_eq(it_prog_end(h, IT_DEADLINE_MS), 0);

	/* The daemon logs before it answers: every line is in. */
	log = it_log();
	lines = count_log(log, "uid 10001 ", "bad frame");
	windows = took / FLOOD_WINDOW_MS + 1;
	cr_log_info("%d bad frames in %lld ms: %ld lines logged", FLOOD,
	    (long long)took, lines);
	cr_assert(lines >= FLOOD_LINES && lines <= FLOOD_LINES * windows,
	    "%ld lines about uid 10001 for %d bad frames in %lld ms (log "
	    "window %d ms, %d lines each)", lines, FLOOD, (long long)took,
	    FLOOD_WINDOW_MS, FLOOD_LINES);
	if (windows == 1)
		cr_assert_eq(count_log(log, "uid 10001", "suppressed"), 0);

	/* One more bad frame now and then, until one opens a window. */
	end = it_now_ms() + 3 * FLOOD_WINDOW_MS + IT_DEADLINE_MS;
	while ((line = strstr((log = it_log()), "log lines about uid 10001 "
	    "suppressed (log_lines_per_uid)")) == NULL) {
		cr_assert(it_now_ms() < end, "no \"suppressed\" line; log:\n"
		    "%s", it_log());
		h = hostile("alice", "verify", "badver", 1, &report);
		cr_assert_str_eq(report, BAD_VERSION);
		cr_assert_eq(it_prog_end(h, IT_DEADLINE_MS), 0);
		it_msleep(100);
	}
	/* Back to the count before " log lines". */
	while (line > log && line[-1] == ' ')
		line--;
	while (line > log && line[-1] >= '0' && line[-1] <= '9')
		line--;
	suppressed = strtol(line, NULL, 10);
	cr_log_info("then: \"%.*s\"", (int)strcspn(line, "\n"), line);
	cr_assert_geq(suppressed, windows == 1 ? FLOOD - FLOOD_LINES : 1);
	it_assert_has(it_log(), it_printf("verify: %ld log lines about uid "
	    "10001 suppressed (log_lines_per_uid)\n", suppressed));
}
