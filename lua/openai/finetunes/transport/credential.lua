-- openai.finetunes.transport.credential: the credential of an adapter written in
-- Lua (the curl transport's lives in C, src/auth.c, with the same rules): its
-- header line, a refreshed token replacing it, and its redaction from server
-- text. The secret is kept in closures only, never in a field.
--
--   local cred = credential.new(opts)   -- api_key, auth_header, auth_scheme; misuse raises
--   cred.auth_name                      the header's name, lower-cased ("authorization")
--   cred.line()                         "Authorization: Bearer k\r\n", or nil before there is one
--   cred.set(secret)                    the credential of the requests made from now on
--   cred.redact(s)                      s with the secret replaced by "[redacted]"
local exchange = require("openai.finetunes.transport.exchange")

local type, error = type, error
local find, lower, sub, concat = string.find, string.lower, string.sub, table.concat

local M = {}

-- A credential must fit in one header line.
local function usable(s)
  return type(s) == "string" and s ~= "" and not find(s, "[%z\r\n]")
end

function M.new(opts)
  local key = opts.api_key
  if key ~= nil and not usable(key) then
    error("bad argument #1 to 'new' (api_key must be a non-empty string without CR, LF or NUL)", 3)
  end
  local header, scheme = opts.auth_header or "Authorization", opts.auth_scheme or "Bearer"
  if type(header) ~= "string" or not find(header, exchange.TOKEN) then
    error("bad argument #1 to 'new' (auth_header must be a header name (a token))", 3)
  end
  if type(scheme) ~= "string" or (scheme ~= "" and not find(scheme, exchange.TOKEN)) then
    error("bad argument #1 to 'new' (auth_scheme must be empty or a scheme name (a token))", 3)
  end
  local prefix = header .. ": " .. (scheme ~= "" and scheme .. " " or "")
  local secret = key
  local line = key and (prefix .. key .. "\r\n") or nil

  return {
    auth_name = lower(header),
    line = function() return line end,
    set = function(s)
      if not usable(s) then
        error("bad argument #1 to 'set_credential' (credential must be a non-empty string without CR, LF or NUL)", 3)
      end
      secret, line = s, prefix .. s .. "\r\n"
      return true
    end,
    -- a gateway's 401 may quote the key it was sent (the C core's h:redact does the same)
    redact = function(s)
      if not secret then return s end
      local out, i = {}, 1
      while true do
        local a, b = find(s, secret, i, true)
        if not a then break end
        out[#out + 1] = sub(s, i, a - 1)
        out[#out + 1] = "[redacted]"
        i = b + 1
      end
      if i == 1 then return s end
      out[#out + 1] = sub(s, i)
      return concat(out)
    end,
  }
end

return M
