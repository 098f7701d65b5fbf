/*
 * load.c - apikey-bench's verify clients. A worker thread drives its
 * connections through libapikey exactly as a service would:
 *
 *   one connection, depth 1   apikey_verify(), one verify per round trip;
 *   anything else             apikey_verify_send() until depth requests
 *                             are in flight on each connection, and
 *                             apikey_verify_recv() for the answers: in
 *                             the library's own wait for one connection,
 *                             on poll() over apikey_fd()/apikey_events()
 *                             for several, as an event loop would.
 *
 * Every answer is checked, in the warm-up and after the stop too: one
 * that is not the expected code (VALID, or NOT_FOUND for wrong secrets),
 * a VALID credit key without credits, or an error of the library fails
 * the scenario. Only answers that arrive in the measured window count.
 *
 * Each connection walks the key set from its own starting point, so
 * every key is asked for within n requests of a connection; touch-all
 * takes the next key from a shared counter instead, each key once.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* poll() wakes at least this often, so that the library's timeout is
 * noticed (apikey.h: call recv at least that often). */
#define POLL_MS		100

/* Send times of the requests in flight on one connection, by id. */
struct flight {
	uint32_t	 id;		/* 0: free */
	size_t		 key;		/* index of its token */
	int64_t		 t;
};

struct conn {
	struct apikey_client *c;
	size_t		 cursor;	/* next key */
	unsigned	 inflight;
	int		 ready;		/* polled ready, or sent on: drain */
	struct flight	*tab;		/* open addressing, tabmask + 1 */
	uint32_t	 tabmask;
};

static uint32_t
slot_of(const struct conn *cn, uint32_t id)
{
	return (id * 2654435761u) & cn->tabmask;
}

static void
flight_put(struct conn *cn, uint32_t id, size_t key, int64_t t)
{
	uint32_t	 i = slot_of(cn, id);

	while (cn->tab[i].id != 0)
		i = (i + 1) & cn->tabmask;
	cn->tab[i].id = id;
	cn->tab[i].key = key;
	cn->tab[i].t = t;
}

/* Removes id into *out; -1 when no request in flight has it. */
static int
flight_take(struct conn *cn, uint32_t id, struct flight *out)
{
	uint32_t	 i = slot_of(cn, id), j, k;

	while (cn->tab[i].id != id) {
		if (cn->tab[i].id == 0)
			return -1;
		i = (i + 1) & cn->tabmask;
	}
	*out = cn->tab[i];
	/* Backward-shift deletion keeps every probe chain unbroken. */
	j = i;
	for (;;) {
		cn->tab[i].id = 0;
		for (;;) {
			j = (j + 1) & cn->tabmask;
			if (cn->tab[j].id == 0)
				return 0;
			k = slot_of(cn, cn->tab[j].id);
			/* Stays when its home k lies cyclically in (i, j]. */
			if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
				continue;
			break;
		}
		cn->tab[i] = cn->tab[j];
		i = j;
	}
}

/* The index of the key to send next, or (size_t)-1 when none is left. */
static size_t
next_key(struct worker *w, struct conn *cn)
{
	size_t	 i;

	if (w->once) {
		i = atomic_fetch_add_explicit(&w->run->next, 1,
		    memory_order_relaxed);
		return i < w->keys->n ? i : (size_t)-1;
	}
	i = cn->cursor;
	cn->cursor = cn->cursor + 1 == w->keys->n ? 0 : cn->cursor + 1;
	return i;
}

/* Checks one answer to the token at key; 0, or -1 after run_fail(). */
static int
check(struct worker *w, const char *token, const struct apikey_result *res)
{
	enum apikey_code code = apikey_result_code(res);
	char		 id[APIKEY_KEY_ID_SIZE];

	if (code == w->want &&
	    (!w->want_credits || apikey_result_has_credits(res)))
		return 0;
	if (apikey_token_key_id(token, id, sizeof(id)) != 0)
		snprintf(id, sizeof(id), "?");
	if (code == w->want)
		run_fail(w->run, "%s: key %s answered %s without credits, "
		    "expected a credit-consuming key", w->run->name, id,
		    apikey_code_name(code));
	else
		run_fail(w->run, "%s: key %s answered %s%s%s%s, expected %s",
		    w->run->name, id, apikey_code_name(code),
		    *apikey_result_reason(res) != '\0' ? " (" : "",
		    apikey_result_reason(res),
		    *apikey_result_reason(res) != '\0' ? ")" : "",
		    apikey_code_name(w->want));
	return -1;
}

static void
lib_fail(struct worker *w, const char *call, struct apikey_client *c, int rc)
{
	const char	*why = apikey_last_error(c);

	run_fail(w->run, "%s: %s: %s%s%s%s", w->run->name, call,
	    apikey_strerror(rc), *why != '\0' ? " (" : "", why,
	    *why != '\0' ? ")" : "");
}

/* One connection, depth 1: the plain call. */
static void
drive_call(struct worker *w)
{
	struct apikey_client	*c = w->clients[0];
	struct apikey_result	*res;
	struct conn		 cn = { .cursor = w->first * w->keys->n /
				    w->total };
	const char		*token;
	size_t			 k;
	int64_t			 t0;
	int			 rc;

	while (run_phase(w->run) != PH_STOP) {
		if ((k = next_key(w, &cn)) == (size_t)-1)
			break;
		token = keys_get(w->keys, k);
		t0 = now_ns();
		if ((rc = apikey_verify(c, token, NULL, &res)) != 0) {
			lib_fail(w, "apikey_verify", c, rc);
			return;
		}
		rc = check(w, token, res);
		apikey_result_free(res);
		if (rc != 0)
			return;
		worker_record(w, t0);
	}
}

