/*
 * core.c: luaopen_openai_finetunes_core, the module table of the libcurl
 * transport (client.c), its clock (clock.c), libcurl's own facts
 * (libcurl.c); the per-request rules it applies are src/exchange/'s, which the
 * codec hands to the Lua exchange too. Loading it does not touch libcurl:
 * curl_global_init runs when the first client is made. The codec (JSON, URLs, digests, the JSONL
 * checker) is the other module, openai.finetunes.codec (src/codec/codec.c).
 */
#include "core.h"

int luaopen_openai_finetunes_core(lua_State *L);

int luaopen_openai_finetunes_core(lua_State *L) {
  lua_newtable(L);
  lua_pushliteral(L, OFT_VERSION);
  lua_setfield(L, -2, "_VERSION");
  oft_clock_open(L);
  oft_libcurl_open(L);
  oft_client_open(L);
  return 1;
}
