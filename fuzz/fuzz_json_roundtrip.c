/*
 * fuzz_json_roundtrip.c: libFuzzer target for codec.json_decode/json_encode
 * through a real lua_State (Lua 5.4, src/codec/json_lua.c + src/codec/json_parse.c).
 *
 * For every input:
 *  - json_decode(input) returns a value, or nil and "... at byte N" with
 *    1 <= N <= #input + 1; it never raises;
 *  - a decoded value always encodes; encode(decode(input)) = s1 decodes to a
 *    value deep-equal to the first (empty arrays keep codec.array_mt) and
 *    encodes to s1 again (the encoding is canonical);
 *  - then the same decode/encode run again under an allocator that fails
 *    after a budget taken from the input: a Lua memory error may come out,
 *    but nothing leaks (LeakSanitizer) and nothing is touched after free.
 */
#include <math.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "codec.h"
#include "fuzz_check.h"
#include "json_lua.h"


typedef struct limit {
  size_t used, cap; /* bytes; cap 0 = no limit */
  int failed;
} limit;

/* The state's allocator: the codec's own buffers come from it too (on PUC
 * Lua), so running out part-way exercises their error paths as well. */
static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  limit *l = (limit *)ud;
  if (ptr == NULL) osize = 0;
  if (nsize == 0) {
    free(ptr);
    l->used -= osize;
    return NULL;
  }
  if (l->cap && nsize > osize && l->used + (nsize - osize) > l->cap) {
    l->failed = 1;
    return NULL;
  }
  ptr = realloc(ptr, nsize);
  if (ptr) l->used += nsize - osize;
  return ptr;
}

/* Deep equality of the values at a and b: same types, same numbers (and
 * number subtypes), same strings, same keys, same metatables. */
