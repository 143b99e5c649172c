-- Grader payloads (https://platform.openai.com/docs/api-reference/graders): used by run_grader, validate_grader
-- and method.reinforcement.grader.
local check = require("openai.finetunes.api.validate.check")
local misuse = require("openai.finetunes.misuse")

local type, pairs, format = type, pairs, string.format
local fail, describe = misuse.fail, misuse.describe

local graders = {}

local TOP_LEVEL_TYPES = { "string_check", "text_similarity", "python", "score_model", "multi" }
local INNER_TYPES = { "string_check", "text_similarity", "python", "score_model", "label_model" }
local ROLES = { "user", "assistant", "system", "developer" }
local REASONING_EFFORT = { "none", "minimal", "low", "medium", "high", "xhigh", "max" }
local METRICS = {
  "cosine", "fuzzy_match", "bleu", "gleu", "meteor",
  "rouge_1", "rouge_2", "rouge_3", "rouge_4", "rouge_5", "rouge_l",
}

local function required_string(g, key, path)
  local p = check.field(path, key)
  check.required(g[key], p, "a string")
  check.string(g[key], p)
end

-- EvalItem messages of the model graders.
local function eval_items(v, path)
  check.required(v, path, "an array of messages")
  check.array(v, path, 1)
  for i = 1, #v do
    local p = format("%s[%d]", path, i)
    local item = v[i]
    check.object(item, p)
    check.required(item.role, p .. ".role", "a string")
    check.enum(item.role, p .. ".role", ROLES)
    check.required(item.content, p .. ".content", "a string or content parts")
    if type(item.content) ~= "string" and type(item.content) ~= "table" then
      fail(format("%s.content must be a string or a table, got %s", p, describe(item.content)))
    end
    check.optional(item, "type", p, check.enum, { "message" })
  end
end

local function sampling_params(v, path)
  check.object(v, path)
  check.nullable(v, "seed", path, check.integer)
  check.nullable(v, "top_p", path, check.number, 0, 1)
  check.nullable(v, "temperature", path, check.number, 0)
  check.nullable(v, "max_completions_tokens", path, check.integer, 1)
  check.nullable(v, "reasoning_effort", path, check.enum, REASONING_EFFORT)
end

local by_type = {}

function by_type.string_check(g, path)
  required_string(g, "input", path)
  required_string(g, "reference", path)
  local p = check.field(path, "operation")
  check.required(g.operation, p, '"eq", "ne", "like" or "ilike"')
  check.enum(g.operation, p, { "eq", "ne", "like", "ilike" })
end

function by_type.text_similarity(g, path)
  required_string(g, "input", path)
  required_string(g, "reference", path)
  local p = check.field(path, "evaluation_metric")
  check.required(g.evaluation_metric, p, "a metric name")
  check.enum(g.evaluation_metric, p, METRICS)
end

function by_type.python(g, path)
  required_string(g, "source", path)
  check.optional(g, "image_tag", path, check.string)
end

function by_type.score_model(g, path)
  required_string(g, "model", path)
  eval_items(g.input, check.field(path, "input"))
  check.optional(g, "sampling_params", path, sampling_params)
  local range = g.range
  if range ~= nil then
    local p = check.field(path, "range")
    check.array(range, p, 2, 2)
    for i = 1, 2 do check.number(range[i], format("%s[%d]", p, i)) end
  end
end

function by_type.label_model(g, path)
  required_string(g, "model", path)
  eval_items(g.input, check.field(path, "input"))
  check.required(g.labels, check.field(path, "labels"), "an array of strings")
  check.string_list(g.labels, check.field(path, "labels"))
  check.required(g.passing_labels, check.field(path, "passing_labels"), "an array of strings")
  check.string_list(g.passing_labels, check.field(path, "passing_labels"))
end

local function grader(g, path, types)
  check.required(g, path, "a grader table")
  check.object(g, path)
  local tp = check.field(path, "type")
  check.required(g.type, tp, "the grader type")
  check.enum(g.type, tp, types)
  required_string(g, "name", path)
  by_type[g.type](g, path)
end

-- The spec types multi.graders as one grader; its own example (and callers)
-- use an array or a name -> grader map: accept all three.
function by_type.multi(g, path)
  local p = check.field(path, "graders")
  local inner = g.graders
  check.required(inner, p, "a grader, an array of graders or a table of named graders")
  if type(inner) ~= "table" then
    fail(format("%s must be a grader table, got %s", p, describe(inner)))
  end
  if inner.type ~= nil then
    grader(inner, p, INNER_TYPES)
  elseif check.is_array(inner) then
    for i = 1, #inner do grader(inner[i], format("%s[%d]", p, i), INNER_TYPES) end
  else
    for name, sub in pairs(inner) do grader(sub, check.field(p, tostring(name)), INNER_TYPES) end
  end
  required_string(g, "calculate_output", path)
end

function graders.grader(g, path)
  grader(g, path or "grader", TOP_LEVEL_TYPES)
end

return graders
