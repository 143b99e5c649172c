-- Uploads API: create, add part, complete, cancel. Parts are stored on disk as they
-- arrive (in any order, concurrently); complete streams them together into a new file
-- and checks the byte count and, when given, the MD5 of the whole.
local json = require("openai.finetunes.fake.json")
local errors = require("openai.finetunes.fake.errors")
local check = require("openai.finetunes.fake.check")
local util = require("openai.finetunes.fake.util")
local files = require("openai.finetunes.fake.routes.files")
local Store = require("openai.finetunes.fake.store")

local M = {}

M.PURPOSES = { "assistants", "batch", "fine-tune", "vision" }
M.MAX_BYTES = 8 * 1024 * 1024 * 1024
M.MAX_PART = 64 * 1024 * 1024
M.EXPIRES = 3600
M.FINE_TUNE_MIME = { ["text/jsonl"] = true, ["application/jsonl"] = true, ["application/json"] = true,
  ["application/x-ndjson"] = true, ["application/octet-stream"] = true, ["text/plain"] = true }

local function view(store, u)
  if u.status == "pending" and store.clock:now() >= u.expires_at then
    u.status = "expired"
  end
  local out = Store.view(u)
  if u._file then
    local f = store.files:get(u._file)
    out.file = f and files.view(store, f) or u._file_view
  end
  return out
end

local function get(store, id)
  local u = store.uploads:get(id)
  if not u then errors.raise(404, "No such Upload object: " .. id, "invalid_request_error", "upload_id", nil) end
  view(store, u)
  return u
end

local function must_be_pending(u, action)
  if u.status ~= "pending" then
    errors.raise(400, string.format("Cannot %s upload %s: its status is '%s'.", action, u.id, u.status),
      "invalid_request_error", nil, "invalid_upload_status")
  end
end

local function create(ctx)
  local store = ctx.store
  local b = check.body(ctx)
  check.only(b, { "filename", "purpose", "bytes", "mime_type", "expires_after" })
  local filename = check.string(b, "filename", true)
  local purpose = check.enum(b, "purpose", M.PURPOSES, true)
  local bytes = check.integer(b, "bytes", true, 0, M.MAX_BYTES)
  local mime = check.string(b, "mime_type", true)
  if purpose == "fine-tune" then
    if not M.FINE_TUNE_MIME[mime:lower():match("^[^;%s]+") or ""] then
      errors.raise(400, string.format("Invalid mime_type '%s' for purpose 'fine-tune'. Use 'text/jsonl'.", mime),
        "invalid_request_error", "mime_type", "invalid_value")
    end
    if not filename:lower():match("%.jsonl$") then
      errors.raise(400, "Invalid file format for Fine-Tuning API. Must be .jsonl", "invalid_request_error",
        "filename", nil)
    end
  end
  local expires_after = check.object(b, "expires_after", false)
  local file_expires
  if expires_after then
    check.enum(expires_after, "anchor", { "created_at" }, true, "expires_after.anchor")
    file_expires = check.integer(expires_after, "seconds", true, 3600, 2592000, "expires_after.seconds")
  end
  local now = store.clock:time()
  local u = store.uploads:add({
    id = util.id("upload_", 24), object = "upload", bytes = bytes, created_at = now, filename = filename,
    purpose = purpose, status = "pending", expires_at = now + M.EXPIRES, file = json.null,
    _mime = mime, _file_expires = file_expires, _parts = {},
  })
  return { status = 200, body = view(store, u) }
end

local function add_part(ctx)
  local store = ctx.store
  local u = get(store, ctx.params.upload_id)
  if not ctx.parts then
    errors.raise(415, "Invalid Content-Type header, expected multipart/form-data.", "invalid_request_error", nil, nil)
  end
  local data
  for _, p in ipairs(ctx.parts) do
    if p.name == "data" then
      data = p
    elseif p.name then
      errors.unknown_parameter(p.name)
    end
  end
  if not data then errors.missing("data") end
  must_be_pending(u, "add a part to")
  if data.size > M.MAX_PART then
    errors.raise(400, string.format("Part is too large (%d bytes); each part can be at most 64 MB.", data.size),
      "invalid_request_error", "data", "part_too_large")
  end
  local id = util.id("part_", 24)
  local path = store:path_for("parts", id)
  assert(os.rename(data._path, path))
  data.adopted = true
  local part = store.parts:add({ id = id, object = "upload.part", created_at = store.clock:time(), upload_id = u.id,
    _path = path, _size = data.size, _md5 = data.md5 })
  u._parts[id] = part
  return { status = 200, body = Store.view(part) }
