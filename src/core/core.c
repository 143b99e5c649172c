/*
 * core.c: luaopen_openai_finetunes_core, the module table of the libcurl
 * transport (client.c), its clock (clock.c), libcurl's own facts
 * (libcurl.c) and the download temp-file rule (sink.c). Loading it does not touch libcurl: curl_global_init runs when
 * the first client is made. The codec (JSON, URLs, digests, the JSONL
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
