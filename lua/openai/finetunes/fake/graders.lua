-- Graders: validation with the API's 400s, and a local evaluation. string_check and
-- text_similarity/fuzzy_match compute the real reward; the other metrics and the
-- model/python graders give a plausible, deterministic score from text overlap.
local json = require("openai.finetunes.fake.json")
local errors = require("openai.finetunes.fake.errors")
local check = require("openai.finetunes.fake.check")
local compat = require("openai.finetunes.fake.compat")

local M = {}

local TYPES = { "string_check", "text_similarity", "python", "score_model", "multi" }
local OPERATIONS = { "eq", "ne", "like", "ilike" }
local METRICS = { "cosine", "fuzzy_match", "bleu", "gleu", "meteor", "rouge_1", "rouge_2", "rouge_3", "rouge_4",
  "rouge_5", "rouge_l" }
local ROLES = { "user", "assistant", "system", "developer" }

local function is_object(v)
  return type(v) == "table" and not json.is_array(v) and v ~= json.null
end

local function check_messages(g, p)
  local input = check.array(g, "input", true, p .. ".input")
  for i, item in ipairs(input) do
    local ip = p .. ".input[" .. (i - 1) .. "]"
    if not is_object(item) then errors.invalid_type(ip, "an object", check.type_name(item)) end
    check.enum(item, "role", ROLES, true, ip .. ".role")
    if item.content == nil then errors.missing(ip .. ".content") end
  end
end

