/*
 * report.c - what apikey-bench prints: one row per scenario as it ends
 * (so a long run shows progress), then the PAM difference, the echo
 * ratio, the memory after touch-all, and the targets that one
 * run of this program can check. The table is plain columns separated by
 * spaces, one scenario a row, for people and for bench/peers.sh's awk.
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"

#define MIB		(1024.0 * 1024.0)

void
report_header(void)
{
	printf("\nper_s: answers (pam: logins) per second in the measured "
	    "window; p50/p99/p99.9:\nlatency of one request (pam: one "
	    "login) in microseconds; srv_cpu_s: CPU seconds\nof apikeyd "
	    "(echo rows: of the echo server) in the window, srv_us_op the "
	    "same per\nanswer in microseconds; cli_cpu_s, cli_us_op: this "
	    "program's (- for pam: its\nchild's is not counted); rss/hwm: "
	    "the server's VmRSS and VmHWM after the\nwindow, MiB.\n\n");
	printf("%-13s %5s %5s %9s %8s %8s %9s %9s %9s %9s %9s %9s %8s %8s\n",
	    "scenario", "conns", "depth", "per_s", "p50_us", "p99_us",
	    "p99.9_us", "count", "srv_cpu_s", "srv_us_op", "cli_cpu_s",
	    "cli_us_op", "rss_MiB", "hwm_MiB");
	fflush(stdout);
}

static void
num(double v, int width, int prec)
{
	if (v < 0)
		printf(" %*s", width, "-");
	else
		printf(" %*.*f", width, prec, v);
}

void
report_row(const struct result *r)
{
	printf("%-13s %5u %5u", r->sc->name, r->sc->conns, r->sc->depth);
	num(r->secs > 0 ? (double)r->count / r->secs : 0, 9, 0);
	num(r->p50, 8, 1);
	num(r->p99, 8, 1);
	num(r->p999, 9, 1);
	printf(" %9llu", (unsigned long long)r->count);
	num(r->server_cpu, 9, 2);
	num(r->server_cpu < 0 || r->count == 0 ? -1 :
	    r->server_cpu * 1e6 / (double)r->count, 9, 2);
	num(r->client_cpu, 9, 2);
	num(r->client_cpu < 0 || r->count == 0 ? -1 :
	    r->client_cpu * 1e6 / (double)r->count, 9, 2);
	num(r->rss_kb < 0 ? -1 : r->rss_kb / 1024.0, 8, 1);
	num(r->hwm_kb < 0 ? -1 : r->hwm_kb / 1024.0, 8, 1);
	printf("\n");
	fflush(stdout);
}

static const struct result *
find(const struct result *res, size_t n, const char *name)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (res[i].ran && strcmp(res[i].sc->name, name) == 0 &&
		    res[i].count > 0)
			return &res[i];
	return NULL;
}

static double
rate(const struct result *r)
{
	return r->secs > 0 ? (double)r->count / r->secs : 0;
}

static void
target(const char *what, const char *measured, int met)
{
	printf("  %-46s %-26s %s\n", what, measured, met ? "met" : "MISSED");
}

void
report_summary(const struct bench *b, const struct result *res, size_t n,
    uint32_t keys, double seed_secs)
{
	const struct result	*pa = find(res, n, "pam-apikey");
	const struct result	*pp = find(res, n, "pam-permit");
	const struct result	*v1 = find(res, n, "valid-1x1");
	const struct result	*e1 = find(res, n, "echo-1x1");
	const struct result	*cr = find(res, n, "credit-16x16");
	const struct result	*ta = find(res, n, "touch-all");
	double			 a = 0, p = 0, over = 0;
	char			 m[64];

	printf("\n");
	if (pa != NULL && pp != NULL) {
		a = pa->secs * 1e6 / (double)pa->count;
		p = pp->secs * 1e6 / (double)pp->count;
		printf("pam: one login (auth + account) takes %.0f us with "
		    "pam_apikey (2 verifies), %.0f us\nwith pam_permit: "
		    "pam_apikey costs %.0f us more; its rate is %.2fx "
		    "pam_permit's.\n", a, p, a - p, rate(pa) / rate(pp));
	}
	if (b->req_len > 0)
		printf("echo frames: %zu bytes a request, %zu a reply, as a "
		    "verify of a valid key\nmeasured through a relay "
		    "socket.\n", b->req_len, b->rep_len);
	if (v1 != NULL && e1 != NULL)
		printf("1 connection, p50: verify %.1f us, echo %.1f us: "
		    "%.2fx the echo.\n", v1->p50, e1->p50, v1->p50 / e1->p50);
	if (ta != NULL && ta->rss_kb >= 0 && b->store_size > 0) {
		over = ta->rss_kb / 1024.0 - (double)b->store_size / MIB;
		printf("after verifying each of its %zu keys once: apikeyd "
		    "RSS %.1f MiB, key store\ndata file %.1f MiB: RSS is the "
		    "data file %+.1f MiB.\n", b->valid.n, ta->rss_kb / 1024.0,
		    (double)b->store_size / MIB, over);
	}
	printf("\nissue 11's targets that this run can check (one run, on "
	    "a shared machine):\n");
	if (v1 != NULL && e1 != NULL) {
		snprintf(m, sizeof(m), "%.2fx", v1->p50 / e1->p50);
		target("single-connection p50 <= 1.3x the echo's", m,
		    v1->p50 <= 1.3 * e1->p50);
	}
	if (cr != NULL) {
		snprintf(m, sizeof(m), "%.0f/s", rate(cr));
		target("credit-consuming, durable, 16x16 >= 20k/s", m,
		    rate(cr) >= 20000);
	}
	if (pa != NULL && pp != NULL) {
		snprintf(m, sizeof(m), "%.2fx", rate(pa) / rate(pp));
		target("pam_apikey loop >= 0.9x pam_permit's", m,
		    rate(pa) >= 0.9 * rate(pp));
	}
	if (ta != NULL && ta->rss_kb >= 0 && b->store_size > 0) {
		snprintf(m, sizeof(m), "%+.1f MiB at %zu keys", over,
		    b->valid.n);
		target(b->valid.n >= 1000000 ?
		    "RSS after touching 1M keys <= data + 32 MiB" :
		    "RSS after touching all keys <= data + 32 MiB", m,
		    over <= 32);
	}
	if (keys >= 1000000) {
		snprintf(m, sizeof(m), "%.1f s for %u", seed_secs, keys);
		target("seeding 1M keys <= 60 s", m, seed_secs <= 60);
	}
	printf("  (the Redis and PostgreSQL ratios: bench/peers.sh)\n");
	fflush(stdout);
}
