-- The light server-side check a job runs on its training (and validation) file while
-- `validating_files`: every line a JSON object in the method's format, and enough
-- examples. Reads the file line by line with lua-cjson (fast) and yields to the loop
-- every few thousand lines, so a big file never stalls the server.
local cjson = require("cjson.safe")

local M = {}

M.MIN_EXAMPLES = 10

local null = cjson.null

local function is_array(v)
  return type(v) == "table" and (v[1] ~= nil or next(v) == nil)
end

local function nonempty_array(v)
  return type(v) == "table" and v[1] ~= nil
end

local ROLES = {
  supervised = { system = true, user = true, assistant = true, tool = true, ["function"] = true, developer = true },
  dpo = { system = true, user = true, assistant = true, tool = true, ["function"] = true, developer = true },
  reinforcement = { developer = true, user = true, assistant = true, tool = true, system = true },
}

local function text_len(content)
  if type(content) == "string" then return #content end
  local n = 0
  if type(content) == "table" then
    for _, part in ipairs(content) do
      if type(part) == "table" and type(part.text) == "string" then n = n + #part.text end
    end
  end
  return n
end

-- check_messages(messages, roles) -> chars | nil, reason
local function check_messages(messages, roles, need_assistant)
  if not nonempty_array(messages) then
    return nil, "'messages' must be a non-empty array"
  end
  local chars, assistants = 0, 0
  for i, m in ipairs(messages) do
    if type(m) ~= "table" or is_array(m) and next(m) ~= nil then
      return nil, string.format("message %d is not an object", i)
    end
    local role = m.role
    if type(role) ~= "string" then
      return nil, string.format("message %d is missing a 'role'", i)
    end
    if not roles[role] then
      return nil, string.format("message %d has an unrecognized role '%s'", i, role)
    end
    local content = m.content
    if role == "assistant" then
      assistants = assistants + 1
      if (content == nil or content == null) and m.tool_calls == nil and m.function_call == nil then
        return nil, string.format("message %d (assistant) has no 'content', 'tool_calls' or 'function_call'", i)
      end
      if m.weight ~= nil and m.weight ~= 0 and m.weight ~= 1 then
        return nil, string.format("message %d has an invalid 'weight' (must be 0 or 1)", i)
      end
    else
      if m.weight ~= nil then
        return nil, string.format("message %d: 'weight' is only allowed on assistant messages", i)
      end
      if role ~= "function" and (content == nil or content == null) then
        return nil, string.format("message %d (%s) is missing 'content'", i, role)
      end
    end
    if content ~= nil and content ~= null and type(content) ~= "string" and not is_array(content) then
      return nil, string.format("message %d has invalid 'content' (must be a string or an array of parts)", i)
    end
    chars = chars + text_len(content)
  end
  if need_assistant and assistants == 0 then
    return nil, "example has no assistant message"
  end
  return chars
end

local function check_example(ex, method, legacy)
  if method == "dpo" then
    if type(ex.input) ~= "table" then return nil, "missing 'input' object" end
    local chars, why = check_messages(ex.input.messages, ROLES.dpo, false)
    if not chars then return nil, "input: " .. why end
    for _, key in ipairs({ "preferred_output", "non_preferred_output" }) do
      local out = ex[key]
      if not nonempty_array(out) or out[2] ~= nil then
        return nil, "'" .. key .. "' must be an array with exactly one assistant message"
      end
      if type(out[1]) ~= "table" or out[1].role ~= "assistant" then
        return nil, "'" .. key .. "' must hold an assistant message"
      end
      chars = chars + text_len(out[1].content)
    end
    return chars
  elseif method == "reinforcement" then
    return check_messages(ex.messages, ROLES.reinforcement, false)
  end
  if legacy then
    if type(ex.prompt) ~= "string" or type(ex.completion) ~= "string" then
      return nil, "example must have string 'prompt' and 'completion' fields"
    end
    return #ex.prompt + #ex.completion
  end
  return check_messages(ex.messages, ROLES.supervised, true)
end

-- check(path, opts, yield) -> result
--   opts: method ("supervised" | "dpo" | "reinforcement"), legacy (prompt/completion),
--         min_examples
--   yield: function called every few thousand lines (lets the loop run)
--   result: {ok = true, examples = n, chars = c} | {ok = false, reason = "…", examples = n, line = k}
function M.check(path, opts, yield)
  local f = io.open(path, "rb")
  if not f then
    return { ok = false, reason = "The file could not be read." }
  end
  local method = opts.method or "supervised"
  local examples, chars, line_no = 0, 0, 0
  for line in f:lines() do
    line_no = line_no + 1
    if yield and line_no % 2000 == 0 then yield() end
    line = line:gsub("\r$", "")
    local first = line:match("^%s*(.)")
    local value = first == "{" and cjson.decode(line) or nil
    if type(value) ~= "table" then
      f:close()
      return { ok = false, line = line_no, examples = examples,
        reason = string.format("Expected file to have JSONL format, where every line is a valid JSON dictionary. "
          .. "Line %d is not a dictionary (HINT: line starts with: \"%s...\").", line_no, line:sub(1, 5)) }
    end
    local n, why = check_example(value, method, opts.legacy)
    if not n then
      f:close()
      return { ok = false, line = line_no, examples = examples,
        reason = string.format("Invalid file format. Line %d, example %d: %s.", line_no, examples + 1, why) }
    end
    examples = examples + 1
    chars = chars + n
  end
  f:close()
  local min = opts.min_examples or M.MIN_EXAMPLES
  if examples < min then
    return { ok = false, too_few = true, examples = examples,
      reason = string.format("Training file has %d example(s), but must have at least %d examples", examples, min) }
  end
  return { ok = true, examples = examples, chars = chars }
end

return M
