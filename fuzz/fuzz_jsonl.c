/*
 * fuzz_jsonl.c: libFuzzer target for the training-data validator: the line
 * splitter (src/codec/jsonl_stream.c), the per-line rules (src/codec/jsonl_validate.c)
 * and codec.validate_jsonl (src/codec/jsonl_lua.c), for every method.
 *
 * The input is a training file. For each of supervised, dpo and
 * reinforcement:
 *  - reference: the input cut at '\n' here and fed to oft_jsonl_line;
 *  - the same bytes through oft_jsonl_stream_run with a tiny first block
 *    (2..41 bytes) and a reader that hands out 1..n bytes at a time, so
 *    lines cross block and read boundaries and the buffer grows: the stats
 *    and every reported problem (line, severity, path, message) must be
 *    exactly the reference's;
 *  - the report is consistent: problems reported = min(errors + warnings,
 *    max_details), per severity too when nothing was cut; line numbers
 *    never go back, lie in 1..lines, and 0 (the file) comes only at the
 *    end; paths and messages are short one-line valid UTF-8; lines, bytes
 *    and the example / message / token counts agree with each other;
 * then for one method (picked from the input's hash):
 *  - codec.validate_jsonl on the input as a file (a memfd; this build reads
 *    it in 16-byte blocks) returns a report whose counts and problems are
 *    the reference's;
 *  - with an allocator that fails after N allocations the stream returns 0
 *    or ENOMEM, never crashes or leaks, and without a failure it gives the
 *    reference's answer.
 * The limits (max_details, token_limit, min_examples) come from the hash
 * too, so the cut-off and the over-limit paths are reached.
 */
#define _GNU_SOURCE /* memfd_create */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "codec.h"
#include "fuzz_check.h"
#include "json_parse.h"
#include "jsonl_stream.h"
#include "jsonl_validate.h"

/* ---- reported problems ---------------------------------------------------- */

typedef struct problem {
  uint64_t line;
  oft_jsonl_severity severity;
  char *path, *message;
} problem;

typedef struct report {
  problem *p;
  size_t n, cap;
  size_t errors, warnings;
} report;

static void check_text(const char *s, size_t max) {
  size_t i, len = strlen(s);
  CHECK(len < max);
  for (i = 0; i < len; i++) CHECK((unsigned char)s[i] >= 0x20); /* one line: no control bytes at all */
  fuzz_check_utf8(s, len);
}

static void on_problem(void *ud, uint64_t line, oft_jsonl_severity severity, const char *path,
                       const char *message) {
  report *r = (report *)ud;
  problem *p;
  CHECK(path != NULL && message != NULL && message[0] != '\0');
  check_text(path, 192);
  check_text(message, 320);
  CHECK(severity == OFT_JSONL_ERROR || severity == OFT_JSONL_WARNING);
  if (r->n == r->cap) {
    r->cap = r->cap ? r->cap * 2 : 16;
    r->p = realloc(r->p, r->cap * sizeof *r->p);
    CHECK(r->p != NULL);
  }
  p = &r->p[r->n++];
  p->line = line;
  p->severity = severity;
  p->path = strdup(path);
  p->message = strdup(message);
  CHECK(p->path != NULL && p->message != NULL);
  if (severity == OFT_JSONL_ERROR) r->errors++;
  else r->warnings++;
}

static void report_free(report *r) {
  size_t i;
  for (i = 0; i < r->n; i++) {
    free(r->p[i].path);
    free(r->p[i].message);
  }
  free(r->p);
  memset(r, 0, sizeof *r);
}

static void check_same_report(const report *a, const report *b) {
  size_t i;
  CHECK(a->n == b->n);
  for (i = 0; i < a->n; i++) {
    CHECK(a->p[i].line == b->p[i].line);
    CHECK(a->p[i].severity == b->p[i].severity);
    CHECK(strcmp(a->p[i].path, b->p[i].path) == 0);
    CHECK(strcmp(a->p[i].message, b->p[i].message) == 0);
  }
}

