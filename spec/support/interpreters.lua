-- Every supported interpreter as a child process: its name, the C core `make` builds for
-- it (build/<lua>/), and a shell runner with a clean environment (no LUA_PATH / LUA_CPATH,
-- no OPENAI_* settings) so a command sees only what a user's shell would.
local H = require("spec.support.client_helper")

local I = {}

I.ALL = { "lua5.1", "lua5.2", "lua5.3", "lua5.4", "luajit" }

local built = {}

-- Builds the C core for `lua` (make is incremental: a no-op when it is up to date).
function I.build(lua)
  if not built[lua] then
    local r1, _, r3 = os.execute("make -s LUA=" .. H.shell_quote(lua) .. " >/dev/null 2>&1")
    assert((r1 == true or r1 == 0) and (r3 == nil or r3 == 0), "make LUA=" .. lua .. " failed")
    built[lua] = true
  end
end

local UNSET = { "LUA_PATH", "LUA_CPATH", "LUA_INIT", "LUA_PATH_5_2", "LUA_CPATH_5_2", "LUA_PATH_5_3",
  "LUA_CPATH_5_3", "LUA_PATH_5_4", "LUA_CPATH_5_4", "LUA_INIT_5_2", "LUA_INIT_5_3", "LUA_INIT_5_4",
  "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_CUSTOM_HEADERS",
  "OPENAI_API_TYPE", "OPENAI_API_VERSION", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_AD_TOKEN",
  "OPENAI_FT_TTY", "FAKE_SPEED", "POLL_INTERVAL" }

local function exit_code(r1, _, r3)
  if type(r1) == "number" then return r1 > 255 and math.floor(r1 / 256) or r1 end
  return r3
end

-- sh(command [, env [, cwd]]) -> exit code, stdout, stderr: `command` run by /bin/sh as
-- written, in `cwd` (default: the checkout), with `env` (name -> value) on a clean one.
function I.sh(command, env, cwd)
  local dir = H.tmpdir()
  local out, err = dir .. "/out", dir .. "/err"
  local parts = { "env" }
  for _, name in ipairs(UNSET) do parts[#parts + 1] = "-u " .. name end
  for name, value in pairs(env or {}) do parts[#parts + 1] = H.shell_quote(name .. "=" .. value) end
  parts[#parts + 1] = "sh -c " .. H.shell_quote(command)
  local line = table.concat(parts, " ") .. " </dev/null >" .. H.shell_quote(out) .. " 2>" .. H.shell_quote(err)
  if cwd then line = "cd " .. H.shell_quote(cwd) .. " && " .. line end
  local code = exit_code(os.execute(line))
  local stdout, stderr = H.read(out), H.read(err)
  H.rmdir(dir)
  return code, stdout, stderr
end

-- The lines of README.md between `<!-- BEGIN name` and `<!-- END name` that are commands
-- (inside the fenced block, without their trailing `# comment`).
function I.readme_block(name)
  local text = H.read("README.md")
  local body = text:match("<!%-%- BEGIN " .. name .. "[^\n]*\n(.-)<!%-%- END " .. name)
  assert(body, "README.md has no block " .. name)
  local lines = {}
  for line in body:gmatch("[^\n]+") do
    if not line:match("^```") then
      local command = line:gsub("%s+#.*$", "")
      lines[#lines + 1] = command
    end
  end
  assert(#lines > 0, "README.md block " .. name .. " is empty")
  return lines
end

return I
