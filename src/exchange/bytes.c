/* bytes.c: a growable byte buffer (see bytes.h). */
#include <stdlib.h>
#include <string.h>

#include "bytes.h"

int oft_bytes_reserve(oft_bytes *b, size_t extra) {
  size_t cap = b->cap > 0 ? b->cap : 1024;
  char *d;
  if (extra <= b->cap - b->len) return 1;
  while (cap - b->len < extra) {
    if (cap > ((size_t)-1) / 2) return 0;
    cap *= 2;
  }
  d = (char *)realloc(b->data, cap);
  if (d == NULL) return 0;
  b->data = d;
  b->cap = cap;
  return 1;
}

int oft_bytes_add(oft_bytes *b, const char *p, size_t n) {
  if (!oft_bytes_reserve(b, n)) return 0;
  if (n > 0) memcpy(b->data + b->len, p, n);
  b->len += n;
  return 1;
}

void oft_bytes_free(oft_bytes *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
