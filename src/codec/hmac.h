/*
 * hmac.h: HMAC-SHA256 (RFC 2104 with SHA-256, test vectors RFC 4231), for
 * signing and checking webhook payloads. No Lua, no I/O.
 */
#ifndef OFT_HMAC_H
#define OFT_HMAC_H

#include <stddef.h>

#include "sha256.h"

/* out = HMAC-SHA256(key, msg); any key length (longer than a block: hashed first). */
void oft_hmac_sha256(const unsigned char *key, size_t key_len, const unsigned char *msg, size_t msg_len,
                     unsigned char out[OFT_SHA256_SIZE]);

#endif /* OFT_HMAC_H */
