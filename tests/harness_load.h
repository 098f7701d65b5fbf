/*
 * harness_load.h - helpers of the load and fault tests (tests/it_load.c,
 * it_frames.c, it_faults.c, and stress_soak.c and stress_crash.c of
 * `make stress`), on top of harness.h: a client that verifies in the
 * background and times every call, descriptor limits, raw frames with a
 * deadline, the workers (load clients run as fixture users), the ledger
 * of acknowledged writes they keep and the check of the store against
 * it, lmdb-utils, and a small filesystem.
 *
 * Like the rest of the harness, the functions assert (and so end the
 * test) instead of returning errors, and nothing sleeps to wait for an
 * event. The background client runs on a thread of its own, which never
 * calls Criterion: the test judges what it recorded once it is stopped.
 */
#ifndef APIKEY_TEST_HARNESS_LOAD_H
#define APIKEY_TEST_HARNESS_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "harness.h"

/* --- descriptors ---------------------------------------------------------- */

/*
 * Raises this process's RLIMIT_NOFILE (soft and hard) to at least n; what
 * it starts inherits it, the daemon included. Skips the test, saying why,
 * when that is not allowed.
 */
void	itl_nofile(unsigned long n);
/* The descriptors the running daemon has open (/proc/PID/fd). */
int	itl_daemon_fds(void);
/* Sets the running daemon's soft RLIMIT_NOFILE (prlimit(2)). */
void	itl_daemon_nofile(unsigned long soft);

/* --- a client calling in the background ----------------------------------- */

/*
 * A thread with a libapikey client of its own (root, as sshd's PAM stack
 * is), opened before it starts and kept: with a token, it verifies it on
 * verify.sock over and over and expects VALID; with NULL, it asks
 * admin.sock for the status. Each call has timeout_ms as its timeout
 * (APIKEY_DEFAULT_TIMEOUT_MS is what pam_apikey uses), and is timed.
 */
struct itl_prober;

struct itl_probe_stats {
	unsigned long	 calls;		/* calls that succeeded */
	unsigned long	 failed;	/* failed, or not VALID */
	int64_t		 max_ms;	/* the slowest call */
	unsigned long	 over_default;	/* calls over APIKEY_DEFAULT_TIMEOUT_MS */
	char		 first_error[256];
};

struct itl_prober *itl_prober_start(const char *token, int timeout_ms);
/* Ends the thread, closes its client and frees p; *st gets the record. */
void	itl_prober_stop(struct itl_prober *p, struct itl_probe_stats *st);
/*
 * itl_prober_stop(), then asserts that calls were made, that none failed
 * and that each answered within bound_ms; what names the load, for the
 * messages and the log line.
 */
void	itl_prober_check(struct itl_prober *p, int64_t bound_ms,
	    const char *what);

/* --- reports and the log -------------------------------------------------- */

/* Lines of a tests/hostile or worker report that are "C what" for some
 * connection number C. */
size_t	itl_count(const char *report, const char *what);
/*
 * Asserts that report is exactly n_open "C open" lines and n_busy
 * "C ebusy WHY" lines, the refused ones last (connections are made one
 * after another, so once one is refused, so is every later one).
 */
void	itl_expect_report(const char *who, const char *report,
	    size_t n_open, size_t n_busy, const char *why);
/*
 * Lines of the daemon's log holding needle. Unlike it_log(), keeps no
 * copy: a loaded daemon's log runs to megabytes.
 */
size_t	itl_log_count(const char *needle);
/* Waits up to ms until the log has at least n lines holding needle. */
void	itl_log_wait_count(const char *needle, size_t n, int ms);

/* --- raw frames ----------------------------------------------------------- */

/*
 * A request frame by hand, into f: the length field as given (len_field;
 * ITL_LEN_AUTO for the true one), version, opcode, flags 0, id, then n
 * bytes of body. Returns the bytes written (PROTO_HDR_LEN + n).
 */
#define ITL_LEN_AUTO	0xffffffffffULL
size_t	itl_frame(uint8_t *f, unsigned long long len_field,
	    uint8_t version, uint8_t opcode, uint32_t id, const void *body,
	    size_t n);

