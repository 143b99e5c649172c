/* constant_time.c: see constant_time.h. */
#include "constant_time.h"

int oft_equal_constant_time(const unsigned char *a, size_t a_len, const unsigned char *b, size_t b_len) {
  /* volatile: the compiler may not stop at the first difference */
  volatile unsigned char diff = 0;
  size_t i;
  if (a_len != b_len) return 0;
  for (i = 0; i < a_len; i++) diff = (unsigned char)(diff | (a[i] ^ b[i]));
  return diff == 0;
}
