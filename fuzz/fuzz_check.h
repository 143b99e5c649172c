/* fuzz_check.h: what every fuzz target shares. */
#ifndef OFT_FUZZ_CHECK_H
#define OFT_FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "json_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant that must hold: abort, so libFuzzer keeps the input. */
#define CHECK(c)                                                             \
  do {                                                                       \
    if (!(c)) {                                                              \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
      abort();                                                               \
    }                                                                        \
  } while (0)

/*
 * An allocator (lua_Alloc / oft_json_alloc_fn contract) that fails every
 * allocation after `left` of them; frees always work. `failed` tells whether
 * one was refused.
 */
typedef struct fuzz_budget {
  long left;
  int failed;
} fuzz_budget;

static inline void *fuzz_budget_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  fuzz_budget *b = (fuzz_budget *)ud;
  (void)osize;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  if (b->left <= 0) {
    b->failed = 1;
    return NULL;
  }
  b->left--;
  return realloc(ptr, nsize);
}

/* s[0..len) is well-formed UTF-8 (oft_utf8_seq_len's rules: no overlongs,
 * surrogates or code points past U+10FFFF). */
static inline void fuzz_check_utf8(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s, *end = p + len;
  while (p < end) {
    if (*p < 0x80) {
      p++;
    } else {
      size_t k = oft_utf8_seq_len(p, end);
      CHECK(k >= 2 && k <= 4);
      p += k;
    }
  }
}

/* Deterministic choices from an input: a seed from its bytes (FNV-1a, never
 * 0), then xorshift64 steps. */
static inline uint64_t fuzz_seed(const uint8_t *p, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  size_t i;
  for (i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
  return h | 1;
}

static inline uint64_t fuzz_rand(uint64_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

#endif /* OFT_FUZZ_CHECK_H */
