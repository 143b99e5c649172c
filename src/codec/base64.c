/* base64.c: RFC 4648 base64, strict decoding (see base64.h). */
#include <stdio.h>

#include "base64.h"

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of an alphabet byte, or -1. */
static int value_of(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

size_t oft_base64_encoded_len(size_t n) {
  return (n / 3 + (n % 3 != 0)) * 4;
}

void oft_base64_encode(const unsigned char *in, size_t n, char *out) {
  size_t i = 0, o = 0;
  for (; i + 3 <= n; i += 3) {
    unsigned long v = ((unsigned long)in[i] << 16) | ((unsigned long)in[i + 1] << 8) | in[i + 2];
    out[o++] = ALPHABET[(v >> 18) & 63];
    out[o++] = ALPHABET[(v >> 12) & 63];
    out[o++] = ALPHABET[(v >> 6) & 63];
    out[o++] = ALPHABET[v & 63];
  }
  if (n - i == 1) {
    unsigned long v = (unsigned long)in[i] << 16;
    out[o++] = ALPHABET[(v >> 18) & 63];
    out[o++] = ALPHABET[(v >> 12) & 63];
    out[o++] = '=';
    out[o++] = '=';
  } else if (n - i == 2) {
    unsigned long v = ((unsigned long)in[i] << 16) | ((unsigned long)in[i + 1] << 8);
    out[o++] = ALPHABET[(v >> 18) & 63];
    out[o++] = ALPHABET[(v >> 12) & 63];
    out[o++] = ALPHABET[(v >> 6) & 63];
    out[o++] = '=';
  }
}

/* "'x'" for a visible ASCII byte, "byte 0xNN" for any other */
static void name_byte(unsigned char c, char out[16]) {
  if (c > 0x20 && c < 0x7f && c != '\'') (void)snprintf(out, 16, "character '%c'", c);
  else (void)snprintf(out, 16, "byte 0x%02X", c);
}

int oft_base64_decode(const char *in, size_t n, unsigned char *out, size_t *out_len,
                      char err[OFT_BASE64_ERRLEN]) {
  const unsigned char *s = (const unsigned char *)in;
  size_t pad = 0, data, i, o = 0;
  unsigned long v = 0;
  char what[16];
  while (pad < n && s[n - 1 - pad] == '=') pad++;
  data = n - pad;
  for (i = 0; i < data; i++) {
    if (s[i] == '=') {
      (void)snprintf(err, OFT_BASE64_ERRLEN, "base64 padding '=' at byte %zu before the end", i + 1);
      return 0;
    }
    if (value_of(s[i]) < 0) {
      name_byte(s[i], what);
      (void)snprintf(err, OFT_BASE64_ERRLEN, "invalid base64 %s at byte %zu", what, i + 1);
      return 0;
    }
  }
  if (n % 4 != 0) {
    (void)snprintf(err, OFT_BASE64_ERRLEN, "base64 length %zu is not a multiple of 4 (padding missing?)", n);
    return 0;
  }
  if (pad > 2) {
    (void)snprintf(err, OFT_BASE64_ERRLEN, "too much base64 padding: '=' at byte %zu", data + 1);
    return 0;
  }
  for (i = 0; i + 4 <= data; i += 4) {
    v = ((unsigned long)value_of(s[i]) << 18) | ((unsigned long)value_of(s[i + 1]) << 12) |
        ((unsigned long)value_of(s[i + 2]) << 6) | (unsigned long)value_of(s[i + 3]);
    out[o++] = (unsigned char)(v >> 16);
    out[o++] = (unsigned char)(v >> 8);
    out[o++] = (unsigned char)v;
  }
  if (pad > 0) { /* the last group: 2 (pad 2) or 3 (pad 1) data bytes */
    unsigned long last;
    v = ((unsigned long)value_of(s[i]) << 18) | ((unsigned long)value_of(s[i + 1]) << 12);
    if (pad == 1) v |= (unsigned long)value_of(s[i + 2]) << 6;
    last = pad == 1 ? (v >> 6) & 3 : (v >> 12) & 15; /* bits past the data: must be 0 */
    if (last != 0) {
      name_byte(s[data - 1], what);
      (void)snprintf(err, OFT_BASE64_ERRLEN, "base64 %s at byte %zu has padding bits set", what, data);
      return 0;
    }
    out[o++] = (unsigned char)(v >> 16);
    if (pad == 1) out[o++] = (unsigned char)(v >> 8);
  }
  *out_len = o;
  return 1;
}
