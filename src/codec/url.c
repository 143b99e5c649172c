/*
 * url.c: codec.escape (one path segment) and codec.encode_query (a query
 * string the way openai-python and openai-node write it: keys sorted,
 * metadata[k]=v, tags[]=v, true/false), rules in HACKING.md "URLs".
 */
#include <string.h>

#include "codec.h"
#include "json_lua.h"
#include "url.h"

/* Tables may nest this deep below the query table: a[b][c]=v is depth 3. */
#define QUERY_MAX_DEPTH 4

static const char HEX[] = "0123456789ABCDEF";

int oft_url_keeps(oft_url_set set, unsigned char c) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return 1;
  switch (c) {
    case '-':
    case '.':
    case '_':
    case '~': return 1;
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
    case ':':
    case '@': return set == OFT_URL_SEGMENT;
    default: return 0;
  }
}

size_t oft_url_encode(oft_url_set set, const char *s, size_t len, char *out) {
  size_t i, o = 0;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (oft_url_keeps(set, c)) {
      out[o++] = (char)c;
    } else {
      out[o++] = '%';
      out[o++] = HEX[c >> 4];
      out[o++] = HEX[c & 15];
    }
  }
  return o;
}

/* ---- codec.escape ------------------------------------------------------------- */

static int url_escape(lua_State *L) {
  size_t len, i, out_len;
  const char *s = luaL_checklstring(L, 1, &len);
  char *out;
  for (i = 0; i < len; i++)
    if (!oft_url_keeps(OFT_URL_SEGMENT, (unsigned char)s[i])) break;
  if (i == len) { /* nothing to encode: the argument is the answer */
    lua_settop(L, 1);
    return 1;
  }
  if (len > ((size_t)-1) / 3) return luaL_error(L, "not enough memory");
  out = (char *)lua_newuserdatauv(L, 3 * len, 0); /* collected, never leaked */
  out_len = oft_url_encode(OFT_URL_SEGMENT, s, len, out);
  lua_pushlstring(L, out, out_len);
  return 1;
}

/* ---- codec.encode_query ------------------------------------------------------- */

/* Stack slot of the why of a value that cannot be encoded (nil until then). */
#define QUERY_WHY 3

typedef struct query {
  lua_State *L;
  oft_scratch *sc;
  int pairs; /* written so far */
} query;

/* Puts "<key>: <msg>" (or msg at the top level) in QUERY_WHY and returns 0,
 * which every caller passes up: a bad value is an answer (nil, why), so the
 * client layer words its misuse without reading a Lua error message. */
static int query_fail(const query *q, const char *msg) {
  lua_State *L = q->L;
  if (q->sc->depth > 0) {
    oft_push_path(L, q->sc, OFT_PATH_QUERY);
    lua_pushfstring(L, "%s: %s", lua_tostring(L, -1), msg);
    lua_replace(L, QUERY_WHY);
    lua_pop(L, 1);
  } else {
    lua_pushstring(L, msg);
    lua_replace(L, QUERY_WHY);
  }
  return 0;
}

static void add_encoded(const query *q, const char *s, size_t len) {
  oft_scratch *sc = q->sc;
  if (len > ((size_t)-1) / 3) luaL_error(q->L, "not enough memory");
  oft_scratch_reserve(q->L, sc, 3 * len);
  sc->out_len += oft_url_encode(OFT_URL_QUERY, s, len, sc->out + sc->out_len);
}

/* Writes "<key of the current path>=<value>": metadata%5Bk%5D=v, tags%5B%5D=v. */
static void add_pair(query *q, const char *value, size_t len) {
  oft_scratch *sc = q->sc;
  int i;
  if (q->pairs++ > 0) oft_scratch_add(q->L, sc, "&", 1);
  for (i = 1; i <= sc->depth; i++) {
    const oft_path_seg *seg = &sc->path[i];
    if (i > 1) oft_scratch_add(q->L, sc, "%5B", 3);
    if (!seg->is_index) add_encoded(q, sc->kb + seg->key_off, seg->key_len);
    if (i > 1) oft_scratch_add(q->L, sc, "%5D", 3);
  }
  oft_scratch_add(q->L, sc, "=", 1);
  add_encoded(q, value, len);
}

