/*
 * view.h - the string lists of a key and of a verify result behind one
 * shape, for the text and the JSON printers alike. A view points into the
 * object it was made from and is valid as long as that object. (Owners
 * need none here: libapikey's owner view serves both kinds of object.)
 */
#ifndef APIKEYCTL_VIEW_H
#define APIKEYCTL_VIEW_H

#include <stddef.h>

struct apikey_key;
struct apikey_result;

/* Item i is get(obj, i), for i below n. */
struct out_list {
	const void	*obj;
	size_t		 n;
	const char	*(*get)(const void *, size_t);
};

void	out_key_services(const struct apikey_key *, struct out_list *);
void	out_key_permissions(const struct apikey_key *, struct out_list *);
void	out_key_allowed_users(const struct apikey_key *, struct out_list *);
void	out_key_cidrs(const struct apikey_key *, struct out_list *);
void	out_result_permissions(const struct apikey_result *,
	    struct out_list *);
void	out_result_allowed_users(const struct apikey_result *,
	    struct out_list *);

#endif
