/*
 * json_parse.c: the strict JSON parser behind json_parse.h.
 *
 * One forward pass, no recursion: open containers live on doc->stack, nodes
 * are appended to doc->nodes in document order, and a container's span is
 * filled in when it closes. Strings without escapes are not copied; strings
 * with escapes are unescaped into doc->strs.
 */
#include "json_parse.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STR_IN_ARENA 1 /* node flag: string bytes are in doc->strs */

/* ---- allocation ----------------------------------------------------------- */

void *oft_json_libc_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  (void)osize;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  return realloc(ptr, nsize);
}

/* Grows *buf (of *cap elements of size `size`) to hold at least `need`. */
static int grow(oft_json_doc *doc, void **buf, size_t *cap, size_t need, size_t size,
                size_t min_cap) {
  size_t ncap = *cap ? *cap : min_cap;
  void *nbuf;
  while (ncap < need) {
    if (ncap > ((size_t)-1 / 2) / size) return 0;
    ncap *= 2;
  }
  nbuf = doc->alloc(doc->alloc_ud, *buf, *cap * size, ncap * size);
  if (nbuf == NULL) return 0;
  *buf = nbuf;
  *cap = ncap;
  return 1;
}

void oft_json_init(oft_json_doc *doc, oft_json_alloc_fn alloc, void *alloc_ud) {
  doc->nodes = NULL;
  doc->nnodes = doc->nodes_cap = 0;
  doc->strs = NULL;
  doc->strs_len = doc->strs_cap = 0;
  doc->input = NULL;
  doc->input_len = 0;
  doc->alloc = alloc ? alloc : oft_json_libc_alloc;
  doc->alloc_ud = alloc ? alloc_ud : NULL;
  doc->max_depth = OFT_JSON_DEFAULT_DEPTH;
  doc->status = OFT_JSON_OK;
  doc->err_offset = 0;
  doc->err_msg[0] = '\0';
}

void oft_json_set_max_depth(oft_json_doc *doc, unsigned depth) {
  if (depth < 1) depth = 1;
  if (depth > OFT_JSON_MAX_DEPTH) depth = OFT_JSON_MAX_DEPTH;
  doc->max_depth = depth;
}

void oft_json_trim(oft_json_doc *doc, size_t keep_bytes) {
  doc->nnodes = 0;
  doc->strs_len = 0;
  if (doc->nodes_cap * sizeof(oft_json_node) > keep_bytes) {
    doc->alloc(doc->alloc_ud, doc->nodes, doc->nodes_cap * sizeof(oft_json_node), 0);
    doc->nodes = NULL;
    doc->nodes_cap = 0;
  }
  if (doc->strs_cap > keep_bytes) {
    doc->alloc(doc->alloc_ud, doc->strs, doc->strs_cap, 0);
    doc->strs = NULL;
    doc->strs_cap = 0;
  }
}

void oft_json_release(oft_json_doc *doc) { oft_json_trim(doc, 0); }

const oft_json_node *oft_json_root(const oft_json_doc *doc) {
  return (doc->status == OFT_JSON_OK && doc->nnodes > 0) ? doc->nodes : NULL;
}

const char *oft_json_error(const oft_json_doc *doc) {
  return doc->status == OFT_JSON_OK ? "" : doc->err_msg;
}

const oft_json_node *oft_json_get(const oft_json_doc *doc, const oft_json_node *obj,
                                  const char *key, size_t keylen) {
  const oft_json_node *k, *found = NULL;
  uint32_t i;
  if (obj == NULL || obj->type != OFT_JSON_OBJECT) return NULL;
  k = obj + 1;
  for (i = 0; i < obj->n; i++) {
    size_t len;
    const char *s = oft_json_str(doc, k, &len);
    if (len == keylen && memcmp(s, key, keylen) == 0) found = k + 1;
    k = oft_json_next(k + 1);
  }
  return found;
}

