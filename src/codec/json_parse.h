/*
 * json_parse.h: a strict RFC 8259 JSON parser with no Lua and no I/O.
 *
 * It turns a byte buffer into a compact tree of fixed-size nodes laid out in
 * one array, in document order (a preorder walk), inside an arena owned by an
 * oft_json_doc. Parsing never allocates per node: the arena grows
 * geometrically and is kept between parses, so parsing many documents (a
 * JSONL file line by line) with one doc reallocates only while it warms up.
 *
 *   static oft_json_doc doc;                    16 KB: static, heap or userdata
 *   oft_json_init(&doc, NULL, NULL);            malloc/realloc/free
 *   if (oft_json_parse(&doc, buf, len) != OFT_JSON_OK)
 *     fprintf(stderr, "%s\n", oft_json_error(&doc));   "expected ':' at byte 6"
 *   else {
 *     const oft_json_node *root = oft_json_root(&doc);
 *     const oft_json_node *msgs = oft_json_get(&doc, root, "messages", 8);
 *     if (msgs && msgs->type == OFT_JSON_ARRAY) {
 *       const oft_json_node *m = oft_json_first(msgs);
 *       for (uint32_t i = 0; i < msgs->n; i++, m = oft_json_next(m)) ...
 *     }
 *   }
 *   oft_json_release(&doc);                     frees the arena (doc reusable)
 *
 * Memory: the doc owns every node and every unescaped string. The tree is
 * valid until the next oft_json_parse / oft_json_trim / oft_json_release on
 * the same doc. Strings without escapes point into the caller's input buffer
 * (no copy), so the input must also stay alive and unchanged while the tree
 * is used. Nothing here is thread-safe per doc; separate docs are independent.
 *
 * Strictness: exactly RFC 8259 (no comments, no trailing commas, no NaN, no
 * leading zeros, no single quotes, only space/tab/CR/LF as whitespace), one
 * value per buffer (whitespace around it allowed). Strings must be valid
 * UTF-8 (no overlongs, no encoded surrogates, nothing above U+10FFFF);
 * \u escapes must pair surrogates correctly (a lone surrogate is an error);
 * \u0000 is allowed and yields a NUL byte. A UTF-8 byte order mark is not
 * skipped (a file reader should drop one itself). Numbers whose magnitude
 * overflows a double (1e400) are an error; underflow rounds to zero. Objects
 * may repeat a key (the tree keeps both; oft_json_get returns the last).
 */
#ifndef OFT_JSON_PARSE_H
#define OFT_JSON_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* Default and hard upper limit for the nesting depth of arrays/objects. */
#define OFT_JSON_DEFAULT_DEPTH 512
#define OFT_JSON_MAX_DEPTH 4096

typedef enum oft_json_type {
  OFT_JSON_NULL = 0,
  OFT_JSON_FALSE,
  OFT_JSON_TRUE,
  OFT_JSON_INT,    /* integer literal (no '.', no exponent) that fits int64_t */
  OFT_JSON_DOUBLE, /* every other number */
  OFT_JSON_STRING,
  OFT_JSON_ARRAY,  /* containers sort last: type >= OFT_JSON_ARRAY */
  OFT_JSON_OBJECT
} oft_json_type;

typedef enum oft_json_status {
  OFT_JSON_OK = 0,
  OFT_JSON_ESYNTAX, /* invalid JSON; oft_json_error() / err_offset say where */
  OFT_JSON_EDEPTH,  /* nested deeper than doc->max_depth */
  OFT_JSON_ENOMEM,  /* the allocator failed; the doc stays valid and reusable */
  OFT_JSON_ELIMIT   /* a string over 4 GiB or more than 2^32-1 nodes */
} oft_json_status;

/*
 * One node: 16 bytes. Objects store their members as key, value, key, value
 * ... (keys are OFT_JSON_STRING nodes). `n` counts elements or members, not
 * nodes; `span` lets oft_json_next() skip a whole subtree in O(1).
 */
typedef struct oft_json_node {
  uint8_t type;   /* oft_json_type */
  uint8_t flags;  /* private: where a string's bytes live */
  uint16_t pad_;
  uint32_t n;     /* STRING: byte length; ARRAY: elements; OBJECT: members */
  union {
    int64_t i;    /* INT */
    double d;     /* DOUBLE */
    uint64_t off; /* STRING (private): offset of the bytes, use oft_json_str() */
    uint64_t span;/* ARRAY/OBJECT: nodes in the subtree, this one included */
  } u;
} oft_json_node;

