/*
 * credential_lua.c: the credential of an adapter written in Lua, as the C
 * object the curl transport keeps (src/exchange/credential.h): the same rules
 * for a usable secret, header and scheme, the same line, the secret wiped when
 * replaced or collected. lua/openai/finetunes/transport/credential.lua wraps it.
 *
 *   codec.credential(auth_header | nil, auth_scheme | nil, secret | nil)
 *       -> credential | nil, field, problem    (field: "auth_header", "auth_scheme", "api_key")
 *   c:set(secret) -> true | nil, problem       the secret of the requests made from now on
 *   c:line() -> "Name: Scheme secret\r\n" | nil (before there is a secret)
 *   c:redact(s) -> s with the secret replaced by "[redacted]"
 *   c:name() -> the header's name, as given
 */
#include <string.h>

#include "codec.h"
#include "exchange/credential.h"
#include "exchange/outcome.h"

#define CREDENTIAL_MT "openai.finetunes.credential"

static oft_auth *check_credential(lua_State *L) {
  return (oft_auth *)luaL_checkudata(L, 1, CREDENTIAL_MT);
}

static int fail3(lua_State *L, const char *field, const char *problem) {
  lua_pushnil(L);
  lua_pushstring(L, field);
  lua_pushstring(L, problem);
  return 3;
}

static int credential_new(lua_State *L) {
  const char *name = luaL_optstring(L, 1, OFT_AUTH_DEFAULT_HEADER);
  const char *scheme = luaL_optstring(L, 2, OFT_AUTH_DEFAULT_SCHEME);
  size_t len = 0;
  const char *secret = NULL, *problem;
  oft_auth *a;
  if (!lua_isnoneornil(L, 3)) {
    if (lua_type(L, 3) != LUA_TSTRING) return fail3(L, "api_key", "must be a non-empty string");
    secret = lua_tolstring(L, 3, &len);
    if ((problem = oft_auth_secret_problem(secret, len)) != NULL) return fail3(L, "api_key", problem);
  }
  if ((problem = oft_auth_header_problem(name)) != NULL) return fail3(L, "auth_header", problem);
  if ((problem = oft_auth_scheme_problem(scheme)) != NULL) return fail3(L, "auth_scheme", problem);
  a = (oft_auth *)lua_newuserdatauv(L, sizeof *a, 0);
  memset(a, 0, sizeof *a);
  luaL_setmetatable(L, CREDENTIAL_MT);
  if (!oft_auth_init(a, name, scheme) || (secret != NULL && !oft_auth_set(a, secret, len))) {
    oft_auth_free(a);
    oft_memory_error(L);
  }
  return 1;
}

static int credential_set(lua_State *L) {
  oft_auth *a = check_credential(L);
  size_t len = 0;
  const char *s, *problem = "must be a non-empty string";
  if (lua_type(L, 2) == LUA_TSTRING) { /* a number is no token */
    s = lua_tolstring(L, 2, &len);
    problem = oft_auth_secret_problem(s, len);
    if (problem == NULL) {
      if (!oft_auth_set(a, s, len)) oft_memory_error(L);
      lua_pushboolean(L, 1);
      return 1;
    }
  }
  lua_pushnil(L);
  lua_pushstring(L, problem);
  return 2;
}

static int credential_line(lua_State *L) {
  oft_auth *a = check_credential(L);
  if (a->line == NULL) return 0;
  lua_pushstring(L, a->line);
  lua_pushliteral(L, "\r\n");
  lua_concat(L, 2);
  return 1;
}

static int credential_redact(lua_State *L) {
  oft_auth *a = check_credential(L);
  size_t len;
  const char *s = luaL_checklstring(L, 2, &len);
  oft_push_redacted(L, s, len, a->secret);
  return 1;
}

static int credential_name(lua_State *L) {
  oft_auth *a = check_credential(L);
  lua_pushstring(L, a->name != NULL ? a->name : OFT_AUTH_DEFAULT_HEADER);
  return 1;
}

static int credential_gc(lua_State *L) {
  oft_auth_free(check_credential(L));
  return 0;
}

void oft_credential_open(lua_State *L) {
  static const luaL_Reg methods[] = {{"set", credential_set}, {"line", credential_line},
                                     {"redact", credential_redact}, {"name", credential_name},
                                     {NULL, NULL}};
  oft_codec_class(L, CREDENTIAL_MT, methods, credential_gc);
  lua_pushcfunction(L, credential_new);
  lua_setfield(L, -2, "credential");
}
