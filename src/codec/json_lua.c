/*
 * json_lua.c: codec.json_decode, codec.json_encode, codec.null, codec.array_mt
 * (rules in HACKING.md "JSON").
 *
 * Memory: the parser arena lives in a userdata (json_doc) and the encoder's
 * buffers in another (scratch); each function keeps one of its own in upvalue
 * 1 and takes it out for the duration of a call, so a nested call (from a
 * finalizer) gets a fresh one and a Lua error that unwinds mid-call simply
 * leaves the userdata to the collector, whose __gc frees the buffers.
 */
#include <float.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "json_lua.h"
#include "json_parse.h"

#define DOC_MT "openai.finetunes.codec.json_doc"
#define SCRATCH_MT "openai.finetunes.codec.scratch"

/* Buffers up to this size are kept for the next call; bigger ones are freed. */
#define KEEP_BYTES ((size_t)1 << 20)

/* ---- numbers ---------------------------------------------------------------- */

/*
 * Shortest "%.Ng" that reads back as d, written the way Python's repr does
 * (plain digits below 1e16, an exponent above), with ".0" added to
 * integral-looking text. For a normal double whose shortest form has at most
 * 15 digits, %.15g finds exactly that form (the 15-digit grid is coarser than
 * the double's rounding interval), so only subnormals need a longer search.
 */
static size_t format_double(char *buf, double d) {
  char dp = localeconv()->decimal_point[0];
  int prec, len = 0, integral = 1, i;
  const char *e;
  for (prec = (fabs(d) < DBL_MIN ? 1 : 15); prec <= 17; prec++) {
    len = snprintf(buf, OFT_NUMBUF, "%.*g", prec, d);
    if (strtod(buf, NULL) == d) break;
  }
  if ((e = strchr(buf, 'e')) != NULL) {
    int exp10 = atoi(e + 1);
    if (exp10 >= 0 && exp10 < 16) len = snprintf(buf, OFT_NUMBUF, "%.0f", d); /* integral */
  }
  for (i = 0; i < len; i++) {
    if (buf[i] == dp) buf[i] = '.'; /* the C library follows os.setlocale */
    if (buf[i] == '.' || buf[i] == 'e') integral = 0;
  }
  if (integral) {
    buf[len++] = '.';
    buf[len++] = '0';
    buf[len] = '\0';
  }
  return (size_t)len;
}

size_t oft_number_text(lua_State *L, int idx, char *buf) {
  lua_Number d;
  if (lua_isinteger(L, idx))
    return (size_t)snprintf(buf, OFT_NUMBUF, "%lld", (long long)lua_tointeger(L, idx));
  d = lua_tonumber(L, idx);
  if (d != d || d == (lua_Number)HUGE_VAL || d == -(lua_Number)HUGE_VAL) return 0;
#if LUA_VERSION_NUM < 503
  /* no integer subtype: integral values are what the user meant as integers */
  if (floor(d) == d && fabs(d) < 9007199254740992.0)
    return (size_t)snprintf(buf, OFT_NUMBUF, "%lld", (long long)d);
#endif
  return format_double(buf, (double)d);
}

/* ---- memory ----------------------------------------------------------------- */

/* The state's allocator, so buffers count against an embedder's limit; on
 * LuaJIT libc's, since LuaJIT's own may be confined to the low 2 GB. */
static lua_Alloc buffer_alloc(lua_State *L, void **ud) {
#ifdef LUA_JITLIBNAME
  (void)L;
  *ud = NULL;
  return oft_json_libc_alloc;
#else
  return lua_getallocf(L, ud);
#endif
}

/* ---- scratch buffers ---------------------------------------------------------- */

static int scratch_gc(lua_State *L) {
  oft_scratch_trim((oft_scratch *)luaL_checkudata(L, 1, SCRATCH_MT), 0);
  return 0;
}

