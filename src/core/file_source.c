/* file_source.c: the length-bounded reader of a multipart file part (file_source.h). */
/* 64-bit fseeko/off_t on 32-bit hosts too (a POSIX feature-test macro, hence the name) */
#define _FILE_OFFSET_BITS 64 /* NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "file_source.h"

static long long mtime_ns(const struct stat *st) {
  return (long long)st->st_mtim.tv_sec * 1000000000LL + (long long)st->st_mtim.tv_nsec;
}

/* Has the file changed since the part was built (size or mtime)? Notes how. */
static int source_changed(oft_source *s) {
  struct stat st;
  if (fstat(fileno(s->file), &st) != 0) return 0;
  if ((curl_off_t)st.st_size == s->size0 && mtime_ns(&st) == s->mtime0_ns) return 0;
  s->changed = 1;
  s->size_now = (curl_off_t)st.st_size;
  return 1;
}

/* Exactly `length` bytes of the file go out, never more or fewer: a file that
 * ends early, grows or is rewritten while it is sent aborts the transfer
 * (checked on a short read and once the last byte is read). */
size_t oft_source_read(char *buf, size_t size, size_t n, void *arg) {
  oft_source *s = (oft_source *)arg;
  size_t want = size * n;
  curl_off_t left = s->length - s->pos;
  if ((curl_off_t)want > left) want = (size_t)left;
  if (want == 0) return 0;
  if (s->file != NULL) {
    size_t got = fread(buf, 1, want, s->file);
    if (got == 0) { /* the file shrank or failed under us: never send short */
      if (!ferror(s->file) && source_changed(s)) return CURL_READFUNC_ABORT;
      s->read_errno = ferror(s->file) ? (errno != 0 ? errno : EIO) : EIO;
      return CURL_READFUNC_ABORT;
    }
    want = got;
    if (s->pos + (curl_off_t)want == s->length && source_changed(s)) return CURL_READFUNC_ABORT;
  } else {
    memcpy(buf, s->data + s->pos, want);
  }
  s->pos += (curl_off_t)want;
  return want;
}

/* libcurl rewinds a part it must send again (auth, HTTP/2 refused stream). */
int oft_source_seek(void *arg, curl_off_t offset, int origin) {
  oft_source *s = (oft_source *)arg;
  if (origin != SEEK_SET || offset < 0 || offset > s->length) return CURL_SEEKFUNC_FAIL;
  if (s->file != NULL && fseeko(s->file, (off_t)(s->offset + offset), SEEK_SET) != 0)
    return CURL_SEEKFUNC_FAIL;
  s->pos = offset;
  return CURL_SEEKFUNC_OK;
}

int oft_source_mark(oft_source *s) {
  struct stat st;
  if (fstat(fileno(s->file), &st) != 0) return -1;
  s->size0 = (curl_off_t)st.st_size;
  s->mtime0_ns = mtime_ns(&st);
  return 0;
}
