-- openai.finetunes.workflow.large_upload: one big file through the Uploads API, its
-- parts in parallel, in constant memory.
--
--   local file, info = client:upload_large_file{
--     file = "/data/train.jsonl", purpose = "fine-tune",
--     part_size = 64 * 1024 * 1024, parallel = 4,
--     on_progress = function(sent, total) io.write(("\r%d%%"):format(sent * 100 // total)) end,
--   }
--   if not file then error(tostring(info)) end
--   print(file.id, file.bytes, info.md5)
--
-- client:upload_large_file(spec [, opts]) -> file, info | nil, err
--   spec:
--     file         path of a readable file (required)
--     purpose      "fine-tune", "batch", "assistants", "vision" (required)
--     filename     the name the API sees (default: the path's basename)
--     mime_type    default from the extension: .jsonl text/jsonl, .json
--                  application/json, .csv text/csv, .txt text/plain, .pdf
--                  application/pdf, .png/.jpg/.jpeg/.gif/.webp image/...,
--                  else application/octet-stream
--     expires_after {anchor = "created_at", seconds = n}: expiry of the file
--     part_size    bytes per part, 1 .. 64 MiB (the API's limit), default 64 MiB;
--                  at most 10,000 parts per file
--     parallel     parts in flight at once, 1 .. 64, default 4
--     md5          nil: computed here (the default); a 32-hex-digit string:
--                  sent as given; false: none sent
--     on_progress(sent, total, progress) bytes of the file sent so far
--                  (acknowledged parts + what is in flight), never decreasing,
--                  `total` at the end; `progress` = {parts_done, parts,
--                  retries}. Called once per finished part and, while parts
--                  upload, at most every 0.2 s when `sent` grew. It runs inside
--                  the transfer loop: it must not call the client.
--   opts: the per-call options of every request made (headers, timeout,
--   max_retries = retries of each part and of create/complete, ...).
--
--   How: POST /uploads with the file's size; then every part is POSTed to
--   /uploads/{id}/parts straight from its slice of the file (libcurl reads it
--   from disk as it sends: memory stays at a few MB whatever the file size),
--   up to `parallel` at a time through the transport's start/poll (curl multi
--   in the C core: HTTP/2 streams or separate connections); a part that fails
--   with a retryable error (the client's retry rules: connection errors,
--   timeouts, 408/409/429/5xx, Retry-After) is sent again alone after its
--   backoff while the others go on. Meanwhile the file's MD5 is computed in C
--   (codec.md5_new, RFC 1321) in 1 MiB slices between polls, paced by the
--   parts' progress. Finally POST
--   /uploads/{id}/complete with the part ids in file order and the MD5.
--   A transport without start/poll sends the parts one after another.
--
--   Returns the completed upload's `file` object and info = {upload = the
--   completed upload, md5, parts = count, part_ids, retries = part retries,
--   request_id = of the complete call}.
--
-- Failures:
--   * misuse (no file, an unreadable file, a bad part_size, an unknown key,
--     a bad opts table ...) raises before any request;
--   * a failure after the upload was created (a part that still fails after
--     its retries, or one that cannot be retried: 400, 401, 404 ...; the
--     complete call; reading the file for its MD5) cancels the parts in
--     flight, cancels the upload (POST /uploads/{id}/cancel, best effort) and
--     returns nil, err: the first error, with `err.upload_id`, `err.part`
--     (index from 1, when a part failed) and `err.cancel_error` when the
--     cancel itself failed. The create call's failure is returned as is;
--   * a Lua error raised by on_progress cancels the same way and propagates.
local codec = require("openai.finetunes.codec")
local misuse = require("openai.finetunes.misuse")
local payloads = require("openai.finetunes.api.payloads")
local errors = require("openai.finetunes.errors")
local clock = require("openai.finetunes.call.clock")
local scheduler = require("openai.finetunes.call.scheduler")

local type, pairs, ipairs, pcall, error, setmetatable = type, pairs, ipairs, pcall, error, setmetatable
local format, lower, match = string.format, string.lower, string.match
local floor, huge = math.floor, math.huge

local M = {}

M.MAX_PART_SIZE = 64 * 1024 * 1024
M.DEFAULT_PART_SIZE = M.MAX_PART_SIZE
M.DEFAULT_PARALLEL = 4
M.MAX_PARALLEL = 64
-- Every part is a small table and a request description: bound their number
-- (the API documents none; 8 GB in 64 MB parts is 128).
M.MAX_PARTS = 10000
-- MD5 work between two polls: a few ms of CPU.
M.HASH_SLICE = 1024 * 1024
-- How long the parts get the CPU when the MD5 is ahead of them (see `pace`).
local SEND_SLICE = 0.005
local PROGRESS_EVERY = 0.2

M.MIME_TYPES = {
  jsonl = "text/jsonl", json = "application/json", csv = "text/csv", txt = "text/plain", md = "text/markdown",
  pdf = "application/pdf", png = "image/png", jpg = "image/jpeg", jpeg = "image/jpeg", gif = "image/gif",
  webp = "image/webp",
}

local fail, describe = misuse.fail, misuse.describe

local SPEC_KEYS = {
  file = true, purpose = true, filename = true, mime_type = true, expires_after = true, part_size = true,
  parallel = true, md5 = true, on_progress = true,
}

local function is_int(v, min, max)
  return type(v) == "number" and v == floor(v) and v >= min and v <= max
end

function M.mime_type(filename)
  local ext = match(filename, "%.([%w]+)$")
  return ext and M.MIME_TYPES[lower(ext)] or "application/octet-stream"
end

-- spec -> the checked settings (raises a misuse marker).
local function check_spec(p)
  if type(p) ~= "table" then fail(format("table expected, got %s", describe(p))) end
  for k in pairs(p) do
    if not SPEC_KEYS[k] then fail(format("unknown field %s", describe(k))) end
  end
  local size = payloads.file_size(p.file, "file")
  local s = { path = p.file, size = size }
  s.filename = p.filename
  if s.filename == nil then s.filename = payloads.basename(p.file) end
  if type(s.filename) ~= "string" or s.filename == "" then
    fail(format("filename must be a non-empty string, got %s", describe(s.filename)))
  end
  s.mime_type = p.mime_type
  if s.mime_type == nil then s.mime_type = M.mime_type(s.filename) end
  if type(s.mime_type) ~= "string" or s.mime_type == "" then
    fail(format("mime_type must be a non-empty string, got %s", describe(s.mime_type)))
  end
  s.part_size = p.part_size or M.DEFAULT_PART_SIZE
  if not is_int(s.part_size, 1, M.MAX_PART_SIZE) then
    fail(format("part_size must be an integer in 1..%d (64 MiB), got %s", M.MAX_PART_SIZE, describe(s.part_size)))
  end
  if size / s.part_size > M.MAX_PARTS then
    fail(format("part_size %d would cut the file (%d bytes) into %d parts, more than %d: use larger parts",
      s.part_size, size, math.ceil(size / s.part_size), M.MAX_PARTS))
  end
  s.parallel = p.parallel or M.DEFAULT_PARALLEL
  if not is_int(s.parallel, 1, M.MAX_PARALLEL) then
    fail(format("parallel must be an integer in 1..%d, got %s", M.MAX_PARALLEL, describe(s.parallel)))
  end
  if p.md5 ~= nil and p.md5 ~= false and not (type(p.md5) == "string" and match(p.md5, "^%x+$") and #p.md5 == 32) then
    fail(format("md5 must be 32 hex digits or false, got %s", describe(p.md5)))
  end
  s.md5 = p.md5
  if p.on_progress ~= nil and type(p.on_progress) ~= "function" then
    fail(format("on_progress must be a function, got %s", describe(p.on_progress)))
  end
  s.on_progress = p.on_progress
  s.create = { filename = s.filename, purpose = p.purpose, bytes = size, mime_type = s.mime_type,
    expires_after = p.expires_after }
  return s
end

-- The parts of a file: offset and length of each, in file order.
local function slices(size, part_size)
  local parts = {}
  local offset = 0
  while offset < size do
    local length = size - offset
    if length > part_size then length = part_size end
    parts[#parts + 1] = { name = "add_upload_part", index = #parts + 1, offset = offset, length = length, sent = 0 }
    offset = offset + length
  end
  return parts
end

-- The parts' upload loop (scheduler.lua), the MD5 computed between its
-- polls. Returns part_ids, md5, retries | nil, err (err.part set).
local function send_parts(self, s, parts)
  local transport = self:_transport()
  local total, nparts = s.size, #parts
  local hasher = s.md5 == nil and codec.md5_new() or nil
  local hashed = 0
  local done_bytes, done_parts, retries = 0, 0, 0
  local reported, last_report = -1, -huge
  local on_progress = s.on_progress
  local run

  local function sent_bytes()
    local sent = done_bytes
    for _, part in pairs(run.inflight) do sent = sent + part.sent end
    return sent > total and total or sent
  end

  local function report(force)
    if not on_progress then return end
    local sent = sent_bytes()
    local t = clock.now(transport)
    if force or (sent > reported and t - last_report >= PROGRESS_EVERY) then
      reported, last_report = sent, t
      on_progress(sent, total, { parts_done = done_parts, parts = nparts, retries = retries })
    end
  end

  local function progress_of(part)
    return function(_, _, ultotal, ulnow)
      if ultotal and ultotal > 0 and ulnow then
        local sent = floor(part.length * ulnow / ultotal)
        if sent > part.sent then part.sent = sent end
      end
      if on_progress then report(false) end
    end
  end

  -- Progress is tracked even without on_progress: it paces the MD5 (see `pace`).
  if on_progress or hasher then
    for _, part in ipairs(parts) do part.req.progress = progress_of(part) end
  end

  local function hash_slice()
    local want = total - hashed
    if want > M.HASH_SLICE then want = M.HASH_SLICE end
    local n, why = hasher:update_file(s.path, hashed, want)
    if not n then return errors.new { kind = "io", message = "reading the file for its MD5: " .. why } end
    hashed = hashed + n
    return nil
  end

  run = scheduler.new(self, parts, {
    limit = s.parallel,
    done = function(part, result, second)
      if not result then
        second.part = part.index
        return second
      end
      if type(result.id) ~= "string" then
        return errors.new { kind = "invalid_response", message = "an upload part without an id",
          status = second.status, part = part.index }
      end
      part.id = result.id
      part.sent = part.length
      done_bytes = done_bytes + part.length
      done_parts = done_parts + 1
      report(true)
    end,
    retry = function(part)
      retries = retries + 1
      part.sent = 0 -- its next attempt sends it all again
    end,
    -- One thread does both jobs, so they take turns: the MD5 moves one slice
    -- while it is not ahead of what the parts have sent, else the parts get
    -- the next SEND_SLICE seconds. On a slow link the hashing hides in the
    -- waits; on a fast one neither starves (one poll alone moves only a
    -- buffer or so per transfer).
    pace = function(r, timeout)
      if not (hasher and hashed < total) then return timeout end
      if r.active == 0 or hashed <= sent_bytes() then
        local err = hash_slice()
        if err then return nil, err end
        return 0
      end
      return SEND_SLICE
    end,
  })
  local failed = run:run()
  if failed then return nil, failed end
  while hasher and hashed < total do
    local err = hash_slice()
    if err then return nil, err end
    clock.sleep(transport, 0) -- a yield inside nginx
  end

  local ids = setmetatable({}, codec.array_mt)
  for i, part in ipairs(parts) do ids[i] = part.id end
  local md5 = s.md5
  if hasher then md5 = hasher:hexdigest() end
  return ids, md5, retries
end

-- Cancel after a failure; the original error keeps the say, the cancel's own
-- failure is attached to it.
local function abandon(self, upload_id, err, opts)
  local ok, cancelled, cerr = pcall(self.cancel_upload, self, upload_id, opts)
  if type(err) == "table" then
    err.upload_id = upload_id
    if not ok then
      err.cancel_error = cancelled
    elseif not cancelled then
      err.cancel_error = cerr
    end
  end
  return err
end

local function upload_large_file(self, p, opts)
  local checked, s = pcall(check_spec, p)
  if not checked then misuse.raise(s, "upload_large_file", 1, 2) end
  -- The create and part requests as the methods would build them: every
  -- remaining check (purpose, expires_after, opts) before anything is sent.
  local ok, why = pcall(self._prepare, self, "create_upload", s.create, opts)
  if ok and s.size > 0 then
    ok, why = pcall(self._prepare, self, "add_upload_part", "upload_check",
      { file = s.path, offset = 0, length = s.size < s.part_size and s.size or s.part_size }, opts)
  end
  if not ok then
    -- re-aim at upload_large_file: the payload was built from spec (#1), opts is #2
    if misuse.is_misuse(why) then
      local opts_argn = why.fname == "add_upload_part" and 3 or 2
      why.argn = why.argn == opts_argn and 2 or 1
    end
    misuse.raise(why, "upload_large_file", 1, 2)
  end

  local upload, err = self:create_upload(s.create, opts)
  if not upload then return nil, err end
  if type(upload.id) ~= "string" then
    return nil, errors.new { kind = "invalid_response", message = "an upload without an id" }
  end

  local parts = slices(s.size, s.part_size)
  local built, berr = pcall(function()
    for _, part in ipairs(parts) do
      part.req, part.max_retries, part.total_timeout = self:_prepare("add_upload_part", upload.id,
        { file = s.path, offset = part.offset, length = part.length }, opts)
    end
  end)
  if not built then
    abandon(self, upload.id, nil, opts)
    error(berr, 0)
  end

  local sent, ids, md5, retries = pcall(send_parts, self, s, parts)
  if not sent then
    abandon(self, upload.id, nil, opts)
    error(ids, 0)
  end
  if not ids then return nil, abandon(self, upload.id, md5, opts) end

  local body = { part_ids = ids }
  if md5 then body.md5 = md5 end
  local done, meta = self:complete_upload(upload.id, body, opts)
  if not done then return nil, abandon(self, upload.id, meta, opts) end
  if type(done.file) ~= "table" then
    return nil, abandon(self, upload.id, errors.new { kind = "invalid_response",
      message = "a completed upload without its file object", status = meta and meta.status }, opts)
  end
  return done.file, { upload = done, md5 = md5, parts = #parts, part_ids = ids, retries = retries,
    request_id = meta and meta.request_id }
end

M.methods = { upload_large_file = upload_large_file }

return M
