-- openai.finetunes.call.cache: the response cache behind `ft.new{cache = {ttl = s}}`.
--
-- What is cached: successful answers to the reads whose endpoint row has
-- `cache = family` (endpoints.lua: `model(id)`, `models()`, `file(id)` and
-- `files(query)`), for `ttl` seconds (default 60), keyed by the full URL and
-- the request headers (a per-call header such as OpenAI-Project can change the
-- answer). Nothing else: job status changes by itself, and file content is
-- too big to hold.
--
-- What invalidates: a call whose row has `invalidates = family` (the writes
-- under /files, /uploads and /models) drops the lists of that family and the
-- entry of the object its path names (delete_file(id) drops file(id) and every
-- files(...); upload_file and complete_upload drop every files(...);
-- delete_model(id) drops model(id) and models()). It drops them when the write
-- starts and again when it ends, whatever the outcome, and a read that was in
-- flight across a write is not stored: in a batch a read racing a write cannot
-- put a stale answer back.
--
-- The raw answer (status, headers, body) is kept, not the decoded table: each
-- hit decodes afresh in C, so a caller who edits a result cannot change what
-- the next caller gets.
local type, pairs, setmetatable, sort, concat = type, pairs, setmetatable, table.sort, table.concat
local sub, match, lower = string.sub, string.match, string.lower

local M = {}

M.DEFAULT_TTL = 60
M.MAX_ENTRIES = 1000

local Cache = {}
Cache.__index = Cache

--- new{ttl = s, base_url = url, now = function() -> seconds}
function M.new(opts)
  local ttl = opts.ttl
  if ttl == nil then ttl = M.DEFAULT_TTL end
  return setmetatable({
    ttl = ttl, base_url = opts.base_url, now = opts.now or os.time,
    entries = {}, count = 0, serial = 0,
    generation = {}, -- family -> writes seen
  }, Cache)
end

-- The key of a read: URL plus the headers, sorted (they are few).
local function key_of(req)
  local parts = {}
  for name, value in pairs(req.headers or {}) do parts[#parts + 1] = lower(name) .. ":" .. value end
  sort(parts)
  return req.url .. "\n" .. concat(parts, "\n")
end

-- The object a URL names, whatever follows it (sub-paths, the query):
-- "<base>/files/file-1/content?x" -> "<base>/files/file-1"; nil for a
-- collection ("<base>/files").
local function object_of(self, url)
  local base = self.base_url
  if not base or sub(url, 1, #base) ~= base then return nil end
  local item = match(sub(url, #base + 1), "^/[^/?#]+/[^/?#]+")
  return item and base .. item
end

local function drop(self, key)
  if self.entries[key] then
    self.entries[key] = nil
    self.count = self.count - 1
  end
end

local function invalidate(self, family, item)
  self.generation[family] = (self.generation[family] or 0) + 1
  for key, e in pairs(self.entries) do
    if e.family == family and (e.list or (item and e.object == item)) then drop(self, key) end
  end
end

-- Room for one more: expired entries go first, then the oldest.
local function make_room(self, now)
  for key, e in pairs(self.entries) do
    if e.expires <= now then drop(self, key) end
  end
  while self.count >= M.MAX_ENTRIES do
    local oldest, at = nil, nil
    for key, e in pairs(self.entries) do
      if not at or e.serial < at then oldest, at = key, e.serial end
    end
    drop(self, oldest)
  end
end

local function copy_res(res)
  local headers = {}
  for k, v in pairs(res.headers or {}) do headers[k] = v end
  return { status = res.status, headers = headers, body = res.body, http_version = res.http_version }
end

--- Before a call of endpoint `row` (endpoints.lua) with request `req`:
-- returns the cached answer (a `res` of the transport contract) on a hit;
-- otherwise nil and a ticket to hand to `done` once the call has finished
-- (nil when the call neither reads through the cache nor writes).
function Cache:get(row, req)
  local family = row.cache
  if family and req.method == "GET" then
    local key = key_of(req)
    local e = self.entries[key]
    local now = self.now()
    if e then
      if now < e.expires then return copy_res(e.res) end
      drop(self, key)
    end
    local generation = self.generation[family] or 0
    self.generation[family] = generation
    return nil, { key = key, object = object_of(self, req.url), family = family, list = row.list ~= nil,
                  generation = generation }
  end
  family = row.invalidates
  if family then
    local item = object_of(self, req.url)
    invalidate(self, family, item)
    return nil, { write = true, family = family, item = item }
  end
  return nil, nil
end

--- After the call: `res` is the transport's answer when the call succeeded
-- (a 2xx the client could decode), nil otherwise.
function Cache:done(ticket, res)
  if ticket.write then return invalidate(self, ticket.family, ticket.item) end
  if not res or self.ttl <= 0 or type(res.status) ~= "number" or res.status < 200 or res.status > 299 then
    return
  end
  if self.generation[ticket.family] ~= ticket.generation then return end -- a write overlapped
  local now = self.now()
  drop(self, ticket.key)
  if self.count >= M.MAX_ENTRIES then make_room(self, now) end
  self.serial = self.serial + 1
  self.entries[ticket.key] = {
    res = copy_res(res), expires = now + self.ttl, serial = self.serial,
    object = ticket.object, family = ticket.family, list = ticket.list,
  }
  self.count = self.count + 1
end

--- Mark a result served from memory: meta.cached = true, meta.attempts = 0.
function M.served(result, meta)
  if result ~= nil and type(meta) == "table" then
    meta.cached = true
    meta.attempts = 0
  end
  return result, meta
end

--- Forget everything.
function Cache:clear()
  for family, n in pairs(self.generation) do self.generation[family] = n + 1 end
  self.entries, self.count = {}, 0
end

--- Number of live entries (for specs and curiosity).
function Cache:size()
  local now, n = self.now(), 0
  for _, e in pairs(self.entries) do
    if e.expires > now then n = n + 1 end
  end
  return n
end

-- client:clear_cache(): forget every cached answer (a no-op without a cache).
M.methods = {
  clear_cache = function(self)
    local cache = self._cache and self:_cache()
    if cache then cache:clear() end
    return true
  end,
}

return M
