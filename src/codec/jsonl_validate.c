/*
 * jsonl_validate.c: the per-line rules behind jsonl_validate.h.
 *
 * Each line is parsed into the reused doc, then walked once: messages and the
 * example object are read member by member (a switch on the key length), the
 * small objects inside them (parts, tool calls) by key; paths and messages are
 * only formatted when a problem is reported, so a clean line costs little more
 * than its parse.
 */
#include "jsonl_validate.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef oft_jsonl_validator V;

enum role { R_SYSTEM, R_USER, R_ASSISTANT, R_TOOL, R_FUNCTION, R_DEVELOPER, R_UNKNOWN };

static const char *const ROLE_NAMES[] = {"system", "user", "assistant", "tool", "function",
                                         "developer"};

/* Where a message sits in the line, for paths: base[index]. */
typedef struct where {
  const char *base; /* "messages", "input.messages", "preferred_output" */
  uint32_t index;
  int text_only;    /* DPO: no image parts */
} where;

/* ---- reporting ------------------------------------------------------------ */

static void problem(V *v, oft_jsonl_severity sev, const char *path, const char *fmt, ...) {
  char msg[320];
  va_list ap;
  if (sev == OFT_JSONL_ERROR) v->stats.errors++;
  else v->stats.warnings++;
  if (v->report == NULL || v->stats.errors + v->stats.warnings > v->max_details) return;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  v->report(v->report_ud, v->line_no, sev, path, msg);
}

#define ERROR(v, path, ...) problem((v), OFT_JSONL_ERROR, (path), __VA_ARGS__)
#define WARN(v, path, ...) problem((v), OFT_JSONL_WARNING, (path), __VA_ARGS__)

/* Path of something inside the message w ("messages[2]" + suffix), or of a
 * top-level thing when w is NULL. Only called on the error path. */
static const char *at(char *buf, size_t size, const where *w, const char *fmt, ...) {
  int n = 0;
  va_list ap;
  if (w != NULL) n = snprintf(buf, size, "%s[%u]", w->base, (unsigned)w->index);
  if (n < 0 || (size_t)n >= size) n = 0;
  va_start(ap, fmt);
  vsnprintf(buf + n, size - (size_t)n, fmt, ap);
  va_end(ap);
  if (w == NULL && buf[0] == '.') memmove(buf, buf + 1, strlen(buf)); /* top level: no dot */
  return buf;
}

#define PATH_SIZE 192
#define AT(...) at(path, sizeof path, __VA_ARGS__)

/* A value from the data quoted into a message: at most ~40 bytes, cut on a
 * character boundary, control bytes shown as '?'. */
static const char *quote(char out[64], const char *s, size_t len) {
  size_t i, n = len > 40 ? 40 : len;
  if (n < len)
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--; /* don't split a character */
  memcpy(out, s, n);
  for (i = 0; i < n; i++)
    if ((unsigned char)out[i] < 0x20) out[i] = '?';
  if (n < len) {
    memcpy(out + n, "...", 3);
    n += 3;
  }
  out[n] = '\0';
  return out;
}

/* ---- small helpers -------------------------------------------------------- */

static const char *str(const V *v, const oft_json_node *n, size_t *len) {
  return oft_json_str(&v->doc, n, len);
}

static int key_is(const V *v, const oft_json_node *k, const char *lit, size_t n) {
  size_t len;
  const char *s = str(v, k, &len);
  return len == n && memcmp(s, lit, n) == 0;
}
#define KEY_IS(v, k, lit) key_is((v), (k), (lit), sizeof(lit) - 1)

static int str_is(const V *v, const oft_json_node *n, const char *lit, size_t litlen) {
  return n != NULL && n->type == OFT_JSON_STRING && key_is(v, n, lit, litlen);
}
#define STR_IS(v, n, lit) str_is((v), (n), (lit), sizeof(lit) - 1)

/* "an array", "a string", ... for "got %s" in messages. */
static const char *type_name(const oft_json_node *n) {
  if (n == NULL) return "nothing";
  switch (n->type) {
    case OFT_JSON_NULL: return "null";
    case OFT_JSON_FALSE:
    case OFT_JSON_TRUE: return "a boolean";
    case OFT_JSON_INT: return "an integer";
    case OFT_JSON_DOUBLE: return "a number";
    case OFT_JSON_STRING: return "a string";
    case OFT_JSON_ARRAY: return "an array";
    default: return "an object";
  }
}

static int is_null(const oft_json_node *n) { return n == NULL || n->type == OFT_JSON_NULL; }

/* Unicode characters in valid UTF-8: bytes that are not continuation bytes. */
static uint64_t count_chars(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  uint64_t cont = 0;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t x;
    memcpy(&x, p + i, 8);
    if (x & 0x8080808080808080ULL) {
      /* continuation byte: top bits 10 */
      uint64_t c = x & ~(x << 1) & 0x8080808080808080ULL;
      cont += ((c >> 7) * 0x0101010101010101ULL) >> 56;
    }
  }
  for (; i < len; i++) cont += (p[i] & 0xC0) == 0x80;
  return (uint64_t)len - cont;
}

/* OpenAI tokenizer control tokens: the API fails a job whose data holds one
 * (its error names the example: "... contains an invalid token: <|fim_suffix|>"). */
static const char *special_token(const char *s, size_t len) {
  static const char *const TOKENS[] = {"<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>",
                                       "<|fim_suffix|>", "<|endofprompt|>", "<|im_start|>",
                                       "<|im_end|>", "<|im_sep|>"};
  const char *end = s + len, *p = s;
  while ((p = memchr(p, '<', (size_t)(end - p))) != NULL) {
    if (p + 1 < end && p[1] == '|') {
      size_t i;
      for (i = 0; i < sizeof TOKENS / sizeof TOKENS[0]; i++) {
        size_t n = strlen(TOKENS[i]);
        if ((size_t)(end - p) >= n && memcmp(p, TOKENS[i], n) == 0) return TOKENS[i];
      }
    }
    p++;
  }
  return NULL;
}

