-- examples/workflow.lua end to end: examples/run-with-fake-server.lua starts its own fake
-- server, runs examples/workflow.lua against it and exits with its status.
local H = require("spec.support.client_helper")

local function run(script, env)
  local dir = H.tmpdir()
  local out = dir .. "/out"
  local parts = { "env" }
  for k, v in pairs(env) do parts[#parts + 1] = H.shell_quote(k .. "=" .. v) end
  parts[#parts + 1] = H.shell_quote("LUA_PATH=" .. package.path)
  parts[#parts + 1] = H.shell_quote("LUA_CPATH=" .. package.cpath)
  parts[#parts + 1] = H.shell_quote(H.lua())
  parts[#parts + 1] = "examples/run-with-fake-server.lua"
  parts[#parts + 1] = H.shell_quote(script)
  local r1, _, code = os.execute(table.concat(parts, " ") .. " >" .. H.shell_quote(out) .. " 2>&1")
  local text = H.read(out)
  H.rmdir(dir)
  if type(r1) == "number" then code = r1 > 255 and math.floor(r1 / 256) or r1 end
  return code, text
end

describe("examples/workflow.lua under run-with-fake-server.lua", function()
  it("goes from training file to fine-tuned model, cleans up and exits 0", function()
    local code, text = run("examples/workflow.lua", { FAKE_SPEED = "50", POLL_INTERVAL = "0.05" })
    assert.equal(0, code, text)
    assert.truthy(text:find("uploaded train.jsonl as file%-"), text)
    assert.truthy(text:find("is processed"), text)
    assert.truthy(text:find("Created fine%-tuning job: ftjob%-"), text)
    assert.truthy(text:find("Step 1/%d+: training loss="), text)
    assert.truthy(text:find("The job has successfully completed"), text)
    assert.truthy(text:find("checkpoint%(s%):"), text)
    assert.truthy(text:find("deleted model ft:"), text)
    -- events are printed once each, oldest first
    local first_step = text:find("Step 1/", 1, true)
    local created = text:find("Created fine-tuning job", 1, true)
    assert.is_true(created < first_step)
    local _, count = text:gsub("Step 1/", "")
    assert.equal(1, count)
    local model = text:match("fine%-tuned model: (ft:%S+)%s*$")
    assert.truthy(model and model:find("^ft:" .. H.MODEL:gsub("%-", "%%-") .. ":"), text)
  end)

  it("passes the example's exit status on", function()
    local dir = H.tmpdir()
    local script = dir .. "/fails.lua"
    H.write(script, "io.write(os.getenv('OPENAI_BASE_URL'))\nos.exit(3)\n")
    local code, text = run(script, {})
    H.rmdir(dir)
    assert.equal(3, code)
    assert.truthy(text:find("http://127%.0%.0%.1:%d+/v1"), text)
  end)
end)
