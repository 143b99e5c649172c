-- One case, both transports: a chunk run here (the curl transport) and inside
-- a real nginx (the ngx transport, cosockets), returning the same table.
--
--   local both = require("spec.support.both_transports")
--   both.setup()    -- in setup(): starts the nginx (once per spec file)
--   both.teardown()
--   for _, t in ipairs(both.TRANSPORTS) do
--     it("... over " .. t, function()
--       local out = both.run(t, CHUNK, { base_url = srv.base_url })
--     end)
--   end
--
-- CHUNK is Lua source of `return function(vars) ... return {..} end`; `vars`
-- holds strings. The chunk picks no transport itself: ft.new takes the default
-- one (curl here, ngx inside nginx). Results must be JSON-encodable.
local codec = require("openai.finetunes.codec")
local util = require("openai.finetunes.fake.util")

local M = { TRANSPORTS = { "curl", "ngx" } }

local srv, dir

local HANDLER = [[
  local codec = require("openai.finetunes.codec")
  local vars = ngx.req.get_uri_args()
  local fn = assert(dofile(vars.chunk))
  local ok, out = pcall(fn, vars)
  if not ok then out = { raised = tostring(out) } end
  ngx.header["Content-Type"] = "application/json"
  ngx.say(codec.json_encode(out))
]]

function M.setup()
  local openresty = require("spec.support.openresty")
  dir = os.tmpname()
  os.remove(dir)
  assert(util.mkdir_p(dir))
  util.write_file(dir .. "/handler.lua", HANDLER)
  srv = openresty.start{ server = "location = /run { content_by_lua_file " .. dir .. "/handler.lua; }" }
end

function M.teardown()
  if srv then srv:stop() end
  srv = nil
  if dir then util.rm_rf(dir) end
end

local function chunk_file(code)
  local path = os.tmpname()
  util.write_file(path, code)
  return path
end

local function query(vars)
  local keys = {}
  for k in pairs(vars) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    parts[#parts + 1] = k .. "=" .. (tostring(vars[k]):gsub("[^%w%-%._~]", function(c)
      return string.format("%%%02X", c:byte())
    end))
  end
  return table.concat(parts, "&")
end

--- run(transport, chunk_source, vars [, timeout]) -> the chunk's table
function M.run(transport, code, vars, timeout)
  local path = chunk_file(code)
  local v = {}
  for k, x in pairs(vars or {}) do v[k] = tostring(x) end
  v.chunk = path
  local out
  if transport == "curl" then
    local fn = assert(dofile(path))
    local ok, r = pcall(fn, v)
    out = ok and r or { raised = tostring(r) }
  else
    assert(srv, "both_transports.setup() was not called")
    local openresty = require("spec.support.openresty")
    local status, body = openresty.get(srv:url("/run?" .. query(v)), timeout or 60)
    assert(status == 200, "nginx answered " .. tostring(status) .. ": " .. tostring(body) .. "\n" .. srv:error_log())
    out = assert(codec.json_decode(body), body)
  end
  os.remove(path)
  return out
end

return M