-- validate(grader, param): raises a 400 naming the first bad field.
function M.validate(g, p, inside_multi)
  p = p or "grader"
  if not is_object(g) then errors.invalid_type(p, "an object", check.type_name(g)) end
  local types = TYPES
  if inside_multi then
    types = { "string_check", "text_similarity", "python", "score_model", "label_model" }
  end
  local t = check.enum(g, "type", types, true, p .. ".type")
  check.string(g, "name", true, p .. ".name")
  if t == "string_check" then
    check.only(g, { "type", "name", "input", "reference", "operation" }, p .. ".")
    check.string(g, "input", true, p .. ".input")
    check.string(g, "reference", true, p .. ".reference")
    check.enum(g, "operation", OPERATIONS, true, p .. ".operation")
  elseif t == "text_similarity" then
    check.only(g, { "type", "name", "input", "reference", "evaluation_metric" }, p .. ".")
    check.string(g, "input", true, p .. ".input")
    check.string(g, "reference", true, p .. ".reference")
    check.enum(g, "evaluation_metric", METRICS, true, p .. ".evaluation_metric")
  elseif t == "python" then
    check.only(g, { "type", "name", "source", "image_tag" }, p .. ".")
    local src = check.string(g, "source", true, p .. ".source")
    check.string(g, "image_tag", false, p .. ".image_tag")
    if not src:find("def%s+grade%s*%(") then
      errors.raise(400, "Invalid python grader: the source must define `grade(sample, item)`.",
        "invalid_request_error", p .. ".source", "invalid_value")
    end
  elseif t == "score_model" then
    check.only(g, { "type", "name", "model", "input", "range", "sampling_params" }, p .. ".")
    check.string(g, "model", true, p .. ".model")
    check_messages(g, p)
    local range = check.array(g, "range", false, p .. ".range")
    if range and (#range ~= 2 or type(range[1]) ~= "number" or type(range[2]) ~= "number" or range[1] >= range[2]) then
      errors.raise(400, "Invalid '" .. p .. ".range': expected two increasing numbers.", "invalid_request_error",
        p .. ".range", "invalid_value")
    end
    check.object(g, "sampling_params", false, p .. ".sampling_params")
  elseif t == "label_model" then
    check.only(g, { "type", "name", "model", "input", "labels", "passing_labels" }, p .. ".")
    check.string(g, "model", true, p .. ".model")
    check_messages(g, p)
    local labels = check.array(g, "labels", true, p .. ".labels")
    local passing = check.array(g, "passing_labels", true, p .. ".passing_labels")
    local set = {}
    for _, l in ipairs(labels) do set[l] = true end
    for _, l in ipairs(passing) do
      if not set[l] then
        errors.raise(400, "Invalid '" .. p .. ".passing_labels': '" .. tostring(l) .. "' is not one of the labels.",
          "invalid_request_error", p .. ".passing_labels", "invalid_value")
      end
    end
  elseif t == "multi" then
    check.only(g, { "type", "name", "graders", "calculate_output" }, p .. ".")
    local subs = check.object(g, "graders", true, p .. ".graders")
    local formula = check.string(g, "calculate_output", true, p .. ".calculate_output")
    local names = {}
    if subs.type ~= nil then
      M.validate(subs, p .. ".graders", true)
      names[subs.name] = true
    else
      for name, sub in pairs(subs) do
        M.validate(sub, p .. ".graders." .. name, true)
        names[name] = true
      end
    end
    local vars = {}
    for k in pairs(names) do vars[k] = 0.5 end
    local _, err = M.formula(formula, vars)
    if err then
      errors.raise(400, "Invalid '" .. p .. ".calculate_output': " .. err, "invalid_request_error",
        p .. ".calculate_output", "invalid_value")
    end
  end
end

------------------------------------------------------------------------- templates

local function lookup(ns, path)
  local v = ns
  for key, index in path:gmatch("([^%.%[%]]*)%[?(%d*)%]?") do
    if key ~= "" then
      if type(v) ~= "table" then return nil end
      v = v[key]
    end
    if index ~= "" then
      if type(v) ~= "table" then return nil end
      v = v[tonumber(index) + 1]
    end
  end
  return v
end

-- render("{{ item.answer }}", namespaces, flags) -> text
local function render(text, namespaces, flags)
  return (text:gsub("{{%s*(.-)%s*}}", function(expr)
    local ns, rest = expr:match("^(%a+)%.?(.*)$")
    local root = ns and namespaces[ns]
    local v = root and lookup(root, rest)
    if v == nil or v == json.null then
      flags.invalid_variable_error = true
      return ""
    end
    if type(v) == "table" then return json.encode(v) end
    return tostring(v)
  end))
end

-------------------------------------------------------------------------- scoring

local function tokens(s)
  local out = {}
  for w in s:lower():gmatch("[%w']+") do out[#out + 1] = w end
  return out
end

local function ngrams(toks, n)
  local counts, total = {}, 0
  for i = 1, #toks - n + 1 do
    local g = table.concat(toks, " ", i, i + n - 1)
    counts[g] = (counts[g] or 0) + 1
    total = total + 1
  end
  return counts, total
end

local function overlap(a, b)
  local n = 0
  for g, c in pairs(a) do
    if b[g] then n = n + math.min(c, b[g]) end
  end
  return n
end

local function lcs_len(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = 0 end
  for i = 1, #a do
    local cur = { [0] = 0 }
    local ai = a[i]
    for j = 1, #b do
      if ai == b[j] then
        cur[j] = prev[j - 1] + 1
      else
        cur[j] = math.max(prev[j], cur[j - 1])
      end
    end
    prev = cur
  end
  return prev[#b]
end

local function chars(s)
  local out = {}
  for i = 1, math.min(#s, 4000) do out[i] = s:sub(i, i) end
  return out
end

-- fuzzy_match: the normalized indel similarity (what rapidfuzz's ratio computes).
function M.fuzzy_ratio(a, b)
  if #a + #b == 0 then return 1 end
  local ca, cb = chars(a), chars(b)
  return 2 * lcs_len(ca, cb) / (#ca + #cb)
end

local function f1(p, r)
  if p + r == 0 then return 0 end
  return 2 * p * r / (p + r)
end

local function rouge_n(cand, ref, n)
  local c, ct = ngrams(cand, n)
  local r, rt = ngrams(ref, n)
  if ct == 0 or rt == 0 then return 0 end
  local o = overlap(c, r)
  return f1(o / ct, o / rt)
end

local function bleu(cand, ref)
  if #cand == 0 then return 0 end
  local logsum = 0
  for n = 1, 4 do
    local c, ct = ngrams(cand, n)
    local r = ngrams(ref, n)
    local o = overlap(c, r)
    logsum = logsum + math.log((o + 1) / (ct + 1))
  end
  local bp = #cand >= #ref and 1 or math.exp(1 - #ref / #cand)
  return bp * math.exp(logsum / 4)
end

local function cosine(cand, ref)
  local a, b = ngrams(cand, 1), ngrams(ref, 1)
  local dot, na, nb = 0, 0, 0
  for g, c in pairs(a) do
    na = na + c * c
    if b[g] then dot = dot + c * b[g] end
  end
  for _, c in pairs(b) do nb = nb + c * c end
  if na == 0 or nb == 0 then return 0 end
  return dot / math.sqrt(na * nb)
end

function M.similarity(metric, input, reference)
  local cand, ref = tokens(input), tokens(reference)
  if metric == "fuzzy_match" then
    return M.fuzzy_ratio(input, reference)
  elseif metric == "bleu" then
    return bleu(cand, ref)
  elseif metric == "cosine" then
    return cosine(cand, ref)
  elseif metric == "rouge_l" then
    if #cand == 0 or #ref == 0 then return 0 end
    local l = lcs_len(cand, ref)
    return f1(l / #cand, l / #ref)
  end
  local n = tonumber((metric or ""):match("^rouge_(%d)$"))
  if n then return rouge_n(cand, ref, n) end
  return rouge_n(cand, ref, 1) -- gleu, meteor: unigram F1 as a stand-in
end

------------------------------------------------------------------------- formulas

-- formula("0.5 * a + b", {a = 1, b = 0}) -> number | nil, err
-- + - * / ^, parentheses, numbers, variables, min/max/abs/sqrt/exp/log/floor/ceil.
function M.formula(text, vars)
  local pos = 1
  local funcs = { min = math.min, max = math.max, abs = math.abs, sqrt = math.sqrt, exp = math.exp,
    log = math.log, floor = math.floor, ceil = math.ceil }
  local expr
  local function skip() pos = text:find("[^%s]", pos) or (#text + 1) end
  local function fail(msg) error({ formula = msg .. " at position " .. pos }, 0) end
  local function primary()
    skip()
    local c = text:sub(pos, pos)
    if c == "(" then
      pos = pos + 1
      local v = expr()
      skip()
      if text:sub(pos, pos) ~= ")" then fail("expected ')'") end
      pos = pos + 1
      return v
    elseif c == "-" then
      pos = pos + 1
      return -primary()
    end
    local num = text:match("^%d+%.?%d*", pos) or text:match("^%.%d+", pos)
    if num then
      pos = pos + #num
      return tonumber(num)
    end
    local name = text:match("^[%a_][%w_]*", pos)
    if not name then fail("unexpected '" .. c .. "'") end
    pos = pos + #name
    skip()
    if text:sub(pos, pos) == "(" and funcs[name] then
      pos = pos + 1
      local args = { expr() }
      skip()
      while text:sub(pos, pos) == "," do
        pos = pos + 1
        args[#args + 1] = expr()
        skip()
      end
      if text:sub(pos, pos) ~= ")" then fail("expected ')'") end
      pos = pos + 1
      return funcs[name](compat.unpack(args))
    end
    local v = vars[name]
    if v == nil then fail("unknown name '" .. name .. "'") end
    return v
  end
  local function power()
    local v = primary()
    skip()
    if text:sub(pos, pos) == "^" then
      pos = pos + 1
      return v ^ power()
    end
    return v
  end
  local function term()
    local v = power()
    while true do
      skip()
      local op = text:sub(pos, pos)
      if op ~= "*" and op ~= "/" then return v end
      pos = pos + 1
      local r = power()
      if op == "*" then v = v * r else v = r == 0 and 0 or v / r end
    end
  end
  function expr()
    local v = term()
    while true do
      skip()
      local op = text:sub(pos, pos)
      if op ~= "+" and op ~= "-" then return v end
      pos = pos + 1
      local r = term()
      if op == "+" then v = v + r else v = v - r end
    end
  end
  local ok, v = pcall(function()
    local r = expr()
    skip()
    if pos <= #text then fail("unexpected '" .. text:sub(pos, pos) .. "'") end
    return r
  end)
  if not ok then
    if type(v) == "table" and v.formula then return nil, v.formula end
    error(v, 0)
  end
  return v
end

---------------------------------------------------------------------------- run

local function reference_text(item)
  if type(item) ~= "table" then return "" end
  for _, k in ipairs({ "reference_answer", "reference", "answer", "label", "expected" }) do
    if type(item[k]) == "string" then return item[k] end
  end
  return ""
end

local function messages_text(input, ns, flags)
  local parts = {}
  for _, m in ipairs(input or {}) do
    local c = m.content
    if type(c) == "string" then
      parts[#parts + 1] = render(c, ns, flags)
    elseif type(c) == "table" and type(c.text) == "string" then
      parts[#parts + 1] = render(c.text, ns, flags)
    end
  end
  return table.concat(parts, "\n")
end

local function evaluate(g, ns, flags, sample_text, item)
  local t = g.type
  if t == "string_check" then
    local input, reference = render(g.input, ns, flags), render(g.reference, ns, flags)
    local op = g.operation
    local ok
    if op == "eq" then
      ok = input == reference
    elseif op == "ne" then
      ok = input ~= reference
    elseif op == "like" then
      ok = input:find(reference, 1, true) ~= nil
    else
      ok = input:lower():find(reference:lower(), 1, true) ~= nil
    end
    return ok and 1 or 0
  elseif t == "text_similarity" then
    return M.similarity(g.evaluation_metric, render(g.input, ns, flags), render(g.reference, ns, flags))
  elseif t == "python" then
    return M.similarity("rouge_1", sample_text, reference_text(item))
  elseif t == "score_model" then
    messages_text(g.input, ns, flags)
    local lo, hi = 0, 1
    if type(g.range) == "table" and #g.range == 2 then lo, hi = g.range[1], g.range[2] end
    return lo + (hi - lo) * M.similarity("rouge_1", sample_text, reference_text(item))
  elseif t == "label_model" then
    messages_text(g.input, ns, flags)
    local sim = M.similarity("rouge_1", sample_text, reference_text(item))
    return sim >= 0.5 and 1 or 0
  end
  return 0
end

local ERROR_FLAGS = { "formula_parse_error", "sample_parse_error", "truncated_observation_error",
  "unresponsive_reward_error", "invalid_variable_error", "other_error", "python_grader_server_error",
  "python_grader_runtime_error", "model_grader_server_error", "model_grader_refusal_error",
  "model_grader_parse_error" }

-- run(grader, model_sample, item) -> RunGraderResponse
function M.run(g, model_sample, item)
  local socket = require("socket")
  local t0 = socket.gettime()
  local flags = {}
  local sample = { output_text = model_sample, choices = json.array(), output_tools = json.array() }
  local decoded = json.decode(model_sample)
  if type(decoded) == "table" and decoded ~= json.null then sample.output_json = decoded end
  local ns = { sample = sample, item = item or {} }
  local reward
  local sub_rewards = {}
  local scores = {}
  local token_usage = json.null
  local sampled_model = json.null
  if g.type == "multi" then
    local subs = g.graders
    local vars = {}
    if subs.type ~= nil then subs = { [subs.name] = subs } end
    for name, sub in pairs(subs) do
      local r = evaluate(sub, ns, flags, model_sample, item)
      vars[name] = r
      sub_rewards[name] = r
      scores[name] = r
    end
    local v = M.formula(g.calculate_output, vars)
    if not v then
      flags.formula_parse_error = true
      v = 0
    end
    reward = v
  else
    reward = evaluate(g, ns, flags, model_sample, item)
    scores[g.name] = reward
    if g.type == "score_model" or g.type == "label_model" then
      sampled_model = g.model
      token_usage = { prompt_tokens = 120, completion_tokens = 12, total_tokens = 132, cached_tokens = 0 }
    end
  end
  local errs = {}
  for _, k in ipairs(ERROR_FLAGS) do errs[k] = flags[k] == true end
  errs.python_grader_server_error_type = json.null
  errs.python_grader_runtime_error_details = json.null
  errs.model_grader_server_error_details = json.null
  return {
    reward = reward,
    metadata = {
      name = g.name, type = g.type, errors = errs, execution_time = socket.gettime() - t0,
      scores = scores, token_usage = token_usage, sampled_model_name = sampled_model,
    },
    sub_rewards = sub_rewards,
    model_grader_token_usage_per_model = {},
  }
end

return M
