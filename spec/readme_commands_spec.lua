-- The commands README.md prints for a checkout run as written: every example line
-- (examples/run-with-fake-server.lua starts its own fake server), and bin/openai-ft on
-- each interpreter and under its shebang. The lines are read from README.md between
-- markers, so the manual and this spec cannot drift. Each runs with a clean
-- environment (no LUA_PATH / LUA_CPATH, no OPENAI_* settings), as a user's shell would.
local H = require("spec.support.client_helper")
local I = require("spec.support.interpreters")

-- `lua` as /usr/bin/env finds it: the interpreter bin/openai-ft's shebang starts.
local function shebang_lua()
  local code, out = I.sh([[lua -e 'print(rawget(_G, "jit") and "luajit" or "lua" .. _VERSION:match("%d+%.%d+"))']])
  assert(code == 0, "no `lua` on PATH")
  return (out:gsub("%s+$", ""))
end

local function interpreter_of(command)
  return command:match("^(lua[%w.]*) ") or command:match("LUA=(%S+)")
end

describe("README: the example commands", function()
  for _, command in ipairs(I.readme_block("EXAMPLE COMMANDS")) do
    it("runs as printed: " .. command, function()
      I.build(interpreter_of(command))
      local code, out, err = I.sh(command)
      assert(code == 0, "exit " .. tostring(code) .. "\nstdout: " .. out .. "\nstderr: " .. err)
      assert.truthy(err:find("fake OpenAI server at http://127.0.0.1:", 1, true), err)
      assert.is_nil(err:find("not found", 1, true), err)
      assert.truthy(#out > 0, "no output")
    end)
  end
end)

describe("README: the checkout commands of openai-ft", function()
  for _, command in ipairs(I.readme_block("CHECKOUT COMMANDS")) do
    it("runs as printed: " .. command, function()
      if command:match("^bin/openai%-ft") then I.build(shebang_lua()) end
      local code, out, err = I.sh(command)
      assert(code == 0, "exit " .. tostring(code) .. "\nstdout: " .. out .. "\nstderr: " .. err)
      if command:find("validate", 1, true) then
        assert.truthy(out:find("train.jsonl: valid (supervised)", 1, true) or err:find("valid (supervised)", 1, true),
          out .. err)
      else
        assert.equal("openai-ft " .. require("openai.finetunes")._VERSION .. "\n", out)
      end
    end)
  end
end)

describe("bin/openai-ft from a checkout", function()
  local pwd = io.popen("pwd")
  local root = pwd:read("*l")
  pwd:close()

  it("runs on each interpreter with the core built for it", function()
    for _, lua in ipairs(I.ALL) do
      I.build(lua)
      local code, out, err = I.sh(lua .. " bin/openai-ft --version")
      assert(code == 0, lua .. ": exit " .. tostring(code) .. ": " .. err)
      assert.equal("openai-ft " .. require("openai.finetunes")._VERSION .. "\n", out)
    end
  end)

  it("names the make line when the core is not built for its interpreter", function()
    local dir = H.tmpdir()
    os.execute("cp -r bin lua " .. H.shell_quote(dir))
    -- no C module anywhere on the paths (a machine may have the rock installed system-wide)
    local bare = { LUA_CPATH = "/nonexistent/?.so" }
    for _, lua in ipairs({ "lua5.1", "lua5.4", "luajit" }) do
      local code, out, err = I.sh(lua .. " bin/openai-ft --version", bare, dir)
      assert.equal(2, code, out .. err)
      assert.equal("", out)
      assert.truthy(err:find("the C core is not built for ", 1, true), err)
      assert.truthy(err:find("run 'make LUA=" .. lua .. "' in .", 1, true), err)
    end
    -- started by absolute path: the checkout it names is the one next to bin/
    local code, _, err = I.sh("lua5.4 " .. dir .. "/bin/openai-ft --help", bare)
    assert.equal(2, code)
    assert.truthy(err:find("in " .. dir .. "\n", 1, true), err)
    H.rmdir(dir)
  end)

  it("ignores a core.so of another Lua in the working directory (what luarocks make used to leave)", function()
    I.build("lua5.4")
    local dir = H.tmpdir()
    os.execute("mkdir -p " .. dir .. "/openai/finetunes && cp build/lua5.1/openai/finetunes/core.so " .. dir
      .. "/openai/finetunes/ 2>/dev/null || echo broken > " .. dir .. "/openai/finetunes/core.so")
    local code, out, err = I.sh("lua5.4 " .. root .. "/bin/openai-ft validate " .. root .. "/examples/data/train.jsonl",
      nil, dir)
    H.rmdir(dir)
    assert(code == 0, "exit " .. tostring(code) .. ": " .. err)
    assert.truthy((out .. err):find("valid (supervised)", 1, true), out .. err)
  end)
end)
