/* clock.c: core.now and core.sleep, the clock and sleep the retry loop uses. */
#include <errno.h>
#include <time.h>

#include "core.h"

/* core.now() -> seconds on a monotonic clock */
static int core_now(lua_State *L) {
  lua_pushnumber(L, (lua_Number)oft_now());
  return 1;
}

/* core.sleep(seconds): the whole time, even when a signal interrupts it */
static int core_sleep(lua_State *L) {
  double s = (double)luaL_checknumber(L, 1);
  struct timespec left;
  luaL_argcheck(L, s >= 0 && s < 1e9, 1, "seconds must be >= 0");
  left.tv_sec = (time_t)s;
  left.tv_nsec = (long)((s - (double)left.tv_sec) * 1e9);
  if (left.tv_nsec > 999999999L) left.tv_nsec = 999999999L;
  while (nanosleep(&left, &left) != 0 && errno == EINTR) {}
  return 0;
}

void oft_clock_open(lua_State *L) {
  static const luaL_Reg functions[] = {{"now", core_now}, {"sleep", core_sleep}, {NULL, NULL}};
  luaL_setfuncs(L, functions, 0);
}
