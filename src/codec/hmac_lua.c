/*
 * hmac_lua.c: codec.hmac_sha256(key, message) -> 32 raw bytes (hmac.h) and
 * codec.equal_constant_time(a, b) -> boolean (constant_time.h): signing a
 * payload and checking a received signature without a timing side channel.
 */
#include "codec.h"
#include "constant_time.h"
#include "hmac.h"

static int hmac_sha256(lua_State *L) {
  size_t key_len, msg_len;
  const char *key = luaL_checklstring(L, 1, &key_len);
  const char *msg = luaL_checklstring(L, 2, &msg_len);
  unsigned char mac[OFT_SHA256_SIZE];
  oft_hmac_sha256((const unsigned char *)key, key_len, (const unsigned char *)msg, msg_len, mac);
  lua_pushlstring(L, (const char *)mac, sizeof mac);
  oft_wipe(mac, sizeof mac);
  return 1;
}

static int equal_constant_time(lua_State *L) {
  size_t a_len, b_len;
  const char *a = luaL_checklstring(L, 1, &a_len);
  const char *b = luaL_checklstring(L, 2, &b_len);
  lua_pushboolean(L, oft_equal_constant_time((const unsigned char *)a, a_len, (const unsigned char *)b, b_len));
  return 1;
}

void oft_hmac_open(lua_State *L) {
  static const luaL_Reg functions[] = {
    {"hmac_sha256", hmac_sha256}, {"equal_constant_time", equal_constant_time}, {NULL, NULL}};
  luaL_setfuncs(L, functions, 0);
}
