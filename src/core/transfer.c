/*
 * transfer.c: one HTTP exchange on libcurl. Setup from a req table, libcurl's
 * callbacks (body, headers, progress, verbose trace), and the res / err table.
 * Shared by h:request and h:start/h:poll: both drivers go through these
 * functions. Where the body goes, what idle means, what a progress stop or a
 * failure becomes are src/exchange/'s rules, the ones the Lua exchange calls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "args.h"
#include "compat.h"
#include "errors.h"
#include "exchange/headers.h"
#include "exchange/request.h"
#include "transfer.h"

#define USER_AGENT "openai-finetunes-lua/" OFT_VERSION
#define RECV_BUFFER (128L * 1024) /* fewer callbacks on big downloads */

/* ---- small helpers ---- */

static int fail(lua_State *L, oft_transfer *t, const char *kind, const char *message) {
  oft_error_push(L, kind, message, -1, t->client->auth.secret);
  return 0;
}


/* ---- libcurl callbacks (no Lua API call here may raise: never unwind through libcurl) ---- */

/* The head is read when the first body byte (or the end) comes: the status
 * decides where the body goes (src/exchange/response.h). */
static void read_head(oft_transfer *t) {
  if (t->response.to_sink < 0) {
    long status = 0;
    curl_off_t length = -1;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
    oft_response_head(&t->response, status, (double)length);
  }
}

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  oft_transfer *t = (oft_transfer *)ud;
  size_t len = size * n;
  read_head(t);
  return oft_response_add(&t->response, p, len) ? len : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  oft_transfer *t = (oft_transfer *)ud;
  size_t len = size * n;
  if (oft_header_is_status(p, len)) t->head.len = 0; /* a new response (after 1xx) */
  if (!oft_bytes_add(&t->head, p, len)) {
    t->oom = 1;
    return 0;
  }
  return len;
}

/*
 * idle_timeout (src/exchange/timer.h): checked here, not with
 * CURLOPT_LOW_SPEED_*: libcurl averages the speed over ~5 s, so after a burst a
 * stall would be noticed only seconds late. libcurl calls the progress
 * function at least once a second, and the driver never waits longer.
 */
static int idle_expired(oft_transfer *t, curl_off_t dlnow, curl_off_t ulnow) {
  double now;
  int bound;
  if (t->timer.idle_s <= 0) return 0;
  now = oft_now();
  oft_timer_counts(&t->timer, now, (double)dlnow, (double)ulnow);
  if (oft_timer_left(&t->timer, now, &bound) > 0 || bound != OFT_BOUND_IDLE) return 0;
  t->idle_expired = 1;
  return 1;
}

/*
 * Progress: the cancel and idle checks, then the user's Lua callback, under lua_pcall.
 * Nothing here allocates outside the pcall: the stack room was reserved by the
 * driver and the error value goes into a slot reserved at setup.
 */
#if LIBCURL_VERSION_NUM >= 0x075000 /* 7.80.0: CURLOPT_PREREQFUNCTION */
/* Called before each send of the request. libcurl sends it again by itself when
 * a reused keep-alive connection turns out dead before any byte of the answer,
 * and the server may well have read it (a POST would create a second job).
 * Every send must be an attempt the retry policy counts and decides on: the
 * second one is refused here, and the policy sees a failed attempt. */
