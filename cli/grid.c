/*
 * grid.c - the tables of apikeyctl's listings (key list, tenant list,
 * audit). Cells are copied in, columns are as wide as their widest cell so
 * nothing is ever cut, two spaces separate them, and the last column is not
 * padded. Cells come from other users through the daemon and must not
 * drive the terminal: what is not printable UTF-8 shows as \xNN
 * (common/text.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/text.h"
#include "grid.h"

int
grid_add(struct grid *g, const char *const *row)
{
	const char *src;
	char	**cells, *c;
	size_t	  i, size;

	if (g->ncols > GRID_COLS)	/* a caller's bug */
		abort();
	cells = reallocarray(g->cells, (g->nrows + 1) * g->ncols,
	    sizeof(*cells));
	if (cells == NULL)
		return -1;
	g->cells = cells;
	cells += g->nrows * g->ncols;
	for (i = 0; i < g->ncols; i++) {
		src = row[i] != NULL && *row[i] != '\0' ? row[i] : "-";
		size = strlen(src) * 4 + 1;	/* every byte may be \xNN */
		if ((c = malloc(size)) == NULL) {
			while (i > 0)
				free(cells[--i]);
			return -1;
		}
		text_escape(c, size, src);
		cells[i] = c;
		if (strlen(c) > g->width[i])
			g->width[i] = strlen(c);
	}
	g->nrows++;
	return 0;
}

/* Two spaces between columns, the last one unpadded. */
static void
grid_print(const struct grid *g)
{
	const char	*c;
	size_t		 r, i;

	for (r = 0; r < g->nrows; r++) {
		for (i = 0; i < g->ncols; i++) {
			c = g->cells[r * g->ncols + i];
			if (i + 1 < g->ncols)
				printf("%-*s  ", (int)g->width[i], c);
			else
				printf("%s\n", c);
		}
	}
}

static void
grid_free(struct grid *g)
{
	size_t i;

	for (i = 0; i < g->nrows * g->ncols; i++)
		free(g->cells[i]);
	free(g->cells);
}

int
grid_done(struct grid *g, int rc)
{
	if (rc == 0)
		grid_print(g);
	grid_free(g);
	return rc;
}
