/*
 * client.c: core.new and the client handle's methods. The handle is created
 * closed and opened only once every option has been read (liolib's pattern),
 * so a raise in between leaves nothing for __gc to trip over; close(), __gc and
 * __close share one idempotent path.
 */
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "client.h"
#include "core.h"
#include "errors.h"
#include "transfer.h"

/* ---- easy handle pool ---- */

CURL *oft_client_take_easy(oft_client *c) {
  if (c->n_idle > 0) return c->idle[--c->n_idle];
  return curl_easy_init();
}

void oft_client_give_easy(oft_client *c, CURL *easy) {
  if (c->multi != NULL && c->n_idle < OFT_EASY_POOL) {
    curl_easy_reset(easy);
    c->idle[c->n_idle++] = easy;
  } else {
    curl_easy_cleanup(easy);
  }
}

/* ---- options ---- */

void oft_client_read_limits(lua_State *L, int t, int arg, const char *where, oft_limits *lim) {
  double v;
  if (oft_arg_number(L, t, "timeout", arg, where, &v)) lim->timeout_ms = oft_ms(v);
  if (oft_arg_number(L, t, "connect_timeout", arg, where, &v)) lim->connect_timeout_ms = oft_ms(v);
  if (oft_arg_number(L, t, "idle_timeout", arg, where, &v)) lim->idle_timeout_s = v;
  if (oft_arg_number(L, t, "max_response_bytes", arg, where, &v)) lim->max_response_bytes = v;
}

/* Copies an option string into C memory; *failed is set when malloc fails. */
static char *dup_opt(const char *s, int *failed) {
  char *d;
  if (s == NULL) return NULL;
  d = strdup(s);
  if (d == NULL) *failed = 1;
  return d;
}

static void free_secret(char **s) {
  if (*s != NULL) {
    oft_wipe(*s, strlen(*s));
    free(*s);
    *s = NULL;
  }
}

/* What keeps a credential (len bytes) from being one header line, or NULL. Never echoes it. */

/* ---- the close path ---- */

static void release_list(oft_transfer **list) {
  while (*list != NULL) {
    oft_transfer *t = *list;
    *list = t->next;
    oft_transfer_release(NULL, t);
  }
}

/* Idempotent; calls no Lua function, so it is safe from __gc. */
static void client_close(oft_client *c) {
  CURLM *multi = c->multi;
  oft_transfer *t;
  c->multi = NULL; /* closed first: easy handles released below are freed, not pooled */
  for (t = c->running; t != NULL && multi != NULL; t = t->next)
    curl_multi_remove_handle(multi, t->easy);
  release_list(&c->running);
  release_list(&c->done);
  c->done_tail = NULL;
  if (c->staging != NULL) oft_transfer_release(NULL, c->staging);
  while (c->n_idle > 0) curl_easy_cleanup(c->idle[--c->n_idle]);
  if (multi != NULL) curl_multi_cleanup(multi);
  if (c->share != NULL) { /* after every easy handle that used it is gone */
    curl_share_cleanup(c->share);
    c->share = NULL;
  }
  oft_auth_free(&c->auth);
  free_secret(&c->proxy_password);
  free_secret(&c->key_password);
  free(c->proxy_url);
  free(c->proxy_username);
  free(c->no_proxy);
  free(c->ca_file);
  free(c->ca_path);
  free(c->cert_file);
  free(c->key_file);
  c->proxy_url = c->proxy_username = c->no_proxy = NULL;
  c->ca_file = c->ca_path = c->cert_file = c->key_file = NULL;
}

/* ---- core.new ---- */

