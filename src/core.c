/*
 * core.c: luaopen_openai_finetunes_core, the module table, libcurl's global
 * setup, and the clock and sleep the retry loop uses.
 * Each concern adds its functions through oft_<concern>_open(L), called with the
 * module table on top of the stack.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core.h"
#include "errors.h"
#include "transfer.h"

int luaopen_openai_finetunes_core(lua_State *L);

double oft_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void oft_memory_error(lua_State *L) {
  luaL_error(L, "not enough memory");
  OFT_UNREACHABLE();
}

void oft_wipe(void *p, size_t n) {
  volatile unsigned char *v = (volatile unsigned char *)p;
  while (n-- > 0) *v++ = 0;
}

/* core.now() -> seconds on a monotonic clock */
static int core_now(lua_State *L) {
  lua_pushnumber(L, (lua_Number)oft_now());
  return 1;
}

/* core.sleep(seconds): the whole time, even when a signal interrupts it */
static int core_sleep(lua_State *L) {
  double s = (double)luaL_checknumber(L, 1);
  struct timespec left;
  luaL_argcheck(L, s >= 0 && s < 1e9, 1, "seconds must be >= 0");
  left.tv_sec = (time_t)s;
  left.tv_nsec = (long)((s - (double)left.tv_sec) * 1e9);
  if (left.tv_nsec > 999999999L) left.tv_nsec = 999999999L;
  while (nanosleep(&left, &left) != 0 && errno == EINTR) {}
  return 0;
}

static int core_curl_version(lua_State *L) {
  lua_pushstring(L, curl_version_info(CURLVERSION_NOW)->version);
  return 1;
}

static void set_flag(lua_State *L, const char *name, int on) {
  lua_pushboolean(L, on);
  lua_setfield(L, -2, name);
}

/* core.features() -> what this libcurl can do, for diagnostics and spec guards */
static int core_features(lua_State *L) {
  const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
  lua_createtable(L, 0, 8);
  lua_pushstring(L, v->version);
  lua_setfield(L, -2, "version");
  set_flag(L, "http2", (v->features & CURL_VERSION_HTTP2) != 0);
  set_flag(L, "zlib", v->libz_version != NULL);
  set_flag(L, "brotli", (v->features & CURL_VERSION_BROTLI) != 0);
#ifdef CURL_VERSION_ZSTD
  set_flag(L, "zstd", (v->features & CURL_VERSION_ZSTD) != 0);
#else
  set_flag(L, "zstd", 0);
#endif
#ifdef CURL_VERSION_THREADSAFE
  set_flag(L, "threadsafe", (v->features & CURL_VERSION_THREADSAFE) != 0);
#else
  set_flag(L, "threadsafe", 0);
#endif
  if (v->ssl_version != NULL) {
    lua_pushstring(L, v->ssl_version);
    lua_setfield(L, -2, "ssl");
  }
  return 1;
}

/*
 * core.sink_temp(path) -> temp_path | nil, err: the temp file a download to
 * `path` goes into, created (empty, closed) by the rule every transport shares
 * (oft_sink_temp: next to it, exclusive, an existing target's mode kept, a
 * directory at the path refused). err is a local-failure table (errors.h).
 */
static int core_sink_temp(lua_State *L) {
  size_t len;
  const char *sink = luaL_checklstring(L, 1, &len);
  const char *verb = NULL;
  char *tmp;
  int fd;
  if (strlen(sink) != len) return luaL_argerror(L, 1, "path must not contain NUL");
  tmp = (char *)lua_newuserdatauv(L, len + 32, 0); /* freed by the GC, whatever happens */
  fd = oft_sink_temp(sink, tmp, len + 32, &verb);
  if (fd < 0) {
    lua_pushnil(L);
    oft_error_push_local(L, verb, sink, errno, NULL);
    return 2;
  }
  close(fd);
  lua_pushstring(L, tmp);
  return 1;
}

/*
 * curl_global_init is reference counted and thread-safe only when libcurl
 * says CURL_VERSION_THREADSAFE (7.84+); otherwise call it once per process and
 * hope no other thread races us (nothing better exists). Never cleaned up:
 * another Lua state in the process may still use libcurl.
 */
static void global_init(lua_State *L) {
  static int done = 0;
  int threadsafe = 0;
#ifdef CURL_VERSION_THREADSAFE
  threadsafe = (curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_THREADSAFE) != 0;
#endif
  if (done && !threadsafe) return;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) luaL_error(L, "curl_global_init failed");
  done = 1;
}

int luaopen_openai_finetunes_core(lua_State *L) {
  static const luaL_Reg functions[] = {
    {"now", core_now}, {"sleep", core_sleep}, {"curl_version", core_curl_version},
    {"features", core_features}, {"sink_temp", core_sink_temp}, {NULL, NULL}};
  global_init(L);
  luaL_newlib(L, functions);
  lua_pushliteral(L, OFT_VERSION);
  lua_setfield(L, -2, "_VERSION");
  oft_json_open(L);
  oft_url_open(L);
  oft_client_open(L);
  oft_jsonl_open(L);
  oft_md5_open(L);
  return 1;
}
