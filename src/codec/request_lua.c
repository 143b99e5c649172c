/*
 * request_lua.c: what a request may carry (src/exchange/request.h) for
 * lua/openai/finetunes/transport/exchange.lua and config.lua: the functions
 * src/core/transfer.c and src/core/mime.c apply for the curl transport.
 *
 *   codec.url_refusal(url) -> nil | why
 *   codec.header_refusal(name, auth_name) -> nil | why      may a call set it at all?
 *   codec.header_problem(name, value, auth_name) -> nil | message   the whole rule for one line
 *   codec.framable(s, quote_ok) -> boolean                   a multipart name, filename, type
 *   codec.is_token(s) -> boolean                             an RFC 9110 token (a method)
 *   codec.declares_empty_body(method) -> boolean             "Content-Length: 0" without a body?
 */
#include "codec.h"
#include "exchange/headers.h"
#include "exchange/request.h"

static int push_why(lua_State *L, const char *why) {
  if (why == NULL) return 0;
  lua_pushstring(L, why);
  return 1;
}

static int url_refusal(lua_State *L) {
  size_t len;
  const char *url = luaL_checklstring(L, 1, &len);
  return push_why(L, oft_request_url_refusal(url, len));
}

static int header_refusal(lua_State *L) {
  size_t len;
  const char *name = luaL_checklstring(L, 1, &len);
  return push_why(L, oft_request_header_refusal(name, len, luaL_optstring(L, 2, NULL)));
}

static int header_problem(lua_State *L) {
  size_t nlen, vlen;
  const char *name = luaL_checklstring(L, 1, &nlen);
  const char *value = luaL_checklstring(L, 2, &vlen); /* a number becomes its string here, on the stack */
  char buf[160];
  return push_why(L, oft_request_header_problem(name, nlen, value, vlen, luaL_optstring(L, 3, NULL), buf,
                                                sizeof buf));
}

static int framable(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  lua_pushboolean(L, oft_request_framable(s, len, lua_toboolean(L, 2)));
  return 1;
}

static int is_token(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  lua_pushboolean(L, oft_header_is_token(s, len));
  return 1;
}

static int declares_empty_body(lua_State *L) {
  lua_pushboolean(L, oft_request_declares_empty_body(luaL_checkstring(L, 1)));
  return 1;
}

void oft_request_open(lua_State *L) {
  static const luaL_Reg functions[] = {{"url_refusal", url_refusal}, {"header_refusal", header_refusal},
                                       {"header_problem", header_problem}, {"framable", framable},
                                       {"is_token", is_token}, {"declares_empty_body", declares_empty_body},
                                       {NULL, NULL}};
  luaL_setfuncs(L, functions, 0);
}
