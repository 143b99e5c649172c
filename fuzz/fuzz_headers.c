/*
 * fuzz_headers.c: libFuzzer target for the response header lines
 * (src/exchange/headers.c), which turn the bytes a server sends into res.headers.
 *
 * The input is a header block as libcurl hands it to transfer.c's header
 * callback, one line at a time. For every input:
 *  - the callback's block handling: a status line drops the headers before
 *    it (a 1xx answer), so only the lines after the last one are parsed;
 *  - oft_header_next takes each line whole (through its '\n', at least one
 *    byte) and never reads or writes outside it;
 *  - a field's name is a non-empty lower-case token starting the line and
 *    equal to the original name lower-cased; its value lies after the
 *    colon, holds no CR, LF or NUL, neither starts nor ends with SP / HTAB,
 *    and is the original bytes with CR / NUL made SP;
 *  - no field is lost: a line that is `token OWS ":" ...` and not a status
 *    line is a field; a status line is reported as one;
 *  - joining is stable: the table built the way transfer.c builds it
 *    (repeated names joined with oft_header_join_sep, in order), written out
 *    as "name: value" lines with CRLF or with bare LF endings and parsed
 *    again, gives the same names in the same order with the same values;
 *  - oft_header_lengths_agree on the block says what transport/http1.lua says
 *    of the joined table: with no transfer-encoding, every non-empty item of the
 *    joined content-length (not empty, not only OWS) is OWS, 1 to 15 digits,
 *    OWS, and all are equal.
 */
#include <string.h>

#include "fuzz_check.h"
#include "headers.h"

/* ---- a little table: names in first-seen order, joined values ---------- */

typedef struct field {
  char *name, *value;
  size_t name_len, value_len;
} field;

typedef struct table {
  field *f;
  size_t n, cap;
} table;

static char *dup_bytes(const char *p, size_t n) {
  char *d = malloc(n + 1);
  CHECK(d != NULL);
  if (n > 0) memcpy(d, p, n);
  d[n] = '\0';
  return d;
}

static void table_free(table *t) {
  size_t i;
  for (i = 0; i < t->n; i++) {
    free(t->f[i].name);
    free(t->f[i].value);
  }
  free(t->f);
  t->f = NULL;
  t->n = t->cap = 0;
}

/* What transfer.c's push_headers does with one field, on a C table. */
static void table_add(table *t, const oft_header *h) {
  size_t i;
  for (i = 0; i < t->n; i++) {
    field *f = &t->f[i];
    if (f->name_len == h->name_len && memcmp(f->name, h->name, h->name_len) == 0) {
      const char *sep = oft_header_join_sep(h->value_len);
      size_t slen = strlen(sep), nlen = f->value_len + slen + h->value_len;
      char *v = malloc(nlen + 1);
      CHECK(v != NULL);
      memcpy(v, f->value, f->value_len);
      memcpy(v + f->value_len, sep, slen);
      if (h->value_len > 0) memcpy(v + f->value_len + slen, h->value, h->value_len);
      v[nlen] = '\0';
      free(f->value);
      f->value = v;
      f->value_len = nlen;
      return;
    }
  }
  if (t->n == t->cap) {
    t->cap = t->cap ? t->cap * 2 : 8;
    t->f = realloc(t->f, t->cap * sizeof *t->f);
    CHECK(t->f != NULL);
  }
  t->f[t->n].name = dup_bytes(h->name, h->name_len);
  t->f[t->n].name_len = h->name_len;
  t->f[t->n].value = dup_bytes(h->value, h->value_len);
  t->f[t->n].value_len = h->value_len;
  t->n++;
}

static int is_lower_tchar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int is_tchar(unsigned char c) {
  return is_lower_tchar(c) || (c >= 'A' && c <= 'Z');
}

