/*
 * fuzz_url.c: libFuzzer target for codec.escape and codec.encode_query
 * (src/codec/url.c), through a real lua_State (Lua 5.4).
 *
 * For every input:
 *  - escape(input) holds only the kept path-segment bytes and upper-case
 *    %XX, decodes back to the input, and equals oft_url_encode's output;
 *  - the input split at NUL bytes into key, value, key, value ... as a
 *    table of strings: encode_query gives exactly one k=v per pair, keys in
 *    sorted order, only unreserved bytes / %XX / '=' / '&', and each k and v
 *    decode back to the pair they came from; with an empty key among them
 *    it answers nil, "query keys must not be empty" instead;
 *  - the input as JSON (when it decodes): encode_query either succeeds with
 *    one pair per scalar leaf (nulls and empty tables add none) in the same
 *    charset, or answers nil and why, which it may only do for a top level
 *    that is not an object, for tables nested deeper than 4 levels or for an
 *    object with an empty key; it never raises on a table.
 */
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "codec.h"
#include "fuzz_check.h"
#include "url.h"


static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1; /* lower case is not what we write */
}

/* Checks every byte of s[0..n) is kept by `set`, is one of `extra`, or
 * belongs to an upper-case %XX of a byte that needed it; decodes it into out
 * (room for n bytes) and returns the decoded length. */
static size_t check_decode(oft_url_set set, const char *extra, const char *s, size_t n,
                           char *out) {
  size_t i = 0, o = 0;
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    if (c == '%') {
      int hi, lo;
      CHECK(i + 2 < n);
      hi = hexval(s[i + 1]);
      lo = hexval(s[i + 2]);
      CHECK(hi >= 0 && lo >= 0);
      out[o] = (char)(hi << 4 | lo);
      CHECK(!oft_url_keeps(set, (unsigned char)out[o]));
      o++;
      i += 3;
    } else {
      CHECK(oft_url_keeps(set, c) || (extra && c != '\0' && strchr(extra, c)));
      out[o++] = (char)c;
      i++;
    }
  }
  return o;
}

static lua_State *new_state(void) {
  lua_State *L = luaL_newstate();
  CHECK(L != NULL);
  lua_newtable(L);
  oft_json_open(L);
  oft_url_open(L);
  lua_setglobal(L, "core");
  return L;
}

static void push_fn(lua_State *L, const char *name) {
  lua_getglobal(L, "core");
  lua_getfield(L, -1, name);
  lua_remove(L, -2);
}

static void check_escape(lua_State *L, const uint8_t *data, size_t size) {
  const char *out;
  size_t n;
  char *dec = malloc(size + 1), *c_out = malloc(3 * size + 1);
  CHECK(dec && c_out);
  push_fn(L, "escape");
  lua_pushlstring(L, (const char *)data, size);
  CHECK(lua_pcall(L, 1, 1, 0) == LUA_OK);
  out = lua_tolstring(L, -1, &n);
  CHECK(check_decode(OFT_URL_SEGMENT, NULL, out, n, dec) == size);
  CHECK(memcmp(dec, data, size) == 0);
  CHECK(oft_url_encode(OFT_URL_SEGMENT, (const char *)data, size, c_out) == n);
  CHECK(memcmp(c_out, out, n) == 0);
  lua_pop(L, 1);
  free(dec);
  free(c_out);
}

/* Byte order, as the encoder sorts keys. */
static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn) {
  int c = memcmp(a, b, an < bn ? an : bn);
  if (c) return c;
  return an < bn ? -1 : an > bn;
}

/* Pushes {key = value, ...} from data split at NUL bytes; returns how many
 * distinct keys it has and sets *has_empty when one of them is "". */
static size_t push_pairs(lua_State *L, const uint8_t *data, size_t size, int *has_empty) {
  const char *p = (const char *)data, *end = p + size;
  size_t keys = 0;
  *has_empty = 0;
  lua_newtable(L);
  while (p < end) {
    const char *k = p, *v;
    size_t kl;
    while (p < end && *p) p++;
    kl = (size_t)(p - k);
    if (kl == 0) *has_empty = 1;
    if (p < end) p++;
    v = p;
    while (p < end && *p) p++;
    lua_pushlstring(L, k, kl);
    lua_rawget(L, -2);
    if (lua_isnil(L, -1)) keys++;
    lua_pop(L, 1);
    lua_pushlstring(L, k, kl);
    lua_pushlstring(L, v, (size_t)(p - v));
    lua_rawset(L, -3); /* a repeated key: the last value wins */
    if (p < end) p++;
  }
  return keys;
}