oft_scratch *oft_scratch_new(lua_State *L) {
  oft_scratch *sc = (oft_scratch *)lua_newuserdatauv(L, sizeof *sc, 0);
  sc->alloc = buffer_alloc(L, &sc->alloc_ud);
  sc->out = sc->kb = NULL;
  sc->keys = NULL;
  sc->out_len = sc->out_cap = sc->kb_len = sc->kb_cap = sc->nkeys = sc->keys_cap = 0;
  sc->depth = 0;
  if (luaL_newmetatable(L, SCRATCH_MT)) {
    lua_pushcfunction(L, scratch_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return sc;
}

void oft_scratch_trim(oft_scratch *sc, size_t keep_bytes) {
  sc->out_len = sc->kb_len = sc->nkeys = 0;
  sc->depth = 0;
  if (sc->out_cap > keep_bytes) {
    sc->alloc(sc->alloc_ud, sc->out, sc->out_cap, 0);
    sc->out = NULL;
    sc->out_cap = 0;
  }
  if (sc->kb_cap > keep_bytes) {
    sc->alloc(sc->alloc_ud, sc->kb, sc->kb_cap, 0);
    sc->kb = NULL;
    sc->kb_cap = 0;
  }
  if (sc->keys_cap * sizeof(oft_key) > keep_bytes) {
    sc->alloc(sc->alloc_ud, sc->keys, sc->keys_cap * sizeof(oft_key), 0);
    sc->keys = NULL;
    sc->keys_cap = 0;
  }
}

/* Makes room for `more` items of `size` bytes after `len` in *buf. */
static void *grow(lua_State *L, const oft_scratch *sc, void *buf, size_t *cap, size_t len,
                  size_t more, size_t size) {
  size_t need, ncap;
  if (buf != NULL && *cap - len >= more) return buf; /* (never NULL + 0 for callers) */
  if (more > ((size_t)-1 / size) - len) luaL_error(L, "not enough memory");
  need = len + more;
  ncap = *cap ? *cap : 256;
  while (ncap < need) ncap = ncap > (size_t)-1 / (2 * size) ? need : ncap * 2;
  buf = sc->alloc(sc->alloc_ud, buf, *cap * size, ncap * size);
  if (buf == NULL) luaL_error(L, "not enough memory"); /* the old block is still owned */
  *cap = ncap;
  return buf;
}

char *oft_scratch_reserve(lua_State *L, oft_scratch *sc, size_t n) {
  sc->out = (char *)grow(L, sc, sc->out, &sc->out_cap, sc->out_len, n, 1);
  return sc->out + sc->out_len;
}

void oft_scratch_add(lua_State *L, oft_scratch *sc, const char *s, size_t n) {
  if (n == 0) return;
  memcpy(oft_scratch_reserve(L, sc, n), s, n);
  sc->out_len += n;
}

/* Takes the function's cached scratch out of upvalue 1 (or makes one); its
 * userdata is left on top of the stack. */
static oft_scratch *take_scratch(lua_State *L) {
  oft_scratch *sc;
  if (lua_type(L, lua_upvalueindex(1)) != LUA_TUSERDATA) return oft_scratch_new(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  sc = (oft_scratch *)lua_touserdata(L, -1);
  lua_pushnil(L);
  lua_replace(L, lua_upvalueindex(1));
  return sc;
}

/* ---- tables: array or object ------------------------------------------------ */

static void add_key(lua_State *L, oft_scratch *sc, const char *k, size_t len) {
  oft_key *key;
  sc->kb = (char *)grow(L, sc, sc->kb, &sc->kb_cap, sc->kb_len, len, 1);
  sc->keys = (oft_key *)grow(L, sc, sc->keys, &sc->keys_cap, sc->nkeys, 1, sizeof(oft_key));
  memcpy(sc->kb + sc->kb_len, k, len);
  key = &sc->keys[sc->nkeys++];
  key->off = sc->kb_len;
  key->len = len;
  sc->kb_len += len;
}

static int cmp_keys(const void *a, const void *b) {
  const oft_key *x = (const oft_key *)a, *y = (const oft_key *)b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = n ? memcmp(x->p, y->p, n) : 0;
  if (c) return c;
  return x->len < y->len ? -1 : x->len > y->len;
}

static void sort_keys(oft_scratch *sc, size_t first, size_t n) {
  size_t i;
  /* qsort has no context argument: give each key its address for the sort
   * (kb cannot move while sorting) */
  for (i = first; i < first + n; i++) sc->keys[i].p = sc->kb + sc->keys[i].off;
  qsort(sc->keys + first, n, sizeof(oft_key), cmp_keys);
}

static int has_array_mt(lua_State *L, int idx) {
  int same;
  if (!lua_getmetatable(L, idx)) return 0;
  luaL_getmetatable(L, OFT_ARRAY_MT);
  same = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return same;
}

/* Whether the number at idx is a table key an array can have (1, 2, ...). */
static int array_key(lua_State *L, int idx, size_t *out) {
#if LUA_VERSION_NUM >= 503
  /* Lua stores integral float keys as integers, so a float key is never one */
  if (lua_isinteger(L, idx)) {
    lua_Integer v = lua_tointeger(L, idx);
    if (v >= 1) {
      *out = (size_t)v; /* a 32-bit size_t cannot hold that many entries anyway */
      return 1;
    }
  }
  return 0;
#else
  lua_Number v = lua_tonumber(L, idx);
  if (v >= 1 && v <= 9007199254740992.0 && floor(v) == v) {
    *out = (size_t)v;
    return 1;
  }
  return 0;
#endif
}

static const char *bad_key_message(int type) {
  switch (type) {
    case LUA_TBOOLEAN: return "cannot encode table key of type boolean";
    case LUA_TTABLE: return "cannot encode table key of type table";
    case LUA_TFUNCTION: return "cannot encode table key of type function";
    case LUA_TTHREAD: return "cannot encode table key of type thread";
    default: return "cannot encode table key of type userdata";
  }
}

void oft_table_shape(lua_State *L, int idx, oft_scratch *sc, oft_shape_info *info) {
  size_t nstr = 0, nint = 0, maxk = 0, k;
  idx = lua_absindex(L, idx);
  info->shape = OFT_SHAPE_BAD;
  info->n = 0;
  info->array = 0;
  info->first_key = sc->nkeys;
  info->kb_mark = sc->kb_len;
  info->why = NULL;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int type = lua_type(L, -2);
    if (type == LUA_TSTRING) {
      size_t len;
      const char *s = lua_tolstring(L, -2, &len);
      add_key(L, sc, s, len);
      nstr++;
    } else if (type == LUA_TNUMBER) {
      if (!array_key(L, -2, &k)) {
        info->why = "cannot encode table with a number key that is not 1, 2, ...";
        lua_pop(L, 2);
        break;
      }
      nint++;
      if (k > maxk) maxk = k;
    } else {
      info->why = bad_key_message(type);
      lua_pop(L, 2);
      break;
    }
    lua_pop(L, 1);
  }
  if (info->why == NULL) {
    int marked = has_array_mt(L, idx);
    if (nstr && nint) {
      info->why = "cannot encode table with both array and object keys";
    } else if (nint) {
      if (maxk != nint) {
        info->why = "cannot encode sparse array (keys are not 1..n; use codec.null for holes)";
      } else {
        info->shape = OFT_SHAPE_ARRAY;
        info->n = nint;
      }
    } else if (nstr) {
      if (marked) {
        info->why = "cannot encode table marked as array with string keys";
      } else {
        info->shape = OFT_SHAPE_OBJECT;
        info->n = nstr;
        sort_keys(sc, info->first_key, nstr);
      }
    } else {
      info->shape = OFT_SHAPE_EMPTY;
      info->array = marked;
    }
  }
  if (info->shape == OFT_SHAPE_BAD || info->shape == OFT_SHAPE_ARRAY) oft_keys_pop(sc, info);
}

void oft_keys_pop(oft_scratch *sc, const oft_shape_info *info) {
  sc->nkeys = info->first_key;
  sc->kb_len = info->kb_mark;
}

/* ---- paths in error messages ---------------------------------------------- */

static int is_identifier(const char *s, size_t len) {
  size_t i;
  if (len == 0 || (s[0] >= '0' && s[0] <= '9')) return 0;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
      return 0;
  }
  return 1;
}

/* luaL_addchar's 5.4 macro trips clang-tidy's branch-clone check */
static void add_char(luaL_Buffer *b, char c) { luaL_addlstring(b, &c, 1); }

/* Adds a key for a human to read: at most 64 bytes, control bytes and
 * invalid UTF-8 as \xNN. */
static void add_key_text(luaL_Buffer *b, const char *s, size_t len, int quote) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0, shown = len > 64 ? 64 : len, k;
  while (i < shown) {
    unsigned char c = u[i];
    if (c >= 0x80 && (k = oft_utf8_seq_len(u + i, u + len)) > 0) {
      luaL_addlstring(b, s + i, k);
      i += k;
      continue;
    }
    if (c < 0x20 || c >= 0x7F || (quote && (c == '"' || c == '\\'))) {
      char tmp[8];
      if (c == '"' || c == '\\') snprintf(tmp, sizeof tmp, "\\%c", c);
      else snprintf(tmp, sizeof tmp, "\\x%02X", c);
      luaL_addstring(b, tmp);
    } else {
      add_char(b, (char)c);
    }
    i++;
  }
  if (shown < len) luaL_addstring(b, "...");
}

