/*
 * core.h: the parts of openai.finetunes.core (libcurl transport, auth, clock)
 * that core.c opens, and libcurl's process-wide set-up.
 */
#ifndef OFT_CORE_H
#define OFT_CORE_H

#include "compat.h"

/* Each adds its functions to the module table on top of the stack. */
void oft_client_open(lua_State *L);  /* client.c: new, and the client handle's metatable */
void oft_clock_open(lua_State *L);   /* clock.c: now, sleep */
void oft_libcurl_open(lua_State *L); /* libcurl.c: curl_version, features */

/* curl_global_init, once per process, before the first client (libcurl.c); raises on failure. */
void oft_libcurl_init(lua_State *L);

#endif /* OFT_CORE_H */
