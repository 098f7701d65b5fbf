/*
 * table.c - the tables of apikeyctl's listings (key list, tenant list,
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
#include "table.h"

int
table_add(struct table *t, const char *const *row)
{
	const char *src;
	char	**cells, *c;
	size_t	  i, size;

	if (t->ncols > TABLE_COLS)	/* a caller's bug */
		abort();
	cells = reallocarray(t->cells, (t->nrows + 1) * t->ncols,
	    sizeof(*cells));
	if (cells == NULL)
		return -1;
	t->cells = cells;
	cells += t->nrows * t->ncols;
	for (i = 0; i < t->ncols; i++) {
		src = row[i] != NULL && *row[i] != '\0' ? row[i] : "-";
		size = strlen(src) * 4 + 1;	/* every byte may be \xNN */
		if ((c = malloc(size)) == NULL) {
			while (i > 0)
				free(cells[--i]);
			return -1;
		}
		text_escape(c, size, src);
		cells[i] = c;
		if (strlen(c) > t->width[i])
			t->width[i] = strlen(c);
	}
	t->nrows++;
	return 0;
}

/* Two spaces between columns, the last one unpadded. */
static void
table_print(const struct table *t)
{
	const char	*c;
	size_t		 r, i;

	for (r = 0; r < t->nrows; r++) {
		for (i = 0; i < t->ncols; i++) {
			c = t->cells[r * t->ncols + i];
			if (i + 1 < t->ncols)
				printf("%-*s  ", (int)t->width[i], c);
			else
				printf("%s\n", c);
		}
	}
}

static void
table_free(struct table *t)
{
	size_t i;

	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
}

int
table_done(struct table *t, int rc)
{
	if (rc == 0)
		table_print(t);
	table_free(t);
	return rc;
}
