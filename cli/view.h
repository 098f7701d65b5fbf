/*
 * view.h - the owner and the string lists of a key and of a verify result,
 * behind one shape, for the text and the JSON printers alike. A view points
 * into the object it was made from and is valid as long as that object.
 */
#ifndef APIKEYCTL_VIEW_H
#define APIKEYCTL_VIEW_H

#include <stddef.h>
#include <sys/types.h>

struct apikey_key;
struct apikey_result;

struct out_owner {
	int		 is_tenant;
	uid_t		 uid;		/* user keys */
	const char	*user;
	const char	*tenant;	/* tenant keys */
	const char	*group;
	gid_t		 gid;
};

/* Item i is get(obj, i), for i below n. */
struct out_list {
	const void	*obj;
	size_t		 n;
	const char	*(*get)(const void *, size_t);
};

void	out_key_owner(const struct apikey_key *, struct out_owner *);
void	out_result_owner(const struct apikey_result *, struct out_owner *);
void	out_key_services(const struct apikey_key *, struct out_list *);
void	out_key_permissions(const struct apikey_key *, struct out_list *);
void	out_key_allowed_users(const struct apikey_key *, struct out_list *);
void	out_key_cidrs(const struct apikey_key *, struct out_list *);
void	out_result_permissions(const struct apikey_result *,
	    struct out_list *);
void	out_result_allowed_users(const struct apikey_result *,
	    struct out_list *);

#endif
