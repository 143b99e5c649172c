/*
 * md5.c: MD5 (RFC 1321) for the Uploads API's whole-file checksum, at disk
 * speed and in constant memory: the file is read in 64 KB slices, never held.
 *
 *   core.md5(s)                        -> 32 lower-case hex digits
 *   core.md5_file(path)                -> hex | nil, message
 *   core.md5_new()                     -> hasher (userdata openai.finetunes.core.md5)
 *   hasher:update(s)                   -> hasher
 *   hasher:update_file(path [, offset [, length]]) -> bytes hashed | nil, message
 *   hasher:hexdigest()                 -> hex of everything so far (the hasher stays usable)
 *   hasher:count()                     -> bytes hashed so far
 *
 * update_file hashes `length` bytes from `offset` (default: to the end of the
 * file), so a caller can hash a big file in slices between other work (the
 * large upload hashes while its parts are in flight). A slice that does not
 * lie inside the file (an offset past its end, or offset + length past it)
 * and a read error return nil, message and leave the hasher as it was. MD5
 * is only a transfer checksum here, as the API uses it; nothing relies on it
 * for security. The hash itself (md5.h) has no Lua: fuzz/fuzz_md5.c checks
 * it against OpenSSL and drives these functions too.
 */
/* 64-bit fseeko/off_t on 32-bit hosts too (a POSIX feature-test macro, hence the name) */
#define _FILE_OFFSET_BITS 64 /* NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "core.h"
#include "md5.h"

#define MD5_MT "openai.finetunes.core.md5"
/* a file is hashed in reads of this size (the fuzz build sets a tiny one) */
#ifndef OFT_MD5_READ_SIZE
#define OFT_MD5_READ_SIZE ((size_t)64 * 1024)
#endif
#define READ_SIZE ((size_t)(OFT_MD5_READ_SIZE))

/* T[i] = floor(2^32 * |sin(i + 1)|), RFC 1321 section 3.4 */
static const uint32_t T[64] = {
    0xd76aa478U, 0xe8c7b756U, 0x242070dbU, 0xc1bdceeeU, 0xf57c0fafU, 0x4787c62aU, 0xa8304613U, 0xfd469501U,
    0x698098d8U, 0x8b44f7afU, 0xffff5bb1U, 0x895cd7beU, 0x6b901122U, 0xfd987193U, 0xa679438eU, 0x49b40821U,
    0xf61e2562U, 0xc040b340U, 0x265e5a51U, 0xe9b6c7aaU, 0xd62f105dU, 0x02441453U, 0xd8a1e681U, 0xe7d3fbc8U,
    0x21e1cde6U, 0xc33707d6U, 0xf4d50d87U, 0x455a14edU, 0xa9e3e905U, 0xfcefa3f8U, 0x676f02d9U, 0x8d2a4c8aU,
    0xfffa3942U, 0x8771f681U, 0x6d9d6122U, 0xfde5380cU, 0xa4beea44U, 0x4bdecfa9U, 0xf6bb4b60U, 0xbebfbc70U,
    0x289b7ec6U, 0xeaa127faU, 0xd4ef3085U, 0x04881d05U, 0xd9d4d039U, 0xe6db99e5U, 0x1fa27cf8U, 0xc4ac5665U,
    0xf4292244U, 0x432aff97U, 0xab9423a7U, 0xfc93a039U, 0x655b59c3U, 0x8f0ccc92U, 0xffeff47dU, 0x85845dd1U,
    0x6fa87e4fU, 0xfe2ce6e0U, 0xa3014314U, 0x4e0811a1U, 0xf7537e82U, 0xbd3af235U, 0x2ad7d2bbU, 0xeb86d391U,
};

static uint32_t rotl(uint32_t x, unsigned n) {
  return (x << n) | (x >> (32U - n));
}