/* Function names: ^[a-zA-Z0-9_-]{1,64}$ (FunctionObject.name). */
static int valid_function_name(const char *s, size_t len) {
  size_t i;
  if (len < 1 || len > 64) return 0;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-'))
      return 0;
  }
  return 1;
}

/* Bytes of every string (keys too) in n's subtree: tool definitions' tokens. */
static uint64_t subtree_string_bytes(const oft_json_node *n) {
  const oft_json_node *end = n + (n->type >= OFT_JSON_ARRAY ? n->u.span : 1);
  uint64_t bytes = 0;
  for (; n < end; n++)
    if (n->type == OFT_JSON_STRING) bytes += n->n;
  return bytes;
}

static uint64_t tokens_of(uint64_t bytes) { return (bytes + 3) / 4; }

/* Counts a content string; returns the special token it holds, if any. */
static const char *text(V *v, const oft_json_node *s, uint64_t *bytes) {
  size_t len;
  const char *p = str(v, s, &len);
  *bytes += len;
  v->stats.characters += count_chars(p, len);
  return special_token(p, len);
}

#define SPECIAL_MSG "content holds the special token %s (the API fails the job on it)"

/* ---- tool call ids of the current example --------------------------------- */

static int ids_push(V *v, const char *s, size_t len) {
  oft_jsonl_ids *ids = &v->ids;
  if (ids->n == ids->cap) {
    size_t ncap = ids->cap ? ids->cap * 2 : 16;
    const char **np = (const char **)v->doc.alloc(v->doc.alloc_ud, (void *)ids->ptr,
                                                  ids->cap * sizeof *ids->ptr, ncap * sizeof *ids->ptr);
    size_t *nl;
    if (np == NULL) return 0;
    ids->ptr = np;
    nl = (size_t *)v->doc.alloc(v->doc.alloc_ud, ids->len, ids->cap * sizeof *ids->len,
                                ncap * sizeof *ids->len);
    if (nl == NULL) return 0; /* ptr grew, len did not: cap stays, still consistent */
    ids->len = nl;
    ids->cap = ncap;
  }
  ids->ptr[ids->n] = s;
  ids->len[ids->n] = len;
  ids->n++;
  return 1;
}

static int ids_has(const V *v, const char *s, size_t len) {
  size_t i;
  for (i = 0; i < v->ids.n; i++)
    if (v->ids.len[i] == len && memcmp(v->ids.ptr[i], s, len) == 0) return 1;
  return 0;
}

/* ---- tools / functions definitions ----------------------------------------- */

/* A function definition at <list>[i]<sub> (tools[0].function, functions[3]). */
typedef struct defpos {
  const char *list;
  uint32_t i;
  const char *sub;
} defpos;

#define DEF_AT(d, leaf) AT(NULL, "%s[%u]%s%s", (d)->list, (unsigned)(d)->i, (d)->sub, (leaf))

static void check_function_def(V *v, const oft_json_node *fn, const defpos *d) {
  char path[PATH_SIZE];
  const oft_json_node *name = oft_json_get(&v->doc, fn, "name", 4);
  const oft_json_node *desc = oft_json_get(&v->doc, fn, "description", 11);
  const oft_json_node *params = oft_json_get(&v->doc, fn, "parameters", 10);
  const oft_json_node *strict = oft_json_get(&v->doc, fn, "strict", 6);
  if (name == NULL || name->type != OFT_JSON_STRING) {
    ERROR(v, DEF_AT(d, ".name"), "function name must be a string, got %s", type_name(name));
  } else {
    size_t len;
    const char *s = str(v, name, &len);
    char q[64];
    if (!valid_function_name(s, len))
      ERROR(v, DEF_AT(d, ".name"), "function name '%s' must be 1 to 64 of a-z, A-Z, 0-9, '_' and '-'",
            quote(q, s, len));
  }
  if (desc != NULL && desc->type != OFT_JSON_STRING)
    ERROR(v, DEF_AT(d, ".description"), "description must be a string, got %s", type_name(desc));
  if (params != NULL && params->type != OFT_JSON_OBJECT)
    ERROR(v, DEF_AT(d, ".parameters"), "parameters must be a JSON Schema object, got %s",
          type_name(params));
  if (strict != NULL && strict->type != OFT_JSON_TRUE && strict->type != OFT_JSON_FALSE &&
      strict->type != OFT_JSON_NULL)
    ERROR(v, DEF_AT(d, ".strict"), "strict must be a boolean, got %s", type_name(strict));
}

static void check_tools(V *v, const oft_json_node *tools, const char *name) {
  char path[PATH_SIZE];
  const oft_json_node *t;
  defpos d;
  if (tools->type != OFT_JSON_ARRAY) {
    ERROR(v, name, "%s must be an array of tool definitions, got %s", name, type_name(tools));
    return;
  }
  v->ex_tools = tools;
  v->ex_tokens += tokens_of(subtree_string_bytes(tools));
  d.list = name;
  d.sub = ".function";
  for (d.i = 0, t = oft_json_first(tools); d.i < tools->n; d.i++, t = oft_json_next(t)) {
    const oft_json_node *type, *fn;
    if (t->type != OFT_JSON_OBJECT) {
      ERROR(v, AT(NULL, "%s[%u]", name, (unsigned)d.i), "a tool must be an object, got %s", type_name(t));
      continue;
    }
    type = oft_json_get(&v->doc, t, "type", 4);
    fn = oft_json_get(&v->doc, t, "function", 8);
    if (!STR_IS(v, type, "function"))
      ERROR(v, AT(NULL, "%s[%u].type", name, (unsigned)d.i), "tool type must be \"function\"");
    if (fn == NULL || fn->type != OFT_JSON_OBJECT) {
      ERROR(v, DEF_AT(&d, ""), "a tool needs a function object {name, description, parameters}, got %s",
            type_name(fn));
      continue;
    }
    check_function_def(v, fn, &d);
  }
}

