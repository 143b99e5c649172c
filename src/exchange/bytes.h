/*
 * bytes.h: a growable byte buffer (a response body held in memory, a response
 * header block). No Lua, no libcurl.
 */
#ifndef OFT_BYTES_H
#define OFT_BYTES_H

#include <stddef.h>

typedef struct oft_bytes {
  char *data;
  size_t len, cap;
} oft_bytes;

/* Room for `extra` more bytes; 0 when out of memory (b unchanged). */
int oft_bytes_reserve(oft_bytes *b, size_t extra);

/* Appends p[0..n); 0 when out of memory (b unchanged). */
int oft_bytes_add(oft_bytes *b, const char *p, size_t n);

/* Frees the bytes; b is empty and usable again. */
void oft_bytes_free(oft_bytes *b);

#endif /* OFT_BYTES_H */
