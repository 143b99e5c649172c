/* response.c: where an answer's body goes (see response.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "response.h"
#include "sink.h"

void oft_response_init(oft_response *r, double max_body) {
  memset(r, 0, sizeof *r);
  r->max_body = max_body;
  r->fd = -1;
  r->to_sink = -1;
}

static int local_failure(oft_response *r, const char *verb, int e) {
  oft_response_abort(r);
  if (r->failure == OFT_RESPONSE_OK) {
    r->failure = OFT_RESPONSE_LOCAL;
    r->verb = verb;
    r->os_errno = e != 0 ? e : EIO;
  }
  return 0;
}

int oft_response_open(oft_response *r, const char *sink) {
  size_t n = strlen(sink) + 32;
  const char *verb = NULL;
  r->sink = (char *)malloc(strlen(sink) + 1);
  r->tmp = (char *)malloc(n);
  if (r->sink == NULL || r->tmp == NULL) {
    r->failure = OFT_RESPONSE_NOMEM;
    return 0;
  }
  memcpy(r->sink, sink, strlen(sink) + 1);
  r->fd = oft_sink_temp(sink, r->tmp, n, &verb);
  if (r->fd < 0) {
    int e = errno;
    free(r->tmp); /* nothing was created: nothing to remove */
    r->tmp = NULL;
    return local_failure(r, verb, e);
  }
  return 1;
}

void oft_response_head(oft_response *r, long status, double content_length) {
  if (r->to_sink >= 0) return;
  r->to_sink = r->fd >= 0 && status >= 200 && status < 300;
  if (!r->to_sink) {
    oft_response_abort(r); /* a 4xx/5xx answer about a download: its body is the error, in memory */
    if (content_length > 0 && content_length <= r->max_body)
      (void)oft_bytes_reserve(&r->body, (size_t)content_length); /* a hint: add() grows it anyway */
  }
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return 0;
    }
    p += w;
    n -= (size_t)w;
  }
  return 1;
}

int oft_response_add(oft_response *r, const char *p, size_t n) {
  if (r->failure != OFT_RESPONSE_OK) return 0;
  if (r->to_sink < 0) oft_response_head(r, 0, -1); /* no head: not a 2xx */
  if (r->to_sink) {
    if (!write_all(r->fd, p, n)) return local_failure(r, "write", errno);
    r->written += (double)n;
    return 1;
  }
  if ((double)r->body.len + (double)n > r->max_body) {
    r->failure = OFT_RESPONSE_TOO_LARGE;
    oft_bytes_free(&r->body);
    return 0;
  }
  if (!oft_bytes_add(&r->body, p, n)) {
    r->failure = OFT_RESPONSE_NOMEM;
    oft_bytes_free(&r->body);
    return 0;
  }
  return 1;
}

int oft_response_finish(oft_response *r) {
  int fd = r->fd;
  if (r->failure != OFT_RESPONSE_OK) return 0;
  if (r->to_sink < 0) oft_response_head(r, 0, -1);
  if (!r->to_sink || fd < 0) return 1; /* in memory, or already renamed */
  r->fd = -1;
  if (close(fd) != 0) return local_failure(r, "write", errno);
  if (rename(r->tmp, r->sink) != 0) return local_failure(r, "write", errno);
  free(r->tmp);
  r->tmp = NULL;
  return 1;
}

void oft_response_abort(oft_response *r) {
  if (r->fd >= 0) close(r->fd);
  r->fd = -1;
  if (r->tmp != NULL) remove(r->tmp);
  free(r->tmp);
  r->tmp = NULL;
}

void oft_response_free(oft_response *r) {
  oft_response_abort(r);
  free(r->sink);
  r->sink = NULL;
  oft_bytes_free(&r->body);
}

void oft_response_too_large_message(const oft_response *r, char *buf, size_t n) {
  snprintf(buf, n, "response body exceeds max_response_bytes (%.0f bytes)", r->max_body);
}