static void check_same_stats(const oft_jsonl_stats *a, const oft_jsonl_stats *b) {
  CHECK(a->bytes == b->bytes);
  CHECK(a->lines == b->lines);
  CHECK(a->examples == b->examples);
  CHECK(a->messages == b->messages);
  CHECK(a->assistant_messages == b->assistant_messages);
  CHECK(a->characters == b->characters);
  CHECK(a->estimated_tokens == b->estimated_tokens);
  CHECK(a->billed_tokens == b->billed_tokens);
  CHECK(a->max_example_tokens == b->max_example_tokens);
  CHECK(a->over_token_limit == b->over_token_limit);
  CHECK(a->images == b->images);
  CHECK(a->tool_calls == b->tool_calls);
  CHECK(a->errors == b->errors);
  CHECK(a->warnings == b->warnings);
}

/* ---- settings from the input ------------------------------------------------ */

typedef struct settings {
  uint64_t hash;
  uint64_t max_details, token_limit, min_examples;
  size_t block;
} settings;

static void pick_settings(const uint8_t *data, size_t size, settings *s) {
  static const uint64_t DETAILS[] = {100, 0, 1, 3, 1000000};
  static const uint64_t TOKENS[] = {OFT_JSONL_DEFAULT_TOKEN_LIMIT, 1, 20, 100};
  uint64_t x = fuzz_seed(data, size);
  s->hash = x;
  s->max_details = DETAILS[fuzz_rand(&x) % 5];
  s->token_limit = TOKENS[fuzz_rand(&x) % 4];
  s->min_examples = fuzz_rand(&x) % 3 == 0 ? OFT_JSONL_MIN_EXAMPLES : fuzz_rand(&x) % 4;
  s->block = 2 + (size_t)(fuzz_rand(&x) % 40);
}

static void setup(oft_jsonl_validator *v, int method, const settings *s, report *r,
                  oft_json_alloc_fn alloc, void *alloc_ud) {
  oft_jsonl_init(v, (oft_jsonl_method)method, alloc, alloc_ud);
  v->report = on_problem;
  v->report_ud = r;
  v->max_details = s->max_details;
  v->token_limit = s->token_limit;
  v->min_examples = s->min_examples;
}

/* ---- the reference: lines cut here, one call each ------------------------------ */

static void reference(oft_jsonl_validator *v, const uint8_t *data, size_t size) {
  const char *p = (const char *)data, *end = p + size;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (nl == NULL) {
      oft_jsonl_line(v, p, (size_t)(end - p));
      break;
    }
    oft_jsonl_line(v, p, (size_t)(nl - p));
    p = nl + 1;
  }
  v->stats.bytes = size;
  oft_jsonl_finish(v);
}

static void check_consistent(const oft_jsonl_validator *v, const report *r, const uint8_t *data,
                             size_t size) {
  const oft_jsonl_stats *st = &v->stats;
  uint64_t total = st->errors + st->warnings, lines = 0, prev = 1;
  size_t i;
  for (i = 0; i < size; i++) lines += data[i] == '\n';
  if (size > 0 && data[size - 1] != '\n') lines++;
  CHECK(st->lines == lines);
  CHECK(st->bytes == size);
  CHECK(st->examples <= st->lines);
  CHECK(st->assistant_messages <= st->messages);
  CHECK(st->over_token_limit <= st->examples);
  CHECK(st->billed_tokens <= st->estimated_tokens);
  CHECK(st->max_example_tokens <= st->estimated_tokens);
  CHECK(st->billed_tokens <= st->examples * v->token_limit);
  CHECK(st->estimated_tokens >= st->examples * OFT_JSONL_TOKENS_PER_EXAMPLE +
                                    st->messages * OFT_JSONL_TOKENS_PER_MESSAGE);
  CHECK(st->examples == 0 || st->max_example_tokens > 0);
  /* the first max_details problems are reported, in order */
  CHECK(r->n == (total < v->max_details ? total : v->max_details));
  CHECK(r->errors <= st->errors && r->warnings <= st->warnings);
  if (r->n == total) CHECK(r->errors == st->errors && r->warnings == st->warnings);
  if (st->lines > 0 && st->examples < st->lines) CHECK(st->errors > 0); /* a non-example line is an error */
  if (st->examples < v->min_examples) CHECK(st->errors > 0);
  for (i = 0; i < r->n; i++) {
    uint64_t line = r->p[i].line;
    if (line == 0) {
      prev = 0; /* file-level problems come last */
    } else {
      CHECK(prev != 0 && line >= prev && line <= st->lines);
      prev = line;
    }
  }
}