static int on_prereq(void *ud, char *primary_ip, char *local_ip, int primary_port, int local_port) {
  oft_transfer *t = (oft_transfer *)ud;
  (void)primary_ip, (void)local_ip, (void)primary_port, (void)local_port;
  if (++t->sends > 1) {
    t->resend_refused = 1;
    return CURL_PREREQFUNC_ABORT;
  }
  return CURL_PREREQFUNC_OK;
}
#endif

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
  oft_transfer *t = (oft_transfer *)ud;
  oft_client *c = t->client;
  lua_State *L = c->L;
  int stop = 0;
  if (t->cancelled || idle_expired(t, dlnow, ulnow)) return 1;
  if (t->progress_ref == LUA_NOREF || L == NULL) return 0;
  lua_rawgeti(L, c->refs, t->progress_ref);
  oft_push_count(L, (double)dltotal);
  oft_push_count(L, (double)dlnow);
  oft_push_count(L, (double)ultotal);
  oft_push_count(L, (double)ulnow);
  if (lua_pcall(L, 4, 1, 0) != 0) {
    lua_rawseti(L, c->refs, t->error_ref); /* existing slot: no allocation */
    t->callback_raised = 1;
    return 1;
  }
  if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
    t->callback_false = 1;
    stop = 1;
  }
  lua_pop(L, 1);
  return stop || t->cancelled; /* the callback may have cancelled its own exchange */
}

static void trace_line(const char *prefix, const char *s, size_t n, const oft_auth *auth) {
  const char *key = auth->secret;
  size_t klen = key != NULL ? strlen(key) : 0, i = 0, cut = oft_auth_value_at(auth, s, n);
  fputs(prefix, stderr);
  if (cut > 0) { /* Authorization, Proxy-Authorization, api-key, "h2h3 [authorization: ...]" */
    fwrite(s, 1, cut, stderr);
    fputs(" [redacted]\n", stderr);
    return;
  }
  while (i < n) { /* the key anywhere else, however it got there */
    if (klen > 0 && n - i >= klen && memcmp(s + i, key, klen) == 0) {
      fputs("[redacted]", stderr);
      i += klen;
    } else {
      fputc(s[i++], stderr);
    }
  }
  fputc('\n', stderr);
}

static int on_debug(CURL *easy, curl_infotype type, char *raw, size_t size, void *ud) {
  oft_client *c = (oft_client *)ud;
  const char *prefix, *data = raw, *end = raw + size;
  (void)easy;
  switch (type) {
  case CURLINFO_TEXT: prefix = "* "; break;
  case CURLINFO_HEADER_IN: prefix = "< "; break;
  case CURLINFO_HEADER_OUT: prefix = "> "; break;
  default: return 0; /* bodies and TLS records are not traced */
  }
  while (data < end) {
    const char *nl = (const char *)memchr(data, '\n', (size_t)(end - data));
    const char *stop = nl != NULL ? nl : end;
    size_t n = (size_t)(stop - data);
    if (n > 0 && data[n - 1] == '\r') n--;
    if (n > 0) trace_line(prefix, data, n, &c->auth);
    data = nl != NULL ? nl + 1 : end;
  }
  return 0;
}

/* ---- setup ---- */

oft_transfer *oft_transfer_stage(lua_State *L, oft_client *c) {
  oft_transfer *t;
  if (c->staging != NULL) oft_transfer_release(L, c->staging); /* a setup that raised */
  t = (oft_transfer *)calloc(1, sizeof *t);
  if (t == NULL) oft_memory_error(L);
  t->client = c;
  t->state = OFT_STAGED;
  t->body_ref = t->data_ref = t->progress_ref = t->error_ref = LUA_NOREF;
  oft_response_init(&t->response, c->limits.max_response_bytes);
  c->staging = t;
  t->easy = oft_client_take_easy(c);
  if (t->easy == NULL) oft_memory_error(L);
  return t;
}

