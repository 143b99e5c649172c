-- Fine-tuning job simulation on the virtual clock.
--
-- A job holds a small state machine (`_sim`) with the virtual time of its next
-- milestone. Whenever the job is read, advance(store, job) plays every milestone that
-- is due — validation, queueing, each training step (metrics, checkpoints), the end —
-- so progress needs no timers, is deterministic, and jumps with POST /_fake/clock.
local json = require("openai.finetunes.fake.json")
local util = require("openai.finetunes.fake.util")
local training_check = require("openai.finetunes.fake.training_check")
local Store = require("openai.finetunes.fake.store")

local M = {}

M.DEFAULTS = { validate_seconds = 1, queue_seconds = 1, step_seconds = 0.05 }
M.OUTCOMES = { succeeded = true, failed = true, invalid_file = true }

local floor, exp = math.floor, math.exp

-- check_plan(body) -> plan | nil, err   (POST /_fake/next_job, metadata fake_*)
function M.check_plan(body)
  local plan = {}
  if body.outcome ~= nil then
    if not M.OUTCOMES[body.outcome] then
      return nil, "outcome must be one of succeeded, failed, invalid_file"
    end
    plan.outcome = body.outcome
  end
  for _, k in ipairs({ "steps", "step_seconds", "validate_seconds", "queue_seconds", "fail_at_step" }) do
    if body[k] ~= nil then
      local n = tonumber(body[k])
      if not n or n < 0 or (k == "steps" and (n < 1 or floor(n) ~= n)) then
        return nil, k .. " must be a non-negative number" .. (k == "steps" and " (integer >= 1)" or "")
      end
      plan[k] = n
    end
  end
  if body.error ~= nil then
    if type(body.error) ~= "table" then return nil, "error must be an object {code, message}" end
    plan.error = { code = body.error.code, message = body.error.message, param = body.error.param }
  end
  local il = body.interlude
  if il ~= nil then
    if type(il) ~= "table" or type(il.status) ~= "string" or il.status == ""
      or (il.level ~= nil and type(il.level) ~= "string") or (il.seconds ~= nil and not tonumber(il.seconds)) then
      return nil, "interlude must be an object {status = string, level = string, seconds = number}"
    end
    plan.interlude = { status = il.status, level = il.level or "info", seconds = tonumber(il.seconds) or 1 }
  end
  return plan
end

local function round(x, digits)
  return tonumber(string.format("%." .. (digits or 6) .. "g", x))
end

-- Deterministic noise in [0, 1) from the job seed, a step and a salt (one stream per
-- metric): four rounds of x*x + c mod a prime below 2^20 (exact in doubles on every
-- Lua; the squaring makes neighbouring steps unrelated, as batch losses are).
local NOISE_MOD = 1000003
local function noise(seed, step, salt)
  local x = ((seed % NOISE_MOD) * 7919 + step * 104729 + (salt or 0) * 15485863) % NOISE_MOD
  for r = 1, 4 do x = (x * x + 7907 * r + 1) % NOISE_MOD end
  return x / NOISE_MOD
end

-- The shape of a real job's curves: the loss falls from ~2.4 towards ~0.15 (fast
-- early, then flattening), each step's batch loss scattered around that trend by up
-- to ±12 %; the validation loss sits above it (the model fits its training data
-- better than unseen data) with less scatter (a larger sample); token accuracy
-- rises as the loss falls. Seeded by the job's seed: the same job always draws the
-- same curve.
local LOSS_START, LOSS_FLOOR, LOSS_RATE = 2.4, 0.15, 4

local function loss_trend(x)
  return LOSS_FLOOR + (LOSS_START - LOSS_FLOOR) * exp(-LOSS_RATE * x)
end

local function accuracy_of(loss)
  -- 0.45 at the starting loss, 0.95 at the floor
  return 0.95 - 0.5 * (loss - LOSS_FLOOR) / (LOSS_START - LOSS_FLOOR)
