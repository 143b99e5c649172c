-- Shared bits of the client specs: a client on the fake server, temp files,
-- child Lua processes, waiting on the fake clock.
local ft = require("openai.finetunes")
local fake = require("spec.support.fake_server")

local H = {}

H.API_KEY = "sk-test-client-specs-0123456789"
H.MODEL = "gpt-4o-mini-2024-07-18"
H.TRAIN = "examples/data/train.jsonl"

-- Integers decode as Lua integers on 5.3+ (and are integral everywhere).
function H.is_integer(v)
  local math_type = rawget(math, "type")
  if math_type then return math_type(v) == "integer" end
  return type(v) == "number" and v == math.floor(v)
end

H.unpack = rawget(table, "unpack") or rawget(_G, "unpack")

function H.start(opts)
  return fake.start(opts)
end

function H.client(server, opts)
  local o = { api_key = H.API_KEY, base_url = server.base_url, max_retries = 0 }
  for k, v in pairs(opts or {}) do o[k] = v end
  return ft.new(o)
end

-- The usual setup of a describe block: the fake server once; before each test
-- a reset server and a new client on it, handed to the block's locals by
-- `assign(server, client, dir)`. opts: `client` = options over H.client's,
-- `reset` = server:reset options (e.g. {speed = 40}), `dir = true` for a temp
-- directory kept for the whole block.
--
--   local server, c
--   H.each_test(function(s, client) server, c = s, client end)
function H.each_test(assign, opts)
  opts = opts or {}
  local busted = require("busted") -- its API: a required module does not see the spec's globals
  local server, dir
  busted.setup(function()
    server = H.start()
    if opts.dir then dir = H.tmpdir() end
  end)
  busted.teardown(function()
    if dir then H.rmdir(dir) end
  end)
  busted.before_each(function()
    server:reset(opts.reset)
    assign(server, H.client(server, opts.client), dir)
  end)
end

function H.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

function H.write(path, data)
  local f = assert(io.open(path, "wb"))
  assert(f:write(data))
  f:close()
end

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
H.shell_quote = shell_quote

-- A fresh directory under /tmp/lua-client-specs-<random>; H.rmdir removes it.
function H.tmpdir()
  local p = io.popen("mktemp -d /tmp/lua-client-specs-XXXXXX")
  local dir = p:read("*l")
  p:close()
  assert(dir and dir ~= "", "mktemp failed")
  return dir
end

function H.rmdir(dir)
  assert(dir:match("^/tmp/lua%-client%-specs%-"), "refusing to remove " .. dir)
  os.execute("rm -rf " .. shell_quote(dir))
end

-- The names in a directory, sorted, joined by spaces ("" when empty).
function H.names(dir)
  local out = {}
  for n in require("lfs").dir(dir) do if n ~= "." and n ~= ".." then out[#out + 1] = n end end
  table.sort(out)
  return table.concat(out, " ")
end

function H.md5(path)
  local p = io.popen("md5sum " .. shell_quote(path))
  local out = p:read("*a")
  p:close()
  return out:match("^(%x+)")
end

-- The interpreter running the specs, for child processes.
function H.lua()
  return os.getenv("OFT_LUA") or "lua5.4"
end

-- Run Lua code in a child interpreter with the spec's module paths and the
-- given environment (name -> value; false unsets). Returns ok, stdout, stderr.
function H.run_lua(code, env, args)
  local dir = H.tmpdir()
  local script, out, err = dir .. "/child.lua", dir .. "/out", dir .. "/err"
  H.write(script, code)
  local parts = { "env" }
  for _, name in ipairs({ "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID",
    "OPENAI_CUSTOM_HEADERS", "OPENAI_API_TYPE", "OPENAI_API_VERSION", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_AD_TOKEN" }) do
    parts[#parts + 1] = "-u " .. name
  end
  for name, value in pairs(env or {}) do
    if value ~= false then parts[#parts + 1] = shell_quote(name .. "=" .. value) end
  end
  parts[#parts + 1] = shell_quote("LUA_PATH=" .. package.path)
  parts[#parts + 1] = shell_quote("LUA_CPATH=" .. package.cpath)
  parts[#parts + 1] = shell_quote(H.lua())
  parts[#parts + 1] = shell_quote(script)
  for _, a in ipairs(args or {}) do parts[#parts + 1] = shell_quote(a) end
  local cmd = table.concat(parts, " ") .. " >" .. shell_quote(out) .. " 2>" .. shell_quote(err)
  local r1, _, r3 = os.execute(cmd)
  local ok = (r1 == true or r1 == 0) and (r3 == nil or r3 == 0)
  local stdout, stderr = H.read(out), H.read(err)
  H.rmdir(dir)
  return ok, stdout, stderr
end

-- Poll until job `id` reaches one of `statuses` (a set) or `seconds` pass.
function H.wait_job(client, id, statuses, seconds)
  local sleep, now = require("openai.finetunes.core").sleep, require("openai.finetunes.core").now
  local deadline = now() + (seconds or 30)
  local job
  repeat
    job = assert(client:job(id))
    if statuses[job.status] then return job end
    sleep(0.05)
  until now() > deadline
  error("job " .. id .. " still " .. job.status .. " after " .. (seconds or 30) .. " s")
end

-- A file uploaded and processed, ready for a job.
function H.training_file(client)
  return assert(client:upload_file{ file = H.TRAIN, purpose = "fine-tune" })
end

-- A job that has already succeeded: created, then the fake clock jumped past
-- its end. Returns the final job.
function H.succeeded_job(client, server, fields)
  local file = H.training_file(client)
  local body = { model = H.MODEL, training_file = file.id }
  for k, v in pairs(fields or {}) do body[k] = v end
  local job = assert(client:create_job(body))
  server:advance(3600)
  job = assert(client:job(job.id))
  assert(job.status == "succeeded", "job " .. job.id .. " is " .. tostring(job.status))
  return job
end

return H