/* The URL rule (src/exchange/request.h), then what libcurl can parse as one. */
static int check_url(lua_State *L, oft_transfer *t, const char *url, size_t len) {
  CURLU *u;
  CURLUcode uc;
  char *scheme = NULL;
  int ok;
  const char *why = oft_request_url_refusal(url, len);
  if (why != NULL) return fail(L, t, "invalid_request", why);
  u = curl_url();
  if (u == NULL) oft_memory_error(L);
  uc = curl_url_set(u, CURLUPART_URL, url, 0);
  if (uc == CURLUE_OK) uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
  ok = uc == CURLUE_OK && (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
  curl_free(scheme);
  curl_url_cleanup(u);
  if (!ok) return fail(L, t, "invalid_request", "url must be an absolute http:// or https:// URL");
  return 1;
}

static void append_header(lua_State *L, oft_transfer *t, const char *line) {
  struct curl_slist *n = curl_slist_append(t->headers, line);
  if (n == NULL) oft_memory_error(L);
  t->headers = n;
}

/*
 * The header list: our credential line first (when the client has one), then
 * req.headers, each held to the rule of src/exchange/request.h (the one the Lua
 * exchange applies), then "Expect:" so libcurl never waits for a 100-continue,
 * and "Content-Type:" for a request without a body (SDK parity: a body-less
 * POST has none).
 */
static int build_headers(lua_State *L, oft_transfer *t, int headers, int arg, int multipart, int no_body) {
  int has_expect = 0, has_content_type = 0;
  if (t->client->auth.line != NULL) {
    append_header(L, t, t->client->auth.line);
    t->auth_copied = 1;
  }
  if (headers != 0) {
    lua_pushnil(L);
    while (lua_next(L, headers) != 0) {
      const char *name, *value, *problem;
      size_t nlen, vlen;
      char why[160];
      if (lua_type(L, -2) != LUA_TSTRING)
        oft_arg_fail(L, arg, "req.", "headers", "keys must be strings");
      if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
        oft_arg_fail(L, arg, "req.headers.", lua_tostring(L, -2), "must be a string or a number");
      lua_pushvalue(L, -1); /* tostring a copy, never the table's value */
      name = lua_tolstring(L, -3, &nlen);
      value = lua_tolstring(L, -1, &vlen);
      problem = oft_request_header_problem(name, nlen, value, vlen, t->client->auth.name, why, sizeof why);
      if (problem != NULL) {
        lua_pop(L, 3);
        return fail(L, t, "invalid_request", problem);
      }
      if (oft_header_name_is(name, nlen, "expect")) has_expect = 1;
      if (oft_header_name_is(name, nlen, "content-type")) has_content_type = 1;
      if (!(multipart && oft_header_name_is(name, nlen, "content-type"))) { /* the boundary must be ours */
        /* "Name;" is libcurl's spelling of a header with an empty value */
        lua_pushfstring(L, vlen > 0 ? "%s: %s" : "%s;", name, value);
        append_header(L, t, lua_tostring(L, -1));
        lua_pop(L, 1);
      }
      lua_pop(L, 2);
    }
  }
  if (!has_expect) append_header(L, t, "Expect:");
  /* no body, no Content-Type: libcurl would label the empty POST form-urlencoded */
  if (no_body && !has_content_type) append_header(L, t, "Content-Type:");
  curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
  return 1;
}

/* POST/PUT/PATCH without a body send an empty one (src/exchange/request.h); other
 * methods without a body go as a GET does, under their own name. */
static void set_method(oft_transfer *t, const char *method, int has_body) {
  CURL *e = t->easy;
  if (!has_body && oft_request_declares_empty_body(method)) { /* e.g. POST /cancel: Content-Length: 0 */
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
    has_body = 1;
  }
  if (strcmp(method, "HEAD") == 0) curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  else if (strcmp(method, has_body ? "POST" : "GET") != 0)
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
}

static int open_sink(lua_State *L, oft_transfer *t, const char *sink) {
  if (oft_response_open(&t->response, sink)) return 1;
  if (t->response.failure == OFT_RESPONSE_NOMEM) oft_memory_error(L);
  oft_response_push_failure(L, &t->response, t->client->auth.secret);
  return 0;
}

/* Everything that comes from the client rather than the req. */
static void apply_client(oft_transfer *t, const oft_limits *lim) {
  oft_client *c = t->client;
  CURL *e = t->easy;
  curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)t);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L); /* never carry the key to another host */
  curl_easy_setopt(e, CURLOPT_SHARE, c->share);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, c->http_version);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, c->compression ? "" : NULL);
  curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
  curl_easy_setopt(e, CURLOPT_BUFFERSIZE, RECV_BUFFER);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, lim->timeout_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, lim->connect_timeout_ms);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)t);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, (void *)t);
