/*
 * compat.h: the one place that knows which Lua C API we are compiled against,
 * included by every Lua-facing file of both modules (and by no Lua-free one).
 * Lua 5.1 and LuaJIT (5.1 API), 5.2, 5.3 and 5.4 are supported; the rest of the
 * sources use the 5.4 names and this header maps them down.
 */
#ifndef OFT_COMPAT_H
#define OFT_COMPAT_H

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "util.h"

/* Raises Lua's "not enough memory" error. */
OFT_NORETURN void oft_memory_error(lua_State *L);

#if LUA_VERSION_NUM < 502
/* 5.1 / LuaJIT */
#define lua_rawlen(L, i)              lua_objlen((L), (i))
#define lua_absindex(L, i)            (((i) > 0 || (i) <= LUA_REGISTRYINDEX) ? (i) : lua_gettop(L) + (i) + 1)
#ifndef LUA_JITLIBNAME
/* plain 5.1; LuaJIT 2.1 already has these 5.2 functions */
#define luaL_setfuncs(L, l, n)        oft_compat_setfuncs((L), (l), (n))
#define luaL_newlibtable(L, l)        lua_createtable((L), 0, (int)(sizeof(l) / sizeof((l)[0]) - 1))
#define luaL_newlib(L, l)             (luaL_newlibtable((L), (l)), luaL_setfuncs((L), (l), 0))
#define luaL_setmetatable(L, tname)   (luaL_getmetatable((L), (tname)), lua_setmetatable((L), -2))
#define luaL_testudata(L, i, tname)   oft_compat_testudata((L), (i), (tname))
void oft_compat_setfuncs(lua_State *L, const luaL_Reg *l, int nup);
void *oft_compat_testudata(lua_State *L, int i, const char *tname);
#endif
#endif

#if LUA_VERSION_NUM < 503
/* no integer subtype before 5.3: every number is a lua_Number */
#define lua_isinteger(L, i)           0
#endif

#if LUA_VERSION_NUM < 504
#define lua_newuserdatauv(L, sz, nuv) lua_newuserdata((L), (sz))
#define luaL_pushfail(L)              lua_pushnil(L)
#endif

/*
 * One user value per userdata, always a table (the client keeps its Lua-side
 * references there). Use as statements: the return types differ by version.
 * 5.1/LuaJIT: the userdata's environment table; 5.2/5.3: the single user value.
 */
#if LUA_VERSION_NUM < 502
#define lua_getiuservalue(L, i, n)    lua_getfenv((L), (i))
#define lua_setiuservalue(L, i, n)    lua_setfenv((L), (i))
#elif LUA_VERSION_NUM < 504
#define lua_getiuservalue(L, i, n)    lua_getuservalue((L), (i))
#define lua_setiuservalue(L, i, n)    lua_setuservalue((L), (i))
#endif

#endif /* OFT_COMPAT_H */
