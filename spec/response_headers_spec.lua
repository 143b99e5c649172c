-- res.headers from the C core (src/exchange/headers.c through src/core/transfer.c) for heads a
-- real server sends and for malformed ones only a broken or hostile server
-- sends, served byte for byte by spec/support/canned_http.lua. What a user
-- relies on: lower-case names, the API's headers exactly as sent, repeated
-- fields joined in order, no CR or NUL in any value, malformed lines dropped
-- rather than misread, and a 1xx answer's headers never mixed in.
local core = require("openai.finetunes.core")
local util = require("openai.finetunes.fake.util")
local socket = require("socket")

local LUA = os.getenv("OFT_LUA") or "lua5.4"

local HEADS = {
  openai = "HTTP/1.1 200 OK\r\n"
    .. "Date: Tue, 25 Nov 2025 19:40:12 GMT\r\n"
    .. "Content-Type: application/json\r\n"
    .. "Content-Length: 2\r\n"
    .. "openai-organization: org-a1b2c3\r\n"
    .. "openai-processing-ms: 142\r\n"
    .. "x-ratelimit-limit-requests: 10000\r\n"
    .. "x-ratelimit-remaining-tokens: 1999957\r\n"
    .. "x-ratelimit-reset-requests: 6ms\r\n"
    .. "X-Request-ID: req_8f1e0c2b9d3a4e5f\r\n"
    .. "retry-after: 20\r\n"
    .. "retry-after-ms: 19873\r\n"
    .. "Connection: close\r\n\r\n{}",
  interim = "HTTP/1.1 100 Continue\r\nX-Interim: dropped\r\n\r\n"
    .. "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Final: kept\r\nConnection: close\r\n\r\nok",
  repeated = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
    .. "X-Multi: first\r\nx-multi: second\r\nX-MULTI: third\r\n"
    .. "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
    .. "X-Empty-First:\r\nX-Empty-First: after\r\n"
    .. "Via: 1.1 proxy\r\nVia:\r\n"
    .. "Connection: close\r\n\r\nok",
  malformed = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
    .. "X-Space-Before-Colon : kept\r\n"
    .. "X-Folded: first\r\n  continued\r\n"
    .. "Bad Name: dropped\r\n"
    .. "(comment): dropped\r\n"
    .. "X-Bare-CR: a\rb\r\n"
    .. "X-Padded: \t  spaced value \t \r\n"
    .. "X-Colons: a:b:c\r\n"
    .. "Connection: close\r\n\r\nok",
  nul = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Nul: a\0b\r\nConnection: close\r\n\r\nok",
  colonless = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nno colon at all\r\nConnection: close\r\n\r\nok",
}

describe("response headers", function()
  local dir, pid, port_file, base, h

  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(util.mkdir_p(dir))
    for name, bytes in pairs(HEADS) do assert(util.write_file(dir .. "/" .. name, bytes)) end
    port_file = dir .. "/port"
    local support = debug.getinfo(1, "S").source:gsub("^@", ""):gsub("response_headers_spec%.lua$", "support/")
    local p = io.popen(("%s %s %s %s >/dev/null 2>&1 & echo $!"):format(LUA,
      util.shell_quote(support .. "canned_http.lua"), util.shell_quote(port_file), util.shell_quote(dir)))
    pid = p:read("*l")
    p:close()
    local port
    for _ = 1, 100 do
      port = util.read_file(port_file)
      if port then break end
      socket.sleep(0.05)
    end
    base = "http://127.0.0.1:" .. assert(tonumber(port), "canned_http did not start") .. "/"
    h = core.new{ api_key = "sk-headers-spec", http_version = "1.1", timeout = 10 }
  end)

  teardown(function()
    if h then h:close() end
    if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
    if dir then util.rm_rf(dir) end
  end)

  local function get(name)
    return h:request{ url = base .. name }
  end

  it("lower-cases names and keeps the API's values exactly", function()
    local res = assert(get("openai"))
    assert.equals(200, res.status)
    assert.equals("req_8f1e0c2b9d3a4e5f", res.headers["x-request-id"])
    assert.is_nil(res.headers["X-Request-ID"])
    assert.equals("20", res.headers["retry-after"])
    assert.equals("19873", res.headers["retry-after-ms"])
    assert.equals("10000", res.headers["x-ratelimit-limit-requests"])
    assert.equals("1999957", res.headers["x-ratelimit-remaining-tokens"])
    assert.equals("6ms", res.headers["x-ratelimit-reset-requests"])
    assert.equals("Tue, 25 Nov 2025 19:40:12 GMT", res.headers["date"])
    assert.equals("{}", res.body)
  end)

  it("drops the headers of an interim 1xx answer", function()
    local res = assert(get("interim"))
    assert.equals(200, res.status)
    assert.equals("kept", res.headers["x-final"])
    assert.is_nil(res.headers["x-interim"])
  end)

  it("joins repeated fields in order, whatever their case, and never ends a value in a space", function()
    local res = assert(get("repeated"))
    assert.equals("first, second, third", res.headers["x-multi"])
    assert.equals("a=1, b=2", res.headers["set-cookie"])
    assert.equals(", after", res.headers["x-empty-first"])
    assert.equals("1.1 proxy,", res.headers["via"])
  end)

  it("drops malformed lines, trims values and turns a bare CR into a space", function()
    local res = assert(get("malformed"))
    local hs = res.headers
    assert.equals("kept", hs["x-space-before-colon"])
    assert.equals("first", hs["x-folded"]) -- the obs-fold continuation is not glued on
    assert.equals("a b", hs["x-bare-cr"])
    assert.equals("spaced value", hs["x-padded"])
    assert.equals("a:b:c", hs["x-colons"])
    for name, value in pairs(hs) do
      assert.matches("^[!#$%%&'*+%-.^_`|~0-9a-z]+$", name)
      assert.is_nil(value:find("[%z\r\n]"), name)
    end
    assert.is_nil(hs["bad name"])
    assert.is_nil(hs["(comment)"])
  end)

  it("fails a head libcurl refuses (a NUL byte, a line without a colon) as kind invalid_response", function()
    for name, message in pairs({ nul = "Nul byte", colonless = "without colon" }) do
      local res, err = get(name)
      assert.is_nil(res, name)
      assert.equals("invalid_response", err.kind) -- what transport/http1.lua calls them too
      assert.matches(message, err.message, 1, true)
    end
  end)
end)
