/* file_source.c: the length-bounded reader of an upload's file part (file_source.h). */
/* 64-bit fseeko/off_t on 32-bit hosts too (a POSIX feature-test macro, hence the name) */
#define _FILE_OFFSET_BITS 64 /* NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */

#include <errno.h>
#include <stdlib.h>
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
  if ((long long)st.st_size == s->size0 && mtime_ns(&st) == s->mtime0_ns) return 0;
  s->changed = 1;
  s->size_now = (long long)st.st_size;
  return 1;
}

/* Exactly `length` bytes of the file go out, never more or fewer: a file that
 * ends early, grows or is rewritten while it is sent fails the part (checked on
 * a short read and once the last byte is read). */
size_t oft_source_read(oft_source *s, char *buf, size_t n) {
  long long left = s->length - s->pos;
  if ((long long)n > left) n = (size_t)left;
  if (n == 0) return 0;
  if (s->file != NULL) {
    size_t got = fread(buf, 1, n, s->file);
    if (got == 0) { /* the file shrank or failed under us: never send short */
      if (!ferror(s->file) && source_changed(s)) return OFT_SOURCE_FAILED;
      s->read_errno = ferror(s->file) ? (errno != 0 ? errno : EIO) : EIO;
      return OFT_SOURCE_FAILED;
    }
    n = got;
    if (s->pos + (long long)n == s->length && source_changed(s)) return OFT_SOURCE_FAILED;
  } else {
    memcpy(buf, s->data + s->pos, n);
  }
  s->pos += (long long)n;
  return n;
}

int oft_source_seek(oft_source *s, long long pos) {
  if (pos < 0 || pos > s->length) return -1;
  if (s->file != NULL && fseeko(s->file, (off_t)(s->offset + pos), SEEK_SET) != 0) return -1;
  s->pos = pos;
  return 0;
}

int oft_source_mark(oft_source *s) {
  struct stat st;
  if (fstat(fileno(s->file), &st) != 0) return -1;
  s->size0 = (long long)st.st_size;
  s->mtime0_ns = mtime_ns(&st);
  return 0;
}

static int local(oft_source *s, oft_source_refusal *why, const char *verb, int e) {
  why->verb = verb;
  why->os_errno = e;
  why->message[0] = '\0';
  oft_source_close(s);
  return 0;
}

static int refuse(oft_source *s, oft_source_refusal *why) {
  why->verb = NULL;
  why->os_errno = 0;
  oft_source_close(s);
  return 0;
}

int oft_source_open(oft_source *s, const char *path, long long offset, long long length,
                    oft_source_refusal *why) {
  struct stat st;
  int whole = offset < 0 && length < 0;
  memset(s, 0, sizeof *s);
  s->path = (char *)malloc(strlen(path) + 1);
  if (s->path == NULL) return local(s, why, "open", ENOMEM);
  memcpy(s->path, path, strlen(path) + 1);
  s->file = fopen(path, "rb");
  if (s->file == NULL) return local(s, why, "open", errno);
  if (fstat(fileno(s->file), &st) != 0) return local(s, why, "stat", errno);
  if (whole && S_ISDIR(st.st_mode)) return local(s, why, "upload", EISDIR);
  if (!S_ISREG(st.st_mode)) {
    snprintf(why->message, sizeof why->message, "%s",
             whole ? "an upload needs a regular file" : "a multipart slice needs a regular file");
    return refuse(s, why);
  }
  if (oft_source_mark(s) != 0) return local(s, why, "stat", errno);
  if (offset < 0) offset = 0;
  if (length < 0) length = offset <= (long long)st.st_size ? (long long)st.st_size - offset : 0;
  if (offset > (long long)st.st_size || length > (long long)st.st_size - offset) {
    snprintf(why->message, sizeof why->message,
             "multipart slice [%.0f, %.0f) lies beyond the end of the file (%.0f bytes)", (double)offset,
             (double)offset + (double)length, (double)st.st_size);
    return refuse(s, why);
  }
  if (fseeko(s->file, (off_t)offset, SEEK_SET) != 0) return local(s, why, "seek in", errno);
  s->offset = offset;
  s->length = length;
  return 1;
}

void oft_source_release(oft_source *s) {
  if (s->file != NULL) fclose(s->file);
  s->file = NULL;
}

int oft_source_reopen(oft_source *s) {
  if (s->file == NULL && s->path != NULL) {
    s->file = fopen(s->path, "rb");
    if (s->file == NULL) {
      s->read_errno = errno != 0 ? errno : EIO;
      return 0;
    }
    s->pos = -1; /* a fresh FILE: fseeko below */
    if (source_changed(s)) return 0;
  }
  if (s->pos != 0 && oft_source_seek(s, 0) != 0) {
    s->read_errno = errno != 0 ? errno : EIO;
    return 0;
  }
  return 1;
}

void oft_source_close(oft_source *s) {
  if (s->file != NULL) fclose(s->file);
  s->file = NULL;
  free(s->path);
  s->path = NULL;
}
