/*
 * fuzz_sha256.c: libFuzzer target for SHA-256 (src/codec/sha256.c), HMAC-SHA256
 * (src/codec/hmac.c) and their Lua functions (src/codec/hash_lua.c,
 * hmac_lua.c).
 *
 * For every input:
 *  - the one-shot digest equals OpenSSL's SHA-256 (an independent
 *    implementation: padding at every length, the block function);
 *  - updates in random-sized pieces (empty ones too) give the one-shot
 *    digest, and a digest taken part-way equals the prefix's while the state
 *    goes on;
 *  - the input split at a random point into key and message: HMAC-SHA256
 *    equals OpenSSL's HMAC (keys shorter than, equal to and longer than a
 *    block), and codec.hmac_sha256 returns those 32 bytes;
 *  - through Lua (codec.sha256, sha256_new / update / digest / hexdigest,
 *    sha256_file, update_file): the same digests; update_file of a random
 *    slice of the input as a file (a memfd; this build reads files in 7-byte
 *    pieces) hashes exactly that slice, or for a slice reaching past the end
 *    returns nil and leaves the hasher untouched;
 *  - FIPS 180-4's "abc" and 448-bit examples are checked once at start-up.
 */
#define _GNU_SOURCE /* memfd_create */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "codec.h"
#include "fuzz_check.h"
#include "hmac.h"
#include "sha256.h"

static void one_shot(const uint8_t *p, size_t n, unsigned char d[32]) {
  oft_sha256 s;
  oft_sha256_init(&s);
  oft_sha256_update(&s, p, n);
  oft_sha256_digest(&s, d);
  CHECK(s.bytes == n);
}

