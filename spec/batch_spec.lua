-- client:batch(calls, opts): many calls at once over the real C core (curl
-- multi) against the fake server, each with its own retries, breaker and
-- result; and the same API over the ngx transport inside nginx.
local ft = require("openai.finetunes")
local fake = require("spec.support.fake_server")
local core = require("openai.finetunes.core")
local codec = require("openai.finetunes.codec")
local H = require("spec.support.client_helper")

local KEY = "sk-batch-spec"

local function training_jsonl(n)
  local lines = {}
  for i = 1, n do
    lines[i] = ('{"messages":[{"role":"user","content":"q%d"},{"role":"assistant","content":"a%d"}]}'):format(i, i)
  end
  return table.concat(lines, "\n") .. "\n"
end

-- The path of a file retrieval, as a Lua pattern for the request log.
local function file_path(id) return "^/v1/files/" .. id:gsub("%-", "%%-") .. "$" end

describe("client:batch", function()
  local server, client, dir, train_path, files

  local function tmpfile(name, content)
    local path = dir .. "/" .. name
    H.write(path, content)
    return path
  end

  setup(function()
    server = fake.start()
    client = ft.new{ api_key = KEY, base_url = server.base_url, retry = { base_delay = 0.05, jitter = 0 } }
    dir = H.tmpdir()
    train_path = tmpfile("train.jsonl", training_jsonl(12))
    files = {}
    for i = 1, 3 do
      local f = assert(client:upload_file{ file = train_path, purpose = "fine-tune", filename = "t" .. i .. ".jsonl" })
      files[i] = f.id
    end
  end)

  teardown(function()
    if client then client:close() end
    if dir then H.rmdir(dir) end
  end)

  before_each(function()
    server:clear_faults()
  end)

  it("runs 100 delayed calls at once in a fraction of the sequential time, results in order", function()
    local calls, expected = {}, {}
    for i = 1, 100 do
      expected[i] = files[(i - 1) % 3 + 1]
      calls[i] = { "file", expected[i], { headers = { ["x-fake-fault"] = "stall;seconds=0.2" } } }
    end
    local since = server:mark()
    local t0 = core.now()
    local results, failed = client:batch(calls)
    local elapsed = core.now() - t0
    assert.are.equal(0, failed)
    assert.are.equal(100, #results)
    for i, r in ipairs(results) do
      assert.is_table(r[1], "call " .. i)
      assert.are.equal(expected[i], r[1].id)
      assert.are.equal("file", r[1].object)
      assert.matches("^req_", r[2].request_id)
      assert.are.equal(200, r[2].status)
    end
    -- one after another: 100 x 0.2 s = 20 s; generous bound, the speedup itself is measured in bench/
    assert.is_true(elapsed < 5, ("took %.2f s"):format(elapsed))
    local log = server:requests{ since = since, path = "^/v1/files/" }
    assert.are.equal(100, #log)
    -- over several connections at once (HTTP/1.1 here: no multiplexing to the fake)
    local conns = {}
    for _, e in ipairs(log) do conns[e.connection] = true end
    local n = 0
    for _ in pairs(conns) do n = n + 1 end
    assert.is_true(n > 1, "all calls went over one connection")
  end)

  it("keeps to pool.max_connections connections over HTTP/1.1", function()
    local pooled = ft.new{ api_key = KEY, base_url = server.base_url, pool = { max_connections = 2 } }
    local calls = {}
    for i = 1, 10 do calls[i] = { "file", files[1], { headers = { ["x-fake-fault"] = "stall;seconds=0.2" } } } end
    local since = server:mark()
    local t0 = core.now()
    local results, failed = pooled:batch(calls)
    local elapsed = core.now() - t0
    pooled:close()
    assert.are.equal(0, failed)
    assert.are.equal(10, #results)
    local conns, n = {}, 0
    for _, e in ipairs(server:requests{ since = since, path = "^/v1/files/" }) do
      if not conns[e.connection] then n = n + 1 end
      conns[e.connection] = true
    end
    assert.is_true(n <= 2, n .. " connections")
    -- two at a time: five rounds of 0.2 s
    assert.is_true(elapsed >= 0.9 and elapsed < 3, ("took %.2f s"):format(elapsed))
  end)

  it("returns successes and failures side by side, each in its place", function()
    local results, failed = client:batch{
      { "file", files[1] },
      { "job", "ftjob-does-not-exist" },
      { "model", "gpt-4o-mini" },
      { "file", "file-nope" },
      { "files", { limit = 2 } },
    }
    assert.are.equal(2, failed)
    assert.are.equal(5, #results)
    assert.are.equal(files[1], results[1][1].id)
    assert.is_nil(results[2][1])
    local e = results[2][2]
    assert.is_true(ft.is_error(e))
    assert.are.equal("api", e.kind)
    assert.are.equal(404, e.status)
    assert.matches("^req_", e.request_id)
    assert.are.equal("gpt-4o-mini", results[3][1].id)
    assert.are.equal(404, results[4][2].status)
    assert.are.equal(2, #results[5][1].data)
    assert.is_true(results[5][1].has_more)
  end)

  it("uploads several files at once", function()
    local paths, calls = {}, {}
    for i = 1, 4 do
      paths[i] = tmpfile("part" .. i .. ".jsonl", training_jsonl(10 + i))
      calls[i] = { "upload_file", { file = paths[i], purpose = "fine-tune", filename = "part" .. i .. ".jsonl" } }
    end
    local results, failed = client:batch(calls)
    assert.are.equal(0, failed)
    local seen = {}
    for i, r in ipairs(results) do
      assert.are.equal("part" .. i .. ".jsonl", r[1].filename)
      assert.are.equal(#training_jsonl(10 + i), r[1].bytes)
      assert.is_nil(seen[r[1].id])
      seen[r[1].id] = true
    end
  end)

  it("retries each call on its own, per the client's retry rules", function()
    server:fault{ match = { path = file_path(files[2]) }, times = 2, fault = "500" }
    local since = server:mark()
    local results, failed = client:batch{ { "file", files[1] }, { "file", files[2] }, { "file", files[3] } }
    assert.are.equal(0, failed)
    assert.are.equal(1, results[1][2].attempts)
    assert.are.equal(3, results[2][2].attempts)
    assert.are.equal(1, results[3][2].attempts)
    assert.are.equal(3, #server:requests{ since = since, path = file_path(files[2]) })
    assert.are.equal(1, #server:requests{ since = since, path = file_path(files[3]) })
  end)

  it("gives up on a call after its own max_retries and reports the attempts", function()
    server:fault{ match = { path = file_path(files[1]) }, times = -1, fault = "503" }
    local results, failed = client:batch{ { "file", files[1], { max_retries = 1 } }, { "file", files[2] } }
    assert.are.equal(1, failed)
    local e = results[1][2]
    assert.are.equal("api", e.kind)
    assert.are.equal(503, e.status)
    assert.are.equal(2, e.attempts)
    assert.are.equal(files[2], results[2][1].id)
  end)

  it("does not hold the other calls back while one waits to retry", function()
    -- files[1] is told to come back in 1 s; with 2 slots the 9 other calls all
    -- go out (and finish) during that wait.
    server:fault{ match = { path = file_path(files[1]) }, times = 1, fault = "429;retry_after=1" }
    local calls = { { "file", files[1] } }
    for i = 2, 10 do calls[i] = { "file", files[(i % 2) + 2] } end
    local since = server:mark()
    local t0 = core.now()
    local results, failed = client:batch(calls, { concurrency = 2 })
    local elapsed = core.now() - t0
    assert.are.equal(0, failed)
    assert.are.equal(2, results[1][2].attempts)
    assert.is_true(elapsed >= 0.9, ("took %.2f s"):format(elapsed))
    local log = server:requests{ since = since, path = "^/v1/files/" }
    assert.are.equal(11, #log)
    -- the retry of files[1] is the very last request the server saw
    assert.matches(file_path(files[1]), log[#log].path)
    assert.are.equal(200, log[#log].status)
    local throttled = 0
    for _, e in ipairs(log) do
      if e.status == 429 then throttled = throttled + 1 end
    end
    assert.are.equal(1, throttled)
  end)

  it("applies the circuit breaker per call", function()
    local guarded = ft.new{ api_key = KEY, base_url = server.base_url, max_retries = 0,
      circuit_breaker = { failure_threshold = 2, window = 60, reset_timeout = 60 } }
    server:fault{ match = { path = "^/v1/models/" }, times = -1, fault = "500" }
    local since = server:mark()
    local calls = {}
    for i = 1, 5 do calls[i] = { "model", "gpt-4o-mini" } end
    local results, failed = guarded:batch(calls, { concurrency = 1 })
    guarded:close()
    assert.are.equal(5, failed)
    assert.are.equal(500, results[1][2].status)
    assert.are.equal(500, results[2][2].status)
    for i = 3, 5 do
      assert.are.equal("circuit_open", results[i][2].kind, "call " .. i)
    end
    -- the refused calls never reached the server
    assert.are.equal(2, #server:requests{ since = since, path = "^/v1/models/" })
  end)

  it("runs the calls one after another over a transport without start/poll", function()
    local curl = require("openai.finetunes.transport.curl").new{ api_key = KEY }
    local seen = 0
    local plain = { request = function(_, req) seen = seen + 1 return curl:request(req) end,
                    now = core.now, sleep = function(_, s) core.sleep(s) end }
    local c = ft.new{ api_key = KEY, base_url = server.base_url, transport = plain }
    local results, failed = c:batch{ { "file", files[2] }, { "file", "file-nope" }, { "file", files[1] } }
    curl:close()
    assert.are.equal(3, seen)
    assert.are.equal(1, failed)
    assert.are.equal(files[2], results[1][1].id)
    assert.are.equal(404, results[2][2].status)
    assert.are.equal(files[1], results[3][1].id)
  end)

  it("returns an empty list for no calls", function()
    local results, failed = client:batch({})
    assert.are.same({}, results)
    assert.are.equal(0, failed)
  end)

  it("raises on misuse before sending anything", function()
    local since = server:mark()
    local function check(pattern, ...)
      local ok, err = pcall(client.batch, client, ...)
      assert.is_false(ok)
      assert.matches(pattern, err)
    end
    check("bad argument #1 to 'batch' %(calls must be a list of calls, got nil%)")
    check("bad argument #1 to 'batch' %(calls%[2%] must be a table", { { "job", files[1] }, "job" })
    check("bad argument #1 to 'batch' %(calls%[2%]%[1%] must name an endpoint method", { { "job", files[1] },
      { "each_job" } })
    check("bad argument #1 to 'batch' %(calls%[2%]: bad argument #1 to 'job' "
      .. "%(id must be a non%-empty string, got nil%)%)", { { "job", files[1] }, { "job" } })
    check("bad argument #1 to 'batch' %(calls%[1%]: bad argument #2 to 'job' %(unknown option \"retries\"%)%)",
      { { "job", files[1], { retries = 3 } } })
    check("bad argument #2 to 'batch' %(concurrency must be an integer >= 1, got 0%)", { { "job", files[1] } },
      { concurrency = 0 })
    check("bad argument #2 to 'batch' %(unknown option \"parallel\"%)", { { "job", files[1] } }, { parallel = 2 })
    -- the message points at the caller's line
    local ok, err = pcall(function() client:batch{ { "job", "" } } end)
    assert.is_false(ok)
    assert.matches("^[^\n]*batch_spec%.lua:%d+: bad argument #1 to 'batch' %(calls%[1%]: bad argument #1 to 'job'", err)
    assert.are.equal(0, #server:requests{ since = since })
  end)

  it("takes holes in a call's arguments with n", function()
    local results = client:batch{ { "files", nil, { timeout = 30 }, n = 2 } }
    assert.are.equal("list", results[1][1].object)
  end)

  it("raises through the strict view only for misuse; call errors stay in the results", function()
    local strict = client:strict()
    local results, failed = strict:batch{ { "job", "ftjob-missing" } }
    assert.are.equal(1, failed)
    assert.are.equal(404, results[1][2].status)
    assert.has_error(function() strict:batch{ { "job" } } end)
  end)

  it("propagates an error raised by a progress callback and leaves nothing running", function()
    local content = assert(client:upload_file{ file = train_path, purpose = "fine-tune", filename = "t.jsonl" })
    local out = dir .. "/download.out"
    local ok, err = pcall(client.batch, client, {
      { "file", files[1], { headers = { ["x-fake-fault"] = "stall;seconds=0.3" } } },
      { "download_file", content.id, out, { progress = function() error("stop here") end } },
    })
    assert.is_false(ok)
    assert.matches("stop here", tostring(err))
    assert.is_nil(io.open(out)) -- the sink of an aborted download is not left behind
    -- the client still works, and the cancelled stalled call does not surface later
    local results, failed = client:batch{ { "file", files[3] } }
    assert.are.equal(0, failed)
    assert.are.equal(files[3], results[1][1].id)
  end)
end)

describe("client:batch over HTTP/2", function()
  local nginx = require("spec.support.nginx")
  local srv, server, dir, tls

  setup(function()
    server = fake.start()
    dir = H.tmpdir()
    tls = require("spec.support.certs").self_signed(dir)
    -- nginx speaks HTTP/2 over TLS and hands each stream on to the fake server
    srv = nginx.start{
      http = "log_format streams '$connection $server_protocol $status';",
      tls = tls,
      server = ([[
        access_log %s/access.log streams;
        location /v1/ { proxy_pass %s; }
      ]]):format(dir, server:url("")),
    }
  end)

  teardown(function()
    if srv then srv:stop() end
    if dir then H.rmdir(dir) end
  end)

  it("multiplexes the calls as streams on one connection", function()
    local client = ft.new{ api_key = KEY, base_url = srv:tls_url("/v1"),
      tls = { ca_file = tls.cert } }
    local calls = {}
    for i = 1, 20 do
      calls[i] = { "model", "gpt-4o-mini", { headers = { ["x-fake-fault"] = "stall;seconds=0.2" } } }
    end
    local t0 = core.now()
    local results, failed = client:batch(calls)
    local elapsed = core.now() - t0
    client:close()
    assert.are.equal(0, failed, failed > 0 and tostring(results[1][2]) or nil)
    for i = 1, 20 do assert.are.equal("gpt-4o-mini", results[i][1].id) end
    -- 20 x 0.2 s one after another = 4 s
    assert.is_true(elapsed < 2, ("took %.2f s"):format(elapsed))
    -- nginx logs a stream after its answer went out: give the last line a moment
    local lines, conns
    for _ = 1, 50 do
      lines, conns = 0, {}
      local f = assert(io.open(dir .. "/access.log"))
      for line in f:lines() do
        local conn, proto = line:match("^(%d+) (%S+)")
        lines = lines + 1
        assert.are.equal("HTTP/2.0", proto)
        conns[conn] = true
      end
      f:close()
      if lines >= 20 then break end
      core.sleep(0.05)
    end
    assert.are.equal(20, lines)
    local n = 0
    for _ in pairs(conns) do n = n + 1 end
    assert.are.equal(1, n)
  end)
end)

describe("client:batch over the ngx transport", function()
  local openresty = require("spec.support.openresty")
  local srv, server

  setup(function()
    server = fake.start()
    srv = openresty.start{
      vars = { fake = server.base_url },
      server = [[
        location = /batch {
          content_by_lua_block {
            local ft = require("openai.finetunes")
            local core = require("openai.finetunes.core")
            local codec = require("openai.finetunes.codec")
            local client = ft.new{ api_key = "sk-ngx-batch", base_url = ngx.var.fake,
              retry = { base_delay = 0.05, jitter = 0 } }
            local calls = {}
            for i = 1, 20 do
              calls[i] = { "model", i % 5 == 0 and "no-such-model" or "gpt-4o-mini",
                { headers = { ["x-fake-fault"] = "stall;seconds=0.2" } } }
            end
            ngx.update_time()
            local t0 = ngx.now()
            local results, failed = client:batch(calls)
            ngx.update_time()
            local out = { elapsed = ngx.now() - t0, failed = failed, ids = {}, statuses = {},
              ngx_transport = require("openai.finetunes.client").default_transport_module()
                == require("openai.finetunes.transport.ngx") }
            for i, r in ipairs(results) do
              out.ids[i] = r[1] and r[1].id or "error"
              out.statuses[i] = r[1] and r[2].status or r[2].status
            end
            ngx.say(codec.json_encode(out))
          }
        }
      ]],
    }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  it("runs the calls as ngx.threads, concurrently, results in order", function()
    local status, body = openresty.get(srv:url("/batch"), 30)
    assert.are.equal(200, status, body)
    local out = assert(codec.json_decode(body))
    assert.is_true(out.ngx_transport)
    assert.are.equal(4, out.failed)
    for i = 1, 20 do
      if i % 5 == 0 then
        assert.are.equal("error", out.ids[i])
        assert.are.equal(404, out.statuses[i])
      else
        assert.are.equal("gpt-4o-mini", out.ids[i])
        assert.are.equal(200, out.statuses[i])
      end
    end
    -- 20 x 0.2 s one after another = 4 s
    assert.is_true(out.elapsed < 2, ("took %.2f s"):format(out.elapsed))
  end)
end)
