/*
 * fuzz_md5.c: libFuzzer target for MD5 (src/codec/md5.c, its Lua functions in src/codec/hash_lua.c): the hash the Uploads
 * API's whole-file checksum comes from.
 *
 * For every input:
 *  - the one-shot digest equals OpenSSL's MD5 (an independent
 *    implementation: padding at every length, the block function);
 *  - updates in random-sized pieces (empty ones too) give the one-shot
 *    digest, and a digest taken part-way equals the one-shot digest of the
 *    prefix hashed so far while the state goes on unchanged;
 *  - through Lua (codec.md5, md5_new / update / count / hexdigest, md5_file,
 *    update_file): the same digests; update_file of a random slice of the
 *    input as a file (a memfd; this build reads files in 7-byte pieces)
 *    hashes exactly that slice and returns its length, or, for a slice
 *    reaching past the end, returns nil and a message naming by how many
 *    bytes the file falls short, and leaves the hasher untouched;
 *  - an input equal to one of RFC 1321's test suite strings (A.5; they are
 *    the seed corpus) has the digest the RFC prints, and all seven are
 *    checked once at start-up.
 */
#define _GNU_SOURCE /* memfd_create */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <openssl/evp.h>

#include "codec.h"
#include "fuzz_check.h"
#include "md5.h"

