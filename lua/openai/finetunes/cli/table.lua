-- openai-ft: human-readable output: aligned tables, key/value views and the small
-- formatters they use (times, sizes, durations).
local one_line = require("openai.finetunes.errors").one_line

local M = {}

local format, rep, concat = string.format, string.rep, table.concat

-- Display width of a UTF-8 string (characters; good enough for the ids and names shown).
function M.width(s)
  local _, cont = s:gsub("[\128-\191]", "")
  return #s - cont
end

local function pad(s, w, right)
  local gap = w - M.width(s)
  if gap <= 0 then return s end
  return right and (rep(" ", gap) .. s) or (s .. rep(" ", gap))
end

function M.time(t)
  if type(t) ~= "number" then return "-" end
  return os.date("%Y-%m-%d %H:%M:%S", math.floor(t))
end

function M.bytes(n)
  if type(n) ~= "number" then return "-" end
  if n < 1000 then return format("%d B", n) end
  local units = { "kB", "MB", "GB", "TB" }
  local v, i = n / 1000, 1
  while v >= 1000 and i < #units do
    v, i = v / 1000, i + 1
  end
  return format(v >= 100 and "%.0f %s" or "%.1f %s", v, units[i])
end

function M.duration(s)
  if type(s) ~= "number" or s ~= s or s < 0 or s == math.huge then return "--:--" end
  s = math.floor(s + 0.5)
  local floor = math.floor
  if s >= 3600 then return format("%d:%02d:%02d", floor(s / 3600), floor(s % 3600 / 60), s % 60) end
  return format("%d:%02d", floor(s / 60), s % 60)
end

-- A number as the API shows metrics: up to 4 significant decimals.
function M.number(v)
  if type(v) ~= "number" then return v == nil and "" or tostring(v) end
  if v == math.floor(v) and math.abs(v) < 1e15 then return format("%d", v) end
  return (format("%.4f", v):gsub("0+$", ""):gsub("%.$", ""))
end

local function cell(v)
  if v == nil then return "" end
  if type(v) == "number" then return M.number(v) end
  if type(v) == "boolean" then return tostring(v) end
  if type(v) == "table" then return require("openai.finetunes.codec").json_encode(v) end
  return one_line(v, 200) -- server text: one line, control bytes escaped, bounded
end

-- render(columns, rows) -> text. columns: { {"ID", "id"}, {"SIZE", function(row) ... end,
-- right = true} }: a title and a field name or a function of the row. Empty rows: "".
function M.render(columns, rows)
  local widths, cells = {}, {}
  for c, col in ipairs(columns) do widths[c] = M.width(col[1]) end
  for r, row in ipairs(rows) do
    cells[r] = {}
    for c, col in ipairs(columns) do
      local get = col[2]
      local v = type(get) == "function" and get(row) or row[get]
      local s = cell(v)
      cells[r][c] = s
      if M.width(s) > widths[c] then widths[c] = M.width(s) end
    end
  end
  local out = {}
  local head = {}
  for c, col in ipairs(columns) do head[c] = pad(col[1], widths[c], col.right) end
  out[1] = (concat(head, "  "):gsub("%s+$", ""))
  for r = 1, #rows do
    local line = {}
    for c, col in ipairs(columns) do line[c] = pad(cells[r][c], widths[c], col.right) end
    out[#out + 1] = (concat(line, "  "):gsub("%s+$", ""))
  end
  return concat(out, "\n") .. "\n"
end

-- fields(object, order) -> "key   value" lines: the keys in `order` first (when present),
-- then the rest sorted; times (created_at, *_at) formatted, tables as compact JSON.
function M.fields(obj, order)
  local keys, seen = {}, {}
  for _, k in ipairs(order or {}) do
    if obj[k] ~= nil then
      keys[#keys + 1] = k
      seen[k] = true
    end
  end
  local rest = {}
  for k in pairs(obj) do
    if not seen[k] and type(k) == "string" then rest[#rest + 1] = k end
  end
  table.sort(rest)
  for _, k in ipairs(rest) do keys[#keys + 1] = k end
  local w = 0
  for _, k in ipairs(keys) do w = math.max(w, #k) end
  local out = {}
  for _, k in ipairs(keys) do
    local v = obj[k]
    local s
    if type(v) == "number" and (k == "created_at" or k:match("_at$")) and v > 1e9 then
      s = M.time(v) .. format(" (%d)", v)
    else
      s = cell(v)
    end
    out[#out + 1] = pad(k, w) .. "  " .. s
  end
  return concat(out, "\n") .. "\n"
end

return M
