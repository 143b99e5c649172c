/*
 * mime.h: multipart/form-data bodies from req.multipart.
 *
 * Fields are sent in sorted name order, the file part last (as openai-python
 * does). The file part streams through a read callback: a whole file or a
 * slice [offset, offset + length) of one (Uploads API parts) by the reader of
 * src/exchange/file_source.h, the one the ngx transport sends with too, or a
 * Lua string held by reference without a copy.
 */
#ifndef OFT_MIME_H
#define OFT_MIME_H

#include <stdio.h>

#include <curl/curl.h>

#include "compat.h"

struct oft_transfer;

#include "exchange/file_source.h"

/*
 * Builds the multipart body from the table at `mp` and attaches it to the
 * transfer's easy handle. Returns 1, or 0 with an err table pushed (kind
 * "invalid_request" for names libcurl cannot frame, "io" for unreadable
 * files). Raises `bad argument #arg` on wrong types. Everything acquired is
 * owned by the transfer, so a raise leaks nothing.
 */
int oft_mime_prepare(lua_State *L, struct oft_transfer *t, int mp, int arg);

/* Frees the mime tree and closes the slice file; idempotent. */
void oft_mime_release(struct oft_transfer *t);

#endif /* OFT_MIME_H */
