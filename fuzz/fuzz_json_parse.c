/*
 * fuzz_json_parse.c: libFuzzer target for the raw parser (src/codec/json_parse.c).
 *
 * Invariants checked on every input:
 *  - a failed parse has no tree, a non-empty message naming a byte in
 *    1..size+1 (or "out of memory"), and fails the same way on a reused doc;
 *  - a tree spans exactly the nodes written, every container's children end
 *    exactly at its span, object keys are strings, every string is valid
 *    UTF-8 and lies inside the input or the arena;
 *  - writing the tree back out as JSON and parsing that gives the same tree
 *    (so unescaping and number conversion lose nothing);
 *  - a smaller depth limit fails only with OFT_JSON_EDEPTH;
 *  - with an allocator that fails after N allocations the parser reports
 *    OFT_JSON_ENOMEM (or succeeds), never crashes, and frees everything.
 */
#include <string.h>

#include "fuzz_check.h"
#include "json_parse.h"

/* ---- tree checks -------------------------------------------------------- */

/* Checks the subtree at n and returns the node after it. */
static const oft_json_node *check_node(const oft_json_doc *doc, const oft_json_node *n,
                                       const oft_json_node *limit) {
  CHECK(n < limit);
  switch (n->type) {
    case OFT_JSON_NULL:
    case OFT_JSON_FALSE:
    case OFT_JSON_TRUE:
    case OFT_JSON_INT:
    case OFT_JSON_DOUBLE: return n + 1;
    case OFT_JSON_STRING: {
      size_t len;
      const char *s = oft_json_str(doc, n, &len);
      if (n->flags)
        CHECK(s >= doc->strs && s + len <= doc->strs + doc->strs_len);
      else
        CHECK(s >= doc->input && s + len <= doc->input + doc->input_len);
      fuzz_check_utf8(s, len);
      return n + 1;
    }
    case OFT_JSON_ARRAY:
    case OFT_JSON_OBJECT: {
      const oft_json_node *c = n + 1, *end = n + n->u.span;
      uint32_t i;
      CHECK(n->u.span >= 1 && end <= limit);
      CHECK((n->n == 0) == (oft_json_first(n) == NULL));
      CHECK(strcmp(oft_json_type_name(n->type), "?") != 0);
      for (i = 0; i < n->n; i++) {
        if (n->type == OFT_JSON_OBJECT) {
          CHECK(c->type == OFT_JSON_STRING);
          if (n->n <= 64) { /* lookup finds this key's value or a later duplicate's */
            size_t klen, flen;
            const char *key = oft_json_str(doc, c, &klen), *fkey;
            const oft_json_node *found = oft_json_get(doc, n, key, klen);
            CHECK(found != NULL && found > c && found < end);
            fkey = oft_json_str(doc, found - 1, &flen);
            CHECK(flen == klen && memcmp(fkey, key, klen) == 0);
          }
          c = check_node(doc, c, end);
        }
        c = check_node(doc, c, end);
      }
      if (n->type == OFT_JSON_ARRAY) CHECK(oft_json_get(doc, n, "", 0) == NULL);
      CHECK(c == end);
      CHECK(oft_json_next(n) == end);
      return end;
    }
    default: CHECK(0);
  }
  return NULL;
}

/* ---- writing a tree back out ---------------------------------------------- */

typedef struct out {
  char *p;
  size_t len, cap;
} out;

static void put(out *o, const char *s, size_t n) {
  if (o->p == NULL || o->cap - o->len < n) {
    size_t cap = o->cap ? o->cap : 256;
    while (cap - o->len < n) cap *= 2;
    o->p = realloc(o->p, cap);
    CHECK(o->p != NULL);
    o->cap = cap;
  }
  memcpy(o->p + o->len, s, n);
  o->len += n;
}

static void put_string(out *o, const char *s, size_t len) {
  size_t i;
  put(o, "\"", 1);
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == '"' || c == '\\') {
      char esc[8];
      snprintf(esc, sizeof esc, "\\u%04x", c);
      put(o, esc, 6);
    } else {
      put(o, s + i, 1);
    }
  }
  put(o, "\"", 1);
}

static const oft_json_node *write_node(const oft_json_doc *doc, const oft_json_node *n, out *o) {
  char num[64];
  size_t len;
  const char *s;
  uint32_t i;
  const oft_json_node *c = n + 1;
  switch (n->type) {
    case OFT_JSON_NULL: put(o, "null", 4); break;
    case OFT_JSON_FALSE: put(o, "false", 5); break;
    case OFT_JSON_TRUE: put(o, "true", 4); break;
    case OFT_JSON_INT:
      put(o, num, (size_t)snprintf(num, sizeof num, "%lld", (long long)n->u.i));
      break;
    case OFT_JSON_DOUBLE:
      /* %.17g is exact; ".0"/exponent keep it a DOUBLE when read back */
      len = (size_t)snprintf(num, sizeof num, "%.17g", n->u.d);
      if (!strpbrk(num, ".eE")) {
        num[len++] = 'e';
        num[len++] = '0';
      }
      put(o, num, len);
      break;
    case OFT_JSON_STRING:
      s = oft_json_str(doc, n, &len);
      put_string(o, s, len);
      break;
    case OFT_JSON_ARRAY:
    case OFT_JSON_OBJECT:
      put(o, n->type == OFT_JSON_ARRAY ? "[ " : "{\n", 2);
      for (i = 0; i < n->n; i++) {
        if (i) put(o, " ,\t", 3);
        if (n->type == OFT_JSON_OBJECT) {
          c = write_node(doc, c, o);
          put(o, "\r:", 2);
        }
        c = write_node(doc, c, o);
      }
      put(o, n->type == OFT_JSON_ARRAY ? "]" : "}", 1);
      return c;
  }
  return c;
}