end

local function clamp01(v)
  if v > 1 then return 1 end
  if v < 0 then return 0 end
  return v
end

-- Metrics of one step (train; valid when computed; full_valid at epoch ends).
function M.step_metrics(job, step)
  local sim = job._sim
  local total = sim.total_steps
  local seed = sim.seed
  local trend = loss_trend(step / total)
  local loss = trend * (1 + 0.24 * (noise(seed, step, 0) - 0.5))
  local acc = clamp01(accuracy_of(trend) + 0.04 * (noise(seed, step, 1) - 0.5))
  local m = { step = step, total_steps = total, train_loss = round(loss), train_mean_token_accuracy = round(acc) }
  if sim.has_validation then
    -- at least 1.13 x the trend: above every training loss of that step
    local valid_trend = trend * 1.15 + 0.03
    if step % 10 == 0 or step == total then
      m.valid_loss = round(valid_trend * (1 + 0.03 * (noise(seed, step, 2) - 0.5)))
      m.valid_mean_token_accuracy = round(clamp01(accuracy_of(valid_trend) + 0.02 * (noise(seed, step, 3) - 0.5)))
    end
    if step % sim.steps_per_epoch == 0 then
      m.full_valid_loss = round(valid_trend)
      m.full_valid_mean_token_accuracy = round(clamp01(accuracy_of(valid_trend)))
    end
  end
  return m
end

local function metrics_message(m)
  local msg = string.format("Step %d/%d: training loss=%.2f", m.step, m.total_steps, m.train_loss)
  if m.valid_loss then msg = msg .. string.format(", validation loss=%.2f", m.valid_loss) end
  if m.full_valid_loss then msg = msg .. string.format(", full validation loss=%.2f", m.full_valid_loss) end
  return msg
end

-- event(store, job, t, message, opts) appends an event at virtual time t.
function M.event(_, job, t, message, level, etype, data)
  job._events:add({
    id = util.id("ftevent-"), object = "fine_tuning.job.event", created_at = floor(t),
    level = level or "info", message = message, type = etype or "message",
    data = data or {},
  })
end

local function fail(store, job, t, err, message)
  local sim = job._sim
  sim.state = "done"
  sim.next_at = math.huge
  job.status = "failed"
  job.finished_at = floor(t)
  job.estimated_finish = json.null
  job.error = { code = err.code, message = err.message, param = err.param or json.null }
  M.event(store, job, t, message or err.message, "error")
  store.server:job_finished(job)
end

-- Resolve "auto" hyperparameters once the training file is known.
local function resolve(job, check)
  local sim = job._sim
  local hp = sim.hyperparameters
  local n = check.examples
  local batch = hp.batch_size
  if batch == nil or batch == "auto" then
    batch = math.max(1, math.min(256, floor(n * 0.002)))
  end
  local epochs = hp.n_epochs
  if epochs == nil or epochs == "auto" then
    epochs = 3
    if n * 3 < 100 then
      epochs = math.min(25, floor(100 / math.max(n, 1)))
    elseif n * 3 > 25000 then
      epochs = math.max(1, floor(25000 / n))
    end
  end
  local lr = hp.learning_rate_multiplier
  if lr == nil or lr == "auto" then lr = n < 100 and 2 or 1.8 end
  local resolved = { batch_size = batch, n_epochs = epochs, learning_rate_multiplier = lr }
  if sim.method_type == "dpo" then
    resolved.beta = (hp.beta == nil or hp.beta == "auto") and 0.1 or hp.beta
  end
  if sim.method_type == "reinforcement" then
    for _, k in ipairs({ "reasoning_effort", "compute_multiplier", "eval_interval", "eval_samples" }) do
      local v = hp[k]
      if v == nil or v == "auto" then
        v = ({ reasoning_effort = "medium", compute_multiplier = 1, eval_interval = 10, eval_samples = 5 })[k]
      end
      resolved[k] = v
    end
  end
  sim.steps_per_epoch = math.max(1, math.ceil(n / batch))
  sim.total_steps = sim.plan.steps or sim.steps_per_epoch * epochs
  if sim.plan.steps then
    -- a planned step count wins; epochs shrink to fit when it is tiny
    if sim.total_steps < epochs then epochs = sim.total_steps end
    sim.steps_per_epoch = math.max(1, floor(sim.total_steps / epochs))
  end
  sim.n_epochs = epochs
  sim.chars = check.chars or 0
  -- one checkpoint at the end of each of the last 3 epochs
  sim.ckpt_steps = {}
  for e = math.max(1, epochs - 2), epochs do
    sim.ckpt_steps[e == epochs and sim.total_steps or math.min(e * sim.steps_per_epoch, sim.total_steps)] = true
  end
  M.set_hyperparameters(job, resolved)
