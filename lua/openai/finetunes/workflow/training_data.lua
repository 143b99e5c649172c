-- Training-data checks before upload: ft.validate_training_file(path, opts).
--
--   local report = ft.validate_training_file("train.jsonl", {method = "supervised"})
--   if not report.ok then
--     for _, p in ipairs(report.problems) do
--       print(p.line, p.severity, p.path, p.message)  -- 3  error  messages[1].weight  weight must be 0 or 1, got 2
--     end
--   end
--
-- The file is streamed through the codec (codec.validate_jsonl, src/codec/jsonl_lua.c
-- over jsonl_stream.c and jsonl_validate.c): read in 1 MiB blocks, split into lines
-- in C, every line parsed into one reused arena, so memory stays flat whatever the
-- file size and a 512 MB file takes a few seconds.
--
-- opts (all optional):
--   method        "supervised" (default) | "dpo" | "reinforcement"
--   max_problems  problems kept in report.problems (default 100; every problem is
--                 counted in errors / warnings either way)
--   model         base model: picks token_limit from TOKEN_LIMITS below
--   token_limit   tokens per example above which it is truncated (default 65536)
--   min_examples  default 10 (the API's minimum)
--
-- report = {
--   ok = errors == 0, method = "supervised",
--   bytes, lines (empty ones included), examples (lines holding a JSON object),
--   messages (DPO: input + outputs), assistant_messages, tool_calls, images,
--   characters          Unicode characters of message content text,
--   estimated_tokens    see "Token estimate" below,
--   max_example_tokens, over_token_limit (examples above token_limit), token_limit,
--   billed_tokens_per_epoch   sum over examples of min(token_limit, tokens),
--   estimated_epochs, estimated_billed_tokens   what n_epochs = "auto" would bill
--                       (the cookbook's heuristic, not a documented server rule),
--   errors = n, warnings = n,
--   problems = { {line = 3, path = "messages[1].weight", message = "...",
--                 severity = "error" | "warning"}, ... }   in file order
-- }
-- `line` counts from 1; 0 means the file as a whole (too few examples, too big).
-- `path` points inside the line's JSON, indices from 0 as in the JSON ("" = the line).
--
-- Token estimate (not exact: the real count depends on the model's tokenizer): per
-- example 3 + for each message 3 + ceil(B / 4), B = bytes of the message's strings
-- (role, content text, name, refusal, tool call ids/names/arguments), +1 with a
-- `name`; + ceil(T / 4) for the example's tools/functions definitions (T = bytes of
-- their keys and strings); + 85 per image with detail "low", else 765. That is the
-- cookbook's per-message overhead with cl100k's ~4 bytes per token for English.
--
-- Misuse raises (bad argument naming it), including a path that cannot be opened;
-- a read failure half-way returns nil, err (kind "io").
local codec = require("openai.finetunes.codec")
local errors = require("openai.finetunes.errors")
local misuse = require("openai.finetunes.misuse")

local type, pairs, floor = type, pairs, math.floor
local format = string.format

local M = {}

M.METHODS = { "supervised", "dpo", "reinforcement" }
M.DEFAULT_TOKEN_LIMIT = 65536
M.DEFAULT_MAX_PROBLEMS = 100
M.MIN_EXAMPLES = 10

-- Tokens per training example by base model (fine-tuning guide, late 2024); longer
-- examples are truncated. Models not listed get DEFAULT_TOKEN_LIMIT.
M.TOKEN_LIMITS = {
  ["gpt-4o-2024-08-06"] = 65536,
  ["gpt-4o-mini-2024-07-18"] = 65536,
  ["gpt-3.5-turbo-0125"] = 16385,
  ["gpt-3.5-turbo-1106"] = 16385,
  ["gpt-3.5-turbo-0613"] = 4096,
}

-- The cookbook's estimate of what n_epochs = "auto" picks for n examples.
function M.estimate_epochs(n)
  local epochs = 3
  if n > 0 and n * 3 < 100 then
    epochs = math.min(25, floor(100 / n))
  elseif n * 3 > 25000 then
    epochs = math.max(1, floor(25000 / n))
  end
  return epochs
end

local FNAME = "validate_training_file"

-- Raises at the caller of validate (level: 3 from validate itself, 4 from a helper).
local function bad(argn, message, level)
  misuse.argerror(FNAME, argn, message, level or 3)
end

local function count_opt(opts, key, min)
  local v = opts[key]
  if v == nil then return nil end
  if type(v) ~= "number" or v ~= floor(v) or v < min or v >= 2 ^ 53 then
    bad(2, format("%s must be an integer >= %d, got %s", key, min, misuse.describe(v)), 4)
  end
  return v
end

local KNOWN = { method = true, max_problems = true, model = true, token_limit = true, min_examples = true }

local function is_method(m)
  for _, name in pairs(M.METHODS) do
    if m == name then return true end
  end
  return false
end

-- validate(path, opts) -> report | nil, err   (see the top of this file)
function M.validate(path, opts)
  if type(path) ~= "string" or path == "" then
    bad(1, "path must be a non-empty string, got " .. misuse.describe(path))
  end
  if path:find("%z") then bad(1, "path must not contain NUL") end
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then bad(2, "options must be a table, got " .. type(opts)) end
  for k in pairs(opts) do
    if not KNOWN[k] then bad(2, "unknown option " .. misuse.describe(k)) end
  end
  local method = opts.method
  if method == nil then method = "supervised" end
  if not is_method(method) then
    bad(2, "method must be \"supervised\", \"dpo\" or \"reinforcement\", got " .. misuse.describe(method))
  end
  if opts.model ~= nil and type(opts.model) ~= "string" then
    bad(2, "model must be a string, got " .. misuse.describe(opts.model))
  end
  local max_problems = count_opt(opts, "max_problems", 0) or M.DEFAULT_MAX_PROBLEMS
  local token_limit = count_opt(opts, "token_limit", 1)
    or (opts.model and M.TOKEN_LIMITS[opts.model]) or M.DEFAULT_TOKEN_LIMIT
  local min_examples = count_opt(opts, "min_examples", 0) or M.MIN_EXAMPLES

  local report, msg, stage = codec.validate_jsonl(path, method, max_problems, token_limit, min_examples)
  if not report then
    if stage == "open" then
      bad(1, format("%s cannot be read (%s)", misuse.describe(path), msg:match(": ([^:]*)$") or msg))
    end
    return nil, errors.new{ kind = "io", message = msg }
  end
  report.estimated_epochs = M.estimate_epochs(report.examples)
  report.estimated_billed_tokens = report.estimated_epochs * report.billed_tokens_per_epoch
  return report
end

-- A one-line summary of a report, for logs and the CLI.
function M.summary(report)
  return format("%s: %d examples, %d messages, ~%d tokens, %d error%s, %d warning%s",
    report.ok and "ok" or "invalid", report.examples, report.messages, report.estimated_tokens,
    report.errors, report.errors == 1 and "" or "s", report.warnings, report.warnings == 1 and "" or "s")
end

-- As an extension module (finetunes.lua EXTENSIONS): ft.validate_training_file.
M.functions = { validate_training_file = M.validate }

return M
