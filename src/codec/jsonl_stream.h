/*
 * jsonl_stream.h: a byte stream cut into lines for the training-data
 * validator (jsonl_validate.h), with no Lua and no I/O of its own: the bytes
 * come from a read callback (jsonl_lua.c reads a file with it,
 * fuzz/fuzz_jsonl.c a buffer in random-sized pieces).
 *
 *   oft_jsonl_stream s;
 *   oft_jsonl_stream_init(&s, OFT_JSONL_BLOCK);
 *   err = oft_jsonl_stream_run(&s, v, read_fn, ud);   every line to oft_jsonl_line
 *   oft_jsonl_stream_release(&s, v);                  (before oft_jsonl_release(v))
 *   if (err == 0) oft_jsonl_finish(v);
 *
 * Blocks are read into one buffer and split on '\n' with memchr; a line that
 * does not end in the buffer is moved to its front, and the buffer doubles
 * only for a line longer than half of it. Memory is the buffer + the
 * validator's arenas: bounded by the longest line, not by the stream. The
 * buffer comes from the validator's allocator.
 */
#ifndef OFT_JSONL_STREAM_H
#define OFT_JSONL_STREAM_H

#include <stddef.h>

#include "jsonl_validate.h"

/* The first buffer size (jsonl_lua.c); a build may set a tiny one to make
 * every line cross block boundaries (the fuzz build does). */
#ifndef OFT_JSONL_BLOCK
#define OFT_JSONL_BLOCK ((size_t)1 << 20)
#endif

/*
 * Reads at most `room` (>= 1) bytes into dst. Returns how many (>= 1), 0 at
 * the end of the stream, or -1 with *err set to an errno value. It may
 * return fewer bytes than asked at any time.
 */
typedef long (*oft_jsonl_read_fn)(void *ud, char *dst, size_t room, int *err);

/* Owned by the caller (it can live in a userdata); fields are private. */
typedef struct oft_jsonl_stream {
  char *buf;
  size_t cap, block;
} oft_jsonl_stream;

/* block: the first buffer size (clamped to >= 2). Never allocates. */
void oft_jsonl_stream_init(oft_jsonl_stream *s, size_t block);

/*
 * Reads the stream to its end through v: each line (without its '\n') to
 * oft_jsonl_line, a last line without '\n' too, v->stats.bytes counted.
 * Returns 0, ENOMEM, or the reader's errno. v's report callback may raise
 * (longjmp): s then holds only its buffer, which oft_jsonl_stream_release
 * frees.
 */
int oft_jsonl_stream_run(oft_jsonl_stream *s, oft_jsonl_validator *v, oft_jsonl_read_fn read,
                         void *ud);

/* Frees the buffer (with v's allocator). Idempotent. */
void oft_jsonl_stream_release(oft_jsonl_stream *s, oft_jsonl_validator *v);

#endif /* OFT_JSONL_STREAM_H */