static void check_functions(V *v, const oft_json_node *fns) {
  char path[PATH_SIZE];
  const oft_json_node *f;
  defpos d;
  if (fns->type != OFT_JSON_ARRAY || fns->n < 1 || fns->n > 128) {
    ERROR(v, "functions", "functions must be an array of 1 to 128 function definitions");
    if (fns->type != OFT_JSON_ARRAY) return;
  }
  v->ex_tokens += tokens_of(subtree_string_bytes(fns));
  d.list = "functions";
  d.sub = "";
  for (d.i = 0, f = oft_json_first(fns); d.i < fns->n; d.i++, f = oft_json_next(f)) {
    if (f->type != OFT_JSON_OBJECT) {
      ERROR(v, DEF_AT(&d, ""), "a function must be an object, got %s", type_name(f));
      continue;
    }
    check_function_def(v, f, &d);
  }
}

/* Is `name` one of the example's tools? (1 when there are none to compare.) */
static int tool_known(const V *v, const char *name, size_t len) {
  const oft_json_node *t;
  uint32_t i;
  if (v->ex_tools == NULL) return 1;
  for (i = 0, t = oft_json_first(v->ex_tools); i < v->ex_tools->n; i++, t = oft_json_next(t)) {
    const oft_json_node *fn = oft_json_get(&v->doc, t, "function", 8);
    const oft_json_node *n = oft_json_get(&v->doc, fn, "name", 4);
    if (n != NULL && n->type == OFT_JSON_STRING && key_is(v, n, name, len)) return 1;
  }
  return 0;
}

/* ---- assistant tool calls --------------------------------------------------- */

/* Where a call's function object is inside message w: .tool_calls[i].function
 * or .function_call (i == NO_INDEX). */
#define NO_INDEX UINT32_MAX
#define CALL_AT(i, leaf)                                                                \
  ((i) == NO_INDEX ? AT(w, ".function_call%s", (leaf))                                 \
                   : AT(w, ".tool_calls[%u].function%s", (unsigned)(i), (leaf)))

/* function.arguments: a string holding JSON (an object, for a function). */
static void check_arguments(V *v, const oft_json_node *args, const where *w, uint32_t i,
                            uint64_t *bytes) {
  char path[PATH_SIZE];
  size_t len;
  const char *s;
  if (args == NULL || args->type != OFT_JSON_STRING) {
    ERROR(v, CALL_AT(i, ".arguments"),
          "arguments must be a string holding JSON (e.g. \"{\\\"x\\\": 1}\"), got %s", type_name(args));
    return;
  }
  s = str(v, args, &len);
  *bytes += len;
  if (oft_json_parse(&v->args_doc, s, len) != OFT_JSON_OK) {
    ERROR(v, CALL_AT(i, ".arguments"), "arguments is not valid JSON: %s", oft_json_error(&v->args_doc));
  } else if (oft_json_root(&v->args_doc)->type != OFT_JSON_OBJECT) {
    WARN(v, CALL_AT(i, ".arguments"), "arguments should hold a JSON object, got %s",
         type_name(oft_json_root(&v->args_doc)));
  }
}

static void check_call_name(V *v, const oft_json_node *name, const where *w, uint32_t i,
                            uint64_t *bytes) {
  char path[PATH_SIZE], q[64];
  size_t len;
  const char *s;
  if (name == NULL || name->type != OFT_JSON_STRING) {
    ERROR(v, CALL_AT(i, ".name"), "function name must be a string, got %s", type_name(name));
    return;
  }
  s = str(v, name, &len);
  *bytes += len;
  if (!valid_function_name(s, len))
    ERROR(v, CALL_AT(i, ".name"), "function name '%s' must be 1 to 64 of a-z, A-Z, 0-9, '_' and '-'",
          quote(q, s, len));
  else if (!tool_known(v, s, len))
    WARN(v, CALL_AT(i, ".name"), "calls '%s', which is not among this example's tools", quote(q, s, len));
}

static void check_tool_calls(V *v, const oft_json_node *calls, const where *w, uint64_t *bytes) {
  char path[PATH_SIZE], q[64];
  const oft_json_node *c;
  uint32_t i;
  if (calls->type != OFT_JSON_ARRAY || calls->n == 0) {
    ERROR(v, AT(w, ".tool_calls"), "tool_calls must be a non-empty array, got %s",
          calls->type == OFT_JSON_ARRAY ? "an empty one" : type_name(calls));
    return;
  }
  for (i = 0, c = oft_json_first(calls); i < calls->n; i++, c = oft_json_next(c)) {
    const oft_json_node *id, *type, *fn;
    v->stats.tool_calls++;
    if (c->type != OFT_JSON_OBJECT) {
      ERROR(v, AT(w, ".tool_calls[%u]", (unsigned)i), "a tool call must be an object, got %s",
            type_name(c));
      continue;
    }
    id = oft_json_get(&v->doc, c, "id", 2);
    type = oft_json_get(&v->doc, c, "type", 4);
    fn = oft_json_get(&v->doc, c, "function", 8);
    if (id == NULL || id->type != OFT_JSON_STRING || id->n == 0) {
      ERROR(v, AT(w, ".tool_calls[%u].id", (unsigned)i), "a tool call needs a non-empty string id");
    } else {
      size_t len;
      const char *s = str(v, id, &len);
      *bytes += len;
      if (ids_has(v, s, len))
        ERROR(v, AT(w, ".tool_calls[%u].id", (unsigned)i), "tool call id '%s' is used twice",
              quote(q, s, len));
      else if (!ids_push(v, s, len))
        ERROR(v, AT(w, ".tool_calls[%u].id", (unsigned)i), "out of memory");
    }
    if (!STR_IS(v, type, "function"))
      ERROR(v, AT(w, ".tool_calls[%u].type", (unsigned)i), "tool call type must be \"function\"");
    if (fn == NULL || fn->type != OFT_JSON_OBJECT) {
      ERROR(v, CALL_AT(i, ""), "a tool call needs a function object {name, arguments}, got %s",
            type_name(fn));
      continue;
    }
    check_call_name(v, oft_json_get(&v->doc, fn, "name", 4), w, i, bytes);
    check_arguments(v, oft_json_get(&v->doc, fn, "arguments", 9), w, i, bytes);
  }
}

