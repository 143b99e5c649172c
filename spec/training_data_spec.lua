-- ft.validate_training_file: every rule on a small fixture written here, the summary
-- numbers against a hand count, line splitting (CRLF, no final newline, lines longer
-- than the read buffer) and flat memory on a large file.
local ft = require("openai.finetunes")
local H = require("spec.support.client_helper")

local validate = ft.validate_training_file

local dir
local n_files = 0

-- Writes `text` (a string, or a list of lines joined with "\n" plus a final "\n").
local function file(text)
  if type(text) == "table" then text = table.concat(text, "\n") .. "\n" end
  n_files = n_files + 1
  local path = dir .. "/f" .. n_files .. ".jsonl"
  H.write(path, text)
  return path
end

local function check(text, opts)
  return assert(validate(file(text), opts))
end

local CHAT = '{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},'
  .. '{"role":"assistant","content":"Hello."}]}'

-- `line` at position `at` (default 1) among valid lines: 10 examples in all, so the
-- minimum-count rule stays out of the way.
local function among(line, at, valid, count)
  local lines = {}
  for i = 1, count or 10 do lines[i] = valid or CHAT end
  lines[at or 1] = line
  return lines
end

-- The problems of `report` at `line` (and `path`, when given).
local function problems_at(report, line, path)
  local out = {}
  for _, p in ipairs(report.problems) do
    if p.line == line and (path == nil or p.path == path) then out[#out + 1] = p end
  end
  return out
end

-- Exactly one problem: at `line`/`path`, of `severity`, message matching `pattern`.
local function assert_one(report, line, path, severity, pattern)
  assert.equal(1, #report.problems, "problems: " .. #report.problems .. "\n" .. (function()
    local s = {}
    for _, p in ipairs(report.problems) do s[#s + 1] = p.line .. " " .. p.path .. " " .. p.message end
    return table.concat(s, "\n")
  end)())
  local p = report.problems[1]
  assert.same({ line = line, path = path, severity = severity },
    { line = p.line, path = p.path, severity = p.severity })
  assert.truthy(p.message:find(pattern), p.message)
  assert.equal(severity == "error" and 1 or 0, report.errors)
  assert.equal(severity == "warning" and 1 or 0, report.warnings)
  assert.equal(severity ~= "error", report.ok)
end

local function defect(line, path, severity, pattern, opts, valid)
  local report = check(among(line, 4, valid, 11), opts) -- 10 examples even if line 4 is not one
  assert_one(report, 4, path, severity, pattern)
  return report
end

setup(function() dir = H.tmpdir() end)
teardown(function() H.rmdir(dir) end)

describe("ft.validate_training_file: valid files", function()
  it("passes the example training file", function()
    local r = assert(validate(H.TRAIN))
    assert.is_true(r.ok)
    assert.equal("supervised", r.method)
    assert.equal(12, r.examples)
    assert.equal(36, r.messages)
    assert.equal(12, r.assistant_messages)
    assert.same({}, r.problems)
    assert.equal(0, r.errors + r.warnings)
  end)

  it("passes supervised data with every documented feature", function()
    local lines = {
      CHAT,
      -- multi-turn with weight
      '{"messages":[{"role":"user","content":"2+2?"},{"role":"assistant","content":"5","weight":0},'
        .. '{"role":"user","content":"Again"},{"role":"assistant","content":"4","weight":1}]}',
      -- tool calling, with a tool result and parallel_tool_calls
      '{"messages":[{"role":"user","content":"Lamp on"},{"role":"assistant","tool_calls":[{"id":"c1",'
        .. '"type":"function","function":{"name":"set_lamp","arguments":"{\\"on\\":true}"}}]},'
        .. '{"role":"tool","tool_call_id":"c1","content":"ok"},{"role":"assistant","content":"Done."}],'
        .. '"tools":[{"type":"function","function":{"name":"set_lamp","description":"Switch it",'
        .. '"parameters":{"type":"object","properties":{"on":{"type":"boolean"}}},"strict":true}}],'
        .. '"parallel_tool_calls":false}',
      -- legacy functions / function_call / function message
      '{"messages":[{"role":"user","content":"Lamp on"},{"role":"assistant","content":null,'
        .. '"function_call":{"name":"set_lamp","arguments":"{\\"on\\":true}"}},'
        .. '{"role":"function","name":"set_lamp","content":"ok"},{"role":"assistant","content":"Done."}],'
        .. '"functions":[{"name":"set_lamp","parameters":{"type":"object"}}]}',
      -- vision: text + image parts (https and a data URL), detail
      '{"messages":[{"role":"user","content":[{"type":"text","text":"Which fruit?"},'
        .. '{"type":"image_url","image_url":{"url":"https://example.com/pear.png","detail":"low"}},'
        .. '{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]},'
        .. '{"role":"assistant","content":[{"type":"text","text":"A pear."}]}]}',
      -- refusal part, system as text parts, names
      '{"messages":[{"role":"system","content":[{"type":"text","text":"Be safe."}]},'
        .. '{"role":"user","name":"bob","content":"Something bad"},'
        .. '{"role":"assistant","content":[{"type":"refusal","refusal":"I cannot help with that."}]}]}',
      '{"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":null,"refusal":"No."}]}',
      '{"messages":[{"role":"user","content":"Ünïcödé ✓ 日本"},{"role":"assistant","content":"はい 😀"}]}',
      CHAT, CHAT,
    }
    local r = check(lines)
    assert.same({}, r.problems)
    assert.is_true(r.ok)
    assert.equal(10, r.examples)
    assert.equal(2, r.images)
    assert.equal(1, r.tool_calls)
  end)

  it("passes DPO data", function()
    local line = '{"input":{"messages":[{"role":"system","content":"Be kind."},{"role":"user","content":"Greet me"}],'
      .. '"tools":[],"parallel_tool_calls":true},'
      .. '"preferred_output":[{"role":"assistant","content":"Hello! Lovely to see you."}],'
      .. '"non_preferred_output":[{"role":"assistant","content":"hi"}]}'
    local r = check(among(line, 1, line), { method = "dpo" })
    assert.same({}, r.problems)
    assert.equal("dpo", r.method)
    assert.equal(10, r.examples)
    assert.equal(40, r.messages) -- 2 input + 2 outputs each
    assert.equal(20, r.assistant_messages)
  end)

  it("passes reinforcement data with developer messages and arbitrary extra keys", function()
    local line = '{"messages":[{"role":"developer","content":"One word."},'
      .. '{"role":"user","content":"Capital of Peru?"}],'
      .. '"reference_answer":"lima","difficulty":2,"meta":{"a":[1,2]}}'
    local r = check(among(line, 1, line), { method = "reinforcement" })
    assert.same({}, r.problems)
    assert.equal("reinforcement", r.method)
    assert.equal(0, r.assistant_messages)
  end)
end)

describe("ft.validate_training_file: summary", function()
  it("matches a hand count", function()
    -- per line: "héllo" (5 characters, 6 bytes) and "abcd" (4)
    local line = '{"messages":[{"role":"user","content":"héllo"},{"role":"assistant","content":"abcd"}]}'
    local lines = among(line, 1, line)
    local path = file(lines)
    local r = assert(validate(path))
    assert.equal(#H.read(path), r.bytes)
    assert.equal(10, r.lines)
    assert.equal(10, r.examples)
    assert.equal(20, r.messages)
    assert.equal(10, r.assistant_messages)
    assert.equal(90, r.characters)
    -- 3 per example + user 3 + ceil((4 + 6) / 4) = 6 + assistant 3 + ceil((9 + 4) / 4) = 7
    assert.equal(16, r.max_example_tokens)
    assert.equal(160, r.estimated_tokens)
    assert.equal(160, r.billed_tokens_per_epoch)
    assert.equal(0, r.over_token_limit)
    assert.equal(10, r.estimated_epochs)          -- cookbook: 10 examples -> floor(100 / 10)
    assert.equal(1600, r.estimated_billed_tokens)
    assert.equal(65536, r.token_limit)
  end)

  it("counts examples over the token limit, caps their billed tokens and warns on their line", function()
    local long = '{"messages":[{"role":"user","content":"' .. string.rep("x", 400)
      .. '"},{"role":"assistant","content":"ok"}]}'
    local r = check(among(long, 3), { token_limit = 50 })
    assert.equal(1, r.over_token_limit)
    -- 3 + (3 + ceil(404 / 4)) + (3 + ceil(11 / 4)) = 3 + 104 + 6
    assert.equal(113, r.max_example_tokens)
    local chat = 3 + (3 + 3) + (3 + 3) + (3 + 4) -- system 14 bytes, user 6, assistant 15
    assert.equal(113 + 9 * chat, r.estimated_tokens)
    assert.equal(50 + 9 * chat, r.billed_tokens_per_epoch)
    assert_one(r, 3, "", "warning", "over the 50%-token limit")
  end)

  it("takes the token limit from a known model", function()
    local r = check(among(CHAT), { model = "gpt-3.5-turbo-0613" })
    assert.equal(4096, r.token_limit)
    r = check(among(CHAT), { model = "some-new-model" })
    assert.equal(65536, r.token_limit)
  end)

  it("counts tool definitions and images in the estimate", function()
    local img = '{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png",'
      .. '"detail":"low"}},{"type":"image_url","image_url":{"url":"https://x/z.png"}}]},'
      .. '{"role":"assistant","content":"ok"}]}'
    local r = check(among(img, 1, img))
    -- 3 + user (3 + ceil(4 / 4) + 85 + 765) + assistant (3 + ceil(11 / 4))
    assert.equal(3 + (3 + 1 + 85 + 765) + (3 + 3), r.max_example_tokens)
    assert.equal(20, r.images)
  end)
end)

describe("ft.validate_training_file: line-level defects", function()
  it("reports a BOM on line 1 and still checks the rest of that line", function()
    local lines = among(CHAT)
    lines[1] = "\239\187\191" .. CHAT
    local r = check(lines)
    assert_one(r, 1, "", "error", "byte order mark")
    assert.equal(10, r.examples)
  end)

  it("reports an empty or blank line", function()
    local r = check(among("", 4, nil, 11))
    assert_one(r, 4, "", "error", "empty line")
    assert.equal(10, r.examples)
    assert.equal(11, r.lines)
    r = check(among(" \t ", 6, nil, 11))
    assert_one(r, 6, "", "error", "empty line")
  end)

  it("reports invalid JSON with the byte in the line", function()
    local r = check(among('{"messages": [}', 4, nil, 11))
    assert_one(r, 4, "", "error", "invalid JSON: .* at byte 15")
    r = check(among('{"messages":"\255"}', 2, nil, 11))
    assert_one(r, 2, "", "error", "invalid JSON")
    local deep = string.rep("[", 600) .. string.rep("]", 600)
    r = check(among('{"messages":' .. deep .. '}', 5, nil, 11))
    assert_one(r, 5, "", "error", "nested deeper")
  end)

  it("reports a line that is not a JSON object", function()
    assert_one(check(among('[1, 2]', 3, nil, 11)), 3, "", "error", "not a JSON object %(got an array%)")
    assert_one(check(among('"text"', 7, nil, 11)), 7, "", "error", "not a JSON object %(got a string%)")
  end)

  it("reports too few examples as a file-level problem (line 0)", function()
    local lines = {}
    for i = 1, 9 do lines[i] = CHAT end
    local r = check(lines)
    assert_one(r, 0, "", "error", "9 examples: at least 10 are required")
    r = check({ CHAT }, { min_examples = 1 })
    assert.is_true(r.ok)
    r = check("")
    assert.equal(0, r.lines)
    assert.truthy(r.problems[1].message:find("0 examples"))
  end)

  it("reports the special tokens the API fails a job on", function()
    defect('{"messages":[{"role":"user","content":"end <|endoftext|> here"},{"role":"assistant","content":"ok"}]}',
      "messages[0].content", "error", "special token <|endoftext|>")
    defect('{"messages":[{"role":"user","content":"a < b, x <| y"},{"role":"assistant","content":[{"type":"text",'
      .. '"text":"<|fim_suffix|>"}]}]}', "messages[1].content[0].text", "error", "<|fim_suffix|>")
  end)
end)

describe("ft.validate_training_file: supervised messages", function()
  it("needs a messages array", function()
    defect('{"prompt":"a","completion":"b"}', "messages", "error", "legacy format")
    defect('{"input":{"messages":[]},"preferred_output":[]}', "messages", "error", 'method "dpo"')
    defect('{"messages":{"role":"user"}}', "messages", "error", "must be an array of messages, got an object")
    defect('{"messages":[]}', "messages", "error", "messages is empty")
    defect('{}', "messages", "error", "no messages array")
  end)

  it("checks every message's role", function()
    defect('{"messages":[1,{"role":"assistant","content":"x"}]}', "messages[0]", "error",
      "message must be an object, got an integer")
    defect('{"messages":[{"content":"x"},{"role":"assistant","content":"x"}]}', "messages[0].role", "error", "no role")
    defect('{"messages":[{"role":"robot","content":"x"},{"role":"assistant","content":"x"}]}', "messages[0].role",
      "error", "unknown role 'robot'")
    defect('{"messages":[{"role":"developer","content":"x"},{"role":"assistant","content":"x"}]}',
      "messages[0].role", "warning", "'developer' is not documented")
  end)

  it("needs an assistant message, and warns when none is trained on", function()
    defect('{"messages":[{"role":"user","content":"x"}]}', "messages", "error", "no assistant message")
    defect('{"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"y","weight":0}]}',
      "messages", "warning", "weight 0")
  end)

  it("accepts weight 0 or 1 on assistant messages only", function()
    local function w(v, role)
      return '{"messages":[{"role":"user","content":"x"},{"role":"' .. (role or "assistant")
        .. '","content":"y","weight":' .. v .. '},{"role":"assistant","content":"z"}]}'
    end
    defect(w("2"), "messages[1].weight", "error", "weight must be 0 or 1, got 2")
    defect(w("-1"), "messages[1].weight", "error", "got %-1")
    defect(w('"1"'), "messages[1].weight", "error", "integer 0 or 1, got a string")
    defect(w("1.0"), "messages[1].weight", "error", "got a number")
    defect(w("1", "user"), "messages[1].weight", "error", "only accepted on assistant messages")
  end)

  it("checks content forms per role", function()
    defect('{"messages":[{"role":"user"},{"role":"assistant","content":"x"}]}', "messages[0].content", "error",
      "user message has no content")
    defect('{"messages":[{"role":"user","content":null},{"role":"assistant","content":"x"}]}',
      "messages[0].content", "error", "content is null")
    defect('{"messages":[{"role":"user","content":5},{"role":"assistant","content":"x"}]}', "messages[0].content",
      "error", "string or an array of content parts, got an integer")
    defect('{"messages":[{"role":"user","content":"x"},{"role":"assistant"}]}', "messages[1].content", "error",
      "needs content, tool_calls, function_call or refusal")
    defect('{"messages":[{"role":"user","content":[]},{"role":"assistant","content":"x"}]}', "messages[0].content",
      "error", "content array is empty")
    defect('{"messages":[{"role":"user","content":["x"]},{"role":"assistant","content":"x"}]}',
      "messages[0].content[0]", "error", "must be an object, got a string")
    defect('{"messages":[{"role":"user","content":[{"type":"text"}]},{"role":"assistant","content":"x"}]}',
      "messages[0].content[0].text", "error", "needs a string text")
    defect('{"messages":[{"role":"user","content":[{"text":"x"}]},{"role":"assistant","content":"x"}]}',
      "messages[0].content[0].type", "error", "needs a string type")
    defect('{"messages":[{"role":"user","content":[{"type":"video","text":"x"}]},{"role":"assistant","content":"x"}]}',
      "messages[0].content[0].type", "error", "unknown content part type 'video'")
  end)

  it("refuses audio and file parts", function()
    defect('{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAA",'
      .. '"format":"wav"}}]},{"role":"assistant","content":"x"}]}', "messages[0].content[0].type", "error",
      "not supported for fine%-tuning")
    defect('{"messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-1"}}]},'
      .. '{"role":"assistant","content":"x"}]}', "messages[0].content[0].type", "error", "file parts are not supported")
  end)

  it("accepts images in user messages only, as http(s) or base64 JPEG/PNG/WEBP data URLs", function()
    local function img(url, role, detail)
      local part = '{"type":"image_url","image_url":{"url":"' .. url .. '"' .. (detail and (',"detail":"' .. detail
        .. '"') or "") .. '}}'
      if role == "assistant" then
        return '{"messages":[{"role":"user","content":"x"},{"role":"assistant","content":[' .. part .. ']}]}'
      end
      return '{"messages":[{"role":"user","content":[{"type":"text","text":"x"},' .. part
        .. ']},{"role":"assistant","content":"y"}]}'
    end
    defect(img("https://x/y.png", "assistant"), "messages[1].content[0]", "error", "only accepted in user messages")
    defect(img("ftp://x/y.png"), "messages[0].content[1].image_url.url", "error", "https:// or data: URL")
    defect(img("data:image/gif;base64,R0lGOD"), "messages[0].content[1].image_url.url", "error",
      "not a base64 JPEG, PNG or WEBP")
    defect(img("https://x/y.png", nil, "medium"), "messages[0].content[1].image_url.detail", "error",
      '"auto", "low" or "high"')
    local big = "data:image/jpeg;base64," .. string.rep("A", 14 * 1024 * 1024)
    defect(img(big), "messages[0].content[1].image_url.url", "error", "over the 10 MB limit")
    defect('{"messages":[{"role":"user","content":[{"type":"image_url"}]},{"role":"assistant","content":"y"}]}',
      "messages[0].content[0].image_url", "error", "must be an object")
  end)

  it("allows at most 10 images per example", function()
    local parts = {}
    for i = 1, 11 do parts[i] = '{"type":"image_url","image_url":{"url":"https://x/' .. i .. '.png"}}' end
    defect('{"messages":[{"role":"user","content":[' .. table.concat(parts, ",") .. ']},'
      .. '{"role":"assistant","content":"y"}]}', "", "error", "11 images, at most 10")
  end)

  it("checks refusals", function()
    defect('{"messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"refusal",'
      .. '"refusal":"no"},{"type":"text","text":"but"}]}]}', "messages[1].content", "error", "only part")
    defect('{"messages":[{"role":"user","content":[{"type":"refusal","refusal":"no"}]},'
      .. '{"role":"assistant","content":"x"}]}', "messages[0].content[0]", "error", "only accepted in assistant")
    defect('{"messages":[{"role":"user","content":"x"},{"role":"assistant","content":null,"refusal":3}]}',
      "messages[1].refusal", "error", "refusal must be a string")
  end)

  it("warns about unknown keys in messages and at the top level", function()
    defect('{"messages":[{"role":"user","content":"x","lang":"en"},{"role":"assistant","content":"y"}]}',
      "messages[0].lang", "warning", "unknown key 'lang' in a user message")
    defect('{"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"y"}],"id":7}',
      "id", "warning", "unknown key 'id' %(not part of the supervised format%)")
  end)
end)

describe("ft.validate_training_file: tools and tool calls", function()
  local TOOLS = '"tools":[{"type":"function","function":{"name":"get_time","parameters":{"type":"object"}}}]'
  local function call(fields, rest)
    return '{"messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[' .. fields .. ']}'
      .. (rest or "") .. '],' .. TOOLS .. '}'
  end
  local GOOD_FN = '"function":{"name":"get_time","arguments":"{}"}'

  it("checks id, type, function name and arguments of each call", function()
    defect(call('{"type":"function",' .. GOOD_FN .. '}'), "messages[1].tool_calls[0].id", "error",
      "non%-empty string id")
    defect(call('{"id":"c1","type":"fn",' .. GOOD_FN .. '}'), "messages[1].tool_calls[0].type", "error",
      'type must be "function"')
    defect(call('{"id":"c1","type":"function"}'), "messages[1].tool_calls[0].function", "error",
      "needs a function object")
    defect(call('{"id":"c1","type":"function","function":{"name":"get time","arguments":"{}"}}'),
      "messages[1].tool_calls[0].function.name", "error", "1 to 64 of")
    defect(call('{"id":"c1","type":"function","function":{"name":"get_time","arguments":{}}}'),
      "messages[1].tool_calls[0].function.arguments", "error", "string holding JSON")
    defect(call('{"id":"c1","type":"function","function":{"name":"get_time","arguments":"{oops"}}'),
      "messages[1].tool_calls[0].function.arguments", "error", "not valid JSON")
    defect(call('{"id":"c1","type":"function","function":{"name":"get_time","arguments":"[1]"}}'),
      "messages[1].tool_calls[0].function.arguments", "warning", "should hold a JSON object")
    defect(call('{"id":"c1","type":"function","function":{"name":"get_date","arguments":"{}"}}'),
      "messages[1].tool_calls[0].function.name", "warning", "not among this example's tools")
    defect(call('{"id":"c1","type":"function",' .. GOOD_FN .. '},{"id":"c1","type":"function",' .. GOOD_FN .. '}'),
      "messages[1].tool_calls[1].id", "error", "used twice")
    defect('{"messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[]}]}',
      "messages[1].tool_calls", "error", "non%-empty array")
  end)

  it("matches tool messages to earlier calls", function()
    local good = '{"id":"c1","type":"function",' .. GOOD_FN .. '}'
    defect(call(good, ',{"role":"tool","tool_call_id":"c2","content":"12:00"},{"role":"assistant","content":"ok"}'),
      "messages[2].tool_call_id", "error", "'c2' matches no earlier tool call")
    defect(call(good, ',{"role":"tool","content":"12:00"},{"role":"assistant","content":"ok"}'),
      "messages[2].tool_call_id", "error", "needs a string tool_call_id")
    -- a call id from another example does not count
    local lines = among(call(good, ',{"role":"tool","tool_call_id":"c1","content":"12:00"}'), 1)
    lines[2] = '{"messages":[{"role":"user","content":"x"},{"role":"tool","tool_call_id":"c1","content":"1"},'
      .. '{"role":"assistant","content":"y"}]}'
    assert_one(check(lines), 2, "messages[1].tool_call_id", "error", "matches no earlier tool call")
  end)

  it("only lets assistant messages carry calls", function()
    defect('{"messages":[{"role":"user","content":"x","tool_calls":[]},{"role":"assistant","content":"y"}]}',
      "messages[0].tool_calls", "error", "only accepted on assistant messages")
  end)

  it("checks tool and function definitions", function()
    local msgs = '"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"y"}]'
    defect('{' .. msgs .. ',"tools":{}}', "tools", "error", "must be an array of tool definitions")
    defect('{' .. msgs .. ',"tools":[{"type":"retrieval","function":{"name":"f"}}]}', "tools[0].type", "error",
      'tool type must be "function"')
    defect('{' .. msgs .. ',"tools":[{"type":"function","function":{"name":"' .. string.rep("n", 65) .. '"}}]}',
      "tools[0].function.name", "error", "1 to 64 of")
    defect('{' .. msgs .. ',"tools":[{"type":"function","function":{"name":"f","parameters":"{}"}}]}',
      "tools[0].function.parameters", "error", "JSON Schema object")
    defect('{' .. msgs .. ',"functions":[]}', "functions", "error", "1 to 128")
    defect('{' .. msgs .. ',"functions":[{"name":"a b"}]}', "functions[0].name", "error", "1 to 64 of")
    defect('{' .. msgs .. ',"parallel_tool_calls":"no"}', "parallel_tool_calls", "error", "must be a boolean")
  end)
end)

describe("ft.validate_training_file: DPO", function()
  local INPUT = '"input":{"messages":[{"role":"user","content":"Greet me"}]}'
  local PREF = '"preferred_output":[{"role":"assistant","content":"Hello!"}]'
  local NON = '"non_preferred_output":[{"role":"assistant","content":"hi"}]'
  local GOOD = '{' .. INPUT .. ',' .. PREF .. ',' .. NON .. '}'
  local function dpo(line, path, severity, pattern)
    return defect(line, path, severity, pattern, { method = "dpo" }, GOOD)
  end

  it("needs input.messages and one assistant message in each output", function()
    dpo('{' .. PREF .. ',' .. NON .. '}', "input", "error", "no input object")
    dpo('{"input":{},' .. PREF .. ',' .. NON .. '}', "input.messages", "error", "no input.messages")
    dpo('{' .. INPUT .. ',' .. NON .. '}', "preferred_output", "error", "no preferred_output")
    dpo('{' .. INPUT .. ',"preferred_output":[{"role":"assistant","content":"a"},{"role":"assistant","content":"b"}],'
      .. NON .. '}', "preferred_output", "error", "exactly one assistant message, got 2")
    dpo('{' .. INPUT .. ',"preferred_output":{"role":"assistant","content":"a"},' .. NON .. '}', "preferred_output",
      "error", "must be an array")
    dpo('{' .. INPUT .. ',' .. PREF .. ',"non_preferred_output":[{"role":"user","content":"hi"}]}',
      "non_preferred_output[0].role", "error", "must be an assistant message, got role 'user'")
  end)

  it("is text-only and checks input messages like supervised ones", function()
    dpo('{"input":{"messages":[{"role":"user","content":[{"type":"image_url",'
      .. '"image_url":{"url":"https://x/y.png"}}]}]},'
      .. PREF .. ',' .. NON .. '}', "input.messages[0].content[0]", "error", "text%-only")
    dpo('{"input":{"messages":[{"role":"robot","content":"x"}]},' .. PREF .. ',' .. NON .. '}',
      "input.messages[0].role", "error", "unknown role")
    dpo('{' .. INPUT .. ',"preferred_output":[{"role":"assistant","content":"a","weight":3}],' .. NON .. '}',
      "preferred_output[0].weight", "error", "got 3")
  end)

  it("points at old field names and at supervised data", function()
    dpo('{' .. INPUT .. ',' .. PREF .. ',' .. NON .. ',"preferred_completion":[]}', "preferred_completion", "error",
      "old name: use 'preferred_output'")
    local r = check(among(CHAT, 4, GOOD), { method = "dpo" })
    assert.truthy(problems_at(r, 4, "input")[1].message:find("looks like supervised data"))
  end)
end)

describe("ft.validate_training_file: reinforcement", function()
  local GOOD = '{"messages":[{"role":"user","content":"Capital of Peru?"}],"reference_answer":"lima"}'
  local function rft(line, path, severity, pattern)
    return defect(line, path, severity, pattern, { method = "reinforcement" }, GOOD)
  end

  it("needs messages, with developer/user/assistant/tool roles only", function()
    rft('{"reference_answer":"lima"}', "messages", "error", "no messages array")
    rft('{"messages":[{"role":"system","content":"x"},{"role":"user","content":"y"}]}', "messages[0].role", "error",
      "use 'developer'")
    rft('{"messages":[{"role":"function","name":"f","content":"x"},{"role":"user","content":"y"}]}',
      "messages[0].role", "error", "not accepted in reinforcement data")
  end)

  it("checks tools but not other keys", function()
    rft('{"messages":[{"role":"user","content":"y"}],"tools":[{"type":"x","function":{"name":"f"}}],'
      .. '"grader_data":{"k":1}}',
      "tools[0].type", "error", 'tool type must be "function"')
  end)
end)

describe("ft.validate_training_file: reporting", function()
  it("keeps max_problems details but counts every problem, in file order", function()
    local lines = {}
    for i = 1, 30 do lines[i] = (i % 2 == 0) and "[]" or CHAT end
    local r = check(lines, { max_problems = 5 })
    assert.equal(15, r.errors)
    assert.equal(5, #r.problems)
    for i, p in ipairs(r.problems) do
      assert.equal(2 * i, p.line)
      assert.equal("error", p.severity)
    end
    r = check(lines, { max_problems = 0 })
    assert.equal(15, r.errors)
    assert.same({}, r.problems)
    assert.is_false(r.ok)
  end)

  it("has the documented shape", function()
    local r = check(among('{"messages":[{"role":"user","content":"x","z":1},{"role":"assistant","content":"y"}]}'))
    for _, k in ipairs({ "bytes", "lines", "examples", "messages", "assistant_messages", "characters",
      "estimated_tokens", "max_example_tokens", "over_token_limit", "token_limit", "billed_tokens_per_epoch",
      "estimated_epochs", "estimated_billed_tokens", "images", "tool_calls", "errors", "warnings" }) do
      assert.is_true(H.is_integer(r[k]), k)
    end
    assert.is_true(r.ok) -- warnings only
    assert.equal(1, r.warnings)
    assert.same({ line = 1, path = "messages[0].z", severity = "warning",
      message = "unknown key 'z' in a user message" }, r.problems[1])
  end)

  it("quotes long or odd values from the data safely", function()
    local role = string.rep("é", 50) .. "\\n"
    local r = check(among('{"messages":[{"role":"' .. role .. '","content":"x"},{"role":"assistant","content":"y"}]}'))
    local msg = r.problems[1].message
    assert.truthy(msg:find("...", 1, true))
    assert.falsy(msg:find("\n"))
    local utf8 = rawget(_G, "utf8")
    assert.truthy(utf8 == nil or utf8.len(msg), "message is valid UTF-8")
  end)
end)

describe("ft.validate_training_file: line splitting", function()
  it("accepts CRLF line endings and keeps line numbers right", function()
    local lines = among('{"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"y","weight":5}]}', 7)
    local r = check(table.concat(lines, "\r\n") .. "\r\n")
    assert.equal(10, r.lines)
    assert.equal(10, r.examples)
    assert_one(r, 7, "messages[1].weight", "error", "got 5")
    r = check(table.concat(among(CHAT), "\r\n") .. "\r\n")
    assert.is_true(r.ok)
  end)

  it("checks a last line without a newline", function()
    local lines = among('{"messages":[{"role":"user","content":"x"}]}', 10)
    local r = check(table.concat(lines, "\n"))
    assert.equal(10, r.lines)
    assert_one(r, 10, "messages", "error", "no assistant message")
  end)

  it("handles lines much longer than the read buffer", function()
    local text = string.rep("abcdefgh", 1024 * 1024) -- 8 MiB of content on one line
    local long = '{"messages":[{"role":"user","content":"' .. text .. '"},{"role":"assistant","content":"ok"}]}'
    local lines = among(long, 2)
    lines[5] = '{"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"y","weight":9}]}'
    local r = check(lines, { token_limit = 4 * 1024 * 1024 })
    assert_one(r, 5, "messages[1].weight", "error", "got 9")
    assert.equal(10, r.examples)
    assert.equal(#text + 2 + 8 * (9 + 2 + 6) + 1 + 1, r.characters) -- long + "ok" + 8 CHATs + "x" + "y"
    assert.equal(3 + (3 + math.floor((4 + #text + 3) / 4)) + (3 + 3), r.max_example_tokens)
    assert.equal(0, r.over_token_limit)
  end)

  it("gives the same answer for lines straddling read blocks", function()
    -- ~3 MiB of lines of varied length: every 1 MiB block boundary falls inside a line
    local lines, bad = {}, {}
    for i = 1, 6000 do
      local pad = string.rep("z", (i * 37) % 900)
      if i % 1000 == 0 then
        lines[i] = '{"messages":[{"role":"user","content":"' .. pad
          .. '"},{"role":"assistant","weight":2,"content":"y"}]}'
        bad[#bad + 1] = i
      else
        lines[i] = '{"messages":[{"role":"user","content":"' .. pad .. '"},{"role":"assistant","content":"y"}]}'
      end
    end
    local r = check(lines)
    assert.equal(6000, r.examples)
    assert.equal(#bad, r.errors)
    for i, p in ipairs(r.problems) do assert.equal(bad[i], p.line) end
  end)

  it("keeps memory flat on a large file (VmHWM) #heavy", function()
    -- A child process validates a 4 MiB file, then a 64 MiB one: the high-water mark must
    -- not grow by more than a small constant (it would by the file size if it were read whole).
    local block = {}
    local size = 0
    while size < 1024 * 1024 do
      local line = '{"messages":[{"role":"user","content":"' .. string.rep("q", 200 + #block % 700)
        .. '"},{"role":"assistant","content":"fine"}]}\n'
      block[#block + 1] = line
      size = size + #line
    end
    block = table.concat(block)
    local function big(path, mib)
      local f = assert(io.open(path, "wb"))
      for _ = 1, mib do f:write(block) end
      f:close()
    end
    local small, large = dir .. "/small.jsonl", dir .. "/large.jsonl"
    big(small, 4)
    big(large, 64)
    local ok, out, err = H.run_lua([[
      local ft = require("openai.finetunes")
      local function hwm()
        for l in io.lines("/proc/self/status") do
          local kb = l:match("^VmHWM:%s*(%d+)")
          if kb then return tonumber(kb) end
        end
      end
      local a = assert(ft.validate_training_file(arg[1]))
      local h1 = hwm()
      local b = assert(ft.validate_training_file(arg[2]))
      io.write(h1, " ", hwm(), " ", a.examples, " ", b.examples, " ", b.errors)
    ]], {}, { small, large })
    os.remove(large)
    assert.is_true(ok, err)
    local h1, h2, na, nb, errs = out:match("(%d+) (%d+) (%d+) (%d+) (%d+)")
    assert.equal(0, tonumber(errs))
    assert.equal(16 * tonumber(na), tonumber(nb))
    assert.is_true(tonumber(h2) - tonumber(h1) < 2048, "VmHWM grew from " .. h1 .. " to " .. h2 .. " kB")
  end)
end)

describe("examples/validate_data.lua", function()
  local function run(args)
    local code = ""
    for _, x in ipairs(args) do code = code .. " " .. H.shell_quote(x) end
    local out = dir .. "/example.out"
    local r1, _, r3 = os.execute(table.concat({ "env", H.shell_quote("LUA_PATH=" .. package.path),
      H.shell_quote("LUA_CPATH=" .. package.cpath), H.shell_quote(H.lua()), "examples/validate_data.lua" }, " ")
      .. code .. " >" .. out .. " 2>&1")
    if type(r1) == "number" then r3 = r1 > 255 and math.floor(r1 / 256) or r1 end
    return r3, H.read(out)
  end

  it("passes the example data and exits 1 on a file with errors", function()
    local code, out = run({})
    assert.equal(0, code, out)
    assert.truthy(out:find("examples/data/train.jsonl: valid supervised data, 0 errors, 0 warnings", 1, true), out)
    assert.truthy(out:find("12 examples, 36 messages (12 assistant)", 1, true), out)
    local bad = file(among('{"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"y","weight":2}]}',
      2))
    code, out = run({ bad, "supervised" })
    assert.equal(1, code, out)
    assert.truthy(out:find(bad .. ":2: error: messages[1].weight: weight must be 0 or 1, got 2", 1, true), out)
  end)
end)

describe("ft.validate_training_file: misuse and failures", function()
  it("raises on a bad path, naming the problem", function()
    assert.has_error(function() validate(nil) end,
      "bad argument #1 to 'validate_training_file' (path must be a non-empty string, got nil)")
    assert.has_error(function() validate("") end)
    local ok, msg = pcall(validate, dir .. "/missing.jsonl")
    assert.is_false(ok)
    assert.truthy(msg:find("^bad argument #1 to 'validate_training_file' %(\"/tmp/.*\" cannot be read "
      .. "%(No such file or directory%)%)$"), msg)
    assert.has_error(function() validate(dir) end)
  end)

  it("raises on bad options", function()
    local path = file(among(CHAT))
    assert.has_error(function() validate(path, { method = "sft" }) end,
      "bad argument #2 to 'validate_training_file' (method must be \"supervised\", \"dpo\" or \"reinforcement\", "
        .. "got \"sft\")")
    assert.has_error(function() validate(path, { max_problem = 3 }) end,
      "bad argument #2 to 'validate_training_file' (unknown option \"max_problem\")")
    assert.has_error(function() validate(path, { max_problems = -1 }) end)
    assert.has_error(function() validate(path, { token_limit = 0 }) end)
    assert.has_error(function() validate(path, { token_limit = 1.5 }) end)
    assert.has_error(function() validate(path, "dpo") end)
  end)

  it("returns nil, err (kind io) when reading fails half-way", function()
    -- /proc/self/mem opens but reading at offset 0 fails with EIO
    local r, err = validate("/proc/self/mem")
    assert.is_nil(r)
    assert.is_true(ft.is_error(err))
    assert.equal("io", err.kind)
    assert.truthy(tostring(err):find("cannot read"))
  end)
end)
