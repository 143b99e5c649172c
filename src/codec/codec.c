/*
 * codec.c: luaopen_openai_finetunes_codec, the module table of everything
 * that turns bytes into values and back without I/O on the network: JSON,
 * URL encoding, digests, base64 and the training-data checker. It never
 * touches libcurl (the transport is openai.finetunes.core).
 */
#include "codec.h"

int luaopen_openai_finetunes_codec(lua_State *L);

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
  oft_credential_open(L);
  oft_file_stamp_open(L);
  return 1;
}