/* Sends until depth requests are in flight on cn (none after the stop,
 * or once touch-all has sent every key). -1 after run_fail(). */
static int
fill(struct worker *w, struct conn *cn, int *exhausted)
{
	size_t		 k;
	uint32_t	 id;
	int		 rc;

	while (cn->inflight < w->depth && !*exhausted &&
	    run_phase(w->run) != PH_STOP) {
		if ((k = next_key(w, cn)) == (size_t)-1) {
			*exhausted = 1;
			break;
		}
		rc = apikey_verify_send(cn->c, keys_get(w->keys, k), NULL,
		    &id);
		if (rc != 0) {
			lib_fail(w, "apikey_verify_send", cn->c, rc);
			return -1;
		}
		flight_put(cn, id, k, now_ns());
		cn->inflight++;
		cn->ready = 1;
	}
	return 0;
}

/*
 * Receives the answers that are there (waiting up to wait_ms for the
 * first); returns how many, or -1 after run_fail().
 */
static int
drain(struct worker *w, struct conn *cn, int wait_ms)
{
	struct apikey_result	*res;
	struct flight		 f;
	uint32_t		 id;
	int			 rc, got = 0;

	/* With nothing in flight no answer can come: the library would
	 * still try a read to say so. */
	while (cn->inflight > 0) {
		rc = apikey_verify_recv(cn->c, got == 0 ? wait_ms : 0, &id,
		    &res);
		if (rc == APIKEY_EAGAIN)
			return got;
		if (rc != 0) {
			lib_fail(w, "apikey_verify_recv", cn->c, rc);
			return -1;
		}
		if (flight_take(cn, id, &f) != 0) {
			apikey_result_free(res);
			run_fail(w->run, "%s: an answer with id %u that no "
			    "request in flight has", w->run->name, id);
			return -1;
		}
		cn->inflight--;
		rc = check(w, keys_get(w->keys, f.key), res);
		apikey_result_free(res);
		if (rc != 0)
			return -1;
		worker_record(w, f.t);
		got++;
	}
	return got;
}

/* Several connections, or depth above 1: send and receive. */
static void
drive_async(struct worker *w)
{
	struct conn	*cns;
	struct pollfd	*pfd;
	size_t		 i;
	uint32_t	 tabsize = 4;
	unsigned	 inflight;
	int		 exhausted = 0, got, n, ev;

	cns = calloc(w->nconns, sizeof(*cns));
	pfd = calloc(w->nconns, sizeof(*pfd));
	if (cns == NULL || pfd == NULL) {
		run_fail(w->run, "%s: out of memory", w->run->name);
		goto out;
	}
	/* At most half full, so probe chains stay short. */
	while (tabsize < 2 * w->depth)
		tabsize <<= 1;
	for (i = 0; i < w->nconns; i++) {
		cns[i].c = w->clients[i];
		cns[i].cursor = (w->first + i) * w->keys->n / w->total;
		cns[i].tabmask = tabsize - 1;
		if ((cns[i].tab = calloc(tabsize, sizeof(*cns[i].tab))) ==
		    NULL) {
			run_fail(w->run, "%s: out of memory", w->run->name);
			goto out;
		}
	}
	for (;;) {
		got = 0;
		inflight = 0;
		for (i = 0; i < w->nconns; i++)
			if (fill(w, &cns[i], &exhausted) != 0)
				goto out;
		/* apikey.h: receive what is there, on a socket found ready
		 * and after sending, before waiting. */
		for (i = 0; i < w->nconns; i++) {
			if (cns[i].ready) {
				cns[i].ready = 0;
				if ((n = drain(w, &cns[i], 0)) < 0)
					goto out;
				got += n;
			}
			inflight += cns[i].inflight;
		}
		if (inflight == 0 && (exhausted ||
		    run_phase(w->run) == PH_STOP))
			break;
		if (got > 0)
			continue;
		if (w->nconns == 1) {
			/* The library waits on its own socket. */
			if (drain(w, &cns[0], POLL_MS) < 0)
				goto out;
			continue;
		}
		for (i = 0; i < w->nconns; i++) {
			pfd[i].fd = apikey_fd(cns[i].c);
			ev = apikey_events(cns[i].c);
			pfd[i].events = (short)((ev & APIKEY_WANT_READ ?
			    POLLIN : 0) |
			    (ev & APIKEY_WANT_WRITE ? POLLOUT : 0));
			pfd[i].revents = 0;
		}
		if ((n = poll(pfd, (nfds_t)w->nconns, POLL_MS)) == -1 &&
		    errno != EINTR) {
			run_fail(w->run, "%s: poll: %s", w->run->name,
			    strerror(errno));
			goto out;
		}
		/* A timeout drains them all: recv notices a stalled daemon. */
		for (i = 0; i < w->nconns; i++)
			if (pfd[i].revents != 0 || n == 0)
				cns[i].ready = 1;
	}
 out:
	for (i = 0; cns != NULL && i < w->nconns; i++)
		free(cns[i].tab);
	free(cns);
	free(pfd);
}

void *
load_worker(void *arg)
{
	struct worker	*w = arg;

	if (w->nconns == 1 && w->depth == 1 && !w->once)
		drive_call(w);
	else
		drive_async(w);
	return NULL;
}
