-- Models API: GET /models, GET /models/{model}, DELETE /models/{model}.
local json = require("openai.finetunes.fake.json")
local errors = require("openai.finetunes.fake.errors")
local Store = require("openai.finetunes.fake.store")

local M = {}

local function view(m)
  return Store.view(m)
end

local function get(store, id)
  local m = store.models:get(id)
  if not m then
    errors.raise(404, "The model '" .. id .. "' does not exist", "invalid_request_error", "model", "model_not_found")
  end
  return m
end

local function list(ctx)
  local data = json.array()
  for _, m in ipairs(ctx.store.models.list) do
    data[#data + 1] = view(m)
  end
  return { status = 200, body = { object = "list", data = data } }
end

local function retrieve(ctx)
  return { status = 200, body = view(get(ctx.store, ctx.params.model)) }
end

local function delete(ctx)
  local store = ctx.store
  local m = get(store, ctx.params.model)
  if m._base then
    errors.raise(403, "You do not have permission to delete the model '" .. m.id
      .. "'. Only fine-tuned models owned by your organization can be deleted.", "invalid_request_error", "model",
      "model_not_deletable")
  end
  store.models:remove(m.id)
  return { status = 200, body = { id = m.id, object = "model", deleted = true } }
end

function M.register(router)
  router:add("GET", "/models", list)
  router:add("GET", "/models/{model}", retrieve)
  router:add("DELETE", "/models/{model}", delete)
end

return M
