/* mime.c: multipart/form-data bodies, streamed from disk or from a Lua string. */
/* 64-bit fseeko/off_t on 32-bit hosts too (a POSIX feature-test macro, hence the name) */
#define _FILE_OFFSET_BITS 64 /* NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
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

/* A local file failure: kind io with the path and the OS message (errors.h). */
static int fail_errno(lua_State *L, oft_transfer *t, const char *verb, const char *path, int e) {
  oft_error_push_local(L, verb, path, e, t->client->auth.secret);
  return 0;
}

/* Bytes a Content-Disposition / Content-Type line cannot carry faithfully. */
static int framable(const char *s, size_t n, int allow_quote) {
  size_t i;
  for (i = 0; i < n; i++)
    if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0' || (!allow_quote && s[i] == '"')) return 0;
  return 1;
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
  if (!framable(name, strlen(name), 0) || !framable(filename, strlen(filename), 0) ||
      !framable(type, strlen(type), 1))
    return fail(L, t, "invalid_request",
                "multipart file field, filename or content type contains CR, LF or a quote");

  part = curl_mime_addpart(t->mime);
  if (part == NULL) oft_memory_error(L);
  if (path != NULL) {
    /* a whole file is the slice [0, size): read by oft_source_read like any slice,
     * so exactly the declared bytes go out (libcurl's curl_mime_filedata would
     * send what the file holds by then, past its own Content-Length) */
    struct stat st;
    oft_source *s = &t->source;
    int whole = offset < 0 && length < 0;
    s->file = fopen(path, "rb"); /* owned by the transfer from here on */
    if (s->file == NULL) return fail_errno(L, t, "open", path, errno);
    s->path = strdup(path);
    if (s->path == NULL) oft_memory_error(L);
    if (fstat(fileno(s->file), &st) != 0) return fail_errno(L, t, "stat", path, errno);
    if (whole && S_ISDIR(st.st_mode)) return fail_errno(L, t, "upload", path, EISDIR);
    if (!S_ISREG(st.st_mode))
      return fail(L, t, "invalid_request",
                  whole ? "an upload needs a regular file" : "a multipart slice needs a regular file");
    if (oft_source_mark(s) != 0) return fail_errno(L, t, "stat", path, errno);
    if (offset < 0) offset = 0;
    if (length < 0) length = offset <= (curl_off_t)st.st_size ? (curl_off_t)st.st_size - offset : 0;
    if (offset > (curl_off_t)st.st_size || length > (curl_off_t)st.st_size - offset) {
      char msg[160];
      snprintf(msg, sizeof msg, "multipart slice [%.0f, %.0f) lies beyond the end of the file (%.0f bytes)",
               (double)offset, (double)offset + (double)length, (double)st.st_size);
      return fail(L, t, "invalid_request", msg);
    }
    if (fseeko(s->file, (off_t)offset, SEEK_SET) != 0)
      return fail_errno(L, t, "seek in", path, errno);
    s->offset = offset;
    s->length = length;
    rc = curl_mime_data_cb(part, length, oft_source_read, oft_source_seek, NULL, s);
  } else {
    /* a Lua string: referenced, not copied (strings never move) */
    lua_getfield(L, file, "data");
    t->data_ref = luaL_ref(L, c->refs);
    t->source.data = data;
    t->source.length = (curl_off_t)data_len;
    rc = curl_mime_data_cb(part, (curl_off_t)data_len, oft_source_read, oft_source_seek, NULL, &t->source);
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
    if (!framable(f[i].name, f[i].name_len, 0))
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
  if (t->source.file != NULL) {
    fclose(t->source.file);
    t->source.file = NULL;
  }
  free(t->source.path);
  t->source.path = NULL;
}
