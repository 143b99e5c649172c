/*
 * file_source.h: the bytes of an upload's file part, for every transport.
 * src/core/mime.c hands them to libcurl (its read and seek callbacks);
 * codec.upload_part (src/codec/upload_part_lua.c) hands the same reader to
 * lua/openai/finetunes/transport/multipart.lua, which the ngx adapter sends.
 *
 * Exactly `length` bytes go out, from a file slice [offset, offset + length) or
 * from a string held by the caller. A file that ends early, grows or is rewritten
 * while it is sent fails the part (checked on a short read and once the last
 * byte is read: size and mtime), so the body never differs from its declared
 * length. No Lua, no libcurl: fuzz/fuzz_file_source.c drives it directly.
 */
#ifndef OFT_FILE_SOURCE_H
#define OFT_FILE_SOURCE_H

#include <stddef.h>
#include <stdio.h>

/* What oft_source_read returns when the part failed (changed or read_errno set). */
#define OFT_SOURCE_FAILED ((size_t)-1)

typedef struct oft_source {
  FILE *file;          /* a file slice, or NULL */
  const char *data;    /* a string kept alive by its owner (a Lua string: the transfer's data_ref) */
  long long offset;    /* slice start in the file */
  long long length;    /* bytes in the part */
  long long pos;       /* bytes already handed out */
  int read_errno;      /* reading the file failed mid-send */
  char *path;          /* the file's path (for the error), owned by whoever opened it */
  long long size0;     /* the file's size and mtime when the part was built */
  long long mtime0_ns;
  long long size_now;  /* when it changed while being sent: its size then */
  int changed;         /* the file grew, shrank or was rewritten mid-send */
} oft_source;

/* Why a file cannot be an upload part: a local failure ("cannot <verb> <path>:
 * strerror(os_errno)", kind io) or a refusal (`message`, kind invalid_request). */
typedef struct oft_source_refusal {
  const char *verb;    /* NULL for a refusal */
  int os_errno;
  char message[160];
} oft_source_refusal;

/*
 * Opens `path` as the part [offset, offset + length) of a regular file (offset
 * < 0: 0; length < 0: to the end; both < 0: the whole file) and marks its size
 * and mtime. Returns 1, or 0 with *why filled (nothing left open). A missing or
 * unreadable file, a directory: local; a slice beyond the end, a file that is
 * not regular: refused. s->path is set (owned by s: oft_source_close frees it).
 */
int oft_source_open(oft_source *s, const char *path, long long offset, long long length,
                    oft_source_refusal *why);

/* Records the open file's size and mtime: what "changed" is measured against.
 * Returns 0, or -1 with errno set when fstat fails. */
int oft_source_mark(oft_source *s);

/* Up to n bytes of the part into buf: the count (0 at the end), or OFT_SOURCE_FAILED. */
size_t oft_source_read(oft_source *s, char *buf, size_t n);

/* Back to byte `pos` of the part (a resend). 0, or -1 when pos is outside [0, length]. */
int oft_source_seek(oft_source *s, long long pos);

/* Lets go of the open file between sends (the path and the marks stay);
 * oft_source_reopen takes it again. Idempotent. */
void oft_source_release(oft_source *s);

/* Opens the released file again at the part's first byte. 1, or 0 with
 * s->changed (it is no longer the file that was measured: size or mtime) or
 * s->read_errno set. With the file open it only rewinds. */
int oft_source_reopen(oft_source *s);

/* Closes the file and frees the path oft_source_open set; idempotent. */
void oft_source_close(oft_source *s);

#endif /* OFT_FILE_SOURCE_H */
