/* args.c: typed reads of option-table fields, raising errors that name the field. */
#include <string.h>

#include "args.h"

void oft_arg_fail(lua_State *L, int arg, const char *where, const char *name, const char *what) {
  luaL_argerror(L, arg, lua_pushfstring(L, "%s%s %s", where, name, what));
  OFT_UNREACHABLE();
}

/* Raises "<where><name> must be <expected>, got <type of the value on top>". */
OFT_NORETURN static void type_fail(lua_State *L, int arg, const char *where, const char *name,
                                   const char *expected) {
  const char *what = lua_pushfstring(L, "must be %s, got %s", expected, luaL_typename(L, -1));
  oft_arg_fail(L, arg, where, name, what);
}

const char *oft_arg_string(lua_State *L, int t, const char *name, int arg,
                           const char *where, size_t *len) {
  const char *s;
  size_t n;
  lua_getfield(L, t, name);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return NULL;
  }
  if (lua_type(L, -1) != LUA_TSTRING) type_fail(L, arg, where, name, "a string");
  s = lua_tolstring(L, -1, &n);
  if (len != NULL) *len = n;
  else if (strlen(s) != n) oft_arg_fail(L, arg, where, name, "must not contain NUL");
  lua_pop(L, 1); /* still anchored by the table */
  return s;
}

int oft_arg_number(lua_State *L, int t, const char *name, int arg,
                   const char *where, double *out) {
  double v;
  lua_getfield(L, t, name);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  if (lua_type(L, -1) != LUA_TNUMBER) type_fail(L, arg, where, name, "a number");
  v = (double)lua_tonumber(L, -1);
  if (!(v >= 0)) oft_arg_fail(L, arg, where, name, "must be >= 0"); /* also NaN */
  lua_pop(L, 1);
  *out = v;
  return 1;
}

int oft_arg_boolean(lua_State *L, int t, const char *name, int arg,
                    const char *where, int dflt) {
  int v = dflt;
  lua_getfield(L, t, name);
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TBOOLEAN) type_fail(L, arg, where, name, "a boolean");
    v = lua_toboolean(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

static int arg_typed(lua_State *L, int t, const char *name, int arg, const char *where,
                     int type, const char *expected) {
  lua_getfield(L, t, name);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  if (lua_type(L, -1) != type) type_fail(L, arg, where, name, expected);
  return lua_gettop(L);
}

int oft_arg_table(lua_State *L, int t, const char *name, int arg, const char *where) {
  return arg_typed(L, t, name, arg, where, LUA_TTABLE, "a table");
}

int oft_arg_function(lua_State *L, int t, const char *name, int arg, const char *where) {
  return arg_typed(L, t, name, arg, where, LUA_TFUNCTION, "a function");
}

/* A year: beyond it a timeout means "none" rather than an overflow. */
#define LONGEST 31536000.0

long oft_ms(double seconds) {
  double ms = seconds * 1000.0;
  long r;
  if (!(seconds > 0) || seconds > LONGEST) return 0;
  r = (long)ms;
  return (double)r < ms ? r + 1 : r;
}
