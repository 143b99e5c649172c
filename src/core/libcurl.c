/*
 * libcurl.c: libcurl as a process-wide library: what this build of it can do
 * (core.curl_version, core.features) and its one-time set-up, run by the
 * first core.new rather than by require, so loading a module never
 * initialises libcurl.
 */
#include <curl/curl.h>

#include "core.h"

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
 * Once per process. curl_global_init is itself thread-safe only when libcurl
 * says CURL_VERSION_THREADSAFE (7.84+); two Lua states racing here on an
 * older libcurl is the race libcurl documents and nothing can close. A
 * failed init is retried by the next core.new. Never cleaned up: another Lua
 * state in the process may still use libcurl.
 */
void oft_libcurl_init(lua_State *L) {
  static int done = 0;
  if (done) return;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) luaL_error(L, "curl_global_init failed");
  done = 1;
}

void oft_libcurl_open(lua_State *L) {
  static const luaL_Reg functions[] = {
    {"curl_version", core_curl_version}, {"features", core_features}, {NULL, NULL}};
  luaL_setfuncs(L, functions, 0);
}
