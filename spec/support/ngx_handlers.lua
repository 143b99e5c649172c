-- Code that runs inside the nginx started by spec/ngx_spec.lua (LuaJIT, cosockets).
-- luacheck: std +ngx_lua
--
--   backend(): small HTTP endpoints the transport talks to (/backend/...)
--   case():    /case/<name> runs one transport check and answers JSON
--   phases:    calls made where cosockets are disabled, results kept in a shared dict
--
-- Answers are encoded with the C core's own JSON encoder, built for LuaJIT:
-- that the core loads and serves here is part of what the spec checks.
local codec = require("openai.finetunes.codec")
local ngx_transport = require("openai.finetunes.transport.ngx")
local multipart = require("openai.finetunes.transport.multipart")

local M = {}

local KEY = "sk-ngx-spec-0123456789"

local function reply(status, t)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.say(codec.json_encode(t))
end

local function self_url(path)
  return "http://127.0.0.1:" .. ngx.var.server_port .. path
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function new_transport(opts)
  opts = opts or {}
  opts.api_key = opts.api_key or KEY
  return ngx_transport.new(opts)
end

local function err_table(err)
  if not err then return nil end
  return { kind = err.kind, message = err.message }
end

-- Backend endpoints ----------------------------------------------------------

local backend = {}

-- What the server saw: request line, headers, body digest, connection serial.
function backend.echo()
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if not body then
    local file = ngx.req.get_body_file()
    body = file and read_file(file) or ""
  end
  local raw = ngx.req.raw_header(false)
  reply(tonumber(ngx.var.arg_status) or 200, {
    request_line = raw:match("^([^\r\n]*)"),
    scheme = ngx.var.scheme,
    method = ngx.req.get_method(),
    headers = ngx.req.get_headers(),
    body_md5 = ngx.md5(body),
    body_length = #body,
    body = #body <= 4096 and body or nil,
    connection = tonumber(ngx.var.connection),
    connection_requests = tonumber(ngx.var.connection_requests),
  })
end

-- A chunked answer: nginx streams each flushed piece as one chunk.
function backend.chunked()
  ngx.header["Content-Type"] = "text/plain"
  for i = 1, 5 do
    ngx.print(string.rep(tostring(i), 1000 * i))
    ngx.flush(true)
  end
end

function backend.bytes()
  local n = tonumber(ngx.var.arg_n) or 1000
  local parts = {}
  for i = 1, n do parts[i] = string.char(i % 256) end
  ngx.header["Content-Type"] = "application/octet-stream"
  ngx.print(table.concat(parts))
end

function backend.slow()
  ngx.sleep(tonumber(ngx.var.arg_delay) or 1)
  reply(200, { slept = true })
end

-- Answers written byte by byte on the raw client socket (framings nginx's own
-- response code would never produce).
local RAW = {
  close_delimited = "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nConnection: close\r\n\r\nstep,loss\n1,0.5\n",
  truncated = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"partial\":",
  garbage = "this is not HTTP\r\n\r\n",
  -- promises keep-alive, then hangs up (after a pause: the client has pooled the
  -- connection and sent its next request on it by then)
  keepalive_then_close = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
}

function backend.raw()
  local sock = ngx.req.socket(true)
  sock:send(RAW[ngx.var.arg_kind] or RAW.garbage)
  if ngx.var.arg_kind == "keepalive_then_close" then ngx.sleep(0.1) end
  ngx.exit(ngx.HTTP_OK) -- the raw socket is closed when the request ends
end

-- 503 with retry-after-ms for the first `n` calls of a key, then 200.
function backend.flaky()
  local dict = ngx.shared.oft_spec
  local key = "flaky:" .. (ngx.var.http_x_key or "")
  local n = dict:incr(key, 1, 0)
  if n <= (tonumber(ngx.var.arg_fail) or 1) then
    ngx.header["retry-after-ms"] = ngx.var.arg_wait_ms or "200"
    return reply(503, { error = { message = "try again", type = "server_error" } })
  end
  reply(200, { id = "ok", calls = n })
