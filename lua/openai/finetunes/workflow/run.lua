-- openai.finetunes.workflow.run: a local training file to a fine-tuned model, resumable.
--
--   local job, err = client:run{
--     training_file = "train.jsonl", validation_file = "valid.jsonl",   -- local paths
--     job = { model = "gpt-4o-mini-2024-07-18", suffix = "support",      -- create_job's body
--             method = { type = "supervised", supervised = { hyperparameters = { n_epochs = 3 } } } },
--     state = "run.state.json",                -- where the steps done are recorded
--     on_event = function(event, job) print(event.message) end,
--   }
--   -- after a crash, the same call again continues where it stopped
--
-- Steps, each recorded in the state file the moment it is done (state.lua: atomic
-- saves): the inputs (size and SHA-256 of each file, the job body), the local check
-- (ft.validate_training_file), each upload (started, then its file id), the file
-- processed, the job (create started, then its id), every event delivered, the end.
-- Called again with the same state file it skips what is done: a file already uploaded
-- is not sent again, a job already created is not created again, an event already
-- delivered is not delivered again (the state is saved before on_event is called: a
-- crash in between loses that one event rather than repeating it).
--
-- The crash windows between a request and the save that records its answer:
--   * upload: on resume the newest fine-tune files are searched for one with the same
--     filename and size created after the upload started (the Files API has no
--     metadata or idempotency); found, it is used instead of uploading again.
--   * create: the job is created with an Idempotency-Key derived from the run's id
--     (a server that honours it answers the repeated POST with the first job) and with
--     metadata `openai_ft_run = <run id>`; on resume the jobs with that metadata are
--     looked up first, so a server that ignores the key makes no second job either.
--
-- opts: training_file (path, required), validation_file (path), job (the create_job
-- body without training_file / validation_file; `model` required; `metadata` gets the
-- run's key added), state (path; nil: nothing is recorded), validate (default true;
-- false skips it; a function(path, role) -> report replaces the default check
-- ft.validate_training_file), upload (function(path, role) -> file | nil, err;
-- default client:upload_file, upload_large_file above 512 MB), on_step(step, info)
-- (step = "inputs" | "validated" | "uploaded" | "processed" | "created" | "resumed";
-- info.resumed is true when the step was found done in the state), on_event,
-- on_status, poll_interval, timeout, max_poll_failures, events (as wait_for_job: with
-- a webhook event source the job's end comes from its event, no status polls, and
-- on_event sees no events), durable (default true: fsync each save).
--
-- Returns job, info (info.state = the state data, info.resumed = bool) when the job
-- ended (succeeded, failed or cancelled: check job.status), or nil, err:
--   kind "state": the state file is unreadable (code state_corrupt), from a newer
--   version (state_version), of other inputs (state_mismatch: err.differences lists
--   them), or cannot be written (state_write); nothing was uploaded or created.
--   kind "invalid_data": the local check refused a file (err.report, err.path), or the
--   API could not process it (err.file).
--   anything client:upload_file / create_job / wait_for_job return.
local state = require("openai.finetunes.workflow.state")
local errors = require("openai.finetunes.errors")
local misuse = require("openai.finetunes.misuse")

local type, pairs, ipairs, tostring, pcall = type, pairs, ipairs, tostring, pcall
local format = string.format

local M = {}

-- Files above this size go through the Uploads API (POST /files takes up to 512 MB).
M.FILES_API_MAX = 512 * 1024 * 1024
-- The metadata key naming the run on every job the workflow creates.
M.RUN_KEY = "openai_ft_run"
-- An upload found on resume must have been created at most this long before the
-- recorded start (clock skew between this machine and the API).
M.CLOCK_SKEW = 300

local fail, describe = misuse.fail, misuse.describe

local function basename(path)
  return path:match("([^/]+)$") or path
end

-- The size and SHA-256 of a local file, or nil, err (kind io).
function M.fingerprint(path)
  local f, oerr = io.open(path, "rb")
  if not f then
    local why = tostring(oerr):gsub("^[^:]*: ", "")
    return nil, errors.new { kind = "io", message = "cannot read " .. path .. ": " .. why }
  end
  local size = f:seek("end")
  f:close()
  if not size then return nil, errors.new { kind = "io", message = "cannot read " .. path .. " (a directory?)" } end
  local sha, herr = require("openai.finetunes.codec").sha256_file(path) -- constant memory, in C
  if not sha then return nil, errors.new { kind = "io", message = "cannot hash " .. path .. ": " .. tostring(herr) } end
  return { size = size, sha256 = sha }
end

