/*
 * client.h: the client userdata (openai.finetunes.core.client).
 *
 * One client owns a CURLM (connection cache, keep-alive, HTTP/2 multiplexing,
 * the connection bound), a CURLSH (DNS and TLS sessions shared by its easy
 * handles), a few idle easy handles for reuse, the credential, and every exchange
 * in flight. `h:request` and `h:start` + `h:poll` are two drivers of the same
 * machine: one setup (transfer.c) and one result collection for both.
 *
 * Lua values an exchange needs while libcurl runs (body strings, the progress
 * function, its error slot) live in the userdata's user value, a table indexed
 * by luaL_ref numbers: the GC sees them through the handle and can still
 * collect a forgotten handle whose callback refers back to it.
 */
#ifndef OFT_CLIENT_H
#define OFT_CLIENT_H

#include <curl/curl.h>

#include "exchange/credential.h"
#include "compat.h"
#include "exchange/response.h"

#define OFT_CLIENT_MT "openai.finetunes.core.client"
#define OFT_EASY_POOL 8                             /* idle easy handles kept for reuse */

typedef struct oft_transfer oft_transfer;

/* Limits a req table may override per call. */
typedef struct oft_limits {
  long timeout_ms;         /* whole exchange; 0 = none */
  long connect_timeout_ms; /* 0 = libcurl's default */
  double idle_timeout_s;   /* fail after this long without a byte either way; 0 = never */
  double max_response_bytes;
} oft_limits;

typedef struct oft_client {
  CURLM *multi;            /* NULL once closed: the "closed" mark */
  CURLSH *share;
  oft_auth auth;           /* the credential line; auth.secret is redacted from messages and traces */
  oft_limits limits;
  long http_version;       /* CURL_HTTP_VERSION_* */
  int compression, verbose, tls_verify;
  char *proxy_url, *proxy_username, *proxy_password, *no_proxy;
  char *ca_file, *ca_path, *cert_file, *key_file, *key_password;
  oft_transfer *running;   /* added to the multi handle */
  oft_transfer *done;      /* finished and not yet reported, oldest first */
  oft_transfer *done_tail;
  oft_transfer *staging;   /* being built from a req; released if building raised */
  CURL *idle[OFT_EASY_POOL];
  int n_idle;
  lua_Integer next_id;
  lua_State *L;            /* the state driving libcurl right now, for Lua callbacks */
  int refs;                /* absolute stack index of the refs table in the driving frame */
  int busy;                /* inside libcurl: methods that drive it must not re-enter */
} oft_client;

/* Adds core.new and creates the client metatable; module table on top. */
void oft_client_open(lua_State *L);

/*
 * Reads timeout, connect_timeout, idle_timeout and max_response_bytes from the
 * table at t into *lim (absent fields keep their value); raises on bad types.
 */
void oft_client_read_limits(lua_State *L, int t, int arg, const char *where, oft_limits *lim);

/* An easy handle from the pool or a new one (NULL when out of memory). */
CURL *oft_client_take_easy(oft_client *c);

/* Returns an easy handle to the pool (reset) or frees it. */
void oft_client_give_easy(oft_client *c, CURL *easy);

#endif /* OFT_CLIENT_H */
