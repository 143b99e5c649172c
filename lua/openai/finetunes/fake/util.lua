-- Small helpers shared by the fake server: ids, URL decoding, base64, MD5 of files on
-- disk (computed by the system's md5sum in the background so the loop keeps serving),
-- and file-system chores.
local lfs = require("lfs")

local M = {}

local char, byte, floor, format = string.char, string.byte, math.floor, string.format
local concat = table.concat

do
  local seed = os.time()
  local ok, socket = pcall(require, "socket")
  if ok then seed = floor((socket.gettime() % 100000) * 1000) end
  math.randomseed(seed + floor(tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000))
end

local ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

function M.random_string(n, alphabet)
  alphabet = alphabet or ALNUM
  local out = {}
  for i = 1, n do
    local k = math.random(1, #alphabet)
    out[i] = alphabet:sub(k, k)
  end
  return concat(out)
end

-- chars(s) -> the length of a UTF-8 string in characters (code points), the unit of
-- the API reference's string limits (maxLength): every byte that does not continue
-- a sequence starts one.
function M.chars(s)
  local _, continuation = s:gsub("[\128-\191]", "")
  return #s - continuation
end

function M.random_hex(n)
  return M.random_string(n, "0123456789abcdef")
end

-- id("file-") -> "file-" .. 22 base62 characters (the shape the API uses)
function M.id(prefix, n)
  return prefix .. M.random_string(n or 22)
end

------------------------------------------------------------------------- URL decoding

function M.unescape(s)
  return (s:gsub("%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end

-- decode_query("a=1&b%5Bc%5D=2&k[]=x&k[]=y") -> {a="1", ["b[c]"]="2", ["k[]"]={"x","y"}}
-- (flat: the keys are kept as sent, so specs can see exactly how a client encoded them)
function M.decode_query(qs)
  local out = {}
  if not qs or qs == "" then return out end
  for pair in qs:gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    k = M.unescape((k:gsub("%+", " ")))
    v = M.unescape((v:gsub("%+", " ")))
    local prev = out[k]
    if prev == nil then
      out[k] = v
    elseif type(prev) == "table" then
      prev[#prev + 1] = v
    else
      out[k] = { prev, v }
    end
  end
  return out
end

----------------------------------------------------------------------------- base64

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local b64chars = {}
for i = 1, 64 do b64chars[i - 1] = B64:sub(i, i) end

function M.base64(s)
  local out, n = {}, 0
  for i = 1, #s, 3 do
    local a, b, c = byte(s, i, i + 2)
    local v = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1 = floor(v / 262144) % 64
    local c2 = floor(v / 4096) % 64
    local c3 = floor(v / 64) % 64
    local c4 = v % 64
    n = n + 1
    out[n] = b64chars[c1] .. b64chars[c2] .. (b and b64chars[c3] or "=") .. (c and b64chars[c4] or "=")
  end
  return concat(out)
end

------------------------------------------------------------------------------- files

function M.shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

function M.mkdir_p(path)
  local acc = path:sub(1, 1) == "/" and "" or "."
  for seg in path:gmatch("[^/]+") do
    acc = acc .. "/" .. seg
    if not lfs.attributes(acc, "mode") then
      local ok, err = lfs.mkdir(acc)
      if not ok and not lfs.attributes(acc, "mode") then
        return nil, err
      end
    end
  end
  return true
end

-- Remove a directory tree (only ever called on the server's own data directory).
function M.rm_rf(path)
  local mode = lfs.symlinkattributes(path, "mode")
  if not mode then return end
  if mode == "directory" then
    for name in lfs.dir(path) do
      if name ~= "." and name ~= ".." then
        M.rm_rf(path .. "/" .. name)
      end
    end
    lfs.rmdir(path)
  else
    os.remove(path)
  end
end

function M.file_size(path)
  return lfs.attributes(path, "size")
end

function M.exists(path)
  return lfs.attributes(path, "mode") ~= nil
end

function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

function M.write_file(path, data)
  local f, err = io.open(path, "wb")
  if not f then return nil, err end
  f:write(data)
  f:close()
  return true
end

-- pid_alive(pid): the process exists and is not a zombie (a child nobody reaped
-- still has a /proc entry).
function M.pid_alive(pid)
  pid = tonumber(pid)
  if not pid then return false end
  if lfs.attributes("/proc/self", "mode") then
    local f = io.open("/proc/" .. pid .. "/stat", "r")
    if not f then return false end
    local stat = f:read("*l") or ""
    f:close()
    local state = stat:match("^%d+ %b() (%a)")
    return state ~= "Z" and state ~= "X"
  end
  local r = os.execute("kill -0 " .. pid .. " 2>/dev/null")
  return r == 0 or r == true
end

-------------------------------------------------------------------------------- MD5

local md5_command
local function find_md5_command()
  if md5_command ~= nil then return md5_command end
  md5_command = false
  for _, cmd in ipairs({ "md5sum", "md5 -r", "openssl md5 -r" }) do
    local exe = cmd:match("^%S+")
    local p = io.popen("command -v " .. exe .. " 2>/dev/null")
    local found = p and p:read("*l")
    if p then p:close() end
    if found and found ~= "" then
      md5_command = cmd
      break
    end
  end
  return md5_command
end

local md5_seq = 0

-- md5_files(loop, tmpdir, paths) -> {hex, ...} in the order of paths (false where it
-- could not be computed). Runs the system tool in the background and waits for it
-- by sleeping in the loop, so other connections keep being served meanwhile.
function M.md5_files(loop, tmpdir, paths)
  local result = {}
  if #paths == 0 then return result end
  local cmd = find_md5_command()
  if not cmd then
    for i = 1, #paths do result[i] = false end
    return result
  end
  md5_seq = md5_seq + 1
  local out = format("%s/md5-%d-%s", tmpdir, md5_seq, M.random_hex(8))
  local quoted = {}
  for i, p in ipairs(paths) do quoted[i] = M.shell_quote(p) end
  local script = format("%s %s > %s 2>/dev/null; mv %s %s", cmd, concat(quoted, " "),
    M.shell_quote(out .. ".tmp"), M.shell_quote(out .. ".tmp"), M.shell_quote(out))
  os.execute("(" .. script .. ") </dev/null >/dev/null 2>&1 &")
  local delay = 0.001
  local waited = 0
  while not M.exists(out) do
    if waited > 120 then break end
    loop:sleep(delay)
    waited = waited + delay
    delay = math.min(delay * 2, 0.02)
  end
  local text = M.read_file(out) or ""
  os.remove(out)
  local i = 0
  for line in text:gmatch("[^\n]+") do
    i = i + 1
    result[i] = line:match("^\\?(%x+)") or false
  end
  for k = 1, #paths do
    if result[k] == nil then result[k] = false end
  end
  return result
end

-- md5_file(loop, tmpdir, path): MD5 of one file; small files are hashed in Lua.
function M.md5_file(loop, tmpdir, path)
  local md5 = require("openai.finetunes.fake.md5")
  local size = M.file_size(path)
  if md5.available and size and size <= md5.fast_limit then
    return md5.sum(M.read_file(path) or "")
  end
  return M.md5_files(loop, tmpdir, { path })[1]
end

return M