-- A copy of a JSON-like value (tables copied deeply, metatables kept for arrays).
local function copy(v)
  if type(v) ~= "table" then return v end
  local out = setmetatable({}, getmetatable(v))
  for k, x in pairs(v) do out[k] = copy(x) end
  return out
end
M.copy = copy

-- A state that records nothing (opts.state = nil).
local function memory_state(kind)
  return { fresh = true, data = { format = state.FORMAT, kind = kind }, save = function() return true end,
    close = function() end }
end

function M.open_state(path, kind, durable)
  if path == nil then return memory_state(kind) end
  return state.open(path, kind, { durable = durable })
end

-- Compares the inputs recorded in the state with these; nil when they match.
function M.check_inputs(st, inputs)
  local old = st.data.inputs
  if old == nil then return nil end
  local diffs = state.differences(old, inputs)
  if #diffs == 0 then return nil end
  return errors.new {
    kind = "state", code = "state_mismatch", path = st.path, differences = diffs,
    message = format("%s was written for other inputs (%s); it was left as it is: remove it (or use another "
      .. "state path) to start fresh, or run again with the inputs it records", tostring(st.path),
      table.concat(diffs, "; ")),
  }
end

local function check_file_opt(opts, key, required)
  local v = opts[key]
  if v == nil and not required then return end
  if type(v) ~= "string" or v == "" then fail(format("%s must be a path (string), got %s", key, describe(v))) end
end

local KNOWN = {
  training_file = true, validation_file = true, job = true, state = true, validate = true, upload = true,
  on_step = true, on_event = true, on_status = true, poll_interval = true, timeout = true,
  max_poll_failures = true, durable = true,
}
-- run's own, beside what sweep shares (a sweep follows its jobs through batch polls)
local RUN_ONLY = { events = true }

local function check_opts(opts, also)
  if type(opts) ~= "table" then fail(format("options table expected, got %s", describe(opts))) end
  for k in pairs(opts) do
    if not KNOWN[k] and not (also and also[k]) then fail(format("unknown option %s", describe(k))) end
  end
  if opts.events ~= nil and opts.on_event ~= nil then
    fail("on_event needs polling: give events or on_event, not both")
  end
  check_file_opt(opts, "training_file", true)
  check_file_opt(opts, "validation_file", false)
  if opts.state ~= nil and (type(opts.state) ~= "string" or opts.state == "") then
    fail(format("state must be a path (string), got %s", describe(opts.state)))
  end
  if type(opts.job) ~= "table" then
    fail(format("job must be a table (create_job's body), got %s", describe(opts.job)))
  end
  if type(opts.job.model) ~= "string" or opts.job.model == "" then
    fail(format("job.model must be a string, got %s", describe(opts.job.model)))
  end
  for _, k in ipairs({ "training_file", "validation_file" }) do
    if opts.job[k] ~= nil then fail("job." .. k .. " is set by the workflow (give the local path as " .. k .. ")") end
  end
  if opts.job.metadata ~= nil and type(opts.job.metadata) ~= "table" then
    fail(format("job.metadata must be a table, got %s", describe(opts.job.metadata)))
  end
  for _, k in ipairs({ "upload", "on_step", "on_event", "on_status" }) do
    if opts[k] ~= nil and type(opts[k]) ~= "function" then
      fail(format("%s must be a function, got %s", k, describe(opts[k])))
    end
  end
  local v = opts.validate
  if v ~= nil and type(v) ~= "boolean" and type(v) ~= "function" then
    fail(format("validate must be a boolean or a function, got %s", describe(v)))
  end
end
M.check_common = check_opts

-- Steps shared with sweep ---------------------------------------------------------

local function method_type(job)
  return type(job.method) == "table" and job.method.type or "supervised"
end
M.method_type = method_type

-- validate_step(opts, st, role, path, sha, notify) -> true | nil, err
function M.validate_step(opts, st, role, path, sha, notify)
  local done = st.data.validated or {}
  if opts.validate == false or done[role] == sha then
    if done[role] == sha then notify("validated", { role = role, path = path, resumed = true }) end
    return true
  end
  local report, err
  if type(opts.validate) == "function" then
    report, err = opts.validate(path, role)
  else
    local ft = require("openai.finetunes")
    report, err = ft.validate_training_file(path, { method = method_type(opts.job), model = opts.job.model,
      min_examples = role == "validation" and 1 or nil })
  end
  if not report then return nil, err end
  if not report.ok then
    return nil, errors.new { kind = "invalid_data", code = "invalid_training_data", path = path, report = report,
      message = format("%s is not valid %s data (%d error%s): nothing was uploaded", path, report.method or "training",
        report.errors or 0, report.errors == 1 and "" or "s") }
  end
  done[role] = sha
  st.data.validated = done
  local saved, serr = st:save()
  if not saved then return nil, serr end
  notify("validated", { role = role, path = path, report = report })
  return true
