/*
 * metrics.h - apikeyd's status in the Prometheus text exposition format
 * (version 0.0.4), as node_exporter's textfile collector reads it. Every
 * family is one "# HELP" line, one "# TYPE" line and its samples; names
 * start with "apikeyd_". Only an administrator's status has the verify
 * counters: the caller checks apikey_status_has_counters() first.
 */
#ifndef APIKEYCTL_METRICS_H
#define APIKEYCTL_METRICS_H

#include <stdio.h>

#include <apikey.h>

/* Writes every family to f. 0, or -1 when a write failed (errno set). */
int	metrics_print(FILE *f, const struct apikey_status *);

#endif
