/*
 * constant_time.h: comparing secrets (an HMAC signature against the one
 * received) without a timing side channel. No Lua.
 */
#ifndef OFT_CONSTANT_TIME_H
#define OFT_CONSTANT_TIME_H

#include <stddef.h>

/*
 * 1 when a[0..a_len) equals b[0..b_len), else 0. The time depends only on
 * the lengths (they are not secret: a signature's length is public), never
 * on where the bytes differ.
 */
int oft_equal_constant_time(const unsigned char *a, size_t a_len, const unsigned char *b, size_t b_len);

#endif /* OFT_CONSTANT_TIME_H */
