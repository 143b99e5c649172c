-- openai.finetunes.workflow.metrics: a job's step metrics from its result file.
--
--   local rows, info = client:job_metrics("ftjob-abc")
--   if not rows then error(tostring(info)) end
--   for _, r in ipairs(rows) do print(r.step, r.train_loss, r.valid_loss) end   -- valid_loss may be nil
--   print(table.concat(info.columns, ","))
--
-- client:job_metrics(job_id [, opts]) -> rows, info | nil, err
--   Reads the job, downloads its first result file (`result_files[1]`, purpose
--   fine-tune-results) and parses it. `rows` is a list, one table per CSV row
--   in file order, keyed by the file's own column names (today's jobs:
--   step, train_loss, train_accuracy, valid_loss, valid_mean_token_accuracy;
--   note train_accuracy, not the events' train_mean_token_accuracy): numbers
--   are Lua numbers (integers as integers on 5.3+), a cell that is not a
--   number stays a string, an empty cell is absent.
--   info = { columns = {names in file order}, encoding = "base64" | "csv",
--            file_id = "file-...", job = <the job object> }.
--   `opts` (headers, timeout, max_retries ...) applies to both requests.
--   Failures: the job's or the file's request error as is; a job without a
--   result file (still running, failed, cancelled) gives an error with
--   kind = "no_result_file" and `err.job`; a file that is not a metrics CSV
--   gives kind = "invalid_response" with `err.file_id`.
--
-- ft.parse_result_file(text) -> rows, info | nil, message
--   The pure parser behind job_metrics (info without file_id and job).
--   Current jobs serve the CSV base64-encoded, older ones plain
--   (the OpenAI cookbook's examples/Fine_tuning_for_function_calling.ipynb
--   base64-decodes it before reading the CSV); the rule: text that starts with "step," is CSV,
--   anything else is base64 (ASCII whitespace ignored) whose decoded text
--   must start with "step,". CRLF or LF line ends, an optional UTF-8 BOM,
--   double-quoted cells ("" for a quote) and blank lines are accepted.
local errors = require("openai.finetunes.errors")
local misuse = require("openai.finetunes.misuse")

local type, tonumber, tostring, pcall, concat = type, tonumber, tostring, pcall, table.concat
local byte, char, sub, find, gsub, format = string.byte, string.char, string.sub, string.find, string.gsub,
  string.format
local floor = math.floor

local M = {}

-- base64 ---------------------------------------------------------------------------

local ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local VALUE = {}
for i = 1, 64 do VALUE[byte(ALPHABET, i)] = i - 1 end

