/*
 * util.h: what every C file of both modules may use, with no Lua and no
 * libcurl headers (a leaf: it includes only the C library), so any file,
 * Lua-facing or not, can include it without pulling in a layer.
 */
#ifndef OFT_UTIL_H
#define OFT_UTIL_H

#include <stddef.h>

#define OFT_VERSION "0.1.0"

/* For functions that end in lua_error (a longjmp): tells compilers and analyzers. */
#if defined(__GNUC__)
#define OFT_NORETURN __attribute__((noreturn))
#define OFT_UNREACHABLE() __builtin_unreachable()
#else
#define OFT_NORETURN
#define OFT_UNREACHABLE() ((void)0)
#endif

/* Monotonic clock in seconds (CLOCK_MONOTONIC): for deadlines, never wall time. */
double oft_now(void);

/* Writes n bytes as 2n lower-case hex digits (no NUL). */
void oft_hex(const unsigned char *p, size_t n, char *out);

/* Overwrites a secret before its memory is freed (volatile: not optimised away). */
void oft_wipe(void *p, size_t n);

#endif /* OFT_UTIL_H */
