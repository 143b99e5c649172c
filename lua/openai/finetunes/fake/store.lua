-- The server's state: files (bytes on disk), uploads and their parts, fine-tuning jobs
-- with their events and checkpoints, checkpoint permissions and models; plus the
-- cursor paging every list shares.
--
-- Objects are kept as API-shaped tables; fields starting with "_" are internal and
-- never serialised (see Store.view).
local json = require("openai.finetunes.fake.json")
local errors = require("openai.finetunes.fake.errors")
local util = require("openai.finetunes.fake.util")

local Store = {}
Store.__index = Store

-- A collection keeps insertion order (the `_seq` of each object) and remembers the
-- position of deleted objects, so a cursor (`after=<deleted id>`) keeps working.
local Collection = {}
Collection.__index = Collection

local function new_collection(store)
  return setmetatable({ store = store, list = {}, by_id = {}, tomb = {} }, Collection)
end

function Collection:add(obj)
  self.store.seq = self.store.seq + 1
  obj._seq = self.store.seq
  self.list[#self.list + 1] = obj
  self.by_id[obj.id] = obj
  return obj
end

function Collection:get(id)
  return self.by_id[id]
end

function Collection:remove(id)
  local obj = self.by_id[id]
  if not obj then return nil end
  self.by_id[id] = nil
  self.tomb[id] = obj._seq
  for i, o in ipairs(self.list) do
    if o == obj then
      table.remove(self.list, i)
      break
    end
  end
  return obj
end

function Collection:seq_of(id)
  local obj = self.by_id[id]
  return obj and obj._seq or self.tomb[id]
end

Store.Collection = Collection
Store.new_collection = new_collection

function Store.new(server)
  local self = setmetatable({ server = server, clock = server.clock, data_dir = server.data_dir }, Store)
  self.org_name = server.opts.org or "personal"
  self.org_id = "org-" .. util.random_string(24)
  self:reset()
  return self
end

function Store:reset()
  -- files on disk go with the state
  for _, sub in ipairs({ "files", "parts" }) do
    util.rm_rf(self.data_dir .. "/" .. sub)
    assert(util.mkdir_p(self.data_dir .. "/" .. sub))
  end
  self.seq = 0
  self.files = new_collection(self)
  self.uploads = new_collection(self)
  self.parts = new_collection(self)
  self.jobs = new_collection(self)
  self.permissions = {}   -- checkpoint model name -> collection
  self.checkpoints_by_name = {}
  self.models = new_collection(self)
  self.webhook_endpoints = new_collection(self)
  self.webhook_deliveries = {}  -- fake/webhooks.lua
  self.next_job = nil     -- overrides for the next created job (POST /_fake/next_job)
  self.job_limit = nil    -- most active jobs at once (POST /_fake/job_limit); nil: no limit
  self.idempotent_jobs = {} -- Idempotency-Key of a job create -> the job id
  self.next_file = nil    -- overrides for the next created file (POST /_fake/next_file)
  require("openai.finetunes.fake.catalog").seed(self)
end

function Store:path_for(kind, id)
  return string.format("%s/%s/%s", self.data_dir, kind, id)
end

-- view(obj): a copy without internal fields; json.null stands for explicit nulls.
function Store.view(obj)
  local out = {}
  for k, v in pairs(obj) do
    if type(k) ~= "string" or k:sub(1, 1) ~= "_" then
      out[k] = v
    end
  end
  return out
end

------------------------------------------------------------------------------ paging

local function to_int(v)
  if type(v) == "number" then return v end
  if type(v) ~= "string" then return nil end
  if not v:match("^%s*[-+]?%d+%s*$") then return nil end
  return tonumber(v)
end

-- limit_param(query, default, min, max) -> integer (raises the API's 400s)
function Store.limit_param(query, default, min, max)
  local raw = query.limit
  if raw == nil or raw == "" then return default end
  if type(raw) == "table" then errors.invalid_type("limit", "an integer", "an array") end
  local n = to_int(raw)
  if not n then
    errors.raise(400, string.format("Invalid 'limit': expected an integer, but got '%s' instead.", tostring(raw)),
      "invalid_request_error", "limit", "invalid_type")
  end
  if n < min then errors.below_min("limit", min, n) end
  if max and n > max then errors.above_max("limit", max, n) end
  return n
end

-- page(coll, items, query, opts) -> list envelope.
--   items: objects of coll, oldest first (already filtered)
--   opts: default_limit, max_limit, order_param ("order"), asc/desc names,
--         ids (add first_id/last_id), view (object -> table)
function Store.page(coll, items, query, opts)
  local limit = Store.limit_param(query, opts.default_limit, 1, opts.max_limit)
  local ascending = false
  if opts.order_param then
    local order = query[opts.order_param]
    if order ~= nil and order ~= "" then
      if order == opts.asc then
        ascending = true
      elseif order ~= opts.desc then
        errors.invalid_value(opts.order_param, order, { opts.asc, opts.desc })
      end
    end
  end
  local after = query.after
  if type(after) == "table" then errors.invalid_type("after", "a string", "an array") end
  local cursor
  if after and after ~= "" then
    cursor = coll:seq_of(after)
    if not cursor then
      -- An unknown cursor gives an empty page (nothing is known to follow it).
      cursor = ascending and math.huge or -math.huge
    end
  end
  local data = json.array()
  local has_more = false
  local n = #items
  local first, last, step = n, 1, -1
  if ascending then first, last, step = 1, n, 1 end
  for i = first, last, step do
    local obj = items[i]
    local s = obj._seq
    if not cursor or (ascending and s > cursor) or (not ascending and s < cursor) then
      if #data >= limit then
        has_more = true
        break
      end
      data[#data + 1] = (opts.view or Store.view)(obj)
    end
  end
  local out = { object = "list", data = data, has_more = has_more }
  if opts.ids then
    out.first_id = data[1] and data[1].id or json.null
    out.last_id = data[#data] and data[#data].id or json.null
  end
  return out
end

return Store