void oft_push_path(lua_State *L, const oft_scratch *sc, oft_path_style style) {
  luaL_Buffer b;
  int i;
  luaL_buffinit(L, &b);
  if (style == OFT_PATH_JSON) add_char(&b, '$');
  for (i = 1; i <= sc->depth; i++) {
    const oft_path_seg *seg = &sc->path[i];
    if (sc->depth > 16 && i == 9) { /* a cycle would make it endless: elide the middle */
      luaL_addstring(&b, "...");
      i = sc->depth - 8;
      continue;
    }
    if (seg->is_index) {
      char tmp[32];
      snprintf(tmp, sizeof tmp, "[%llu]", (unsigned long long)seg->key_off);
      luaL_addstring(&b, tmp);
    } else {
      const char *key = sc->kb + seg->key_off;
      if (style == OFT_PATH_QUERY) {
        if (i > 1) add_char(&b, '[');
        add_key_text(&b, key, seg->key_len, 0);
        if (i > 1) add_char(&b, ']');
      } else if (is_identifier(key, seg->key_len)) {
        add_char(&b, '.');
        luaL_addlstring(&b, key, seg->key_len);
      } else {
        luaL_addstring(&b, "[\"");
        add_key_text(&b, key, seg->key_len, 1);
        luaL_addstring(&b, "\"]");
      }
    }
  }
  luaL_pushresult(&b);
}

