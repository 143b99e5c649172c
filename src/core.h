/* core.h: module-wide declarations shared by the C core's files. */
#ifndef OFT_CORE_H
#define OFT_CORE_H

#include <stddef.h>

#include "compat.h"

#define OFT_VERSION "0.1.0"

/* Each adds its functions to the module table on top of the stack. */
void oft_json_open(lua_State *L);   /* json_lua.c: json_decode, json_encode, null, array_mt */
void oft_url_open(lua_State *L);    /* url.c: escape, encode_query */
void oft_client_open(lua_State *L); /* client.c: new, and the client handle's metatable */
void oft_jsonl_open(lua_State *L);  /* jsonl_lua.c: validate_jsonl (training-data checks) */
void oft_md5_open(lua_State *L);    /* md5.c: md5, md5_file, md5_new (RFC 1321) */

/* For functions that end in lua_error (a longjmp): tells compilers and analyzers. */
#if defined(__GNUC__)
#define OFT_NORETURN __attribute__((noreturn))
#define OFT_UNREACHABLE() __builtin_unreachable()
#else
#define OFT_NORETURN
#define OFT_UNREACHABLE() ((void)0)
#endif

/* Raises Lua's "not enough memory" error. */
OFT_NORETURN void oft_memory_error(lua_State *L);

/* Monotonic clock in seconds (CLOCK_MONOTONIC): for deadlines, never wall time. */
double oft_now(void);

/* Overwrites a secret before its memory is freed (volatile: not optimised away). */
void oft_wipe(void *p, size_t n);

#endif /* OFT_CORE_H */