end

-- Concatenate the part files into dest, yielding between chunks.
local function concat_parts(loop, parts, dest)
  local out = assert(io.open(dest, "wb"))
  local copied = 0
  for _, part in ipairs(parts) do
    local f = assert(io.open(part._path, "rb"))
    while true do
      local chunk = f:read(1024 * 1024)
      if not chunk then break end
      out:write(chunk)
      copied = copied + #chunk
      if copied >= 8 * 1024 * 1024 then
        copied = 0
        loop:sleep(0)
      end
    end
    f:close()
  end
  out:close()
end

local function complete(ctx)
  local store = ctx.store
  local u = get(store, ctx.params.upload_id)
  local b = check.body(ctx)
  check.only(b, { "part_ids", "md5" })
  local ids = check.array(b, "part_ids", true)
  local md5 = check.string(b, "md5", false)
  must_be_pending(u, "complete")
  local parts, seen, total = {}, {}, 0
  for i, pid in ipairs(ids) do
    if type(pid) ~= "string" then
      errors.invalid_type("part_ids[" .. (i - 1) .. "]", "a string", check.type_name(pid))
    end
    local part = u._parts[pid]
    if not part then
      errors.raise(400, string.format("Part %s does not belong to upload %s.", pid, u.id), "invalid_request_error",
        "part_ids", "invalid_part_id")
    end
    if seen[pid] then
      errors.raise(400, "Part " .. pid .. " is listed more than once.", "invalid_request_error", "part_ids",
        "duplicate_part_id")
    end
    seen[pid] = true
    parts[#parts + 1] = part
    total = total + part._size
  end
  if total ~= u.bytes then
    errors.raise(400, string.format("The number of bytes uploaded (%d) does not match the expected number of bytes "
      .. "(%d) for upload %s.", total, u.bytes, u.id), "invalid_request_error", "bytes", "bytes_mismatch")
  end
  local tmp = string.format("%s/tmp/%s-complete", store.data_dir, u.id)
  concat_parts(ctx.server.loop, parts, tmp)
  if md5 then
    local sum = util.md5_file(ctx.server.loop, store.data_dir .. "/tmp", tmp)
    if sum and sum:lower() ~= md5:lower() then
      os.remove(tmp)
      errors.raise(400, string.format("The MD5 checksum of the uploaded parts (%s) does not match the md5 provided "
        .. "(%s).", sum, md5), "invalid_request_error", "md5", "md5_mismatch")
    end
  end
  -- the upload may have been cancelled while the parts were copied
  must_be_pending(u, "complete")
  local f = files.add(store, { path = tmp, bytes = total, filename = u.filename, purpose = u.purpose,
    expires_at = u._file_expires and (store.clock:time() + u._file_expires) or nil })
  for _, part in pairs(u._parts) do os.remove(part._path) end
  u.status = "completed"
  u._file = f.id
  u._file_view = files.view(store, f)
  return { status = 200, body = view(store, u) }
end

local function cancel(ctx)
  local store = ctx.store
  local u = get(store, ctx.params.upload_id)
  must_be_pending(u, "cancel")
  u.status = "cancelled"
  for _, part in pairs(u._parts) do os.remove(part._path) end
  return { status = 200, body = view(store, u) }
end

function M.register(router)
  router:add("POST", "/uploads", create)
  router:add("POST", "/uploads/{upload_id}/parts", add_part)
  router:add("POST", "/uploads/{upload_id}/complete", complete)
  router:add("POST", "/uploads/{upload_id}/cancel", cancel)
end

return M
