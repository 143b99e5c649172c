-- Payload checks against the spec (api-contract.md §3-§4), run before a
-- request is built when the client has validation = true. One function per
-- operation, keyed by method name; each raises a misuse naming the field.
-- Unknown fields pass through: the API grows faster than this table.
local check = require("openai.finetunes.api.validate.check")
local graders = require("openai.finetunes.api.validate.graders")
local fail = require("openai.finetunes.misuse").fail

local field = check.field

local validate = {}

validate.FILE_PURPOSES = { "assistants", "batch", "fine-tune", "vision", "user_data", "evals" }
validate.UPLOAD_PURPOSES = { "assistants", "batch", "fine-tune", "vision" }
validate.METHOD_TYPES = { "supervised", "dpo", "reinforcement" }
validate.MAX_PART_BYTES = 64 * 1024 * 1024

-- Queries ------------------------------------------------------------------

local function cursor_query(q, max_limit)
  check.optional(q, "after", "", check.string, 1)
  check.optional(q, "limit", "", check.integer, 1, max_limit)
end

function validate.files(q)
  cursor_query(q, 10000)
  check.optional(q, "purpose", "", check.string)
  check.optional(q, "order", "", check.enum, { "asc", "desc" })
end

function validate.jobs(q)
  cursor_query(q)
  check.optional(q, "metadata", "", check.metadata)
end

validate.job_events = cursor_query
validate.job_checkpoints = cursor_query

function validate.checkpoint_permissions(q)
  cursor_query(q)
  check.optional(q, "project_id", "", check.string, 1)
  check.optional(q, "order", "", check.enum, { "ascending", "descending" })
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

function validate.create_job(p)
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

return validate
