-- Errors whose kind tells the truth: a proxy's failure is kind "proxy" and
-- names the proxy (never its credentials), over http:// and https://, a
-- refused or unresolvable proxy included and the environment's http_proxy
-- too; a server that wants a client certificate is "tls"; an h2c-only server
-- answering HTTP/1.1 is "invalid_response" (something was sent); meta tells
-- the HTTP version. Both transports where they apply.
local fake = require("spec.support.fake_server")
local nginx = require("spec.support.nginx")
local hostile = require("spec.support.hostile")
local both = require("spec.support.both_transports")
local certs = require("spec.support.certs")
local H = require("spec.support.client_helper")

local CHUNK = [[
  return function(vars)
    local ft = require("openai.finetunes")
    local function call(o, target)
      o.api_key, o.max_retries = "sk-kinds-0123456789", 0
      o.base_url = target or vars.target
      local c = ft.new(o)
      local r, err = c:models()
      return { ok = r ~= nil, kind = err and err.kind, status = err and err.status, message = err and err.message,
        attempts = err and err.attempts }
    end
    local out = {}
    out.auth407 = call({ proxy = { url = vars.guarded } })
    out.refused = call({ proxy = { url = vars.dead_with_password } })
    out.h2c = call({}, vars.h2c)
    local c = ft.new{ api_key = "sk-kinds-0123456789", base_url = vars.target, max_retries = 0 }
    local _, meta = c:models()
    out.http_version = meta and meta.http_version
    return out
  end
]]

describe("error kinds", function()
  local guarded, plain, h2c, dead_port
  setup(function()
    guarded = fake.start{ proxy_auth = "alice:s3cret" }
    plain = fake.start()
    h2c = hostile.start("h2c_only")
    dead_port = nginx.free_port()
    both.setup()
  end)
  teardown(function()
    both.teardown()
    h2c:stop()
  end)

  for _, t in ipairs(both.TRANSPORTS) do
    it("tell the truth over " .. t, function()
      local guarded_url = guarded:url("")
      local out = both.run(t, CHUNK, {
        target = "http://127.0.0.1:" .. guarded.port .. "/v1", guarded = guarded_url,
        dead_with_password = "http://alice:pw-secret@127.0.0.1:" .. dead_port, h2c = h2c.base_url,
      })
      assert.is_nil(out.raised, out.raised)
      -- a proxy's 407 over http:// (the proxy answers for itself)
      assert.equal("proxy", out.auth407.kind)
      assert.equal(407, out.auth407.status)
      assert.truthy(out.auth407.message:find(guarded_url:gsub("/$", ""), 1, true), out.auth407.message)
      -- a proxy that is not listening: named, without its password
      assert.equal("proxy", out.refused.kind)
      assert.truthy(out.refused.message:find("http://127.0.0.1:" .. dead_port, 1, true), out.refused.message)
      assert.falsy(out.refused.message:find("pw-secret", 1, true), out.refused.message)
      -- an h2c-only server: something was sent, the answer is not HTTP/1.1
      assert.equal("invalid_response", out.h2c.kind)
      assert.equal(1, out.h2c.attempts)
      assert.equal("1.1", out.http_version)
    end)
  end

  it("names http_proxy from the environment when it is not listening", function()
    local ok, stdout, stderr = H.run_lua([[
      local ft = require("openai.finetunes")
      local c = ft.new{ api_key = "sk-kinds-0123456789", base_url = arg[1], max_retries = 0 }
      local _, err = c:models()
      io.write(err.kind, "|", err.message)
    ]], { http_proxy = "http://127.0.0.1:9", no_proxy = false, NO_PROXY = false }, { plain.base_url })
    assert.is_true(ok, stderr)
    local kind, message = stdout:match("^(.-)|(.*)$")
    assert.equal("proxy", kind, stdout)
    assert.truthy(message:find("http://127.0.0.1:9", 1, true), message)
  end)

  it("over https: a CONNECT refused with 407 is proxy and names it", function()
    local ok, stdout, stderr = H.run_lua([[
      local ft = require("openai.finetunes")
      local c = ft.new{ api_key = "sk-kinds-0123456789", base_url = "https://127.0.0.1:1/v1", max_retries = 0,
        proxy = { url = arg[1] } }
      local _, err = c:models()
      io.write(err.kind, "|", err.message)
    ]], nil, { guarded:url("") })
    assert.is_true(ok, stderr)
    local kind, message = stdout:match("^(.-)|(.*)$")
    assert.equal("proxy", kind, stdout)
    assert.truthy(message:find("127.0.0.1:" .. guarded.port, 1, true), message)
  end)

  describe("a server that requires a client certificate", function()
    local pid, port, c
    setup(function()
      c = certs.make()
      port = nginx.free_port()
      local p = io.popen(("timeout 120 openssl s_server -quiet -accept 127.0.0.1:%d -cert %s -key %s -CAfile %s "
        .. "-Verify 1 -www -tls1_3 >/dev/null 2>&1 & echo $!"):format(port, c.server_cert, c.server_key, c.ca))
      pid = p:read("*l")
      p:close()
      local socket = require("socket")
      for _ = 1, 100 do
        local s = socket.tcp()
        if s:connect("127.0.0.1", port) then s:close() break end
        s:close()
        socket.sleep(0.05)
      end
    end)
    teardown(function()
      if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
    end)

    it("and gets none is a tls failure, not io", function()
      local ft = require("openai.finetunes")
      local client = ft.new{ api_key = "sk-kinds-0123456789", base_url = "https://localhost:" .. port .. "/v1",
        tls = { ca_file = c.ca }, max_retries = 2 }
      local r, err = client:models()
      assert.is_nil(r)
      assert.equal("tls", err.kind, tostring(err))
      assert.truthy(err.message:find("certificate required", 1, true), err.message)
      assert.equal(1, err.attempts) -- tls is not retried
    end)
  end)
end)
