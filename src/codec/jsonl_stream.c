/* jsonl_stream.c: a byte stream cut into lines for the validator (see jsonl_stream.h). */
#include <errno.h>
#include <string.h>

#include "jsonl_stream.h"

void oft_jsonl_stream_init(oft_jsonl_stream *s, size_t block) {
  s->buf = NULL;
  s->cap = 0;
  s->block = block < 2 ? 2 : block;
}

void oft_jsonl_stream_release(oft_jsonl_stream *s, oft_jsonl_validator *v) {
  if (s->buf != NULL) v->doc.alloc(v->doc.alloc_ud, s->buf, s->cap, 0);
  s->buf = NULL;
  s->cap = 0;
}

/* Doubles the buffer (or allocates the first block). 0 on failure, s unchanged. */
static int grow(oft_jsonl_stream *s, oft_jsonl_validator *v) {
  size_t ncap = s->cap == 0 ? s->block : s->cap * 2;
  char *nbuf;
  if (s->cap > ((size_t)-1) / 2) return 0;
  nbuf = (char *)v->doc.alloc(v->doc.alloc_ud, s->buf, s->cap, ncap);
  if (nbuf == NULL) return 0;
  s->buf = nbuf;
  s->cap = ncap;
  return 1;
}

int oft_jsonl_stream_run(oft_jsonl_stream *s, oft_jsonl_validator *v, oft_jsonl_read_fn read,
                         void *ud) {
  /* buf[start, have): the unfinished line; [start, from) holds no '\n' */
  size_t have = 0, start = 0, from = 0;
  if (s->buf == NULL && !grow(s, v)) return ENOMEM;
  for (;;) {
    long got;
    int err = 0;
    char *nl;
    if (s->cap - have < s->cap / 2) {
      if (start > 0) { /* keep only the unfinished line, at the front */
        memmove(s->buf, s->buf + start, have - start);
        have -= start;
        from -= start;
        start = 0;
      }
      if (s->cap - have < s->cap / 2 && !grow(s, v)) return ENOMEM; /* a line over half the buffer */
    }
    got = read(ud, s->buf + have, s->cap - have, &err);
    if (got < 0) return err != 0 ? err : EIO;
    if (got == 0) break;
    have += (size_t)got;
    v->stats.bytes += (uint64_t)got;
    while ((nl = (char *)memchr(s->buf + from, '\n', have - from)) != NULL) {
      oft_jsonl_line(v, s->buf + start, (size_t)(nl - (s->buf + start)));
      start = from = (size_t)(nl - s->buf) + 1;
    }
    from = have;
  }
  if (start < have) oft_jsonl_line(v, s->buf + start, have - start); /* no final '\n' */
  return 0;
}