static uint32_t le32(const unsigned char *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* The four auxiliary functions of section 3.4. */
#define MD5_F(x, y, z) (((x) & (y)) | (~(x) & (z)))
#define MD5_G(x, y, z) (((x) & (z)) | ((y) & ~(z)))
#define MD5_H(x, y, z) ((x) ^ (y) ^ (z))
#define MD5_I(x, y, z) ((y) ^ ((x) | ~(z)))

/* a = b + ((a + fn(b, c, d) + x[k] + T[i]) <<< s) */
#define MD5_STEP(fn, a, b, c, d, k, s, i) ((a) = (b) + rotl((a) + fn((b), (c), (d)) + x[(k)] + T[(i)], (s)))

/*
 * One 64-byte block into the state: sixteen steps per round, four rounds
 * (section 3.4), written out so every index and shift is a constant.
 */
static void md5_block(uint32_t h[4], const unsigned char *p) {
  uint32_t x[16], a = h[0], b = h[1], c = h[2], d = h[3];
  size_t i;
  for (i = 0; i < 16; i++) x[i] = le32(p + 4 * i);
  /* round 1: F, x[i] */
  MD5_STEP(MD5_F, a, b, c, d, 0, 7, 0);
  MD5_STEP(MD5_F, d, a, b, c, 1, 12, 1);
  MD5_STEP(MD5_F, c, d, a, b, 2, 17, 2);
  MD5_STEP(MD5_F, b, c, d, a, 3, 22, 3);
  MD5_STEP(MD5_F, a, b, c, d, 4, 7, 4);
  MD5_STEP(MD5_F, d, a, b, c, 5, 12, 5);
  MD5_STEP(MD5_F, c, d, a, b, 6, 17, 6);
  MD5_STEP(MD5_F, b, c, d, a, 7, 22, 7);
  MD5_STEP(MD5_F, a, b, c, d, 8, 7, 8);
  MD5_STEP(MD5_F, d, a, b, c, 9, 12, 9);
  MD5_STEP(MD5_F, c, d, a, b, 10, 17, 10);
  MD5_STEP(MD5_F, b, c, d, a, 11, 22, 11);
  MD5_STEP(MD5_F, a, b, c, d, 12, 7, 12);
  MD5_STEP(MD5_F, d, a, b, c, 13, 12, 13);
  MD5_STEP(MD5_F, c, d, a, b, 14, 17, 14);
  MD5_STEP(MD5_F, b, c, d, a, 15, 22, 15);
  /* round 2: G, x[(5i + 1) mod 16] */
  MD5_STEP(MD5_G, a, b, c, d, 1, 5, 16);
  MD5_STEP(MD5_G, d, a, b, c, 6, 9, 17);
  MD5_STEP(MD5_G, c, d, a, b, 11, 14, 18);
  MD5_STEP(MD5_G, b, c, d, a, 0, 20, 19);
  MD5_STEP(MD5_G, a, b, c, d, 5, 5, 20);
  MD5_STEP(MD5_G, d, a, b, c, 10, 9, 21);
  MD5_STEP(MD5_G, c, d, a, b, 15, 14, 22);
  MD5_STEP(MD5_G, b, c, d, a, 4, 20, 23);
  MD5_STEP(MD5_G, a, b, c, d, 9, 5, 24);
  MD5_STEP(MD5_G, d, a, b, c, 14, 9, 25);
  MD5_STEP(MD5_G, c, d, a, b, 3, 14, 26);
  MD5_STEP(MD5_G, b, c, d, a, 8, 20, 27);
  MD5_STEP(MD5_G, a, b, c, d, 13, 5, 28);
  MD5_STEP(MD5_G, d, a, b, c, 2, 9, 29);
  MD5_STEP(MD5_G, c, d, a, b, 7, 14, 30);
  MD5_STEP(MD5_G, b, c, d, a, 12, 20, 31);
  /* round 3: H, x[(3i + 5) mod 16] */
  MD5_STEP(MD5_H, a, b, c, d, 5, 4, 32);
  MD5_STEP(MD5_H, d, a, b, c, 8, 11, 33);
  MD5_STEP(MD5_H, c, d, a, b, 11, 16, 34);
  MD5_STEP(MD5_H, b, c, d, a, 14, 23, 35);
  MD5_STEP(MD5_H, a, b, c, d, 1, 4, 36);
  MD5_STEP(MD5_H, d, a, b, c, 4, 11, 37);
  MD5_STEP(MD5_H, c, d, a, b, 7, 16, 38);
  MD5_STEP(MD5_H, b, c, d, a, 10, 23, 39);
  MD5_STEP(MD5_H, a, b, c, d, 13, 4, 40);
  MD5_STEP(MD5_H, d, a, b, c, 0, 11, 41);
  MD5_STEP(MD5_H, c, d, a, b, 3, 16, 42);
  MD5_STEP(MD5_H, b, c, d, a, 6, 23, 43);
  MD5_STEP(MD5_H, a, b, c, d, 9, 4, 44);
  MD5_STEP(MD5_H, d, a, b, c, 12, 11, 45);
  MD5_STEP(MD5_H, c, d, a, b, 15, 16, 46);
  MD5_STEP(MD5_H, b, c, d, a, 2, 23, 47);
  /* round 4: I, x[7i mod 16] */
  MD5_STEP(MD5_I, a, b, c, d, 0, 6, 48);
  MD5_STEP(MD5_I, d, a, b, c, 7, 10, 49);
  MD5_STEP(MD5_I, c, d, a, b, 14, 15, 50);
  MD5_STEP(MD5_I, b, c, d, a, 5, 21, 51);
  MD5_STEP(MD5_I, a, b, c, d, 12, 6, 52);
  MD5_STEP(MD5_I, d, a, b, c, 3, 10, 53);
  MD5_STEP(MD5_I, c, d, a, b, 10, 15, 54);
  MD5_STEP(MD5_I, b, c, d, a, 1, 21, 55);
  MD5_STEP(MD5_I, a, b, c, d, 8, 6, 56);
  MD5_STEP(MD5_I, d, a, b, c, 15, 10, 57);
  MD5_STEP(MD5_I, c, d, a, b, 6, 15, 58);
  MD5_STEP(MD5_I, b, c, d, a, 13, 21, 59);
  MD5_STEP(MD5_I, a, b, c, d, 4, 6, 60);
  MD5_STEP(MD5_I, d, a, b, c, 11, 10, 61);
  MD5_STEP(MD5_I, c, d, a, b, 2, 15, 62);
  MD5_STEP(MD5_I, b, c, d, a, 9, 21, 63);
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
}

void oft_md5_init(oft_md5 *m) {
  m->h[0] = 0x67452301U;
  m->h[1] = 0xefcdab89U;
  m->h[2] = 0x98badcfeU;
  m->h[3] = 0x10325476U;
  m->bytes = 0;
}

void oft_md5_update(oft_md5 *m, const unsigned char *p, size_t n) {
  size_t used = (size_t)(m->bytes & 63U);
  m->bytes += n;
  if (used > 0) {
    size_t take = 64 - used < n ? 64 - used : n;
    memcpy(m->block + used, p, take);
    p += take;
    n -= take;
    if (used + take < 64) return;
    md5_block(m->h, m->block);
  }
  for (; n >= 64; p += 64, n -= 64) md5_block(m->h, p);
  if (n > 0) memcpy(m->block, p, n);
}

/* Pads a copy (section 3.1-3.2) and writes the digest as hex: the state goes on. */
void oft_md5_hex(const oft_md5 *m, char out[32]) {
  static const char HEX[] = "0123456789abcdef";
  oft_md5 c = *m;
  unsigned char pad[72], digest[16];
  uint64_t bits = m->bytes * 8U;
  size_t used = (size_t)(m->bytes & 63U), padlen = (used < 56 ? 56 : 120) - used, i;
  memset(pad, 0, sizeof pad);
  pad[0] = 0x80;
  for (i = 0; i < 8; i++) pad[padlen + i] = (unsigned char)(bits >> (8 * i));
  oft_md5_update(&c, pad, padlen + 8);
  for (i = 0; i < 16; i++) digest[i] = (unsigned char)(c.h[i / 4] >> (8 * (i % 4)));
  for (i = 0; i < 16; i++) {
    out[2 * i] = HEX[digest[i] >> 4];
    out[2 * i + 1] = HEX[digest[i] & 15];
  }
}

static void push_hex(lua_State *L, const oft_md5 *m) {
  char hex[32];
  oft_md5_hex(m, hex);
  lua_pushlstring(L, hex, sizeof hex);
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

/* nil, "<path>: the file ends N bytes before offset[ + length]" */
static int push_short(lua_State *L, const char *path, double short_by, int with_length) {
  char n[24];
  (void)snprintf(n, sizeof n, "%.0f", short_by);
  lua_pushnil(L);
  lua_pushfstring(L, "%s: the file ends %s bytes before offset%s", path, n, with_length ? " + length" : "");
  return 0;
}

/*
 * Hashes a slice of `path` into m: 1 with the byte count pushed, or 0 with
 * nil, message pushed and m untouched (the bytes go into a copy first).
 */
static int hash_file(lua_State *L, oft_md5 *m, const char *path, file_slice slice) {
  double offset = slice.offset, length = slice.length;
  unsigned char buf[READ_SIZE];
  uint64_t left = length < 0 ? UINT64_MAX : (uint64_t)length, done = 0;
  oft_md5 work = *m;
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
      oft_md5_update(&work, buf, got);
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
  *m = work;
  lua_pushinteger(L, (lua_Integer)done);
  return 1;
fail:
  if (f != NULL) (void)fclose(f);
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", path, strerror(e));
  return 0;
}

static oft_md5 *check_hasher(lua_State *L) {
  return (oft_md5 *)luaL_checkudata(L, 1, MD5_MT);
}

/* core.md5_new() -> hasher */
static int md5_new(lua_State *L) {
  oft_md5 *m = (oft_md5 *)lua_newuserdatauv(L, sizeof(oft_md5), 0);
  oft_md5_init(m);
  luaL_setmetatable(L, MD5_MT);
  return 1;
}

/* hasher:update(s) -> hasher */
static int hasher_update(lua_State *L) {
  oft_md5 *m = check_hasher(L);
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  oft_md5_update(m, (const unsigned char *)s, n);
  lua_settop(L, 1);
  return 1;
}

/* hasher:update_file(path [, offset [, length]]) -> bytes | nil, message */
static int hasher_update_file(lua_State *L) {
  oft_md5 *m = check_hasher(L);
  const char *path = luaL_checkstring(L, 2);
  file_slice slice;
  slice.offset = opt_count(L, 3, "offset");
  slice.length = opt_count(L, 4, "length");
  return hash_file(L, m, path, slice) ? 1 : 2;
}

/* hasher:hexdigest() -> hex */
static int hasher_hexdigest(lua_State *L) {
  push_hex(L, check_hasher(L));
  return 1;
}

/* hasher:count() -> bytes hashed so far */
static int hasher_count(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)check_hasher(L)->bytes);
  return 1;
}

/* core.md5(s) -> hex */
static int md5_string(lua_State *L) {
  oft_md5 m;
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  oft_md5_init(&m);
  oft_md5_update(&m, (const unsigned char *)s, n);
  push_hex(L, &m);
  return 1;
}

/* core.md5_file(path) -> hex | nil, message */
static int md5_file(lua_State *L) {
  oft_md5 m;
  const char *path = luaL_checkstring(L, 1);
  file_slice whole = {0, -1};
  oft_md5_init(&m);
  if (!hash_file(L, &m, path, whole)) return 2;
  push_hex(L, &m);
  return 1;
}

void oft_md5_open(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"update", hasher_update}, {"update_file", hasher_update_file}, {"hexdigest", hasher_hexdigest},
    {"count", hasher_count}, {NULL, NULL}};
  static const luaL_Reg functions[] = {
    {"md5", md5_string}, {"md5_file", md5_file}, {"md5_new", md5_new}, {NULL, NULL}};
  if (luaL_newmetatable(L, MD5_MT)) {
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, MD5_MT);
    lua_setfield(L, -2, "__name");
  }
  lua_pop(L, 1);
  luaL_setfuncs(L, functions, 0);
}
