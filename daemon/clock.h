/*
 * clock.h - the daemon's one source of wall-clock time (seconds since the
 * epoch), so that every expiry and audit stamp agree.
 */
#ifndef APIKEY_CLOCK_H
#define APIKEY_CLOCK_H

#include <stdint.h>

uint64_t clock_now(void);
/* The same clock in milliseconds, for rate windows and back-off. */
uint64_t clock_now_ms(void);

#endif
