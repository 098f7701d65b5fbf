/*
 * it_verify_threads.c - verify.sock served by several event loops
 * (verify_threads): the loops are threads named for top -H, the default
 * follows the CPUs the daemon may run on, and what the loops share stays
 * one count whatever loop a connection lands on: credits are spent once,
 * a key's rate window is one window, a uid's connections are capped
 * together, and a stop drains every loop.
 *
 * All loops accept from the one listening socket and every idle loop
 * wakes for a new connection, so connections made one after another,
 * each used once before the next is made, spread over the loops as the
 * kernel schedules them. Which connection lands on which loop cannot be
 * seen from outside; the tests make many, and count only what the
 * daemon must get right whatever the spread is.
 *
 * The clients that must really run at once are threads with a libapikey
 * client each, which never call Criterion: they count, and the test
 * judges once they are joined. Connections of an unprivileged user are
 * build/tests/hostile's (see tests/hostile.c, which test-build makes),
 * as in it_connections.c.
 */
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "../proto/proto.h"
#include "harness_load.h"
#include "harness_raw.h"
#include "harness_usage.h"

/* A hostile's report on its connections comes within this. */
#define REPORT_MS	(3 * IT_DEADLINE_MS)

static void
fini(void)
{
	it_prog_end_all();
	it_teardown();
}

/* One timeout for all: a test's own .timeout makes Criterion 2.4.1's
 * runner leak, which fails the ASan run (see it_connections.c). */
TestSuite(verify_threads, .fini = fini, .timeout = 120);

/* --- threads and the start-up line ----------------------------------------- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The names (comm) of the daemon's threads, sorted, one a line. The
 * daemon's own thread keeps the program's name; the others name
 * themselves when they start, which may be after the sockets accept.
 */