static int core_new(lua_State *L) {
  oft_client *c;
  const char *key, *version, *auth_header, *auth_scheme, *problem;
  const char *proxy_url = NULL, *proxy_user = NULL, *proxy_pass = NULL, *no_proxy = NULL;
  const char *ca_file = NULL, *ca_path = NULL, *cert = NULL, *keyf = NULL, *keypass = NULL;
  size_t key_len = 0;
  double max_conns = 0;
  int proxy, tls, compression, verbose, verify = 1, failed = 0;
  long http_version = CURL_HTTP_VERSION_2TLS;
  oft_limits lim = {0, 0, 0, OFT_DEFAULT_MAX_RESPONSE};

  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);

  /* read every option first: a raise here has acquired nothing */
  key = oft_arg_string(L, 1, "api_key", 1, "", &key_len);
  if (key != NULL && (problem = oft_auth_secret_problem(key, key_len)) != NULL)
    oft_arg_fail(L, 1, "", "api_key", problem);
  auth_header = oft_arg_string(L, 1, "auth_header", 1, "", NULL);
  if (auth_header == NULL) auth_header = OFT_AUTH_DEFAULT_HEADER;
  else if ((problem = oft_auth_header_problem(auth_header)) != NULL)
    oft_arg_fail(L, 1, "", "auth_header", problem);
  auth_scheme = oft_arg_string(L, 1, "auth_scheme", 1, "", NULL);
  if (auth_scheme == NULL) auth_scheme = OFT_AUTH_DEFAULT_SCHEME;
  else if ((problem = oft_auth_scheme_problem(auth_scheme)) != NULL)
    oft_arg_fail(L, 1, "", "auth_scheme", problem);
  oft_client_read_limits(L, 1, 1, "", &lim);
  version = oft_arg_string(L, 1, "http_version", 1, "", NULL);
  if (version != NULL) {
    if (strcmp(version, "1.1") == 0) http_version = CURL_HTTP_VERSION_1_1;
    else if (strcmp(version, "2") != 0) oft_arg_fail(L, 1, "", "http_version", "must be \"2\" or \"1.1\"");
  }
  if (oft_arg_number(L, 1, "max_connections", 1, "", &max_conns) &&
      (max_conns != (double)(long)max_conns || max_conns > 1e6))
    oft_arg_fail(L, 1, "", "max_connections", "must be an integer");
  compression = oft_arg_boolean(L, 1, "compression", 1, "", 1);
  verbose = oft_arg_boolean(L, 1, "verbose", 1, "", 0);
  proxy = oft_arg_table(L, 1, "proxy", 1, "");
  if (proxy != 0) {
    proxy_url = oft_arg_string(L, proxy, "url", 1, "proxy.", NULL);
    proxy_user = oft_arg_string(L, proxy, "username", 1, "proxy.", NULL);
    proxy_pass = oft_arg_string(L, proxy, "password", 1, "proxy.", NULL);
    no_proxy = oft_arg_string(L, proxy, "no_proxy", 1, "proxy.", NULL);
  }
  tls = oft_arg_table(L, 1, "tls", 1, "");
  if (tls != 0) {
    ca_file = oft_arg_string(L, tls, "ca_file", 1, "tls.", NULL);
    ca_path = oft_arg_string(L, tls, "ca_path", 1, "tls.", NULL);
    cert = oft_arg_string(L, tls, "cert_file", 1, "tls.", NULL);
    keyf = oft_arg_string(L, tls, "key_file", 1, "tls.", NULL);
    keypass = oft_arg_string(L, tls, "key_password", 1, "tls.", NULL);
    verify = oft_arg_boolean(L, tls, "verify", 1, "tls.", 1);
  }

  oft_libcurl_init(L);
  c = (oft_client *)lua_newuserdatauv(L, sizeof *c, 1);
  memset(c, 0, sizeof *c); /* closed: __gc has nothing to free yet */
  luaL_setmetatable(L, OFT_CLIENT_MT);
  lua_newtable(L);
  lua_setiuservalue(L, -2, 1);

  c->limits = lim;
  c->http_version = http_version;
  c->compression = compression;
  c->verbose = verbose;
  c->tls_verify = verify;
  c->proxy_url = dup_opt(proxy_url, &failed);
  c->proxy_username = dup_opt(proxy_user, &failed);
  c->proxy_password = dup_opt(proxy_pass, &failed);
  c->no_proxy = dup_opt(no_proxy, &failed);
  c->ca_file = dup_opt(ca_file, &failed);
  c->ca_path = dup_opt(ca_path, &failed);
  c->cert_file = dup_opt(cert, &failed);
  c->key_file = dup_opt(keyf, &failed);
  c->key_password = dup_opt(keypass, &failed);
  if (!oft_auth_init(&c->auth, auth_header, auth_scheme) ||
      (key != NULL && !oft_auth_set(&c->auth, key, key_len)))
    failed = 1;
  c->share = curl_share_init();
  c->multi = curl_multi_init();
  if (failed || c->share == NULL || c->multi == NULL) {
    client_close(c);
    oft_memory_error(L);
  }
  /* DNS answers and TLS sessions are reused by every exchange of this client */
  curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  if (max_conns > 0) curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)max_conns);
  return 1;
}

