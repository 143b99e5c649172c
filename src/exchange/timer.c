/* timer.c: what an exchange's timeouts mean (see timer.h). */
#include <math.h>
#include <stdio.h>

#include "timer.h"

#define FOREVER HUGE_VAL

void oft_timer_start(oft_timer *t, double now, double total_s, double idle_s) {
  t->total_s = total_s > 0 ? total_s : 0;
  t->idle_s = idle_s > 0 ? idle_s : 0;
  t->deadline = t->total_s > 0 ? now + t->total_s : FOREVER;
  t->active_at = now;
  t->dl = t->ul = 0;
}

void oft_timer_moved(oft_timer *t, double now) {
  t->active_at = now;
}

void oft_timer_counts(oft_timer *t, double now, double dl, double ul) {
  if (dl != t->dl || ul != t->ul) {
    t->dl = dl;
    t->ul = ul;
    t->active_at = now;
  }
}

double oft_timer_left(const oft_timer *t, double now, int *bound) {
  double left = t->deadline - now;
  *bound = t->total_s > 0 ? OFT_BOUND_TOTAL : OFT_BOUND_NONE;
  if (t->idle_s > 0 && t->active_at + t->idle_s - now < left) {
    left = t->active_at + t->idle_s - now;
    *bound = OFT_BOUND_IDLE;
  }
  return left;
}

void oft_timer_message(const oft_timer *t, int bound, char *buf, size_t n) {
  if (bound == OFT_BOUND_IDLE)
    snprintf(buf, n, "no data sent or received for %g s (idle_timeout)", t->idle_s);
  else
    snprintf(buf, n, "the total timeout of %g s expired", t->total_s);
}
