-- Checkpoint permissions API (admin): list, create, delete, under
-- /fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions.
local json = require("openai.finetunes.fake.json")
local errors = require("openai.finetunes.fake.errors")
local check = require("openai.finetunes.fake.check")
local util = require("openai.finetunes.fake.util")
local Store = require("openai.finetunes.fake.store")

local M = {}

-- The permission collection of a checkpoint (or fine-tuned model) name.
local function collection(store, name)
  local known = store.checkpoints_by_name[name] or (store.models:get(name) and store.models:get(name)._job)
  if not known then
    -- jobs are simulated lazily: bring them up to date before saying "unknown"
    local jobs = require("openai.finetunes.fake.jobs")
    for _, job in ipairs(store.jobs.list) do jobs.advance(store, job) end
    known = store.checkpoints_by_name[name] or (store.models:get(name) and store.models:get(name)._job)
  end
  if not known then
    errors.raise(404, "Fine-tuned model checkpoint " .. name .. " not found.", "invalid_request_error",
      "fine_tuned_model_checkpoint", "model_not_found")
  end
  local coll = store.permissions[name]
  if not coll then
    coll = Store.new_collection(store)
    store.permissions[name] = coll
  end
  return coll
end

local function list(ctx)
  local store, q = ctx.store, ctx.query
  local coll = collection(store, ctx.params.fine_tuned_model_checkpoint)
  local items = coll.list
  if q.project_id and q.project_id ~= "" then
    items = {}
    for _, p in ipairs(coll.list) do
      if p.project_id == q.project_id then items[#items + 1] = p end
    end
  end
  return { status = 200, body = Store.page(coll, items, q, {
    default_limit = 10, max_limit = 100, order_param = "order", asc = "ascending", desc = "descending", ids = true,
  }) }
end

local function create(ctx)
  local store = ctx.store
  local coll = collection(store, ctx.params.fine_tuned_model_checkpoint)
  local b = check.body(ctx)
  check.only(b, { "project_ids" })
  local ids = check.array(b, "project_ids", true)
  if #ids == 0 then
    errors.raise(400, "Invalid 'project_ids': empty array. Expected an array with minimum length 1, but got an empty "
      .. "array instead.", "invalid_request_error", "project_ids", "empty_array")
  end
  for i, pid in ipairs(ids) do
    if type(pid) ~= "string" or pid == "" then
      errors.invalid_type("project_ids[" .. (i - 1) .. "]", "a non-empty string", check.type_name(pid))
    end
  end
  local data = json.array()
  local now = store.clock:time()
  for _, pid in ipairs(ids) do
    local existing
    for _, p in ipairs(coll.list) do
      if p.project_id == pid then existing = p end
    end
    local p = existing or coll:add({ id = util.id("cp_", 24), object = "checkpoint.permission", created_at = now,
      project_id = pid })
    data[#data + 1] = Store.view(p)
  end
  return { status = 200, body = { object = "list", data = data, has_more = false,
    first_id = data[1] and data[1].id or json.null, last_id = data[#data] and data[#data].id or json.null } }
end

local function delete(ctx)
  local store = ctx.store
  local coll = collection(store, ctx.params.fine_tuned_model_checkpoint)
  local id = ctx.params.permission_id
  if not coll:get(id) then
    errors.raise(404, "No such checkpoint permission: " .. id, "invalid_request_error", "permission_id", nil)
  end
  coll:remove(id)
  return { status = 200, body = { id = id, object = "checkpoint.permission", deleted = true } }
end

function M.register(router)
  local base = "/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions"
  router:add("GET", base, list)
  router:add("POST", base, create)
  router:add("DELETE", base .. "/{permission_id}", delete)
end

return M
