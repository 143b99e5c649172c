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

/* One Content-Length list item: SP/HTAB around up to 15 digits (what the Lua reader takes). */
static int length_item(const char *s, size_t n, unsigned long long *out) {
  size_t i = 0, digits = 0;
  unsigned long long v = 0;
  while (i < n && is_ows(s[i])) i++;
  while (i < n && s[i] >= '0' && s[i] <= '9') {
    v = v * 10 + (unsigned long long)(s[i] - '0');
    i++;
    digits++;
  }
  while (i < n && is_ows(s[i])) i++;
  if (digits == 0 || digits > 15 || i != n) return 0;
  *out = v;
  return 1;
}

static int all_ows(const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (!is_ows(s[i])) return 0;
  return 1;
}

int oft_header_lengths_agree(char *p, size_t n) {
  size_t off = 0;
  int fields = 0, seen = 0, chunked_or_close = 0, agree = 1;
  unsigned long long first = 0;
  while (off < n) {
    oft_header h;
    off += oft_header_next(p + off, n - off, &h);
    if (h.kind == OFT_HEADER_STATUS) { /* a new response (after 1xx): only the last counts */
      fields = seen = chunked_or_close = 0;
      agree = 1;
    }
    if (h.kind != OFT_HEADER_FIELD) continue;
    if (oft_header_name_is(h.name, h.name_len, "transfer-encoding")) chunked_or_close = 1;
    if (oft_header_name_is(h.name, h.name_len, "content-length")) {
      const char *s = h.value, *end = h.value + h.value_len;
      fields++;
      while (s < end) { /* empty items ("5, ,5", RFC 9110 section 5.6.1) are ignored */
        const char *comma = (const char *)memchr(s, ',', (size_t)(end - s));
        const char *stop = comma != NULL ? comma : end;
        unsigned long long v = 0;
        if (!all_ows(s, (size_t)(stop - s))) {
          if (!length_item(s, (size_t)(stop - s), &v) || (seen && v != first)) agree = 0;
          first = v;
          seen = 1;
        }
        s = stop + 1;
      }
    }
  }
  if (fields > 0 && !seen) agree = 0; /* "Content-Length:" with no number at all */
  return agree || chunked_or_close;
}
