/* compat.c: bodies for compat.h: the 5.1/LuaJIT shims and oft_memory_error. */
#include "compat.h"

void oft_memory_error(lua_State *L) {
  luaL_error(L, "not enough memory");
  OFT_UNREACHABLE();
}

#if LUA_VERSION_NUM < 502 && !defined(LUA_JITLIBNAME)
void oft_compat_setfuncs(lua_State *L, const luaL_Reg *l, int nup) {
  luaL_checkstack(L, nup + 1, "too many upvalues");
  for (; l->name != NULL; l++) {
    int i;
    for (i = 0; i < nup; i++) lua_pushvalue(L, -nup);
    lua_pushcclosure(L, l->func, nup);
    lua_setfield(L, -(nup + 2), l->name);
  }
  lua_pop(L, nup);
}

void *oft_compat_testudata(lua_State *L, int i, const char *tname) {
  void *p = lua_touserdata(L, i);
  if (p == NULL || !lua_getmetatable(L, i)) return NULL;
  luaL_getmetatable(L, tname);
  if (!lua_rawequal(L, -1, -2)) p = NULL;
  lua_pop(L, 2);
  return p;
}
#endif