end

function M.set_hyperparameters(job, hp)
  local t = job._sim.method_type
  local section = job.method[t]
  if type(section) == "table" then
    section.hyperparameters = hp
  end
  if t == "supervised" then
    job.hyperparameters = hp
  end
end

local function checkpoint(store, job, t, step, reason)
  local sim = job._sim
  local name = sim.model_name .. ":ckpt-step-" .. step
  local m = M.step_metrics(job, step)
  local metrics = { step = step, train_loss = m.train_loss, train_mean_token_accuracy = m.train_mean_token_accuracy,
    valid_loss = m.valid_loss, valid_mean_token_accuracy = m.valid_mean_token_accuracy,
    full_valid_loss = m.full_valid_loss, full_valid_mean_token_accuracy = m.full_valid_mean_token_accuracy }
  local ck = job._checkpoints:add({
    id = util.id("ftckpt_", 24), object = "fine_tuning.job.checkpoint", created_at = floor(t),
    fine_tuned_model_checkpoint = name, fine_tuning_job_id = job.id, step_number = step, metrics = metrics,
  })
  store.checkpoints_by_name = store.checkpoints_by_name or {}
  store.checkpoints_by_name[name] = ck
  M.event(store, job, t, string.format("Checkpoint created at step %d with Snapshot ID: %s", step, name), "info",
    "message", reason and { reason = reason } or nil)
end

-- The result file: base64 of the step-metrics CSV (what current jobs serve).
local function result_file(store, job)
  local sim = job._sim
  local rows = { "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy" }
  for step = 1, sim.total_steps do
    local m = M.step_metrics(job, step)
    local vl = m.valid_loss and tostring(m.valid_loss) or ""
    local va = m.valid_mean_token_accuracy and tostring(m.valid_mean_token_accuracy) or ""
    rows[#rows + 1] = string.format("%d,%s,%s,%s,%s", step, tostring(m.train_loss),
      tostring(m.train_mean_token_accuracy), vl, va)
  end
  local csv = table.concat(rows, "\n") .. "\n"
  local files = require("openai.finetunes.fake.routes.files")
  return files.add(store, { data = util.base64(csv), filename = "step_metrics.csv", purpose = "fine-tune-results" })
end

local function succeed(store, job, t)
  local sim = job._sim
  sim.state = "done"
  sim.next_at = math.huge
  local rf = result_file(store, job)
  rf.created_at = floor(t)
  job.result_files = json.array({ rf.id })
  job.fine_tuned_model = sim.model_name
  job.trained_tokens = floor(sim.chars / 4 + 0.5) * sim.n_epochs + sim.total_steps * 3
  job.status = "succeeded"
  job.finished_at = floor(t)
  job.estimated_finish = json.null
  -- a fine-tuned model serves until its base model shuts down
  store.models:add({ id = sim.model_name, object = "model", created = floor(t), owned_by = store.org_id,
    shutdown_date = require("openai.finetunes.fake.catalog").shutdown_date(sim.snapshot),
    _job = job.id, _snapshot = sim.snapshot })
  M.event(store, job, t, "New fine-tuned model created: " .. sim.model_name)
  M.event(store, job, t, "The job has successfully completed")
  store.server:job_finished(job)
