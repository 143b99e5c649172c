/* mime.c: multipart/form-data bodies on libcurl's mime API, the file part
 * streamed from disk (src/exchange/file_source.h) or from a Lua string. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "exchange/request.h"
#include "errors.h"
#include "mime.h"
#include "transfer.h"

#define WHERE "req.multipart."

/* A field of the fields table, kept for sorting; the table anchors the strings. */
typedef struct field {
  const char *name, *value;
  size_t name_len, value_len;
} field;

static int fail(lua_State *L, oft_transfer *t, const char *kind, const char *message) {
  oft_error_push(L, kind, message, -1, t->client->auth.secret);
  return 0;
}

/* libcurl's read and seek callbacks over the part's reader (src/exchange/file_source.h). */
static size_t read_part(char *buf, size_t size, size_t n, void *arg) {
  size_t got = oft_source_read((oft_source *)arg, buf, size * n);
  return got == OFT_SOURCE_FAILED ? CURL_READFUNC_ABORT : got;
}

/* libcurl rewinds a part it must send again (auth, HTTP/2 refused stream). */
static int seek_part(void *arg, curl_off_t offset, int origin) {
  if (origin != SEEK_SET || oft_source_seek((oft_source *)arg, (long long)offset) != 0) return CURL_SEEKFUNC_FAIL;
  return CURL_SEEKFUNC_OK;
}