const char *oft_json_type_name(int type) {
  switch (type) {
    case OFT_JSON_NULL: return "null";
    case OFT_JSON_FALSE:
    case OFT_JSON_TRUE: return "boolean";
    case OFT_JSON_INT: return "integer";
    case OFT_JSON_DOUBLE: return "number";
    case OFT_JSON_STRING: return "string";
    case OFT_JSON_ARRAY: return "array";
    case OFT_JSON_OBJECT: return "object";
    default: return "?";
  }
}

/* ---- byte classes ---------------------------------------------------------- */

static int is_ws(unsigned char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c |= 0x20;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

const char *oft_json_scan_plain(const char *p, const char *end) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  /* SWAR: per 8-byte word, set the high bit of each byte that is '"', '\\',
   * < 0x20 or >= 0x80. Borrows can only mark bytes above a real hit, so the
   * lowest marked byte is always the first real one. */
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  while (end - p >= 8) {
    uint64_t x, q, b, mask;
    memcpy(&x, p, 8);
    q = x ^ (ones * '"');
    b = x ^ (ones * '\\');
    mask = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b) | x;
    mask &= highs;
    if (mask) return p + (__builtin_ctzll(mask) >> 3);
    p += 8;
  }
#endif
  for (; p < end; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
  }
  return p;
}

size_t oft_utf8_seq_len(const unsigned char *p, const unsigned char *end) {
  unsigned char c = p[0], lo = 0x80, hi = 0xBF;
  size_t n, i;
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;      /* no overlongs */
    else if (c == 0xED) hi = 0x9F; /* no UTF-16 surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;      /* no overlongs */
    else if (c == 0xF4) hi = 0x8F; /* nothing above U+10FFFF */
  } else
    return 0;
  if ((size_t)(end - p) < n) return 0;
  if (p[1] < lo || p[1] > hi) return 0;
  for (i = 2; i < n; i++)
    if (p[i] < 0x80 || p[i] > 0xBF) return 0;
  return n;
}

/* ---- errors ---------------------------------------------------------------- */

typedef struct parser {
  oft_json_doc *doc;
  const char *start, *end;
} parser;

/* Sets a syntax error at p: "<what> at byte N (found 'x')". */
static oft_json_status fail(parser *ps, oft_json_status st, const char *p, const char *what) {
  oft_json_doc *doc = ps->doc;
  size_t off = (size_t)(p - ps->start);
  unsigned long long pos = (unsigned long long)off + 1;
  doc->status = st;
  doc->err_offset = off;
  doc->nnodes = 0;
  if (st == OFT_JSON_ENOMEM) {
    snprintf(doc->err_msg, sizeof doc->err_msg, "out of memory");
  } else if (p >= ps->end) {
    snprintf(doc->err_msg, sizeof doc->err_msg, "%s at byte %llu (end of input)", what, pos);
  } else {
    unsigned char c = (unsigned char)*p;
    if (c >= 0x21 && c < 0x7F)
      snprintf(doc->err_msg, sizeof doc->err_msg, "%s at byte %llu (found '%c')", what, pos, c);
    else
      snprintf(doc->err_msg, sizeof doc->err_msg, "%s at byte %llu (found byte 0x%02X)", what,
               pos, c);
  }
  return st;
}

/* ---- nodes ----------------------------------------------------------------- */

/* Appends a node; NULL when out of memory or past 2^32-1 nodes. */
static oft_json_node *new_node(oft_json_doc *doc, uint8_t type) {
  oft_json_node *n;
  if (doc->nnodes == doc->nodes_cap) {
    void *buf = doc->nodes;
    size_t hint = doc->input_len / 16 + 16; /* a typical API response's density */
    if (doc->nnodes >= UINT32_MAX) return NULL;
    if (!grow(doc, &buf, &doc->nodes_cap, doc->nnodes + 1, sizeof(oft_json_node),
              hint < 4096 ? hint : 4096))
      return NULL;
    doc->nodes = buf;
  }
  n = &doc->nodes[doc->nnodes++];
  n->type = type;
  n->flags = 0;
  n->pad_ = 0;
  n->n = 0;
  n->u.i = 0;
  return n;
}

