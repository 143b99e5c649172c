/*
 * hash_lua.c: the Lua functions of the codec's digests, one set per hash,
 * written once for both (rules in HACKING.md "Digests"):
 *
 *   codec.<h>(s)                          -> lower-case hex
 *   codec.<h>_file(path [, offset [, length]]) -> hex | nil, message
 *   codec.<h>_new()                       -> hasher (userdata openai.finetunes.codec.<h>)
 *   hasher:update(s)                      -> hasher
 *   hasher:update_file(path [, offset [, length]]) -> bytes hashed | nil, message
 *   hasher:hexdigest() / hasher:digest()  -> hex / raw bytes of everything so far (it goes on)
 *   hasher:count()                        -> bytes hashed so far
 *
 * for <h> = md5 (md5.h: the Uploads API's checksum) and sha256 (sha256.h).
 * Files are read in 64 KB slices, never held, so memory stays constant at
 * any file size. A file slice is `length` bytes from `offset` (default: to
 * the end), so a caller can hash a big file in pieces between other work
 * (the large upload hashes while its parts are in flight). A slice that does
 * not lie inside the file (an offset past its end, or offset + length past
 * it) and a read error return nil, message and leave the hasher as it was.
 */
/* 64-bit fseeko/off_t on 32-bit hosts too (a POSIX feature-test macro, hence the name) */
#define _FILE_OFFSET_BITS 64 /* NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "codec.h"
#include "md5.h"
#include "sha256.h"

/* a file is hashed in reads of this size (the fuzz builds set a tiny one) */
#ifndef OFT_HASH_READ_SIZE
#define OFT_HASH_READ_SIZE ((size_t)64 * 1024)
#endif
#define READ_SIZE ((size_t)(OFT_HASH_READ_SIZE))

#define MAX_DIGEST 32

typedef union hash_state {
  oft_md5 md5;
  oft_sha256 sha256;
} hash_state;

/* What a hash is to these functions. */
typedef struct hash_kind {
  const char *name; /* "md5": codec.md5, md5_file, md5_new */
  const char *mt;   /* the hasher's metatable */
  size_t size;      /* digest bytes */
  void (*init)(hash_state *s);
  void (*update)(hash_state *s, const unsigned char *p, size_t n);
  void (*digest)(const hash_state *s, unsigned char *out); /* pads a copy */
  uint64_t (*count)(const hash_state *s);
} hash_kind;

static void md5_init(hash_state *s) { oft_md5_init(&s->md5); }
static void md5_update(hash_state *s, const unsigned char *p, size_t n) { oft_md5_update(&s->md5, p, n); }
static void md5_digest(const hash_state *s, unsigned char *out) { oft_md5_digest(&s->md5, out); }
static uint64_t md5_count(const hash_state *s) { return s->md5.bytes; }
static void sha256_init(hash_state *s) { oft_sha256_init(&s->sha256); }
static void sha256_update(hash_state *s, const unsigned char *p, size_t n) { oft_sha256_update(&s->sha256, p, n); }
static void sha256_digest(const hash_state *s, unsigned char *out) { oft_sha256_digest(&s->sha256, out); }
static uint64_t sha256_count(const hash_state *s) { return s->sha256.bytes; }

static const hash_kind MD5 = {"md5", "openai.finetunes.codec.md5", OFT_MD5_SIZE,
                              md5_init, md5_update, md5_digest, md5_count};
static const hash_kind SHA256 = {"sha256", "openai.finetunes.codec.sha256", OFT_SHA256_SIZE,
                                 sha256_init, sha256_update, sha256_digest, sha256_count};

/* A hasher userdata: which hash, and its state. */
typedef struct hasher {
  const hash_kind *kind;
  hash_state state;
} hasher;

static const hash_kind *kind_of(lua_State *L) {
  return (const hash_kind *)lua_touserdata(L, lua_upvalueindex(1));
}

