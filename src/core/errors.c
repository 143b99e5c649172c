/* errors.c: CURLcode -> kind, and the err table every failure is reported as. */
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

/* Appends s[0..n) to the buffer on top, one line, with `secret` redacted. */
static void add_clean(luaL_Buffer *b, const char *s, size_t n, const char *secret) {
  size_t slen = secret != NULL ? strlen(secret) : 0;
  size_t i = 0;
  while (i < n) {
    if (slen > 0 && n - i >= slen && memcmp(s + i, secret, slen) == 0) {
      luaL_addstring(b, "[redacted]");
      i += slen;
      continue;
    }
    luaL_addchar(b, (s[i] == '\r' || s[i] == '\n' || s[i] == '\0') ? ' ' : s[i]);
    i++;
  }
}

void oft_push_redacted(lua_State *L, const char *s, size_t n, const char *secret) {
  size_t slen = secret != NULL ? strlen(secret) : 0;
  const char *end = s + n, *p = s, *hit;
  luaL_Buffer b;
  if (slen == 0 || n < slen) {
    lua_pushlstring(L, s, n);
    return;
  }
  luaL_buffinit(L, &b);
  while (p < end) {
    hit = NULL;
    if ((size_t)(end - p) >= slen) {
      const char *q = p;
      while (q + slen <= end) {
        q = (const char *)memchr(q, secret[0], (size_t)(end - q) - slen + 1);
        if (q == NULL) break;
        if (memcmp(q, secret, slen) == 0) {
          hit = q;
          break;
        }
        q++;
      }
    }
    if (hit == NULL) {
      luaL_addlstring(&b, p, (size_t)(end - p));
      break;
    }
    luaL_addlstring(&b, p, (size_t)(hit - p));
    luaL_addstring(&b, "[redacted]");
    p = hit + slen;
  }
  luaL_pushresult(&b);
}

void oft_error_push_local(lua_State *L, const char *verb, const char *path, int errnum,
                          const char *secret) {
  luaL_Buffer b;
  const char *os_error = strerror(errnum);
  lua_pushfstring(L, "cannot %s %s: %s", verb, path, os_error);
  oft_error_push(L, "io", lua_tostring(L, -1), -1, secret);
  lua_remove(L, -2);
  luaL_buffinit(L, &b);
  add_clean(&b, path, strlen(path), secret);
  luaL_pushresult(&b);
  lua_setfield(L, -2, "path");
  lua_pushstring(L, os_error);
  lua_setfield(L, -2, "os_error");
}

void oft_error_push(lua_State *L, const char *kind, const char *message,
                    int curl_code, const char *secret) {
  luaL_Buffer b;
  size_t n = message != NULL ? strlen(message) : 0;
  while (n > 0 && (message[n - 1] == '\n' || message[n - 1] == '\r' || message[n - 1] == ' '))
    n--; /* libcurl's buffer often ends in a newline */
  lua_createtable(L, 0, 3);
  lua_pushstring(L, kind);
  lua_setfield(L, -2, "kind");
  luaL_buffinit(L, &b);
  if (n > 0) add_clean(&b, message, n, secret);
  else luaL_addstring(&b, kind);
  luaL_pushresult(&b);
  lua_setfield(L, -2, "message");
  if (curl_code >= 0) {
    lua_pushinteger(L, curl_code);
    lua_setfield(L, -2, "curl_code");
  }
}