#if LIBCURL_VERSION_NUM >= 0x075000
  curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq);
  curl_easy_setopt(e, CURLOPT_PREREQDATA, (void *)t);
#endif
  curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(e, CURLOPT_XFERINFODATA, (void *)t);
  curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, c->tls_verify ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, c->tls_verify ? 2L : 0L);
  if (c->ca_file != NULL) curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
  if (c->ca_path != NULL) curl_easy_setopt(e, CURLOPT_CAPATH, c->ca_path);
  if (c->cert_file != NULL) curl_easy_setopt(e, CURLOPT_SSLCERT, c->cert_file);
  if (c->key_file != NULL) curl_easy_setopt(e, CURLOPT_SSLKEY, c->key_file);
  if (c->key_password != NULL) curl_easy_setopt(e, CURLOPT_KEYPASSWD, c->key_password);
  if (c->proxy_url != NULL) curl_easy_setopt(e, CURLOPT_PROXY, c->proxy_url);
  if (c->proxy_username != NULL) curl_easy_setopt(e, CURLOPT_PROXYUSERNAME, c->proxy_username);
  if (c->proxy_password != NULL) curl_easy_setopt(e, CURLOPT_PROXYPASSWORD, c->proxy_password);
  if (c->no_proxy != NULL) curl_easy_setopt(e, CURLOPT_NOPROXY, c->no_proxy);
  if (c->verbose) {
    curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, on_debug);
    curl_easy_setopt(e, CURLOPT_DEBUGDATA, (void *)c);
    curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
  }
}

int oft_transfer_prepare(lua_State *L, oft_transfer *t, int req, int arg) {
  oft_client *c = t->client;
  const char *method, *url, *body, *sink;
  size_t url_len = 0, body_len = 0;
  int headers, multipart, progress;
  oft_limits lim = c->limits;

  /* read and type-check the whole req first: misuse raises before anything is sent */
  method = oft_arg_string(L, req, "method", arg, "req.", NULL);
  if (method == NULL) method = "GET";
  if (!oft_header_is_token(method, strlen(method)))
    oft_arg_fail(L, arg, "req.", "method", "must be an HTTP method token");
  url = oft_arg_string(L, req, "url", arg, "req.", &url_len);
  if (url == NULL) oft_arg_fail(L, arg, "req.", "url", "is required");
  body = oft_arg_string(L, req, "body", arg, "req.", &body_len);
  sink = oft_arg_string(L, req, "sink", arg, "req.", NULL);
  oft_client_read_limits(L, req, arg, "req.", &lim);
  progress = oft_arg_function(L, req, "progress", arg, "req.");
  headers = oft_arg_table(L, req, "headers", arg, "req.");
  multipart = oft_arg_table(L, req, "multipart", arg, "req.");
  if (body != NULL && multipart != 0)
    oft_arg_fail(L, arg, "req.", "body", "and req.multipart cannot both be set");

  if (!check_url(L, t, url, url_len)) return 0;
  if (!build_headers(L, t, headers, arg, multipart != 0, multipart == 0 && body == NULL)) return 0;
  if (multipart != 0) {
    if (!oft_mime_prepare(L, t, multipart, arg)) return 0;
  } else if (body != NULL) { /* referenced, not copied: the refs table keeps it alive */
    lua_getfield(L, req, "body");
    t->body_ref = luaL_ref(L, c->refs);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, body);
  }
  set_method(t, method, multipart != 0 || body != NULL);
  t->response.max_body = lim.max_response_bytes;
  if (sink != NULL && !open_sink(L, t, sink)) return 0;
  if (progress != 0) {
    lua_pushvalue(L, progress);
    t->progress_ref = luaL_ref(L, c->refs);
    lua_pushboolean(L, 0); /* the slot a raised error will be stored in */
    t->error_ref = luaL_ref(L, c->refs);
  }
  /* the clock starts now: connecting counts as idle */
  oft_timer_start(&t->timer, oft_now(), (double)lim.timeout_ms / 1000.0, lim.idle_timeout_s);
  curl_easy_setopt(t->easy, CURLOPT_URL, url);
  apply_client(t, &lim);
  /* Wait for a connection that may multiplex (HTTP/2) rather than open another,
   * but only for https, where ALPN tells at connect time. Over http:// a
   * connection learns it cannot multiplex only from an answer: after a request
   * that failed before any (libcurl's "Out of memory" on a huge URL), libcurl
   * 7.88 kept later requests waiting for it forever, past their timeout. */
  if (t->client->http_version == CURL_HTTP_VERSION_2TLS && url_len >= 8 &&
      strncasecmp(url, "https://", 8) == 0)
    curl_easy_setopt(t->easy, CURLOPT_PIPEWAIT, 1L);
  return 1;
}

