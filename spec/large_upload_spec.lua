-- upload_large_file: parts in parallel through curl multi, each streamed from its
-- file slice, one failed part retried alone, MD5 checked by the fake server at
-- completion, the upload cancelled on a fatal error, misuse before any request.
-- Also codec.md5 / md5_file / md5_new (src/codec/md5.c) against RFC 1321's test suite.
local ft = require("openai.finetunes")
local H = require("spec.support.client_helper")
local core = require("openai.finetunes.core")
local codec = require("openai.finetunes.codec")

local KB = 1024
local PARTS_PATH = "^/v1/uploads/[%w_]+/parts$"

-- A file of n random bytes.
local function make_file(path, n)
  local src = assert(io.open("/dev/urandom", "rb"))
  local f = assert(io.open(path, "wb"))
  local left = n
  while left > 0 do
    local chunk = src:read(math.min(left, 1024 * 1024))
    f:write(chunk)
    left = left - #chunk
  end
  src:close()
  f:close()
  return path
end

local function part_requests(server, since)
  return server:requests{ since = since, path = PARTS_PATH }
end

describe("core md5", function()
  it("matches RFC 1321's test suite", function()
    local suite = {
      [""] = "d41d8cd98f00b204e9800998ecf8427e",
      a = "0cc175b9c0f1b6a831c399e269772661",
      abc = "900150983cd24fb0d6963f7d28e17f72",
      ["message digest"] = "f96b697d7cb7938d525a2f31aaf161d0",
      abcdefghijklmnopqrstuvwxyz = "c3fcd3d76192e4007dfb496cca67e13b",
      ["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"] = "d174ab98d277d9f5a5611c2c9f419d9f",
      [string.rep("1234567890", 8)] = "57edf4a22be3c955ac49da2e2107b67a",
    }
    for input, digest in pairs(suite) do assert.equal(digest, codec.md5(input), input) end
  end)

  it("hashes files and slices of files like md5sum, across block boundaries", function()
    local dir = H.tmpdir()
    for _, n in ipairs({ 0, 1, 55, 56, 63, 64, 65, 119, 120, 200 * KB + 3 }) do
      local path = make_file(dir .. "/f" .. n, n)
      assert.equal(H.md5(path), codec.md5_file(path))
      -- in uneven slices through one hasher
      local h = codec.md5_new()
      local offset = 0
      while offset < n do
        local len = math.min(n - offset, 37 + offset % 1000)
        assert.equal(len, h:update_file(path, offset, len))
        offset = offset + len
      end
      assert.equal(n, h:count())
      assert.equal(H.md5(path), h:hexdigest())
      assert.equal(H.md5(path), h:hexdigest()) -- digest does not disturb the state
    end
    local h = codec.md5_new():update("ab"):update("c")
    assert.equal(codec.md5("abc"), h:hexdigest())
    H.rmdir(dir)
  end)

  it("answers nil, message for unreadable files and short slices", function()
    local hex, why = codec.md5_file("/nonexistent/x")
    assert.is_nil(hex)
    assert.truthy(why:find("No such file", 1, true))
    local n, short = codec.md5_new():update_file(H.TRAIN, 0, 10 ^ 9)
    assert.is_nil(n)
    assert.truthy(short:find("ends", 1, true))
    assert.has_error(function() codec.md5_new():update_file(H.TRAIN, -1) end)
    assert.has_error(function() codec.md5_new():update_file(H.TRAIN, 1.5) end)
  end)
end)

