-- openai.finetunes: the OpenAI fine-tuning workflow from Lua.
--
--   local ft = require("openai.finetunes")
--   local client = ft.new{ api_key = ... }          -- or $OPENAI_API_KEY
--   local file, err = client:upload_file{ file = "train.jsonl", purpose = "fine-tune" }
--   if not file then error(tostring(err)) end
--
-- See README.md for the method table, errors and options.
local codec = require("openai.finetunes.codec")
local client = require("openai.finetunes.client")
local errors = require("openai.finetunes.errors")
local endpoints = require("openai.finetunes.api.endpoints")
local misuse = require("openai.finetunes.misuse")

local setmetatable, type = setmetatable, type

local ft = {}

ft._VERSION = client.VERSION
ft.version = client.VERSION

-- Build a client; every option is optional but the credential (README "Options", config.lua).
ft.new = client.new
-- The same, returning nil and the misuse value (its `code`) instead of raising.
ft.try_new = client.try_new

-- JSON null inside arrays, or to send an explicit null (validation_file = ft.null).
ft.null = codec.null

-- Mark a table as a JSON array, so an empty one is sent as [] rather than {}.
function ft.array(t)
  if t == nil then t = {} end
  if type(t) ~= "table" then
    misuse.argerror("array", 1, "table expected, got " .. type(t), 2)
  end
  return setmetatable(t, codec.array_mt)
end

ft.errors = errors
ft.is_error = errors.is_error

-- assert for `result, meta | nil, err`: the result and the rest, or it raises err as the
-- raising client does. Lua 5.1's and 5.2's own assert take only a string message ("bad
-- argument #2 to 'assert' (string expected, got table)"); this one works on every Lua.
function ft.assert(v, ...)
  if v then return v, ... end
  local err = ...
  if errors.is_error(err) then errors.raise(err) end
  if err == nil then err = "assertion failed!" end
  error(err, 0)
end
ft.is_client = client.is_client
ft.endpoints = endpoints

-- Extension modules add client methods (and module functions) without
-- touching client.lua. Each returns { methods = {name = fn(self, ...)},
-- functions = {name = fn} }; list it here once it exists.
local EXTENSIONS = {
  "openai.finetunes.call.batch",
  "openai.finetunes.call.cache",
  "openai.finetunes.workflow.paginate",
  "openai.finetunes.workflow.wait",
  "openai.finetunes.workflow.metrics",
  "openai.finetunes.workflow.large_upload",
  "openai.finetunes.workflow.training_data",
  "openai.finetunes.workflow.run",
  "openai.finetunes.workflow.sweep",
  "openai.finetunes.workflow.report",
  "openai.finetunes.workflow.webhooks",
  "openai.finetunes.workflow.webhook_receiver",
}

for _, name in ipairs(EXTENSIONS) do
  local ext = require(name)
  if ext.methods then client.extend(ext.methods) end
  for fname, fn in pairs(ext.functions or {}) do
    if ft[fname] ~= nil then error("openai.finetunes: " .. name .. " redefines ft." .. fname) end
    ft[fname] = fn
  end
end

return ft
