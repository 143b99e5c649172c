-- openai.finetunes.workflow.webhooks: verify and unwrap the API's webhook deliveries
-- (Standard Webhooks signatures), the way the official SDKs' client.webhooks.unwrap /
-- verifySignature do, from plain Lua and inside OpenResty alike (no I/O, no cosocket).
--
--   local event, err = ft.unwrap_webhook(body, headers, { secret = "whsec_..." })
--   if not event then return reply(400, tostring(err)) end   -- err.kind == "webhook"
--   if event.type == "fine_tuning.job.succeeded" then ... event.data.id ... end
--
--   client:unwrap_webhook(body, headers [, opts])  -> event | nil, err
--   client:verify_webhook(body, headers [, opts])  -> true  | nil, err
--   ft.unwrap_webhook(body, headers [, opts]) / ft.verify_webhook(...)  (no client, no API key)
--
-- opts: secret (else the client's webhook_secret option, else $OPENAI_WEBHOOK_SECRET),
-- tolerance (seconds, default 300, both directions), now (Unix seconds, for tests),
-- max_body_bytes (default 5 MiB; the API's events are well under 1 KB).
--
-- `headers` is a table of name -> value with names in any case (ngx.req.get_headers()
-- included): a value may be a list (a repeated header). A repeated webhook-id or
-- webhook-timestamp is refused; repeated webhook-signature values count as one list
-- of signatures, as the Node SDK reads them ("a, b" split at spaces).
--
-- The rules are openai-node 7.59's lib/webhook-signature.js, so the verdicts are the
-- SDK's on the same input (spec/webhook_parity_spec.lua checks them against it):
--   * the three headers are required (checked in the order signature, timestamp, id);
--   * the timestamp is read like JavaScript's parseInt(s, 10): leading white space,
--     an optional sign, then digits (what follows is ignored, the signed text is the
--     header as received); no digits -> invalid_timestamp;
--   * too old: now - timestamp > tolerance; too new: timestamp > now + tolerance;
--   * the secret "whsec_<base64>" is the key bytes; any other secret is used as is;
--   * the signed content is "<id>.<timestamp>.<body>" (just "<timestamp>.<body>" for
--     an empty id) over the exact body bytes; HMAC-SHA256 (C: codec.hmac_sha256);
--   * webhook-signature holds entries separated by single spaces, each "v1,<base64>"
--     (an entry without "v1," is tried whole); an entry that does not decode to 32
--     bytes is skipped; any one equal to the MAC (constant-time) passes. Base64 is
--     read as Node's Buffer.from(s, "base64") reads it: both alphabets, padding
--     optional, other characters skipped, "=" ends the data.
--
-- Failures are `nil, err` with err.kind == "webhook" and err.code one of:
--   body_too_large, missing_header, duplicate_header, invalid_timestamp,
--   timestamp_too_old, timestamp_too_new, invalid_secret, no_valid_signature,
--   invalid_json (unwrap only; also a JSON value that is not an object).
-- The message says which check failed; it never holds the secret or a signature.
-- Misuse raises: a body that is not a string, headers that are not a table, bad
-- opts, no secret anywhere (the message names the three places, as the SDK's).
--
-- Replays: a valid delivery stays valid for `tolerance` seconds and the service
-- retries, so a receiver sees some events twice. ft.webhook_replay_guard() keeps the
-- webhook-ids already accepted (see below).
local codec = require("openai.finetunes.codec")
local errors = require("openai.finetunes.errors")
local misuse = require("openai.finetunes.misuse")

local type, pairs, ipairs, tostring, tonumber, pcall = type, pairs, ipairs, tostring, tonumber, pcall
local find, sub, gsub, lower, match, format = string.find, string.sub, string.gsub, string.lower, string.match,
  string.format
local floor = math.floor

local M = {}

M.DEFAULT_TOLERANCE = 300
M.MAX_BODY_BYTES = 5 * 1024 * 1024
M.SIGNATURE_BYTES = 32

local fail, describe = misuse.fail, misuse.describe

local function refuse(code, message)
  return nil, errors.new { kind = "webhook", code = code, message = message }
end

-- Node's Buffer.from(s, "base64"): "=" ends the data, characters outside both
-- alphabets are skipped, the URL-safe alphabet is the standard one, a last group of
-- 2 or 3 characters gives 1 or 2 bytes, a lone last character nothing. Returns the
-- bytes ("" when nothing decodes).
function M.lenient_base64(s)
  local stop = find(s, "=", 1, true)
  if stop then s = sub(s, 1, stop - 1) end
  s = gsub(gsub(gsub(s, "[^%w%+/%-_]", ""), "%-", "+"), "_", "/")
  local extra = #s % 4
  if extra == 1 then
    s = sub(s, 1, -2)
  elseif extra > 1 then
    -- zero the bits the last character carries past the data, so a strict
    -- decoder accepts what Node reads
    local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    local v = find(alphabet, sub(s, -1), 1, true) - 1
    local keep = extra == 2 and 2 or 4 -- bits of the last character that are data
    local cut = 2 ^ (6 - keep)
    v = floor(v / cut) * cut
    s = sub(s, 1, -2) .. sub(alphabet, v + 1, v + 1) .. (extra == 2 and "==" or "=")
  end
  if s == "" then return "" end
  return codec.base64_decode(s) or ""
end

-- The values of header `name` (lower case) in `headers`, any case, lists flattened.
local function header_values(headers, name)
  local values = {}
  for k, v in pairs(headers) do
    if type(k) == "string" and lower(k) == name then
      if type(v) == "table" then
        for _, x in ipairs(v) do values[#values + 1] = tostring(x) end
      elseif v ~= nil and v ~= false then
        values[#values + 1] = tostring(v)
      end
    end
  end
  return values
end

local function single_header(headers, name)
  local values = header_values(headers, name)
  if #values == 0 then return refuse("missing_header", "Missing required header: " .. name) end
  if #values > 1 then
    return refuse("duplicate_header", format("header %s appears %d times; a delivery has one", name, #values))
  end
  return values[1]
end

-- JavaScript's parseInt(s, 10) for the timestamp (ASCII white space only).
local function parse_timestamp(s)
  local sign, digits = match(s, "^[ \t\n\v\f\r]*([+-]?)(%d+)")
  if not digits then return nil end
  local n = tonumber(digits)
  return sign == "-" and -n or n
end

-- Checks of the arguments; raises a misuse marker.
local OPTS = { secret = true, tolerance = true, now = true, max_body_bytes = true }

local function check_args(body, headers, opts)
  if type(body) ~= "string" then fail(format("body must be a string, got %s", type(body)), 1) end
  if type(headers) ~= "table" then fail(format("headers must be a table, got %s", type(headers)), 2) end
  if opts == nil then return {} end
  if type(opts) ~= "table" then fail(format("options table expected, got %s", describe(opts)), 3) end
  for k, v in pairs(opts) do
    if not OPTS[k] then fail(format("unknown option %s", describe(k)), 3) end
    if k == "secret" then
      -- only the type is named: it is a secret
      if type(v) ~= "string" or v == "" then fail(format("secret must be a non-empty string, got %s", type(v)), 3) end
    elseif type(v) ~= "number" or v ~= v or v < 0 or v == math.huge then
      fail(format("%s must be a number >= 0, got %s", k, describe(v)), 3)
    end
  end
  return opts
end

local NO_SECRET = "The webhook secret must either be set using the env var, OPENAI_WEBHOOK_SECRET, "
  .. "on the client, ft.new{webhook_secret = ...}, or passed in opts.secret"

-- The HMAC key from the secret, or nil.
local function key_of(secret)
  if sub(secret, 1, 6) ~= "whsec_" then return secret end
  local key = M.lenient_base64(sub(secret, 7))
  if key == "" then return nil end
  return key
end

local function verify(body, headers, o, fallback_secret)
  local secret = o.secret or fallback_secret or os.getenv("OPENAI_WEBHOOK_SECRET")
  if secret == "" then secret = nil end
  if not secret then fail(NO_SECRET, 3) end
  local max = o.max_body_bytes or M.MAX_BODY_BYTES
  if #body > max then
    return refuse("body_too_large", format("the body has %d bytes; the limit is %.0f (max_body_bytes)", #body, max))
  end

  local sig_values = header_values(headers, "webhook-signature")
  if #sig_values == 0 then return refuse("missing_header", "Missing required header: webhook-signature") end
  local timestamp, err = single_header(headers, "webhook-timestamp")
  if not timestamp then return nil, err end
  local id
  id, err = single_header(headers, "webhook-id")
  if not id then return nil, err end

  local ts = parse_timestamp(timestamp)
  if not ts then return refuse("invalid_timestamp", "Invalid webhook timestamp format") end
  local now = floor(o.now or os.time())
  local tolerance = o.tolerance or M.DEFAULT_TOLERANCE
  if now - ts > tolerance then
    return refuse("timestamp_too_old",
      format("Webhook timestamp is too old (%.0f s, tolerance %.0f s)", now - ts, tolerance))
  end
  if ts > now + tolerance then
    return refuse("timestamp_too_new",
      format("Webhook timestamp is too new (%.0f s ahead, tolerance %.0f s)", ts - now, tolerance))
  end

  local key = key_of(secret)
  if not key then return refuse("invalid_secret", "the webhook secret's base64 after whsec_ holds no key bytes") end
  local signed = id ~= "" and (id .. "." .. timestamp .. "." .. body) or (timestamp .. "." .. body)
  local expected = codec.hmac_sha256(key, signed)

  -- repeated signature headers arrive joined as ", " (what the Node SDK's Headers do)
  local header = table.concat(sig_values, ", ")
  local matched, start = false, 1
  while true do
    local space = find(header, " ", start, true)
    local entry = sub(header, start, space and space - 1 or #header)
    if sub(entry, 1, 3) == "v1," then entry = sub(entry, 4) end
    local mac = M.lenient_base64(entry)
    -- every entry is compared (no early exit), each in constant time
    if #mac == M.SIGNATURE_BYTES and codec.equal_constant_time(mac, expected) then matched = true end
    if not space then break end
    start = space + 1
  end
  if not matched then
    return refuse("no_valid_signature", "The given webhook signature does not match the expected signature")
  end
  return true
end

-- Raise a misuse marker caught around `fn` as "bad argument #n to 'fname'" at the
-- caller of the public function (level 3 from here: public fn -> run -> error).
local function run(fname, argbase, fn, ...)
  local ok, a, b = pcall(fn, ...)
  if not ok then
    if misuse.is_misuse(a) then misuse.raise(a, fname, (a.argn or 1) + argbase, 3) end
    error(a, 0)
  end
  return a, b
end

local function do_verify(body, headers, opts, fallback)
  local o = check_args(body, headers, opts)
  return verify(body, headers, o, fallback)
end

local function do_unwrap(body, headers, opts, fallback)
  local o = check_args(body, headers, opts)
  local ok, err = verify(body, headers, o, fallback)
  if not ok then return nil, err end
  local event, why = codec.json_decode(body)
  if event == nil then return refuse("invalid_json", "the body is not JSON: " .. tostring(why)) end
  if type(event) ~= "table" or event == codec.null or event[1] ~= nil or getmetatable(event) == codec.array_mt then
    return refuse("invalid_json", "the body is JSON but not an event object")
  end
  return event
end

function M.verify_webhook(body, headers, opts)
  return run("verify_webhook", 0, do_verify, body, headers, opts)
end

function M.unwrap_webhook(body, headers, opts)
  return run("unwrap_webhook", 0, do_unwrap, body, headers, opts)
end

-- Replays -------------------------------------------------------------------------

-- ft.webhook_replay_guard([opts]) -> guard; guard:first(id) -> true the first time
-- a webhook-id is seen within `ttl` seconds (default 3600: longer than the
-- tolerance), false for a repeat. opts.dict: an ngx.shared dict (its atomic `add`
-- makes the guard hold across nginx workers); otherwise a table in this process,
-- pruned as it grows. opts.now: a clock (function) for tests.
local Guard = {}
Guard.__index = Guard

function M.webhook_replay_guard(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error(format("bad argument #1 to 'webhook_replay_guard' (options table expected, got %s)", describe(opts)), 2)
  end
  opts = opts or {}
  local ttl = opts.ttl or 3600
  if type(ttl) ~= "number" or ttl <= 0 then
    error(format("bad argument #1 to 'webhook_replay_guard' (ttl must be a number > 0, got %s)", describe(ttl)), 2)
  end
  return setmetatable({ dict = opts.dict, ttl = ttl, now = opts.now or os.time, seen = {}, count = 0 }, Guard)
end

function Guard:first(id)
  if type(id) ~= "string" or id == "" then
    error(format("bad argument #1 to 'first' (id must be a non-empty string, got %s)", describe(id)), 2)
  end
  if self.dict then
    local ok, err = self.dict:add("webhook-id:" .. id, true, self.ttl)
    if ok then return true end
    if err == "exists" then return false end
    return nil, err
  end
  local now = self.now()
  local seen = self.seen
  if seen[id] and seen[id] > now then return false end
  if self.count >= 4096 then
    local n = 0
    for k, expires in pairs(seen) do
      if expires <= now then seen[k] = nil else n = n + 1 end
    end
    self.count = n
  end
  if not seen[id] then self.count = self.count + 1 end
  seen[id] = now + self.ttl
  return true
end

-- Sources for wait_for_job{events = ...} -------------------------------------------

-- ft.webhook_shared_events(dict [, prefix]) -> an events source over an ngx.shared
-- dict in which a receiver stores each final job event (its JSON text) under
-- prefix .. job_id (default prefix "ft-final:"), as
-- examples/openresty/webhook_receiver.lua does. wait() sleeps on ngx.sleep, so a
-- waiting request yields to nginx; reading the dict sends nothing anywhere.
function M.webhook_shared_events(dict, prefix)
  if type(dict) ~= "table" and type(dict) ~= "userdata" then
    error(format("bad argument #1 to 'webhook_shared_events' (an ngx.shared dict expected, got %s)", type(dict)), 2)
  end
  prefix = prefix or "ft-final:"
  return {
    take = function(_, job_id)
      local text = dict:get(prefix .. job_id)
      return text and codec.json_decode(text) or nil
    end,
    wait = function(_, seconds)
      local ngx = rawget(_G, "ngx")
      local s = seconds < 0.1 and seconds or 0.1
      if ngx and ngx.sleep then ngx.sleep(s) else require("openai.finetunes.core").sleep(s) end
    end,
  }
end

M.functions = {
  webhook_shared_events = M.webhook_shared_events,
  verify_webhook = M.verify_webhook,
  unwrap_webhook = M.unwrap_webhook,
  webhook_replay_guard = M.webhook_replay_guard,
}

M.methods = {
  verify_webhook = function(self, body, headers, opts)
    return run("verify_webhook", 0, do_verify, body, headers, opts, self:_webhook_secret())
  end,
  unwrap_webhook = function(self, body, headers, opts)
    return run("unwrap_webhook", 0, do_unwrap, body, headers, opts, self:_webhook_secret())
  end,
}

return M