/* Same contract as lua_Alloc: nsize == 0 frees and returns NULL. */
typedef void *(*oft_json_alloc_fn)(void *ud, void *ptr, size_t osize, size_t nsize);

/* The default: realloc/free (ud unused). */
void *oft_json_libc_alloc(void *ud, void *ptr, size_t osize, size_t nsize);

/* The fields are private (the struct is public so it can live inside a
 * userdata or on the stack); use the functions below. */
typedef struct oft_json_doc {
  oft_json_node *nodes;
  size_t nnodes, nodes_cap;
  char *strs; /* unescaped copies of strings that had escapes */
  size_t strs_len, strs_cap;
  const char *input;
  size_t input_len;
  oft_json_alloc_fn alloc;
  void *alloc_ud;
  unsigned max_depth; /* set with oft_json_set_max_depth */
  oft_json_status status;
  size_t err_offset;  /* 0-based byte offset of the error in the input */
  char err_msg[96];
  uint32_t stack[OFT_JSON_MAX_DEPTH]; /* open containers while parsing */
} oft_json_doc;

/* Prepares an empty doc; alloc may be NULL for malloc/realloc/free. Never
 * allocates. A doc is about 16 KB (the container stack): embed it in a
 * userdata or allocate it, rather than put it on a small thread stack. */
void oft_json_init(oft_json_doc *doc, oft_json_alloc_fn alloc, void *alloc_ud);

/* Depth limit for later parses, clamped to 1..OFT_JSON_MAX_DEPTH. */
void oft_json_set_max_depth(oft_json_doc *doc, unsigned depth);

/*
 * Parses buf[0..len) (no NUL terminator needed; NUL bytes are just invalid
 * outside strings). Returns OFT_JSON_OK and a tree at oft_json_root(), or an
 * error status with oft_json_error() / doc->err_offset set and no tree. The
 * previous tree is discarded in both cases; the arena is reused.
 */
oft_json_status oft_json_parse(oft_json_doc *doc, const char *buf, size_t len);

/* "expected ',' or '}' at byte 17": the byte is counted from 1, like
 * string.sub (err_offset is the same place counted from 0). "" after OK. */
const char *oft_json_error(const oft_json_doc *doc);

/* Frees arena blocks larger than keep_bytes (a reused doc otherwise holds on
 * to the largest document's arena). Invalidates the tree. */
void oft_json_trim(oft_json_doc *doc, size_t keep_bytes);

/* Frees the whole arena. The doc is then empty and can be parsed into again;
 * call it once when done. Idempotent. */
void oft_json_release(oft_json_doc *doc);

/* Root of the last successful parse, NULL if there is none. */
const oft_json_node *oft_json_root(const oft_json_doc *doc);

/* Bytes of a STRING node (not NUL-terminated; may contain NUL; valid UTF-8). */
static inline const char *oft_json_str(const oft_json_doc *doc, const oft_json_node *n,
                                       size_t *len) {
  *len = n->n;
  return (n->flags ? doc->strs : doc->input) + n->u.off;
}

/* First element of an array / first key of an object, NULL when empty. */
static inline const oft_json_node *oft_json_first(const oft_json_node *container) {
  return container->n ? container + 1 : NULL;
}

/* The node after n's whole subtree: the next element of the enclosing array,
 * or (from an object value) the next key. After the last element it points
 * past the container: loop on the count (container->n), not on the pointer. */
static inline const oft_json_node *oft_json_next(const oft_json_node *n) {
  return n + (n->type >= OFT_JSON_ARRAY ? n->u.span : 1);
}

/* Value of member `key` in an object (the last one if repeated), or NULL if
 * absent or obj is not an object. Linear in the number of members. */
const oft_json_node *oft_json_get(const oft_json_doc *doc, const oft_json_node *obj,
                                  const char *key, size_t keylen);

/* "null", "boolean", "integer", "number", "string", "array", "object". */
const char *oft_json_type_name(int type);

/* ---- helpers shared with the encoder (and any C consumer) ---------------- */

/* First byte in [p, end) that is '"', '\\', below 0x20 or at least 0x80;
 * end if none. Reads 8 bytes at a time. */
const char *oft_json_scan_plain(const char *p, const char *end);

/* Length (2..4) of the valid multi-byte UTF-8 sequence starting at p, or 0.
 * Call with *p >= 0x80. */
size_t oft_utf8_seq_len(const unsigned char *p, const unsigned char *end);

#endif /* OFT_JSON_PARSE_H */
