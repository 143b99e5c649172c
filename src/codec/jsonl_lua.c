/*
 * jsonl_lua.c: codec.validate_jsonl, a training file streamed through the
 * jsonl_validate.h rules by jsonl_stream.h (1 MiB blocks, split into lines;
 * memory bounded by the longest line, not the file).
 *
 * Everything is owned by one userdata (its __gc closes the file and frees the
 * buffers), so a Lua error raised while a problem is stored leaks nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "jsonl_stream.h"
#include "jsonl_validate.h"

#define SCAN_MT "openai.finetunes.codec.jsonl_scan"

typedef struct scan {
  oft_jsonl_validator v;
  oft_jsonl_stream stream;
  int fd;
} scan;

/* Idempotent; calls no Lua function. */
static void scan_close(scan *s) {
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
  oft_jsonl_stream_release(&s->stream, &s->v);
  oft_jsonl_release(&s->v);
}

static int scan_gc(lua_State *L) {
  scan_close((scan *)luaL_checkudata(L, 1, SCAN_MT));
  return 0;
}

/* Where problems go: a Lua sequence at stack index `tbl`. */
typedef struct sink {
  lua_State *L;
  int tbl;
  int n;
} sink;

static void on_problem(void *ud, uint64_t line, oft_jsonl_severity severity, const char *path,
                       const char *message) {
  sink *k = (sink *)ud;
  lua_State *L = k->L;
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, (lua_Integer)line);
  lua_setfield(L, -2, "line");
  lua_pushstring(L, path);
  lua_setfield(L, -2, "path");
  lua_pushstring(L, message);
  lua_setfield(L, -2, "message");
  lua_pushstring(L, severity == OFT_JSONL_ERROR ? "error" : "warning");
  lua_setfield(L, -2, "severity");
  lua_rawseti(L, k->tbl, ++k->n);
}

static void set_count(lua_State *L, const char *name, uint64_t n) {
  lua_pushinteger(L, (lua_Integer)n);
  lua_setfield(L, -2, name);
}

static int fail(lua_State *L, const char *what, const char *path, int err) {
  luaL_pushfail(L);
  lua_pushfstring(L, "cannot %s '%s': %s", what, path, strerror(err));
  lua_pushstring(L, what);
  return 3;
}

/* The stream's reader: the file, retried after signals. */
static long read_fd(void *ud, char *dst, size_t room, int *err) {
  int fd = *(const int *)ud;
  for (;;) {
    ssize_t got = read(fd, dst, room);
    if (got >= 0) return (long)got;
    if (errno != EINTR) {
      *err = errno;
      return -1;
    }
  }
}

/*
 * codec.validate_jsonl(path, method, max_problems, token_limit, min_examples)
 *   -> report | nil, message, "open" | "read"
 * method: "supervised" | "dpo" | "reinforcement". The Lua face
 * (training_data.lua) checks the arguments and documents the report.
 */
static int l_validate_jsonl(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  static const char *const methods[] = {"supervised", "dpo", "reinforcement", NULL};
  int method = luaL_checkoption(L, 2, "supervised", methods);
  lua_Integer max_problems = (lua_Integer)luaL_optnumber(L, 3, 100);
  lua_Number token_limit = luaL_optnumber(L, 4, OFT_JSONL_DEFAULT_TOKEN_LIMIT);
  lua_Number min_examples = luaL_optnumber(L, 5, OFT_JSONL_MIN_EXAMPLES);
  struct stat st;
  sink k;
  scan *s;
  int err;

  luaL_argcheck(L, max_problems >= 0, 3, "must be >= 0");
  luaL_argcheck(L, token_limit >= 1, 4, "must be >= 1");
  luaL_argcheck(L, min_examples >= 0, 5, "must be >= 0");
  lua_settop(L, 5);

  s = (scan *)lua_newuserdatauv(L, sizeof *s, 0); /* at 6 */
  s->fd = -1;
  oft_jsonl_stream_init(&s->stream, OFT_JSONL_BLOCK);
  oft_jsonl_init(&s->v, (oft_jsonl_method)method, NULL, NULL);
  if (luaL_newmetatable(L, SCAN_MT)) {
    lua_pushcfunction(L, scan_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);

  s->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (s->fd < 0) return fail(L, "open", path, errno);
  if (fstat(s->fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    scan_close(s);
    return fail(L, "open", path, EISDIR);
  }
#ifdef POSIX_FADV_SEQUENTIAL
  (void)posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  lua_createtable(L, max_problems < 64 ? (int)max_problems : 64, 0); /* problems, at 7 */
  k.L = L;
  k.tbl = 7;
  k.n = 0;
  s->v.report = on_problem;
  s->v.report_ud = &k;
  s->v.max_details = (uint64_t)max_problems;
  s->v.token_limit = (uint64_t)token_limit;
  s->v.min_examples = (uint64_t)min_examples;

  err = oft_jsonl_stream_run(&s->stream, &s->v, read_fd, &s->fd);
  if (err != 0) {
    scan_close(s);
    if (err == ENOMEM) oft_memory_error(L);
    return fail(L, "read", path, err);
  }
  oft_jsonl_finish(&s->v);

  lua_createtable(L, 0, 20);
  lua_pushboolean(L, s->v.stats.errors == 0);
  lua_setfield(L, -2, "ok");
  lua_pushstring(L, methods[method]);
  lua_setfield(L, -2, "method");
  set_count(L, "bytes", s->v.stats.bytes);
  set_count(L, "lines", s->v.stats.lines);
  set_count(L, "examples", s->v.stats.examples);
  set_count(L, "messages", s->v.stats.messages);
  set_count(L, "assistant_messages", s->v.stats.assistant_messages);
  set_count(L, "characters", s->v.stats.characters);
  set_count(L, "estimated_tokens", s->v.stats.estimated_tokens);
  set_count(L, "billed_tokens_per_epoch", s->v.stats.billed_tokens);
  set_count(L, "max_example_tokens", s->v.stats.max_example_tokens);
  set_count(L, "over_token_limit", s->v.stats.over_token_limit);
  set_count(L, "token_limit", s->v.token_limit);
  set_count(L, "images", s->v.stats.images);
  set_count(L, "tool_calls", s->v.stats.tool_calls);
  set_count(L, "errors", s->v.stats.errors);
  set_count(L, "warnings", s->v.stats.warnings);
  lua_pushvalue(L, 7);
  lua_setfield(L, -2, "problems");
  scan_close(s);
  return 1;
}

void oft_jsonl_open(lua_State *L) {
  lua_pushcfunction(L, l_validate_jsonl);
  lua_setfield(L, -2, "validate_jsonl");
}