static int query_value(query *q, int idx);

/* Writes every member (sorted) or element of the table at idx; 0 when a
 * value cannot be encoded (query_fail). */
static int query_table(query *q, int idx) {
  lua_State *L = q->L;
  oft_scratch *sc = q->sc;
  oft_shape_info info;
  size_t i;
  luaL_checkstack(L, 6, "query nesting too deep");
  oft_table_shape(L, idx, sc, &info);
  switch (info.shape) {
    case OFT_SHAPE_BAD: return query_fail(q, info.why);
    case OFT_SHAPE_EMPTY: break; /* an empty list or object adds nothing, as in the SDKs */
    case OFT_SHAPE_ARRAY:
      if (sc->depth == 0) return query_fail(q, "query must be a table with string keys, not a list");
      for (i = 1; i <= info.n; i++) {
        lua_rawgeti(L, idx, (int)i);
        oft_path_push_index(sc, i);
        if (!query_value(q, lua_gettop(L))) return 0;
        sc->depth--;
        lua_pop(L, 1);
      }
      break;
    case OFT_SHAPE_OBJECT:
      for (i = 0; i < info.n; i++) {
        const oft_key *k = &sc->keys[info.first_key + i];
        /* "=v" or "a%5B%5D=v" would read as another parameter (or none) */
        if (k->len == 0) return query_fail(q, "query keys must not be empty");
        lua_pushlstring(L, sc->kb + k->off, k->len);
        lua_rawget(L, idx);
        oft_path_push_key(sc, &sc->keys[info.first_key + i]);
        if (!query_value(q, lua_gettop(L))) return 0;
        sc->depth--;
        lua_pop(L, 1);
      }
      oft_keys_pop(sc, &info);
      break;
  }
  return 1;
}

/* Writes the value at idx under the current path; 0 as query_table. */
static int query_value(query *q, int idx) {
  lua_State *L = q->L;
  char num[OFT_NUMBUF];
  size_t len;
  const char *s;
  switch (lua_type(L, idx)) {
    case LUA_TNIL: break; /* skipped, as the SDKs drop None / undefined */
    case LUA_TBOOLEAN:
      if (lua_toboolean(L, idx)) add_pair(q, "true", 4);
      else add_pair(q, "false", 5);
      break;
    case LUA_TNUMBER:
      len = oft_number_text(L, idx, num);
      if (len == 0) return query_fail(q, "cannot encode NaN or inf");
      add_pair(q, num, len);
      break;
    case LUA_TSTRING:
      s = lua_tolstring(L, idx, &len);
      add_pair(q, s, len);
      break;
    case LUA_TTABLE:
      if (q->sc->depth >= QUERY_MAX_DEPTH) return query_fail(q, "tables nested deeper than 4 levels");
      return query_table(q, idx);
    case LUA_TLIGHTUSERDATA:
      if (lua_touserdata(L, idx) == NULL) break; /* codec.null: no value, like nil */
      return query_fail(q, "cannot encode light userdata");
    default: {
      const char *msg = lua_pushfstring(L, "cannot encode %s", luaL_typename(L, idx));
      return query_fail(q, msg);
    }
  }
  return 1;
}

/* The query string, or nil and why when a value cannot be encoded; a
 * non-table argument raises (a programming error, as in every codec function). */
static int encode_query(lua_State *L) {
  query q;
  int ok;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  q.L = L;
  q.sc = oft_scratch_new(L); /* at 2; its __gc frees the buffers if we raise */
  lua_pushnil(L);            /* at QUERY_WHY */
  q.pairs = 0;
  ok = query_table(&q, 1);
  if (ok) lua_pushlstring(L, q.sc->out ? q.sc->out : "", q.sc->out_len);
  oft_scratch_trim(q.sc, 0);
  if (ok) return 1;
  lua_pushnil(L);
  lua_pushvalue(L, QUERY_WHY);
  return 2;
}

void oft_url_open(lua_State *L) {
  lua_pushcfunction(L, url_escape);
  lua_setfield(L, -2, "escape");
  lua_pushcfunction(L, encode_query);
  lua_setfield(L, -2, "encode_query");
}