static const char *
thread_names(void)
{
	const char	*dir = it_printf("/proc/%d/task", (int)it_daemon_pid());
	const char	*names[256];
	char		 out[256 * 17] = "";
	struct dirent	*de;
	size_t		 n = 0, i;
	DIR		*d;

	d = opendir(dir);
	cr_assert_not_null(d, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL && n < 256) {
		if (de->d_name[0] == '.')
			continue;
		names[n++] = it_read_file(it_printf("%s/%s/comm", dir,
		    de->d_name), NULL);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	for (i = 0; i < n; i++)
		strcat(out, names[i]);		/* each ends in its newline */
	return it_printf("%s", out);
}

/* Waits until the daemon's threads are named exactly want. */
static void
wait_thread_names(const char *want)
{
	int64_t		 end = it_now_ms() + IT_DEADLINE_MS;
	const char	*got;

	while (strcmp((got = thread_names()), want) != 0) {
		cr_assert(it_now_ms() < end, "apikeyd's threads are, after %d "
		    "ms:\n%sexpected:\n%s", IT_DEADLINE_MS, got, want);
		it_msleep(10);
	}
}

/* The daemon's start-up line for n verify loops, as it logs it. */
static const char *
listening_line(unsigned n)
{
	return it_printf("listening on %s/verify.sock (%u verify thread%s) "
	    "and %s/admin.sock\n", it_sock_dir(), n, n == 1 ? "" : "s",
	    it_sock_dir());
}

/* The last start-up line in the log, from "listening on" to its newline
 * included. */
static const char *
last_listening(void)
{
	const char	*log = it_log(), *p, *last = NULL;

	for (p = log; (p = strstr(p, "listening on ")) != NULL; p++)
		last = p;
	cr_assert_not_null(last, "no \"listening on\" line in the log");
	return it_printf("%.*s", (int)(strcspn(last, "\n") + 1), last);
}

/*
 * Four loops: the first runs on the daemon's own thread, which keeps the
 * name "apikeyd", and the other three are threads apikeyd-verify1 to 3,
 * beside the admin loop's thread and the ledger's commit thread; no
 * other thread. The start-up line says how many loops serve verify.sock.
 */
Test(verify_threads, four_loops_are_named_threads)
{
	it_prepare("verify_threads = 4\n");
	it_start();
	it_log_wait(listening_line(4), IT_DEADLINE_MS);
	wait_thread_names("apikeyd\napikeyd-admin\napikeyd-ledger\n"
	    "apikeyd-verify1\napikeyd-verify2\napikeyd-verify3\n");
}

/* One loop runs on the daemon's own thread: no apikeyd-verify thread. */
Test(verify_threads, one_loop_runs_on_the_main_thread)
{
	it_prepare("verify_threads = 1\n");
	it_start();
	it_log_wait(listening_line(1), IT_DEADLINE_MS);
	wait_thread_names("apikeyd\napikeyd-admin\napikeyd-ledger\n");
}

/*
 * Without verify_threads, a loop per CPU the daemon may run on (its
 * affinity, as a unit's CPUAffinity= or a container's cpuset sets it, and
 * which it inherits from this test), at most 8. Restricted to one CPU, it
 * runs one loop.
 */
Test(verify_threads, default_follows_the_cpu_affinity)
{
	cpu_set_t	 set;
	unsigned	 n;
	int		 cpu;

	cr_assert_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	n = (unsigned)CPU_COUNT(&set);
	it_prepare(NULL);
	it_start();
	it_log_wait(listening_line(n < 8 ? n : 8), IT_DEADLINE_MS);
	it_stop();

	for (cpu = 0; !CPU_ISSET(cpu, &set); cpu++)
		;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	cr_assert_eq(sched_setaffinity(0, sizeof(set), &set), 0, "%s",
	    strerror(errno));
	it_start();
	itl_log_wait_count("listening on ", 2, IT_DEADLINE_MS);
	cr_assert_str_eq(last_listening(), listening_line(1));
	wait_thread_names("apikeyd\napikeyd-admin\napikeyd-ledger\n");
}

/* --- what the loops share: credits and rate windows ------------------------ */

#define CONNS		16
#define BATCH		8
/* A connection that is never refused stops after this many batches. */
#define MAX_BATCHES	1000

/*
 * One connection of a spending test, on a thread of its own: it
 * pipelines batches of verifies of one key until a batch holds a refusal,
 * and counts. Never calls Criterion.
 */
struct spender {
	pthread_t	 th;
	struct apikey_client *c;
	const char	*token;
	pthread_barrier_t *go;
	enum apikey_code refusal;	/* the refusal expected */
	const char	*reason;	/* its exact reason */
	unsigned	 valid;
	unsigned	 credited;	/* VALIDs that carried credits */
	unsigned	 refused;
	uint64_t	*remaining;	/* what each VALID said was left */
	size_t		 nremaining, capremaining;
	char		 odd[512];	/* the first unexpected outcome */
};

static void
spender_odd(struct spender *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
spender_odd(struct spender *s, const char *fmt, ...)
{
	va_list	 ap;

	if (s->odd[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(s->odd, sizeof(s->odd), fmt, ap);
	va_end(ap);
}

/* Takes one answer; returns whether it was the expected refusal. */
static int
spender_take(struct spender *s, const struct apikey_result *r)
{
	enum apikey_code code = apikey_result_code(r);

	if (code == APIKEY_VALID) {
		s->valid++;
		if (!apikey_result_has_credits(r))
			return 0;
		s->credited++;
		if (s->nremaining < s->capremaining)
			s->remaining[s->nremaining++] =
			    apikey_result_remaining(r);
		return 0;
	}
	if (code == s->refusal && strcmp(apikey_result_reason(r),
	    s->reason) == 0) {
		s->refused++;
		return 1;
	}
	spender_odd(s, "%s (\"%s\"), expected VALID or %s (\"%s\")",
	    apikey_code_name(code), apikey_result_reason(r),
	    apikey_code_name(s->refusal), s->reason);
	return 1;
}

static void *
spender_main(void *arg)
{
	struct spender	*s = arg;
	struct apikey_result *res[BATCH];
	const char	*tokens[BATCH];
	int		 b, i, rc, refused = 0;

	for (i = 0; i < BATCH; i++)
		tokens[i] = s->token;
	pthread_barrier_wait(s->go);
	for (b = 0; b < MAX_BATCHES && !refused && s->odd[0] == '\0'; b++) {
		rc = apikey_verify_batch(s->c, BATCH, tokens, NULL, res);
		if (rc != 0) {
			spender_odd(s, "batch %d: %s (%s)", b,
			    apikey_strerror(rc), apikey_last_error(s->c));
			break;
		}
		for (i = 0; i < BATCH; i++) {
			refused |= spender_take(s, res[i]);
			apikey_result_free(res[i]);
		}
	}
	if (!refused)
		spender_odd(s, "no refusal in %d batches of %d", b, BATCH);
	return NULL;
}

/*
 * A client of its own, connected and used once before the next is made,
 * so that the connections spread over the loops. The check-only verify
 * uses nothing: no credit, no rate slot.
 */
static struct apikey_client *
spender_client(const char *token)
{
	struct apikey_verify_req *req = apikey_verify_req_new();
	struct apikey_client *c = NULL;
	struct apikey_result *res;
	int		 rc;

	cr_assert_not_null(req);
	cr_assert_eq(apikey_verify_req_set_check_only(req), 0);
	rc = apikey_open(it_sock_dir(), IT_DEADLINE_MS, &c);
	cr_assert_eq(rc, 0, "apikey_open: %s", apikey_strerror(rc));
	res = NULL;
	rc = apikey_verify(c, token, req, &res);
	cr_assert_eq(rc, 0, "check-only verify: %s (%s)", apikey_strerror(rc),
	    apikey_last_error(c));
	cr_assert_eq(apikey_result_code(res), APIKEY_VALID, "check-only "
	    "verify: %s (%s)", apikey_code_name(apikey_result_code(res)),
	    apikey_result_reason(res));
	apikey_result_free(res);
	apikey_verify_req_free(req);
	return c;
}

/* What the spenders of spend_at_once() got, together. */
struct spent {
	unsigned	 valid;
	unsigned	 credited;	/* VALIDs that carried credits */
	unsigned	 refused;
	uint64_t	*left;		/* what each said was left (free) */
	size_t		 nleft;
};

/*
 * Runs CONNS spenders of token at once, each expecting VALID until the
 * refusal with its reason, and asserts that each ended with that refusal
 * and nothing else. Each records what at most cap of its VALIDs said was
 * left.
 */
static void
spend_at_once(const char *token, enum apikey_code refusal,
    const char *reason, size_t cap, struct spent *out)
{
	struct spender	 s[CONNS];
	pthread_barrier_t go;
	size_t		 i;

	memset(s, 0, sizeof(s));
	memset(out, 0, sizeof(*out));
	cr_assert_eq(pthread_barrier_init(&go, NULL, CONNS + 1), 0);
	for (i = 0; i < CONNS; i++) {
		s[i].c = spender_client(token);
		s[i].token = token;
		s[i].go = &go;
		s[i].refusal = refusal;
		s[i].reason = reason;
		s[i].capremaining = cap;
		s[i].remaining = calloc(cap + 1, sizeof(uint64_t));
		cr_assert_not_null(s[i].remaining);
		cr_assert_eq(pthread_create(&s[i].th, NULL, spender_main,
		    &s[i]), 0);
	}
	/* All connected: now they verify at once. */
	pthread_barrier_wait(&go);
	for (i = 0; i < CONNS; i++)
		pthread_join(s[i].th, NULL);
	pthread_barrier_destroy(&go);

	out->left = calloc(CONNS * cap + 1, sizeof(uint64_t));
	cr_assert_not_null(out->left);
	for (i = 0; i < CONNS; i++) {
		cr_assert(s[i].odd[0] == '\0', "connection %zu: %s", i,
		    s[i].odd);
		cr_log_info("connection %zu: %u VALID, %u %s", i, s[i].valid,
		    s[i].refused, apikey_code_name(refusal));
		out->valid += s[i].valid;
		out->credited += s[i].credited;
		out->refused += s[i].refused;
		memcpy(out->left + out->nleft, s[i].remaining,
		    s[i].nremaining * sizeof(uint64_t));
		out->nleft += s[i].nremaining;
		free(s[i].remaining);
		apikey_close(s[i].c);
	}
	cr_log_info("%d connections at once: %u VALID, %u %s", CONNS,
	    out->valid, out->refused, apikey_code_name(refusal));
}

#define CREDITS		300
#define SHORT		"0 credits left, 1 needed"

/*
 * A key with 300 credits, spent from 16 connections at once. The loops
 * reserve credits through the one ledger, so exactly 300 verifies are
 * VALID, and each said a different number of credits was left, 299 down
 * to 0: each reservation is decided under the ledger's lock against the
 * stored credits and every one in flight. Two VALIDs with the same count
 * are one credit spent twice, or a count that took credits in flight off
 * twice (which refuses credits that are there). Every other answer is
 * USAGE_EXCEEDED, and the store holds 0. A daemon whose loops each
 * decided against the stored count alone would answer VALID more than
 * 300 times, with repeated counts.
 */
/*
 * The counts of credits left that VALID answers said more than once, and
 * those none said, for a failure message (harness-owned).
 */
static const char *
left_mismatch(const unsigned *times)
{
	char		 twice[1024] = "", never[1024] = "";
	size_t		 i;

	for (i = 0; i < CREDITS; i++)
		if (times[i] > 1 && strlen(twice) < sizeof(twice) - 32)
			snprintf(twice + strlen(twice), sizeof(twice) -
			    strlen(twice), " %zu (x%u)", i, times[i]);
		else if (times[i] == 0 && strlen(never) < sizeof(never) - 32)
			snprintf(never + strlen(never), sizeof(never) -
			    strlen(never), " %zu", i);
	return it_printf("said more than once:%s; never said:%s", twice,
	    never);
}

Test(verify_threads, credits_are_spent_once_across_threads)
{
	const char	*tok, *show;
	unsigned	 times[CREDITS];
	struct spent	 sp;
	size_t		 i;
	int		 once = 1;

	it_prepare("verify_threads = 4\n");
	it_start();
	tok = it_key(NULL, "--remaining", it_printf("%d", CREDITS), NULL);
	spend_at_once(tok, APIKEY_USAGE_EXCEEDED, SHORT, CREDITS, &sp);
	cr_assert_eq(sp.valid, CREDITS, "%u VALID answers for a key of %d "
	    "credits, expected exactly %d", sp.valid, CREDITS, CREDITS);
	cr_assert_eq(sp.credited, CREDITS, "%u of the VALID answers carried "
	    "credits", sp.credited);
	memset(times, 0, sizeof(times));
	for (i = 0; i < sp.nleft; i++) {
		cr_assert_lt(sp.left[i], CREDITS, "a VALID answer said %llu "
		    "credits were left", (unsigned long long)sp.left[i]);
		times[sp.left[i]]++;
	}
	free(sp.left);
	for (i = 0; i < CREDITS; i++)
		once &= times[i] == 1;
	cr_assert(once, "the %d VALID answers did not each say a different "
	    "number of credits left, %d - 1 down to 0: %s", CREDITS, CREDITS,
	    left_mismatch(times));
	cr_assert_eq(itu_remaining(tok), 0);
	show = it_expect(NULL, 0, NULL, "key", "show", it_id(tok), NULL);
	cr_assert_str_eq(it_field(show, "remaining"), "0");
	itu_expect(tok, NULL, APIKEY_USAGE_EXCEEDED, 0);
}

#define RATE_MAX	50
#define RATE_WINDOW_MS	60000
#define RATE_REASON	"rate limit of 50 per 60000 ms reached"

/*
 * A key limited to 50 verifies a minute, verified from 16 connections at
 * once: the loops take slots from the one window, so exactly 50 are
 * VALID and the rest RATE_LIMITED with the limit as the reason. With a
 * window per loop, up to 4 x 50 would be VALID.
 */
Test(verify_threads, rate_limit_is_one_count_across_threads)
{
	struct apikey_result *res;
	struct spent	 sp;
	const char	*tok;
	uint64_t	 retry;

	it_prepare("verify_threads = 4\n");
	it_start();
	tok = it_key(NULL, "--rate", it_printf("%d/%ds", RATE_MAX,
	    RATE_WINDOW_MS / 1000), NULL);
	spend_at_once(tok, APIKEY_RATE_LIMITED, RATE_REASON, 0, &sp);
	free(sp.left);
	cr_assert_eq(sp.valid, RATE_MAX, "%u VALID answers for a key limited "
	    "to %d a minute, expected exactly %d", sp.valid, RATE_MAX,
	    RATE_MAX);
	cr_assert_eq(sp.credited, 0, "a key without credits: %u answers "
	    "carried credits", sp.credited);
	/* Still the one window, with its time left. */
	res = it_verify(tok, NULL);
	cr_assert_eq(apikey_result_code(res), APIKEY_RATE_LIMITED);
	cr_assert_str_eq(apikey_result_reason(res), RATE_REASON);
	retry = apikey_result_retry_after_ms(res);
	cr_assert(retry > 0 && retry <= RATE_WINDOW_MS, "retry_after_ms %llu",
	    (unsigned long long)retry);
	apikey_result_free(res);
}

/* --- what the loops share: connection slots -------------------------------- */

#define PER_UID_MAX	5

static const char *
per_uid_refusal(const char *user)
{
	return it_printf("too many connections from uid %u to verify.sock "
	    "(max_connections_per_uid = %d)", (unsigned)it_uid(user),
	    PER_UID_MAX);
}

/* Runs hostile verify.sock idle n as user as and waits for its report. */
static struct it_prog *
hostile(const char *as, int n, const char **report)
{
	struct it_prog	*p;

	p = it_prog_start(as, "tests/hostile", it_printf("%s/verify.sock",
	    it_sock_dir()), "idle", it_printf("%d", n), NULL);
	*report = it_prog_until(p, "ready", REPORT_MS);
	return p;
}

/* Has each of h's n open connections verify tok once (and PING). */
static void
verify_on_each(struct it_prog *h, int n, const char *tok)
{
	const char	*report;
	int		 i;

	it_prog_say(h, "pipe 2 %s", tok);
	report = it_prog_until(h, "done", REPORT_MS);
	cr_assert_eq(it_line_count(report), (size_t)n, "%s", report);
	for (i = 0; i < n; i++)
		cr_assert_str_eq(it_line(report, (size_t)i), it_printf("%d "
		    "piped 2 answered 2 reordered 0", i), "%s", report);
}

/*
 * max_connections_per_uid = 5 on four loops. alice's connections, made
 * one after another by two programs, land on loops as the kernel wakes
 * them; the slots are counted for the socket, so she has 5 in all: the
 * first 5 are admitted and answer a verify, the 6th gets the EBUSY frame
 * with the per-uid message. Once one of hers closes, the daemon gives its
 * slot back (on whatever loop served it) and a new one is admitted, after
 * which the 6th is refused again. With counts per loop, she would get up
 * to 4 x 5.
 */
Test(verify_threads, per_uid_cap_counts_all_threads)
{
	const char	*report, *tok, *why = NULL;
	struct it_prog	*a, *b, *c, *d;
	int64_t		 end;

	it_prepare(it_printf("verify_threads = 4\n"
	    "max_connections_per_uid = %d\n", PER_UID_MAX));
	it_start();
	why = per_uid_refusal("alice");
	tok = it_key(NULL, "--user", "alice", NULL);

	a = hostile("alice", PER_UID_MAX - 1, &report);
	itl_expect_report("alice's first 4", report, PER_UID_MAX - 1, 0, NULL);
	b = hostile("alice", 2, &report);
	cr_assert_str_eq(report, it_printf("0 open\n1 ebusy %s\n", why));
	it_log_wait(it_printf("verify: refusing uid %u pid %d: %s\n",
	    (unsigned)it_uid("alice"), (int)it_prog_pid(b), why),
	    IT_DEADLINE_MS);
	verify_on_each(a, PER_UID_MAX - 1, tok);
	verify_on_each(b, 1, tok);

	/* b's connection goes; its slot comes back once the daemon has
	 * seen the close, which it does on its own time. */
	cr_assert_eq(it_prog_end(b, IT_DEADLINE_MS), 0);
	end = it_now_ms() + IT_DEADLINE_MS;
	for (;;) {
		c = hostile("alice", 1, &report);
		if (strcmp(report, "0 open\n") == 0)
			break;
		cr_assert_str_eq(report, it_printf("0 ebusy %s\n", why));
		cr_assert(it_now_ms() < end, "no slot for alice within %d ms "
		    "of closing one of her 5", IT_DEADLINE_MS);
		cr_assert_eq(it_prog_end(c, IT_DEADLINE_MS), 0);
		it_msleep(20);
	}
	verify_on_each(c, 1, tok);
	d = hostile("alice", 1, &report);
	cr_assert_str_eq(report, it_printf("0 ebusy %s\n", why));
	/* Another uid is not held by alice's count. */
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
	cr_assert_eq(it_prog_end(a, IT_DEADLINE_MS), 0);
	cr_assert_eq(it_prog_end(c, IT_DEADLINE_MS), 0);
	cr_assert_eq(it_prog_end(d, IT_DEADLINE_MS), 0);
}

/* --- stopping: every loop drains ------------------------------------------- */

#define DRAIN_CONNS	16
#define DRAIN_PER	64		/* verifies before the PING, and after */
/* Requests of a connection: DRAIN_PER, the PING, DRAIN_PER in one write,
 * then DRAIN_PER more just before the SIGTERM. */
#define DRAIN_SENT	(3 * DRAIN_PER)
#define DRAIN_BARRIER	0x7fff0000u	/* the PING's request id */
#define DRAIN_CREDITS	1000000

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Of a reply frame: its status, and its message (harness-owned). */
static uint32_t
reply_status(const uint8_t *f, size_t len)
{
	cr_assert(len >= PROTO_HDR_LEN + 10 && f[12] == BUF_T_U32,
	    "not a reply body");
	return get_u32(f + 13);
}

static const char *
reply_message(const uint8_t *f, size_t len)
{
	uint32_t mlen;

	cr_assert(len >= PROTO_HDR_LEN + 10 && f[17] == BUF_T_STR,
	    "not a reply body");
	mlen = get_u32(f + 18);
	cr_assert_leq(PROTO_HDR_LEN + 10 + (size_t)mlen, len);
	return it_printf("%.*s", (int)mlen, (const char *)f + 22);
}

/* One raw connection of the drain test, and the replies it got. */
struct drainee {
	int		 fd;
	unsigned char	 answered[DRAIN_SENT + 1];	/* by request id */
	unsigned	 valid;
};

/* A connection, admitted (its PING answered) before the next is made. */
static void
drainee_open(struct drainee *d, uint32_t id)
{
	uint8_t		 f[PROTO_HDR_LEN];
	struct itl_reply r;

	memset(d, 0, sizeof(*d));
	d->fd = itr_connect(it_printf("%s/verify.sock", it_sock_dir()));
	itr_write(d->fd, f, itl_frame(f, ITL_LEN_AUTO, PROTO_VERSION,
	    PROTO_OP_PING, id, NULL, 0));
	cr_assert_eq(itl_read_reply(d->fd, &r, IT_DEADLINE_MS), 0);
	cr_assert(r.opcode == (PROTO_OP_PING | PROTO_REPLY) && r.id == id &&
	    r.status == PROTO_OK, "PING %u: op 0x%02x id %u status %u %s",
	    id, r.opcode, r.id, r.status, r.message);
}

/*
 * Reads d's next frame: a VALID verify reply to a request of d's not
 * answered before (returns 0), the PING's reply (1) or the goodbye (2),
 * asserting the message it must carry. A reset or an end of file fails.
 */
static int
drainee_frame(struct drainee *d, size_t i, int stopped)
{
	uint8_t		*f;
	size_t		 len;
	uint32_t	 id, code;

	len = itr_read_frame(d->fd, &f);
	cr_assert_gt(len, 0, "connection %zu: closed without a goodbye, "
	    "after %u answers", i, d->valid);
	id = itr_reply_id(f);
	if (id == 0) {
		cr_assert(stopped, "connection %zu: a goodbye before the "
		    "SIGTERM", i);
		cr_assert_eq(f[5], PROTO_REPLY, "connection %zu: id 0, opcode "
		    "0x%02x", i, f[5]);
		cr_assert_eq(reply_status(f, len), PROTO_ESHUTDOWN,
		    "connection %zu: id 0, status %u", i,
		    reply_status(f, len));
		cr_assert_str_eq(reply_message(f, len), "apikeyd is stopping");
		free(f);
		return 2;
	}
	if (id == DRAIN_BARRIER) {
		cr_assert_eq(f[5], PROTO_OP_PING | PROTO_REPLY);
		cr_assert_eq(reply_status(f, len), PROTO_OK);
		free(f);
		return 1;
	}
	cr_assert(id >= 1 && id <= DRAIN_SENT, "connection %zu: a reply "
	    "to request %u, never sent", i, id);
	cr_assert_eq(d->answered[id], 0, "connection %zu: request %u "
	    "answered twice", i, id);
	code = itr_verify_code(f, len);
	cr_assert_eq(code, PROTO_VALID, "connection %zu: request %u: code "
	    "%#x", i, id, code);
	d->answered[id] = 1;
	d->valid++;
	free(f);
	return 0;
}

/*
 * After the goodbye: the daemon closes. A reset is what Linux gives for
 * bytes the daemon never read, so it is right only when some request
 * went unanswered; otherwise the end must be a plain end of file.
 */
static void
drainee_end(struct drainee *d, size_t i, int all_answered)
{
	uint8_t		 b;
	ssize_t		 n;

	n = read(d->fd, &b, 1);
	cr_assert(n == 0 || (n == -1 && errno == ECONNRESET &&
	    !all_answered), "connection %zu: after the goodbye, read gave %zd "
	    "(%s) with %s request answered", i, n, n == -1 ? strerror(errno) :
	    "a byte", all_answered ? "every" : "not every");
	close(d->fd);
}

/*
 * Requests answered: all DRAIN_PER before the PING, then those after it
 * up to the first not answered, and none after that (the daemon reads a
 * connection in order, answers all it read, and reads nothing after its
 * goodbye: an answer past a gap is an answer lost). Returns the count.
 */
static unsigned
drainee_check(const struct drainee *d, size_t i)
{
	unsigned	 id, gap = 0;

	for (id = 1; id <= DRAIN_SENT; id++) {
		if (id <= DRAIN_PER)
			cr_assert(d->answered[id], "connection %zu: request "
			    "%u, read before the SIGTERM (its PING, behind "
			    "it, was answered), got no answer", i, id);
		if (!d->answered[id] && gap == 0)
			gap = id;
		cr_assert(!d->answered[id] || gap == 0, "connection %zu: "
		    "request %u answered, but not request %u before it", i,
		    id, gap);
	}
	return d->valid;
}

/* Lines holding needle in the log after the first that holds from. */
static unsigned
log_count_after(const char *from, const char *needle)
{
	const char	*p = strstr(it_log(), from);
	unsigned	 n = 0;

	cr_assert_not_null(p, "no \"%s\" in the log", from);
	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p++;
	}
	return n;
}

/*
 * 16 connections, spread over four loops, each with 128 verifies of a
 * key with credits (their replies wait for the ledger's commit) and a
 * PING between the first and last 64, all in one write. The PING is
 * answered at once, ahead of the held replies. Once every PING is
 * answered, every loop has read at least the first 64 of each of its
 * connections; 64 more go on each, and SIGTERM at once. What a loop
 * then holds or has not read yet depends on timing (the log says how
 * many it read while stopping). Each loop answers what it read, then
 * says goodbye on each connection: every request before the PING is
 * answered VALID, once; after it, those the daemon read, in order, with
 * no gap; then the goodbye (id 0, ESHUTDOWN) and the close. The daemon
 * counts the 16 across its loops when the signal comes, exits 0 without
 * cutting anyone off (no "still busy"), and once restarted its store
 * shows exactly one credit spent per VALID received: none spent
 * unanswered, none answered unspent.
 */
Test(verify_threads, drain_answers_every_thread)
{
	static struct drainee d[DRAIN_CONNS];
	uint8_t		 f[(2 * DRAIN_PER + 1) * ITR_VERIFY_FRAME_MAX];
	const char	*tok;
	unsigned	 valid = 0, n;
	uint64_t	 left;
	size_t		 len, i;
	uint32_t	 id;
	int		 st, kind;

	it_prepare("verify_threads = 4\n");
	it_start();
	tok = it_key(NULL, "--remaining", it_printf("%d", DRAIN_CREDITS),
	    NULL);
	for (i = 0; i < DRAIN_CONNS; i++)
		drainee_open(&d[i], DRAIN_BARRIER - 1 - (uint32_t)i);

	len = 0;
	for (id = 1; id <= 2 * DRAIN_PER; id++) {
		len += itr_verify_frame(f + len, id, tok, 1, 0);
		if (id == DRAIN_PER)
			len += itl_frame(f + len, ITL_LEN_AUTO, PROTO_VERSION,
			    PROTO_OP_PING, DRAIN_BARRIER, NULL, 0);
	}
	for (i = 0; i < DRAIN_CONNS; i++)
		itr_write(d[i].fd, f, len);
	for (i = 0; i < DRAIN_CONNS; i++)
		while ((kind = drainee_frame(&d[i], i, 0)) != 1)
			cr_assert_eq(kind, 0);
	/* More on every loop as the signal comes. */
	len = 0;
	for (id = 2 * DRAIN_PER + 1; id <= DRAIN_SENT; id++)
		len += itr_verify_frame(f + len, id, tok, 1, 0);
	for (i = 0; i < DRAIN_CONNS; i++)
		itr_write(d[i].fd, f, len);
	cr_assert_eq(kill(it_daemon_pid(), SIGTERM), 0);
	/* Counted across the loops, as the slots are. */
	it_log_wait(it_printf("shutting down: answering %d verify and ",
	    DRAIN_CONNS), IT_DEADLINE_MS);

	/* One connection after another: each loop drains without us, and
	 * what it sends waits in the socket buffers. */
	for (i = 0; i < DRAIN_CONNS; i++) {
		while (drainee_frame(&d[i], i, 1) != 2)
			;
		n = drainee_check(&d[i], i);
		drainee_end(&d[i], i, n == DRAIN_SENT);
		valid += n;
	}
	st = it_wait_daemon_exit(IT_DEADLINE_MS);
	cr_log_info("%d connections, %d requests each: %u answered VALID; "
	    "the daemon read %u of them after it logged the SIGTERM",
	    DRAIN_CONNS, DRAIN_SENT, valid, log_count_after(
	    "shutting down", "verify: VALID key"));
	cr_assert_eq(st, 0, "apikeyd exited with status %d after SIGTERM",
	    st);
	it_assert_has(it_log(), "stopped\n");
	it_assert_lacks(it_log(), "still busy");

	it_start();
	left = itu_remaining(tok);
	cr_assert_eq(left, DRAIN_CREDITS - valid, "%llu of %d credits left "
	    "after %u VALID answers, expected %llu", (unsigned long long)left,
	    DRAIN_CREDITS, valid, (unsigned long long)(DRAIN_CREDITS - valid));
}

/* --- connections spread over the loops ------------------------------------ */

/* CPU clock ticks (utime + stime) the daemon's thread named comm spent. */
static uint64_t
thread_ticks(const char *comm)
{
	const char	*dir = it_printf("/proc/%d/task", (int)it_daemon_pid());
	const char	*name, *stat, *p;
	unsigned long long utime, stime;
	struct dirent	*de;
	uint64_t	 ticks = UINT64_MAX;
	DIR		*d;

	d = opendir(dir);
	cr_assert_not_null(d, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		name = it_read_file(it_printf("%s/%s/comm", dir, de->d_name),
		    NULL);
		if (strcmp(name, it_printf("%s\n", comm)) != 0)
			continue;
		stat = it_read_file(it_printf("%s/%s/stat", dir, de->d_name),
		    NULL);
		/* The fields after "(comm) ": state is the 3rd, utime the
		 * 14th and stime the 15th. */
		cr_assert_not_null(p = strrchr(stat, ')'));
		cr_assert_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u "
		    "%*u %*u %*u %llu %llu", &utime, &stime), 2, "%s", stat);
		ticks = utime + stime;
	}
	closedir(d);
	cr_assert_neq(ticks, UINT64_MAX, "no thread %s", comm);
	return ticks;
}

#define SPREAD_CONNS	16
#define SPREAD_ROUNDS	2000

/*
 * Whichever loop the kernel wakes for a new connection hands it to the
 * loop with the fewest, so sixteen connections made one after another
 * are four on each of four loops, and the same verifies on all of them
 * keep every loop about as busy: each loop's thread spends at least a
 * tenth of the four's CPU time on them (a quarter when even). Without the
 * hand-over, the loop woken first took most or all of the connections.
 */
Test(verify_threads, connections_spread_over_the_loops)
{
	static const char *const loops[] = { "apikeyd", "apikeyd-verify1",
	    "apikeyd-verify2", "apikeyd-verify3" };
	struct apikey_client *c[SPREAD_CONNS];
	struct apikey_result *res;
	uint64_t	 before[4], spent[4], total = 0;
	const char	*tok;
	int		 i, j, rc;

	it_prepare("verify_threads = 4\n");
	it_start();
	wait_thread_names("apikeyd\napikeyd-admin\napikeyd-ledger\n"
	    "apikeyd-verify1\napikeyd-verify2\napikeyd-verify3\n");
	tok = it_key(NULL, "--user", "alice", NULL);
	for (i = 0; i < 4; i++)
		before[i] = thread_ticks(loops[i]);
	for (i = 0; i < SPREAD_CONNS; i++) {
		rc = apikey_open(it_sock_dir(), IT_DEADLINE_MS, &c[i]);
		cr_assert_eq(rc, 0, "apikey_open: %s", apikey_strerror(rc));
	}
	for (j = 0; j < SPREAD_ROUNDS; j++)
		for (i = 0; i < SPREAD_CONNS; i++) {
			res = NULL;
			rc = apikey_verify(c[i], tok, NULL, &res);
			cr_assert_eq(rc, 0, "verify: %s", apikey_strerror(rc));
			cr_assert_eq(apikey_result_code(res), APIKEY_VALID);
			apikey_result_free(res);
		}
	for (i = 0; i < 4; i++) {
		spent[i] = thread_ticks(loops[i]) - before[i];
		total += spent[i];
	}
	for (i = 0; i < 4; i++)
		cr_assert_geq(spent[i] * 10, total, "%s spent %llu of the "
		    "loops' %llu ticks on %d connections", loops[i],
		    (unsigned long long)spent[i], (unsigned long long)total,
		    SPREAD_CONNS);
	for (i = 0; i < SPREAD_CONNS; i++)
		apikey_close(c[i]);
}