/* ---- decode ------------------------------------------------------------------ */

typedef struct doc_box {
  oft_json_doc doc;
} doc_box;

static int doc_gc(lua_State *L) {
  oft_json_release(&((doc_box *)luaL_checkudata(L, 1, DOC_MT))->doc);
  return 0;
}

/* Takes the cached doc out of upvalue 1 (or makes one), leaving its userdata
 * on top of the stack. */
static doc_box *take_doc(lua_State *L) {
  doc_box *box;
  if (lua_type(L, lua_upvalueindex(1)) == LUA_TUSERDATA) {
    lua_pushvalue(L, lua_upvalueindex(1));
    box = (doc_box *)lua_touserdata(L, -1);
    lua_pushnil(L);
    lua_replace(L, lua_upvalueindex(1));
    return box;
  }
  box = (doc_box *)lua_newuserdatauv(L, sizeof *box, 0);
  {
    void *ud;
    lua_Alloc alloc = buffer_alloc(L, &ud);
    oft_json_init(&box->doc, alloc, ud);
  }
  luaL_setmetatable(L, DOC_MT);
  return box;
}

/* Puts the userdata at idx back into upvalue 1 for the next call. */
static void give_back(lua_State *L, int idx) {
  lua_pushvalue(L, idx);
  lua_replace(L, lua_upvalueindex(1));
}

