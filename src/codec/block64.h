/*
 * block64.h: what MD5 (RFC 1321 section 3.1-3.2) and SHA-256 (FIPS 180-4
 * sections 5.1.1, 6.2) share: input cut into 64-byte blocks with a partial
 * block buffered between updates, and the final padding (0x80, zeros, the
 * bit length in the last 8 bytes; only its byte order differs). Static
 * inline, so each hash's compress function is called directly. No Lua.
 */
#ifndef OFT_BLOCK64_H
#define OFT_BLOCK64_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef void (*oft_block64_fn)(uint32_t *h, const unsigned char *block);

/* Feeds p[0..n): whole blocks to compress(h, ...), the rest into block; *bytes counts all input. */
static inline void oft_block64_update(uint32_t *h, uint64_t *bytes, unsigned char block[64],
                                      oft_block64_fn compress, const unsigned char *p, size_t n) {
  size_t used = (size_t)(*bytes & 63U);
  *bytes += n;
  if (used > 0) {
    size_t take = 64 - used < n ? 64 - used : n;
    memcpy(block + used, p, take);
    p += take;
    n -= take;
    if (used + take < 64) return;
    compress(h, block);
  }
  for (; n >= 64; p += 64, n -= 64) compress(h, p);
  if (n > 0) memcpy(block, p, n);
}

/* Writes the padding for `bytes` of input into pad; returns its length (9..72). */
static inline size_t oft_block64_padding(uint64_t bytes, int big_endian, unsigned char pad[72]) {
  uint64_t bits = bytes * 8U;
  size_t used = (size_t)(bytes & 63U), padlen = (used < 56 ? 56 : 120) - used, i;
  memset(pad, 0, 72);
  pad[0] = 0x80;
  for (i = 0; i < 8; i++) pad[padlen + i] = (unsigned char)(bits >> (big_endian ? 56 - 8 * i : 8 * i));
  return padlen + 8;
}

#endif /* OFT_BLOCK64_H */
