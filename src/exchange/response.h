/*
 * response.h: where an answer's body goes, the one rule for every transport.
 * src/core/transfer.c feeds it from libcurl's callbacks; codec.response
 * (src/codec/exchange_lua.c) hands the same functions to
 * lua/openai/finetunes/transport/exchange.lua, which the ngx adapter drives.
 *
 * With a sink (a download), a temp file next to it is created before anything
 * is sent (sink.h: a missing directory fails then, not after the request). A
 * 2xx answer's body is written there and renamed onto the sink only when the
 * answer is complete; any other answer is held in memory, as is every answer
 * without a sink, up to max_body bytes. Every other end (a failure, a cancel,
 * a non-2xx answer, an exchange never finished) removes the temp file: the
 * target is untouched and nothing is left behind.
 *
 *   oft_response r;
 *   oft_response_init(&r, max_body);
 *   if (sink != NULL && !oft_response_open(&r, sink)) ... r.failure
 *   oft_response_head(&r, status, content_length);   once, when the head is read
 *   oft_response_add(&r, p, n) ...                   0: r.failure says why
 *   oft_response_finish(&r)                          the answer is complete
 *   oft_response_free(&r)                            always; removes a temp file left
 *
 * No Lua, no libcurl.
 */
#ifndef OFT_RESPONSE_H
#define OFT_RESPONSE_H

#include <stddef.h>

#include "bytes.h"

/* The default of max_response_bytes, on every transport. */
#define OFT_DEFAULT_MAX_RESPONSE (64.0 * 1024 * 1024)

enum {
  OFT_RESPONSE_OK,
  OFT_RESPONSE_TOO_LARGE, /* a body held in memory went past max_body */
  OFT_RESPONSE_LOCAL,     /* the sink failed on this machine: verb, os_errno */
  OFT_RESPONSE_NOMEM
};

typedef struct oft_response {
  double max_body;       /* cap on a body held in memory, in bytes */
  char *sink, *tmp;      /* the target and "<target>.part-<hex>" next to it (owned) */
  int fd;                /* the temp file while open, else -1 */
  int to_sink;           /* -1 undecided (no head yet), 0 body to memory, 1 body to the file */
  oft_bytes body;        /* a body held in memory */
  double written;        /* bytes written to the temp file */
  int failure;           /* OFT_RESPONSE_*: the first failure; later calls do nothing */
  const char *verb;      /* OFT_RESPONSE_LOCAL: "cannot <verb> <sink>: strerror(os_errno)" */
  int os_errno;
} oft_response;

void oft_response_init(oft_response *r, double max_body);

/* Creates the sink's temp file (sink.h). 0: r->failure is LOCAL or NOMEM. */
int oft_response_open(oft_response *r, const char *sink);

/* The answer's head was read: status decides where its body goes (a 2xx with
 * a sink: the file; else memory, and a temp file is removed now).
 * content_length (< 0: not announced) sizes the memory once. Idempotent. */
void oft_response_head(oft_response *r, long status, double content_length);

/* n body bytes arrived. 0: r->failure says why; the temp file is gone. */
int oft_response_add(oft_response *r, const char *p, size_t n);

/* The whole answer arrived: a body to the file is renamed onto the sink.
 * 0: r->failure says why (LOCAL); the temp file is gone. */
int oft_response_finish(oft_response *r);

/* Closes and removes the temp file, if any; idempotent. For every end but finish. */
void oft_response_abort(oft_response *r);

/* abort, then frees what r holds; idempotent. */
void oft_response_free(oft_response *r);

/* The message of a TOO_LARGE failure, into buf (n bytes). */
void oft_response_too_large_message(const oft_response *r, char *buf, size_t n);

#endif /* OFT_RESPONSE_H */