/* ---- methods ---- */

static oft_client *check_client(lua_State *L) {
  return (oft_client *)luaL_checkudata(L, 1, OFT_CLIENT_MT);
}

static int push_closed(lua_State *L) {
  lua_pushnil(L);
  oft_error_push(L, "closed", "the client is closed", -1, NULL);
  return 2;
}

/* Guards re-entry from a progress callback, then pushes the refs table for callbacks. */
static void enter(lua_State *L, oft_client *c, const char *method) {
  if (c->busy) luaL_error(L, "%s called from inside a progress callback of the same client", method);
  lua_getiuservalue(L, 1, 1);
  c->refs = lua_gettop(L);
}

static int pending_count(const oft_client *c) {
  const oft_transfer *t;
  int n = 0;
  for (t = c->running; t != NULL; t = t->next) n += !t->cancelled;
  for (t = c->done; t != NULL; t = t->next) n += !t->cancelled;
  return n;
}

static int has_reportable(const oft_client *c) {
  const oft_transfer *t;
  for (t = c->done; t != NULL; t = t->next)
    if (!t->cancelled) return 1;
  return 0;
}

static void unlink_from(oft_transfer **list, oft_transfer *t) {
  for (; *list != NULL; list = &(*list)->next)
    if (*list == t) {
      *list = t->next;
      t->next = NULL;
      return;
    }
}

static void unlink_done(oft_client *c, oft_transfer *t) {
  unlink_from(&c->done, t);
  for (c->done_tail = c->done; c->done_tail != NULL && c->done_tail->next != NULL;)
    c->done_tail = c->done_tail->next;
}

/* Moves finished exchanges from the multi handle to the done queue. No Lua. */
static void drain(oft_client *c) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
    oft_transfer *t = NULL;
    CURLcode rc = m->data.result;
    CURL *easy = m->easy_handle;
    if (m->msg != CURLMSG_DONE) continue;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
    curl_multi_remove_handle(c->multi, easy); /* m is invalid from here on */
    unlink_from(&c->running, t);
    oft_transfer_finish(t, rc);
    if (c->done_tail != NULL) c->done_tail->next = t;
    else c->done = t;
    c->done_tail = t;
  }
}

/*
 * Exchanges cancelled from inside a callback: released as soon as libcurl has
 * returned, so a cancel never outlives the driver call it happened in. The
 * exchange h:request waits on is left to h:request.
 */
static void reap_cancelled(lua_State *L, oft_client *c) {
  oft_transfer **p = &c->running;
  while (*p != NULL) {
    oft_transfer *t = *p;
    if (t->cancelled && !t->blocking) {
      *p = t->next;
      curl_multi_remove_handle(c->multi, t->easy);
      oft_transfer_release(L, t);
    } else {
      p = &t->next;
    }
  }
  p = &c->done;
  while (*p != NULL) {
    oft_transfer *t = *p;
    if (t->cancelled && !t->blocking) {
      *p = t->next;
      oft_transfer_release(L, t);
    } else {
      p = &t->next;
    }
  }
  for (c->done_tail = c->done; c->done_tail != NULL && c->done_tail->next != NULL;)
    c->done_tail = c->done_tail->next;
}

/*
 * The one loop every driver runs: perform, collect finished exchanges, wait
 * for socket activity. Stops when `until` is done (h:request), when anything
 * is done (until == NULL, h:poll), at the deadline (< 0: none), or when
 * nothing runs. Lua callbacks run inside, on L, with c->refs valid.
 */
