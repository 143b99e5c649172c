/*
 * md5.c: MD5 (RFC 1321) for the Uploads API's whole-file checksum: the hash
 * alone, no Lua and no I/O (md5.h). codec.md5, md5_file and md5_new are
 * hash_lua.c's, which reads files for it in 64 KB slices. MD5 is only a
 * transfer checksum here, as the API uses it; nothing relies on it for
 * security. fuzz/fuzz_md5.c checks it against OpenSSL.
 */
#include <stdint.h>
#include <string.h>

#include "block64.h"
#include "md5.h"
#include "util.h"

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
  oft_block64_update(m->h, &m->bytes, m->block, md5_block, p, n);
}

/* Pads a copy (section 3.1-3.2): the state goes on. */
void oft_md5_digest(const oft_md5 *m, unsigned char out[OFT_MD5_SIZE]) {
  oft_md5 c = *m;
  unsigned char pad[72];
  size_t i;
  oft_md5_update(&c, pad, oft_block64_padding(m->bytes, 0, pad));
  for (i = 0; i < OFT_MD5_SIZE; i++) out[i] = (unsigned char)(c.h[i / 4] >> (8 * (i % 4)));
}

void oft_md5_hex(const oft_md5 *m, char out[2 * OFT_MD5_SIZE]) {
  unsigned char digest[OFT_MD5_SIZE];
  oft_md5_digest(m, digest);
  oft_hex(digest, sizeof digest, out);
}
