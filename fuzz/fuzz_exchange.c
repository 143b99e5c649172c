/*
 * fuzz_exchange.c: libFuzzer target for the per-request rules both transports
 * apply (src/exchange/request.c: what a request may carry; src/exchange/response.c:
 * where an answer's body goes). The first byte picks what the rest is:
 *  0: a URL. Refused exactly when it holds a space, a control byte or DEL, is
 *     not http:// or https:// (any case), or carries '@' before its path;
 *  1: a header line, name and value cut at a byte the input names. Refused
 *     exactly when the name is not a token, the value holds CR, LF or NUL, or
 *     the name (any case) is authorization, the credential's (api-key) or a
 *     framing field; the message is one NUL-terminated line;
 *  2: a body under a random cap, added in random-sized pieces to memory, or
 *     (a 2xx with a sink) to a temp file in a scratch directory: memory holds
 *     the concatenation until the first add past the cap, which fails too_large;
 *     a sink ends renamed with exactly those bytes at finish, or, aborted, leaves
 *     the directory as it was.
 * Every byte the rules see is a copy of exactly the input's length (ASan catches
 * a read past it).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "request.h"
#include "response.h"

static int tchar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int ieq(const char *s, size_t n, const char *word) {
  size_t i;
  if (n != strlen(word)) return 0;
  for (i = 0; i < n; i++) {
    unsigned char a = (unsigned char)s[i], b = (unsigned char)word[i];
    if (a >= 'A' && a <= 'Z') a = (unsigned char)(a + 32);
    if (a != b) return 0;
  }
  return 1;
}

static void check_url(const char *u, size_t n) {
  const char *why = oft_request_url_refusal(u, n);
  size_t i, start;
  int control = 0, at = 0;
  for (i = 0; i < n; i++)
    if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] == 0x7f) control = 1;
  if (control) {
    CHECK(why != NULL && strcmp(why, "url contains a space or a control character") == 0);
    return;
  }
  if (n >= 7 && ieq(u, 7, "http://")) start = 7;
  else if (n >= 8 && ieq(u, 8, "https://")) start = 8;
  else {
    CHECK(why != NULL && strcmp(why, "url must be an absolute http:// or https:// URL") == 0);
    return;
  }
  for (i = start; i < n && u[i] != '/' && u[i] != '?' && u[i] != '#'; i++)
    if (u[i] == '@') at = 1;
  if (at) CHECK(why != NULL && strcmp(why, "url must not carry credentials (user:password@)") == 0);
  else CHECK(why == NULL);
}

static void check_header(const char *name, size_t nlen, const char *value, size_t vlen) {
  static const char *const refused[] = {"authorization", "api-key", "host", "connection", "content-length",
                                        "transfer-encoding", "proxy-authorization", NULL};
  char buf[160];
  const char *why;
  size_t i;
  int token = nlen > 0, clean = 1, own = 0;
  memset(buf, 'x', sizeof buf);
  why = oft_request_header_problem(name, nlen, value, vlen, "API-Key", buf, sizeof buf);
  for (i = 0; i < nlen; i++) token = token && tchar((unsigned char)name[i]);
  for (i = 0; i < vlen; i++) clean = clean && value[i] != '\r' && value[i] != '\n' && value[i] != '\0';
  for (i = 0; refused[i] != NULL; i++) own = own || ieq(name, nlen, refused[i]);
  CHECK((why == NULL) == (token && clean && !own));
  CHECK(oft_request_framable(value, vlen, 1) == clean);
  if (why != NULL) {
    CHECK(why == buf && memchr(buf, '\0', sizeof buf) != NULL);
    CHECK(strchr(buf, '\n') == NULL && strchr(buf, '\r') == NULL); /* only a token name is quoted */
    if (!token) CHECK(strncmp(buf, "a header name is not a valid token", 34) == 0);
    else if (!clean) CHECK(strncmp(buf, "header ", 7) == 0);
    else CHECK(strncmp(buf, "headers must not set ", 21) == 0);
  }
}

/* The names in dir other than . and .., counted. */
static int entries(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  CHECK(d != NULL);
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
  closedir(d);
  return n;
}

static char scratch[64];

static void remove_scratch(void) {
  rmdir(scratch);
}

static void check_body(const uint8_t *p, size_t n) {
  oft_response r;
  double cap;
  long status;
  int sink, abort_it, failed = 0, to_file;
  size_t i = 3, sent = 0;
  char target[96];
  char *expected;
  if (n < 3) return;
  cap = (double)(p[0] % 64);
  status = p[1] % 2 ? 200 : 404;
  sink = p[2] & 1;
  abort_it = p[2] & 2;
  to_file = sink && status == 200;
  if (scratch[0] == '\0') {
    snprintf(scratch, sizeof scratch, "/tmp/fuzz_exchange-XXXXXX");
    CHECK(mkdtemp(scratch) != NULL);
    atexit(remove_scratch);
  }
  snprintf(target, sizeof target, "%s/out", scratch);
  expected = (char *)malloc(n);
  CHECK(expected != NULL);
  oft_response_init(&r, cap);
  if (sink) CHECK(oft_response_open(&r, target));
  CHECK(entries(scratch) == sink); /* the temp file, before anything is sent */
  oft_response_head(&r, status, -1);
  CHECK(entries(scratch) == to_file); /* a non-2xx drops it at once */
  while (i < n && !failed) {
    size_t k = 1 + p[i++] % 16;
    if (k > n - i) k = n - i;
    if (!oft_response_add(&r, (const char *)p + i, k)) {
      failed = 1;
      CHECK(!to_file); /* a sink download is never capped */
      CHECK(r.failure == OFT_RESPONSE_TOO_LARGE && (double)(sent + k) > cap && r.body.len == 0);
    } else {
      memcpy(expected + sent, p + i, k);
      sent += k;
      if (to_file) {
        CHECK(r.written == (double)sent);
      } else {
        CHECK((double)sent <= cap && r.body.len == sent);
        CHECK(sent == 0 || memcmp(r.body.data, expected, sent) == 0);
      }
    }
    i += k;
  }
  if (abort_it || failed) {
    oft_response_abort(&r);
    CHECK(entries(scratch) == 0); /* nothing left behind, no target made */
  } else {
    CHECK(oft_response_finish(&r));
    if (to_file) {
      FILE *f = fopen(target, "rb");
      char *back = (char *)malloc(sent + 1);
      CHECK(f != NULL && back != NULL);
      CHECK(fread(back, 1, sent + 1, f) == sent && (sent == 0 || memcmp(back, expected, sent) == 0));
      fclose(f);
      free(back);
      CHECK(entries(scratch) == 1); /* the target only: the temp file was renamed onto it */
    } else {
      CHECK(entries(scratch) == 0);
    }
  }
  oft_response_free(&r);
  unlink(target);
  free(expected);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *copy;
  if (size < 1) return 0;
  copy = (char *)malloc(size > 1 ? size - 1 : 1); /* exactly the input: a read past it is ASan's */
  CHECK(copy != NULL);
  if (size > 1) memcpy(copy, data + 1, size - 1);
  switch (data[0] % 3) {
  case 0:
    check_url(copy, size - 1);
    break;
  case 1: {
    size_t cut = size > 1 ? (size_t)(unsigned char)copy[0] % size : 0;
    if (size > 1) {
      if (cut > size - 2) cut = size - 2;
      check_header(copy + 1, cut, copy + 1 + cut, size - 2 - cut);
    }
    break;
  }
  default:
    check_body(data + 1, size - 1);
  }
  free(copy);
  return 0;
}
