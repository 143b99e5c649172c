/*
 * credential.h: the credential a client sends with every request, and the only
 * place that knows how it is spelled on the wire and what a usable one is. The
 * curl transport keeps it in its client (src/core/client.c); an adapter written
 * in Lua gets the same object as codec.credential (src/codec/credential_lua.c).
 *
 * A credential is one header line, "Name: Scheme secret" or "Name: secret":
 * "Authorization: Bearer sk-..." for OpenAI, "api-key: ..." for an Azure key,
 * "Authorization: Bearer <Entra token>" for Azure AD. The line is the only
 * copy of the secret the core owns; replacing or freeing it wipes the old
 * one first. Every exchange copies the line when it starts, so replacing the
 * credential (a refreshed token) never changes a request already in flight.
 * No Lua, no libcurl.
 */
#ifndef OFT_AUTH_H
#define OFT_AUTH_H

#include <stddef.h>

/* Without auth_header / auth_scheme: "Authorization: Bearer <secret>". */
#define OFT_AUTH_DEFAULT_HEADER "Authorization"
#define OFT_AUTH_DEFAULT_SCHEME "Bearer"

typedef struct oft_auth {
  char *name;         /* header name, as given ("Authorization", "api-key") */
  char *scheme;       /* "Bearer", or "" to send the secret as the whole value */
  char *line;         /* "name: scheme secret"; NULL until a secret is set */
  const char *secret; /* points into line; redacted from messages and traces */
} oft_auth;

/* What is wrong with a secret (an API key, a token) of len bytes, or NULL:
 * it must fit in one header line. "must be a non-empty string ..." */
const char *oft_auth_secret_problem(const char *secret, size_t len);

/* What is wrong with a header name or a scheme ("" sends the secret alone), or NULL. */
const char *oft_auth_header_problem(const char *name);
const char *oft_auth_scheme_problem(const char *scheme);

/* Copies name and scheme; 0 when out of memory (a is then left for oft_auth_free). */
int oft_auth_init(oft_auth *a, const char *name, const char *scheme);

/* Replaces the secret (len bytes, no NUL/CR/LF: the caller checks); 0 when out of memory, a unchanged. */
int oft_auth_set(oft_auth *a, const char *secret, size_t len);

/* Wipes and frees everything; idempotent. */
void oft_auth_free(oft_auth *a);

/*
 * In a trace line, the offset just past "authorization:" or "<our name>:"
 * (any case, anywhere: "Proxy-Authorization:", HTTP/2's "[api-key: ...]"), or 0.
 */
size_t oft_auth_value_at(const oft_auth *a, const char *s, size_t n);

#endif /* OFT_AUTH_H */
