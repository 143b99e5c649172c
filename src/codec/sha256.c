/*
 * sha256.c: SHA-256 as FIPS 180-4 specifies it (section numbers below are
 * that standard's), for content checksums and HMAC-SHA256 (hmac.c). No Lua,
 * no I/O: sha256.h. fuzz/fuzz_sha256.c checks it against OpenSSL.
 */
#include <string.h>

#include "block64.h"
#include "sha256.h"

/* 4.2.2: the first 32 bits of the fractional parts of the cube roots of the first 64 primes */
static const uint32_t K[64] = {
    0x428a2f98U, 0x71374491U, 0xb5c0fbcfU, 0xe9b5dba5U, 0x3956c25bU, 0x59f111f1U, 0x923f82a4U, 0xab1c5ed5U,
    0xd807aa98U, 0x12835b01U, 0x243185beU, 0x550c7dc3U, 0x72be5d74U, 0x80deb1feU, 0x9bdc06a7U, 0xc19bf174U,
    0xe49b69c1U, 0xefbe4786U, 0x0fc19dc6U, 0x240ca1ccU, 0x2de92c6fU, 0x4a7484aaU, 0x5cb0a9dcU, 0x76f988daU,
    0x983e5152U, 0xa831c66dU, 0xb00327c8U, 0xbf597fc7U, 0xc6e00bf3U, 0xd5a79147U, 0x06ca6351U, 0x14292967U,
    0x27b70a85U, 0x2e1b2138U, 0x4d2c6dfcU, 0x53380d13U, 0x650a7354U, 0x766a0abbU, 0x81c2c92eU, 0x92722c85U,
    0xa2bfe8a1U, 0xa81a664bU, 0xc24b8b70U, 0xc76c51a3U, 0xd192e819U, 0xd6990624U, 0xf40e3585U, 0x106aa070U,
    0x19a4c116U, 0x1e376c08U, 0x2748774cU, 0x34b0bcb5U, 0x391c0cb3U, 0x4ed8aa4aU, 0x5b9cca4fU, 0x682e6ff3U,
    0x748f82eeU, 0x78a5636fU, 0x84c87814U, 0x8cc70208U, 0x90befffaU, 0xa4506cebU, 0xbef9a3f7U, 0xc67178f2U,
};

static uint32_t rotr(uint32_t x, unsigned n) {
  return (x >> n) | (x << (32U - n));
}

static uint32_t be32(const unsigned char *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* 4.1.2 */
#define CH(x, y, z) (((x) & (y)) ^ (~(x) & (z)))
#define MAJ(x, y, z) (((x) & (y)) ^ ((x) & (z)) ^ ((y) & (z)))
#define BSIG0(x) (rotr((x), 2) ^ rotr((x), 13) ^ rotr((x), 22))
#define BSIG1(x) (rotr((x), 6) ^ rotr((x), 11) ^ rotr((x), 25))
#define SSIG0(x) (rotr((x), 7) ^ rotr((x), 18) ^ ((x) >> 3))
#define SSIG1(x) (rotr((x), 17) ^ rotr((x), 19) ^ ((x) >> 10))

/* 6.2.2: one 64-byte block into the state */
static void sha256_block(uint32_t h[8], const unsigned char *p) {
  uint32_t w[64], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
  size_t t;
  for (t = 0; t < 16; t++) w[t] = be32(p + 4 * t);
  for (t = 16; t < 64; t++) w[t] = SSIG1(w[t - 2]) + w[t - 7] + SSIG0(w[t - 15]) + w[t - 16];
  for (t = 0; t < 64; t++) {
    uint32_t t1 = k + BSIG1(e) + CH(e, f, g) + K[t] + w[t];
    uint32_t t2 = BSIG0(a) + MAJ(a, b, c);
    k = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
  h[5] += f;
  h[6] += g;
  h[7] += k;
}

/* 5.3.3 */
void oft_sha256_init(oft_sha256 *s) {
  static const uint32_t H0[8] = {0x6a09e667U, 0xbb67ae85U, 0x3c6ef372U, 0xa54ff53aU,
                                 0x510e527fU, 0x9b05688cU, 0x1f83d9abU, 0x5be0cd19U};
  memcpy(s->h, H0, sizeof H0);
  s->bytes = 0;
}

void oft_sha256_update(oft_sha256 *s, const unsigned char *p, size_t n) {
  oft_block64_update(s->h, &s->bytes, s->block, sha256_block, p, n);
}

/* 5.1.1: pads a copy, so s goes on */
void oft_sha256_digest(const oft_sha256 *s, unsigned char out[OFT_SHA256_SIZE]) {
  oft_sha256 c = *s;
  unsigned char pad[72];
  size_t i;
  oft_sha256_update(&c, pad, oft_block64_padding(s->bytes, 1, pad));
  for (i = 0; i < OFT_SHA256_SIZE; i++) out[i] = (unsigned char)(c.h[i / 4] >> (24 - 8 * (i % 4)));
}
