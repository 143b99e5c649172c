-- openai.finetunes.workflow.sweep: one job per point of a hyperparameter grid, resumable.
--
--   local result, err = client:sweep{
--     training_file = "train.jsonl", validation_file = "valid.jsonl",
--     job = { model = "gpt-4o-mini-2024-07-18", method = { type = "supervised" } },
--     grid = { { "n_epochs", { 2, 3, 4 } }, { "learning_rate_multiplier", { 0.5, 1, 2 } } },
--     max_active = 3, state = "sweep.state.json",
--     on_status = function(point, new, old) print(point.index, point.id, old, "->", new) end,
--   }
--   for _, row in ipairs(result.jobs) do print(row.id, row.status, row.valid_loss, row.best) end
--
-- The data is checked and uploaded once (run.lua's steps, the same state rules); then
-- one job per grid point (the product of the lists, the first key varying slowest),
-- each created with metadata openai_ft_sweep = <sweep id>, openai_ft_run = <sweep
-- id>-<point> and an Idempotency-Key from the same, so a resumed sweep finds what a
-- killed one created. At most max_active jobs are active at once (default 3); a create
-- the API refuses with a 429 (the organisation's active-job limit, or a rate limit) or
-- a transient failure stays queued and is tried again after the next poll: it never
-- ends the sweep. A create refused for another reason (400) is a row with its error.
-- Every active job is polled once per poll_interval, all in one client:batch.
--
-- grid: a list of { name, values } (this order), or a table name -> values (sorted by
-- name). Names: the method's hyperparameters (api/validate.lua HYPERPARAMETERS);
-- values: numbers or "auto", each checked against the API's ranges before anything is
-- uploaded. max_jobs (default 100) bounds the number of points.
--
-- Returns result = { id = sweep id, jobs = rows, best = job id | nil, metric =
-- "valid_loss" | "train_loss" } or nil, err (as client:run, plus kind "invalid_request"
-- with code "invalid_grid" for a grid that cannot run). Rows, in grid order:
-- { index, id, status, hyperparameters, train_loss, valid_loss, train_mean_token_accuracy,
-- valid_mean_token_accuracy, trained_tokens, created_at, finished_at, duration,
-- fine_tuned_model, error, best, curve = { {step, train_loss, valid_loss}, ... } }.
local run = require("openai.finetunes.workflow.run")
local validate = require("openai.finetunes.api.validate")
local errors = require("openai.finetunes.errors")
local misuse = require("openai.finetunes.misuse")
local clock = require("openai.finetunes.call.clock")

local type, pairs, ipairs, tostring, tonumber, pcall = type, pairs, ipairs, tostring, tonumber, pcall
local format, concat = string.format, table.concat

local M = {}

M.DEFAULT_MAX_ACTIVE = 3
M.DEFAULT_MAX_JOBS = 100
M.DEFAULT_POLL_INTERVAL = 5
M.SWEEP_KEY = "openai_ft_sweep"
M.METHODS = { supervised = true, dpo = true }

local DONE = { succeeded = true, failed = true, cancelled = true }

local function grid_error(message)
  return errors.new { kind = "invalid_request", code = "invalid_grid", message = message }
end

local function known_list(method)
  return concat(validate.HYPERPARAMETERS[method], ", ")
end

-- parse_grid_arg("n_epochs=2,3,auto") -> name, values | nil, message (the CLI's form).
function M.parse_grid_arg(text)
  if type(text) ~= "string" or text:match("^%s*$") then return nil, "an empty --grid (give NAME=V1,V2,...)" end
  local name, list = text:match("^%s*([%w_]+)%s*=(.*)$")
  if not name then return nil, format("--grid %q is not NAME=V1,V2,... (e.g. n_epochs=2,3,4)", text) end
  if list:match("^%s*$") then return nil, format("--grid %s= has no values", name) end
  local values = {}
  for item in (list .. ","):gmatch("([^,]*),") do
    item = item:match("^%s*(.-)%s*$")
    if item == "" then return nil, format("--grid %s has an empty value in %q", name, list) end
    if item == "auto" then
      values[#values + 1] = "auto"
    else
      local n = tonumber(item)
      if not n or n ~= n or n == math.huge or n == -math.huge then
        return nil, format("--grid %s: %q is not a number or auto", name, item)
      end
      values[#values + 1] = n
    end
  end
  return name, values
end

local function as_list(grid)
  if type(grid) ~= "table" then return nil, "grid must be a table" end
  if grid[1] ~= nil then return grid end
  local names = {}
  for k in pairs(grid) do names[#names + 1] = k end
  table.sort(names, function(a, b) return tostring(a) < tostring(b) end)
  local out = {}
  for _, k in ipairs(names) do out[#out + 1] = { k, grid[k] } end
  return out
end

-- The hyperparameters of one point as create_job's body would carry them.
local function body_with(job, method, hp)
  local body = run.copy(job)
  body.training_file = "file-pending"
  body.method = body.method or { type = method }
  body.method[method] = body.method[method] or {}
  local section = body.method[method]
  section.hyperparameters = section.hyperparameters or {}
  for k, v in pairs(hp) do section.hyperparameters[k] = v end
  return body
end

-- points(grid, job, max_jobs) -> list of hyperparameter tables | nil, err (invalid_grid)
function M.points(grid, job, max_jobs)
  local method = run.method_type(job)
  if not M.METHODS[method] then
    return nil, grid_error(format("a sweep takes supervised or dpo jobs, not %s", tostring(method)))
  end
  local list, lerr = as_list(grid)
  if not list then return nil, grid_error(lerr) end
  if #list == 0 then return nil, grid_error("an empty grid: give at least one hyperparameter and its values") end
  local known, seen = {}, {}
  for _, k in ipairs(validate.HYPERPARAMETERS[method]) do known[k] = true end
  local total = 1
  for i, entry in ipairs(list) do
    local name, values = entry[1], entry[2]
    if type(name) ~= "string" or not known[name] then
      return nil, grid_error(format("%s is not a %s hyperparameter (the grid takes %s)", tostring(name), method,
        known_list(method)))
    end
    if seen[name] then return nil, grid_error(format("%s is in the grid twice", name)) end
    local base = type(job.method) == "table" and type(job.method[method]) == "table"
      and job.method[method].hyperparameters
    if type(base) == "table" and base[name] ~= nil then
      return nil, grid_error(format("%s is both in the grid and fixed in the job's hyperparameters", name))
    end
    seen[name] = true
    if type(values) ~= "table" or #values == 0 then
      return nil, grid_error(format("grid[%d] (%s) has no values", i, name))
    end
    local distinct = {}
    for _, v in ipairs(values) do
      local key = tostring(v)
      if distinct[key] then return nil, grid_error(format("%s lists %s twice", name, key)) end
      distinct[key] = true
      local okv, why = pcall(validate.create_job, body_with(job, method, { [name] = v }))
      if not okv then
        return nil, grid_error(format("%s = %s is out of the API's range: %s", name, key,
          tostring(misuse.is_misuse(why) and why.problem or why)))
      end
    end
    total = total * #values
  end
  if total > max_jobs then
    return nil, grid_error(format("the grid has %d points, more jobs than max_jobs = %d allows (raise it to run "
      .. "them all)", total, max_jobs))
  end
  local out = { {} }
  for _, entry in ipairs(list) do
    local next_out = {}
    for _, partial in ipairs(out) do
      for _, v in ipairs(entry[2]) do
        local p = {}
        for k, x in pairs(partial) do p[k] = x end
        p[entry[1]] = v
        next_out[#next_out + 1] = p
      end
    end
    out = next_out
  end
  return out, list
end

local KNOWN = {
  grid = true, max_active = true, max_jobs = true, on_job = true, on_queued = true,
}

local function check_opts(opts)
  if type(opts) ~= "table" then misuse.fail(format("options table expected, got %s", misuse.describe(opts))) end
  local common = {}
  for k, v in pairs(opts) do
    if not KNOWN[k] then common[k] = v end
  end
  run.check_common(common)
  for _, k in ipairs({ "max_active", "max_jobs" }) do
    local v = opts[k]
    if v ~= nil and (type(v) ~= "number" or v < 1 or v ~= math.floor(v)) then
      misuse.fail(format("%s must be an integer >= 1, got %s", k, misuse.describe(v)))
    end
  end
  for _, k in ipairs({ "on_job", "on_queued" }) do
    if opts[k] ~= nil and type(opts[k]) ~= "function" then
      misuse.fail(format("%s must be a function, got %s", k, misuse.describe(opts[k])))
    end
  end
  if opts.on_event ~= nil then misuse.fail("on_event is not a sweep option (on_status reports each job)") end
end

-- Final numbers of a finished job from its result file (one request).
local function last_number(rows, key)
  for i = #rows, 1, -1 do
    local v = rows[i][key]
    if type(v) == "number" then return v end
  end
  return nil
end

function M.summarise(rows)
  local curve = {}
  for _, r in ipairs(rows) do
    if type(r.step) == "number" then
      curve[#curve + 1] = { r.step, r.train_loss, r.valid_loss, r.train_accuracy or r.train_mean_token_accuracy,
        r.valid_mean_token_accuracy }
    end
  end
  return {
    train_loss = last_number(rows, "train_loss"),
    valid_loss = last_number(rows, "full_valid_loss") or last_number(rows, "valid_loss"),
    train_mean_token_accuracy = last_number(rows, "train_accuracy") or last_number(rows, "train_mean_token_accuracy"),
    valid_mean_token_accuracy = last_number(rows, "full_valid_mean_token_accuracy")
      or last_number(rows, "valid_mean_token_accuracy"),
    curve = curve,
  }
end

local function job_row(self, point, job)
  local row = {
    index = point.index, id = point.id, status = point.status or "queued", hyperparameters = point.hyperparameters,
    error = point.error,
  }
  if job then
    row.status = job.status
    row.trained_tokens = job.trained_tokens
    row.created_at, row.finished_at = job.created_at, job.finished_at
    if type(job.created_at) == "number" and type(job.finished_at) == "number" then
      row.duration = job.finished_at - job.created_at
    end
    row.fine_tuned_model = job.fine_tuned_model
    if type(job.error) == "table" and job.error.message then
      row.error = job.error.message
    end
    local file = type(job.result_files) == "table" and job.result_files[1]
    if file then
      local text = self:file_content(file)
      local rows = text and require("openai.finetunes.workflow.metrics").parse_result_file(text)
      if rows then
        for k, v in pairs(M.summarise(rows)) do row[k] = v end
      end
    end
  end
  return row
end

-- best(rows) -> job id, metric: the succeeded job with the lowest validation loss, or
-- training loss when no row has one.
function M.best(rows)
  local metric = "train_loss"
  for _, r in ipairs(rows) do
    if r.status == "succeeded" and type(r.valid_loss) == "number" then metric = "valid_loss" break end
  end
  local best
  for _, r in ipairs(rows) do
    if r.status == "succeeded" and type(r[metric]) == "number" and (not best or r[metric] < best[metric]) then
      best = r
    end
  end
  for _, r in ipairs(rows) do r.best = (r == best) end
  return best and best.id, metric
end

local function sweep(self, opts)
  local ok, why = pcall(check_opts, opts)
  if not ok then misuse.raise(why, "sweep", 1, 2) end
  local points, list = M.points(opts.grid, opts.job, opts.max_jobs or M.DEFAULT_MAX_JOBS)
  if not points then return nil, list end
  local st, serr = run.open_state(opts.state, "sweep", opts.durable)
  if not st then return nil, serr end
  local resumed = not st.fresh
  local function notify(step, info)
    if opts.on_step then opts.on_step(step, info) end
  end
  local grid_inputs = {}
  for i, entry in ipairs(list) do grid_inputs[i] = { entry[1], entry[2] } end
  local files, ferr = run.begin(opts, st, { job = run.copy(opts.job), grid = grid_inputs })
  if not files then return nil, ferr end
  notify("inputs", { files = files, id = st.data.id, resumed = resumed, points = #points })
  local ids, ierr = run.files_step(self, opts, st, files, notify)
  if not ids then return nil, ierr end

  local method = run.method_type(opts.job)
  st.data.points = st.data.points or {}
  local recs = st.data.points
  for i, hp in ipairs(points) do
    recs[i] = recs[i] or { index = i, hyperparameters = hp }
  end
  local max_active = opts.max_active or M.DEFAULT_MAX_ACTIVE
  local interval = opts.poll_interval or M.DEFAULT_POLL_INTERVAL
  local transport = self:_transport()
  local looked_up, finals = {}, {}
  local queued_said = false

  local function set_status(rec, new, job)
    if rec.status == new then return true end
    local old = rec.status
    rec.status = new
    local saved, e = st:save()
    if not saved then return nil, e end
    if opts.on_status then opts.on_status(rec, new, old, job) end
    return true
  end

  while true do
    -- start what the limit allows, in grid order
    local active, created_now = 0, {}
    for _, rec in ipairs(recs) do
      if rec.id and not DONE[rec.status] then active = active + 1 end
    end
    for _, rec in ipairs(recs) do
      if active >= max_active then break end
      if not rec.id and not rec.error then
        local body = body_with(opts.job, method, rec.hyperparameters)
        body = run.tagged_body(body, ids.training, ids.validation, {
          [M.SWEEP_KEY] = st.data.id, [run.RUN_KEY] = st.data.id .. "-" .. rec.index,
        })
        local job, cerr = run.create_step(self, st, rec, body, run.RUN_KEY, st.data.id .. "-" .. rec.index,
          { looked_up = looked_up[rec.index], max_retries = 0 })
        looked_up[rec.index] = true
        if job then
          active = active + 1
          created_now[rec.index] = true
          if opts.on_job then opts.on_job(rec, job) end
          local oks, e = set_status(rec, job.status or "validating_files", job)
          if not oks then return nil, e end
        elseif errors.is_error(cerr) and cerr.kind == "state" then
          return nil, cerr
        elseif cerr.status == 429 or errors.retryable(cerr, self:_policy()) then
          if not queued_said and opts.on_queued then opts.on_queued(rec, cerr) end
          queued_said = true
          break -- the API has no slot now: the rest waits for the next round
        else
          rec.error = tostring(cerr.message or cerr)
          local okf, e = set_status(rec, "failed", nil)
          if not okf then return nil, e end
        end
      end
    end
    -- poll every active job once, together
    local calls, polled = {}, {}
    for _, rec in ipairs(recs) do
      if rec.id and not created_now[rec.index] and (not DONE[rec.status] or not finals[rec.index]) then
        calls[#calls + 1] = { "job", rec.id }
        polled[#polled + 1] = rec
      end
    end
    if #calls > 0 then
      -- one save for the round's status changes, then their callbacks (each reported once)
      local results, changes = self:batch(calls, { concurrency = 16 }), {}
      for i, r in ipairs(results) do
        local job, rec = r[1], polled[i]
        if job then
          if rec.status ~= job.status then
            changes[#changes + 1] = { rec, job.status, rec.status, job }
            rec.status = job.status
          end
          if DONE[job.status] then finals[rec.index] = job end
        end
      end
      if #changes > 0 then
        local saved, e = st:save()
        if not saved then return nil, e end
        for _, c in ipairs(changes) do
          if opts.on_status then opts.on_status(c[1], c[2], c[3], c[4]) end
        end
      end
    end
    local pending = false
    for _, rec in ipairs(recs) do
      if not rec.error and not (rec.id and finals[rec.index]) then pending = true break end
    end
    if not pending then break end
    clock.sleep(transport, interval)
  end
  st:close()

  local rows = {}
  for i, rec in ipairs(recs) do rows[i] = job_row(self, rec, finals[rec.index]) end
  local best, metric = M.best(rows)
  return { id = st.data.id, jobs = rows, best = best, metric = metric, resumed = resumed }
end

M.methods = { sweep = sweep }

return M