static void drive(lua_State *L, oft_client *c, oft_transfer *until, double deadline) {
  CURLMcode mc = CURLM_OK;
  luaL_checkstack(L, LUA_MINSTACK, "driving transfers"); /* callbacks push without checking */
  c->L = L;
  c->busy = 1;
  for (;;) {
    int running, wait_ms = 1000;
    mc = curl_multi_perform(c->multi, &running);
    if (mc != CURLM_OK) break;
    drain(c);
    if (until != NULL ? until->state == OFT_DONE : has_reportable(c)) break;
    if (c->running == NULL) break;
    if (deadline >= 0) {
      double left = deadline - oft_now();
      if (left <= 0) break;
      if (left < 1.0) wait_ms = (int)(left * 1000.0) + 1;
    }
    mc = curl_multi_poll(c->multi, NULL, 0, wait_ms, NULL); /* libcurl shortens it for its timers */
    if (mc != CURLM_OK) break;
  }
  c->busy = 0;
  c->L = NULL;
  reap_cancelled(L, c);
  if (mc != CURLM_OK) luaL_error(L, "libcurl multi handle failed: %s", curl_multi_strerror(mc));
}

/* Stages, prepares and adds one exchange. NULL with an err table pushed on refusal. */
static oft_transfer *begin(lua_State *L, oft_client *c, int req) {
  oft_transfer *t = oft_transfer_stage(L, c);
  CURLMcode mc;
  if (!oft_transfer_prepare(L, t, req, 2)) {
    oft_transfer_release(L, t);
    return NULL;
  }
  mc = curl_multi_add_handle(c->multi, t->easy);
  if (mc != CURLM_OK) {
    oft_transfer_release(L, t);
    oft_error_push(L, "io", curl_multi_strerror(mc), -1, NULL);
    return NULL;
  }
  c->staging = NULL;
  t->state = OFT_RUNNING;
  t->id = ++c->next_id;
  t->next = c->running;
  c->running = t;
  return t;
}

static int fail_with_top(lua_State *L) {
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}

/* h:request(req) -> res | nil, err: start, then drive until this exchange is done. */
static int c_request(lua_State *L) {
  oft_client *c = check_client(L);
  oft_transfer *t;
  int ok;
  luaL_checktype(L, 2, LUA_TTABLE);
  if (c->multi == NULL) return push_closed(L);
  enter(L, c, "request");
  t = begin(L, c, 2);
  if (t == NULL) return fail_with_top(L);
  t->blocking = 1;
  drive(L, c, t, -1);
  if (t->callback_raised) { /* re-raise now that libcurl has returned */
    lua_rawgeti(L, c->refs, t->error_ref);
    unlink_done(c, t);
    oft_transfer_release(L, t);
    return lua_error(L);
  }
  ok = oft_transfer_push(L, t); /* t stays queued until pushed: a memory error loses nothing */
  unlink_done(c, t);
  oft_transfer_release(L, t);
  return ok ? 1 : fail_with_top(L);
}

/* h:start(req) -> id | nil, err */
static int c_start(lua_State *L) {
  oft_client *c = check_client(L);
  oft_transfer *t;
  luaL_checktype(L, 2, LUA_TTABLE);
  if (c->multi == NULL) return push_closed(L);
  enter(L, c, "start");
  t = begin(L, c, 2);
  if (t == NULL) return fail_with_top(L);
  lua_pushinteger(L, t->id);
  return 1;
}

/* h:poll([timeout]) -> { {id=, res=} | {id=, err=}, ... } */
static int c_poll(lua_State *L) {
  oft_client *c = check_client(L);
  double timeout = -1;
  int list, i = 0;
  if (!lua_isnoneornil(L, 2)) {
    timeout = (double)luaL_checknumber(L, 2);
    luaL_argcheck(L, timeout >= 0, 2, "timeout must be >= 0");
  }
  if (c->multi == NULL) return push_closed(L);
  enter(L, c, "poll");
  drive(L, c, NULL, timeout < 0 ? -1 : oft_now() + timeout);
  lua_createtable(L, pending_count(c), 0); /* presized: the rawseti below cannot fail */
  list = lua_gettop(L);
  while (c->done != NULL) {
    oft_transfer *t = c->done;
    int report = !t->cancelled;
    if (report) { /* built while t is still queued: a memory error loses nothing */
      int ok;
      lua_createtable(L, 0, 2);
      lua_pushinteger(L, t->id);
      lua_setfield(L, -2, "id");
      ok = oft_transfer_push(L, t);
      lua_setfield(L, -2, ok ? "res" : "err");
    }
    c->done = t->next;
    if (c->done == NULL) c->done_tail = NULL;
    oft_transfer_release(L, t);
    if (report) lua_rawseti(L, list, ++i);
  }
  return 1;
}

