-- README "After January 2027": the shell block that tries the Azure profile
-- offline runs as written (on a free port instead of 8089, with `openai-ft`
-- and `lua5.4` from this checkout and this run's interpreter).
local H = require("spec.support.client_helper")
local free_port = require("spec.support.nginx").free_port

local function azure_block()
  local readme = H.read("README.md")
  local at = assert(readme:find("## After January 2027", 1, true), "README has no Azure section")
  local block = readme:match("```sh\n(.-)```", at)
  return assert(block, "the Azure section has no sh block")
end

describe("the README's Azure OpenAI commands", function()
  it("run as written against the fake server in Azure mode", function()
    local block = azure_block()
    assert.truthy(block:find("--azure", 1, true))
    local port = tostring(free_port())
    local script = block:gsub("8089", port):gsub("lua5%.4 %-", H.shell_quote(H.lua()) .. " -")
    local dir = H.tmpdir()
    local path, out = dir .. "/block.sh", dir .. "/out"
    H.write(path, table.concat({
      "set -e",
      "export LUA_PATH=" .. H.shell_quote(package.path) .. " LUA_CPATH=" .. H.shell_quote(package.cpath),
      "openai-ft() { " .. H.shell_quote(H.lua()) .. " bin/openai-ft \"$@\"; }",
      "unset OPENAI_API_KEY OPENAI_BASE_URL OPENAI_API_TYPE OPENAI_API_VERSION AZURE_OPENAI_AD_TOKEN",
      script,
    }, "\n"))
    -- `timeout`: the block's wait loop would spin forever on a server that never came up
    local r1, _, code = os.execute("timeout 300 bash " .. H.shell_quote(path) .. " >" .. H.shell_quote(out)
      .. " 2>&1")
    local text = H.read(out)
    H.rmdir(dir)
    assert.is_true(r1 == true or r1 == 0, text)
    assert.is_true(code == nil or code == 0, text)
    assert.truthy(text:find("(azure mode, api-version 2024-10-21)", 1, true), text)
    -- openai-ft run: the job went through and printed its model
    assert.truthy(text:find("fine-tuned model ready", 1, true), text)
    assert.truthy(text:find("ft:gpt%-4o%-mini%-2024%-07%-18:personal:azure:"), text)
    -- the files list over the dated API shows the uploaded file
    assert.truthy(text:find("train.jsonl", 1, true), text)
    -- the workflow example with only ft.new changed
    assert.truthy(text:find("The job has successfully completed", 1, true), text)
    assert.truthy(text:find("fine%-tuned model: ft:[^\n]*workflow%-demo"), text)
    assert.is_nil(text:find("any-azure-key", 1, true), "the key shows in the output")
  end)
end)