describe("upload_large_file", function()
  local server, c, dir
  H.each_test(function(s, client, d) server, c, dir = s, client, d end,
    { dir = true, client = { max_retries = 2, retry = { base_delay = 0.01, max_delay = 0.05 } } })

  it("sends a file in parts that arrive byte-identical, completing with the ids in file order and the MD5", function()
    local size = 1000 * KB + 123
    local path = make_file(dir .. "/big.jsonl", size)
    local mark = server:mark()
    local file, info = c:upload_large_file{ file = path, purpose = "fine-tune", part_size = 128 * KB, parallel = 4 }
    assert.is_table(file, tostring(info))
    assert.equal("file", file.object)
    assert.equal(size, file.bytes)
    assert.equal("big.jsonl", file.filename)
    assert.equal("fine-tune", file.purpose)
    assert.equal(H.md5(path), info.md5)
    assert.equal(8, info.parts)
    assert.equal(0, info.retries)
    assert.equal("completed", info.upload.status)
    assert.equal(H.read(path), (c:file_content(file.id)))

    local create = server:requests{ since = mark, path = "^/v1/uploads$" }
    assert.equal(1, #create)
    assert.equal(size, create[1].json.bytes)
    assert.equal("text/jsonl", create[1].json.mime_type)
    local parts = part_requests(server, mark)
    assert.equal(8, #parts)
    local sizes = {}
    for _, p in ipairs(parts) do
      assert.equal(1, #p.parts)
      assert.equal("data", p.parts[1].name)
      sizes[#sizes + 1] = p.parts[1].size
    end
    table.sort(sizes)
    assert.equal(size - 7 * 128 * KB, sizes[1])
    assert.equal(128 * KB, sizes[8])
    local complete = server:requests{ since = mark, path = "/complete$" }
    assert.equal(1, #complete)
    assert.same(info.part_ids, complete[1].json.part_ids)
    assert.equal(info.md5, complete[1].json.md5)
  end)

  it("has several parts in flight at once", function()
    local path = make_file(dir .. "/slow.jsonl", 512 * KB)
    -- each part is read by the server at 256 KB/s: 0.25 s per 64 KB part
    server:fault{ match = { method = "POST", path = PARTS_PATH }, times = -1,
      fault = { name = "slow_upload", rate = 256 * KB } }
    local mark = server:mark()
    local t0 = core.now()
    local file = assert(c:upload_large_file{ file = path, purpose = "fine-tune", part_size = 64 * KB, parallel = 4 })
    local took = core.now() - t0
    server:clear_faults()
    assert.equal(512 * KB, file.bytes)
    local parts = part_requests(server, mark)
    assert.equal(8, #parts)
    -- separate connections, and time intervals that overlap
    local connections, intervals = {}, {}
    for _, p in ipairs(parts) do
      connections[p.connection] = true
      intervals[#intervals + 1] = { p.time, p.time + p.duration_ms / 1000 }
    end
    local n = 0
    for _ in pairs(connections) do n = n + 1 end
    assert.is_true(n >= 2, "connections: " .. n)
    local overlapping = 0
    for i = 1, #intervals do
      for j = i + 1, #intervals do
        if intervals[i][1] < intervals[j][2] and intervals[j][1] < intervals[i][2] then
          overlapping = overlapping + 1
        end
      end
    end
    assert.is_true(overlapping >= 4, "overlapping pairs: " .. overlapping)
    -- one at a time would take 8 x 0.25 s
    assert.is_true(took < 1.6, "took " .. took)
  end)

  it("retries a failed part alone and still completes", function()
    local path = make_file(dir .. "/retry.jsonl", 300 * KB)
    server:fault("500", { method = "POST", path = PARTS_PATH, skip = 2, times = 1 })
    local mark = server:mark()
    local file, info = c:upload_large_file{ file = path, purpose = "fine-tune", part_size = 64 * KB, parallel = 2 }
    assert.is_table(file, tostring(info))
    assert.equal(1, info.retries)
    local parts = part_requests(server, mark)
    assert.equal(5 + 1, #parts) -- five parts, one of them twice
    local faulted, sizes = 0, {}
    for _, p in ipairs(parts) do
      if p.fault then
        faulted = faulted + 1
      else
        sizes[#sizes + 1] = p.parts[1].size
      end
    end
    assert.equal(1, faulted)
    assert.equal(5, #sizes)
    assert.equal(H.read(path), (c:file_content(file.id)))
  end)

  it("cancels the upload on a part that cannot be retried", function()
    local path = make_file(dir .. "/fatal.jsonl", 300 * KB)
    server:fault("400", { method = "POST", path = PARTS_PATH, skip = 1, times = 1 })
    local mark = server:mark()
    local file, err = c:upload_large_file{ file = path, purpose = "fine-tune", part_size = 64 * KB, parallel = 1 }
    assert.is_nil(file)
    assert.is_true(ft.is_error(err))
    assert.equal("api", err.kind)
    assert.equal(400, err.status)
    assert.equal(2, err.part)
    assert.truthy(err.upload_id)
    assert.is_nil(err.cancel_error)
    local cancels = server:requests{ since = mark, path = "/cancel$" }
    assert.equal(1, #cancels)
    assert.equal("/v1/uploads/" .. err.upload_id .. "/cancel", cancels[1].path)
    assert.equal(200, cancels[1].status)
    assert.equal(0, #server:requests{ since = mark, path = "/complete$" })
    -- the upload takes no more parts
    local r, perr = c:add_upload_part(err.upload_id, { data = "x" })
    assert.is_nil(r)
    assert.equal(400, perr.status)
  end)

  it("cancels the upload when a part's retries run out, stopping the parts in flight", function()
    local path = make_file(dir .. "/down.jsonl", 400 * KB)
    server:fault("503", { method = "POST", path = PARTS_PATH, times = -1 })
    local mark = server:mark()
    local file, err = c:upload_large_file({ file = path, purpose = "fine-tune", part_size = 64 * KB, parallel = 3 },
      { max_retries = 1 })
    server:clear_faults()
    assert.is_nil(file)
    assert.equal(503, err.status)
    assert.equal(2, err.attempts)
    assert.equal(1, #server:requests{ since = mark, path = "/cancel$" })
    -- the first part to give up stops everything: far fewer than 7 parts x 2 attempts
    assert.is_true(#part_requests(server, mark) < 14)
  end)

  it("cancels the upload when completion fails (a wrong md5)", function()
    local path = make_file(dir .. "/md5.jsonl", 100 * KB)
    local mark = server:mark()
    local file, err = c:upload_large_file{ file = path, purpose = "fine-tune", part_size = 64 * KB,
      md5 = string.rep("0", 32) }
    assert.is_nil(file)
    assert.equal(400, err.status)
    assert.truthy(err.message:find("MD5", 1, true))
    assert.is_nil(err.part)
    assert.equal(1, #server:requests{ since = mark, path = "/cancel$" })
  end)

  it("sends no md5 with md5 = false and a given one as is", function()
    local path = make_file(dir .. "/given.jsonl", 10 * KB)
    local mark = server:mark()
    assert(c:upload_large_file{ file = path, purpose = "fine-tune", md5 = false })
    assert.is_nil(server:requests{ since = mark, path = "/complete$" }[1].json.md5)
    mark = server:mark()
    local _, info = assert(c:upload_large_file{ file = path, purpose = "fine-tune", md5 = H.md5(path):upper() })
    assert.equal(H.md5(path):upper(), server:requests{ since = mark, path = "/complete$" }[1].json.md5)
    assert.equal(H.md5(path):upper(), info.md5)
  end)

  it("reports progress that never decreases and ends at the file size", function()
    local size = 700 * KB
    local path = make_file(dir .. "/progress.jsonl", size)
    local seen, last_parts = {}, nil
    assert(c:upload_large_file{ file = path, purpose = "fine-tune", part_size = 100 * KB, parallel = 3,
      on_progress = function(sent, total, p)
        assert.equal(size, total)
        seen[#seen + 1] = sent
        last_parts = p
      end })
    assert.is_true(#seen >= 7) -- at least once per part
    for i = 2, #seen do assert.is_true(seen[i] >= seen[i - 1]) end
    assert.equal(size, seen[#seen])
    assert.same({ parts_done = 7, parts = 7, retries = 0 }, last_parts)
  end)

  it("cancels the upload and raises when on_progress raises", function()
    local path = make_file(dir .. "/raise.jsonl", 300 * KB)
    local mark = server:mark()
    local ok, err = pcall(c.upload_large_file, c, { file = path, purpose = "fine-tune", part_size = 64 * KB,
      on_progress = function(sent) if sent > 0 then error("stop the upload") end end })
    assert.is_false(ok)
    assert.truthy(tostring(err):find("stop the upload", 1, true))
    assert.equal(1, #server:requests{ since = mark, path = "/cancel$" })
    assert.equal(0, #server:requests{ since = mark, path = "/complete$" })
  end)

  it("sends the parts one after another over a transport without start/poll", function()
    local curl = require("openai.finetunes.transport.curl")
    local inner = curl.new{ api_key = H.API_KEY }
    local t = {
      request = function(_, req) return inner:request(req) end,
      now = function() return core.now() end,
      sleep = function(_, s) core.sleep(s) end,
    }
    local tc = ft.new{ api_key = H.API_KEY, base_url = server.base_url, transport = t }
    local path = make_file(dir .. "/seq.jsonl", 200 * KB)
    local mark = server:mark()
    local file, info = tc:upload_large_file{ file = path, purpose = "fine-tune", part_size = 64 * KB, parallel = 4 }
    inner:close()
    assert.is_table(file, tostring(info))
    assert.equal(H.read(path), (c:file_content(file.id)))
    local parts = part_requests(server, mark)
    assert.equal(4, #parts)
    local sizes = {}
    for i, p in ipairs(parts) do sizes[i] = p.parts[1].size end
    assert.same({ 64 * KB, 64 * KB, 64 * KB, 8 * KB }, sizes) -- file order, one at a time
  end)

  it("uploads an empty file as an upload without parts", function()
    local path = dir .. "/empty.jsonl"
    H.write(path, "")
    local file, info = assert(c:upload_large_file{ file = path, purpose = "batch" })
    assert.equal(0, file.bytes)
    assert.equal(0, info.parts)
    assert.equal("d41d8cd98f00b204e9800998ecf8427e", info.md5)
  end)

  it("picks filename and mime_type from the path unless given", function()
    local path = make_file(dir .. "/data.csv", 3 * KB)
    local mark = server:mark()
    assert(c:upload_large_file{ file = path, purpose = "batch" })
    local create = server:requests{ since = mark, path = "^/v1/uploads$" }[1].json
    assert.equal("data.csv", create.filename)
    assert.equal("text/csv", create.mime_type)
    mark = server:mark()
    local file = assert(c:upload_large_file{ file = path, purpose = "fine-tune", filename = "named.jsonl",
      mime_type = "application/jsonl", expires_after = { anchor = "created_at", seconds = 7200 } })
    create = server:requests{ since = mark, path = "^/v1/uploads$" }[1].json
    assert.equal("named.jsonl", create.filename)
    assert.equal("application/jsonl", create.mime_type)
    assert.same({ anchor = "created_at", seconds = 7200 }, create.expires_after)
    assert.equal("named.jsonl", file.filename)
  end)

  it("raises on misuse before any request", function()
    local mark = server:mark()
    local function raises(spec, opts, message)
      local ok, msg = pcall(c.upload_large_file, c, spec, opts)
      assert.is_false(ok)
      assert.truthy(msg:find(message, 1, true), msg)
    end
    raises(nil, nil, "bad argument #1 to 'upload_large_file' (table expected, got nil)")
    raises({ purpose = "fine-tune" }, nil, "bad argument #1 to 'upload_large_file' (file must be a path string")
    raises({ file = dir .. "/missing.jsonl", purpose = "fine-tune" }, nil, "cannot be read")
    raises({ file = H.TRAIN, purpose = "fine-tune", part_size = 0 }, nil, "part_size must be an integer in 1..")
    raises({ file = H.TRAIN, purpose = "fine-tune", part_size = 64 * 1024 * 1024 + 1 }, nil, "part_size")
    raises({ file = H.TRAIN, purpose = "fine-tune", part_size = 1.5 }, nil, "part_size")
    raises({ file = make_file(dir .. "/many.jsonl", 20000), purpose = "fine-tune", part_size = 1 }, nil,
      "part_size 1 would cut the file (20000 bytes) into 20000 parts, more than 10000")
    raises({ file = H.TRAIN, purpose = "fine-tune", parallel = 0 }, nil, "parallel must be an integer in 1..64")
    raises({ file = H.TRAIN, purpose = "fine-tune", on_progress = true }, nil, "on_progress must be a function")
    raises({ file = H.TRAIN, purpose = "fine-tune", md5 = "abc" }, nil, "md5 must be 32 hex digits or false")
    raises({ file = H.TRAIN, purpose = "fine-tune", chunk = 1 }, nil, "unknown field \"chunk\"")
    raises({ file = H.TRAIN }, nil, "bad argument #1 to 'upload_large_file' (purpose")
    raises({ file = H.TRAIN, purpose = "fine-tune" }, { nope = 1 },
      "bad argument #2 to 'upload_large_file' (unknown option \"nope\")")
    raises({ file = H.TRAIN, purpose = "fine-tune" }, { timeout = -1 }, "bad argument #2 to 'upload_large_file'")
    assert.equal(mark, server:mark())
  end)

  it("keeps memory flat: a 96 MB file in 8 MB parts stays within a few MB of RSS #heavy", function()
    local size = 96 * 1024 * 1024
    local path = dir .. "/heavy.jsonl"
    assert(os.execute("head -c " .. size .. " /dev/urandom > " .. H.shell_quote(path)))
    local code = [[
      local ft = require("openai.finetunes")
      local function hwm()
        for line in io.lines("/proc/self/status") do
          local kb = line:match("^VmHWM:%s*(%d+)")
          if kb then return tonumber(kb) end
        end
      end
      local c = ft.new{ api_key = "sk-test", base_url = arg[1], max_retries = 2 }
      c:files() -- connections, TLS-free warm-up: the baseline includes the client itself
      local before = hwm()
      local file, info = c:upload_large_file{ file = arg[2], purpose = "fine-tune", part_size = 8 * 1024 * 1024,
        parallel = 4 }
      assert(file, tostring(info))
      print(file.bytes, info.md5, hwm() - before)
    ]]
    local ok, out, err = H.run_lua(code, {}, { server.base_url, path })
    assert.is_true(ok, err)
    local bytes, md5, grown = out:match("^(%d+)%s+(%x+)%s+(%-?%d+)")
    assert.equal(size, tonumber(bytes))
    assert.equal(H.md5(path), md5)
    assert.is_true(tonumber(grown) < 8 * 1024, "peak RSS grew by " .. grown .. " KB") -- < 8 MB for 96 MB sent
    os.remove(path)
  end)
end)