static int reserve_strs(oft_json_doc *doc, size_t more) {
  void *buf = doc->strs;
  if (doc->strs_cap - doc->strs_len >= more) return 1;
  if (more > (size_t)-1 - doc->strs_len) return 0;
  if (!grow(doc, &buf, &doc->strs_cap, doc->strs_len + more, 1, 256)) return 0;
  doc->strs = buf;
  return 1;
}

/* ---- strings --------------------------------------------------------------- */

static void put_utf8(char *o, size_t *len, uint32_t cp) {
  unsigned char *u = (unsigned char *)o + *len;
  if (cp < 0x80) {
    u[0] = (unsigned char)cp;
    *len += 1;
  } else if (cp < 0x800) {
    u[0] = (unsigned char)(0xC0 | (cp >> 6));
    u[1] = (unsigned char)(0x80 | (cp & 0x3F));
    *len += 2;
  } else if (cp < 0x10000) {
    u[0] = (unsigned char)(0xE0 | (cp >> 12));
    u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    u[2] = (unsigned char)(0x80 | (cp & 0x3F));
    *len += 3;
  } else {
    u[0] = (unsigned char)(0xF0 | (cp >> 18));
    u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    u[3] = (unsigned char)(0x80 | (cp & 0x3F));
    *len += 4;
  }
}

/* Reads 4 hex digits at p (p + 4 <= end checked by the caller); -1 if bad. */
static long hex4(const char *p) {
  int a = hexval((unsigned char)p[0]), b = hexval((unsigned char)p[1]);
  int c = hexval((unsigned char)p[2]), d = hexval((unsigned char)p[3]);
  if ((a | b | c | d) < 0) return -1;
  return ((long)a << 12) | (b << 8) | (c << 4) | d;
}

/* Decodes the escape at *pp ('\\' already seen, *pp points after it) into
 * doc->strs (4 bytes reserved by the caller). */
static oft_json_status unescape(parser *ps, const char **pp) {
  oft_json_doc *doc = ps->doc;
  const char *p = *pp, *esc = p - 1;
  long cp, lo;
  if (p >= ps->end) return fail(ps, OFT_JSON_ESYNTAX, p, "unterminated string");
  switch (*p) {
    case '"': doc->strs[doc->strs_len++] = '"'; break;
    case '\\': doc->strs[doc->strs_len++] = '\\'; break;
    case '/': doc->strs[doc->strs_len++] = '/'; break;
    case 'b': doc->strs[doc->strs_len++] = '\b'; break;
    case 'f': doc->strs[doc->strs_len++] = '\f'; break;
    case 'n': doc->strs[doc->strs_len++] = '\n'; break;
    case 'r': doc->strs[doc->strs_len++] = '\r'; break;
    case 't': doc->strs[doc->strs_len++] = '\t'; break;
    case 'u':
      if (ps->end - p < 5 || (cp = hex4(p + 1)) < 0)
        return fail(ps, OFT_JSON_ESYNTAX, esc, "invalid \\u escape");
      p += 4;
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        /* a high surrogate must be followed by \u and a low one */
        if (ps->end - p < 7 || p[1] != '\\' || p[2] != 'u' || (lo = hex4(p + 3)) < 0 ||
            lo < 0xDC00 || lo > 0xDFFF)
          return fail(ps, OFT_JSON_ESYNTAX, esc, "lone UTF-16 surrogate in \\u escape");
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        p += 6;
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return fail(ps, OFT_JSON_ESYNTAX, esc, "lone UTF-16 surrogate in \\u escape");
      }
      put_utf8(doc->strs, &doc->strs_len, (uint32_t)cp);
      break;
    default: return fail(ps, OFT_JSON_ESYNTAX, esc, "invalid escape in string");
  }
  *pp = p + 1;
  return OFT_JSON_OK;
}

