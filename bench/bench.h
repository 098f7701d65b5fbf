/*
 * bench.h - the parts of apikey-bench, the .c files of bench/: a load
 * generator for apikeyd built on libapikey's public API only, as any
 * service would be.
 *
 *   main.c      options, seeding, the order of the run, exit status
 *   scenario.c  the scenario table; warm-up, measured window, samples
 *   report.c    the table and the lines after it
 *   keys.c      the tokens, in memory only, and wrong-secret tokens
 *   load.c      client threads driving verifies through libapikey
 *   echo.c      the echo reference: a no-work server and its client
 *   frames.c    the sizes of a verify request and reply, measured
 *   pam.c       the PAM loop, in a child process under pam_wrapper
 *   hist.c      latency histogram
 *   proc.c      a process's CPU time and memory from /proc
 *
 * The program is short-lived and single-purpose: functions that cannot go
 * on report through struct run (a scenario's first failure) or end the
 * program with a message (set-up failures); nothing is retried.
 */
#ifndef APIKEY_BENCH_H
#define APIKEY_BENCH_H

#include <sys/types.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <apikey.h>

/* Exit statuses. */
#define BENCH_EXIT_WRONG	1	/* a wrong answer or a library error */
#define BENCH_EXIT_USAGE	2
#define BENCH_EXIT_SETUP	3	/* daemon unreachable, seeding failed */

/* --- hist.c: latency histogram ------------------------------------------- */

/*
 * Log-linear buckets over nanoseconds: exact below 2 * HIST_SUB, then
 * HIST_SUB buckets per power of two (under 1.6 % error) up to 2^40 ns.
 * A fixed 18 KiB per histogram, whatever the number of samples.
 */
#define HIST_SUB_BITS	6
#define HIST_SUB	(1u << HIST_SUB_BITS)
#define HIST_MAX_LOG2	40
#define HIST_BUCKETS	((HIST_MAX_LOG2 - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	uint64_t	 n;
	uint64_t	 b[HIST_BUCKETS];
};

void	hist_add(struct hist *, uint64_t ns);
void	hist_merge(struct hist *dst, const struct hist *src);
/* The q-quantile (0 < q <= 1) in microseconds; 0 when empty. */
double	hist_quantile_us(const struct hist *, double q);

/* --- proc.c: another process's CPU time and memory ------------------------ */

struct proc_stat {
	double		 cpu_s;		/* utime + stime */
	long		 rss_kb;	/* VmRSS */
	long		 hwm_kb;	/* VmHWM: peak RSS since it started */
};

/* Reads /proc/PID/stat and /proc/PID/status. 0, or -1 (errno set). */
int	proc_read(pid_t pid, struct proc_stat *out);
/* This process's own CPU seconds (all threads, from getrusage). */
double	proc_self_cpu(void);
/* Now, CLOCK_MONOTONIC, in nanoseconds. */
int64_t	now_ns(void);

/* --- keys.c: tokens, in memory only --------------------------------------- */

/*
 * A set of tokens in one anonymous mapping kept out of core dumps and
 * out of forked children, and wiped by keys_free() (main.c wipes every
 * set at exit, on every path): the tokens are never printed or written
 * anywhere.
 */
struct keyset {
	char		*area;
	size_t		 n, cap, maplen;
};

#define KEY_STRIDE	(APIKEY_TOKEN_MAX + 2)

void	keys_init(struct keyset *, size_t cap);
void	keys_free(struct keyset *);
static inline const char *
keys_get(const struct keyset *k, size_t i)
{
	return k->area + i * KEY_STRIDE;
}
/*
 * Creates count keys owned by the caller through
 * apikey_key_create_many(), with credits when credits is not 0, adding
 * their tokens to k. Returns 0, or the library's error (with a message
 * in err) after adding the tokens of the keys that were made.
 */
int	keys_seed(struct apikey_client *admin, struct keyset *k,
	    uint32_t count, uint64_t credits, const char *name, char *err,
	    size_t errlen);
/*
 * Fills out with a token for each of the first n of in: the same prefix
 * and key id, a random secret and a valid checksum, so apikeyd finds the
 * key and the hash does not match (NOT_FOUND). 0, or -1 with err set.
 */
int	keys_wrong_secret(const struct keyset *in, size_t n,
	    struct keyset *out, char *err, size_t errlen);

/* --- a scenario run, shared by its threads -------------------------------- */

enum phase {
	PH_WARM,		/* answers checked, not counted */
	PH_MEASURE,		/* answers checked and counted */
	PH_STOP,		/* nothing new sent; in-flight ones checked */
};

struct run {
	const char	*name;		/* the scenario's */
	_Atomic int	 phase;
	/* touch-all: the next key to send; every key is sent once. */
	_Atomic size_t	 next;
	pthread_mutex_t	 mu;
	int		 failed;	/* under mu */
	char		 fail[512];	/* the first failure, under mu */
};

