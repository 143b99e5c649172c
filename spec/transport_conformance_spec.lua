-- One list of transport cases (spec/support/transport_cases.lua), run against the
-- curl transport here in plain Lua and against the ngx transport inside a real
-- nginx (spec/support/ngx_handlers.lua runs the same case there and answers what
-- it saw as JSON). Both are checked by the same `check`: what one transport does,
-- the other does. A new adapter adds one more `it` per case.
local cases = require("spec.support.transport_cases")
local fake_server = require("spec.support.fake_server")
local openresty = require("spec.support.openresty")
local util = require("openai.finetunes.fake.util")
local core = require("openai.finetunes.core")
local codec = require("openai.finetunes.codec")
local socket = require("socket")

local KEY = "sk-conformance-0123456789"

local HTTP = [[
  lua_socket_log_errors off;
  lua_shared_dict oft_spec 1m;
]]
local SERVER = [[
    location = /conformance { content_by_lua_block { require("ngx_handlers").conformance() } }
    location = /loaded { content_by_lua_block { ngx.print(tostring(package.loaded["openai.finetunes.core"] ~= nil)) } }
]]

local function escape(s)
  return (s:gsub("[^%w%-_.~]", function(c) return string.format("%%%02X", c:byte()) end))
end

describe("transport conformance", function()
  local workdir, fake, canned_pid, canned_url, srv
  local env

  setup(function()
    workdir = os.tmpname()
    os.remove(workdir)
    assert(util.mkdir_p(workdir .. "/canned"))
    for name, bytes in pairs(cases.CANNED) do assert(util.write_file(workdir .. "/canned/" .. name, bytes)) end
    canned_pid = openresty.spawn(string.format("%s %s/spec/support/canned_http.lua %s/canned.port %s/canned",
      os.getenv("OFT_LUA") or "lua5.4", openresty.ROOT, workdir, workdir))
    for _ = 1, 200 do
      local port = util.read_file(workdir .. "/canned.port")
      if port then canned_url = "http://127.0.0.1:" .. port:match("%d+"); break end
      socket.sleep(0.02)
    end
    assert(canned_url, "the canned server did not start")
    fake = fake_server.start()
    srv = openresty.start({ http = HTTP, server = SERVER, vars = {
      fake_base_url = fake.base_url, canned_url = canned_url, conformance_dir = workdir, api_key = KEY } })
    env = {
      name = "curl", KEY = KEY, fake = fake.base_url, canned = canned_url, now = core.now, dir = workdir,
      transport = function(opts)
        opts = opts or {}
        opts.api_key = opts.api_key or KEY
        return require("openai.finetunes.transport.curl").new(opts)
      end,
      client = function(opts)
        opts = opts or {}
        opts.api_key, opts.base_url = opts.api_key or KEY, opts.base_url or fake.base_url
        return require("openai.finetunes").new(opts)
      end,
    }
  end)

  teardown(function()
    if srv then srv:stop() end
    openresty.kill(canned_pid)
    if workdir then util.rm_rf(workdir) end
  end)

  before_each(function() fake:reset() end)

  for _, case in ipairs(cases.cases) do
    describe(case.name, function()
      it("over the curl transport", function()
        local mark = fake:mark()
        local out = case.run(env)
        case.check(out, assert, fake:requests({ since = mark }))
      end)

      it("over the ngx transport inside nginx", function()
        local mark = fake:mark()
        local status, body = openresty.get(srv:url("/conformance?case=" .. escape(case.name)), 60)
        assert(status, body)
        assert.are.equal(200, status, body)
        local out = assert(codec.json_decode(body))
        case.check(out, assert, fake:requests({ since = mark }))
      end)
    end)
  end

  it("ran every case in nginx without loading the libcurl module (the codec is enough)", function()
    local status, body = openresty.get(srv:url("/loaded"), 10)
    assert.are.equal(200, status)
    assert.are.equal("false", body)
  end)

  it("leaves no Lua errors in nginx's error log", function()
    for line in srv:error_log():gmatch("[^\n]+") do
      -- a reset the fake server sends on purpose is logged by the cosocket layer
      if line:find("[error]", 1, true) and not line:find("recv() failed (104: Connection reset by peer)", 1, true) then
        error(line)
      end
    end
  end)
end)