end

function M.backend()
  local name = ngx.var.uri:match("^/backend/([%w_]+)")
  local fn = backend[name]
  if not fn then return reply(404, { error = { message = "no backend " .. tostring(name) } }) end
  return fn()
end

-- Cases ------------------------------------------------------------------------

local cases = {}

function cases.auth()
  local t = new_transport()
  local _, override_err = t:request({ method = "GET", url = self_url("/backend/echo"),
    headers = { Authorization = "Bearer not-this-one" } })
  local res, err = t:request({ method = "GET", url = self_url("/backend/echo"), headers = { ["X-Custom"] = "1" } })
  if not res then return { err = err_table(err) } end
  local seen = codec.json_decode(res.body)
  local fields = {}
  for k, v in pairs(t) do fields[#fields + 1] = tostring(k) .. "=" .. tostring(v) end
  local visible = tostring(t) .. " " .. table.concat(fields, " ")
  return {
    status = res.status,
    http_version = res.http_version,
    authorization = seen.headers.authorization,
    custom = seen.headers["x-custom"],
    host = seen.headers.host,
    request_line = seen.request_line,
    key_visible = visible:find(KEY, 1, true) ~= nil,
    content_type = res.headers["content-type"],
    override_err = err_table(override_err),
  }
end

function cases.keepalive()
  local t = new_transport()
  local conns = {}
  for i = 1, 3 do
    local res, err = t:request({ method = "GET", url = self_url("/backend/echo?i=" .. i) })
    if not res then return { err = err_table(err) } end
    conns[i] = codec.json_decode(res.body).connection
  end
  -- a truncated answer must close the connection, and the next call gets a fresh one
  local bad, berr = t:request({ method = "GET", url = self_url("/backend/raw?kind=truncated") })
  local res = assert(t:request({ method = "GET", url = self_url("/backend/echo?i=4") }))
  conns[4] = codec.json_decode(res.body).connection
  res = assert(t:request({ method = "GET", url = self_url("/backend/echo?i=5") }))
  conns[5] = codec.json_decode(res.body).connection
  -- a server that closed a pooled connection: the POST is not sent again behind the
  -- caller's back (the retry policy decides); the next call gets another connection
  local first = assert(t:request({ method = "GET", url = self_url("/backend/raw?kind=keepalive_then_close") }))
  local stale, aerr = t:request({ method = "POST", url = self_url("/backend/echo"), body = "again" })
  local after = t:request({ method = "POST", url = self_url("/backend/echo"), body = "again" })
  return { connections = conns, truncated_res = bad ~= nil, truncated_err = err_table(berr),
    stale_first = first.body, stale_res = stale ~= nil, stale_err = err_table(aerr),
    stale_after = after and codec.json_decode(after.body).body }
end

function cases.framing()
  local t = new_transport()
  local out = {}
  local res, err = t:request({ method = "GET", url = self_url("/backend/chunked") })
  if not res then return { err = err_table(err) } end
  local expected = {}
  for i = 1, 5 do expected[i] = string.rep(tostring(i), 1000 * i) end
  out.chunked_ok = res.body == table.concat(expected)
  out.chunked_te = res.headers["transfer-encoding"]
  res, err = t:request({ method = "GET", url = self_url("/backend/raw?kind=close_delimited") })
  out.close_delimited = res and res.body or err_table(err)
  res, err = t:request({ method = "GET", url = self_url("/backend/raw?kind=garbage") })
  out.garbage = res and res.status or err_table(err)
  res, err = t:request({ method = "GET", url = self_url("/backend/echo?status=404") })
  out.not_found_status = res and res.status or err_table(err)
  res, err = t:request({ method = "GET", url = self_url("/backend/bytes?n=5000"), max_response_bytes = 100 })
  out.too_large = res and res.status or err_table(err)
  res, err = t:request({ method = "GET", url = "http://127.0.0.1:1/nothing" })
  out.refused = res and res.status or err_table(err)
  res, err = t:request({ method = "GET", url = "http://no-such-host.invalid/x" })
  out.unresolvable = res and res.status or err_table(err)
  res, err = t:request({ method = "GET", url = "ftp://127.0.0.1/x" })
  out.bad_scheme = res and res.status or err_table(err)
  res, err = t:request({ method = "GET", url = self_url("/backend/echo"), headers = { ["X-Evil"] = "a\r\nB: c" } })
  out.header_injection = res and res.status or err_table(err)
  return out
end

function cases.timeout()
  local t = new_transport({ timeout = 5 })
  local t0 = ngx.now()
  local res, err = t:request({ method = "GET", url = self_url("/backend/slow?delay=2"), timeout = 0.3 })
  ngx.update_time()
  local elapsed = ngx.now() - t0
  local after = t:request({ method = "GET", url = self_url("/backend/echo") })
  local idle_res, idle_err = t:request({ method = "GET", url = self_url("/backend/slow?delay=2"), idle_timeout = 0.3 })
  return {
    res = res ~= nil, err = err_table(err), elapsed = elapsed,
    next_status = after and after.status,
    idle_res = idle_res ~= nil, idle_err = err_table(idle_err),
  }
end

function cases.multipart()
  local t = new_transport()
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  for i = 1, 3000 do f:write(string.format('{"messages":[{"role":"user","content":"line %d"}]}\n', i)) end
  f:close()
  local spec = {
    fields = { purpose = "fine-tune" },
    file = { field = "file", path = path, filename = "train.jsonl", content_type = "application/jsonl" },
  }
  local progress_calls, last = 0, nil
  local res, err = t:request({ method = "POST", url = self_url("/backend/echo"), multipart = spec,
    headers = { ["Content-Type"] = "application/json" },
    progress = function(dltotal, dlnow, ultotal, ulnow)
      progress_calls = progress_calls + 1
      last = { dltotal, dlnow, ultotal, ulnow }
    end })
  if not res then os.remove(path); return { err = err_table(err) } end
  local seen = codec.json_decode(res.body)
  local boundary = seen.headers["content-type"]:match("boundary=(.+)$")
  local expected = assert(multipart.new(spec, boundary)):read_all()
  os.remove(path)
  return {
    content_type = seen.headers["content-type"],
    content_length = tonumber(seen.headers["content-length"]),
    body_length = seen.body_length,
    expected_length = #expected,
    same_bytes = seen.body_md5 == ngx.md5(expected),
    progress_calls = progress_calls,
    last_progress = last,
  }
end

function cases.progress()
  local t = new_transport()
  local url = self_url("/backend/bytes?n=200000")
  local res, err = t:request({ method = "GET", url = url, progress = function() return false end })
  local out = { stopped_res = res ~= nil, stopped_err = err_table(err) }
  local ok, raised = pcall(t.request, t, { method = "GET", url = url,
    progress = function() error({ code = "boom" }) end })
  out.raised_ok, out.raised_code = ok, type(raised) == "table" and raised.code or tostring(raised)
  res = t:request({ method = "GET", url = url })
  out.after_status, out.after_bytes = res and res.status, res and #res.body
  return out
end

function cases.json_post()
  local t = new_transport()
  local body = codec.json_encode({ model = "gpt-4o-mini", training_file = "file-abc" })
  local res, err = t:request({ method = "POST", url = self_url("/backend/echo"), body = body,
    headers = { ["Content-Type"] = "application/json" } })
  if not res then return { err = err_table(err) } end
  local seen = codec.json_decode(res.body)
  local empty = assert(t:request({ method = "POST", url = self_url("/backend/echo") }))
  return {
    body = seen.body, content_length = seen.headers["content-length"], content_type = seen.headers["content-type"],
    empty_post_length = codec.json_decode(empty.body).headers["content-length"],
  }
end

function cases.sink()
  local t = new_transport()
  local dir = os.tmpname()
  os.remove(dir)
  os.execute("mkdir -p " .. dir)
  local path = dir .. "/out.bin"
  local res, err = t:request({ method = "GET", url = self_url("/backend/bytes?n=300000"), sink = path })
  if not res then return { err = err_table(err) } end
  local content = read_file(path)
  local expected = {}
  for i = 1, 300000 do expected[i] = string.char(i % 256) end
  local out = { bytes_written = res.bytes_written, body_in_memory = res.body ~= nil,
    same = content == table.concat(expected) }
  -- an error status keeps its body in memory and leaves the path alone
  local path2 = dir .. "/missing.bin"
  res = assert(t:request({ method = "GET", url = self_url("/backend/echo?status=404"), sink = path2 }))
  out.error_status, out.error_body, out.error_file = res.status, res.body ~= nil, read_file(path2) ~= nil
  -- a failed transfer leaves neither the file nor a temp file behind
  local path3 = dir .. "/truncated.bin"
  local r3, e3 = t:request({ method = "GET", url = self_url("/backend/raw?kind=truncated"), sink = path3 })
  out.truncated_res, out.truncated_err = r3 ~= nil, err_table(e3)
  local p = io.popen("ls -A " .. dir)
  out.files = p:read("*a")
  p:close()
  os.execute("rm -rf " .. dir)
  return out
end

function cases.proxy_http()
  -- nginx itself stands in for a forward proxy: it accepts absolute-form targets
  local t = new_transport({ proxy = { url = "http://u%40x:p%3Aw@127.0.0.1:" .. ngx.var.server_port } })
  local res, err = t:request({ method = "GET", url = "http://upstream.invalid:8080/backend/echo?q=1" })
  if not res then return { err = err_table(err) } end
  local seen = codec.json_decode(res.body)
  local bypass = new_transport({ proxy = { url = "http://127.0.0.1:1", no_proxy = "localhost, 127.0.0.1" } })
  local direct, derr = bypass:request({ method = "GET", url = self_url("/backend/echo") })
  return {
    request_line = seen.request_line,
    proxy_authorization = seen.headers["proxy-authorization"],
    expected_authorization = "Basic " .. ngx.encode_base64("u@x:p:w"),
    host = seen.headers.host,
    no_proxy_status = direct and direct.status, no_proxy_err = err_table(derr),
  }
end

function cases.proxy_connect()
  local port = tonumber(ngx.var.arg_proxy_port)
  local tls_port = tonumber(ngx.var.arg_tls_port)
  local t = new_transport({ proxy = { url = "http://127.0.0.1:" .. port, username = "user", password = "secret" } })
  local url = "https://localhost:" .. tls_port .. "/backend/echo"
  local res, err = t:request({ method = "GET", url = url })
  if not res then return { err = err_table(err) } end
  local seen = codec.json_decode(res.body)
  local res2 = assert(t:request({ method = "GET", url = url }))
  local seen2 = codec.json_decode(res2.body)
  local denied = new_transport({ proxy = { url = "http://127.0.0.1:" .. port, username = "user", password = "no" } })
  local _, derr = denied:request({ method = "GET", url = url })
  return {
    status = res.status, scheme = seen.scheme, same_tunnel = seen.connection == seen2.connection,
    denied_err = err_table(derr),
  }
end

function cases.tls()
  local tls_port = tonumber(ngx.var.arg_tls_port)
  local url = "https://localhost:" .. tls_port .. "/backend/echo"
  local out = {}
  local t = new_transport()
  local res, err = t:request({ method = "GET", url = url })
  out.verified_status = res and res.status
  out.verified_err = err_table(err)
  if res then out.verified_scheme = codec.json_decode(res.body).scheme end
  local wrong = new_transport({ tls = { server_name = "wrong.example" } })
  res, err = wrong:request({ method = "GET", url = url })
  out.wrong_name_status, out.wrong_name_err = res and res.status, err_table(err)
  local unverified = new_transport({ tls = { verify = false, server_name = "wrong.example" } })
  res, err = unverified:request({ method = "GET", url = url })
  out.unverified_status, out.unverified_err = res and res.status, err_table(err)
  return out
end

function cases.sleep_now()
  local t = new_transport()
  ngx.update_time()
  local t0 = t:now()
  t:sleep(0.2)
  ngx.update_time()
  return { elapsed = t:now() - t0 }
end

function cases.concurrent()
  local t = new_transport()
  ngx.update_time()
  local t0 = ngx.now()
  local ids = {}
  for i = 1, 4 do ids[i] = t:start({ method = "GET", url = self_url("/backend/slow?delay=0.3") }) end
  local done = {}
  while t:pending() > 0 do
    for _, c in ipairs(t:poll(5)) do done[#done + 1] = { id = c.id, status = c.res and c.res.status } end
  end
  ngx.update_time()
  local empty = t:poll(0.05)
  return { done = done, elapsed = ngx.now() - t0, ids = ids, empty_poll = #empty }
end

function cases.retry()
  -- the client's retry loop, over this transport: waits with ngx.sleep
  local ft = require("openai.finetunes")
  local slept = {}
  local real_sleep = ngx.sleep
  ngx.sleep = function(s) slept[#slept + 1] = s; return real_sleep(s) end -- luacheck: ignore 122
  local client = ft.new({ api_key = KEY, base_url = self_url("/backend/flaky"), max_retries = 2 })
  local transport_name = tostring(client._transport and client:_transport())
  local key = tostring(ngx.now()) .. math.random()
  local res, meta = client:model("x", { headers = { ["X-Key"] = key } })
  ngx.sleep = real_sleep -- luacheck: ignore 122
  return { transport = transport_name, res = res, attempts = meta and meta.attempts,
    err = meta and not res and tostring(meta) or nil, slept = slept }
end

-- The whole workflow through the public client, as an OpenResty handler would
-- run it: upload, create a job, wait for it (following events), list, delete.
-- The shared dict tells the spec when this handler is waiting on the job.
local function training_file()
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  for i = 1, 12 do
    f:write(codec.json_encode({ messages = {
      { role = "system", content = "You answer in one word." },
      { role = "user", content = "Say number " .. i },
      { role = "assistant", content = tostring(i) },
    } }), "\n")
  end
  f:close()
  return path
end

function cases.workflow()
  local ft = require("openai.finetunes")
  local dict = ngx.shared.oft_spec
  local client = ft.new({ api_key = KEY, base_url = ngx.var.fake_base_url, max_retries = 2 })
  local out = { transport = tostring(client:_transport()) }
  local function step(name, res, err)
    if not res then error(name .. ": " .. tostring(err), 0) end
    return res
  end

  local path = training_file()
  local original = read_file(path)
  local file = step("upload_file", client:upload_file({ file = path, purpose = "fine-tune",
    filename = "train.jsonl" }))
  os.remove(path)
  file = step("wait_for_file", client:wait_for_file(file.id, { poll_interval = 0.1, timeout = 30 }))
  out.file_status, out.file_bytes, out.filename = file.status, file.bytes, file.filename
  -- the bytes come back identical, in memory and streamed to a file
  out.content_same = step("file_content", client:file_content(file.id)) == original
  local copy = os.tmpname()
  local saved = step("download_file", client:download_file(file.id, copy))
  out.download_same, out.download_bytes = read_file(copy) == original, saved.bytes
  os.remove(copy)

  ngx.update_time()
  local t0 = ngx.now()
  local job, meta = client:create_job({ model = "gpt-4o-mini-2024-07-18", training_file = file.id,
    suffix = "ngx" })
  step("create_job", job, meta)
  ngx.update_time()
  out.create_attempts, out.create_seconds = meta.attempts, ngx.now() - t0

  -- wait, following events: the workflow helper, its sleeps are the transport's ngx.sleep
  dict:set("workflow", "waiting")
  local events, statuses = {}, {}
  job = step("wait_for_job", client:wait_for_job(job.id, {
    poll_interval = 0.1, timeout = 60,
    on_event = function(e) events[#events + 1] = e.message end,
    on_status = function(new) statuses[#statuses + 1] = new end,
  }))
  dict:set("workflow", "done")
  out.status, out.model, out.events, out.statuses = job.status, job.fine_tuned_model, #events, statuses
  out.first_event, out.last_event = events[1], events[#events]

  -- pagination helpers: every event again, across pages of 7, in a generic for
  local paged = 0
  for _ in client:each_event(job.id, { limit = 7 }) do paged = paged + 1 end
  out.paged_events = paged
  for j in client:each_job({ limit = 2 }) do if j.id == job.id then out.listed = true end end
  local checkpoints = step("job_checkpoints", client:job_checkpoints(job.id))
  out.checkpoints = #checkpoints.data
  local model = step("model", client:model(job.fine_tuned_model))
  out.model_owner = model.owned_by
  out.model_deleted = step("delete_model", client:delete_model(job.fine_tuned_model)).deleted
  out.file_deleted = step("delete_file", client:delete_file(file.id)).deleted
  local _, gone = client:file(file.id)
  out.file_gone_status = gone and gone.status
  return out
end

-- The credential in another header (Azure's api-key), and replaced with set_credential.
function cases.credential()
  local t = new_transport({ auth_header = "api-key", auth_scheme = "" })
  local _, override_err = t:request({ method = "GET", url = self_url("/backend/echo"),
    headers = { ["API-Key"] = "not-this-one" } })
  local res, err = t:request({ method = "GET", url = self_url("/backend/echo") })
  if not res then return { err = err_table(err) } end
  local seen = codec.json_decode(res.body).headers
  local bearer = ngx_transport.new({})
  local before = codec.json_decode(assert(bearer:request({ method = "GET", url = self_url("/backend/echo") })).body)
  bearer:set_credential("tok-1")
  local after = codec.json_decode(assert(bearer:request({ method = "GET", url = self_url("/backend/echo") })).body)
  local ok, bad = pcall(bearer.set_credential, bearer, "tok\r\nX: y")
  return {
    api_key = seen["api-key"], authorization = seen.authorization, override_err = err_table(override_err),
    before = before.headers.authorization or "none", after = after.headers.authorization,
    bad_refused = not ok and tostring(bad):find("credential must not contain CR, LF or NUL", 1, true) ~= nil,
  }
end

-- Azure OpenAI (the fake server's Azure mode, dated API) with an Entra token
-- provider, through the public client: the token expires after the upload and
-- the provider still hands out the old one once; the 401 makes the client ask
-- again. Batch runs the same over start/poll (ngx.thread).
function cases.azure()
  local ft = require("openai.finetunes")
  local endpoint = ngx.var.fake_azure_endpoint
  local state = { token = "tok-1", stale = nil, calls = 0 }
  local client = ft.new({ provider = "azure", endpoint = endpoint, api_version = "2024-10-21", max_retries = 0,
    azure_ad_token_provider = function()
      state.calls = state.calls + 1
      if state.stale then
        local t = state.stale
        state.stale = nil
        return t
      end
      return state.token
    end })
  local out = { transport = tostring(client:_transport()) }
  local path = training_file()
  local file, err = client:upload_file({ file = path, purpose = "fine-tune", filename = "train.jsonl" })
  os.remove(path)
  if not file then error("upload_file: " .. tostring(err), 0) end
  -- the service stops taking tok-1 (the fake's control API, over a cosocket)
  local sock = ngx.socket.tcp()
  assert(sock:connect("127.0.0.1", tonumber(endpoint:match(":(%d+)$"))))
  local body = '{"token":"tok-2"}'
  assert(sock:send("POST /_fake/ad_token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    .. "Content-Length: " .. #body .. "\r\nConnection: close\r\n\r\n" .. body))
  sock:receive("*a")
  sock:close()
  state.token, state.stale = "tok-2", "tok-1"
  local got = client:file(file.id)
  out.refreshed_status = got and got.status
  out.calls_after_refresh = state.calls
  state.stale = "tok-1"
  local results, failed = client:batch({ { "file", file.id }, { "files" } })
  out.batch_failed, out.batch_first = failed, results[1][1] and results[1][1].id == file.id
  local deleted = client:delete_file(file.id)
  out.deleted = deleted and deleted.deleted
  local _, gone = client:file(file.id)
  out.gone_status, out.gone_code, out.gone_has_request_id = gone and gone.status, gone and gone.code,
    gone ~= nil and gone.request_id ~= nil
  return out
end

function M.case()
  local name = ngx.var.uri:match("^/case/([%w_]+)")
  local fn = cases[name]
  if not fn then return reply(404, { error = "no case " .. tostring(name) }) end
  local ok, out = pcall(fn)
  if not ok then return reply(500, { error = tostring(out) }) end
  return reply(200, out)
end

-- The conformance cases (spec/transport_conformance_spec.lua) -------------------

function M.conformance()
  local case = require("transport_cases").by_name(ngx.unescape_uri(ngx.var.arg_case or ""))
  if not case then return reply(404, { error = "no case " .. tostring(ngx.var.arg_case) }) end
  local key = ngx.var.api_key
  local env = {
    name = "ngx", KEY = key, fake = ngx.var.fake_base_url, canned = ngx.var.canned_url, dir = ngx.var.conformance_dir,
    now = function() ngx.update_time(); return ngx.now() end,
    transport = function(opts)
      opts = opts or {}
      opts.api_key = opts.api_key or key
      return ngx_transport.new(opts)
    end,
    client = function(opts)
      opts = opts or {}
      opts.api_key, opts.base_url = opts.api_key or key, opts.base_url or ngx.var.fake_base_url
      return require("openai.finetunes").new(opts)
    end,
  }
  local ok, out = pcall(case.run, env)
  if not ok then return reply(500, { error = tostring(out) }) end
  return reply(200, out)
end

-- Calls from phases without cosockets ------------------------------------------

local function try_call(label)
  local dict = ngx.shared.oft_spec
  local ok, res, err = pcall(function()
    local t = new_transport()
    return t:request({ method = "GET", url = "http://127.0.0.1:1/never" })
  end)
  local out
  if not ok then
    out = "raised: " .. tostring(res)
  elseif res then
    out = "answered " .. tostring(res.status)
  else
    out = tostring(err.kind) .. ": " .. tostring(err.message)
  end
  dict:set("phase:" .. label, out)
  return out
end

function M.init_worker()
  try_call("init_worker")
  -- the same call through the public client, as a user would write it
  local ft = require("openai.finetunes")
  local client = ft.new({ api_key = KEY, base_url = "http://127.0.0.1:1/v1", max_retries = 0 })
  local res, err = client:models()
  ngx.shared.oft_spec:set("phase:init_worker_client",
    res and "answered" or (tostring(err.kind) .. ": " .. tostring(err.message)))
end

M.try_call = try_call

function M.phases()
  local dict = ngx.shared.oft_spec
  local out = {}
  for _, p in ipairs({ "init_worker", "init_worker_client", "set", "header_filter", "body_filter", "log" }) do
    out[p] = dict:get("phase:" .. p)
  end
  reply(200, out)
end

return M
