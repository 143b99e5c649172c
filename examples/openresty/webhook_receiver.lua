-- An OpenResty webhook receiver for openai-finetunes (see nginx.conf and README.md,
-- "Receiving webhooks in OpenResty").
--
--   location = /openai/webhooks {
--     client_body_buffer_size 1m;   # keep deliveries in memory
--     client_max_body_size 5m;      # nginx answers 413 above this
--     content_by_lua_block { require("webhook_receiver").receive() }
--   }
--
-- receive() verifies the delivery with ft.unwrap_webhook (pure Lua over the C codec,
-- no cosocket: it would work in any phase), answers 400 to anything that is not a
-- verified event and 200 at once to one that is, closes the request (ngx.eof) and
-- only then hands the event to the application:
--   * a fine-tuning job's final event is stored in the shared dict under
--     "ft-final:<job id>", where ft.webhook_shared_events(dict) finds it, so any
--     worker's wait_for_job(id, {events = ...}) returns without polling;
--   * every first-seen event goes to M.on_event(event) on a zero-delay timer
--     (outside the request: the handler may take its time, use cosockets, fail).
-- A webhook-id seen before (the service retries; a replay within the tolerance
-- verifies again) is answered 200 and not handed on: ft.webhook_replay_guard on the
-- same dict, whose atomic add holds across workers.
--
-- The secret: M.configure{secret = ...} from init_worker_by_lua_block, else
-- $OPENAI_WEBHOOK_SECRET (list it in an `env` directive: nginx clears its workers'
-- environment).
local ft = require("openai.finetunes")
local codec = require("openai.finetunes.codec")

local M = {}

M.DICT = "openai_webhooks"
M.FINAL_TTL = 7 * 24 * 3600 -- keep a job's final event a week

local JOB_FINAL = {
  ["fine_tuning.job.succeeded"] = true, ["fine_tuning.job.failed"] = true, ["fine_tuning.job.cancelled"] = true,
}

local settings = {}

-- configure{secret, tolerance, on_event = fn(event), api_key, base_url}: call from
-- init_worker.
function M.configure(opts)
  for k, v in pairs(opts or {}) do settings[k] = v end
end

-- What the application does with an event (runs in a timer). Replace it with your
-- own, or pass on_event to configure. This one counts and logs.
function M.on_event(event)
  local dict = ngx.shared[M.DICT]
  dict:incr("events_seen", 1, 0)
  ngx.log(ngx.INFO, "webhook event ", event.type, " ", type(event.data) == "table" and event.data.id or "-")
end

local function reply(status, message)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.print(codec.json_encode(message and { error = { message = message } } or { ok = true }))
end

local function request_body()
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if body then return body end
  -- bigger than client_body_buffer_size: nginx kept it in a file
  local path = ngx.req.get_body_file()
  if not path then return "" end
  local f = io.open(path, "rb")
  if not f then return nil end
  body = f:read("*a")
  f:close()
  return body
end

local function hand_on(premature, event)
  if premature then return end
  local handler = settings.on_event or M.on_event
  local ok, err = pcall(handler, event)
  if not ok then ngx.log(ngx.ERR, "webhook handler failed: ", tostring(err)) end
end

function M.receive()
  if ngx.req.get_method() ~= "POST" then
    ngx.header["Allow"] = "POST"
    return reply(405, "webhooks are POSTed")
  end
  local dict = ngx.shared[M.DICT]
  local body = request_body()
  if not body then return reply(400, "the request body could not be read") end
  local headers = ngx.req.get_headers(100)
  local event, err = ft.unwrap_webhook(body, headers, { secret = settings.secret, tolerance = settings.tolerance })
  if not event then
    -- err names the failed check; it never holds the secret
    ngx.log(ngx.WARN, "refused a webhook delivery: ", tostring(err))
    return reply(err.code == "body_too_large" and 413 or 400, err.message)
  end
  local first = ft.webhook_replay_guard{ dict = dict, ttl = M.FINAL_TTL }:first(headers["webhook-id"])
  reply(200)
  ngx.eof() -- the sender has its 2xx; what follows does not delay it
  if not first then return end
  local data = type(event.data) == "table" and event.data or {}
  if JOB_FINAL[event.type] and type(data.id) == "string" then
    dict:set("ft-final:" .. data.id, body, M.FINAL_TTL)
  end
  local ok, terr = ngx.timer.at(0, hand_on, event)
  if not ok then ngx.log(ngx.ERR, "cannot start the webhook handler timer: ", tostring(terr)) end
end

-- The client of M.wait: configure{api_key =, base_url =} or $OPENAI_API_KEY /
-- $OPENAI_BASE_URL (in `env` directives); built on first use, once per worker.
local client
local function get_client()
  if not client then
    client = ft.new{ api_key = settings.api_key, base_url = settings.base_url, max_retries = 3, timeout = 60 }
  end
  return client
end

-- GET /openai/jobs/<id>/wait: the job once its final event is in (any worker
-- received it), fetched with one request; no status polls meanwhile.
function M.wait(id, timeout)
  local job, err = get_client():wait_for_job(id, {
    events = ft.webhook_shared_events(ngx.shared[M.DICT]), timeout = timeout or 60 })
  if not job then
    ngx.status = err.status or 504
    ngx.print(codec.json_encode({ error = { kind = err.kind, code = err.code, message = err.message } }))
    return
  end
  ngx.header["Content-Type"] = "application/json"
  ngx.print(codec.json_encode({ id = job.id, status = job.status, fine_tuned_model = job.fine_tuned_model }))
end

-- GET .../seen: how many events the application got (for run.sh and the spec).
function M.seen()
  ngx.header["Content-Type"] = "application/json"
  ngx.print(codec.json_encode({ events_seen = ngx.shared[M.DICT]:get("events_seen") or 0 }))
end

return M
