/* outcome_lua.c: what the end of an exchange becomes as a Lua value (see outcome.h). */
#include <stdio.h>
#include <string.h>

#include "outcome.h"

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

void oft_push_count(lua_State *L, double n) {
#if LUA_VERSION_NUM >= 503
  lua_pushinteger(L, (lua_Integer)n);
#else
  lua_pushnumber(L, (lua_Number)n);
#endif
}

void oft_response_push_failure(lua_State *L, const oft_response *r, const char *secret) {
  char msg[96];
  switch (r->failure) {
  case OFT_RESPONSE_TOO_LARGE:
    oft_response_too_large_message(r, msg, sizeof msg);
    oft_error_push(L, "too_large", msg, -1, NULL);
    break;
  case OFT_RESPONSE_LOCAL:
    oft_error_push_local(L, r->verb, r->sink != NULL ? r->sink : "the download", r->os_errno, secret);
    break;
  default:
    oft_error_push(L, "io", "out of memory while receiving the response", -1, NULL);
  }
}

void oft_response_set_body(lua_State *L, const oft_response *r, int res) {
  res = lua_absindex(L, res);
  if (r->to_sink == 1) {
    oft_push_count(L, r->written);
    lua_setfield(L, res, "bytes_written");
  } else {
    lua_pushlstring(L, r->body.len > 0 ? r->body.data : "", r->body.len);
    lua_setfield(L, res, "body");
  }
}

void oft_timer_push_failure(lua_State *L, const oft_timer *t, int bound, const char *doing) {
  char msg[96];
  oft_timer_message(t, bound, msg, sizeof msg);
  if (doing != NULL) {
    lua_pushfstring(L, "%s: %s", doing, msg);
    oft_error_push(L, "timeout", lua_tostring(L, -1), -1, NULL);
    lua_remove(L, -2);
  } else {
    oft_error_push(L, "timeout", msg, -1, NULL);
  }
}

void oft_progress_push_failure(lua_State *L, int raised, const char *secret) {
  if (raised == 0) {
    oft_error_push(L, "aborted", "aborted by the progress callback", -1, NULL);
    return;
  }
  raised = lua_absindex(L, raised);
  if (lua_type(L, raised) == LUA_TSTRING || lua_type(L, raised) == LUA_TNUMBER)
    lua_pushfstring(L, "progress callback raised an error: %s", lua_tostring(L, raised));
  else
    lua_pushfstring(L, "progress callback raised a %s value", luaL_typename(L, raised));
  oft_error_push(L, "aborted", lua_tostring(L, -1), -1, secret);
  lua_remove(L, -2);
  lua_pushvalue(L, raised);
  lua_setfield(L, -2, "callback_error");
}

void oft_resend_push_failure(lua_State *L) {
  oft_error_push(L, "io", "the connection closed before any answer (a reused keep-alive connection had died); "
                 "not sent again behind the retry policy", -1, NULL);
}

void oft_source_push_refusal(lua_State *L, const char *path, const oft_source_refusal *why, const char *secret) {
  if (why->verb != NULL) oft_error_push_local(L, why->verb, path, why->os_errno, secret);
  else oft_error_push(L, "invalid_request", why->message, -1, secret);
}

void oft_source_push_failure(lua_State *L, const oft_source *s, const char *secret) {
  const char *path = s->path != NULL ? s->path : "the upload";
  if (!s->changed) {
    oft_error_push_local(L, "read", path, s->read_errno, secret);
    return;
  }
  if (s->size_now == s->size0) {
    lua_pushfstring(L, "cannot upload %s: the file changed while it was sent (rewritten in place, same size)", path);
  } else {
    char sizes[96];
    snprintf(sizes, sizeof sizes, "%.0f bytes when the upload began, %.0f now", (double)s->size0,
             (double)s->size_now);
    lua_pushfstring(L, "cannot upload %s: the file changed while it was sent (%s)", path, sizes);
  }
  oft_error_push(L, "io", lua_tostring(L, -1), -1, secret);
  lua_remove(L, -2);
  lua_pushstring(L, path);
  lua_setfield(L, -2, "path");
  lua_pushstring(L, "the file changed while it was sent");
  lua_setfield(L, -2, "os_error");
}