static void check_flat_query(lua_State *L, const uint8_t *data, size_t size) {
  int top = lua_gettop(L), has_empty;
  size_t keys, n, i = 0, pairs = 0, prev_len = 0;
  const char *out;
  char *dec, *prev;
  keys = push_pairs(L, data, size, &has_empty); /* t */
  push_fn(L, "encode_query");
  lua_pushvalue(L, -2);
  CHECK(lua_pcall(L, 1, 2, 0) == LUA_OK); /* t out why: a table never raises */
  if (has_empty) {
    const char *msg = lua_tostring(L, -1);
    CHECK(lua_isnil(L, -2));
    CHECK(msg != NULL && strstr(msg, "query keys must not be empty") != NULL);
    lua_settop(L, top);
    return;
  }
  CHECK(lua_type(L, -2) == LUA_TSTRING && lua_isnil(L, -1)); /* string keys and values always encode */
  lua_pop(L, 1); /* t out */
  dec = malloc(size + 1);
  prev = malloc(size + 1);
  CHECK(dec && prev);
  out = lua_tolstring(L, -1, &n);
  while (i < n) {
    size_t j = i, eq, kl, vl;
    const char *want;
    size_t want_len;
    while (j < n && out[j] != '&') j++;
    for (eq = i; eq < j && out[eq] != '='; eq++) {}
    CHECK(eq < j);
    kl = check_decode(OFT_URL_QUERY, NULL, out + i, eq - i, dec);
    if (pairs > 0) CHECK(cmp_bytes(prev, prev_len, dec, kl) < 0); /* sorted, no repeats */
    memcpy(prev, dec, kl);
    prev_len = kl;
    lua_pushlstring(L, dec, kl);
    lua_rawget(L, -3);
    CHECK(lua_type(L, -1) == LUA_TSTRING); /* the key is one of ours */
    want = lua_tolstring(L, -1, &want_len);
    vl = check_decode(OFT_URL_QUERY, NULL, out + eq + 1, j - eq - 1, dec);
    CHECK(vl == want_len && memcmp(dec, want, vl) == 0); /* with its value */
    lua_pop(L, 1);
    pairs++;
    i = j + 1;
  }
  CHECK(pairs == keys);
  lua_settop(L, top);
  free(dec);
  free(prev);
}

/* Scalar leaves under the value at idx (nulls and empty tables give none);
 * *depth gets the deepest level at which a table sits (the top is 0) and
 * *has_empty is set when a table has the key "". */
static size_t count_leaves(lua_State *L, int idx, int level, int *depth, int *has_empty) {
  size_t count = 0;
  idx = lua_absindex(L, idx);
  switch (lua_type(L, idx)) {
    case LUA_TTABLE: break;
    case LUA_TLIGHTUSERDATA: return 0; /* codec.null */
    default: return 1;
  }
  if (level > *depth) *depth = level;
  luaL_checkstack(L, 4, "deep");
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) == LUA_TSTRING && lua_rawlen(L, -2) == 0) *has_empty = 1;
    count += count_leaves(L, -1, level + 1, depth, has_empty);
    lua_pop(L, 1);
  }
  return count;
}

static void check_json_query(lua_State *L, const uint8_t *data, size_t size) {
  int top = lua_gettop(L), depth = 0, has_empty = 0, may_encode;
  size_t leaves, n, i = 0, pairs = 0;
  const char *out;
  char *dec;
  push_fn(L, "json_decode");
  lua_pushlstring(L, (const char *)data, size);
  CHECK(lua_pcall(L, 1, 1, 0) == LUA_OK);
  if (lua_isnil(L, -1)) {
    lua_settop(L, top);
    return;
  }
  leaves = count_leaves(L, -1, 0, &depth, &has_empty);
  /* an object, or an empty array (no names, no pairs), with no table at
   * level 4 or below and no empty key */
  may_encode = lua_istable(L, -1) && depth < 4 && !has_empty;
  if (may_encode && lua_rawlen(L, -1) > 0) may_encode = 0; /* a non-empty list */
  push_fn(L, "encode_query");
  lua_pushvalue(L, -2);
  if (!lua_istable(L, -1)) { /* a scalar at the top: the one argument error */
    CHECK(lua_pcall(L, 1, 2, 0) != LUA_OK);
    CHECK(!may_encode);
    lua_settop(L, top);
    return;
  }
  CHECK(lua_pcall(L, 1, 2, 0) == LUA_OK); /* value out why */
  if (lua_isnil(L, -2)) {
    const char *msg = lua_tostring(L, -1);
    CHECK(msg != NULL);
    if (may_encode) {
      fprintf(stderr, "encode_query refused: %s\n", msg);
      abort();
    }
    if (lua_rawlen(L, -3) == 0 && (depth >= 4 || has_empty))
      CHECK((depth >= 4 && strstr(msg, "nested deeper than 4 levels") != NULL) ||
            (has_empty && strstr(msg, "query keys must not be empty") != NULL));
    lua_settop(L, top);
    return;
  }
  CHECK(may_encode && lua_isnil(L, -1));
  lua_pop(L, 1); /* value out */
  out = lua_tolstring(L, -1, &n);
  dec = malloc(n + 1);
  CHECK(dec != NULL);
  while (i < n) {
    size_t j = i;
    while (j < n && out[j] != '&') j++;
    CHECK(j > i && memchr(out + i, '=', j - i) != NULL);
    check_decode(OFT_URL_QUERY, "=", out + i, j - i, dec);
    pairs++;
    i = j + 1;
  }
  CHECK(pairs == leaves);
  free(dec);
  lua_settop(L, top);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lua_State *L;
  if (size > (1u << 16)) return 0;
  L = new_state();
  check_escape(L, data, size);
  check_flat_query(L, data, size);
  check_json_query(L, data, size);
  lua_close(L);
  return 0;
}
