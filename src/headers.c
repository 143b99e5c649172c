/* headers.c: response header lines (see headers.h). No libcurl, no Lua. */
#include <string.h>

#include "headers.h"

int oft_header_name_is(const char *s, size_t n, const char *name) {
  size_t i;
  if (n != strlen(name)) return 0;
  for (i = 0; i < n; i++) {
    unsigned char x = (unsigned char)s[i], y = (unsigned char)name[i];
    if (x >= 'A' && x <= 'Z') x = (unsigned char)(x | 0x20);
    if (y >= 'A' && y <= 'Z') y = (unsigned char)(y | 0x20);
    if (x != y) return 0;
  }
  return 1;
}

int oft_header_is_token(const char *s, size_t n) {
  size_t i;
  if (n == 0) return 0;
  for (i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL)))
      return 0;
  }
  return 1;
}

int oft_header_is_status(const char *p, size_t n) {
  return n >= 5 && memcmp(p, "HTTP/", 5) == 0;
}

const char *oft_header_join_sep(size_t value_len) {
  return value_len > 0 ? ", " : ",";
}

static int is_ows(char c) {
  return c == ' ' || c == '\t';
}

size_t oft_header_next(char *p, size_t n, oft_header *h) {
  char *nl = (char *)memchr(p, '\n', n);
  char *eol = nl != NULL ? nl : p + n, *colon, *name_end, *v, *q;
  size_t used = nl != NULL ? (size_t)(nl - p) + 1 : n;
  h->kind = OFT_HEADER_SKIP;
  h->name = h->value = NULL;
  h->name_len = h->value_len = 0;
  if (eol > p && eol[-1] == '\r') eol--;
  if (oft_header_is_status(p, (size_t)(eol - p))) {
    h->kind = OFT_HEADER_STATUS;
    return used;
  }
  if (eol == p || is_ows(*p)) return used; /* the blank line, an obs-fold continuation */
  colon = (char *)memchr(p, ':', (size_t)(eol - p));
  if (colon == NULL) return used;
  for (name_end = colon; name_end > p && is_ows(name_end[-1]); name_end--) {}
  if (!oft_header_is_token(p, (size_t)(name_end - p))) return used;
  for (q = p; q < name_end; q++)
    if (*q >= 'A' && *q <= 'Z') *q = (char)(*q - 'A' + 'a');
  for (q = colon + 1; q < eol; q++)
    if (*q == '\r' || *q == '\0') *q = ' ';
  for (v = colon + 1; v < eol && is_ows(*v); v++) {}
  while (eol > v && is_ows(eol[-1])) eol--;
  h->kind = OFT_HEADER_FIELD;
  h->name = p;
  h->name_len = (size_t)(name_end - p);
  h->value = v;
  h->value_len = (size_t)(eol - v);
  return used;
}