/* A reply frame as read: its header, and the head of its body. */
struct itl_reply {
	uint8_t		 version;
	uint8_t		 opcode;
	uint16_t	 flags;
	uint32_t	 id;
	uint32_t	 status;
	char		 message[600];
};

/*
 * Reads the next frame from fd within ms. Returns 0 with *r filled, 1 at
 * end of file before a byte of it, -1 when ms passed first; fails the
 * test on a frame that is not a reply.
 */
int	itl_read_reply(int fd, struct itl_reply *r, int ms);
/* Whether the peer closed fd (end of file, nothing else) within ms. */
int	itl_closed(int fd, int ms);

/* --- workers -------------------------------------------------------------- */

/*
 * Workers are this test binary run again ("BINARY --itl-worker MODE
 * ARGS..."), as a fixture user through setpriv like tests/hostile, with
 * it_prog_*() for their output and input. They use libapikey and raw
 * sockets only, never Criterion, and say what they did a line at a time:
 *
 *   slow PATH NDRIP NSTALL PACE_MS ROUNDS
 *       NDRIP + NSTALL connections to the socket PATH, made one after
 *       another. The first NDRIP each send ROUNDS PINGs one byte at a
 *       time, a byte on every one of them each PACE_MS, reading each
 *       answer; the other NSTALL send the first 5 bytes of a PING right
 *       after connecting, and nothing more. Then, one line per
 *       connection C: "C dripped ROUNDS" (every PING answered, in
 *       order) or "C drip-failed WHY" for the first; for the others
 *       "C closed MS" (closed by the daemon, without a byte, MS after
 *       its 5 bytes went), "C ebusy MESSAGE" (an EBUSY refusal) or
 *       "C open" (still open after 10 s). Then "ready". Command "ping":
 *       a PING on every dripping connection still open, "C pong" or
 *       "C eof"; then "done".
 *   flood PATH N
 *       N connections, each sent a PING at once without waiting for the
 *       answer, then "ready". Command "count MS": waits up to MS for
 *       every answer, then "answered A refused R closed E waiting W";
 *       command "close" closes them all. Each is followed by "done".
 *   writes SOCKDIR N ACKFILE
 *       N management writes on admin.sock as the caller, one after
 *       another: key creates, and every fourth a revoke of the oldest
 *       key it made and did not revoke yet. Each goes into ACKFILE
 *       (see below) before it is asked for and once it is answered.
 *       Then "wrote N", or "stopped I ERRCODE MESSAGE" when write I
 *       failed (it makes no more), and "done".
 *   soak SOCKDIR SECONDS ACKFILE SEED KIND [OWNER]
 *       For SECONDS, a random mix (from SEED) of key creates (some
 *       expiring after a second), renames, rotations without grace,
 *       revokes, purges of expired keys and verifies of its live keys
 *       (each must be VALID), on keys of the caller (KIND self), of the
 *       user OWNER (user) or of the tenant OWNER (tenant); at most 32
 *       live keys at a time. Each change goes into ACKFILE once
 *       answered. Then "ops OPS verifies VERIFIES" and "done"; a
 *       failure ends it with "error WHAT" and exit status 1.
 *
 * Every worker waits for the end of its input before it exits (0).
 */
#define ITL_WORKER_ARG	"--itl-worker"

struct it_prog *itl_worker(const char *as, const char *mode, ...)
	    IT_SENTINEL;

/* --- acknowledged writes -------------------------------------------------- */

/*
 * ACKFILE, one line a change, each written with one write(2) before the
 * worker makes its next call:
 *   "? c" / "? r ID"   a create / a revoke of ID about to be asked
 *   "c ID TOKEN"       key ID created (soak: "e ID TOKEN", expiring)
 *   "u ID NAME"        renamed
 *   "o ID TOKEN"       rotated: TOKEN is its secret now, the old one is
 *                      void
 *   "r ID"             revoked
 *   "p N"              purge-expired removed N keys
 * itl_ack_file() makes an empty one in the test's directory that user
 * may write; returns its path.
 */