static void check_function_call(V *v, const oft_json_node *fc, const where *w, uint64_t *bytes) {
  char path[PATH_SIZE];
  if (fc->type != OFT_JSON_OBJECT) {
    ERROR(v, AT(w, ".function_call"), "function_call must be an object {name, arguments}, got %s",
          type_name(fc));
    return;
  }
  check_call_name(v, oft_json_get(&v->doc, fc, "name", 4), w, NO_INDEX, bytes);
  check_arguments(v, oft_json_get(&v->doc, fc, "arguments", 9), w, NO_INDEX, bytes);
}

/* ---- content ------------------------------------------------------------------ */

static int has_prefix(const char *s, size_t len, const char *lit) {
  size_t n = strlen(lit);
  return len >= n && memcmp(s, lit, n) == 0;
}

static void check_image(V *v, const oft_json_node *part, const where *w, uint32_t j) {
  char path[PATH_SIZE], q[64];
  const oft_json_node *img = oft_json_get(&v->doc, part, "image_url", 9);
  const oft_json_node *url, *detail;
  size_t len;
  const char *s;
  int low = 0;
  v->ex_images++;
  v->stats.images++;
  if (img == NULL || img->type != OFT_JSON_OBJECT) {
    ERROR(v, AT(w, ".content[%u].image_url", j), "image_url must be an object {url, detail}, got %s",
          type_name(img));
    v->ex_tokens += OFT_JSONL_TOKENS_IMAGE_HIGH;
    return;
  }
  url = oft_json_get(&v->doc, img, "url", 3);
  detail = oft_json_get(&v->doc, img, "detail", 6);
  if (detail != NULL) {
    if (STR_IS(v, detail, "low")) low = 1;
    else if (!STR_IS(v, detail, "high") && !STR_IS(v, detail, "auto"))
      ERROR(v, AT(w, ".content[%u].image_url.detail", j), "detail must be \"auto\", \"low\" or \"high\"");
  }
  v->ex_tokens += low ? OFT_JSONL_TOKENS_IMAGE_LOW : OFT_JSONL_TOKENS_IMAGE_HIGH;
  if (url == NULL || url->type != OFT_JSON_STRING) {
    ERROR(v, AT(w, ".content[%u].image_url.url", j), "image url must be a string, got %s",
          type_name(url));
    return;
  }
  s = str(v, url, &len);
  if (has_prefix(s, len, "https://") || has_prefix(s, len, "http://")) return;
  if (has_prefix(s, len, "data:")) {
    const char *comma = memchr(s, ',', len);
    size_t head = comma ? (size_t)(comma - s) : len, data;
    if (!(has_prefix(s, head, "data:image/png;base64") || has_prefix(s, head, "data:image/jpeg;base64") ||
          has_prefix(s, head, "data:image/jpg;base64") || has_prefix(s, head, "data:image/webp;base64")) ||
        comma == NULL) {
      ERROR(v, AT(w, ".content[%u].image_url.url", j),
            "data URL '%s' is not a base64 JPEG, PNG or WEBP image", quote(q, s, head));
      return;
    }
    data = (len - head - 1) / 4 * 3;
    if (data > OFT_JSONL_MAX_IMAGE_BYTES)
      ERROR(v, AT(w, ".content[%u].image_url.url", j), "image is %.1f MB, over the 10 MB limit",
            (double)data / (1024.0 * 1024.0));
    return;
  }
  ERROR(v, AT(w, ".content[%u].image_url.url", j), "image url '%s' must be an https:// or data: URL",
        quote(q, s, len));
}

/* content as an array of parts. */
static void check_parts(V *v, const oft_json_node *parts, enum role role, const where *w,
                        uint64_t *bytes) {
  char path[PATH_SIZE], q[64];
  const oft_json_node *p;
  uint32_t j, refusals = 0;
  if (parts->n == 0) {
    ERROR(v, AT(w, ".content"), "content array is empty");
    return;
  }
  for (j = 0, p = oft_json_first(parts); j < parts->n; j++, p = oft_json_next(p)) {
    const oft_json_node *type;
    size_t len;
    const char *t, *tok;
    if (p->type != OFT_JSON_OBJECT) {
      ERROR(v, AT(w, ".content[%u]", j), "a content part must be an object, got %s", type_name(p));
      continue;
    }
    type = oft_json_get(&v->doc, p, "type", 4);
    if (type == NULL || type->type != OFT_JSON_STRING) {
      ERROR(v, AT(w, ".content[%u].type", j), "a content part needs a string type");
      continue;
    }
    t = str(v, type, &len);
    if (len == 4 && memcmp(t, "text", 4) == 0) {
      const oft_json_node *tx = oft_json_get(&v->doc, p, "text", 4);
      if (tx == NULL || tx->type != OFT_JSON_STRING) {
        ERROR(v, AT(w, ".content[%u].text", j), "a text part needs a string text, got %s",
              type_name(tx));
        continue;
      }
      if ((tok = text(v, tx, bytes)) != NULL) ERROR(v, AT(w, ".content[%u].text", j), SPECIAL_MSG, tok);
    } else if (len == 9 && memcmp(t, "image_url", 9) == 0) {
      if (w->text_only)
        ERROR(v, AT(w, ".content[%u]", j), "DPO data is text-only: image parts are not accepted");
      else if (role != R_USER)
        ERROR(v, AT(w, ".content[%u]", j), "image parts are only accepted in user messages");
      check_image(v, p, w, j);
    } else if (len == 7 && memcmp(t, "refusal", 7) == 0) {
      const oft_json_node *r = oft_json_get(&v->doc, p, "refusal", 7);
      refusals++;
      if (role != R_ASSISTANT)
        ERROR(v, AT(w, ".content[%u]", j), "refusal parts are only accepted in assistant messages");
      if (r == NULL || r->type != OFT_JSON_STRING)
        ERROR(v, AT(w, ".content[%u].refusal", j), "a refusal part needs a string refusal, got %s",
              type_name(r));
      else if ((tok = text(v, r, bytes)) != NULL)
        ERROR(v, AT(w, ".content[%u].refusal", j), SPECIAL_MSG, tok);
    } else if ((len == 11 && memcmp(t, "input_audio", 11) == 0) || (len == 4 && memcmp(t, "file", 4) == 0) ||
               (len == 5 && memcmp(t, "audio", 5) == 0)) {
      ERROR(v, AT(w, ".content[%u].type", j),
            "%s parts are not supported for fine-tuning (text and images only)", quote(q, t, len));
    } else {
      ERROR(v, AT(w, ".content[%u].type", j), "unknown content part type '%s'", quote(q, t, len));
    }
  }
  if (refusals > 0 && parts->n > 1)
    ERROR(v, AT(w, ".content"), "a refusal part must be the only part of an assistant's content");
}

