/*
 * sink_lua.c: codec.sink_temp(path) -> temp_path | nil, verb, os_error: the temp
 * file a download to `path` goes into, created (empty, closed) by the rule the
 * C transport uses too (src/sink.h). transport/exchange.lua calls it, inside
 * nginx as well: the codec needs no libcurl. transport/local_error.lua makes
 * the failure an err ("cannot <verb> <path>: <os_error>").
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "sink.h"

static int codec_sink_temp(lua_State *L) {
  size_t len;
  const char *sink = luaL_checklstring(L, 1, &len);
  const char *verb = NULL;
  char *tmp;
  int fd;
  if (strlen(sink) != len) return luaL_argerror(L, 1, "path must not contain NUL");
  tmp = (char *)lua_newuserdatauv(L, len + 32, 0); /* freed by the GC, whatever happens */
  fd = oft_sink_temp(sink, tmp, len + 32, &verb);
  if (fd < 0) {
    int e = errno;
    lua_pushnil(L);
    lua_pushstring(L, verb);
    lua_pushstring(L, strerror(e));
    return 3;
  }
  close(fd);
  lua_pushstring(L, tmp);
  return 1;
}

void oft_sink_open(lua_State *L) {
  static const luaL_Reg functions[] = {{"sink_temp", codec_sink_temp}, {NULL, NULL}};
  luaL_setfuncs(L, functions, 0);
}
