/*
 * errors.h: transport failures as data.
 *
 * Every run-time failure of the curl transport becomes one Lua table
 * { kind = "...", message = "one line", curl_code = n | nil }. The kinds, and
 * what a caller does about them:
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
 */
#ifndef OFT_ERRORS_H
#define OFT_ERRORS_H

#include <curl/curl.h>

#include "compat.h"

/*
 * The stable kind for a libcurl result and its error-buffer message; the only
 * such mapping in the core. The message only refines: libcurl 7.88 reports a
 * proxy refusing the CONNECT tunnel (407, 502...) as a receive error, which is
 * "proxy" here. A refused TCP connection to the proxy stays "connect": libcurl
 * does not say whether the proxy or the target refused it.
 */
const char *oft_error_kind(CURLcode code, const char *message);

/*
 * Pushes an err table. `message` is made one line (CR/LF become spaces) and
 * every occurrence of `secret` (may be NULL) is replaced by "[redacted]", so a
 * message can never carry the API key. curl_code < 0 leaves curl_code unset.
 * Raises only on memory errors.
 */
void oft_error_push(lua_State *L, const char *kind, const char *message,
                    int curl_code, const char *secret);

/* Pushes s[0..n) with every occurrence of `secret` (may be NULL or empty)
 * replaced by "[redacted]", byte for byte otherwise. */
void oft_push_redacted(lua_State *L, const char *s, size_t n, const char *secret);

/*
 * Pushes the err table of a local file failure (a missing directory, no
 * permission, a full disk, a directory where the file should be): kind "io",
 * message "cannot <verb> <path>: <OS message>", and the fields `path` (the
 * file) and `os_error` (strerror(errnum)), which tell the retry policy the
 * fault is on this machine, not the service's. `secret` as above, in the
 * message and the path.
 */
void oft_error_push_local(lua_State *L, const char *verb, const char *path, int errnum,
                          const char *secret);

#endif /* OFT_ERRORS_H */
