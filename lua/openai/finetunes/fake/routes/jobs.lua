-- Fine-tuning jobs API: create, list, retrieve, cancel, pause, resume, events,
-- checkpoints. The simulation itself is in fake/jobs.lua.
local json = require("openai.finetunes.fake.json")
local errors = require("openai.finetunes.fake.errors")
local check = require("openai.finetunes.fake.check")
local catalog = require("openai.finetunes.fake.catalog")
local jobs = require("openai.finetunes.fake.jobs")
local graders = require("openai.finetunes.fake.graders")
local Store = require("openai.finetunes.fake.store")
local util = require("openai.finetunes.fake.util")

local M = {}

local CREATE_KEYS = { "model", "training_file", "validation_file", "suffix", "seed", "method", "hyperparameters",
  "integrations", "metadata" }
local METHODS = { "supervised", "dpo", "reinforcement" }

local function get_job(store, id)
  local job = store.jobs:get(id)
  if not job then
    errors.raise(404, "Could not find fine-tuning job: " .. id, "invalid_request_error", "fine_tuning_job_id",
      "fine_tuning_job_not_found")
  end
  return job
end
M.get_job = get_job

local function check_file(store, id, param)
  local files = require("openai.finetunes.fake.routes.files")
  local f = store.files:get(id)
  if not f then
    errors.raise(400, "invalid " .. param .. ": " .. id, "invalid_request_error", param, "invalid_file_id")
  end
  files.view(store, f) -- let a delayed status move on
  if f.purpose ~= "fine-tune" then
    errors.raise(400, string.format("File %s has purpose '%s'; %s must be uploaded with purpose 'fine-tune'.",
      id, f.purpose, param), "invalid_request_error", param, "invalid_file_purpose")
  end
  if f.status == "error" then
    errors.raise(400, string.format("File %s failed processing and cannot be used for fine-tuning.", id),
      "invalid_request_error", param, "invalid_file_status")
  end
  if f.status ~= "processed" then
    errors.raise(400, string.format("File '%s' is still being processed and is not ready to be used for "
      .. "fine-tuning. Please try again later.", id), "invalid_request_error", param, "file_not_ready")
  end
  return f
end