/* ---- one message -------------------------------------------------------------- */

static enum role role_of(const V *v, const oft_json_node *r) {
  size_t len, i;
  const char *s = str(v, r, &len);
  for (i = 0; i < sizeof ROLE_NAMES / sizeof ROLE_NAMES[0]; i++)
    if (strlen(ROLE_NAMES[i]) == len && memcmp(ROLE_NAMES[i], s, len) == 0) return (enum role)i;
  return R_UNKNOWN;
}

/* Is the role accepted by this method? 1 yes, 0 no (reported), -1 warn only. */
static int role_allowed(V *v, enum role role, const oft_json_node *r, const where *w) {
  char path[PATH_SIZE], q[64];
  size_t len;
  const char *s = str(v, r, &len);
  if (v->method == OFT_JSONL_REINFORCEMENT) {
    if (role == R_DEVELOPER || role == R_USER || role == R_ASSISTANT || role == R_TOOL) return 1;
    if (role == R_SYSTEM)
      ERROR(v, AT(w, ".role"), "role 'system' is not accepted in reinforcement data: use 'developer'");
    else
      ERROR(v, AT(w, ".role"), "role '%s' is not accepted in reinforcement data "
            "(developer, user, assistant or tool)", quote(q, s, len));
    return 0;
  }
  if (role == R_DEVELOPER) {
    WARN(v, AT(w, ".role"), "role 'developer' is not documented for %s data: use 'system'",
         oft_jsonl_method_name(v->method));
    return 1;
  }
  if (role == R_UNKNOWN) {
    ERROR(v, AT(w, ".role"), "unknown role '%s' (system, user, assistant, tool or function)",
          quote(q, s, len));
    return 0;
  }
  return 1;
}

/* Checks the message m at w; returns its role (R_UNKNOWN if unusable). */
static enum role check_message(V *v, const oft_json_node *m, const where *w) {
  char path[PATH_SIZE], q[64];
  const oft_json_node *k, *role_n = NULL, *content = NULL, *weight = NULL, *calls = NULL,
                         *fcall = NULL, *refusal = NULL, *call_id = NULL;
  enum role role;
  uint64_t bytes = 0;
  int has_name = 0;
  uint32_t i;

  if (m->type != OFT_JSON_OBJECT) {
    ERROR(v, AT(w, ""), "a message must be an object, got %s", type_name(m));
    return R_UNKNOWN;
  }
  v->stats.messages++;
  role_n = oft_json_get(&v->doc, m, "role", 4);
  if (role_n == NULL || role_n->type != OFT_JSON_STRING) {
    ERROR(v, AT(w, ".role"), role_n == NULL ? "message has no role" : "role must be a string, got %s",
          type_name(role_n));
    v->ex_tokens += OFT_JSONL_TOKENS_PER_MESSAGE;
    return R_UNKNOWN;
  }
  role = role_of(v, role_n);
  bytes += role_n->n;
  if (!role_allowed(v, role, role_n, w) || role == R_UNKNOWN) {
    v->ex_tokens += OFT_JSONL_TOKENS_PER_MESSAGE + tokens_of(bytes);
    return R_UNKNOWN;
  }

  for (i = 0, k = oft_json_first(m); i < m->n; i++, k = oft_json_next(k + 1)) {
    const oft_json_node *val = k + 1;
    size_t klen;
    const char *key = str(v, k, &klen);
    switch (klen) {
      case 4:
        if (memcmp(key, "role", 4) == 0) continue;
        if (memcmp(key, "name", 4) == 0) {
          if (val->type != OFT_JSON_STRING)
            ERROR(v, AT(w, ".name"), "name must be a string, got %s", type_name(val));
          else
            bytes += val->n, has_name = 1;
          continue;
        }
        break;
      case 6:
        if (memcmp(key, "weight", 6) == 0) { weight = val; continue; }
        break;
      case 7:
        if (memcmp(key, "content", 7) == 0) { content = val; continue; }
        if (memcmp(key, "refusal", 7) == 0) { refusal = val; continue; }
        break;
      case 10:
        if (memcmp(key, "tool_calls", 10) == 0) { calls = val; continue; }
        break;
      case 12:
        if (memcmp(key, "tool_call_id", 12) == 0) { call_id = val; continue; }
        break;
      case 13:
        if (memcmp(key, "function_call", 13) == 0) { fcall = val; continue; }
        break;
      default:
        break;
    }
    WARN(v, AT(w, ".%s", quote(q, key, klen)), "unknown key '%s' in a%s %s message",
         quote(q, key, klen), role == R_ASSISTANT ? "n" : "", ROLE_NAMES[role]);
  }

