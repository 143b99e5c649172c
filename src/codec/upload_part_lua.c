/*
 * upload_part_lua.c: the reader of an upload's file part (src/exchange/file_source.h)
 * for lua/openai/finetunes/transport/multipart.lua: the same checks before
 * anything is sent and the same length-bounded reads the curl transport hands
 * libcurl (src/core/mime.c), so a file that is missing, not regular, shorter
 * than its slice, or that changes while it is sent, fails alike on both.
 *
 *   codec.upload_part(path, offset | nil, length | nil) -> part | nil, err
 *   p:length()                        the bytes the part sends
 *   p:read(n) -> string | nil (the end) | nil, err
 *   p:rewind() -> true | nil, err     back to its first byte (a resend): a released
 *                                     file is opened again, and must be the one measured
 *   p:close()                         lets go of the file until the next rewind; idempotent
 *                                     (the collector frees the rest)
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "exchange/outcome.h"

#define PART_MT "openai.finetunes.upload_part"
#define READ_MAX ((size_t)1 << 20)

/* The reader and the buffer its reads go through (one per part, reused). */
typedef struct part {
  oft_source source;
  char *buf;
  size_t cap;
} part;

static part *check_part(lua_State *L) {
  return (part *)luaL_checkudata(L, 1, PART_MT);
}

/* An optional integral offset or length: -1 when absent. */
static long long opt_count(lua_State *L, int i, const char *name) {
  lua_Number v;
  if (lua_isnoneornil(L, i)) return -1;
  v = luaL_checknumber(L, i);
  if (v < 0 || v != (lua_Number)(long long)v || v > 9.0e15)
    luaL_argerror(L, i, lua_pushfstring(L, "%s must be a non-negative integer", name));
  return (long long)v;
}

static int part_new(lua_State *L) {
  size_t len;
  const char *path = luaL_checklstring(L, 1, &len);
  long long offset = opt_count(L, 2, "offset"), length = opt_count(L, 3, "length");
  oft_source_refusal why;
  part *p;
  if (strlen(path) != len) return luaL_argerror(L, 1, "path must not contain NUL");
  p = (part *)lua_newuserdatauv(L, sizeof *p, 0);
  memset(p, 0, sizeof *p);
  luaL_setmetatable(L, PART_MT);
  if (!oft_source_open(&p->source, path, offset, length, &why)) {
    lua_pushnil(L);
    oft_source_push_refusal(L, path, &why, NULL);
    return 2;
  }
  return 1;
}

static int part_length(lua_State *L) {
  oft_push_count(L, (double)check_part(L)->source.length);
  return 1;
}

static int part_read(lua_State *L) {
  part *p = check_part(L);
  oft_source *s = &p->source;
  lua_Integer want = luaL_checkinteger(L, 2);
  size_t n = want > 0 ? ((size_t)want < READ_MAX ? (size_t)want : READ_MAX) : 1, got;
  if (s->file == NULL) return luaL_error(L, "the upload part was closed (rewind opens it again)");
  if (p->cap < n) {
    char *b = (char *)realloc(p->buf, n);
    if (b == NULL) oft_memory_error(L);
    p->buf = b;
    p->cap = n;
  }
  got = oft_source_read(s, p->buf, n);
  if (got == OFT_SOURCE_FAILED) {
    lua_pushnil(L);
    oft_source_push_failure(L, s, NULL);
    return 2;
  }
  if (got == 0) return 0;
  lua_pushlstring(L, p->buf, got);
  return 1;
}

static int part_rewind(lua_State *L) {
  oft_source *s = &check_part(L)->source;
  if (!oft_source_reopen(s)) {
    lua_pushnil(L);
    oft_source_push_failure(L, s, NULL);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int part_close(lua_State *L) {
  part *p = check_part(L);
  oft_source_release(&p->source);
  free(p->buf);
  p->buf = NULL;
  p->cap = 0;
  return 0;
}

static int part_gc(lua_State *L) {
  part_close(L);
  oft_source_close(&check_part(L)->source);
  return 0;
}

void oft_upload_part_open(lua_State *L) {
  static const luaL_Reg methods[] = {{"length", part_length}, {"read", part_read}, {"rewind", part_rewind},
                                     {"close", part_close}, {NULL, NULL}};
  oft_codec_class(L, PART_MT, methods, part_gc);
  lua_pushcfunction(L, part_new);
  lua_setfield(L, -2, "upload_part");
}
