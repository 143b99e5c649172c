/*
 * core.c: luaopen_openai_finetunes_core, the module table.
 * Each concern adds its functions through oft_<concern>_open(L), called with the
 * module table on top of the stack.
 */
#include <curl/curl.h>

#include "compat.h"
#include "core.h"

int luaopen_openai_finetunes_core(lua_State *L);

int luaopen_openai_finetunes_core(lua_State *L) {
  lua_newtable(L);
  lua_pushliteral(L, OFT_VERSION);
  lua_setfield(L, -2, "_VERSION");
  oft_json_open(L);
  oft_url_open(L);
  return 1;
}
