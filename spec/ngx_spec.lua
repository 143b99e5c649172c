-- The ngx transport inside a real nginx (Debian nginx + libnginx-mod-http-lua +
-- lua-resty-core, LuaJIT): this spec only starts nginx and talks HTTP to it; the
-- code under test runs in nginx (spec/support/ngx_handlers.lua).
local openresty = require("spec.support.openresty")
local json_decode = require("openai.finetunes.codec").json_decode
local socket = require("socket")

local function get_json(srv, path, timeout)
  local status, body = openresty.get(srv:url(path), timeout)
  assert(status, body)
  local value, err = json_decode(body)
  assert(value ~= nil, "not JSON (" .. tostring(err) .. "): " .. tostring(body))
  assert(status == 200, "HTTP " .. status .. ": " .. body)
  return value
end

local HTTP = [[
  lua_shared_dict oft_spec 1m;
  lua_socket_log_errors off;
  lua_ssl_trusted_certificate %s;
  lua_ssl_verify_depth 2;
  init_worker_by_lua_block { require("ngx_handlers").init_worker() }
]]

local SERVER = [[
    location /backend/ { content_by_lua_block { require("ngx_handlers").backend() } }
    location /case/ { content_by_lua_block { require("ngx_handlers").case() } }
    location = /phases { content_by_lua_block { require("ngx_handlers").phases() } }
    location = /ping { content_by_lua_block { ngx.print(ngx.shared.oft_spec:get("workflow") or "idle") } }
    location = /phase/set {
      set_by_lua_block $phase_result { return require("ngx_handlers").try_call("set") }
      return 200 $phase_result;
    }
    location = /phase/filters {
      content_by_lua_block { ngx.say("filtered") }
      header_filter_by_lua_block { require("ngx_handlers").try_call("header_filter") }
      body_filter_by_lua_block { if ngx.arg[2] then require("ngx_handlers").try_call("body_filter") end }
      log_by_lua_block { require("ngx_handlers").try_call("log") }
    }
]]

describe("ngx transport outside nginx", function()
  local ngx_transport = require("openai.finetunes.transport.ngx")

  it("is not chosen, and says why if asked for", function()
    assert.is_false(ngx_transport.available())
    assert.has_error(function() ngx_transport.new({ api_key = "sk-x" }) end,
      "openai.finetunes.transport.ngx needs nginx with lua-nginx-module (no ngx.socket.tcp here)")
    assert.are.equal(require("openai.finetunes.transport.curl"),
      require("openai.finetunes.client").default_transport_module())
  end)

  it("matches no_proxy entries like curl does", function()
    local bypass = require("openai.finetunes.transport.proxy").bypass
    assert.is_true(bypass("api.openai.com", "openai.com"))
    assert.is_true(bypass("api.openai.com", ".openai.com"))
    assert.is_true(bypass("openai.com", "example.org, openai.com"))
    assert.is_true(bypass("[::1]", "::1"))
    assert.is_true(bypass("[::1]", "[::1]:8080"))
    assert.is_true(bypass("anything", "*"))
    assert.is_true(bypass("localhost", "localhost:8080"))
    assert.is_false(bypass("notopenai.com", "openai.com"))
    assert.is_false(bypass("api.openai.com", ""))
    assert.is_false(bypass("api.openai.com", nil))
  end)
end)

