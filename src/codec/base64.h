/*
 * base64.h: base64 (RFC 4648 section 4: the standard alphabet, '=' padding),
 * no Lua and no I/O. Decoding is strict (section 3.3 and 3.5): only alphabet
 * bytes, no line breaks or spaces, the length a multiple of 4, '=' only as
 * the last one or two bytes, and padding bits zero, so each text decodes to
 * one value and each value has one text.
 */
#ifndef OFT_BASE64_H
#define OFT_BASE64_H

#include <stddef.h>

/* Room oft_base64_decode's messages need, NUL included. */
#define OFT_BASE64_ERRLEN 96

/* Bytes the encoding of n bytes takes (4 per 3, rounded up); n <= SIZE_MAX / 4 * 3. */
size_t oft_base64_encoded_len(size_t n);

/* Writes the encoding of in[0..n) to out (oft_base64_encoded_len(n) bytes, no NUL). */
void oft_base64_encode(const unsigned char *in, size_t n, char *out);

/*
 * Decodes in[0..n) into out (room for n / 4 * 3 bytes): 1 with *out_len set,
 * or 0 with a one-line message in err naming the offending byte, counted
 * from 1 ("invalid base64 character '!' at byte 5").
 */
int oft_base64_decode(const char *in, size_t n, unsigned char *out, size_t *out_len,
                      char err[OFT_BASE64_ERRLEN]);

#endif /* OFT_BASE64_H */
