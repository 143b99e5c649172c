-- An OpenResty handler module for openai-finetunes (see nginx.conf and README.md).
--
-- Inside nginx the client picks the cosocket transport by itself: every call
-- yields to nginx's event loop instead of blocking the worker, retries sleep
-- with ngx.sleep, and connections are kept alive in nginx's pool.
--
--   GET  /models        the models the key can use
--   GET  /jobs/<id>     one fine-tuning job
--   POST /finetune      upload data/train.jsonl, start a job, wait for it while
--                       following its events, answer the fine-tuned model
--   GET  /health        the result of the startup check made from a timer
local ft = require("openai.finetunes")

local M = {}

-- Built once per worker (at module load: no I/O happens in ft.new). Safe to
-- share between requests: the transport keeps no socket between calls.
local client = ft.new({ max_retries = 3, timeout = 60 }) -- OPENAI_API_KEY, OPENAI_BASE_URL

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local TRAINING_FILE = here .. "/../data/train.jsonl"
local MODEL = "gpt-4o-mini-2024-07-18"

local function answer(status, value)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.say(require("openai.finetunes.codec").json_encode(value))
  return ngx.exit(status)
end

-- nil, err from the client -> an error answer with the API's status when there is one
local function fail(err)
  ngx.log(ngx.ERR, "openai-finetunes: ", tostring(err))
  return answer(err.status or 502, { error = { kind = err.kind, message = err.message,
    request_id = err.request_id } })
end

function M.models()
  local page, err = client:models()
  if not page then return fail(err) end
  local ids = {}
  for i, m in ipairs(page.data) do ids[i] = m.id end
  return answer(200, { models = ids })
end

function M.job(id)
  local job, err = client:job(id)
  if not job then return fail(err) end
  return answer(200, job)
end

function M.finetune()
  local file, err = client:upload_file({ file = TRAINING_FILE, purpose = "fine-tune" })
  if not file then return fail(err) end
  file, err = client:wait_for_file(file.id, { poll_interval = 0.5, timeout = 120 })
  if not file then return fail(err) end
  local job
  job, err = client:create_job({ model = MODEL, training_file = file.id, suffix = "openresty" })
  if not job then return fail(err) end

  -- Follow the job to its end. Every poll yields to nginx, and so does the
  -- sleep between polls (the transport's ngx.sleep): the worker keeps serving.
  local events = {}
  job, err = client:wait_for_job(job.id, {
    poll_interval = 0.5, timeout = 300,
    on_event = function(e)
      events[#events + 1] = e.message
      ngx.log(ngx.INFO, job.id, ": ", e.message)
    end,
  })
  if not job then return fail(err) end
  return answer(200, { job = job.id, status = job.status, fine_tuned_model = job.fine_tuned_model,
    training_file = file.id, events = #events, last_event = events[#events] })
end

-- init_worker_by_lua cannot use cosockets (a call there answers nil, err
-- saying so): do the startup check from a timer instead.
local startup = { status = "pending" }

function M.init_worker()
  if ngx.worker.id() ~= 0 then return end
  local ok, err = ngx.timer.at(0, function(premature)
    if premature then return end
    local page, cerr = client:models()
    startup = page and { status = "ok", models = #page.data } or { status = "error", error = tostring(cerr) }
    ngx.log(page and ngx.INFO or ngx.ERR, "openai-finetunes startup check: ", startup.status)
  end)
  if not ok then ngx.log(ngx.ERR, "cannot schedule the startup check: ", err) end
end

function M.health()
  return answer(200, { worker = ngx.worker.id(), startup = startup })
end

return M