end

-- A file uploaded by a run that crashed before recording it: same name and size,
-- created after the upload started.
local function find_upload(self, path, size, started)
  for file, err in self:each_file({ purpose = "fine-tune", limit = 100, order = "desc" }) do
    if not file then return nil, err end
    if type(file.created_at) == "number" and file.created_at < started - M.CLOCK_SKEW then return nil end
    if file.filename == basename(path) and file.bytes == size and file.status ~= "error"
      and file.status ~= "deleted" then
      return file
    end
  end
  return nil
end

local function default_upload(self, path, size)
  if size > M.FILES_API_MAX then
    return self:upload_large_file({ file = path, purpose = "fine-tune" })
  end
  return self:upload_file({ file = path, purpose = "fine-tune" })
end

-- upload_step(...) -> processed file id | nil, err. Records `uploads[role]`.
function M.upload_step(self, opts, st, role, path, size, notify)
  st.data.uploads = st.data.uploads or {}
  local rec = st.data.uploads[role]
  local file
  if rec and rec.file_id then
    if rec.processed then
      notify("uploaded", { role = role, path = path, file_id = rec.file_id, resumed = true })
      return rec.file_id
    end
    file = { id = rec.file_id }
    notify("uploaded", { role = role, path = path, file_id = rec.file_id, resumed = true })
  else
    if rec and rec.started_at then
      local found, ferr = find_upload(self, path, size, rec.started_at)
      if ferr then return nil, ferr end
      file = found
    end
    if not file then
      st.data.uploads[role] = { started_at = os.time() }
      local saved, serr = st:save()
      if not saved then return nil, serr end
      local err
      if opts.upload then file, err = opts.upload(path, role) else file, err = default_upload(self, path, size) end
      if not file then return nil, err end
    end
    st.data.uploads[role] = { file_id = file.id }
    local saved, serr = st:save()
    if not saved then return nil, serr end
    notify("uploaded", { role = role, path = path, file_id = file.id, file = file })
  end
  if file.status ~= "processed" then
    local done, werr = self:wait_for_file(file.id, { poll_interval = opts.poll_interval or 1 })
    if not done then return nil, werr end
    file = done
  end
  if file.status ~= "processed" then
    return nil, errors.new { kind = "invalid_data", code = "file_not_processed", file = file, path = path,
      message = format("%s (%s) could not be processed: %s", file.id, path, tostring(file.status_details
        or file.status)) }
  end
  st.data.uploads[role].processed = true
  local saved, serr = st:save()
  if not saved then return nil, serr end
  notify("processed", { role = role, path = path, file_id = file.id })
  return file.id
end

-- The first job carrying metadata key = value, or nil.
function M.find_job(self, key, value)
  for job, err in self:each_job({ metadata = { [key] = value }, limit = 20 }) do
    if not job then return nil, err end
    if type(job.metadata) == "table" and job.metadata[key] == value then return job end
  end
  return nil
end

-- create_step(self, st, rec, body, key, value [, call_opts]) -> job, resumed | nil, err.
-- `rec` is the record of this job in the state (rec.id once created). A create that
-- may have reached the server (rec.create_started) is first looked for by its
-- metadata key = value, unless call_opts.looked_up says this process already knows
-- it did not. call_opts.max_retries goes to create_job.
function M.create_step(self, st, rec, body, key, value, call_opts)
  call_opts = call_opts or {}
  if rec.id then return { id = rec.id }, true end
  if rec.create_started and not call_opts.looked_up then
    local found, ferr = M.find_job(self, key, value)
    if ferr then return nil, ferr end
    if found then
      rec.id = found.id
      local saved, serr = st:save()
      if not saved then return nil, serr end
      return found, true
    end
  end
  rec.create_started = os.time()
  local saved, serr = st:save()
  if not saved then return nil, serr end
  local job, err = self:create_job(body, { idempotency_key = "openai-ft-" .. value,
    max_retries = call_opts.max_retries })
  if not job then
    return nil, err
  end
  rec.id = job.id
  saved, serr = st:save()
  if not saved then return nil, serr end
  return job, false
end

-- The body with the run's metadata key added (a copy).
function M.tagged_body(job, train_id, valid_id, extra)
  local body = copy(job)
  body.training_file, body.validation_file = train_id, valid_id
  body.metadata = body.metadata or {}
  for k, v in pairs(extra) do body.metadata[k] = v end
  return body