/* Parses the string whose opening quote is at *pp into node n. */
static oft_json_status parse_string(parser *ps, const char **pp, oft_json_node *n) {
  oft_json_doc *doc = ps->doc;
  const char *s = *pp + 1, *p = s, *end = ps->end;
  size_t out0 = 0;
  int copying = 0;
  for (;;) {
    const char *run = p;
    unsigned char c;
    p = oft_json_scan_plain(p, end);
    if (copying && p > run) {
      size_t k = (size_t)(p - run);
      if (!reserve_strs(doc, k)) return fail(ps, OFT_JSON_ENOMEM, p, "");
      memcpy(doc->strs + doc->strs_len, run, k);
      doc->strs_len += k;
    }
    if (p >= end) return fail(ps, OFT_JSON_ESYNTAX, *pp, "unterminated string");
    c = (unsigned char)*p;
    if (c == '"') break;
    if (c == '\\') {
      oft_json_status st;
      if (!copying) {
        /* first escape: move what we have so far into the arena */
        size_t k = (size_t)(p - s);
        if (!reserve_strs(doc, k + 4)) return fail(ps, OFT_JSON_ENOMEM, p, "");
        out0 = doc->strs_len;
        memcpy(doc->strs + doc->strs_len, s, k);
        doc->strs_len += k;
        copying = 1;
      } else if (!reserve_strs(doc, 4)) {
        return fail(ps, OFT_JSON_ENOMEM, p, "");
      }
      p++;
      if ((st = unescape(ps, &p)) != OFT_JSON_OK) return st;
    } else if (c < 0x20) {
      return fail(ps, OFT_JSON_ESYNTAX, p, "control character in string");
    } else {
      size_t k = oft_utf8_seq_len((const unsigned char *)p, (const unsigned char *)end);
      if (k == 0) return fail(ps, OFT_JSON_ESYNTAX, p, "invalid UTF-8 in string");
      if (copying) {
        if (!reserve_strs(doc, k)) return fail(ps, OFT_JSON_ENOMEM, p, "");
        memcpy(doc->strs + doc->strs_len, p, k);
        doc->strs_len += k;
      }
      p += k;
    }
  }
  if (copying) {
    if (doc->strs_len - out0 > UINT32_MAX) return fail(ps, OFT_JSON_ELIMIT, *pp, "string too long");
    n->flags = STR_IN_ARENA;
    n->u.off = out0;
    n->n = (uint32_t)(doc->strs_len - out0);
  } else {
    if ((size_t)(p - s) > UINT32_MAX) return fail(ps, OFT_JSON_ELIMIT, *pp, "string too long");
    n->u.off = (uint64_t)(s - ps->start);
    n->n = (uint32_t)(p - s);
  }
  *pp = p + 1;
  return OFT_JSON_OK;
}

/* ---- numbers --------------------------------------------------------------- */

/* Exact powers of ten a double holds: the base of the exact fast path. */
static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Correctly rounded conversion of the validated number text [s, e) by the C
 * library, in whatever locale the process runs (Lua scripts may call
 * os.setlocale). */
static int slow_double(parser *ps, const char *s, const char *e, double *out) {
  oft_json_doc *doc = ps->doc;
  size_t len = (size_t)(e - s), i, mark = doc->strs_len;
  char dp = localeconv()->decimal_point[0];
  char *buf;
  if (!reserve_strs(doc, len + 1)) return 0;
  buf = doc->strs + mark;
  memcpy(buf, s, len);
  buf[len] = '\0';
  if (dp != '.')
    for (i = 0; i < len; i++)
      if (buf[i] == '.') buf[i] = dp;
  *out = strtod(buf, NULL);
  return 1; /* the scratch bytes at mark are reused by the next string */
}

