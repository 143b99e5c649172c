/* hmac.c: HMAC-SHA256, RFC 2104 section 2 (see hmac.h). */
#include <string.h>

#include "hmac.h"
#include "util.h"

void oft_hmac_sha256(const unsigned char *key, size_t key_len, const unsigned char *msg, size_t msg_len,
                     unsigned char out[OFT_SHA256_SIZE]) {
  unsigned char k[OFT_SHA256_BLOCK], pad[OFT_SHA256_BLOCK], inner[OFT_SHA256_SIZE];
  oft_sha256 s;
  size_t i;
  memset(k, 0, sizeof k);
  if (key_len > OFT_SHA256_BLOCK) { /* "keys longer than B bytes are first hashed" */
    oft_sha256_init(&s);
    oft_sha256_update(&s, key, key_len);
    oft_sha256_digest(&s, k);
  } else if (key_len > 0) {
    memcpy(k, key, key_len);
  }
  for (i = 0; i < sizeof pad; i++) pad[i] = (unsigned char)(k[i] ^ 0x36U);
  oft_sha256_init(&s);
  oft_sha256_update(&s, pad, sizeof pad);
  oft_sha256_update(&s, msg, msg_len);
  oft_sha256_digest(&s, inner);
  for (i = 0; i < sizeof pad; i++) pad[i] = (unsigned char)(k[i] ^ 0x5cU);
  oft_sha256_init(&s);
  oft_sha256_update(&s, pad, sizeof pad);
  oft_sha256_update(&s, inner, sizeof inner);
  oft_sha256_digest(&s, out);
  /* the key and everything derived from it */
  oft_wipe(k, sizeof k);
  oft_wipe(pad, sizeof pad);
  oft_wipe(inner, sizeof inner);
  oft_wipe(&s, sizeof s);
}
