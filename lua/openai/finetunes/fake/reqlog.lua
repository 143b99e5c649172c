-- The request log: one entry per API request (every attempt, faulted or not), served
-- as JSON by GET /_fake/requests so specs can see exactly what a client sent.
local json = require("openai.finetunes.fake.json")

local Log = {}
Log.__index = Log

-- limit: entries kept; max_bytes: request bodies kept (oldest entries go first).
function Log.new(limit, max_bytes)
  return setmetatable({ entries = {}, first = 1, next_seq = 1, limit = limit or 10000,
    bytes = 0, max_bytes = max_bytes or 64 * 1024 * 1024 }, Log)
end

local function drop_first(self)
  local e = self.entries[self.first]
  if e then self.bytes = self.bytes - (e._bytes or 0) end
  self.entries[self.first] = nil
  self.first = self.first + 1
end

-- account(entry, n): the entry now holds n more bytes of body text.
function Log:account(entry, n)
  entry._bytes = (entry._bytes or 0) + n
  self.bytes = self.bytes + n
  while self.bytes > self.max_bytes and self.first < entry.seq do
    drop_first(self)
  end
end

-- Credentials never leave the fake in full: GET /_fake/requests answers any local
-- process. A value keeps its scheme ("Bearer", "Basic") and the last characters of its
-- secret (a quarter of it, 4 at most), enough for a spec to tell two keys apart.
function Log.redact_credential(value)
  local scheme, secret = value:match("^(%S+) +(.+)$")
  if not scheme then secret = value end
  local kept = math.min(4, math.floor(#secret / 4))
  local shown = "..." .. secret:sub(#secret - kept + 1)
  return scheme and (scheme .. " " .. shown) or shown
end

-- Which headers hold one: Authorization, Proxy-Authorization, Azure's api-key, and a
-- gateway's own (X-Gateway-Key, X-Auth-Token: a name ending in key, token or secret).
-- Idempotency-Key names a request, not a client: specs read it back.
local function holds_credential(name)
  if name == "idempotency-key" then return false end
  return name:find("authorization$") ~= nil or name:find("key$") ~= nil
    or name:find("token$") ~= nil or name:find("secret$") ~= nil
end

-- The logged copy of a request's headers (the server goes on reading the real ones).
local function logged_headers(headers)
  local out = {}
  for name, value in pairs(headers) do
    out[name] = holds_credential(name) and Log.redact_credential(value) or value
  end
  return out
end

function Log:add(entry)
  if entry.headers then entry.headers = logged_headers(entry.headers) end
  entry.seq = self.next_seq
  self.next_seq = self.next_seq + 1
  self.entries[entry.seq] = entry
  while entry.seq - self.first + 1 > self.limit do
    drop_first(self)
  end
  return entry
end

-- clear(restart): drop every entry; restart numbering at 1 when asked (reset).
function Log:clear(restart)
  self.entries = {}
  self.bytes = 0
  if restart then self.next_seq = 1 end
  self.first = self.next_seq
end

-- Keys of an entry that hold raw JSON text (spliced in unchanged).
local function encode_entry(e)
  local out = {}
  for k, v in pairs(e) do
    if k:sub(1, 1) ~= "_" then
      out[k] = v
    end
  end
  if e._json_text then
    out.json = json.raw(e._json_text)
  end
  return json.encode(out)
end

-- list(since, limit): entries with seq > since, oldest first, as JSON text.
function Log:to_json(since, limit, path_pattern)
  local parts = {}
  for seq = math.max(self.first, (since or 0) + 1), self.next_seq - 1 do
    local e = self.entries[seq]
    if e and (not path_pattern or e.path:find(path_pattern)) then
      parts[#parts + 1] = encode_entry(e)
      if limit and #parts >= limit then break end
    end
  end
  return "[" .. table.concat(parts, ",") .. "]"
end

return Log
