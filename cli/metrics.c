/*
 * metrics.c - the Prometheus text exposition format of apikeyctl metrics.
 *
 * The families are a fixed table, printed in one pass; a scrape is a few
 * dozen lines. Label values come from the daemon, so they are escaped as
 * the format asks (backslash, double quote, newline), and any other byte
 * that is not printable UTF-8 is written as the text \xNN, as the rest of
 * apikeyctl shows it: the file stays valid UTF-8, one sample one line.
 */
#include <inttypes.h>
#include <stdio.h>

#include <apikey.h>

#include "../common/text.h"
#include "metrics.h"
#include "output.h"

struct family {
	const char	*name;
	const char	*type;
	const char	*help;	/* no backslash, no newline: not escaped */
	uint64_t	(*get)(const struct apikey_status *);
};

static uint64_t
start_time(const struct apikey_status *s)
{
	time_t	t = apikey_status_started_at(s);

	return t > 0 ? (uint64_t)t : 0;
}

static const struct family families[] = {
	{ "apikeyd_start_time_seconds", "gauge",
	    "When apikeyd started, in seconds since the Unix epoch.",
	    start_time },
	{ "apikeyd_uptime_seconds", "gauge",
	    "Seconds apikeyd had been running when this was written.",
	    out_uptime },
	{ "apikeyd_keys", "gauge", "API keys in the key store.",
	    apikey_status_keys },
	{ "apikeyd_tenants", "gauge", "Tenants in the key store.",
	    apikey_status_tenants },
	{ "apikeyd_store_size_bytes", "gauge",
	    "Size of the key store's data file on disk.",
	    apikey_status_store_size },
	{ "apikeyd_map_size_bytes", "gauge",
	    "Size the key store may grow to (map_size).",
	    apikey_status_map_size },
	{ "apikeyd_map_used_bytes", "gauge",
	    "Bytes of the key store's map in use.",
	    apikey_status_map_used },
	{ "apikeyd_map_limit_bytes", "gauge",
	    "Use of the map above which only deletes, disables and "
	    "administrators may write.",
	    apikey_status_map_limit },
	{ "apikeyd_audit_entries", "gauge", "Entries in the audit log.",
	    apikey_status_audit_entries },
	{ "apikeyd_audit_pruned_total", "counter",
	    "Audit log entries deleted by retention.",
	    apikey_status_audit_pruned },
};

#define NFAMILIES	(sizeof(families) / sizeof(families[0]))

static uint64_t
fleet_connected(const struct apikey_status *s)
{
	return apikey_status_fleet_connected(s) ? 1 : 0;
}

static uint64_t
fleet_lag(const struct apikey_status *s)
{
	uint64_t	head = apikey_status_fleet_head_seq(s);
	uint64_t	last = apikey_status_fleet_last_seq(s);

	return head > last ? head - last : 0;
}

static uint64_t
fleet_synced_at(const struct apikey_status *s)
{
	time_t	t = apikey_status_fleet_synced_at(s);

	return t > 0 ? (uint64_t)t : 0;
}

static uint64_t
fleet_mismatch(const struct apikey_status *s)
{
	return apikey_status_fleet_digest(s) == APIKEY_FLEET_DIGEST_MISMATCH;
}

/* Fleet mode only: a single host's scrape stays as it was. */
static const struct family fleet_families[] = {
	{ "apikeyd_fleet_connected", "gauge",
	    "1 while the session following the fleet database is up.",
	    fleet_connected },
	{ "apikeyd_fleet_last_seq", "gauge",
	    "The highest changelog seq applied on this host.",
	    apikey_status_fleet_last_seq },
	{ "apikeyd_fleet_lag", "gauge",
	    "Changelog rows in the database this host has not applied yet.",
	    fleet_lag },
	{ "apikeyd_fleet_last_sync_time_seconds", "gauge",
	    "When this host was last in step with the fleet database, in "
	    "seconds since the Unix epoch; 0: never.",
	    fleet_synced_at },
	{ "apikeyd_fleet_digest_mismatch", "gauge",
	    "1 when the last digest comparison found this host's records "
	    "differ from the database's (a snapshot reload follows).",
	    fleet_mismatch },
};

#define NFLEET	(sizeof(fleet_families) / sizeof(fleet_families[0]))

static void
head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value, inside its double quotes. */
static void
label_value(FILE *f, const char *s)
{
	size_t	len;

	while (*s != '\0') {
		if (*s == '\\' || *s == '"') {
			fprintf(f, "\\%c", *s++);
			continue;
		}
		if (*s == '\n') {
			fputs("\\n", f);
			s++;
			continue;
		}
		if ((len = text_char_len(s)) == 0) {
			fprintf(f, "\\\\x%02x", (unsigned)(unsigned char)*s++);
			continue;
		}
		fwrite(s, 1, len, f);
		s += len;
	}
}

int
metrics_print(FILE *f, const struct apikey_status *s)
{
	const struct family	*fam;
	const char		*code;
	int			 c;

	head(f, "apikeyd_info", "gauge",
	    "Version of the apikeyd answering; always 1.");
	fputs("apikeyd_info{version=\"", f);
	label_value(f, apikey_status_version(s));
	fputs("\"} 1\n", f);
	for (fam = families; fam < families + NFAMILIES; fam++) {
		head(f, fam->name, fam->type, fam->help);
		fprintf(f, "%s %" PRIu64 "\n", fam->name, fam->get(s));
	}
	for (fam = fleet_families; apikey_status_fleet(s) &&
	    fam < fleet_families + NFLEET; fam++) {
		head(f, fam->name, fam->type, fam->help);
		fprintf(f, "%s %" PRIu64 "\n", fam->name, fam->get(s));
	}
	head(f, "apikeyd_verifies_total", "counter",
	    "Verify replies since apikeyd started, by the code the client "
	    "got (after failure throttling).");
	for (c = APIKEY_VALID; c <= APIKEY_CODE_MAX; c++) {
		code = apikey_code_name((enum apikey_code)c);
		fprintf(f, "apikeyd_verifies_total{code=\"%s\"} %" PRIu64 "\n",
		    code, apikey_status_verifies(s, (enum apikey_code)c));
	}
	return ferror(f) ? -1 : 0;
}
