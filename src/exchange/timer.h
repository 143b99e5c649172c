/*
 * timer.h: what the timeouts of one exchange mean, for every transport.
 * `timeout` bounds the whole exchange; `idle_timeout` any stretch in which no
 * byte moved either way (connecting counts: the clock starts with the
 * exchange). src/core/transfer.c checks the idle bound from libcurl's progress
 * function (libcurl keeps the total with CURLOPT_TIMEOUT_MS); codec.timer
 * (src/codec/exchange_lua.c) gives the same functions to
 * lua/openai/finetunes/transport/exchange.lua, which turns them into each
 * socket operation's wait. No Lua, no libcurl.
 */
#ifndef OFT_TIMER_H
#define OFT_TIMER_H

#include <stddef.h>

enum { OFT_BOUND_NONE, OFT_BOUND_TOTAL, OFT_BOUND_IDLE };

typedef struct oft_timer {
  double total_s, idle_s; /* 0: no bound */
  double deadline;        /* started + total_s */
  double active_at;       /* when a byte last moved, or the start */
  double dl, ul;          /* byte counts last seen (oft_timer_counts) */
} oft_timer;

/* The clocks start at `now` (seconds on a monotonic clock). */
void oft_timer_start(oft_timer *t, double now, double total_s, double idle_s);

/* A byte moved at `now`. */
void oft_timer_moved(oft_timer *t, double now);

/* Byte counts so far (libcurl's progress): a change is a move. */
void oft_timer_counts(oft_timer *t, double now, double dl, double ul);

/* Seconds until the nearer bound expires (<= 0: expired), that bound in *bound;
 * with no bound, a large number and OFT_BOUND_NONE. */
double oft_timer_left(const oft_timer *t, double now, int *bound);

/* "no data sent or received for 5 s (idle_timeout)" / "the total timeout of 30 s expired" */
void oft_timer_message(const oft_timer *t, int bound, char *buf, size_t n);

#endif /* OFT_TIMER_H */
