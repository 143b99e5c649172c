-- openai.finetunes.transport.credential: the credential of an adapter written in
-- Lua. It is the C object the curl transport keeps too (src/exchange/credential.h,
-- handed over as codec.credential): the same rules for a usable key, header and
-- scheme, the same header line, the secret wiped in C memory when replaced. The
-- secret is never a field of a Lua table.
--
--   local cred = credential.new(opts)   -- api_key, auth_header, auth_scheme; misuse raises
--   cred.auth_name                      the header's name, lower-cased ("authorization")
--   cred.line()                         "Authorization: Bearer k\r\n", or nil before there is one
--   cred.set(secret)                    the credential of the requests made from now on
--   cred.redact(s)                      s with the secret replaced by "[redacted]"
local codec = require("openai.finetunes.codec")

local error, type = error, type
local lower = string.lower

local M = {}

function M.new(opts)
  for _, field in ipairs({ "auth_header", "auth_scheme" }) do
    if opts[field] ~= nil and type(opts[field]) ~= "string" then
      error("bad argument #1 to 'new' (" .. field .. " must be a string)", 3)
    end
  end
  local c, field, problem = codec.credential(opts.auth_header, opts.auth_scheme, opts.api_key)
  if not c then error("bad argument #1 to 'new' (" .. field .. " " .. problem .. ")", 3) end
  return {
    auth_name = lower(c:name()),
    line = function() return c:line() end,
    set = function(s)
      local ok, why = c:set(s)
      if not ok then error("bad argument #1 to 'set_credential' (credential " .. why .. ")", 3) end
      return true
    end,
    -- a gateway's 401 may quote the key it was sent (the curl transport's h:redact is the same function)
    redact = function(s) return c:redact(s) end,
  }
end

return M
