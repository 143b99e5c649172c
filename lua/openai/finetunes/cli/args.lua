-- openai-ft: command line option parsing, and --help text built from the same tables.
--
-- An option is a row: { "--limit", "N", "show at most N items", type = "count",
-- short = "-n", list = true }. Without a metavar ("N") it is a boolean flag. The value
-- lands in opts[key], key = the long name without "--", "-" turned into "_"
-- (--poll-interval -> poll_interval). `type`: nil (string), "count" (integer >= 0),
-- "integer" (any integer), "number" (> 0), "choice" (with `choices = {...}`); `min`
-- raises the lowest count or integer accepted (`range_hint` is added to the refusal). `list`
-- collects repeated uses into a sequence.
-- Accepted forms: --name value, --name=value, -s value, and -- to end the options.
local M = {}

local function key_of(flag)
  return (flag:gsub("^%-+", ""):gsub("%-", "_"))
end

M.key_of = key_of

local function convert(row, flag, v)
  local t = row.type
  if t == nil then return v end
  if t == "choice" then
    for _, c in ipairs(row.choices) do
      if c == v then return v end
    end
    return nil, string.format("%s must be one of %s, got '%s'", flag, table.concat(row.choices, ", "), v)
  end
  local n = tonumber(v)
  if t == "number" then
    if not n or n <= 0 or n ~= n or n == math.huge then
      return nil, string.format("%s needs a number > 0, got '%s'", flag, v)
    end
    return n
  end
  local min = row.min or (t == "count" and 0 or nil)
  if not n or n ~= math.floor(n) or (min and n < min) or math.abs(n) >= 2 ^ 53 then
    return nil, string.format("%s needs %s, got '%s'", flag, min and ("a whole number >= " .. min) or "an integer", v)
      .. (row.range_hint or "")
  end
  return math.floor(n)
end

-- index(options...) -> flag -> row, for every long and short name of every list given.
function M.index(...)
  local by_flag = {}
  for i = 1, select("#", ...) do
    for _, row in ipairs(select(i, ...) or {}) do
      by_flag[row[1]] = row
      if row.short then by_flag[row.short] = row end
    end
  end
  return by_flag
end

-- takes_value(by_flag, arg) -> true when `arg` is a known option that needs the next word.
function M.takes_value(by_flag, arg)
  local row = by_flag[arg]
  return row ~= nil and row[2] ~= nil
end

-- parse(argv, by_flag) -> opts, positionals | nil, message
function M.parse(argv, by_flag)
  local opts, pos = {}, {}
  local i, n = 1, #argv
  while i <= n do
    local a = argv[i]
    if a == "--" then
      for j = i + 1, n do pos[#pos + 1] = argv[j] end
      break
    end
    if a:sub(1, 1) == "-" and a ~= "-" and not a:match("^%-%d") then
      local flag, inline = a:match("^(%-%-[^=]+)=(.*)$")
      flag = flag or a
      local row = by_flag[flag]
      if not row then return nil, "unknown option '" .. flag .. "'" end
      local key = row.key or key_of(row[1])
      local value
      if row[2] == nil then
        if inline ~= nil then return nil, row[1] .. " takes no value" end
        value = true
      else
        value = inline
        if value == nil then
          i = i + 1
          value = argv[i]
          if value == nil then return nil, row[1] .. " needs a value (" .. row[2] .. ")" end
        end
        local err
        value, err = convert(row, row[1], value)
        if value == nil then return nil, err end
      end
      if row.list then
        opts[key] = opts[key] or {}
        opts[key][#opts[key] + 1] = value
      else
        opts[key] = value
      end
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  return opts, pos
end

-- The --limit / --all pair of list commands (ctx:list_limit reads them).
function M.LIMIT(default, nouns, text)
  return { "--limit", "N", string.format("%s (default %d)", text or ("show at most N " .. nouns), default),
    type = "count", min = 1, range_hint = " (--all shows every one)", short = "-n" }
end

-- The --after cursor of list commands whose API pages by object id.
function M.AFTER(noun)
  return { "--after", "ID", "start after the " .. noun .. " with this id (the next page)" }
end

function M.ALL(noun)
  return { "--all", nil, "every " .. noun .. ", across all pages" }
end

-- help(options) -> the "options:" lines of a --help text.
function M.help(options)
  local lines, width = {}, 0
  local heads = {}
  for i, row in ipairs(options) do
    local head = (row.short and (row.short .. ", ") or "    ") .. row[1] .. (row[2] and (" " .. row[2]) or "")
    heads[i] = head
    if #head > width then width = #head end
  end
  width = math.min(width, 30)
  for i, row in ipairs(options) do
    local head = heads[i]
    if #head > width then
      lines[#lines + 1] = "  " .. head
      lines[#lines + 1] = "  " .. string.rep(" ", width) .. "  " .. row[3]
    else
      lines[#lines + 1] = "  " .. head .. string.rep(" ", width - #head) .. "  " .. row[3]
    end
  end
  return table.concat(lines, "\n")
end

return M