end

local function metrics_every(total)
  return math.max(1, math.ceil(total / 100))
end

-- One milestone at virtual time sim.next_at. Returns false when the job must wait
-- (its file check is still running).
local function play(store, job)
  local sim = job._sim
  local t = sim.next_at
  if sim.state == "validating" then
    if not sim.check_done then return false end
    if sim.check_done_at and sim.check_done_at > t then
      sim.next_at = sim.check_done_at
      return true
    end
    local check, vcheck = sim.check, sim.vcheck
    if sim.plan.outcome == "invalid_file" and check.ok then
      check = { ok = false, reason = "Invalid file format. Line 1, example 1: forced by the fake server." }
    end
    if not check.ok then
      local code = check.too_few and "invalid_n_examples" or "invalid_training_file"
      fail(store, job, t, { code = code, param = "training_file",
        message = "The job failed due to an invalid training file. " .. check.reason })
      return true
    end
    if vcheck and not vcheck.ok then
      fail(store, job, t, { code = "invalid_validation_file", param = "validation_file",
        message = "The job failed due to an invalid validation file. " .. vcheck.reason })
      return true
    end
    resolve(job, check)
    M.event(store, job, t, "Files validated, moving job to queued state")
    job.status = "queued"
    sim.state = "queued"
    sim.next_at = t + sim.plan.queue_seconds
  elseif sim.state == "queued" then
    local il = sim.plan.interlude
    if il and not sim.interlude_done then
      -- a status (and event level) the API may add one day: clients must pass it through
      sim.interlude_done = true
      job.status = il.status
      M.event(store, job, t, "Job status: " .. il.status, il.level)
      sim.next_at = t + il.seconds
      return true
    end
    job.status = "running"
    sim.state = "running"
    if not sim.started then
      sim.started = true
      M.event(store, job, t, "Fine-tuning job started", "info", "message", json.null)
    else
      M.event(store, job, t, "Fine-tuning job resumed training at step " .. sim.step)
    end
    sim.next_at = t + sim.plan.step_seconds
    job.estimated_finish = floor(t + (sim.total_steps - sim.step) * sim.plan.step_seconds) + 1
  elseif sim.state == "running" then
    sim.step = sim.step + 1
    local step, total = sim.step, sim.total_steps
    if step % metrics_every(total) == 0 or step == total or step == 1 then
      local m = M.step_metrics(job, step)
      M.event(store, job, t, metrics_message(m), "info", "metrics", m)
    end
    if sim.plan.outcome == "failed" and step >= (sim.plan.fail_at_step or math.max(1, floor(total / 2))) then
      local e = sim.plan.error or {}
      fail(store, job, t, { code = e.code or "server_error", param = e.param,
        message = e.message or "The job failed due to an internal server error. Please try again." })
      return true
    end
    if sim.ckpt_steps[step] then
      checkpoint(store, job, t, step)
    end
    if step >= total then
      succeed(store, job, t)
      return true
    end
    sim.next_at = t + sim.plan.step_seconds
  end
  return true
end

-- advance(store, job): play every milestone due by now.
function M.advance(store, job)
  local sim = job._sim
  local now = store.clock:now()
  local guard = 0
  while sim.next_at <= now and guard < 1000000 do
    guard = guard + 1
    if not play(store, job) then break end
  end
end

function M.view(store, job)
  M.advance(store, job)
  return Store.view(job)
end

-- The file check runs as a loop task so a big training file never blocks the server.
local function start_check(server, job, training, validation)
  local sim = job._sim
  local loop = server.loop
  loop:spawn(function()
    local yield = function() loop:sleep(0) end
    local opts = { method = sim.method_type, legacy = sim.legacy }
    sim.check = training_check.check(training._path, opts, yield)
    if validation then
      sim.vcheck = training_check.check(validation._path,
        { method = sim.method_type, legacy = sim.legacy, min_examples = 1 }, yield)
    end
    sim.check_done = true
    sim.check_done_at = server.clock:now()
  end)
