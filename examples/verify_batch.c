/*
 * verify_batch.c - the README's example of pipelined verifies: one key per
 * line on standard input, all checked in one apikey_verify_batch() call,
 * each line's answer printed as "LINE CODE". Exit status 0 when every key
 * is VALID, 1 when one is not, 3 when apikeyd could not answer.
 */
#define _DEFAULT_SOURCE		/* getline, explicit_bzero */
#include <apikey.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS	10000

int
main(void)
{
	static char *lines[MAX_KEYS];
	static struct apikey_result *res[MAX_KEYS];
	struct apikey_client *c = NULL;
	size_t n = 0, i, cap;
	int rc, all = 1;

	for (;;) {
		cap = 0;
		if (n == MAX_KEYS || getline(&lines[n], &cap, stdin) == -1)
			break;
		lines[n][strcspn(lines[n], "\n")] = '\0';
		n++;
	}
	if (n < MAX_KEYS)
		free(lines[n]);		/* getline may leave one at EOF */
	if ((rc = apikey_open(NULL, 1000, &c)) == 0)
		rc = apikey_verify_batch(c, n, (const char *const *)lines,
		    NULL, res);
	if (rc != 0) {
		fprintf(stderr, "apikeyd: %s\n", apikey_strerror(rc));
		all = -1;
	}
	for (i = 0; i < n; i++) {
		if (rc == 0) {
			printf("%zu %s\n", i + 1,
			    apikey_code_name(apikey_result_code(res[i])));
			all &= apikey_result_code(res[i]) == APIKEY_VALID;
			apikey_result_free(res[i]);
		}
		explicit_bzero(lines[i], strlen(lines[i]));
		free(lines[i]);
	}
	apikey_close(c);
	return all < 0 ? 3 : all ? 0 : 1;
}
