-- examples/openresty/webhook_receiver.lua inside a real nginx (Debian nginx +
-- lua-nginx-module, LuaJIT), driven by the fake server's deliveries: verified events
-- get 200 and reach the application (a timer) and the shared dict; forged, stale,
-- truncated, replayed and oversized ones do not; wait_for_job inside nginx takes the
-- final event from the dict and fetches the job once.
local ft = require("openai.finetunes")
local codec = require("openai.finetunes.codec")
local openresty = require("spec.support.openresty")
local H = require("spec.support.client_helper")
local socket = require("socket")

local SUCCEEDED, FAILED, CANCELLED = "fine_tuning.job.succeeded", "fine_tuning.job.failed",
  "fine_tuning.job.cancelled"

-- The example nginx.conf's locations (examples/openresty/nginx.conf), as they are there.
local SERVER = [[
    location = /openai/webhooks {
      client_body_buffer_size 1m;
      client_max_body_size 5m;
      content_by_lua_block { require("webhook_receiver").receive() }
    }
    location ~ ^/openai/jobs/([A-Za-z0-9_-]+)/wait$ {
      content_by_lua_block { require("webhook_receiver").wait(ngx.var[1]) }
    }
    location = /openai/webhooks/seen { content_by_lua_block { require("webhook_receiver").seen() } }
]]