/* Same tree, node for node (strings by content, doubles bit for bit). */
static void check_same(const oft_json_doc *a, const oft_json_doc *b) {
  size_t i;
  CHECK(a->nnodes == b->nnodes);
  for (i = 0; i < a->nnodes; i++) {
    const oft_json_node *x = &a->nodes[i], *y = &b->nodes[i];
    CHECK(x->type == y->type);
    CHECK(x->n == y->n);
    if (x->type == OFT_JSON_INT) CHECK(x->u.i == y->u.i);
    if (x->type == OFT_JSON_DOUBLE) { /* bit for bit: -0.0 is not 0.0 */
      uint64_t bx, by;
      memcpy(&bx, &x->u.d, sizeof bx);
      memcpy(&by, &y->u.d, sizeof by);
      CHECK(bx == by);
    }
    if (x->type >= OFT_JSON_ARRAY) CHECK(x->u.span == y->u.span);
    if (x->type == OFT_JSON_STRING) {
      size_t lx, ly;
      const char *sx = oft_json_str(a, x, &lx), *sy = oft_json_str(b, y, &ly);
      CHECK(lx == ly && memcmp(sx, sy, lx) == 0);
    }
  }
}

static oft_json_doc doc, again, shallow, starved, reread;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready;
  const char *text = (const char *)data;
  oft_json_status st;
  fuzz_budget b;
  if (!ready) {
    /* docs are reused across inputs, like a validator reading line after line */
    oft_json_init(&doc, NULL, NULL);
    oft_json_init(&again, NULL, NULL);
    oft_json_init(&shallow, NULL, NULL);
    oft_json_init(&reread, NULL, NULL);
    ready = 1;
  }

  st = oft_json_parse(&doc, text, size);
  if (st == OFT_JSON_OK) {
    out o = {NULL, 0, 0};
    const oft_json_node *root = oft_json_root(&doc);
    CHECK(root != NULL);
    CHECK(check_node(&doc, root, doc.nodes + doc.nnodes) == doc.nodes + doc.nnodes);
    CHECK(oft_json_error(&doc)[0] == '\0');
    write_node(&doc, root, &o);
    CHECK(oft_json_parse(&reread, o.p, o.len) == OFT_JSON_OK);
    check_same(&doc, &reread);
    free(o.p);
  } else {
    const char *msg = oft_json_error(&doc);
    CHECK(oft_json_root(&doc) == NULL);
    CHECK(msg[0] != '\0');
    CHECK(doc.err_offset <= size);
    if (st != OFT_JSON_ENOMEM) {
      const char *at = strstr(msg, " at byte ");
      CHECK(at != NULL);
      CHECK(strtoull(at + 9, NULL, 10) == (unsigned long long)doc.err_offset + 1);
    }
  }

  /* a reused doc answers the same */
  CHECK(oft_json_parse(&again, text, size) == st);
  CHECK(again.err_offset == doc.err_offset);
  CHECK(strcmp(oft_json_error(&again), oft_json_error(&doc)) == 0);
  CHECK(again.nnodes == doc.nnodes);

  /* a lower depth limit can only add EDEPTH failures */
  oft_json_set_max_depth(&shallow, 1 + (size ? data[0] % 8 : 0));
  {
    oft_json_status s2 = oft_json_parse(&shallow, text, size);
    if (s2 != st) {
      CHECK(s2 == OFT_JSON_EDEPTH);
    }
    if (st == OFT_JSON_EDEPTH) CHECK(s2 == OFT_JSON_EDEPTH);
  }

  /* out of memory at every possible point is reported, not fatal */
  b.left = size ? data[size - 1] % 6 : 0;
  b.failed = 0;
  oft_json_init(&starved, fuzz_budget_alloc, &b);
  {
    oft_json_status s3 = oft_json_parse(&starved, text, size);
    CHECK(s3 == st || s3 == OFT_JSON_ENOMEM);
    if (s3 == OFT_JSON_ENOMEM) CHECK(strcmp(oft_json_error(&starved), "out of memory") == 0);
  }
  oft_json_release(&starved);

  /* keep the reused docs from holding a huge input's arena forever */
  oft_json_trim(&doc, 1 << 16);
  oft_json_trim(&again, 1 << 16);
  oft_json_trim(&reread, 1 << 16);
  return 0;
}
