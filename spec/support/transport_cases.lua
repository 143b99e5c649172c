-- The transport conformance cases: one list, run by spec/transport_conformance_spec.lua
-- over the curl transport in plain Lua and, through spec/support/ngx_handlers.lua,
-- over the ngx transport inside a real nginx. A future adapter runs the same list.
--
-- A case is { name, run = function(env) -> out, check = function(out, assert, seen) }.
-- `run` uses only what every host has (no LuaSocket, no busted): `env` gives
--   env.name                  "curl" | "ngx"
--   env.transport(opts)       a transport of the kind under test (api_key = env.KEY unless given)
--   env.client(opts)          ft.new{...} on the fake server (its default transport is the one under test)
--   env.fake, env.canned      base URLs: the fake OpenAI server (".../v1"), the canned-bytes server
--   env.dir                   a directory the case may write under
--   env.now()                 seconds (the transport's clock)
-- and returns a JSON-able table. `check` runs in busted, with `seen` = the requests the
-- fake server logged while the case ran (spec/support/fake_server.lua's requests()).
local util = require("openai.finetunes.fake.util")
local lfs = require("lfs")

local read, write = util.read_file, util.write_file

local M = {}

local dirs = 0

-- A fresh empty directory under env.dir.
local function tmpdir(env)
  dirs = dirs + 1
  local dir = string.format("%s/%s-%d", env.dir, env.name, dirs)
  assert(util.mkdir_p(dir))
  return dir
end

-- The names in a directory, sorted, joined by spaces.
local function ls(dir)
  local names = {}
  for name in lfs.dir(dir) do
    if name ~= "." and name ~= ".." then names[#names + 1] = name end
  end
  table.sort(names)
  return table.concat(names, " ")
end

local function err_of(err)
  if not err then return nil end
  return { kind = err.kind, message = err.message, status = err.status, attempts = err.attempts }
end
M.err_of = err_of

-- A file on the fake server to download: its id.
local function uploaded(env, bytes)
  local client = env.client()
  local file = assert(client:upload_file({ data = string.rep("x", bytes or 200000), filename = "d.jsonl",
    purpose = "fine-tune" }))
  return file.id
end

M.cases = {
  -- the divergences of issue 11 ------------------------------------------------
  {
    name = "a download cancelled in a batch by another call's error leaves no temp file",
    run = function(env)
      local id = uploaded(env)
      local dir = tmpdir(env)
      local client = env.client({ max_retries = 0 })
      -- the download has half its body in the temp file when the other call raises
      local t0 = env.now()
      local ok, raised = pcall(client.batch, client, {
        { "download_file", id, dir .. "/out.bin", { headers = { ["x-fake-fault"] = "stall_body;seconds=3" } } },
        { "models", { headers = { ["x-fake-fault"] = "stall;seconds=1" },
          progress = function() if env.now() - t0 > 0.5 then error("stop here", 0) end end } },
      })
      return { ok = ok, raised = tostring(raised), files = ls(dir) }
    end,
    check = function(out, assert)
      assert.is_false(out.ok)
      assert.matches("stop here", out.raised, 1, true)
      assert.are.equal("", out.files)
    end,
  },
  {
    name = "a sink whose directory does not exist is io before anything is sent, once in a batch",
    run = function(env)
      local dir = tmpdir(env)
      local t = env.transport()
      local res, err = t:request({ method = "GET", url = env.fake .. "/files/file-x/content",
        sink = dir .. "/missing/out.bin" })
      local client = env.client()
      local results, failed = client:batch({ { "download_file", "file-x", dir .. "/missing/out.bin" } })
      return { res = res ~= nil, err = err_of(err), failed = failed, batch_err = err_of(results[1][2]),
        files = ls(dir) }
    end,
    check = function(out, assert, seen)
      assert.is_false(out.res)
      assert.are.equal("io", out.err.kind)
      assert.are.equal(1, out.failed)
      assert.are.equal("io", out.batch_err.kind)
      assert.are.equal(1, out.batch_err.attempts)
      assert.are.equal("", out.files)
      assert.are.equal(0, #seen)
    end,
  },
  -- local failures (issue 12) -------------------------------------------------
  {
    name = "a sink that cannot be written is io with its path and the OS message, never retried or a breaker failure",
    run = function(env)
      local dir = tmpdir(env)
      assert(lfs.mkdir(dir .. "/a-directory"))
      local client = env.client({ max_retries = 2, circuit_breaker = { failure_threshold = 1 } })
      local out = { calls = {} }
      for i, path in ipairs({ dir .. "/missing/out.bin", dir .. "/a-directory" }) do
        local t0 = env.now()
        local r, err = client:download_file("file-x", path)
        out.calls[i] = { ok = r ~= nil, kind = err and err.kind, attempts = err and err.attempts,
          path = err and err.path,
          os_error = err and err.os_error, message = err and err.message, took = env.now() - t0 }
      end
      local models, merr = client:models()
      out.after = models ~= nil or tostring(merr)
      out.files = ls(dir)
      return out
    end,
    check = function(out, assert, seen)
      local calls = out.calls
      assert.are.equal("No such file or directory", calls[1].os_error)
      assert.are.equal("Is a directory", calls[2].os_error)
      for _, o in ipairs(calls) do
        assert.is_false(o.ok)
        assert.are.equal("io", o.kind)
        assert.are.equal(1, o.attempts)
        assert.truthy(o.message:find(o.path, 1, true), o.message)
        assert.truthy(o.message:find(o.os_error, 1, true), o.message)
        assert.is_true(o.took < 0.3, "no backoff: " .. o.took)
      end
      assert.matches("/missing/out.bin$", calls[1].path)
      assert.matches("/a%-directory$", calls[2].path)
      assert.is_true(out.after) -- the breaker (threshold 1) did not count them
      assert.are.equal("a-directory", out.files)
      assert.are.equal(1, #seen) -- the models call only
    end,
  },
  {
    name = "a download over an existing file keeps its mode; onto a full disk it fails once, leaving nothing",
    run = function(env)
      local id = uploaded(env, 200000)
      local dir = tmpdir(env)
      local client = env.client({ max_retries = 2 })
      write(dir .. "/secret.bin", "old")
      os.execute("chmod 600 '" .. dir .. "/secret.bin'")
      local ok = client:download_file(id, dir .. "/secret.bin")
      local out = { ok = ok ~= nil, mode = lfs.attributes(dir .. "/secret.bin", "permissions"),
        size = lfs.attributes(dir .. "/secret.bin", "size") }
      -- a 64 KB tmpfs (the specs run as root, nginx's workers too)
      assert(lfs.mkdir(dir .. "/full"))
      local mounted = os.execute("mount -t tmpfs -o size=64k oft-conformance '" .. dir .. "/full'")
      out.mounted = mounted == true or mounted == 0
      local t0 = env.now()
      local r, err = client:download_file(id, dir .. "/full/out.bin")
      out.full = { ok = r ~= nil, kind = err and err.kind, attempts = err and err.attempts,
        os_error = err and err.os_error, took = env.now() - t0, files = ls(dir .. "/full") }
      os.execute("umount '" .. dir .. "/full'")
      return out
    end,
    check = function(out, assert, seen)
      assert.is_true(out.ok)
      assert.are.equal("rw-------", out.mode)
      assert.are.equal(200000, out.size)
      assert.is_true(out.mounted, "mounting a tmpfs needs root")
      assert.is_false(out.full.ok)
      assert.are.equal("io", out.full.kind)
      assert.are.equal("No space left on device", out.full.os_error)
      assert.are.equal(1, out.full.attempts)
      assert.are.equal("", out.full.files)
      local downloads = 0
      for _, r in ipairs(seen) do
        if r.path:match("/content$") then downloads = downloads + 1 end
      end
      assert.are.equal(2, downloads) -- the 0600 one, and the full disk's once
    end,
  },
  {
    name = "multipart names, filenames and content types with CR, LF, NUL or a quote are refused",
    run = function(env)
      local t = env.transport()
      local out = {}
      for i, file in ipairs({
        { data = "{}\n", filename = 'we"ird.jsonl' },
        { data = "{}\n", filename = "a\r\nb.jsonl" },
        { data = "{}\n", field = "fi\"le" },
        { data = "{}\n", content_type = "text/plain\r\nX-Injected: 1" },
      }) do
        local res, err = t:request({ method = "POST", url = env.fake .. "/files",
          multipart = { fields = { purpose = "fine-tune" }, file = file } })
        out[i] = { res = res ~= nil, err = err_of(err) }
      end
      local _, ferr = t:request({ method = "POST", url = env.fake .. "/files",
        multipart = { fields = { ['pur"pose'] = "fine-tune" }, file = { data = "{}\n" } } })
      out[#out + 1] = { res = false, err = err_of(ferr) }
      return out
    end,
    check = function(out, assert, seen)
      assert.are.equal(5, #out)
      for _, o in ipairs(out) do
        assert.is_false(o.res)
        assert.are.equal("invalid_request", o.err.kind)
      end
      assert.are.equal(0, #seen)
    end,
  },
  {
    name = "an upload file that is missing, a directory, not a regular file or shorter than its slice is refused "
      .. "before sending",
    run = function(env)
      local dir = tmpdir(env)
      write(dir .. "/short.jsonl", "short")
      local t = env.transport()
      local out = {}
      for _, file in ipairs({ { path = dir .. "/missing.jsonl" }, { path = dir },
        { path = dir .. "/short.jsonl", offset = 3, length = 10 }, { path = dir, offset = 0 },
        { path = "/dev/null" } }) do
        local _, err = t:request({ method = "POST", url = env.fake .. "/files",
          multipart = { fields = { purpose = "fine-tune" }, file = file } })
        out[#out + 1] = err_of(err)
      end
      return { errs = out, dir = dir }
    end,
    check = function(got, assert, seen)
      local out = got.errs
      assert.are.same({ "io", "io", "invalid_request", "invalid_request", "invalid_request" },
        { out[1].kind, out[2].kind, out[3].kind, out[4].kind, out[5].kind })
      assert.are.equal("cannot upload " .. got.dir .. ": Is a directory", out[2].message)
      assert.are.equal("multipart slice [3, 13) lies beyond the end of the file (5 bytes)", out[3].message)
      assert.are.equal("a multipart slice needs a regular file", out[4].message)
      assert.are.equal("an upload needs a regular file", out[5].message)
      assert.are.equal(0, #seen)
    end,
  },
  {
    name = "a URL with user:password@ is refused, with any transport",
    run = function(env)
      local t = env.transport()
      local with_credentials = env.fake:gsub("^http://", "http://user:pw@")
      local res, err = t:request({ method = "GET", url = with_credentials .. "/models" })
      local ok, raised = pcall(env.client, { base_url = with_credentials })
      return { res = res ~= nil, err = err_of(err), client_ok = ok, raised = tostring(raised) }
    end,
    check = function(out, assert, seen)
      assert.is_false(out.res)
      assert.are.equal("invalid_request", out.err.kind)
      assert.are.equal("url must not carry credentials (user:password@)", out.err.message)
      assert.is_false(out.client_ok)
      assert.matches("base_url must not carry credentials (user:password@)", out.raised, 1, true)
      assert.is_nil(out.raised:find("pw", 1, true))
      assert.are.equal(0, #seen)
    end,
  },
  {
    name = "per-call Host, Connection, Content-Length, Transfer-Encoding and Proxy-Authorization are refused",
    run = function(env)
      local t = env.transport()
      local out = {}
      for _, name in ipairs({ "Host", "connection", "Content-Length", "Transfer-Encoding", "Proxy-Authorization" }) do
        local res, err = t:request({ method = "GET", url = env.fake .. "/models", headers = { [name] = "x" } })
        out[#out + 1] = { name = name, res = res ~= nil, err = err_of(err) }
      end
      return out
    end,
    check = function(out, assert, seen)
      for _, o in ipairs(out) do
        assert.is_false(o.res)
        assert.are.equal("invalid_request", o.err.kind)
        assert.are.equal("headers must not set " .. o.name
          .. ": the transport writes it itself (message framing and the connection)", o.err.message)
      end
      assert.are.equal(0, #seen)
    end,
  },
  {
    name = "conflicting Content-Length headers and bytes that are not HTTP are invalid_response",
    run = function(env)
      local t = env.transport()
      local out = {}
      for _, name in ipairs({ "cl_conflict", "cl_list", "garbage" }) do
        local res, err = t:request({ method = "GET", url = env.canned .. "/" .. name })
        out[name] = { res = res ~= nil, err = err_of(err) }
      end
      -- to a sink: the target stays as it was, no temp file
      local dir = tmpdir(env)
      write(dir .. "/out.bin", "the old content")
      local res, err = t:request({ method = "GET", url = env.canned .. "/cl_conflict", sink = dir .. "/out.bin" })
      local agreeing = t:request({ method = "GET", url = env.canned .. "/cl_agree" })
      out.sink = { res = res ~= nil, err = err_of(err), content = read(dir .. "/out.bin"), files = ls(dir) }
      out.agreeing = agreeing and agreeing.body
      return out
    end,
    check = function(out, assert)
      for _, name in ipairs({ "cl_conflict", "cl_list", "garbage", "sink" }) do
        assert.is_false(out[name].res, name)
        assert.are.equal("invalid_response", out[name].err.kind, name)
      end
      assert.are.same({ "the old content", "out.bin" }, { out.sink.content, out.sink.files })
      assert.are.equal('{"a":1}', out.agreeing)
    end,
  },
  {
    name = "the credential header cannot be set or overridden per call, in any spelling",
    run = function(env)
      local out = { list = {} }
      local t = env.transport({ auth_header = "api-key", auth_scheme = "" })
      for _, name in ipairs({ "api-key", "API-Key", "Authorization", "authorization" }) do
        local res, err = t:request({ method = "GET", url = env.fake .. "/models", headers = { [name] = "x" } })
        out.list[#out.list + 1] = { name = name, res = res ~= nil, err = err_of(err) }
      end
      local client = env.client()
      local ok, raised = pcall(client.models, client, { headers = { Authorization = "Bearer other" } })
      out.client = { ok = ok, raised = tostring(raised) }
      return out
    end,
    check = function(out, assert, seen)
      assert.are.equal(4, #out.list)
      for _, o in ipairs(out.list) do
        assert.is_false(o.res)
        assert.are.equal("invalid_request", o.err.kind)
        assert.are.equal("headers must not set " .. o.name .. ": the transport adds the credential itself",
          o.err.message)
      end
      assert.is_false(out.client.ok)
      assert.matches("headers must not set Authorization: the transport adds the credential itself",
        out.client.raised, 1, true)
      assert.are.equal(0, #seen)
    end,
  },

  -- what a user relies on --------------------------------------------------------
  {
    name = "an interrupted download leaves the target untouched and no temp file",
    run = function(env)
      local id = uploaded(env)
      local dir = tmpdir(env)
      write(dir .. "/out.bin", "the old content")
      local t = env.transport()
      local res, err = t:request({ method = "GET", url = env.fake .. "/files/" .. id .. "/content",
        sink = dir .. "/out.bin", headers = { ["x-fake-fault"] = "truncated;bytes=1000" } })
      local client = env.client({ max_retries = 1 })
      local saved, cerr = client:download_file(id, dir .. "/out.bin",
        { headers = { ["x-fake-fault"] = "reset_mid_body;bytes=1000" } })
      return { res = res ~= nil, err = err_of(err), saved = saved ~= nil, client_err = err_of(cerr),
        content = read(dir .. "/out.bin"), files = ls(dir) }
    end,
    check = function(out, assert)
      assert.is_false(out.res)
      assert.are.equal("io", out.err.kind)
      assert.is_false(out.saved)
      assert.are.equal("io", out.client_err.kind)
      assert.are.equal(2, out.client_err.attempts)
      assert.are.equal("the old content", out.content)
      assert.are.equal("out.bin", out.files)
    end,
  },
  {
    name = "a cancelled download leaves the target untouched and no temp file",
    run = function(env)
      local id = uploaded(env)
      local dir = tmpdir(env)
      write(dir .. "/out.bin", "the old content")
      local t = env.transport()
      local xid = assert(t:start({ method = "GET", url = env.fake .. "/files/" .. id .. "/content",
        sink = dir .. "/out.bin", headers = { ["x-fake-fault"] = "stall_body;seconds=2" } }))
      local during
      local until_ = env.now() + 5
      repeat -- until the half body is in the temp file
        t:poll(0.05)
        during = ls(dir)
      until during:find("part", 1, true) or env.now() > until_
      local cancelled = t:cancel(xid)
      return { during = during, cancelled = cancelled, pending = t:pending(), content = read(dir .. "/out.bin"),
        files = ls(dir), again = t:cancel(xid) }
    end,
    check = function(out, assert)
      assert.matches("^out%.bin out%.bin%.part%-%x+$", out.during)
      assert.is_true(out.cancelled)
      assert.is_false(out.again)
      assert.are.equal(0, out.pending)
      assert.are.equal("the old content", out.content)
      assert.are.equal("out.bin", out.files)
    end,
  },
  {
    name = "total and idle timeouts fire alike",
    run = function(env)
      local t = env.transport()
      local t0 = env.now()
      local _, err = t:request({ method = "GET", url = env.fake .. "/models", timeout = 0.4,
        headers = { ["x-fake-fault"] = "stall;seconds=2" } })
      local total = env.now() - t0
      local id = uploaded(env)
      t0 = env.now()
      local _, ierr = t:request({ method = "GET", url = env.fake .. "/files/" .. id .. "/content", idle_timeout = 0.4,
        headers = { ["x-fake-fault"] = "stall_body;seconds=2" } })
      local idle = env.now() - t0
      local after = t:request({ method = "GET", url = env.fake .. "/models" })
      return { err = err_of(err), total = total, idle_err = err_of(ierr), idle = idle,
        after = after and after.status }
    end,
    check = function(out, assert)
      assert.are.equal("timeout", out.err.kind)
      assert.matches("the total timeout of 0.4 s expired", out.err.message, 1, true) -- src/exchange/timer.c
      assert.is_true(out.total >= 0.35 and out.total < 1.5, "total " .. out.total)
      assert.are.equal("timeout", out.idle_err.kind)
      assert.matches("idle_timeout", out.idle_err.message, 1, true)
      assert.is_true(out.idle >= 0.35 and out.idle < 1.9, "idle " .. out.idle)
      assert.are.equal(200, out.after)
    end,
  },
  {
    name = "retries count alike, and errors carry the same kind, status and attempts",
    run = function(env)
      local client = env.client({ max_retries = 2, retry = { base_delay = 0.01, max_delay = 0.02 } })
      local out = {}
      local function call(fault)
        local res, err = client:models({ headers = { ["x-fake-fault"] = fault } })
        return { res = res ~= nil, err = err_of(err) }
      end
      out.status_500 = call("500")
      out.status_404 = call("404")
      out.reset = call("reset")
      out.truncated = call("truncated;bytes=5")
      out.not_json = call("not_json")
      return out
    end,
    check = function(out, assert)
      local want = {
        status_500 = { "api", 500, 3 }, status_404 = { "api", 404, 1 }, reset = { "io", nil, 3 },
        truncated = { "io", nil, 3 }, not_json = { "invalid_response", 200, 1 },
      }
      for name, w in pairs(want) do
        local o = out[name]
        assert.is_false(o.res, name)
        assert.are.same({ w[1], w[2], w[3] }, { o.err.kind, o.err.status, o.err.attempts }, name)
      end
    end,
  },
  {
    name = "progress reports bytes, false aborts, and the cap holds on bodies in memory",
    run = function(env)
      local id = uploaded(env, 100000)
      local t = env.transport()
      local last
      local res = t:request({ method = "GET", url = env.fake .. "/files/" .. id .. "/content",
        progress = function(dltotal, dlnow) last = { dltotal, dlnow } end })
      local _, aerr = t:request({ method = "GET", url = env.fake .. "/files/" .. id .. "/content",
        progress = function() return false end })
      local _, cerr = t:request({ method = "GET", url = env.fake .. "/files/" .. id .. "/content",
        max_response_bytes = 1000 })
      return { bytes = res and #res.body, last = last, aborted = err_of(aerr), capped = err_of(cerr) }
    end,
    check = function(out, assert)
      assert.are.equal(100000, out.bytes)
      assert.are.same({ 100000, 100000 }, out.last)
      assert.are.equal("aborted", out.aborted.kind)
      assert.are.equal("too_large", out.capped.kind)
    end,
  },
}

-- Where the body goes, what the timeouts mean and what a stop becomes are the C
-- functions of src/exchange/ on every transport: the same words, not only the same kind.
M.cases[#M.cases + 1] = {
  name = "the cap, a progress stop, the idle bound and a sink that cannot be made say it in the same words",
  run = function(env)
    local id = uploaded(env, 5000)
    local t = env.transport()
    local url = env.fake .. "/files/" .. id .. "/content"
    local _, capped = t:request({ method = "GET", url = url, max_response_bytes = 1000 })
    local _, stopped = t:request({ method = "GET", url = url, progress = function() return false end })
    local _, idle = t:request({ method = "GET", url = url, idle_timeout = 0.3,
      headers = { ["x-fake-fault"] = "stall_body;seconds=2" } })
    local missing = tmpdir(env) .. "/missing/dir/out.jsonl"
    local _, sink = t:request({ method = "GET", url = url, sink = missing })
    local dir = tmpdir(env)
    local res = t:request({ method = "GET", url = env.fake .. "/files/file-nope/content", sink = dir .. "/out" })
    return { capped = err_of(capped), stopped = err_of(stopped), idle = err_of(idle), sink = err_of(sink),
      missing = missing, not_found = res and { status = res.status, body = res.body ~= nil, left = ls(dir) } }
  end,
  check = function(out, assert)
    assert.are.same({ kind = "too_large", message = "response body exceeds max_response_bytes (1000 bytes)" },
      out.capped)
    assert.are.same({ kind = "aborted", message = "aborted by the progress callback" }, out.stopped)
    assert.are.equal("timeout", out.idle.kind)
    assert.matches("no data sent or received for 0.3 s (idle_timeout)", out.idle.message, 1, true)
    assert.are.same({ kind = "io", message = "cannot create a file next to " .. out.missing
      .. ": No such file or directory" }, out.sink)
    assert.are.same({ status = 404, body = true, left = "" }, out.not_found)
  end,
}

M.cases[#M.cases + 1] = {
  name = "a body-less POST says Content-Length: 0, a body-less GET or DELETE says none",
  run = function(env)
    local t = env.transport()
    local out = {}
    for _, method in ipairs({ "POST", "GET", "DELETE" }) do
      local res = t:request({ method = method, url = env.fake .. "/fine_tuning/jobs/ftjob-none/cancel" })
      out[#out + 1] = res and res.status
    end
    return out
  end,
  check = function(out, assert, seen)
    assert.are.equal(3, #out)
    local lengths = {}
    for _, r in ipairs(seen) do lengths[#lengths + 1] = r.method .. " " .. tostring(r.headers["content-length"]) end
    assert.are.same({ "POST 0", "GET nil", "DELETE nil" }, lengths)
  end,
}

M.cases[#M.cases + 1] = {
  name = "retries count alike in a batch (start/poll), with the same kind, status and attempts",
  run = function(env)
    local client = env.client({ max_retries = 2, retry = { base_delay = 0.01, max_delay = 0.02 } })
    local results, failed = client:batch({
      { "models", { headers = { ["x-fake-fault"] = "500" } } },
      { "models", { headers = { ["x-fake-fault"] = "reset" } } },
      { "model", "gpt-4o-mini", { headers = { ["x-fake-fault"] = "404" } } },
      { "models" },
    })
    local out = { failed = failed, list = {} }
    for i = 1, 4 do out.list[i] = { ok = results[i][1] ~= nil, err = err_of(results[i][2]) } end
    return out
  end,
  check = function(all, assert, seen)
    local out = all.list
    assert.are.equal(3, all.failed)
    assert.are.same({ "api", 500, 3 }, { out[1].err.kind, out[1].err.status, out[1].err.attempts })
    assert.are.same({ "io", 3 }, { out[2].err.kind, out[2].err.attempts })
    assert.are.same({ "api", 404, 1 }, { out[3].err.kind, out[3].err.status, out[3].err.attempts })
    assert.is_true(out[4].ok)
    -- what the server answered (a reset reused connection may also be retried once, silently,
    -- by the transport: that is not an attempt)
    local answered = {}
    for _, r in ipairs(seen) do answered[r.status] = (answered[r.status] or 0) + 1 end
    assert.are.same({ 3, 1, 1 }, { answered[500], answered[404], answered[200] })
  end,
}

M.cases[#M.cases + 1] = {
  name = "a progress callback's error is re-raised by request and reported by poll",
  run = function(env)
    local t = env.transport()
    local boom = function() error({ code = "boom" }) end
    local ok, raised = pcall(t.request, t, { method = "GET", url = env.fake .. "/models", progress = boom })
    local id = assert(t:start({ method = "GET", url = env.fake .. "/models", progress = boom }))
    local done = {}
    local until_ = env.now() + 5
    while #done == 0 and env.now() < until_ do done = t:poll(1) end
    local c = done[1] or {}
    local after = t:request({ method = "GET", url = env.fake .. "/models" })
    return { ok = ok, code = type(raised) == "table" and raised.code or tostring(raised), same_id = c.id == id,
      poll_kind = c.err and c.err.kind, poll_code = c.err and type(c.err.callback_error) == "table"
        and c.err.callback_error.code, after = after and after.status }
  end,
  check = function(out, assert)
    assert.is_false(out.ok)
    assert.are.equal("boom", out.code)
    assert.is_true(out.same_id)
    assert.are.equal("aborted", out.poll_kind)
    assert.are.equal("boom", out.poll_code)
    assert.are.equal(200, out.after)
  end,
}

M.cases[#M.cases + 1] = {
  name = "a refused connection is connect; a 404 to a sink stays in memory and leaves the path alone",
  run = function(env)
    local t = env.transport()
    local _, cerr = t:request({ method = "GET", url = "http://127.0.0.1:1/v1/models", connect_timeout = 2 })
    local dir = tmpdir(env)
    local res = t:request({ method = "GET", url = env.fake .. "/files/file-missing/content", sink = dir .. "/x" })
    return { connect = err_of(cerr), status = res and res.status, body = res and res.body ~= nil,
      bytes_written = res and res.bytes_written, files = ls(dir) }
  end,
  check = function(out, assert)
    assert.are.equal("connect", out.connect.kind)
    assert.are.equal(404, out.status)
    assert.is_true(out.body)
    assert.is_nil(out.bytes_written)
    assert.are.equal("", out.files)
  end,
}

M.cases[#M.cases + 1] = {
  name = "max_response_bytes never limits a sink download, and upload progress counts the whole body",
  run = function(env)
    local id = uploaded(env, 200000)
    local dir = tmpdir(env)
    local t = env.transport()
    local res, err = t:request({ method = "GET", url = env.fake .. "/files/" .. id .. "/content",
      sink = dir .. "/out.bin", max_response_bytes = 1000 })
    local last
    local up = t:request({ method = "POST", url = env.fake .. "/files",
      multipart = { fields = { purpose = "fine-tune" },
        file = { data = string.rep("y", 100000), filename = "u.jsonl" } },
      progress = function(_, _, ultotal, ulnow) if ulnow > 0 then last = { ultotal, ulnow } end end })
    local size = lfs.attributes(dir .. "/out.bin", "size")
    return { bytes_written = res and res.bytes_written, err = err_of(err), size = size, files = ls(dir),
      upload_status = up and up.status, last = last }
  end,
  check = function(out, assert)
    assert.is_nil(out.err)
    assert.are.equal(200000, out.bytes_written)
    assert.are.equal(200000, out.size)
    assert.are.equal("out.bin", out.files)
    assert.are.equal(200, out.upload_status)
    assert.are.equal(out.last[1], out.last[2])
    assert.is_true(out.last[2] > 100000)
  end,
}

M.cases[#M.cases + 1] = {
  name = "progress runs about once a second while the server stalls, so it can stop the exchange",
  run = function(env)
    local t = env.transport()
    local calls = 0
    local t0 = env.now()
    local _, err = t:request({ method = "GET", url = env.fake .. "/models",
      headers = { ["x-fake-fault"] = "stall;seconds=5" },
      progress = function() calls = calls + 1; return env.now() - t0 < 1.5 end })
    return { err = err_of(err), calls = calls, elapsed = env.now() - t0 }
  end,
  check = function(out, assert)
    assert.are.equal("aborted", out.err.kind)
    assert.is_true(out.calls >= 2, out.calls .. " calls")
    assert.is_true(out.elapsed >= 1.4 and out.elapsed < 3.5, "elapsed " .. out.elapsed)
  end,
}

-- The canned answers the cases ask env.canned for (spec/support/canned_http.lua serves them).
M.CANNED = {
  -- (the canned server closes after each answer, and says so: a connection it
  -- closed is never reused, which no transport re-sends on behind the policy)
  cl_conflict = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n{\"a\":1}",
  cl_list = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5, 7\r\n\r\n{\"a\":1}",
  cl_agree = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 7\r\nContent-Length: 7, 7\r\n\r\n{\"a\":1}",
  garbage = "this is not HTTP\r\n\r\n",
}

function M.by_name(name)
  for _, c in ipairs(M.cases) do
    if c.name == name then return c end
  end
end

return M
