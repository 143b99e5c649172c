/*
 * sink.c: the download temp-file rule, shared by both modules (no Lua, no
 * libcurl): src/core/transfer.c creates a sink's temp file with it, and
 * codec.sink_temp (src/codec/sink_lua.c) hands it to the Lua exchange.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sink.h"
#include "util.h"

/* A temp file next to the target, created exclusively, so rename() is atomic.
 * An existing target keeps its permission bits (a 0600 file stays 0600, as
 * `curl -o` leaves it); a directory at the path fails before anything is sent.
 * The one rule for every transport: transfer.c uses it, codec.sink_temp gives
 * it to the Lua exchange (src/codec/sink_lua.c). */
int oft_sink_temp(const char *sink, char *tmp, size_t tmp_size, const char **verb) {
  static unsigned long seq = 0;
  int attempt, fd = -1, keep_mode = 0, e;
  struct stat target;
  if (stat(sink, &target) == 0) {
    if (S_ISDIR(target.st_mode)) {
      *verb = "write";
      errno = EISDIR;
      return -1;
    }
    keep_mode = S_ISREG(target.st_mode);
  }
  for (attempt = 0; attempt < 100 && fd < 0; attempt++) {
    unsigned long r = (unsigned long)getpid() * 2654435761UL ^ (unsigned long)time(NULL) ^
                      (unsigned long)(oft_now() * 1e9) ^ ((unsigned long)(size_t)tmp << 7) ^ ++seq;
    snprintf(tmp, tmp_size, "%s.part-%08lx", sink, r & 0xffffffffUL);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    *verb = "create a file next to";
    return -1;
  }
  if (keep_mode && fchmod(fd, target.st_mode & 07777) != 0) {
    e = errno;
    close(fd);
    remove(tmp);
    *verb = "keep the mode of";
    errno = e;
    return -1;
  }
  return fd;
}