  /* keys that belong to one role only */
  if (weight != NULL) {
    if (role != R_ASSISTANT)
      ERROR(v, AT(w, ".weight"), "weight is only accepted on assistant messages");
    else if (weight->type == OFT_JSON_INT && weight->u.i != 0 && weight->u.i != 1)
      ERROR(v, AT(w, ".weight"), "weight must be 0 or 1, got %lld", (long long)weight->u.i);
    else if (weight->type != OFT_JSON_INT)
      ERROR(v, AT(w, ".weight"), "weight must be the integer 0 or 1, got %s", type_name(weight));
  }
  if (role != R_ASSISTANT) {
    if (!is_null(calls)) ERROR(v, AT(w, ".tool_calls"), "tool_calls is only accepted on assistant messages");
    if (!is_null(fcall))
      ERROR(v, AT(w, ".function_call"), "function_call is only accepted on assistant messages");
    if (refusal != NULL) ERROR(v, AT(w, ".refusal"), "refusal is only accepted on assistant messages");
    calls = fcall = NULL;
  }
  if (call_id != NULL && role != R_TOOL)
    WARN(v, AT(w, ".tool_call_id"), "tool_call_id belongs on tool messages; ignored on a %s message",
         ROLE_NAMES[role]);

  /* content */
  if (is_null(content)) {
    if (role == R_ASSISTANT) {
      if (is_null(calls) && is_null(fcall) && is_null(refusal))
        ERROR(v, AT(w, ".content"), "an assistant message needs content, tool_calls, function_call or refusal");
    } else if (role != R_FUNCTION) {
      ERROR(v, AT(w, ".content"), content == NULL ? "%s message has no content" : "%s message content is null",
            ROLE_NAMES[role]);
    }
  } else if (content->type == OFT_JSON_STRING) {
    const char *tok = text(v, content, &bytes);
    if (tok != NULL) ERROR(v, AT(w, ".content"), SPECIAL_MSG, tok);
  } else if (content->type == OFT_JSON_ARRAY && role != R_FUNCTION) {
    check_parts(v, content, role, w, &bytes);
  } else {
    ERROR(v, AT(w, ".content"), "content must be a string%s, got %s",
          role == R_FUNCTION ? "" : " or an array of content parts", type_name(content));
  }

  switch (role) {
    case R_ASSISTANT:
      v->stats.assistant_messages++;
      v->ex_assistants++;
      if (weight == NULL || weight->type != OFT_JSON_INT || weight->u.i != 0) v->ex_trained++;
      if (!is_null(calls)) check_tool_calls(v, calls, w, &bytes);
      if (!is_null(fcall)) check_function_call(v, fcall, w, &bytes);
      if (!is_null(refusal)) {
        const char *tok;
        if (refusal->type != OFT_JSON_STRING)
          ERROR(v, AT(w, ".refusal"), "refusal must be a string, got %s", type_name(refusal));
        else if ((tok = text(v, refusal, &bytes)) != NULL)
          ERROR(v, AT(w, ".refusal"), SPECIAL_MSG, tok);
      }
      break;
    case R_TOOL:
      if (call_id == NULL || call_id->type != OFT_JSON_STRING) {
        ERROR(v, AT(w, ".tool_call_id"), "a tool message needs a string tool_call_id, got %s",
              type_name(call_id));
      } else {
        size_t len;
        const char *s = str(v, call_id, &len);
        bytes += len;
        if (!ids_has(v, s, len))
          ERROR(v, AT(w, ".tool_call_id"), "tool_call_id '%s' matches no earlier tool call",
                quote(q, s, len));
      }
      break;
    case R_FUNCTION:
      if (!has_name) ERROR(v, AT(w, ".name"), "a function message needs the function's name");
      break;
    default:
      break;
  }
  v->ex_tokens += OFT_JSONL_TOKENS_PER_MESSAGE + tokens_of(bytes) + (uint64_t)has_name;
  return role;
}

/* A messages array (supervised / RFT messages, DPO input.messages). */
static void check_messages(V *v, const oft_json_node *msgs, const char *base, int text_only) {
  char path[PATH_SIZE];
  const oft_json_node *m;
  where w;
  if (msgs->type != OFT_JSON_ARRAY) {
    ERROR(v, base, "%s must be an array of messages, got %s", base, type_name(msgs));
    return;
  }
  if (msgs->n == 0) {
    ERROR(v, AT(NULL, "%s", base), "%s is empty", base);
    return;
  }
  w.base = base;
  w.text_only = text_only;
  for (w.index = 0, m = oft_json_first(msgs); w.index < msgs->n; w.index++, m = oft_json_next(m))
    check_message(v, m, &w);
}

/* ---- one example per method -------------------------------------------------- */

static void check_parallel(V *v, const oft_json_node *p, const char *path) {
  if (p->type != OFT_JSON_TRUE && p->type != OFT_JSON_FALSE)
    ERROR(v, path, "parallel_tool_calls must be a boolean, got %s", type_name(p));
}

static void unknown_top_key(V *v, const char *key, size_t klen) {
  char q[64];
  WARN(v, quote(q, key, klen), "unknown key '%s' (not part of the %s format)", quote(q, key, klen),
       oft_jsonl_method_name(v->method));
}

