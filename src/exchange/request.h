/*
 * request.h: what a request may carry, for every transport: its URL, each
 * header a call sets, the names of a multipart body. src/core/transfer.c and
 * src/core/mime.c apply them before libcurl sees a request; codec.url_refusal,
 * codec.header_refusal and codec.framable (src/codec/request_lua.c) give the
 * same functions to lua/openai/finetunes/transport/exchange.lua. Each returns
 * NULL when the thing may go, else why not (one line). No Lua, no libcurl.
 */
#ifndef OFT_REQUEST_H
#define OFT_REQUEST_H

#include <stddef.h>

/* An absolute http:// or https:// URL with no space or control byte and no
 * credentials in it (user:password@ would end up in logs and messages). */
const char *oft_request_url_refusal(const char *url, size_t len);

/* May a call set this header? Not the credential (`auth_name`, lower-case,
 * and Authorization) and not the fields the transport writes itself (framing
 * and the connection). The name alone: the client layer raises this as misuse. */
const char *oft_request_header_refusal(const char *name, size_t len, const char *auth_name);

/* The whole rule for one header line a call sets: a token name, a value
 * without CR, LF or NUL, and oft_request_header_refusal. Writes the one-line
 * message into buf (n bytes) and returns buf, or NULL. */
const char *oft_request_header_problem(const char *name, size_t nlen, const char *value, size_t vlen,
                                       const char *auth_name, char *buf, size_t n);

/* Does a request with this method and no body still say "Content-Length: 0"?
 * POST, PUT and PATCH do (a body-less POST /cancel); other methods send none. */
int oft_request_declares_empty_body(const char *method);

/* Can a multipart name, filename (quote_ok = 0) or content type (quote_ok = 1)
 * be framed faithfully: no CR, LF, NUL (or '"')? */
int oft_request_framable(const char *s, size_t n, int quote_ok);

#endif /* OFT_REQUEST_H */
