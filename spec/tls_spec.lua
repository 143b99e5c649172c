-- TLS and redirects at client level (ft.new): verification is on by default, a
-- self-signed certificate is refused with kind "tls" unless tls.ca_file names it,
-- the host name is checked, and a redirect is handed back to the caller instead
-- of being followed (so the Authorization header never goes to another host).
-- nginx (Debian) terminates TLS in front of the fake server.
local ft = require("openai.finetunes")
local fake = require("spec.support.fake_server")
local nginx = require("spec.support.nginx")
local H = require("spec.support.client_helper")
local certs = require("spec.support.certs")
local logged = require("openai.finetunes.fake.reqlog").redact_credential

local KEY = "sk-tls-0123456789abcdef"

describe("HTTPS with a self-signed certificate", function()
  local server, proxy, dir, cert

  setup(function()
    server = fake.start()
    dir = H.tmpdir()
    -- one self-signed certificate for the name localhost, its own issuer
    local tls = certs.self_signed(dir)
    cert = tls.cert
    local other = server:url("/v1/models/gpt-4o-mini")
    proxy = nginx.start({
      tls = tls,
      server = table.concat({
        -- "another host": the fake server by IP, where the client talks to localhost
        "location = /v1/models/moved { return 302 " .. other .. "; }",
        "location = /v1/models/moved-here { return 301 /v1/models; }",
        nginx.proxy_to(server:url()),
      }, "\n"),
    })
  end)

  teardown(function()
    if proxy then proxy:stop() end
    if dir then H.rmdir(dir) end
  end)

  before_each(function() server:reset() end)

  local function client(tls, host)
    return ft.new({ api_key = KEY, base_url = proxy:tls_url("/v1", host), tls = tls,
      retry = { base_delay = 0.01 } })
  end

  it("refuses a self-signed certificate by default: kind tls, not retried, nothing sent", function()
    local c = client(nil)
    local mark = server:mark()
    local models, err = c:models()
    assert.is_nil(models)
    assert.are.equal("tls", err.kind)
    assert.are.equal(1, err.attempts)
    assert.is_nil(err.status)
    assert.is_truthy(err.message:lower():find("certificate", 1, true), err.message)
    assert.are.equal(0, #server:requests({ since = mark }))
  end)

  it("accepts it when tls.ca_file names that certificate", function()
    local c = client({ ca_file = cert })
    local mark = server:mark()
    local models, meta = c:models()
    assert.is_table(models, tostring(meta))
    assert.are.equal("list", models.object)
    assert.are.equal(1, meta.attempts)
    local log = server:requests({ since = mark })
    assert.are.equal(1, #log)
    assert.are.equal(logged("Bearer " .. KEY), log[1].headers.authorization)
  end)

  it("checks the host name: the same certificate for another name is refused", function()
    local c = client({ ca_file = cert }, "127.0.0.1")
    local models, err = c:models()
    assert.is_nil(models)
    assert.are.equal("tls", err.kind)
    assert.are.equal(1, err.attempts)
  end)

  it("refuses a ca_file that did not sign the certificate", function()
    local other = certs.self_signed(dir, "other").cert
    local models, err = client({ ca_file = other }):models()
    assert.is_nil(models)
    assert.are.equal("tls", err.kind)
  end)

  it("a missing ca_file is a tls error, not a silent fallback to the system store", function()
    local models, err = client({ ca_file = dir .. "/no-such.pem" }):models()
    assert.is_nil(models)
    assert.are.equal("tls", err.kind)
  end)

  it("verification can be switched off explicitly (tls.verify = false)", function()
    local models, meta = client({ verify = false }):models()
    assert.is_table(models, tostring(meta))
  end)

  -- redirects
  it("a 302 to another host is not followed: the caller gets the 302 and where it points", function()
    local c = ft.new({ api_key = KEY, base_url = proxy:tls_url("/v1"), tls = { ca_file = cert } })
    local mark = server:mark()
    local model, err = c:model("moved")
    assert.is_nil(model)
    assert.are.equal("api", err.kind)
    assert.are.equal(302, err.status)
    assert.are.equal(1, err.attempts)
    assert.are.equal(server:url("/v1/models/gpt-4o-mini"), err.headers.location)
    assert.are.equal("302 Found", err.message)
    -- the other host never saw a request, so never the Authorization header
    assert.are.same({}, server:requests({ since = mark }))
  end)

  it("a redirect on the same host is not followed either", function()
    local c = ft.new({ api_key = KEY, base_url = proxy:tls_url("/v1"), tls = { ca_file = cert } })
    local mark = server:mark()
    local model, err = c:model("moved-here")
    assert.is_nil(model)
    assert.are.equal(301, err.status)
    assert.are.same({}, server:requests({ since = mark }))
  end)

  it("plain HTTP: the same", function()
    local c = ft.new({ api_key = KEY, base_url = proxy:url("/v1") })
    local mark = server:mark()
    local model, err = c:model("moved")
    assert.is_nil(model)
    assert.are.equal(302, err.status)
    assert.are.same({}, server:requests({ since = mark }))
  end)
end)