/* ---- the stream, fed in random pieces --------------------------------------------- */

typedef struct reader {
  const uint8_t *p;
  size_t left;
  uint64_t rng;
  int fail_at; /* > 0: the read after this many fails with EIO */
} reader;

static long read_pieces(void *ud, char *dst, size_t room, int *err) {
  reader *r = (reader *)ud;
  size_t n;
  CHECK(room >= 1);
  if (r->fail_at > 0 && --r->fail_at == 0) {
    *err = EIO;
    return -1;
  }
  if (r->left == 0) return 0;
  n = 1 + (size_t)(fuzz_rand(&r->rng) % (fuzz_rand(&r->rng) % 4 == 0 ? 97 : 7));
  if (n > room) n = room;
  if (n > r->left) n = r->left;
  memcpy(dst, r->p, n);
  r->p += n;
  r->left -= n;
  return (long)n;
}

static oft_jsonl_validator ref_v, str_v; /* ~33 KB each: not on the stack */

static void check_stream(int method, const settings *s, const uint8_t *data, size_t size,
                         const report *want) {
  report got = {0};
  oft_jsonl_stream st;
  reader rd = {data, size, s->hash ^ (uint64_t)method * 0x9E3779B97F4A7C15ULL, 0};
  setup(&str_v, method, s, &got, NULL, NULL);
  oft_jsonl_stream_init(&st, s->block);
  CHECK(oft_jsonl_stream_run(&st, &str_v, read_pieces, &rd) == 0);
  oft_jsonl_finish(&str_v);
  check_same_stats(&ref_v.stats, &str_v.stats);
  check_same_report(want, &got);
  oft_jsonl_stream_release(&st, &str_v);
  oft_jsonl_release(&str_v);
  report_free(&got);
  if (size > 0 && s->hash % 7 == 0) { /* a failing reader: its errno comes back */
    rd.p = data;
    rd.left = size;
    rd.fail_at = 1 + (int)(s->hash % 5);
    setup(&str_v, method, s, &got, NULL, NULL);
    oft_jsonl_stream_init(&st, s->block);
    {
      int rc = oft_jsonl_stream_run(&st, &str_v, read_pieces, &rd);
      CHECK(rc == 0 || rc == EIO);
      CHECK(str_v.stats.bytes <= size);
    }
    oft_jsonl_stream_release(&st, &str_v);
    oft_jsonl_release(&str_v);
    report_free(&got);
  }
}

/* ---- a failing allocator ------------------------------------------------------------ */

static void check_oom(int method, const settings *s, const uint8_t *data, size_t size,
                      const report *want) {
  report got = {0};
  oft_jsonl_stream st;
  reader rd = {data, size, s->hash, 0};
  fuzz_budget b = {(long)((s->hash >> 8) % 12), 0};
  int rc;
  setup(&str_v, method, s, &got, fuzz_budget_alloc, &b);
  oft_jsonl_stream_init(&st, s->block);
  rc = oft_jsonl_stream_run(&st, &str_v, read_pieces, &rd);
  CHECK(rc == 0 || rc == ENOMEM);
  CHECK(rc == 0 || b.failed);
  if (rc == 0) {
    oft_jsonl_finish(&str_v);
    if (!b.failed) {
      check_same_stats(&ref_v.stats, &str_v.stats);
      check_same_report(want, &got);
    }
  }
  oft_jsonl_stream_release(&st, &str_v);
  oft_jsonl_release(&str_v);
  report_free(&got);
}

/* ---- codec.validate_jsonl ------------------------------------------------------------- */

static lua_State *L;
static int memfd = -1;

static lua_Integer count_field(int t, const char *name) {
  lua_Integer v;
  int isnum;
  lua_getfield(L, t, name);
  v = lua_tointegerx(L, -1, &isnum);
  CHECK(isnum);
  lua_pop(L, 1);
  return v;
}

