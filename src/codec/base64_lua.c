/*
 * base64_lua.c: codec.base64_encode(s) -> text and codec.base64_decode(s) ->
 * bytes | nil, message (base64.h: RFC 4648, strict). The output is built in
 * a userdata, so a memory error leaves nothing to free.
 */
#include <stdint.h>

#include "base64.h"
#include "codec.h"

static int base64_encode(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  char *out;
  if (n > SIZE_MAX / 4 * 3) oft_memory_error(L);
  out = (char *)lua_newuserdatauv(L, oft_base64_encoded_len(n) + 1, 0);
  oft_base64_encode((const unsigned char *)s, n, out);
  lua_pushlstring(L, out, oft_base64_encoded_len(n));
  return 1;
}

static int base64_decode(lua_State *L) {
  size_t n, len = 0;
  const char *s = luaL_checklstring(L, 1, &n);
  char err[OFT_BASE64_ERRLEN];
  unsigned char *out = (unsigned char *)lua_newuserdatauv(L, n / 4 * 3 + 1, 0);
  if (!oft_base64_decode(s, n, out, &len, err)) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushlstring(L, (const char *)out, len);
  return 1;
}

void oft_base64_open(lua_State *L) {
  static const luaL_Reg functions[] = {
    {"base64_encode", base64_encode}, {"base64_decode", base64_decode}, {NULL, NULL}};
  luaL_setfuncs(L, functions, 0);
}