/* ---- completion ---- */

void oft_transfer_finish(oft_transfer *t, CURLcode rc) {
  int ok = rc == CURLE_OK && !t->cancelled && !t->callback_raised && !t->callback_false && !t->idle_expired;
  t->state = OFT_DONE;
  t->ended_at = oft_now();
  t->result = ok || rc != CURLE_OK ? rc : CURLE_ABORTED_BY_CALLBACK;
  /* libcurl picks one of disagreeing Content-Length values; the answer is invalid
   * (what transport/http1.lua says too), and a sink must not be renamed into place */
  if (ok && !oft_header_lengths_agree(t->head.data, t->head.len)) {
    ok = 0;
    t->result = CURLE_WEIRD_SERVER_REPLY;
    snprintf(t->errbuf, sizeof t->errbuf, "invalid HTTP response: conflicting Content-Length");
  }
  if (!ok) {
    oft_response_abort(&t->response); /* the target stays untouched */
    return;
  }
  read_head(t);
  if (!oft_response_finish(&t->response)) t->result = CURLE_WRITE_ERROR;
}

static void set_curl_code(lua_State *L, CURLcode rc) {
  lua_pushinteger(L, (lua_Integer)rc);
  lua_setfield(L, -2, "curl_code");
}

static void push_failure(lua_State *L, oft_transfer *t) {
  oft_client *c = t->client;
  CURLcode rc = t->result;
  if (t->cancelled) {
    oft_error_push(L, "aborted", "the exchange was cancelled", -1, NULL);
  } else if (t->callback_raised) {
    lua_rawgeti(L, c->refs, t->error_ref);
    oft_progress_push_failure(L, -1, c->auth.secret);
    lua_remove(L, -2);
  } else if (t->resend_refused) {
    oft_resend_push_failure(L);
    set_curl_code(L, CURLE_SEND_ERROR);
  } else if (t->idle_expired) {
    oft_timer_push_failure(L, &t->timer, OFT_BOUND_IDLE, NULL);
    set_curl_code(L, CURLE_OPERATION_TIMEDOUT);
  } else if (t->callback_false) {
    oft_progress_push_failure(L, 0, NULL);
  } else if (t->response.failure != OFT_RESPONSE_OK) {
    oft_response_push_failure(L, &t->response, c->auth.secret);
  } else if (t->source.changed || t->source.read_errno != 0) {
    oft_source_push_failure(L, &t->source, c->auth.secret);
  } else if (t->oom) {
    oft_error_push(L, "io", "out of memory while receiving the response", (int)rc, NULL);
  } else if (rc == CURLE_OPERATION_TIMEDOUT && t->timer.total_s > 0 &&
             t->ended_at >= t->timer.deadline - 0.005) {
    /* libcurl keeps the total (CURLOPT_TIMEOUT_MS); the words are the timer's, as on every transport
     * (libcurl's connect timeout reports the same code, earlier: its own message stays) */
    oft_timer_push_failure(L, &t->timer, OFT_BOUND_TOTAL, NULL);
    set_curl_code(L, CURLE_OPERATION_TIMEDOUT);
  } else {
    const char *message = t->errbuf[0] != '\0' ? t->errbuf : curl_easy_strerror(rc);
    oft_error_push(L, oft_error_kind(rc, message), message, (int)rc, c->auth.secret);
  }
}