typedef struct decoder {
  lua_State *L;
  const oft_json_doc *doc;
  int array_mt; /* stack index */
} decoder;

static void push_int(lua_State *L, int64_t v) {
#if LUA_VERSION_NUM >= 503 && LUA_MAXINTEGER >= INT64_MAX
  lua_pushinteger(L, (lua_Integer)v);
#elif LUA_VERSION_NUM >= 503
  if (v >= LUA_MININTEGER && v <= LUA_MAXINTEGER) lua_pushinteger(L, (lua_Integer)v);
  else lua_pushnumber(L, (lua_Number)v);
#else
  lua_pushnumber(L, (lua_Number)v);
#endif
}

/* Pushes the value at n; returns the node after its subtree. */
static const oft_json_node *push_node(const decoder *d, const oft_json_node *n) {
  lua_State *L = d->L;
  const oft_json_node *c = n + 1;
  uint32_t i, count = n->n;
  size_t len;
  const char *s;
  switch (n->type) {
    case OFT_JSON_NULL: lua_pushlightuserdata(L, NULL); break;
    case OFT_JSON_FALSE: lua_pushboolean(L, 0); break;
    case OFT_JSON_TRUE: lua_pushboolean(L, 1); break;
    case OFT_JSON_INT: push_int(L, n->u.i); break;
    case OFT_JSON_DOUBLE: lua_pushnumber(L, (lua_Number)n->u.d); break;
    case OFT_JSON_STRING:
      s = oft_json_str(d->doc, n, &len);
      lua_pushlstring(L, s, len);
      break;
    case OFT_JSON_ARRAY:
      luaL_checkstack(L, 3, "JSON nesting too deep");
      if (count > INT_MAX - 1) luaL_error(L, "JSON array too long");
      lua_createtable(L, (int)count, 0);
      for (i = 0; i < count; i++) {
        c = push_node(d, c);
        lua_rawseti(L, -2, (int)i + 1);
      }
      if (count == 0) {
        lua_pushvalue(L, d->array_mt);
        lua_setmetatable(L, -2);
      }
      return c;
    case OFT_JSON_OBJECT:
      luaL_checkstack(L, 3, "JSON nesting too deep");
      lua_createtable(L, 0, count > INT_MAX ? INT_MAX : (int)count);
      for (i = 0; i < count; i++) {
        s = oft_json_str(d->doc, c, &len);
        lua_pushlstring(L, s, len);
        if (c[1].type == OFT_JSON_NULL) {
          lua_pushnil(L); /* absent; also undoes an earlier duplicate of the key */
          c += 2;
        } else {
          c = push_node(d, c + 1);
        }
        lua_rawset(L, -3);
      }
      return c;
    default: luaL_error(L, "corrupt JSON tree");
  }
  return c;
}

static int json_decode(lua_State *L) {
  size_t len;
  const char *s;
  doc_box *box;
  oft_json_status st;
  decoder d;
  if (lua_type(L, 1) != LUA_TSTRING)
    return luaL_argerror(L, 1, lua_pushfstring(L, "string expected, got %s", luaL_typename(L, 1)));
  s = lua_tolstring(L, 1, &len);
  lua_settop(L, 1);
  box = take_doc(L); /* at 2 */
  st = oft_json_parse(&box->doc, s, len);
  if (st == OFT_JSON_ENOMEM) {
    oft_json_release(&box->doc);
    give_back(L, 2);
    return luaL_error(L, "not enough memory");
  }
  if (st != OFT_JSON_OK) {
    lua_pushnil(L);
    lua_pushstring(L, oft_json_error(&box->doc));
    oft_json_trim(&box->doc, KEEP_BYTES);
    give_back(L, 2);
    return 2;
  }
  d.L = L;
  d.doc = &box->doc;
  d.array_mt = lua_upvalueindex(2);
  push_node(&d, oft_json_root(&box->doc));
  oft_json_trim(&box->doc, KEEP_BYTES);
  give_back(L, 2);
  return 1;
}

