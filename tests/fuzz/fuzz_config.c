/*
 * fuzz_config.c - libFuzzer target: the config-file parser
 * (daemon/config.c), fed the input as the whole content of apikeyd.conf.
 *
 * config_load takes a path, so the input goes into a memfd made once,
 * and the parser opens it by its /proc/self/fd name, getting an offset
 * of its own. After a load that succeeds, config_finish runs as apikeyd
 * runs it. Checks: an error message is a terminated string that names
 * the file; and a config the parser accepted keeps the bounds its
 * options promise (apikeyd.conf(5)), its strings terminated, so what the
 * daemon then trusts is true.
 */
#include <sys/mman.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../daemon/config.h"
#include "fuzz.h"

static int	 fd = -1;
static char	 path[64];

static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_config: %s\n", what);
	abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if ((fd = memfd_create("apikeyd.conf", MFD_CLOEXEC)) == -1)
		fail("memfd_create failed");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return 0;
}

static void
check(const struct config *c)
{
	if (strnlen(c->state_dir, sizeof(c->state_dir)) ==
	    sizeof(c->state_dir) || c->state_dir[0] != '/' ||
	    strnlen(c->socket_dir, sizeof(c->socket_dir)) ==
	    sizeof(c->socket_dir) || c->socket_dir[0] != '/')
		fail("a directory is not a terminated absolute path");
	if (strnlen(c->admin_group, sizeof(c->admin_group)) ==
	    sizeof(c->admin_group) ||
	    strnlen(c->service_users, sizeof(c->service_users)) ==
	    sizeof(c->service_users))
		fail("a name is not terminated");
	if (c->map_size < ((size_t)1 << 20) || c->map_reserve_pct < 1 ||
	    c->map_reserve_pct > 50)
		fail("map_size or map_reserve out of bounds");
	if (c->max_connections < 1 || c->max_connections_per_uid < 1 ||
	    c->reserved_connections >= c->max_connections)
		fail("connection counts out of bounds");
	if (c->rate_windows < 16 || c->throttle_sources < 16)
		fail("table sizes out of bounds");
	if (c->throttle_window_ms < 1 || c->throttle_backoff_ms < 1 ||
	    c->usage_flush_ms < 1 || c->read_timeout_ms < 1 ||
	    c->maintenance_ms < 1 || c->log_window_ms < 1)
		fail("a duration is zero");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	 c;
	char		 err[512];

	if (ftruncate(fd, 0) != 0 ||
	    (size > 0 && pwrite(fd, data, size, 0) != (ssize_t)size))
		fail("cannot write the memfd");
	config_defaults(&c);
	memset(err, 0, sizeof(err));
	if (config_load(&c, path, 1, err, sizeof(err)) != 0 ||
	    config_finish(&c, err, sizeof(err)) != 0) {
		if (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0')
			fail("an error without a message");
		return 0;
	}
	check(&c);
	return 0;
}
