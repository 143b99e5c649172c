/*
 * md5.h: MD5 (RFC 1321) with no Lua and no I/O, for hash_lua.c's Lua
 * functions and for fuzz/fuzz_md5.c.
 *
 *   oft_md5 m;
 *   oft_md5_init(&m);
 *   oft_md5_update(&m, p, n);        any number of times, any sizes
 *   oft_md5_digest(&m, out);         16 bytes; m goes on
 *   oft_md5_hex(&m, hex);            32 lower-case hex digits, no NUL; m goes on
 */
#ifndef OFT_MD5_H
#define OFT_MD5_H

#include <stddef.h>
#include <stdint.h>

#define OFT_MD5_SIZE 16

typedef struct oft_md5 {
  uint32_t h[4];
  uint64_t bytes;          /* total bytes hashed */
  unsigned char block[64]; /* a partial block waiting for more input */
} oft_md5;

void oft_md5_init(oft_md5 *m);
void oft_md5_update(oft_md5 *m, const unsigned char *p, size_t n);

/* The digest of everything so far; pads a copy, so m can go on. */
void oft_md5_digest(const oft_md5 *m, unsigned char out[OFT_MD5_SIZE]);
void oft_md5_hex(const oft_md5 *m, char out[2 * OFT_MD5_SIZE]);

#endif /* OFT_MD5_H */
