/*
 * clock.h - the daemon's one source of wall-clock time (seconds since the
 * epoch), so that every expiry and audit stamp agree, and the monotonic
 * milliseconds that in-memory intervals are measured in.
 */
#ifndef APIKEY_CLOCK_H
#define APIKEY_CLOCK_H

#include <stdint.h>

uint64_t clock_now(void);
/* Milliseconds of a monotonic clock, for rate windows and back-off: a
 * step of the wall clock must not lock keys out or let them loose. */
uint64_t clock_now_ms(void);

#endif
