/* errors.c: a libcurl result -> the kind of its err (src/exchange/outcome.h). */
#include <string.h>

#include "errors.h"

const char *oft_error_kind(CURLcode code, const char *message) {
  static const char tunnel[] = "CONNECT tunnel failed";
  static const char http09[] = "Received HTTP/0.9";
  /* A TLS alert from the peer after the handshake (TLS 1.3 sends "certificate
   * required" on the first read when the client had none to give): libcurl
   * reports the read, OpenSSL names the alert. A TLS decision, not a broken link. */
  if ((code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR) && message != NULL &&
      strstr(message, "SSL routines") != NULL && strstr(message, " alert ") != NULL)
    return "tls";
  if (code == CURLE_RECV_ERROR && message != NULL && strncmp(message, tunnel, sizeof(tunnel) - 1) == 0)
    return "proxy";
  /* bytes that are not an HTTP answer: what the Lua reader (transport/http1.lua) calls them too */
  if (code == CURLE_UNSUPPORTED_PROTOCOL && message != NULL && strncmp(message, http09, sizeof(http09) - 1) == 0)
    return "invalid_response";
  switch (code) {
  case CURLE_OK:
    return NULL;
  case CURLE_COULDNT_CONNECT:
    return "connect";
  case CURLE_COULDNT_RESOLVE_HOST:
    return "dns";
  case CURLE_COULDNT_RESOLVE_PROXY:
#if LIBCURL_VERSION_NUM >= 0x074900 /* 7.73.0 */
  case CURLE_PROXY:
#endif
    return "proxy";
  case CURLE_OPERATION_TIMEDOUT:
    return "timeout";
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_ENGINE_INITFAILED:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_SHUTDOWN_FAILED:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_USE_SSL_FAILED:
#if LIBCURL_VERSION_NUM >= 0x074d00 /* 7.77.0 */
  case CURLE_SSL_CLIENTCERT:
#endif
    return "tls";
  case CURLE_WEIRD_SERVER_REPLY:
    return "invalid_response";
  case CURLE_ABORTED_BY_CALLBACK:
    return "aborted";
  case CURLE_FILESIZE_EXCEEDED:
    return "too_large";
  case CURLE_URL_MALFORMAT:
  case CURLE_UNSUPPORTED_PROTOCOL:
    return "invalid_request";
  default:
    /* send/recv errors, resets, HTTP/2 stream errors, bad encodings, files */
    return "io";
  }
}