/* Parses the number at *pp (a '-' or a digit) into n. */
static oft_json_status parse_number(parser *ps, const char **pp, oft_json_node *n) {
  const char *s = *pp, *p = s, *end = ps->end;
  uint64_t mant = 0;
  int ndigits = 0, neg = 0, is_int = 1;
  long exp10 = 0, dropped = 0;
  if (*p == '-') {
    neg = 1;
    p++;
  }
  if (p >= end || *p < '0' || *p > '9') return fail(ps, OFT_JSON_ESYNTAX, s, "invalid number");
  if (*p == '0') {
    p++;
    if (p < end && *p >= '0' && *p <= '9')
      return fail(ps, OFT_JSON_ESYNTAX, s, "invalid number (leading zero)");
  } else {
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
      if (ndigits < 19) {
        mant = mant * 10 + (uint64_t)(*p - '0');
        ndigits++;
      } else {
        dropped++; /* beyond 19 digits: value is mant * 10^dropped, inexact */
      }
    }
  }
  if (p < end && *p == '.') {
    is_int = 0;
    p++;
    if (p >= end || *p < '0' || *p > '9')
      return fail(ps, OFT_JSON_ESYNTAX, p, "invalid number (digit expected after '.')");
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
      if (ndigits < 19) {
        if (mant == 0 && *p == '0') { /* leading zeros are not significant */
          exp10--;
          continue;
        }
        mant = mant * 10 + (uint64_t)(*p - '0');
        ndigits++;
        exp10--;
      } else if (*p != '0') {
        ndigits = 20; /* marks "inexact" */
      }
    }
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    long e = 0;
    int eneg = 0;
    is_int = 0;
    p++;
    if (p < end && (*p == '+' || *p == '-')) eneg = (*p++ == '-');
    if (p >= end || *p < '0' || *p > '9')
      return fail(ps, OFT_JSON_ESYNTAX, p, "invalid number (digit expected in exponent)");
    for (; p < end && *p >= '0' && *p <= '9'; p++)
      if (e < 100000) e = e * 10 + (*p - '0');
    exp10 += eneg ? -e : e;
  }
  *pp = p;

  if (is_int) {
    /* 19 digits always fit in uint64; more than 19 never fit int64 */
    if (dropped == 0 && (neg ? mant <= (uint64_t)INT64_MAX + 1 : mant <= (uint64_t)INT64_MAX)) {
      n->type = OFT_JSON_INT;
      n->u.i = neg ? (int64_t)(0 - mant) : (int64_t)mant;
      if (neg && mant == (uint64_t)INT64_MAX + 1) n->u.i = INT64_MIN;
      return OFT_JSON_OK;
    }
  }
  n->type = OFT_JSON_DOUBLE;
  exp10 += dropped;
  if (ndigits <= 19 && dropped == 0 && mant <= (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
    /* both operands exact: one IEEE operation rounds correctly */
    double d = (double)mant;
    d = exp10 < 0 ? d / pow10_exact[-exp10] : d * pow10_exact[exp10];
    n->u.d = neg ? -d : d;
    return OFT_JSON_OK;
  }
  if (mant == 0 && ndigits <= 19) {
    n->u.d = neg ? -0.0 : 0.0;
    return OFT_JSON_OK;
  }
  if (!slow_double(ps, s, p, &n->u.d)) return fail(ps, OFT_JSON_ENOMEM, s, "");
  if (isinf(n->u.d)) return fail(ps, OFT_JSON_ESYNTAX, s, "number out of range");
  return OFT_JSON_OK;
}

/* ---- the parser ------------------------------------------------------------ */

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && is_ws((unsigned char)*p)) p++;
  return p;
}

static int match(const char *p, const char *end, const char *lit, size_t len) {
  return (size_t)(end - p) >= len && memcmp(p, lit, len) == 0;
}