/* ---- encode ------------------------------------------------------------------ */

typedef struct encoder {
  lua_State *L;
  oft_scratch *sc;
} encoder;

/* Raises "<path>: <msg>", freeing the buffers first: the collector cannot
 * see their size, so it would take its time to run __gc. */
OFT_NORETURN static void encode_fail(const encoder *e, const char *msg) {
  lua_State *L = e->L;
  oft_push_path(L, e->sc, OFT_PATH_JSON);
  lua_pushfstring(L, "%s: %s", lua_tostring(L, -1), msg);
  oft_scratch_trim(e->sc, 0);
  lua_error(L);
  OFT_UNREACHABLE();
}

static void encode_string(const encoder *e, const char *s, size_t len, int is_key) {
  static const char hex[] = "0123456789abcdef";
  lua_State *L = e->L;
  oft_scratch *sc = e->sc;
  const char *p = s, *end = s + len;
  oft_scratch_add(L, sc, "\"", 1);
  while (p < end) {
    const char *run = p;
    unsigned char c;
    char *o;
    p = oft_json_scan_plain(p, end);
    if (p > run) oft_scratch_add(L, sc, run, (size_t)(p - run));
    if (p >= end) break;
    c = (unsigned char)*p;
    if (c >= 0x80) {
      size_t k = oft_utf8_seq_len((const unsigned char *)p, (const unsigned char *)end);
      if (k == 0) {
        char msg[80];
        snprintf(msg, sizeof msg, "invalid UTF-8 in %s at byte %llu", is_key ? "key" : "string",
                 (unsigned long long)(p - s) + 1);
        encode_fail(e, msg);
      }
      oft_scratch_add(L, sc, p, k);
      p += k;
      continue;
    }
    o = oft_scratch_reserve(L, sc, 6);
    o[0] = '\\';
    switch (c) {
      case '"': o[1] = '"'; sc->out_len += 2; break;
      case '\\': o[1] = '\\'; sc->out_len += 2; break;
      case '\n': o[1] = 'n'; sc->out_len += 2; break;
      case '\r': o[1] = 'r'; sc->out_len += 2; break;
      case '\t': o[1] = 't'; sc->out_len += 2; break;
      case '\b': o[1] = 'b'; sc->out_len += 2; break;
      case '\f': o[1] = 'f'; sc->out_len += 2; break;
      default:
        o[1] = 'u';
        o[2] = '0';
        o[3] = '0';
        o[4] = hex[c >> 4];
        o[5] = hex[c & 15];
        sc->out_len += 6;
    }
    p++;
  }
  oft_scratch_add(L, sc, "\"", 1);
}

static void encode_value(const encoder *e, int idx);

