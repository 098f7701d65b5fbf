/*
 * metadata.h - validation of a key's metadata: a JSON object of at most
 * PROTO_METADATA_MAX bytes, without duplicate keys. metadata.c is the only
 * daemon file that uses jansson. The text is stored as given.
 */
#ifndef APIKEY_METADATA_H
#define APIKEY_METADATA_H

#include <stddef.h>

/* 0 when s is "" or a valid object; -1 with a message otherwise. */
int	metadata_valid(const char *s, char *msg, size_t msgsz);

#endif