oft_json_status oft_json_parse(oft_json_doc *doc, const char *buf, size_t len) {
  parser ps;
  const char *p = buf, *end = buf + len;
  unsigned depth = 0;
  oft_json_status st;
  oft_json_node *n;

  ps.doc = doc;
  ps.start = buf;
  ps.end = end;
  doc->input = buf;
  doc->input_len = len;
  doc->nnodes = 0;
  doc->strs_len = 0;
  doc->status = OFT_JSON_OK;
  doc->err_offset = 0;
  doc->err_msg[0] = '\0';

  p = skip_ws(p, end);

value: /* p is at the first byte of a value (whitespace skipped) */
  if (p >= end) return fail(&ps, OFT_JSON_ESYNTAX, p, "expected a value");
  switch (*p) {
    case '{':
    case '[':
      if (depth >= doc->max_depth) {
        char what[48];
        snprintf(what, sizeof what, "nesting deeper than %u", doc->max_depth);
        return fail(&ps, OFT_JSON_EDEPTH, p, what);
      }
      if ((n = new_node(doc, *p == '{' ? OFT_JSON_OBJECT : OFT_JSON_ARRAY)) == NULL)
        return fail(&ps, OFT_JSON_ENOMEM, p, "");
      doc->stack[depth++] = (uint32_t)(doc->nnodes - 1);
      p = skip_ws(p + 1, end);
      if (n->type == OFT_JSON_OBJECT) {
        if (p < end && *p == '}') goto close;
        n->n = 1;
        goto key;
      }
      if (p < end && *p == ']') goto close;
      n->n = 1;
      goto value;
    case '"':
      if ((n = new_node(doc, OFT_JSON_STRING)) == NULL) return fail(&ps, OFT_JSON_ENOMEM, p, "");
      if ((st = parse_string(&ps, &p, n)) != OFT_JSON_OK) return st;
      break;
    case 't':
      if (!match(p, end, "true", 4)) return fail(&ps, OFT_JSON_ESYNTAX, p, "expected a value");
      if (new_node(doc, OFT_JSON_TRUE) == NULL) return fail(&ps, OFT_JSON_ENOMEM, p, "");
      p += 4;
      break;
    case 'f':
      if (!match(p, end, "false", 5)) return fail(&ps, OFT_JSON_ESYNTAX, p, "expected a value");
      if (new_node(doc, OFT_JSON_FALSE) == NULL) return fail(&ps, OFT_JSON_ENOMEM, p, "");
      p += 5;
      break;
    case 'n':
      if (!match(p, end, "null", 4)) return fail(&ps, OFT_JSON_ESYNTAX, p, "expected a value");
      if (new_node(doc, OFT_JSON_NULL) == NULL) return fail(&ps, OFT_JSON_ENOMEM, p, "");
      p += 4;
      break;
    default:
      if (*p == '-' || (*p >= '0' && *p <= '9')) {
        if ((n = new_node(doc, OFT_JSON_DOUBLE)) == NULL) return fail(&ps, OFT_JSON_ENOMEM, p, "");
        if ((st = parse_number(&ps, &p, n)) != OFT_JSON_OK) return st;
        break;
      }
      return fail(&ps, OFT_JSON_ESYNTAX, p, "expected a value");
  }

after_value: /* a value just ended at p */
  p = skip_ws(p, end);
  if (depth == 0) {
    if (p != end) return fail(&ps, OFT_JSON_ESYNTAX, p, "unexpected data after the JSON value");
    return OFT_JSON_OK;
  }
  n = &doc->nodes[doc->stack[depth - 1]];
  if (p < end && *p == ',') {
    if (n->n == UINT32_MAX) return fail(&ps, OFT_JSON_ELIMIT, p, "too many elements");
    n->n++;
    p = skip_ws(p + 1, end);
    if (n->type == OFT_JSON_OBJECT) goto key;
    goto value;
  }
  if (p < end && *p == (n->type == OFT_JSON_OBJECT ? '}' : ']')) goto close;
  return fail(&ps, OFT_JSON_ESYNTAX, p,
              n->type == OFT_JSON_OBJECT ? "expected ',' or '}'" : "expected ',' or ']'");

close: /* p is at the closing bracket of the innermost open container */
  n = &doc->nodes[doc->stack[--depth]];
  n->u.span = doc->nnodes - doc->stack[depth];
  p++;
  goto after_value;

key: /* p is where an object key must start */
  if (p >= end || *p != '"') {
    /* right after '{' the object may also close */
    n = &doc->nodes[doc->stack[depth - 1]];
    return fail(&ps, OFT_JSON_ESYNTAX, p,
                n->n == 1 && doc->nnodes - 1 == doc->stack[depth - 1] ? "expected a string key or '}'"
                                                                       : "expected a string key");
  }
  if ((n = new_node(doc, OFT_JSON_STRING)) == NULL) return fail(&ps, OFT_JSON_ENOMEM, p, "");
  if ((st = parse_string(&ps, &p, n)) != OFT_JSON_OK) return st;
  p = skip_ws(p, end);
  if (p >= end || *p != ':') return fail(&ps, OFT_JSON_ESYNTAX, p, "expected ':'");
  p = skip_ws(p + 1, end);
  goto value;
}