static void check_supervised(V *v, const oft_json_node *root) {
  const oft_json_node *k, *msgs = NULL, *tools = NULL, *fns = NULL;
  int legacy = 0, dpo = 0;
  uint32_t i;
  for (i = 0, k = oft_json_first(root); i < root->n; i++, k = oft_json_next(k + 1)) {
    const oft_json_node *val = k + 1;
    size_t klen;
    const char *key = str(v, k, &klen);
    if (KEY_IS(v, k, "messages")) msgs = val;
    else if (KEY_IS(v, k, "tools")) tools = val;
    else if (KEY_IS(v, k, "functions")) fns = val;
    else if (KEY_IS(v, k, "parallel_tool_calls")) check_parallel(v, val, "parallel_tool_calls");
    else {
      if (KEY_IS(v, k, "prompt") || KEY_IS(v, k, "completion")) legacy = 1;
      else if (KEY_IS(v, k, "input") || KEY_IS(v, k, "preferred_output")) dpo = 1;
      if (!legacy && !dpo) unknown_top_key(v, key, klen);
    }
  }
  if (tools != NULL) check_tools(v, tools, "tools");
  if (fns != NULL) check_functions(v, fns);
  if (msgs == NULL) {
    if (dpo)
      ERROR(v, "messages", "no messages: this looks like DPO data (validate it with method \"dpo\")");
    else if (legacy)
      ERROR(v, "messages", "no messages: prompt/completion is the legacy format of babbage-002 and "
            "davinci-002; chat models need messages");
    else
      ERROR(v, "messages", "no messages array");
    return;
  }
  check_messages(v, msgs, "messages", 0);
  if (msgs->type == OFT_JSON_ARRAY && msgs->n > 0) {
    if (v->ex_assistants == 0)
      ERROR(v, "messages", "no assistant message: a supervised example needs at least one");
    else if (v->ex_trained == 0)
      WARN(v, "messages", "every assistant message has weight 0: nothing in this example is trained on");
  }
}

static void check_output(V *v, const oft_json_node *out, const char *name) {
  char path[PATH_SIZE];
  where w;
  if (out == NULL) {
    ERROR(v, name, "no %s (an array holding one assistant message)", name);
    return;
  }
  if (out->type != OFT_JSON_ARRAY || out->n != 1) {
    if (out->type == OFT_JSON_ARRAY)
      ERROR(v, name, "%s must hold exactly one assistant message, got %u", name, (unsigned)out->n);
    else
      ERROR(v, name, "%s must be an array holding one assistant message, got %s", name,
            type_name(out));
    return;
  }
  w.base = name;
  w.index = 0;
  w.text_only = 1;
  {
    const oft_json_node *m = oft_json_first(out);
    const oft_json_node *r = m->type == OFT_JSON_OBJECT ? oft_json_get(&v->doc, m, "role", 4) : NULL;
    enum role role = check_message(v, m, &w);
    if (role != R_ASSISTANT && r != NULL && r->type == OFT_JSON_STRING && role != R_UNKNOWN)
      ERROR(v, AT(&w, ".role"), "%s must be an assistant message, got role '%s'", name, ROLE_NAMES[role]);
  }
}

static void check_dpo(V *v, const oft_json_node *root) {
  char q[64];
  const oft_json_node *k, *input = NULL, *pref = NULL, *nonpref = NULL, *msgs = NULL;
  uint32_t i;
  int has_messages = 0;
  for (i = 0, k = oft_json_first(root); i < root->n; i++, k = oft_json_next(k + 1)) {
    size_t klen;
    const char *key = str(v, k, &klen);
    if (KEY_IS(v, k, "input")) input = k + 1;
    else if (KEY_IS(v, k, "preferred_output")) pref = k + 1;
    else if (KEY_IS(v, k, "non_preferred_output")) nonpref = k + 1;
    else if (KEY_IS(v, k, "preferred_completion") || KEY_IS(v, k, "non_preferred_completion"))
      ERROR(v, quote(q, key, klen), "'%s' is an old name: use '%s_output'", quote(q, key, klen),
            KEY_IS(v, k, "preferred_completion") ? "preferred" : "non_preferred");
    else {
      if (KEY_IS(v, k, "messages")) has_messages = 1;
      unknown_top_key(v, key, klen);
    }
  }
  if (input == NULL) {
    ERROR(v, "input", has_messages ? "no input: this looks like supervised data (DPO puts the prompt in "
          "input.messages)" : "no input object (input.messages holds the prompt)");
  } else if (input->type != OFT_JSON_OBJECT) {
    ERROR(v, "input", "input must be an object {messages, tools, parallel_tool_calls}, got %s",
          type_name(input));
  } else {
    for (i = 0, k = oft_json_first(input); i < input->n; i++, k = oft_json_next(k + 1)) {
      size_t klen;
      const char *key = str(v, k, &klen);
      char path[PATH_SIZE];
      if (KEY_IS(v, k, "messages")) msgs = k + 1;
      else if (KEY_IS(v, k, "tools")) check_tools(v, k + 1, "input.tools");
      else if (KEY_IS(v, k, "parallel_tool_calls")) check_parallel(v, k + 1, "input.parallel_tool_calls");
      else
        WARN(v, AT(NULL, "input.%s", quote(q, key, klen)), "unknown key '%s' in input",
             quote(q, key, klen));
    }
    if (msgs == NULL) ERROR(v, "input.messages", "no input.messages array");
    else check_messages(v, msgs, "input.messages", 1);
  }
  check_output(v, pref, "preferred_output");
  check_output(v, nonpref, "non_preferred_output");
}

static void check_reinforcement(V *v, const oft_json_node *root) {
  const oft_json_node *msgs = oft_json_get(&v->doc, root, "messages", 8);
  const oft_json_node *tools = oft_json_get(&v->doc, root, "tools", 5);
  /* every other key is the grader's {{ item.* }} data */
  if (tools != NULL) check_tools(v, tools, "tools");
  if (msgs == NULL) {
    ERROR(v, "messages", "no messages array (reinforcement examples need one)");
    return;
  }
  check_messages(v, msgs, "messages", 0);
}

/* ---- lines and the file ------------------------------------------------------- */