-- Validate hyperparameters of a method (or the deprecated top-level object).
local function check_hyperparameters(hp, prefix, method_type)
  if hp == nil then return {} end
  if type(hp) ~= "table" or json.is_array(hp) then
    errors.invalid_type(prefix, "an object", check.type_name(hp))
  end
  local allowed = { "batch_size", "learning_rate_multiplier", "n_epochs" }
  if method_type == "dpo" then allowed[#allowed + 1] = "beta" end
  if method_type == "reinforcement" then
    for _, k in ipairs({ "reasoning_effort", "compute_multiplier", "eval_interval", "eval_samples" }) do
      allowed[#allowed + 1] = k
    end
  end
  check.only(hp, allowed, prefix .. ".")
  check.auto_number(hp.batch_size, prefix .. ".batch_size", 1, 256, true)
  check.auto_number(hp.n_epochs, prefix .. ".n_epochs", 1, 50, true)
  check.auto_number(hp.learning_rate_multiplier, prefix .. ".learning_rate_multiplier", 0, nil, false, true)
  if method_type == "dpo" then
    check.auto_number(hp.beta, prefix .. ".beta", 0, 2, false, true)
  elseif method_type == "reinforcement" then
    if hp.reasoning_effort ~= nil then
      check.enum(hp, "reasoning_effort", { "default", "low", "medium", "high" }, false,
        prefix .. ".reasoning_effort")
    end
    check.auto_number(hp.compute_multiplier, prefix .. ".compute_multiplier", 0.00001, 10, false, true)
    check.auto_number(hp.eval_interval, prefix .. ".eval_interval", 1, nil, true)
    check.auto_number(hp.eval_samples, prefix .. ".eval_samples", 1, nil, true)
  end
  local out = {}
  for k, v in pairs(hp) do out[k] = v end
  return out
end

local function check_method(m)
  if type(m) ~= "table" or json.is_array(m) then
    errors.invalid_type("method", "an object", check.type_name(m))
  end
  check.only(m, { "type", "supervised", "dpo", "reinforcement" }, "method.")
  local t = check.enum(m, "type", METHODS, true, "method.type")
  for _, other in ipairs(METHODS) do
    if other ~= t and m[other] ~= nil then
      errors.raise(400, string.format("Invalid 'method': '%s' given for method type '%s'.", other, t),
        "invalid_request_error", "method." .. other, "invalid_value")
    end
  end
  local section = m[t]
  if section ~= nil and (type(section) ~= "table" or json.is_array(section)) then
    errors.invalid_type("method." .. t, "an object", check.type_name(section))
  end
  section = section or {}
  local hp
  if t == "reinforcement" then
    check.only(section, { "grader", "hyperparameters", "response_format" }, "method.reinforcement.")
    if section.grader == nil then errors.missing("method.reinforcement.grader") end
    graders.validate(section.grader, "method.reinforcement.grader")
  else
    check.only(section, { "hyperparameters" }, "method." .. t .. ".")
  end
  hp = check_hyperparameters(section.hyperparameters, "method." .. t .. ".hyperparameters", t)
  local echo = { type = t }
  local copy = {}
  for k, v in pairs(section) do copy[k] = v end
  echo[t] = copy
  return t, hp, echo
end

local function check_integrations(list)
  if list == nil or list == json.null then return nil end
  if type(list) ~= "table" or (not json.is_array(list) and next(list) ~= nil) then
    errors.invalid_type("integrations", "an array", check.type_name(list))
  end
  if #list > 5 then
    errors.raise(400, "Invalid 'integrations': array too long. Expected an array with maximum length 5, but got an "
      .. "array with length " .. #list .. " instead.", "invalid_request_error", "integrations",
      "array_above_max_length")
  end
  for i, item in ipairs(list) do
    local p = "integrations[" .. (i - 1) .. "]"
    if type(item) ~= "table" or json.is_array(item) then errors.invalid_type(p, "an object", check.type_name(item)) end
    check.enum(item, "type", { "wandb" }, true, p .. ".type")
    local w = check.object(item, "wandb", true, p .. ".wandb")
    check.string(w, "project", true, p .. ".wandb.project")
    check.string(w, "name", false, p .. ".wandb.name")
    check.string(w, "entity", false, p .. ".wandb.entity")
    check.array(w, "tags", false, p .. ".wandb.tags")
  end
  return list
end

function M.check_metadata(md)
  if md == nil or md == json.null then return nil end
  if type(md) ~= "table" or json.is_array(md) then errors.invalid_type("metadata", "an object", check.type_name(md)) end
  local n = 0
  for k, v in pairs(md) do
    n = n + 1
    if util.chars(k) > 64 then
      errors.raise(400, "Invalid 'metadata': keys can be at most 64 characters long (got '" .. k .. "').",
        "invalid_request_error", "metadata", "invalid_value")
    end
    if type(v) ~= "string" then
      errors.invalid_type("metadata." .. k, "a string", check.type_name(v))
    end
    if util.chars(v) > 512 then
      errors.raise(400, "Invalid 'metadata." .. k .. "': string too long. Expected a string with maximum length 512.",
        "invalid_request_error", "metadata." .. k, "string_above_max_length")
    end
  end
  if n > 16 then
    errors.raise(400, "Invalid 'metadata': too many properties. Expected an object with at most 16 properties, "
      .. "but got " .. n .. " instead.", "invalid_request_error", "metadata", "object_above_max_properties")
  end
  return md
end

-- The base model a job fine-tunes: a catalog model, or one of our fine-tuned models.
local function resolve_model(store, id, method_type)
  local base = catalog.base(id)
  if base then
    local methods = catalog.methods(id)
    if not methods[method_type] then
      errors.raise(400, string.format("Model %s does not support the '%s' fine-tuning method.", id, method_type),
        "invalid_request_error", "model", "model_not_available")
    end
    return catalog.snapshot(id), catalog.legacy_completion_models[id] or false
  end
  local m = store.models:get(id)
  if m and m._snapshot then
    return m._snapshot, false
  end
  errors.raise(400, string.format("Model %s is not available for fine-tuning or does not exist.", id),
    "invalid_request_error", "model", "model_not_available")
end

local function plan_from_metadata(md)
  if not md then return {} end
  local body = {}
  if md.fake_outcome then body.outcome = md.fake_outcome end
  if md.fake_steps then body.steps = md.fake_steps end
  if md.fake_fail_at_step then body.fail_at_step = md.fake_fail_at_step end
  local plan, err = jobs.check_plan(body)
  if not plan then
    errors.raise(400, "Invalid fake_* metadata: " .. err, "invalid_request_error", "metadata", "invalid_value")
  end
  return plan
end

-- What OpenAI answers an organisation its 2026 wind-down of self-serve fine-tuning
-- excludes (see OpenAI's deprecations page), before it looks at the request.
M.TRAINING_NOT_AVAILABLE = "OpenAI is winding down the fine-tuning platform and your organization is no longer "
  .. "able to create new fine-tuning training jobs."

-- The organisation's limit on active jobs (POST /_fake/job_limit): a create beyond it
-- is refused with a 429 and creates nothing. The API does not document this refusal's
-- exact body; the wording follows its per-day limit refusal ("This fine-tune request
-- has been rate-limited. Your organization has reached the maximum of ...").
local function check_active_limit(store)
  local max = store.job_limit
  if not max then return end
  local active = 0
  for _, job in ipairs(store.jobs.list) do
    jobs.advance(store, job)
    if not jobs.FINAL[job.status] then active = active + 1 end
  end
  if active >= max then
    errors.raise(429, string.format("This fine-tune request has been rate-limited. Your organization has reached "
      .. "the maximum of %d active fine-tuning jobs. Please wait for one of them to finish and try again.", max),
      "invalid_request_error", nil, "rate_limit_exceeded")
  end
end

local function create(ctx)
  local store = ctx.store
  if ctx.server.training_unavailable then
    errors.raise(403, M.TRAINING_NOT_AVAILABLE, "invalid_request_error", nil, "training_not_available")
  end
  -- A repeated Idempotency-Key answers with the job the first request created.
  local key = ctx.req.headers["idempotency-key"]
  local earlier = key and store.idempotent_jobs[key] and store.jobs:get(store.idempotent_jobs[key])
  if earlier then return { status = 200, body = jobs.view(store, earlier) } end
  check_active_limit(store)
  local b = check.body(ctx)
  check.only(b, CREATE_KEYS)
  local model = check.string(b, "model", true)
  local training_id = check.string(b, "training_file", true)
  local validation_id = check.string(b, "validation_file", false)
  local suffix = check.string(b, "suffix", false)
  if suffix and suffix == "" then
    errors.raise(400, "Invalid 'suffix': string too short. Expected a string with minimum length 1, but got an empty "
      .. "string instead.", "invalid_request_error", "suffix", "string_below_min_length")
  end
  if suffix and util.chars(suffix) > 64 then
    errors.raise(400, "Invalid 'suffix': string too long. Expected a string with maximum length 64, but got a string "
      .. "with length " .. util.chars(suffix) .. " instead.", "invalid_request_error", "suffix",
      "string_above_max_length")
  end
  local seed = check.integer(b, "seed", false, 0, 2147483647)
  local method_type, hp, method_echo = "supervised"
  if b.method ~= nil and b.method ~= json.null then
    method_type, hp, method_echo = check_method(b.method)
    if b.hyperparameters ~= nil and b.hyperparameters ~= json.null then
      errors.raise(400, "Specifying both 'hyperparameters' and 'method' is not supported. Use "
        .. "'method.<type>.hyperparameters' instead.", "invalid_request_error", "hyperparameters", "invalid_value")
    end
  else
    hp = check_hyperparameters(b.hyperparameters, "hyperparameters", "supervised")
    method_echo = { type = "supervised", supervised = {} }
  end
  local integrations = check_integrations(b.integrations)
  local metadata = M.check_metadata(b.metadata)
  local snapshot, legacy = resolve_model(store, model, method_type)
  local training = check_file(store, training_id, "training_file")
  local validation = validation_id and check_file(store, validation_id, "validation_file") or nil
  if method_type == "reinforcement" and not validation then
    errors.raise(400, "Reinforcement fine-tuning requires a validation_file.", "invalid_request_error",
      "validation_file", "missing_required_parameter")
  end

  local plan = plan_from_metadata(metadata)
  if store.next_job then
    for k, v in pairs(store.next_job) do plan[k] = v end
    store.next_job = nil
  end
  local job = jobs.create(ctx.server, {
    model = catalog.base(model) and catalog.snapshot(model) or model, snapshot = snapshot, legacy = legacy,
    training = training, validation = validation, suffix = suffix,
    seed = seed or math.random(0, 2147483647), method = method_echo, hyperparameters = hp,
    integrations = integrations, metadata = metadata, plan = plan,
  })
  if key then store.idempotent_jobs[key] = job.id end
  return { status = 200, body = jobs.view(store, job) }
end

local function metadata_filter(query)
  local filter, none = nil, false
  for k, v in pairs(query) do
    local key = k:match("^metadata%[(.+)%]$")
    if key then
      filter = filter or {}
      filter[key] = v
    elseif k == "metadata" and v == "null" then
      none = true
    end
  end
  return filter, none
end

local function list(ctx)
  local store = ctx.store
  local filter, none = metadata_filter(ctx.query)
  local items = {}
  for _, job in ipairs(store.jobs.list) do
    local md = job.metadata ~= json.null and job.metadata or nil
    local keep = true
    if none then keep = md == nil or next(md) == nil end
    if keep and filter then
      for k, v in pairs(filter) do
        if not md or md[k] ~= v then keep = false break end
      end
    end
    if keep then items[#items + 1] = job end
  end
  return { status = 200, body = Store.page(store.jobs, items, ctx.query, {
    default_limit = 20, max_limit = 100, view = function(j) return jobs.view(store, j) end,
  }) }
end

local function retrieve(ctx)
  return { status = 200, body = jobs.view(ctx.store, get_job(ctx.store, ctx.params.fine_tuning_job_id)) }
end

local function state_error(job, action, allowed)
  errors.raise(400, string.format("Job %s cannot be %s because its status is '%s'%s.", job.id, action, job.status,
    allowed and ("; only " .. allowed .. " jobs can be " .. action) or ""), "invalid_request_error", nil,
    "invalid_job_status")
end

-- A job brought up to date with the clock.
local function current_job(ctx)
  local job = get_job(ctx.store, ctx.params.fine_tuning_job_id)
  jobs.advance(ctx.store, job)
  return job
end

-- transition(action, allowed, verb, from): a handler that applies jobs[action] when the
-- job's status allows it (allowed(status)), else answers the API's 400.
local function transition(action, allowed, verb, from)
  return function(ctx)
    local job = current_job(ctx)
    if not allowed(job.status) then state_error(job, verb, from) end
    jobs[action](ctx.store, job)
    return { status = 200, body = jobs.view(ctx.store, job) }
  end
end

local cancel = transition("cancel", function(s) return not jobs.FINAL[s] end, "cancelled")
local pause = transition("pause", function(s) return s == "running" end, "paused", "running")
local resume = transition("resume", function(s) return s == "paused" end, "resumed", "paused")

local function events(ctx)
  local job = current_job(ctx)
  return { status = 200, body = Store.page(job._events, job._events.list, ctx.query, {
    default_limit = 20, max_limit = 100,
  }) }
end

local function checkpoints(ctx)
  local job = current_job(ctx)
  return { status = 200, body = Store.page(job._checkpoints, job._checkpoints.list, ctx.query, {
    default_limit = 10, max_limit = 100, ids = true,
  }) }
end

function M.register(router)
  router:add("POST", "/fine_tuning/jobs", create)
  router:add("GET", "/fine_tuning/jobs", list)
  router:add("GET", "/fine_tuning/jobs/{fine_tuning_job_id}", retrieve)
  router:add("POST", "/fine_tuning/jobs/{fine_tuning_job_id}/cancel", cancel)
  router:add("POST", "/fine_tuning/jobs/{fine_tuning_job_id}/pause", pause)
  router:add("POST", "/fine_tuning/jobs/{fine_tuning_job_id}/resume", resume)
  router:add("GET", "/fine_tuning/jobs/{fine_tuning_job_id}/events", events)
  router:add("GET", "/fine_tuning/jobs/{fine_tuning_job_id}/checkpoints", checkpoints)
end

return M