/* h:cancel(id) -> true if it was pending, false if unknown or already reported */
static int c_cancel(lua_State *L) {
  oft_client *c = check_client(L);
  lua_Integer id = luaL_checkinteger(L, 2);
  oft_transfer *t, **list = NULL;
  if (c->multi == NULL) return push_closed(L);
  for (t = c->running; t != NULL && t->id != id; t = t->next) {}
  if (t != NULL) list = &c->running;
  else {
    for (t = c->done; t != NULL && t->id != id; t = t->next) {}
    if (t != NULL) list = &c->done;
  }
  if (t == NULL || t->cancelled) {
    lua_pushboolean(L, 0);
    return 1;
  }
  t->cancelled = 1;
  if (!c->busy) { /* inside a callback libcurl is running it: the progress check aborts it */
    if (list == &c->running) {
      curl_multi_remove_handle(c->multi, t->easy);
      unlink_from(&c->running, t);
    } else {
      unlink_done(c, t);
    }
    lua_getiuservalue(L, 1, 1);
    c->refs = lua_gettop(L);
    oft_transfer_release(L, t);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* h:pending() -> number of exchanges started and not yet reported */
static int c_pending(lua_State *L) {
  oft_client *c = check_client(L);
  lua_pushinteger(L, c->multi != NULL ? pending_count(c) : 0);
  return 1;
}

/*
 * h:set_credential(secret) -> true: the credential of every exchange started
 * from now on (a refreshed token). Exchanges in flight keep the one they
 * started with.
 */
static int c_set_credential(lua_State *L) {
  oft_client *c = check_client(L);
  size_t len = 0;
  const char *s, *problem;
  luaL_checktype(L, 2, LUA_TSTRING); /* a number is no token */
  s = lua_tolstring(L, 2, &len);
  problem = oft_auth_secret_problem(s, len);
  if (problem != NULL) return luaL_argerror(L, 2, lua_pushfstring(L, "credential %s", problem));
  if (c->multi == NULL) return push_closed(L);
  if (!oft_auth_set(&c->auth, s, len)) oft_memory_error(L);
  lua_pushboolean(L, 1);
  return 1;
}

/*
 * h:redact(s) -> s with every occurrence of the client's credential (the key,
 * or the current token) replaced by "[redacted]": for text a server sent back,
 * which may echo it ("Incorrect API key provided: sk-..."). Nothing else changes.
 */
static int c_redact(lua_State *L) {
  oft_client *c = check_client(L);
  size_t len = 0;
  const char *s = luaL_checklstring(L, 2, &len);
  oft_push_redacted(L, s, len, c->auth.secret);
  return 1;
}

static int c_close(lua_State *L) {
  oft_client *c = check_client(L);
  if (c->busy) return luaL_error(L, "close called from inside a progress callback of the same client");
  client_close(c);
  lua_newtable(L); /* drop every body, callback and error the exchanges held */
  lua_setiuservalue(L, 1, 1);
  return 0;
}

static int c_gc(lua_State *L) {
  client_close(check_client(L));
  return 0;
}

static int c_tostring(lua_State *L) {
  oft_client *c = check_client(L);
  if (c->multi == NULL) lua_pushliteral(L, OFT_CLIENT_MT " (closed)");
  else lua_pushfstring(L, OFT_CLIENT_MT ": %p (%d pending)", (void *)c, pending_count(c));
  return 1;
}

void oft_client_open(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"request", c_request}, {"start", c_start}, {"poll", c_poll}, {"cancel", c_cancel},
    {"pending", c_pending}, {"set_credential", c_set_credential}, {"redact", c_redact},
    {"close", c_close}, {NULL, NULL}};
  static const luaL_Reg metamethods[] = {
    {"__gc", c_gc}, {"__close", c_close}, {"__tostring", c_tostring}, {NULL, NULL}};
  luaL_newmetatable(L, OFT_CLIENT_MT);
  luaL_setfuncs(L, metamethods, 0);
  lua_pushliteral(L, OFT_CLIENT_MT); /* 5.3+ set it already; 5.1/5.2 do not */
  lua_setfield(L, -2, "__name");
  luaL_newlibtable(L, methods);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  lua_pushcfunction(L, core_new);
  lua_setfield(L, -2, "new");
}
