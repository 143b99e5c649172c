/*
 * exchange_lua.c: the per-request rules of src/exchange/ as Lua values, for an
 * adapter written in Lua (lua/openai/finetunes/transport/exchange.lua, which the
 * ngx adapter drives). The curl transport calls the same C functions from
 * src/core/transfer.c: one rule, never a Lua twin.
 *
 *   codec.response(sink | nil, max_body) -> response | nil, err
 *     r:head(status, content_length)   the head was read (content_length < 0: none)
 *     r:add(bytes) -> true | nil, err  too_large, or the sink failing (kind io)
 *     r:finish(res) -> res | nil, err  res.body or res.bytes_written set
 *     r:abort()                        the temp file removed; idempotent (also at __gc)
 *   codec.timer(now, timeout, idle_timeout) -> timer
 *     t:moved(now)
 *     t:left(now) -> seconds, "total" | "idle" | "none"
 *     t:failure(bound, doing) -> err   kind timeout
 *   codec.progress_failure(raised, value) -> err   kind aborted
 *   codec.resend_refused() -> err                  kind io
 *   codec.default_max_response_bytes               (src/exchange/response.h)
 */
#include <string.h>

#include "codec.h"
#include "exchange/outcome.h"

#define RESPONSE_MT "openai.finetunes.response"
#define TIMER_MT "openai.finetunes.timer"

static oft_response *check_response(lua_State *L) {
  return (oft_response *)luaL_checkudata(L, 1, RESPONSE_MT);
}

static int response_new(lua_State *L) {
  size_t len = 0;
  const char *sink = luaL_optlstring(L, 1, NULL, &len);
  lua_Number max_body = luaL_checknumber(L, 2);
  oft_response *r;
  if (sink != NULL && strlen(sink) != len) return luaL_argerror(L, 1, "path must not contain NUL");
  r = (oft_response *)lua_newuserdatauv(L, sizeof *r, 0);
  oft_response_init(r, (double)max_body);
  luaL_setmetatable(L, RESPONSE_MT);
  if (sink != NULL && !oft_response_open(r, sink)) {
    if (r->failure == OFT_RESPONSE_NOMEM) oft_memory_error(L);
    lua_pushnil(L);
    oft_response_push_failure(L, r, NULL);
    return 2;
  }
  return 1;
}

static int response_head(lua_State *L) {
  oft_response *r = check_response(L);
  oft_response_head(r, (long)luaL_checkinteger(L, 2), (double)luaL_optnumber(L, 3, -1));
  return 0;
}

static int response_add(lua_State *L) {
  oft_response *r = check_response(L);
  size_t n;
  const char *p = luaL_checklstring(L, 2, &n);
  if (oft_response_add(r, p, n)) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushnil(L);
  oft_response_push_failure(L, r, NULL);
  return 2;
}

static int response_finish(lua_State *L) {
  oft_response *r = check_response(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  if (!oft_response_finish(r)) {
    lua_pushnil(L);
    oft_response_push_failure(L, r, NULL);
    return 2;
  }
  oft_response_set_body(L, r, 2);
  oft_bytes_free(&r->body); /* now a Lua string: the copy here is not needed */
  lua_settop(L, 2);
  return 1;
}

static int response_abort(lua_State *L) {
  oft_response_abort(check_response(L));
  return 0;
}

static int response_gc(lua_State *L) {
  oft_response_free(check_response(L));
  return 0;
}

static oft_timer *check_timer(lua_State *L) {
  return (oft_timer *)luaL_checkudata(L, 1, TIMER_MT);
}

static const char *const BOUNDS[] = {"none", "total", "idle", NULL};

static int timer_new(lua_State *L) {
  double now = (double)luaL_checknumber(L, 1);
  double total = (double)luaL_optnumber(L, 2, 0), idle = (double)luaL_optnumber(L, 3, 0);
  oft_timer *t = (oft_timer *)lua_newuserdatauv(L, sizeof *t, 0);
  oft_timer_start(t, now, total, idle);
  luaL_setmetatable(L, TIMER_MT);
  return 1;
}

static int timer_moved(lua_State *L) {
  oft_timer_moved(check_timer(L), (double)luaL_checknumber(L, 2));
  return 0;
}

static int timer_left(lua_State *L) {
  int bound;
  double left = oft_timer_left(check_timer(L), (double)luaL_checknumber(L, 2), &bound);
  lua_pushnumber(L, (lua_Number)left);
  lua_pushstring(L, BOUNDS[bound]);
  return 2;
}

static int timer_failure(lua_State *L) {
  oft_timer *t = check_timer(L);
  int bound = luaL_checkoption(L, 2, NULL, BOUNDS);
  oft_timer_push_failure(L, t, bound, luaL_optstring(L, 3, NULL));
  return 1;
}

static int progress_failure(lua_State *L) {
  lua_settop(L, 2);
  oft_progress_push_failure(L, lua_toboolean(L, 1) ? 2 : 0, NULL);
  return 1;
}

static int resend_refused(lua_State *L) {
  oft_resend_push_failure(L);
  return 1;
}

void oft_exchange_open(lua_State *L) {
  static const luaL_Reg response_methods[] = {
      {"head", response_head}, {"add", response_add}, {"finish", response_finish},
      {"abort", response_abort}, {NULL, NULL}};
  static const luaL_Reg timer_methods[] = {
      {"moved", timer_moved}, {"left", timer_left}, {"failure", timer_failure}, {NULL, NULL}};
  static const luaL_Reg functions[] = {
      {"response", response_new}, {"timer", timer_new}, {"progress_failure", progress_failure},
      {"resend_refused", resend_refused}, {NULL, NULL}};
  oft_codec_class(L, RESPONSE_MT, response_methods, response_gc);
  oft_codec_class(L, TIMER_MT, timer_methods, NULL);
  luaL_setfuncs(L, functions, 0);
  oft_push_count(L, OFT_DEFAULT_MAX_RESPONSE);
  lua_setfield(L, -2, "default_max_response_bytes");
}