static unsigned char lower(unsigned char c) {
  return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Independently of headers.c: does the line look like `token OWS ":"`? */
static int looks_like_field(const unsigned char *p, size_t n) {
  size_t i = 0;
  while (i < n && is_tchar(p[i])) i++;
  if (i == 0) return 0;
  while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
  return i < n && p[i] == ':';
}

/*
 * Parses block[0..n) (a private copy: the parser writes into it) with the
 * checks above against `orig`, and adds every field to t.
 */
static void parse_block(const unsigned char *orig, size_t n, table *t) {
  char *buf = malloc(n > 0 ? n : 1); /* exact size: ASan sees any overrun */
  size_t off = 0;
  CHECK(buf != NULL);
  if (n > 0) memcpy(buf, orig, n);
  while (off < n) {
    oft_header h;
    const unsigned char *line = orig + off;
    const char *nl = memchr(line, '\n', n - off);
    size_t want = nl ? (size_t)((const unsigned char *)nl - line) + 1 : n - off;
    size_t used = oft_header_next(buf + off, n - off, &h), eol = want, i;
    CHECK(used == want);
    if (eol > 0 && line[eol - 1] == '\n') eol--;
    if (eol > 0 && line[eol - 1] == '\r') eol--;
    if (eol >= 5 && memcmp(line, "HTTP/", 5) == 0) {
      CHECK(h.kind == OFT_HEADER_STATUS);
    } else if (looks_like_field(line, eol)) {
      CHECK(h.kind == OFT_HEADER_FIELD);
    } else {
      CHECK(h.kind == OFT_HEADER_SKIP);
    }
    if (h.kind == OFT_HEADER_FIELD) {
      size_t name_at = (size_t)(h.name - (buf + off)), value_at = (size_t)(h.value - (buf + off));
      CHECK(name_at == 0 && h.name_len >= 1);
      CHECK(value_at > h.name_len && value_at + h.value_len <= eol);
      CHECK(line[h.name_len] == ':' || line[h.name_len] == ' ' || line[h.name_len] == '\t');
      for (i = 0; i < h.name_len; i++) {
        CHECK(is_lower_tchar((unsigned char)h.name[i]));
        CHECK((unsigned char)h.name[i] == lower(line[i]));
      }
      for (i = 0; i < h.value_len; i++) {
        unsigned char c = (unsigned char)h.value[i], o = line[value_at + i];
        CHECK(c != '\r' && c != '\n' && c != '\0');
        CHECK(c == ((o == '\r' || o == '\0') ? ' ' : o));
      }
      if (h.value_len > 0) {
        CHECK(h.value[0] != ' ' && h.value[0] != '\t');
        CHECK(h.value[h.value_len - 1] != ' ' && h.value[h.value_len - 1] != '\t');
      }
      table_add(t, &h);
    } else {
      CHECK(h.name == NULL && h.value == NULL && h.name_len == 0 && h.value_len == 0);
      CHECK(memcmp(buf + off, line, used) == 0); /* only fields are rewritten */
    }
    off += used;
  }
  free(buf);
}

/* The table as a header block, one "name: value" line per field. */
static char *write_block(const table *t, const char *eol, size_t *len) {
  size_t i, n = 0, elen = strlen(eol);
  char *out, *p;
  for (i = 0; i < t->n; i++) n += t->f[i].name_len + 2 + t->f[i].value_len + elen;
  out = p = malloc(n > 0 ? n : 1);
  CHECK(out != NULL);
  for (i = 0; i < t->n; i++) {
    memcpy(p, t->f[i].name, t->f[i].name_len);
    p += t->f[i].name_len;
    memcpy(p, ": ", 2);
    p += 2;
    memcpy(p, t->f[i].value, t->f[i].value_len);
    p += t->f[i].value_len;
    memcpy(p, eol, elen);
    p += elen;
  }
  *len = n;
  return out;
}

static void check_same(const table *a, const table *b) {
  size_t i;
  CHECK(a->n == b->n);
  for (i = 0; i < a->n; i++) {
    CHECK(a->f[i].name_len == b->f[i].name_len);
    CHECK(memcmp(a->f[i].name, b->f[i].name, a->f[i].name_len) == 0);
    CHECK(a->f[i].value_len == b->f[i].value_len);
    CHECK(memcmp(a->f[i].value, b->f[i].value, a->f[i].value_len) == 0);
  }
}

/* The Lua reader's rule, on the joined table. */
static int table_lengths_agree(const table *t) {
  size_t i, k;
  int seen = 0, fields = 0;
  unsigned long long first = 0;
  for (i = 0; i < t->n; i++)
    if (t->f[i].name_len == 17 && memcmp(t->f[i].name, "transfer-encoding", 17) == 0) return 1;
  for (i = 0; i < t->n; i++) {
    const char *v = t->f[i].value;
    size_t n = t->f[i].value_len;
    if (!(t->f[i].name_len == 14 && memcmp(t->f[i].name, "content-length", 14) == 0)) continue;
    fields++;
    for (k = 0; k < n;) {
      size_t end = k, j, digits = 0;
      unsigned long long x = 0;
      while (end < n && v[end] != ',') end++;
      for (j = k; j < end && (v[j] == ' ' || v[j] == '\t'); j++) {}
      if (j < end) { /* an item that is not empty or OWS only */
        for (; j < end && v[j] >= '0' && v[j] <= '9'; j++, digits++) x = x * 10 + (unsigned long long)(v[j] - '0');
        for (; j < end && (v[j] == ' ' || v[j] == '\t'); j++) {}
        if (digits == 0 || digits > 15 || j != end || (seen && x != first)) return 0;
        first = x;
        seen = 1;
      }
      k = end + 1;
    }
  }
  return fields == 0 || seen;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  table t = {NULL, 0, 0};
  size_t start = 0, off = 0, i;
  static const char *const EOLS[] = {"\r\n", "\n"};

  /* transfer.c's header callback: libcurl gives one line per call; a status
   * line starts the block again */
  while (off < size) {
    const uint8_t *nl = memchr(data + off, '\n', size - off);
    size_t len = nl ? (size_t)(nl - (data + off)) + 1 : size - off;
    if (oft_header_is_status((const char *)data + off, len)) start = off;
    off += len;
  }
  parse_block(data + start, size - start, &t);
  {
    char *copy = dup_bytes((const char *)data, size); /* normalised in place */
    CHECK(oft_header_lengths_agree(copy, size) == table_lengths_agree(&t));
    free(copy);
  }

  for (i = 0; i < sizeof EOLS / sizeof EOLS[0]; i++) {
    table again = {NULL, 0, 0};
    size_t len;
    char *block = write_block(&t, EOLS[i], &len);
    parse_block((const unsigned char *)block, len, &again);
    check_same(&t, &again);
    table_free(&again);
    free(block);
  }
  table_free(&t);
  return 0;
}