describe("ngx transport in nginx", function()
  local srv, workdir, proxy_pid, proxy_port, fake, azure

  setup(function()
    workdir = os.tmpname()
    os.remove(workdir)
    assert(os.execute("mkdir -p " .. workdir))
    local tls = require("spec.support.certs").self_signed(workdir)
    -- the fake OpenAI server; its job clock runs 4x: a job takes ~2 s of real time
    fake = require("spec.support.fake_server").start({ speed = 4 })
    azure = require("spec.support.fake_server").start({ azure = true, ad_token = "tok-1" })
    srv = openresty.start({ http = HTTP:format(tls.cert), server = SERVER, tls = tls,
      vars = { fake_base_url = fake.base_url, fake_azure_endpoint = azure.endpoint } })
    -- a CONNECT proxy with credentials, for https through a proxy
    local lua = os.getenv("OFT_LUA") or "lua5.4"
    proxy_pid = openresty.spawn(string.format("%s %s/spec/support/connect_proxy.lua %s/proxy.port user:secret",
      lua, openresty.ROOT, workdir))
    for _ = 1, 200 do
      local f = io.open(workdir .. "/proxy.port")
      if f then proxy_port = tonumber(f:read("*l")); f:close(); break end
      socket.sleep(0.02)
    end
    assert(proxy_port, "the CONNECT proxy did not start")
  end)

  teardown(function()
    if srv then srv:stop() end
    openresty.kill(proxy_pid)
    if workdir then os.execute("rm -rf " .. workdir) end
  end)

  it("loads the C core built for LuaJIT and serves its JSON codec", function()
    local out = get_json(srv, "/case/json_post")
    assert.are.equal('{"model":"gpt-4o-mini","training_file":"file-abc"}', out.body)
    assert.are.equal(tostring(#out.body), out.content_length)
    assert.are.equal("application/json", out.content_type)
    assert.are.equal("0", out.empty_post_length)
  end)

  it("adds Authorization itself and never shows the key", function()
    local out = get_json(srv, "/case/auth")
    assert.are.equal(200, out.status)
    assert.are.equal("1.1", out.http_version)
    assert.are.equal("Bearer sk-ngx-spec-0123456789", out.authorization)
    assert.are.equal("1", out.custom)
    assert.are.equal("127.0.0.1:" .. srv.port, out.host)
    assert.are.equal("GET /backend/echo HTTP/1.1", out.request_line)
    assert.is_false(out.key_visible)
    assert.are.equal("application/json", out.content_type)
    assert.are.equal("invalid_request", out.override_err.kind)
  end)

  it("sends the credential in the header it is given, and replaces it with set_credential", function()
    local out = get_json(srv, "/case/credential")
    assert.are.equal("invalid_request", out.override_err.kind)
    assert.are.equal("headers must not set API-Key: the transport adds the credential itself", out.override_err.message)
    assert.are.equal("sk-ngx-spec-0123456789", out.api_key)
    assert.is_nil(out.authorization)
    assert.are.equal("none", out.before)
    assert.are.equal("Bearer tok-1", out.after)
    assert.is_true(out.bad_refused)
  end)

  it("runs Azure OpenAI with a token provider, refreshing after a 401 (request and start/poll)", function()
    azure:reset()
    local out = get_json(srv, "/case/azure")
    assert.are.equal("processed", out.refreshed_status)
    assert.are.equal(3, out.calls_after_refresh)
    assert.are.equal(0, out.batch_failed)
    assert.is_true(out.batch_first)
    assert.is_true(out.deleted)
    assert.are.equal(404, out.gone_status)
    assert.is_true(out.gone_has_request_id)
    local reqs = azure:requests()
    local refused = 0
    for _, r in ipairs(reqs) do
      assert.matches("^/openai/", r.path)
      assert.are.equal("2024-10-21", r.params["api-version"])
      if r.status == 401 then refused = refused + 1 end
    end
    assert.are.equal(2, refused) -- the single call, and the first call of the batch
  end)

  it("keeps connections alive and closes one after a broken answer", function()
    local out = get_json(srv, "/case/keepalive")
    local c = out.connections
    assert.are.equal(c[1], c[2])
    assert.are.equal(c[2], c[3])
    assert.is_false(out.truncated_res)
    assert.are.equal("io", out.truncated_err.kind)
    assert.matches("body bytes missing", out.truncated_err.message)
    assert.are_not.equal(c[3], c[4])
    assert.are.equal(c[4], c[5])
    assert.are.equal("ok", out.stale_first)
    assert.is_false(out.stale_res) -- not re-sent behind the retry policy (spec/resend_spec.lua)
    assert.are.equal("io", out.stale_err.kind)
    assert.are.equal("again", out.stale_after)
  end)

  it("reads chunked and close-delimited answers and maps failures to error kinds", function()
    local out = get_json(srv, "/case/framing")
    assert.is_true(out.chunked_ok)
    assert.are.equal("chunked", out.chunked_te)
    assert.are.equal("step,loss\n1,0.5\n", out.close_delimited)
    assert.are.equal("invalid_response", out.garbage.kind)
    assert.matches("malformed status line", out.garbage.message)
    assert.are.equal(404, out.not_found_status)
    assert.are.equal("too_large", out.too_large.kind)
    assert.are.equal("connect", out.refused.kind)
    assert.are.equal("dns", out.unresolvable.kind)
    assert.matches("resolver", out.unresolvable.message)
    assert.are.equal("invalid_request", out.bad_scheme.kind)
    assert.are.equal("invalid_request", out.header_injection.kind)
  end)

  it("applies total and idle timeouts, and the next call works on a fresh connection", function()
    local out = get_json(srv, "/case/timeout")
    assert.is_false(out.res)
    assert.are.equal("timeout", out.err.kind)
    assert.is_true(out.elapsed >= 0.25 and out.elapsed < 1, "elapsed " .. out.elapsed)
    assert.are.equal(200, out.next_status)
    assert.is_false(out.idle_res)
    assert.are.equal("timeout", out.idle_err.kind)
    assert.matches("total timeout of 0.3 s", out.err.message, 1, true)
    assert.matches("no data sent or received for 0.3 s (idle_timeout)", out.idle_err.message, 1, true)
  end)

  it("streams a multipart upload with a precomputed Content-Length", function()
    local out = get_json(srv, "/case/multipart")
    assert.matches("^multipart/form%-data; boundary=%-+%x+$", out.content_type)
    assert.are.equal(out.expected_length, out.content_length)
    assert.are.equal(out.expected_length, out.body_length)
    assert.is_true(out.same_bytes)
    assert.is_true(out.progress_calls >= 3)
    assert.are.equal(out.expected_length, out.last_progress[3])
    assert.are.equal(out.expected_length, out.last_progress[4])
  end)

  it("stops when the progress callback says so, and re-raises its errors", function()
    local out = get_json(srv, "/case/progress")
    assert.is_false(out.stopped_res)
    assert.are.equal("aborted", out.stopped_err.kind)
    assert.is_false(out.raised_ok)
    assert.are.equal("boom", out.raised_code)
    assert.are.equal(200, out.after_status)
    assert.are.equal(200000, out.after_bytes)
  end)

  it("streams downloads to a file, renamed only on success", function()
    local out = get_json(srv, "/case/sink")
    assert.are.equal(300000, out.bytes_written)
    assert.is_false(out.body_in_memory)
    assert.is_true(out.same)
    assert.are.equal(404, out.error_status)
    assert.is_true(out.error_body)
    assert.is_false(out.error_file)
    assert.is_false(out.truncated_res)
    assert.are.equal("io", out.truncated_err.kind)
    assert.are.equal("out.bin\n", out.files)
  end)

  it("goes through an http proxy in absolute form, honouring no_proxy", function()
    local out = get_json(srv, "/case/proxy_http")
    assert.are.equal("GET http://upstream.invalid:8080/backend/echo?q=1 HTTP/1.1", out.request_line)
    assert.are.equal(out.expected_authorization, out.proxy_authorization)
    assert.are.equal("upstream.invalid:8080", out.host)
    assert.are.equal(200, out.no_proxy_status)
  end)

  it("verifies TLS certificates with SNI by default", function()
    local out = get_json(srv, "/case/tls?tls_port=" .. srv.tls_port)
    assert.are.equal(200, out.verified_status, out.verified_err and out.verified_err.message)
    assert.are.equal("https", out.verified_scheme)
    assert.are.equal("tls", out.wrong_name_err.kind)
    assert.are.equal(200, out.unverified_status)
  end)

  it("tunnels https through a proxy with CONNECT and reuses the tunnel", function()
    local out = get_json(srv, "/case/proxy_connect?tls_port=" .. srv.tls_port .. "&proxy_port=" .. proxy_port)
    assert.is_nil(out.err)
    assert.are.equal(200, out.status)
    assert.are.equal("https", out.scheme)
    assert.is_true(out.same_tunnel)
    assert.are.equal("proxy", out.denied_err.kind)
    assert.matches("407", out.denied_err.message)
    local log = assert(io.open(workdir .. "/proxy.port.log")):read("*a")
    assert.matches("CONNECT localhost:" .. srv.tls_port .. " HTTP/1.1", log, 1, true)
  end)

  it("sleeps with ngx.sleep and reads nginx's clock", function()
    local out = get_json(srv, "/case/sleep_now")
    assert.is_true(out.elapsed >= 0.19 and out.elapsed < 0.5, "elapsed " .. out.elapsed)
  end)

  it("runs exchanges concurrently with start/poll on light threads", function()
    local out = get_json(srv, "/case/concurrent")
    assert.are.equal(4, #out.done)
    for _, d in ipairs(out.done) do assert.are.equal(200, d.status) end
    assert.is_true(out.elapsed < 0.9, "4 x 0.3 s took " .. out.elapsed .. " s")
    assert.are.equal(0, out.empty_poll)
  end)

  it("retries through the client with ngx.sleep", function()
    local out = get_json(srv, "/case/retry")
    assert.matches("transport.ngx", out.transport)
    assert.are.equal("ok", out.res and out.res.id, out.err)
    assert.are.equal(2, out.attempts)
    assert.are.equal(1, #out.slept)
    assert.is_true(math.abs(out.slept[1] - 0.2) < 1e-9)
  end)

  it("refuses, with a pointer to ngx.timer.at, where cosockets are disabled", function()
    assert.are.equal(200, (openresty.get(srv:url("/phase/filters"))))
    local status, set_result = openresty.get(srv:url("/phase/set"))
    assert.are.equal(200, status)
    assert.matches("^invalid_request: .*set phase.*ngx%.timer%.at", set_result)
    socket.sleep(0.2) -- the log phase runs after the answer
    local out = get_json(srv, "/phases")
    for _, phase in ipairs({ "init_worker", "init_worker_client", "header_filter", "body_filter", "log" }) do
      assert.is_string(out[phase], phase)
      assert.matches("invalid_request", out[phase], 1, true)
      assert.matches("ngx.timer.at", out[phase], 1, true)
    end
    assert.matches("init_worker phase", out.init_worker, 1, true)
    assert.matches("init_worker phase", out.init_worker_client, 1, true)
  end)

  describe("a whole workflow in a content handler", function()
    -- Request A runs the workflow; while its handler waits on the job, pings to
    -- the same single worker must be answered within 100 ms.
    local function start_request(path)
      local c = socket.tcp()
      c:settimeout(90)
      assert(c:connect("127.0.0.1", srv.port))
      assert(c:send("GET " .. path .. " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))
      return c
    end

    it("runs upload, create, wait with events, list and delete without blocking the worker", function()
      fake:reset({ speed = 4 })
      -- the first job creation is refused once with 429: the client retries after ngx.sleep
      fake:fault("429;retry_after_ms=300", { method = "POST", path = "^/v1/fine_tuning/jobs$", times = 1 })
      -- and the job polls hang on the network for a while: a blocking client
      -- would hold the worker (and every ping) for as long
      fake:fault("stall;seconds=0.5", { method = "GET", path = "^/v1/fine_tuning/jobs/[^/]+$", times = 4 })
      local conn = start_request("/case/workflow")

      local state
      local deadline = socket.gettime() + 30
      repeat
        socket.sleep(0.02)
        state = select(2, openresty.get(srv:url("/ping")))
      until state == "waiting" or state == "done" or socket.gettime() > deadline
      if state ~= "waiting" then
        local raw, _, partial = conn:receive("*a")
        error("the workflow never reached its wait (ping says " .. tostring(state) .. "): " .. tostring(raw or partial))
      end

      local pings, while_waiting, slowest = 0, 0, 0
      for _ = 1, 12 do
        local status, body, _, elapsed = openresty.get(srv:url("/ping"), 5)
        assert.are.equal(200, status)
        pings = pings + 1
        if body == "waiting" then
          while_waiting = while_waiting + 1
          if elapsed > slowest then slowest = elapsed end
          assert.is_true(elapsed < 0.1, string.format("a ping took %.1f ms while the job was awaited", elapsed * 1000))
        end
        socket.sleep(0.05)
      end
      assert.is_true(while_waiting >= 3, "only " .. while_waiting .. " of " .. pings .. " pings hit the wait")
      print(string.format("\n  ngx: %d pings answered while the handler waited on the job, slowest %.2f ms",
        while_waiting, slowest * 1000))

      local raw, err, partial = conn:receive("*a")
      conn:close()
      local res = assert(require("openai.finetunes.transport.http1").parse(raw or partial or ""), err)
      assert.are.equal(200, res.status, res.body)
      local out = json_decode(res.body)
      assert.are.equal("openai.finetunes.transport.ngx", out.transport)
      assert.are.equal("processed", out.file_status)
      assert.is_true(out.file_bytes > 0)
      assert.are.equal("train.jsonl", out.filename)
      assert.is_true(out.content_same)
      assert.is_true(out.download_same)
      assert.are.equal(out.file_bytes, out.download_bytes)
      assert.are.equal(2, out.create_attempts)
      assert.is_true(out.create_seconds >= 0.29, "retry wait " .. out.create_seconds)
      assert.are.equal("succeeded", out.status)
      assert.matches("^ft:gpt%-4o%-mini%-2024%-07%-18:.*:ngx:", out.model)
      assert.is_true(out.events >= 3, out.events .. " events")
      assert.are.equal(out.events, out.paged_events)
      assert.are.equal("The job has successfully completed", out.last_event)
      assert.are.equal("succeeded", out.statuses[#out.statuses])
      assert.is_true(out.listed)
      assert.is_true(out.checkpoints >= 1)
      assert.is_true(out.model_deleted)
      assert.is_true(out.file_deleted)
      assert.are.equal(404, out.file_gone_status)
      print("  ngx: wait_for_job saw " .. out.events .. " events, statuses " .. table.concat(out.statuses, " > ")
        .. "; first: "
        .. tostring(out.first_event) .. ", last: " .. tostring(out.last_event))
    end)
  end)

  it("leaves no Lua errors in nginx's error log", function()
    local log = srv:error_log()
    assert.is_nil(log:find("[error]", 1, true) and log:match("[^\n]*%[error%][^\n]*"))
    assert.is_nil(log:find("[alert]", 1, true) and log:match("[^\n]*%[alert%][^\n]*"))
  end)
end)

describe("examples/openresty", function()
  it("starts with its one command and runs the whole workflow against the fake server", function()
    local port = openresty.free_port()
    local pid = openresty.spawn(string.format("env PORT=%d SPEED=40 %s/examples/openresty/run.sh >/dev/null 2>&1",
      port, openresty.ROOT))
    finally(function() openresty.kill(pid) end)
    local url = "http://127.0.0.1:" .. port
    local status, body
    for _ = 1, 200 do
      status, body = openresty.get(url .. "/health", 5)
      if status == 200 and json_decode(body).startup.status ~= "pending" then break end
      socket.sleep(0.05)
    end
    assert.are.equal(200, status, body)
    local health = json_decode(body)
    assert.are.equal("ok", health.startup.status) -- the timer started from init_worker did its call
    assert.is_true(health.startup.models > 0)

    status, body = openresty.get(url .. "/models", 10)
    assert.are.equal(200, status, body)
    assert.truthy(body:find('"gpt-4o-mini-2024-07-18"', 1, true))

    status, body = openresty.get(url .. "/finetune", 60, "POST")
    assert.are.equal(200, status, body)
    local run = json_decode(body)
    assert.are.equal("succeeded", run.status)
    assert.matches("^ft:gpt%-4o%-mini%-2024%-07%-18:.*:openresty:", run.fine_tuned_model)
    assert.are.equal("The job has successfully completed", run.last_event)

    status, body = openresty.get(url .. "/jobs/" .. run.job, 10)
    assert.are.equal(200, status, body)
    assert.are.equal(run.fine_tuned_model, json_decode(body).fine_tuned_model)
    status = openresty.get(url .. "/jobs/ftjob-missing", 10)
    assert.are.equal(404, status)
  end)
end)