/* Response headers: lower-case names, repeated headers joined (headers.h).
 * Normalises the block in place: it is read once, here. */
static void push_headers(lua_State *L, oft_bytes *h) {
  size_t off = 0;
  lua_newtable(L);
  while (off < h->len) {
    oft_header f;
    off += oft_header_next(h->data + off, h->len - off, &f);
    if (f.kind != OFT_HEADER_FIELD) continue;
    lua_pushlstring(L, f.name, f.name_len);
    lua_pushvalue(L, -1);
    lua_rawget(L, -3);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      lua_pushlstring(L, f.value, f.value_len);
    } else {
      lua_pushstring(L, oft_header_join_sep(f.value_len));
      lua_pushlstring(L, f.value, f.value_len);
      lua_concat(L, 3);
    }
    lua_rawset(L, -3);
  }
}

static const char *version_name(long v) {
  switch (v) {
  case CURL_HTTP_VERSION_1_0: return "1.0";
  case CURL_HTTP_VERSION_1_1: return "1.1";
  case CURL_HTTP_VERSION_2_0: return "2";
#if LIBCURL_VERSION_NUM >= 0x074200 /* 7.66.0 */
  case CURL_HTTP_VERSION_3: return "3";
#endif
  default: return NULL;
  }
}

int oft_transfer_push(lua_State *L, oft_transfer *t) {
  long status = 0, version = 0, connects = 0;
  const char *vname;
  if (t->result != CURLE_OK) {
    push_failure(L, t);
    return 0;
  }
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(t->easy, CURLINFO_HTTP_VERSION, &version);
  curl_easy_getinfo(t->easy, CURLINFO_NUM_CONNECTS, &connects);
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, (lua_Integer)status);
  lua_setfield(L, -2, "status");
  push_headers(L, &t->head);
  lua_setfield(L, -2, "headers");
  oft_response_set_body(L, &t->response, -1);
  vname = version_name(version);
  if (vname != NULL) {
    lua_pushstring(L, vname);
    lua_setfield(L, -2, "http_version");
  }
  lua_pushinteger(L, (lua_Integer)connects);
  lua_setfield(L, -2, "new_connections");
  return 1;
}

/* ---- release ---- */

static void unref(lua_State *L, oft_client *c, int *ref) {
  if (L != NULL && *ref != LUA_NOREF) luaL_unref(L, c->refs, *ref);
  *ref = LUA_NOREF;
}

void oft_transfer_release(lua_State *L, oft_transfer *t) {
  oft_client *c = t->client;
  struct curl_slist *auth = t->auth_copied ? t->headers : NULL;
  if (c->staging == t) c->staging = NULL;
  if (t->easy != NULL) { /* reset first: the easy handle must not point at what we free */
    oft_client_give_easy(c, t->easy);
    t->easy = NULL;
  }
  oft_mime_release(t);
  if (auth != NULL) /* our copy of the credential: wipe it before it goes back to malloc */
    oft_wipe(auth->data, strlen(auth->data));
  curl_slist_free_all(t->headers);
  t->headers = NULL;
  oft_response_free(&t->response); /* never finished: the temp file goes too */
  oft_bytes_free(&t->head);
  unref(L, c, &t->body_ref);
  unref(L, c, &t->data_ref);
  unref(L, c, &t->progress_ref);
  unref(L, c, &t->error_ref);
  free(t);
}
