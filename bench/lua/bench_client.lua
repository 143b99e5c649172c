-- Shared by the Lua client cases: one client, configured like a user would.
local ft = require("openai.finetunes")

local M = {}

function M.client(base_url, extra)
  local opts = { api_key = "sk-bench-not-a-real-key", base_url = base_url }
  for k, v in pairs(extra or {}) do opts[k] = v end
  return ft.new(opts)
end

function M.job_id(i)
  return ("ftjob-bench%05d"):format(i % 10000)
end

function M.done(what)
  io.write("ok ", tostring(what), "\n")
end

return M
