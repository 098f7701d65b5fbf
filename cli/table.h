/*
 * table.h - the tables of apikeyctl's listings: fill one row at a time (the
 * first row is the header), then print it once; columns are never cut.
 */
#ifndef APIKEYCTL_TABLE_H
#define APIKEYCTL_TABLE_H

#include <stddef.h>

#define TABLE_COLS	8

/* Start with struct table t = { .ncols = N }. */
struct table {
	size_t	  ncols;
	size_t	  nrows;
	size_t	  width[TABLE_COLS];
	char	**cells;	/* nrows * ncols, row after row */
};

/* Appends a row of ncols cells, copied, "" or NULL shown as "-".
 * 0, or -1 when memory ran out. */
int	table_add(struct table *, const char *const *row);
/* Prints t when rc (the result of filling it) is 0, frees it either way,
 * and returns rc. */
int	table_done(struct table *, int rc);

#endif
