-- The control API under /_fake/ (no auth, never logged): request log, reset, faults,
-- clock, outcome of the next job or file, the accepted Azure token, state, shutdown.
-- Documented in README.md. Answers look the same in OpenAI and Azure mode.
local http = require("openai.finetunes.fake.http")
local json = require("openai.finetunes.fake.json")
local errors = require("openai.finetunes.fake.errors")
local util = require("openai.finetunes.fake.util")

local M = {}

local function bad(msg)
  return { status = 400, body = errors.new(400, msg, "invalid_request_error") }
end

local function ok(body)
  return { status = 200, body = body or { ok = true } }
end

local function read_json(server, req)
  local reader = http.body_reader(req)
  local body, err = reader:read_all(server.MAX_JSON_BODY)
  if not body then return nil, "cannot read body: " .. tostring(err) end
  if body:match("^%s*$") then return {} end
  local v, derr = json.decode(body)
  if v == nil then return nil, "invalid JSON: " .. tostring(derr) end
  return v
end

local handlers = {}

handlers["GET /_fake/requests"] = function(server, req)
  local q = util.decode_query(req.query_string)
  local since = tonumber(q.since)
  local log = server.log
  if q.last then
    since = math.max(0, log.next_seq - 1 - (tonumber(q.last) or 0))
  end
  return { status = 200, body = log:to_json(since, tonumber(q.limit), q.path ~= "" and q.path or nil) }
end

handlers["DELETE /_fake/requests"] = function(server)
  server.log:clear()
  return ok()
end

handlers["POST /_fake/reset"] = function(server, _, body)
  server.store:reset()
  server.faults:clear()
  server.log:clear(true)
  server.clock:set_speed(tonumber(body.speed) or tonumber(server.opts.speed) or 1)
  server.mode:reset()
  server.training_unavailable = server.opts.training_unavailable and true or false
  return ok()
end

handlers["GET /_fake/faults"] = function(server)
  return ok(server.faults:list())
end

handlers["DELETE /_fake/faults"] = function(server)
  server.faults:clear()
  return ok()
end

handlers["POST /_fake/faults"] = function(server, _, body)
  local rules = body
  if not json.is_array(body) then
    rules = body.rules or { body }
  end
  local added = json.array()
  for _, rule in ipairs(rules) do
    local r, err = server.faults:add(rule)
    if not r then return bad(err) end
    added[#added + 1] = r.id
  end
  return ok({ ok = true, ids = added, rules = server.faults:list() })
end

handlers["GET /_fake/clock"] = function(server)
  return ok(server.clock:state())
end

handlers["POST /_fake/clock"] = function(server, _, body)
  if body.speed ~= nil then
    local s = tonumber(body.speed)
    if not s or s <= 0 then return bad("speed must be a positive number") end
    server.clock:set_speed(s)
  end
  if body.advance ~= nil then
    local a = tonumber(body.advance)
    if not a or a < 0 then return bad("advance must be a number of seconds >= 0") end
    server.clock:advance(a)
  end
  return ok(server.clock:state())
end

handlers["POST /_fake/next_job"] = function(server, _, body)
  local jobs = require("openai.finetunes.fake.jobs")
  local spec, err = jobs.check_plan(body)
  if not spec then return bad(err) end
  server.store.next_job = spec
  return ok()
end

-- {"max_active": N}: job creates beyond N active jobs get the API's 429 (routes/jobs.lua);
-- {"max_active": null} or {} lifts the limit.
handlers["POST /_fake/job_limit"] = function(server, _, body)
  local n = body.max_active
  if n ~= nil and n ~= json.null and (type(n) ~= "number" or n < 0 or n ~= math.floor(n)) then
    return bad("max_active must be an integer >= 0 or null")
  end
  server.store.job_limit = (n ~= json.null) and n or nil
  return ok()
end

handlers["POST /_fake/next_file"] = function(server, _, body)
  local nf = {
    status = body.status, status_details = body.status_details,
    ready_after = tonumber(body.ready_after), final_status = body.final_status,
    final_status_details = body.final_status_details,
  }
  if nf.status and type(nf.status) ~= "string" then return bad("status must be a string") end
  server.store.next_file = nf
  return ok()
end

-- {"token": "NEW"}: only NEW is accepted as a bearer token from now on, so a spec can
-- make the token a client holds expire. Never echoed back.
handlers["POST /_fake/ad_token"] = function(server, _, body)
  if not server.mode.set_ad_token then return bad("the server is not in azure mode (start it with --azure)") end
  local token = body.token
  if type(token) ~= "string" or not token:match("^%S+$") then
    return bad("token must be a non-empty string without spaces")
  end
  server.mode:set_ad_token(token)
  return ok()
end

-- {"available": false}: job creation answers 403 training_not_available from now on
-- (what OpenAI answers organisations its wind-down excludes); true lifts it.
handlers["POST /_fake/training"] = function(server, _, body)
  if type(body.available) ~= "boolean" then return bad("available must be true or false") end
  server.training_unavailable = not body.available
  return ok({ ok = true, available = body.available })
end

handlers["GET /_fake/state"] = function(server)
  local s = server.store
  local state = {
    pid = server.pid, port = server.port, base_url = server.base_url, data_dir = server.data_dir,
    endpoint = server.endpoint, mode = server.mode.name, training_available = not server.training_unavailable,
    connections_open = server.open_conns, connections_total = server.conn_seq,
    requests_logged = server.log.next_seq - 1,
    files = #s.files.list, uploads = #s.uploads.list, jobs = #s.jobs.list, models = #s.models.list,
    clock = server.clock:state(), faults = #server.faults.rules,
    uptime = require("socket").gettime() - server.started_at,
  }
  for k, v in pairs(server.mode:state()) do state[k] = v end
  return ok(state)
end

handlers["GET /_fake/health"] = function()
  return ok()
end

handlers["POST /_fake/shutdown"] = function(server)
  server:stop()
  return ok()
end

-- the webhook deliveries' control calls live with them
for key, h in pairs(require("openai.finetunes.fake.webhooks").control) do handlers[key] = h end

function M.handle(server, conn, req)
  local key = req.method .. " " .. req.path:gsub("/+$", "")
  local h = handlers[key]
  local res
  if not h then
    local known = false
    for k in pairs(handlers) do
      if k:match("^%u+ (.*)$") == req.path then known = true end
    end
    res = { status = known and 405 or 404, body = errors.new(known and 405 or 404,
      "Unknown control endpoint: " .. req.method .. " " .. req.path) }
    return server:reject(conn, req, res)
  end
  local body = {}
  if req.method == "POST" then
    local err
    body, err = read_json(server, req)
    if not body then
      req.keep_alive = false
      return server:send(conn, req, bad(err))
    end
    if type(body) ~= "table" or body == json.null then
      return server:send(conn, req, bad("the body must be a JSON object"))
    end
  end
  res = h(server, req, body)
  if type(res.body) == "string" then
    res.content_type = "application/json"
  end
  return server:send(conn, req, res)
end

return M
