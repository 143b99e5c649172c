-- openai.finetunes.workflow.paginate: every item of a list endpoint, across all its
-- pages, in a generic `for`.
--
--   for job, err in client:each_job{ limit = 100 } do
--     if not job then error(tostring(err)) end      -- a page failed (see below)
--     print(job.id, job.status)
--   end
--
--   client:each_file(query)                      GET /files
--   client:each_job(query)                       GET /fine_tuning/jobs
--   client:each_event(job_id, query)             GET /fine_tuning/jobs/{id}/events      (newest first)
--   client:each_checkpoint(job_id, query)        GET /fine_tuning/jobs/{id}/checkpoints
--   client:each_checkpoint_permission(checkpoint, query)
--                                                GET /fine_tuning/checkpoints/{ckpt}/permissions
--
-- `query` is what the list method takes (limit, order, purpose, metadata,
-- after to start later ...); it is copied, never modified. An optional last
-- `opts` (headers, timeout, max_retries ...) applies to every page request. Items come in the
-- API's order. Paging follows the official SDKs (openai-python's and openai-node's
-- cursor pages) and the row's `list` style (endpoints.lua): the
-- next page asks for `after` = the id of the last item of this one (the
-- permissions list: the body's `last_id`), and paging stops when a page says
-- `has_more = false`, comes back empty, or (permissions) has no `last_id`.
--
-- Lazy: the call itself sends nothing; a page is fetched when the loop needs
-- its first item, so leaving the loop with `break` sends no further request.
-- Misuse (a query that is not a table, a bad id) raises at the call, before
-- any request.
--
-- Failure mid-way: a page that cannot be fetched (after the client's own
-- retries) makes the iterator produce one last pair `false, err` (err: the
-- client's error object, `err.page` = the page number that failed, from 1)
-- and then end. `false`, not `nil`: a generic `for` ends on a nil first
-- value before its body runs, so nil could not carry the error into the loop.
-- A loop that ignores `err` fails loudly at its first `job.id`
-- ("attempt to index a boolean value"), never silently. This holds on strict
-- views too (ft.new{raise = true}): the iterator is built by the plain method
-- and yields the pair rather than raising inside the `for` statement; raise
-- it yourself with `error(err)` if you prefer.
local endpoints = require("openai.finetunes.api.endpoints")
local errors = require("openai.finetunes.errors")
local misuse = require("openai.finetunes.misuse")

local type, pairs, ipairs, pcall = type, pairs, ipairs, pcall
local format = string.format

local M = {}

-- each_* name -> the list method it pages: the endpoint rows with `each`.
M.ITERATORS = {}
for _, row in ipairs(endpoints) do
  if row.each then M.ITERATORS[row.each] = row.name end
end

local function copy(t)
  local out = {}
  if t then
    for k, v in pairs(t) do out[k] = v end
  end
  return out
end

-- The cursor for the page after `page`, or nil when it was the last one, or
-- false, message when the page cannot be continued.
local function next_cursor(style, page, previous)
  local data = page.data
  if page.has_more == false or #data == 0 then return nil end
  local cursor
  if style == "last_id" then
    cursor = page.last_id
    if type(cursor) ~= "string" or cursor == "" then return nil end
  else
    local last = data[#data]
    cursor = type(last) == "table" and last.id
    if type(cursor) ~= "string" or cursor == "" then
      return false, "has_more is true but the last item of the page has no id to continue after"
    end
  end
  if cursor == previous then
    return false, format("the next page would start after %q again (the server repeats its cursor)", cursor)
  end
  return cursor
end

local function make(each_name, list_name)
  local row = endpoints[list_name]
  local nparams = #row.params
  local style = row.list

  return function(self, ...)
    local id, query, opts
    if nparams > 0 then id, query, opts = ... else query, opts = ... end
    -- Every check of the list method (query, opts, extra arguments), now, so
    -- misuse never waits for the loop.
    local ok, why = pcall(self._prepare, self, list_name, ...)
    if not ok then misuse.raise(why, each_name, 1, 2) end

    local q = copy(query)
    local items, i, pages = nil, 0, 0
    local done, cursor, broken = false, q.after, nil

    -- The next page's items, or nil, err. A page whose continuation is
    -- unusable still gives its items; `broken` is reported after them.
    local function fetch()
      pages = pages + 1
      q.after = cursor
      local page, err
      if nparams > 0 then
        page, err = self[list_name](self, id, q, opts)
      else
        page, err = self[list_name](self, q, opts)
      end
      if page == nil then return nil, err end
      if type(page) ~= "table" or type(page.data) ~= "table" then
        return nil, errors.new { kind = "invalid_response", message = "a list answer without a data array" }
      end
      local nxt, bad = next_cursor(style, page, cursor)
      if nxt == false then
        broken = errors.new { kind = "invalid_response", message = bad, page = pages }
        done = true
      elseif nxt == nil then
        done = true
      end
      cursor = nxt
      return page.data
    end

    return function()
      while true do
        if items and i < #items then
          i = i + 1
          return items[i]
        end
        if done then
          if broken then
            local err = broken
            broken = nil
            return false, err
          end
          return nil
        end
        local data, err = fetch()
        if not data then
          done = true
          if type(err) == "table" then err.page = pages end
          return false, err
        end
        items, i = data, 0
      end
    end
  end
end

M.methods = {}
for each_name, list_name in pairs(M.ITERATORS) do
  M.methods[each_name] = make(each_name, list_name)
end

return M