const char *itl_ack_file(const char *name, const char *user);

/*
 * Skips the test, saying why, where the machine cannot do what it needs
 * (root, a mount namespace, descriptors); under CI (CI set, as .ci/run
 * runs) it fails instead, so that a green CI never hides an untested
 * item.
 */
void	itl_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* What the acknowledged lines of some ACKFILEs say about each key. */
struct itl_key {
	char		 id[APIKEY_KEY_ID_SIZE];
	char		*token;		/* its secret now */
	char		**old;		/* secrets rotated away */
	size_t		 nold;
	char		*name;		/* renamed to; NULL: never */
	int		 revoked;
	int		 expiring;
	int		 pending_revoke;	/* "? r" without its "r" */
	const char	*file;		/* the ACKFILE it came from */
};

struct itl_ledger {
	struct itl_key	*keys;
	size_t		 nkeys;
	size_t		 nlines;	/* acknowledged lines read */
	size_t		 pending_creates; /* "? c" never answered */
};

/* Reads ACKFILE path into l (zeroed first time); keys sorted by id. */
void	itl_ledger_read(struct itl_ledger *l, const char *path);
/* The key of id, or NULL. */
const struct itl_key *itl_ledger_find(const struct itl_ledger *l,
	    const char *id);
void	itl_ledger_free(struct itl_ledger *l);

/* --- crashes during writes ------------------------------------------------ */

/* Bytes a write adds to a "writes" ledger, on average: three creates
 * ("? c" then "c ID TOKEN", 83 bytes) for each revoke ("? r ID" then
 * "r ID", 32). */
#define ITL_LEDGER_BYTES_PER_WRITE	70

/*
 * Runs a "writes" worker of per writes for each of the n users (n at
 * most 8), each with the ledger "ack-TAG-USER" in the test's directory
 * (its path into acks[i]), and kills the daemon with SIGKILL once the
 * ledgers hold at least at bytes together; then waits for every worker
 * to report and end. Asserts that each stopped with EUNAVAIL or wrote
 * all it had to, and that at least one was stopped by the kill.
 */
void	itl_writes_until_kill(const char *const *users, size_t n, long per,
	    long long at, const char *tag, const char **acks);
/*
 * Checks the running daemon's store against the ledgers acks[i] that
 * users[i] wrote (users may repeat): every key whose create was
 * acknowledged and whose revoke was not even asked for is listed among
 * its owner's keys and its token verifies VALID; every key whose revoke
 * was acknowledged is not listed and verifies NOT_FOUND; a revoke that
 * was on its way may have happened or not. The owners' keys that no
 * ledger names are no more than the creates that were on their way.
 * when says at which point, for the messages.
 */
void	itl_check_writes(const char *const *users, const char *const *acks,
	    size_t n, const char *when);
/* The code of a verify of token by root (it_vclient()), without a
 * copy kept by the harness: for checks of thousands of keys. */
enum apikey_code itl_code(const char *token);

/* --- the store on disk ---------------------------------------------------- */

/*
 * mdb_stat -a and mdb_dump -a (lmdb-utils) on the LMDB environment in
 * dir: both must exit 0, the dump having read every record of every
 * database. Safe beside a running daemon (they only read).
 */
void	itl_mdb_check(const char *dir);

/* --- a small filesystem --------------------------------------------------- */

/*
 * Mounts a tmpfs of size (mount(8)'s "4m") with mode 0755 at path, in a
 * mount namespace of this test process, so it goes away with the test
 * and the daemon whatever happens (the daemon, started afterwards, sees
 * it). Skips the test, saying why, when not root or when the mount
 * fails.
 */
void	itl_tmpfs(const char *path, const char *size);
/* Unmounts what itl_tmpfs() mounted, if anything; for .fini. */
void	itl_tmpfs_end(void);
/*
 * Fills the filesystem of path with the file path, written until the
 * disk is full; returns the bytes written.
 */
size_t	itl_fill(const char *path);

#endif
