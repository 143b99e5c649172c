/*
 * file_stamp_lua.c: codec.file_stamp(path) -> size, mtime_ns | nil, os_error: what
 * a file's size and modification time are now, from stat(2). transport/multipart.lua
 * compares them before and after sending a file part, as the C core's reader does
 * with fstat (src/core/file_source.c): a file rewritten in place, same size, is a
 * changed file too. Lua's io library has no stat, and the ngx adapter needs this
 * without libcurl.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "codec.h"

static int codec_file_stamp(lua_State *L) {
  size_t len;
  const char *path = luaL_checklstring(L, 1, &len);
  struct stat st;
  if (strlen(path) != len) return luaL_argerror(L, 1, "path must not contain NUL");
  if (stat(path, &st) != 0) {
    int e = errno;
    lua_pushnil(L);
    lua_pushstring(L, strerror(e));
    return 2;
  }
  lua_pushinteger(L, (lua_Integer)st.st_size);
  /* exact on 5.3+; a double before (the same double for the same stamp, all a comparison needs) */
  lua_pushinteger(L, (lua_Integer)((long long)st.st_mtim.tv_sec * 1000000000LL + (long long)st.st_mtim.tv_nsec));
  return 2;
}

void oft_file_stamp_open(lua_State *L) {
  static const luaL_Reg functions[] = {{"file_stamp", codec_file_stamp}, {NULL, NULL}};
  luaL_setfuncs(L, functions, 0);
}