static void push_hex(lua_State *L, const hash_kind *k, const hash_state *s) {
  unsigned char d[MAX_DIGEST];
  char hex[2 * MAX_DIGEST];
  k->digest(s, d);
  oft_hex(d, k->size, hex);
  lua_pushlstring(L, hex, 2 * k->size);
}

/* An optional integral byte count >= 0 at `arg`, or -1 when absent. */
static double opt_count(lua_State *L, int arg, const char *name) {
  double v;
  if (lua_isnoneornil(L, arg)) return -1;
  v = (double)luaL_checknumber(L, arg);
  if (!(v >= 0 && v <= 9.0e18 && v == (double)(int64_t)v)) {
    lua_pushfstring(L, "%s must be an integer >= 0", name);
    luaL_argerror(L, arg, lua_tostring(L, -1));
  }
  return v;
}

/* Which bytes of a file: `length` from `offset` (length < 0: to the end). */
typedef struct file_slice {
  double offset, length;
} file_slice;

static file_slice opt_slice(lua_State *L, int arg) {
  file_slice slice;
  slice.offset = opt_count(L, arg, "offset");
  if (slice.offset < 0) slice.offset = 0;
  slice.length = opt_count(L, arg + 1, "length");
  return slice;
}

/* nil, "<path>: the file ends N bytes before offset[ + length]" */
static int push_short(lua_State *L, const char *path, double short_by, int with_length) {
  char n[24];
  (void)snprintf(n, sizeof n, "%.0f", short_by);
  lua_pushnil(L);
  lua_pushfstring(L, "%s: the file ends %s bytes before offset%s", path, n, with_length ? " + length" : "");
  return 0;
}

/*
 * Hashes a slice of `path` into s: 1 with the byte count pushed, or 0 with
 * nil, message pushed and s untouched (the bytes go into a copy first).
 */
static int hash_file(lua_State *L, const hash_kind *k, hash_state *s, const char *path, file_slice slice) {
  double offset = slice.offset, length = slice.length;
  unsigned char buf[READ_SIZE];
  uint64_t left = length < 0 ? UINT64_MAX : (uint64_t)length, done = 0;
  hash_state work = *s;
  struct stat st;
  int e = 0;
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    e = errno;
    goto fail;
  }
  if (fstat(fileno(f), &st) != 0) {
    e = errno;
    goto fail;
  }
  if (S_ISREG(st.st_mode) && offset > (double)st.st_size) { /* fseeko would not tell */
    (void)fclose(f);
    return push_short(L, path, offset + (length > 0 ? length : 0) - (double)st.st_size, length >= 0);
  }
  if (offset > 0 && fseeko(f, (off_t)offset, SEEK_SET) != 0) {
    e = errno;
    goto fail;
  }
  while (left > 0) {
    size_t want = left < READ_SIZE ? (size_t)left : READ_SIZE;
    size_t got = fread(buf, 1, want, f);
    if (got > 0) {
      k->update(&work, buf, got);
      done += got;
      left -= got;
    }
    if (got < want) {
      if (ferror(f)) {
        e = errno != 0 ? errno : EIO;
        goto fail;
      }
      if (length >= 0) { /* asked for more than the file holds */
        (void)fclose(f);
        return push_short(L, path, (double)left, 1);
      }
      break;
    }
  }
  (void)fclose(f);
  *s = work;
  lua_pushinteger(L, (lua_Integer)done);
  return 1;
fail:
  if (f != NULL) (void)fclose(f);
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", path, strerror(e));
  return 0;
}

static hasher *check_hasher(lua_State *L) {
  return (hasher *)luaL_checkudata(L, 1, kind_of(L)->mt);
}

/* codec.<h>_new() -> hasher */
static int hasher_new(lua_State *L) {
  const hash_kind *k = kind_of(L);
  hasher *h = (hasher *)lua_newuserdatauv(L, sizeof *h, 0);
  h->kind = k;
  k->init(&h->state);
  luaL_setmetatable(L, k->mt);
  return 1;
}

