/*
 * sink.c: core.sink_temp(path) -> temp_path | nil, err: the temp file a
 * download to `path` goes into, created (empty, closed) by the rule every
 * transport shares (oft_sink_temp in transfer.c: next to it, exclusive, an
 * existing target's mode kept, a directory at the path refused). err is a
 * local-failure table (errors.h).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "errors.h"
#include "transfer.h"

static int core_sink_temp(lua_State *L) {
  size_t len;
  const char *sink = luaL_checklstring(L, 1, &len);
  const char *verb = NULL;
  char *tmp;
  int fd;
  if (strlen(sink) != len) return luaL_argerror(L, 1, "path must not contain NUL");
  tmp = (char *)lua_newuserdatauv(L, len + 32, 0); /* freed by the GC, whatever happens */
  fd = oft_sink_temp(sink, tmp, len + 32, &verb);
  if (fd < 0) {
    lua_pushnil(L);
    oft_error_push_local(L, verb, sink, errno, NULL);
    return 2;
  }
  close(fd);
  lua_pushstring(L, tmp);
  return 1;
}

void oft_sink_open(lua_State *L) {
  static const luaL_Reg functions[] = {{"sink_temp", core_sink_temp}, {NULL, NULL}};
  luaL_setfuncs(L, functions, 0);
}
