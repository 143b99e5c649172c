/*
 * transfer.h: one HTTP exchange — a req table onto an easy handle, libcurl's
 * callbacks, and the res / err table at the end.
 *
 * Life of a transfer: staged (owned by client->staging while the req is read,
 * so a raise leaks nothing) -> running (in the multi handle) -> done (result
 * fixed, sink renamed or removed) -> reported and released.
 */
#ifndef OFT_TRANSFER_H
#define OFT_TRANSFER_H

#include <stdio.h>

#include <curl/curl.h>

#include "client.h"
#include "exchange/bytes.h"
#include "exchange/response.h"
#include "exchange/timer.h"
#include "mime.h"

enum { OFT_STAGED, OFT_RUNNING, OFT_DONE };

struct oft_transfer {
  oft_transfer *next;       /* in client->running or client->done */
  oft_client *client;
  CURL *easy;
  lua_Integer id;
  int state;
  CURLcode result;
  struct curl_slist *headers; /* the first node is the credential line when auth_copied */
  int auth_copied;
  curl_mime *mime;
  oft_source source;          /* multipart file slice or string (mime.c) */
  int body_ref, data_ref, progress_ref, error_ref; /* in the client's refs table */
  oft_response response;      /* where the body goes: memory or the sink (src/exchange/response.h) */
  oft_timer timer;            /* the bounds (src/exchange/timer.h): the idle one checked here, the
                                 total kept by libcurl (CURLOPT_TIMEOUT_MS) and named by it */
  oft_bytes head;             /* the response header block */
  unsigned blocking : 1;      /* h:request waits on it: only it may release it */
  unsigned cancelled : 1;     /* h:cancel while libcurl ran: abort, report nothing */
  unsigned idle_expired : 1;
  unsigned oom : 1;
  unsigned callback_raised : 1; /* the error value sits at error_ref */
  unsigned callback_false : 1;
  unsigned resend_refused : 1; /* libcurl wanted to send the request a second time */
  unsigned sends;             /* times libcurl was about to send the request */
  double ended_at;            /* oft_now() when libcurl finished it */
  char errbuf[CURL_ERROR_SIZE];
};

/* A fresh transfer in client->staging (any stale one released first). Raises on OOM. */
oft_transfer *oft_transfer_stage(lua_State *L, oft_client *c);

/*
 * Reads the req table at `req` onto the easy handle. Returns 1 when ready to
 * add to the multi handle, or 0 with an err table pushed (invalid_request, io).
 * Raises `bad argument #arg` on wrong types. Needs c->refs set.
 */
int oft_transfer_prepare(lua_State *L, oft_transfer *t, int req, int arg);

/* libcurl finished it: fix the outcome, rename or remove the sink. No Lua. */
void oft_transfer_finish(oft_transfer *t, CURLcode rc);

/* Pushes the res table and returns 1, or pushes the err table and returns 0. */
int oft_transfer_push(lua_State *L, oft_transfer *t);

/*
 * Frees everything the transfer holds (removing an unfinished sink temp file)
 * and returns its easy handle to the pool. With L == NULL (closing) the refs
 * are not unreferenced: the caller drops the whole refs table instead.
 */
void oft_transfer_release(lua_State *L, oft_transfer *t);

#endif /* OFT_TRANSFER_H */
