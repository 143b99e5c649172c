/*
 * jsonl_validate.h: checks fine-tuning training data (JSONL) one line at a
 * time, with no Lua and no I/O: the caller splits the file into lines and
 * feeds them in order (jsonl_stream.h does that for a byte stream, and
 * jsonl_lua.c streams a file through it).
 *
 *   oft_jsonl_validator *v = malloc(sizeof *v);     (about 33 KB: two docs)
 *   oft_jsonl_init(v, OFT_JSONL_SUPERVISED, NULL, NULL);
 *   v->report = on_problem; v->report_ud = ...; v->max_details = 100;
 *   for each line (without its '\n'):  oft_jsonl_line(v, p, len);
 *   oft_jsonl_finish(v);                file-level checks (minimum examples)
 *   ... v->stats ...
 *   oft_jsonl_release(v);
 *
 * The rules are OpenAI's documented per-line formats (the fine-tuning guides,
 * https://platform.openai.com/docs/guides/fine-tuning, and the API reference):
 * supervised chat (with tools, legacy functions, vision parts, weight), DPO
 * (input / preferred_output / non_preferred_output) and reinforcement
 * (messages + any other keys). Every problem is counted; the first
 * `max_details` are passed to `report` with the 1-based line number, a path
 * inside the line (`messages[2].weight`, indices from 0 as in the JSON) and a
 * one-line message. `report` may raise (longjmp): the validator holds no
 * resources a raise could leak beyond what oft_jsonl_release frees.
 *
 * Memory: the two parse arenas grow to the largest line's needs and are
 * reused; nothing grows with the number of lines.
 */
#ifndef OFT_JSONL_VALIDATE_H
#define OFT_JSONL_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "json_parse.h"

typedef enum oft_jsonl_method {
  OFT_JSONL_SUPERVISED = 0,
  OFT_JSONL_DPO,
  OFT_JSONL_REINFORCEMENT
} oft_jsonl_method;

typedef enum oft_jsonl_severity { OFT_JSONL_ERROR = 0, OFT_JSONL_WARNING = 1 } oft_jsonl_severity;

/* line: 1-based, 0 for the file as a whole; path: "" for the whole line. */
typedef void (*oft_jsonl_report_fn)(void *ud, uint64_t line, oft_jsonl_severity severity,
                                    const char *path, const char *message);

/* Documented limits the checks use (the fine-tuning and vision fine-tuning guides). */
#define OFT_JSONL_MIN_EXAMPLES 10
#define OFT_JSONL_MAX_IMAGES 10                      /* per example */
#define OFT_JSONL_MAX_IMAGE_BYTES ((size_t)10 * 1024 * 1024) /* decoded data: URL */
#define OFT_JSONL_RFT_MAX_EXAMPLES 50000
#define OFT_JSONL_DEFAULT_TOKEN_LIMIT 65536
#define OFT_JSONL_FILES_API_MAX_BYTES (512ull * 1024 * 1024) /* larger: the Uploads API */

/*
 * Token estimate (cl100k-like English averages, not exact): per example
 * 3 (reply primer) + for each message 3 + ceil(B / 4), where B is the bytes
 * of the message's string values (role, content text, name, refusal,
 * tool_call_id, tool call ids, names and arguments), + 1 when it has a
 * `name`; + ceil(T / 4) for the example's `tools` / `functions` definitions
 * (T = bytes of every key and string in them); + 85 per image part with
 * detail "low", 765 otherwise (a 1024x1024 image at high detail).
 */
#define OFT_JSONL_TOKENS_PER_MESSAGE 3
#define OFT_JSONL_TOKENS_PER_EXAMPLE 3
#define OFT_JSONL_TOKENS_IMAGE_LOW 85
#define OFT_JSONL_TOKENS_IMAGE_HIGH 765

typedef struct oft_jsonl_stats {
  uint64_t bytes;              /* set by the caller: the file's size (for the 512 MB check) */
  uint64_t lines;              /* every line, empty ones included */
  uint64_t examples;           /* lines holding a JSON object */
  uint64_t messages;           /* every message (DPO: input + outputs) */
  uint64_t assistant_messages;
  uint64_t characters;         /* Unicode characters of message content text */
  uint64_t estimated_tokens;   /* sum over examples (see above) */
  uint64_t billed_tokens;      /* sum of min(token_limit, example tokens) */
  uint64_t max_example_tokens;
  uint64_t over_token_limit;   /* examples above token_limit (truncated) */
  uint64_t images;
  uint64_t tool_calls;
  uint64_t errors, warnings;
} oft_jsonl_stats;

/* Tool call ids seen so far in the current example (for tool_call_id). */
typedef struct oft_jsonl_ids {
  const char **ptr;
  size_t *len;
  size_t n, cap;
} oft_jsonl_ids;

/* Public so it can live in a userdata; set the first block of fields after
 * oft_jsonl_init, read `stats`, leave the rest alone. */
typedef struct oft_jsonl_validator {
  oft_jsonl_method method;
  uint64_t token_limit;  /* default OFT_JSONL_DEFAULT_TOKEN_LIMIT */
  uint64_t min_examples; /* default OFT_JSONL_MIN_EXAMPLES */
  uint64_t max_details;  /* report at most this many problems (default 100) */
  oft_jsonl_report_fn report;
  void *report_ud;

  oft_jsonl_stats stats;

  /* private */
  uint64_t line_no;
  uint64_t ex_tokens, ex_images;
  int ex_assistants, ex_trained; /* assistant messages; those without weight 0 */
  const oft_json_node *ex_tools; /* the example's tools array, if any */
  oft_jsonl_ids ids;
  oft_json_doc doc;      /* the line */
  oft_json_doc args_doc; /* function.arguments strings */
} oft_jsonl_validator;

/* Prepares v; alloc may be NULL for malloc/realloc/free. Never allocates. */
void oft_jsonl_init(oft_jsonl_validator *v, oft_jsonl_method method, oft_json_alloc_fn alloc,
                    void *alloc_ud);

/* Checks the next line: buf[0..len) without its '\n' (a trailing '\r' is
 * fine). Lines are numbered in call order from 1. */
void oft_jsonl_line(oft_jsonl_validator *v, const char *buf, size_t len);

/* File-level checks after the last line (minimum example count, RFT size,
 * stats.bytes over the Files API's 512 MB). */
void oft_jsonl_finish(oft_jsonl_validator *v);

/* Frees the arenas. Idempotent; v can be initialised again. */
void oft_jsonl_release(oft_jsonl_validator *v);

/* "supervised", "dpo", "reinforcement". */
const char *oft_jsonl_method_name(oft_jsonl_method method);

#endif /* OFT_JSONL_VALIDATE_H */
