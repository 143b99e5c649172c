/*
 * fuzz_file_source.c: libFuzzer target for the length-bounded reader of multipart
 * file parts (src/exchange/file_source.c, behind both transports): what decides
 * which bytes of a training file reach the server.
 *
 * The input is a file's bytes, a slice of it, and a script of what happens while it
 * is sent: libcurl's reads of any size, its rewinds, and another process appending
 * to or truncating the file. For every input:
 *  - no read hands out more than asked, and all reads together never more than the
 *    slice's declared length;
 *  - every byte handed out is the file's byte at that place, as long as nothing but
 *    appends changed the file before it was read (appends leave the slice's bytes);
 *  - a file that nobody touched is sent whole: reading to the end gives exactly
 *    `length` bytes, then 0, never a failure (after a write its mtime may have moved,
 *    which aborts too: the reader checks size and mtime);
 *  - the read that hands out the slice's last byte does so only while the file has
 *    its original size: a grown or shrunk file fails (OFT_SOURCE_FAILED) with
 *    `changed` set and `size_now` its new size, never a short or a long body;
 *  - a rewind (seek) outside [0, length] is refused, inside it restarts there.
 * (src/core/mime.c maps a failure to CURL_READFUNC_ABORT for libcurl.)
 */
#define _GNU_SOURCE /* memfd_create */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "file_source.h"
#include "fuzz_check.h"

#define MAX_FILE 4096

static unsigned char original[MAX_FILE];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  size_t file_len = ((size_t)data[0] << 4) % MAX_FILE;
  if (file_len > size - 3) file_len = size - 3;
  const uint8_t *script = data + 3 + file_len;
  size_t script_len = size - 3 - file_len;
  memcpy(original, data + 3, file_len);

  int fd = memfd_create("fuzz_file_source", 0);
  CHECK(fd >= 0);
  CHECK(write(fd, original, file_len) == (ssize_t)file_len);
  FILE *f = fdopen(dup(fd), "rb");
  CHECK(f != NULL);

  long long offset = file_len ? (long long)(data[1] % (file_len + 1)) : 0;
  long long left = (long long)file_len - offset;
  long long length = left ? (long long)(data[2] % (left + 1)) : 0;
  if (data[2] == 0xff) length = left; /* the whole rest, as upload_file sends it */

  oft_source s;
  memset(&s, 0, sizeof s);
  s.file = f;
  s.offset = offset;
  s.length = length;
  CHECK(oft_source_mark(&s) == 0);
  CHECK(fseeko(f, (off_t)offset, SEEK_SET) == 0);

  size_t cur_size = file_len; /* what the file holds now */
  size_t intact = file_len;   /* bytes [0, intact) still hold the original */
  int touched = 0;            /* another writer appended or truncated */
  int aborted = 0;
  char buf[512];

  for (size_t i = 0; i < script_len && !aborted; i++) {
    unsigned op = script[i] & 3, arg = script[i] >> 2;
    if (op == 0 || op == 3) { /* a read of 1..64 bytes (op 3: of 1..512) */
      size_t want = op == 0 ? (size_t)arg + 1 : ((size_t)arg + 1) * 8;
      long long pos = s.pos;
      size_t got = oft_source_read(&s, buf, want);
      if (got == OFT_SOURCE_FAILED) {
        aborted = 1;
        /* only a file that shrank, grew or was rewritten, or failed, aborts */
        CHECK(cur_size != file_len || s.read_errno != 0 || s.changed);
        if (s.changed) CHECK(s.size_now == (long long)cur_size);
        break;
      }
      CHECK(got <= want);
      CHECK(pos + (long long)got <= length);
      CHECK(s.pos == pos + (long long)got);
      if (got == 0) CHECK(pos == length); /* 0 only at the end */
      if ((size_t)(offset + pos) + got <= intact)
        CHECK(memcmp(buf, original + offset + pos, got) == 0);
      if (got > 0 && s.pos == length) CHECK(cur_size == file_len); /* the last byte: unchanged size */
    } else if (op == 1) { /* another writer appends 1..64 bytes */
      size_t n = (size_t)arg + 1;
      memset(buf, 0xA5, n);
      CHECK(pwrite(fd, buf, n, (off_t)cur_size) == (ssize_t)n);
      cur_size += n;
      touched = 1;
    } else { /* op 2: truncate (even arg) or rewind (odd arg) */
      if (arg & 1) {
        long long to = (long long)(arg >> 1) * 37 % (length + 2); /* length + 1: refused */
        int rc = oft_source_seek(&s, to);
        if (to > length) {
          CHECK(rc == -1);
        } else {
          CHECK(rc == 0);
          CHECK(s.pos == to);
        }
      } else {
        size_t to = cur_size ? ((size_t)(arg >> 1) * 61) % cur_size : 0;
        CHECK(ftruncate(fd, (off_t)to) == 0);
        cur_size = to;
        touched = 1;
        if (to < intact) intact = to;
      }
    }
  }

  /* an untouched file then reads to its end: exactly `length` bytes in all */
  if (!aborted && !touched) {
    while (s.pos < length) {
      long long pos = s.pos;
      size_t got = oft_source_read(&s, buf, sizeof buf);
      CHECK(got != OFT_SOURCE_FAILED && got > 0);
      CHECK(memcmp(buf, original + offset + pos, got) == 0);
    }
    CHECK(s.pos == length);
    CHECK(oft_source_read(&s, buf, sizeof buf) == 0);
    CHECK(!s.changed);
  }
  fclose(f);
  close(fd);
  return 0;
}