static void encode_table(const encoder *e, int idx) {
  lua_State *L = e->L;
  oft_scratch *sc = e->sc;
  oft_shape_info info;
  size_t i;
  if (sc->depth >= OFT_ENCODE_MAX_DEPTH)
    encode_fail(e, "nesting deeper than 512 (is there a cycle?)");
  luaL_checkstack(L, 6, "JSON nesting too deep");
  oft_table_shape(L, idx, sc, &info);
  switch (info.shape) {
    case OFT_SHAPE_BAD: encode_fail(e, info.why); break;
    case OFT_SHAPE_EMPTY: oft_scratch_add(L, sc, info.array ? "[]" : "{}", 2); break;
    case OFT_SHAPE_ARRAY:
      oft_scratch_add(L, sc, "[", 1);
      for (i = 1; i <= info.n; i++) {
        if (i > 1) oft_scratch_add(L, sc, ",", 1);
        lua_rawgeti(L, idx, (int)i);
        oft_path_push_index(sc, i);
        encode_value(e, lua_gettop(L));
        sc->depth--;
        lua_pop(L, 1);
      }
      oft_scratch_add(L, sc, "]", 1);
      break;
    case OFT_SHAPE_OBJECT:
      oft_scratch_add(L, sc, "{", 1);
      for (i = 0; i < info.n; i++) {
        const oft_key *k = &sc->keys[info.first_key + i];
        if (i > 0) oft_scratch_add(L, sc, ",", 1);
        oft_path_push_key(sc, k);
        encode_string(e, sc->kb + k->off, k->len, 1);
        oft_scratch_add(L, sc, ":", 1);
        k = &sc->keys[info.first_key + i]; /* the arrays may have moved */
        lua_pushlstring(L, sc->kb + k->off, k->len);
        lua_rawget(L, idx);
        encode_value(e, lua_gettop(L));
        sc->depth--;
        lua_pop(L, 1);
      }
      oft_scratch_add(L, sc, "}", 1);
      oft_keys_pop(sc, &info);
      break;
  }
}

static void encode_value(const encoder *e, int idx) {
  lua_State *L = e->L;
  char num[OFT_NUMBUF];
  size_t len;
  const char *s;
  switch (lua_type(L, idx)) {
    case LUA_TNIL: oft_scratch_add(L, e->sc, "null", 4); break;
    case LUA_TBOOLEAN:
      if (lua_toboolean(L, idx)) oft_scratch_add(L, e->sc, "true", 4);
      else oft_scratch_add(L, e->sc, "false", 5);
      break;
    case LUA_TNUMBER:
      len = oft_number_text(L, idx, num);
      if (len == 0) {
        lua_Number d = lua_tonumber(L, idx);
        encode_fail(e, d != d ? "cannot encode NaN" : d > 0 ? "cannot encode inf" : "cannot encode -inf");
      }
      oft_scratch_add(L, e->sc, num, len);
      break;
    case LUA_TSTRING:
      s = lua_tolstring(L, idx, &len);
      encode_string(e, s, len, 0);
      break;
    case LUA_TTABLE: encode_table(e, idx); break;
    case LUA_TLIGHTUSERDATA:
      if (lua_touserdata(L, idx) == NULL) { /* codec.null */
        oft_scratch_add(L, e->sc, "null", 4);
        break;
      }
      encode_fail(e, "cannot encode light userdata");
      break;
    default: {
      char msg[64];
      snprintf(msg, sizeof msg, "cannot encode %s", luaL_typename(L, idx));
      encode_fail(e, msg);
    }
  }
}

static int json_encode(lua_State *L) {
  encoder e;
  luaL_checkany(L, 1);
  lua_settop(L, 1);
  e.L = L;
  e.sc = take_scratch(L); /* at 2 */
  oft_scratch_trim(e.sc, KEEP_BYTES);
  encode_value(&e, 1);
  lua_pushlstring(L, e.sc->out, e.sc->out_len);
  oft_scratch_trim(e.sc, KEEP_BYTES);
  give_back(L, 2);
  return 1;
}

/* ---- module ------------------------------------------------------------------ */

void oft_json_open(lua_State *L) {
  int mod = lua_gettop(L);
  if (luaL_newmetatable(L, DOC_MT)) {
    lua_pushcfunction(L, doc_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, mod, "null");
  luaL_newmetatable(L, OFT_ARRAY_MT); /* one per state, found by name from C */
  lua_pushvalue(L, -1);
  lua_setfield(L, mod, "array_mt");
  lua_pushnil(L); /* upvalue 1: cached doc */
  lua_pushvalue(L, -2);
  lua_pushcclosure(L, json_decode, 2);
  lua_setfield(L, mod, "json_decode");
  lua_pop(L, 1);
  lua_pushnil(L); /* upvalue 1: cached scratch */
  lua_pushcclosure(L, json_encode, 1);
  lua_setfield(L, mod, "json_encode");
}