/* Records the first failure (later ones are dropped) and stops the run. */
void	run_fail(struct run *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
static inline int
run_phase(struct run *r)
{
	return atomic_load_explicit(&r->phase, memory_order_relaxed);
}

/* One client thread, for load.c and echo.c. */
struct worker {
	struct run	*run;
	pthread_t	 tid;
	size_t		 first;		/* index of its first connection */
	size_t		 nconns;	/* connections it drives */
	size_t		 total;		/* connections of the scenario */
	unsigned	 depth;		/* requests in flight per connection */
	int		 once;		/* touch-all: each key once */
	/* load.c */
	struct apikey_client **clients;	/* its own, nconns of them */
	const struct keyset *keys;
	enum apikey_code want;
	int		 want_credits;
	/* echo.c */
	int		*fds;		/* its own, nconns of them */
	size_t		 req_len, rep_len;
	/* results */
	uint64_t	 count;		/* answers counted in PH_MEASURE */
	struct hist	 hist;
};

/* Counts an answer to a request sent at t0, in the measured window. */
static inline void
worker_record(struct worker *w, int64_t t0)
{
	int64_t	 t1 = now_ns();

	if (w->once || run_phase(w->run) == PH_MEASURE) {
		w->count++;
		hist_add(&w->hist, (uint64_t)(t1 - t0));
	}
}

/* --- load.c --------------------------------------------------------------- */

/* The thread body: verifies until PH_STOP, checking every answer. */
void	*load_worker(void *);

/* --- frames.c ------------------------------------------------------------- */

/*
 * The bytes of one verify request of token and of its reply, counted
 * through a relay socket of our own in front of apikeyd's verify.sock.
 * 0, or -1 with err set.
 */
int	frames_measure(const char *sockdir, int timeout_ms, const char *token,
	    size_t *req_len, size_t *rep_len, char *err, size_t errlen);

/* --- echo.c --------------------------------------------------------------- */

struct echo_server {
	pid_t		 pid;
	char		 dir[64];
	char		 path[96];	/* fits a sockaddr_un */
};

/* Starts the no-work server in a child process. 0, or -1 with err set. */
int	echo_start(struct echo_server *, size_t req_len, size_t rep_len,
	    char *err, size_t errlen);
void	echo_stop(struct echo_server *);
/* Connects one client socket. fd, or -1 with err set. */
int	echo_connect(const struct echo_server *, char *err, size_t errlen);
void	*echo_worker(void *);

/* --- pam.c ---------------------------------------------------------------- */

struct pam_setup {
	char		 dir[64];	/* PAM_WRAPPER_SERVICE_DIR */
	char		 user[64];	/* the keys' owner, who logs in */
	const char	*exe;		/* this program, for the child */
};

/* Service names in dir. */
#define PAM_SVC_APIKEY	"apikey-bench"
#define PAM_SVC_PERMIT	"permit-bench"

/*
 * Writes the two services (pam_apikey.so at module with socket=sockdir,
 * and pam_permit.so) into a new temporary directory. 0, or -1 with err.
 */
int	pam_prepare(struct pam_setup *, const char *module,
	    const char *sockdir, char *err, size_t errlen);
void	pam_cleanup(struct pam_setup *);

/* What a PAM loop measured. */
struct pam_result {
	uint64_t	 count;
	double		 secs;
	double		 p50, p99, p999;	/* microseconds per iteration */
	struct proc_stat before, after;		/* the daemon's */
	int		 sampled;
};

/*
 * Runs the loop of service in a child process under pam_wrapper, the
 * daemon (pid) sampled at the start and the end of the measured window.
 * tokens[0..n) are handed to the child on a pipe. 0, or -1 after
 * run_fail().
 */
int	pam_run(struct run *, const struct pam_setup *, const char *service,
	    const char *const *tokens, size_t n, double warmup, double seconds,
	    pid_t daemon, struct pam_result *out);
/* main() for "apikey-bench --pam-child ...", run by pam_run(). */
int	pam_child_main(int argc, char **argv);

/* --- scenario.c: the table, and running one ------------------------------- */

enum sc_kind {
	SC_VALID,		/* VALID, keys without credits */
	SC_INVALID,		/* NOT_FOUND, wrong secrets */
	SC_CREDIT,		/* VALID, each verify consumes a credit */
	SC_ECHO,		/* the echo reference */
	SC_PAM_APIKEY,		/* the PAM loop over pam_apikey.so */
	SC_PAM_PERMIT,		/* the same loop over pam_permit.so */
	SC_TOUCH,		/* every key once, then the daemon's RSS */
};

struct scenario {
	const char	*name;
	enum sc_kind	 kind;
	unsigned	 conns, depth;
	const char	*what;		/* for --list */
};

extern const struct scenario scenarios[];
extern const size_t nscenarios;

/* What a scenario measured. */
struct result {
	const struct scenario *sc;
	int		 ran;
	uint64_t	 count;		/* answers (logins) counted */
	double		 secs;		/* the measured window */
	double		 p50, p99, p999;	/* microseconds */
	double		 server_cpu;	/* apikeyd's (the echo's) CPU s */
	double		 client_cpu;	/* the bench's, < 0: not measured */
	long		 rss_kb, hwm_kb;	/* the server's, after */
};

/* The run's settings and what main() set up for the scenarios. */
struct bench {
	const char	*sockdir;
	int		 timeout_ms;
	unsigned	 threads;
	double		 warmup, seconds;
	int		 check_fail_test;
	const char	*pam_module;
	char		 exe[4096];	/* this program */

	struct apikey_client *admin;
	pid_t		 daemon;
	struct keyset	 valid, credit, invalid;
	size_t		 req_len, rep_len;	/* frames.c, for the echo */
	struct echo_server echo;
	struct pam_setup pam;
	int		 pam_ready;
	int		 disabled_one;	/* --check-fail-test did its part */
	uint64_t	 store_size;	/* after touch-all, 0: unknown */
};

/*
 * Runs sc, filling *res. 0; -1 when an answer was wrong or a call failed,
 * the reason printed on stderr; exits on a set-up failure.
 */
int	scenario_run(struct bench *, const struct scenario *, struct result *);

/* --- report.c ------------------------------------------------------------- */

void	report_header(void);
void	report_row(const struct result *);
void	report_summary(const struct bench *, const struct result *, size_t n,
	    uint32_t keys, double seed_secs);

#endif