static void check_lua(int method, const settings *s, const uint8_t *data, size_t size,
                      const report *want) {
  static const char *const METHODS[] = {"supervised", "dpo", "reinforcement"};
  const oft_jsonl_stats *st = &ref_v.stats;
  char path[64];
  int top = lua_gettop(L), rep;
  size_t i;
  CHECK(ftruncate(memfd, 0) == 0);
  CHECK(size == 0 || pwrite(memfd, data, size, 0) == (ssize_t)size);
  snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);
  lua_getglobal(L, "validate_jsonl");
  lua_pushstring(L, path);
  lua_pushstring(L, METHODS[method]);
  lua_pushinteger(L, (lua_Integer)s->max_details);
  lua_pushinteger(L, (lua_Integer)s->token_limit);
  lua_pushinteger(L, (lua_Integer)s->min_examples);
  if (lua_pcall(L, 5, 1, 0) != LUA_OK) {
    fprintf(stderr, "validate_jsonl raised: %s\n", lua_tostring(L, -1));
    abort();
  }
  rep = lua_gettop(L);
  CHECK(lua_istable(L, rep));
  lua_getfield(L, rep, "ok");
  CHECK(lua_isboolean(L, -1) && lua_toboolean(L, -1) == (st->errors == 0));
  lua_pop(L, 1);
  CHECK(count_field(rep, "bytes") == (lua_Integer)st->bytes);
  CHECK(count_field(rep, "lines") == (lua_Integer)st->lines);
  CHECK(count_field(rep, "examples") == (lua_Integer)st->examples);
  CHECK(count_field(rep, "messages") == (lua_Integer)st->messages);
  CHECK(count_field(rep, "assistant_messages") == (lua_Integer)st->assistant_messages);
  CHECK(count_field(rep, "characters") == (lua_Integer)st->characters);
  CHECK(count_field(rep, "estimated_tokens") == (lua_Integer)st->estimated_tokens);
  CHECK(count_field(rep, "billed_tokens_per_epoch") == (lua_Integer)st->billed_tokens);
  CHECK(count_field(rep, "max_example_tokens") == (lua_Integer)st->max_example_tokens);
  CHECK(count_field(rep, "over_token_limit") == (lua_Integer)st->over_token_limit);
  CHECK(count_field(rep, "token_limit") == (lua_Integer)s->token_limit);
  CHECK(count_field(rep, "images") == (lua_Integer)st->images);
  CHECK(count_field(rep, "tool_calls") == (lua_Integer)st->tool_calls);
  CHECK(count_field(rep, "errors") == (lua_Integer)st->errors);
  CHECK(count_field(rep, "warnings") == (lua_Integer)st->warnings);
  lua_getfield(L, rep, "problems");
  CHECK(lua_istable(L, -1));
  CHECK(lua_rawlen(L, -1) == want->n);
  for (i = 0; i < want->n; i++) {
    int p;
    lua_rawgeti(L, -1, (lua_Integer)i + 1);
    p = lua_gettop(L);
    CHECK(count_field(p, "line") == (lua_Integer)want->p[i].line);
    lua_getfield(L, p, "severity");
    CHECK(strcmp(lua_tostring(L, -1), want->p[i].severity == OFT_JSONL_ERROR ? "error" : "warning") == 0);
    lua_getfield(L, p, "path");
    CHECK(strcmp(lua_tostring(L, -1), want->p[i].path) == 0);
    lua_getfield(L, p, "message");
    CHECK(strcmp(lua_tostring(L, -1), want->p[i].message) == 0);
    lua_settop(L, p - 1);
  }
  lua_settop(L, top);
  lua_gc(L, LUA_GCCOLLECT, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  settings s;
  int method;
  if (L == NULL) {
    L = luaL_newstate();
    CHECK(L != NULL);
    lua_newtable(L);
    oft_jsonl_open(L);
    lua_getfield(L, -1, "validate_jsonl");
    lua_setglobal(L, "validate_jsonl");
    lua_pop(L, 1);
    memfd = memfd_create("fuzz_jsonl", MFD_CLOEXEC);
    CHECK(memfd >= 0);
  }
  pick_settings(data, size, &s);
  for (method = 0; method < 3; method++) {
    report want = {0};
    setup(&ref_v, method, &s, &want, NULL, NULL);
    reference(&ref_v, data, size);
    check_consistent(&ref_v, &want, data, size);
    check_stream(method, &s, data, size, &want);
    if ((int)(s.hash % 3) == method) {
      check_lua(method, &s, data, size, &want);
      check_oom(method, &s, data, size, &want);
    }
    oft_jsonl_release(&ref_v);
    report_free(&want);
  }
  return 0;
}
