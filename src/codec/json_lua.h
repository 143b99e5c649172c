/*
 * json_lua.h: pieces of the Lua JSON codec that url.c (and later C code) share:
 * number formatting, a scratch buffer owned by a userdata, classifying a Lua
 * table as array or object with sorted keys, and naming a place in a value.
 */
#ifndef OFT_JSON_LUA_H
#define OFT_JSON_LUA_H

#include <stddef.h>

#include "compat.h"

/* Registry name of codec.array_mt (luaL_getmetatable(L, OFT_ARRAY_MT)). */
#define OFT_ARRAY_MT "openai.finetunes.array"

/* Nesting limit of json_encode (json_decode's is OFT_JSON_DEFAULT_DEPTH). */
#define OFT_ENCODE_MAX_DEPTH 512

/* Enough for any number oft_number_text writes, NUL included. */
#define OFT_NUMBUF 48

/*
 * Writes the number at idx as JSON number text and returns its length, or 0
 * for NaN and infinities (nothing written). Integers (5.3+ subtype) exactly;
 * floats in the shortest form that reads back to the same double, with ".0"
 * added when that form looks integral so 5.3+ reads a float back. On 5.1/5.2
 * (no integer subtype) integral values below 2^53 are written as integers.
 */
size_t oft_number_text(lua_State *L, int idx, char *buf);

/* One step of a path into a value: a table key or a 1-based array index. */
typedef struct oft_path_seg {
  size_t key_off; /* key: offset of its bytes in scratch->kb; index: the index */
  size_t key_len;
  int is_index;
} oft_path_seg;

typedef struct oft_key {
  size_t off, len; /* bytes in scratch->kb */
  const char *p;   /* kb + off while sorting only (kb may move later) */
} oft_key;

/*
 * Growable buffers for one encode call. Created with oft_scratch_new, which
 * pushes the owning userdata: if a Lua error unwinds mid-call, __gc frees the
 * buffers; oft_scratch_trim frees big ones on the normal path. The buffers
 * come from the state's allocator, so an embedder's memory limit covers them.
 */
typedef struct oft_scratch {
  lua_Alloc alloc; /* the state's allocator (libc's on LuaJIT) */
  void *alloc_ud;
  char *out;
  size_t out_len, out_cap;
  char *kb; /* bytes of keys collected by oft_table_shape (and path keys) */
  size_t kb_len, kb_cap;
  oft_key *keys;
  size_t nkeys, keys_cap;
  oft_path_seg path[OFT_ENCODE_MAX_DEPTH + 1];
  int depth;
} oft_scratch;

oft_scratch *oft_scratch_new(lua_State *L);
/* Empties the scratch and frees blocks larger than keep_bytes. */
void oft_scratch_trim(oft_scratch *sc, size_t keep_bytes);
/* Room for n more bytes at sc->out + sc->out_len; raises on out of memory. */
char *oft_scratch_reserve(lua_State *L, oft_scratch *sc, size_t n);
void oft_scratch_add(lua_State *L, oft_scratch *sc, const char *s, size_t n);

typedef enum oft_shape {
  OFT_SHAPE_EMPTY,  /* no keys; `array` says whether it carries array_mt */
  OFT_SHAPE_ARRAY,  /* keys exactly 1..n */
  OFT_SHAPE_OBJECT, /* only string keys: sorted in sc->keys[first .. first+n) */
  OFT_SHAPE_BAD     /* neither: `why` says what is wrong */
} oft_shape;

typedef struct oft_shape_info {
  oft_shape shape;
  size_t n;
  int array; /* EMPTY: the table has codec.array_mt */
  size_t first_key, kb_mark;
  const char *why; /* BAD: "cannot encode table key of type boolean", ... */
} oft_shape_info;

/* Classifies the table at idx (never calls metamethods). Needs 3 free stack
 * slots. Call oft_keys_pop(sc, info) once the keys are no longer needed. */
void oft_table_shape(lua_State *L, int idx, oft_scratch *sc, oft_shape_info *info);
void oft_keys_pop(oft_scratch *sc, const oft_shape_info *info);

/* Pushes sc->path[1 .. sc->depth] as a JSON-path-like Lua string:
 * `$.method.supervised["a b"][2]` (json) or `metadata[k][2]` (query). */
typedef enum oft_path_style { OFT_PATH_JSON, OFT_PATH_QUERY } oft_path_style;
void oft_push_path(lua_State *L, const oft_scratch *sc, oft_path_style style);

/* Path steps: sc->path[1 .. sc->depth]; callers push one step per level they
 * descend (checking sc->depth against their own limit first) and pop it. */
static inline void oft_path_push_key(oft_scratch *sc, const oft_key *k) {
  oft_path_seg *s = &sc->path[++sc->depth];
  s->key_off = k->off;
  s->key_len = k->len;
  s->is_index = 0;
}
static inline void oft_path_push_index(oft_scratch *sc, size_t index) {
  oft_path_seg *s = &sc->path[++sc->depth];
  s->key_off = index;
  s->key_len = 0;
  s->is_index = 1;
}

#endif /* OFT_JSON_LUA_H */
