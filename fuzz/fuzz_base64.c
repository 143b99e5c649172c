/*
 * fuzz_base64.c: libFuzzer target for base64 (src/codec/base64.c) and
 * codec.base64_encode / base64_decode (src/codec/base64_lua.c).
 *
 * For every input:
 *  - decoding it either fails with a one-line message naming a byte in
 *    1..size (or the length), or succeeds; then OpenSSL's EVP_DecodeBlock
 *    (an independent decoder, more lenient than ours) gives the same bytes,
 *    and encoding them gives the input back exactly (strict decoding: one
 *    text per value);
 *  - a decoder failure happens only for input OpenSSL would not read the
 *    same way: a byte outside the alphabet, a length not a multiple of 4,
 *    '=' before the end or more than two of them, or padding bits set;
 *  - encoding the input equals EVP_EncodeBlock's text and decodes back to
 *    the input;
 *  - through Lua: the same answers, nil plus the same message on failure.
 */
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <openssl/evp.h>

#include "base64.h"
#include "codec.h"
#include "fuzz_check.h"

static lua_State *L;

static int in_alphabet(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Why our decoder must refuse s, computed the slow way: 1 if it must. */
static int must_refuse(const uint8_t *s, size_t n) {
  size_t pad = 0, i;
  while (pad < n && s[n - 1 - pad] == '=') pad++;
  for (i = 0; i + pad < n; i++)
    if (!in_alphabet(s[i])) return 1;
  return n % 4 != 0 || pad > 2;
}

static void call(int nargs, int nresults) {
  if (lua_pcall(L, nargs, nresults, 0) != LUA_OK) {
    fprintf(stderr, "raised: %s\n", lua_tostring(L, -1));
    abort();
  }
}

static void check_decode(const uint8_t *data, size_t size) {
  unsigned char *out = (unsigned char *)malloc(size / 4 * 3 + 1);
  char err[OFT_BASE64_ERRLEN];
  size_t len = 0;
  int ok;
  CHECK(out != NULL);
  err[0] = '\0';
  ok = oft_base64_decode((const char *)data, size, out, &len, err);
  if (ok) {
    char *again = (char *)malloc(oft_base64_encoded_len(len) + 1);
    unsigned char *ssl = (unsigned char *)malloc(size / 4 * 3 + 1);
    int n;
    CHECK(again != NULL && ssl != NULL);
    CHECK(!must_refuse(data, size));
    CHECK(len <= size / 4 * 3);
    oft_base64_encode(out, len, again);
    CHECK(oft_base64_encoded_len(len) == size && memcmp(again, data, size) == 0);
    n = EVP_DecodeBlock(ssl, data, (int)size); /* counts padding as zero bytes */
    CHECK(n >= 0 && (size_t)n == size / 4 * 3);
    CHECK(memcmp(ssl, out, len) == 0);
    free(again);
    free(ssl);
  } else {
    size_t k = strlen(err);
    const char *at = strstr(err, " at byte ");
    CHECK(k > 0 && k < OFT_BASE64_ERRLEN - 1 && strchr(err, '\n') == NULL);
    if (at != NULL) {
      unsigned long long pos = strtoull(at + 9, NULL, 10);
      CHECK(pos >= 1 && pos <= size);
    }
    /* padding bits set is the one refusal OpenSSL would read (as another value) */
    CHECK(must_refuse(data, size) || strstr(err, "padding bits set") != NULL);
  }
  lua_getglobal(L, "base64_decode");
  lua_pushlstring(L, (const char *)data, size);
  call(1, 2);
  if (ok) {
    size_t n;
    const char *s = lua_tolstring(L, -2, &n);
    CHECK(s != NULL && n == len && memcmp(s, out, len) == 0 && lua_isnil(L, -1));
  } else {
    CHECK(lua_isnil(L, -2) && lua_isstring(L, -1) && strcmp(lua_tostring(L, -1), err) == 0);
  }
  lua_pop(L, 2);
  free(out);
}

static void check_encode(const uint8_t *data, size_t size) {
  size_t n = oft_base64_encoded_len(size), len = 0, k;
  char *text = (char *)malloc(n + 1), err[OFT_BASE64_ERRLEN];
  unsigned char *ssl = (unsigned char *)malloc(n + 1), *back = (unsigned char *)malloc(size + 1);
  const char *s;
  CHECK(text != NULL && ssl != NULL && back != NULL);
  oft_base64_encode(data, size, text);
  CHECK(EVP_EncodeBlock(ssl, data, (int)size) == (int)n && memcmp(ssl, text, n) == 0);
  CHECK(oft_base64_decode(text, n, back, &len, err) && len == size && memcmp(back, data, size) == 0);
  lua_getglobal(L, "base64_encode");
  lua_pushlstring(L, (const char *)data, size);
  call(1, 1);
  s = lua_tolstring(L, -1, &k);
  CHECK(s != NULL && k == n && memcmp(s, text, n) == 0);
  lua_pop(L, 1);
  free(text);
  free(ssl);
  free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (L == NULL) {
    L = luaL_newstate();
    CHECK(L != NULL);
    lua_newtable(L);
    oft_base64_open(L);
    lua_getfield(L, -1, "base64_encode");
    lua_setglobal(L, "base64_encode");
    lua_getfield(L, -1, "base64_decode");
    lua_setglobal(L, "base64_decode");
    lua_pop(L, 1);
  }
  check_decode(data, size);
  check_encode(data, size);
  lua_gc(L, LUA_GCCOLLECT, 0);
  return 0;
}
