/* request.c: what a request may carry (see request.h). */
#include <stdio.h>
#include <string.h>

#include "headers.h"
#include "request.h"

const char *oft_request_url_refusal(const char *url, size_t len) {
  size_t i, scheme_end = 0;
  for (i = 0; i < len; i++) /* space, control bytes and DEL (bytes >= 128 pass, as libcurl takes them) */
    if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] == 0x7f)
      return "url contains a space or a control character";
  while (scheme_end < len && url[scheme_end] != ':') scheme_end++;
  if (!(oft_header_name_is(url, scheme_end, "http") || oft_header_name_is(url, scheme_end, "https")) || len < scheme_end + 3 ||
      memcmp(url + scheme_end, "://", 3) != 0)
    return "url must be an absolute http:// or https:// URL";
  for (i = scheme_end + 3; i < len && url[i] != '/' && url[i] != '?' && url[i] != '#'; i++)
    if (url[i] == '@') return "url must not carry credentials (user:password@)";
  return NULL;
}

/* The fields the transport writes itself: framing and the connection are the
 * adapter's (libcurl's, or ours over cosockets); a per-call value would be
 * ignored by one transport or break the framing of the other. */
static const char *const OWN_FIELDS[] = {"host", "connection", "content-length", "transfer-encoding",
                                         "proxy-authorization", NULL};

const char *oft_request_header_refusal(const char *name, size_t len, const char *auth_name) {
  size_t i;
  if (oft_header_name_is(name, len, "authorization") || (auth_name != NULL && oft_header_name_is(name, len, auth_name)))
    return "the transport adds the credential itself";
  for (i = 0; OWN_FIELDS[i] != NULL; i++)
    if (oft_header_name_is(name, len, OWN_FIELDS[i]))
      return "the transport writes it itself (message framing and the connection)";
  return NULL;
}

const char *oft_request_header_problem(const char *name, size_t nlen, const char *value, size_t vlen,
                                       const char *auth_name, char *buf, size_t n) {
  const char *why;
  if (!oft_header_is_token(name, nlen)) {
    snprintf(buf, n, "a header name is not a valid token (CR, LF, NUL, space or ':')");
    return buf;
  }
  if (!oft_request_framable(value, vlen, 1)) {
    snprintf(buf, n, "header %.*s: value contains CR, LF or NUL", (int)nlen, name);
    return buf;
  }
  why = oft_request_header_refusal(name, nlen, auth_name);
  if (why == NULL) return NULL;
  snprintf(buf, n, "headers must not set %.*s: %s", (int)nlen, name, why);
  return buf;
}

int oft_request_declares_empty_body(const char *method) {
  return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0;
}

int oft_request_framable(const char *s, size_t n, int quote_ok) {
  size_t i;
  for (i = 0; i < n; i++)
    if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0' || (!quote_ok && s[i] == '"')) return 0;
  return 1;
}