/* hasher:update(s) -> hasher */
static int hasher_update(lua_State *L) {
  hasher *h = check_hasher(L);
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  h->kind->update(&h->state, (const unsigned char *)s, n);
  lua_settop(L, 1);
  return 1;
}

/* hasher:update_file(path [, offset [, length]]) -> bytes | nil, message */
static int hasher_update_file(lua_State *L) {
  hasher *h = check_hasher(L);
  const char *path = luaL_checkstring(L, 2);
  file_slice slice = opt_slice(L, 3);
  return hash_file(L, h->kind, &h->state, path, slice) ? 1 : 2;
}

/* hasher:hexdigest() -> hex */
static int hasher_hexdigest(lua_State *L) {
  hasher *h = check_hasher(L);
  push_hex(L, h->kind, &h->state);
  return 1;
}

/* hasher:digest() -> raw bytes */
static int hasher_digest(lua_State *L) {
  hasher *h = check_hasher(L);
  unsigned char d[MAX_DIGEST];
  h->kind->digest(&h->state, d);
  lua_pushlstring(L, (const char *)d, h->kind->size);
  return 1;
}

/* hasher:count() -> bytes hashed so far */
static int hasher_count(lua_State *L) {
  hasher *h = check_hasher(L);
  lua_pushinteger(L, (lua_Integer)h->kind->count(&h->state));
  return 1;
}

/* codec.<h>(s) -> hex */
static int hash_string(lua_State *L) {
  const hash_kind *k = kind_of(L);
  hash_state s;
  size_t n;
  const char *p = luaL_checklstring(L, 1, &n);
  k->init(&s);
  k->update(&s, (const unsigned char *)p, n);
  push_hex(L, k, &s);
  return 1;
}

/* codec.<h>_file(path [, offset [, length]]) -> hex | nil, message */
static int hash_file_hex(lua_State *L) {
  const hash_kind *k = kind_of(L);
  hash_state s;
  const char *path = luaL_checkstring(L, 1);
  file_slice slice = opt_slice(L, 2);
  k->init(&s);
  if (!hash_file(L, k, &s, path, slice)) return 2;
  push_hex(L, k, &s);
  return 1;
}

/* Adds codec.<h>, <h>_file and <h>_new to the module table on top, and the hasher's metatable. */
static void open_hash(lua_State *L, const hash_kind *k) {
  static const luaL_Reg methods[] = {
    {"update", hasher_update}, {"update_file", hasher_update_file}, {"hexdigest", hasher_hexdigest},
    {"digest", hasher_digest}, {"count", hasher_count}, {NULL, NULL}};
  static const struct {
    const char *suffix;
    lua_CFunction fn;
  } functions[] = {{"", hash_string}, {"_file", hash_file_hex}, {"_new", hasher_new}};
  size_t i;
  int mod = lua_gettop(L);
  void *kind = (void *)(uintptr_t)k; /* the upvalue is only read back as const */
  if (luaL_newmetatable(L, k->mt)) {
    lua_newtable(L);
    lua_pushlightuserdata(L, kind);
    luaL_setfuncs(L, methods, 1);
    lua_setfield(L, -2, "__index");
    lua_pushstring(L, k->mt);
    lua_setfield(L, -2, "__name");
  }
  lua_pop(L, 1);
  for (i = 0; i < sizeof functions / sizeof functions[0]; i++) {
    lua_pushfstring(L, "%s%s", k->name, functions[i].suffix);
    lua_pushlightuserdata(L, kind);
    lua_pushcclosure(L, functions[i].fn, 1);
    lua_settable(L, mod);
  }
}

void oft_md5_open(lua_State *L) {
  open_hash(L, &MD5);
}

void oft_sha256_open(lua_State *L) {
  open_hash(L, &SHA256);
}
