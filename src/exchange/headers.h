/*
 * headers.h: the lines of an HTTP response header block, byte by byte, with
 * no libcurl and no Lua. transfer.c keeps the block libcurl hands it and
 * builds res.headers from it with these; fuzz/fuzz_headers.c drives them
 * with arbitrary bytes.
 *
 *   size_t off = 0;
 *   while (off < len) {
 *     oft_header h;
 *     off += oft_header_next(block + off, len - off, &h);
 *     if (h.kind == OFT_HEADER_FIELD) ... h.name[0..h.name_len), h.value[0..h.value_len)
 *   }
 *
 * A field line is `name ":" OWS value OWS`. The name must be an RFC 9110
 * token (whitespace before the colon is tolerated and dropped, as a proxy
 * would); it is lower-cased. CR and NUL inside the value become SP (RFC
 * 9110 §5.5 lets a recipient do that instead of failing the message), then
 * leading and trailing SP / HTAB are dropped: a value never holds CR, LF or
 * NUL and never starts or ends with whitespace. Everything else is a line
 * to skip: the blank line, an obs-fold continuation (starts with SP / HTAB),
 * a line without a colon or whose name is not a token. A status line
 * ("HTTP/1.1 200 OK", "HTTP/2 200") says a new response begins: the
 * headers of an interim 1xx response before it are dropped by the caller.
 *
 * Repeated fields are joined in order (RFC 9110 §5.3) with
 * oft_header_join_sep(): ", " before a value, "," before an empty one, so a
 * joined value is again a valid value (no trailing whitespace) and parsing
 * "name: <joined>" gives it back unchanged.
 */
#ifndef OFT_HEADERS_H
#define OFT_HEADERS_H

#include <stddef.h>

typedef enum oft_header_kind {
  OFT_HEADER_SKIP = 0, /* blank, continuation, malformed: not a field */
  OFT_HEADER_STATUS,   /* "HTTP/...": a new response begins */
  OFT_HEADER_FIELD
} oft_header_kind;

typedef struct oft_header {
  oft_header_kind kind;
  char *name;         /* FIELD: a lower-case token inside the line */
  size_t name_len;    /* >= 1 */
  char *value;        /* FIELD: inside the line; no CR, LF, NUL, no SP/HTAB at either end */
  size_t value_len;   /* may be 0 */
} oft_header;

/*
 * Reads the first line of p[0..n) (up to and including its '\n', or all of
 * p when there is none; a CR before the '\n' ends the line too) and returns
 * the bytes it took: >= 1 when n >= 1, 0 only when n == 0. Normalises a
 * field in place (the name lower-cased, CR / NUL in the value made SP); the
 * spans in *h point into p.
 */
size_t oft_header_next(char *p, size_t n, oft_header *h);

/* Is s[0..n) an RFC 9110 token (n >= 1)? Header names and methods. */
int oft_header_is_token(const char *s, size_t n);

/* Does the field name s[0..n) equal `name` (NUL-terminated), ignoring ASCII case? */
int oft_header_name_is(const char *s, size_t n, const char *name);

/* Is the line p[0..n) a status line ("HTTP/" ...)? */
int oft_header_is_status(const char *p, size_t n);

/* What goes between an earlier value of a repeated field and the next
 * value (value_len bytes): ", " or, before an empty value, ",". */
const char *oft_header_join_sep(size_t value_len);

/*
 * Does the header block p[0..n) frame its body unambiguously? 0 when it has
 * no Transfer-Encoding and Content-Length values (repeated fields or a comma
 * list; empty items ignored) that are not all the same decimal number, or
 * none at all (RFC 9112 section 6.3: the answer is invalid), else 1. The same rule as transport/http1.lua's
 * content_length. Normalises the lines in place as oft_header_next does.
 */
int oft_header_lengths_agree(char *p, size_t n);

#endif /* OFT_HEADERS_H */
