/*
 * view.c - the string lists of a key and of a verify result behind one
 * shape, so that the text printer (output.c) and the JSON printer (json.c)
 * each walk both kinds of object with one piece of code.
 */
#include <stddef.h>

#include <apikey.h>

#include "view.h"

static const char *
key_service(const void *k, size_t i)
{
	return apikey_key_service(k, i);
}

static const char *
key_permission(const void *k, size_t i)
{
	return apikey_key_permission(k, i);
}

static const char *
key_allowed_user(const void *k, size_t i)
{
	return apikey_key_allowed_user(k, i);
}

static const char *
key_cidr(const void *k, size_t i)
{
	return apikey_key_cidr(k, i);
}

static const char *
result_permission(const void *r, size_t i)
{
	return apikey_result_permission(r, i);
}

static const char *
result_allowed_user(const void *r, size_t i)
{
	return apikey_result_allowed_user(r, i);
}

void
out_key_services(const struct apikey_key *k, struct out_list *l)
{
	l->obj = k;
	l->n = apikey_key_service_count(k);
	l->get = key_service;
}

void
out_key_permissions(const struct apikey_key *k, struct out_list *l)
{
	l->obj = k;
	l->n = apikey_key_permission_count(k);
	l->get = key_permission;
}

void
out_key_allowed_users(const struct apikey_key *k, struct out_list *l)
{
	l->obj = k;
	l->n = apikey_key_allowed_user_count(k);
	l->get = key_allowed_user;
}

void
out_key_cidrs(const struct apikey_key *k, struct out_list *l)
{
	l->obj = k;
	l->n = apikey_key_cidr_count(k);
	l->get = key_cidr;
}

void
out_result_permissions(const struct apikey_result *r, struct out_list *l)
{
	l->obj = r;
	l->n = apikey_result_permission_count(r);
	l->get = result_permission;
}

void
out_result_allowed_users(const struct apikey_result *r, struct out_list *l)
{
	l->obj = r;
	l->n = apikey_result_allowed_user_count(r);
	l->get = result_allowed_user;
}
