/*
 * file_source.h: the bytes of a streamed multipart file part, read for libcurl.
 *
 * Exactly `length` bytes go out, from a file slice [offset, offset + length) or
 * from a string held by the caller. A file that ends early, grows or is rewritten
 * while it is sent aborts the transfer (checked on a short read and once the last
 * byte is read), so the body never differs from its declared Content-Length.
 * No Lua here: fuzz/fuzz_file_source.c drives it directly.
 */
#ifndef OFT_FILE_SOURCE_H
#define OFT_FILE_SOURCE_H

#include <stdio.h>

#include <curl/curl.h>

/* Where the bytes of a streamed file part come from. */
typedef struct oft_source {
  FILE *file;          /* a file slice, or NULL */
  const char *data;    /* a string kept alive by its owner (a Lua string: the transfer's data_ref) */
  curl_off_t offset;   /* slice start in the file */
  curl_off_t length;   /* bytes in the part */
  curl_off_t pos;      /* bytes already handed to libcurl */
  int read_errno;      /* reading the file failed mid-transfer */
  char *path;          /* the file's path (for the error), owned by the caller */
  curl_off_t size0;    /* the file's size and mtime when the part was built */
  long long mtime0_ns;
  curl_off_t size_now; /* when it changed while being sent: its size then */
  int changed;         /* the file grew, shrank or was rewritten mid-send */
} oft_source;

/* Records the open file's size and mtime: what "changed" is measured against.
 * Returns 0, or -1 with errno set when fstat fails. */
int oft_source_mark(oft_source *s);

/* curl_read_callback and curl_seek_callback over an oft_source (the `arg`). */
size_t oft_source_read(char *buf, size_t size, size_t n, void *arg);
int oft_source_seek(void *arg, curl_off_t offset, int origin);

#endif /* OFT_FILE_SOURCE_H */
