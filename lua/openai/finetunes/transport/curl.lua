-- openai.finetunes.transport.curl: the default transport outside nginx, a thin
-- object over the C core's client handle (libcurl multi + share handles).
--
-- libcurl is the engine (src/core/client.c, src/core/transfer.c): keep-alive and HTTP/2
-- multiplexing across calls, the credential (kept in C, written only into its
-- header: Authorization, or api-key for Azure), timeouts, proxy, TLS, multipart
-- streamed from disk, downloads streamed to a sink, progress callbacks,
-- concurrent exchanges. The rules it is handed are the exchange's
-- (transport/exchange.lua), the same the ngx adapter is held to: `check` runs
-- before the core sees a req; where the body goes, what the timeouts mean, the
-- credential and what an end becomes are the C functions of src/exchange/, which
-- the Lua exchange calls through the codec. Reading the answer is libcurl's
-- (the same rules as transport/http1.lua: spec/transport_conformance_spec.lua).
-- Checking option values beyond their types is the client layer's job.
local core = require("openai.finetunes.core")
local exchange = require("openai.finetunes.transport.exchange")
local proxy_rules = require("openai.finetunes.transport.proxy")

local setmetatable, tostring, type, lower = setmetatable, tostring, type, string.lower
local check, through_proxy = exchange.check, exchange.through_proxy
local getenv = os.getenv

local M = { _VERSION = core._VERSION }

local Transport = {}
Transport.__index = Transport

--- new(opts) -> transport. opts as core.new: api_key, auth_header, auth_scheme, timeout,
-- connect_timeout, idle_timeout, http_version, compression, proxy, tls,
-- max_connections, max_response_bytes, verbose. Bad types raise.
function M.new(opts)
  local handle = core.new(opts) -- raises on bad option types first
  local auth_header = opts.auth_header
  return setmetatable({ handle = handle, proxy = opts.proxy, proxied = {},
    auth_name = type(auth_header) == "string" and lower(auth_header) or "authorization" }, Transport)
end

--- request(req) -> res | nil, err (blocking). Re-raises an error raised by req.progress.
function Transport:request(req)
  local err = check(req, self.auth_name)
  if err then return nil, err end
  local res
  res, err = self.handle:request(req)
  return through_proxy(res, err, proxy_rules.for_url(req.url, self.proxy, getenv))
end

--- start(req) -> id | nil, err: the exchange runs while poll() drives it.
function Transport:start(req)
  local err = check(req, self.auth_name)
  if err then return nil, err end
  local id
  id, err = self.handle:start(req)
  if id then self.proxied[id] = proxy_rules.for_url(req.url, self.proxy, getenv) end
  return id, err
end

--- poll(timeout) -> { {id=, res=} | {id=, err=}, ... }: at least one completion, or {} after timeout seconds.
function Transport:poll(timeout)
  local done = self.handle:poll(timeout)
  for i = 1, #done do
    local c = done[i]
    local res, err = through_proxy(c.res, c.err, self.proxied[c.id])
    self.proxied[c.id] = nil
    if res ~= c.res or err ~= c.err then done[i] = { id = c.id, res = res, err = err } end
  end
  return done
end

--- cancel(id) -> true if the exchange was pending (it is never reported).
function Transport:cancel(id)
  self.proxied[id] = nil
  return self.handle:cancel(id)
end

--- set_credential(secret): the credential of the exchanges started from now on
-- (a refreshed token); those in flight keep theirs. Bad values raise.
function Transport:set_credential(secret)
  return self.handle:set_credential(secret)
end

--- pending() -> exchanges started and not yet reported.
function Transport:pending()
  return self.handle:pending()
end

--- redact(s) -> s with the credential (key or current token) replaced by
-- "[redacted]": for server text that may echo it.
function Transport:redact(s)
  return self.handle:redact(s)
end

function Transport.now()
  return core.now()
end

function Transport.sleep(_, seconds)
  return core.sleep(seconds)
end

--- close(): idempotent; cancels what is in flight. Later calls return nil, {kind = "closed"}.
function Transport:close()
  return self.handle:close()
end

Transport.__close = Transport.close -- `local t <close> = curl.new{...}` on Lua 5.4

function Transport:__tostring()
  return "openai.finetunes.transport.curl (" .. tostring(self.handle) .. ")"
end

return M
