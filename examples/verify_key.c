/* verify_key.c - check an API key from stdin for a local user (README). */
#include <apikey.h>
#include <stdio.h>
#include <string.h>

int
main(int argc, char **argv)
{
	struct apikey_client *c;
	struct apikey_verify_req *req = apikey_verify_req_new();
	struct apikey_result *res;
	char key[256] = "";
	int rc;

	if (argc != 2 || req == NULL || fgets(key, sizeof(key), stdin) == NULL)
		return 2;
	key[strcspn(key, "\n")] = '\0';
	apikey_verify_req_set_service(req, "myservice");
	if ((rc = apikey_open(NULL, 1000, &c)) != 0 ||
	    (rc = apikey_verify(c, key, req, &res)) != 0) {
		fprintf(stderr, "apikeyd: %s\n", apikey_strerror(rc));
		return 3;
	}
	rc = apikey_result_code(res) == APIKEY_VALID ?
	    apikey_authorize_user(res, argv[1]) : APIKEY_EDENIED;
	printf("%s: %s\n", apikey_code_name(apikey_result_code(res)),
	    rc == 0 ? "access granted" : apikey_strerror(rc));
	apikey_result_free(res);
	apikey_verify_req_free(req);
	apikey_close(c);
	memset(key, 0, sizeof(key));
	return rc == 0 ? 0 : 1;
}