/* RFC 1321, A.5 "Test suite" */
static const struct {
  const char *text, *md5;
} RFC1321[] = {
    {"", "d41d8cd98f00b204e9800998ecf8427e"},
    {"a", "0cc175b9c0f1b6a831c399e269772661"},
    {"abc", "900150983cd24fb0d6963f7d28e17f72"},
    {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
    {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
    {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
     "d174ab98d277d9f5a5611c2c9f419d9f"},
    {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
     "57edf4a22be3c955ac49da2e2107b67a"},
};

static void one_shot(const uint8_t *p, size_t n, char hex[33]) {
  oft_md5 m;
  oft_md5_init(&m);
  oft_md5_update(&m, p, n);
  oft_md5_hex(&m, hex);
  hex[32] = '\0';
  CHECK(m.bytes == n);
}

static void openssl_md5(const uint8_t *p, size_t n, char hex[33]) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int len = 0, i;
  CHECK(EVP_Digest(p, n, d, &len, EVP_md5(), NULL) == 1 && len == 16);
  for (i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/* A piece size: mostly small, sometimes around a block, sometimes empty. */
static size_t piece(uint64_t *rng, size_t left) {
  size_t n;
  switch (fuzz_rand(rng) % 5) {
    case 0: n = 0; break;
    case 1: n = 55 + (size_t)(fuzz_rand(rng) % 20); break; /* around the 56/64 edges */
    case 2: n = 64 * (1 + (size_t)(fuzz_rand(rng) % 3)); break;
    default: n = 1 + (size_t)(fuzz_rand(rng) % 13); break;
  }
  return n < left ? n : left;
}

static void check_pieces(const uint8_t *data, size_t size, const char *want, uint64_t rng) {
  oft_md5 m;
  size_t off = 0;
  char hex[33];
  int peeks = 0;
  oft_md5_init(&m);
  while (off < size) {
    size_t n = piece(&rng, size - off);
    oft_md5_update(&m, data + off, n);
    off += n;
    if (peeks < 3 && fuzz_rand(&rng) % 4 == 0) { /* a digest part-way: the state goes on */
      char prefix[33];
      peeks++;
      oft_md5_hex(&m, hex);
      hex[32] = '\0';
      one_shot(data, off, prefix);
      CHECK(strcmp(hex, prefix) == 0);
      CHECK(m.bytes == off);
    }
  }
  oft_md5_hex(&m, hex);
  hex[32] = '\0';
  CHECK(strcmp(hex, want) == 0);
}

/* ---- through Lua ------------------------------------------------------------ */

static lua_State *L;
static int memfd = -1;
static char fd_path[64];

static void call(int nargs, int nresults) {
  if (lua_pcall(L, nargs, nresults, 0) != LUA_OK) {
    fprintf(stderr, "raised: %s\n", lua_tostring(L, -1));
    abort();
  }
}

static void check_hex_on_top(const char *want) {
  size_t n;
  const char *s = lua_tolstring(L, -1, &n);
  CHECK(s != NULL && n == 32 && memcmp(s, want, 32) == 0);
  lua_pop(L, 1);
}

/* h:update_file(path, offset, length) on a fresh hasher; length < 0: omitted. */
static void check_slice(const uint8_t *data, size_t size, size_t offset, long length) {
  int h;
  lua_getglobal(L, "md5_new");
  call(0, 1);
  h = lua_gettop(L);
  lua_getfield(L, h, "update_file");
  lua_pushvalue(L, h);
  lua_pushstring(L, fd_path);
  lua_pushinteger(L, (lua_Integer)offset);
  if (length >= 0) lua_pushinteger(L, (lua_Integer)length);
  else lua_pushnil(L);
  call(4, 2);
  if (offset > size || (length >= 0 && offset + (size_t)length > size)) {
    char want[80];
    const char *msg = lua_tostring(L, -1);
    CHECK(lua_isnil(L, -2) && msg != NULL);
    snprintf(want, sizeof want, ": the file ends %llu bytes before offset%s",
             (unsigned long long)(offset + (length > 0 ? (size_t)length : 0) - size),
             length >= 0 ? " + length" : "");
    if (strstr(msg, want) == NULL) {
      fprintf(stderr, "size %zu offset %zu length %ld: %s\n", size, offset, length, msg);
      abort();
    }
    lua_getfield(L, h, "count"); /* a failed update leaves the hasher as it was */
    lua_pushvalue(L, h);
    call(1, 1);
    CHECK(lua_isinteger(L, -1) && lua_tointeger(L, -1) == 0);
  } else {
    size_t from = offset < size ? offset : size;
    size_t n = length >= 0 ? (size_t)length : size - from;
    char want[33];
    CHECK(lua_isinteger(L, -2) && lua_tointeger(L, -2) == (lua_Integer)n);
    one_shot(data + from, n, want);
    lua_getfield(L, h, "hexdigest");
    lua_pushvalue(L, h);
    call(1, 1);
    check_hex_on_top(want);
  }
  lua_settop(L, h - 1);
}

static void check_lua(const uint8_t *data, size_t size, const char *want, uint64_t rng) {
  int h, top = lua_gettop(L);
  size_t off = 0;
  lua_getglobal(L, "md5");
  lua_pushlstring(L, (const char *)data, size);
  call(1, 1);
  check_hex_on_top(want);

  lua_getglobal(L, "md5_new");
  call(0, 1);
  h = lua_gettop(L);
  while (off < size) {
    size_t n = piece(&rng, size - off);
    lua_getfield(L, h, "update");
    lua_pushvalue(L, h);
    lua_pushlstring(L, (const char *)data + off, n);
    call(2, 1);
    CHECK(lua_rawequal(L, -1, h)); /* update returns the hasher */
    lua_pop(L, 1);
    off += n;
  }
  lua_getfield(L, h, "count");
  lua_pushvalue(L, h);
  call(1, 1);
  CHECK(lua_isinteger(L, -1) && lua_tointeger(L, -1) == (lua_Integer)size);
  lua_pop(L, 1);
  lua_getfield(L, h, "hexdigest");
  lua_pushvalue(L, h);
  call(1, 1);
  check_hex_on_top(want);

  CHECK(ftruncate(memfd, 0) == 0);
  CHECK(size == 0 || pwrite(memfd, data, size, 0) == (ssize_t)size);
  lua_getglobal(L, "md5_file");
  lua_pushstring(L, fd_path);
  call(1, 1);
  check_hex_on_top(want);
  {
    size_t offset = (size_t)(fuzz_rand(&rng) % (size + 3));
    long length = fuzz_rand(&rng) % 3 == 0 ? -1 : (long)(fuzz_rand(&rng) % (size + 3));
    check_slice(data, size, offset, length);
  }
  lua_settop(L, top);
  lua_gc(L, LUA_GCCOLLECT, 0);
}

static void start(void) {
  size_t i;
  for (i = 0; i < sizeof RFC1321 / sizeof RFC1321[0]; i++) {
    char hex[33];
    one_shot((const uint8_t *)RFC1321[i].text, strlen(RFC1321[i].text), hex);
    CHECK(strcmp(hex, RFC1321[i].md5) == 0);
  }
  L = luaL_newstate();
  CHECK(L != NULL);
  lua_newtable(L);
  oft_md5_open(L);
  lua_getfield(L, -1, "md5");
  lua_setglobal(L, "md5");
  lua_getfield(L, -1, "md5_new");
  lua_setglobal(L, "md5_new");
  lua_getfield(L, -1, "md5_file");
  lua_setglobal(L, "md5_file");
  lua_pop(L, 1);
  memfd = memfd_create("fuzz_md5", MFD_CLOEXEC);
  CHECK(memfd >= 0);
  snprintf(fd_path, sizeof fd_path, "/proc/self/fd/%d", memfd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char want[33], ssl[33];
  uint64_t rng = fuzz_seed(data, size);
  size_t i;
  if (L == NULL) start();
  one_shot(data, size, want);
  openssl_md5(data, size, ssl);
  CHECK(strcmp(want, ssl) == 0);
  for (i = 0; i < sizeof RFC1321 / sizeof RFC1321[0]; i++)
    if (strlen(RFC1321[i].text) == size && memcmp(RFC1321[i].text, data, size) == 0)
      CHECK(strcmp(want, RFC1321[i].md5) == 0);
  check_pieces(data, size, want, rng);
  check_lua(data, size, want, fuzz_rand(&rng));
  return 0;
}
