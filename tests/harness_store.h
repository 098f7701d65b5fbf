/*
 * harness_store.h - what the daemon's key store holds, for integration
 * tests that assert a request changed nothing (tests/it_refusals.c,
 * tests/it_verify_socket.c).
 *
 * A snapshot takes the store two ways while the daemon runs. The content
 * is mdb_dump -a -p of every named database (lmdb-utils): canonical, one
 * record a line, so a difference names the database and the record. The
 * file is data.mdb byte for byte: any committed write transaction changes
 * at least a meta page, so equal bytes mean the daemon wrote nothing at
 * all, not merely nothing visible. Tests that take snapshots turn off
 * what writes on its own (usage_flush_interval and maintenance_interval
 * set long). Strings are harness-owned, freed by it_teardown(); the
 * functions assert instead of returning errors.
 */
#ifndef APIKEY_TEST_HARNESS_STORE_H
#define APIKEY_TEST_HARNESS_STORE_H

#include <stddef.h>

/* Config lines that keep the daemon from writing on its own during a
 * test: no use-count flush, no maintenance run (purge, audit pruning). */
#define ITS_QUIET_CONF	"usage_flush_interval = 24h\n" \
			"maintenance_interval = 24h\n"

struct its_store {
	const char	*dump;	/* mdb_dump -a -p, harness-owned */
	const char	*data;	/* data.mdb, harness-owned */
	size_t		 datalen;
};

/* The store in it_state_dir() as it is now. */
void	its_snapshot(struct its_store *);
/*
 * Asserts that the store is as in s: same content, else the failure
 * names the first database and line that differ; same data.mdb bytes,
 * else it says the daemon committed a write. what names the step that
 * should have changed nothing.
 */
void	its_assert_unchanged(const struct its_store *s, const char *what);

#endif
