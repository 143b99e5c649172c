/*
 * sink.h: the temp file a download goes into, next to its target (so the final
 * rename() is atomic), created exclusively; an existing target keeps its
 * permission bits; a directory at the path is refused before anything is sent.
 * No Lua, no libcurl: both modules link it (Makefile SHARED_SRC).
 */
#ifndef OFT_SINK_H
#define OFT_SINK_H

#include <stddef.h>

/*
 * Writes "<sink>.part-<8 hex>" into tmp (tmp_size >= strlen(sink) + 32) and
 * returns the open file descriptor (O_WRONLY, O_CLOEXEC), or -1 with errno set
 * and *verb naming what failed ("write", "create a file next to", "keep the
 * mode of") for the "cannot <verb> <path>: <error>" message.
 */
int oft_sink_temp(const char *sink, char *tmp, size_t tmp_size, const char **verb);

#endif /* OFT_SINK_H */