-- Standard base64 (RFC 4648 §4) with ASCII whitespace ignored -> bytes | nil, message.
function M.base64_decode(s)
  s = gsub(s, "[ \t\r\n\f\v]", "")
  local pad = 0
  if sub(s, -2) == "==" then pad = 2 elseif sub(s, -1) == "=" then pad = 1 end
  if #s % 4 ~= 0 then return nil, "base64 text whose length is not a multiple of 4" end
  local body = sub(s, 1, #s - pad)
  local bad = find(body, "[^A-Za-z0-9+/]")
  if bad then return nil, format("not base64: byte %d is %q", bad, sub(body, bad, bad)) end
  local out, n = {}, 0
  local full = #body - #body % 4
  for i = 1, full, 4 do
    local a, b, c, d = byte(body, i, i + 3)
    local v = VALUE[a] * 262144 + VALUE[b] * 4096 + VALUE[c] * 64 + VALUE[d]
    n = n + 1
    out[n] = char(floor(v / 65536), floor(v / 256) % 256, v % 256)
  end
  local rest = #body - full
  if rest == 3 then
    local a, b, c = byte(body, full + 1, full + 3)
    local v = VALUE[a] * 262144 + VALUE[b] * 4096 + VALUE[c] * 64
    out[n + 1] = char(floor(v / 65536), floor(v / 256) % 256)
  elseif rest == 2 then
    local a, b = byte(body, full + 1, full + 2)
    out[n + 1] = char(floor((VALUE[a] * 262144 + VALUE[b] * 4096) / 65536))
  elseif rest == 1 then
    return nil, "truncated base64 text"
  end
  return concat(out)
end

-- CSV --------------------------------------------------------------------------------

-- The cells of one line (no line end). Quoted cells may hold commas and "".
local function split_cells(line, lineno)
  local cells, pos, len = {}, 1, #line
  while true do
    if byte(line, pos) == 34 then -- '"'
      local parts, i = {}, pos + 1
      while true do
        local q = find(line, '"', i, true)
        if not q then return nil, format("line %d: a quoted cell is not closed", lineno) end
        parts[#parts + 1] = sub(line, i, q - 1)
        if byte(line, q + 1) == 34 then
          parts[#parts + 1] = '"'
          i = q + 2
        else
          pos = q + 1
          break
        end
      end
      cells[#cells + 1] = concat(parts)
      if pos <= len and byte(line, pos) ~= 44 then
        return nil, format("line %d: text after a quoted cell", lineno)
      end
    else
      local comma = find(line, ",", pos, true) or len + 1
      cells[#cells + 1] = sub(line, pos, comma - 1)
      pos = comma
    end
    if pos > len then return cells end
    pos = pos + 1 -- past the comma
    if pos > len then
      cells[#cells + 1] = ""
      return cells
    end
  end
end

local function trim(s)
  return (gsub(s, "^%s+", ""):gsub("%s+$", ""))
end

-- A cell as a value: nil when empty, a number when it reads as one.
local function value_of(cell)
  cell = trim(cell)
  if cell == "" then return nil end
  -- decimal and exponent forms only: "0x10", "inf", "nan" stay text
  if find(cell, "%d") and not find(cell, "[^%d%.eE+-]") then
    local n = tonumber(cell)
    if n then return n end
  end
  return cell
end

local function parse_csv(text)
  local rows, columns, lineno = {}, nil, 0
  for line in string.gmatch(text, "([^\n]*)\n?") do
    lineno = lineno + 1
    line = gsub(line, "\r$", "")
    if find(line, "%S") then
      local cells, why = split_cells(line, lineno)
      if not cells then return nil, why end
      if not columns then
        columns = {}
        for i = 1, #cells do
          local name = trim(cells[i])
          if name == "" then return nil, format("line 1: column %d has no name", i) end
          columns[i] = name
        end
      else
        if #cells > #columns then
          return nil, format("line %d: %d cells for %d columns", lineno, #cells, #columns)
        end
        local row = {}
        for i = 1, #cells do row[columns[i]] = value_of(cells[i]) end
        rows[#rows + 1] = row
      end
    end
  end
  return rows, columns
end

function M.parse_result_file(text)
  if type(text) ~= "string" then
    misuse.argerror("parse_result_file", 1, format("string expected, got %s", misuse.describe(text)), 2)
  end
  if sub(text, 1, 3) == "\239\187\191" then text = sub(text, 4) end
  if not find(text, "%S") then return nil, "an empty result file" end
  local encoding = "csv"
  if sub(text, 1, 5) ~= "step," then
    local decoded, why = M.base64_decode(text)
    if not decoded then
      return nil, "neither a CSV starting with 'step,' nor base64 of one (" .. why .. ")"
    end
    if sub(decoded, 1, 3) == "\239\187\191" then decoded = sub(decoded, 4) end
    if sub(decoded, 1, 5) ~= "step," then
      return nil, "base64 text whose decoded form is not a CSV starting with 'step,'"
    end
    text, encoding = decoded, "base64"
  end
  local rows, columns = parse_csv(text)
  if not rows then return nil, columns end
  return rows, { columns = columns, encoding = encoding }
end

-- job_metrics ----------------------------------------------------------------------

local function job_metrics(self, id, opts)
  local ok, why = pcall(self._prepare, self, "job", id, opts)
  if not ok then misuse.raise(why, "job_metrics", 1, 2) end
  local job, err = self:job(id, opts)
  if not job then return nil, err end
  local files = job.result_files
  local file_id = type(files) == "table" and files[1]
  if type(file_id) ~= "string" then
    local final = job.status == "succeeded" or job.status == "failed" or job.status == "cancelled"
    return nil, errors.new {
      kind = "no_result_file", job = job,
      message = format("job %s has no result file%s (status %s)", id, final and "" or " yet", tostring(job.status)),
    }
  end
  local text, ferr = self:file_content(file_id, opts)
  if not text then return nil, ferr end
  local rows, info = M.parse_result_file(text)
  if not rows then
    return nil, errors.new {
      kind = "invalid_response", file_id = file_id,
      message = format("result file %s of job %s: %s", file_id, id, info),
    }
  end
  info.file_id, info.job = file_id, job
  return rows, info
end

M.methods = { job_metrics = job_metrics }
M.functions = { parse_result_file = M.parse_result_file }

return M
