-- The README's error-handling patterns on every interpreter, each run as a script by that
-- interpreter's standalone `lua` (a child process) against the fake server: what the user
-- sees is the error's one-line description, and a pcall handler still gets the error object
-- (err.kind, err.status). Lua's own assert takes only a string message on 5.1 and 5.2, and
-- the spec pins down what the README says about that.
local H = require("spec.support.client_helper")
local I = require("spec.support.interpreters")
local fake_server = require("spec.support.fake_server")

local DESCRIPTION = "api error 404 invalid_request_error (fine_tuning_job_not_found): Could not find fine-tuning job"

local server, dir

setup(function()
  server = fake_server.start()
  dir = H.tmpdir()
end)

teardown(function() H.rmdir(dir) end)

local PRELUDE = [[
local ft = require("openai.finetunes")
local client = ft.new{ api_key = "sk-patterns", base_url = os.getenv("BASE_URL"), max_retries = 0 }
]]

-- run(lua, body) -> exit code, stdout, stderr of `lua script.lua`
local function run(lua, body)
  local script = dir .. "/pattern.lua"
  H.write(script, PRELUDE .. body)
  return I.sh(lua .. " " .. H.shell_quote(script), {
    BASE_URL = server.base_url,
    LUA_PATH = "lua/?.lua;lua/?/init.lua;;",
    LUA_CPATH = "build/" .. lua .. "/?.so;;",
  })
end

local function prints_description(lua, code, out, err)
  assert.equal(1, code, lua .. ": " .. out .. err)
  assert.truthy(err:find(lua .. ": " .. DESCRIPTION, 1, true), lua .. ": " .. err)
  assert.falsy(err:find("error object is not a string", 1, true), err)
  assert.falsy(err:find("string expected, got table", 1, true), err)
end

for _, lua in ipairs(I.ALL) do
  describe("error patterns on " .. lua, function()
    setup(function() I.build(lua) end)

    it("the raising client (raise = true), uncaught: the interpreter prints the one line", function()
      prints_description(lua, run(lua, [[
local strict = ft.new{ api_key = "sk-patterns", base_url = os.getenv("BASE_URL"), max_retries = 0, raise = true }
strict:job("ftjob-nope")
]]))
    end)

    it("client:strict(), uncaught, from inside functions", function()
      prints_description(lua, run(lua, [[
local function deep() return client:strict():job("ftjob-nope") end
local function main() deep() end
main()
]]))
    end)

    it("ft.assert(client:...), uncaught", function()
      prints_description(lua, run(lua, 'ft.assert(client:job("ftjob-nope"))\n'))
    end)

    it("ft.assert passes results through and takes string messages like assert", function()
      local code, out, err = run(lua, [[
local page, meta = ft.assert(client:models())
print(page.object, meta.status, select("#", ft.assert(1, 2, 3)))
ft.assert(false, "plain message")
]])
      assert.equal(1, code)
      assert.equal("list\t200\t3\n", out)
      assert.truthy(err:find(lua .. ": plain message", 1, true), err)
    end)

    it("a pcall handler gets the error object, with its kind and status", function()
      local code, out, err = run(lua, [[
local ok, e = pcall(client:strict().job, client:strict(), "ftjob-nope")
print(ok, ft.is_error(e), e.kind, e.status, e.code)
ok, e = pcall(function() ft.assert(client:job("ftjob-nope")) end)
print(ok, ft.is_error(e), e.kind, e.status)
ok, e = xpcall(function() client:strict():job("ftjob-nope") end, function(x) return x end)
print(ok, ft.is_error(e), e.kind)
local co = coroutine.create(function() client:strict():job("ftjob-nope") end)
ok, e = coroutine.resume(co)
print(ok, ft.is_error(e), e.kind)
print(tostring(e):sub(1, 60))
]])
      assert.equal(0, code, err)
      assert.equal(table.concat({
        "false\ttrue\tapi\t404\tfine_tuning_job_not_found",
        "false\ttrue\tapi\t404",
        "false\ttrue\tapi",
        "false\ttrue\tapi",
        DESCRIPTION:sub(1, 60),
      }, "\n") .. "\n", out)
    end)

    local own_assert = (lua == "lua5.1" or lua == "lua5.2") and "refuses the error object (README: use ft.assert)"
      or "prints the one line"
    it("Lua's own assert(client:...) " .. own_assert, function()
      local code, out, err = run(lua, 'assert(client:job("ftjob-nope"))\n')
      if lua == "lua5.1" or lua == "lua5.2" then
        assert.equal(1, code)
        assert.truthy(err:find("bad argument #2 to 'assert' (string expected, got table)", 1, true), err)
      else
        prints_description(lua, code, out, err)
      end
    end)
  end)
end
