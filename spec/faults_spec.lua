-- The fault matrix (docs/fault-matrix.md): every fault the fake server can inject,
-- through the real client, the real C core and real HTTP, with the exact outcome:
-- success after the right number of attempts and waits, or nil, err with the right
-- kind, status and attempts. Attempts are counted in the fake server's request log.
local ft = require("openai.finetunes")
local core = require("openai.finetunes.core")
local fake = require("spec.support.fake_server")
local H = require("spec.support.client_helper")
local lfs = require("lfs")

local KEY = "sk-faults-0123456789"

local server

-- A client whose backoff is short and exact (no jitter), so a spec shows the
-- number of retries without waiting seconds; `record` collects on_retry calls.
local function client(opts, record)
  local o = {
    api_key = KEY, base_url = server.base_url, max_retries = 2,
    retry = { base_delay = 0.05, max_delay = 0.2, jitter = 0 },
  }
  for k, v in pairs(opts or {}) do o[k] = v end
  if record then
    o.retry = o.retry or {}
    o.retry.on_retry = function(info) record[#record + 1] = info end
  end
  return ft.new(o)
end

-- The request log entries for a path since `mark` (the attempts a call made).
local function attempts(path, mark)
  return server:requests({ path = path, since = mark })
end

local function timed(fn, ...)
  local t0 = core.now()
  local a, b = fn(...)
  return a, b, core.now() - t0
end

local tmpdir
local function tmp(name) return tmpdir .. "/" .. name end

-- Training data that the fake server accepts, of roughly `n` bytes.
local function training_data(n)
  local line = '{"messages":[{"role":"user","content":"Say hi"},{"role":"assistant","content":"hi"}]}\n'
  local rows, size, i = {}, 0, 0
  while size < n do
    i = i + 1
    local l = line:gsub("Say hi", "Say hi " .. i)
    rows[#rows + 1] = l
    size = size + #l
  end
  return table.concat(rows)
end

local function dir_entries(dir)
  local out = {}
  for name in lfs.dir(dir) do
    if name ~= "." and name ~= ".." then out[#out + 1] = name end
  end
  table.sort(out)
  return out
end

setup(function()
  server = fake.start()
  tmpdir = H.tmpdir()
end)

teardown(function()
  if tmpdir then H.rmdir(tmpdir) end
end)

before_each(function()
  server:reset()
end)

describe("fault matrix: rate limits", function()
  it("429 with retry-after: 1 is retried after waiting 1 s (default policy)", function()
    local seen = {}
    local c = ft.new({ api_key = KEY, base_url = server.base_url,
      retry = { on_retry = function(i) seen[#seen + 1] = i end } })
    server:fault("429;retry_after=1", { path = "^/v1/models$" })
    local mark = server:mark()
    local models, meta, elapsed = timed(c.models, c)
    assert.is_table(models, tostring(meta))
    assert.are.equal(2, meta.attempts)
    assert.are.equal(2, #attempts("^/v1/models$", mark))
    assert.are.equal(1, #seen)
    assert.are.equal(1, seen[1].delay)
    assert.are.equal("retry-after", seen[1].reason)
    assert.are.equal(429, seen[1].status)
    assert.is_true(elapsed >= 1 and elapsed < 1.6, "waited " .. elapsed)
  end)

  it("429 with retry-after-ms: 300 is retried after 0.3 s; retry-after-ms wins over retry-after", function()
    local seen = {}
    local c = client({ retry = { base_delay = 5, jitter = 0 } }, seen)
    server:fault({ match = { path = "^/v1/models$" }, times = 2,
      fault = { name = "429", retry_after_ms = 300, retry_after = 30 } })
    local mark = server:mark()
    local models, meta, elapsed = timed(c.models, c)
    assert.is_table(models, tostring(meta))
    assert.are.equal(3, meta.attempts)
    assert.are.equal(3, #attempts("^/v1/models$", mark))
    assert.are.same({ 0.3, 0.3 }, { seen[1].delay, seen[2].delay })
    assert.is_true(elapsed >= 0.6 and elapsed < 1.2, "waited " .. elapsed)
  end)

  it("429 with retry-after as an HTTP date waits until that date", function()
    local seen = {}
    local c = client({ retry = { base_delay = 5, jitter = 0 } }, seen)
    server:fault("429;retry_after_date=2", { path = "^/v1/models$" })
    local models, meta, elapsed = timed(c.models, c)
    assert.is_table(models, tostring(meta))
    assert.are.equal(2, meta.attempts)
    assert.are.equal("retry-after", seen[1].reason)
    -- an HTTP date has whole seconds: "2 s from now" is 1 to 2 s away
    assert.is_true(seen[1].delay >= 1 and seen[1].delay <= 2, "delay " .. seen[1].delay)
    assert.is_true(elapsed >= 0.9 and elapsed < 2.7, "waited " .. elapsed)
  end)

  it("429 with retry-after above the cap falls back to the backoff and reports the hint", function()
    local seen = {}
    local c = client({}, seen)
    server:fault({ match = { path = "^/v1/models$" }, times = -1, fault = "429;retry_after=3600" })
    local mark = server:mark()
    local models, err, elapsed = timed(c.models, c)
    assert.is_nil(models)
    assert.are.equal("api", err.kind)
    assert.are.equal(429, err.status)
    assert.are.equal("rate_limit_exceeded", err.code)
    assert.are.equal(3, err.attempts)
    assert.are.equal(3600, err.retry_after)
    assert.are.equal(3, #attempts("^/v1/models$", mark))
    assert.are.same({ "backoff", "backoff" }, { seen[1].reason, seen[2].reason })
    assert.are.same({ 0.05, 0.1 }, { seen[1].delay, seen[2].delay })
    assert.is_true(elapsed < 1, "waited " .. elapsed)
    assert.is_truthy(tostring(err):find("after 3 attempts", 1, true), tostring(err))
  end)

  it("429 on every attempt gives up after max_retries with kind api, status 429", function()
    local c = client()
    server:fault({ match = { path = "^/v1/models$" }, times = -1, fault = "429" })
    local models, err = c:models()
    assert.is_nil(models)
    assert.are.equal("api", err.kind)
    assert.are.equal(429, err.status)
    assert.are.equal(3, err.attempts)
  end)
end)

describe("fault matrix: server errors", function()
  for _, status in ipairs({ 500, 502, 503 }) do
    it(status .. " once is retried, then succeeds", function()
      local seen = {}
      local c = client({}, seen)
      server:fault(tostring(status), { path = "^/v1/models$" })
      local mark = server:mark()
      local models, meta = c:models()
      assert.is_table(models, tostring(meta))
      assert.are.equal(2, meta.attempts)
      local log = attempts("^/v1/models$", mark)
      assert.are.equal(2, #log)
      assert.are.equal(status, log[1].status)
      assert.are.equal(200, log[2].status)
      assert.are.equal(0.05, seen[1].delay)
    end)

    it(status .. " on every attempt gives kind api, status " .. status .. ", attempts 3", function()
      local c = client()
      server:fault({ match = { path = "^/v1/models$" }, times = -1, fault = tostring(status) })
      local mark = server:mark()
      local models, err = c:models()
      assert.is_nil(models)
      assert.are.equal("api", err.kind)
      assert.are.equal(status, err.status)
      assert.are.equal("server_error", err.type)
      assert.are.equal(3, err.attempts)
      assert.is_string(err.request_id)
      assert.are.equal(3, #attempts("^/v1/models$", mark))
    end)
  end

  it("an HTML 502 page from a proxy is retried; its title becomes the message", function()
    local c = client()
    server:fault({ match = { path = "^/v1/models$" }, times = -1, fault = "html_502" })
    local models, err = c:models()
    assert.is_nil(models)
    assert.are.equal("api", err.kind)
    assert.are.equal(502, err.status)
    assert.are.equal(3, err.attempts)
    assert.are.equal("502 Bad Gateway", err.message)
    assert.is_nil(tostring(err):find("\n", 1, true))
  end)

  it("an HTML 502 page once, then success", function()
    local c = client()
    server:fault("html_502", { path = "^/v1/models$" })
    local models, meta = c:models()
    assert.is_table(models, tostring(meta))
    assert.are.equal(2, meta.attempts)
  end)
end)

describe("fault matrix: broken connections", function()
  it("a reset before the answer is retried, then succeeds", function()
    local c = client()
    server:fault("reset", { path = "^/v1/models$" })
    local mark = server:mark()
    local models, meta = c:models()
    assert.is_table(models, tostring(meta))
    assert.are.equal(2, meta.attempts)
    local log = attempts("^/v1/models$", mark)
    assert.are.equal(0, log[1].status)
    assert.are.equal(200, log[2].status)
  end)

  it("a reset before the answer on every attempt gives kind io, attempts 3", function()
    local c = client()
    server:fault({ match = { path = "^/v1/models$" }, times = -1, fault = "reset" })
    local models, err = c:models()
    assert.is_nil(models)
    assert.are.equal("io", err.kind)
    assert.is_nil(err.status)
    assert.are.equal(3, err.attempts)
  end)

  it("a connection closed without an answer is retried like a reset", function()
    local c = client()
    server:fault({ match = { path = "^/v1/models$" }, times = -1, fault = "close" })
    local models, err = c:models()
    assert.is_nil(models)
    assert.are.equal("io", err.kind)
    assert.are.equal(3, err.attempts)
  end)

  it("a reset in the middle of the body is retried, then succeeds", function()
    local c = client()
    server:fault("reset_mid_body", { path = "^/v1/models$" })
    local models, meta = c:models()
    assert.is_table(models, tostring(meta))
    assert.are.equal(2, meta.attempts)
  end)

  it("a reset in the middle of the body on every attempt gives kind io, attempts 3", function()
    local c = client()
    server:fault({ match = { path = "^/v1/models$" }, times = -1, fault = "reset_mid_body" })
    local models, err = c:models()
    assert.is_nil(models)
    assert.are.equal("io", err.kind)
    assert.are.equal(3, err.attempts)
  end)

  it("a truncated JSON body (FIN before Content-Length) is an io error and retried", function()
    local c = client()
    server:fault({ match = { path = "^/v1/models$" }, times = 2, fault = "truncated" })
    local mark = server:mark()
    local models, meta = c:models()
    assert.is_table(models, tostring(meta))
    assert.are.equal(3, meta.attempts)
    assert.are.equal(3, #attempts("^/v1/models$", mark))
    server:fault({ match = { path = "^/v1/models$" }, times = -1, fault = "truncated;bytes=10" })
    local none, err = c:models()
    assert.is_nil(none)
    assert.are.equal("io", err.kind)
    assert.are.equal(3, err.attempts)
  end)

  it("a refused connection gives kind connect after the default backoff (0.375-0.5 s, then 0.75-1 s)", function()
    local socket = require("socket")
    local s = assert(socket.bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    s:close()
    local c = ft.new({ api_key = KEY, base_url = "http://127.0.0.1:" .. port .. "/v1" })
    local models, err, elapsed = timed(c.models, c)
    assert.is_nil(models)
    assert.are.equal("connect", err.kind)
    assert.are.equal(3, err.attempts)
    assert.is_true(elapsed >= 1.125 and elapsed < 2, "waited " .. elapsed)
  end)
end)

describe("fault matrix: timeouts", function()
  it("a stall longer than the timeout is retried, then gives kind timeout", function()
    local c = client({ timeout = 0.4 })
    server:fault({ match = { path = "^/v1/models$" }, times = -1, fault = "stall;seconds=3" })
    local mark = server:mark()
    local models, err, elapsed = timed(c.models, c)
    assert.is_nil(models)
    assert.are.equal("timeout", err.kind)
    assert.are.equal(3, err.attempts)
    assert.are.equal(3, #attempts("^/v1/models$", mark))
    assert.is_true(elapsed >= 1.2 and elapsed < 3, "took " .. elapsed)
  end)

  it("a stall once, then success", function()
    local c = client({ timeout = 0.4 })
    server:fault("stall;seconds=3", { path = "^/v1/models$" })
    local models, meta = c:models()
    assert.is_table(models, tostring(meta))
    assert.are.equal(2, meta.attempts)
  end)

  it("a stalled upload hits the idle timeout instead of hanging", function()
    local path = tmp("stalled.jsonl")
    H.write(path, training_data(16 * 1024 * 1024))
    local c = client({ max_retries = 1, idle_timeout = 1 })
    -- the server reads 1 KB of the body, then nothing: the upload stalls once the
    -- socket buffers are full
    server:fault({ match = { method = "POST", path = "^/v1/files$" }, times = -1, fault = "slow_upload;rate=1" })
    local mark = server:mark()
    local file, err, elapsed = timed(c.upload_file, c, { file = path, purpose = "fine-tune" })
    assert.is_nil(file)
    assert.are.equal("timeout", err.kind)
    assert.are.equal(2, err.attempts)
    assert.are.equal(2, #attempts("^/v1/files$", mark))
    -- each attempt gives up 1 s after the last byte moved
    assert.is_true(elapsed >= 2 and elapsed < 5, "took " .. elapsed)
  end)
end)

describe("fault matrix: bad answers", function()
  it("a 200 that is not JSON gives kind invalid_response, not retried", function()
    local c = client()
    server:fault({ match = { path = "^/v1/models$" }, times = -1, fault = "not_json" })
    local mark = server:mark()
    local models, err = c:models()
    assert.is_nil(models)
    assert.are.equal("invalid_response", err.kind)
    assert.are.equal(200, err.status)
    assert.are.equal(1, err.attempts)
    assert.is_string(err.request_id)
    assert.are.equal(1, #attempts("^/v1/models$", mark))
  end)

  it("an enormous body beyond max_response_bytes gives kind too_large, not retried", function()
    local c = client({ max_response_bytes = 1024 * 1024 })
    for _, fault in ipairs({ "huge;bytes=8000000", "huge;bytes=8000000;chunked=true" }) do
      server:fault({ match = { path = "^/v1/models$" }, times = -1, fault = fault })
      local mark = server:mark()
      local models, err = c:models()
      assert.is_nil(models, fault)
      assert.are.equal("too_large", err.kind, fault)
      assert.are.equal(1, err.attempts, fault)
      assert.are.equal(1, #attempts("^/v1/models$", mark), fault)
      server:clear_faults()
    end
  end)

  it("per call max_response_bytes overrides the client's", function()
    local c = client()
    server:fault({ match = { path = "^/v1/models$" }, times = -1, fault = "huge;bytes=300000" })
    local models, err = c:models({ max_response_bytes = 100000 })
    assert.is_nil(models)
    assert.are.equal("too_large", err.kind)
    -- the client's default cap is far above 300 kB: the same answer is read whole
    local big, meta = c:models()
    assert.is_table(big, tostring(meta))
    assert.are.equal("padding", big.object)
  end)
end)

describe("fault matrix: response size cap and downloads", function()
  it("caps bodies held in memory, not downloads streamed to a path", function()
    local src = tmp("capped.jsonl")
    H.write(src, training_data(1024 * 1024))
    local c = client({ max_response_bytes = 100000 })
    local file = assert(c:upload_file({ file = src, purpose = "fine-tune" }))
    local bytes, err = c:file_content(file.id)
    assert.is_nil(bytes)
    assert.are.equal("too_large", err.kind)
    local dest = tmp("capped-download.jsonl")
    local got, meta = c:download_file(file.id, dest)
    assert.is_table(got, tostring(meta))
    assert.are.equal(H.read(src), H.read(dest))
  end)
end)

describe("fault matrix: x-should-retry", function()
  it("x-should-retry: true makes a 400 retried", function()
    local c = client()
    server:fault({ match = { path = "^/v1/models$" }, times = 1, fault = "400;should_retry=true" })
    local mark = server:mark()
    local models, meta = c:models()
    assert.is_table(models, tostring(meta))
    assert.are.equal(2, meta.attempts)
    assert.are.equal(2, #attempts("^/v1/models$", mark))
  end)

  it("x-should-retry: false makes a 503 final at once", function()
    local c = client()
    server:fault({ match = { path = "^/v1/models$" }, times = -1, fault = "503;should_retry=false" })
    local mark = server:mark()
    local models, err = c:models()
    assert.is_nil(models)
    assert.are.equal("api", err.kind)
    assert.are.equal(503, err.status)
    assert.are.equal(1, err.attempts)
    assert.are.equal(1, #attempts("^/v1/models$", mark))
  end)

  it("a 404 is final at once", function()
    local c = client()
    local mark = server:mark()
    local f, err = c:file("file-nope")
    assert.is_nil(f)
    assert.are.equal(404, err.status)
    assert.are.equal(1, err.attempts)
    assert.are.equal(1, #attempts("^/v1/files/", mark))
  end)
end)

describe("fault matrix: retries of uploads and downloads", function()
  it("a retried upload arrives byte-identical", function()
    local path = tmp("train.jsonl")
    H.write(path, training_data(3 * 1024 * 1024 + 17))
    local want = H.md5(path)
    local c = client()
    -- the reset first, on the client's first (fresh) connection: libcurl itself
    -- silently re-sends a request whose reused keep-alive connection dies before
    -- any answer byte, which would hide an attempt from the count
    server:fault({ match = { method = "POST", path = "^/v1/files$" }, times = 1, fault = "reset" })
    server:fault({ match = { method = "POST", path = "^/v1/files$" }, times = 1, fault = "503" })
    local mark = server:mark()
    local file, meta = c:upload_file({ file = path, purpose = "fine-tune" })
    assert.is_table(file, tostring(meta))
    assert.are.equal(3, meta.attempts)
    local log = attempts("^/v1/files$", mark)
    assert.are.equal(3, #log)
    for i, entry in ipairs(log) do
      local part
      for _, p in ipairs(entry.parts or {}) do
        if p.name == "file" then part = p end
      end
      assert.is_table(part, "attempt " .. i .. " has no file part")
      assert.are.equal(want, part.md5, "attempt " .. i)
      assert.are.equal(lfs.attributes(path, "size"), part.size, "attempt " .. i)
    end
    local bytes = assert(c:file_content(file.id))
    assert.are.equal(H.read(path), bytes)
  end)

  it("an upload part read from a file slice is re-sent whole on retry", function()
    local path = tmp("big.jsonl")
    local data = training_data(2 * 1024 * 1024)
    H.write(path, data)
    local c = client()
    local up = assert(c:create_upload({ filename = "big.jsonl", purpose = "fine-tune", bytes = #data,
      mime_type = "text/jsonl" }))
    server:fault({ match = { method = "POST", path = "/parts$" }, times = 1, fault = "reset_mid_body" })
    local mark = server:mark()
    local part, meta = c:add_upload_part(up.id, { file = path, offset = 1000, length = 500000 })
    assert.is_table(part, tostring(meta))
    assert.are.equal(2, meta.attempts)
    local log = attempts("/parts$", mark)
    assert.are.equal(2, #log)
    H.write(tmp("slice"), data:sub(1001, 1000 + 500000))
    local want = H.md5(tmp("slice"))
    for _, entry in ipairs(log) do
      assert.are.equal(want, entry.parts[1].md5)
      assert.are.equal(500000, entry.parts[1].size)
    end
  end)

  it("a download to a path restarts cleanly after a reset mid-body", function()
    local src = tmp("src.jsonl")
    H.write(src, training_data(1024 * 1024))
    local c = client()
    local file = assert(c:upload_file({ file = src, purpose = "fine-tune" }))
    local dest = tmp("download-ok.jsonl")
    server:fault({ match = { path = "/content$" }, times = 1, fault = "reset_mid_body" })
    local got, meta = c:download_file(file.id, dest)
    assert.is_table(got, tostring(meta))
    assert.are.equal(2, meta.attempts)
    assert.are.equal(H.read(src), H.read(dest))
  end)

  it("a download that fails on every attempt leaves no file, no partial file, the old file untouched", function()
    local src = tmp("src2.jsonl")
    H.write(src, training_data(1024 * 1024))
    local c = client()
    local file = assert(c:upload_file({ file = src, purpose = "fine-tune" }))
    local dir = tmp("downloads")
    assert(lfs.mkdir(dir))
    server:fault({ match = { path = "/content$" }, times = -1, fault = "reset_mid_body" })
    local got, err = c:download_file(file.id, dir .. "/new.jsonl")
    assert.is_nil(got)
    assert.are.equal("io", err.kind)
    assert.are.equal(3, err.attempts)
    assert.are.same({}, dir_entries(dir))
    -- an existing file at the destination is left as it was
    H.write(dir .. "/old.jsonl", "previous contents")
    got, err = c:download_file(file.id, dir .. "/old.jsonl")
    assert.is_nil(got)
    assert.are.equal(3, err.attempts)
    assert.are.same({ "old.jsonl" }, dir_entries(dir))
    assert.are.equal("previous contents", H.read(dir .. "/old.jsonl"))
  end)

  it("a download answered 503 writes no file and keeps the error body", function()
    local src = tmp("src3.jsonl")
    H.write(src, training_data(1000))
    local c = client({ max_retries = 1 })
    local file = assert(c:upload_file({ file = src, purpose = "fine-tune" }))
    local dir = tmp("downloads503")
    assert(lfs.mkdir(dir))
    server:fault({ match = { path = "/content$" }, times = -1, fault = "503" })
    local got, err = c:download_file(file.id, dir .. "/f.jsonl")
    assert.is_nil(got)
    assert.are.equal(503, err.status)
    assert.are.equal("server_error", err.type)
    assert.are.equal(2, err.attempts)
    assert.are.same({}, dir_entries(dir))
  end)
end)

describe("retries: same request every time", function()
  it("sends the same Idempotency-Key on every retry", function()
    local c = client()
    server:fault({ match = { method = "POST", path = "^/v1/uploads$" }, times = 2, fault = "500" })
    local mark = server:mark()
    local up, meta = c:create_upload({ filename = "x.jsonl", purpose = "fine-tune", bytes = 10,
      mime_type = "text/jsonl" }, { idempotency_key = "key-123" })
    assert.is_table(up, tostring(meta))
    local log = attempts("^/v1/uploads$", mark)
    assert.are.equal(3, #log)
    for _, e in ipairs(log) do
      assert.are.equal("key-123", e.headers["idempotency-key"])
      assert.are.equal(log[1].body, e.body)
    end
  end)

  it("sends no Idempotency-Key unless asked", function()
    local c = client()
    local mark = server:mark()
    assert(c:models())
    assert.is_nil(attempts("^/v1/models$", mark)[1].headers["idempotency-key"])
  end)

  it("per call max_retries overrides the client's", function()
    local c = client({ max_retries = 2 })
    server:fault({ match = { path = "^/v1/models$" }, times = -1, fault = "503" })
    local _, err0 = c:models({ max_retries = 0 })
    assert.are.equal(1, err0.attempts)
    local _, err4 = c:models({ max_retries = 4 })
    assert.are.equal(5, err4.attempts)
    local none = client({ max_retries = 0 })
    local _, err = none:models()
    assert.are.equal(1, err.attempts)
    local _, err3 = none:models({ max_retries = 3 })
    assert.are.equal(4, err3.attempts)
  end)

  it("never retries a Lua error raised by a progress callback", function()
    local c = client()
    local mark = server:mark()
    local ok, e = pcall(c.models, c, { progress = function() error("stop here") end })
    assert.is_false(ok)
    assert.is_truthy(tostring(e):find("stop here", 1, true), tostring(e))
    -- the callback runs before the request is sent: nothing reached the server
    assert.are.equal(0, #attempts("^/v1/models$", mark))
  end)

  it("a progress callback returning false aborts: kind aborted, not retried", function()
    local c = client()
    local mark = server:mark()
    local models, err = c:models({ progress = function() return false end })
    assert.is_nil(models)
    assert.are.equal("aborted", err.kind)
    assert.are.equal(1, err.attempts)
    assert.is_true(#attempts("^/v1/models$", mark) <= 1)
  end)
end)
