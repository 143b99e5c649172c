/*
 * outcome.h: what the end of an exchange becomes as a Lua value, the same on
 * every transport: src/core/transfer.c pushes these for the curl transport,
 * src/codec/exchange_lua.c for lua/openai/finetunes/transport/exchange.lua.
 *
 * Every run-time failure is one table { kind = "...", message = "one line" }
 * (the curl transport adds curl_code). The kinds, and what a caller does:
 *   connect          TCP connect refused or unreachable    retry may help
 *   dns              host name did not resolve             retry may help
 *   tls              handshake or certificate failure      fix the configuration
 *   timeout          total, connect or idle time exceeded  retry may help
 *   proxy            the proxy failed or refused           fix the configuration
 *   io               send/receive/file error mid-exchange  retry may help
 *   aborted          progress callback said stop, or raised
 *   too_large        body above max_response_bytes         do not retry
 *   closed           the client handle was closed          programming error
 *   invalid_request  refused before sending (bad header, URL, slice)
 * Linked into both modules; no libcurl.
 */
#ifndef OFT_OUTCOME_H
#define OFT_OUTCOME_H

#include "compat.h"
#include "file_source.h"
#include "response.h"
#include "timer.h"

/*
 * Pushes an err table. `message` is made one line (CR/LF become spaces) and
 * every occurrence of `secret` (may be NULL) is replaced by "[redacted]", so a
 * message can never carry the API key. curl_code < 0 leaves curl_code unset.
 * Raises only on memory errors.
 */
void oft_error_push(lua_State *L, const char *kind, const char *message, int curl_code, const char *secret);

/* Pushes s[0..n) with every occurrence of `secret` (may be NULL or empty)
 * replaced by "[redacted]", byte for byte otherwise. */
void oft_push_redacted(lua_State *L, const char *s, size_t n, const char *secret);

/*
 * Pushes the err table of a local file failure (a missing directory, no
 * permission, a full disk, a directory where the file should be): kind "io",
 * message "cannot <verb> <path>: <OS message>", and the fields `path` (the
 * file) and `os_error` (strerror(errnum)), which tell the retry policy the
 * fault is on this machine, not the service's. `secret` as above.
 */
void oft_error_push_local(lua_State *L, const char *verb, const char *path, int errnum, const char *secret);

/* The err of a response's failure (r->failure != OFT_RESPONSE_OK): too_large or a local io error. */
void oft_response_push_failure(lua_State *L, const oft_response *r, const char *secret);

/* Sets the answer's body on the res table at `res`: res.bytes_written for a
 * body that went to the sink, else res.body (the bytes held in memory). */
void oft_response_set_body(lua_State *L, const oft_response *r, int res);

/* The timeout err of `bound` (timer.h); "<doing>: " first when doing is not NULL. */
void oft_timer_push_failure(lua_State *L, const oft_timer *t, int bound, const char *doing);

/* The aborted err of a progress callback that raised the value at index
 * `raised` (kept as err.callback_error), or returned false (raised == 0). */
void oft_progress_push_failure(lua_State *L, int raised, const char *secret);

/* The io err of a request not sent a second time after a reused keep-alive
 * connection died before any answer: every send is an attempt the retry
 * policy counts and decides on (lua/openai/finetunes/call/retry.lua). */
void oft_resend_push_failure(lua_State *L);

/* Why the file at `path` cannot be an upload part (file_source.h): io with the
 * path and the OS message, or invalid_request. */
void oft_source_push_refusal(lua_State *L, const char *path, const oft_source_refusal *why, const char *secret);

/* The io err of an upload part that failed while sent (s->changed or s->read_errno):
 * "cannot upload <path>: the file changed while it was sent (...)", with path and os_error. */
void oft_source_push_failure(lua_State *L, const oft_source *s, const char *secret);

/* A byte count: an integer where Lua has them (exact to 2^53 bytes before 5.3). */
void oft_push_count(lua_State *L, double n);

#endif /* OFT_OUTCOME_H */
