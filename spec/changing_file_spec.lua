-- Never send other bytes than declared: an upload whose file grows, shrinks or
-- is rewritten (same size, other bytes) while it is sent fails at once with nil, err naming the file
-- and what changed (kind "io", err.path: a local failure, not retried), and
-- nothing reaches the server as a finished upload. upload_file, an upload part
-- and upload_large_file, on every transport. The file is changed from the
-- progress callback, while its bytes are on the way.
local both = require("spec.support.both_transports")
local H = require("spec.support.client_helper")

local CHUNK = [[
  return function(vars)
    local ft = require("openai.finetunes")
    local c = ft.new{ api_key = "sk-changing-0123456789", base_url = vars.base_url, max_retries = 2 }
    local line = '{"messages":[{"role":"user","content":"' .. string.rep("x", 200)
      .. '"},{"role":"assistant","content":"y"}]}\n'
    local function fresh(path)
      local f = assert(io.open(path, "wb"))
      f:write(string.rep(line, 10000)) -- about 2.5 MB: many reads
      f:close()
    end
    local function changer(path, how)
      local done = false
      return function(_, _, _, ulnow)
        if not done and ulnow > 0 then
          done = true
          if how == "grow" then
            local f = assert(io.open(path, "ab")) f:write(string.rep(line, 100)) f:close()
          elseif how == "rewrite" then -- the same size, other bytes
            local f = assert(io.open(path, "r+b")) f:write("Z") f:close()
          else
            local f = assert(io.open(path, "r+b")) f:write("") f:close()
            os.execute("truncate -s 1000 '" .. path .. "'")
          end
        end
      end
    end
    local out = {}
    local function fresh_old(path) -- its mtime far back: a rewrite now moves it, whatever the clock's tick
      fresh(path)
      assert(os.execute("touch -d @1000000000 '" .. path .. "'"))
    end
    for _, how in ipairs({ "grow", "shrink", "rewrite" }) do
      local path = vars.dir .. "/" .. how .. ".jsonl"
      fresh_old(path)
      local r, err = c:upload_file({ file = path, purpose = "fine-tune" }, { progress = changer(path, how) })
      out[#out + 1] = { what = "upload_file " .. how, ok = r ~= nil, kind = err and err.kind, path = err and err.path,
        message = err and err.message, attempts = err and err.attempts }
      fresh_old(path)
      local up = assert(c:create_upload{ filename = how .. ".jsonl", purpose = "fine-tune", bytes = 2600000,
        mime_type = "text/jsonl" })
      r, err = c:add_upload_part(up.id, { file = path, offset = 0, length = 2000000 },
        { progress = changer(path, how) })
      out[#out + 1] = { what = "add_upload_part " .. how, ok = r ~= nil, kind = err and err.kind,
        path = err and err.path, message = err and err.message, attempts = err and err.attempts }
    end
    return { cases = out, files = #assert(c:files()).data }
  end
]]

describe("a file that changes while it is sent", function()
  local server, dir
  setup(function()
    server = H.start()
    dir = H.tmpdir()
    both.setup()
  end)
  teardown(function()
    both.teardown()
    H.rmdir(dir)
  end)

  for _, t in ipairs(both.TRANSPORTS) do
    it("fails at once, naming the file and the change, over " .. t, function()
      server:reset()
      local out = both.run(t, CHUNK, { base_url = server.base_url, dir = dir })
      assert.is_nil(out.raised, out.raised)
      for _, o in ipairs(out.cases) do
        assert.is_false(o.ok, o.what)
        assert.equal("io", o.kind, o.what)
        assert.truthy(o.path and o.path:find(dir, 1, true), o.what)
        assert.truthy(o.message:find("changed while it was sent", 1, true), o.what .. ": " .. o.message)
        if o.what:find("shrink") then -- the words of the one reader (src/exchange/file_source.h)
          assert.truthy(o.message:find("bytes when the upload began, 1000 now)", 1, true), o.what .. ": " .. o.message)
        end
        if o.what:find("rewrite") then
          assert.truthy(o.message:find("rewritten in place, same size", 1, true), o.what .. ": " .. o.message)
        end
        assert.equal(1, o.attempts, o.what)
      end
      assert.equal(0, out.files, "no upload arrived whole")
    end)
  end
end)
