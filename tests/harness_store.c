/*
 * harness_store.c - see harness_store.h.
 *
 * mdb_dump reads the store beside the running daemon, as any LMDB reader
 * may: it sees the last committed transaction and writes nothing but its
 * slot in lock.mdb's reader table, which the snapshot leaves out.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "harness_store.h"

static const char *
dump(void)
{
	const char	*argv[] = { "mdb_dump", "-a", "-p", it_state_dir(),
	    NULL };
	struct it_out	 o[2] = { { .fd = -1 }, { .fd = -1 } };
	int		 outp[2], errp[2], st;
	int64_t		 end = it_now_ms() + IT_DEADLINE_MS;
	pid_t		 pid;

	cr_assert(pipe2(outp, O_CLOEXEC) == 0 && pipe2(errp, O_CLOEXEC) == 0,
	    "pipe: %s", strerror(errno));
	pid = it_proc_spawn(argv, environ, (const int[3]){ -1, outp[1],
	    errp[1] }, NULL);
	close(outp[1]);
	close(errp[1]);
	o[0].fd = outp[0];
	o[1].fd = errp[0];
	if (it_proc_read(o, 2, end, NULL, NULL) == -1) {
		it_proc_kill(pid);
		cr_assert_fail("mdb_dump did not finish within %d ms",
		    IT_DEADLINE_MS);
	}
	st = it_proc_wait(pid, IT_DEADLINE_MS);
	if (st == -1)
		it_proc_kill(pid);
	/* 127: not installed; scripts/deps.sh test installs lmdb-utils. */
	cr_assert(st == 0 && o[1].buf == NULL, "mdb_dump -a -p %s: exit %d: "
	    "%s", it_state_dir(), st, o[1].buf != NULL ? o[1].buf : "");
	free(o[1].buf);
	cr_assert_not_null(o[0].buf, "mdb_dump printed nothing");
	return it_keep(o[0].buf);
}

void
its_snapshot(struct its_store *s)
{
	s->dump = dump();
	s->data = it_read_file(it_printf("%s/data.mdb", it_state_dir()),
	    &s->datalen);
}

/* The first line where a and b differ, with the database it is in. */
static const char *
first_difference(const char *a, const char *b)
{
	const char	*db = "(header)", *la = a, *lb = b, *ea, *eb;
	size_t		 line = 1;

	for (;;) {
		ea = strchrnul(la, '\n');
		eb = strchrnul(lb, '\n');
		if (ea - la != eb - lb || memcmp(la, lb,
		    (size_t)(ea - la)) != 0 || *ea == '\0' || *eb == '\0')
			break;
		if (strncmp(la, "database=", 9) == 0)
			db = it_printf("%.*s", (int)(ea - la - 9), la + 9);
		la = ea + 1;
		lb = eb + 1;
		line++;
	}
	/* Records hold keyed hashes: quote the start of a line only. */
	return it_printf("database %s, line %zu: was \"%.60s\", is \"%.60s\"",
	    db, line, it_printf("%.*s", (int)(ea - la), la),
	    it_printf("%.*s", (int)(eb - lb), lb));
}

void
its_assert_unchanged(const struct its_store *s, const char *what)
{
	struct its_store now;

	its_snapshot(&now);
	cr_assert(strcmp(s->dump, now.dump) == 0, "%s changed the store: %s",
	    what, first_difference(s->dump, now.dump));
	cr_assert(s->datalen == now.datalen && memcmp(s->data, now.data,
	    s->datalen) == 0, "%s wrote to the store (data.mdb changed, "
	    "%zu bytes then %zu), though every record reads the same", what,
	    s->datalen, now.datalen);
}
