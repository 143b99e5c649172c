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
#include "mime.h"

enum { OFT_STAGED, OFT_RUNNING, OFT_DONE };

/* A growable byte buffer (response body, response header block). */
typedef struct oft_buf {
  char *data;
  size_t len, cap;
} oft_buf;

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
  double max_body;            /* cap on a body held in memory */
  double idle_s;              /* idle_timeout; 0 = none */
  double last_activity;       /* oft_now() when a byte last moved either way */
  curl_off_t last_dl, last_ul;
  oft_buf body, head;
  char *sink, *sink_tmp;      /* target path and the temp file next to it */
  FILE *sink_file;
  int to_sink;                /* -1 undecided, 0 body to memory (non-2xx), 1 body to file */
  curl_off_t sink_bytes;
  int sink_errno;             /* write, close or rename of the sink failed */
  unsigned blocking : 1;      /* h:request waits on it: only it may release it */
  unsigned cancelled : 1;     /* h:cancel while libcurl ran: abort, report nothing */
  unsigned too_large : 1;
  unsigned idle_expired : 1;
  unsigned oom : 1;
  unsigned callback_raised : 1; /* the error value sits at error_ref */
  unsigned callback_false : 1;
  unsigned resend_refused : 1; /* libcurl wanted to send the request a second time */
  unsigned sends;             /* times libcurl was about to send the request */
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

/*
 * Creates the temp file a download to `sink` is written to (the name, at most
 * tmp_size bytes, goes to `tmp`): next to it, exclusively, with the mode of an
 * existing target. Returns the open fd, or -1 with errno set and `verb` naming
 * what failed ("write" for a directory at the path, "create a file next to").
 */

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