end

-- Inputs and the first save, shared with sweep: fingerprints, the comparison with a
-- resumed state, the run id. -> files {training = {path, size, sha256}, validation}
function M.begin(opts, st, kind_inputs)
  local files = {}
  for _, role in ipairs({ "training", "validation" }) do
    local path = opts[role .. "_file"]
    if path then
      local fp, err = M.fingerprint(path)
      if not fp then return nil, err end
      files[role] = { path = path, size = fp.size, sha256 = fp.sha256 }
    end
  end
  local inputs = { files = {} }
  for role, f in pairs(files) do inputs.files[role] = { size = f.size, sha256 = f.sha256 } end
  for k, v in pairs(kind_inputs) do inputs[k] = v end
  local mismatch = M.check_inputs(st, inputs)
  if mismatch then return nil, mismatch end
  if not st.data.inputs then
    st.data.inputs = inputs
    st.data.id = state.random_hex(8)
    st.data.started_at = os.time()
    local saved, serr = st:save()
    if not saved then return nil, serr end
  end
  return files
end

-- files_step(self, opts, st, files, notify) -> {training = id, validation = id} | nil, err:
-- every file checked (all before any upload), then each uploaded and processed.
function M.files_step(self, opts, st, files, notify)
  for _, role in ipairs({ "training", "validation" }) do
    local f = files[role]
    if f then
      local okv, verr = M.validate_step(opts, st, role, f.path, f.sha256, notify)
      if not okv then return nil, verr end
    end
  end
  local ids = {}
  for _, role in ipairs({ "training", "validation" }) do
    local f = files[role]
    if f then
      local id, uerr = M.upload_step(self, opts, st, role, f.path, f.size, notify)
      if not id then return nil, uerr end
      ids[role] = id
    end
  end
  return ids
end

-- run --------------------------------------------------------------------------------

local function run(self, opts)
  local ok, why = pcall(check_opts, opts, RUN_ONLY)
  if not ok then misuse.raise(why, "run", 1, 2) end
  local st, serr = M.open_state(opts.state, "run", opts.durable)
  if not st then return nil, serr end
  local resumed = not st.fresh
  local function notify(step, info)
    if opts.on_step then opts.on_step(step, info) end
  end

  local inputs_job = copy(opts.job)
  local files, ferr = M.begin(opts, st, { job = inputs_job })
  if not files then return nil, ferr end
  notify("inputs", { files = files, id = st.data.id, resumed = resumed })

  local ids, ierr = M.files_step(self, opts, st, files, notify)
  if not ids then return nil, ierr end

  st.data.job = st.data.job or {}
  local rec = st.data.job
  local body = M.tagged_body(opts.job, ids.training, ids.validation, { [M.RUN_KEY] = st.data.id })
  local job, was_there = M.create_step(self, st, rec, body, M.RUN_KEY, st.data.id)
  if not job then return nil, was_there end
  notify("created", { job_id = job.id, job = job, resumed = was_there })

  -- Follow: every event once across runs. The state names the last one delivered;
  -- the history is replayed by wait_for_job and skipped up to it.
  st.data.events = st.data.events or { delivered = 0 }
  local ev = st.data.events
  local passed = ev.last_id == nil
  local on_event
  if opts.on_event then
    on_event = function(event, j)
      if not passed then
        if event.id == ev.last_id then passed = true return end
        if type(event.created_at) == "number" and type(ev.last_created_at) == "number"
          and event.created_at <= ev.last_created_at then
          return
        end
        passed = true
      end
      ev.last_id, ev.last_created_at, ev.delivered = event.id, event.created_at, ev.delivered + 1
      local saved, werr = st:save()
      if not saved then error(werr, 0) end
      opts.on_event(event, j)
    end
  end
  local okw, final, werr = pcall(self.wait_for_job, self, job.id, {
    on_event = on_event, on_status = opts.on_status, history = opts.events == nil or nil, events = opts.events,
    poll_interval = opts.poll_interval, timeout = opts.timeout, max_poll_failures = opts.max_poll_failures,
  })
  st:close()
  if not okw then
    if errors.is_error(final) then return nil, final end -- a failed save inside on_event
    error(final, 0)
  end
  if not final then return nil, werr end
  rec.status, rec.fine_tuned_model = final.status, final.fine_tuned_model
  local saved, e2 = st:save()
  st:close()
  if not saved then return nil, e2 end
  return final, { state = st.data, resumed = resumed }
end

M.methods = { run = run }

return M