static void to_hex(const unsigned char d[32], char hex[65]) {
  oft_hex(d, 32, hex);
  hex[64] = '\0';
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

static void check_pieces(const uint8_t *data, size_t size, const unsigned char want[32], uint64_t rng) {
  oft_sha256 s;
  unsigned char d[32], prefix[32];
  size_t off = 0;
  int peeks = 0;
  oft_sha256_init(&s);
  while (off < size) {
    size_t n = piece(&rng, size - off);
    oft_sha256_update(&s, data + off, n);
    off += n;
    if (peeks < 3 && fuzz_rand(&rng) % 4 == 0) { /* a digest part-way: the state goes on */
      peeks++;
      oft_sha256_digest(&s, d);
      one_shot(data, off, prefix);
      CHECK(memcmp(d, prefix, 32) == 0);
    }
  }
  oft_sha256_digest(&s, d);
  CHECK(memcmp(d, want, 32) == 0);
}

static void check_hmac(const uint8_t *data, size_t size, uint64_t rng) {
  size_t split = size == 0 ? 0 : (size_t)(fuzz_rand(&rng) % (size + 1));
  unsigned char ours[32], ssl[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  static const unsigned char none = 0;
  const unsigned char *key = split > 0 ? data : &none;
  oft_hmac_sha256(key, split, data + split, size - split, ours);
  CHECK(HMAC(EVP_sha256(), key, (int)split, data + split, size - split, ssl, &len) != NULL && len == 32);
  CHECK(memcmp(ours, ssl, 32) == 0);
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

static void check_hex_on_top(const unsigned char want[32]) {
  char hex[65];
  size_t n;
  const char *s = lua_tolstring(L, -1, &n);
  to_hex(want, hex);
  CHECK(s != NULL && n == 64 && memcmp(s, hex, 64) == 0);
  lua_pop(L, 1);
}

static void method(int h, const char *name, int nargs, int nresults) {
  lua_getfield(L, h, name);
  lua_insert(L, -(nargs + 1));
  lua_pushvalue(L, h);
  lua_insert(L, -(nargs + 1));
  call(nargs + 1, nresults);
}

/* h:update_file(path, offset, length) on a fresh hasher; length < 0: omitted. */
static void check_slice(const uint8_t *data, size_t size, size_t offset, long length) {
  int h;
  lua_getglobal(L, "sha256_new");
  call(0, 1);
  h = lua_gettop(L);
  lua_pushstring(L, fd_path);
  lua_pushinteger(L, (lua_Integer)offset);
  if (length >= 0) lua_pushinteger(L, (lua_Integer)length);
  else lua_pushnil(L);
  method(h, "update_file", 3, 2);
  if (offset > size || (length >= 0 && offset + (size_t)length > size)) {
    CHECK(lua_isnil(L, -2) && lua_isstring(L, -1));
    CHECK(strstr(lua_tostring(L, -1), ": the file ends ") != NULL);
    lua_pop(L, 2);
    method(h, "count", 0, 1); /* a failed update leaves the hasher as it was */
    CHECK(lua_isinteger(L, -1) && lua_tointeger(L, -1) == 0);
  } else {
    size_t from = offset < size ? offset : size;
    size_t n = length >= 0 ? (size_t)length : size - from;
    unsigned char want[32];
    CHECK(lua_isinteger(L, -2) && lua_tointeger(L, -2) == (lua_Integer)n);
    lua_pop(L, 2);
    one_shot(data + from, n, want);
    method(h, "hexdigest", 0, 1);
    check_hex_on_top(want);
  }
  lua_settop(L, h - 1);
}

static void check_lua(const uint8_t *data, size_t size, const unsigned char want[32], uint64_t rng) {
  int h, top = lua_gettop(L);
  size_t off = 0, n;
  const char *raw;
  lua_getglobal(L, "sha256");
  lua_pushlstring(L, (const char *)data, size);
  call(1, 1);
  check_hex_on_top(want);

  lua_getglobal(L, "sha256_new");
  call(0, 1);
  h = lua_gettop(L);
  while (off < size) {
    size_t k = piece(&rng, size - off);
    lua_pushlstring(L, (const char *)data + off, k);
    method(h, "update", 1, 1);
    CHECK(lua_rawequal(L, -1, h)); /* update returns the hasher */
    lua_pop(L, 1);
    off += k;
  }
  method(h, "count", 0, 1);
  CHECK(lua_isinteger(L, -1) && lua_tointeger(L, -1) == (lua_Integer)size);
  lua_pop(L, 1);
  method(h, "digest", 0, 1);
  raw = lua_tolstring(L, -1, &n);
  CHECK(raw != NULL && n == 32 && memcmp(raw, want, 32) == 0);
  lua_pop(L, 1);
  method(h, "hexdigest", 0, 1);
  check_hex_on_top(want);

  {
    size_t split = (size_t)(fuzz_rand(&rng) % (size + 1));
    unsigned char mac[32];
    static const unsigned char none = 0;
    oft_hmac_sha256(split > 0 ? data : &none, split, data + split, size - split, mac);
    lua_getglobal(L, "hmac_sha256");
    lua_pushlstring(L, (const char *)data, split);
    lua_pushlstring(L, (const char *)data + split, size - split);
    call(2, 1);
    raw = lua_tolstring(L, -1, &n);
    CHECK(raw != NULL && n == 32 && memcmp(raw, mac, 32) == 0);
    lua_pop(L, 1);
  }

  CHECK(ftruncate(memfd, 0) == 0);
  CHECK(size == 0 || pwrite(memfd, data, size, 0) == (ssize_t)size);
  lua_getglobal(L, "sha256_file");
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
  /* FIPS 180-4 examples (NIST CSRC SHA256.pdf) */
  static const struct {
    const char *text, *hex;
  } fips[] = {
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
  };
  static const char *const names[] = {"sha256", "sha256_new", "sha256_file", "hmac_sha256"};
  size_t i;
  for (i = 0; i < sizeof fips / sizeof fips[0]; i++) {
    unsigned char d[32];
    char hex[65];
    one_shot((const uint8_t *)fips[i].text, strlen(fips[i].text), d);
    to_hex(d, hex);
    CHECK(strcmp(hex, fips[i].hex) == 0);
  }
  L = luaL_newstate();
  CHECK(L != NULL);
  lua_newtable(L);
  oft_sha256_open(L);
  oft_hmac_open(L);
  for (i = 0; i < sizeof names / sizeof names[0]; i++) {
    lua_getfield(L, -1, names[i]);
    lua_setglobal(L, names[i]);
  }
  lua_pop(L, 1);
  memfd = memfd_create("fuzz_sha256", MFD_CLOEXEC);
  CHECK(memfd >= 0);
  snprintf(fd_path, sizeof fd_path, "/proc/self/fd/%d", memfd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  unsigned char want[32], ssl[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  uint64_t rng = fuzz_seed(data, size);
  if (L == NULL) start();
  one_shot(data, size, want);
  CHECK(EVP_Digest(data, size, ssl, &len, EVP_sha256(), NULL) == 1 && len == 32);
  CHECK(memcmp(want, ssl, 32) == 0);
  check_pieces(data, size, want, rng);
  check_hmac(data, size, fuzz_rand(&rng));
  check_lua(data, size, want, fuzz_rand(&rng));
  return 0;
}
