/*
 * codec.c: luaopen_openai_finetunes_codec, the module table of everything
 * that turns bytes into values and back without I/O on the network: JSON,
 * URL encoding, digests, base64 and the training-data checker. It never
 * touches libcurl (the transport is openai.finetunes.core).
 */
#include "codec.h"

int luaopen_openai_finetunes_codec(lua_State *L);

void oft_codec_class(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction gc) {
  luaL_newmetatable(L, name);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  if (gc != NULL) {
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
}

int luaopen_openai_finetunes_codec(lua_State *L) {
  lua_newtable(L);
  lua_pushliteral(L, OFT_VERSION);
  lua_setfield(L, -2, "_VERSION");
  oft_json_open(L);
  oft_url_open(L);
  oft_jsonl_open(L);
  oft_md5_open(L);
  oft_sha256_open(L);
  oft_hmac_open(L);
  oft_base64_open(L);
  oft_exchange_open(L);
  oft_request_open(L);
  oft_credential_open(L);
  oft_upload_part_open(L);
  return 1;
}