static int same_value(lua_State *L, int a, int b, int depth) {
  int ok = 1;
  a = lua_absindex(L, a);
  b = lua_absindex(L, b);
  if (lua_type(L, a) != lua_type(L, b)) return 0;
  if (lua_type(L, a) == LUA_TNUMBER && lua_isinteger(L, a) != lua_isinteger(L, b)) return 0;
  if (lua_type(L, a) != LUA_TTABLE) return lua_rawequal(L, a, b);
  CHECK(depth < 600);
  luaL_checkstack(L, 8, "deep");
  if (lua_getmetatable(L, a)) {
    if (!lua_getmetatable(L, b)) ok = 0;
    else {
      ok = lua_rawequal(L, -1, -2);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  } else if (lua_getmetatable(L, b)) {
    lua_pop(L, 1);
    ok = 0;
  }
  if (!ok) return 0;
  if (lua_rawlen(L, a) != lua_rawlen(L, b)) return 0;
  lua_pushnil(L);
  while (ok && lua_next(L, a)) { /* every key of a is in b with an equal value */
    lua_pushvalue(L, -2);
    lua_rawget(L, b);
    ok = same_value(L, -2, -1, depth + 1);
    lua_pop(L, 2);
  }
  if (!ok) {
    lua_pop(L, 1);
    return 0;
  }
  lua_pushnil(L);
  while (ok && lua_next(L, b)) { /* and b has no others */
    lua_pushvalue(L, -2);
    lua_rawget(L, a);
    ok = !lua_isnil(L, -1);
    lua_pop(L, 2);
  }
  if (!ok) lua_pop(L, 1);
  return ok;
}

/* Calls global fn (D or E) under lua_pcall. */
static int call(lua_State *L, const char *fn, int nargs, int nres) {
  lua_getglobal(L, fn);
  lua_insert(L, -(nargs + 1));
  return lua_pcall(L, nargs, nres, 0);
}

/* ---- planting a value JSON cannot hold ------------------------------------- */

typedef struct bad_value {
  const char *reason; /* how the encoder's message must end */
  int exact_path;     /* the message names exactly the planted place */
} bad_value;

static const bad_value BAD[] = {
  {"cannot encode function", 1},
  {"cannot encode NaN", 1},
  {"cannot encode -inf", 1},
  {"cannot encode table key of type boolean", 1},
  {"cannot encode sparse array (keys are not 1..n; use codec.null for holes)", 1},
  {"cannot encode table with both array and object keys", 1},
  {"invalid UTF-8 in string at byte 2", 1},
  {"nesting deeper than 512 (is there a cycle?)", 0},
  {"cannot encode light userdata", 1},
  {"cannot encode table marked as array with string keys", 1},
  {"invalid UTF-8 in key at byte 1", 0},
};

static int noop(lua_State *L) {
  (void)L;
  return 0;
}

/* Pushes bad value number `which`. */
static void push_bad(lua_State *L, int which) {
  static char marker;
  switch (which) {
    case 0: lua_pushcfunction(L, noop); break;
    case 1: lua_pushnumber(L, (lua_Number)NAN); break;
    case 2: lua_pushnumber(L, -(lua_Number)HUGE_VAL); break;
    case 3: /* {[true] = 1} */
      lua_newtable(L);
      lua_pushboolean(L, 1);
      lua_pushinteger(L, 1);
      lua_rawset(L, -3);
      break;
    case 4: /* {1, nil, 3} */
      lua_newtable(L);
      lua_pushinteger(L, 1);
      lua_rawseti(L, -2, 1);
      lua_pushinteger(L, 3);
      lua_rawseti(L, -2, 3);
      break;
    case 5: /* {1, x = 1} */
      lua_newtable(L);
      lua_pushinteger(L, 1);
      lua_rawseti(L, -2, 1);
      lua_pushinteger(L, 1);
      lua_setfield(L, -2, "x");
      break;
    case 6: lua_pushliteral(L, "a\xff"); break;
    case 7: /* t = {t = t} */
      lua_newtable(L);
      lua_pushvalue(L, -1);
      lua_setfield(L, -2, "t");
      break;
    case 8: lua_pushlightuserdata(L, &marker); break;
    case 9: /* setmetatable({x = 1}, codec.array_mt) */
      lua_newtable(L);
      lua_pushinteger(L, 1);
      lua_setfield(L, -2, "x");
      luaL_getmetatable(L, OFT_ARRAY_MT);
      lua_setmetatable(L, -2);
      break;
    default: /* {["\xff" .. "1"] = 1} */
      lua_newtable(L);
      lua_pushliteral(L, "\xff" "1");
      lua_pushinteger(L, 1);
      lua_rawset(L, -3);
  }
}

static int is_identifier(const char *s, size_t len) {
  size_t i;
  if (len == 0 || len > 64 || (s[0] >= '0' && s[0] <= '9')) return 0;
  for (i = 0; i < len; i++) {
    char c = s[i];
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
      return 0;
  }
  return 1;
}

/* Appends one step to the expected path; 0 when it cannot be written the
 * way the encoder does without its quoting rules (or is too long). */
static int path_step(lua_State *L, int key, char *want, size_t *wlen, size_t cap) {
  char step[80];
  int n;
  if (lua_type(L, key) == LUA_TNUMBER) {
    n = snprintf(step, sizeof step, "[%lld]", (long long)lua_tointeger(L, key));
  } else {
    size_t kl;
    const char *k = lua_tolstring(L, key, &kl);
    if (!is_identifier(k, kl)) return 0;
    n = snprintf(step, sizeof step, ".%s", k);
  }
  if (*wlen + (size_t)n >= cap) return 0;
  memcpy(want + *wlen, step, (size_t)n);
  *wlen += (size_t)n;
  return 1;
}

/* Replaces one place in the value v on top of the stack (chosen by the
 * input's bytes; v itself if it is a scalar or empty) with a bad value and
 * checks json_encode raises "<path to that place>: <reason>". Pops v. */
static void spoil_check(lua_State *L, const uint8_t *data, size_t size) {
  char want[1024] = "$";
  size_t wlen = 1, pos = 0, mlen, rlen;
  int which = size ? data[0] % (int)(sizeof BAD / sizeof BAD[0]) : 0, depth = 0, exact;
  const char *msg;
  exact = BAD[which].exact_path;
  lua_pushvalue(L, -1); /* v c: the table we look into */
  for (;;) {
    int count = 0, pick, i;
    if (lua_istable(L, -1)) {
      lua_pushnil(L);
      while (lua_next(L, -2)) {
        count++;
        lua_pop(L, 1);
      }
    }
    if (count == 0) { /* a scalar or an empty table: replace v as a whole */
      lua_pop(L, 2);
      push_bad(L, which);
      wlen = 1;
      depth = 0;
      break;
    }
    pick = size ? data[(pos++ * 7 + 1) % size] % count : 0;
    lua_pushnil(L);
    for (i = 0; lua_next(L, -2); i++) {
      if (i == pick) break; /* v c key value */
      lua_pop(L, 1);
    }
    if (!path_step(L, -2, want, &wlen, sizeof want)) exact = 0;
    depth++;
    if (lua_istable(L, -1) && size && (data[(pos++ * 13 + 3) % size] & 1)) {
      lua_remove(L, -2); /* v c value */
      lua_remove(L, -2); /* v value: look into it */
      continue;
    }
    lua_pop(L, 1); /* v c key */
    push_bad(L, which);
    lua_rawset(L, -3);
    lua_pop(L, 1); /* v, with the bad value inside */
    break;
  }
  if (depth > 16) exact = 0; /* the message elides the middle of long paths */
  want[wlen] = '\0';
  if (call(L, "E", 1, 1) == LUA_OK) {
    fprintf(stderr, "encoded a value holding bad value %d at %s\n", which, want);
    abort();
  }
  msg = lua_tolstring(L, -1, &mlen);
  rlen = strlen(BAD[which].reason);
  CHECK(msg != NULL && msg[0] == '$' && mlen > rlen + 2);
  CHECK(memcmp(msg + mlen - rlen - 2, ": ", 2) == 0);
  CHECK(memcmp(msg + mlen - rlen, BAD[which].reason, rlen) == 0);
  if (exact && !(mlen - rlen - 2 == wlen && memcmp(msg, want, wlen) == 0)) {
    fprintf(stderr, "wanted path %s, got: %s\n", want, msg);
    abort();
  }
  lua_pop(L, 1);
}

/* Loads decode/encode into globals D and E. */
static lua_State *new_state(limit *l) {
  lua_State *L = lua_newstate(limited_alloc, l);
  CHECK(L != NULL);
  lua_newtable(L);
  oft_json_open(L);
  lua_getfield(L, -1, "json_decode");
  lua_setglobal(L, "D");
  lua_getfield(L, -1, "json_encode");
  lua_setglobal(L, "E");
  lua_pop(L, 1);
  return L;
}

static void full_check(const uint8_t *data, size_t size) {
  limit l = {0, 0, 0};
  lua_State *L = new_state(&l);
  size_t n1, n2;
  const char *s1, *s2;
  lua_pushlstring(L, (const char *)data, size);
  CHECK(call(L, "D", 1, 2) == LUA_OK); /* decode never raises on bad text */
  if (lua_isnil(L, -2)) {
    const char *msg = lua_tostring(L, -1), *at;
    unsigned long long pos;
    CHECK(msg != NULL);
    at = strstr(msg, " at byte ");
    CHECK(at != NULL);
    pos = strtoull(at + 9, NULL, 10);
    CHECK(pos >= 1 && pos <= (unsigned long long)size + 1);
    lua_close(L);
    return;
  }
  lua_pop(L, 1);                       /* v */
  lua_pushvalue(L, -1);
  if (call(L, "E", 1, 1) != LUA_OK) {  /* v s1 */
    fprintf(stderr, "decoded value does not encode: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_pushvalue(L, -1);
  CHECK(call(L, "D", 1, 2) == LUA_OK); /* v s1 v2 nil */
  lua_pop(L, 1);
  CHECK(!lua_isnil(L, -1));
  CHECK(same_value(L, -3, -1, 0));
  lua_pushvalue(L, -1);
  CHECK(call(L, "E", 1, 1) == LUA_OK); /* v s1 v2 s2 */
  s1 = lua_tolstring(L, -3, &n1);
  s2 = lua_tolstring(L, -1, &n2);
  CHECK(n1 == n2 && memcmp(s1, s2, n1) == 0);
  lua_pop(L, 3); /* v */
  spoil_check(L, data, size);
  lua_close(L);
}

/* The same work with memory running out part-way: errors allowed, damage not. */
static void starved_run(const uint8_t *data, size_t size) {
  limit l = {0, 0, 0};
  lua_State *L = new_state(&l);
  /* a budget from three bytes of the input: from nothing up to the codec's
   * userdata (~16 KB each) and some 8x the input */
  size_t extra = size ? ((size_t)data[0] << 16 | (size_t)data[size / 2] << 8 | data[size - 1])
                          % (2 * sizeof(oft_scratch) + 8 * size + 64)
                      : 0;
  lua_pushlstring(L, (const char *)data, size); /* unprotected: before the limit */
  l.cap = l.used + extra;
  if (call(L, "D", 1, 1) == LUA_OK && !lua_isnil(L, -1)) {
    if (call(L, "E", 1, 1) == LUA_OK) { /* the text must still be right */
      size_t n;
      const char *s = lua_tolstring(L, -1, &n);
      l.cap = 0;
      lua_pushlstring(L, s, n);
      CHECK(call(L, "D", 1, 1) == LUA_OK);
      CHECK(!lua_isnil(L, -1));
    }
  }
  l.cap = 0;
  lua_close(L);
  CHECK(l.used == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > (1u << 20)) return 0;
  full_check(data, size);
  starved_run(data, size);
  return 0;
}
