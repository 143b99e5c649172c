-- Server text is shown to people, so it is made safe first: the client's own
-- credential (key, Azure key, the current token) never shows, even when a
-- gateway echoes it; control bytes are escaped and one-line descriptions are
-- bounded (the full values stay in the error's fields); the openai-ft command
-- writes no server escape sequence to the terminal. Against
-- spec/support/hostile_http.lua (modes echo_key, escapes), on both transports.
local ft = require("openai.finetunes")
local hostile = require("spec.support.hostile")
local both = require("spec.support.both_transports")
local H = require("spec.support.client_helper")

local KEY = "sk-proj-echoed-0123456789abcdefXYZ"

local ECHO = [[
  return function(vars)
    local ft = require("openai.finetunes")
    local out = {}
    for i, o in ipairs({
      { api_key = vars.key },
      { provider = "azure", api_key = vars.key, endpoint = vars.origin, api_version = "2024-10-21" },
      { auth = { token_provider = function() return vars.key end } },
    }) do
      o.base_url = o.provider ~= "azure" and vars.base_url or nil
      o.max_retries = 0
      local c = ft.new(o)
      local r, err = c:models()
      out[i] = { ok = r ~= nil, message = err and err.message, text = tostring(err), param = err and err.param,
        request_id = err and err.request_id, body = require("openai.finetunes.codec").json_encode(err and err.body),
        header = err and err.headers and err.headers["x-request-id"], status = err and err.status }
    end
    return out
  end
]]

local ESCAPES = [[
  return function(vars)
    local ft = require("openai.finetunes")
    local c = ft.new{ api_key = "sk-escapes-0123", base_url = vars.base_url, max_retries = 0 }
    local r, err = c:create_job{ model = "gpt-4o-mini-2024-07-18", training_file = "file-x" }
    return { ok = r ~= nil, text = tostring(err), message = err.message, type = err.type, code = err.code,
      request_id_len = #err.request_id }
  end
]]

describe("server text", function()
  local echo, esc
  setup(function()
    echo = hostile.start("echo_key")
    esc = hostile.start("escapes")
    both.setup()
  end)
  teardown(function()
    both.teardown()
    echo:stop()
    esc:stop()
  end)

  for _, t in ipairs(both.TRANSPORTS) do
    it("never shows the client's own credential, even echoed by the server, over " .. t, function()
      local out = both.run(t, ECHO, { key = KEY, base_url = echo.base_url, origin = echo.origin })
      assert.is_nil(out.raised, out.raised)
      assert.equal(3, #out, "OpenAI key, Azure key, a token provider's token")
      for i, o in ipairs(out) do
        assert.is_false(o.ok)
        assert.equal(401, o.status)
        for _, field in ipairs({ "message", "text", "param", "request_id", "body", "header" }) do
          assert.is_string(o[field], i .. " " .. field)
          assert.falsy(o[field]:find(KEY, 1, true), i .. " " .. field .. ": " .. o[field])
          assert.truthy(o[field]:find("[redacted]", 1, true), i .. " " .. field .. ": " .. o[field])
        end
        assert.truthy(o.message:find("Incorrect API key provided: [redacted]", 1, true), o.message)
      end
    end)

    it("is inert and bounded in tostring(err), whole in the fields, over " .. t, function()
      local out = both.run(t, ESCAPES, { base_url = esc.base_url })
      assert.is_nil(out.raised, out.raised)
      assert.is_false(out.ok)
      assert.falsy(out.text:find("%c"), out.text)       -- no ESC, BEL, NUL, CR, DEL ...
      assert.truthy(out.text:find("\\x1b]0;pwned\\x07", 1, true), out.text) -- shown, escaped
      assert.is_true(#out.text < 1000, "tostring is " .. #out.text .. " bytes")
      assert.equal(60004, out.request_id_len) -- the field keeps the whole value
      assert.truthy(out.type:find("\27", 1, true))  -- fields are the server's, unchanged
    end)
  end

  describe("in the openai-ft command", function()
    local dir
    setup(function() dir = H.tmpdir() end)
    teardown(function() H.rmdir(dir) end)

    local function run(args, base_url)
      local cmd = ("env -u OPENAI_ORG_ID -u OPENAI_PROJECT_ID OPENAI_API_KEY=%s OPENAI_BASE_URL=%s LUA_PATH=%s "
        .. "LUA_CPATH=%s %s bin/openai-ft %s </dev/null >%s/out 2>%s/err"):format(H.shell_quote(KEY),
        H.shell_quote(base_url), H.shell_quote(package.path), H.shell_quote(package.cpath), H.shell_quote(H.lua()),
        args, dir, dir)
      os.execute(cmd)
      return H.read(dir .. "/out"), H.read(dir .. "/err")
    end

    -- a control byte other than LF and TAB
    local function control(s)
      return (s:gsub("[\n\t]", "")):find("%c")
    end

    it("writes no escape sequence a server sent, on stdout or stderr", function()
      local out, err = run("jobs events ftjob-esc", esc.base_url)
      local _
      assert.truthy(out:find("pwned", 1, true), out .. err)
      assert.falsy(control(out), out)
      assert.truthy(out:find("\\x1b[2J", 1, true), out)
      out, err = run("jobs get ftjob-esc", esc.base_url)
      assert.falsy(control(out .. err), out .. err)
      _, err = run("jobs create --model gpt-4o-mini-2024-07-18 --training-file file-x", esc.base_url)
      assert.falsy(control(err), err)
      assert.truthy(err:find("bad \\x1b", 1, true), err)
    end)

    it("never prints the key a server echoed", function()
      local out, err = run("models list", echo.base_url)
      assert.falsy((out .. err):find(KEY, 1, true), err)
      assert.truthy(err:find("[redacted]", 1, true), err)
    end)
  end)

  it("tostring of an error escapes control bytes and bounds every server field", function()
    local e = ft.errors.new{ kind = "api", status = 400, type = "t\27[2J", code = string.rep("c", 5000),
      param = "p\0q", request_id = string.rep("r", 60000), message = "m\7" .. string.rep("x", 1000) }
    local s = tostring(e)
    assert.falsy(s:find("%c"), s)
    assert.is_true(#s < 1000, #s)
    assert.truthy(s:find("t\\x1b[2J", 1, true), s)
    assert.truthy(s:find("p\\x00q", 1, true), s)
    assert.equal(60000, #e.request_id)
    assert.equal("x\\u009b", ft.errors.inert("x\194\155"))
    assert.equal("a\nb\tc\\x1b", ft.errors.inert("a\nb\tc\27", nil, true))
    assert.equal("\195\169...", ft.errors.inert("\195\169\195\169\195\169", 5)) -- never cuts a UTF-8 sequence
  end)
end)