end

-- create(server, spec) -> job. spec holds the validated request and the resolved
-- pieces (training/validation file objects, snapshot, method type, plan).
function M.create(server, spec)
  local store = server.store
  local now = store.clock:now()
  local plan = spec.plan
  for k, v in pairs(M.DEFAULTS) do
    if plan[k] == nil then plan[k] = v end
  end
  local id = util.id("ftjob-", 24)
  local org = store.org_name
  local model_name = string.format("ft:%s:%s:%s:%s", spec.snapshot, org, spec.suffix or "", util.random_string(8))
  local job = {
    -- a job that has not failed carries `error: {}` and, without integrations,
    -- `integrations: []`: what the API answers (and the API reference's examples
    -- show), though its schema says null
    id = id, object = "fine_tuning.job", created_at = floor(now), error = {},
    fine_tuned_model = json.null, finished_at = json.null, hyperparameters = json.null,
    model = spec.model, organization_id = store.org_id, result_files = json.array(), seed = spec.seed,
    status = "validating_files", trained_tokens = json.null, training_file = spec.training.id,
    validation_file = spec.validation and spec.validation.id or json.null,
    integrations = spec.integrations or json.array(), metadata = spec.metadata or json.null,
    method = spec.method, user_provided_suffix = spec.suffix or json.null, estimated_finish = json.null,
    usage_metrics = json.null, shared_with_openai = false,
  }
  job._events = Store.new_collection(store)
  job._checkpoints = Store.new_collection(store)
  job._sim = {
    state = "validating", next_at = now + plan.validate_seconds, plan = plan, step = 0, seed = spec.seed,
    method_type = spec.method.type, legacy = spec.legacy, has_validation = spec.validation ~= nil,
    model_name = model_name, snapshot = spec.snapshot, hyperparameters = spec.hyperparameters or {},
  }
  local auto = {}
  for k, v in pairs(spec.hyperparameters or {}) do auto[k] = v end
  for _, k in ipairs({ "batch_size", "learning_rate_multiplier", "n_epochs" }) do
    if auto[k] == nil then auto[k] = "auto" end
  end
  if spec.method.type == "dpo" and auto.beta == nil then auto.beta = "auto" end
  M.set_hyperparameters(job, auto)
  store.jobs:add(job)
  M.event(store, job, now, "Created fine-tuning job: " .. id)
  local msg = "Validating training file: " .. spec.training.id
  if spec.validation then msg = msg .. " and validation file: " .. spec.validation.id end
  M.event(store, job, now, msg)
  start_check(server, job, spec.training, spec.validation)
  return job
end

-- Transitions requested by the user ----------------------------------------------

M.FINAL = { succeeded = true, failed = true, cancelled = true }

function M.cancel(store, job)
  local now = store.clock:now()
  local sim = job._sim
  sim.state = "done"
  sim.next_at = math.huge
  job.status = "cancelled"
  job.estimated_finish = json.null
  M.event(store, job, now, "Fine-tuning job cancelled")
  store.server:job_finished(job)
end

function M.pause(store, job)
  local now = store.clock:now()
  local sim = job._sim
  sim.state = "paused"
  sim.next_at = math.huge
  job.status = "paused"
  job.estimated_finish = json.null
  M.event(store, job, now, "Fine-tuning job paused at step " .. sim.step)
  if sim.step > 0 then
    checkpoint(store, job, now, sim.step, "paused")
  end
end

function M.resume(store, job)
  local now = store.clock:now()
  local sim = job._sim
  sim.state = "queued"
  sim.next_at = now + sim.plan.queue_seconds
  job.status = "queued"
  M.event(store, job, now, "Fine-tuning job resumed; moving job to queued state")
end

return M
