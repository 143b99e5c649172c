-- Local failures are not service failures: a download into a missing
-- directory, onto a directory, onto a full or read-only disk fail at once
-- with kind "io", the path and the OS
-- message: no retry, no count toward the circuit breaker, the download not
-- fetched again. And a download over an existing file keeps its mode (as
-- `curl -o` does). Over real HTTP against the fake server; the full and the
-- read-only disk are small tmpfs mounts made here (root only) and removed.
local ft = require("openai.finetunes")
local core = require("openai.finetunes.core")
local lfs = require("lfs")
local H = require("spec.support.client_helper")

local function sh(cmd)
  local ok = os.execute(cmd)
  return ok == true or ok == 0
end

local function is_root()
  local p = io.popen("id -u")
  local uid = p:read("*l")
  p:close()
  return uid == "0"
end

local function leftovers(dir)
  local n = 0
  for name in lfs.dir(dir) do
    if name:find("%.part%-") then n = n + 1 end
  end
  return n
end

describe("a local failure", function()
  local server, c, dir, file_id
  local big -- a 200 KB training file: more than the small disk holds

  setup(function()
    server = H.start()
    dir = H.tmpdir()
    big = dir .. "/big.jsonl"
    local line = '{"messages":[{"role":"user","content":"' .. string.rep("x", 200)
      .. '"},{"role":"assistant","content":"y"}]}\n'
    H.write(big, string.rep(line, 900))
  end)
  teardown(function() H.rmdir(dir) end)
  before_each(function()
    server:reset()
    c = H.client(server, { max_retries = 2, circuit_breaker = { failure_threshold = 2 } })
    file_id = assert(c:upload_file{ file = big, purpose = "fine-tune" }).id
  end)

  local function downloads()
    return #server:requests{ path = "^/v1/files/" .. file_id:gsub("%p", "%%%0") .. "/content$" }
  end

  local function check_local(err, path, os_error)
    assert.is_true(ft.is_error(err))
    assert.equal("io", err.kind)
    assert.equal(path, err.path)
    assert.equal(os_error, err.os_error)
    assert.truthy(err.message:find(path, 1, true), err.message)
    assert.truthy(err.message:find(os_error, 1, true), err.message)
    assert.equal(1, err.attempts)
    assert.is_false(ft.errors.retryable(err))
  end

  it("into a missing directory fails at once, and never opens the circuit", function()
    for _ = 1, 3 do
      local t0 = core.now()
      local r, err = c:download_file(file_id, "/nonexistent-oft/x.jsonl")
      assert.is_nil(r)
      check_local(err, "/nonexistent-oft/x.jsonl", "No such file or directory")
      assert.is_true(core.now() - t0 < 0.3, "no backoff")
    end
    assert.equal(0, downloads(), "refused before sending")
    -- the breaker (threshold 2) did not count them: the API is still reachable
    assert(c:file(file_id))
    assert.equal("closed", c:_policy():circuit_state())
  end)

  it("onto a directory fails before sending", function()
    local target = dir .. "/a-directory"
    assert(lfs.mkdir(target))
    local r, err = c:download_file(file_id, target)
    assert.is_nil(r)
    check_local(err, target, "Is a directory")
    assert.equal(0, downloads())
    assert.equal("directory", lfs.attributes(target, "mode"))
    assert.equal(0, leftovers(dir))
  end)

  it("keeps the mode of a file it downloads over (0600 stays 0600)", function()
    local target = dir .. "/secret.jsonl"
    H.write(target, "old")
    assert(sh("chmod 600 " .. H.shell_quote(target)))
    assert(c:download_file(file_id, target))
    assert.equal("rw-------", lfs.attributes(target, "permissions"))
    assert.equal(H.read(big), H.read(target))
    -- a new file gets the usual umask mode
    local fresh = dir .. "/fresh.jsonl"
    os.remove(fresh)
    assert(c:download_file(file_id, fresh))
    assert.equal(H.read(big), H.read(fresh))
    os.remove(fresh)
    os.remove(target)
  end)

  describe("on a small disk", function()
    local mnt
    local root = is_root()

    setup(function()
      if not root then return end
      mnt = H.tmpdir()
      assert(lfs.mkdir(mnt .. "/full"))
      assert(lfs.mkdir(mnt .. "/ro"))
      assert(sh("mount -t tmpfs -o size=64k oft-spec-full " .. H.shell_quote(mnt .. "/full")))
      assert(sh("mount -t tmpfs -o ro,size=64k oft-spec-ro " .. H.shell_quote(mnt .. "/ro")))
    end)
    teardown(function()
      if not mnt then return end
      sh("umount " .. H.shell_quote(mnt .. "/full") .. " 2>/dev/null")
      sh("umount " .. H.shell_quote(mnt .. "/ro") .. " 2>/dev/null")
      H.rmdir(mnt)
    end)

    it("that fills up fails once, is not fetched again, and leaves nothing", function()
      assert.is_true(root, "this case mounts a tmpfs: run the specs as root (CI does)")
      local target = mnt .. "/full/big.jsonl"
      local t0 = core.now()
      local r, err = c:download_file(file_id, target)
      assert.is_nil(r)
      check_local(err, target, "No space left on device")
      assert.is_true(core.now() - t0 < 0.5, "no backoff")
      assert.equal(1, downloads(), "downloaded once")
      assert.equal(0, leftovers(mnt .. "/full"))
      assert.is_nil(lfs.attributes(target))
    end)

    it("that is read-only fails before sending", function()
      assert.is_true(root, "this case mounts a tmpfs: run the specs as root (CI does)")
      local target = mnt .. "/ro/x.jsonl"
      local r, err = c:download_file(file_id, target)
      assert.is_nil(r)
      check_local(err, target, "Read-only file system")
      assert.equal(0, downloads())
    end)
  end)
end)
