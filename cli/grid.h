/*
 * grid.h - the tables of apikeyctl's listings: fill one row at a time (the
 * first row is the header), then print it once; columns are never cut.
 * Called a grid so that no name is shared with daemon/table.h, the
 * ledger's bounded id map, an unrelated type.
 */
#ifndef APIKEYCTL_GRID_H
#define APIKEYCTL_GRID_H

#include <stddef.h>

#define GRID_COLS	8

/* Start with struct grid g = { .ncols = N }. */
struct grid {
	size_t	  ncols;
	size_t	  nrows;
	size_t	  width[GRID_COLS];
	char	**cells;	/* nrows * ncols, row after row */
};

/* Appends a row of ncols cells, copied, "" or NULL shown as "-".
 * 0, or -1 when memory ran out. */
int	grid_add(struct grid *, const char *const *row);
/* Prints g when rc (the result of filling it) is 0, frees it either way,
 * and returns rc. */
int	grid_done(struct grid *, int rc);

#endif
