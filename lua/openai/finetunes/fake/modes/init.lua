-- The fake server's provider modes, one file each (modes/<name>.lua), all with the
-- fields modes/openai.lua documents. Server options pick one: `mode = "<name>"`, or
-- the mode's own flag (`azure = true`).
local M = {}

M.NAMES = { "openai", "azure" }

-- name(opts) -> the mode the options ask for
function M.name(opts)
  if opts.mode then return opts.mode end
  for _, name in ipairs(M.NAMES) do
    if opts[name] == true then return name end
  end
  return "openai"
end

-- module(opts) -> the mode's module (its constants without an instance)
function M.module(opts)
  local name = M.name(opts)
  for _, known in ipairs(M.NAMES) do
    if known == name then return require("openai.finetunes.fake.modes." .. name) end
  end
  error("fake server: unknown mode '" .. tostring(name) .. "' (one of " .. table.concat(M.NAMES, ", ") .. ")", 0)
end

-- new(opts) -> the mode instance server.lua asks
function M.new(opts)
  return M.module(opts).new(opts)
end

return M
