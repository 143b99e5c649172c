-- Files API: POST/GET /files, GET/DELETE /files/{file_id}, GET /files/{file_id}/content.
local errors = require("openai.finetunes.fake.errors")
local util = require("openai.finetunes.fake.util")
local Store = require("openai.finetunes.fake.store")

local M = {}

M.CREATE_PURPOSES = { "assistants", "batch", "fine-tune", "vision", "user_data", "evals" }
M.MAX_FILE_BYTES = 512 * 1024 * 1024

local function is_member(list, v)
  for _, x in ipairs(list) do if x == v then return true end end
  return false
end

-- The public shape of a file (status moves on with the clock for files created
-- under POST /_fake/next_file).
function M.view(store, f)
  if f._ready_at and store.clock:now() >= f._ready_at then
    f.status = f._final_status
    if f._final_details then f.status_details = f._final_details end
    f._ready_at = nil
  end
  return Store.view(f)
end

function M.get(store, id)
  local f = store.files:get(id)
  if not f then errors.not_found("File object", id, "id") end
  return f
end

-- add(store, {path = adopted file, bytes, filename, purpose, expires_at}) -> file object
-- (the path is renamed into the store)
function M.add(store, spec)
  local id = util.id("file-")
  local dest = store:path_for("files", id)
  if spec.path then
    assert(os.rename(spec.path, dest))
  else
    assert(util.write_file(dest, spec.data or ""))
  end
  local now = store.clock:time()
  local f = {
    id = id, object = "file", bytes = spec.bytes or util.file_size(dest) or 0, created_at = now,
    filename = spec.filename, purpose = spec.purpose, status = "processed",
    -- optional in the API reference: absent (never null) without a value, as the API
    -- answers; status_details only on a file that failed processing
    expires_at = spec.expires_at, _path = dest,
  }
  local nf = store.next_file
  if nf and spec.user then
    store.next_file = nil
    if nf.status then f.status = nf.status end
    if nf.status_details then f.status_details = nf.status_details end
    if nf.ready_after then
      f._ready_at = store.clock:now() + nf.ready_after
      f._final_status = nf.final_status or "processed"
      f._final_details = nf.final_status_details
    end
  end
  return store.files:add(f)
end

local function create(ctx)
  local store = ctx.store
  local parts = ctx.parts
  if not parts then
    errors.raise(415, "Invalid Content-Type header (" .. tostring(ctx.req.headers["content-type"])
      .. "), expected multipart/form-data.", "invalid_request_error", nil, nil)
  end
  local fields, file_part = {}, nil
  for _, p in ipairs(parts) do
    if p.name == "file" then
      file_part = p
    elseif p.name then
      if p.name ~= "purpose" and not p.name:match("^expires_after%[%w+%]$") then
        errors.unknown_parameter(p.name)
      end
      fields[p.name] = p.value or ""
    end
  end
  local purpose = fields.purpose
  if not purpose then errors.missing("purpose") end
  if not is_member(M.CREATE_PURPOSES, purpose) then
    errors.invalid_value("purpose", purpose, M.CREATE_PURPOSES)
  end
  if not file_part then errors.missing("file") end
  local filename = file_part.filename
  if not filename or filename == "" then
    errors.raise(400, "The 'file' field must be a file upload with a filename.", "invalid_request_error", "file",
      "invalid_type")
  end
  if file_part.size > M.MAX_FILE_BYTES then
    errors.raise(400, string.format("File is too large (%d bytes). The maximum size is 512 MB; use the Uploads API "
      .. "for larger files.", file_part.size), "invalid_request_error", "file", "file_too_large")
  end
  if purpose == "fine-tune" and not filename:lower():match("%.jsonl$") then
    errors.raise(400, "Invalid file format for Fine-Tuning API. Must be .jsonl", "invalid_request_error", "file", nil)
  end
  local expires_at
  local anchor, seconds = fields["expires_after[anchor]"], fields["expires_after[seconds]"]
  if anchor or seconds then
    if anchor ~= "created_at" then
      errors.invalid_value("expires_after.anchor", anchor or "", { "created_at" })
    end
    local n = tonumber(seconds or "")
    if not n or math.floor(n) ~= n then
      errors.invalid_type("expires_after.seconds", "an integer", "'" .. tostring(seconds) .. "'")
    end
    if n < 3600 then errors.below_min("expires_after.seconds", 3600, n) end
    if n > 2592000 then errors.above_max("expires_after.seconds", 2592000, n) end
    expires_at = store.clock:time() + n
  elseif purpose == "batch" then
    expires_at = store.clock:time() + 30 * 24 * 3600
  end
  file_part.adopted = true
  local f = M.add(store, { path = file_part._path, bytes = file_part.size, filename = filename, purpose = purpose,
    expires_at = expires_at, user = true })
  return { status = 200, body = M.view(store, f) }
end

local function list(ctx)
  local store, q = ctx.store, ctx.query
  local purpose = q.purpose
  local items = store.files.list
  if purpose and purpose ~= "" then
    items = {}
    for _, f in ipairs(store.files.list) do
      if f.purpose == purpose then items[#items + 1] = f end
    end
  end
  return { status = 200, body = Store.page(store.files, items, q, {
    default_limit = 10000, max_limit = 10000, order_param = "order", asc = "asc", desc = "desc", ids = true,
    view = function(f) return M.view(store, f) end,
  }) }
end

local function retrieve(ctx)
  return { status = 200, body = M.view(ctx.store, M.get(ctx.store, ctx.params.file_id)) }
end

local function delete(ctx)
  local store = ctx.store
  local f = M.get(store, ctx.params.file_id)
  store.files:remove(f.id)
  os.remove(f._path)
  return { status = 200, body = { id = f.id, object = "file", deleted = true } }
end

local function content(ctx)
  local f = M.get(ctx.store, ctx.params.file_id)
  local name = f.filename:gsub('[%c"\\]', "_")
  return { status = 200, file = f._path, size = util.file_size(f._path) or 0,
    content_type = "application/octet-stream",
    headers = { { "Content-Disposition", 'attachment; filename="' .. name .. '"' } } }
end

function M.register(router)
  router:add("GET", "/files", list)
  router:add("POST", "/files", create)
  router:add("GET", "/files/{file_id}", retrieve)
  router:add("DELETE", "/files/{file_id}", delete)
  router:add("GET", "/files/{file_id}/content", content)
end

return M
