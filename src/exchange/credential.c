/* credential.c: the credential header line and what a usable one is (see credential.h). */
#include <stdlib.h>
#include <string.h>

#include "credential.h"
#include "headers.h"
#include "util.h"

static char *dup_string(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = (char *)malloc(n);
  if (d != NULL) memcpy(d, s, n);
  return d;
}

const char *oft_auth_secret_problem(const char *secret, size_t len) {
  if (len == 0) return "must be a non-empty string";
  if (strlen(secret) != len || strpbrk(secret, "\r\n") != NULL) return "must not contain CR, LF or NUL";
  return NULL;
}

const char *oft_auth_header_problem(const char *name) {
  return oft_header_is_token(name, strlen(name)) ? NULL : "must be a header name (a token)";
}

const char *oft_auth_scheme_problem(const char *scheme) {
  if (*scheme == '\0' || oft_header_is_token(scheme, strlen(scheme))) return NULL;
  return "must be empty or a scheme name (a token)";
}

int oft_auth_init(oft_auth *a, const char *name, const char *scheme) {
  memset(a, 0, sizeof *a);
  a->name = dup_string(name);
  a->scheme = dup_string(scheme);
  return a->name != NULL && a->scheme != NULL;
}

static void wipe_line(oft_auth *a) {
  if (a->line != NULL) {
    oft_wipe(a->line, strlen(a->line));
    free(a->line);
  }
  a->line = NULL;
  a->secret = NULL;
}

int oft_auth_set(oft_auth *a, const char *secret, size_t len) {
  size_t nlen = strlen(a->name), slen = strlen(a->scheme);
  size_t head = nlen + 2 + (slen > 0 ? slen + 1 : 0); /* "name: " [+ "scheme "] */
  char *line = (char *)malloc(head + len + 1);
  if (line == NULL) return 0;
  memcpy(line, a->name, nlen);
  memcpy(line + nlen, ": ", 2);
  if (slen > 0) {
    memcpy(line + nlen + 2, a->scheme, slen);
    line[nlen + 2 + slen] = ' ';
  }
  memcpy(line + head, secret, len);
  line[head + len] = '\0';
  wipe_line(a);
  a->line = line;
  a->secret = line + head;
  return 1;
}

void oft_auth_free(oft_auth *a) {
  wipe_line(a);
  free(a->name);
  free(a->scheme);
  a->name = a->scheme = NULL;
}

/* The offset just past "word:" found anywhere in s[0..n), ignoring case, or 0. */
static size_t after_word(const char *s, size_t n, const char *word) {
  size_t w = strlen(word), i;
  for (i = 0; w > 0 && i + w < n; i++)
    if (s[i + w] == ':' && oft_header_name_is(s + i, w, word)) return i + w + 1;
  return 0;
}

size_t oft_auth_value_at(const oft_auth *a, const char *s, size_t n) {
  size_t at = after_word(s, n, "authorization");
  if (at == 0 && a->name != NULL) at = after_word(s, n, a->name);
  return at;
}
