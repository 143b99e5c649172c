/*
 * sha256.h: SHA-256 (FIPS 180-4) with no Lua and no I/O, for hash_lua.c's
 * Lua functions, hmac.c and fuzz/fuzz_sha256.c.
 *
 *   oft_sha256 s;
 *   oft_sha256_init(&s);
 *   oft_sha256_update(&s, p, n);     any number of times, any sizes
 *   oft_sha256_digest(&s, out);      32 bytes; s goes on
 */
#ifndef OFT_SHA256_H
#define OFT_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define OFT_SHA256_SIZE 32
#define OFT_SHA256_BLOCK 64

typedef struct oft_sha256 {
  uint32_t h[8];
  uint64_t bytes;                        /* total bytes hashed */
  unsigned char block[OFT_SHA256_BLOCK]; /* a partial block waiting for more input */
} oft_sha256;

void oft_sha256_init(oft_sha256 *s);
void oft_sha256_update(oft_sha256 *s, const unsigned char *p, size_t n);

/* The digest of everything so far; pads a copy, so s can go on. */
void oft_sha256_digest(const oft_sha256 *s, unsigned char out[OFT_SHA256_SIZE]);

#endif /* OFT_SHA256_H */