-- POST body with headers to nginx: status, body
local function post(url, headers, body)
  local host, port, path = url:match("^http://([^:/]+):(%d+)(.*)$")
  local s = socket.tcp()
  s:settimeout(10)
  assert(s:connect(host, tonumber(port)))
  local lines = { "POST " .. path .. " HTTP/1.1", "Host: " .. host, "Connection: close",
    "Content-Length: " .. #body }
  for _, kv in ipairs(headers) do lines[#lines + 1] = kv[1] .. ": " .. kv[2] end
  s:send(table.concat(lines, "\r\n") .. "\r\n\r\n" .. body)
  local data = s:receive("*a")
  s:close()
  local status = tonumber(data:match("^HTTP/1%.1 (%d+)"))
  return status, data:match("\r\n\r\n(.*)$")
end

describe("the OpenResty webhook receiver", function()
  local server, c, srv, ep, key

  local function seen()
    local status, body = openresty.get(srv:url("/openai/webhooks/seen"), 5)
    assert.equal(200, status)
    return codec.json_decode(body).events_seen
  end

  local function until_seen(n, seconds)
    local deadline = socket.gettime() + (seconds or 15)
    while seen() < n do
      assert(socket.gettime() < deadline, "the application saw " .. seen() .. " events, not " .. n)
      socket.sleep(0.05)
    end
  end

  local function signed(body, id, ts)
    ts = tostring(ts or os.time())
    return { { "webhook-id", id }, { "webhook-timestamp", ts },
      { "webhook-signature", "v1," .. codec.base64_encode(codec.hmac_sha256(key, id .. "." .. ts .. "." .. body)) },
      { "Content-Type", "application/json" } }
  end

  setup(function()
    server = H.start()
    server:reset()
    c = H.client(server)
    ep = assert(c:create_webhook_endpoint{ url = "http://127.0.0.1:9/openai/webhooks", name = "nginx",
      event_types = ft.array{ SUCCEEDED, FAILED, CANCELLED } })
    key = codec.base64_decode(ep.signing_secret:sub(7))
    srv = openresty.start{
      http = ([[
  lua_shared_dict openai_webhooks 10m;
  init_worker_by_lua_block {
    require("webhook_receiver").configure{ secret = %q, api_key = %q, base_url = %q }
  }
]]):format(ep.signing_secret, H.API_KEY, server.base_url),
      server = SERVER,
    }
    assert(c:update_webhook_endpoint(ep.id, { url = srv:url("/openai/webhooks") }))
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  it("answers the fake's test event 200 and hands it to the application", function()
    local r = assert(c:test_webhook_endpoint(ep.id, { event_type = SUCCEEDED }))
    assert.equal(200, r.status_code)
    until_seen(1)
  end)

  it("receives every final job event, stores it for wait_for_job, which fetches the job once", function()
    local before = seen()
    local ids = {}
    ids[1] = assert(c:create_job{ model = H.MODEL, training_file = H.training_file(c).id }).id
    server:next_job{ outcome = "failed" }
    ids[2] = assert(c:create_job{ model = H.MODEL, training_file = H.training_file(c).id }).id
    server:next_job{ steps = 100000, step_seconds = 100 }
    ids[3] = assert(c:create_job{ model = H.MODEL, training_file = H.training_file(c).id }).id
    assert(c:cancel_job(ids[3]))
    local mark = server:mark()
    server:advance(3600)
    until_seen(before + 3)
    for _, d in ipairs(server:control("GET", "/_fake/webhook_deliveries?status=delivered").data) do
      assert.equal(200, d.attempts[#d.attempts].status_code)
      -- answered at once: the application's work runs after the answer
      assert.is_true(d.attempts[#d.attempts].duration_ms < 1000)
    end
    local want = { "succeeded", "failed", "cancelled" }
    for i, id in ipairs(ids) do
      local status, body = openresty.get(srv:url("/openai/jobs/" .. id .. "/wait"), 30)
      assert.equal(200, status, body)
      local got = codec.json_decode(body)
      assert.equal(id, got.id)
      assert.equal(want[i], got.status)
    end
    -- nginx asked for each job once, and nothing else
    local reqs = server:requests{ since = mark }
    assert.equal(3, #reqs)
    for i, r in ipairs(reqs) do assert.equal("/v1/fine_tuning/jobs/" .. ids[i], r.path) end
  end)

  it("refuses forged, stale, truncated and oversized deliveries; a replay gets 200 but is not handed on again",
    function()
      local url = srv:url("/openai/webhooks")
      local body = codec.json_encode{ id = "evt_spec", object = "event", created_at = os.time(), type = SUCCEEDED,
        data = { id = "ftjob-spec" } }
      local before = seen()
      -- forged: signed with another key
      local h = signed(body, "wh_forged")
      h[3][2] = "v1," .. codec.base64_encode(codec.hmac_sha256("other key", "x"))
      local status, answer = post(url, h, body)
      assert.equal(400, status)
      assert.matches("does not match", answer)
      -- stale
      status, answer = post(url, signed(body, "wh_stale", os.time() - 3600), body)
      assert.equal(400, status)
      assert.matches("too old", answer)
      -- truncated: the signature of the whole body over a shorter one
      h = signed(body, "wh_cut")
      status = post(url, h, body:sub(1, -5))
      assert.equal(400, status)
      -- no signature at all
      status, answer = post(url, { { "webhook-id", "wh_x" }, { "webhook-timestamp", tostring(os.time()) } }, body)
      assert.equal(400, status)
      assert.matches("Missing required header: webhook%-signature", answer)
      -- oversized: nginx itself refuses above client_max_body_size
      local big = string.rep("x", 6 * 1024 * 1024)
      status = post(url, signed(big, "wh_big"), big)
      assert.equal(413, status)
      -- a 1 MB event verifies (the body stays in memory: client_body_buffer_size)
      local mb = codec.json_encode{ id = "evt_mb", object = "event", created_at = os.time(), type = "batch.completed",
        data = { id = "batch_1", pad = string.rep("p", 1000000) } }
      assert.equal(200, (post(url, signed(mb, "wh_mb"), mb)))
      -- valid, then the same delivery again
      assert.equal(200, (post(url, signed(body, "wh_once"), body)))
      assert.equal(200, (post(url, signed(body, "wh_once"), body)))
      until_seen(before + 2)
      socket.sleep(0.2)
      assert.equal(before + 2, seen())
      -- the secret never reaches nginx's log
      assert.not_matches(ep.signing_secret:sub(7), srv:error_log(), 1, true)
      assert.matches("refused a webhook delivery: webhook error %(no_valid_signature%)", srv:error_log())
    end)

  it("leaves no Lua errors in nginx's error log", function()
    for line in srv:error_log():gmatch("[^\n]+") do
      -- nginx's own line for the 413 above is expected
      if line:find("[error]", 1, true) and not line:find("client intended to send too large body", 1, true) then
        error(line)
      end
      assert.is_nil(line:find("[alert]", 1, true), line)
    end
  end)
end)