static void end_example(V *v) {
  uint64_t t = v->ex_tokens + OFT_JSONL_TOKENS_PER_EXAMPLE;
  v->stats.estimated_tokens += t;
  v->stats.billed_tokens += t < v->token_limit ? t : v->token_limit;
  if (t > v->stats.max_example_tokens) v->stats.max_example_tokens = t;
  if (t > v->token_limit) {
    v->stats.over_token_limit++;
    WARN(v, "", "about %llu tokens, over the %llu-token limit: the example will be truncated",
         (unsigned long long)t, (unsigned long long)v->token_limit);
  }
  if (v->ex_images > OFT_JSONL_MAX_IMAGES)
    ERROR(v, "", "%llu images, at most %d are accepted per example", (unsigned long long)v->ex_images,
          OFT_JSONL_MAX_IMAGES);
}

static void parse_error(V *v, size_t shift) {
  /* the parser says "<what> at byte N" counted in what it was given; recount
   * from the line's first byte when a BOM was skipped */
  const char *msg = oft_json_error(&v->doc);
  const char *tail = strstr(msg, " at byte ");
  int what = tail ? (int)(tail - msg) : (int)strlen(msg);
  switch (v->doc.status) {
    case OFT_JSON_EDEPTH:
      ERROR(v, "", "invalid JSON: nested deeper than %u levels", v->doc.max_depth);
      break;
    case OFT_JSON_ENOMEM:
    case OFT_JSON_ELIMIT:
      ERROR(v, "", "line too large to check (%.*s)", what, msg);
      break;
    default:
      ERROR(v, "", "invalid JSON: %.*s at byte %llu", what, msg,
            (unsigned long long)(v->doc.err_offset + shift + 1));
  }
}

void oft_jsonl_line(V *v, const char *buf, size_t len) {
  const oft_json_node *root;
  size_t i, shift = 0;
  v->line_no++;
  v->stats.lines++;
  if (v->line_no == 1 && len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
    ERROR(v, "", "the file starts with a UTF-8 byte order mark (BOM): save it as UTF-8 without BOM");
    buf += 3;
    len -= 3;
    shift = 3;
  }
  for (i = 0; i < len; i++)
    if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\r') break;
  if (i == len) {
    ERROR(v, "", "empty line: every line must hold one JSON object");
    return;
  }
  if (oft_json_parse(&v->doc, buf, len) != OFT_JSON_OK) {
    parse_error(v, shift);
    return;
  }
  root = oft_json_root(&v->doc);
  if (root->type != OFT_JSON_OBJECT) {
    ERROR(v, "", "the line is not a JSON object (got %s): every line must hold one example",
          type_name(root));
    return;
  }
  v->stats.examples++;
  v->ex_tokens = v->ex_images = 0;
  v->ex_assistants = v->ex_trained = 0;
  v->ex_tools = NULL;
  v->ids.n = 0;
  switch (v->method) {
    case OFT_JSONL_DPO: check_dpo(v, root); break;
    case OFT_JSONL_REINFORCEMENT: check_reinforcement(v, root); break;
    default: check_supervised(v, root); break;
  }
  end_example(v);
}

void oft_jsonl_finish(V *v) {
  v->line_no = 0; /* file-level problems */
  if (v->stats.examples < v->min_examples)
    ERROR(v, "", "%llu example%s: at least %llu are required", (unsigned long long)v->stats.examples,
          v->stats.examples == 1 ? "" : "s", (unsigned long long)v->min_examples);
  if (v->stats.bytes > OFT_JSONL_FILES_API_MAX_BYTES)
    WARN(v, "", "the file is %.0f MB: the Files API takes at most 512 MB, use the Uploads API "
         "(upload_large_file)", (double)v->stats.bytes / (1024.0 * 1024.0));
  if (v->method == OFT_JSONL_REINFORCEMENT && v->stats.examples > OFT_JSONL_RFT_MAX_EXAMPLES)
    WARN(v, "", "%llu examples: reinforcement training files hold at most %d (validation files 1000)",
         (unsigned long long)v->stats.examples, OFT_JSONL_RFT_MAX_EXAMPLES);
}

void oft_jsonl_init(V *v, oft_jsonl_method method, oft_json_alloc_fn alloc, void *alloc_ud) {
  memset(&v->stats, 0, sizeof v->stats);
  v->method = method;
  v->token_limit = OFT_JSONL_DEFAULT_TOKEN_LIMIT;
  v->min_examples = OFT_JSONL_MIN_EXAMPLES;
  v->max_details = 100;
  v->report = NULL;
  v->report_ud = NULL;
  v->line_no = 0;
  v->ex_tokens = v->ex_images = 0;
  v->ex_assistants = v->ex_trained = 0;
  v->ex_tools = NULL;
  v->ids.ptr = NULL;
  v->ids.len = NULL;
  v->ids.n = v->ids.cap = 0;
  oft_json_init(&v->doc, alloc, alloc_ud);
  oft_json_init(&v->args_doc, alloc, alloc_ud);
}

void oft_jsonl_release(V *v) {
  if (v->ids.ptr != NULL) v->doc.alloc(v->doc.alloc_ud, (void *)v->ids.ptr, v->ids.cap * sizeof *v->ids.ptr, 0);
  if (v->ids.len != NULL) v->doc.alloc(v->doc.alloc_ud, v->ids.len, v->ids.cap * sizeof *v->ids.len, 0);
  v->ids.ptr = NULL;
  v->ids.len = NULL;
  v->ids.n = v->ids.cap = 0;
  oft_json_release(&v->doc);
  oft_json_release(&v->args_doc);
}

const char *oft_jsonl_method_name(oft_jsonl_method method) {
  switch (method) {
    case OFT_JSONL_DPO: return "dpo";
    case OFT_JSONL_REINFORCEMENT: return "reinforcement";
    default: return "supervised";
  }
}
