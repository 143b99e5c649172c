-- openai.finetunes.workflow.state: the state file of a resumable workflow (run, sweep).
--
-- One JSON document: { format = 1, kind = the workflow ("run" or "sweep"), ... what it
-- has done so far }. Every save writes the whole document to a temporary file next to it,
-- flushes it, asks the kernel to write it to disk (`sync FILE`, coreutils: plain Lua
-- has no fsync), and renames it over the old one (rename(2) is atomic). A kill at any
-- instant leaves the old document or the new one, never a mix. The directory entry is
-- synced (`sync DIR`) at the start of the next save and by st:close(), not right after
-- the rename: the workflow acts on a save at once (prints the event it records), and a
-- sync there would widen the window in which a kill loses that action. So after a
-- power loss (not a process crash) the last save may be missing. Where `sync` is
-- missing a save is still atomic for process crashes.
--
--   local st, err = state.open(path, "run")   -- nil, err for a file we must not use
--   st.data.job_id = job.id
--   assert(st:save())
local codec = require("openai.finetunes.codec")
local errors = require("openai.finetunes.errors")

local type, tostring, pcall, setmetatable = type, tostring, pcall, setmetatable
local format = string.format

local M = {}

-- The format this code writes. A file with a larger number comes from a newer version
-- of this library and is refused (it may hold steps we do not know how to resume).
M.FORMAT = 1

local function state_error(code, message, path)
  return errors.new { kind = "state", code = code, message = message, path = path }
end

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function dirname(path)
  return path:match("^(.*)/[^/]*$") or "."
end

-- Durable on disk: fsync through coreutils `sync` (file or directory). Best effort: the
-- rename is what makes a save atomic; this makes it survive a power loss too.
local function sync(path)
  local r = os.execute("sync " .. shell_quote(path) .. " 2>/dev/null")
  return r == true or r == 0
end
M.sync = sync

local function random_hex(n)
  local f = io.open("/dev/urandom", "rb")
  local bytes = f and f:read(n)
  if f then f:close() end
  if not bytes or #bytes < n then
    bytes = tostring(os.clock()) .. tostring({}) .. os.time()
    return (codec.md5(bytes)):sub(1, 2 * n)
  end
  return (bytes:gsub(".", function(c) return format("%02x", c:byte()) end))
end
M.random_hex = random_hex

local State = {}
State.__index = State

-- save() -> true | nil, err (kind "state", code "state_write"): the old file is intact
-- when it fails.
function State:save()
  local ok, text = pcall(codec.json_encode, self.data)
  if not ok then return nil, state_error("state_write", "cannot encode the state: " .. tostring(text), self.path) end
  if self.dir_dirty then self:close() end
  local tmp = format("%s.tmp-%s", self.path, random_hex(4))
  local f, err = io.open(tmp, "wb")
  if not f then
    return nil, state_error("state_write", "cannot write the state file " .. self.path .. ": " .. tostring(err),
      self.path)
  end
  local wrote, werr = f:write(text, "\n")
  local flushed, ferr
  if wrote then flushed, ferr = f:flush() end
  f:close()
  if not (wrote and flushed) then
    os.remove(tmp)
    return nil, state_error("state_write", "cannot write the state file " .. self.path .. ": "
      .. tostring(werr or ferr), self.path)
  end
  if self.durable then sync(tmp) end
  local renamed, rerr = os.rename(tmp, self.path)
  if not renamed then
    os.remove(tmp)
    return nil, state_error("state_write", "cannot replace the state file " .. self.path .. ": " .. tostring(rerr),
      self.path)
  end
  self.dir_dirty = self.durable
  return true
end

-- close(): the last rename made durable too (the directory synced). Saving again is fine.
function State:close()
  if self.dir_dirty then
    sync(dirname(self.path))
    self.dir_dirty = false
  end
end

-- Can we create files in the state file's directory? Checked before any work, so a
-- read-only directory is an error before anything is uploaded.
local function check_writable(path)
  local probe = format("%s.probe-%s", path, random_hex(4))
  local f, err = io.open(probe, "wb")
  if not f then
    return nil, state_error("state_write", format("cannot write the state file %s (%s): choose a writable "
      .. "directory with --state", path, tostring(err):gsub("^[^:]*: ", "")), path)
  end
  f:close()
  os.remove(probe)
  return true
end

-- open(path, kind [, opts]) -> state | nil, err. A missing file is a fresh state
-- (`st.fresh = true`, data = {format, kind}); an existing one must be ours: a JSON
-- object of this kind, in a format we read. opts.durable = false skips the syncs.
function M.open(path, kind, opts)
  local durable = not (opts and opts.durable == false)
  local st = setmetatable({ path = path, durable = durable }, State)
  local okw, werr = check_writable(path)
  if not okw then return nil, werr end
  local f = io.open(path, "rb")
  if not f then
    st.fresh = true
    st.data = { format = M.FORMAT, kind = kind }
    return st
  end
  local text = f:read("*a")
  f:close()
  if text == nil then
    return nil, state_error("state_corrupt", format("cannot read the state file %s (a directory?)", path), path)
  end
  local fresh_hint = format("; it was left as it is: move it away (or pass another --state) to start fresh")
  local data, jerr = codec.json_decode(text)
  if type(data) ~= "table" then
    return nil, state_error("state_corrupt", format("%s is not a state file (%s)%s", path,
      text == "" and "it is empty" or (data == nil and ("not JSON: " .. tostring(jerr)) or "not a JSON object"),
      fresh_hint), path)
  end
  if type(data.format) ~= "number" or data.format ~= math.floor(data.format) or data.format < 1 then
    return nil, state_error("state_corrupt", format("%s is not a state file of openai-finetunes (no format "
      .. "number)%s", path, fresh_hint), path)
  end
  if data.format > M.FORMAT then
    return nil, state_error("state_version", format("%s was written by a newer version of openai-finetunes "
      .. "(state format %d; this version reads format %d): resume it with that version%s", path, data.format,
      M.FORMAT, fresh_hint), path)
  end
  if data.kind ~= kind then
    return nil, state_error("state_mismatch", format("%s is the state of a %s, not of a %s%s", path,
      tostring(data.kind), kind, fresh_hint), path)
  end
  st.data = data
  return st
end

-- The differences between two descriptions of the inputs (flat tables of strings and
-- numbers, nested once: files), as a list of "what: old -> new" lines.
function M.differences(old, new, prefix)
  local out = {}
  local keys, seen = {}, {}
  for k in pairs(old or {}) do keys[#keys + 1] = k; seen[k] = true end
  for k in pairs(new or {}) do if not seen[k] then keys[#keys + 1] = k end end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local a, b = (old or {})[k], (new or {})[k]
    local name = prefix and (prefix .. "." .. k) or k
    if type(a) == "table" and type(b) == "table" then
      for _, line in ipairs(M.differences(a, b, name)) do out[#out + 1] = line end
    else
      local sa = type(a) == "table" and codec.json_encode(a) or tostring(a == nil and "(none)" or a)
      local sb = type(b) == "table" and codec.json_encode(b) or tostring(b == nil and "(none)" or b)
      if sa ~= sb then out[#out + 1] = format("%s: %s -> %s", name, sa, sb) end
    end
  end
  return out
end

return M
