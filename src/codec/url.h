/*
 * url.h: percent-encoding for URLs (rules in HACKING.md "URLs").
 * The Lua functions codec.escape and codec.encode_query are added by
 * oft_url_open (codec.h); these are the byte-level encoders under them.
 */
#ifndef OFT_URL_H
#define OFT_URL_H

#include <stddef.h>

/* Which bytes stay as they are; every other byte becomes %XX (upper case). */
typedef enum oft_url_set {
  OFT_URL_SEGMENT, /* A-Z a-z 0-9 - . _ ~ ! $ & ' ( ) * + , ; = : @ (RFC 3986 pchar) */
  OFT_URL_QUERY    /* A-Z a-z 0-9 - . _ ~ (unreserved; space is %20) */
} oft_url_set;

/* Whether byte c is kept as is in `set`. */
int oft_url_keeps(oft_url_set set, unsigned char c);

/* Writes the encoding of s[0..len) to out, which must have room for 3 * len
 * bytes (no NUL is written); returns the number of bytes written. */
size_t oft_url_encode(oft_url_set set, const char *s, size_t len, char *out);

#endif /* OFT_URL_H */
