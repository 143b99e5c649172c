-- Payload checks against the API reference
-- (https://platform.openai.com/docs/api-reference/fine-tuning and /files,
-- /uploads, /graders), run before a request is built when the client has
-- validation = true. Each endpoint row (endpoints.lua) names its payload check
-- (`check`) and declares its query keys (`query`, checked by validate.query);
-- each raises a misuse naming the field.
-- Unknown payload fields pass through: the API grows faster than this table.
-- A field the API has in another place is refused here with that place
-- (create_job's hyperparameters). Query keys are few and listed per operation
-- in the reference, so a key outside them is a typo and is refused.
local check = require("openai.finetunes.api.validate.check")
local graders = require("openai.finetunes.api.validate.graders")
local misuse = require("openai.finetunes.misuse")

local type, pairs, ipairs, tostring, sort = type, pairs, ipairs, tostring, table.sort
local format = string.format
local fail, describe = misuse.fail, misuse.describe
local field = check.field

local validate = {}

validate.FILE_PURPOSES = { "assistants", "batch", "fine-tune", "vision", "user_data", "evals" }
validate.UPLOAD_PURPOSES = { "assistants", "batch", "fine-tune", "vision" }
validate.METHOD_TYPES = { "supervised", "dpo", "reinforcement" }
validate.MAX_PART_BYTES = 64 * 1024 * 1024

-- Queries ------------------------------------------------------------------

-- The query table `q` of endpoint `row`: every key one the row declares (the
-- first unknown one in sorted order is named, with the known ones), then each
-- declared key that is given, in the row's order.
function validate.query(row, q)
  local keys = row.query_keys
  local unknown
  for k in pairs(q) do
    if not keys[k] then
      if unknown == nil then unknown = {} end
      unknown[#unknown + 1] = k
    end
  end
  if unknown then
    sort(unknown, function(a, b) return tostring(a) < tostring(b) end)
    fail(format("unknown query key %s (known keys: %s)", describe(unknown[1]), row.query_names))
  end
  local rules = row.query
  for i = 1, #rules do
    local rule = rules[i]
    local key = rule[1]
    local v = q[key]
    if v ~= nil then rule[2](v, key, rule[3], rule[4]) end
  end
end

-- Files and uploads --------------------------------------------------------

-- The multipart payload of upload_file (file / data themselves are checked by
-- the request builder, with or without validation).
function validate.upload_file(p)
  check.required(p.purpose, "purpose", "one of the file purposes, e.g. \"fine-tune\"")
  check.enum(p.purpose, "purpose", validate.FILE_PURPOSES)
  check.optional(p, "expires_after", "", check.expires_after)
end

-- size: the bytes this part will send (data length or file slice length).
function validate.add_upload_part(_, size)
  if size > validate.MAX_PART_BYTES then
    fail(string.format("a part must be at most %d bytes (64 MB), got %d", validate.MAX_PART_BYTES, size))
  end
end

function validate.create_upload(p)
  check.required(p.filename, "filename", "a string")
  check.string(p.filename, "filename", 1)
  check.required(p.purpose, "purpose", "one of the upload purposes, e.g. \"fine-tune\"")
  check.enum(p.purpose, "purpose", validate.UPLOAD_PURPOSES)
  check.required(p.bytes, "bytes", "the total size as an integer")
  check.integer(p.bytes, "bytes", 0)
  check.required(p.mime_type, "mime_type", "a string such as \"text/jsonl\"")
  check.string(p.mime_type, "mime_type", 1)
  check.optional(p, "expires_after", "", check.expires_after)
end

function validate.complete_upload(p)
  check.required(p.part_ids, "part_ids", "a non-empty array of part ids")
  check.string_list(p.part_ids, "part_ids")
  check.optional(p, "md5", "", check.string)
end

-- Fine-tuning jobs ---------------------------------------------------------

-- The hyperparameters each method takes (their ranges are the checks below).
validate.HYPERPARAMETERS = {
  supervised = { "batch_size", "learning_rate_multiplier", "n_epochs" },
  dpo = { "batch_size", "beta", "learning_rate_multiplier", "n_epochs" },
  reinforcement = { "batch_size", "compute_multiplier", "eval_interval", "eval_samples", "learning_rate_multiplier",
    "n_epochs", "reasoning_effort" },
}

local function common_hyperparameters(h, path)
  check.optional(h, "batch_size", path, check.auto_or_integer, 1, 256)
  check.optional(h, "learning_rate_multiplier", path, check.auto_or_number, 0, nil, true)
  check.optional(h, "n_epochs", path, check.auto_or_integer, 1, 50)
end

local method_hyperparameters = {
  supervised = common_hyperparameters,
  dpo = function(h, path)
    common_hyperparameters(h, path)
    check.optional(h, "beta", path, check.auto_or_number, 0, 2, true)
  end,
  reinforcement = function(h, path)
    common_hyperparameters(h, path)
    check.optional(h, "reasoning_effort", path, check.enum, { "default", "low", "medium", "high" })
    check.optional(h, "compute_multiplier", path, check.auto_or_number, 0.00001, 10, true)
    check.optional(h, "eval_interval", path, check.auto_or_integer, 1)
    check.optional(h, "eval_samples", path, check.auto_or_integer, 1)
  end,
}

local function method(m, path)
  check.object(m, path)
  local tp = field(path, "type")
  check.required(m.type, tp, '"supervised", "dpo" or "reinforcement"')
  check.enum(m.type, tp, validate.METHOD_TYPES)
  for _, other in ipairs(validate.METHOD_TYPES) do
    if other ~= m.type and m[other] ~= nil then
      fail(string.format('%s is given but %s is "%s"', field(path, other), tp, m.type))
    end
  end
  local sub_path = field(path, m.type)
  local sub = m[m.type]
  if m.type == "reinforcement" then
    check.required(sub, sub_path, "a table with a grader")
  end
  if sub == nil then return end
  check.object(sub, sub_path)
  if m.type == "reinforcement" then graders.grader(sub.grader, field(sub_path, "grader")) end
  local h = sub.hyperparameters
  if h ~= nil then
    local hp = field(sub_path, "hyperparameters")
    check.object(h, hp)
    method_hyperparameters[m.type](h, hp)
  end
end

local function integrations(list, path)
  check.array(list, path, nil, 5)
  for i = 1, #list do
    local p = string.format("%s[%d]", path, i)
    local item = list[i]
    check.object(item, p)
    check.required(item.type, p .. ".type", '"wandb"')
    check.enum(item.type, p .. ".type", { "wandb" })
    check.required(item.wandb, p .. ".wandb", "a table with project")
    check.object(item.wandb, p .. ".wandb")
    local w = item.wandb
    check.required(w.project, p .. ".wandb.project", "a string")
    check.string(w.project, p .. ".wandb.project", 1)
    check.nullable(w, "name", p .. ".wandb", check.string)
    check.nullable(w, "entity", p .. ".wandb", check.string)
    if w.tags ~= nil then
      check.array(w.tags, p .. ".wandb.tags")
      for j = 1, #w.tags do check.string(w.tags[j], string.format("%s.wandb.tags[%d]", p, j)) end
    end
  end
end

-- Hyperparameters given at the top level of create_job, where the API has
-- none: where each goes (under the method type given, when it takes it).
local MISPLACED = {
  { "n_epochs", "supervised" }, { "batch_size", "supervised" }, { "learning_rate_multiplier", "supervised" },
  { "beta", "dpo" }, { "reasoning_effort", "reinforcement" }, { "compute_multiplier", "reinforcement" },
  { "eval_interval", "reinforcement" }, { "eval_samples", "reinforcement" },
}

local function misplaced_hyperparameters(p)
  for _, entry in ipairs(MISPLACED) do
    local name, mtype = entry[1], entry[2]
    if p[name] ~= nil then
      local given = type(p.method) == "table" and p.method.type
      if mtype == "supervised" and (given == "dpo" or given == "reinforcement") then mtype = given end
      fail(format("%s is not a top-level field: it goes in method.%s.hyperparameters.%s", name, mtype, name))
    end
  end
end

function validate.create_job(p)
  misplaced_hyperparameters(p)
  check.required(p.model, "model", "a base model name such as \"gpt-4o-mini-2024-07-18\"")
  check.string(p.model, "model", 1)
  check.required(p.training_file, "training_file", "a file id")
  check.string(p.training_file, "training_file", 1)
  check.nullable(p, "validation_file", "", check.string, 1)
  check.nullable(p, "suffix", "", check.string, 1, 64)
  check.nullable(p, "seed", "", check.integer, 0, 2147483647)
  check.optional(p, "method", "", method)
  if p.hyperparameters ~= nil then
    check.object(p.hyperparameters, "hyperparameters")
    common_hyperparameters(p.hyperparameters, "hyperparameters")
  end
  check.nullable(p, "integrations", "", integrations)
  check.optional(p, "metadata", "", check.metadata)
end

-- Checkpoint permissions and graders ----------------------------------------

function validate.create_checkpoint_permissions(p)
  check.required(p.project_ids, "project_ids", "a non-empty array of project ids")
  check.string_list(p.project_ids, "project_ids")
end

function validate.run_grader(p)
  graders.grader(p.grader, "grader")
  check.required(p.model_sample, "model_sample", "a string")
  check.string(p.model_sample, "model_sample")
  check.optional(p, "item", "", check.object)
end

function validate.validate_grader(p)
  graders.grader(p.grader, "grader")
end

-- Webhook endpoints (openai-node 7.59 WebhookCreateParams, WebhookUpdateParams,
-- WebhookRotateSecretParams, WebhookTestParams). Event types are not listed
-- here: the service adds them (webhook_event_types() names them).
function validate.create_webhook_endpoint(p)
  check.required(p.url, "url", "the URL that receives deliveries")
  check.string(p.url, "url", 1)
  check.required(p.name, "name", "a string")
  check.string(p.name, "name", 1)
  check.required(p.event_types, "event_types", "a non-empty array of event types")
  check.string_list(p.event_types, "event_types")
end

function validate.update_webhook_endpoint(p)
  check.optional(p, "url", "", check.string, 1)
  check.optional(p, "name", "", check.string, 1)
  check.optional(p, "event_types", "", check.string_list)
end

function validate.rotate_webhook_secret(p)
  check.optional(p, "keep_old_secret_active_for_24_hours", "", check.boolean)
end

function validate.test_webhook_endpoint(p)
  check.required(p.event_type, "event_type", "an event type, e.g. \"fine_tuning.job.succeeded\"")
  check.string(p.event_type, "event_type", 1)
end

return validate
