-- A 200 MB upload and download through the fake server in a child process
-- whose peak RSS (VmHWM) stays under 30 MB: files stream from and to disk,
-- never through Lua strings.
local H = require("spec.support.client_helper")

local SIZE_MB = 200
local LIMIT_KB = 30 * 1024

-- SIZE_MB blocks of 1 MiB, each stamped with its index so a reordered or
-- repeated block changes the md5.
local function write_big_file(path)
  local f = assert(io.open(path, "wb"))
  local line = ('{"messages":[{"role":"user","content":"%s"}]}\n'):format(("x"):rep(80))
  local block = line:rep(math.ceil(1048576 / #line)):sub(1, 1048576 - 9)
  for i = 1, SIZE_MB do
    assert(f:write(("%08d\n"):format(i), block))
  end
  f:close()
end

local CHILD = [[
local base_url, key, src, dst = ...
local ft = require("openai.finetunes")
local function hwm_kb()
  for line in io.lines("/proc/self/status") do
    local v = line:match("^VmHWM:%s*(%d+)")
    if v then return tonumber(v) end
  end
end
local c = ft.new{ api_key = key, base_url = base_url, max_retries = 0, timeout = 600 }
local start = hwm_kb()
local f = assert(c:upload_file{ file = src, purpose = "user_data" })
local after_upload = hwm_kb()
local d = assert(c:download_file(f.id, dst))
local after_download = hwm_kb()
assert(c:delete_file(f.id))
io.write(("%s %d %d %d %d %d\n"):format(f.id, f.bytes, d.bytes, start, after_upload, after_download))
]]

describe("memory", function()
  local server, dir

  setup(function()
    server = H.start()
    dir = H.tmpdir()
  end)
  teardown(function() H.rmdir(dir) end)

  it("uploads and downloads 200 MB with a peak RSS under 30 MB #heavy", function()
    local src, dst = dir .. "/big.jsonl", dir .. "/big.copy.jsonl"
    write_big_file(src)
    local size = SIZE_MB * 1048576
    local ok, out, err = H.run_lua(CHILD, {}, { server.base_url, H.API_KEY, src, dst })
    assert.is_true(ok, err)
    local id, up_bytes, down_bytes, start, after_up, after_down =
      out:match("^(%S+) (%d+) (%d+) (%d+) (%d+) (%d+)")
    assert.truthy(id, out .. err)
    assert.equal(size, tonumber(up_bytes))
    assert.equal(size, tonumber(down_bytes))
    assert.equal(H.md5(src), H.md5(dst))
    -- for the record (the closing note quotes it)
    io.stderr:write(("\n[memory] VmHWM: start %d kB, after 200 MB upload %d kB, after 200 MB download %d kB\n")
      :format(start, after_up, after_down))
    assert.is_true(tonumber(after_up) < LIMIT_KB, "upload peak " .. after_up .. " kB")
    assert.is_true(tonumber(after_down) < LIMIT_KB, "download peak " .. after_down .. " kB")
    os.remove(src)
    os.remove(dst)
  end)
end)