static int compare_fields(const void *a, const void *b) {
  const field *x = (const field *)a, *y = (const field *)b;
  size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
  int r = memcmp(x->name, y->name, n);
  if (r != 0) return r;
  return (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash != NULL ? slash + 1 : path;
}

/* ---- reading req.multipart ---- */

/* An integral number field (offset, length) or -1 when absent. */
static curl_off_t slice_number(lua_State *L, int file, const char *name, int arg) {
  double v;
  if (!oft_arg_number(L, file, name, arg, WHERE "file.", &v)) return -1;
  if (v != (double)(curl_off_t)v || v > 9.0e18)
    oft_arg_fail(L, arg, WHERE "file.", name, "must be an integer");
  return (curl_off_t)v;
}

/*
 * Collects, checks and sorts the fields. The array is a userdata and numbers'
 * string forms sit in an anchor table, both left on the stack: a raise leaks
 * nothing and the user's table is not touched.
 */
static size_t read_fields(lua_State *L, int fields, int arg, field **out) {
  size_t n = 0, i = 0;
  field *f;
  int anchor;
  lua_pushnil(L);
  while (lua_next(L, fields) != 0) {
    if (lua_type(L, -2) != LUA_TSTRING)
      oft_arg_fail(L, arg, WHERE, "fields", "keys must be strings");
    if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
      oft_arg_fail(L, arg, WHERE "fields.", lua_tostring(L, -2), "must be a string or a number");
    lua_pop(L, 1);
    n++;
  }
  f = (field *)lua_newuserdatauv(L, (n > 0 ? n : 1) * sizeof(field), 0);
  lua_newtable(L);
  anchor = lua_gettop(L);
  lua_pushnil(L);
  for (;;) {
    if (i == n) { /* stop before lua_next: drop the key it would have taken */
      lua_pop(L, 1);
      break;
    }
    if (lua_next(L, fields) == 0) break;
    f[i].name = lua_tolstring(L, -2, &f[i].name_len);
    if (lua_type(L, -1) == LUA_TNUMBER) {
      lua_pushvalue(L, -1);
      lua_tostring(L, -1); /* converts the copy only */
      lua_rawseti(L, anchor, (int)i + 1);
      lua_pop(L, 1);
      lua_rawgeti(L, anchor, (int)i + 1);
    }
    f[i].value = lua_tolstring(L, -1, &f[i].value_len);
    lua_pop(L, 1);
    i++;
  }
  qsort(f, i, sizeof(field), compare_fields);
  *out = f;
  return i;
}

/* The file part: a whole file, a slice of one, or a string; always last. */
static int add_file_part(lua_State *L, oft_transfer *t, int file, int arg) {
  oft_client *c = t->client;
  const char *name, *path, *data, *filename, *type;
  size_t data_len = 0;
  curl_off_t offset, length;
  curl_mimepart *part;
  CURLcode rc;

  name = oft_arg_string(L, file, "field", arg, WHERE "file.", NULL);
  path = oft_arg_string(L, file, "path", arg, WHERE "file.", NULL);
  data = oft_arg_string(L, file, "data", arg, WHERE "file.", &data_len);
  filename = oft_arg_string(L, file, "filename", arg, WHERE "file.", NULL);
  type = oft_arg_string(L, file, "content_type", arg, WHERE "file.", NULL);
  offset = slice_number(L, file, "offset", arg);
  length = slice_number(L, file, "length", arg);
  if ((path == NULL) == (data == NULL))
    oft_arg_fail(L, arg, WHERE, "file", "needs exactly one of path and data");
  if (data != NULL && (offset >= 0 || length >= 0))
    oft_arg_fail(L, arg, WHERE, "file", "offset and length need path");
  if (name == NULL) name = "file";
  if (type == NULL) type = "application/octet-stream";
  if (filename == NULL) filename = path != NULL ? base_name(path) : "upload";
  if (!oft_request_framable(name, strlen(name), 0) || !oft_request_framable(filename, strlen(filename), 0) ||
      !oft_request_framable(type, strlen(type), 1))
    return fail(L, t, "invalid_request",
                "multipart file field, filename or content type contains CR, LF or a quote");

  part = curl_mime_addpart(t->mime);
  if (part == NULL) oft_memory_error(L);
  if (path != NULL) {
    /* a whole file is the slice [0, size): read by oft_source_read like any slice,
     * so exactly the declared bytes go out (libcurl's curl_mime_filedata would
     * send what the file holds by then, past its own Content-Length) */
    oft_source_refusal why;
    if (!oft_source_open(&t->source, path, offset, length, &why)) {
      oft_source_push_refusal(L, path, &why, c->auth.secret);
      return 0;
    }
    rc = curl_mime_data_cb(part, (curl_off_t)t->source.length, read_part, seek_part, NULL, &t->source);
  } else {
    /* a Lua string: referenced, not copied (strings never move) */
    lua_getfield(L, file, "data");
    t->data_ref = luaL_ref(L, c->refs);
    t->source.data = data;
    t->source.length = (long long)data_len;
    rc = curl_mime_data_cb(part, (curl_off_t)data_len, read_part, seek_part, NULL, &t->source);
  }
  if (rc == CURLE_OK) rc = curl_mime_name(part, name);
  if (rc == CURLE_OK) rc = curl_mime_filename(part, filename);
  if (rc == CURLE_OK) rc = curl_mime_type(part, type);
  if (rc != CURLE_OK) return fail(L, t, "io", curl_easy_strerror(rc));
  return 1;
}

int oft_mime_prepare(lua_State *L, oft_transfer *t, int mp, int arg) {
  int fields, file;
  size_t n = 0, i;
  field *f = NULL;
  CURLcode rc = CURLE_OK;

  fields = oft_arg_table(L, mp, "fields", arg, WHERE);
  if (fields != 0) n = read_fields(L, fields, arg, &f);
  file = oft_arg_table(L, mp, "file", arg, WHERE);
  for (i = 0; i < n; i++)
    if (!oft_request_framable(f[i].name, f[i].name_len, 0))
      return fail(L, t, "invalid_request", "multipart field name contains CR, LF, NUL or a quote");

  t->mime = curl_mime_init(t->easy);
  if (t->mime == NULL) oft_memory_error(L);
  for (i = 0; i < n && rc == CURLE_OK; i++) {
    curl_mimepart *part = curl_mime_addpart(t->mime);
    if (part == NULL) oft_memory_error(L);
    rc = curl_mime_name(part, f[i].name);
    if (rc == CURLE_OK) rc = curl_mime_data(part, f[i].value, f[i].value_len);
  }
  if (rc != CURLE_OK) return fail(L, t, "io", curl_easy_strerror(rc));
  if (file != 0 && !add_file_part(L, t, file, arg)) return 0;
  curl_easy_setopt(t->easy, CURLOPT_MIMEPOST, t->mime);
  return 1;
}

void oft_mime_release(oft_transfer *t) {
  if (t->mime != NULL) {
    curl_mime_free(t->mime);
    t->mime = NULL;
  }
  oft_source_close(&t->source);
}
